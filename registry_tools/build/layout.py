"""The layout of a built registry (``dist/``), shared by build, sign, verify and publish.

    dist/registry.yaml                     the index, human-readable
    dist/registry.json                     the same index, compact (what clients fetch)
    dist/registry.json<SIG>                its signature
    dist/packs/<name>-<version>.tar.gz     one deterministic archive per pack version
    dist/packs/<name>-<version>.tar.gz<SIG>

<SIG> is ``.sig`` (Ed25519, base64 text) or ``.sigstore.json`` (a sigstore
bundle). ``read_dist`` lists what a dist holds without trusting it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

INDEX_YAML = "registry.yaml"
INDEX_JSON = "registry.json"
PACKS_DIR = "packs"
KEY_SIGNATURE_SUFFIX = ".sig"
SIGSTORE_SUFFIX = ".sigstore.json"
SIGNATURE_SUFFIXES = (KEY_SIGNATURE_SUFFIX, SIGSTORE_SUFFIX)
ARCHIVE_RE = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)-(?P<version>\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)\.tar\.gz$")


def archive_name(name: str, version: str) -> str:
    return f"{name}-{version}.tar.gz"


def release_tag(name: str, version: str) -> str:
    """The git tag / GitHub Release of one pack version."""
    return f"{name}-v{version}"


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
