"""What every publisher uploads, in order: archives and their signatures first, the index last."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from registry_tools.dist.directory import read_dist
from registry_tools.dist.layout import INDEX_JSON, PACKS_DIR
from registry_tools.publish.interface import PublishError

IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
INDEX_CACHE = "public, max-age=300, must-revalidate"


@dataclass(frozen=True)
class Upload:
    key: str  # path relative to the dist root, with /
    path: Path
    content_type: str
    cache_control: str
    immutable: bool

    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def content_type(name: str) -> str:
    if name.endswith(".tar.gz"):
        return "application/gzip"
    if name.endswith(".json"):
        return "application/json"
    if name.endswith((".yaml", ".yml")):
        return "application/yaml"
    return "text/plain; charset=utf-8"


def plan(dist_dir: Path) -> tuple[list[Upload], list[Upload]]:
    """(immutable artifacts, index files) of a dist; the index files go last."""
    try:
        dist = read_dist(dist_dir)
    except FileNotFoundError as exc:
        raise PublishError(str(exc)) from None
    artifacts = []
    for artifact in dist.artifacts:
        for path in (artifact.archive, *artifact.signatures):
            key = f"{PACKS_DIR}/{path.name}"
            artifacts.append(Upload(key, path, content_type(path.name), IMMUTABLE_CACHE, True))
    index = [Upload(p.name, p, content_type(p.name), INDEX_CACHE, False)
             for p in (dist.index_yaml, *dist.index_signatures, dist.index_json) if p.is_file()]
    return artifacts, index


def serial_of(index_bytes: bytes) -> int | None:
    try:
        return int(json.loads(index_bytes)["serial"])
    except (ValueError, KeyError, TypeError):
        return None


def check_serial(new_index: Path, existing: bytes | None, target: str) -> None:
    """Refuse to replace a published index by one with a lower serial (a rollback)."""
    if existing is None:
        return
    old, new = serial_of(existing), serial_of(new_index.read_bytes())
    if old is not None and new is not None and new < old:
        raise PublishError(f"{target} already serves {INDEX_JSON} serial {old}; refusing to publish the older serial {new}")
