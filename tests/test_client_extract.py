"""Safe extraction of pack archives: hostile archives are refused and leave nothing behind."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import time
from pathlib import Path

import pytest

from registry_tools.build.archive import archive_bytes
from registry_tools.client.extract import ExtractError, safe_extract

REFERENCE_PACK = Path(__file__).resolve().parents[1] / "domains" / "genomics" / "v1.2.0"
PREFIX = "pkg-1.0.0"
LIMITS = {"max_entries": 100, "max_total_bytes": 1024 * 1024, "max_ratio": 100.0}


@pytest.fixture(autouse=True, params=["stdlib-filter-too", "own-checks-only"])
def _filter_layer(request, monkeypatch):
    """Run everything twice: with tarfile.data_filter as the extra layer, and without it
    (as on Python < 3.11.4), so our own checks are shown to stand alone."""
    if request.param == "own-checks-only":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)


def member(name: str, data: bytes = b"", *, type_: bytes = tarfile.REGTYPE, mode: int = 0o644, **attrs):
    info = tarfile.TarInfo(name)
    info.type = type_
    info.mode = mode
    info.size = len(data) if type_ in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE) else 0
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, (io.BytesIO(data) if info.size else None)


def make_tar(members, fmt=tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, data)
    return buffer.getvalue()


def make_targz(members, fmt=tarfile.PAX_FORMAT) -> bytes:
    return gzip.compress(make_tar(members, fmt), mtime=0)


def good_start():
    """A legitimate top directory and file before the hostile entry, so cleanup is exercised."""
    return [member(PREFIX, type_=tarfile.DIRTYPE, mode=0o755), member(f"{PREFIX}/domain.yaml", b"name: x\n")]


def write(tmp_path: Path, data: bytes, name: str = "pack.tar.gz") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def refuse(tmp_path: Path, data: bytes, match: str, **limits) -> ExtractError:
    archive = write(tmp_path, data)
    dest = tmp_path / "out" / "pkg"
    with pytest.raises(ExtractError, match=match) as caught:
        safe_extract(archive, dest, expected_prefix=PREFIX, **{**LIMITS, **limits})
    assert not dest.exists(), "a refused archive must leave nothing behind"
    return caught.value


# --- the good path -----------------------------------------------------------------


def test_reference_pack_extracts_with_normalised_modes(tmp_path):
    archive = write(tmp_path, archive_bytes(REFERENCE_PACK, "genomics-1.2.0"))
    dest = tmp_path / "installed" / "genomics" / "1.2.0"
    names = safe_extract(archive, dest, expected_prefix="genomics-1.2.0", **LIMITS)
    assert sorted(names) == ["README.md", "cloudformation.json", "domain.yaml"]
    assert sorted(p.name for p in dest.iterdir()) == sorted(names)
    for name in names:
        path = dest / name
        assert path.read_bytes() == (REFERENCE_PACK / name).read_bytes()
        assert stat.S_ISREG(path.lstat().st_mode)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755


def test_archive_modes_owners_and_times_are_ignored(tmp_path):
    old = 1_000_000
    members = [
        member(PREFIX, type_=tarfile.DIRTYPE, mode=0o777),
        member(f"{PREFIX}/bin", type_=tarfile.DIRTYPE, mode=0o700, mtime=old),
        member(f"{PREFIX}/bin/run.sh", b"#!/bin/sh\n", mode=0o4777, uid=0, gid=0, uname="root", mtime=old),
        member(f"{PREFIX}/nested/deeper/file.txt", b"implicit parents\n", mode=0o600),
        member(f"{PREFIX}/nested", type_=tarfile.DIRTYPE, mode=0o777),  # after its contents: fine
    ]
    archive = write(tmp_path, make_targz(members))
    dest = tmp_path / "out"
    probe = tmp_path / "probe"
    probe.touch()
    before = probe.stat().st_mtime - 60  # the file system's clock, which faketime does not move
    names = safe_extract(archive, dest, expected_prefix=PREFIX, **LIMITS)
    assert names == ["bin/run.sh", "nested/deeper/file.txt"]
    assert stat.S_IMODE((dest / "bin").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "nested").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "nested" / "deeper").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "bin" / "run.sh").stat().st_mode) == 0o644
    assert stat.S_IMODE((dest / "nested" / "deeper" / "file.txt").stat().st_mode) == 0o644
    assert (dest / "bin" / "run.sh").stat().st_mtime > before
    assert (dest / "bin" / "run.sh").stat().st_uid == os.getuid()


def test_empty_files_and_exact_limits_are_fine(tmp_path):
    data = os.urandom(1000)  # incompressible, so the ratio stays low
    members = [member(f"{PREFIX}/empty"), member(f"{PREFIX}/data.bin", data)]
    archive = write(tmp_path, make_targz(members))
    names = safe_extract(archive, tmp_path / "out", expected_prefix=PREFIX, max_entries=2, max_total_bytes=1000,
                         max_ratio=100)
    assert names == ["empty", "data.bin"]
    assert (tmp_path / "out" / "data.bin").read_bytes() == data
    assert (tmp_path / "out" / "empty").read_bytes() == b""


# --- paths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("/etc/passwd", "'/etc/passwd' is an absolute path"),
        ("../../etc/passwd", r"'\.\./\.\./etc/passwd' contains a '\.\.' component"),
        (f"{PREFIX}/../../etc/passwd", r"contains a '\.\.' component"),
        (f"{PREFIX}/sub/../../x", r"contains a '\.\.' component"),
        ("other-1.0.0/domain.yaml", r"'other-1\.0\.0/domain\.yaml' is outside the expected top directory 'pkg-1\.0\.0/'"),
        ("domain.yaml", "outside the expected top directory"),
        (f"{PREFIX}x/domain.yaml", "outside the expected top directory"),
        (f"{PREFIX}/./domain.yaml", "empty or '.' path component"),
        (f"{PREFIX}//domain.yaml", "empty or '.' path component"),
        (f"{PREFIX}/a\\..\\..\\x", "backslash"),
        (f"{PREFIX}/bad\x1bname", "control characters"),
        ("C:/windows/x", "absolute path"),
    ],
)
def test_unsafe_paths_are_refused(tmp_path, name, match):
    refuse(tmp_path, make_targz([*good_start(), member(name, b"owned\n")]), match)


def test_a_file_as_the_top_directory_is_refused(tmp_path):
    refuse(tmp_path, make_targz([member(PREFIX, b"not a dir")]), "must be the top directory, not a file")


def test_nothing_is_written_outside_dest(tmp_path):
    victim = tmp_path / "victim"
    refuse(tmp_path, make_targz([*good_start(), member(f"{PREFIX}/../../victim", b"owned")]), r"'\.\.' component")
    assert not victim.exists()


# --- member types ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: member(f"{PREFIX}/passwd", type_=tarfile.SYMTYPE, linkname="/etc/passwd"),
         r"'pkg-1\.0\.0/passwd' is a symbolic link to '/etc/passwd'"),
        (lambda: member(f"{PREFIX}/up", type_=tarfile.SYMTYPE, linkname="../.."), "is a symbolic link to '../..'"),
        (lambda: member(f"{PREFIX}/hard", type_=tarfile.LNKTYPE, linkname="/etc/passwd"),
         r"'pkg-1\.0\.0/hard' is a hard link to '/etc/passwd'"),
        (lambda: member(f"{PREFIX}/hard2", type_=tarfile.LNKTYPE, linkname=f"{PREFIX}/domain.yaml"), "is a hard link"),
        (lambda: member(f"{PREFIX}/null", type_=tarfile.CHRTYPE, devmajor=1, devminor=3),
         r"'pkg-1\.0\.0/null' is a character device"),
        (lambda: member(f"{PREFIX}/sda", type_=tarfile.BLKTYPE, devmajor=8, devminor=0), "is a block device"),
        (lambda: member(f"{PREFIX}/pipe", type_=tarfile.FIFOTYPE), "is a FIFO"),
        (lambda: member(f"{PREFIX}/cont", b"x", type_=tarfile.CONTTYPE), "is a contiguous file"),
    ],
    ids=["symlink-abs", "symlink-rel", "hardlink-abs", "hardlink-inside", "chardev", "blockdev", "fifo", "contiguous"],
)
def test_links_devices_and_other_types_are_refused(tmp_path, make, match):
    data = make_targz([*good_start(), make()])
    error = refuse(tmp_path, data, match)
    assert "only regular files and directories are allowed" in str(error)


def test_unknown_member_type_is_refused(tmp_path):
    # A type byte tarfile does not know: patch it into the header and fix the checksum.
    raw = bytearray(make_tar([member(f"{PREFIX}/odd", b"")], fmt=tarfile.USTAR_FORMAT))
    raw[156:157] = b"Z"
    raw[148:156] = b" " * 8
    raw[148:156] = b"%06o\x00 " % sum(raw[:512])
    refuse(tmp_path, gzip.compress(bytes(raw)), r"'pkg-1\.0\.0/odd' is of unsupported type")


# --- duplicates --------------------------------------------------------------------


def test_duplicate_file_is_refused(tmp_path):
    data = make_targz([*good_start(), member(f"{PREFIX}/domain.yaml", b"evil: true\n")])
    refuse(tmp_path, data, r"duplicate archive entry 'pkg-1\.0\.0/domain\.yaml'")


def test_names_differing_only_in_case_are_refused(tmp_path):
    data = make_targz([*good_start(), member(f"{PREFIX}/DOMAIN.yaml", b"evil: true\n")])
    refuse(tmp_path, data, "collides with 'pkg-1.0.0/domain.yaml' on case-insensitive file systems")


def test_directory_over_a_file_is_refused(tmp_path):
    data = make_targz([*good_start(), member(f"{PREFIX}/domain.yaml", type_=tarfile.DIRTYPE, mode=0o755)])
    refuse(tmp_path, data, "duplicate archive entry")


def test_file_below_a_file_is_refused(tmp_path):
    data = make_targz([*good_start(), member(f"{PREFIX}/domain.yaml/x", b"x")])
    refuse(tmp_path, data, "is below 'domain.yaml', which is a file")


def test_duplicate_top_directory_is_refused(tmp_path):
    data = make_targz([*good_start(), member(PREFIX, type_=tarfile.DIRTYPE)])
    refuse(tmp_path, data, r"duplicate archive entry 'pkg-1\.0\.0'")


# --- limits ------------------------------------------------------------------------


def test_too_many_entries_are_refused(tmp_path):
    members = [member(PREFIX, type_=tarfile.DIRTYPE)] + [member(f"{PREFIX}/f{i:02d}", b"x") for i in range(20)]
    refuse(tmp_path, make_targz(members), r"more than 10 entries \(at 'pkg-1\.0\.0/f09'\)", max_entries=10)


@pytest.fixture(scope="module")
def tar_bomb() -> bytes:
    """50 MB of zeros that compresses to about 50 KB."""
    return make_targz([member(f"{PREFIX}/zeros.bin", bytes(50 * 1024 * 1024))])


def test_tar_bomb_is_refused_by_ratio_before_decompressing(tmp_path, tar_bomb):
    assert len(tar_bomb) < 100 * 1024
    started = time.monotonic()
    refuse(tmp_path, tar_bomb, r"'pkg-1\.0\.0/zeros\.bin' takes the files to 52428800 bytes, more than 100 times",
           max_total_bytes=1024 * 1024 * 1024, max_ratio=100)
    assert time.monotonic() - started < 2, "the bomb must be refused from its header, not after inflating it"


def test_tar_bomb_is_refused_by_total_size(tmp_path, tar_bomb):
    refuse(tmp_path, tar_bomb, r"\(52428800 bytes\) takes the files over the 1048576-byte limit",
           max_total_bytes=1024 * 1024, max_ratio=1e9)


def test_total_size_counts_across_files(tmp_path):
    members = [member(f"{PREFIX}/a.bin", os.urandom(600)), member(f"{PREFIX}/b.bin", os.urandom(600))]
    refuse(tmp_path, make_targz(members), r"'pkg-1\.0\.0/b\.bin' \(600 bytes\) takes the files over the 1000-byte",
           max_total_bytes=1000)


def test_many_small_files_add_up_to_a_bomb(tmp_path):
    members = [member(f"{PREFIX}/z{i:03d}", bytes(100_000)) for i in range(100)]
    refuse(tmp_path, make_targz(members), "refusing a likely tar bomb", max_entries=1000, max_total_bytes=10**9,
           max_ratio=50)


def test_huge_pax_header_is_refused_without_reading_it(tmp_path):
    info, _ = member(f"{PREFIX}/x")
    info.pax_headers = {"comment": "A" * (8 * 1024 * 1024)}
    data = make_targz([(info, None)])
    refuse(tmp_path, data, "archive stream reaches", max_entries=2, max_total_bytes=1024, max_ratio=1e9)


# --- not an archive ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "is not a gzip file"),
        (b"PK\x03\x04 this is a zip", "is not a gzip file"),
        (make_tar([member(f"{PREFIX}/a", b"x")]), "is not a gzip file"),
        (gzip.compress(b"hello, not a tar file" * 100), "is not a valid gzip-compressed tar archive"),
        (gzip.compress(b""), "is not a valid gzip-compressed tar archive"),
        (make_targz([member(f"{PREFIX}/a", os.urandom(5000))])[:-3000], "is not a valid gzip-compressed tar archive"),
        (b"\x1f\x8b" + os.urandom(200), "is not a valid gzip-compressed tar archive"),
    ],
    ids=["empty", "zip", "plain-tar", "gzip-not-tar", "gzip-empty", "truncated", "corrupt-gzip"],
)
def test_not_a_gzip_tar_is_refused(tmp_path, data, match):
    refuse(tmp_path, data, match)


def test_archive_without_files_is_refused(tmp_path):
    refuse(tmp_path, make_targz([member(PREFIX, type_=tarfile.DIRTYPE)]), "contains no files under 'pkg-1.0.0/'")


def test_missing_archive_is_refused(tmp_path):
    with pytest.raises(ExtractError, match="cannot read archive"):
        safe_extract(tmp_path / "nope.tar.gz", tmp_path / "out", expected_prefix=PREFIX, **LIMITS)
    assert not (tmp_path / "out").exists()


# --- destination -------------------------------------------------------------------


def test_existing_dest_is_refused_and_left_alone(tmp_path):
    archive = write(tmp_path, archive_bytes(REFERENCE_PACK, "genomics-1.2.0"))
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(ExtractError, match="already exists"):
        safe_extract(archive, dest, expected_prefix="genomics-1.2.0", **LIMITS)
    assert (dest / "keep.txt").read_text() == "mine"


def test_dest_symlink_is_refused(tmp_path):
    archive = write(tmp_path, archive_bytes(REFERENCE_PACK, "genomics-1.2.0"))
    target = tmp_path / "elsewhere"
    target.mkdir()
    dest = tmp_path / "out"
    dest.symlink_to(target)
    with pytest.raises(ExtractError, match="already exists"):
        safe_extract(archive, dest, expected_prefix="genomics-1.2.0", **LIMITS)
    assert list(target.iterdir()) == []


def test_wrong_prefix_for_a_good_archive_is_refused(tmp_path):
    data = archive_bytes(REFERENCE_PACK, "genomics-1.2.0")
    archive = write(tmp_path, data)
    with pytest.raises(ExtractError, match="outside the expected top directory 'genomics-1.3.0/'"):
        safe_extract(archive, tmp_path / "out", expected_prefix="genomics-1.3.0", **LIMITS)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("prefix", ["", "a/b", "..", "."])
def test_bad_expected_prefix_is_a_programming_error(tmp_path, prefix):
    archive = write(tmp_path, archive_bytes(REFERENCE_PACK, "genomics-1.2.0"))
    with pytest.raises(ValueError, match="expected_prefix"):
        safe_extract(archive, tmp_path / "out", expected_prefix=prefix, **LIMITS)
