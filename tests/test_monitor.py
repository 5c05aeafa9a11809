"""The monitor: cost maths and history (pure, charged by what EC2 reports), snapshots from moto
(metrics injected with put_metric_data, Cost Explorer results through moto's API), launching
sessions reconciled by the monitor, `sessions list` and `show`, a first look long after the launch
(the time injected), a stop between two samples, unreachable sessions beside reachable ones,
continuity across processes and machines, the budget, the AWS-call count of one refresh (one
session, and ten in one region), and the live dashboard in a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from registry_tools.aws.adapter import BotoAws
from registry_tools.aws.interface import AwsError, Target
from registry_tools.monitor import cost as costs
from registry_tools.monitor import ec2
from registry_tools.monitor import observe as monitor
from registry_tools.sessions.local import LocalStore
from registry_tools.sessions.s3 import S3Store
from registry_tools.timefmt import format_utc, parse_utc

from .conftest import aws_now
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


def test_runtime_comes_from_what_ec2_reports():
    hour = timedelta(hours=1)
    # first looked at 12 hours after the launch; the instance started 2 minutes after it: 12 h less 2 min
    first = costs.advance(None, T0, T0 + 12 * hour, "running", RATES, started=T0 + timedelta(minutes=2))
    assert first["running_s"] == 12 * 3600 - 120 and first["elapsed_s"] == 12 * 3600
    assert first["cost_usd"] == pytest.approx((12 * 3600 - 120) / 3600 * 1.0 + 12 * 0.1, abs=1e-4)
    # running at the previous sample, stopped 1 h later, seen 10 h later: 1 h more, not 10
    stopped = costs.advance(first, T0, T0 + 22 * hour, "stopped", RATES, started=T0 + timedelta(minutes=2),
                            stopped=T0 + 13 * hour)
    assert stopped["running_s"] == first["running_s"] + 3600 and stopped["elapsed_s"] == 22 * 3600
    # stopped at the previous sample, started again 4 h later, seen 6 h later: the last 2 h
    again = costs.advance(stopped, T0, T0 + 28 * hour, "running", RATES, started=T0 + 26 * hour)
    assert again["running_s"] == stopped["running_s"] + 2 * 3600
    # first looked at when it is already stopped: from its start to its stop
    seen_stopped = costs.advance(None, T0, T0 + 12 * hour, "stopped", RATES, started=T0 + timedelta(minutes=1),
                                 stopped=T0 + 3 * hour)
    assert seen_stopped["running_s"] == 3 * 3600 - 60 and seen_stopped["elapsed_s"] == 12 * 3600
    # samples taken while the stack was being created ("none": no instance yet) charge nothing before the start
    launching = costs.advance(None, T0, T0 + timedelta(minutes=1), "none", RATES)
    assert launching["running_s"] == 0
    later = costs.advance(launching, T0, T0 + 5 * hour, "running", RATES, started=T0 + timedelta(minutes=3))
    assert later["running_s"] == 5 * 3600 - 180
    # terminated between two samples: up to the termination
    ended = costs.advance(later, T0, T0 + 9 * hour, "terminated", RATES, started=T0 + timedelta(minutes=3),
                          stopped=T0 + 6 * hour)
    assert ended["running_s"] == later["running_s"] + 3600


def test_what_ec2_does_not_say_is_charged_by_the_previous_sample():
    hour = timedelta(hours=1)
    running = {"time": format_utc(T0), "state": "running", "running_s": 0.0, "elapsed_s": 0.0}
    stopped = {**running, "state": "stopped"}
    # stopped, and the transition reason has no time: the previous sample's state stands (an upper bound)
    assert costs.running_seconds(T0, T0 + hour, "running", "stopped", T0 - hour, None) == 3600
    assert costs.running_seconds(T0, T0 + hour, "stopped", "stopped", T0 - hour, None) == 0
    # stopped and started again between two samples: EC2 keeps only the last start; up to it is charged
    assert costs.advance(running, T0, T0 + 6 * hour, "running", RATES, started=T0 + 5 * hour)["running_s"] == 6 * 3600
    assert costs.advance(stopped, T0, T0 + 6 * hour, "running", RATES, started=T0 + 5 * hour)["running_s"] == 3600
    # starting (pending) is not charged; no times at all: the previous state (first sample: the current one)
    assert costs.running_seconds(T0, T0 + hour, "stopped", "pending", T0 + hour, None) == 0
    assert costs.running_seconds(T0, T0 + hour, None, "running") == 3600
    assert costs.running_seconds(T0, T0 - hour, "running", "running", T0 - 2 * hour) == 0  # a clock that went back
    # an instance start reported before the session's launch (another clock) charges from the launch
    assert costs.running_seconds(T0, T0 + hour, None, "running", T0 - hour) == 3600


def test_usage_maps_every_instance_to_its_own_series_across_requests():
    """600 instances are 1200 queries, three GetMetricData requests: each series still lands on its instance."""
    from moto import mock_aws

    ids = [f"i-{k:017x}" for k in range(600)]
    with mock_aws():
        aws = BotoAws(Target("us-east-1"))
        for instance_id, value in ((ids[0], 1.5), (ids[499], 2.5), (ids[599], 3.5)):
            aws.clients("cloudwatch").put_metric_data(Namespace="AWS/EC2", MetricData=[
                {"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                 "Timestamp": T0 - timedelta(minutes=10), "Value": value, "Unit": "Percent"}])
        aws.clients("cloudwatch").put_metric_data(Namespace="CWAgent", MetricData=[
            {"MetricName": "mem_used_percent", "Dimensions": [{"Name": "InstanceId", "Value": ids[599]}],
             "Timestamp": T0 - timedelta(minutes=5), "Value": 70.0, "Unit": "Percent"}])
        calls = []
        aws.clients("cloudwatch").meta.events.register("before-call.*.*", lambda model, **kw: calls.append(model.name))
        series = ec2.usage(aws.metrics, ids, T0)
    assert calls == ["GetMetricData"] * 3
    assert series[ids[0]] == ((1.5,), ()) and series[ids[499]] == ((2.5,), ()) and series[ids[599]] == ((3.5,), (70.0,))
    assert series[ids[1]] == ((), ()) and len(series) == 600  # no data yet: empty, never 0


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
    aws = BotoAws(Target("us-east-1", machine.endpoint))
    return env, session, aws, machine.endpoint


def put_metrics(aws, instance_id: str, name: str, namespace: str, values, now: datetime) -> None:
    data = [{"MetricName": name, "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
             "Timestamp": now - timedelta(minutes=5 * (len(values) - k)), "Value": v, "Unit": "Percent"}
            for k, v in enumerate(values)]
    aws.clients("cloudwatch").put_metric_data(Namespace=namespace, MetricData=data)


def test_snapshot_values_no_data_yet_and_continuity(live_session):
    env, session, aws, _ = live_session
    store, sid, instance = LocalStore(), session["id"], session["instance_ids"][0]
    now = aws_now().replace(microsecond=0)
    first = monitor.refresh(store, sid, aws, now=now)
    assert first["cpu_percent"] is None and first["memory_percent"] is None  # no data yet, not 0
    assert first["instance_state"] == "running" and first["health"] in ("ok", "initializing", "unknown")
    assert first["cost_source"] == "estimate" and first["stack_status"] == "CREATE_COMPLETE"
    put_metrics(aws, instance, "CPUUtilization", "AWS/EC2", [10.0, 20.0, 35.5], now)
    put_metrics(aws, instance, "mem_used_percent", "CWAgent", [40.0, 62.25], now)
    second = monitor.refresh(store, sid, aws, now=now + timedelta(minutes=30))
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
    aws.clients("ec2").stop_instances(InstanceIds=[instance])
    seen_stopped = monitor.refresh(store, sid, aws, now=now + timedelta(minutes=40))
    assert seen_stopped["instance_state"] == "stopped"
    later = monitor.refresh(store, sid, aws, now=now + timedelta(minutes=100))
    assert later["runtime_hours"] == seen_stopped["runtime_hours"]
    assert later["projected_monthly_usd"] < seen_stopped["projected_monthly_usd"] or later["projected_monthly_usd"] < 100


def test_budget_list_view_and_call_count(live_session):
    env, session, aws, _ = live_session
    over = arw(env, "monitor", "--session", session["id"], "--once", "--budget", "1")
    assert over.returncode == 3 and "over the budget" in over.stderr and "OVER BUDGET" in over.stdout
    within = arw(env, "monitor", "--session", session["id"], "--once", "--budget", "100000")
    assert within.returncode == 0 and "no data yet" in within.stdout
    listing = ok(env, "monitor", "--once")
    assert session["id"] in listing.splitlines()[1]
    calls = []
    aws.clients.events.register("before-call.*.*", lambda model, **kw: calls.append(model.name))
    monitor.refresh(LocalStore(), session["id"], aws, now=aws_now())
    assert len(calls) <= 3, calls


def detached(env: dict, count: int = 1) -> list[str]:
    """Deploy genomics *count* times with --detach (sessions left launching, as after quitting)."""
    ids = []
    for _ in range(count):
        out = ok(env, "deploy", "--domain", "genomics", "--detach")
        ids.append(out.split("--session ")[1].split()[0])
    return ids


def store_of(env: dict) -> LocalStore:
    return LocalStore(Path(env["ARW_HOME"]) / "sessions")


def test_detach_then_monitor_reconciles_and_charges_from_the_launch(machine):  # noqa: F811
    env = machine()
    listed, single, shown = detached(env, 3)
    store = store_of(env)
    assert store.get(listed).status == "launching"
    launch = parse_utc(store.get(listed).launch_time)
    hourly, storage_monthly = 1.0584, 500 * 0.08  # r7i.4xlarge in us-east-1; 500 GiB of gp3
    # first looked at 12 hours after the launch (the time injected): running since its launch, charged so
    later = {**env, "ARW_NOW": format_utc(launch + timedelta(hours=12))}
    snaps = {s["session"]: s for s in json.loads(ok(later, "monitor", "--once", "--json"))}
    assert set(snaps) == {listed, single, shown}
    snap = snaps[listed]
    assert snap["status"] == "running" and snap["instance_state"] == "running" and snap["stack_status"] == "CREATE_COMPLETE"
    assert snap["instance_id"] and snap["instance_id"].startswith("i-") and snap["health"] == "ok"
    assert snap["runtime_hours"] == pytest.approx(12, abs=0.02)
    assert snap["cost_usd"] == pytest.approx(12 * hourly + 12 * storage_monthly / 730, abs=0.1)
    assert snap["projected_monthly_usd"] == pytest.approx(hourly * 730 + storage_monthly, abs=0.01)
    stored = store.get(listed)
    assert stored.status == "running" and stored.instance_ids == (snap["instance_id"],) and stored.outputs
    # the next refresh goes on from there
    again = json.loads(ok({**env, "ARW_NOW": format_utc(launch + timedelta(hours=13))}, "monitor", "--session",
                          listed, "--once", "--json"))
    assert again["runtime_hours"] == pytest.approx(13, abs=0.02)


def test_monitor_one_launching_session_and_sessions_show_reconcile(machine):  # noqa: F811
    env = machine()
    first, second = detached(env, 2)
    snap = json.loads(ok(env, "monitor", "--session", first, "--once", "--json"))
    assert snap["status"] == "running" and snap["instance_id"] and snap["instance_state"] == "running"
    shown = json.loads(ok(env, "sessions", "show", second, "--json"))
    assert shown["status"] == "running" and shown["instance_ids"] and shown["outputs"]
    text = ok(env, "sessions", "show", first)
    assert "running" in text.splitlines()[1] and "launching" not in text


def test_a_stop_between_two_samples_is_charged_up_to_the_stop(live_session):
    env, session, aws, _ = live_session
    store, sid, instance = LocalStore(), session["id"], session["instance_ids"][0]
    now = aws_now().replace(microsecond=0)
    first = monitor.refresh(store, sid, aws, now=now)
    aws.clients("ec2").stop_instances(InstanceIds=[instance])  # now-ish, by EC2's clock
    seen = monitor.refresh(store, sid, aws, now=now + timedelta(hours=5))  # seen stopped 5 hours later
    assert seen["instance_state"] == "stopped" and seen["status"] == "stopped"
    assert seen["runtime_hours"] == pytest.approx(first["runtime_hours"], abs=0.01)  # not 5 hours more
    assert seen["projected_monthly_usd"] == pytest.approx(500 * 0.08, abs=0.01)  # storage only
    assert [r["status"] for r in json.loads(ok(env, "sessions", "list", "--json"))] == ["stopped"]
    aws.clients("ec2").start_instances(InstanceIds=[instance])
    running = monitor.refresh(store, sid, aws, now=now + timedelta(hours=6))
    assert running["status"] == "running" and running["instance_state"] == "running"
    assert running["runtime_hours"] == pytest.approx(seen["runtime_hours"] + 1, abs=0.01)


def test_unreachable_sessions_are_shown_with_the_reason_beside_the_others(machine, tmp_path):  # noqa: F811
    env = {**machine(), "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials")}
    first, lost, third = detached(env, 3)
    store = store_of(env)
    # deployed from another machine with a profile this one does not have
    store.update(lost, lambda s: replace(s, sandbox=False, profile="lab-admin", endpoint_url=machine.endpoint))
    result = arw(env, "monitor", "--once", "--json")
    assert result.returncode == 4 and "Traceback" not in result.stderr
    snaps = {s["session"]: s for s in json.loads(result.stdout)}
    assert set(snaps) == {first, lost, third}
    assert snaps[first]["status"] == snaps[third]["status"] == "running" and "error" not in snaps[first]
    assert "lab-admin" in snaps[lost]["error"] and "not configured on this machine" in snaps[lost]["error"]
    text = arw(env, "monitor", "--once")
    assert text.returncode == 4 and "1 of 3 sessions could not be refreshed" in text.stderr
    lines = {line.split()[0]: line for line in text.stdout.splitlines()[1:]}
    assert "running" in lines[first] and "running" in lines[third]
    assert "unreachable" in lines[lost] and "lab-admin" in lines[lost]
    # the one session on its own is an error
    alone = arw(env, "monitor", "--session", lost, "--once")
    assert alone.returncode == 1 and "lab-admin" in alone.stderr and "Traceback" not in alone.stderr
    # sessions list still lists it (as stored: launching) and says why it could not be brought up to date
    listing = arw(env, "sessions", "list", "--json")
    assert listing.returncode == 0 and f"{lost} may be out of date: could not ask AWS" in listing.stderr
    assert {r["id"]: r["status"] for r in json.loads(listing.stdout)} == {first: "running", lost: "launching",
                                                                          third: "running"}


def test_no_price_and_a_vanished_record_do_not_stop_the_others(live_session):
    env, session, aws, _ = live_session
    store, sid = LocalStore(), session["id"]
    odd = json.loads(ok(env, "deploy", "--domain", "genomics", "--json"))["id"]
    gone = json.loads(ok(env, "deploy", "--domain", "genomics", "--json"))["id"]
    store.update(odd, lambda s: replace(s, instance_type="x9.nonexistent"))
    store.remove(gone)
    snaps = monitor.refresh_many(store, [sid, odd, gone], lambda s: aws, now=aws_now())
    assert [s["session"] for s in snaps] == [sid, odd, gone]
    assert "error" not in snaps[0] and snaps[0]["instance_state"] == "running"
    assert "no price for x9.nonexistent" in snaps[1]["error"] and snaps[1]["status"] == "running"
    assert "error" in snaps[2] and snaps[2]["status"] is None

    def unreachable(s):
        raise AwsError("the sandbox is not running", "Unreachable")

    (down,) = monitor.refresh_many(store, [sid], unreachable, now=aws_now())
    assert down["error"] == "the sandbox is not running"


def test_vanished_instances_and_a_deleted_stack(live_session):
    env, session, aws, endpoint = live_session
    store, sid, instance = LocalStore(), session["id"], session["instance_ids"][0]
    assert aws.instances.describe([instance, "i-0123456789abcdef0"])["i-0123456789abcdef0"].state == "terminated"
    monitor.refresh(store, sid, aws, now=aws_now())
    aws.clients("cloudformation").delete_stack(StackName=session["stack_name"])
    snap = monitor.refresh(store, sid, aws, now=aws_now() + timedelta(minutes=10))
    assert snap["status"] == "completed" and snap["projected_monthly_usd"] == 0
    assert "deleted outside" in (store.get(sid).status_reason or "")
    counted, calls = BotoAws(Target("us-east-1", endpoint)), []
    counted.clients.events.register("before-call.*.*", lambda model, **kw: calls.append(model.name))
    finished = monitor.refresh(store, sid, counted, now=aws_now() + timedelta(minutes=20))
    assert finished["status"] == "completed" and calls == []  # a finished session costs no AWS call
    assert ok(env, "monitor", "--once").startswith("No active sessions")


def test_one_refresh_of_ten_sessions_in_one_region_costs_three_calls(machine):  # noqa: F811
    env = machine()
    ids = detached(env, 10)
    store = store_of(env)
    aws = BotoAws(Target("us-east-1", machine.endpoint))
    now = aws_now().replace(microsecond=0)
    first = monitor.refresh_many(store, ids, lambda s: aws, now=now)  # reconciles the launching ones
    assert all(s["status"] == "running" and s["instance_state"] == "running" for s in first), first
    instances = [s["instance_id"] for s in first]
    assert len(set(instances)) == 10
    put_metrics(aws, instances[3], "CPUUtilization", "AWS/EC2", [12.0, 88.0], now)
    put_metrics(aws, instances[7], "mem_used_percent", "CWAgent", [55.5], now)
    counted, calls = BotoAws(Target("us-east-1", machine.endpoint)), []
    counted.clients.events.register("before-call.*.*", lambda model, **kw: calls.append(model.name))
    snaps = monitor.refresh_many(store, ids, lambda s: counted, now=now + timedelta(minutes=10))
    assert len(calls) <= 3, calls
    assert sorted(calls) == ["DescribeInstanceStatus", "DescribeInstances", "GetMetricData"]
    by_instance = {s["instance_id"]: s for s in snaps}
    assert by_instance[instances[3]]["cpu_trend"] == [12.0, 88.0] and by_instance[instances[3]]["memory_percent"] is None
    assert by_instance[instances[7]]["memory_percent"] == 55.5 and by_instance[instances[7]]["cpu_percent"] is None
    assert all(s["runtime_hours"] == pytest.approx(10 / 60 + f["runtime_hours"], abs=1e-3) for s, f in zip(snaps, first, strict=True))
    assert all(s["health"] == "ok" for s in snaps)


def test_billing_cost_from_cost_explorer(live_session):
    env, session, aws, endpoint = live_session
    result = {"results": [{"ResultsByTime": [
        {"TimePeriod": {"Start": "2026-06-28", "End": "2026-06-29"}, "Total": {"UnblendedCost": {"Amount": "12.5", "Unit": "USD"}}},
        {"TimePeriod": {"Start": "2026-06-29", "End": "2026-06-30"}, "Total": {"UnblendedCost": {"Amount": "7.25", "Unit": "USD"}}},
    ]}]}
    assert httpx.post(f"{endpoint}/moto-api/static/ce/cost-and-usage-results", json=result).status_code == 201
    snap = json.loads(ok(env, "monitor", "--session", session["id"], "--json", "--cost-source", "billing"))
    assert snap["cost_source"] == "billing" and snap["cost_usd"] == 19.75 and "lags" in snap["cost_note"]


def test_cost_explorer_is_asked_again_only_after_an_hour_of_the_callers_clock(live_session):
    env, session, aws, endpoint = live_session
    sid = session["id"]

    def inject(amount: str) -> None:
        result = {"results": [{"ResultsByTime": [
            {"TimePeriod": {"Start": "2026-06-28", "End": "2026-06-29"}, "Total": {"UnblendedCost": {"Amount": amount}}}]}]}
        assert httpx.post(f"{endpoint}/moto-api/static/ce/cost-and-usage-results", json=result).status_code == 201

    calls = []
    aws.clients.events.register("before-call.ce.*", lambda model, **kw: calls.append(model.name))
    stored = LocalStore().get(sid)
    t0 = datetime(2031, 1, 1, 12, tzinfo=UTC)  # any time at all: the cache follows the clock it is given
    inject("5.0")
    assert monitor.billed_cost(aws, stored, t0) == 5.0 and len(calls) == 1
    assert monitor.billed_cost(aws, stored, t0 + timedelta(minutes=59)) == 5.0 and len(calls) == 1  # cached
    monitor.billed_cost(aws, stored, t0 + timedelta(minutes=61))
    assert len(calls) == 2
    monitor.billed_cost(aws, stored, t0 - timedelta(minutes=1))
    assert len(calls) == 3  # the clock went back: the cached answer is not trusted


def test_history_in_s3_is_read_from_a_second_machine(live_session, machine):  # noqa: F811
    env, session, aws, endpoint = live_session
    s3 = aws.clients("s3")
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
