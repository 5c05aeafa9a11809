"""Deploy an installed pack as a session; resume (reconcile), and destroy sessions.

``plan`` (pure) checks the request against the pack and its template: the size,
an ``--instance`` type the template allows, the region, ``--param`` keys the
template declares; nothing is created when it fails.
``deploy`` creates the session first (``launching``), tells the caller its id,
then creates the stack tagged ``arw:session-id``, ``arw:domain`` and
``arw:pack-version`` and follows its events to an end state: running, failed
(naming the failing resource), or still launching after a timeout or a detach.
``observe`` + ``model.reconcile`` bring a session up to date with CloudFormation
and EC2; ``destroy`` deletes the stack, waits, and completes the session.
AWS is reached only through the named operations of ``aws/interface.py`` (``Aws``).
Every step that records a time takes the caller's ``clock`` (``registry_tools.clock``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from registry_tools.aws.interface import DEFAULT_POLL, Aws, AwsError, Poll, Target
from registry_tools.clock import Clock
from registry_tools.errors import ArwError
from registry_tools.sessions import model
from registry_tools.sessions.interface import SessionStore
from registry_tools.sessions.model import Observation, Session
from registry_tools.timefmt import format_utc

if TYPE_CHECKING:  # the pack loader (jsonschema, yaml) is not needed to list or resume sessions
    from registry_tools.packs.loader import LoadedPack
    from registry_tools.packs.model import Size

TAG_SESSION, TAG_DOMAIN, TAG_VERSION = "arw:session-id", "arw:domain", "arw:pack-version"
DEFAULT_TIMEOUT_S = 1800.0


class DeployError(ArwError):
    """The deployment request cannot be carried out as asked."""


class Detached(Exception):  # noqa: N818 - not an error: the user stopped watching
    """The user asked to stop watching (``q``); the stack goes on."""


@dataclass(frozen=True)
class Plan:
    size: Size
    instance_type: str
    region: str
    parameters: Mapping[str, str]


def allowed_instance_types(template: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The template's AllowedValues for InstanceType (None: it takes any; () : no such parameter)."""
    declared = (template.get("Parameters") or {}).get("InstanceType")
    if declared is None:
        return ()
    allowed = declared.get("AllowedValues")
    return tuple(str(v) for v in allowed) if allowed else None


def plan(loaded: LoadedPack, *, size: str | None = None, instance: str | None = None, region: str | None = None,
         default_region: str | None = None, params: Mapping[str, str] | None = None) -> Plan:
    pack = loaded.pack
    try:
        chosen = pack.size(size) if size else pack.default
    except KeyError:
        raise DeployError(f"{pack.ref} has no size {size!r}; sizes: {', '.join(s.name for s in pack.sizes)}") from None
    declared = loaded.template.get("Parameters") or {}
    if instance:
        allowed = allowed_instance_types(loaded.template)
        if allowed == ():
            raise DeployError(f"{pack.ref}: its template has no InstanceType parameter, so --instance cannot be used")
        if allowed is not None and instance not in allowed:
            raise DeployError(f"{pack.ref}: instance type {instance!r} is not allowed by its template "
                              f"(allowed: {', '.join(allowed)})")
    if region is None:
        region = default_region if default_region in pack.regions else pack.regions[0]
    elif region not in pack.regions:
        raise DeployError(f"{pack.ref} does not support region {region!r} (regions: {', '.join(pack.regions)})")
    parameters = {k: str(v) for k, v in pack.deployment.parameters.items()}
    if "InstanceType" in declared:
        parameters["InstanceType"] = instance or chosen.instance_type
    if "RootVolumeGiB" in declared:
        parameters["RootVolumeGiB"] = str(chosen.storage_gib)
    for key, value in (params or {}).items():
        if key not in declared:
            raise DeployError(f"{pack.ref}: its template has no parameter {key!r} "
                              f"(parameters: {', '.join(sorted(declared))})")
        if key == "InstanceType" and instance and value != instance:
            raise DeployError("--param InstanceType=... disagrees with --instance; give one of them")
        parameters[key] = value
    if params and "InstanceType" in params and not instance:
        allowed = allowed_instance_types(loaded.template)
        if allowed and parameters["InstanceType"] not in allowed:
            raise DeployError(f"{pack.ref}: instance type {parameters['InstanceType']!r} is not allowed by its "
                              f"template (allowed: {', '.join(allowed)})")
    problems = [problem for key, spec in declared.items()
                if (problem := parameter_problem(key, spec, parameters.get(key)))]
    if problems:
        raise DeployError(f"{pack.ref}: " + "; ".join(problems) + " (nothing was created)")
    return Plan(chosen, parameters.get("InstanceType", instance or chosen.instance_type), region, parameters)


def describe_plan(loaded: LoadedPack, sha256: str, chosen: Plan, target: Target) -> dict:
    """What ``deploy --dry-run`` shows: the pack and archive digest, where, the size, the parameters, the
    resources and IAM permissions the stack creates, and the estimated cost. Pure but for the price table."""
    from registry_tools.diff.versions import iam_grants, managed_policies
    from registry_tools.pricing.catalogue import Catalogue, PriceError
    from registry_tools.pricing.cost import HOURS_PER_MONTH, rates_for

    pack, template = loaded.pack, loaded.template
    catalogue = Catalogue.load()
    try:
        storage = float(chosen.parameters.get("RootVolumeGiB", chosen.size.storage_gib))
        rates = rates_for(catalogue, chosen.instance_type, chosen.region, storage)
        cost = {"hourly_usd": round(rates.instance_hourly + rates.storage_hourly, 4),
                "monthly_usd": rates.projected_monthly(), "hours_per_month": HOURS_PER_MONTH,
                "price_date": catalogue.price_date, "basis": "on-demand Linux price x hours + gp3 storage"}
    except (PriceError, ValueError) as exc:
        cost = {"error": str(exc)}
    return {
        "dry_run": True, "pack": pack.name, "version": str(pack.version), "title": pack.title, "sha256": sha256,
        "target": {"sandbox": target.is_sandbox, "region": chosen.region, "profile": target.profile,
                   "endpoint_url": target.endpoint_url},
        "size": chosen.size.name, "instance_type": chosen.instance_type,
        "parameters": shown_parameters(template, chosen.parameters),
        "resources": [{"logical_id": name, "type": str((res or {}).get("Type", "?"))}
                      for name, res in sorted((template.get("Resources") or {}).items())],
        "iam": {"managed_policies": [{"principal": p, "arn": arn} for p, arn in managed_policies(template)],
                "statements": [{"principal": p, "effect": e, "action": a, "resource": r}
                               for p, e, a, r in iam_grants(template)]},
        "cost": cost,
        "security": _security_of(template),
    }


def _security_of(template: Mapping[str, Any]) -> dict:
    from registry_tools.client import policy

    verdict = policy.judge(template)
    return {"summary": verdict.summary(), "refused": [f.to_dict() for f in verdict.refused],
            "warnings": [f.to_dict() for f in verdict.warnings]}


NUMBER = re.compile(r"-?\d+(\.\d+)?")  # what CloudFormation takes for a Number: no NaN, exponents or "_"
NO_ECHO_MASK = "****"


def parameter_problem(name: str, spec: Mapping[str, Any], value: str | None) -> str | None:
    """Why CloudFormation would refuse *value* for the template parameter *name* (None: it would not):
    a missing value without a Default, its Type (Number, List<Number>), AllowedValues, AllowedPattern
    (each item of a CommaDelimitedList), Min/MaxValue and Min/MaxLength. AWS-specific types (SSM
    parameter names, ...) are left to AWS. A NoEcho parameter's value is never repeated."""
    if not isinstance(spec, Mapping):
        return None
    if value is None:
        return None if "Default" in spec else f"parameter {name} needs a value (--param {name}=...)"
    kind = str(spec.get("Type", "String"))
    if kind.startswith("AWS::"):
        return None
    secret = _is_true(spec.get("NoEcho"))
    items = [v.strip() for v in value.split(",")] if kind in ("CommaDelimitedList", "List<Number>") else [value]
    for item in items:
        shown = "(hidden: NoEcho)" if secret else repr(item)
        if kind in ("Number", "List<Number>"):
            if not NUMBER.fullmatch(item):
                return f"parameter {name} must be a number like 100 or 2.5, got {shown}"
            number = float(item)
            if "MinValue" in spec and number < float(spec["MinValue"]):
                return f"parameter {name} must be at least {spec['MinValue']}, got {shown}"
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                return f"parameter {name} must be at most {spec['MaxValue']}, got {shown}"
        allowed = spec.get("AllowedValues")
        if allowed and item not in [str(a) for a in allowed] and not (
                kind == "Number" and any(_same_number(item, a) for a in allowed)):
            return f"parameter {name} must be one of {', '.join(str(a) for a in allowed)}, got {shown}"
        if kind in ("String", "CommaDelimitedList"):
            if "MinLength" in spec and len(item) < int(spec["MinLength"]):
                return f"parameter {name} must be at least {spec['MinLength']} characters long, got {len(item)}"
            if "MaxLength" in spec and len(item) > int(spec["MaxLength"]):
                return f"parameter {name} must be at most {spec['MaxLength']} characters long, got {len(item)}"
            pattern = spec.get("AllowedPattern")
            try:
                matches = pattern is None or re.fullmatch(str(pattern), item) is not None
            except re.error:
                matches = True  # a pattern Python cannot read (CloudFormation's are Java's): AWS decides
            if not matches:
                detail = spec.get("ConstraintDescription") or f"the pattern {pattern}"
                return f"parameter {name} must match {detail}, got {shown}"
    return None


def shown_parameters(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, str]:
    """*parameters* as they may be shown and stored: NoEcho values masked."""
    declared = template.get("Parameters") or {}
    return {k: NO_ECHO_MASK if _is_true((declared.get(k) or {}).get("NoEcho")) else v for k, v in parameters.items()}


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _same_number(text: str, allowed: Any) -> bool:
    try:
        return float(text) == float(allowed)
    except (TypeError, ValueError):
        return False


def stack_name_for(session_id: str, token: str | None = None) -> str:
    """``arw-<domain>-<date>-<time>-<random>``: session ids are unique per session store, but
    stack names must be unique in the account and region, which machines with their own
    stores share."""
    import secrets

    return f"arw-{session_id.removeprefix('ses_').replace('_', '-')}-{token or secrets.token_hex(3)}"[:128]


def new_session(loaded: LoadedPack, sha256: str, chosen: Plan, target: Target, account: str, now: datetime,
                attempt: int, *, profile: str | None = None, launched_by: str | None = None,
                launched_from: str | None = None, allowed_insecure: Iterable[str] = ()) -> Session:
    """The session record for *chosen* deployed to *target*: its endpoint and *profile* (the profile
    name in use, given or from AWS_PROFILE; never credentials), who launched it and from where."""
    pack = loaded.pack
    session_id = model.session_id(pack.name, now, attempt)
    return Session(id=session_id, domain=pack.name, pack_version=str(pack.version), pack_sha256=sha256,
                   title=pack.title, stack_name=stack_name_for(session_id), region=chosen.region, account=account,
                   size=chosen.size.name, instance_type=chosen.instance_type, launch_time=format_utc(now),
                   last_accessed=format_utc(now), sandbox=target.is_sandbox,
                   parameters=shown_parameters(loaded.template, chosen.parameters),
                   profile=None if target.is_sandbox else profile,
                   endpoint_url=None if target.is_sandbox else target.endpoint_url,
                   launched_by=launched_by or None, launched_from=launched_from,
                   allowed_insecure=tuple(allowed_insecure))


@dataclass(frozen=True)
class Watch:
    """What the caller hears while a stack is being created."""

    saved: Callable[[Session], None] = lambda session: None
    event: Callable[[dict], None] = lambda event: None


def deploy(store: SessionStore, loaded: LoadedPack, sha256: str, chosen: Plan, aws: Aws, *, clock: Clock,
           watch: Watch = Watch(), detach: bool = False, timeout: float = DEFAULT_TIMEOUT_S,
           poll: Poll = DEFAULT_POLL, allowed_insecure: Iterable[str] = ()) -> Session:
    """Create the session, then its stack in *aws* (its target); follow it unless *detach*. KeyboardInterrupt and
    ``Detached`` leave the session ``launching`` (re-raised for the caller to report). The caller
    has applied the security policy; *allowed_insecure* (the rules allowed past it) is recorded."""
    import socket

    target = aws.target
    try:
        me = aws.identity()
    except AwsError as exc:
        raise DeployError(f"cannot reach AWS in {target.region}: {exc}") from None
    host = socket.gethostname()
    profile = target.profile or os.environ.get("AWS_PROFILE") or None
    session = store.create(lambda attempt: new_session(loaded, sha256, chosen, target, me.account, clock(), attempt,
                                                       profile=profile, launched_by=me.arn, launched_from=host,
                                                       allowed_insecure=allowed_insecure))
    watch.saved(session)
    tags = {TAG_SESSION: session.id, TAG_DOMAIN: session.domain, TAG_VERSION: session.pack_version}
    try:
        aws.stacks.create(session.stack_name, loaded.template_text, dict(chosen.parameters), tags)
    except AwsError as exc:
        reason = f"CreateStack was refused: {exc}"
        return store.update(session.id, lambda s: model.finish(s, model.FAILED, clock(), reason=reason))
    # from now on, a stack that cannot be found was deleted (before, it may just not exist yet)
    session = store.update(session.id, lambda s: replace(s, stack_status=s.stack_status or "CREATE_IN_PROGRESS"))
    if detach:
        return session
    return follow(store, session, aws, watch, timeout, clock=clock, poll=poll)


def _same_account(session: Session, aws: Aws) -> None:
    """A ``DeployError`` when *aws* reaches another AWS account than the one *session* lives in."""
    account = aws.identity().account
    if account != session.account:
        raise DeployError(f"session {session.id} lives in AWS account {session.account}, but the credentials in use "
                          f"are for account {account}: use the profile it was deployed with "
                          f"({session.profile or 'the default credentials'}) or pass --profile NAME")


EMULATOR_FAILURES = frozenset({"InvalidResponse", "InternalFailure", "InternalError"})


def emulator_failure(aws: Aws, exc: AwsError) -> str | None:
    """Why to fail a session whose stack the sandbox itself failed on; None anywhere else (on AWS, or
    another endpoint, the same error may be transient), or for errors that are not the sandbox failing."""
    if not aws.target.is_sandbox or exc.code not in EMULATOR_FAILURES:
        return None
    return f"the sandbox failed on this stack: {exc}"


def follow(store: SessionStore, session: Session, aws: Aws, watch: Watch, timeout: float, *, clock: Clock,
           poll: Poll = DEFAULT_POLL) -> Session:
    """Watch a launching session's stack to its end and record the outcome (``poll.sleep`` may raise
    ``Detached`` to stop watching)."""
    try:
        result = aws.stacks.wait_create(session.stack_name, timeout, poll=poll, on_event=watch.event)
    except AwsError as exc:
        reason = emulator_failure(aws, exc)
        if reason:
            return store.update(session.id, lambda s: model.finish(s, model.FAILED, clock(), reason=reason))
        problem = f"could not follow the stack: {exc}"
        store.update(session.id, lambda s: replace(s, status_reason=problem))
        raise DeployError(f"session {session.id}: {problem}; resume it later with: "
                          f"aws-research-wizard sessions resume {session.id}") from None
    if result.outcome == "timeout":
        reason = f"stack still {result.status} after {timeout:.0f} s; resume the session later"
        return store.update(session.id, lambda s: replace(s, status_reason=reason))
    return reconcile(store, session.id, aws, clock=clock)


def observe(session: Session, aws: Aws) -> Observation:
    """What CloudFormation and EC2 say about *session* now."""
    from registry_tools.aws.stack_status import FAILED, classify_create, failure_of

    stacks = aws.stacks
    stack = stacks.describe(session.stack_name)
    if stack is None:
        return Observation(stack_status=None)
    status = stack.status
    failure = None
    if classify_create(status) == FAILED:
        failure = failure_of(stacks.events(session.stack_name), session.stack_name, status, stack.reason)
    resources = None
    if not status.startswith("DELETE"):
        try:
            resources = tuple({"logical_id": r.logical_id, "type": r.type, "physical_id": r.physical_id,
                               "status": r.status} for r in stacks.resources(session.stack_name))
        except AwsError:
            if failure is None:
                raise  # a failed stack's resources are a detail; a healthy one's are not
    ids = [r["physical_id"] for r in resources or () if r["type"] == "AWS::EC2::Instance" and r["physical_id"]]
    return Observation(
        stack_status=status, stack_reason=stack.reason,
        failing_resource=failure.resource if failure else None,
        failure_reason=failure.reason if failure else None,
        instance_states={i: instance.state for i, instance in aws.instances.describe(ids).items()}
        if status == "CREATE_COMPLETE" and ids else {},
        resources=resources,
        outputs=dict(stack.outputs) if resources is not None else None,
    )


def reconcile(store: SessionStore, session_id: str, aws: Aws, *, clock: Clock) -> Session:
    """Bring the stored session up to date with AWS and mark it accessed (failed, when the sandbox
    itself fails on its stack)."""
    session = store.get(session_id)
    try:
        seen = observe(session, aws)
        if seen.stack_status is None and session.status not in model.FINISHED:
            _same_account(session, aws)  # another account's credentials would see every stack "gone"
    except AwsError as exc:
        reason = emulator_failure(aws, exc)
        if reason is None:
            raise
        now = clock()
        return store.update(session_id, lambda s: model.touch(model.finish(s, model.FAILED, now, reason=reason), now))
    now = clock()
    return store.update(session_id, lambda s: model.touch(model.reconcile(s, seen, now), now))


def reconcile_many(store: SessionStore, session_ids: Iterable[str], aws_for: Callable[[Session], Aws], *,
                   clock: Clock) -> dict[str, Session | str]:
    """``reconcile`` each of *session_ids* (``sessions list`` and ``show`` bring launching sessions up to date
    this way): id -> the reconciled session, or why it could not be (one that cannot be reached does not
    stop the others). *aws_for(session)* gives its ``Aws``, or raises ``AwsError``."""
    from registry_tools.sessions.interface import StoreError

    out: dict[str, Session | str] = {}
    for session_id in dict.fromkeys(session_ids):
        try:
            out[session_id] = reconcile(store, session_id, aws_for(store.get(session_id)), clock=clock)
        except (AwsError, DeployError, StoreError, model.SessionError) as exc:
            out[session_id] = str(exc)
    return out


def set_running(store: SessionStore, session_id: str, aws: Aws, running: bool, *, clock: Clock,
                timeout: float = DEFAULT_TIMEOUT_S, poll_seconds: float = 5.0) -> Session:
    """``sessions start`` (*running*) / ``stop``: start or stop the session's instances, wait for EC2,
    and record what it then says (``reconcile``). Only a running or stopped session can be."""
    session = reconcile(store, session_id, aws, clock=clock)
    verb = "start" if running else "stop"
    if session.status not in (model.RUNNING, model.STOPPED):
        wait = f" (wait until it is running: sessions resume {session_id})" if session.status == model.LAUNCHING else ""
        raise DeployError(f"session {session_id} is {session.status}; only a running or stopped session can be "
                          f"{'started' if running else 'stopped'}{wait}")
    if not session.instance_ids:
        raise DeployError(f"session {session_id} has no instances to {verb}")
    states = aws.instances.set_running(list(session.instance_ids), running, timeout=timeout,
                                       poll=Poll(poll_seconds))
    want = "running" if running else "stopped"
    session = reconcile(store, session_id, aws, clock=clock)
    if set(states.values()) != {want}:
        raise DeployError(f"session {session_id}: after {timeout:.0f} s EC2 reports "
                          + ", ".join(f"{i} {s}" for i, s in sorted(states.items())) + f", not {want}")
    return session


def destroy(store: SessionStore, session_id: str, aws: Aws, *, clock: Clock,
            timeout: float = DEFAULT_TIMEOUT_S, poll_seconds: float = 5.0) -> Session:
    """Delete the session's stack, wait for it, and mark the session completed."""
    session = store.get(session_id)
    try:
        exists = aws.stacks.describe(session.stack_name) is not None
    except AwsError as exc:
        if emulator_failure(aws, exc) is None:
            raise
        exists = True  # the sandbox fails to describe it (its own failure): delete it all the same
    if exists:
        result = aws.stacks.delete(session.stack_name, timeout, poll=Poll(poll_seconds))
        if result.outcome != "succeeded":
            reason = f"deleting stack {session.stack_name} ended {result.status}: {result.failure}"
            store.update(session_id, lambda s: replace(s, status_reason=reason))
            raise DeployError(f"session {session_id}: {reason}")
    now = clock()
    return store.update(session_id, lambda s: model.touch(model.finish(
        replace(s, instance_ids=()), model.COMPLETED, now, status_reason=f"stack {s.stack_name} deleted"), now))
