"""Load one pack version directory into a ``Pack``, or say precisely why not.

Workflow: read ``domain.yaml`` (size-capped, UTF-8) -> safe YAML with marks
(bounded work and memory) -> values JSON can carry and safe text
(``values``) -> JSON Schema -> cross-field consistency (default size, cost
keys, workflow sizes) -> companion files (``cloudformation.json`` parses,
``README.md`` exists) -> ``Pack``. Every problem is a ``Problem`` with
file:line:column, except those about a whole file (missing, a link, not a
regular file, too large); ``PackError`` carries all of them at once (at most
``MAX_PROBLEMS`` per file, then one that says how many more there are).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry_tools.limits import LIMITS, Limits
from registry_tools.packs import schema, values
from registry_tools.packs.errors import PackError, Problem, field_path, safe_text
from registry_tools.packs.files import PACK_FILE, README_FILE
from registry_tools.packs.marked_yaml import MarkedDocument, YamlError, parse, position
from registry_tools.packs.model import COMMUNITY, OFFICIAL, Pack

MAX_PROBLEMS = 100  # per file: a hostile file can have thousands; the first hundred say what is wrong


def display_path(path: Path) -> str:
    """A path as users typed it: relative to the working directory when inside it."""
    try:
        return str(Path(path).absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_text(path: Path, max_bytes: int, shown: str) -> str:
    def fail(message: str, at: int | None = None) -> PackError:
        """*at*: the offending byte, for its line and column; None for a problem of the whole file."""
        before = data[:at].decode("utf-8", "replace") if at is not None else ""
        mark = position(before, len(before)) if at is not None else None
        return PackError(Problem(file=shown, message=message, rule="file", line=mark.line if mark else None,
                                 column=mark.column if mark else None))

    if path.is_symlink():
        raise fail(f"{path.name} is a symbolic link; pack files must be regular files")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise fail(f"file not found (expected {path.name} in {display_path(path.parent)})") from None
    if not path.is_file():
        raise fail(f"{path.name} is not a regular file")
    if size > max_bytes:
        raise fail(f"file is {size} bytes; the limit is {max_bytes} bytes")
    data = path.read_bytes()
    if b"\0" in data:
        raise fail("binary file (contains NUL bytes); expected UTF-8 text", data.index(b"\0"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"not valid UTF-8 (byte {exc.start})", exc.start) from None


def parse_pack_file(path: Path, limits: Limits = LIMITS) -> tuple[MarkedDocument, str]:
    """Parse and schema-check ``domain.yaml``; raise ``PackError`` with every problem."""
    shown = display_path(path)
    text = read_text(path, limits.max_pack_file_bytes, shown)
    try:
        doc = parse(text, limits)
    except YamlError as exc:
        mark = exc.mark
        raise PackError(
            Problem(file=shown, message=exc.message, line=mark.line if mark else None,
                    column=mark.column if mark else None, rule=exc.rule)
        ) from None
    if not isinstance(doc.data, dict):
        raise PackError(Problem(file=shown, line=1, column=1, message=f"expected a mapping of pack fields, got {schema.show(doc.data)}"))
    problems = values.check(doc, shown)
    if not values.blocks_schema(problems):  # NaN, huge integers and non-text keys stop here
        problems += schema.check(doc, shown)
    if not problems:
        problems = _consistency(doc, shown)
    if problems:
        raise PackError(_at_most(sorted(problems, key=lambda p: (p.line or 0, p.column or 0, p.field)), shown))
    return doc, shown


def _at_most(problems: list[Problem], shown: str) -> list[Problem]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = problems[MAX_PROBLEMS]
    return [*problems[:MAX_PROBLEMS],
            Problem(file=shown, line=rest.line, column=rest.column, rule=rest.rule,
                    message=f"... and {len(problems) - MAX_PROBLEMS} more problem(s) from here on, not shown")]


def _consistency(doc: MarkedDocument, shown: str) -> list[Problem]:
    data = doc.data
    sizes = list(data["sizes"])
    problems: list[Problem] = []

    def at(path: tuple[Any, ...], message: str, key: bool = False) -> None:
        mark = doc.mark_for(path, key=key)
        problems.append(Problem(file=shown, line=mark.line if mark else None, column=mark.column if mark else None,
                                field=field_path(path), message=message, rule="consistency"))

    if data["default_size"] not in sizes:
        at(("default_size",), f"expected one of the pack's sizes ({', '.join(sizes)}), got {schema.show(data['default_size'])}")
    priced = data["cost_estimate"]["monthly_usd"]
    for name in sizes:
        if name not in priced:
            at(("cost_estimate", "monthly_usd"), f"missing monthly cost for size '{name}'")
    for name in priced:
        if name not in sizes:
            at(("cost_estimate", "monthly_usd", name), f"cost given for unknown size '{safe_text(name)}' (sizes: {', '.join(sizes)})", key=True)
    if data["cost_estimate"]["region"] not in data["regions"]:
        at(("cost_estimate", "region"), f"the cost region must be one of the pack's regions ({', '.join(data['regions'])})")
    for i, flow in enumerate(data["workflows"]):
        if "size" in flow and flow["size"] not in sizes:
            at(("workflows", i, "size"), f"expected one of the pack's sizes ({', '.join(sizes)}), got {schema.show(flow['size'])}")
    return problems


def trust_of(version_dir: Path) -> str:
    """Community packs live under ``domains/community/``."""
    return COMMUNITY if version_dir.resolve().parent.parent.name == "community" else OFFICIAL


def load_template(path: Path, limits: Limits = LIMITS) -> tuple[str, dict[str, Any]]:
    """Parse ``cloudformation.json`` into (text, template); JSON errors carry line and column."""
    shown = display_path(path)
    text = read_text(path, limits.max_template_bytes, shown)
    try:
        template = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PackError(Problem(file=shown, line=exc.lineno, column=exc.colno, message=f"invalid JSON: {exc.msg}", rule="template")) from None
    if not isinstance(template, dict) or "Resources" not in template:
        raise PackError(Problem(file=shown, line=1, column=1, message="not a CloudFormation template (no Resources section)", rule="template"))
    return text, template


@dataclass(frozen=True)
class LoadedPack:
    """A pack with what was read to build it: marks for error lines, the template, the README."""

    pack: Pack
    document: MarkedDocument
    pack_file: str
    template: dict[str, Any]
    template_text: str
    template_file: str
    readme: str


def load_pack_files(version_dir: Path, limits: Limits = LIMITS) -> LoadedPack:
    """Load and check one ``domains/<name>/v<version>/`` directory, keeping its sources."""
    version_dir = Path(version_dir)
    if not version_dir.is_dir():
        raise PackError(Problem(file=display_path(version_dir), message="not a pack directory", rule="file"))
    doc, shown = parse_pack_file(version_dir / PACK_FILE, limits)
    template_path = version_dir / doc.data["deployment"]["template"]
    template_text, template = load_template(template_path, limits)
    readme = read_text(version_dir / README_FILE, limits.max_readme_bytes, display_path(version_dir / README_FILE))
    pack = Pack.from_mapping(doc.data, trust=trust_of(version_dir), path=version_dir)
    return LoadedPack(pack, doc, shown, template, template_text, display_path(template_path), readme)


def load_pack(version_dir: Path, limits: Limits = LIMITS) -> Pack:
    """Load and check one ``domains/<name>/v<version>/`` directory."""
    return load_pack_files(version_dir, limits).pack


def load_validated_pack(version_dir: Path) -> Pack:
    """A ``Pack`` from a version directory whose files just passed validation.

    Skips marks and the schema (the validation run already checked these
    exact files), so building a large registry stays fast. Anything else must
    use ``load_pack``.
    """
    import yaml

    from registry_tools.packs.marked_yaml import SafeDateless

    data = yaml.load((Path(version_dir) / PACK_FILE).read_bytes(), Loader=SafeDateless)  # noqa: S506 - a safe loader
    return Pack.from_mapping(data, trust=trust_of(Path(version_dir)), path=Path(version_dir))
