"""Signatures: Ed25519 keys, sigstore bundles (real ones, verified offline), trust anchors and `registry verify`."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import socket
import stat
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from registry_tools.cli.signing_cmd import keygen_cmd, verify_cmd
from registry_tools.signing.dist_check import verify_dist
from registry_tools.signing.interface import SignatureError, SignerIdentity
from registry_tools.signing.keys import KeySigner, KeyVerifier, fingerprint, generate_keypair
from registry_tools.signing.sigstore_signing import (
    NO_CREDENTIAL,
    PrefixIdentity,
    SigstoreSigner,
    SigstoreVerifier,
    is_prefix_identity,
)
from registry_tools.signing.trust import (
    IdentityAnchor,
    KeyAnchor,
    TrustAnchorError,
    anchor_from_options,
    parse_anchor,
    verify_file,
)

from .conftest import FIXTURE_NOW

pytestmark = pytest.mark.usefixtures("fixture_time")  # `registry verify` judges expiry at FIXTURE_NOW

SIGSTORE_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "sigstore"
GITHUB_LOGIN = "https://github.com/login/oauth"
GITHUB_ACTIONS = "https://token.actions.githubusercontent.com"
BEACON_REPO = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
BEACON_WORKFLOW = BEACON_REPO + ".github/workflows/extremely-dangerous-oidc-beacon.yml"
DSSE_BUNDLE = "a.dsse.staging-rekor-v2.txt.sigstore.json"
ARTIFACT_BUNDLES = [  # artifact, bundle, identity (issuer: GitHub login), as listed in the fixtures' README
    ("bundle_v3.txt", "bundle_v3.txt.sigstore", "william@yossarian.net"),
    ("bundle_v3_alt.txt", "bundle_v3_alt.txt.sigstore", "william@yossarian.net"),
    ("bundle.txt", "bundle.txt.sigstore", "a@tny.town"),
    ("staging-rekor-v2.txt", "staging-rekor-v2.txt.sigstore.json", "jku@goto.fi"),
]


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Verification must never touch the network: any connection attempt fails at once instead of hanging."""

    def refuse(*args, **kwargs):
        raise OSError("network access is disabled in test_signing")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def fixtures() -> Path:
    if not SIGSTORE_FIXTURES.is_dir():
        pytest.skip(f"the real sigstore test bundles are not available here ({SIGSTORE_FIXTURES} is missing)")
    return SIGSTORE_FIXTURES


@pytest.fixture
def staging_root(fixtures) -> Path:
    return fixtures / "trusted_root.staging.json"


@pytest.fixture
def key(tmp_path) -> Path:
    private, _ = generate_keypair(tmp_path / "keys" / "registry.key")
    return private


@pytest.fixture
def other_key(tmp_path) -> Path:
    private, _ = generate_keypair(tmp_path / "keys" / "other.key")
    return private


def pub(private: Path) -> Path:
    return private.with_name(private.name + ".pub")


def flip_byte(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


# -- Ed25519 keys ------------------------------------------------------------------------------------------


def test_keygen_writes_private_key_0600_and_public_key(tmp_path):
    private, public = generate_keypair(tmp_path / "new" / "signing.key")
    assert private == tmp_path / "new" / "signing.key"
    assert public == tmp_path / "new" / "signing.key.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert not stat.S_IMODE(public.stat().st_mode) & 0o022
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert sorted(p.name for p in private.parent.iterdir()) == ["signing.key", "signing.key.pub"]  # no temp files
    loaded = serialization.load_pem_private_key(private.read_bytes(), password=None)
    assert isinstance(loaded, ed25519.Ed25519PrivateKey)
    raw = loaded.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    expected = "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
    assert fingerprint(public.read_bytes()) == fingerprint(loaded.public_key()) == expected
    assert len(expected) == len("SHA256:") + 43


def test_keygen_refuses_to_overwrite(tmp_path):
    target = tmp_path / "signing.key"
    target.write_text("precious")
    with pytest.raises(SignatureError, match=r"signing\.key already exists; refusing to overwrite"):
        generate_keypair(target)
    assert target.read_text() == "precious"
    assert not pub(target).exists()

    other = tmp_path / "other.key"
    pub(other).write_text("old public key")
    with pytest.raises(SignatureError, match=r"other\.key\.pub already exists"):
        generate_keypair(other)
    assert not other.exists()
    assert pub(other).read_text() == "old public key"


def test_keygen_refuses_a_directory(tmp_path):
    with pytest.raises(SignatureError, match="is a directory"):
        generate_keypair(tmp_path)


def test_round_trip(tmp_path, key):
    archive = tmp_path / "genomics-1.2.0.tar.gz"
    archive.write_bytes(b"some archive bytes")
    signer = KeySigner(key)
    assert signer.suffix == ".sig"
    sig = signer.sign_file(archive)
    assert sig == tmp_path / "genomics-1.2.0.tar.gz.sig"
    text = sig.read_text()
    assert text.endswith("\n") and len(base64.b64decode(text.strip(), validate=True)) == 64
    identity = verify_file(KeyVerifier(pub(key)), archive)
    assert identity == SignerIdentity(kind="ed25519", subject=fingerprint(pub(key).read_bytes()))
    assert str(identity) == f"Ed25519 key {signer.fingerprint}"


def _signed(tmp_path, key) -> tuple[bytes, bytes]:
    data = b"registry index or archive"
    path = tmp_path / "file.bin"
    path.write_bytes(data)
    return data, KeySigner(key).sign_file(path).read_bytes()


def test_data_modified_is_refused(tmp_path, key):
    data, sig = _signed(tmp_path, key)
    with pytest.raises(SignatureError, match=r"^signature does not match file\.bin: the file was modified or "
                                             r"signed by another key \(trusted key: SHA256:"):
        KeyVerifier(pub(key)).verify_bytes(flip_byte(data, 5), sig, name="file.bin")


def test_signature_byte_flipped_is_refused(tmp_path, key):
    data, sig = _signed(tmp_path, key)
    raw = base64.b64decode(sig.strip())
    bad = base64.b64encode(flip_byte(raw, 10)) + b"\n"
    with pytest.raises(SignatureError, match="signature does not match file.bin: the file was modified"):
        KeyVerifier(pub(key)).verify_bytes(data, bad, name="file.bin")


def test_wrong_key_is_refused_and_any_trusted_key_is_accepted(tmp_path, key, other_key):
    data, sig = _signed(tmp_path, key)
    with pytest.raises(SignatureError, match="signed by another key"):
        KeyVerifier(pub(other_key)).verify_bytes(data, sig, name="file.bin")
    both = KeyVerifier([pub(other_key), pub(key).read_bytes()])
    assert both.verify_bytes(data, sig, name="file.bin").subject == fingerprint(pub(key).read_bytes())


@pytest.mark.parametrize(("signature", "message"), [
    (b"not base64 at all!", "malformed signature for file.bin: not base64"),
    (base64.b64encode(b"x" * 63) + b"\n", "malformed signature for file.bin: expected a 64-byte Ed25519 signature, got 63 bytes"),
    (base64.b64encode(b"x" * 65), "got 65 bytes"),
    (b"\n", "malformed signature for file.bin: the signature file is empty"),
    (b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}', "not base64 (it looks like a sigstore bundle)"),
])
def test_malformed_signature_is_refused(tmp_path, key, signature, message):
    with pytest.raises(SignatureError, match=message.replace("(", r"\(").replace(")", r"\)")):
        KeyVerifier(pub(key)).verify_bytes(b"data", signature, name="file.bin")


def test_missing_signature_file(tmp_path, key):
    path = tmp_path / "registry.json"
    path.write_text("{}")
    with pytest.raises(SignatureError, match=r"registry\.json is not signed: registry\.json\.sig is missing"):
        verify_file(KeyVerifier(pub(key)), path)


def _pem_private(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def test_unusable_private_keys_are_refused_clearly(tmp_path, key):
    cases = {
        "missing.key": (None, "cannot read private key"),
        "garbage.key": (b"hello", "is not a PEM private key"),
        "public.key": (pub(key).read_bytes(), "is a public key; signing needs the private key"),
        "rsa.key": (_pem_private(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
                    r"is an RSA \(2048-bit\) key; only Ed25519 keys are supported"),
        "ec.key": (_pem_private(ec.generate_private_key(ec.SECP256R1())),
                   r"is an ECDSA \(secp256r1\) key; only Ed25519 keys are supported"),
        "encrypted.key": (ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase")), "is encrypted with a passphrase"),
    }
    for name, (content, message) in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(SignatureError, match=message):
            KeySigner(tmp_path / name)


def test_unusable_trusted_keys_are_refused_clearly(tmp_path, key):
    rsa_pub = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(SignatureError, match="only Ed25519 keys are supported"):
        KeyVerifier(rsa_pub)
    with pytest.raises(SignatureError, match=r"is a private key; trust the public key \(\.pub\)"):
        KeyVerifier(key)
    with pytest.raises(SignatureError, match="no trusted Ed25519 public key"):
        KeyVerifier([])


def test_public_keys_read_without_the_pem_parser_are_the_same_keys(tmp_path):
    from registry_tools.signing.keys import load_public_key

    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    body = pem.decode().splitlines()[1]
    variants = [pem, pem.replace(b"\n", b"\r\n"), b"\n  " + pem + b"\n\n",
                f"-----BEGIN PUBLIC KEY-----\n{body[:20]}\n{body[20:]}\n-----END PUBLIC KEY-----\n".encode()]
    for variant in variants:
        loaded = load_public_key(variant)
        assert loaded.public_bytes_raw() == key.public_key().public_bytes_raw()
        signature = key.sign(b"data")
        loaded.verify(signature, b"data")
    # Anything but the one DER form goes to cryptography's parser, which refuses it with its reason.
    x25519_der = bytes.fromhex("302a300506032b656e032100") + bytes(32)
    x25519 = b"-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(x25519_der) + b"\n-----END PUBLIC KEY-----\n"
    for bad, message in ((x25519, "only Ed25519 keys are supported"),
                         (pem.replace(body.encode(), body[:-6].encode() + b"!!!!!!"), "is not a PEM public key"),
                         (pem[:-30], "is not a PEM public key")):
        with pytest.raises(SignatureError, match=message):
            load_public_key(bad)


# -- sigstore ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("artifact", "bundle", "identity"), ARTIFACT_BUNDLES)
def test_real_bundle_verifies_offline(fixtures, staging_root, artifact, bundle, identity):
    verifier = SigstoreVerifier(identity, GITHUB_LOGIN, trusted_root=staging_root)
    assert verifier.suffix == ".sigstore.json"
    signer = verifier.verify_bytes((fixtures / artifact).read_bytes(), (fixtures / bundle).read_bytes(), name=artifact)
    assert signer == SignerIdentity(kind="sigstore", subject=identity, issuer=GITHUB_LOGIN)


def _v3(fixtures) -> tuple[bytes, bytes]:
    return (fixtures / "bundle_v3.txt").read_bytes(), (fixtures / "bundle_v3.txt.sigstore").read_bytes()


@pytest.mark.parametrize("tamper", [lambda d: flip_byte(d, 3), lambda d: d + b"\n"], ids=["flipped", "appended"])
def test_sigstore_tampered_artifact(fixtures, staging_root, tamper):
    data, bundle = _v3(fixtures)
    verifier = SigstoreVerifier("william@yossarian.net", GITHUB_LOGIN, trusted_root=staging_root)
    with pytest.raises(SignatureError, match=r"^signature does not match bundle_v3\.txt: the file was modified"):
        verifier.verify_bytes(tamper(data), bundle, name="bundle_v3.txt")


def test_sigstore_wrong_identity(fixtures, staging_root):
    data, bundle = _v3(fixtures)
    verifier = SigstoreVerifier("someone@example.com", GITHUB_LOGIN, trusted_root=staging_root)
    with pytest.raises(SignatureError, match=r"^identity mismatch for bundle_v3\.txt: signed by william@yossarian\.net, "
                                             r"but the trusted identity is someone@example\.com$"):
        verifier.verify_bytes(data, bundle, name="bundle_v3.txt")


def test_sigstore_wrong_issuer(fixtures, staging_root):
    data, bundle = _v3(fixtures)
    verifier = SigstoreVerifier("william@yossarian.net", "https://accounts.google.com", trusted_root=staging_root)
    with pytest.raises(SignatureError, match=r"^issuer mismatch for bundle_v3\.txt: signed by william@yossarian\.net "
                                             r"with OIDC issuer https://github\.com/login/oauth, but the trusted issuer "
                                             r"is https://accounts\.google\.com$"):
        verifier.verify_bytes(data, bundle, name="bundle_v3.txt")


@pytest.mark.parametrize(("bundle", "message"), [
    (b"not json", "malformed sigstore bundle for bundle_v3.txt: not JSON"),
    (b"[1, 2]", "malformed sigstore bundle for bundle_v3.txt: not a JSON object"),
    (b"{}", "malformed sigstore bundle for bundle_v3.txt: failed to load bundle"),
    ("truncated", "malformed sigstore bundle for bundle_v3.txt: not JSON"),
    ("no-certificate", "malformed sigstore bundle for bundle_v3.txt: "),
])
def test_sigstore_malformed_bundle(fixtures, staging_root, bundle, message):
    data, good = _v3(fixtures)
    if bundle == "truncated":
        bundle = good[: len(good) // 2]
    elif bundle == "no-certificate":
        doc = json.loads(good)
        doc["verificationMaterial"].pop("certificate", None)
        doc["verificationMaterial"].pop("x509CertificateChain", None)
        bundle = json.dumps(doc).encode()
    verifier = SigstoreVerifier("william@yossarian.net", GITHUB_LOGIN, trusted_root=staging_root)
    with pytest.raises(SignatureError, match="^" + message.replace(".", r"\.")):
        verifier.verify_bytes(data, bundle, name="bundle_v3.txt")


def test_default_trusted_root_is_production_and_offline(fixtures, tmp_path, monkeypatch):
    """Without a trusted root the production root shipped in sigstore is used (no TUF refresh, no network,
    no cache under HOME): a staging bundle does not chain to it."""
    home = tmp_path / "home"
    for name, value in (("HOME", home), ("XDG_CACHE_HOME", home / ".cache"), ("XDG_DATA_HOME", home / ".local")):
        monkeypatch.setenv(name, str(value))
    data, bundle = _v3(fixtures)
    verifier = SigstoreVerifier("william@yossarian.net", GITHUB_LOGIN)
    with pytest.raises(SignatureError, match=r"^sigstore bundle for bundle_v3\.txt does not verify against the "
                                             r"trusted root \(sigstore production\)"):
        verifier.verify_bytes(data, bundle, name="bundle_v3.txt")
    assert not home.exists()


def test_dsse_bundle_is_not_a_file_signature(fixtures, staging_root):
    verifier = SigstoreVerifier(BEACON_REPO, GITHUB_ACTIONS, trusted_root=staging_root)
    with pytest.raises(SignatureError, match="holds a DSSE attestation, not a signature over the file"):
        verifier.verify_bytes((fixtures / "a.dsse.staging-rekor-v2.txt").read_bytes(),
                              (fixtures / DSSE_BUNDLE).read_bytes(), name="a.txt")


def _beacon_bundle(fixtures):
    from sigstore.models import Bundle

    return Bundle.from_json((fixtures / DSSE_BUNDLE).read_bytes())


def test_prefix_policy_accepts_the_workflow_identity(fixtures, staging_root):
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier

    bundle = _beacon_bundle(fixtures)
    cert = bundle.signing_certificate
    for prefix in (BEACON_REPO, BEACON_WORKFLOW + "@refs/heads/"):
        assert is_prefix_identity(prefix)
        policy = PrefixIdentity(prefix, GITHUB_ACTIONS)
        policy.verify(cert)
        assert policy.matching_identity(cert) == BEACON_WORKFLOW + "@refs/heads/main"
    # The same policy object plugs into sigstore's own verification of the (DSSE) bundle, offline.
    payload_type, _ = Verifier(trusted_root=TrustedRoot.from_file(str(staging_root))).verify_dsse(
        bundle, PrefixIdentity(BEACON_REPO, GITHUB_ACTIONS))
    assert payload_type == "application/vnd.in-toto+json"


@pytest.mark.parametrize(("prefix", "issuer", "message"), [
    (BEACON_WORKFLOW + "@refs/tags/", GITHUB_ACTIONS, "no certificate identity starts with"),  # a branch, not a tag
    ("https://github.com/sigstore-conformance/another-repo/", GITHUB_ACTIONS, "no certificate identity starts with"),
    ("https://github.com/sigstore-conformance/extremely-dangerous/", GITHUB_ACTIONS, "no certificate identity starts with"),
    (BEACON_REPO, GITHUB_LOGIN, "OIDC issuer is https://token.actions.githubusercontent.com, expected"),
])
def test_prefix_policy_refuses_other_identities(fixtures, staging_root, prefix, issuer, message):
    from sigstore.errors import VerificationError
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier

    bundle = _beacon_bundle(fixtures)
    with pytest.raises(VerificationError, match=message):
        PrefixIdentity(prefix, issuer).verify(bundle.signing_certificate)
    with pytest.raises(VerificationError, match=message):
        Verifier(trusted_root=TrustedRoot.from_file(str(staging_root))).verify_dsse(bundle, PrefixIdentity(prefix, issuer))


def test_identity_policy_rules():
    assert is_prefix_identity(BEACON_WORKFLOW + "@refs/tags/")
    assert is_prefix_identity(BEACON_REPO)
    assert not is_prefix_identity(BEACON_WORKFLOW + "@refs/tags/v1.2.3")
    assert not is_prefix_identity("william@yossarian.net")
    for broad in ("https://github.com/", "https://github.com/sigstore-conformance/", "/"):
        with pytest.raises(SignatureError, match="is too broad"):
            SigstoreVerifier(broad, GITHUB_ACTIONS)
    with pytest.raises(SignatureError, match="needs an OIDC issuer"):
        SigstoreVerifier("william@yossarian.net", "")
    with pytest.raises(SignatureError, match="a sigstore identity is required"):
        SigstoreVerifier("", GITHUB_LOGIN)


def test_sigstore_signer_needs_ambient_credentials(monkeypatch):
    for name in ("GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL",
                 "GOOGLE_SERVICE_ACCOUNT_NAME", "BUILDKITE", "GITLAB_CI", "SIGSTORE_ID_TOKEN", "CIRCLECI"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SignatureError) as caught:
        SigstoreSigner()
    assert str(caught.value).startswith(NO_CREDENTIAL)
    assert NO_CREDENTIAL == ("sigstore signing needs ambient OIDC credentials "
                             "(GitHub Actions with permissions: id-token: write)")
    assert SigstoreSigner.suffix == ".sigstore.json"
    # In GitHub Actions without `id-token: write` the detector fails: same message, plus the reason.
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    with pytest.raises(SignatureError, match=r"^sigstore signing needs ambient OIDC credentials .*: .*ACTIONS_ID_TOKEN"):
        SigstoreSigner()


# -- trust anchors -----------------------------------------------------------------------------------------


def test_trust_anchor_from_options(key, other_key):
    anchor = anchor_from_options([pub(key), pub(other_key), pub(key)], None, None)
    assert isinstance(anchor, KeyAnchor) and len(anchor.keys) == 2 and anchor.suffix == ".sig"
    assert all(k.startswith("-----BEGIN PUBLIC KEY-----") for k in anchor.keys)
    assert anchor.describe() == "Ed25519 keys " + ", ".join(fingerprint(pub(k).read_bytes()) for k in (key, other_key))
    assert isinstance(anchor.verifier(), KeyVerifier)
    assert parse_anchor(anchor.to_dict()) == anchor
    assert anchor.to_dict()["fingerprints"] == [fingerprint(pub(k).read_bytes()) for k in (key, other_key)]

    tags = BEACON_WORKFLOW + "@refs/tags/"
    sig = anchor_from_options([], tags, GITHUB_ACTIONS)
    assert sig == IdentityAnchor(tags, GITHUB_ACTIONS) and sig.suffix == ".sigstore.json"
    assert sig.describe() == f"sigstore identity starting with {tags} (issuer {GITHUB_ACTIONS})"
    verifier = sig.verifier()
    assert isinstance(verifier, SigstoreVerifier) and verifier.is_prefix
    exact = anchor_from_options([], "william@yossarian.net", GITHUB_LOGIN)
    assert exact.describe() == f"sigstore identity william@yossarian.net (issuer {GITHUB_LOGIN})"
    assert isinstance(exact, IdentityAnchor) and not exact.is_prefix
    assert parse_anchor(exact.to_dict()) == exact
    assert exact.to_dict() == {"kind": "sigstore", "identity": "william@yossarian.net", "issuer": GITHUB_LOGIN}


@pytest.mark.parametrize(("keys", "identity", "issuer", "message"), [
    (False, "william@yossarian.net", None, "--trust-identity william@yossarian.net needs --trust-issuer"),
    (False, None, GITHUB_LOGIN, "--trust-issuer needs --trust-identity"),
    (True, "william@yossarian.net", GITHUB_LOGIN, "choose one kind of trust"),
    (True, None, GITHUB_LOGIN, "choose one kind of trust"),
    (False, None, None, "say whom to trust"),
    (False, "https://github.com/", GITHUB_ACTIONS, "too broad"),
])
def test_trust_anchor_invalid_combinations(key, keys, identity, issuer, message):
    with pytest.raises(TrustAnchorError, match=message) as caught:
        anchor_from_options([pub(key)] if keys else [], identity, issuer)
    assert isinstance(caught.value, SignatureError) and caught.value.exit_code == 2  # a usage error


def test_trust_anchor_bad_key_file(tmp_path, key):
    with pytest.raises(TrustAnchorError, match=r"--trust-key .*registry\.key: .*is a private key"):
        anchor_from_options([key], None, None)
    with pytest.raises(TrustAnchorError, match="a sigstore trusted root only applies to --trust-identity"):
        anchor_from_options([pub(key)], None, None, trusted_root=tmp_path / "root.json")


@pytest.mark.parametrize(("entry", "message"), [
    ({"kind": "pgp", "keys": ["x"]}, "unknown trust anchor kind 'pgp'"),
    ({"keys": ["x"]}, "unknown trust anchor kind None"),
    ("key", "a trust entry must be a mapping"),
    ({"kind": "key"}, "keys must be a list of PEM public keys, got None"),
    ({"kind": "key", "keys": "-----BEGIN PUBLIC KEY-----"}, "keys must be a list"),
    ({"kind": "key", "keys": [1]}, "keys must be a list"),
    ({"kind": "key", "keys": []}, "needs at least one public key"),
    ({"kind": "key", "keys": ["x"], "issuer": GITHUB_LOGIN}, "takes no sigstore identity"),
    ({"kind": "sigstore", "identity": "a@b.c", "issuer": GITHUB_LOGIN, "keys": ["x"]}, "takes no public keys"),
    ({"kind": "sigstore", "issuer": GITHUB_LOGIN}, "a sigstore identity is required"),
    ({"kind": "sigstore", "identity": "a@b.c"}, "needs an OIDC issuer"),
    ({"kind": "sigstore", "identity": ["a@b.c"], "issuer": GITHUB_LOGIN}, "trust identity must be text"),
    ({"kind": "sigstore", "identity": "https://github.com/", "issuer": GITHUB_ACTIONS}, "too broad"),
])
def test_parse_anchor_refuses_what_makes_no_sense(entry, message):
    with pytest.raises(TrustAnchorError, match=message):
        parse_anchor(entry)


def test_anchors_check_themselves():
    with pytest.raises(TrustAnchorError, match="needs at least one public key"):
        KeyAnchor(())
    with pytest.raises(TrustAnchorError, match="too broad"):
        IdentityAnchor("https://github.com/", GITHUB_ACTIONS)


def test_sigstore_anchor_with_a_pinned_trusted_root(fixtures, staging_root):
    anchor = anchor_from_options([], "jku@goto.fi", GITHUB_LOGIN, trusted_root=staging_root)
    assert f"trusted root {staging_root}" in anchor.describe()
    assert parse_anchor(anchor.to_dict()) == anchor and anchor.to_dict()["trusted_root"] == str(staging_root)
    signer = anchor.verifier().verify_bytes((fixtures / "staging-rekor-v2.txt").read_bytes(),
                                            (fixtures / "staging-rekor-v2.txt.sigstore.json").read_bytes(), name="x")
    assert signer.subject == "jku@goto.fi" and signer.issuer == GITHUB_LOGIN


# config.yaml as written by the release before trust anchors became two classes (TrustAnchor with a kind):
# existing users' files must keep working, and saving them again must not change a byte.
CONFIG_WRITTEN_BY_THE_PREVIOUS_RELEASE = """\
# AWS Research Wizard client configuration (edit with `aws-research-wizard config registries ...`)
update_interval_hours: 24.0
registries:
- name: public
  location: https://aws-research-wizard.github.io/aws-research-wizard/registry/
  trust:
    kind: sigstore
    identity: https://github.com/aws-research-wizard/aws-research-wizard/.github/workflows/release.yml@refs/heads/main
    issuer: https://token.actions.githubusercontent.com
- name: lab
  location: https://lab.example.org/registry/
  trust:
    kind: key
    keys:
    - '-----BEGIN PUBLIC KEY-----

      MCowBQYDK2VwAyEAVGmb17Z58EJiqTzaSIyv8CknloN42bm7ki4yFwFMVd0=

      -----END PUBLIC KEY-----

      '
    fingerprints:
    - SHA256:Xfnh310CIHs0BnoVTF/WhJecwD4G4EwJJ40idaWBOsI
- name: ci
  location: https://ci.example.org/registry/
  trust:
    kind: sigstore
    identity: https://github.com/o/r/.github/workflows/release.yml@refs/tags/
    issuer: https://token.actions.githubusercontent.com
    trusted_root: /etc/arw/trusted_root.json
"""


def test_config_written_by_the_previous_release_still_reads_and_saves_unchanged():
    from registry_tools.client import settings

    path = settings.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONFIG_WRITTEN_BY_THE_PREVIOUS_RELEASE, encoding="utf-8")
    loaded = settings.load()
    public, lab, ci = (registry.trust for registry in loaded.registries)
    assert public == IdentityAnchor("https://github.com/aws-research-wizard/aws-research-wizard/.github/workflows/"
                                    "release.yml@refs/heads/main", GITHUB_ACTIONS)
    assert public == parse_anchor(settings.PUBLIC_REGISTRY["trust"])  # the default without a config file
    assert isinstance(lab, KeyAnchor) and lab.describe() == "Ed25519 key SHA256:Xfnh310CIHs0BnoVTF/WhJecwD4G4EwJJ40idaWBOsI"
    assert lab.suffix == ".sig" and isinstance(lab.verifier(), KeyVerifier)
    assert ci == IdentityAnchor("https://github.com/o/r/.github/workflows/release.yml@refs/tags/", GITHUB_ACTIONS,
                                "/etc/arw/trusted_root.json")
    assert isinstance(ci, IdentityAnchor) and ci.is_prefix and isinstance(ci.verifier(), SigstoreVerifier)
    assert ci.suffix == ".sigstore.json"
    settings.save(loaded)
    assert path.read_text(encoding="utf-8") == CONFIG_WRITTEN_BY_THE_PREVIOUS_RELEASE


def test_a_bad_trust_entry_in_config_yaml_is_a_settings_error():
    from registry_tools.client import settings

    path = settings.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("registries:\n- name: lab\n  location: https://lab.example.org/\n  trust:\n    kind: pgp\n",
                    encoding="utf-8")
    with pytest.raises(settings.SettingsError, match="invalid registry entry .*unknown trust anchor kind 'pgp'") as caught:
        settings.load()
    assert caught.value.exit_code == 1

# -- a signed dist and `registry verify` ------------------------------------------------------------------


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def make_dist(root: Path, key: Path | None) -> Path:
    """A small dist: one pack archive and a registry.json listing it, signed with *key*."""
    packs = root / "packs"
    packs.mkdir(parents=True)
    archive = packs / "genomics-1.2.0.tar.gz"
    archive.write_bytes(_tar_gz({"genomics/domain.yaml": b"name: genomics\nversion: 1.2.0\n"}))
    release = {"download_url": "packs/genomics-1.2.0.tar.gz",
               "checksum": "sha256:" + hashlib.sha256(archive.read_bytes()).hexdigest(),
               "size": archive.stat().st_size, "signature_url": "packs/genomics-1.2.0.tar.gz.sig",
               "created": "2025-01-01T00:00:00Z", "prerelease": False}
    index = {"registry_version": "2.0", "serial": 1, "signing": "ed25519", "expires": "2026-12-01T12:00:00Z",
             "domains": {"genomics": {"name": "Genomics", "latest_version": "1.2.0", "releases": {"1.2.0": release}}},
             "community_packs": {}}
    (root / "registry.json").write_text(json.dumps(index, separators=(",", ":")))
    if key is not None:
        signer = KeySigner(key)
        signer.sign_file(archive)
        signer.sign_file(root / "registry.json")
    return root


def run(command, *args: str):
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)


def test_keygen_command(tmp_path):
    target = tmp_path / "keys" / "registry.key"
    result = run(keygen_cmd, target)
    assert result.exit_code == 0, result.output
    fp = fingerprint(pub(target).read_bytes())
    assert f"Fingerprint: {fp}" in result.output and str(pub(target)) in result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    again = run(keygen_cmd, target)
    assert again.exit_code == 1 and "already exists; refusing to overwrite" in again.output
    data = json.loads(run(keygen_cmd, tmp_path / "k2", "--json").output)
    assert data["fingerprint"].startswith("SHA256:") and data["public_key"] == str(tmp_path / "k2.pub")


def test_verify_good_dist(tmp_path, key):
    dist = make_dist(tmp_path / "dist", key)
    fp = fingerprint(pub(key).read_bytes())
    result = run(verify_cmd, dist, "--trust-key", pub(key))
    assert result.exit_code == 0, result.output
    assert f"OK      registry.json (signed by Ed25519 key {fp})" in result.output
    assert "OK      packs/genomics-1.2.0.tar.gz (sha256 and size match registry.json" in result.output
    assert f"All 2 file(s) verified; signed by Ed25519 key {fp}." in result.output
    data = json.loads(run(verify_cmd, dist, "--trust-key", pub(key), "--json").output)
    assert data["ok"] is True and data["signers"] == [f"Ed25519 key {fp}"]
    assert [f["file"] for f in data["files"]] == ["registry.json", "packs/genomics-1.2.0.tar.gz"]
    assert data["files"][1]["listed_as"] == "domains.genomics 1.2.0"


def _fails(dist: Path, key: Path, *expected: str):
    result = run(verify_cmd, dist, "--trust-key", pub(key))
    assert result.exit_code == 1, result.output
    for text in expected:
        assert text in result.output, result.output
    return result


def test_verify_archive_byte_flipped(tmp_path, key):
    dist = make_dist(tmp_path / "dist", key)
    archive = dist / "packs" / "genomics-1.2.0.tar.gz"
    archive.write_bytes(flip_byte(archive.read_bytes(), 20))
    result = _fails(dist, key, "FAILED  packs/genomics-1.2.0.tar.gz (domains.genomics 1.2.0)",
                    "checksum mismatch: registry.json says sha256:",
                    "signature does not match packs/genomics-1.2.0.tar.gz: the file was modified or signed by another key",
                    "1 of 2 file(s) failed verification.")
    assert "OK      registry.json" in result.output


def test_verify_index_byte_flipped(tmp_path, key):
    dist = make_dist(tmp_path / "dist", key)
    index = dist / "registry.json"
    index.write_bytes(index.read_bytes().replace(b'"serial":1', b'"serial":9'))
    result = _fails(dist, key, "FAILED  registry.json",
                    "signature does not match registry.json: the file was modified or signed by another key")
    assert "OK      packs/genomics-1.2.0.tar.gz" in result.output


def test_verify_signature_byte_flipped(tmp_path, key):
    dist = make_dist(tmp_path / "dist", key)
    sig = dist / "packs" / "genomics-1.2.0.tar.gz.sig"
    sig.write_bytes(base64.b64encode(flip_byte(base64.b64decode(sig.read_bytes()), 0)) + b"\n")
    _fails(dist, key, "signature does not match packs/genomics-1.2.0.tar.gz")


def test_verify_wrong_key(tmp_path, key, other_key):
    dist = make_dist(tmp_path / "dist", key)
    result = _fails(dist, other_key, "2 of 2 file(s) failed verification.")
    assert result.output.count("signed by another key") == 2


def test_verify_malformed_and_missing_signatures(tmp_path, key):
    dist = make_dist(tmp_path / "dist", key)
    (dist / "registry.json.sig").write_text("%%%\n")
    (dist / "packs" / "genomics-1.2.0.tar.gz.sig").unlink()
    _fails(dist, key, "malformed signature for registry.json: not base64",
           "not signed: genomics-1.2.0.tar.gz.sig is missing")


def test_verify_missing_archive_and_unlisted_archive(tmp_path, key):
    dist = make_dist(tmp_path / "dist", key)
    archive = dist / "packs" / "genomics-1.2.0.tar.gz"
    archive.rename(dist / "packs" / "genomics-9.9.9.tar.gz")
    result = _fails(dist, key, "missing: registry.json lists it (domains.genomics 1.2.0) but "
                               "packs/genomics-1.2.0.tar.gz does not exist")
    assert "warning: packs/genomics-9.9.9.tar.gz is not listed in registry.json" in result.output


def test_verify_refuses_path_tricks_in_the_index(tmp_path, key):
    dist = make_dist(tmp_path / "dist", None)
    index = json.loads((dist / "registry.json").read_text())
    index["domains"]["../../etc/passwd"] = index["domains"]["genomics"]
    (dist / "registry.json").write_text(json.dumps(index))
    KeySigner(key).sign_file(dist / "registry.json")
    KeySigner(key).sign_file(dist / "packs" / "genomics-1.2.0.tar.gz")
    report = verify_dist(dist, anchor_from_options([pub(key)], None, None), now=FIXTURE_NOW)
    assert not report.ok
    assert report.files[0].errors == ["domains.../../etc/passwd 1.2.0: not a valid pack name and version, "
                                      "no archive checked"]


def test_verify_with_sigstore_trust_on_a_key_signed_dist(tmp_path, key):
    dist = make_dist(tmp_path / "dist", key)
    result = run(verify_cmd, dist, "--trust-identity", BEACON_WORKFLOW + "@refs/tags/", "--trust-issuer", GITHUB_ACTIONS)
    assert result.exit_code == 1
    assert (f"Verifying {dist} against sigstore identity starting with {BEACON_WORKFLOW}@refs/tags/"
            in result.output)
    assert ("not signed: registry.json.sigstore.json is missing; it has an Ed25519 (.sig) signature, which the "
            "trust you gave does not cover") in result.output


@pytest.mark.parametrize(("args", "code", "message"), [
    ([], 2, "say whom to trust"),
    (["--trust-identity", "william@yossarian.net"], 2, "needs --trust-issuer"),
    (["--trust-issuer", GITHUB_LOGIN], 2, "--trust-issuer needs --trust-identity"),
    (["--trust-key", "KEY", "--trust-identity", "a@b.c", "--trust-issuer", GITHUB_LOGIN], 2, "choose one kind of trust"),
])
def test_verify_usage_errors(tmp_path, key, args, code, message):
    dist = make_dist(tmp_path / "dist", key)
    args = [str(pub(key)) if a == "KEY" else a for a in args]
    result = run(verify_cmd, dist, *args)
    assert result.exit_code == code and message in result.output, result.output


def test_verify_user_errors(tmp_path, key):
    result = run(verify_cmd, "http://127.0.0.1:9/registry/", "--trust-key", pub(key))
    assert result.exit_code == 1 and "could not download the registry" in result.output
    (tmp_path / "empty").mkdir()
    result = run(verify_cmd, tmp_path / "empty", "--trust-key", pub(key))
    assert result.exit_code == 1 and "has no registry.json" in result.output
    result = run(verify_cmd, tmp_path / "nowhere", "--trust-key", pub(key))
    assert result.exit_code == 1 and "is not a directory" in result.output


def test_signing_modules_import_no_sigstore():
    """The seam's modules stay cheap to import: sigstore is loaded only when a sigstore object is used."""
    import subprocess
    import sys

    code = ("import sys\nimport registry_tools.signing.keys, registry_tools.signing.trust, "
            "registry_tools.signing.sigstore_signing, registry_tools.cli.signing_cmd\n"
            "print('sigstore' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert out.stdout.strip() == "False", out.stderr


def test_build_refuses_two_ways_of_signing(key, tmp_path, monkeypatch):
    from registry_tools.cli.main import cli

    monkeypatch.chdir(tmp_path)
    both = CliRunner().invoke(cli, ["registry", "build", "--sign-key", str(key), "--sigstore"])
    assert both.exit_code == 2, both.output
    assert f"choose one of --sign-key {key} (Ed25519) or --sigstore (keyless), not both" in both.output
    assert not (tmp_path / "dist").exists()
