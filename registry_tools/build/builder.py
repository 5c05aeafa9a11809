"""`registry build`: validated packs -> deterministic archives, index, signatures, in one atomic step.

Workflow: validate every pack (cached; any error refuses the build) -> one
archive per version (mtime from git) -> registry.json / registry.yaml
(checked against schemas/registry.schema.json) -> signatures -> the staging
directory replaces the output directory in one rename. Dates come from git;
the index expires at ``expires_at`` when given, else ``expires_days`` after the
build time (SOURCE_DATE_EPOCH or the HEAD commit). Nothing reads the clock
unless the tree is not a git checkout, so rebuilding the same commit with the
same arguments gives byte-identical output.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from registry_tools.build.archive import FIXED_EPOCH, archive_bytes
from registry_tools.build.gitdates import GitDates
from registry_tools.clock import is_expired
from registry_tools.dist.index import BuiltRelease, build_index, iso, to_json, to_yaml
from registry_tools.dist.layout import INDEX_JSON, INDEX_YAML, PACKS_DIR, archive_name
from registry_tools.errors import ArwError
from registry_tools.fsutil import replace_dir
from registry_tools.packs.loader import load_validated_pack
from registry_tools.packs.model import Pack
from registry_tools.packs.repository import discover
from registry_tools.paths import package_data
from registry_tools.signing.interface import Signer
from registry_tools.validation.findings import Report

DEFAULT_EXPIRES_DAYS = 30
REGISTRY_SCHEMA = package_data("schemas", "registry.schema.json")


class BuildError(ArwError):
    """The build was refused (invalid packs, bad options) or failed; the output directory is unchanged."""


@dataclass(frozen=True)
class BuildResult:
    out: Path
    index: dict
    archives: int
    validation: Report
    notes: tuple[str, ...]
    warnings: tuple[str, ...] = ()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def check_index(index: dict) -> None:
    import jsonschema

    schema = json.loads(REGISTRY_SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(index), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top)"
        raise BuildError(f"the generated index does not match {REGISTRY_SCHEMA.name} at {where}: {first.message}")


def build(
    domains_dir: Path,
    out: Path,
    *,
    base_url: str = "",
    serial: int | None = None,
    expires_days: int = DEFAULT_EXPIRES_DAYS,
    expires_at: datetime | None = None,
    signer: Signer | None = None,
    validate_packs: Callable[[list[Path]], Report],
    progress: Callable[[str], None] | None = None,
    now: datetime,
) -> BuildResult:
    """Build *domains_dir* into *out*. *now* is the build time only outside a git checkout
    without SOURCE_DATE_EPOCH, and tells whether the index would already be expired (a note)."""
    say = progress or (lambda _: None)
    sources = discover(domains_dir)
    version_dirs = [path for source in sources for _, path in source.versions]
    if not version_dirs:
        raise BuildError(f"no packs under {domains_dir}")
    say(f"validating {len(version_dirs)} pack versions")
    report = validate_packs(version_dirs)
    if report.errors:
        shown = [str(f) for f in report.findings if f.severity == "error"][:20]
        more = f"\n... and {report.errors - len(shown)} more" if report.errors > len(shown) else ""
        raise BuildError(f"{report.errors} validation error(s); nothing was built:\n" + "\n".join(shown) + more)

    notes: list[str] = []
    git = GitDates(domains_dir)
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        built_at = int(os.environ["SOURCE_DATE_EPOCH"])
    elif git.head_time is not None:
        built_at = git.head_time
    else:
        built_at = int(now.timestamp())
        notes.append("not a git checkout: build time taken from the clock (set SOURCE_DATE_EPOCH for reproducible builds)")
    expires = int(expires_at.timestamp()) if expires_at is not None else built_at + expires_days * 86400
    warnings = []
    if is_expired(datetime.fromtimestamp(expires, UTC), now):
        warnings.append(f"the index expires at {iso(expires)}, which is already past: clients will refuse it "
                        "(pass --expires or --expires-days, or set SOURCE_DATE_EPOCH to the build time)")
    if serial is None:
        serial = git.commit_count or built_at
    if serial < 1:
        raise BuildError("--serial must be a positive integer")

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-staging-", dir=out.parent))
    try:
        releases: list[BuiltRelease] = []
        for source in sources:
            for version, path in source.versions:
                pack = _load(path)
                dates = git.for_version_dir(path)
                name = archive_name(pack.name, str(version))
                data = archive_bytes(path, f"{pack.name}-{version}", mtime=dates.updated if dates.updated else FIXED_EPOCH)
                target = staging / PACKS_DIR / name
                _write(target, data)
                if signer:
                    signer.sign_file(target)
                releases.append(BuiltRelease(pack, name, hashlib.sha256(data).hexdigest(), len(data), dates.created,
                                             signer.suffix if signer else None))
        say(f"wrote {len(releases)} archives")
        method = "none" if signer is None else ("sigstore" if signer.suffix == ".sigstore.json" else "ed25519")
        index = build_index(releases, serial=serial, last_updated=git.last_updated(), expires=expires,
                            base_url=base_url, signing=method)
        check_index(index)
        try:
            index_json = to_json(index)
        except ValueError as exc:  # NaN or infinity: validation refuses them, this is the last guard
            raise BuildError(f"the index would not be valid JSON ({exc}); nothing was built") from None
        _write(staging / INDEX_JSON, index_json)
        _write(staging / INDEX_YAML, to_yaml(index))
        if signer:
            signer.sign_file(staging / INDEX_JSON)
        replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildResult(out, index, len(releases), report, tuple(notes), tuple(warnings))


def _load(version_dir: Path) -> Pack:
    """The validated pack, from the parsed-YAML memo when validation left one."""
    from registry_tools.packs.files import PACK_FILE
    from registry_tools.packs.loader import trust_of
    from registry_tools.validation.cache import ParsedPacks

    data = ParsedPacks().get((version_dir / PACK_FILE).read_bytes())
    if data is None:
        return load_validated_pack(version_dir)
    return Pack.from_mapping(data, trust=trust_of(version_dir), path=version_dir)
