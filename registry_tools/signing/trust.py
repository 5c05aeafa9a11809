"""Whom to trust: Ed25519 public keys or a sigstore identity + OIDC issuer.

A ``TrustAnchor`` is plain data (it can be stored in a configuration file)
and builds the matching ``Verifier``. ``from_options`` turns the CLI's
``--trust-key`` / ``--trust-identity`` / ``--trust-issuer`` into one, with a
clear ``ValueError`` for a combination that makes no sense.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from registry_tools.signing.interface import SignatureError, SignerIdentity, Verifier

KEY = "key"
SIGSTORE = "sigstore"


@dataclass(frozen=True)
class TrustAnchor:
    kind: str  # "key" | "sigstore"
    keys: tuple[str, ...] = ()  # PEM public keys (kind "key")
    identity: str | None = None  # exact identity or prefix (kind "sigstore")
    issuer: str | None = None  # OIDC issuer (kind "sigstore")
    trusted_root: str | None = None  # sigstore trusted root file; None = the one shipped with sigstore (production)

    def __post_init__(self) -> None:
        if self.kind == KEY:
            if not self.keys:
                raise ValueError("a key trust anchor needs at least one public key")
            if self.identity or self.issuer or self.trusted_root:
                raise ValueError("a key trust anchor takes no sigstore identity, issuer or trusted root")
        elif self.kind == SIGSTORE:
            from registry_tools.signing.sigstore_signing import check_identity

            if self.keys:
                raise ValueError("a sigstore trust anchor takes no public keys")
            check_identity(self.identity, self.issuer)
        else:
            raise ValueError(f"unknown trust anchor kind {self.kind!r} (expected {KEY!r} or {SIGSTORE!r})")

    @property
    def suffix(self) -> str:
        from registry_tools.dist.layout import KEY_SIGNATURE_SUFFIX, SIGSTORE_SUFFIX

        return KEY_SIGNATURE_SUFFIX if self.kind == KEY else SIGSTORE_SUFFIX

    def fingerprints(self) -> tuple[str, ...]:
        from registry_tools.signing.keys import fingerprint

        return tuple(fingerprint(pem) for pem in self.keys)

    def verifier(self) -> Verifier:
        if self.kind == KEY:
            from registry_tools.signing.keys import KeyVerifier

            return KeyVerifier([pem.encode("ascii") for pem in self.keys])
        from registry_tools.signing.sigstore_signing import SigstoreVerifier

        return SigstoreVerifier(self.identity or "", self.issuer or "",
                                Path(self.trusted_root) if self.trusted_root else None)

    def describe(self) -> str:
        if self.kind == KEY:
            fps = self.fingerprints()
            return f"Ed25519 key{'s' if len(fps) > 1 else ''} {', '.join(fps)}"
        from registry_tools.signing.sigstore_signing import is_prefix_identity

        what = f"starting with {self.identity}" if is_prefix_identity(self.identity or "") else self.identity
        root = f", trusted root {self.trusted_root}" if self.trusted_root else ""
        return f"sigstore identity {what} (issuer {self.issuer}{root})"

    def to_dict(self) -> dict:
        if self.kind == KEY:
            return {"kind": KEY, "keys": list(self.keys), "fingerprints": list(self.fingerprints())}
        data = {"kind": SIGSTORE, "identity": self.identity, "issuer": self.issuer}
        if self.trusted_root:
            data["trusted_root"] = self.trusted_root
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrustAnchor:
        return cls(kind=data.get("kind", ""), keys=tuple(data.get("keys") or ()), identity=data.get("identity"),
                   issuer=data.get("issuer"), trusted_root=data.get("trusted_root"))

    @classmethod
    def from_options(cls, trust_key: list[Path] | tuple[Path, ...], trust_identity: str | None,
                     trust_issuer: str | None, trusted_root: Path | None = None) -> TrustAnchor:
        """The anchor chosen on the command line; ``ValueError`` says what is wrong with the combination."""
        trust_key = list(trust_key or [])
        if trust_key and (trust_identity or trust_issuer):
            raise ValueError("choose one kind of trust: --trust-key (Ed25519) or --trust-identity with "
                             "--trust-issuer (sigstore), not both")
        if trust_key:
            if trusted_root is not None:
                raise ValueError("a sigstore trusted root only applies to --trust-identity")
            from registry_tools.signing.keys import fingerprint, load_public_key, public_key_pem

            pems: dict[str, str] = {}
            for path in trust_key:
                try:
                    key = load_public_key(Path(path))
                except SignatureError as exc:
                    raise ValueError(f"--trust-key {path}: {exc}") from None
                pems.setdefault(fingerprint(key), public_key_pem(key))
            return cls(kind=KEY, keys=tuple(pems.values()))
        if trust_issuer and not trust_identity:
            raise ValueError("--trust-issuer needs --trust-identity (the signer's certificate identity or a prefix "
                             "ending with / or @refs/tags/)")
        if trust_identity and not trust_issuer:
            raise ValueError(f"--trust-identity {trust_identity} needs --trust-issuer (the OIDC issuer, e.g. "
                             "https://token.actions.githubusercontent.com for GitHub Actions)")
        if not trust_identity:
            raise ValueError("say whom to trust: --trust-key PUBLIC_KEY (Ed25519) or --trust-identity IDENTITY "
                             "--trust-issuer ISSUER (sigstore)")
        return cls(kind=SIGSTORE, identity=trust_identity, issuer=trust_issuer,
                   trusted_root=str(trusted_root) if trusted_root is not None else None)


def verify_file(verifier: Verifier, path: Path, *, name: str | None = None) -> SignerIdentity:
    """Check *path* against its sidecar ``path + verifier.suffix``; ``SignatureError`` when missing or bad."""
    path = Path(path)
    name = name or path.name
    sidecar = path.with_name(path.name + verifier.suffix)
    try:
        signature = sidecar.read_bytes()
    except FileNotFoundError:
        raise SignatureError(f"{name} is not signed: {sidecar.name} is missing") from None
    except OSError as exc:
        raise SignatureError(f"cannot read {sidecar}: {exc.strerror or exc}") from None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SignatureError(f"cannot read {path}: {exc.strerror or exc}") from None
    return verifier.verify_bytes(data, signature, name=name)
