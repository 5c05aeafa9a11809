"""The signing seam: one interface for Ed25519 keys and sigstore keyless signing.

A ``Signer`` writes a detached signature next to a file and returns its path.
A ``Verifier`` checks a file against its detached signature and says who
signed it (``SignerIdentity``) or raises ``SignatureError`` saying exactly
what is wrong. Trust decisions live in the verifiers; they never touch the
network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from registry_tools.errors import ArwError


class SignatureError(ArwError):
    """A signature is missing, malformed, made by an untrusted signer, or does not match the data."""


@dataclass(frozen=True)
class SignerIdentity:
    """Who signed: ``kind`` is "ed25519" (``subject`` = key fingerprint) or "sigstore"
    (``subject`` = certificate identity, ``issuer`` = OIDC issuer)."""

    kind: str
    subject: str
    issuer: str | None = None

    def __str__(self) -> str:
        if self.kind == "sigstore":
            return f"sigstore identity {self.subject} (issuer {self.issuer})"
        return f"Ed25519 key {self.subject}"


class Signer(Protocol):
    suffix: str  # ".sig" or ".sigstore.json"

    def sign_file(self, path: Path) -> Path:
        """Write ``path + suffix`` and return it."""
        ...


class Verifier(Protocol):
    suffix: str

    def verify_bytes(self, data: bytes, signature: bytes, *, name: str) -> SignerIdentity:
        """Check *signature* (the sidecar file's bytes) over *data*; *name* is for messages."""
        ...
