"""Ed25519 signing with a key pair (``registry keygen`` / ``build --sign-key`` / ``verify --trust-key``).

Private keys are PKCS8 PEM, unencrypted, mode 0600; public keys are
SubjectPublicKeyInfo PEM next to them (``<key>.pub``). A signature file
(``<file>.sig``) holds the base64 of the 64-byte raw Ed25519 signature and a
newline. A key is named by its fingerprint: ``SHA256:`` + unpadded base64 of
the SHA-256 of the 32 raw public key bytes (ssh style; note that
``ssh-keygen -l`` hashes the ssh wire encoding instead, so the two differ).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from registry_tools.fsutil import atomic_write_text, make_dirs
from registry_tools.signing.interface import SignatureError, SignerIdentity

SUFFIX = ".sig"
SIGNATURE_BYTES = 64
MAX_KEY_FILE_BYTES = 64 * 1024
MAX_SIGNATURE_FILE_BYTES = 4 * 1024
# RFC 8410: an Ed25519 SubjectPublicKeyInfo is this fixed DER header and the 32 key bytes.
_ED25519_SPKI_HEADER = bytes.fromhex("302a300506032b6570032100")

KeySource = Path | str | bytes | Ed25519PublicKey


def public_key_path(private_key_path: Path) -> Path:
    """``<key>.pub`` beside a private key."""
    private_key_path = Path(private_key_path)
    return private_key_path.with_name(private_key_path.name + ".pub")


def fingerprint(public_key: Ed25519PublicKey | bytes | str) -> str:
    """``SHA256:<unpadded base64>`` of the raw public key; accepts a key object or its PEM."""
    if not isinstance(public_key, Ed25519PublicKey):
        public_key = load_public_key(public_key)
    raw = public_key.public_bytes_raw()
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode("ascii").rstrip("=")


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


# -- key files ---------------------------------------------------------------------------------------------


def _write_new_file(path: Path, data: bytes, mode: int) -> None:
    """Write *data* to *path*, which must not exist, atomically and never wider than *mode*.

    The temporary file is created with O_CREAT|O_EXCL and *mode* (so a private
    key is never readable by others, not even for a moment), then hard-linked
    to *path*: ``link`` fails if *path* appeared meanwhile, so nothing is ever
    overwritten. Where hard links are not supported the file is created in
    place with O_EXCL.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(tmp, flags, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise SignatureError(f"{path} already exists; refusing to overwrite it") from None
        except OSError:  # no hard links here (some network or FAT file systems)
            try:
                fd = os.open(path, flags, mode)
            except FileExistsError:
                raise SignatureError(f"{path} already exists; refusing to overwrite it") from None
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def generate_keypair(path: Path) -> tuple[Path, Path]:
    """Create a new Ed25519 key pair: the private key at *path* (0600), the public key at ``path.pub``.

    Refuses (``SignatureError``) when either file exists. Returns both paths.
    """
    path = Path(path)
    pub = public_key_path(path)
    if path.is_dir():
        raise SignatureError(f"{path} is a directory; give the path of the private key file to create")
    for existing in (path, pub):
        if existing.exists() or existing.is_symlink():
            raise SignatureError(f"{existing} already exists; refusing to overwrite a key "
                                 "(move it away or choose another path)")
    try:
        make_dirs(path.parent, 0o700)  # every directory it creates, whatever the umask
    except OSError as exc:
        raise SignatureError(f"cannot create {path.parent}: {exc.strerror or exc}") from None
    from cryptography.hazmat.primitives import serialization

    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    try:
        _write_new_file(path, private_pem, 0o600)
        try:
            _write_new_file(pub, public_key_pem(key.public_key()).encode("ascii"), 0o644)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise SignatureError(f"cannot write the key pair at {path}: {exc.strerror or exc}") from None
    return path, pub


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise SignatureError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise SignatureError(f"{what} {path} is larger than {MAX_KEY_FILE_BYTES} bytes; it is not a key file")
    return data


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An unencrypted Ed25519 private key from a PEM file, or a ``SignatureError`` saying what is wrong."""
    path = Path(path)
    data = _read_key_file(path, "private key")
    if b"-----BEGIN" not in data:
        raise SignatureError(f"{path} is not a PEM private key (create one with `registry keygen`)")
    if b"PUBLIC KEY-----" in data and b"PRIVATE KEY-----" not in data:
        raise SignatureError(f"{path} is a public key; signing needs the private key")
    if b"BEGIN OPENSSH PRIVATE KEY" in data:
        raise SignatureError(f"{path} is an OpenSSH private key; only PKCS8 PEM keys are supported "
                             "(create one with `registry keygen`)")
    if b"BEGIN ENCRYPTED PRIVATE KEY" in data or b"Proc-Type: 4,ENCRYPTED" in data:
        raise SignatureError(f"{path} is encrypted with a passphrase; signing needs an unencrypted key "
                             "(keep it in a CI secret instead)")
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # cryptography's way of saying "encrypted, and no password given"
        raise SignatureError(f"{path} is encrypted with a passphrase; signing needs an unencrypted key") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SignatureError(f"{path} is not a readable private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path} is {_key_kind(key)} key; only Ed25519 keys are supported")
    return key


def load_public_key(source: KeySource) -> Ed25519PublicKey:
    """An Ed25519 public key from a key object, PEM bytes/text or a PEM file path."""
    if isinstance(source, Ed25519PublicKey):
        return source
    if isinstance(source, str) and source.lstrip().startswith("-----BEGIN"):
        data, label = source.encode("utf-8"), "public key"
    elif isinstance(source, bytes):
        data, label = source, "public key"
    else:
        path = Path(source)
        data, label = _read_key_file(path, "public key"), str(path)
    if b"PRIVATE KEY-----" in data:
        raise SignatureError(f"{label} is a private key; trust the public key (.pub) instead, and keep the "
                             "private key secret")
    raw = _ed25519_spki_key(data)
    if raw is not None:
        return Ed25519PublicKey.from_public_bytes(raw)
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SignatureError(f"{label} is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError(f"{label} is {_key_kind(key)} key; only Ed25519 keys are supported")
    return key


def _ed25519_spki_key(pem: bytes) -> bytes | None:
    """The 32 raw bytes of a PEM Ed25519 public key in its one DER form, else None (then cryptography's
    PEM parser decides, and explains). Spares loading cryptography's serialization module on every install."""
    lines = pem.strip().splitlines()
    if len(lines) < 3 or lines[0].strip() != b"-----BEGIN PUBLIC KEY-----" or lines[-1].strip() != b"-----END PUBLIC KEY-----":
        return None
    try:
        der = base64.b64decode(b"".join(line.strip() for line in lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(der) != len(_ED25519_SPKI_HEADER) + 32 or not der.startswith(_ED25519_SPKI_HEADER):
        return None
    return der[len(_ED25519_SPKI_HEADER):]


def _key_kind(key: object) -> str:
    """"an RSA", "an ECDSA (secp256r1)", ... for messages about the wrong kind of key."""
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, rsa, x448, x25519

    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"an RSA ({key.key_size}-bit)"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"an ECDSA ({key.curve.name})"
    if isinstance(key, dsa.DSAPrivateKey | dsa.DSAPublicKey):
        return "a DSA"
    if isinstance(key, ed448.Ed448PrivateKey | ed448.Ed448PublicKey):
        return "an Ed448"
    if isinstance(key, x25519.X25519PrivateKey | x25519.X25519PublicKey | x448.X448PrivateKey | x448.X448PublicKey):
        return "a key-agreement (X25519/X448)"
    return f"a {type(key).__name__}"


# -- signing and verifying ---------------------------------------------------------------------------------


def encode_signature(signature: bytes) -> str:
    return base64.b64encode(signature).decode("ascii") + "\n"


def decode_signature(text: bytes | str, *, name: str) -> bytes:
    """The raw 64-byte signature from a ``.sig`` file's content, or a ``SignatureError``."""
    if isinstance(text, str):
        text = text.encode("utf-8", "replace")
    if len(text) > MAX_SIGNATURE_FILE_BYTES:
        raise SignatureError(f"malformed signature for {name}: {len(text)} bytes, far more than an Ed25519 "
                             "signature (is it a sigstore bundle?)")
    stripped = text.strip()
    if not stripped:
        raise SignatureError(f"malformed signature for {name}: the signature file is empty")
    try:
        raw = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError):
        hint = " (it looks like a sigstore bundle)" if stripped.startswith(b"{") else ""
        raise SignatureError(f"malformed signature for {name}: not base64{hint}") from None
    if len(raw) != SIGNATURE_BYTES:
        raise SignatureError(f"malformed signature for {name}: expected a {SIGNATURE_BYTES}-byte Ed25519 "
                             f"signature, got {len(raw)} bytes")
    return raw


class KeySigner:
    """Signs files with an Ed25519 private key: ``<file>.sig`` (base64 + newline)."""

    suffix = SUFFIX

    def __init__(self, private_key_path: Path):
        self.private_key_path = Path(private_key_path)
        self._key = load_private_key(self.private_key_path)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self._key.public_key())

    def sign_bytes(self, data: bytes) -> bytes:
        """The raw 64-byte signature of *data*."""
        return self._key.sign(data)

    def sign_file(self, path: Path) -> Path:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SignatureError(f"cannot read {path} to sign it: {exc.strerror or exc}") from None
        target = path.with_name(path.name + self.suffix)
        try:
            atomic_write_text(target, encode_signature(self.sign_bytes(data)))
        except OSError as exc:
            raise SignatureError(f"cannot write {target}: {exc.strerror or exc}") from None
        return target


class KeyVerifier:
    """Accepts signatures made by any of the trusted Ed25519 public keys."""

    suffix = SUFFIX

    def __init__(self, keys: KeySource | Iterable[KeySource]):
        if isinstance(keys, Path | str | bytes | Ed25519PublicKey):
            keys = [keys]
        self._keys = [load_public_key(k) for k in keys]
        if not self._keys:
            raise SignatureError("no trusted Ed25519 public key given")
        self.fingerprints = tuple(fingerprint(k) for k in self._keys)

    def verify_bytes(self, data: bytes, signature: bytes, *, name: str) -> SignerIdentity:
        raw = decode_signature(signature, name=name)
        for key, fp in zip(self._keys, self.fingerprints, strict=True):
            try:
                key.verify(raw, data)
            except InvalidSignature:
                continue
            return SignerIdentity(kind="ed25519", subject=fp)
        trusted = ", ".join(self.fingerprints)
        raise SignatureError(f"signature does not match {name}: the file was modified or signed by another key "
                             f"(trusted key{'s' if len(self._keys) > 1 else ''}: {trusted})")
