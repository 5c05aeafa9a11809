"""The monitor: cost maths and history (pure), snapshots from moto (metrics injected with
put_metric_data, Cost Explorer results through moto's API), continuity across processes and
machines, the budget, the API-call count per refresh, and the live dashboard in a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from registry_tools.deploy.aws import Clients, Target
from registry_tools.monitor import cost as costs
from registry_tools.monitor import observe as monitor
from registry_tools.sessions.local import LocalStore
from registry_tools.sessions.s3 import S3Store
from registry_tools.timefmt import format_utc

from .test_sessions_cli import ARW, arw, machine, ok  # noqa: F401  (fixture)

T0 = datetime(2026, 6, 28, 12, 0, tzinfo=UTC)
RATES = costs.Rates(instance_hourly=1.0, storage_hourly=0.1)


# --- pure: cost and history ----------------------------------------------------------------------


def test_cost_runs_on_across_samples_and_stopped_time_is_not_charged():
    first = costs.advance(None, T0, T0 + timedelta(hours=2), "running", RATES)
    assert first["running_s"] == 7200 and first["cost_usd"] == pytest.approx(2.2)
    stopped = costs.advance(first, T0, T0 + timedelta(hours=3), "stopped", RATES)  # ran until seen stopped
    assert stopped["running_s"] == 10800
    later = costs.advance(stopped, T0, T0 + timedelta(hours=13), "running", RATES)  # 10 h stopped: storage only
    assert later["running_s"] == 10800 and later["elapsed_s"] == 13 * 3600
    assert later["cost_usd"] == pytest.approx(3 * 1.0 + 13 * 0.1)
    assert RATES.projected_monthly(True) == pytest.approx(803.0) and RATES.projected_monthly(False) == pytest.approx(73.0)
    assert costs.over_budget(100, 3.0, 803.0) and not costs.over_budget(None, 3.0, 803.0)


def test_history_keeps_one_sample_per_spacing_and_is_bounded():
    history: tuple = ()
    for minute in range(0, 60):
        history = costs.record(history, {"time": format_utc(T0 + timedelta(minutes=minute)), "running_s": minute})
    times = [s["time"] for s in history]
    assert times[0] == format_utc(T0) and times[-1] == format_utc(T0 + timedelta(minutes=59))
    assert len(history) <= 60 // 5 + 2
    many = tuple({"time": format_utc(T0 + timedelta(minutes=5 * k)), "running_s": k} for k in range(costs.MAX_SAMPLES))
    bounded = costs.record(many, {"time": format_utc(T0 + timedelta(days=30)), "running_s": 1})
    assert len(bounded) == costs.MAX_SAMPLES and bounded[0]["running_s"] == 1 and bounded[-1]["time"].startswith("2026-07-28")
    assert costs.last_sample([{"note": "foreign"}, *bounded[-2:], {"other": 1}]) == bounded[-1]


# --- moto: snapshots, continuity, budget, call count ---------------------------------------------


@pytest.fixture
def live_session(machine, monkeypatch):  # noqa: F811
    """A running genomics session in the sandbox; ARW_HOME points at its machine."""
    env = machine()
    session = json.loads(ok(env, "deploy", "--domain", "genomics", "--json"))
    monkeypatch.setenv("ARW_HOME", env["ARW_HOME"])
    clients = Clients(Target("us-east-1", machine.endpoint))
    return env, session, clients, machine.endpoint


def put_metrics(clients, instance_id: str, name: str, namespace: str, values, now: datetime) -> None:
    data = [{"MetricName": name, "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
             "Timestamp": now - timedelta(minutes=5 * (len(values) - k)), "Value": v, "Unit": "Percent"}
            for k, v in enumerate(values)]
    clients("cloudwatch").put_metric_data(Namespace=namespace, MetricData=data)


def test_snapshot_values_no_data_yet_and_continuity(live_session):
    env, session, clients, _ = live_session
    store, sid, instance = LocalStore(), session["id"], session["instance_ids"][0]
    now = datetime.now(UTC).replace(microsecond=0)
    first = monitor.refresh(store, sid, clients, now=now)
    assert first["cpu_percent"] is None and first["memory_percent"] is None  # no data yet, not 0
    assert first["instance_state"] == "running" and first["health"] in ("ok", "initializing", "unknown")
    assert first["cost_source"] == "estimate" and first["stack_status"] == "CREATE_COMPLETE"
    put_metrics(clients, instance, "CPUUtilization", "AWS/EC2", [10.0, 20.0, 35.5], now)
    put_metrics(clients, instance, "mem_used_percent", "CWAgent", [40.0, 62.25], now)
    second = monitor.refresh(store, sid, clients, now=now + timedelta(minutes=30))
    assert second["cpu_percent"] == 35.5 and second["cpu_trend"] == [10.0, 20.0, 35.5]
    assert second["memory_percent"] == 62.25
    hourly = 1.0584  # r7i.4xlarge, us-east-1, in the price table
    assert second["runtime_hours"] == pytest.approx(0.5 + first["runtime_hours"], abs=1e-3)
    assert second["cost_usd"] >= round(first["cost_usd"] + 0.5 * hourly, 2) - 0.01
    # a new process (the CLI) continues the same totals
    third = json.loads(ok(env, "monitor", "--session", sid, "--json"))
    assert third["runtime_hours"] >= second["runtime_hours"] and third["cost_usd"] >= second["cost_usd"]
    history = store.get(sid).monitoring
    assert len(history) >= 2 and history[-1]["cost_usd"] == pytest.approx(third["cost_usd"], abs=0.01)
    # stopped: from the first sample that sees it stopped on, nothing more is charged for the instance
    clients("ec2").stop_instances(InstanceIds=[instance])
    seen_stopped = monitor.refresh(store, sid, clients, now=now + timedelta(minutes=40))
    assert seen_stopped["instance_state"] == "stopped"
    later = monitor.refresh(store, sid, clients, now=now + timedelta(minutes=100))
    assert later["runtime_hours"] == seen_stopped["runtime_hours"]
    assert later["projected_monthly_usd"] < seen_stopped["projected_monthly_usd"] or later["projected_monthly_usd"] < 100


def test_budget_list_view_and_call_count(live_session):
    env, session, clients, _ = live_session
    over = arw(env, "monitor", "--session", session["id"], "--once", "--budget", "1")
    assert over.returncode == 3 and "over the budget" in over.stderr and "OVER BUDGET" in over.stdout
    within = arw(env, "monitor", "--session", session["id"], "--once", "--budget", "100000")
    assert within.returncode == 0 and "no data yet" in within.stdout
    listing = ok(env, "monitor", "--once")
    assert session["id"] in listing.splitlines()[1]
    calls = []
    clients._session.events.register("before-call.*.*", lambda model, **kw: calls.append(model.name))
    monitor.refresh(LocalStore(), session["id"], clients, now=datetime.now(UTC))
    assert len(calls) <= 3, calls


def test_billing_cost_from_cost_explorer(live_session):
    env, session, clients, endpoint = live_session
    result = {"results": [{"ResultsByTime": [
        {"TimePeriod": {"Start": "2026-06-28", "End": "2026-06-29"}, "Total": {"UnblendedCost": {"Amount": "12.5", "Unit": "USD"}}},
        {"TimePeriod": {"Start": "2026-06-29", "End": "2026-06-30"}, "Total": {"UnblendedCost": {"Amount": "7.25", "Unit": "USD"}}},
    ]}]}
    assert httpx.post(f"{endpoint}/moto-api/static/ce/cost-and-usage-results", json=result).status_code == 201
    snap = json.loads(ok(env, "monitor", "--session", session["id"], "--json", "--cost-source", "billing"))
    assert snap["cost_source"] == "billing" and snap["cost_usd"] == 19.75 and "lags" in snap["cost_note"]


def test_cost_explorer_is_asked_again_only_after_an_hour_of_the_callers_clock(live_session):
    env, session, clients, endpoint = live_session
    sid = session["id"]

    def inject(amount: str) -> None:
        result = {"results": [{"ResultsByTime": [
            {"TimePeriod": {"Start": "2026-06-28", "End": "2026-06-29"}, "Total": {"UnblendedCost": {"Amount": amount}}}]}]}
        assert httpx.post(f"{endpoint}/moto-api/static/ce/cost-and-usage-results", json=result).status_code == 201

    calls = []
    clients._session.events.register("before-call.ce.*", lambda model, **kw: calls.append(model.name))
    stored = LocalStore().get(sid)
    t0 = datetime(2031, 1, 1, 12, tzinfo=UTC)  # any time at all: the cache follows the clock it is given
    inject("5.0")
    assert monitor.billed_cost(clients, stored, t0) == 5.0 and len(calls) == 1
    assert monitor.billed_cost(clients, stored, t0 + timedelta(minutes=59)) == 5.0 and len(calls) == 1  # cached
    monitor.billed_cost(clients, stored, t0 + timedelta(minutes=61))
    assert len(calls) == 2
    monitor.billed_cost(clients, stored, t0 - timedelta(minutes=1))
    assert len(calls) == 3  # the clock went back: the cached answer is not trusted


def test_history_in_s3_is_read_from_a_second_machine(live_session, machine):  # noqa: F811
    env, session, clients, endpoint = live_session
    s3 = clients("s3")
    bucket = f"arw-monitor-{os.getpid()}"
    s3.create_bucket(Bucket=bucket)
    state = f"s3://{bucket}/lab"
    shared = json.loads(ok(env, "deploy", "--domain", "genomics", "--state", state, "--json"))
    ok(env, "monitor", "--session", shared["id"], "--state", state, "--json")
    other = machine("second-machine")
    snap = json.loads(ok(other, "monitor", "--session", shared["id"], "--state", state, "--json"))
    history = S3Store(state, s3, "123456789012").get(shared["id"]).monitoring
    assert len(history) >= 2 and history[-1]["cost_usd"] == pytest.approx(snap["cost_usd"], abs=0.01)


# --- the live dashboard in a real terminal -------------------------------------------------------


def read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


def test_the_dashboard_renders_refreshes_and_q_quits(live_session):
    env, session, _, _ = live_session
    master, slave = pty.openpty()
    proc = subprocess.Popen([ARW, "monitor", "--session", session["id"], "--interval", "1"],
                            stdin=slave, stdout=slave, stderr=slave, env={**env, "COLUMNS": "120", "LINES": "40",
                                                                          "TERM": "xterm"}, close_fds=True)
    os.close(slave)
    try:
        first = read_until(master, b"q quits", 60)
        assert b"aws-research-wizard monitor" in first and b"Cost so far" in first, first[-2000:]
        again = read_until(master, b"q quits", 10)
        assert b"Cost so far" in again  # refreshed
        os.write(master, b"q")
        rest = read_until(master, b"Resume with", 20)
        assert proc.wait(timeout=20) == 0
        assert b"Monitor closed" in rest and f"monitor --session {session['id']}".encode() in rest
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
