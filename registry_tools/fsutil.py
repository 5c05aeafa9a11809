"""Atomic file writes: temp file in the same directory, fsync, rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path


def atomic_write_text(path: Path, text: str, mode: int = 0o644) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644, *, newer: bool = False) -> int:
    """Write *data* to *path* by a rename of a complete, fsynced temp file; the new file's mtime in ns.
    With *newer*, that mtime is later than the replaced file's even when both writes fall in one tick
    of the file system's clock (Linux stamps files with a clock that ticks every few milliseconds), so
    readers that only stat *path* never take two versions for one; writers must then be serialised."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = None
    if newer:
        with contextlib.suppress(FileNotFoundError):
            previous = os.stat(path).st_mtime_ns
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            written = os.fstat(fh.fileno())
            mtime = written.st_mtime_ns
            if previous is not None and mtime <= previous:
                mtime = previous + 1
                os.utime(fh.fileno() if os.utime in os.supports_fd else tmp, ns=(written.st_atime_ns, mtime))
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return mtime


def replace_dir(staging: Path, target: Path) -> None:
    """Put the finished directory *staging* at *target* by renames; an existing *target* is
    removed only once the new one is in place (and restored if the swap fails)."""
    import shutil

    os.chmod(staging, 0o755)
    if not target.exists():
        os.rename(staging, target)
        return
    old = target.with_name(f".{target.name}-old-{os.getpid()}")
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (used to tell live scratch files from leftovers)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def atomic_write_newer(path: Path, data: bytes, mode: int = 0o644) -> int:
    """``atomic_write_bytes`` with ``newer=True``: the new file's mtime (ns), later than the replaced one's."""
    return atomic_write_bytes(path, data, mode, newer=True)


def temp_file_target(name: str) -> str | None:
    """The file a temporary file of ``atomic_write_*`` / ``atomic_write_newer`` was for (``.NAME.XXXXXXXX.tmp``
    -> ``NAME``), or None for any other name."""
    if not (name.startswith(".") and name.endswith(".tmp")):
        return None
    target, dot, random_part = name[1:-len(".tmp")].rpartition(".")
    if not dot or not target or not random_part or not all(c.isascii() and (c.isalnum() or c == "_") for c in random_part):
        return None
    return target


def sweep_temp_files(directory: Path, owned: Callable[[str], bool], names: Iterable[str] | None = None) -> list[str]:
    """Remove the temporary files that killed ``atomic_write_*`` writers left in *directory* for the files
    *owned* accepts (by name); returns their names. *names*: the directory's entries, when the caller has
    listed it already. Call it only when no writer can still be writing them, e.g. holding the lock that
    every writer of those files in *directory* holds."""
    removed: list[str] = []
    if names is None:
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            return removed
    for name in names:
        target = temp_file_target(name)
        if target is not None and owned(target):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:  # gone already, or not ours to remove: a sweep never fails a write
                continue
            removed.append(name)
    return removed
