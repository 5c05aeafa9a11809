"""JSON Schema checks for ``domain.yaml`` with messages people can act on.

``check(doc, file)`` validates a parsed, marked document against
``schemas/domain.schema.json`` (JSON Schema 2020-12) and turns every
jsonschema error into a ``Problem`` that points at the offending line and
says what was expected. Pure: no I/O beyond reading the schema once.
"""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from typing import Any

from registry_tools.config import package_data
from registry_tools.packs.errors import Problem, field_path
from registry_tools.packs.marked_yaml import MarkedDocument

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
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = domain_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def show(value: Any) -> str:
    """A short, JSON-style rendering of a bad value for messages."""
    if isinstance(value, (dict, list)):
        kind = "a mapping" if isinstance(value, dict) else "a list"
        return kind
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + '..."'


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


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


def _problems_for(error, doc: MarkedDocument, file: str) -> list[Problem]:
    path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    kind = error.validator
    expected = schema.get("x-expected")

    if kind == "additionalProperties" and schema.get("additionalProperties") is False:
        allowed = sorted(schema.get("properties", {}))
        extras = [k for k in value if k not in schema.get("properties", {})]
        return [
            _at(doc, file, (*path, k), f"unknown field '{k}'{_suggest(k, allowed)}; allowed fields: {', '.join(allowed)}", key=True)
            for k in extras
        ]
    if kind == "required":
        missing = [r for r in error.validator_value if r not in value]
        return [_at(doc, file, path, f"missing required field '{m}'") for m in missing]
    if kind == "type":
        types = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        want = " or ".join(_TYPE_NAMES.get(t, t) for t in types)
        return [_at(doc, file, path, f"expected {want}, got {show(value)}")]
    if kind == "enum":
        choices = [str(c) for c in error.validator_value]
        return [_at(doc, file, path, f"expected one of {', '.join(choices)}; got {show(value)}{_suggest(value, choices)}")]
    if kind == "const":
        return [_at(doc, file, path, f"expected {expected or show(error.validator_value)}, got {show(value)}")]
    if kind == "pattern" and isinstance(value, str) and _is_key_of(doc.data, path, value):
        return [_at(doc, file, (*path, value), f"invalid name {show(value)}: expected {expected or 'a name matching ' + error.validator_value}", key=True)]
    if kind == "pattern":
        return [_at(doc, file, path, f"expected {expected or 'a value matching ' + error.validator_value}, got {show(value)}")]
    if kind == "anyOf" and all(set(s) == {"required"} for s in error.validator_value):
        fields = [f for s in error.validator_value for f in s["required"]]
        return [_at(doc, file, path, f"needs at least one of: {', '.join(fields)}")]
    if kind == "contains":
        want = error.validator_value.get("const") if isinstance(error.validator_value, dict) else None
        if want is not None:
            return [_at(doc, file, path, f"must include {show(want)}")]
    return [_at(doc, file, path, f"{error.message}")]


def _is_key_of(data: Any, path: tuple[Any, ...], key: str) -> bool:
    """True when *key* is a mapping key at *path* (propertyNames errors)."""
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(data, dict) and key in data
