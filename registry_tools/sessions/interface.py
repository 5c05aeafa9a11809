"""What a session store does, and its one error family.

``create(make)`` stores a new session: ``make(attempt)`` builds it (attempt 0, 1, ...
give ``ses_x_YYYYMMDD_HHMM``, ``..._2``, ...) until its id is free, so two sessions
started in the same minute, even on two machines, get distinct ids.
``update(id, change)`` is a read-modify-write that never loses a concurrent update:
the local store holds a file lock, the S3 store retries on a failed ``If-Match``
(re-reading and re-applying ``change``), so ``change`` must be a pure function of the
session it is given. ``summaries()`` lists sessions fast, with a problem line for each
record that cannot be read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from registry_tools.errors import ArwError
from registry_tools.sessions.model import Session

MAX_ID_ATTEMPTS = 50


class StoreError(ArwError):
    """The session store cannot be read or written."""


class SessionNotFound(StoreError):
    pass


class CorruptSession(StoreError):
    """A session's files exist but do not hold a valid session."""


class SessionStore(Protocol):
    location: str  # shown to the user: a directory or s3://bucket/prefix/account/sessions/

    def create(self, make: Callable[[int], Session]) -> Session: ...

    def get(self, session_id: str) -> Session: ...

    def update(self, session_id: str, change: Callable[[Session], Session]) -> Session: ...

    def summaries(self) -> tuple[list[dict], list[str]]: ...

    def remove(self, session_id: str) -> None: ...
