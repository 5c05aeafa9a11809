"""registry publish to a local directory and to S3 (the sandbox's moto server): create-only, idempotent, index last."""

from __future__ import annotations

import json
import shutil

import boto3
import pytest
from click.testing import CliRunner

from registry_tools.cli.main import cli
from registry_tools.publish.interface import PublishError
from registry_tools.publish.local import LocalPublisher
from registry_tools.publish.s3 import S3Publisher


@pytest.fixture
def dist(tmp_path):
    root = tmp_path / "dist"
    (root / "packs").mkdir(parents=True)
    (root / "packs" / "genomics-1.2.0.tar.gz").write_bytes(b"\x1f\x8b archive one")
    (root / "packs" / "genomics-1.2.0.tar.gz.sig").write_text("c2lnbmF0dXJl\n")
    (root / "packs" / "forestry-1.0.0.tar.gz").write_bytes(b"\x1f\x8b archive two")
    (root / "registry.json").write_text(json.dumps({"serial": 5}))
    (root / "registry.yaml").write_text("serial: 5\n")
    return root


def test_local_publish_is_idempotent_and_immutable(dist, tmp_path):
    target = tmp_path / "mirror"
    first = LocalPublisher(target).publish(dist)
    assert sorted(first.uploaded) == ["packs/forestry-1.0.0.tar.gz", "packs/genomics-1.2.0.tar.gz",
                                      "packs/genomics-1.2.0.tar.gz.sig", "registry.json", "registry.yaml"]
    assert first.uploaded[-1] == "registry.json"  # the index goes last
    second = LocalPublisher(target).publish(dist)
    assert len(second.skipped) == 3
    (dist / "packs" / "genomics-1.2.0.tar.gz").write_bytes(b"\x1f\x8b tampered")
    with pytest.raises(PublishError, match="different content"):
        LocalPublisher(target).publish(dist)
    assert (target / "packs" / "genomics-1.2.0.tar.gz").read_bytes() == b"\x1f\x8b archive one"


def test_lower_serial_is_refused(dist, tmp_path):
    target = tmp_path / "mirror"
    LocalPublisher(target).publish(dist)
    (dist / "registry.json").write_text(json.dumps({"serial": 4}))
    with pytest.raises(PublishError, match="refusing to publish the older serial 4"):
        LocalPublisher(target).publish(dist)


def test_s3_publish_against_the_sandbox(dist, sandbox, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="arw-registry")
    report = S3Publisher("s3://arw-registry/v2").publish(dist)
    assert report.uploaded[-1] == "registry.json" and len(report.uploaded) == 5
    head = s3.head_object(Bucket="arw-registry", Key="v2/packs/genomics-1.2.0.tar.gz")
    assert head["ContentType"] == "application/gzip" and "immutable" in head["CacheControl"]
    index = s3.head_object(Bucket="arw-registry", Key="v2/registry.json")
    assert index["ContentType"] == "application/json" and "max-age=300" in index["CacheControl"]

    again = CliRunner().invoke(cli, ["registry", "publish", str(dist), "--to", "s3://arw-registry/v2", "--json"])
    assert again.exit_code == 0, again.output
    assert len(json.loads(again.output)["skipped"]) == 3

    (dist / "packs" / "genomics-1.2.0.tar.gz").write_bytes(b"\x1f\x8b tampered")
    refused = CliRunner().invoke(cli, ["registry", "publish", str(dist), "--to", "s3://arw-registry/v2"])
    assert refused.exit_code == 1 and "exists with different content" in refused.output
    body = s3.get_object(Bucket="arw-registry", Key="v2/packs/genomics-1.2.0.tar.gz")["Body"].read()
    assert body == b"\x1f\x8b archive one"


def test_publish_errors_are_clear(dist, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    runner = CliRunner()
    no_repo = runner.invoke(cli, ["registry", "publish", str(dist), "--to", "github"])
    assert no_repo.exit_code == 2 and "--repo" in no_repo.output
    no_token = runner.invoke(cli, ["registry", "publish", str(dist), "--to", "github", "--repo", "o/r"])
    assert no_token.exit_code == 1 and "GITHUB_TOKEN" in no_token.output
    named = runner.invoke(cli, ["registry", "publish", str(dist), "--to", "github:o/r"])  # the repository in --to
    assert named.exit_code == 1 and "publishing to GitHub (o/r) needs a token in the GITHUB_TOKEN" in named.output
    unsupported = runner.invoke(cli, ["registry", "publish", str(dist), "--to", "ftp://example.org/r"])
    assert unsupported.exit_code == 2 and "unsupported publish destination 'ftp://example.org/r'" in unsupported.output
    stray_repo = runner.invoke(cli, ["registry", "publish", str(dist), "--to", str(tmp_path / "m"), "--repo", "o/r"])
    assert stray_repo.exit_code == 2 and "--repo o/r only applies to GitHub" in stray_repo.output
    assert not (tmp_path / "m").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = runner.invoke(cli, ["registry", "publish", str(empty), "--to", str(tmp_path / "m")])
    assert missing.exit_code == 1 and "has no registry.json" in missing.output
    shutil.rmtree(empty)
