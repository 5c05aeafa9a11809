"""The AWS adapter: boto3 sessions and the CloudFormation calls a deployment needs.

One session and one client per service; against the sandbox (an endpoint
URL) botocore retries are off so unimplemented calls fail fast. Every boto
or network error surfaces as ``AwsError`` with the AWS error code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registry_tools.deploy.stack_status import FAILED, SUCCEEDED, Failure, classify_create, classify_delete, failure_of


class AwsError(Exception):
    """An AWS call failed; ``code`` is the AWS error code when there is one."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Target:
    """Where to deploy: a region, and an endpoint URL for the sandbox (None = real AWS)."""

    region: str
    endpoint_url: str | None = None

    @property
    def is_sandbox(self) -> bool:
        return self.endpoint_url is not None


class Clients:
    def __init__(self, target: Target):
        import boto3
        from botocore.config import Config

        self.target = target
        if target.is_sandbox:
            session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=target.region)
            config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=60)
        else:
            session = boto3.Session(region_name=target.region)
            config = Config(retries={"max_attempts": 5, "mode": "adaptive"}, connect_timeout=10, read_timeout=60)
        self._session, self._config, self._clients = session, config, {}

    def __call__(self, service: str):
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self.target.endpoint_url, config=self._config)
        return self._clients[service]


def call(fn: Callable[..., Any], **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    try:
        return fn(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AwsError(f"{error.get('Code', 'Error')}: {error.get('Message', str(exc))}", error.get("Code")) from None
    except (BotoCoreError, ResponseParserError) as exc:
        raise AwsError(str(exc).splitlines()[0]) from None


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
    return call(clients("sts").get_caller_identity)["Account"]


def instance_states(clients: Clients, instance_ids: list[str]) -> dict[str, str]:
    """instance id -> EC2 state name; instances EC2 no longer knows are ``terminated``."""
    if not instance_ids:
        return {}
    states = {i: "terminated" for i in instance_ids}
    try:
        reservations = call(clients("ec2").describe_instances, InstanceIds=list(instance_ids))["Reservations"]
    except AwsError as exc:
        if exc.code == "InvalidInstanceID.NotFound":
            return states
        raise
    for reservation in reservations:
        for instance in reservation.get("Instances", []):
            states[instance["InstanceId"]] = instance.get("State", {}).get("Name", "unknown")
    return states
