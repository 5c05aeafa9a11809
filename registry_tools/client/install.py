"""Install a pack version from a verified index: download, verify, extract safely, move atomically.

Workflow: resolve NAME[@VERSION|@CONSTRAINT] against the catalog -> download
the archive to a temporary file (capped at the size the index declares) ->
check its sha256 against the signed index and its detached signature against
the registry's trust anchor -> extract into a staging directory under
``$ARW_HOME/tmp`` (no links, no `..`, capped entries and size) -> load it as a pack
(name and version must match) -> write the receipt -> rename into
``$ARW_HOME/domains/NAME/VERSION``. Any failure removes the staging files and
leaves an existing install untouched. One error type: ``InstallError``.

The swap, crash- and concurrency-safe: ``fsutil.replace_dir`` renames the installed
``VERSION`` to ``.VERSION-old-PID``, the staging directory to ``VERSION``, then removes the
old one. Every swap of one version holds its lock (``domains/.locks/NAME@VERSION.lock``,
held for the renames only, not the download), so concurrent installs of one version take
turns and each succeeds. Holding the lock, an install first repairs what a killed swap left
(``fsutil.recover_dir``): no ``VERSION`` but a ``.VERSION-old-PID`` means the kill fell
between the renames, and that previous install is renamed back; any other leftover is the
remains of a finished swap and is removed. ``installed()`` (``config list``, ``deploy``,
``update``) does the same for every version with leftovers whose lock is free (a held one is a
swap under way) and lists only ``NAME/VERSION`` directories whose receipt names them, never a
hidden leftover. So after a kill at any instant the next command finds the old or the new
install. Killed downloads and extractions are ``tmp/install-PID-*`` directories, removed by the
next install once that process is gone. Modes (``fsutil``): ``domains/`` holds published
content (0755/0644); its locks, ``tmp/`` and ``$ARW_HOME`` itself are private (0700/0600).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from registry_tools.client.catalog import Catalog, CatalogEntry
from registry_tools.client.index_store import LoadedIndex, release_urls
from registry_tools.errors import ArwError
from registry_tools.fetch.http import HttpFetcher
from registry_tools.fetch.interface import Fetcher, FetchError
from registry_tools.fsutil import (
    PRIVATE_DIR,
    PRIVATE_FILE,
    SHARED_DIR,
    SHARED_FILE,
    atomic_write_text,
    make_dirs,
    pid_alive,
    recover_dir,
    replace_dir,
)
from registry_tools.limits import LIMITS
from registry_tools.packs.semver import Version, highest_stable
from registry_tools.paths import state_dir
from registry_tools.timefmt import format_utc

RECEIPT = ".arw-receipt.json"
MAX_ENTRIES = 200
MAX_EXPANSION_RATIO = 200.0
MAX_EXTRACTED_BYTES = 64 * 1024 * 1024
_PACK_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
LOCKS_DIR = ".locks"  # under domains/; hidden like every name installed() skips
LOCK_TIMEOUT_S = 120.0  # a swap takes milliseconds: this long means a stopped process holds the lock


class InstallError(ArwError):
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
    allowed_insecure: list[str] | None = None  # security rules the user allowed (--allow-insecure) that matched

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
    """Every installed pack version, by name then version: the ``NAME/VERSION`` directories whose
    receipt names them. What killed swaps left is repaired first (when no swap of that version is
    under way) and never listed."""
    found = []
    root = domains_dir()
    for name in _visible(root):
        pack_dir = root / name
        for version in sorted({v for path in _leftovers(pack_dir) if (v := _leftover_version(path.name))}):
            _recover(name, version)
        for version in _visible(pack_dir):
            receipt = read_receipt(pack_dir / version)
            if receipt and (receipt.name, receipt.version) == (name, version):
                found.append(receipt)
    return found


def _visible(directory: Path) -> list[str]:
    """The entries of *directory* that are not hidden (swap leftovers, locks and temp files are)."""
    try:
        return sorted(entry for entry in os.listdir(directory) if not entry.startswith("."))
    except OSError:  # missing, or not a directory
        return []


def _leftovers(pack_dir: Path) -> list[Path]:
    try:
        return [pack_dir / entry for entry in os.listdir(pack_dir) if _leftover_version(entry)]
    except OSError:
        return []


def _leftover_version(entry: str) -> str | None:
    """VERSION for ``.VERSION-old-PID`` (what ``fsutil.replace_dir`` names a replaced directory), else None."""
    version, mark, pid = entry.rpartition("-old-")
    return version[1:] if mark and version.startswith(".") and len(version) > 1 and pid.isdigit() else None


def _lock(name: str, version: str, timeout: float):
    """The lock every swap of NAME/VERSION holds (``filelock.FileLock``; mode 0600 in a 0700 directory)."""
    from filelock import FileLock

    locks = make_dirs(_domains_subdir() / LOCKS_DIR, PRIVATE_DIR)
    return FileLock(str(locks / f"{name}@{version}.lock"), timeout=timeout, mode=PRIVATE_FILE)


def _domains_subdir(*parts: str) -> Path:
    """``domains/PARTS``, made if missing: ``$ARW_HOME`` private, the install tree 0755."""
    make_dirs(state_dir(), PRIVATE_DIR)
    return make_dirs(domains_dir().joinpath(*parts), SHARED_DIR)


def _recover(name: str, version: str) -> None:
    """Repair what killed swaps of NAME/VERSION left (see the module docstring), unless another
    process holds the version's lock (a swap under way: it removes its own leftover)."""
    from filelock import Timeout

    # OSError: a read-only state directory; list what is there
    with contextlib.suppress(Timeout, OSError), _lock(name, version, 0):
        recover_dir(installed_dir(name, version), complete=_has_receipt)


def _has_receipt(version_dir: Path) -> bool:
    return read_receipt(version_dir) is not None


def _swap_in(staging: Path, name: str, version: str) -> None:
    """Replace NAME/VERSION by *staging*, holding the version's lock, after repairing killed swaps."""
    from filelock import Timeout

    target = installed_dir(name, version)
    try:
        with _lock(name, version, LOCK_TIMEOUT_S):
            recover_dir(target, complete=_has_receipt)
            replace_dir(staging, target)
    except Timeout:
        raise InstallError(f"{name} {version}: another aws-research-wizard process has been installing this "
                           f"version for more than {LOCK_TIMEOUT_S:.0f} s; try again when it has finished") from None
    except OSError as exc:
        raise InstallError(f"{name} {version}: cannot move the new install into {target}: "
                           f"{exc.strerror or exc}") from None


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
            fetcher: Fetcher | None = None, expected_sha256: str | None = None, allow_insecure: Iterable[str] = (),
            warn: Callable[[str], None] = lambda line: None) -> Receipt:
    """Install *name* (``requested``: a version, a constraint or None for the highest stable);
    the receipt records *now* as the install time. The template must pass the security policy
    (``client.policy``) unless its findings' rules are in *allow_insecure*; *warn* hears the rest.
    The archive and its signature are fetched by *fetcher*, else by the one that fetched the index."""
    entry = catalog.get(name)
    if entry is None:
        raise InstallError(f"no pack named {name!r} in the configured registries")
    version = resolve(entry, requested)
    if not _PACK_NAME.fullmatch(name):  # it becomes a directory name: never a path (the pack schema's pattern)
        raise InstallError(f"registry {entry.registry} offers a pack named {name!r}, which is not a pack name")
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
    try:
        urls = release_urls(index, release)  # the one rule for where an index may point: nothing is read yet
    except FetchError as exc:
        raise InstallError(f"{name} {version} (registry {entry.registry}): refused: {exc}") from None
    if fetcher is None:
        fetcher = index.fetcher if index.fetcher is not None else HttpFetcher()
    _domains_subdir(name)
    work = _work_dir()
    try:
        archive = work / "pack.tar.gz"
        try:
            fetcher.download(urls.archive, archive, cap)  # the partial file is removed when it fails
        except FetchError as exc:
            raise InstallError(f"{name} {version} (registry {entry.registry}): download failed: {exc}") from None
        data = archive.read_bytes()
        got = hashlib.sha256(data).hexdigest()
        if got != want:
            raise InstallError(f"{name} {version} (registry {entry.registry}): checksum mismatch: the index says "
                               f"sha256 {want}, the download is {got}")
        signer = _verify_signature(index, urls.signature, data, name, version, fetcher, work)
        staging = work / "pack"
        _extract(archive, staging, f"{name}-{version}")
        template = _check_pack(staging, name, version)
        verdict = _security(staging / template, f"{name} {version}", allow_insecure, warn)
        receipt = Receipt(name, version, got, len(data), signer, entry.registry, index.registry.location,
                          entry.trust, format_utc(now), file_digests(staging),
                          list(verdict.allowed_rules) or None)
        atomic_write_text(staging / RECEIPT, json.dumps(receipt.to_dict(), indent=2) + "\n", SHARED_FILE)
        _swap_in(staging, name, version)
        return receipt
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _work_dir() -> Path:
    """A private scratch directory on the same file system as the installs; leftovers of
    killed installs (their process is gone) are swept first."""
    tmp = make_dirs(state_dir() / "tmp", PRIVATE_DIR)
    for stale in tmp.glob("install-*"):
        pid = stale.name.split("-")[1]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"install-{os.getpid()}-", dir=tmp))


def _verify_signature(index: LoadedIndex, signature_url: str | None, data: bytes, name: str, version: str,
                      fetcher: Fetcher, work: Path) -> str:
    from registry_tools.signing.interface import SignatureError

    where = f"{name} {version} (registry {index.registry.name})"
    if not signature_url:
        raise InstallError(f"{where}: the archive is not signed; refusing to install")
    try:
        signature = fetcher.download(signature_url, work / "signature",
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


def _security(template_path: Path, what: str, allow: Iterable[str], warn: Callable[[str], None]):
    """The security policy's verdict on the template (refused: ``InstallError``)."""
    from registry_tools.client import policy

    try:
        template = json.loads(template_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InstallError(f"{what}: the template {template_path.name} is not JSON ({exc})") from None
    verdict = policy.judge(template, allow)
    try:
        policy.enforce(verdict, what, "install")
    except policy.InsecurePack as exc:
        raise InstallError(str(exc)) from None
    for line in policy.warnings_of(verdict, what):
        warn(line)
    return verdict


def _check_pack(staging: Path, name: str, version: str) -> str:
    """The archive must hold the pack it was published as, with its files; its template's file name.
    Its content passed validation when the registry was built and is covered by the signature just
    verified, so the JSON Schema is not run again here (``config validate NAME`` runs it, as does
    deploy); the security rules are (``_security``): a signature is not a security review."""
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
    return str(template)
