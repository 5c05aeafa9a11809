"""Sessions in S3, shared by every machine of one account: ``s3://bucket/prefix/<account>/sessions/<id>/``.

- ``metadata.yaml``: what was deployed and its runtime state (YAML);
- ``deployment.json``: parameters, resources and outputs;
- ``monitoring.state``: the monitor's samples (JSON).

``create`` reserves the id by writing ``metadata.yaml`` create-only (``If-None-Match: *``;
a taken id tries the next one). ``update`` reads the three objects with their ETags and
writes back only the changed ones with ``If-Match``; a conflict (412, or 409 from a
racing conditional write) re-reads and re-applies ``change``, with a short random backoff,
so a concurrent update is never lost. A session's objects are not written as one
transaction: an update interrupted between two objects leaves each object whole, and an
update that conflicts after writing some objects re-derives them from what it first read.
``summaries`` lists the prefix and reads each session's metadata and monitoring; a session
that cannot be read becomes a problem line, not an error for the others.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from registry_tools.sessions.interface import MAX_ID_ATTEMPTS, CorruptSession, SessionNotFound, StoreError
from registry_tools.sessions.model import ID_RE, Session, SessionError, check_id

META, DEPLOYMENT, MONITORING = "metadata.yaml", "deployment.json", "monitoring.state"
PARTS = (META, DEPLOYMENT, MONITORING)
WRITE_ORDER = (DEPLOYMENT, MONITORING, META)  # the state (status) lands last
CONTENT_TYPES = {META: "application/yaml", DEPLOYMENT: "application/json", MONITORING: "application/json"}
UPDATE_ATTEMPTS = 30
BACKOFF_S, BACKOFF_MAX_S = 0.02, 1.0  # the random pause before retry n is at most BACKOFF_S * 2**n, capped
LIST_WORKERS = 8
NOT_FOUND = ("NoSuchKey", "404", "NotFound")
CONFLICT = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
ACCOUNT_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_state_url(url: str) -> tuple[str, str]:
    """``s3://bucket[/prefix]`` -> (bucket, prefix without surrounding slashes); ``StoreError`` otherwise."""
    if not isinstance(url, str) or not url.startswith("s3://"):
        raise StoreError(f"not an S3 location: {url!r} (expected s3://bucket or s3://bucket/prefix)")
    bucket, _, prefix = url[5:].partition("/")
    prefix = prefix.strip("/")
    if not BUCKET_RE.match(bucket) or ".." in bucket:
        raise StoreError(f"not an S3 bucket name: {bucket!r} in {url!r} (3-63 lowercase letters, digits, dots, hyphens)")
    if prefix and (any(part in ("", ".", "..") for part in prefix.split("/"))
                   or any(ord(ch) < 32 or ord(ch) == 127 for ch in prefix)):
        raise StoreError(f"not a usable S3 prefix: {prefix!r} in {url!r} (no empty, '.' or '..' segments, no control characters)")
    return bucket, prefix


class _Conflict(Exception):
    """A conditional write lost a race (the object changed or vanished since it was read)."""


def _parts(session: Session) -> dict[str, dict]:
    return {META: {**session.metadata(), **session.state()}, DEPLOYMENT: session.deployment(),
            MONITORING: session.monitoring_state()}


def _encode(part: str, value: dict) -> bytes:
    if part == META:
        import yaml

        header = "# aws-research-wizard session (deployment.json and monitoring.state beside it)\n"
        return (header + yaml.safe_dump(value, sort_keys=False)).encode("utf-8")
    if part == DEPLOYMENT:
        return json.dumps(value, indent=1).encode("utf-8")
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _code(exc: BaseException) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


class S3Store:
    def __init__(self, url: str, client: Any, account: str):
        self.bucket, prefix = parse_state_url(url)
        account = str(account)
        if not ACCOUNT_RE.match(account):
            raise StoreError(f"not an AWS account id: {account!r}")
        self.base = f"{prefix}/{account}/sessions/" if prefix else f"{account}/sessions/"
        self.location = f"s3://{self.bucket}/{self.base}"
        self.s3 = client

    # --- objects -------------------------------------------------------------------------------

    def _key(self, session_id: str, part: str) -> str:
        return f"{self.base}{session_id}/{part}"

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _failure(self, key: str, exc: Exception) -> StoreError:
        """A StoreError naming the object and the AWS error code (never the request or credentials)."""
        error = getattr(exc, "response", {}).get("Error", {})
        if error:
            return StoreError(f"{self._where(key)}: {error.get('Code') or type(exc).__name__}: "
                              f"{error.get('Message') or 'request failed'}")
        return StoreError(f"{self._where(key)}: {type(exc).__name__}: {exc}")

    def _fetch(self, key: str) -> tuple[bytes, str] | None:
        """The object's bytes and ETag, or None if it does not exist."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
            try:
                data = response["Body"].read()
            finally:
                response["Body"].close()
        except ClientError as exc:
            if _code(exc) in NOT_FOUND:
                return None
            raise self._failure(key, exc) from None
        except BotoCoreError as exc:
            raise self._failure(key, exc) from None
        return data, response["ETag"]

    def _put(self, key: str, part: str, value: dict, *, if_match: str | None = None,
             if_none_match: bool = False) -> str:
        """Write one object (conditionally); its new ETag. ``_Conflict`` if the condition failed."""
        from botocore.exceptions import BotoCoreError, ClientError

        condition = {"IfMatch": if_match} if if_match else {"IfNoneMatch": "*"} if if_none_match else {}
        try:
            response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=_encode(part, value),
                                          ContentType=CONTENT_TYPES[part], **condition)
        except ClientError as exc:
            if condition and _code(exc) in (*CONFLICT, *NOT_FOUND):
                raise _Conflict(key) from None
            raise self._failure(key, exc) from None
        except BotoCoreError as exc:
            raise self._failure(key, exc) from None
        return response["ETag"]

    def _delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) not in NOT_FOUND:
                raise self._failure(key, exc) from None
        except BotoCoreError as exc:
            raise self._failure(key, exc) from None

    def _decode(self, key: str, part: str, data: bytes) -> object:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptSession(f"{self._where(key)}: corrupt session object (not UTF-8 text)") from None
        if part == META:
            import yaml

            try:
                return yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise CorruptSession(f"{self._where(key)}: corrupt session object "
                                     f"({str(exc).splitlines()[0] if str(exc) else 'invalid YAML'})") from None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise CorruptSession(f"{self._where(key)}: corrupt session object ({exc})") from None

    def _read(self, session_id: str, parts: tuple[str, ...] = PARTS) -> tuple[Session, dict[str, str | None]]:
        """The session from its objects, and each object's ETag (None: absent, read as empty)."""
        check_id(session_id)
        values: dict[str, object] = {}
        etags: dict[str, str | None] = {}
        for part in parts:
            key = self._key(session_id, part)
            found = self._fetch(key)
            if found is None:
                if part == META:
                    raise SessionNotFound(f"no session {session_id} in {self.location}")
                values[part], etags[part] = {}, None
                continue
            values[part], etags[part] = self._decode(key, part, found[0]), found[1]
        return self._assemble(session_id, values), etags

    def _assemble(self, session_id: str, values: Mapping[str, object]) -> Session:
        meta = values.get(META)
        where = self._where(self._key(session_id, META))
        try:
            session = Session.from_parts(meta, meta, values.get(DEPLOYMENT), values.get(MONITORING))
        except SessionError as exc:
            raise CorruptSession(f"{where}: corrupt session ({exc})") from None
        if session.id != session_id:
            raise CorruptSession(f"{where}: holds session {session.id}, not {session_id}")
        return session

    # --- the store -----------------------------------------------------------------------------

    def create(self, make: Callable[[int], Session]) -> Session:
        for attempt in range(MAX_ID_ATTEMPTS):
            session = make(attempt)
            check_id(session.id)
            values = _parts(session)
            try:
                self._put(self._key(session.id, META), META, values[META], if_none_match=True)
            except _Conflict:
                continue
            break
        else:
            raise StoreError(f"no free session id after {MAX_ID_ATTEMPTS} attempts in {self.location}")
        # The id is ours; these overwrite anything an interrupted remove left behind.
        for part in (DEPLOYMENT, MONITORING):
            self._put(self._key(session.id, part), part, values[part])
        return session

    def get(self, session_id: str) -> Session:
        return self._read(session_id)[0]

    def update(self, session_id: str, change: Callable[[Session], Session]) -> Session:
        check_id(session_id)
        # Objects this call wrote before a later write conflicted: part -> (our ETag, its value before
        # this update). While our ETag is still current, the retry starts from the old value (so
        # `change` is not applied twice); once another writer has built on it, it is theirs too.
        own: dict[str, tuple[str, dict]] = {}
        settled: set[str] = set()
        for attempt in range(UPDATE_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, min(BACKOFF_MAX_S, BACKOFF_S * 2 ** min(attempt, 10))))
            current, etags = self._read(session_id)
            stored = _parts(current)
            base = dict(stored)
            for part, (etag, previous) in list(own.items()):
                if etags[part] == etag:
                    base[part] = previous
                else:
                    settled.add(part)
                    del own[part]
            before = self._assemble(session_id, base) if own else current
            after = change(before)
            if not isinstance(after, Session) or after.id != before.id:
                raise StoreError("a session update must not change its id")
            wanted = _parts(after)
            try:
                for part in WRITE_ORDER:
                    if part in settled or wanted[part] == stored[part]:
                        continue
                    etag = self._put(self._key(session_id, part), part, wanted[part],
                                     if_match=etags[part], if_none_match=etags[part] is None)
                    own[part] = (etag, base[part])
            except _Conflict:
                continue
            if not settled:
                return after
            return self._assemble(session_id, {p: stored[p] if p in settled else wanted[p] for p in PARTS})
        raise StoreError(f"{self.location}{session_id}/: gave up after {UPDATE_ATTEMPTS} conflicting "
                         f"concurrent updates; try again")

    def remove(self, session_id: str) -> None:
        check_id(session_id)
        meta = self._key(session_id, META)
        if self._fetch(meta) is None:
            raise SessionNotFound(f"no session {session_id} in {self.location}")
        self._delete(meta)  # the session is gone from here on; the rest is cleanup
        for part in (DEPLOYMENT, MONITORING):
            self._delete(self._key(session_id, part))

    def _list_ids(self) -> tuple[list[str], list[str]]:
        from botocore.exceptions import BotoCoreError, ClientError

        ids, problems = [], []
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.base):
                for entry in page.get("Contents", ()):
                    key = entry["Key"]
                    name = key[len(self.base):]
                    if not name.endswith(f"/{META}"):
                        continue
                    session_id = name[:-len(META) - 1]
                    if "/" in session_id or not ID_RE.match(session_id):
                        problems.append(f"{self._where(key)}: not a session id: {session_id!r}")
                        continue
                    ids.append(session_id)
        except ClientError as exc:
            raise self._failure(self.base, exc) from None
        except BotoCoreError as exc:
            raise self._failure(self.base, exc) from None
        return ids, problems

    def summaries(self) -> tuple[list[dict], list[str]]:
        """Every session's summary row, newest first, and a line per unreadable session."""
        from concurrent.futures import ThreadPoolExecutor

        ids, problems = self._list_ids()

        def row(session_id: str) -> dict | str | None:
            try:
                return self._read(session_id, (META, MONITORING))[0].summary()
            except SessionNotFound:
                return None  # removed since the listing
            except (StoreError, SessionError) as exc:
                return str(exc)

        if len(ids) > 1:
            with ThreadPoolExecutor(max_workers=min(LIST_WORKERS, len(ids))) as pool:
                results = list(pool.map(row, ids))
        else:
            results = [row(i) for i in ids]
        rows = [r for r in results if isinstance(r, dict)]
        problems += [r for r in results if isinstance(r, str)]
        rows.sort(key=lambda r: (r.get("launch_time", ""), r.get("id", "")), reverse=True)
        return rows, problems
