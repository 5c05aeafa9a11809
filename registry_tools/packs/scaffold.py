"""Create and version packs in a source tree: ``registry new`` and ``registry bump``.

new:  copy ``templates/domain-template/`` to ``domains/[community/]NAME/v0.1.0/``,
      filling ``{{name}}`` and ``{{title}}``, then point ``latest`` at it.
bump: copy the latest version to the next major/minor/patch version, rewrite
      the version in domain.yaml, the template and the README, then move
      ``latest``.
Both build the new directory beside its final place and rename it in one
step, and load the result before declaring success; on any failure the tree
is left as it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry_tools.errors import ArwError
from registry_tools.packs.errors import PackError
from registry_tools.packs.files import PACK_FILE, README_FILE, TEMPLATE_FILE
from registry_tools.packs.loader import load_pack
from registry_tools.packs.repository import COMMUNITY_DIR, LATEST_LINK, find, version_dirs
from registry_tools.packs.semver import Version

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
FIRST_VERSION = Version(0, 1, 0)


class ScaffoldError(ArwError):
    """A pack could not be created or bumped; the tree is unchanged."""


@dataclass(frozen=True)
class Bumped:
    name: str
    old: Version
    new: Version
    path: Path


def point_latest(pack_dir: Path, version: Version) -> None:
    """Atomically (re)point ``pack_dir/latest`` at ``v<version>``."""
    tmp = pack_dir / f".{LATEST_LINK}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(f"v{version}")
    os.replace(tmp, pack_dir / LATEST_LINK)


def _stage(parent: Path) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".staging-", dir=parent))


def _commit(staged: Path, final: Path) -> None:
    try:
        os.rename(staged, final)
    except OSError as exc:
        shutil.rmtree(staged, ignore_errors=True)
        raise ScaffoldError(f"could not create {final}: {exc.strerror}") from None


def _check_loads(version_dir: Path) -> None:
    try:
        load_pack(version_dir)
    except PackError as exc:
        raise ScaffoldError(f"the generated pack does not load:\n{exc}") from None


def new_pack(domains_dir: Path, template_dir: Path, name: str, *, community: bool = False, title: str | None = None) -> Path:
    if not NAME_RE.match(name):
        raise ScaffoldError(f"invalid pack name {name!r}: use lowercase letters, digits and _ (e.g. ocean_acoustics)")
    if not (template_dir / PACK_FILE).is_file():
        raise ScaffoldError(f"pack template not found at {template_dir}")
    for base in (domains_dir, domains_dir / COMMUNITY_DIR):
        if (base / name).exists():
            raise ScaffoldError(f"a pack named {name!r} already exists at {base / name}")
    if name == COMMUNITY_DIR:
        raise ScaffoldError(f"{name!r} is reserved")
    title = title or name.replace("_", " ").title()
    if '"' in title or "{" in title or "\n" in title:
        raise ScaffoldError("the title may not contain quotes, braces or newlines")
    pack_parent = (domains_dir / COMMUNITY_DIR) if community else domains_dir
    staged = _stage(pack_parent)
    try:
        version_dir = staged / f"v{FIRST_VERSION}"
        version_dir.mkdir()
        for source in sorted(template_dir.iterdir()):
            if source.is_file():
                text = source.read_text(encoding="utf-8")
                text = text.replace("{{name}}", name).replace("{{title}}", title)
                (version_dir / source.name).write_text(text, encoding="utf-8")
        (staged / LATEST_LINK).symlink_to(f"v{FIRST_VERSION}")
        _check_loads(version_dir)
        os.chmod(staged, 0o755)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    _commit(staged, pack_parent / name)
    return pack_parent / name / f"v{FIRST_VERSION}"


def _replace_strings(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_strings(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _replace_strings(v, old, new) for k, v in value.items()}
    return value


def _bump_domain_yaml(text: str, old: Version, new: Version) -> str:
    text, count = re.subn(rf'^version:\s*["\']?{re.escape(str(old))}["\']?\s*$', f'version: "{new}"', text, count=1, flags=re.MULTILINE)
    if count != 1:
        raise ScaffoldError(f"could not find 'version: \"{old}\"' in {PACK_FILE}")
    entry = f'changelog:\n  - "TODO: describe what changed since {old}."\n'
    block = re.compile(r"^changelog:[^\n]*\n(?:(?:[ \t]+[^\n]*|[ \t]*)\n)*", re.MULTILINE)
    if block.search(text):
        return block.sub(lambda _: entry, text, count=1)
    return text.rstrip("\n") + "\n" + entry


def _bump_readme(text: str, name: str, old: Version, new: Version) -> str:
    text = text.replace(f"{name} {old}", f"{name} {new}").replace(f"{name}@{old}", f"{name}@{new}")
    section = re.compile(rf"^## Changes in {re.escape(str(old))}\s*\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    fresh = f"## Changes in {new}\n\n- TODO: describe what changed since {old}.\n\n"
    if section.search(text):
        return section.sub(lambda _: fresh, text, count=1)
    return text.rstrip("\n") + "\n\n" + fresh


def bump_pack(domains_dir: Path, name: str, part: str) -> Bumped:
    try:
        source = find(domains_dir, name)
    except KeyError as exc:
        raise ScaffoldError(str(exc.args[0])) from None
    old = max(v for v, _ in source.versions)
    new = old.bump(part)
    old_dir = source.version_dir(old)
    final = source.directory / f"v{new}"
    if final.exists():
        raise ScaffoldError(f"{final} already exists")
    staged = _stage(source.directory)
    try:
        shutil.copytree(old_dir, staged, dirs_exist_ok=True, symlinks=True)
        pack_file = staged / PACK_FILE
        pack_file.write_text(_bump_domain_yaml(pack_file.read_text(encoding="utf-8"), old, new), encoding="utf-8")
        template_file = staged / TEMPLATE_FILE
        template = json.loads(template_file.read_text(encoding="utf-8"))
        template = _replace_strings(template, f"{name} {old}", f"{name} {new}")
        template = _replace_strings(template, f"ARW_PACK_VERSION={old}", f"ARW_PACK_VERSION={new}")
        meta = template.get("Metadata", {}).get("ResearchWizard")
        if isinstance(meta, dict):
            meta["Version"] = str(new)
        template_file.write_text(json.dumps(template, indent=2) + "\n", encoding="utf-8")
        readme = staged / README_FILE
        if readme.is_file():
            readme.write_text(_bump_readme(readme.read_text(encoding="utf-8"), name, old, new), encoding="utf-8")
        _check_loads(staged)
        os.chmod(staged, 0o755)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    _commit(staged, final)
    point_latest(source.directory, new)
    return Bumped(name, old, new, final)


def latest_is_consistent(pack_dir: Path) -> bool:
    link = pack_dir / LATEST_LINK
    versions = version_dirs(pack_dir)
    return bool(versions) and link.is_symlink() and os.readlink(link) == versions[-1][1].name
