"""Which pack versions changed since a git ref (for pull-request validation).

Compares the working tree (committed, staged, unstaged and untracked files)
with REF and maps every changed path under ``domains/`` to its version
directory. Version directories whose ``domain.yaml`` is new are "added": the
pipeline checks they are newer than every published version of their pack.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from registry_tools.packs.loader import PACK_FILE
from registry_tools.packs.semver import Version, VersionError


class GitError(Exception):
    """git is missing, the directory is not a repository, or the ref is unknown."""


@dataclass(frozen=True)
class Changes:
    changed: tuple[Path, ...]
    added: tuple[Path, ...]


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


def changed_since(domains_dir: Path, ref: str) -> Changes:
    if ref.startswith("-"):
        raise GitError(f"invalid git ref {ref!r}")
    domains = domains_dir.resolve()
    root = Path(_git(domains, "rev-parse", "--show-toplevel").strip())
    _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    statuses: dict[Path, str] = {}
    for line in _git(root, "diff", "--name-status", "--no-renames", ref, "--").splitlines():
        status, _, name = line.partition("\t")
        statuses[(root / name).resolve(strict=False)] = status[:1]
    for name in _git(root, "ls-files", "--others", "--exclude-standard").splitlines():
        statuses[(root / name).resolve(strict=False)] = "A"
    changed: dict[Path, None] = {}
    added: dict[Path, None] = {}
    for path, status in sorted(statuses.items()):
        version_dir = _version_dir_of(path, domains)
        if version_dir is None or not version_dir.is_dir():
            continue
        changed[version_dir] = None
        if path.name == PACK_FILE and path.parent == version_dir and status == "A":
            added[version_dir] = None
    return Changes(tuple(changed), tuple(added))
