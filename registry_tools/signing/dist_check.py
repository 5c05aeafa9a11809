"""``registry verify``: check a whole local dist against a trust anchor, the index first
(its signature), then every archive the index lists (sha256, size, signature); archives the
index does not list are reported as warnings, as is an index that is expired at the
caller's ``now`` (clients refuse it). Problems are collected per file, not raised."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from registry_tools.dist.directory import read_dist
from registry_tools.dist.layout import ARCHIVE_RE, PACKS_DIR, SIGNATURE_SUFFIXES, archive_name
from registry_tools.signing.interface import SignatureError, SignerIdentity, Verifier
from registry_tools.signing.trust import TrustAnchor

INDEX_SECTIONS = ("domains", "community_packs")
CHECKSUM_RE = re.compile(r"^sha256:([0-9a-f]{64})$")


@dataclass
class FileCheck:
    """One file of a dist: its path relative to the dist, who signed it, and every problem found."""

    file: str
    signer: SignerIdentity | None = None
    errors: list[str] = field(default_factory=list)
    listed_as: str | None = None  # "domains.genomics 1.2.0" for archives

    @property
    def ok(self) -> bool:
        return not self.errors and self.signer is not None

    def to_dict(self) -> dict:
        return {"file": self.file, "ok": self.ok, "listed_as": self.listed_as,
                "signer": None if self.signer is None else {"kind": self.signer.kind, "subject": self.signer.subject,
                                                             "issuer": self.signer.issuer, "description": str(self.signer)},
                "errors": list(self.errors)}


@dataclass
class DistVerification:
    root: Path
    trust: str
    files: list[FileCheck] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    @property
    def failed(self) -> list[FileCheck]:
        return [f for f in self.files if not f.ok]

    @property
    def signers(self) -> list[str]:
        return sorted({str(f.signer) for f in self.files if f.signer is not None})

    def to_dict(self) -> dict:
        return {"dist": str(self.root), "trust": self.trust, "ok": self.ok, "signers": self.signers,
                "files": [f.to_dict() for f in self.files], "warnings": list(self.warnings)}


def _check_signature(check: FileCheck, verifier: Verifier, path: Path, data: bytes) -> None:
    sidecar = path.with_name(path.name + verifier.suffix)
    try:
        signature = sidecar.read_bytes()
    except FileNotFoundError:
        others = [s for s in SIGNATURE_SUFFIXES if s != verifier.suffix and path.with_name(path.name + s).is_file()]
        hint = ""
        if others:
            kind = "an Ed25519 (.sig)" if others[0] == ".sig" else "a sigstore (.sigstore.json)"
            hint = f"; it has {kind} signature, which the trust you gave does not cover"
        check.errors.append(f"not signed: {sidecar.name} is missing{hint}")
        return
    except OSError as exc:
        check.errors.append(f"cannot read {sidecar.name}: {exc.strerror or exc}")
        return
    try:
        check.signer = verifier.verify_bytes(data, signature, name=check.file)
    except SignatureError as exc:
        check.errors.append(str(exc))


def _listed_releases(index: object, errors: list[str]) -> list[tuple[str, str, str, dict]]:
    """(section, name, version, release) for every release in the index; shape problems go to *errors*."""
    if not isinstance(index, dict):
        errors.append("the index is not a JSON object")
        return []
    if not any(section in index for section in INDEX_SECTIONS):
        errors.append("the index has neither domains nor community_packs")
        return []
    found = []
    for section in INDEX_SECTIONS:
        packs = index.get(section)
        if packs is None:
            continue
        if not isinstance(packs, dict):
            errors.append(f"{section}: expected a map of pack name -> entry")
            continue
        for name, entry in packs.items():
            releases = entry.get("releases") if isinstance(entry, dict) else None
            if not isinstance(releases, dict) or not releases:
                errors.append(f"{section}.{name}: expected a non-empty releases map")
                continue
            for version, release in releases.items():
                if not isinstance(release, dict):
                    errors.append(f"{section}.{name}.releases.{version}: expected a map")
                    continue
                found.append((section, str(name), str(version), release))
    return found


def _check_expiry(index: object, now: datetime, warnings: list[str]) -> None:
    from registry_tools.clock import is_expired
    from registry_tools.timefmt import describe_age, parse_utc

    text = index.get("expires") if isinstance(index, dict) else None
    try:
        expires = parse_utc(text if isinstance(text, str) else "")
    except ValueError:
        warnings.append(f"registry.json has no valid expiry ({text!r}): clients refuse it")
        return
    if is_expired(expires, now):
        warnings.append(f"registry.json expired {describe_age(now - expires)} ago ({text}): clients refuse it until "
                        "it is built and signed again (registry build --expires ...)")


def verify_dist(root: Path, anchor: TrustAnchor, *, now: datetime) -> DistVerification:
    """Check a local dist: the index signature, then for every release in the index its archive's
    sha256 and size against the index entry and its signature; whether the index is expired at
    *now*. Raises FileNotFoundError without an index."""
    dist = read_dist(Path(root))
    verifier = anchor.verifier()
    report = DistVerification(dist.root, anchor.describe())

    index_check = FileCheck(dist.index_json.name)
    report.files.append(index_check)
    try:
        index_bytes = dist.index_json.read_bytes()
    except OSError as exc:
        index_check.errors.append(f"cannot read it: {exc.strerror or exc}")
        return report
    # The same bytes are verified and parsed: nothing can change in between.
    _check_signature(index_check, verifier, dist.index_json, index_bytes)
    try:
        index = json.loads(index_bytes)
    except (ValueError, UnicodeDecodeError) as exc:
        index_check.errors.append(f"not valid JSON: {exc}")
        return report
    releases = _listed_releases(index, index_check.errors)
    _check_expiry(index, now, report.warnings)

    listed: set[Path] = set()
    for section, name, version, release in releases:
        filename = archive_name(name, version)
        where = f"{section}.{name} {version}"
        if not ARCHIVE_RE.match(filename):
            index_check.errors.append(f"{where}: not a valid pack name and version, no archive checked")
            continue
        path = dist.root / PACKS_DIR / filename
        if path in listed:
            continue
        listed.add(path)
        check = FileCheck(f"{PACKS_DIR}/{filename}", listed_as=where)
        report.files.append(check)
        match = CHECKSUM_RE.match(str(release.get("checksum", "")))
        if not match:
            check.errors.append(f"registry.json ({where}) has no valid checksum for it "
                                f"(expected sha256:<64 hex digits>, got {release.get('checksum')!r})")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            check.errors.append(f"missing: registry.json lists it ({where}) but {check.file} does not exist")
            continue
        except OSError as exc:
            check.errors.append(f"cannot read it: {exc.strerror or exc}")
            continue
        actual = hashlib.sha256(data).hexdigest()
        if match and match[1] != actual:
            check.errors.append(f"checksum mismatch: registry.json says sha256:{match[1]}, the file is sha256:{actual}")
        size = release.get("size")
        if isinstance(size, int) and not isinstance(size, bool) and size != len(data):
            check.errors.append(f"size mismatch: registry.json says {size} bytes, the file has {len(data)}")
        _check_signature(check, verifier, path, data)

    for artifact in dist.artifacts:
        if artifact.archive not in listed:
            report.warnings.append(f"{PACKS_DIR}/{artifact.archive.name} is not listed in registry.json "
                                   "(clients never fetch it); not checked")
    return report
