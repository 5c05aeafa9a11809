"""Safe extraction of a pack archive (``.tar.gz`` with one top directory).

``safe_extract`` never calls ``extractall``: it streams the members one by one
and checks each before anything is written. An archive is refused (one
``ExtractError`` naming the entry) for: a path that is absolute, has ``..``,
``.`` or empty components, backslashes or control characters, or is not under
``<expected_prefix>/``; any member other than a regular file or a directory
(symbolic and hard links, devices, FIFOs, sparse or contiguous files); a
duplicate entry (also one differing only in case or Unicode form, which would
collide on macOS and Windows); more than ``max_entries`` members; more than
``max_total_bytes`` of file data; file data more than ``max_ratio`` times the
archive size (a tar bomb); a decompressed stream far beyond those limits (huge
pax or long-name headers); anything that is not a gzip-compressed tar.

Files land directly in ``dest`` (the top directory is stripped) with mode
0644, directories with 0755; owners, times and modes in the archive are
ignored. On any failure everything written is removed and ``dest`` does not
exist afterwards.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
import tarfile
import unicodedata
import zlib
from pathlib import Path, PurePosixPath

from registry_tools.errors import ArwError

FILE_MODE = 0o644
DIR_MODE = 0o755
_CHUNK = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
# Tar metadata allowed on top of the file data: per member a header block, the
# padding of its data, and room for a pax or GNU long-name header; plus the
# end-of-archive blocks.
_HEADER_ALLOWANCE_PER_ENTRY = 4 * 1024
_HEADER_ALLOWANCE_FIXED = 64 * 1024

_TYPE_NAMES = {
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.LNKTYPE: "a hard link",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO",
    tarfile.CONTTYPE: "a contiguous file",
    tarfile.GNUTYPE_SPARSE: "a sparse file",
}


class ExtractError(ArwError):
    """The archive must not be extracted (unsafe, over a limit, or corrupt)."""


class _CappedStream:
    """A seekable view of the decompressed stream that refuses to go past ``cap`` bytes.

    tarfile reads pax and GNU long-name headers into memory whole; this bounds
    what a hostile header (or any other metadata) can make us decompress.
    """

    def __init__(self, raw: io.BufferedIOBase, cap: int) -> None:
        self._raw = raw
        self._cap = cap

    def _refuse(self, position: int) -> None:
        raise ExtractError(
            f"archive stream reaches {position} bytes when decompressed, beyond what "
            f"the limits allow ({self._cap} bytes including tar headers); refusing it"
        )

    def read(self, size: int = -1) -> bytes:
        position = self._raw.tell()
        if size is None or size < 0:
            data = self._raw.read(self._cap - position + 1)
            if position + len(data) > self._cap:
                self._refuse(position + len(data))
            return data
        if position + size > self._cap:
            self._refuse(position + size)
        return self._raw.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET and offset > self._cap:
            self._refuse(offset)
        if whence == os.SEEK_CUR and self._raw.tell() + offset > self._cap:
            self._refuse(self._raw.tell() + offset)
        if whence == os.SEEK_END:
            raise ExtractError("archive stream cannot be seeked from its end")
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def write(self, data: bytes) -> int:
        raise io.UnsupportedOperation("the archive stream is read-only")

    def close(self) -> None:
        """Nothing: the decompressed stream belongs to the caller, which closes it."""


def _check_prefix(prefix: str) -> None:
    if not prefix or "/" in prefix or "\\" in prefix or prefix in (".", "..") or "\x00" in prefix:
        raise ValueError(f"expected_prefix must be one path component such as 'genomics-1.2.0', got {prefix!r}")


def _relative_name(member: tarfile.TarInfo, prefix: str) -> str:
    """The member's path below ``prefix/`` ('' for the top directory itself), or ExtractError."""
    name = member.name
    shown = repr(name)
    if not name:
        raise ExtractError("archive entry with an empty name")
    if any(ord(ch) < 32 or ord(ch) == 127 or 0xD800 <= ord(ch) <= 0xDFFF for ch in name):
        raise ExtractError(f"archive entry {shown} has control characters or bytes that are not UTF-8 in its name")
    if "\\" in name:
        raise ExtractError(f"archive entry {shown} contains a backslash; pack archives use '/' only")
    if name.startswith("/") or (len(name) >= 2 and name[1] == ":"):
        raise ExtractError(f"archive entry {shown} is an absolute path")
    parts = name.split("/")
    if ".." in parts:
        raise ExtractError(f"archive entry {shown} contains a '..' component (path traversal)")
    if any(part in ("", ".") for part in parts):
        raise ExtractError(f"archive entry {shown} has an empty or '.' path component")
    if parts[0] != prefix:
        raise ExtractError(f"archive entry {shown} is outside the expected top directory {prefix + '/'!r}")
    return "/".join(parts[1:])


def _check_type(member: tarfile.TarInfo) -> None:
    if member.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
        if member.sparse is not None:
            raise ExtractError(f"archive entry {member.name!r} is a sparse file; only regular files and directories are allowed")
        return
    if member.type == tarfile.DIRTYPE:
        return
    kind = _TYPE_NAMES.get(member.type, f"of unsupported type {member.type!r}")
    detail = f" to {member.linkname!r}" if member.type in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
    raise ExtractError(
        f"archive entry {member.name!r} is {kind}{detail}; only regular files and directories are allowed"
    )


def _collision_key(relative: str) -> str:
    return unicodedata.normalize("NFC", relative).casefold()


def _make_dir(path: Path) -> None:
    os.mkdir(path, DIR_MODE)
    os.chmod(path, DIR_MODE)  # the umask must not decide


def _inside(dest: Path, path: Path) -> bool:
    """Belt and braces: the real location of *path*'s parent is under *dest*."""
    try:
        path.parent.resolve(strict=True).relative_to(dest.resolve(strict=True))
    except (OSError, ValueError):
        return False
    return True


def safe_extract(
    archive: Path,
    dest: Path,
    *,
    expected_prefix: str,
    max_entries: int,
    max_total_bytes: int,
    max_ratio: float,
) -> list[str]:
    """Extract *archive* into the new directory *dest*; return the files written (relative, '/'-separated).

    Every entry must be under ``expected_prefix/``, which is stripped. Raises
    ``ExtractError`` (and leaves no *dest*) if anything is unsafe or over a limit.
    Missing parents of *dest* are created and stay. *dest* is visible while it
    fills: callers wanting an atomic install extract beside the final place and rename.
    """
    _check_prefix(expected_prefix)
    if max_entries < 1 or max_total_bytes < 0 or max_ratio <= 0:
        raise ValueError("max_entries must be >= 1, max_total_bytes >= 0 and max_ratio > 0")
    archive = Path(archive)
    dest = Path(dest)
    if os.path.lexists(dest):
        raise ExtractError(f"{dest} already exists; extraction needs a new directory")
    try:
        archive_size = archive.stat().st_size
        with archive.open("rb") as raw:
            magic = raw.read(2)
    except OSError as exc:
        raise ExtractError(f"cannot read archive {archive}: {exc.strerror or exc}") from exc
    if magic != _GZIP_MAGIC:
        raise ExtractError(f"{archive.name} is not a gzip file (a pack archive is a .tar.gz)")

    try:
        dest.mkdir(parents=True)
    except FileExistsError as exc:
        raise ExtractError(f"{dest} already exists; extraction needs a new directory") from exc
    except OSError as exc:
        raise ExtractError(f"cannot create {dest}: {exc.strerror or exc}") from exc
    try:
        os.chmod(dest, DIR_MODE)
        return _extract_into(
            archive, archive_size, dest, expected_prefix, max_entries, max_total_bytes, max_ratio
        )
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def _extract_into(
    archive: Path,
    archive_size: int,
    dest: Path,
    prefix: str,
    max_entries: int,
    max_total_bytes: int,
    max_ratio: float,
) -> list[str]:
    stream_cap = max_total_bytes + max_entries * _HEADER_ALLOWANCE_PER_ENTRY + _HEADER_ALLOWANCE_FIXED
    ratio_cap = max_ratio * archive_size
    written: list[str] = []
    seen: dict[str, str] = {}  # collision key -> entry name
    implicit_dirs: set[str] = set()  # created for a file before (or without) their own entry
    files: set[str] = set()
    total = 0
    count = 0
    try:
        with (
            archive.open("rb") as raw,
            gzip.GzipFile(fileobj=raw, mode="rb") as gz,
            tarfile.open(fileobj=_CappedStream(gz, stream_cap), mode="r:", encoding="utf-8") as tar,
        ):
            while True:
                member = tar.next()
                if member is None:
                    break
                count += 1
                if count > max_entries:
                    raise ExtractError(f"archive has more than {max_entries} entries (at {member.name!r})")
                relative = _relative_name(member, prefix)
                _check_type(member)
                if relative == "":
                    if not member.isdir():
                        raise ExtractError(f"archive entry {member.name!r} must be the top directory, not a file")
                    if "" in seen:
                        raise ExtractError(f"duplicate archive entry {member.name!r}")
                    seen[""] = member.name
                    continue
                key = _collision_key(relative)
                if key in seen:
                    same = seen[key] == member.name
                    raise ExtractError(
                        f"duplicate archive entry {member.name!r}"
                        + ("" if same else f" (collides with {seen[key]!r} on case-insensitive file systems)")
                    )
                seen[key] = member.name
                parents = PurePosixPath(relative).parents
                for parent in parents:
                    if parent.as_posix() in files:
                        raise ExtractError(f"archive entry {member.name!r} is below {parent.as_posix()!r}, which is a file")
                _check_filter(member, relative, dest)
                target = dest.joinpath(*relative.split("/"))
                for parent in reversed(list(parents)[:-1]):  # outermost first, without '.'
                    parent_path = dest.joinpath(*parent.parts)
                    if not parent_path.exists():
                        _make_dir(parent_path)
                        implicit_dirs.add(parent.as_posix())
                if member.isdir():
                    if relative in implicit_dirs:
                        continue  # already created for an earlier file
                    _make_dir(target)
                    continue
                if member.size > max_total_bytes - total:
                    raise ExtractError(
                        f"archive entry {member.name!r} ({member.size} bytes) takes the files over the "
                        f"{max_total_bytes}-byte limit"
                    )
                if total + member.size > ratio_cap:
                    raise ExtractError(
                        f"archive entry {member.name!r} takes the files to {total + member.size} bytes, more than "
                        f"{max_ratio:g} times the {archive_size}-byte archive; refusing a likely tar bomb"
                    )
                if not _inside(dest, target):
                    raise ExtractError(f"archive entry {member.name!r} would be written outside {dest}")
                total += _copy_member(tar, member, target, max_total_bytes - total)
                files.add(relative)
                written.append(relative)
    except ExtractError:
        raise
    except (tarfile.TarError, gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise ExtractError(f"{archive.name} is not a valid gzip-compressed tar archive: {exc}") from exc
    if not written:
        raise ExtractError(f"{archive.name} contains no files under {prefix + '/'!r}")
    return written


def _check_filter(member: tarfile.TarInfo, relative: str, dest: Path) -> None:
    """The standard library's 'data' filter as a second opinion (Python 3.11.4+)."""
    data_filter = getattr(tarfile, "data_filter", None)
    if data_filter is None:
        return
    try:
        data_filter(member.replace(name=relative, deep=False), str(dest))
    except tarfile.FilterError as exc:
        raise ExtractError(f"archive entry {member.name!r} refused: {exc}") from exc


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path, budget: int) -> int:
    """Write one regular file (mode 0644, never through a link, never over a file); return its size."""
    source = tar.extractfile(member)
    if source is None:  # not a regular file after all
        raise ExtractError(f"archive entry {member.name!r} has no file data")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(target, flags, FILE_MODE)
    except OSError as exc:
        raise ExtractError(f"cannot create {member.name!r}: {exc.strerror or exc}") from exc
    size = 0
    with source, os.fdopen(fd, "wb") as out:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(out.fileno(), FILE_MODE)
            while chunk := source.read(_CHUNK):
                size += len(chunk)
                if size > member.size or size > budget:
                    raise ExtractError(f"archive entry {member.name!r} holds more data than it declares or the limit allows")
                out.write(chunk)
        except OSError as exc:
            if isinstance(exc, gzip.BadGzipFile):
                raise
            raise ExtractError(f"cannot write {member.name!r}: {exc.strerror or exc}") from exc
    if not hasattr(os, "fchmod"):
        os.chmod(target, FILE_MODE)
    if size != member.size:
        raise ExtractError(f"archive entry {member.name!r} is truncated ({size} of {member.size} bytes)")
    if not stat.S_ISREG(os.lstat(target).st_mode):
        raise ExtractError(f"archive entry {member.name!r} did not become a regular file")
    return size
