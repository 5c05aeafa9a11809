"""Find packs in a source tree laid out as ``domains/<name>/v<semver>/``.

Official packs live in ``domains/<name>/``, community packs in
``domains/community/<name>/``; each pack has a ``latest`` symlink to its
highest version. Discovery only lists directories; loading is the loader's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from registry_tools.packs.model import COMMUNITY, OFFICIAL
from registry_tools.packs.semver import Version, VersionError

COMMUNITY_DIR = "community"
LATEST_LINK = "latest"


@dataclass(frozen=True)
class PackSource:
    """One pack's directory and its version directories, lowest first."""

    name: str
    trust: str
    directory: Path
    versions: tuple[tuple[Version, Path], ...]

    @property
    def latest(self) -> tuple[Version, Path]:
        stable = [v for v in self.versions if not v[0].is_prerelease]
        return (stable or list(self.versions))[-1]

    def version_dir(self, version: Version) -> Path:
        for v, path in self.versions:
            if v == version:
                return path
        raise KeyError(f"{self.name} has no version {version}; versions: {', '.join(str(v) for v, _ in self.versions)}")


def version_dirs(pack_dir: Path) -> tuple[tuple[Version, Path], ...]:
    found = []
    for child in pack_dir.iterdir():
        if child.is_dir() and not child.is_symlink() and child.name.startswith("v"):
            try:
                found.append((Version.parse(child.name[1:]), child))
            except VersionError:
                continue
    return tuple(sorted(found, key=lambda item: item[0]))


def discover(domains_dir: Path) -> list[PackSource]:
    """Every pack under *domains_dir*, official first, then community, by name."""
    packs: list[PackSource] = []
    for trust, base in ((OFFICIAL, domains_dir), (COMMUNITY, domains_dir / COMMUNITY_DIR)):
        if not base.is_dir():
            continue
        for child in sorted(base.iterdir()):
            if not child.is_dir() or child.name.startswith(".") or (trust == OFFICIAL and child.name == COMMUNITY_DIR):
                continue
            versions = version_dirs(child)
            if versions:
                packs.append(PackSource(child.name, trust, child, versions))
    return packs


def find(domains_dir: Path, name: str) -> PackSource:
    for source in discover(domains_dir):
        if source.name == name:
            return source
    raise KeyError(f"no pack named {name!r} under {domains_dir}")


def pack_version_dirs(path: Path) -> list[Path]:
    """Resolve a user-given path (domains dir, pack dir or version dir) to version dirs."""
    path = Path(path)
    if (path / "domain.yaml").is_file():
        return [path]
    versions = version_dirs(path) if path.is_dir() else ()
    if versions:
        return [p for _, p in versions]
    if path.is_dir():
        return [p for source in discover(path) for _, p in source.versions]
    return []
