"""Sessions in ``$ARW_HOME/sessions/``.

- ``session-<id>.json``: the whole session in one file: its metadata, deployment (parameters,
  resources, outputs), runtime state and monitoring history, as four parts;
- ``active_sessions.json``: one summary row per session, so ``list`` reads one file.

All or nothing: a write replaces ``session-<id>.json`` by one rename of a complete temp file
(``fsutil.atomic_write_newer``), and that rename is the update's only commit point. A reader,
with or without the lock, opens the old file or the new one, never a mix of two updates, and a
writer killed at any point leaves the previous session whole. Writers hold one file lock
(``.lock``), so updates are serialised.

The previous release kept a session in two files, ``session-<id>.yaml`` (metadata + deployment)
and ``session-<id>.state`` (state + monitoring, JSON), renamed one after the other: a kill between
the two renames tore the session. Such sessions are still read and listed (their registry rows are
stamped with both files' mtimes) and are migrated by their next write: the new file first (the
commit), then the two old ones are deleted. Where ``session-<id>.json`` exists it is the
session, and two-file leftovers beside it are ignored; a reader that finds the old files gone
mid-read reads the new one.

Sweeping: every writer, once it holds the lock, removes what killed writers left: temp files
of this directory's own files (``.session-<id>.json.XXXXXXXX.tmp``, ``.active_sessions.json.*.tmp``),
two-file leftovers beside a ``.json``, and a ``.state`` whose ``.yaml`` an interrupted remove of the
previous release already deleted. Every writer of these files holds the lock (the previous release's
too), so none of them can be in use by a live writer; other names are never touched (filelock's own
files, for one).

The registry is checked against the directory on every listing (names and stamps, no parsing):
rows that disagree are rebuilt from the session files, and a missing or corrupt registry is rebuilt
whole (``registry_file`` reads it). The registry is written after the session file, so a kill between
the two leaves a row whose stamp no longer matches, rebuilt on the next listing. A session file that
cannot be read becomes a problem line, not an error for the others.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from registry_tools.fsutil import atomic_write_newer, atomic_write_text, make_dirs, sweep_temp_files
from registry_tools.sessions import registry_file
from registry_tools.sessions.interface import MAX_ID_ATTEMPTS, CorruptSession, SessionNotFound, StoreError
from registry_tools.sessions.model import Session, SessionError, check_id
from registry_tools.sessions.registry_file import META, PREFIX, RECORD, REGISTRY, STATE
from registry_tools.yamlio import load_yaml

LOCK_TIMEOUT_S = 30.0
RECORD_FORMAT = 2  # the previous release's two files were format 1


def default_dir() -> Path:
    from registry_tools.paths import state_dir

    return state_dir() / "sessions"


def _ours(name: str) -> bool:
    """Whether *name* is one of the files this store writes (the targets of its temp files)."""
    return name == REGISTRY or (name.startswith(PREFIX) and name.endswith((RECORD, META, STATE)))


class LocalStore:
    def __init__(self, directory: Path | None = None):
        self.dir = Path(directory) if directory else default_dir()
        self.location = str(self.dir)

    # --- files ---------------------------------------------------------------------------------

    def _file(self, session_id: str) -> Path:
        return self.dir / f"{PREFIX}{session_id}{RECORD}"

    def _meta(self, session_id: str) -> Path:  # previous release
        return self.dir / f"{PREFIX}{session_id}{META}"

    def _state(self, session_id: str) -> Path:  # previous release
        return self.dir / f"{PREFIX}{session_id}{STATE}"

    def _exists(self, session_id: str) -> bool:
        return self._file(session_id).exists() or self._meta(session_id).exists()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the store's lock, and sweep what killed writers left first."""
        from filelock import FileLock, Timeout

        make_dirs(self.dir)  # 0700, whatever the umask
        lock = FileLock(str(self.dir / ".lock"), timeout=LOCK_TIMEOUT_S, mode=0o600)
        try:
            lock.acquire()
        except Timeout:
            raise StoreError(f"{self.dir}: another aws-research-wizard process holds the session lock "
                             f"for more than {LOCK_TIMEOUT_S:.0f} s") from None
        try:
            self._sweep()
            yield
        finally:
            lock.release()

    def _sweep(self) -> None:
        """Remove killed writers' leftovers (only ever called holding the lock)."""
        names = set(os.listdir(self.dir))
        sweep_temp_files(self.dir, _ours, names)
        for name in names:
            if not name.startswith(PREFIX) or not name.endswith((META, STATE)):
                continue
            base = name[:-len(META if name.endswith(META) else STATE)]
            if base + RECORD in names and not self._older(name, base + RECORD):
                continue  # written after the migration: a previous release's session with the same id, kept
            if base + RECORD in names or (name.endswith(STATE) and base + META not in names):
                with suppress(OSError):  # a sweep never fails a write
                    os.unlink(self.dir / name)

    def _older(self, name: str, than: str) -> bool:
        try:
            return os.stat(self.dir / name).st_mtime_ns <= os.stat(self.dir / than).st_mtime_ns
        except OSError:
            return False

    @staticmethod
    def _text(path: Path, what: str) -> str:
        """*path*'s text; FileNotFoundError passes through."""
        try:
            return path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StoreError(f"{path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise CorruptSession(f"{path}: corrupt {what} (not UTF-8 text)") from None

    def _read(self, session_id: str) -> Session:
        check_id(session_id)
        try:
            return self._read_record(session_id)
        except FileNotFoundError:
            return self._read_two_files(session_id)

    def _read_record(self, session_id: str) -> Session:
        path = self._file(session_id)
        text = self._text(path, "session file")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CorruptSession(f"{path}: corrupt session file ({exc})") from None
        if not isinstance(data, dict) or "format" not in data:
            raise CorruptSession(f"{path}: corrupt session file (not a session record)")
        if data["format"] != RECORD_FORMAT:
            raise CorruptSession(f"{path}: corrupt session file (record format {data['format']!r}, "
                                 f"this version reads {RECORD_FORMAT})")
        return self._session(path, session_id, data.get("metadata"), data.get("state"), data.get("deployment"),
                             data.get("monitoring"))

    def _read_two_files(self, session_id: str) -> Session:
        """A session as the previous release wrote it. Those files are never rewritten, only deleted once
        ``session-<id>.json`` holds the session, so when one is gone mid-read the new file is read."""
        import yaml

        meta_path, state_path = self._meta(session_id), self._state(session_id)
        try:
            meta_text = self._text(meta_path, "session file")
        except FileNotFoundError:
            try:
                return self._read_record(session_id)
            except FileNotFoundError:
                raise SessionNotFound(f"no session {session_id} in {self.dir}") from None
        try:
            state_text = self._text(state_path, "session state")
        except FileNotFoundError:
            try:
                return self._read_record(session_id)
            except FileNotFoundError:
                state_text = "{}"  # a create of the previous release interrupted after the .yaml
        try:
            meta = load_yaml(meta_text)
        except yaml.YAMLError as exc:
            raise CorruptSession(f"{meta_path}: corrupt session file ({str(exc).splitlines()[0]})") from None
        try:
            state = json.loads(state_text)
        except ValueError as exc:
            raise CorruptSession(f"{state_path}: corrupt session state ({exc})") from None
        return self._session(meta_path, session_id, meta, state, meta,
                             state.get("monitoring") if isinstance(state, dict) else None)

    @staticmethod
    def _session(path: Path, session_id: str, metadata: object, state: object, deployment: object,
                 monitoring: object) -> Session:
        try:
            session = Session.from_parts(metadata, state, deployment, monitoring)
        except SessionError as exc:
            raise CorruptSession(f"{path}: corrupt session file ({exc})") from None
        if session.id != session_id:
            raise CorruptSession(f"{path}: holds session {session.id}, not {session_id}")
        return session

    def _write(self, session: Session) -> None:
        record = {"format": RECORD_FORMAT, "metadata": session.metadata(), "deployment": session.deployment(),
                  "state": session.state(), "monitoring": session.monitoring_state()}
        atomic_write_newer(self._file(session.id), (json.dumps(record, indent=1) + "\n").encode("utf-8"), mode=0o600)
        for old in (self._meta(session.id), self._state(session.id)):  # migrated: the record above is the session
            old.unlink(missing_ok=True)

    # --- registry ------------------------------------------------------------------------------

    def _stamp(self, session_id: str) -> list[int] | None:
        return registry_file.stamp(self.location, session_id)

    def _load_registry(self) -> dict | None:
        return registry_file.load(self.location)

    def _save_registry(self, rows: dict) -> None:
        atomic_write_text(self.dir / REGISTRY, registry_file.dump(rows), mode=0o600)

    def _row(self, session: Session) -> dict:
        return {**session.summary(), "stamp": self._stamp(session.id)}

    def _ids_on_disk(self) -> set[str]:
        return registry_file.ids_on_disk(self.location)

    # --- the store -----------------------------------------------------------------------------

    def create(self, make: Callable[[int], Session]) -> Session:
        with self._locked():
            for attempt in range(MAX_ID_ATTEMPTS):
                session = make(attempt)
                check_id(session.id)
                if not self._exists(session.id):
                    break
            else:
                raise StoreError(f"no free session id after {MAX_ID_ATTEMPTS} attempts in {self.dir}")
            self._write(session)
            self._set_row(session)
        return session

    def get(self, session_id: str) -> Session:
        return self._read(session_id)

    def update(self, session_id: str, change: Callable[[Session], Session]) -> Session:
        with self._locked():
            before = self._read(session_id)
            after = change(before)
            if after.id != before.id:
                raise StoreError("a session update must not change its id")
            if after != before:
                self._write(after)
            self._set_row(after)
            return after

    def remove(self, session_id: str) -> None:
        check_id(session_id)
        with self._locked():
            if not self._exists(session_id):
                raise SessionNotFound(f"no session {session_id} in {self.dir}")
            # The previous release's files first: while session-<id>.json exists they are not the session,
            # and without the .yaml a two-file session is gone, whatever happens next.
            for path in (self._meta(session_id), self._state(session_id), self._file(session_id)):
                path.unlink(missing_ok=True)
            rows = self._load_registry()
            if rows is not None:
                rows.pop(session_id, None)
                self._save_registry(rows)

    def _set_row(self, session: Session) -> None:
        rows = self._load_registry()
        if rows is None:
            rows = self._rebuild_rows(set(), {})[0]
        rows[session.id] = self._row(session)
        self._save_registry(rows)

    def _rebuild_rows(self, keep: set[str], rows: dict) -> tuple[dict, list[str]]:
        """Rows for every session on disk, re-reading all but *keep* (taken from *rows*)."""
        fresh, problems = {}, []
        for session_id in sorted(self._ids_on_disk()):
            if session_id in keep:
                fresh[session_id] = rows[session_id]
                continue
            try:
                fresh[session_id] = self._row(self._read(session_id))
            except SessionNotFound:
                continue
            except (StoreError, SessionError) as exc:  # corrupt or unreadable: reported, the others still list
                problems.append(str(exc))
        return fresh, problems

    def summaries(self) -> tuple[list[dict], list[str]]:
        """Every session's summary row, newest first, and a line per unreadable session."""
        current = registry_file.current_rows(self.location)
        if current is not None:
            return current, []
        with self._locked():
            known = self._load_registry() or {}
            rows, problems = self._rebuild_rows(registry_file.current_ids(self.location, known, self._ids_on_disk()), known)
            self._save_registry(rows)
        return registry_file.ordered(rows), problems
