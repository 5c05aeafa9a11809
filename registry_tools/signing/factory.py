"""Which signer a build uses, chosen once from the command line's options (no click needed).

``signer_for(key=PATH)`` signs with an Ed25519 private key file (``KeySigner``: the key is loaded
and checked now), ``signer_for(sigstore=True)`` with sigstore keyless signing and the CI job's
ambient OIDC credential (``SigstoreSigner``: the credential is detected now), and neither gives
None, an unsigned build. Both at once is a ``SigningChoiceError``; an unusable key or a missing
credential is the signer's own ``SignatureError``. Verifiers come from trust anchors
(``signing/trust.py``: ``anchor.verifier()``).
"""

from __future__ import annotations

from pathlib import Path

from registry_tools.signing.interface import SignatureError, Signer


class SigningChoiceError(SignatureError):
    """Options that choose no single way to sign; exit code 2, like click's usage errors."""

    exit_code = 2


def signer_for(*, key: Path | str | None = None, sigstore: bool = False) -> Signer | None:
    """The signer of a build: Ed25519 with the private *key* file, sigstore keyless, or None (unsigned)."""
    if key is not None and sigstore:
        raise SigningChoiceError(f"choose one of --sign-key {key} (Ed25519) or --sigstore (keyless), not both")
    if key is not None:
        if not str(key):
            raise SigningChoiceError("--sign-key needs the path of an Ed25519 private key (create one with "
                                     "`registry keygen`)")
        from registry_tools.signing.keys import KeySigner

        return KeySigner(Path(key))
    if sigstore:
        from registry_tools.signing.sigstore_signing import SigstoreSigner

        return SigstoreSigner()
    return None
