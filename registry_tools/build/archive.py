"""Deterministic pack archives. Pure apart from reading the files it packs.

Same files in, same bytes out: entries sorted, one fixed mtime, uid/gid 0 and
no user names, modes 0644/0755, USTAR headers, and a gzip header without a
file name or time. Links and special files are refused (archives must never
carry them).
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

from registry_tools.errors import ArwError

FIXED_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time ZIP and most tools accept
GZIP_LEVEL = 6


class ArchiveError(ArwError):
    """A pack directory cannot be archived (links, special files, unreadable)."""


def _info(name: str, mtime: int, *, is_dir: bool, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = 0o755 if is_dir else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = mtime
    info.size = size
    return info


def archive_bytes(version_dir: Path, prefix: str, mtime: int = FIXED_EPOCH) -> bytes:
    """A .tar.gz of *version_dir* with every entry under ``prefix/``."""
    entries: list[tuple[str, Path]] = []
    for path in version_dir.rglob("*"):
        if path.is_symlink():
            raise ArchiveError(f"{path} is a symbolic link; pack archives carry regular files only")
        if not (path.is_file() or path.is_dir()):
            raise ArchiveError(f"{path} is not a regular file or directory")
        entries.append((path.relative_to(version_dir).as_posix(), path))
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(_info(prefix, mtime, is_dir=True))
        for relative, path in sorted(entries):
            name = f"{prefix}/{relative}"
            if path.is_dir():
                tar.addfile(_info(name, mtime, is_dir=True))
            else:
                data = path.read_bytes()
                tar.addfile(_info(name, mtime, is_dir=False, size=len(data)), io.BytesIO(data))
    gz_buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz_buffer, mtime=0, compresslevel=GZIP_LEVEL) as gz:
        gz.write(tar_buffer.getvalue())
    return gz_buffer.getvalue()
