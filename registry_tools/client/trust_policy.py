"""Every trust decision about a registry index, in one place, with no I/O.

Given the index bytes, its signature bytes, the registry's trust anchor, the
highest serial seen before and the current time, ``check_index`` either
returns the parsed index with who signed it, or raises ``TrustError`` saying
exactly why it is refused: bad or missing signature, untrusted signer, a
serial lower than one already seen (rollback), an expired index (unless
allowed), or a malformed index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry_tools.clock import is_expired
from registry_tools.errors import ArwError
from registry_tools.signing.interface import SignatureError, SignerIdentity, Verifier
from registry_tools.timefmt import describe_age, parse_utc


class TrustError(ArwError):
    """The index must not be used."""


@dataclass(frozen=True)
class TrustedIndex:
    index: dict[str, Any]
    serial: int
    expires: datetime
    signer: SignerIdentity
    expired: bool

    def age_description(self, now: datetime) -> str:
        return describe_age(now - self.expires) if self.expired else ""


def check_index(data: bytes, signature: bytes | None, verifier: Verifier, *, registry: str,
                highest_seen_serial: int | None, now: datetime, allow_expired: bool = False) -> TrustedIndex:
    if signature is None:
        raise TrustError(f"registry {registry}: the index has no signature; refusing an unsigned index")
    try:
        signer = verifier.verify_bytes(data, signature, name=f"{registry} registry.json")
    except SignatureError as exc:
        raise TrustError(f"registry {registry}: {exc}") from None
    try:
        index = json.loads(data)
        serial = int(index["serial"])
        expires = parse_utc(index["expires"])
        if not isinstance(index.get("domains"), dict) or not isinstance(index.get("community_packs"), dict):
            raise ValueError("missing domains/community_packs")
    except (ValueError, KeyError, TypeError) as exc:
        raise TrustError(f"registry {registry}: the signed index is malformed ({exc})") from None
    if highest_seen_serial is not None and serial < highest_seen_serial:
        raise TrustError(f"registry {registry}: index serial {serial} is lower than serial {highest_seen_serial} "
                         "seen before; refusing a rollback to an older index")
    expired = is_expired(expires, now)
    if expired and not allow_expired:
        raise TrustError(f"registry {registry}: the index expired {describe_age(now - expires)} ago "
                         f"({index['expires']}); use --allow-expired to use it anyway")
    return TrustedIndex(index, serial, expires, signer, expired)
