"""Sessions: a deployed pack that outlives the terminal. Pure values and rules; no I/O.

A ``Session`` is created ``launching`` before its stack exists, so a deploy that
is interrupted can always be resumed. ``reconcile`` turns what CloudFormation and
EC2 report (or that the stack is gone) into the session's status; ``archive`` and
``cleanup_candidates`` say what may be archived or removed. The stores
(``sessions.local``, ``sessions.s3``) persist sessions; the CLI wires them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from registry_tools.aws.stack_status import FAILED as STACK_FAILED
from registry_tools.aws.stack_status import IN_PROGRESS, classify_create
from registry_tools.errors import ArwError
from registry_tools.sessions.status import ACTIVE as ACTIVE
from registry_tools.sessions.status import COMPLETED as COMPLETED
from registry_tools.sessions.status import FAILED as FAILED
from registry_tools.sessions.status import FINISHED as FINISHED
from registry_tools.sessions.status import LAUNCHING as LAUNCHING
from registry_tools.sessions.status import RUNNING as RUNNING
from registry_tools.sessions.status import STOPPED as STOPPED
from registry_tools.timefmt import format_utc, parse_utc

STATUSES = (LAUNCHING, RUNNING, STOPPED, COMPLETED, FAILED)
ID_RE = re.compile(r"^ses_[a-z0-9_]+_\d{8}_\d{4}(?:_\d+)?$")
STACK_APPEARS_WITHIN = timedelta(minutes=15)  # a session is saved before its stack is created: a deploy may be under way
MONITORING_HISTORY_MAX = 14 * 24 * 12  # samples kept per session: 14 days of 5-minute samples (the monitor appends)


class SessionError(ArwError):
    """A session record is invalid, or an operation is not allowed in its state."""


def session_id(domain: str, moment: datetime, attempt: int = 0) -> str:
    """``ses_<domain>_<YYYYMMDD>_<HHMM>``; the *attempt*-th retry after a clash adds ``_<n>``."""
    base = f"ses_{re.sub(r'[^a-z0-9]+', '_', domain.lower()).strip('_') or 'pack'}_{moment.astimezone(UTC):%Y%m%d_%H%M}"
    return base if attempt == 0 else f"{base}_{attempt + 1}"


def check_id(value: str) -> str:
    if not isinstance(value, str) or not ID_RE.match(value):
        raise SessionError(f"not a session id: {value!r} (they look like ses_genomics_20260628_1647)")
    return value


@dataclass(frozen=True)
class Session:
    id: str
    domain: str
    pack_version: str
    pack_sha256: str
    title: str
    stack_name: str
    region: str
    account: str
    size: str
    instance_type: str
    launch_time: str
    last_accessed: str
    status: str = LAUNCHING
    sandbox: bool = False
    archived: bool = False
    parameters: Mapping[str, str] = field(default_factory=dict)
    instance_ids: tuple[str, ...] = ()
    resources: tuple[Mapping[str, str], ...] = ()
    outputs: Mapping[str, str] = field(default_factory=dict)
    failure_reason: str | None = None
    failing_resource: str | None = None
    status_reason: str | None = None
    stack_status: str | None = None  # CloudFormation's, as the last reconcile saw it (None: gone, or not yet seen)
    ended_at: str | None = None
    monitoring: tuple[Mapping[str, Any], ...] = ()
    # where its AWS calls go (never credentials): the AWS profile and the endpoint URL it was deployed with
    profile: str | None = None
    endpoint_url: str | None = None
    # who launched it (the STS caller ARN) and from which host
    launched_by: str | None = None
    launched_from: str | None = None
    allowed_insecure: tuple[str, ...] = ()  # security rules deployed past with --allow-insecure

    # --- serialisation -----------------------------------------------------------------------

    METADATA = ("id", "domain", "pack_version", "pack_sha256", "title", "stack_name", "region", "account",
                "size", "instance_type", "launch_time", "sandbox", "profile", "endpoint_url", "launched_by",
                "launched_from")
    OPTIONAL_METADATA = ("sandbox", "profile", "endpoint_url", "launched_by", "launched_from")
    DEPLOYMENT = ("parameters", "resources", "outputs", "allowed_insecure")
    STATE = ("status", "archived", "last_accessed", "instance_ids", "failure_reason", "failing_resource",
             "status_reason", "stack_status", "ended_at")

    def metadata(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.METADATA}

    def deployment(self) -> dict[str, Any]:
        return {"parameters": dict(self.parameters), "resources": [dict(r) for r in self.resources],
                "outputs": dict(self.outputs), "allowed_insecure": list(self.allowed_insecure)}

    def state(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.STATE}
        data["instance_ids"] = list(self.instance_ids)
        return data

    def monitoring_state(self) -> dict[str, Any]:
        return {"history": [dict(m) for m in self.monitoring]}

    def to_dict(self) -> dict[str, Any]:
        return {**self.metadata(), **self.state(), **self.deployment(), "monitoring": [dict(m) for m in self.monitoring]}

    @classmethod
    def from_parts(cls, metadata: object, state: object = None, deployment: object = None,
                   monitoring: object = None) -> Session:
        """A session from its stored parts, as decoded (mappings; an empty part may be None);
        ``SessionError`` naming what is wrong."""

        def mapping(part: object, name: str) -> Mapping[str, Any]:
            if not part:
                return {}
            if not isinstance(part, Mapping):
                raise SessionError(f"the session {name} is not a mapping")
            return part

        if not isinstance(metadata, Mapping):
            raise SessionError("the session metadata is not a mapping")
        state = mapping(state, "state")
        deployment = mapping(deployment, "deployment")
        monitoring = mapping(monitoring, "monitoring")
        missing = [k for k in cls.METADATA if k not in metadata and k not in cls.OPTIONAL_METADATA]
        if missing:
            raise SessionError(f"the session metadata lacks {', '.join(missing)}")

        def optional(key: str) -> str | None:
            return str(metadata[key]) if metadata.get(key) else None

        try:
            session = cls(
                id=str(metadata["id"]), domain=str(metadata["domain"]), pack_version=str(metadata["pack_version"]),
                pack_sha256=str(metadata["pack_sha256"]), title=str(metadata["title"]),
                stack_name=str(metadata["stack_name"]), region=str(metadata["region"]),
                account=str(metadata["account"]), size=str(metadata["size"]),
                instance_type=str(metadata["instance_type"]), launch_time=str(metadata["launch_time"]),
                profile=optional("profile"), endpoint_url=optional("endpoint_url"),
                launched_by=optional("launched_by"), launched_from=optional("launched_from"),
                sandbox=bool(metadata.get("sandbox", False)),
                status=str(state.get("status", LAUNCHING)),
                archived=bool(state.get("archived", False)),
                last_accessed=str(state.get("last_accessed") or metadata["launch_time"]),
                instance_ids=tuple(str(i) for i in state.get("instance_ids") or ()),
                failure_reason=state.get("failure_reason"), failing_resource=state.get("failing_resource"),
                status_reason=state.get("status_reason"), stack_status=state.get("stack_status"),
                ended_at=state.get("ended_at"),
                parameters={str(k): str(v) for k, v in (deployment.get("parameters") or {}).items()},
                resources=tuple(dict(r) for r in deployment.get("resources") or ()),
                outputs={str(k): str(v) for k, v in (deployment.get("outputs") or {}).items()},
                allowed_insecure=tuple(str(r) for r in deployment.get("allowed_insecure") or ()),
                monitoring=tuple(dict(m) for m in monitoring.get("history") or ()),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise SessionError(f"the session record is malformed: {exc}") from None
        check_id(session.id)
        if session.status not in STATUSES:
            raise SessionError(f"unknown session status {session.status!r} (expected one of {', '.join(STATUSES)})")
        for stamp in (session.launch_time, session.last_accessed):
            try:
                parse_utc(stamp)
            except ValueError:
                raise SessionError(f"not a time: {stamp!r} (expected like 2026-06-28T16:47:00Z)") from None
        return session

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Session:
        return cls.from_parts(data, data, data, {"history": data.get("monitoring") or ()})

    # --- listing -------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """One row of the session registry (``active_sessions.json``): what ``list`` shows."""
        return {"id": self.id, "domain": self.domain, "title": self.title, "pack_version": self.pack_version,
                "status": self.status, "archived": self.archived, "size": self.size,
                "instance_type": self.instance_type, "region": self.region, "launch_time": self.launch_time,
                "last_accessed": self.last_accessed, "sandbox": self.sandbox, "stack_name": self.stack_name,
                "launched_by": self.launched_by, "cost_so_far_usd": self.cost_so_far()}

    def cost_so_far(self) -> float | None:
        """Cost recorded by the monitor (its latest sample), or None before any."""
        for sample in reversed(self.monitoring):
            if isinstance(sample, Mapping) and isinstance(sample.get("cost_usd"), int | float):
                return float(sample["cost_usd"])
        return None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE and not self.archived


# --- transitions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """What AWS says about a session's stack now. ``stack_status`` None: the stack does not exist."""

    stack_status: str | None
    stack_reason: str | None = None
    failing_resource: str | None = None
    failure_reason: str | None = None
    instance_states: Mapping[str, str] = field(default_factory=dict)  # instance id -> EC2 state name
    resources: tuple[Mapping[str, str], ...] | None = None
    outputs: Mapping[str, str] | None = None


def reconcile(session: Session, seen: Observation, now: datetime) -> Session:
    """The session as *seen* now: a stack that finished, failed or vanished is recorded as such."""
    status = seen.stack_status
    changes: dict[str, Any] = {"stack_status": None if status == "DELETE_COMPLETE" else status}
    if seen.resources is not None:
        changes["resources"] = tuple(seen.resources)
        changes["instance_ids"] = tuple(r["physical_id"] for r in seen.resources
                                        if r.get("type") == "AWS::EC2::Instance" and r.get("physical_id"))
    if seen.outputs is not None:
        changes["outputs"] = dict(seen.outputs)
    if status is None or status == "DELETE_COMPLETE":
        if session.status in FINISHED:
            return replace(session, **changes)
        if (session.status == LAUNCHING and session.stack_status is None
                and now - parse_utc(session.launch_time) < STACK_APPEARS_WITHIN):
            return replace(session, status_reason=f"waiting for stack {session.stack_name} to be created")
        if session.status == LAUNCHING:
            return finish(replace(session, **changes), FAILED, now,
                          reason=f"stack {session.stack_name} no longer exists (it was never created or was deleted)")
        return finish(replace(session, **changes), COMPLETED, now,
                      status_reason=f"stack {session.stack_name} was deleted outside aws-research-wizard")
    if status == "DELETE_IN_PROGRESS" and session.status != LAUNCHING:
        return replace(session, **changes, status_reason=f"stack {session.stack_name} is being deleted")
    outcome = classify_create(status)
    if outcome == IN_PROGRESS:
        return replace(session, **changes, status=LAUNCHING, status_reason=f"stack {status}")
    if outcome == STACK_FAILED:
        if session.status == FAILED:
            return replace(session, **changes)
        return finish(replace(session, **changes), FAILED, now, reason=seen.failure_reason or seen.stack_reason or status,
                      resource=seen.failing_resource, status_reason=f"stack {status}")
    states = set(seen.instance_states.values())
    if states and states <= {"stopped", "stopping"}:
        return replace(session, **changes, status=STOPPED, status_reason="all instances stopped")
    if states and states <= {"terminated", "shutting-down"}:
        return finish(replace(session, **changes), COMPLETED, now, status_reason="all instances terminated")
    return replace(session, **changes, status=RUNNING, status_reason=f"stack {status}")


def finish(session: Session, status: str, now: datetime, *, reason: str | None = None, resource: str | None = None,
           status_reason: str | None = None) -> Session:
    """Mark *session* completed or failed (once: a finished session keeps its first ending)."""
    if status not in FINISHED:
        raise ValueError(status)
    if session.status in FINISHED:
        return session
    return replace(session, status=status, ended_at=format_utc(now), failure_reason=reason if status == FAILED else None,
                   failing_resource=resource if status == FAILED else None,
                   status_reason=status_reason or session.status_reason)


def touch(session: Session, now: datetime) -> Session:
    return replace(session, last_accessed=format_utc(now))


def archive(session: Session, force: bool = False) -> Session:
    if session.archived:
        return session
    if session.status not in FINISHED and not force:
        raise SessionError(f"session {session.id} is {session.status}; only completed or failed sessions are archived "
                           f"(destroy it first, or use --force)")
    return replace(session, archived=True)


def add_samples(session: Session, samples: Iterable[Mapping[str, Any]]) -> Session:
    history = (*session.monitoring, *samples)
    return replace(session, monitoring=history[-MONITORING_HISTORY_MAX:])


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w`` -> a duration (``SessionError`` otherwise)."""
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text or "")
    if not match:
        raise SessionError(f"not an age: {text!r} (use e.g. 30d, 12h, 90m or 2w)")
    number, unit = int(match.group(1)), match.group(2)
    return timedelta(minutes=number) if unit == "m" else timedelta(hours=number) if unit == "h" else \
        timedelta(days=number) if unit == "d" else timedelta(weeks=number)


def cleanup_candidates(summaries: Iterable[Mapping[str, Any]], now: datetime, older_than: timedelta) -> list[str]:
    """Ids of finished (completed or failed; archived or not) sessions last used more than
    *older_than* ago. Active sessions are never removed: their stacks still cost money."""
    chosen = []
    for row in summaries:
        if row.get("status") not in FINISHED:
            continue
        try:
            last = parse_utc(str(row.get("last_accessed")))
        except ValueError:
            continue
        if now - last >= older_than:
            chosen.append(str(row["id"]))
    return chosen
