"""File-system writes that a kill or another process cannot leave half done, with modes the umask
does not decide.

- ``atomic_write_*``: a temporary file in the same directory, fsynced, chmodded, renamed over the target.
- ``replace_dir``: a finished directory swapped in by two renames (``target`` -> ``.target-old-PID``,
  staging -> ``target``), the old one removed last. A kill between the renames leaves no ``target``
  but a complete ``.target-old-PID``; ``recover_dir`` (run holding the lock that every swap of
  ``target`` holds, e.g. ``client/install.py``'s per-version lock) renames it back, or removes
  what a finished swap left, so the next command always finds the old or the new directory.
- Modes: every directory and file these helpers create gets its mode set explicitly (``make_dirs``,
  ``open_append``, the ``mode`` of ``atomic_write_*``; a directory created for a file gets the file's
  mode plus the search bits: 0600 -> 0700, 0644 -> 0755). The state directory uses ``PRIVATE_*``
  for everything about the user (configuration, pins, sessions, caches, locks, scratch space) and
  ``SHARED_*`` only for installed packs (copies of what registries publish).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SHARED_DIR = 0o755
SHARED_FILE = 0o644


def dir_mode_for(file_mode: int) -> int:
    """The mode of a directory made to hold files of *file_mode*: each read bit gains its search bit."""
    return file_mode | (file_mode & 0o444) >> 2


def make_dirs(path: Path | str, mode: int = PRIVATE_DIR) -> Path:
    """``mkdir -p`` in which every directory created gets exactly *mode*, whatever the umask;
    directories that exist keep their mode. Returns *path* as a ``Path``."""
    path = Path(path)
    missing = []
    here = path
    while not os.path.isdir(here):
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:
            if not os.path.isdir(directory):
                raise
            continue  # another process made it (and sets its mode)
        os.chmod(directory, mode)  # mkdir's mode is filtered by the umask
    return path


def open_append(path: Path | str, mode: int = PRIVATE_FILE) -> BinaryIO:
    """*path* opened for appending (binary), created with exactly *mode*; its directory is made as by ``make_dirs``."""
    path = Path(path)
    make_dirs(path.parent, dir_mode_for(mode))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        os.fchmod(fd, mode) if hasattr(os, "fchmod") else os.chmod(path, mode)
        return os.fdopen(fd, "ab")
    except BaseException:
        os.close(fd)
        raise


def atomic_write_text(path: Path, text: str, mode: int = 0o644) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644, *, newer: bool = False) -> int:
    """Write *data* to *path* by a rename of a complete, fsynced temp file; the new file's mtime in ns.
    The file gets *mode*, missing directories ``dir_mode_for(mode)`` (neither depends on the umask).
    With *newer*, that mtime is later than the replaced file's even when both writes fall in one tick
    of the file system's clock (Linux stamps files with a clock that ticks every few milliseconds), so
    readers that only stat *path* never take two versions for one; writers must then be serialised."""
    path = Path(path)
    make_dirs(path.parent, dir_mode_for(mode))
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


def old_dir_name(target: Path) -> str:
    """The name ``replace_dir`` gives the directory it replaces while this process swaps *target*."""
    return f".{target.name}-old-{os.getpid()}"


def swap_leftovers(target: Path) -> list[Path]:
    """The replaced directories of *target* still beside it (``.NAME-old-PID``: a swap was killed
    before it removed them, or is under way), newest first."""
    pattern = re.compile(re.escape(f".{target.name}-old-") + r"[0-9]+")
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    found = [target.parent / name for name in names if pattern.fullmatch(name)]

    def newest(path: Path) -> int:
        try:
            return os.stat(path).st_mtime_ns
        except OSError:
            return 0

    return sorted(found, key=newest, reverse=True)


def replace_dir(staging: Path, target: Path) -> None:
    """Put the finished directory *staging* at *target* by renames; an existing *target* is
    removed only once the new one is in place (and restored if the swap fails). A kill between
    the renames leaves ``.TARGET-old-PID`` and no *target*: ``recover_dir`` puts it back."""
    import shutil

    os.chmod(staging, SHARED_DIR)
    if not target.exists():
        os.rename(staging, target)
        return
    old = target.with_name(old_dir_name(target))
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def recover_dir(target: Path, complete: Callable[[Path], bool] = os.path.isdir) -> list[str]:
    """Undo or finish the swaps of *target* that a kill interrupted (see ``replace_dir``): when *target*
    is missing, the newest leftover *complete* accepts is renamed back to it; every other leftover is
    removed. Returns what was done, one line each. Call it only holding the lock every swap of
    *target* holds (a swap under way looks exactly like a killed one)."""
    import shutil

    done: list[str] = []
    for leftover in swap_leftovers(target):
        if not os.path.lexists(target) and complete(leftover):
            os.rename(leftover, target)
            done.append(f"restored {target.name} from {leftover.name}")
            continue
        shutil.rmtree(leftover, ignore_errors=True)
        done.append(f"removed {leftover.name}")
    return done


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
