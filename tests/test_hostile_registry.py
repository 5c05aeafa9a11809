"""A hostile registry, served from 127.0.0.1: every attack is refused with a clear message, nothing is
installed and an earlier install stays intact. Archives here are re-signed with the trusted key, so only
the client's own checks stand between them and the disk."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile

import pytest
from click.testing import CliRunner

from registry_tools.cli.main import cli
from registry_tools.signing.keys import KeySigner

from .test_build import small_repo  # noqa: F401  (fixture)
from .test_client_index import CountingServer, served, signed_dist  # noqa: F401  (fixtures)

PREFIX = "genomics-1.2.0"


def run(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def lab(served, arw_home, fixture_time):  # noqa: F811
    repo, www, key, server, url = served
    run("config", "registries", "remove", "public")
    assert run("config", "registries", "add", "lab", url, "--trust-key", f"{key}.pub").exit_code == 0
    assert run("config", "install", "genomics@1.1.0").exit_code == 0
    return www, key, arw_home


def tar_gz(members) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()


def file_member(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def link_member(name, target, kind):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def bomb_member():
    zeros = b"\0" * (80 * 1024 * 1024)
    return file_member(f"{PREFIX}/domain.yaml", zeros)


HOSTILE = {
    "dotdot": lambda: [file_member(f"{PREFIX}/../../escape.txt")],
    "absolute": lambda: [file_member("/tmp/arw-absolute.txt")],
    "symlink": lambda: [link_member(f"{PREFIX}/domain.yaml", "/etc/passwd", tarfile.SYMTYPE)],
    "hardlink": lambda: [link_member(f"{PREFIX}/domain.yaml", "/etc/passwd", tarfile.LNKTYPE)],
    "tar-bomb": lambda: [bomb_member()],
}


def republish(www, key, data: bytes) -> None:
    """Replace genomics 1.2.0's archive with *data* and re-sign archive and index with the trusted key."""
    archive = www / "packs" / f"{PREFIX}.tar.gz"
    archive.write_bytes(data)
    KeySigner(key).sign_file(archive)
    index_path = www / "registry.json"
    index = json.loads(index_path.read_text())
    release = index["domains"]["genomics"]["releases"]["1.2.0"]
    release["checksum"] = "sha256:" + hashlib.sha256(data).hexdigest()
    release["size"] = len(data)
    index["serial"] += 1
    index_path.write_text(json.dumps(index))
    KeySigner(key).sign_file(index_path)
    newer(index_path)


def newer(path) -> None:
    """Give *path* a Last-Modified after the cached copy's, so a conditional request fetches it."""
    later = path.stat().st_mtime + 10  # the file system's clock, which faketime does not move
    os.utime(path, (later, later))


def installed_tree(home):
    return sorted(p.relative_to(home / "domains").as_posix() for p in (home / "domains").rglob("*"))


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_hostile_archive_is_refused(lab, attack, tmp_path):
    www, key, home = lab
    before = installed_tree(home)
    republish(www, key, tar_gz(HOSTILE[attack]()))
    result = run("config", "install", "genomics@1.2.0", "--refresh")
    assert result.exit_code == 1, result.output
    assert "unsafe archive" in result.output and "Traceback" not in result.output
    assert installed_tree(home) == before
    assert not (home / "domains" / "genomics" / "1.2.0").exists()
    assert not (tmp_path.parent / "escape.txt").exists()


def test_archive_larger_than_declared_is_stopped_while_downloading(lab):
    www, key, home = lab
    archive = www / "packs" / f"{PREFIX}.tar.gz"
    archive.write_bytes(archive.read_bytes() + b"\0" * 1_000_000)
    result = run("config", "install", "genomics@1.2.0")
    assert result.exit_code == 1 and "limit" in result.output
    assert not (home / "domains" / "genomics" / "1.2.0").exists()


def test_oversized_index_is_refused(lab, served):  # noqa: F811
    www, key, home = lab
    from registry_tools.config import LIMITS

    (www / "registry.json").write_bytes(b" " * (LIMITS.max_index_bytes + 1))
    newer(www / "registry.json")
    result = run("config", "browse", "--refresh")
    assert "limit" in result.output
    # the cached, verified index is still used
    assert result.exit_code == 0 and "using cached index" in result.output


WRONG_CONTENT = {
    "another pack": (lambda: [file_member(f"{PREFIX}/domain.yaml", b"name: other\nversion: 1.2.0\n")],
                     "the archive does not hold a readable pack"),
    "not yaml": (lambda: [file_member(f"{PREFIX}/domain.yaml", b"name: [unclosed\n")],
                 "the archive does not hold a readable pack"),
    "no domain.yaml": (lambda: [file_member(f"{PREFIX}/README.md", b"# hi\n")], "the archive does not hold a readable pack"),
}


@pytest.mark.parametrize("case", sorted(WRONG_CONTENT))
def test_a_signed_archive_that_does_not_hold_the_pack_is_refused(lab, case):
    www, key, home = lab
    before = installed_tree(home)
    members, message = WRONG_CONTENT[case]
    republish(www, key, tar_gz(members()))
    result = run("config", "install", "genomics@1.2.0", "--refresh")
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output, result.output
    assert installed_tree(home) == before


def test_a_signed_archive_of_another_pack_or_missing_files_is_refused(lab, served):  # noqa: F811
    www, key, home = lab
    source = served[0] / "domains" / "genomics" / "v1.2.0"
    files = {p.name: p.read_bytes() for p in source.iterdir()}
    renamed = files["domain.yaml"].replace(b'version: "1.2.0"', b'version: "1.1.0"', 1)
    assert renamed != files["domain.yaml"]
    republish(www, key, tar_gz([file_member(f"{PREFIX}/{n}", renamed if n == "domain.yaml" else d) for n, d in files.items()]))
    result = run("config", "install", "genomics@1.2.0", "--refresh")
    assert result.exit_code == 1 and "the archive holds genomics 1.1.0" in result.output, result.output
    republish(www, key, tar_gz([file_member(f"{PREFIX}/{n}", d) for n, d in files.items() if n != "README.md"]))
    newer(www / "registry.json")  # once more: a Last-Modified after the first republish's
    result = run("config", "install", "genomics@1.2.0", "--refresh")
    assert result.exit_code == 1 and "the archive lacks README.md" in result.output, result.output
    assert not (home / "domains" / "genomics" / "1.2.0").exists()
