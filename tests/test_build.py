"""registry build: deterministic archives and index, schema-checked output, refusal of invalid packs."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from registry_tools.build.archive import archive_bytes
from registry_tools.cli.main import cli
from registry_tools.dist.directory import read_dist

from .conftest import DOMAINS, FIXTURE_NOW, GIT_ENV, REPO


@pytest.fixture
def small_repo(tmp_path):
    """genomics (3 versions) and one community pack in a git repository."""
    root = tmp_path / "repo"
    (root / "domains" / "community").mkdir(parents=True)
    shutil.copytree(DOMAINS / "genomics", root / "domains" / "genomics", symlinks=True)
    community = next(p for p in (DOMAINS / "community").iterdir() if p.is_dir())
    shutil.copytree(community, root / "domains" / "community" / community.name, symlinks=True)
    (root / "schemas").symlink_to(REPO / "schemas")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "packs"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=GIT_ENV)
    return root


def build(root, out, *extra):
    return CliRunner().invoke(cli, ["registry", "build", "--domains-dir", str(root / "domains"), "--out", str(out), *extra],
                              catch_exceptions=False)


def digest_tree(path):
    return {p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def test_build_is_deterministic_and_complete(small_repo, tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = build(small_repo, tmp_path / "dist1")
    assert first.exit_code == 0, first.output
    second = build(small_repo, tmp_path / "dist2")
    assert second.exit_code == 0
    assert digest_tree(tmp_path / "dist1") == digest_tree(tmp_path / "dist2")

    dist = read_dist(tmp_path / "dist1")
    assert [(a.name, a.version) for a in dist.artifacts][:3] == [("genomics", "1.0.0"), ("genomics", "1.1.0"), ("genomics", "1.2.0")]
    index = json.loads(dist.index_json.read_text())
    assert index["registry_version"] == "2.0" and index["serial"] == 1 and index["signing"] == "none"
    assert index["last_updated"] == "2026-11-01T12:00:00Z"
    assert index["expires"] == "2026-12-01T12:00:00Z"
    genomics = index["domains"]["genomics"]
    assert genomics["latest_version"] == "1.2.0" and genomics["versions"] == ["1.0.0", "1.1.0", "1.2.0"]
    release = genomics["releases"]["1.2.0"]
    archive = tmp_path / "dist1" / release["download_url"]
    assert release["checksum"] == "sha256:" + hashlib.sha256(archive.read_bytes()).hexdigest()
    assert release["size"] == archive.stat().st_size and release["created"] == "2026-11-01T12:00:00Z"
    assert release["sizes"]["standard"] == {"instance_type": "r7i.4xlarge", "vcpus": 16, "memory_gib": 128, "gpus": 0,
                                            "storage_gib": 500, "monthly_usd": 812.63}
    assert genomics["download_url"] == release["download_url"] and genomics["checksum"] == release["checksum"]
    community = next(iter(index["community_packs"].values()))
    assert community["trust_level"] == "community" and community["status"] == "active"
    import yaml

    assert yaml.safe_load((tmp_path / "dist1" / "registry.yaml").read_text()) == index


def test_archives_are_normalised(small_repo, tmp_path):
    assert build(small_repo, tmp_path / "dist").exit_code == 0
    archive = tmp_path / "dist" / "packs" / "genomics-1.2.0.tar.gz"
    raw = archive.read_bytes()
    assert raw[4:8] == b"\0\0\0\0"  # gzip MTIME is zero
    assert raw[3] & 0x08 == 0  # no FNAME in the gzip header
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == ["genomics-1.2.0", "genomics-1.2.0/README.md", "genomics-1.2.0/cloudformation.json",
                     "genomics-1.2.0/domain.yaml"]
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
    assert {m.mode for m in members if m.isfile()} == {0o644}
    assert len({m.mtime for m in members}) == 1 and members[0].mtime > 315532800  # from git


def test_archive_refuses_links(tmp_path):
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "domain.yaml").write_text("x")
    (tmp_path / "pack" / "link").symlink_to("/etc/passwd")
    from registry_tools.build.archive import ArchiveError

    with pytest.raises(ArchiveError, match="symbolic link"):
        archive_bytes(tmp_path / "pack", "pack-1.0.0")


def test_base_url_and_explicit_serial(small_repo, tmp_path):
    result = build(small_repo, tmp_path / "dist", "--base-url", "https://example.org/registry/", "--serial", "42",
                   "--expires-days", "7")
    assert result.exit_code == 0
    index = json.loads((tmp_path / "dist" / "registry.json").read_text())
    assert index["serial"] == 42 and index["expires"] == "2026-11-08T12:00:00Z"
    assert index["domains"]["genomics"]["download_url"] == "https://example.org/registry/packs/genomics-1.2.0.tar.gz"


def test_source_date_epoch_sets_the_build_time(small_repo, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1798761600")  # 2027-01-01
    assert build(small_repo, tmp_path / "dist").exit_code == 0
    index = json.loads((tmp_path / "dist" / "registry.json").read_text())
    assert index["expires"] == "2027-01-31T00:00:00Z" and index["last_updated"] == "2026-11-01T12:00:00Z"


def test_explicit_expiry_re_signs_the_same_archives(small_repo, tmp_path, fixture_time):
    assert build(small_repo, tmp_path / "dist").exit_code == 0
    later = build(small_repo, tmp_path / "later", "--expires", "2031-05-01T06:00:00Z", "--json")
    assert later.exit_code == 0, later.output
    index = json.loads((tmp_path / "later" / "registry.json").read_text())
    assert index["expires"] == "2031-05-01T06:00:00Z" and json.loads(later.stdout)["warnings"] == []
    first, second = digest_tree(tmp_path / "dist"), digest_tree(tmp_path / "later")
    assert {k: v for k, v in first.items() if k.startswith("packs/")} == \
           {k: v for k, v in second.items() if k.startswith("packs/")}  # only the index changed
    assert build(small_repo, tmp_path / "again", "--expires", "2031-05-01").exit_code == 0
    assert json.loads((tmp_path / "again" / "registry.json").read_text())["expires"] == "2031-05-01T00:00:00Z"
    both = build(small_repo, tmp_path / "x", "--expires", "2031-05-01", "--expires-days", "3")
    assert both.exit_code == 2 and "choose one of --expires or --expires-days" in both.output
    bad = build(small_repo, tmp_path / "x", "--expires", "next week")
    assert bad.exit_code == 2 and "'next week' is not a UTC time" in bad.output


def test_a_build_that_is_expired_on_arrival_says_so(small_repo, tmp_path, monkeypatch):
    monkeypatch.setenv("ARW_NOW", "2026-12-01T12:00:01Z")  # a second after the default expiry
    result = build(small_repo, tmp_path / "dist", "--json")
    assert result.exit_code == 0
    assert "warning: the index expires at 2026-12-01T12:00:00Z, which is already past" in result.stderr
    assert json.loads(result.stdout)["warnings"]
    monkeypatch.setenv("ARW_NOW", "2026-12-01T12:00:00Z")
    assert "warning" not in build(small_repo, tmp_path / "dist").stderr
    assert datetime(2026, 12, 1, 12, tzinfo=UTC) > FIXTURE_NOW  # the fixture time is inside the default validity


def test_invalid_pack_refuses_the_build_and_keeps_the_old_output(small_repo, tmp_path):
    out = tmp_path / "dist"
    assert build(small_repo, out).exit_code == 0
    before = digest_tree(out)
    path = small_repo / "domains" / "genomics" / "v1.1.0" / "domain.yaml"
    path.write_text(path.read_text().replace("standard: 812.63", "standard: 999.99"))
    result = build(small_repo, out)
    assert result.exit_code == 1
    assert "validation error(s); nothing was built" in result.output and "ARW120" in result.output
    assert digest_tree(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dist-")]


def test_signed_build_verifies_and_tampering_is_caught(small_repo, tmp_path, monkeypatch, fixture_time):
    runner = CliRunner()
    key = tmp_path / "keys" / "registry.pem"
    assert runner.invoke(cli, ["registry", "keygen", str(key)]).exit_code == 0
    assert build(small_repo, tmp_path / "dist", "--sign-key", str(key)).exit_code == 0
    dist = read_dist(tmp_path / "dist")
    assert all(a.signatures for a in dist.artifacts) and dist.index_signatures
    index = json.loads(dist.index_json.read_text())
    assert index["signing"] == "ed25519"
    assert index["domains"]["genomics"]["releases"]["1.2.0"]["signature_url"] == "packs/genomics-1.2.0.tar.gz.sig"
    ok = runner.invoke(cli, ["registry", "verify", str(tmp_path / "dist"), "--trust-key", f"{key}.pub", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["warnings"] == []
    monkeypatch.setenv("ARW_NOW", "2026-12-04T12:00:00Z")
    stale = runner.invoke(cli, ["registry", "verify", str(tmp_path / "dist"), "--trust-key", f"{key}.pub"])
    assert stale.exit_code == 0  # every signature still holds; clients will refuse the index, and it says so
    assert ("warning: registry.json expired 3.0 days ago (2026-12-01T12:00:00Z): clients refuse it until it is "
            "built and signed again") in stale.output
    monkeypatch.setenv("ARW_NOW", "2026-11-02T12:00:00Z")

    archive = tmp_path / "dist" / "packs" / "genomics-1.1.0.tar.gz"
    data = bytearray(archive.read_bytes())
    data[100] ^= 0x01
    archive.write_bytes(bytes(data))
    tampered = runner.invoke(cli, ["registry", "verify", str(tmp_path / "dist"), "--trust-key", f"{key}.pub"])
    assert tampered.exit_code == 1
    assert "genomics-1.1.0.tar.gz" in tampered.output and "FAILED" in tampered.output

    other = tmp_path / "keys" / "other.pem"
    runner.invoke(cli, ["registry", "keygen", str(other)])
    wrong = runner.invoke(cli, ["registry", "verify", str(tmp_path / "dist"), "--trust-key", f"{other}.pub"])
    assert wrong.exit_code == 1 and "registry.json" in wrong.output
