"""Sessions in ``$ARW_HOME/sessions/``.

- ``session-<id>.yaml``: what was deployed (metadata, parameters, resources, outputs);
- ``session-<id>.state``: runtime state and monitoring history (JSON);
- ``active_sessions.json``: one summary row per session, so ``list`` reads one file.

Every write is atomic (temp file + rename) and made under one file lock
(``.lock``), so concurrent updates are serialised and a killed process leaves the
old or the new file, never a torn one. The registry is checked against the
directory on every listing (names and mtimes, no parsing); rows that disagree are
rebuilt from the session files, and a missing or corrupt registry is rebuilt
whole (``registry_file`` reads it). A session file that cannot be read becomes a problem line, not an error
for the others.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from registry_tools.fsutil import atomic_write_text
from registry_tools.sessions import registry_file
from registry_tools.sessions.interface import MAX_ID_ATTEMPTS, CorruptSession, SessionNotFound, StoreError
from registry_tools.sessions.model import Session, SessionError, check_id
from registry_tools.sessions.registry_file import META, PREFIX, REGISTRY, STATE
from registry_tools.yamlio import load_yaml

LOCK_TIMEOUT_S = 30.0


def default_dir() -> Path:
    from registry_tools.config import state_dir

    return state_dir() / "sessions"


class LocalStore:
    def __init__(self, directory: Path | None = None):
        self.dir = Path(directory) if directory else default_dir()
        self.location = str(self.dir)

    # --- files ---------------------------------------------------------------------------------

    def _meta(self, session_id: str) -> Path:
        return self.dir / f"{PREFIX}{session_id}{META}"

    def _state(self, session_id: str) -> Path:
        return self.dir / f"{PREFIX}{session_id}{STATE}"

    def _lock(self):
        from filelock import FileLock, Timeout

        self.dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.dir / ".lock"), timeout=LOCK_TIMEOUT_S)
        try:
            return lock.acquire()  # a context manager that releases it
        except Timeout:
            raise StoreError(f"{self.dir}: another aws-research-wizard process holds the session lock "
                             f"for more than {LOCK_TIMEOUT_S:.0f} s") from None

    def _read(self, session_id: str) -> Session:
        import yaml

        check_id(session_id)
        meta_path = self._meta(session_id)
        try:
            meta_text = meta_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SessionNotFound(f"no session {session_id} in {self.dir}") from None
        except OSError as exc:
            raise StoreError(f"{meta_path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise CorruptSession(f"{meta_path}: corrupt session file (not UTF-8 text)") from None
        try:
            state_text = self._state(session_id).read_text(encoding="utf-8")
        except FileNotFoundError:
            state_text = "{}"
        except OSError as exc:
            raise StoreError(f"{self._state(session_id)}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise CorruptSession(f"{self._state(session_id)}: corrupt session state (not UTF-8 text)") from None
        try:
            meta = load_yaml(meta_text)
        except yaml.YAMLError as exc:
            raise CorruptSession(f"{meta_path}: corrupt session file ({str(exc).splitlines()[0]})") from None
        try:
            state = json.loads(state_text)
        except ValueError as exc:
            raise CorruptSession(f"{self._state(session_id)}: corrupt session state ({exc})") from None
        try:
            session = Session.from_parts(meta, state, meta, state.get("monitoring") if isinstance(state, dict) else None)
        except SessionError as exc:
            raise CorruptSession(f"{meta_path}: corrupt session file ({exc})") from None
        if session.id != session_id:
            raise CorruptSession(f"{meta_path}: holds session {session.id}, not {session_id}")
        return session

    def _write(self, session: Session, before: Session | None = None) -> None:
        import yaml

        if before is None or before.metadata() != session.metadata() or before.deployment() != session.deployment():
            header = "# aws-research-wizard session (runtime state: the .state file beside it)\n"
            atomic_write_text(self._meta(session.id), header + yaml.safe_dump(
                {**session.metadata(), **session.deployment()}, sort_keys=False), mode=0o600)
        atomic_write_text(self._state(session.id), json.dumps(
            {**session.state(), "monitoring": session.monitoring_state()}, indent=1), mode=0o600)

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
        with self._lock():
            for attempt in range(MAX_ID_ATTEMPTS):
                session = make(attempt)
                check_id(session.id)
                if not self._meta(session.id).exists():
                    break
            else:
                raise StoreError(f"no free session id after {MAX_ID_ATTEMPTS} attempts in {self.dir}")
            self._write(session)
            self._set_row(session)
        return session

    def get(self, session_id: str) -> Session:
        return self._read(session_id)

    def update(self, session_id: str, change: Callable[[Session], Session]) -> Session:
        with self._lock():
            before = self._read(session_id)
            after = change(before)
            if after.id != before.id:
                raise StoreError("a session update must not change its id")
            if after != before:
                self._write(after, before)
            self._set_row(after)
            return after

    def remove(self, session_id: str) -> None:
        check_id(session_id)
        with self._lock():
            if not self._meta(session_id).exists():
                raise SessionNotFound(f"no session {session_id} in {self.dir}")
            self._meta(session_id).unlink()  # first: without it the session is gone, whatever happens next
            self._state(session_id).unlink(missing_ok=True)
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
        rows = registry_file.current_rows(self.location)
        if rows is not None:
            return rows, []
        with self._lock():
            known = self._load_registry() or {}
            rows, problems = self._rebuild_rows(registry_file.current_ids(self.location, known, self._ids_on_disk()), known)
            self._save_registry(rows)
        return registry_file.ordered(rows), problems
