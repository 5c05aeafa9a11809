"""Sigstore keyless signing (in CI) and offline bundle verification.

Signing uses the ambient OIDC credential of a CI job (GitHub Actions with
``permissions: id-token: write``) and sigstore's production services, and
writes ``<file>.sigstore.json`` (a sigstore bundle).

Verification never touches the network: the bundle carries the certificate,
the transparency log entry and its inclusion proof, and they are checked
against a pinned trusted root - by default the production trusted root
shipped inside the installed sigstore package (never a TUF refresh, never a
cache under HOME). The trusted signer is an OIDC issuer plus either an exact
certificate identity or, when the identity ends with ``/`` or
``@refs/tags/``, an identity prefix (e.g. any release tag of one workflow).

sigstore is slow to import, so it is imported only inside functions.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry_tools.fsutil import atomic_write_text
from registry_tools.signing.interface import SignatureError, SignerIdentity

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

SUFFIX = ".sigstore.json"
PRODUCTION_TUF_URL = "https://tuf-repo-cdn.sigstore.dev"
NO_CREDENTIAL = ("sigstore signing needs ambient OIDC credentials "
                 "(GitHub Actions with permissions: id-token: write)")
PREFIX_ENDINGS = ("@refs/tags/", "/")
MAX_BUNDLE_BYTES = 1024 * 1024

# Fulcio certificate extensions (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md)
OIDC_ISSUER_OID = "1.3.6.1.4.1.57264.1.1"  # raw string (legacy)
OIDC_ISSUER_V2_OID = "1.3.6.1.4.1.57264.1.8"  # DER UTF8String
SIGSTORE_OTHERNAME_OID = "1.3.6.1.4.1.57264.1.7"


# -- identity policy (no sigstore import needed) ------------------------------------------------------------


def is_prefix_identity(identity: str) -> bool:
    """An identity ending with ``/`` or ``@refs/tags/`` is a prefix, anything else an exact match."""
    return identity.endswith(PREFIX_ENDINGS)


def check_identity(identity: str | None, issuer: str | None) -> None:
    """Raise ``ValueError`` unless *identity* and *issuer* make a usable, not over-broad trust policy."""
    if not identity or not identity.strip():
        raise ValueError("a sigstore identity is required (the certificate identity, e.g. "
                         "https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/)")
    if not issuer or not issuer.strip():
        raise ValueError(f"sigstore identity {identity} needs an OIDC issuer (e.g. "
                         "https://token.actions.githubusercontent.com for GitHub Actions)")
    if is_prefix_identity(identity):
        # A prefix must pin at least one repository: "https://github.com/" would trust every workflow on GitHub.
        from urllib.parse import urlsplit

        parts = urlsplit(identity)
        if not parts.scheme or not parts.netloc or len([s for s in parts.path.split("/") if s]) < 2:
            raise ValueError(f"identity prefix {identity} is too broad: it must name at least one repository "
                             "(e.g. https://github.com/OWNER/REPO/)")


def _der_utf8(value: bytes) -> str:
    """Decode a DER UTF8String (tag 0x0C), as Fulcio writes its v2 extensions."""
    if len(value) < 2 or value[0] != 0x0C:
        raise ValueError("not a DER UTF8String")
    length, offset = value[1], 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or len(value) < 2 + count:
            raise ValueError("bad DER length")
        length, offset = int.from_bytes(value[2:2 + count], "big"), 2 + count
    if len(value) != offset + length:
        raise ValueError("bad DER length")
    return value[offset:].decode("utf-8")


def certificate_issuers(cert: Certificate) -> list[str]:
    """The OIDC issuer(s) recorded in a Fulcio certificate (legacy and v2 extensions)."""
    from cryptography.x509 import ObjectIdentifier

    found = []
    for oid, decode in ((OIDC_ISSUER_OID, lambda b: b.decode("utf-8")), (OIDC_ISSUER_V2_OID, _der_utf8)):
        for ext in cert.extensions:
            if ext.oid == ObjectIdentifier(oid):
                try:
                    found.append(decode(ext.value.value))
                except (ValueError, UnicodeDecodeError):
                    found.append("<undecodable>")
    return found


def certificate_identities(cert: Certificate, *, other_names: bool = True) -> list[str]:
    """The certificate's identities: SAN URIs and emails (and sigstore "other names")."""
    from cryptography.x509 import (
        ExtensionNotFound,
        ObjectIdentifier,
        OtherName,
        RFC822Name,
        SubjectAlternativeName,
        UniformResourceIdentifier,
    )

    try:
        san = cert.extensions.get_extension_for_class(SubjectAlternativeName).value
    except ExtensionNotFound:
        return []
    names = list(san.get_values_for_type(UniformResourceIdentifier)) + list(san.get_values_for_type(RFC822Name))
    if other_names:
        for other in san.get_values_for_type(OtherName):
            if other.type_id == ObjectIdentifier(SIGSTORE_OTHERNAME_OID):
                with contextlib.suppress(ValueError, UnicodeDecodeError):
                    names.append(_der_utf8(other.value))
    return names


class PrefixIdentity:
    """A sigstore verification policy: the certificate SAN (URI or email) starts with *prefix*
    and its OIDC issuer extension equals *issuer*.

    For a release workflow: ``https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/``
    accepts every tag of that workflow and nothing else (not a branch, not another workflow).
    """

    def __init__(self, prefix: str, issuer: str):
        check_identity(prefix, issuer)
        self.prefix = prefix
        self.issuer = issuer

    def matching_identity(self, cert: Certificate) -> str | None:
        return next((n for n in certificate_identities(cert, other_names=False) if n.startswith(self.prefix)), None)

    def verify(self, cert: Certificate) -> None:
        from sigstore.errors import VerificationError

        issuers = certificate_issuers(cert)
        if not issuers:
            raise VerificationError("the certificate has no OIDC issuer extension")
        wrong = [i for i in issuers if i != self.issuer]
        if wrong:
            raise VerificationError(f"the certificate's OIDC issuer is {wrong[0]}, expected {self.issuer}")
        if self.matching_identity(cert) is None:
            names = ", ".join(certificate_identities(cert, other_names=False)) or "none"
            raise VerificationError(f"no certificate identity starts with {self.prefix} (identities: {names})")


# -- trusted roots ------------------------------------------------------------------------------------------


def load_trusted_root(path: Path | None = None):
    """A sigstore ``TrustedRoot`` from *path*, or the production root shipped in the sigstore package.

    Same file as sigstore's own embedded production root (``sigstore/_store/<quoted TUF URL>/
    trusted_root.json``), read with ``TrustedRoot.from_file``: no TUF refresh, no HOME cache, no network.
    """
    from importlib import resources
    from urllib.parse import quote

    from sigstore.errors import Error
    from sigstore.models import TrustedRoot

    try:
        if path is not None:
            return TrustedRoot.from_file(str(path))
        embedded = resources.files("sigstore._store").joinpath(quote(PRODUCTION_TUF_URL, safe=""), "trusted_root.json")
        with resources.as_file(embedded) as file:
            return TrustedRoot.from_file(str(file))
    except (OSError, ValueError, Error) as exc:
        where = path if path is not None else "the sigstore package's production trusted root"
        raise SignatureError(f"cannot load the sigstore trusted root {where}: {_one_line(exc)}") from None


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- verifying ----------------------------------------------------------------------------------------------


class _Recorded:
    """Wraps a policy to tell its failures apart from the other verification steps."""

    def __init__(self, inner):
        self.inner = inner
        self.failure: Exception | None = None

    def verify(self, cert) -> None:
        from sigstore.errors import VerificationError

        try:
            self.inner.verify(cert)
        except VerificationError as exc:
            self.failure = exc
            raise
        except Exception as exc:  # e.g. a certificate without the extension a policy looks for
            self.failure = exc
            raise VerificationError(f"certificate policy check failed: {exc}") from exc


class SigstoreVerifier:
    """Checks ``.sigstore.json`` bundles offline against a pinned trusted root and an identity policy."""

    suffix = SUFFIX

    def __init__(self, identity: str, issuer: str, trusted_root: Path | None = None):
        try:
            check_identity(identity, issuer)
        except ValueError as exc:
            raise SignatureError(str(exc)) from None
        self.identity = identity
        self.issuer = issuer
        self.trusted_root = Path(trusted_root) if trusted_root is not None else None
        self.is_prefix = is_prefix_identity(identity)
        self._verifier: Any = None  # sigstore.verify.Verifier, built on first use

    def describe(self) -> str:
        what = f"starting with {self.identity}" if self.is_prefix else self.identity
        return f"sigstore identity {what} (issuer {self.issuer})"

    def policy(self):
        if self.is_prefix:
            return PrefixIdentity(self.identity, self.issuer)
        from sigstore.verify.policy import Identity

        return Identity(identity=self.identity, issuer=self.issuer)

    def _sigstore_verifier(self):
        if self._verifier is None:
            from sigstore.errors import Error
            from sigstore.verify import Verifier

            root = load_trusted_root(self.trusted_root)
            try:
                self._verifier = Verifier(trusted_root=root)
            except Error as exc:
                raise SignatureError(f"unusable sigstore trusted root: {_one_line(exc)}") from None
        return self._verifier

    def verify_bytes(self, data: bytes, signature: bytes, *, name: str) -> SignerIdentity:
        from sigstore.errors import Error
        from sigstore.models import Bundle

        if len(signature) > MAX_BUNDLE_BYTES:
            raise SignatureError(f"malformed sigstore bundle for {name}: larger than {MAX_BUNDLE_BYTES} bytes")
        try:
            raw = json.loads(signature)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SignatureError(f"malformed sigstore bundle for {name}: not JSON ({_one_line(exc)})") from None
        if not isinstance(raw, dict):
            raise SignatureError(f"malformed sigstore bundle for {name}: not a JSON object")
        if "dsseEnvelope" in raw and "messageSignature" not in raw:
            raise SignatureError(f"the sigstore bundle for {name} holds a DSSE attestation, not a signature "
                                 "over the file; sign the file itself (sigstore sign / registry build --sigstore)")
        try:
            bundle = Bundle.from_json(signature)
        except (Error, ValueError) as exc:
            raise SignatureError(f"malformed sigstore bundle for {name}: {_one_line(exc)}") from None

        verifier = self._sigstore_verifier()
        policy = _Recorded(self.policy())
        try:
            verifier.verify_artifact(data, bundle, policy)
        except (Error, ValueError) as exc:
            raise SignatureError(self._explain(exc, policy, bundle, name)) from None
        except Exception as exc:  # a hostile bundle must be refused, not crash the client
            raise SignatureError(f"sigstore could not verify the bundle for {name}: {type(exc).__name__}: "
                                 f"{_one_line(exc)}") from exc
        cert = bundle.signing_certificate
        subject = (policy.inner.matching_identity(cert) if self.is_prefix else self.identity) or self.identity
        return SignerIdentity(kind="sigstore", subject=subject, issuer=self.issuer)

    def _explain(self, exc: Exception, policy: _Recorded, bundle, name: str) -> str:
        reason = _one_line(exc)
        if policy.failure is not None:
            # The policy runs after the certificate chain and SCT were verified, so these values are trusted.
            cert = bundle.signing_certificate
            issuers = certificate_issuers(cert)
            signer = ", ".join(certificate_identities(cert)) or "an unnamed identity"
            if not issuers or any(i != self.issuer for i in issuers):
                got = issuers[0] if issuers else "none"
                return (f"issuer mismatch for {name}: signed by {signer} with OIDC issuer {got}, "
                        f"but the trusted issuer is {self.issuer}")
            wanted = f"an identity starting with {self.identity}" if self.is_prefix else self.identity
            return f"identity mismatch for {name}: signed by {signer}, but the trusted identity is {wanted}"
        lowered = reason.lower()
        if "digest mismatch" in lowered or "signature is invalid for input" in lowered:
            return (f"signature does not match {name}: the file was modified after it was signed "
                    f"(sigstore: {reason})")
        if "does not match" in lowered and "log entry" in lowered:
            return f"the transparency log entry in the bundle for {name} does not match the file (sigstore: {reason})"
        return (f"sigstore bundle for {name} does not verify against the trusted root "
                f"({self.trusted_root or 'sigstore production'}): {reason}")


# -- signing ------------------------------------------------------------------------------------------------


class SigstoreSigner:
    """Keyless signing with the CI job's OIDC identity; writes ``<file>.sigstore.json``.

    The credential is detected when the signer is created (so a build fails
    before doing any work); sigstore's production services are contacted on
    the first ``sign_file`` and one signing certificate is reused for the run.
    """

    suffix = SUFFIX

    def __init__(self, identity_token: str | None = None):
        from sigstore.oidc import IdentityError, IdentityToken, detect_credential

        if identity_token is None:
            try:
                identity_token = detect_credential()
            except IdentityError as exc:
                raise SignatureError(f"{NO_CREDENTIAL}: {_one_line(exc)}") from None
            if not identity_token:
                raise SignatureError(NO_CREDENTIAL)
        try:
            self._token = IdentityToken(identity_token)
        except IdentityError as exc:
            raise SignatureError(f"the OIDC token cannot be used for sigstore signing: {_one_line(exc)}") from None
        self._stack: contextlib.ExitStack | None = None
        self._signer: Any = None  # sigstore.sign.Signer, built on first use

    @property
    def identity(self) -> str:
        return self._token.identity

    @property
    def issuer(self) -> str:
        return self._token.issuer

    def _sigstore_signer(self):
        if self._signer is None:
            from sigstore.models import ClientTrustConfig
            from sigstore.sign import SigningContext

            try:
                context = SigningContext.from_trust_config(ClientTrustConfig.production())
            except Exception as exc:  # TUF and HTTP errors of every kind
                raise SignatureError(f"cannot set up sigstore signing (production): {type(exc).__name__}: "
                                     f"{_one_line(exc)}") from exc
            self._stack = contextlib.ExitStack()
            self._signer = self._stack.enter_context(context.signer(self._token, cache=True))
        return self._signer

    def sign_file(self, path: Path) -> Path:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SignatureError(f"cannot read {path} to sign it: {exc.strerror or exc}") from None
        signer = self._sigstore_signer()
        try:
            bundle = signer.sign_artifact(data)
        except Exception as exc:  # Fulcio, Rekor and timestamp authority errors of every kind
            raise SignatureError(f"sigstore signing of {path} failed: {type(exc).__name__}: "
                                 f"{_one_line(exc)}") from exc
        target = path.with_name(path.name + self.suffix)
        try:
            atomic_write_text(target, bundle.to_json() + "\n")
        except OSError as exc:
            raise SignatureError(f"cannot write {target}: {exc.strerror or exc}") from None
        return target

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack, self._signer = None, None
