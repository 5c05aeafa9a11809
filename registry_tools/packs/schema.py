"""JSON Schema checks for ``domain.yaml`` with messages people can act on.

``check(doc, file)`` validates a parsed, marked document against
``schemas/domain.schema.json`` (JSON Schema 2020-12) and turns every
jsonschema error into a ``Problem`` that points at the offending line and
says what was expected. Messages are written here, never jsonschema's own
(which repeat whole values): a bad value is shown at most ~60 characters
long with control characters escaped (``show``), so a hostile document gives
short messages however large it is. Pure: no I/O beyond reading the schema
once.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from registry_tools.packs.errors import Problem, field_path, safe_text
from registry_tools.packs.marked_yaml import MarkedDocument
from registry_tools.paths import package_data

if TYPE_CHECKING:  # jsonschema is imported when the first pack is checked
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

SCHEMA_FILE = package_data("schemas", "domain.schema.json")

_TYPE_NAMES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean (true/false)",
    "object": "mapping",
    "array": "list",
    "null": "null",
}


@lru_cache(maxsize=1)
def domain_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return schema


def _canonical(value: Any) -> Any:
    """A hashable form under JSON Schema equality (1 == 1.0, true != 1, key order ignored)."""
    if isinstance(value, bool) or value is None:
        return ("c", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, list):
        return ("l", tuple(_canonical(v) for v in value))
    if isinstance(value, dict):
        return ("d", frozenset((k, _canonical(v)) for k, v in value.items()))
    return ("s", value)


def _first_repeated(items: list[Any]) -> Any:
    seen: set[Any] = set()
    for item in items:
        key = _canonical(item)
        if key in seen:
            return item
        seen.add(key)
    return None


def _unique_items(validator: Validator, unique: bool, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    # jsonschema compares items pairwise when they cannot be sorted (a list of mappings): quadratic
    # on hostile lists; one pass with hashable canonical forms says the same.
    if unique and validator.is_type(instance, "array") and _first_repeated(instance) is not None:
        from jsonschema import ValidationError

        yield ValidationError(f"{show(instance)} has non-unique elements")


@lru_cache(maxsize=1)
def _validator() -> Validator:
    import jsonschema

    schema = domain_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    # types-jsonschema leaves extend() unannotated
    cls: type[Validator] = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        jsonschema.Draft202012Validator, {"uniqueItems": _unique_items})
    return cls(schema)


def show(value: Any) -> str:
    """A short, JSON-style rendering of a bad value for messages (control characters escaped)."""
    if isinstance(value, (dict, list)):
        kind = "a mapping" if isinstance(value, dict) else "a list"
        return kind
    if isinstance(value, str) and len(value) > 60:
        value = value[:60]  # only what is shown is rendered
        text = json.dumps(value)
        return text[:57] + '..."'
    try:
        text = json.dumps(value, default=str)
    except ValueError:  # an integer too long to print (the YAML reader refuses such numbers)
        return "a very long number"
    return text if len(text) <= 60 else text[:57] + "..."


def _name(key: Any) -> str:
    """A mapping key for a message: as written when short and plain, else shortened and escaped."""
    return safe_text(str(key)) if isinstance(key, str) else show(key)


def _suggest(word: Any, choices: list[str]) -> str:
    if not isinstance(word, str) or len(word) > 100:  # nothing close to a long text; difflib is not free
        return ""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


_BOUNDS = {
    "minLength": ("at least", "character"), "maxLength": ("at most", "character"),
    "minItems": ("at least", "item"), "maxItems": ("at most", "item"),
    "minProperties": ("at least", "entry"), "maxProperties": ("at most", "entry"),
}
_LIMITS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {'entries' if noun == 'entry' else noun + 's'}"


def check(doc: MarkedDocument, file: str) -> list[Problem]:
    """Every schema problem of *doc*, sorted by position."""
    problems: list[Problem] = []
    for error in _validator().iter_errors(doc.data):
        problems.extend(_problems_for(error, doc, file))
    unique = {(p.line, p.column, p.field, p.message): p for p in problems}
    return sorted(unique.values(), key=lambda p: (p.line or 0, p.column or 0, p.field))


def _at(doc: MarkedDocument, file: str, path: tuple[Any, ...], message: str, *, key: bool = False) -> Problem:
    mark = doc.mark_for(path, key=key)
    return Problem(
        file=file,
        line=mark.line if mark else None,
        column=mark.column if mark else None,
        field=field_path(path),
        message=message,
    )


def _problems_for(error: ValidationError, doc: MarkedDocument, file: str) -> list[Problem]:
    path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    value: Any = error.instance
    kind = error.validator if isinstance(error.validator, str) else ""
    spec: Any = error.validator_value  # the keyword's value in the schema, set on every error iter_errors yields
    expected = schema.get("x-expected")

    if "propertyNames" in error.absolute_schema_path and isinstance(value, str):
        # the key itself is wrong: point at it (jsonschema gives the mapping's path)
        why = expected or (f"a name matching {spec}" if kind == "pattern"
                           else f"{_BOUNDS[kind][0]} {_count(spec, 'character')}" if kind in _BOUNDS
                           else "a valid name")
        return [_at(doc, file, (*path, value), f"invalid name {show(value)}: expected {why}", key=True)]
    if kind == "additionalProperties" and schema.get("additionalProperties") is False:
        allowed = sorted(schema.get("properties", {}))
        extras = [k for k in value if k not in schema.get("properties", {})]
        return [
            _at(doc, file, (*path, k), f"unknown field '{_name(k)}'{_suggest(k, allowed)}; allowed fields: {', '.join(allowed)}", key=True)
            for k in extras
        ]
    if kind == "required":
        missing = [r for r in spec if r not in value]
        return [_at(doc, file, path, f"missing required field '{m}'") for m in missing]
    if kind == "type":
        types = spec if isinstance(spec, list) else [spec]
        want = " or ".join(_TYPE_NAMES.get(t, str(t)) for t in types)
        return [_at(doc, file, path, f"expected {want}, got {show(value)}")]
    if kind == "enum":
        choices = [str(c) for c in spec]
        return [_at(doc, file, path, f"expected one of {', '.join(choices)}; got {show(value)}{_suggest(value, choices)}")]
    if kind == "const":
        return [_at(doc, file, path, f"expected {expected or show(spec)}, got {show(value)}")]
    if kind == "pattern" and isinstance(value, str) and _is_key_of(doc.data, path, value):
        return [_at(doc, file, (*path, value), f"invalid name {show(value)}: expected {expected or 'a name matching ' + spec}", key=True)]
    if kind == "pattern":
        return [_at(doc, file, path, f"expected {expected or 'a value matching ' + spec}, got {show(value)}")]
    if kind == "anyOf" and all(set(s) == {"required"} for s in spec):
        fields = [f for s in spec for f in s["required"]]
        return [_at(doc, file, path, f"needs at least one of: {', '.join(fields)}")]
    if kind == "contains":
        needed = spec.get("const") if isinstance(spec, dict) else None
        if needed is not None:
            return [_at(doc, file, path, f"must include {show(needed)}")]
    if kind in _BOUNDS and isinstance(value, (str, list, dict)):
        relation, noun = _BOUNDS[kind]
        return [_at(doc, file, path, f"expected {relation} {_count(spec, noun)}, got {len(value)}")]
    if kind in _LIMITS:
        return [_at(doc, file, path, f"expected a number {_LIMITS[kind]} {spec}, got {show(value)}")]
    if kind == "uniqueItems" and isinstance(value, list):
        return [_at(doc, file, path, f"items must be unique; {show(_first_repeated(value))} appears more than once")]
    # a keyword without a message of its own: jsonschema's, shortened (it can repeat a whole value)
    return [_at(doc, file, path, safe_text(error.message, 200))]


def _is_key_of(data: Any, path: tuple[Any, ...], key: str) -> bool:
    """True when *key* is a mapping key at *path* (propertyNames errors)."""
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(data, dict) and key in data
