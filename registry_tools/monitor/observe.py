"""One refresh of many sessions: a few batched AWS calls per target, then one snapshot each.

``refresh_many`` groups the sessions by where their AWS calls go (the ``Target`` of the
``Aws`` that ``aws_for`` gives: region, profile, endpoint, sandbox) and refreshes each group,
through the named operations of ``aws/interface.py`` only:

- A session still ``launching`` (after ``deploy --detach``, or a deploy that was quit) is
  reconciled first, the way ``sessions resume`` does it (``lifecycle.reconcile``: the stack's
  status, its resources once, so its instances, and their states): running, stopped, failed
  or completed, within this refresh. A running session whose instances are all gone is
  reconciled the same way (was its stack deleted?). Those are the only CloudFormation calls:
  a running session's stack is not asked again, and its snapshot shows the stack status the
  last reconcile recorded.
- Running and stopped sessions share three calls per group: ``instances.describe`` (one
  DescribeInstances: state, last start, stop time), ``instances.status_checks`` for the running
  ones (one DescribeInstanceStatus) and ``ec2.usage`` for all of them (one GetMetricData: CPU and
  memory); larger groups take one more call per 1000 / 100 / 250 instances.
- Each session's next history sample (``cost.advance``, charged by what EC2 reports) and its
  status (``model.reconcile``: running <-> stopped) are stored in one update through the session
  store. Billed cost (``costs.by_tag``: Cost Explorer by the ``arw:session-id`` tag) is asked at most once an hour
  per session and process: it lags by up to a day anyway.

A session that cannot be refreshed (its target cannot be reached, its record cannot be read,
no price for its instance type, an AWS error for its group) gets an entry with ``error`` (the
reason) instead of a snapshot; the others are refreshed all the same. Finished sessions are
shown from their record, without AWS calls. ``refresh`` is the one-session form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from registry_tools.aws.interface import Aws, AwsError, Instance
from registry_tools.clock import is_fresh
from registry_tools.errors import ArwError
from registry_tools.monitor import cost as costs
from registry_tools.monitor import ec2
from registry_tools.sessions import lifecycle, model
from registry_tools.sessions.interface import StoreError
from registry_tools.sessions.model import FINISHED, LAUNCHING, Observation, Session, SessionError
from registry_tools.timefmt import format_utc, parse_utc

BILLING_TTL = timedelta(hours=1)
GONE_STATES = frozenset({"terminated", "shutting-down"})
CREATED = "CREATE_COMPLETE"
_billing_cache: dict[str, tuple[datetime, float]] = {}  # session id -> (asked at, billed USD)


class MonitorError(ArwError):
    """The monitor cannot work out a snapshot (no price for the instance type, ...)."""


@dataclass(frozen=True)
class Observed:
    stack_status: str | None
    instance_state: str | None
    health: str  # ok | impaired | initializing | unknown | no instance | an EC2 state | a finished status
    cpu: tuple[float, ...] = ()  # oldest first; empty = no data yet
    memory: tuple[float, ...] = ()
    checks: Mapping[str, str] = field(default_factory=dict)


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


def billed_cost(aws: Aws, session: Session, now: datetime) -> float:
    """What Cost Explorer has billed to the session's tag up to *now* (asked again after BILLING_TTL)."""
    cached = _billing_cache.get(session.id)
    if cached and is_fresh(cached[0], now, BILLING_TTL):
        return cached[1]
    start = parse_utc(session.launch_time).date()
    end = max(now.date() + timedelta(days=1), start + timedelta(days=1))
    total = aws.costs.by_tag(lifecycle.TAG_SESSION, session.id, start, end)
    _billing_cache[session.id] = (now, total)
    return total


def snapshot(session: Session, seen: Observed, sample: Mapping, rates: costs.Rates | None, *,
             cost_source: str = "estimate", billed: float | None = None, budget: float | None = None) -> dict:
    """What the monitor shows (and ``--json`` prints) for one session (*rates* None: nothing is
    charged any more, a finished session)."""
    running = seen.instance_state == "running"
    cost = billed if cost_source == "billing" and billed is not None else float(sample.get("cost_usd", 0.0))
    projected = rates.projected_monthly(running) if rates is not None else 0.0
    return {
        "session": session.id, "domain": session.domain, "pack_version": session.pack_version, "title": session.title,
        "status": session.status, "stack_status": seen.stack_status,
        "instance_id": session.instance_ids[0] if session.instance_ids else None,
        "instance_type": session.instance_type, "instance_state": seen.instance_state, "health": seen.health,
        "status_checks": dict(seen.checks),
        "cpu_percent": seen.cpu[-1] if seen.cpu else None, "memory_percent": seen.memory[-1] if seen.memory else None,
        "cpu_trend": list(seen.cpu), "memory_trend": list(seen.memory),
        "runtime_hours": round(float(sample.get("running_s", 0.0)) / 3600, 3),
        "cost_usd": round(cost, 2), "cost_source": cost_source,
        "cost_note": "billed by AWS (Cost Explorer, by tag arw:session-id; lags up to a day)"
        if cost_source == "billing" else "estimate: on-demand price x running hours (as EC2 reports them) + storage",
        "projected_monthly_usd": projected, "budget_usd": budget,
        "over_budget": costs.over_budget(budget, cost, projected),
        "sandbox": session.sandbox, "region": session.region, "time": sample["time"],
        "resume": f"aws-research-wizard monitor --session {session.id}",
    }


def failure(session_id: str, session: Session | None, reason: str) -> dict:
    """The entry of a session that could not be refreshed: who it is and why."""
    return {"session": session_id, "error": reason, "status": session.status if session else None,
            "domain": session.domain if session else None, "region": session.region if session else None,
            "sandbox": session.sandbox if session else False,
            "resume": f"aws-research-wizard monitor --session {session_id}"}


def rates_of(session: Session) -> costs.Rates:
    from registry_tools.pricing.catalogue import Catalogue, PriceError

    try:
        storage = float(session.parameters.get("RootVolumeGiB", 0) or 0)
        return costs.rates_for(Catalogue.load(), session.instance_type, session.region, storage)
    except (PriceError, ValueError) as exc:
        raise MonitorError(f"session {session.id}: no price for {session.instance_type} in {session.region} "
                           f"({exc})") from None


def stack_status_of(session: Session) -> str | None:
    """The stack status as the last reconcile recorded it; for records written before it was recorded,
    a running or stopped session's stack was created. None: gone, or not known."""
    if session.stack_status:
        return session.stack_status
    return CREATED if session.status in (model.RUNNING, model.STOPPED) else None


def ended(session: Session, now: datetime, stack_status: str | None = None) -> dict:
    """A finished session's snapshot from its record: nothing is asked and nothing is charged any more."""
    last = costs.last_sample(session.monitoring) or {}
    seen = Observed(stack_status, None, session.status)
    return snapshot(session, seen, {**last, "time": format_utc(now)}, None)


_REFRESH_ERRORS = (AwsError, StoreError, SessionError, MonitorError)


def refresh_many(store, session_ids: Iterable[str], aws_for: Callable[[Session], Aws], *, now: datetime,
                 cost_source: str = "estimate", budget: float | None = None) -> list[dict]:
    """Refresh *session_ids* at *now*: one snapshot (or ``failure`` entry) each, in order.
    *aws_for(session)* gives the ``Aws`` of a session's target, or raises ``AwsError`` when it
    cannot be reached (no such profile here, the sandbox is not running, ...)."""
    ids = list(dict.fromkeys(session_ids))
    out: dict[str, dict] = {}
    groups: dict[object, tuple[Aws, list[Session]]] = {}
    for session_id in ids:
        try:
            session = store.get(session_id)
        except (StoreError, SessionError) as exc:
            out[session_id] = failure(session_id, None, str(exc))
            continue
        if session.status in FINISHED:
            out[session_id] = ended(session, now, stack_status_of(session))
            continue
        try:
            aws = aws_for(session)
        except AwsError as exc:
            out[session_id] = failure(session_id, session, str(exc))
            continue
        groups.setdefault(aws.target, (aws, []))[1].append(session)
    for aws, members in groups.values():
        out.update(_refresh_group(store, members, aws, now, cost_source, budget))
    return [out[session_id] for session_id in ids]


def refresh(store, session_id: str, aws: Aws, *, now: datetime, cost_source: str = "estimate",
            budget: float | None = None) -> dict:
    """Refresh one session (``refresh_many``); ``MonitorError`` with the reason when it cannot be."""
    (snap,) = refresh_many(store, [session_id], lambda session: aws, now=now, cost_source=cost_source,
                           budget=budget)
    if "error" in snap:
        raise MonitorError(snap["error"])
    return snap


def _reconcile(store, session: Session, aws: Aws, now: datetime) -> Session:
    """What ``sessions resume`` does first: CloudFormation (stack, resources) and EC2 -> the session's status."""
    try:
        return lifecycle.reconcile(store, session.id, aws, clock=lambda: now)
    except lifecycle.DeployError as exc:
        raise MonitorError(str(exc)) from None


def _refresh_group(store, sessions: list[Session], aws: Aws, now: datetime, cost_source: str,
                   budget: float | None) -> dict[str, dict]:
    out: dict[str, dict] = {}
    reconciled: set[str] = set()  # asked CloudFormation in this refresh
    ready: list[Session] = []
    for session in sessions:
        if session.status == LAUNCHING or not session.instance_ids:
            try:
                session = _reconcile(store, session, aws, now)
            except _REFRESH_ERRORS as exc:
                out[session.id] = failure(session.id, session, str(exc))
                continue
            reconciled.add(session.id)
        if session.status in FINISHED:
            out[session.id] = ended(session, now, stack_status_of(session))
        else:
            ready.append(session)
    with_instances = [s for s in ready if s.instance_ids]
    try:
        instance_ids = [i for s in with_instances for i in s.instance_ids]
        instances = aws.instances.describe(instance_ids) if instance_ids else {}
        running = [i for i in instance_ids if instances[i].state == "running"]
        checks = aws.instances.status_checks(running) if running else {}
        series = ec2.usage(aws.metrics, [s.instance_ids[0] for s in with_instances], now)
    except AwsError as exc:
        for session in ready:
            out[session.id] = failure(session.id, session, str(exc))
        return out
    for session in ready:
        try:
            out[session.id] = _advance(store, session, aws, now, session.id in reconciled, instances, checks,
                                       series, cost_source, budget)
        except _REFRESH_ERRORS as exc:
            out[session.id] = failure(session.id, session, str(exc))
    return out


def _advance(store, session: Session, aws: Aws, now: datetime, reconciled: bool,
             instances: Mapping[str, Instance], checks: Mapping[str, Mapping[str, str]],
             series: Mapping[str, tuple], cost_source: str, budget: float | None) -> dict:
    """Record *session*'s next sample and status from what EC2 said; its snapshot."""
    rates = rates_of(session)
    states = {i: instances[i].state for i in session.instance_ids if i in instances}
    if not reconciled and states and set(states.values()) <= GONE_STATES:
        # every instance terminated: was the stack deleted? CloudFormation decides (only on this change)
        session, reconciled = _reconcile(store, session, aws, now), True
    seen_now = Observation(stack_status=CREATED, instance_states=states)
    primary = session.instance_ids[0] if session.instance_ids else None
    fact = instances.get(primary) if primary else None
    state = fact.state if fact else "none"
    cpu, memory = series.get(primary, ((), ())) if primary else ((), ())
    launched = parse_utc(session.launch_time)
    holder: dict = {}

    def add(current: Session) -> Session:
        if not reconciled and states and current.status in (model.RUNNING, model.STOPPED):
            current = model.reconcile(current, seen_now, now)  # running <-> stopped, as EC2 says
        sample = costs.advance(costs.last_sample(current.monitoring), launched, now, state, rates,
                               started=fact.started if fact else None, stopped=fact.stopped if fact else None)
        sample.update({"cpu": cpu[-1] if cpu else None, "mem": memory[-1] if memory else None})
        holder["sample"] = sample
        return replace(current, monitoring=costs.record(current.monitoring, sample))

    session = store.update(session.id, add)
    instance_checks = checks.get(primary, {}) if primary else {}
    health = health_of(state, instance_checks) if fact else "no instance"
    seen = Observed(stack_status_of(session), state if fact else None, health, cpu, memory, instance_checks)
    billed = billed_cost(aws, session, now) if cost_source == "billing" else None
    return snapshot(session, seen, holder["sample"], None if session.status in FINISHED else rates,
                    cost_source=cost_source, billed=billed, budget=budget)
