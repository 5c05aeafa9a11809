"""Content-hash cache of per-version validation results.

The key hashes every file of a version directory (names and bytes) together
with everything that can change a verdict: this tool's version, cfn-lint's
version, the schema and our security rules, whether cfn-lint ran, and the
content of the price table the packs were checked against (the packaged one
or the source tree's own, see ``pricing.catalogue.repository_price_file``).
An unchanged pack is therefore never re-linted; any edit to the pack, the
checks or the price table misses the cache (cfn-lint's own verdict, keyed by
``lint_key``, does not depend on prices). Entries are JSON files written
atomically under ``$ARW_HOME/cache/validate/``.

The files a cached finding names are stored relative to the directory that
was checked (``base``), not as they were shown when the entry was written: a
hit shows them relative to the directory the command runs in (absolute when
outside it), so the same entry is right from any working directory and for
any copy of the pack (the key is the content, not the location).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from registry_tools.fsutil import atomic_write_text
from registry_tools.paths import package_data, state_dir
from registry_tools.validation.findings import Finding

FORMAT = 2  # 2: files relative to the checked directory, findings with a column


@lru_cache(maxsize=1)
def checks_fingerprint() -> str:
    """Hash of what decides a verdict besides the pack itself and the price table."""
    from importlib.metadata import PackageNotFoundError, version

    from registry_tools import __version__

    digest = hashlib.sha256(f"arw-validate-{FORMAT}-{__version__}".encode())
    try:
        digest.update(version("cfn-lint").encode())
    except PackageNotFoundError:
        digest.update(b"cfn-lint-unknown")
    here = Path(__file__).resolve().parent
    sources = [package_data("schemas", "domain.schema.json"),
               *sorted((here / "security_rules").glob("*.py")), *sorted(here.glob("*.py")),
               *sorted((here.parent / "packs").glob("*.py")), *sorted((here.parent / "pricing").glob("*.py")),
               *sorted((here.parent / "security").glob("*.py"))]
    for path in sources:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def prices_digest(raw: bytes) -> str:
    """The part of a cache key that stands for a price table's content."""
    return hashlib.sha256(b"prices\0" + raw).hexdigest()


@lru_cache(maxsize=1)
def _packaged_prices_digest() -> str:
    return prices_digest(package_data("data", "prices.json").read_bytes())


def pack_key(version_dir: Path, lint: bool, prices: str | None = None) -> str | None:
    """The cache key of a version directory checked against the price table whose ``prices_digest`` is *prices*
    (default: the packaged table), or None when it cannot be read."""
    digest = hashlib.sha256(checks_fingerprint().encode())
    digest.update((prices or _packaged_prices_digest()).encode())
    digest.update(b"lint" if lint else b"nolint")
    digest.update(str(version_dir.parent.name).encode())
    digest.update(version_dir.name.encode())
    try:
        for path in sorted(version_dir.rglob("*")):
            relative = path.relative_to(version_dir).as_posix().encode()
            digest.update(b"\0" + relative + b"\0")
            if path.is_symlink():
                digest.update(b"link:" + str(path.readlink()).encode())
            elif path.is_file():
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    except OSError:
        return None
    return digest.hexdigest()


class ResultCache:
    def __init__(self, root: Path | None = None):
        self.root = root or state_dir() / "cache" / "validate"

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str, base: Path | None = None) -> list[Finding] | None:
        """The findings stored under *key*; with *base*, their files are read as relative to it and shown
        relative to the working directory."""
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            findings = [Finding(**item) for item in data["findings"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if base is None:
            return findings
        from registry_tools.packs.loader import display_path

        return [replace(f, file=display_path(Path(base, f.file))) for f in findings]

    def put(self, key: str, findings: list[Finding], base: Path | None = None) -> None:
        """Store *findings* (files as shown from the working directory) under *key*; with *base*, their
        files are stored relative to it."""
        if base is not None:
            root = os.path.abspath(base)
            findings = [replace(f, file=os.path.relpath(os.path.abspath(f.file), root)) for f in findings]
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
            atomic_write_text(self._path(key), json.dumps({"findings": [f.to_dict() for f in findings]}), 0o600)


def lint_key(template_text: str, regions: tuple[str, ...] | list[str]) -> str:
    """Key of cfn-lint's verdict on one template for a set of regions (independent of the pack around it)."""
    digest = hashlib.sha256(checks_fingerprint().encode())
    digest.update(b"lint|" + ",".join(sorted(regions)).encode() + b"|")
    digest.update(template_text.encode("utf-8"))
    return "lint-" + digest.hexdigest()


class ParsedPacks:
    """domain.yaml contents that passed validation, memoised as JSON by the file's SHA-256.

    Validation writes them; the build reads them instead of parsing YAML again
    (parsing dominates building a large registry).
    """

    def __init__(self, root: Path | None = None):
        self.root = root or state_dir() / "cache" / "parsed"

    def _path(self, raw: bytes) -> Path:
        return self.root / f"{hashlib.sha256(raw).hexdigest()}.json"

    def get(self, raw: bytes) -> dict | None:
        try:
            return json.loads(self._path(raw).read_bytes())
        except (OSError, ValueError):
            return None

    def put(self, raw: bytes, data: dict) -> None:
        with contextlib.suppress(OSError, TypeError, ValueError):
            atomic_write_text(self._path(raw), json.dumps(data, allow_nan=False), 0o600)
