"""Values a pack may not hold whatever the schema says: pure checks over a parsed, marked document.

``check(doc, file)`` walks every key and value once and returns a ``Problem``
(with the line and column of the value or key) for each:

- rule ``value``: what JSON and the cost maths cannot carry: NaN, infinities,
  integers beyond +/-(2^53 - 1) (JSON readers lose their digits), and mapping
  keys that are not text (JSON keys are strings). The loader stops at these
  before the schema, so nothing after it meets such a value.
- rule ``text``: control characters (C0 except tab and newline, DEL, C1) and
  bidirectional embedding/override/isolate controls in any key or string,
  and tabs or line breaks in one-line fields (name, title, version, license,
  maintainers, mapping keys): pack text reaches terminals and web pages.
"""

from __future__ import annotations

import math
import re
from typing import Any

from registry_tools.packs.errors import Problem, field_path, safe_text
from registry_tools.packs.marked_yaml import MarkedDocument

MAX_SAFE_INTEGER = 2**53 - 1  # the largest integer every JSON reader holds exactly
ONE_LINE_FIELDS = frozenset({"name", "title", "version", "default_size", "license", "homepage", "maintainers"})
_CONTROL = re.compile("[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]")
_LINE_BREAK = re.compile("[\\t\\n\\r\\x85\\u2028\\u2029]")


def _char(char: str) -> str:
    return f"U+{ord(char):04X}"


def _number_problem(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        digits = len(str(abs(value)))  # at most MAX_NUMBER_CHARS characters were parsed: cheap
        return (f"an integer of {digits} digits is more than JSON can hold exactly "
                f"(at most {MAX_SAFE_INTEGER})")
    if isinstance(value, float) and not math.isfinite(value):
        return ("NaN (not a number) is not allowed" if math.isnan(value)
                else "infinity is not allowed; give a finite number")
    return None


def _text_problem(text: str, one_line: bool) -> str | None:
    bad = _CONTROL.search(text) or (_LINE_BREAK.search(text) if one_line else None)
    if bad is None:
        return None
    where = f" at character {bad.start() + 1}" if len(text) > 1 else ""
    if one_line and _LINE_BREAK.fullmatch(bad.group()):
        return f"a tab or line break ({_char(bad.group())}){where} in a one-line field: {_shown(text)}"
    return f"control character {_char(bad.group())}{where} is not allowed in pack text: {_shown(text)}"


def _shown(text: str) -> str:
    return f"'{safe_text(text)}'"


def check(doc: MarkedDocument, file: str) -> list[Problem]:
    """Every value and text problem of *doc*, in document order."""
    problems: list[Problem] = []

    def add(path: tuple[Any, ...], message: str, rule: str, *, key: bool = False) -> None:
        mark = doc.mark_for(path, key=key)
        problems.append(Problem(file=file, line=mark.line if mark else None, column=mark.column if mark else None,
                                field=field_path(path), message=message, rule=rule))

    # an explicit stack: aliases may make the document wide, never deeper than max_yaml_depth
    stack: list[tuple[tuple[Any, ...], Any, bool]] = [((), doc.data, False)]
    while stack:
        path, value, one_line = stack.pop()
        if isinstance(value, dict):
            items = []
            for key, item in value.items():
                child = (*path, key)
                if not isinstance(key, str):
                    add(child, f"mapping keys must be text, got {safe_text(repr(key))} (quote it)", "value", key=True)
                elif message := _text_problem(key, one_line=True):
                    add(child, message, "text", key=True)
                items.append((child, item, one_line or (not path and key in ONE_LINE_FIELDS)))
            stack.extend(reversed(items))
        elif isinstance(value, list):
            stack.extend(reversed([((*path, i), item, one_line) for i, item in enumerate(value)]))
        elif isinstance(value, str):
            if message := _text_problem(value, one_line):
                add(path, message, "text")
        elif message := _number_problem(value):
            add(path, message, "value")
    return problems


def blocks_schema(problems: list[Problem]) -> bool:
    """True when *problems* include values the schema and the checks after it must not see."""
    return any(p.rule == "value" for p in problems)
