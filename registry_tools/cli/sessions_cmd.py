"""``sessions`` (also ``deploy sessions``): list, show, resume, archive, clean up and destroy
deployed sessions, on local or S3 session storage, in AWS or the sandbox."""

from __future__ import annotations

import os

import click

from registry_tools.cli.output import UserError, command_clock, command_now, emit_json

SANDBOX_ENV = "ARW_SANDBOX"
STATE_ENV = "ARW_SESSION_STATE"
SANDBOX_LABEL = "SANDBOX"


def sandbox_requested(flag: bool) -> bool:
    return flag or os.environ.get(SANDBOX_ENV, "") not in ("", "0", "false", "no")


def target_for(region: str, sandbox: bool, *, start: bool = False):
    """Real AWS in *region*, or the sandbox (started when *start*, else it must run)."""
    from registry_tools.deploy.aws import Target
    from registry_tools.sandbox import control

    if not sandbox:
        return Target(region=region)
    info = control.current()
    if info is None:
        if not start:
            raise UserError("the sandbox is not running; start it with: aws-research-wizard sandbox start")
        try:
            info, _ = control.start()
        except control.SandboxError as exc:
            raise UserError(str(exc)) from None
        click.secho(f"[{SANDBOX_LABEL}] started the local AWS emulator at {info.endpoint}", err=True, fg="cyan")
    return Target(region=region, endpoint_url=info.endpoint)


def default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def state_url(option: str | None) -> str | None:
    if option:
        return option
    if os.environ.get(STATE_ENV):
        return os.environ[STATE_ENV]
    from registry_tools.home import config_text

    try:
        if "session_state" not in (config_text() or ""):  # not set: no need to parse it (yaml, trust anchors)
            return None
    except OSError as exc:
        raise UserError(f"cannot read the configuration: {exc}") from None
    from registry_tools.client import settings

    try:
        return settings.load().session_state
    except settings.SettingsError as exc:
        raise UserError(str(exc)) from None


def open_store(state: str | None, sandbox: bool):
    """The local session store, or the S3 one for ``s3://bucket/prefix`` (in AWS or the sandbox)."""
    url = state_url(state)
    if not url:
        from registry_tools.sessions.local import LocalStore

        return LocalStore()
    from registry_tools.deploy.aws import AwsError, Clients, account_id
    from registry_tools.sessions.interface import StoreError
    from registry_tools.sessions.s3 import S3Store, parse_state_url

    try:
        parse_state_url(url)
        clients = Clients(target_for(default_region(), sandbox))
        return S3Store(url, clients("s3"), account_id(clients))
    except (StoreError, AwsError) as exc:
        raise UserError(f"session state {url}: {exc}") from None


def store_errors():
    """Turn store and session errors into user errors (no tracebacks)."""
    import contextlib

    from registry_tools.deploy.aws import AwsError
    from registry_tools.sessions.deploy import DeployError
    from registry_tools.sessions.interface import StoreError
    from registry_tools.sessions.model import SessionError

    @contextlib.contextmanager
    def guard():
        try:
            yield
        except (StoreError, SessionError, DeployError, AwsError) as exc:
            raise UserError(str(exc)) from None

    return guard()


def session_options(fn):
    fn = click.option("--state", metavar="s3://BUCKET/PREFIX",
                      help=f"Session storage in S3 (default: config session_state or ${STATE_ENV}; else local).")(fn)
    fn = click.option("--sandbox", is_flag=True, help=f"Use the local AWS emulator (also ${SANDBOX_ENV}=1).")(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def sessions() -> None:
    """Deployed sessions: list, show, resume, archive, cleanup, destroy."""


@sessions.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include finished and archived sessions.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@session_options
def list_sessions(show_all: bool, as_json: bool, state: str | None, sandbox: bool) -> None:
    """Active sessions (launching, running, stopped) with status, pack, size, age and cost so far."""
    from registry_tools.cli.fast_sessions import render

    store = open_store(state, sandbox_requested(sandbox))
    with store_errors():
        rows, problems = store.summaries()
    for problem in problems:
        click.secho(f"warning: {problem}", err=True, fg="yellow")
    click.echo(render(rows, show_all, as_json, now=command_now()))


def show_session(session, as_json: bool) -> None:
    if as_json:
        emit_json(session.to_dict())
        return
    label = f" [{SANDBOX_LABEL}]" if session.sandbox else ""
    click.secho(f"{session.id}{label}", bold=True)
    rows = [
        ("Status", session.status + (" (archived)" if session.archived else "")
         + (f" - {session.status_reason}" if session.status_reason else "")),
        ("Pack", f"{session.domain} {session.pack_version} - {session.title}"),
        ("Pack sha256", session.pack_sha256),
        ("Size", f"{session.size} ({session.instance_type})"),
        ("Stack", f"{session.stack_name} in {session.region}, account {session.account}"),
        ("Launched", session.launch_time), ("Last accessed", session.last_accessed),
        ("Instances", ", ".join(session.instance_ids) or "-"),
    ]
    if session.failure_reason:
        where = f"{session.failing_resource}: " if session.failing_resource else ""
        rows.append(("Failure", where + session.failure_reason))
    if session.ended_at:
        rows.append(("Ended", session.ended_at))
    rows.append(("Parameters", ", ".join(f"{k}={v}" for k, v in session.parameters.items()) or "-"))
    for key, value in session.outputs.items():
        rows.append((f"Output {key}", value))
    if session.resources:
        rows.append(("Resources", ", ".join(f"{r.get('logical_id')} ({r.get('type')})" for r in session.resources)))
    cost = session.cost_so_far()
    rows.append(("Cost so far", "-" if cost is None else f"${cost:,.2f}"))
    width = max(len(k) for k, _ in rows)
    click.echo("\n".join(f"  {k:<{width}}  {v}" for k, v in rows))


@sessions.command("show")
@click.argument("session_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@session_options
def show(session_id: str, as_json: bool, state: str | None, sandbox: bool) -> None:
    """Everything recorded about one session."""
    store = open_store(state, sandbox_requested(sandbox))
    with store_errors():
        show_session(store.get(session_id), as_json)


def resume_session(store, session_id: str, *, watch_launching: bool = True, as_json: bool = False) -> None:
    """Reconcile with CloudFormation and EC2, follow a launching stack, then show the session."""
    from registry_tools.deploy.aws import Clients, Stacks
    from registry_tools.sessions import deploy as flow
    from registry_tools.sessions.model import LAUNCHING

    with store_errors():
        session = store.get(session_id)
        clients = Clients(target_for(session.region, session.sandbox, start=True))
        session = flow.reconcile(store, session_id, clients, clock=command_clock())
        if session.status == LAUNCHING and watch_launching and not as_json:
            click.echo(f"{session.id}: stack {session.stack_name} is still being created; following it "
                       "(q or Ctrl-C stops watching)")
            session = watch(store, session, Stacks(clients, poll_seconds=poll_seconds(session.sandbox)), clients)
    show_session(session, as_json)


def poll_seconds(sandbox: bool) -> float:
    """Seconds between stack polls: 5 against AWS, 0.5 against the sandbox (``ARW_POLL_SECONDS`` wins)."""
    return float(os.environ.get("ARW_POLL_SECONDS") or (0.5 if sandbox else 5.0))


def watch(store, session, stacks, clients, timeout: float | None = None):
    """Follow a launching session until its stack ends; q / Ctrl-C detaches (it stays launching)."""
    from registry_tools.cli.keys import QuitKey
    from registry_tools.sessions import deploy as flow

    with QuitKey() as keys:
        watcher = flow.Watch(event=print_event)
        stacks.sleep = keys.wait  # between polls: q detaches
        try:
            return flow.follow(store, session, stacks, clients, watcher, timeout or flow.DEFAULT_TIMEOUT_S,
                               clock=command_clock())
        except (flow.Detached, KeyboardInterrupt):
            click.echo(f"\nDetached; the stack goes on. Resume with: aws-research-wizard sessions resume {session.id}")
            raise SystemExit(0) from None


def print_event(event: dict) -> None:
    when = event.get("Timestamp")
    stamp = when.strftime("%H:%M:%S") if hasattr(when, "strftime") else str(when or "")[11:19]
    reason = event.get("ResourceStatusReason")
    click.echo(f"  {stamp}  {event.get('ResourceStatus', ''):<22} {event.get('ResourceType', '')} "
               f"{event.get('LogicalResourceId', '')}" + (f": {reason}" if reason else ""))


@sessions.command("resume")
@click.argument("session_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the reconciled session as JSON (no watching).")
@click.option("--no-monitor", is_flag=True, help="Do not open the live monitor afterwards.")
@session_options
def resume(session_id: str, as_json: bool, no_monitor: bool, state: str | None, sandbox: bool) -> None:
    """Reconcile a session with AWS (a stack that finished, failed or vanished is recorded as
    such), follow it if it is still launching, show it, and open the live monitor on a terminal."""
    import sys

    from registry_tools.sessions.model import ACTIVE

    store = open_store(state, sandbox_requested(sandbox))
    resume_session(store, session_id, as_json=as_json)
    if as_json or no_monitor or not sys.stdout.isatty():
        return
    with store_errors():
        session = store.get(session_id)
    if session.status in ACTIVE:
        from registry_tools.cli.monitor_cmd import live

        live(store, session_id, 30.0, "estimate", None)


@sessions.command("archive")
@click.argument("session_id", metavar="ID")
@click.option("--force", is_flag=True, help="Archive a session that is still active.")
@session_options
def archive(session_id: str, force: bool, state: str | None, sandbox: bool) -> None:
    """Hide a completed or failed session from the default listing."""
    from registry_tools.sessions import model

    store = open_store(state, sandbox_requested(sandbox))
    with store_errors():
        session = store.update(session_id, lambda s: model.archive(s, force))
    click.echo(f"Archived {session.id} ({session.status}).")


@sessions.command("cleanup")
@click.option("--older-than", default="30d", show_default=True, help="Age since last access: 90m, 12h, 30d, 2w.")
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@session_options
def cleanup(older_than: str, dry_run: bool, as_json: bool, state: str | None, sandbox: bool) -> None:
    """Remove the records of completed and failed sessions not used for a while (active ones never)."""
    from registry_tools.sessions import model

    store = open_store(state, sandbox_requested(sandbox))
    with store_errors():
        rows, _ = store.summaries()
        chosen = model.cleanup_candidates(rows, command_now(), model.parse_age(older_than))
        if not dry_run:
            for session_id in chosen:
                store.remove(session_id)
    if as_json:
        emit_json({"removed" if not dry_run else "would_remove": chosen})
        return
    verb = "Would remove" if dry_run else "Removed"
    click.echo(f"{verb} {len(chosen)} session{'s' if len(chosen) != 1 else ''}" + (":" if chosen else "."))
    for session_id in chosen:
        click.echo(f"  {session_id}")


@sessions.command("destroy")
@click.argument("session_id", metavar="ID")
@click.option("--timeout", type=float, default=1800, show_default=True, help="Seconds to wait for the deletion.")
@session_options
def destroy(session_id: str, timeout: float, state: str | None, sandbox: bool) -> None:
    """Delete the session's stack (and everything in it), wait, and mark the session completed."""
    from registry_tools.deploy.aws import Clients
    from registry_tools.sessions import deploy as flow

    store = open_store(state, sandbox_requested(sandbox))
    with store_errors():
        session = store.get(session_id)
        label = f"[{SANDBOX_LABEL}] " if session.sandbox else ""
        click.echo(f"{label}Deleting stack {session.stack_name} in {session.region} ...")
        clients = Clients(target_for(session.region, session.sandbox, start=True))
        session = flow.destroy(store, session_id, clients, clock=command_clock(), timeout=timeout,
                               poll_seconds=poll_seconds(session.sandbox))
    click.echo(f"{label}Destroyed {session.id}: stack {session.stack_name} deleted; session {session.status}.")
