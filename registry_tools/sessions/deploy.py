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
Every step that records a time takes the caller's ``clock`` (``registry_tools.clock``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from registry_tools.clock import Clock
from registry_tools.deploy.aws import AwsError, Clients, Stacks, Target, account_id, instance_states
from registry_tools.sessions import model
from registry_tools.sessions.interface import SessionStore
from registry_tools.sessions.model import Observation, Session
from registry_tools.timefmt import format_utc

if TYPE_CHECKING:  # the pack loader (jsonschema, yaml) is not needed to list or resume sessions
    from registry_tools.packs.loader import LoadedPack
    from registry_tools.packs.model import Size

TAG_SESSION, TAG_DOMAIN, TAG_VERSION = "arw:session-id", "arw:domain", "arw:pack-version"
DEFAULT_TIMEOUT_S = 1800.0


class DeployError(Exception):
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
    return Plan(chosen, parameters.get("InstanceType", instance or chosen.instance_type), region, parameters)


def stack_name_for(session_id: str, token: str | None = None) -> str:
    """``arw-<domain>-<date>-<time>-<random>``: session ids are unique per session store, but
    stack names must be unique in the account and region, which machines with their own
    stores share."""
    import secrets

    return f"arw-{session_id.removeprefix('ses_').replace('_', '-')}-{token or secrets.token_hex(3)}"[:128]


def new_session(loaded: LoadedPack, sha256: str, chosen: Plan, account: str, sandbox: bool, now: datetime,
                attempt: int) -> Session:
    pack = loaded.pack
    session_id = model.session_id(pack.name, now, attempt)
    return Session(id=session_id, domain=pack.name, pack_version=str(pack.version), pack_sha256=sha256,
                   title=pack.title, stack_name=stack_name_for(session_id), region=chosen.region, account=account,
                   size=chosen.size.name, instance_type=chosen.instance_type, launch_time=format_utc(now),
                   last_accessed=format_utc(now), sandbox=sandbox, parameters=dict(chosen.parameters))


@dataclass(frozen=True)
class Watch:
    """What the caller hears while a stack is being created."""

    saved: Callable[[Session], None] = lambda session: None
    event: Callable[[dict], None] = lambda event: None


def deploy(store: SessionStore, loaded: LoadedPack, sha256: str, chosen: Plan, target: Target, *, clock: Clock,
           watch: Watch = Watch(), detach: bool = False, timeout: float = DEFAULT_TIMEOUT_S,
           poll_seconds: float = 5.0, clients: Clients | None = None) -> Session:
    """Create the session, then its stack; follow it unless *detach*. KeyboardInterrupt and
    ``Detached`` leave the session ``launching`` (re-raised for the caller to report)."""
    clients = clients or Clients(target)
    try:
        account = account_id(clients)
    except AwsError as exc:
        raise DeployError(f"cannot reach AWS in {target.region}: {exc}") from None
    session = store.create(lambda attempt: new_session(loaded, sha256, chosen, account, target.is_sandbox,
                                                       clock(), attempt))
    watch.saved(session)
    stacks = Stacks(clients, poll_seconds=poll_seconds)
    tags = {TAG_SESSION: session.id, TAG_DOMAIN: session.domain, TAG_VERSION: session.pack_version}
    try:
        stacks.create(session.stack_name, loaded.template_text, dict(chosen.parameters), tags)
    except AwsError as exc:
        reason = f"CreateStack was refused: {exc}"
        return store.update(session.id, lambda s: model.finish(s, model.FAILED, clock(), reason=reason))
    if detach:
        return session
    return follow(store, session, stacks, clients, watch, timeout, clock=clock)


def follow(store: SessionStore, session: Session, stacks: Stacks, clients: Clients, watch: Watch,
           timeout: float, *, clock: Clock) -> Session:
    """Watch a launching session's stack to its end and record the outcome."""
    result = stacks.wait_create(session.stack_name, timeout, on_event=watch.event)
    if result.outcome == "timeout":
        reason = f"stack still {result.status} after {timeout:.0f} s; resume the session later"
        return store.update(session.id, lambda s: replace(s, status_reason=reason))
    return reconcile(store, session.id, clients, clock=clock)


def observe(session: Session, clients: Clients) -> Observation:
    """What CloudFormation and EC2 say about *session* now."""
    from registry_tools.deploy.stack_status import FAILED, classify_create, failure_of

    stacks = Stacks(clients)
    stack = stacks.describe(session.stack_name)
    if stack is None:
        return Observation(stack_status=None)
    status = stack["StackStatus"]
    failure = None
    if classify_create(status) == FAILED:
        failure = failure_of(stacks.events(session.stack_name), session.stack_name, status, stack.get("StackStatusReason"))
    resources = None
    if not status.startswith("DELETE"):
        try:
            resources = tuple({"logical_id": r["LogicalResourceId"], "type": r.get("ResourceType", ""),
                               "physical_id": r.get("PhysicalResourceId", ""), "status": r.get("ResourceStatus", "")}
                              for r in stacks.resources(session.stack_name) if r.get("LogicalResourceId"))
        except AwsError:
            if failure is None:
                raise  # a failed stack's resources are a detail; a healthy one's are not
    ids = [r["physical_id"] for r in resources or () if r["type"] == "AWS::EC2::Instance" and r["physical_id"]]
    return Observation(
        stack_status=status, stack_reason=stack.get("StackStatusReason"),
        failing_resource=failure.resource if failure else None,
        failure_reason=failure.reason if failure else None,
        instance_states=instance_states(clients, ids) if status == "CREATE_COMPLETE" else {},
        resources=resources,
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])} if resources is not None else None,
    )


def reconcile(store: SessionStore, session_id: str, clients: Clients, *, clock: Clock) -> Session:
    """Bring the stored session up to date with AWS and mark it accessed."""
    seen = observe(store.get(session_id), clients)
    now = clock()
    return store.update(session_id, lambda s: model.touch(model.reconcile(s, seen, now), now))


def destroy(store: SessionStore, session_id: str, clients: Clients, *, clock: Clock,
            timeout: float = DEFAULT_TIMEOUT_S, poll_seconds: float = 5.0) -> Session:
    """Delete the session's stack, wait for it, and mark the session completed."""
    session = store.get(session_id)
    stacks = Stacks(clients, poll_seconds=poll_seconds)
    if stacks.describe(session.stack_name) is not None:
        result = stacks.delete(session.stack_name, timeout)
        if result.outcome != "succeeded":
            reason = f"deleting stack {session.stack_name} ended {result.status}: {result.failure}"
            store.update(session_id, lambda s: replace(s, status_reason=reason))
            raise DeployError(f"session {session_id}: {reason}")
    now = clock()
    return store.update(session_id, lambda s: model.touch(model.finish(
        replace(s, instance_ids=()), model.COMPLETED, now, status_reason=f"stack {s.stack_name} deleted"), now))
