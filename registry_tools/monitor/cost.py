"""Cost so far and the monitoring history, pure; no I/O.

Every refresh ``advance``s the latest stored sample to now. The root volume is
charged pro rata all the time the stack exists (from the session's launch).
The instance is charged at its on-demand hourly price for the time EC2 says it
ran (``running_seconds``): from when it last started (EC2's ``LaunchTime``,
set again at every start) up to now while it runs, or up to when it stopped
(the time in its ``StateTransitionReason``) once it is stopped. So a session
first looked at 12 hours after its launch is charged those 12 hours, and a
stop between two samples is charged up to the stop, not to the next sample.
What EC2 does not say is charged by the state the previous sample saw (the
first sample: the state now):
- a stop *and* a start again between two samples: EC2 keeps only the last
  start, so the time from the previous sample to the restart is charged when
  the instance was running at that sample (an upper bound);
- a stopped instance whose transition reason carries no time (charged as the
  previous sample saw it; at the first sample, not charged);
- at the first sample, an earlier run that had already ended before the
  latest start is not known (EC2 keeps no history): it is not charged (a
  lower bound).
A stopped instance costs nothing but its storage; ``pending`` is not charged.

Samples carry the running totals (``running_s``, ``elapsed_s``, ``cost_usd``),
so a monitor resumed in a new process, on this machine or another, continues
the cost where the last one stopped. ``record`` keeps at most one sample per
``SPACING_S`` (a closer one replaces the last) and ``MAX_SAMPLES`` of them (14 days).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from registry_tools.pricing.cost import HOURS_PER_MONTH as HOURS_PER_MONTH
from registry_tools.pricing.cost import Rates as Rates
from registry_tools.pricing.cost import rates_for as rates_for
from registry_tools.sessions.model import MONITORING_HISTORY_MAX
from registry_tools.timefmt import format_utc, parse_utc

BILLED_STATES = frozenset({"running"})
SPACING_S = 300
MAX_SAMPLES = MONITORING_HISTORY_MAX  # 14 days of SPACING_S samples


def advance(previous: Mapping[str, Any] | None, launched: datetime, now: datetime, state: str, rates: Rates, *,
            started: datetime | None = None, stopped: datetime | None = None) -> dict[str, Any]:
    """The running totals at *now*, from the last sample (or from the session's *launched*).

    *state* is the instance's EC2 state now; *started* when it last started running (EC2's
    LaunchTime; None: not known), *stopped* when it left running, for an instance that is not
    running now (None: not known). See ``running_seconds``."""
    start = parse_utc(previous["time"]) if previous else launched
    before = previous.get("state") if previous else None
    seconds = max((now - start).total_seconds(), 0.0)
    running_s = float(previous.get("running_s", 0.0)) if previous else 0.0
    elapsed_s = float(previous.get("elapsed_s", 0.0)) if previous else 0.0
    running_s += running_seconds(start, now, before, state, started, stopped)
    elapsed_s += seconds
    cost = running_s / 3600 * rates.instance_hourly + elapsed_s / 3600 * rates.storage_hourly
    return {"time": format_utc(now), "state": state, "running_s": round(running_s, 1), "elapsed_s": round(elapsed_s, 1),
            "cost_usd": round(cost, 4)}


def _overlap(start: datetime, end: datetime, first: datetime, last: datetime) -> float:
    return max((min(end, last) - max(start, first)).total_seconds(), 0.0)


def running_seconds(start: datetime, end: datetime, before: str | None, state: str,
                    started: datetime | None = None, stopped: datetime | None = None) -> float:
    """How long the instance ran between *start* (the previous sample, or the session's launch when
    *before* is None) and *end* (now), by what EC2 says: it has run since *started* (its last start)
    up to *end* when *state* is running, up to *stopped* when it is not. What EC2 does not say is
    charged by *before*, the state at the previous sample (the module docstring lists the cases)."""
    if end <= start:
        return 0.0
    gap = (end - start).total_seconds()
    if started is None:  # EC2 said nothing about times: the previous sample's state (first: now's) stands
        return gap if (before if before is not None else state) in BILLED_STATES else 0.0
    if state in BILLED_STATES:
        ran_until = end
    elif state == "pending":  # starting again just now (started is this start): nothing since
        ran_until = started
    elif stopped is not None:
        ran_until = stopped
    else:  # not running, and when it stopped is not known
        return gap if before in BILLED_STATES else 0.0
    known = _overlap(start, end, started, ran_until)
    if before in BILLED_STATES and started > start:  # it was running, stopped at a time EC2 no longer says, restarted
        known += _overlap(start, end, start, started)
    return min(known, gap)


def last_sample(history: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest sample that carries running totals (older, foreign entries are skipped)."""
    for sample in reversed(history):
        if isinstance(sample, Mapping) and "running_s" in sample and isinstance(sample.get("time"), str):
            return sample
    return None


def record(history: Sequence[Mapping[str, Any]], sample: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
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
