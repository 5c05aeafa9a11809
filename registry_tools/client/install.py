"""Install a pack version from a verified index: download, verify, extract safely, move atomically.

Workflow: resolve NAME[@VERSION|@CONSTRAINT] against the catalog -> download
the archive to a temporary file (capped at the size the index declares) ->
check its sha256 against the signed index and its detached signature against
the registry's trust anchor -> extract into a staging directory under
``$ARW_HOME/tmp`` (no links, no `..`, capped entries and size) -> load it as a pack
(name and version must match) -> write the receipt -> rename into
``$ARW_HOME/domains/NAME/VERSION``. Any failure removes the staging files and
leaves an existing install untouched. One error type: ``InstallError``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from registry_tools.client.catalog import Catalog, CatalogEntry
from registry_tools.client.index_store import LoadedIndex, archive_url
from registry_tools.config import LIMITS, state_dir
from registry_tools.fetch.http import Fetcher, FetchError, join_url
from registry_tools.fsutil import pid_alive, replace_dir
from registry_tools.packs.semver import Version, highest_stable
from registry_tools.timefmt import format_utc

RECEIPT = ".arw-receipt.json"
MAX_ENTRIES = 200
MAX_EXPANSION_RATIO = 200.0
MAX_EXTRACTED_BYTES = 64 * 1024 * 1024


class InstallError(Exception):
    """The install was refused or failed; nothing was changed."""


@dataclass(frozen=True)
class Receipt:
    name: str
    version: str
    sha256: str
    size: int
    signer: str
    registry: str
    registry_location: str
    trust: str
    installed_at: str
    files: dict[str, str] | None = None  # relative path -> sha256 of what was installed

    def to_dict(self) -> dict:
        return asdict(self)


def domains_dir() -> Path:
    return state_dir() / "domains"


def installed_dir(name: str, version: str) -> Path:
    return domains_dir() / name / version


def read_receipt(version_dir: Path) -> Receipt | None:
    try:
        return Receipt(**json.loads((version_dir / RECEIPT).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def installed() -> list[Receipt]:
    found = []
    root = domains_dir()
    for receipt_path in sorted(root.glob(f"*/*/{RECEIPT}")) if root.is_dir() else []:
        receipt = read_receipt(receipt_path.parent)
        if receipt:
            found.append(receipt)
    return found


def file_digests(version_dir: Path) -> dict[str, str]:
    return {p.relative_to(version_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(version_dir.rglob("*")) if p.is_file() and p.name != RECEIPT}


def resolve(entry: CatalogEntry, requested: str | None) -> str:
    """The version of *entry* to install for NAME, NAME@VERSION or NAME@CONSTRAINT."""
    releases = list(entry.entry.get("releases", {}))
    if not requested:
        stable = highest_stable(releases)
        if stable is None:
            raise InstallError(f"{entry.name} has no stable version; name one explicitly (e.g. {entry.name}@{releases[-1]})"
                               if releases else f"{entry.name} has no versions")
        return stable
    from registry_tools.client.constraints import ConstraintError, best_match, parse_constraint

    versions = []
    for text in releases:
        try:
            versions.append(Version.parse(text))
        except ValueError:
            continue
    try:
        constraint = parse_constraint(requested)
    except ConstraintError as exc:
        raise InstallError(str(exc)) from None
    match = best_match(versions, constraint)
    if match is None:
        raise InstallError(f"no version of {entry.name} in registry {entry.registry} matches {requested!r} "
                           f"(versions: {', '.join(str(v) for v in sorted(versions, key=lambda v: v._key()))})")
    return str(match)


def install(catalog: Catalog, loaded: list[LoadedIndex], name: str, requested: str | None, *, now: datetime,
            fetcher: Fetcher | None = None, expected_sha256: str | None = None) -> Receipt:
    """Install *name* (``requested``: a version, a constraint or None for the highest stable);
    the receipt records *now* as the install time."""
    entry = catalog.get(name)
    if entry is None:
        raise InstallError(f"no pack named {name!r} in the configured registries")
    version = resolve(entry, requested)
    release = entry.entry["releases"][version]
    index = next(item for item in loaded if item.registry.name == entry.registry)
    checksum = str(release.get("checksum", ""))
    if not checksum.startswith("sha256:"):
        raise InstallError(f"{name} {version} in registry {entry.registry} has no sha256 checksum")
    want = checksum.removeprefix("sha256:")
    if expected_sha256 and expected_sha256 != want:
        raise InstallError(f"{name} {version} is pinned to sha256 {expected_sha256} but registry {entry.registry} "
                           f"now serves {want}; refusing (unpin it to accept the new archive)")
    declared = int(release.get("size") or LIMITS.max_archive_bytes)
    cap = min(declared, LIMITS.max_archive_bytes)
    fetcher = fetcher or Fetcher()
    target = installed_dir(name, version)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = _work_dir()
    try:
        archive = work / "pack.tar.gz"
        try:
            fetcher.download(archive_url(index, release), archive, cap)
        except FetchError as exc:
            raise InstallError(f"{name} {version} (registry {entry.registry}): download failed: {exc}") from None
        data = archive.read_bytes()
        got = hashlib.sha256(data).hexdigest()
        if got != want:
            raise InstallError(f"{name} {version} (registry {entry.registry}): checksum mismatch: the index says "
                               f"sha256 {want}, the download is {got}")
        signer = _verify_signature(index, release, data, name, version, fetcher, work)
        staging = work / "pack"
        _extract(archive, staging, f"{name}-{version}")
        _check_pack(staging, name, version)
        receipt = Receipt(name, version, got, len(data), signer, entry.registry, index.registry.location,
                          entry.trust, format_utc(now), file_digests(staging))
        (staging / RECEIPT).write_text(json.dumps(receipt.to_dict(), indent=2) + "\n", encoding="utf-8")
        replace_dir(staging, target)
        return receipt
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _work_dir() -> Path:
    """A private scratch directory on the same file system as the installs; leftovers of
    killed installs (their process is gone) are swept first."""
    tmp = state_dir() / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    for stale in tmp.glob("install-*"):
        pid = stale.name.split("-")[1]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"install-{os.getpid()}-", dir=tmp))


def _verify_signature(index: LoadedIndex, release: dict, data: bytes, name: str, version: str,
                      fetcher: Fetcher, work: Path) -> str:
    from registry_tools.signing.interface import SignatureError

    signature_url = release.get("signature_url")
    where = f"{name} {version} (registry {index.registry.name})"
    if not signature_url:
        raise InstallError(f"{where}: the archive is not signed; refusing to install")
    try:
        signature = fetcher.download(join_url(index.index_url(), signature_url), work / "signature",
                                     LIMITS.max_signature_bytes).read_bytes()
    except FetchError as exc:
        raise InstallError(f"{where}: cannot fetch the signature: {exc}") from None
    try:
        return str(index.registry.trust.verifier().verify_bytes(data, signature, name=f"{name}-{version}.tar.gz"))
    except SignatureError as exc:
        raise InstallError(f"{where}: {exc}") from None


def _extract(archive: Path, dest: Path, prefix: str) -> None:
    from registry_tools.client.extract import ExtractError, safe_extract

    try:
        safe_extract(archive, dest, expected_prefix=prefix, max_entries=MAX_ENTRIES,
                     max_total_bytes=MAX_EXTRACTED_BYTES, max_ratio=MAX_EXPANSION_RATIO)
    except ExtractError as exc:
        raise InstallError(f"{prefix}: unsafe archive: {exc}") from None


def _check_pack(staging: Path, name: str, version: str) -> None:
    """The archive must hold the pack it was published as, with its files. Its content passed
    validation when the registry was built and is covered by the signature just verified, so
    the JSON Schema is not run again here (``config validate NAME`` runs it, as does deploy)."""
    import yaml

    from registry_tools.packs.files import PACK_FILE, README_FILE
    from registry_tools.yamlio import load_yaml

    try:
        data = load_yaml((staging / PACK_FILE).read_bytes())
        found = (data["name"], str(data["version"]))
        template = data["deployment"]["template"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise InstallError(f"{name} {version}: the archive does not hold a readable pack "
                           f"({PACK_FILE}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if found != (name, version):
        raise InstallError(f"{name} {version}: the archive holds {found[0]} {found[1]}")
    missing = [f for f in (README_FILE, str(template)) if not (staging / f).is_file()]
    if missing:
        raise InstallError(f"{name} {version}: the archive lacks {', '.join(missing)}")
