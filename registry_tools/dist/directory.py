"""What a built registry directory (``dist/``, see ``dist.layout``) holds, read without trusting it:
the index files, and every archive with its signatures. Maintainer side (sign, verify, publish)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from registry_tools.dist.layout import ARCHIVE_RE, INDEX_JSON, INDEX_YAML, PACKS_DIR, SIGNATURE_SUFFIXES


@dataclass(frozen=True)
class Artifact:
    name: str
    version: str
    archive: Path
    signatures: tuple[Path, ...]


@dataclass(frozen=True)
class Dist:
    root: Path
    index_json: Path
    index_yaml: Path
    index_signatures: tuple[Path, ...]
    artifacts: tuple[Artifact, ...]


def _signatures(path: Path) -> tuple[Path, ...]:
    return tuple(p for p in (path.with_name(path.name + s) for s in SIGNATURE_SUFFIXES) if p.is_file())


def read_dist(root: Path) -> Dist:
    """What a dist directory holds. Raises FileNotFoundError when it has no index."""
    root = Path(root)
    index_json = root / INDEX_JSON
    if not index_json.is_file():
        raise FileNotFoundError(f"{root} has no {INDEX_JSON}; build it with `aws-research-wizard registry build`")
    artifacts = []
    packs = root / PACKS_DIR
    for archive in sorted(packs.glob("*.tar.gz")) if packs.is_dir() else []:
        match = ARCHIVE_RE.match(archive.name)
        if match:
            artifacts.append(Artifact(match["name"], match["version"], archive, _signatures(archive)))
    return Dist(root, index_json, root / INDEX_YAML, _signatures(index_json), tuple(artifacts))
