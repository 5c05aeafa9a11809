"""Publisher and signer choice without click: every destination and signing choice, and the errors
(the seam's own error, naming the offending value, exit code 2 for a choice that makes no sense)."""

from __future__ import annotations

import json

import pytest

from registry_tools.publish.factory import DestinationError, PublishOptions, publisher_for
from registry_tools.publish.github import GitHubPublisher
from registry_tools.publish.interface import PublishError
from registry_tools.publish.local import LocalPublisher
from registry_tools.publish.s3 import S3Publisher
from registry_tools.signing.factory import SigningChoiceError, signer_for
from registry_tools.signing.interface import SignatureError
from registry_tools.signing.keys import KeySigner, generate_keypair
from registry_tools.signing.sigstore_signing import NO_CREDENTIAL
from registry_tools.signing.trust import anchor_from_options, verify_file

TOKEN = "ghp_factory0test0token"
CI_CREDENTIALS = ("GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL",
                  "GOOGLE_SERVICE_ACCOUNT_NAME", "BUILDKITE", "GITLAB_CI", "SIGSTORE_ID_TOKEN", "CIRCLECI")


@pytest.fixture
def dist(tmp_path):
    root = tmp_path / "dist"
    (root / "packs").mkdir(parents=True)
    (root / "packs" / "genomics-1.2.0.tar.gz").write_bytes(b"\x1f\x8b archive")
    (root / "registry.json").write_text(json.dumps({"serial": 1}))
    return root


# -- publishers --------------------------------------------------------------------------------------------


def test_a_directory_destination_is_a_local_publisher(dist, tmp_path):
    publisher = publisher_for(str(tmp_path / "mirror"))
    assert isinstance(publisher, LocalPublisher) and publisher.target == tmp_path / "mirror"
    report = publisher.publish(dist)
    assert report.uploaded == ["packs/genomics-1.2.0.tar.gz", "registry.json"]
    assert (tmp_path / "mirror" / "registry.json").is_file()
    relative = publisher_for("public/registry")  # the release workflow's mirror
    assert isinstance(relative, LocalPublisher) and str(relative.target) == "public/registry"


def test_an_s3_destination_is_an_s3_publisher():
    publisher = publisher_for("s3://arw-registry/v2/", PublishOptions())
    assert isinstance(publisher, S3Publisher)
    assert (publisher.bucket, publisher.prefix, publisher.url) == ("arw-registry", "v2", "s3://arw-registry/v2/")
    bare = publisher_for("s3://arw-registry")
    assert isinstance(bare, S3Publisher) and (bare.bucket, bare.prefix) == ("arw-registry", "")


def test_the_s3_publisher_gets_the_aws_profile():
    with pytest.raises(PublishError, match="no-such-profile") as caught:
        publisher_for("s3://arw-registry/v2", PublishOptions(aws_profile="no-such-profile"))
    assert not isinstance(caught.value, DestinationError)


@pytest.mark.parametrize("destination", ["github:o/r", "github"])
def test_github_destinations_are_a_github_publisher(destination):
    options = PublishOptions(repo=None if destination != "github" else "o/r", github_token=TOKEN,
                             github_api_url="http://127.0.0.1:9/api/v3")
    publisher = publisher_for(destination, options)
    assert isinstance(publisher, GitHubPublisher)
    assert (publisher.repo, publisher.target, publisher.api_url) == ("o/r", "github:o/r", "http://127.0.0.1:9/api/v3")
    publisher.close()
    same = publisher_for("github:o/r", PublishOptions(repo="o/r", github_token=TOKEN))  # the same repository twice
    assert isinstance(same, GitHubPublisher) and same.api_url.startswith("https://api.github.com")
    same.close()


def test_the_token_never_shows_in_the_options():
    assert TOKEN not in repr(PublishOptions(repo="o/r", github_token=TOKEN))


@pytest.mark.parametrize(("destination", "options", "message"), [
    ("github", PublishOptions(github_token=TOKEN), r"--to github needs the repository: --to github:OWNER/NAME or "
                                                   r"--to github --repo OWNER/NAME"),
    ("github:", PublishOptions(github_token=TOKEN), r"--to github: needs the repository"),
    ("github:o/r", PublishOptions(repo="x/y", github_token=TOKEN), r"--to github:o/r and --repo x/y name different"),
    ("s3://arw-registry/v2", PublishOptions(repo="o/r"), r"--repo o/r only applies to GitHub; the destination is "
                                                         r"'s3://arw-registry/v2' \(publish to GitHub with --to github:o/r\)"),
    ("mirror", PublishOptions(repo="o/r"), r"--repo o/r only applies to GitHub"),
    ("ftp://example.org/registry", PublishOptions(), r"unsupported publish destination 'ftp://example.org/registry': "
                                                     r"use github:OWNER/NAME .*s3://bucket/prefix, or a local directory"),
    ("https://example.org/registry", PublishOptions(), r"unsupported publish destination 'https://"),
    ("", PublishOptions(), r"unsupported publish destination ''"),
    ("s3://", PublishOptions(), r"not an S3 location: 's3://' \(expected s3://bucket/prefix\)"),
    ("s3:///prefix", PublishOptions(), r"not an S3 location: 's3:///prefix'"),
])
def test_a_destination_that_names_no_publisher(destination, options, message):
    with pytest.raises(DestinationError, match=message) as caught:
        publisher_for(destination, options)
    assert isinstance(caught.value, PublishError) and caught.value.exit_code == 2


def test_a_file_is_no_directory_destination(tmp_path):
    existing = tmp_path / "registry.json"
    existing.write_text("{}")
    with pytest.raises(DestinationError, match=rf"publish destination {existing} exists and is not a directory"):
        publisher_for(str(existing))


def test_github_without_a_token_says_where_the_token_goes():
    with pytest.raises(PublishError, match=r"publishing to GitHub \(o/r\) needs a token in the GITHUB_TOKEN "
                                           r"environment variable") as caught:
        publisher_for("github:o/r", PublishOptions(github_token=None))
    assert not isinstance(caught.value, DestinationError) and caught.value.exit_code == 1
    with pytest.raises(PublishError, match="needs a token"):
        publisher_for("github", PublishOptions(repo="o/r", github_token=""))


@pytest.mark.parametrize(("destination", "options", "message"), [
    ("github:not-a-repo", PublishOptions(github_token=TOKEN), "must look like OWNER/NAME, got 'not-a-repo'"),
    ("github:o/r", PublishOptions(github_token=TOKEN, github_api_url="http://api.example.org"), "must use https"),
])
def test_what_the_github_publisher_refuses_is_refused_before_publishing(destination, options, message):
    with pytest.raises(PublishError, match=message):
        publisher_for(destination, options)


# -- signers -----------------------------------------------------------------------------------------------


def test_no_signing_choice_is_an_unsigned_build():
    assert signer_for() is None
    assert signer_for(key=None, sigstore=False) is None


def test_a_key_file_is_an_ed25519_signer(tmp_path):
    private, public = generate_keypair(tmp_path / "registry.key")
    signer = signer_for(key=private)
    assert isinstance(signer, KeySigner) and signer.suffix == ".sig"
    artifact = tmp_path / "registry.json"
    artifact.write_text('{"serial": 1}')
    assert signer.sign_file(artifact) == tmp_path / "registry.json.sig"
    signed_by = verify_file(anchor_from_options([public], None, None).verifier(), artifact)
    assert signed_by.subject == signer.fingerprint
    assert isinstance(signer_for(key=str(private)), KeySigner)


def test_sigstore_is_keyless_signing_with_the_ambient_credential(monkeypatch):
    for name in CI_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SignatureError) as caught:  # the choice reached SigstoreSigner, which finds no credential
        signer_for(sigstore=True)
    assert str(caught.value).startswith(NO_CREDENTIAL) and not isinstance(caught.value, SigningChoiceError)


def test_both_ways_of_signing_at_once_is_a_choice_error(tmp_path):
    private, _ = generate_keypair(tmp_path / "registry.key")
    with pytest.raises(SigningChoiceError, match=rf"choose one of --sign-key {private} \(Ed25519\) or --sigstore "
                                                 r"\(keyless\), not both") as caught:
        signer_for(key=private, sigstore=True)
    assert isinstance(caught.value, SignatureError) and caught.value.exit_code == 2
    with pytest.raises(SigningChoiceError, match="--sign-key needs the path of an Ed25519 private key"):
        signer_for(key="")


@pytest.mark.parametrize(("which", "message"), [
    ("public", r"registry\.key\.pub is a public key; signing needs the private key"),
    ("missing", r"cannot read private key .*absent\.key"),
    ("not-a-key", r"not-a-key is not a PEM private key \(create one with `registry keygen`\)"),
])
def test_an_unusable_key_file_is_refused_when_chosen(tmp_path, which, message):
    private, public = generate_keypair(tmp_path / "registry.key")
    (tmp_path / "not-a-key").write_text("hello")
    path = {"public": public, "missing": tmp_path / "absent.key", "not-a-key": tmp_path / "not-a-key"}[which]
    with pytest.raises(SignatureError, match=message) as caught:
        signer_for(key=path)
    assert not isinstance(caught.value, SigningChoiceError)
