"""Session stores (local directory and S3 on the sandbox's moto server): round trips, distinct ids,
corrupt records as problem lines, concurrent updates from several processes, a writer killed mid-update."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from registry_tools.sessions import registry_file
from registry_tools.sessions.interface import CorruptSession, SessionNotFound, StoreError
from registry_tools.sessions.local import REGISTRY, LocalStore
from registry_tools.sessions.model import (
    COMPLETED,
    MONITORING_HISTORY_MAX,
    RUNNING,
    Session,
    SessionError,
    add_samples,
    archive,
    finish,
    session_id,
    touch,
)
from registry_tools.sessions.s3 import S3Store, parse_state_url
from registry_tools.timefmt import format_utc as iso

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
LAUNCH = datetime(2026, 6, 28, 16, 47, tzinfo=UTC)
SECRET = "s3cr3t-never-shown"


def make_session(domain: str = "genomics", moment: datetime = LAUNCH, attempt: int = 0, **changes) -> Session:
    """A valid session like the CLI creates before its stack exists (ses_genomics_20260628_1647)."""
    sid = session_id(domain, moment, attempt)
    session = Session(
        id=sid, domain=domain, pack_version="1.2.0", pack_sha256="ab" * 32, title=f"{domain.title()} pack",
        stack_name=f"arw-{sid.replace('_', '-')}", region="us-east-1", account=ACCOUNT, size="small",
        instance_type="m6i.large", launch_time=iso(moment), last_accessed=iso(moment),
        parameters={"InstanceType": "m6i.large", "VolumeSize": "100"},
    )
    return replace(session, **changes)


def maker(domain: str = "genomics", moment: datetime = LAUNCH, **changes):
    return lambda attempt: make_session(domain, moment, attempt, **changes)


def s3_client(endpoint: str, secret: str = "testing", **config):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key=secret, config=Config(**config) if config else None)


def new_bucket(client) -> str:
    name = f"arw-sessions-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def kind(request) -> str:
    return request.param


@pytest.fixture
def store(kind, request, tmp_path):
    if kind == "local":
        return LocalStore(tmp_path / "sessions")
    client = s3_client(request.getfixturevalue("sandbox"))
    return S3Store(f"s3://{new_bucket(client)}/team/state", client, ACCOUNT)


def corrupt(store, sid: str, text: str) -> None:
    """Make the session's metadata *text* (YAML): metadata.yaml in S3; locally the metadata part of
    session-<id>.json (or the text itself, when it is not YAML at all)."""
    if isinstance(store, LocalStore):
        try:
            record = json.dumps({"format": 2, "metadata": yaml.safe_load(text)})
        except yaml.YAMLError:
            record = text
        (store.dir / f"session-{sid}.json").write_text(record, encoding="utf-8")
    else:
        store.s3.put_object(Bucket=store.bucket, Key=f"{store.base}{sid}/metadata.yaml", Body=text.encode())


# --- the SessionStore contract, for both stores --------------------------------------------------


def test_round_trip(store):
    created = store.create(maker())
    assert created.id == "ses_genomics_20260628_1647"
    assert store.get(created.id) == created

    later = LAUNCH + timedelta(minutes=30)
    seen = store.update(created.id, lambda s: add_samples(touch(replace(s, status=RUNNING, instance_ids=("i-0abc",),
                                                                        outputs={"PublicIp": "10.0.0.1"}), later),
                                                          [{"at": iso(later), "cpu": 12.5, "cost_usd": 0.42}]))
    again = store.get(created.id)
    assert again == seen
    assert (again.status, again.instance_ids, again.outputs) == (RUNNING, ("i-0abc",), {"PublicIp": "10.0.0.1"})
    assert again.monitoring == ({"at": "2026-06-28T17:17:00Z", "cpu": 12.5, "cost_usd": 0.42},)
    assert again.parameters == created.parameters

    rows, problems = store.summaries()
    assert problems == []
    assert rows == [again.summary()]
    assert rows[0]["cost_so_far_usd"] == 0.42 and rows[0]["last_accessed"] == "2026-06-28T17:17:00Z"

    done = store.update(created.id, lambda s: archive(finish(s, COMPLETED, later)))
    assert store.get(created.id).to_dict() == done.to_dict() and done.archived

    store.remove(created.id)
    with pytest.raises(SessionNotFound):
        store.get(created.id)
    with pytest.raises(SessionNotFound):
        store.update(created.id, lambda s: s)
    with pytest.raises(SessionNotFound):
        store.remove(created.id)
    assert store.summaries() == ([], [])


def test_an_update_that_changes_nothing_keeps_the_session(store):
    created = store.create(maker())
    assert store.update(created.id, lambda s: s) == created
    assert store.get(created.id) == created


def test_same_minute_sessions_get_distinct_ids(store):
    ids = [store.create(maker()).id for _ in range(3)]
    assert ids == ["ses_genomics_20260628_1647", "ses_genomics_20260628_1647_2", "ses_genomics_20260628_1647_3"]
    assert [store.get(i).id for i in ids] == ids
    rows, problems = store.summaries()
    assert problems == [] and [r["id"] for r in rows] == sorted(ids, reverse=True)


def test_summaries_are_newest_first(store):
    for minutes in (0, 90, 30):
        store.create(maker(moment=LAUNCH + timedelta(minutes=minutes)))
    store.create(maker("climate", moment=LAUNCH + timedelta(minutes=30)))
    rows, problems = store.summaries()
    assert problems == []
    assert [r["id"] for r in rows] == ["ses_genomics_20260628_1817", "ses_genomics_20260628_1717",
                                       "ses_climate_20260628_1717", "ses_genomics_20260628_1647"]


def test_an_update_may_not_change_the_id(store):
    created = store.create(maker())
    with pytest.raises(StoreError, match="must not change its id"):
        store.update(created.id, lambda s: replace(s, id="ses_genomics_20260628_1648"))
    assert store.get(created.id) == created


def test_ids_are_checked(store):
    with pytest.raises(SessionError):
        store.get("../../etc/passwd")
    with pytest.raises(SessionError):
        store.remove("ses_x")
    with pytest.raises(SessionError):
        store.create(lambda attempt: replace(make_session(), id="not-an-id"))


@pytest.mark.parametrize("garbage", ["id: [unclosed\n  : :", "- a list\n- not a mapping\n", "id: ses_genomics_20260628_1647\n"])
def test_a_corrupt_session_is_a_problem_line_not_an_error(store, garbage):
    good = store.create(maker("climate"))
    bad = store.create(maker())
    corrupt(store, bad.id, garbage)

    for _ in range(2):  # and again: the problem is reported until it is fixed
        rows, problems = store.summaries()
        assert [r["id"] for r in rows] == [good.id]
        assert len(problems) == 1 and bad.id in problems[0] and "corrupt" in problems[0]
    with pytest.raises(CorruptSession):
        store.get(bad.id)
    with pytest.raises(CorruptSession):
        store.update(bad.id, lambda s: s)
    assert store.get(good.id) == good

    store.remove(bad.id)
    assert store.summaries() == ([good.summary()], [])


def test_a_record_naming_another_session_is_corrupt(store):
    first, second = store.create(maker()), store.create(maker("climate"))
    text = yaml.safe_dump({**second.metadata(), **second.state()})
    corrupt(store, first.id, text)
    with pytest.raises(CorruptSession, match=f"holds session {second.id}"):
        store.get(first.id)
    rows, problems = store.summaries()
    assert [r["id"] for r in rows] == [second.id] and len(problems) == 1


def test_a_session_file_that_is_not_text_is_corrupt(store, kind):
    good, bad = store.create(maker("climate")), store.create(maker())
    if isinstance(store, LocalStore):
        (store.dir / f"session-{bad.id}.json").write_bytes(b"\xff\xfe\x80 not utf-8")
    else:
        store.s3.put_object(Bucket=store.bucket, Key=f"{store.base}{bad.id}/metadata.yaml", Body=b"\xff\xfe\x80 not utf-8")
    rows, problems = store.summaries()
    assert [r["id"] for r in rows] == [good.id] and len(problems) == 1 and bad.id in problems[0]
    with pytest.raises(CorruptSession):
        store.get(bad.id)


# --- local store ---------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["delete", "garbage", "wrong-version", "stale-row"])
def test_local_registry_is_rebuilt(tmp_path, damage):
    store = LocalStore(tmp_path / "sessions")
    for minutes in (0, 5, 10):
        created = store.create(maker(moment=LAUNCH + timedelta(minutes=minutes)))
    store.update(created.id, lambda s: add_samples(s, [{"cost_usd": 3.5}]))
    expected = store.summaries()
    assert expected[1] == [] and len(expected[0]) == 3

    registry = store.dir / REGISTRY
    if damage == "delete":
        registry.unlink()
    elif damage == "garbage":
        registry.write_text("{not json", encoding="utf-8")
    elif damage == "wrong-version":
        registry.write_text(json.dumps({"version": 999, "sessions": {}}), encoding="utf-8")
    else:  # a row that disagrees with its files (written by hand, or before a crash)
        data = json.loads(registry.read_text(encoding="utf-8"))
        data["sessions"][created.id]["status"] = "failed"
        data["sessions"][created.id]["stamp"] = [1, 1]
        registry.write_text(json.dumps(data), encoding="utf-8")

    assert store.summaries() == expected
    assert json.loads(registry.read_text(encoding="utf-8"))["version"] == registry_file.REGISTRY_VERSION
    assert store.summaries() == expected


def test_local_leftover_temp_files_do_not_break_listing(tmp_path):
    store = LocalStore(tmp_path / "sessions")
    created = store.create(maker())
    for name in (f".session-{created.id}.yaml.x1y2.tmp", f".session-{created.id}.state.z3.tmp", ".active_sessions.json.q.tmp"):
        (store.dir / name).write_text("half a wri", encoding="utf-8")
    (store.dir / REGISTRY).unlink()
    assert store.get(created.id) == created
    assert store.summaries() == ([created.summary()], [])
    assert not [n for n in os.listdir(store.dir) if n.endswith(".tmp")]  # swept by the rebuild, a writer


def test_local_unreadable_session_is_a_problem_line(tmp_path):
    store = LocalStore(tmp_path / "sessions")
    good, bad = store.create(maker("climate")), store.create(maker())
    record = store.dir / f"session-{bad.id}.json"
    record.unlink()
    record.mkdir()  # reading it fails with an OSError (EISDIR), even as root
    rows, problems = store.summaries()
    assert [r["id"] for r in rows] == [good.id] and len(problems) == 1 and bad.id in problems[0]


def test_local_remove_interrupted_half_way_does_not_revive_the_session(tmp_path, monkeypatch):
    store = LocalStore(tmp_path / "sessions")
    created = store.create(maker())
    done = store.update(created.id, lambda s: finish(s, COMPLETED, LAUNCH + timedelta(hours=1)))
    unlink, calls = Path.unlink, []

    def dies_on_the_second_unlink(self, missing_ok=False):
        calls.append(self.name)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process stops here
        return unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", dies_on_the_second_unlink)
    with pytest.raises(KeyboardInterrupt):
        store.remove(created.id)
    monkeypatch.undo()
    try:
        left = store.get(created.id)
    except SessionNotFound:
        return
    assert left == done  # not a finished session turned back into an active "launching" one


def write_previous_release(directory: Path, sessions: list[Session]) -> dict:
    """Sessions and the registry as the previous release wrote them: session-<id>.yaml (metadata and
    deployment) and session-<id>.state (state and monitoring), rows stamped with both mtimes. Returns the rows."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = {}
    for session in sessions:
        meta, state = directory / f"session-{session.id}.yaml", directory / f"session-{session.id}.state"
        meta.write_text("# aws-research-wizard session (runtime state: the .state file beside it)\n"
                        + yaml.safe_dump({**session.metadata(), **session.deployment()}, sort_keys=False), encoding="utf-8")
        state.write_text(json.dumps({**session.state(), "monitoring": session.monitoring_state()}, indent=1), encoding="utf-8")
        rows[session.id] = {**session.summary(), "stamp": [meta.stat().st_mtime_ns, state.stat().st_mtime_ns]}
    (directory / REGISTRY).write_text(json.dumps({"version": 1, "sessions": rows}, separators=(",", ":")), encoding="utf-8")
    return rows


def test_local_sessions_of_the_previous_release_are_read_and_migrated_by_their_next_write(tmp_path):
    from registry_tools.sessions import registry_file

    directory = tmp_path / "sessions"
    old = make_session(status=RUNNING, instance_ids=("i-0abc",), outputs={"PublicIp": "10.0.0.1"},
                       resources=({"logical_id": "Instance", "type": "AWS::EC2::Instance", "physical_id": "i-0abc"},),
                       monitoring=({"at": iso(LAUNCH), "cost_usd": 1.5},))
    other = make_session("climate")
    write_previous_release(directory, [old, other])
    store = LocalStore(directory)
    assert registry_file.current_rows(str(directory)) is None  # its rows: rebuilt once, by the next listing
    assert store.get(old.id) == old and store.get(other.id) == other
    assert store.summaries() == ([old.summary(), other.summary()], [])
    assert sorted(n for n in os.listdir(directory) if n.startswith("session-")) == [  # not migrated by a listing
        f"session-{other.id}.state", f"session-{other.id}.yaml", f"session-{old.id}.state", f"session-{old.id}.yaml"]
    assert registry_file.current_rows(str(directory)) == [old.summary(), other.summary()]  # the fast path answers

    later = store.update(old.id, lambda s: add_samples(touch(s, LAUNCH + timedelta(hours=1)), [{"cost_usd": 2.0}]))
    assert sorted(n for n in os.listdir(directory) if n.startswith("session-")) == [
        f"session-{other.id}.state", f"session-{other.id}.yaml", f"session-{old.id}.json"]
    record = json.loads((directory / f"session-{old.id}.json").read_text(encoding="utf-8"))
    assert record == {"format": 2, "metadata": later.metadata(), "deployment": later.deployment(), "state": later.state(),
                      "monitoring": later.monitoring_state()}
    assert LocalStore(directory).get(old.id) == later and later.monitoring[0] == old.monitoring[0]
    assert registry_file.current_rows(str(directory)) == [later.summary(), other.summary()]

    assert store.update(other.id, lambda s: s) == other  # no change, no write: still two files
    assert (directory / f"session-{other.id}.yaml").exists()
    store.remove(other.id)
    assert not list(directory.glob(f"session-{other.id}*"))
    assert store.summaries() == ([later.summary()], [])


def test_local_leftovers_of_killed_writers_are_swept_by_the_next_write(tmp_path):
    store = LocalStore(tmp_path / "sessions")
    created = store.create(maker())
    gone = make_session("climate")
    # a migration killed after its commit (older two files beside the new file), a remove of the previous
    # release killed after the .yaml, and temp files of killed writes; then files that are not the store's
    write_previous_release(store.dir, [replace(created, status="failed", failure_reason="older"), gone])
    (store.dir / f"session-{gone.id}.yaml").unlink()
    ours = [f".session-{created.id}.json.abcd_123.tmp", f".session-{created.id}.yaml.x1y2.tmp",
            f".session-{gone.id}.state.z3.tmp", ".active_sessions.json.q.tmp"]
    foreign = [".filelock-probe-0123abcd", "notes.tmp", ".notes.txt.abcdefgh.tmp", "session-notes.txt", ".session-x.tmp"]
    for name in ours + foreign:
        (store.dir / name).write_text("half a wri", encoding="utf-8")

    assert LocalStore(store.dir).get(created.id) == created  # the new file wins over the older two files
    later = store.update(created.id, lambda s: touch(s, LAUNCH + timedelta(hours=1)))  # the next write
    left = sorted(n for n in os.listdir(store.dir) if n != ".lock")
    assert left == sorted([REGISTRY, f"session-{created.id}.json", *foreign])
    assert store.get(created.id) == later and store.summaries() == ([later.summary()], [])


def test_local_reader_without_the_lock_follows_a_migration_under_way(tmp_path, monkeypatch):
    """A reader has read a two-file session's .yaml when a writer migrates it (new file, old files deleted):
    it reads the new file, not the old metadata with no state (a "launching" session with no history)."""
    directory = tmp_path / "sessions"
    old = make_session(status=RUNNING, monitoring=({"cost_usd": 1.5},))
    write_previous_release(directory, [old])
    writer, migrated = LocalStore(directory), []
    read_bytes = Path.read_bytes

    def migrate_after_the_yaml(self):
        data = read_bytes(self)
        if self.suffix == ".yaml" and not migrated:  # the reader's first read (the writer reads it too: once)
            migrated.append(None)
            migrated[0] = writer.update(old.id, lambda s: add_samples(s, [{"cost_usd": 2.0}]))
        return data

    monkeypatch.setattr(Path, "read_bytes", migrate_after_the_yaml)
    seen = LocalStore(directory).get(old.id)
    assert not (directory / f"session-{old.id}.state").exists()
    assert seen == migrated[0] and seen.status == RUNNING and len(seen.monitoring) == 2


def test_atomic_write_newer_and_temp_file_sweep(tmp_path):
    from registry_tools.fsutil import atomic_write_newer, sweep_temp_files, temp_file_target

    path = tmp_path / "f.json"
    first = atomic_write_newer(path, b"1", mode=0o600)
    assert first == path.stat().st_mtime_ns and path.read_bytes() == b"1" and path.stat().st_mode & 0o777 == 0o600
    future = first + 3_600 * 10**9  # as if the next write fell in the same clock tick, or the clock went back
    os.utime(path, ns=(future, future))
    assert atomic_write_newer(path, b"2") == future + 1 == path.stat().st_mtime_ns and path.read_bytes() == b"2"
    assert atomic_write_newer(path, b"3") == future + 2
    assert os.listdir(tmp_path) == ["f.json"]

    assert temp_file_target(".session-ses_a_20260101_0000.json.k2_x9abc.tmp") == "session-ses_a_20260101_0000.json"
    for name in ("f.json", "f.tmp", ".f.tmp", "..x.tmp", ".f.json.a-b.tmp", ".f.json..tmp"):
        assert temp_file_target(name) is None, name
    for name in (".f.json.abc.tmp", ".g.json.abc.tmp", "keep.txt"):
        (tmp_path / name).write_text("x")
    assert sweep_temp_files(tmp_path, lambda target: target == "f.json") == [".f.json.abc.tmp"]
    assert sorted(os.listdir(tmp_path)) == [".g.json.abc.tmp", "f.json", "keep.txt"]
    assert sweep_temp_files(tmp_path / "missing", lambda target: True) == []


def test_s3_session_with_missing_parts_reads_as_empty_and_updates(sandbox):
    client = s3_client(sandbox)
    bucket = new_bucket(client)
    store = S3Store(f"s3://{bucket}", client, ACCOUNT)
    created = store.create(maker())
    for part in ("deployment.json", "monitoring.state"):  # as a create interrupted after metadata.yaml leaves it
        client.delete_object(Bucket=bucket, Key=f"{ACCOUNT}/sessions/{created.id}/{part}")
    assert store.get(created.id) == replace(created, parameters={})
    after = store.update(created.id, lambda s: add_samples(s, [{"cost_usd": 2.0}]))
    assert store.get(created.id) == after and after.monitoring == ({"cost_usd": 2.0},)


# --- S3 store ------------------------------------------------------------------------------------


def test_state_urls():
    assert parse_state_url("s3://arw-state") == ("arw-state", "")
    assert parse_state_url("s3://arw-state/") == ("arw-state", "")
    assert parse_state_url("s3://arw.state-1/team/a/") == ("arw.state-1", "team/a")
    for bad in ("", "arw-state", "https://arw-state/x", "s3://", "s3:///prefix", "s3://Upper/x", "s3://a/x",
                "s3://arw-state/a//b", "s3://arw-state/a/../b", "s3://arw-state/a\nb", "s3://arw_state", None):
        with pytest.raises(StoreError):
            parse_state_url(bad)


def test_s3_layout(sandbox):
    client = s3_client(sandbox)
    bucket = new_bucket(client)
    store = S3Store(f"s3://{bucket}/arw/", client, ACCOUNT)
    assert store.location == f"s3://{bucket}/arw/{ACCOUNT}/sessions/"
    created = store.create(maker())
    store.update(created.id, lambda s: add_samples(s, [{"cost_usd": 1.25}]))
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"])
    base = f"arw/{ACCOUNT}/sessions/{created.id}/"
    assert keys == [base + "deployment.json", base + "metadata.yaml", base + "monitoring.state"]

    def body(name):
        return client.get_object(Bucket=bucket, Key=base + name)["Body"].read()

    assert yaml.safe_load(body("metadata.yaml")) == {**created.metadata(), **created.state()}
    assert json.loads(body("deployment.json")) == created.deployment()
    assert json.loads(body("monitoring.state")) == {"history": [{"cost_usd": 1.25}]}

    assert S3Store(f"s3://{bucket}", client, ACCOUNT).location == f"s3://{bucket}/{ACCOUNT}/sessions/"
    with pytest.raises(StoreError):
        S3Store(f"s3://{bucket}", client, "../other")


def test_s3_listing_skips_foreign_keys_and_reports_bad_ones(sandbox):
    client = s3_client(sandbox)
    bucket = new_bucket(client)
    store = S3Store(f"s3://{bucket}", client, ACCOUNT)
    created = store.create(maker())
    base = f"{ACCOUNT}/sessions/"
    for key in ("README.txt", f"{created.id}/notes.txt", "not-a-session/metadata.yaml"):
        client.put_object(Bucket=bucket, Key=base + key, Body=b"x")
    client.put_object(Bucket=bucket, Key=f"{base}{created.id}/monitoring.state", Body=b"{truncated")
    other = store.create(maker("climate"))
    rows, problems = store.summaries()
    assert [r["id"] for r in rows] == [other.id]
    assert len(problems) == 2
    assert any(f"s3://{bucket}/{base}not-a-session/metadata.yaml" in p for p in problems)
    assert any(f"s3://{bucket}/{base}{created.id}/monitoring.state" in p and "corrupt" in p for p in problems)
    with pytest.raises(CorruptSession, match="monitoring.state"):
        store.get(created.id)


def test_s3_errors_name_the_location_and_code_but_not_credentials(sandbox):
    client = s3_client(sandbox, secret=SECRET)
    store = S3Store("s3://arw-no-such-bucket/p", client, ACCOUNT)
    for call in (lambda: store.get("ses_genomics_20260628_1647"), store.summaries, lambda: store.create(maker()),
                 lambda: store.update("ses_genomics_20260628_1647", lambda s: s)):
        with pytest.raises(StoreError) as caught:
            call()
        assert not isinstance(caught.value, SessionNotFound)
        message = str(caught.value)
        assert "s3://arw-no-such-bucket/p/" in message and "NoSuchBucket" in message and SECRET not in message

    unreachable = s3_client("http://127.0.0.1:9", secret=SECRET, retries={"max_attempts": 1}, connect_timeout=2)
    with pytest.raises(StoreError) as caught:
        S3Store("s3://arw-state", unreachable, ACCOUNT).summaries()
    assert "s3://arw-state/" in str(caught.value) and SECRET not in str(caught.value)


class _Interfering:
    """An S3 client that lets another writer in just before the first conditional write of metadata.yaml."""

    def __init__(self, client, interfere):
        self._client, self._interfere = client, interfere

    def __getattr__(self, name):
        return getattr(self._client, name)

    def put_object(self, **kwargs):
        if self._interfere and kwargs["Key"].endswith("/metadata.yaml") and "IfMatch" in kwargs:
            interfere, self._interfere = self._interfere, None
            interfere()
        return self._client.put_object(**kwargs)


def _ours(session: Session) -> Session:
    """A change to two objects that is not idempotent (applied twice, it would add two resources) and
    whose deployment part depends on the state part (so a retry must recompute it, not keep the first try)."""
    resource = {"logical_id": "Ours", "type": "AWS::S3::Bucket", "noted": session.last_accessed}
    return replace(session, resources=(*session.resources, resource), status_reason="ours")


@pytest.mark.parametrize("theirs_touches_deployment", [False, True])
def test_s3_update_that_conflicts_half_way_is_applied_once(sandbox, theirs_touches_deployment):
    client = s3_client(sandbox)
    url = f"s3://{new_bucket(client)}/p"
    created = S3Store(url, client, ACCOUNT).create(maker())
    later = LAUNCH + timedelta(hours=2)

    def theirs(session: Session) -> Session:
        session = touch(session, later)
        if theirs_touches_deployment:
            session = replace(session, resources=(*session.resources, {"logical_id": "Theirs", "type": "AWS::EC2::VPC"}))
        return session

    other = S3Store(url, client, ACCOUNT)
    store = S3Store(url, _Interfering(client, lambda: other.update(created.id, theirs)), ACCOUNT)
    result = store.update(created.id, _ours)

    stored = S3Store(url, client, ACCOUNT).get(created.id)
    assert stored == result
    assert stored.status_reason == "ours" and stored.last_accessed == iso(later)
    if theirs_touches_deployment:  # they built on our first try: it stays, with theirs after it
        assert [(r["logical_id"], r.get("noted")) for r in stored.resources] == [("Ours", iso(LAUNCH)), ("Theirs", None)]
    else:  # ours is redone on top of theirs, once
        assert [(r["logical_id"], r.get("noted")) for r in stored.resources] == [("Ours", iso(later))]


# --- several processes at once -------------------------------------------------------------------

WORKER = r"""
import json, sys, time
from pathlib import Path
from registry_tools.sessions.model import add_samples

config = json.loads(sys.argv[1])
worker = config["worker"]
if config["kind"] == "local":
    from registry_tools.sessions.local import LocalStore
    store = LocalStore(Path(config["dir"]))
else:
    import boto3
    from registry_tools.sessions.s3 import S3Store
    client = boto3.client("s3", endpoint_url=config["endpoint"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    store = S3Store(config["url"], client, config["account"])
    client.list_buckets()  # connect before the start line
go = Path(config["go"])
Path(config["ready"]).write_text("ready")
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.01)
n = 0
while config["count"] < 0 or n < config["count"]:
    store.update(config["session"], lambda s, n=n: add_samples(s, [{"worker": worker, "n": n, "cost_usd": n / 100}]))
    n += 1
"""


def start_workers(tmp_path: Path, count: int, updates: int, **config) -> list[subprocess.Popen]:
    go = tmp_path / "go"
    procs, ready = [], []
    for worker in range(count):
        marker = tmp_path / f"ready-{worker}"
        ready.append(marker)
        arg = json.dumps({**config, "worker": worker, "count": updates, "go": str(go), "ready": str(marker)})
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER, arg], cwd=REPO, stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 60
    while not all(m.exists() for m in ready):
        assert time.monotonic() < deadline, "workers did not start"
        for proc in procs:
            assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    go.write_text("go")
    return procs


def test_concurrent_updates_from_many_processes_are_all_kept(kind, tmp_path, request):
    workers, updates = 8, 10
    if kind == "local":
        store = LocalStore(tmp_path / "sessions")
        config = {"kind": "local", "dir": str(store.dir)}
    else:
        endpoint = request.getfixturevalue("sandbox")
        client = s3_client(endpoint)
        url = f"s3://{new_bucket(client)}/shared"
        store = S3Store(url, client, ACCOUNT)
        config = {"kind": "s3", "endpoint": endpoint, "url": url, "account": ACCOUNT}
    created = store.create(maker())

    procs = start_workers(tmp_path, workers, updates, session=created.id, **config)
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err

    history = store.get(created.id).monitoring
    assert len(history) == workers * updates
    for worker in range(workers):
        assert [s["n"] for s in history if s["worker"] == worker] == list(range(updates))
    rows, problems = store.summaries()
    assert problems == [] and len(rows) == 1


# A writer that updates one session in a tight loop until it is killed. Every update writes one counter
# into each part of the session: metadata (title), deployment (outputs), state (status_reason) and
# monitoring (a sample), so a session read back whole holds the same counter everywhere.
KILLED_WRITER = r"""
import sys
from dataclasses import replace
from pathlib import Path
from registry_tools.sessions.local import LocalStore
from registry_tools.sessions.model import add_samples

def bump(session):
    n = int(session.outputs["rev"]) + 1
    return add_samples(replace(session, title=f"rev {n}", outputs={"rev": str(n)}, status_reason=f"rev {n}"),
                       [{"n": n, "cost_usd": n / 100, "cpu": 12.5, "memory": 40.25, "state": "running"}])

store = LocalStore(Path(sys.argv[1]))
Path(sys.argv[3]).write_text("ready")
while True:
    store.update(sys.argv[2], bump)
"""
KILLS = 40


def _bump(session: Session) -> Session:
    n = int(session.outputs["rev"]) + 1
    return add_samples(replace(session, title=f"rev {n}", outputs={"rev": str(n)}, status_reason=f"rev {n}"),
                       [{"n": n, "cost_usd": n / 100, "cpu": 12.5, "memory": 40.25, "state": "running"}])


def _revisions(session: Session) -> set[str]:
    """The counter as each part holds it: one value when all parts come from one update."""
    return {session.title.removeprefix("rev "), session.outputs["rev"], str(session.status_reason).removeprefix("rev "),
            str(session.monitoring[-1]["n"])}


def _row_revisions(row: dict) -> set[str]:
    return {row["title"].removeprefix("rev "), str(round(row["cost_so_far_usd"] * 100))}


def test_local_writers_killed_mid_update_leave_whole_sessions_and_no_temp_files(tmp_path):
    """kill -9 at random points of a writer updating in a tight loop (a full 14-day monitoring history makes
    each write long): after every kill the session reads back whole (every part from one update, the history
    unbroken), `sessions list` agrees, the lock is free, and the next write leaves no temp file. Readers
    without the lock (``get`` and the fast path's ``current_rows``) never see a torn session meanwhile."""
    from registry_tools.sessions import registry_file

    store = LocalStore(tmp_path / "sessions")
    history = tuple({"n": n, "cost_usd": 0.0, "cpu": 12.5, "memory": 40.25, "state": "running"}
                    for n in range(-MONITORING_HISTORY_MAX + 1, 1))
    created = store.create(maker(title="rev 0", outputs={"rev": "0"}, status_reason="rev 0", monitoring=history))
    rng, last = random.Random(), 0
    torn, torn_reads, torn_rows, leftovers, mid_write, reads = [], 0, 0, [], 0, 0
    for kill in range(KILLS):
        before, ready = os.listdir(store.dir), tmp_path / f"ready-{kill}"
        proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(store.dir), created.id, str(ready)], cwd=REPO,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the writer did not start"
            time.sleep(0.002)
        until = time.monotonic() + rng.uniform(0.005, 0.15)
        while time.monotonic() < until:  # read without the lock while it writes
            torn_reads += len(_revisions(LocalStore(store.dir).get(created.id))) != 1
            rows = registry_file.current_rows(str(store.dir))
            torn_rows += rows is not None and len(_row_revisions(rows[0])) != 1
            reads += 1
        if kill % 2:  # every other kill: as soon as it has a temp file open (inside an atomic write)
            until = time.monotonic() + 5
            while time.monotonic() < until and not any(n.endswith(".tmp") for n in set(os.listdir(store.dir)) - set(before)):
                pass
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
        mid_write += any(n.endswith(".tmp") for n in set(os.listdir(store.dir)) - set(before))  # died inside a write

        session = store.get(created.id)
        revisions = _revisions(session)
        newer = [s["n"] for s in session.monitoring if s["n"] > last]  # the killed writer's samples
        if len(revisions) != 1 or newer != list(range(last + 1, last + 1 + len(newer))):
            torn.append(sorted(revisions, key=int))
        assert int(session.outputs["rev"]) >= last
        rows, problems = store.summaries()
        assert problems == [] and rows == [session.summary()]

        after = store.update(created.id, _bump)  # the next write (the lock is free)
        last = int(after.outputs["rev"])
        assert _revisions(after) == {str(last)} and store.get(created.id) == after
        assert registry_file.current_rows(str(store.dir)) == [after.summary()]
        leftovers += [n for n in os.listdir(store.dir) if n.endswith(".tmp")]
    print(f"{KILLS} kills, {mid_write} inside an atomic write, {last} updates, {reads} lockless reads; "
          f"torn: {len(torn)} sessions {torn}, {torn_reads} reads, {torn_rows} rows; temp files left: {len(leftovers)}")
    assert (torn, torn_reads, torn_rows, leftovers) == ([], 0, 0, [])
    assert mid_write >= KILLS // 8, f"only {mid_write} kills landed inside a write"
    assert last > KILLS
