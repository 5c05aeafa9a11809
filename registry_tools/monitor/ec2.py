"""How busy a group's instances are: their CPU and memory series, asked in one request.

``usage`` asks ``Aws.metrics`` for two series per instance, CPU (``AWS/EC2 CPUUtilization``)
and memory (``CWAgent mem_used_percent``, what the packs' CloudWatch agent publishes), over the
last ``METRIC_WINDOW`` in ``METRIC_PERIOD_S`` steps; the adapter sends them as one GetMetricData
per 500 queries (250 instances). Each series is its last ``TREND_POINTS`` values, oldest first;
no datapoints is an empty series ("no data yet"), never 0. States, times and status checks
are the adapter's ``Aws.instances`` as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from registry_tools.aws.interface import MetricQuery, Metrics

METRIC_WINDOW = timedelta(hours=3)
METRIC_PERIOD_S = 300
TREND_POINTS = 12
SERIES = (("cpu", "AWS/EC2", "CPUUtilization"), ("mem", "CWAgent", "mem_used_percent"))

Usage = tuple[tuple[float, ...], tuple[float, ...]]  # (CPU %, memory %), oldest first


def usage(metrics: Metrics, instance_ids: Iterable[str], now: datetime) -> dict[str, Usage]:
    """instance id -> (CPU %, memory %) over the last METRIC_WINDOW before *now*."""
    ids = list(dict.fromkeys(i for i in instance_ids if i))
    if not ids:
        return {}
    queries = [MetricQuery(f"{prefix}_{k}", namespace, name, (("InstanceId", instance_id),), METRIC_PERIOD_S)
               for k, instance_id in enumerate(ids) for prefix, namespace, name in SERIES]
    series = metrics.series(queries, now - METRIC_WINDOW, now + timedelta(minutes=1))
    return {instance_id: (_trend(series.get(f"cpu_{k}", [])), _trend(series.get(f"mem_{k}", [])))
            for k, instance_id in enumerate(ids)}


def _trend(points: list[tuple[datetime, float]]) -> tuple[float, ...]:
    return tuple(round(v, 2) for _, v in sorted(points, key=lambda p: p[0]))[-TREND_POINTS:]
