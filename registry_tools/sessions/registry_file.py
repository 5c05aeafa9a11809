"""The local session registry, ``$ARW_HOME/sessions/active_sessions.json``, read with ``os`` and
``json`` only: ``sessions list`` answers from it before click or the session model load.

Each row carries the mtime, inode and size of its session's file, ``session-<id>.json``
(``stamp``; for a session still in the previous release's two files, ``session-<id>.yaml`` and
``.state``, those of both). A session file's mtime grows with every write (``fsutil.atomic_write_newer``),
so a stamp names one version of it. The rows are current when the directory holds exactly their
sessions with exactly those stamps, and the registry is of this release (``REGISTRY_VERSION``: rows
written by an older release may lack fields its summaries now have); otherwise ``current_rows``
returns None and ``LocalStore.summaries`` rebuilds the rows that disagree from the session files.
"""

from __future__ import annotations

import json
import os

REGISTRY = "active_sessions.json"
REGISTRY_VERSION = 3  # 3: stamps of session-<id>.json with inode and size. An older registry is rebuilt once
PREFIX, RECORD = "session-", ".json"  # session-<id>.json: the whole session, replaced by one rename
META, STATE = ".yaml", ".state"  # the previous release's two files per session, read and migrated on the next write


def _of(info: os.stat_result) -> list[int]:
    # mtime alone may repeat on file systems with coarse timestamps; a rename also brings a new inode
    return [info.st_mtime_ns, info.st_ino, info.st_size]


def stamp(directory: str, session_id: str) -> list[int] | None:
    base = os.path.join(directory, PREFIX + session_id)
    try:
        return _of(os.stat(base + RECORD))
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        return _of(os.stat(base + META)) + _of(os.stat(base + STATE))
    except OSError:
        return None


def load(directory: str) -> dict | None:
    """The registry's rows by id, or None when it is missing or not one."""
    try:
        with open(os.path.join(directory, REGISTRY), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != REGISTRY_VERSION or not isinstance(data.get("sessions"), dict):
        return None
    return data["sessions"]


def dump(rows: dict) -> str:
    return json.dumps({"version": REGISTRY_VERSION, "sessions": rows}, separators=(",", ":"))


def ids_on_disk(directory: str) -> set[str]:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return set()
    return {n[len(PREFIX):-len(suffix)] for n in names if n.startswith(PREFIX)
            for suffix in (RECORD, META) if n.endswith(suffix)}


def current_ids(directory: str, rows: dict, on_disk: set[str]) -> set[str]:
    """The ids whose rows still describe their files."""
    return {i for i, row in rows.items() if i in on_disk and isinstance(row, dict) and row.get("stamp") == stamp(directory, i)}


def current_rows(directory: str) -> list[dict] | None:
    """Every row, newest first, when all of them are current; else None."""
    rows = load(directory)
    if rows is None:
        return None
    on_disk = ids_on_disk(directory)
    if len(rows) != len(on_disk) or current_ids(directory, rows, on_disk) != on_disk:
        return None
    return ordered(rows)


def ordered(rows: dict) -> list[dict]:
    """Rows newest first, without their stamps."""
    by_age = sorted(rows.values(), key=lambda r: (r.get("launch_time", ""), r.get("id", "")), reverse=True)
    return [{k: v for k, v in row.items() if k != "stamp"} for row in by_age]
