"""The AWS adapter: boto3 sessions and the CloudFormation calls a deployment needs.

A ``Target`` says where calls go: a region, an AWS profile (None: the default
credential chain, which honours ``AWS_PROFILE``), and an endpoint URL for the
sandbox or another emulator (None: AWS itself). One boto3 session and one
client per service; against an endpoint URL botocore retries are off so
unimplemented calls fail fast. Every boto or network error surfaces as
``AwsError`` with the AWS error code; missing, expired or rejected credentials
and unknown profiles say what to run to fix them.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registry_tools.aws.stack_status import FAILED, SUCCEEDED, Failure, classify_create, classify_delete, failure_of
from registry_tools.errors import ArwError


class AwsError(ArwError):
    """An AWS call failed; ``code`` is the AWS error code when there is one."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


CREDENTIALS_HELP = ("set up credentials with `aws configure` (access keys) or `aws configure sso` and "
                    "`aws sso login` (IAM Identity Center), or choose a configured profile with --profile NAME or "
                    "AWS_PROFILE")
REJECTED_CREDENTIALS = frozenset({"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
                                  "UnrecognizedClientException", "SignatureDoesNotMatch", "AuthFailure",
                                  "InvalidAccessKeyId", "RequestExpired"})


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
    profile, a broken credential_process or role chain): that is an ``AwsError`` too."""

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
        self._session, self._config, self._clients = session, config, {}

    def __call__(self, service: str):
        if service not in self._clients:
            with aws_errors():
                self._clients[service] = self._session.client(service, endpoint_url=self.target.endpoint_url,
                                                              config=self._config)
        return self._clients[service]


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


@dataclass(frozen=True)
class StackResult:
    name: str
    status: str
    outcome: str  # succeeded | failed | timeout
    failure: Failure | None
    outputs: dict[str, str]
    seconds: float


class Stacks:
    """Create, watch and delete CloudFormation stacks."""

    def __init__(self, clients: Clients, poll_seconds: float = 5.0, sleep: Callable[[float], None] = time.sleep):
        self.cfn = clients("cloudformation")
        self.poll = poll_seconds
        self.sleep = sleep

    def create(self, name: str, template_body: str, parameters: dict[str, str], tags: dict[str, str]) -> None:
        call(self.cfn.create_stack, StackName=name, TemplateBody=template_body,
             Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()],
             Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
             Capabilities=["CAPABILITY_IAM"], OnFailure="ROLLBACK")

    def describe(self, name: str) -> dict[str, Any] | None:
        try:
            stacks = call(self.cfn.describe_stacks, StackName=name)["Stacks"]
        except AwsError as exc:
            if exc.code == "ValidationError" and "does not exist" in str(exc):
                return None
            raise
        return stacks[0] if stacks else None

    def events(self, name: str) -> list[dict[str, Any]]:
        return call(self.cfn.describe_stack_events, StackName=name).get("StackEvents", [])

    def resources(self, name: str) -> list[dict[str, Any]]:
        return call(self.cfn.describe_stack_resources, StackName=name).get("StackResources", [])

    def wait_create(self, name: str, timeout: float, on_status: Callable[[str], None] | None = None,
                    on_event: Callable[[dict[str, Any]], None] | None = None) -> StackResult:
        """Poll until the stack's create ends (created, failed, rolled back, deleted) or *timeout*;
        *on_event* gets each new stack event, oldest first."""
        start = time.monotonic()
        last = None
        seen: set[str] = set()
        while True:
            stack = self.describe(name)
            status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
            if on_event and stack:
                fresh = [e for e in self.events(name) if e.get("EventId") not in seen]
                seen.update(e.get("EventId") for e in fresh)
                for event in reversed(fresh):
                    on_event(event)
            if status != last and on_status:
                on_status(status)
            last = status
            outcome = classify_create(status)
            elapsed = time.monotonic() - start
            if outcome == SUCCEEDED:
                outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
                return StackResult(name, status, SUCCEEDED, None, outputs, elapsed)
            if outcome == FAILED:
                events = self.events(name) if stack else []
                reason = stack.get("StackStatusReason") if stack else None
                return StackResult(name, status, FAILED, failure_of(events, name, status, reason), {}, elapsed)
            if elapsed >= timeout:
                return StackResult(name, status, "timeout",
                                   Failure(None, None, f"still {status} after {timeout:.0f} s"), {}, elapsed)
            self.sleep(self.poll)

    def delete(self, name: str, timeout: float) -> StackResult:
        start = time.monotonic()
        call(self.cfn.delete_stack, StackName=name)
        while True:
            stack = self.describe(name)
            status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
            outcome = classify_delete(status)
            elapsed = time.monotonic() - start
            if outcome != "in_progress":
                failure = None if outcome == SUCCEEDED else Failure(None, None, (stack or {}).get("StackStatusReason") or status)
                return StackResult(name, status, outcome, failure, {}, elapsed)
            if elapsed >= timeout:
                return StackResult(name, status, "timeout", Failure(None, None, f"still {status} after {timeout:.0f} s"), {}, elapsed)
            self.sleep(self.poll)


def account_id(clients: Clients) -> str:
    return caller(clients)[0]


def caller(clients: Clients) -> tuple[str, str]:
    """(account id, the caller's ARN) of the credentials in use."""
    identity = call(clients("sts").get_caller_identity)
    return identity["Account"], identity.get("Arn", "")


def set_instances_running(clients: Clients, instance_ids: list[str], running: bool, *, timeout: float,
                          poll_seconds: float = 5.0, sleep: Callable[[float], None] = time.sleep) -> dict[str, str]:
    """Start (*running*) or stop the instances and wait until EC2 reports them ``running`` or ``stopped``
    (or *timeout*); their states at the end."""
    ids = list(instance_ids)
    if running:
        call(clients("ec2").start_instances, InstanceIds=ids)
    else:
        call(clients("ec2").stop_instances, InstanceIds=ids)
    want = "running" if running else "stopped"
    start = time.monotonic()
    while True:
        states = instance_states(clients, ids)
        if all(state == want for state in states.values()) or time.monotonic() - start >= timeout:
            return states
        sleep(poll_seconds)


INSTANCE_ID = re.compile(r"\bi-[0-9a-f]+\b")


def without_missing(fn, ids: list[str], key: str, **kwargs) -> tuple[list[dict], set[str]]:
    """Call *fn* for *ids*; ids a NotFound error names are dropped and the call repeated.
    Returns the items under *key* (all pages) and the ids EC2 does not know."""
    missing: set[str] = set()
    wanted = list(ids)
    while wanted:
        try:
            items: list[dict] = []
            token = None
            while True:
                page = call(fn, InstanceIds=wanted, **kwargs, **({"NextToken": token} if token else {}))
                items.extend(page.get(key, []))
                token = page.get("NextToken")
                if not token:
                    return items, missing
        except AwsError as exc:
            named = set(INSTANCE_ID.findall(str(exc))) & set(wanted)
            if exc.code != "InvalidInstanceID.NotFound" or not named:
                raise
            missing |= named
            wanted = [i for i in wanted if i not in named]
    return [], missing


def instance_states(clients: Clients, instance_ids: list[str]) -> dict[str, str]:
    """instance id -> EC2 state name; instances EC2 no longer knows are ``terminated`` (only those)."""
    if not instance_ids:
        return {}
    reservations, _ = without_missing(clients("ec2").describe_instances, list(instance_ids), "Reservations")
    states = {i: "terminated" for i in instance_ids}
    for reservation in reservations:
        for instance in reservation.get("Instances", []):
            states[instance["InstanceId"]] = instance.get("State", {}).get("Name", "unknown")
    return states
