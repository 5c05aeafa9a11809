"""The AWS adapter: ``BotoAws``, the boto3 implementation of ``aws/interface.py``.

A ``Target`` says where calls go: a region, an AWS profile (None: the default
credential chain, which honours ``AWS_PROFILE``), and an endpoint URL for the
sandbox or another emulator (None: AWS itself). ``BotoAws(target)`` holds one
boto3 session and one client per service (``Clients``; against an endpoint URL
botocore retries are off so unimplemented calls fail fast) and offers the
named operations: ``stacks``, ``instances``, ``metrics``, ``costs``,
``identity()``. They take any number of ids and split them at the API limits
(DescribeInstances 1000 ids, DescribeInstanceStatus 100, GetMetricData 500
queries a call), follow every page, and return plain values. Every boto or
network error surfaces as ``AwsError`` in one place (``aws_errors``), with the
AWS error code; missing, expired or rejected credentials and unknown profiles
say what to run to fix them.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from registry_tools.aws.interface import (
    DEFAULT_POLL,
    GONE,
    AwsError,
    Identity,
    Instance,
    MetricQuery,
    Poll,
    Stack,
    StackResource,
    StackResult,
    Target,
)
from registry_tools.aws.stack_status import FAILED, SUCCEEDED, Failure, classify_create, classify_delete, failure_of

__all__ = ["AwsError", "BotoAws", "Clients", "Target", "aws_errors", "call", "no_profile", "profile_region"]


CREDENTIALS_HELP = ("set up credentials with `aws configure` (access keys) or `aws configure sso` and "
                    "`aws sso login` (IAM Identity Center), or choose a configured profile with --profile NAME or "
                    "AWS_PROFILE")
REJECTED_CREDENTIALS = frozenset({"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
                                  "UnrecognizedClientException", "SignatureDoesNotMatch", "AuthFailure",
                                  "InvalidAccessKeyId", "RequestExpired"})


def profile_region(profile: str | None) -> str | None:
    """The region AWS tools would use for *profile* (None: the default chain, which reads AWS_PROFILE):
    ``AWS_REGION``, ``AWS_DEFAULT_REGION``, then the profile's ``region`` in the AWS config file; None
    when unset."""
    import os

    if os.environ.get("AWS_REGION"):
        return os.environ["AWS_REGION"]
    import boto3

    with aws_errors():
        return boto3.Session(profile_name=profile).region_name


class Clients:
    """One boto3 session for *target* and one client per service. Creating either can fail (an unknown
    profile, a broken credential_process or role chain): that is an ``AwsError`` too. Raw clients are
    for this adapter and for the seams with their own AWS code (the S3 session store)."""

    def __init__(self, target: Target):
        import boto3
        from botocore.config import Config

        self.target = target
        with aws_errors():
            if target.sandbox:
                session = _plain_session(target.region)
            else:
                session = boto3.Session(profile_name=target.profile, region_name=target.region)
        if target.endpoint_url:
            config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=60)
        else:  # AWS itself: never an AWS_ENDPOINT_URL left in the environment (say, by `sandbox env`)
            config = Config(retries={"max_attempts": 5, "mode": "adaptive"}, connect_timeout=10, read_timeout=60,
                            ignore_configured_endpoint_urls=True)
        self._session, self._config = session, config
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str):
        if service not in self._clients:
            with aws_errors():
                self._clients[service] = self._session.client(service, endpoint_url=self.target.endpoint_url,
                                                              config=self._config)
        return self._clients[service]

    @property
    def events(self):
        """botocore's event hooks for the clients made from now on (tests count calls with them)."""
        return self._session.events


def _plain_session(region: str):
    """A session with the sandbox's fixed test credentials that reads no AWS profile or config file."""
    import boto3
    import botocore.session

    core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    core.set_credentials("testing", "testing")
    return boto3.Session(botocore_session=core, region_name=region)


def call(fn: Callable[..., Any], **kwargs: Any) -> Any:
    with aws_errors():
        return fn(**kwargs)


@contextlib.contextmanager
def aws_errors():
    """Every boto/botocore failure inside becomes an ``AwsError`` whose message says what to do."""
    from botocore import exceptions
    from botocore.parsers import ResponseParserError

    try:
        yield
    except exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code")
        message = f"{code or 'Error'}: {error.get('Message', str(exc))}"
        if code in REJECTED_CREDENTIALS:
            message += f" (AWS rejected the credentials; refresh them: {CREDENTIALS_HELP})"
        raise AwsError(message, code) from None
    except (exceptions.NoCredentialsError, exceptions.PartialCredentialsError,
            exceptions.CredentialRetrievalError) as exc:
        raise AwsError(f"{exc}: {CREDENTIALS_HELP}", "NoCredentials") from None
    except (exceptions.SSOTokenLoadError, exceptions.UnauthorizedSSOTokenError, exceptions.TokenRetrievalError,
            exceptions.SSOError) as exc:
        raise AwsError(f"the AWS SSO session is missing or has expired ({exc}): run `aws sso login` "
                       "(add --profile NAME for a named profile)", "SSOLogin") from None
    except exceptions.ProfileNotFound as exc:
        raise AwsError(no_profile(exc.kwargs.get("profile")), "ProfileNotFound") from None
    except ResponseParserError as exc:
        raise AwsError(not_an_aws_response(str(exc)), "InvalidResponse") from None
    except exceptions.BotoCoreError as exc:
        raise AwsError(f"{' '.join(str(exc).split())} ({CREDENTIALS_HELP})"
                       if isinstance(exc, exceptions.InvalidConfigError) else " ".join(str(exc).split())) from None


def no_profile(profile: str | None) -> str:
    """The one message for an AWS profile this machine does not have."""
    return (f"the AWS profile {profile!r} is not configured on this machine: create it with "
            f"`aws configure --profile {profile}` or `aws configure sso --profile {profile}`, or choose another "
            "with --profile NAME")


def not_an_aws_response(detail: str) -> str:
    """botocore's "Unable to parse response ... Further retries may succeed:" plus a raw body, as one
    whole sentence: what the endpoint answered instead (an emulator's 500 page, a proxy's error)."""
    title = re.search(r"<title>(.*?)</title>", detail, re.IGNORECASE | re.DOTALL)
    answered = " ".join(title.group(1).split()) if title else "a body that is not AWS XML or JSON"
    return f"the endpoint did not answer like AWS (it returned {answered})"


class BotoAws:
    """``interface.Aws`` through boto3 for one *target*; ``clients`` are its raw boto3 clients."""

    def __init__(self, target: Target):
        self.clients = Clients(target)
        self.stacks = BotoStacks(self.clients)
        self.instances = BotoInstances(self.clients)
        self.metrics = BotoMetrics(self.clients)
        self.costs = BotoCosts(self.clients)

    @property
    def target(self) -> Target:
        return self.clients.target

    def identity(self) -> Identity:
        answer = call(self.clients("sts").get_caller_identity)
        return Identity(answer["Account"], answer.get("Arn", ""))


class BotoStacks:
    """CloudFormation: create, watch and delete stacks."""

    def __init__(self, clients: Clients):
        self._clients = clients

    @property
    def _cfn(self):
        return self._clients("cloudformation")

    def create(self, name: str, template_body: str, parameters: Mapping[str, str], tags: Mapping[str, str]) -> None:
        call(self._cfn.create_stack, StackName=name, TemplateBody=template_body,
             Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()],
             Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
             Capabilities=["CAPABILITY_IAM"], OnFailure="ROLLBACK")

    def describe(self, name: str) -> Stack | None:
        try:
            stacks = call(self._cfn.describe_stacks, StackName=name)["Stacks"]
        except AwsError as exc:
            if exc.code == "ValidationError" and "does not exist" in str(exc):
                return None
            raise
        if not stacks:
            return None
        found = stacks[0]
        return Stack(found.get("StackName", name), found["StackStatus"], found.get("StackStatusReason"),
                     {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])})

    def events(self, name: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = call(self._cfn.describe_stack_events, StackName=name).get("StackEvents", [])
        return events

    def resources(self, name: str) -> list[StackResource]:
        return [StackResource(r["LogicalResourceId"], r.get("ResourceType", ""), r.get("PhysicalResourceId", ""),
                              r.get("ResourceStatus", ""))
                for r in call(self._cfn.describe_stack_resources, StackName=name).get("StackResources", [])
                if r.get("LogicalResourceId")]

    def wait_create(self, name: str, timeout: float, *, poll: Poll = DEFAULT_POLL,
                    on_status: Callable[[str], None] | None = None,
                    on_event: Callable[[dict[str, Any]], None] | None = None) -> StackResult:
        start = time.monotonic()
        last = None
        seen: set[str] = set()
        while True:
            stack = self.describe(name)
            status = stack.status if stack else "DELETE_COMPLETE"
            if on_event and stack:
                fresh = [e for e in self.events(name) if str(e.get("EventId")) not in seen]
                seen.update(str(e.get("EventId")) for e in fresh)
                for event in reversed(fresh):
                    on_event(event)
            if status != last and on_status:
                on_status(status)
            last = status
            outcome = classify_create(status)
            elapsed = time.monotonic() - start
            if outcome == SUCCEEDED and stack:
                return StackResult(name, status, SUCCEEDED, None, dict(stack.outputs), elapsed)
            if outcome == FAILED:
                events = self.events(name) if stack else []
                reason = stack.reason if stack else None
                return StackResult(name, status, FAILED, failure_of(events, name, status, reason), {}, elapsed)
            if elapsed >= timeout:
                return StackResult(name, status, "timeout",
                                   Failure(None, None, f"still {status} after {timeout:.0f} s"), {}, elapsed)
            poll.sleep(poll.seconds)

    def delete(self, name: str, timeout: float, *, poll: Poll = DEFAULT_POLL) -> StackResult:
        start = time.monotonic()
        call(self._cfn.delete_stack, StackName=name)
        while True:
            stack = self.describe(name)
            status = stack.status if stack else "DELETE_COMPLETE"
            outcome = classify_delete(status)
            elapsed = time.monotonic() - start
            if outcome != "in_progress":
                failure = None if outcome == SUCCEEDED else Failure(None, None, (stack.reason if stack else None) or status)
                return StackResult(name, status, outcome, failure, {}, elapsed)
            if elapsed >= timeout:
                return StackResult(name, status, "timeout", Failure(None, None, f"still {status} after {timeout:.0f} s"),
                                   {}, elapsed)
            poll.sleep(poll.seconds)


DESCRIBE_CHUNK = 1000  # DescribeInstances: at most 1000 explicit instance ids
STATUS_CHUNK = 100  # DescribeInstanceStatus: at most 100
METRIC_QUERIES = 500  # GetMetricData: at most 500 queries
INSTANCE_ID = re.compile(r"\bi-[0-9a-f]+\b")
_TRANSITION_TIME = re.compile(r"\((\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?: ?(?:GMT|UTC|Z))?\)")


class BotoInstances:
    """EC2: many instances in few calls. An id EC2 no longer knows is ``terminated`` (GONE): a NotFound
    answer names such ids and the call is repeated without them (only when instances have vanished)."""

    def __init__(self, clients: Clients):
        self._clients = clients

    def describe(self, instance_ids: Iterable[str]) -> dict[str, Instance]:
        """State, last start (``LaunchTime``) and, for an instance that is not running, when it stopped
        (the time in ``StateTransitionReason``); one DescribeInstances per DESCRIBE_CHUNK ids."""
        ids = _unique(instance_ids)
        found: dict[str, Instance] = {}
        for chunk in _chunks(ids, DESCRIBE_CHUNK):
            reservations = _without_missing(self._clients("ec2").describe_instances, chunk, "Reservations")
            for reservation in reservations:
                for item in reservation.get("Instances", []):
                    state = item.get("State", {}).get("Name", "unknown")
                    stopped = None if state in ("running", "pending") else transition_time(
                        item.get("StateTransitionReason"))
                    found[item["InstanceId"]] = Instance(state, _utc(item.get("LaunchTime")), stopped)
        return {i: found.get(i, Instance(GONE)) for i in ids}

    def status_checks(self, instance_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """One DescribeInstanceStatus per STATUS_CHUNK ids."""
        out: dict[str, dict[str, str]] = {}
        for chunk in _chunks(_unique(instance_ids), STATUS_CHUNK):
            statuses = _without_missing(self._clients("ec2").describe_instance_status, chunk, "InstanceStatuses",
                                        IncludeAllInstances=True)
            for status in statuses:
                out[status["InstanceId"]] = {
                    "system": status.get("SystemStatus", {}).get("Status", "not-applicable"),
                    "instance": status.get("InstanceStatus", {}).get("Status", "not-applicable")}
        return out

    def set_running(self, instance_ids: Sequence[str], running: bool, *, timeout: float,
                    poll: Poll = DEFAULT_POLL) -> dict[str, str]:
        ids = list(instance_ids)
        ec2 = self._clients("ec2")
        call(ec2.start_instances if running else ec2.stop_instances, InstanceIds=ids)
        want = "running" if running else "stopped"
        start = time.monotonic()
        while True:
            states = {i: instance.state for i, instance in self.describe(ids).items()}
            if all(state == want for state in states.values()) or time.monotonic() - start >= timeout:
                return states
            poll.sleep(poll.seconds)


class BotoMetrics:
    """CloudWatch: one GetMetricData per METRIC_QUERIES queries, every page."""

    def __init__(self, clients: Clients):
        self._clients = clients

    def series(self, queries: Sequence[MetricQuery], start: datetime,
               end: datetime) -> dict[str, list[tuple[datetime, float]]]:
        out: dict[str, list[tuple[datetime, float]]] = {}
        for offset in range(0, len(queries), METRIC_QUERIES):
            asked = [{"Id": q.id, "MetricStat": {
                "Metric": {"Namespace": q.namespace, "MetricName": q.name,
                           "Dimensions": [{"Name": k, "Value": v} for k, v in q.dimensions]},
                "Period": q.period_s, "Stat": q.stat}} for q in queries[offset:offset + METRIC_QUERIES]]
            for page in _pages(self._clients("cloudwatch").get_metric_data, MetricDataQueries=asked,
                               StartTime=start, EndTime=end, ScanBy="TimestampAscending"):
                for result in page.get("MetricDataResults", []):
                    out.setdefault(result["Id"], []).extend(
                        zip(result.get("Timestamps", []), (float(v) for v in result.get("Values", [])), strict=False))
        return {key: sorted(points, key=lambda point: point[0]) for key, points in out.items()}


class BotoCosts:
    """Cost Explorer (one API for the whole account, whatever the target's region)."""

    def __init__(self, clients: Clients):
        self._clients = clients

    def by_tag(self, key: str, value: str, start: date, end: date) -> float:
        total = 0.0
        for page in _pages(self._clients("ce").get_cost_and_usage,
                           TimePeriod={"Start": start.isoformat(), "End": end.isoformat()}, Granularity="DAILY",
                           Metrics=["UnblendedCost"], Filter={"Tags": {"Key": key, "Values": [value]}},
                           token_key="NextPageToken"):
            total += sum(float(day.get("Total", {}).get("UnblendedCost", {}).get("Amount", 0) or 0)
                         for day in page.get("ResultsByTime", []))
        return total


def transition_time(reason: str | None) -> datetime | None:
    """The time in an EC2 ``StateTransitionReason`` ("User initiated (2026-06-28 17:00:00 GMT)"), or None."""
    match = _TRANSITION_TIME.search(reason or "")
    if not match:
        return None
    try:
        return datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}").replace(tzinfo=UTC)
    except ValueError:
        return None


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).replace(microsecond=0)


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in ids if i))


def _pages(fn: Callable[..., Any], *, token_key: str = "NextToken", **kwargs: Any) -> Iterable[dict[str, Any]]:
    """Every page of *fn*(**kwargs), following *token_key*."""
    token = None
    while True:
        page = call(fn, **kwargs, **({token_key: token} if token else {}))
        yield page
        token = page.get(token_key)
        if not token:
            return


def _without_missing(fn: Callable[..., Any], ids: list[str], key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """The items under *key* of every page of *fn* for *ids*; ids a NotFound error names are dropped and
    the call repeated (EC2 refuses a whole call for one id it does not know)."""
    wanted = list(ids)
    while wanted:
        try:
            return [item for page in _pages(fn, InstanceIds=wanted, **kwargs) for item in page.get(key, [])]
        except AwsError as exc:
            named = set(INSTANCE_ID.findall(str(exc))) & set(wanted)
            if exc.code != "InvalidInstanceID.NotFound" or not named:
                raise
            wanted = [i for i in wanted if i not in named]
    return []
