"""The one error type of the pack seam, and the problems it carries.

Every problem names ``file:line:column``, the field path, the bad value and
what was expected, so a contributor can fix a pack without reading code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from registry_tools.errors import ArwError

# What a terminal must never receive from a pack: C0 and C1 control characters (ESC starts escape
# sequences), DEL, and the bidirectional embedding/override/isolate controls ("Trojan Source").
UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Problem:
    file: str
    message: str
    line: int | None = None
    column: int | None = None
    field: str = ""
    rule: str = "schema"

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f"{self.field}: " if self.field else ""
        return f"{where}: {field}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "rule": self.rule,
            "message": self.message,
        }


class PackError(ArwError):
    """A pack could not be loaded or changed; ``problems`` says why."""

    def __init__(self, problems: list[Problem] | Problem | str, file: str = ""):
        if isinstance(problems, str):
            problems = [Problem(file=file, message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def safe_text(text: str, limit: int = 60) -> str:
    """*text* fit for a message: unsafe characters as ``\\xNN``/``\\uNNNN`` escapes, at most *limit*
    characters (longer text ends in ``...``)."""
    if len(text) > limit:
        text = text[: max(limit - 3, 1)] + "..."
    return UNSAFE_CHARS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def field_path(path: tuple[Any, ...] | list[Any]) -> str:
    """``("sizes", "standard", "vcpus")`` -> ``sizes.standard.vcpus``; indexes as ``[0]``. Keys are
    untrusted: each is shown safely and shortened (``safe_text``)."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            name = safe_text(str(part))
            out += f".{name}" if out else name
    return out
