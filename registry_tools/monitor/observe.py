"""One refresh of one session: at most three AWS calls, then a snapshot.

``observe`` asks CloudFormation for the stack status (DescribeStacks), EC2 for the
instance's state and status checks in one call (DescribeInstanceStatus with
IncludeAllInstances), and CloudWatch for CPU and memory in one call
(GetMetricData: ``AWS/EC2 CPUUtilization`` and ``CWAgent mem_used_percent`` by
InstanceId). No datapoints is "no data yet" (None), never 0. ``refresh`` turns
that into the next history sample (``cost.advance``), stores it through the
session store, and returns the snapshot that ``--json`` prints. Billed cost
(Cost Explorer by the ``arw:session-id`` tag) is asked at most once an hour per
process: it lags by up to a day anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from registry_tools.clock import is_fresh
from registry_tools.deploy.aws import AwsError, Clients, Stacks, call
from registry_tools.monitor import cost as costs
from registry_tools.sessions.model import Session
from registry_tools.timefmt import parse_utc

METRIC_WINDOW = timedelta(hours=3)
METRIC_PERIOD_S = 300
TREND_POINTS = 12
BILLING_TTL = timedelta(hours=1)
_billing_cache: dict[str, tuple[datetime, float]] = {}  # session id -> (asked at, billed USD)


class MonitorError(Exception):
    """The monitor cannot work out a snapshot (no price for the instance type, ...)."""


@dataclass(frozen=True)
class Observed:
    stack_status: str | None
    instance_state: str | None
    health: str  # ok | impaired | initializing | unknown | no instance
    cpu: tuple[float, ...] = ()  # oldest first; empty = no data yet
    memory: tuple[float, ...] = ()
    checks: Mapping[str, str] = field(default_factory=dict)


def observe(session: Session, clients: Clients, now: datetime) -> Observed:
    stack = Stacks(clients).describe(session.stack_name)
    stack_status = stack["StackStatus"] if stack else None
    instance_id = session.instance_ids[0] if session.instance_ids else None
    if instance_id is None or stack is None:
        return Observed(stack_status, None, "no instance")
    try:
        statuses = call(clients("ec2").describe_instance_status, InstanceIds=[instance_id],
                        IncludeAllInstances=True)["InstanceStatuses"]
    except AwsError as exc:
        if exc.code != "InvalidInstanceID.NotFound":
            raise
        statuses = []
    if not statuses:
        return Observed(stack_status, "terminated", "no instance")
    status = statuses[0]
    state = status.get("InstanceState", {}).get("Name", "unknown")
    checks = {"system": status.get("SystemStatus", {}).get("Status", "not-applicable"),
              "instance": status.get("InstanceStatus", {}).get("Status", "not-applicable")}
    cpu, memory = metrics(clients, instance_id, now)
    return Observed(stack_status, state, health_of(state, checks), cpu, memory, checks)


def health_of(state: str, checks: Mapping[str, str]) -> str:
    if state != "running":
        return state
    values = set(checks.values())
    if "impaired" in values:
        return "impaired"
    if "initializing" in values:
        return "initializing"
    if values <= {"ok"}:
        return "ok"
    return "unknown"


def metrics(clients: Clients, instance_id: str, now: datetime) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(CPU %, memory %) series over the last METRIC_WINDOW, oldest first."""
    dimension = [{"Name": "InstanceId", "Value": instance_id}]
    queries = [
        {"Id": "cpu", "MetricStat": {"Metric": {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
                                                "Dimensions": dimension}, "Period": METRIC_PERIOD_S, "Stat": "Average"}},
        {"Id": "mem", "MetricStat": {"Metric": {"Namespace": "CWAgent", "MetricName": "mem_used_percent",
                                                "Dimensions": dimension}, "Period": METRIC_PERIOD_S, "Stat": "Average"}},
    ]
    result = call(clients("cloudwatch").get_metric_data, MetricDataQueries=queries, StartTime=now - METRIC_WINDOW,
                  EndTime=now + timedelta(minutes=1), ScanBy="TimestampAscending")
    series = {r["Id"]: tuple(round(float(v), 2) for _, v in sorted(zip(r.get("Timestamps", []), r.get("Values", []),
                                                                          strict=False)))
              for r in result.get("MetricDataResults", [])}
    return series.get("cpu", ())[-TREND_POINTS:], series.get("mem", ())[-TREND_POINTS:]


def billed_cost(clients: Clients, session: Session, now: datetime) -> float:
    """What Cost Explorer has billed to the session's tag up to *now* (asked again after BILLING_TTL)."""
    cached = _billing_cache.get(session.id)
    if cached and is_fresh(cached[0], now, BILLING_TTL):
        return cached[1]
    start = parse_utc(session.launch_time).date()
    end = max(now.date() + timedelta(days=1), start + timedelta(days=1))
    result = call(clients("ce").get_cost_and_usage, TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
                  Granularity="DAILY", Metrics=["UnblendedCost"],
                  Filter={"Tags": {"Key": "arw:session-id", "Values": [session.id]}})
    total = sum(float(day.get("Total", {}).get("UnblendedCost", {}).get("Amount", 0) or 0)
                for day in result.get("ResultsByTime", []))
    _billing_cache[session.id] = (now, total)
    return total


def snapshot(session: Session, seen: Observed, sample: Mapping, rates: costs.Rates, *, cost_source: str = "estimate",
             billed: float | None = None, budget: float | None = None) -> dict:
    """What the monitor shows (and ``--json`` prints) for one session."""
    running = seen.instance_state == "running"
    cost = billed if cost_source == "billing" and billed is not None else float(sample["cost_usd"])
    projected = rates.projected_monthly(running)
    return {
        "session": session.id, "domain": session.domain, "pack_version": session.pack_version, "title": session.title,
        "status": session.status, "stack_status": seen.stack_status,
        "instance_id": session.instance_ids[0] if session.instance_ids else None,
        "instance_type": session.instance_type, "instance_state": seen.instance_state, "health": seen.health,
        "status_checks": dict(seen.checks),
        "cpu_percent": seen.cpu[-1] if seen.cpu else None, "memory_percent": seen.memory[-1] if seen.memory else None,
        "cpu_trend": list(seen.cpu), "memory_trend": list(seen.memory),
        "runtime_hours": round(float(sample["running_s"]) / 3600, 3),
        "cost_usd": round(cost, 2), "cost_source": cost_source,
        "cost_note": "billed by AWS (Cost Explorer, by tag arw:session-id; lags up to a day)"
        if cost_source == "billing" else "estimate: on-demand price x running hours + storage",
        "projected_monthly_usd": projected, "budget_usd": budget,
        "over_budget": costs.over_budget(budget, cost, projected),
        "sandbox": session.sandbox, "region": session.region, "time": sample["time"],
        "resume": f"aws-research-wizard monitor --session {session.id}",
    }


def rates_of(session: Session) -> costs.Rates:
    from registry_tools.pricing.catalogue import Catalogue, PriceError

    try:
        storage = float(session.parameters.get("RootVolumeGiB", 0) or 0)
        return costs.rates_for(Catalogue.load(), session.instance_type, session.region, storage)
    except (PriceError, ValueError) as exc:
        raise MonitorError(f"session {session.id}: no price for {session.instance_type} in {session.region} "
                           f"({exc})") from None


def refresh(store, session_id: str, clients: Clients, *, now: datetime, cost_source: str = "estimate",
            budget: float | None = None) -> dict:
    """Observe the session at *now*, append the sample to its history (through the store) and
    return the snapshot."""
    session = store.get(session_id)
    seen = observe(session, clients, now)
    rates = rates_of(session)
    launched = parse_utc(session.launch_time)
    state = seen.instance_state or "none"
    holder: dict = {}

    def add(current: Session) -> Session:
        sample = costs.advance(costs.last_sample(current.monitoring), launched, now, state, rates)
        sample.update({"cpu": seen.cpu[-1] if seen.cpu else None, "mem": seen.memory[-1] if seen.memory else None})
        holder["sample"] = sample
        return replace(current, monitoring=costs.record(current.monitoring, sample))

    session = store.update(session_id, add)
    billed = billed_cost(clients, session, now) if cost_source == "billing" else None
    return snapshot(session, seen, holder["sample"], rates, cost_source=cost_source, billed=billed, budget=budget)
