"""What the rest of the tool may ask of AWS: protocols with named operations, and plain values.

An ``Aws`` is one ``Target`` (region, AWS profile, endpoint URL, sandbox) with its operations
grouped by what they are about:

- ``stacks`` (CloudFormation): create, describe, events, resources, wait for a create, delete;
- ``instances`` (EC2): describe many (state, last start, stop time), status checks, start/stop;
- ``metrics`` (CloudWatch): many metric series in one request;
- ``costs`` (Cost Explorer): the cost billed to a tag;
- ``identity()`` (STS): the account and ARN of the credentials in use.

Sessions (``sessions/lifecycle.py``) and the monitor depend on these protocols only; the boto3
implementation is ``aws/adapter.py`` (``BotoAws``). Callers pass any number of ids or queries:
splitting them at the API limits is the implementation's job. Every failure is an ``AwsError``.
Nothing here imports boto3.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from registry_tools.aws.stack_status import Failure
from registry_tools.errors import ArwError

GONE = "terminated"  # the state of an instance EC2 no longer knows


class AwsError(ArwError):
    """An AWS call failed; ``code`` is the AWS error code when there is one."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Target:
    """Where AWS calls go: a region; an AWS profile (None: the default credential chain); an
    endpoint URL (None: AWS itself); ``sandbox``: the local emulator, with its fixed test credentials."""

    region: str
    endpoint_url: str | None = None
    profile: str | None = None
    sandbox: bool = False

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox


@dataclass(frozen=True)
class Poll:
    """How a wait polls: *seconds* between looks, slept by *sleep* (a caller may stop a wait from it,
    as the CLI's ``q`` key does)."""

    seconds: float = 5.0
    sleep: Callable[[float], None] = time.sleep


DEFAULT_POLL = Poll()


@dataclass(frozen=True)
class Identity:
    account: str
    arn: str


@dataclass(frozen=True)
class Stack:
    name: str
    status: str
    reason: str | None = None  # StackStatusReason
    outputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StackResource:
    logical_id: str
    type: str
    physical_id: str
    status: str


@dataclass(frozen=True)
class StackResult:
    name: str
    status: str
    outcome: str  # succeeded | failed | timeout
    failure: Failure | None
    outputs: dict[str, str]
    seconds: float


@dataclass(frozen=True)
class Instance:
    """One instance as EC2 reports it now."""

    state: str  # EC2 state name; ``terminated`` (GONE) when EC2 no longer knows the instance
    started: datetime | None = None  # when it last started running (LaunchTime: EC2 sets it at every start)
    stopped: datetime | None = None  # when it left running, for an instance that is not running (None: unknown)


@dataclass(frozen=True)
class MetricQuery:
    """One CloudWatch series: *id* names it in the answer (``[a-z][a-zA-Z0-9_]*``, unique per request)."""

    id: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    period_s: int = 300
    stat: str = "Average"


class Stacks(Protocol):
    def create(self, name: str, template_body: str, parameters: Mapping[str, str],
               tags: Mapping[str, str]) -> None:
        """Create the stack (IAM capability, rollback on failure); returns once CloudFormation accepted it."""

    def describe(self, name: str) -> Stack | None:
        """The stack now; None when there is no such stack."""

    def events(self, name: str) -> list[dict[str, Any]]:
        """The stack's events, newest first, as CloudFormation gives them (``Timestamp``, ``ResourceStatus``, ...)."""

    def resources(self, name: str) -> list[StackResource]: ...

    def wait_create(self, name: str, timeout: float, *, poll: Poll = DEFAULT_POLL,
                    on_status: Callable[[str], None] | None = None,
                    on_event: Callable[[dict[str, Any]], None] | None = None) -> StackResult:
        """Poll until the create ends (created, failed, rolled back, deleted) or *timeout*; *on_event*
        gets each new event, oldest first."""

    def delete(self, name: str, timeout: float, *, poll: Poll = DEFAULT_POLL) -> StackResult:
        """Delete the stack and wait until it is gone, failed to delete, or *timeout*."""


class Instances(Protocol):
    def describe(self, instance_ids: Iterable[str]) -> dict[str, Instance]:
        """id -> ``Instance`` for every id asked (ids EC2 does not know: GONE)."""

    def status_checks(self, instance_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """id -> {"system": ..., "instance": ...} status checks of the instances EC2 reports on."""

    def set_running(self, instance_ids: Sequence[str], running: bool, *, timeout: float,
                    poll: Poll = DEFAULT_POLL) -> dict[str, str]:
        """Start (*running*) or stop the instances and wait until EC2 reports them ``running`` or
        ``stopped`` (or *timeout*); their states at the end."""


class Metrics(Protocol):
    def series(self, queries: Sequence[MetricQuery], start: datetime,
               end: datetime) -> dict[str, list[tuple[datetime, float]]]:
        """query id -> (time, value) points between *start* and *end*, oldest first (none: no entry or [])."""


class Costs(Protocol):
    def by_tag(self, key: str, value: str, start: date, end: date) -> float:
        """USD billed (unblended) to resources tagged *key* = *value* from *start* to *end* (exclusive)."""


class Aws(Protocol):
    """One target's AWS."""

    @property
    def target(self) -> Target: ...

    @property
    def stacks(self) -> Stacks: ...

    @property
    def instances(self) -> Instances: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def costs(self) -> Costs: ...

    def identity(self) -> Identity:
        """The account and ARN of the credentials in use."""
