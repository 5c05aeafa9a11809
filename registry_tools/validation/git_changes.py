"""Which pack versions changed since a git ref (for pull-request validation).

Compares the working tree (committed, staged, unstaged and untracked files)
with REF and maps every changed path under ``domains/`` to its version
directory. Version directories whose ``domain.yaml`` is new are "added": the
pipeline checks they are newer than every published version of their pack.
A change inside a pack directory but outside its versions (its ``latest``
link, a removed version) selects the pack's highest version, so the
pack-level checks run.

Some files outside ``domains/`` decide the verdict on every pack
(``EVERY_PACK``): the price table, the schemas, the checks themselves
(everything under ``registry_tools/``), ``templates/``, ``pyproject.toml`` (the
ranges of cfn-lint and jsonschema) and ``requirements/`` (their exact pins). ``Changes.every_pack`` names those that
changed; ``registry validate --changed-since`` then validates every pack, so
raising one instance price is checked against every pack that uses it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from registry_tools.errors import ArwError
from registry_tools.packs.files import PACK_FILE
from registry_tools.packs.repository import COMMUNITY_DIR, version_dirs
from registry_tools.packs.semver import Version, VersionError

# Paths relative to the project root (the directory holding domains/): a directory ends with "/".
# schemas/ is a link to registry_tools/schemas/; git reports changes to its files under registry_tools/.
EVERY_PACK = ("registry_tools/", "schemas/", "schemas", "templates/", "templates", "pyproject.toml", "requirements/")


class GitError(ArwError):
    """git is missing, the directory is not a repository, or the ref is unknown."""


@dataclass(frozen=True)
class Changes:
    changed: tuple[Path, ...]
    added: tuple[Path, ...]
    every_pack: tuple[str, ...] = ()
    """Changed files outside domains/ that affect every pack (project-relative, sorted); empty when none did."""

    def every_pack_files(self) -> str:
        """The changed files every pack depends on, for one line of output ("" when none)."""
        more = f" and {len(self.every_pack) - 3} more file(s)" if len(self.every_pack) > 3 else ""
        return f"{', '.join(self.every_pack[:3])}{more}"

    def every_pack_reason(self) -> str | None:
        """Why every pack must be validated (one line), or None."""
        return f"{self.every_pack_files()} changed: validating every pack" if self.every_pack else None


def _git(root: Path, *args: str) -> str:
    try:
        result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if result.returncode != 0:
        raise GitError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"git {' '.join(args)} failed")
    return result.stdout


def _version_dir_of(path: Path, domains: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if candidate == domains or domains not in candidate.parents:
            return None
        if candidate.name.startswith("v"):
            try:
                Version.parse(candidate.name[1:])
            except VersionError:
                continue
            return candidate
    return None


def _highest_version_of_pack(path: Path, domains: Path) -> Path | None:
    """The highest version directory of the pack *path* lies in (a changed `latest` link, a removed version)."""
    try:
        parts = path.relative_to(domains).parts
    except ValueError:
        return None
    depth = 2 if parts[:1] == (COMMUNITY_DIR,) else 1
    if len(parts) <= depth:
        return None
    pack_dir = domains.joinpath(*parts[:depth])
    versions = version_dirs(pack_dir) if pack_dir.is_dir() else ()
    return versions[-1][1] if versions else None


def _affects_every_pack(relative: str) -> bool:
    return any(relative.startswith(p) if p.endswith("/") else relative == p for p in EVERY_PACK)


def changed_since(domains_dir: Path, ref: str) -> Changes:
    if ref.startswith("-"):
        raise GitError(f"invalid git ref {ref!r}")
    domains = domains_dir.resolve()
    project = domains.parent
    root = Path(_git(domains, "rev-parse", "--show-toplevel").strip())
    _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    names: dict[str, str] = {}
    for line in _git(root, "diff", "--name-status", "--no-renames", ref, "--").splitlines():
        status, _, name = line.partition("\t")
        names[name] = status[:1]
    for name in _git(root, "ls-files", "--others", "--exclude-standard").splitlines():
        names[name] = "A"
    statuses: dict[Path, str] = {}
    every_pack: set[str] = set()
    for name, status in names.items():
        statuses[(root / name).resolve(strict=False)] = status
        try:
            relative = (root / name).relative_to(project).as_posix()
        except ValueError:
            continue
        if _affects_every_pack(relative):
            every_pack.add(relative)
    changed: dict[Path, None] = {}
    added: dict[Path, None] = {}
    for path, status in sorted(statuses.items()):
        version_dir = _version_dir_of(path, domains)
        if version_dir is None or not version_dir.is_dir():
            version_dir = _highest_version_of_pack(path, domains)
            if version_dir is not None:
                changed[version_dir] = None
            continue
        changed[version_dir] = None
        if path.name == PACK_FILE and path.parent == version_dir and status == "A":
            added[version_dir] = None
    return Changes(tuple(changed), tuple(added), tuple(sorted(every_pack)))
