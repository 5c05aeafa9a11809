"""Cost so far and the monitoring history, pure; no I/O.

Every refresh ``advance``s the latest stored sample to now: the time since it
is charged at the instance's on-demand hourly price when the instance was
running at that sample (a stopped instance costs nothing), and the root
volume pro rata all the time the stack exists. Samples carry the running
totals (``running_s``, ``elapsed_s``, ``cost_usd``), so a monitor resumed in a
new process, on this machine or another, continues the cost where the last
one stopped. ``record`` keeps at most one sample per ``SPACING_S`` (a closer
one replaces the last) and ``MAX_SAMPLES`` of them (14 days).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from registry_tools.sessions.model import MONITORING_HISTORY_MAX
from registry_tools.timefmt import format_utc, parse_utc

HOURS_PER_MONTH = 730.0
BILLED_STATES = frozenset({"running"})
SPACING_S = 300
MAX_SAMPLES = MONITORING_HISTORY_MAX  # 14 days of SPACING_S samples


@dataclass(frozen=True)
class Rates:
    """What a session costs per hour: the instance (while running) and its storage (always)."""

    instance_hourly: float
    storage_hourly: float

    def projected_monthly(self, running: bool = True) -> float:
        return round(((self.instance_hourly if running else 0.0) + self.storage_hourly) * HOURS_PER_MONTH, 2)


def rates_for(catalogue, instance_type: str, region: str, storage_gib: float) -> Rates:
    """Rates from the price table (``PriceError`` for an unknown type or region)."""
    return Rates(catalogue.hourly(instance_type, region), storage_gib * catalogue.gp3(region) / HOURS_PER_MONTH)


def advance(previous: Mapping | None, launched: datetime, now: datetime, state: str, rates: Rates) -> dict:
    """The running totals at *now*, from the last sample (or the launch, charged as running
    when the instance runs now)."""
    start = parse_utc(previous["time"]) if previous else launched
    charged_state = previous.get("state") if previous else state
    seconds = max((now - start).total_seconds(), 0.0)
    running_s = float(previous.get("running_s", 0.0)) if previous else 0.0
    elapsed_s = float(previous.get("elapsed_s", 0.0)) if previous else 0.0
    if charged_state in BILLED_STATES:
        running_s += seconds
    elapsed_s += seconds
    cost = running_s / 3600 * rates.instance_hourly + elapsed_s / 3600 * rates.storage_hourly
    return {"time": format_utc(now), "state": state, "running_s": round(running_s, 1), "elapsed_s": round(elapsed_s, 1),
            "cost_usd": round(cost, 4)}


def last_sample(history: Sequence[Mapping]) -> Mapping | None:
    """The newest sample that carries running totals (older, foreign entries are skipped)."""
    for sample in reversed(history):
        if isinstance(sample, Mapping) and "running_s" in sample and isinstance(sample.get("time"), str):
            return sample
    return None


def record(history: Sequence[Mapping], sample: Mapping) -> tuple[Mapping, ...]:
    """*history* with *sample*: it replaces the newest sample when that is less than SPACING_S
    after the one before it (the totals carry on either way), and the oldest go past MAX_SAMPLES."""
    kept = list(history)
    if len(kept) >= 2:
        try:
            gap = (parse_utc(kept[-1]["time"]) - parse_utc(kept[-2]["time"])).total_seconds()
        except (KeyError, TypeError, ValueError):
            gap = SPACING_S
        if gap < SPACING_S:
            kept.pop()
    kept.append(dict(sample))
    return tuple(kept[-MAX_SAMPLES:])


def over_budget(budget: float | None, cost: float, projected: float) -> bool:
    return budget is not None and (cost > budget or projected > budget)
