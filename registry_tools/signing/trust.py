"""Whom to trust: Ed25519 public keys (``KeyAnchor``) or a sigstore identity + OIDC issuer (``IdentityAnchor``).

``parse_anchor`` reads the ``trust:`` entry of a registry in config.yaml and ``anchor_from_options``
the CLI's ``--trust-key`` / ``--trust-identity`` / ``--trust-issuer``; both return one of the two
frozen classes. Callers use them through the ``TrustAnchor`` protocol: ``describe()`` for people,
``suffix`` (the sidecar file that holds the signature), ``verifier()`` to check signatures and
``to_dict()`` for config.yaml (``parse_anchor(anchor.to_dict()) == anchor``; the on-disk format is
``kind: key`` with ``keys`` and ``fingerprints``, or ``kind: sigstore`` with ``identity``, ``issuer``
and an optional ``trusted_root``). A value that makes no sense is a ``TrustAnchorError`` naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from registry_tools.dist.layout import KEY_SIGNATURE_SUFFIX, SIGSTORE_SUFFIX
from registry_tools.signing.interface import SignatureError, SignerIdentity, Verifier

KEY = "key"  # config.yaml's ``kind`` of a KeyAnchor
SIGSTORE = "sigstore"  # config.yaml's ``kind`` of an IdentityAnchor
IDENTITY_FIELDS = ("identity", "issuer", "trusted_root")


class TrustAnchorError(SignatureError):
    """A trust anchor that makes no sense. Exit code 2, like click's usage errors: it comes from the
    command line (a config.yaml entry's is reported as a ``SettingsError``)."""

    exit_code = 2


class TrustAnchor(Protocol):
    """What every trust anchor offers."""

    @property
    def suffix(self) -> str:
        """The signature sidecar's suffix: ``.sig`` or ``.sigstore.json``."""
        ...

    def verifier(self) -> Verifier:
        ...

    def describe(self) -> str:
        ...

    def to_dict(self) -> dict[str, Any]:
        """The config.yaml form, read back by ``parse_anchor``."""
        ...


@dataclass(frozen=True)
class KeyAnchor:
    """Trust signatures by any of these Ed25519 public keys (PEM text)."""

    keys: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise TrustAnchorError("a key trust anchor needs at least one public key")

    @property
    def suffix(self) -> str:
        return KEY_SIGNATURE_SUFFIX

    def fingerprints(self) -> tuple[str, ...]:
        from registry_tools.signing.keys import fingerprint

        return tuple(fingerprint(pem) for pem in self.keys)

    def verifier(self) -> Verifier:
        from registry_tools.signing.keys import KeyVerifier

        return KeyVerifier([pem.encode("ascii") for pem in self.keys])

    def describe(self) -> str:
        fps = self.fingerprints()
        return f"Ed25519 key{'s' if len(fps) > 1 else ''} {', '.join(fps)}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KEY, "keys": list(self.keys), "fingerprints": list(self.fingerprints())}


@dataclass(frozen=True)
class IdentityAnchor:
    """Trust sigstore bundles whose certificate names *identity* (exactly, or as a prefix when it
    ends with ``/`` or ``@refs/tags/``) issued by *issuer*, checked against *trusted_root* (a file;
    None: the production root shipped with sigstore)."""

    identity: str
    issuer: str
    trusted_root: str | None = None

    def __post_init__(self) -> None:
        _check_identity(self.identity, self.issuer)

    @property
    def suffix(self) -> str:
        return SIGSTORE_SUFFIX

    @property
    def is_prefix(self) -> bool:
        from registry_tools.signing.sigstore_signing import is_prefix_identity

        return is_prefix_identity(self.identity)

    def verifier(self) -> Verifier:
        from registry_tools.signing.sigstore_signing import SigstoreVerifier

        return SigstoreVerifier(self.identity, self.issuer, Path(self.trusted_root) if self.trusted_root else None)

    def describe(self) -> str:
        what = f"starting with {self.identity}" if self.is_prefix else self.identity
        root = f", trusted root {self.trusted_root}" if self.trusted_root else ""
        return f"sigstore identity {what} (issuer {self.issuer}{root})"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": SIGSTORE, "identity": self.identity, "issuer": self.issuer}
        if self.trusted_root:
            data["trusted_root"] = self.trusted_root
        return data


def _check_identity(identity: str | None, issuer: str | None) -> None:
    from registry_tools.signing.sigstore_signing import check_identity

    try:
        check_identity(identity, issuer)
    except ValueError as exc:
        raise TrustAnchorError(str(exc)) from None


def _text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise TrustAnchorError(f"trust {name} must be text, got {value!r}")
    return value


def parse_anchor(data: object) -> TrustAnchor:
    """The anchor a config.yaml ``trust:`` entry describes (``to_dict``'s form; ``fingerprints`` are
    informative and recomputed from ``keys``)."""
    if not isinstance(data, Mapping):
        raise TrustAnchorError(f"a trust entry must be a mapping with kind: {KEY} or kind: {SIGSTORE}, got {data!r}")
    kind = data.get("kind")
    if kind == KEY:
        if any(data.get(name) for name in IDENTITY_FIELDS):
            raise TrustAnchorError("a key trust anchor takes no sigstore identity, issuer or trusted root")
        keys = data.get("keys")
        if not isinstance(keys, list | tuple) or not all(isinstance(pem, str) for pem in keys):
            raise TrustAnchorError(f"a key trust anchor's keys must be a list of PEM public keys, got {keys!r}")
        return KeyAnchor(tuple(keys))
    if kind == SIGSTORE:
        if data.get("keys"):
            raise TrustAnchorError("a sigstore trust anchor takes no public keys")
        identity, issuer, root = (_text(data, name) for name in IDENTITY_FIELDS)
        _check_identity(identity, issuer)
        return IdentityAnchor(identity or "", issuer or "", root or None)
    raise TrustAnchorError(f"unknown trust anchor kind {kind!r} (expected {KEY!r} or {SIGSTORE!r})")


def anchor_from_options(trust_key: Iterable[Path | str] | None, trust_identity: str | None,
                        trust_issuer: str | None, trusted_root: Path | None = None) -> TrustAnchor:
    """The anchor chosen on the command line (``--trust-key`` files, or ``--trust-identity`` with
    ``--trust-issuer``); ``TrustAnchorError`` says what is wrong with the combination."""
    key_files = [Path(path) for path in trust_key or ()]
    if key_files and (trust_identity or trust_issuer):
        raise TrustAnchorError("choose one kind of trust: --trust-key (Ed25519) or --trust-identity with "
                               "--trust-issuer (sigstore), not both")
    if key_files:
        if trusted_root is not None:
            raise TrustAnchorError("a sigstore trusted root only applies to --trust-identity")
        from registry_tools.signing.keys import fingerprint, load_public_key, public_key_pem

        pems: dict[str, str] = {}
        for path in key_files:
            try:
                key = load_public_key(path)
            except SignatureError as exc:
                raise TrustAnchorError(f"--trust-key {path}: {exc}") from None
            pems.setdefault(fingerprint(key), public_key_pem(key))
        return KeyAnchor(tuple(pems.values()))
    if trust_issuer and not trust_identity:
        raise TrustAnchorError("--trust-issuer needs --trust-identity (the signer's certificate identity or a prefix "
                               "ending with / or @refs/tags/)")
    if trust_identity and not trust_issuer:
        raise TrustAnchorError(f"--trust-identity {trust_identity} needs --trust-issuer (the OIDC issuer, e.g. "
                               "https://token.actions.githubusercontent.com for GitHub Actions)")
    if not trust_identity or not trust_issuer:
        raise TrustAnchorError("say whom to trust: --trust-key PUBLIC_KEY (Ed25519) or --trust-identity IDENTITY "
                               "--trust-issuer ISSUER (sigstore)")
    return IdentityAnchor(trust_identity, trust_issuer, str(trusted_root) if trusted_root is not None else None)


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
