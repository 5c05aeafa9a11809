"""What EC2 and CloudWatch say about many instances of one AWS target, in batched calls.

- ``describe``: one DescribeInstances for up to ``DESCRIBE_CHUNK`` instance ids: each
  instance's state, when it last started running (``LaunchTime``: EC2 sets it again at every
  start) and, for an instance that is not running, when it stopped (the time in
  ``StateTransitionReason``, "User initiated (2026-06-28 17:00:00 GMT)"). Ids EC2 no longer
  knows are ``terminated`` with no times; a NotFound answer names them and the call is repeated
  without them (only when instances have vanished).
- ``checks``: one DescribeInstanceStatus for up to 100 running instances (its limit): the
  system and instance status checks.
- ``metrics``: one GetMetricData for up to 250 instances (500 queries, its limit): CPU
  (``AWS/EC2 CPUUtilization``) and memory (``CWAgent mem_used_percent``) over the last
  ``METRIC_WINDOW``, oldest first; no datapoints is an empty series ("no data yet"), never 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from registry_tools.aws.adapter import Clients, call, without_missing

DESCRIBE_CHUNK = 1000
STATUS_CHUNK = 100  # DescribeInstanceStatus takes at most 100 explicit instance ids
METRIC_QUERIES = 500  # GetMetricData takes at most 500 queries
METRIC_WINDOW = timedelta(hours=3)
METRIC_PERIOD_S = 300
TREND_POINTS = 12
GONE = "terminated"
_TRANSITION_TIME = re.compile(r"\((\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?: ?(?:GMT|UTC|Z))?\)")


@dataclass(frozen=True)
class Instance:
    """One instance as EC2 reports it now."""

    state: str  # EC2 state name; ``terminated`` when EC2 no longer knows the instance
    started: datetime | None = None  # when it last started running (LaunchTime)
    stopped: datetime | None = None  # when it left running, for an instance that is not running (None: unknown)
    checks: Mapping[str, str] = field(default_factory=dict)  # system / instance status checks (running only)


def transition_time(reason: str | None) -> datetime | None:
    """The time in an EC2 ``StateTransitionReason`` ("User initiated (2026-06-28 17:00:00 GMT)"), or None."""
    match = _TRANSITION_TIME.search(reason or "")
    if not match:
        return None
    try:
        return datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}").replace(tzinfo=UTC)
    except ValueError:
        return None


def _utc(value) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).replace(microsecond=0)


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in ids if i))


def describe(clients: Clients, instance_ids: Iterable[str]) -> dict[str, Instance]:
    """instance id -> ``Instance`` (state and times), one DescribeInstances per DESCRIBE_CHUNK ids."""
    ids = _unique(instance_ids)
    found: dict[str, Instance] = {}
    for chunk in _chunks(ids, DESCRIBE_CHUNK):
        reservations, _ = without_missing(clients("ec2").describe_instances, chunk, "Reservations")
        for reservation in reservations:
            for item in reservation.get("Instances", []):
                state = item.get("State", {}).get("Name", "unknown")
                stopped = None if state in ("running", "pending") else transition_time(item.get("StateTransitionReason"))
                found[item["InstanceId"]] = Instance(state, _utc(item.get("LaunchTime")), stopped)
    return {i: found.get(i, Instance(GONE)) for i in ids}


def checks(clients: Clients, instance_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """instance id -> {"system": ..., "instance": ...} status checks, one DescribeInstanceStatus per 100 ids."""
    out: dict[str, dict[str, str]] = {}
    for chunk in _chunks(_unique(instance_ids), STATUS_CHUNK):
        statuses, _ = without_missing(clients("ec2").describe_instance_status, chunk, "InstanceStatuses",
                                       IncludeAllInstances=True)
        for status in statuses:
            out[status["InstanceId"]] = {"system": status.get("SystemStatus", {}).get("Status", "not-applicable"),
                                         "instance": status.get("InstanceStatus", {}).get("Status", "not-applicable")}
    return out


def metrics(clients: Clients, instance_ids: Iterable[str], now: datetime
            ) -> dict[str, tuple[tuple[float, ...], tuple[float, ...]]]:
    """instance id -> (CPU %, memory %) series over the last METRIC_WINDOW, oldest first, the last
    TREND_POINTS of each; one GetMetricData per METRIC_QUERIES // 2 instances."""
    ids = _unique(instance_ids)
    out: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    for offset in range(0, len(ids), METRIC_QUERIES // 2):
        chunk = ids[offset:offset + METRIC_QUERIES // 2]
        queries = []
        for k, instance_id in enumerate(chunk):
            dimension = [{"Name": "InstanceId", "Value": instance_id}]
            for prefix, namespace, name in (("cpu", "AWS/EC2", "CPUUtilization"), ("mem", "CWAgent", "mem_used_percent")):
                queries.append({"Id": f"{prefix}_{k}", "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dimension},
                    "Period": METRIC_PERIOD_S, "Stat": "Average"}})
        series: dict[str, list[tuple[datetime, float]]] = {}
        token = None
        while True:
            page = call(clients("cloudwatch").get_metric_data, MetricDataQueries=queries, StartTime=now - METRIC_WINDOW,
                        EndTime=now + timedelta(minutes=1), ScanBy="TimestampAscending",
                        **({"NextToken": token} if token else {}))
            for result in page.get("MetricDataResults", []):
                series.setdefault(result["Id"], []).extend(
                    zip(result.get("Timestamps", []), (float(v) for v in result.get("Values", [])), strict=False))
            token = page.get("NextToken")
            if not token:
                break
        for k, instance_id in enumerate(chunk):
            out[instance_id] = (_trend(series.get(f"cpu_{k}", [])), _trend(series.get(f"mem_{k}", [])))
    return out


def _trend(points: list[tuple[datetime, float]]) -> tuple[float, ...]:
    return tuple(round(v, 2) for _, v in sorted(points, key=lambda p: p[0]))[-TREND_POINTS:]
