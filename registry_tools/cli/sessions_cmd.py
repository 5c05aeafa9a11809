"""``sessions`` (also ``deploy sessions``): list, show, resume, archive, clean up and destroy
deployed sessions, on local or S3 session storage, in AWS or the sandbox."""

from __future__ import annotations

import os

import click

from registry_tools.cli import options
from registry_tools.cli.fast_sessions import SANDBOX_LABEL
from registry_tools.cli.options import SANDBOX_ENV, STATE_ENV
from registry_tools.cli.output import Group, UserError, command_clock, command_now, emit_json
from registry_tools.textsafe import printable


def sandbox_requested(flag: bool) -> bool:
    """--sandbox, ARW_SANDBOX=1, or AWS_ENDPOINT_URL pointing at the running sandbox
    (after `eval "$(aws-research-wizard sandbox env)"`)."""
    if flag or os.environ.get(SANDBOX_ENV, "") not in ("", "0", "false", "no"):
        return True
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        return False
    from registry_tools.sandbox import control

    info = control.current()
    return info is not None and endpoint.rstrip("/") == info.endpoint.rstrip("/")


def target_for(region: str, sandbox: bool, *, profile: str | None = None, start: bool = False):
    """AWS in *region* with --profile *profile* (None: the default credential chain, which honours
    AWS_PROFILE and environment credentials in the AWS CLI's order) at the endpoint in AWS_ENDPOINT_URL
    if set, or the sandbox (started when *start*, else it must run)."""
    from registry_tools.aws.adapter import Target
    from registry_tools.sandbox import control

    if not sandbox:
        return Target(region=region, profile=profile or None, endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
    info = control.current()
    if info is None:
        if not start:
            raise UserError("the sandbox is not running; start it with: aws-research-wizard sandbox start")
        info, _ = control.start()
        click.secho(f"[{SANDBOX_LABEL}] started the local AWS emulator at {info.endpoint}", err=True, fg="cyan")
    return Target(region=region, endpoint_url=info.endpoint, sandbox=True)


def session_target(session, profile: str | None = None, *, start: bool = False):
    """Where *session* lives, from any machine sharing its store: the sandbox, or its region at the
    endpoint and with the AWS profile it was deployed with (--profile overrides the profile)."""
    from registry_tools.aws.adapter import Target

    if session.sandbox:
        return target_for(session.region, True, start=start)
    if not profile and session.profile and session.profile != os.environ.get("AWS_PROFILE"):
        profile = session.profile  # else the default chain, as when it was deployed (AWS_PROFILE included)
    return Target(region=session.region, profile=profile or None, endpoint_url=session.endpoint_url)


def session_aws(session, profile: str | None = None, *, start: bool = False):
    """The AWS adapter for *session*'s target; a profile it was deployed with that this machine lacks is one
    clear error."""
    from registry_tools.aws.adapter import AwsError, BotoAws

    try:
        return BotoAws(session_target(session, profile, start=start))
    except AwsError as exc:
        if exc.code == "ProfileNotFound" and session.profile and not profile:
            raise UserError(f"session {session.id} was deployed with the AWS profile {session.profile!r}, which is "
                            f"not configured on this machine: create it (`aws configure sso --profile "
                            f"{session.profile}` or `aws configure --profile {session.profile}`) or pass "
                            "--profile NAME") from None
        raise


def default_region(profile: str | None = None, *, sandbox: bool = False) -> str | None:
    """The region AWS tools would use here (AWS_REGION, AWS_DEFAULT_REGION, the profile's; in the
    sandbox only the environment's), or None."""
    from registry_tools.aws.adapter import profile_region

    if sandbox:
        return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    return profile_region(profile or None)


def local_aws(sandbox: bool, profile: str | None):
    """The AWS adapter for this shell's own credentials and region (not a session's): the S3 session store, whoami."""
    from registry_tools.aws.adapter import BotoAws

    return BotoAws(target_for(default_region(profile, sandbox=sandbox) or "us-east-1", sandbox, profile=profile))


def state_url(option: str | None) -> str | None:
    if option:
        return option
    if os.environ.get(STATE_ENV):
        return os.environ[STATE_ENV]
    from registry_tools.paths import config_text

    try:
        if "session_state" not in (config_text() or ""):  # not set: no need to parse it (yaml, trust anchors)
            return None
    except OSError as exc:
        raise UserError(f"cannot read the configuration: {exc}") from None
    from registry_tools.client import settings

    return settings.load().session_state


def open_store(state: str | None, sandbox: bool, profile: str | None = None):
    """The local session store, or the S3 one for ``s3://bucket/prefix`` (in AWS with *profile*, or the sandbox)."""
    url = state_url(state)
    if not url:
        from registry_tools.sessions.local import LocalStore

        return LocalStore()
    from registry_tools.aws.interface import AwsError
    from registry_tools.sessions.interface import StoreError
    from registry_tools.sessions.s3 import S3Store, parse_state_url

    try:
        parse_state_url(url)
        aws = local_aws(sandbox, profile)
        return S3Store(url, aws.clients("s3"), aws.identity().account)  # the S3 store is its own seam
    except (StoreError, AwsError) as exc:
        raise UserError(f"session state {url}: {exc}") from None


def store_errors():
    """Turn store and session errors into user errors (no tracebacks)."""
    import contextlib


    @contextlib.contextmanager
    def guard():
        yield

    return guard()


def session_options(fn):
    """--state, --sandbox, --profile (described in ``options.SESSION``, with `sessions list`'s)."""
    return options.click_params(options.Spec(options.SESSION))(fn)


@click.group(cls=Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def sessions(ctx) -> None:
    """Deployed sessions: list (what `sessions` alone shows), show, resume, stop, start, connect, archive,
    cleanup, destroy."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_sessions)


@sessions.command("list")
@options.click_params(options.SESSIONS_LIST)
def list_sessions(show_all: bool, as_json: bool, mine: bool, state: str | None, sandbox: bool,
                  profile: str | None) -> None:
    """Active sessions (launching, running, stopped) with status, pack, size, who launched them, age and
    cost so far; with a shared S3 store, the whole team's."""
    from registry_tools.cli.fast_sessions import launching, render
    from registry_tools.cli.monitor_cmd import bring_up_to_date

    store = open_store(state, sandbox_requested(sandbox), profile)
    with store_errors():
        rows, problems = store.summaries()
    stale = launching(rows, show_all)
    if stale:  # their stacks may have finished since: brought up to date as `resume` does
        problems = [*problems, *bring_up_to_date(store, stale, profile)]
        with store_errors():
            rows, _ = store.summaries()
    for problem in problems:
        click.secho(f"warning: {printable(problem)}", err=True, fg="yellow")
    if mine:
        from registry_tools.cli.fast_sessions import identity

        me = identity(whoami(sandbox_requested(sandbox), profile))
        rows = [row for row in rows if identity(row.get("launched_by")) == me]
    click.echo(render(rows, show_all, as_json, now=command_now()))


def whoami(sandbox: bool, profile: str | None) -> str:
    """The STS caller ARN of the credentials this command uses (what sessions record as launched_by)."""
    from registry_tools.aws.interface import AwsError

    try:
        return local_aws(sandbox, profile).identity().arn
    except AwsError as exc:
        raise UserError(f"--mine needs to know who you are: {exc}") from None


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
        ("Launched", session.launch_time + (f" by {session.launched_by}" if session.launched_by else "")
         + (f" from {session.launched_from}" if session.launched_from else "")),
        ("AWS", "the sandbox" if session.sandbox else
         f"profile {session.profile or '(default credentials)'}"
         + (f", endpoint {session.endpoint_url}" if session.endpoint_url else "")),
        ("Last accessed", session.last_accessed),
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
    click.echo("\n".join(f"  {k:<{width}}  {printable(v)}" for k, v in rows))  # the pack's title, AWS's reasons


@sessions.command("show")
@click.argument("session_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@session_options
def show(session_id: str, as_json: bool, state: str | None, sandbox: bool, profile: str | None) -> None:
    """Everything recorded about one session (one still launching is brought up to date with AWS first)."""
    from registry_tools.cli.monitor_cmd import bring_up_to_date

    store = open_store(state, sandbox_requested(sandbox), profile)
    with store_errors():
        session = store.get(session_id)
        if session.status == "launching":
            for problem in bring_up_to_date(store, [session_id], profile):
                click.secho(f"warning: {printable(problem)}", err=True, fg="yellow")
            session = store.get(session_id)
        show_session(session, as_json)


def resume_session(store, session_id: str, *, watch_launching: bool = True, as_json: bool = False,
                   profile: str | None = None) -> None:
    """Reconcile with CloudFormation and EC2, follow a launching stack, then show the session."""
    from registry_tools.sessions import lifecycle
    from registry_tools.sessions.model import LAUNCHING

    with store_errors():
        session = store.get(session_id)
        aws = session_aws(session, profile, start=True)
        session = lifecycle.reconcile(store, session_id, aws, clock=command_clock())
        if session.status == LAUNCHING and watch_launching and not as_json:
            click.echo(f"{session.id}: stack {session.stack_name} is still being created; following it "
                       "(q or Ctrl-C stops watching)")
            session = watch(store, session, aws)
    show_session(session, as_json)


def poll_seconds(sandbox: bool) -> float:
    """Seconds between stack polls: 5 against AWS, 0.5 against the sandbox (``ARW_POLL_SECONDS`` wins)."""
    return float(os.environ.get("ARW_POLL_SECONDS") or (0.5 if sandbox else 5.0))


def watch(store, session, aws, timeout: float | None = None):
    """Follow a launching session until its stack ends; q / Ctrl-C detaches (it stays launching)."""
    from registry_tools.aws.interface import Poll
    from registry_tools.cli.keypress import QuitKey
    from registry_tools.sessions import lifecycle

    with QuitKey() as keys:
        watcher = lifecycle.Watch(event=print_event)
        poll = Poll(poll_seconds(session.sandbox), keys.wait)  # between polls: q detaches
        try:
            return lifecycle.follow(store, session, aws, watcher, timeout or lifecycle.DEFAULT_TIMEOUT_S,
                                    clock=command_clock(), poll=poll)
        except (lifecycle.Detached, KeyboardInterrupt):
            click.echo(f"\nDetached; the stack goes on. Resume with: aws-research-wizard sessions resume {session.id}")
            raise SystemExit(0) from None


def print_event(event: dict) -> None:
    when = event.get("Timestamp")
    stamp = when.strftime("%H:%M:%S") if when is not None and hasattr(when, "strftime") else str(when or "")[11:19]
    reason = event.get("ResourceStatusReason")
    click.echo(printable(f"  {stamp}  {event.get('ResourceStatus', ''):<22} {event.get('ResourceType', '')} "
                         f"{event.get('LogicalResourceId', '')}" + (f": {reason}" if reason else "")))


@sessions.command("resume")
@click.argument("session_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the reconciled session as JSON (no watching).")
@click.option("--no-monitor", is_flag=True, help="Do not open the live monitor afterwards.")
@session_options
def resume(session_id: str, as_json: bool, no_monitor: bool, state: str | None, sandbox: bool, profile: str | None) -> None:
    """Reconcile a session with AWS (a stack that finished, failed or vanished is recorded as
    such), follow it if it is still launching, show it, and open the live monitor on a terminal."""
    import sys

    from registry_tools.sessions.model import ACTIVE

    store = open_store(state, sandbox_requested(sandbox), profile)
    resume_session(store, session_id, as_json=as_json, profile=profile)
    if as_json or no_monitor or not sys.stdout.isatty():
        return
    with store_errors():
        session = store.get(session_id)
    if session.status in ACTIVE:
        from registry_tools.cli.monitor_cmd import live

        live(store, session_id, 30.0, "estimate", None, profile=profile)


def _power(session_id: str, running: bool, timeout: float, state: str | None, sandbox: bool,
           profile: str | None) -> None:
    from registry_tools.monitor.observe import MonitorError, rates_of
    from registry_tools.sessions import lifecycle

    store = open_store(state, sandbox_requested(sandbox), profile)
    with store_errors():
        session = store.get(session_id)
        label = f"[{SANDBOX_LABEL}] " if session.sandbox else ""
        click.echo(f"{label}{'Starting' if running else 'Stopping'} {', '.join(session.instance_ids) or 'its instances'}"
                   f" of {session.id} ...")
        session = lifecycle.set_running(store, session_id, session_aws(session, profile, start=True), running,
                                   clock=command_clock(), timeout=timeout, poll_seconds=poll_seconds(session.sandbox))
    try:
        monthly = f"${rates_of(session).projected_monthly(running):,.2f} per month"
    except MonitorError:
        monthly = "cost unknown (no price for its instance type here)"
    if running:
        click.echo(f"{label}Session {session.id} is {session.status}: instance and storage are charged ({monthly}). "
                   f"Connect with: aws-research-wizard sessions connect {session.id}")
    else:
        click.echo(f"{label}Session {session.id} is {session.status}: only its storage is charged now ({monthly}). "
                   f"Start it again with: aws-research-wizard sessions start {session.id}")


@sessions.command("stop")
@click.argument("session_id", metavar="ID")
@click.option("--timeout", type=float, default=900, show_default=True, help="Seconds to wait for EC2.")
@session_options
def stop(session_id: str, timeout: float, state: str | None, sandbox: bool, profile: str | None) -> None:
    """Stop the session's instances (its disks and results stay; only storage is charged until `start`)."""
    _power(session_id, False, timeout, state, sandbox, profile)


@sessions.command("start")
@click.argument("session_id", metavar="ID")
@click.option("--timeout", type=float, default=900, show_default=True, help="Seconds to wait for EC2.")
@session_options
def start(session_id: str, timeout: float, state: str | None, sandbox: bool, profile: str | None) -> None:
    """Start a stopped session's instances again."""
    _power(session_id, True, timeout, state, sandbox, profile)


SSM_CLI_HELP = "https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
SSM_PLUGIN_HELP = ("https://docs.aws.amazon.com/systems-manager/latest/userguide/"
                   "session-manager-working-with-install-plugin.html")


def connect_command(session, profile: str | None, port_forward: str | None) -> list[str]:
    """The `aws ssm start-session` command line that opens a shell on (or forwards a port of) *session*'s
    instance, with the session's region, profile and endpoint."""
    import json

    if not session.instance_ids:
        raise UserError(f"session {session.id} has no instance to connect to ({session.status})")
    command = ["aws", "ssm", "start-session", "--target", session.instance_ids[0], "--region", session.region]
    if port_forward:
        local, sep, remote = port_forward.partition(":")
        if not (sep and local.isdigit() and remote.isdigit() and 0 < int(local) < 65536 and 0 < int(remote) < 65536):
            raise click.BadParameter(f"{port_forward!r}: use LOCAL:REMOTE ports, e.g. 8888:8888",
                                     param_hint="--port-forward")
        command += ["--document-name", "AWS-StartPortForwardingSession",
                    "--parameters", json.dumps({"portNumber": [remote], "localPortNumber": [local]})]
    target = session_target(session, profile)
    if target.profile and not target.is_sandbox:
        command += ["--profile", target.profile]
    if target.endpoint_url:
        command += ["--endpoint-url", target.endpoint_url]
    return command


@sessions.command("connect")
@click.argument("session_id", metavar="ID")
@click.option("--port-forward", metavar="LOCAL:REMOTE",
              help="Forward a local port to the instance (e.g. 8888:8888 for Jupyter) instead of opening a shell.")
@click.option("--print-command", is_flag=True, help="Only print the command that would be run.")
@session_options
def connect(session_id: str, port_forward: str | None, print_command: bool, state: str | None, sandbox: bool,
            profile: str | None) -> None:
    """Open a shell on the session's instance through SSM Session Manager (no SSH, no open ports), or
    forward a port with --port-forward. Needs the AWS CLI and its Session Manager plugin."""
    import shlex
    import shutil
    import subprocess

    from registry_tools.sessions.model import RUNNING

    store = open_store(state, sandbox_requested(sandbox), profile)
    with store_errors():
        session = store.get(session_id)
    if session.status != RUNNING:
        hint = f"; start it with: aws-research-wizard sessions start {session.id}" if session.status == "stopped" else ""
        raise UserError(f"session {session.id} is {session.status}, not running{hint}")
    command = connect_command(session, profile, port_forward)
    if print_command:
        click.echo(shlex.join(command))
        return
    if shutil.which("aws") is None:
        raise UserError(f"`sessions connect` runs the AWS CLI, which is not installed: see {SSM_CLI_HELP} "
                        f"(then install its Session Manager plugin: {SSM_PLUGIN_HELP})")
    if shutil.which("session-manager-plugin") is None:
        raise UserError(f"`sessions connect` needs the AWS CLI's Session Manager plugin, which is not installed: "
                        f"see {SSM_PLUGIN_HELP}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}  # the command names it
    if session.sandbox:  # the emulator's fixed test credentials, as every other sandbox command uses
        env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    click.echo(f"$ {shlex.join(command)}", err=True)
    raise SystemExit(subprocess.run(command, env=env).returncode)


@sessions.command("archive")
@click.argument("session_id", metavar="ID")
@click.option("--force", is_flag=True, help="Archive a session that is still active.")
@session_options
def archive(session_id: str, force: bool, state: str | None, sandbox: bool, profile: str | None) -> None:
    """Hide a completed or failed session from the default listing."""
    from registry_tools.sessions import model

    store = open_store(state, sandbox_requested(sandbox), profile)
    with store_errors():
        session = store.update(session_id, lambda s: model.archive(s, force))
    click.echo(f"Archived {session.id} ({session.status}).")


@sessions.command("cleanup")
@click.option("--older-than", default="30d", show_default=True, help="Age since last access: 90m, 12h, 30d, 2w.")
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@session_options
def cleanup(older_than: str, dry_run: bool, as_json: bool, state: str | None, sandbox: bool, profile: str | None) -> None:
    """Remove the records of completed and failed sessions not used for a while (active ones never)."""
    from registry_tools.sessions import model

    store = open_store(state, sandbox_requested(sandbox), profile)
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
def destroy(session_id: str, timeout: float, state: str | None, sandbox: bool, profile: str | None) -> None:
    """Delete the session's stack (and everything in it), wait, and mark the session completed."""
    from registry_tools.sessions import lifecycle

    store = open_store(state, sandbox_requested(sandbox), profile)
    with store_errors():
        session = store.get(session_id)
        label = f"[{SANDBOX_LABEL}] " if session.sandbox else ""
        click.echo(f"{label}Deleting stack {session.stack_name} in {session.region} ...")
        session = lifecycle.destroy(store, session_id, session_aws(session, profile, start=True),
                                    clock=command_clock(), timeout=timeout,
                               poll_seconds=poll_seconds(session.sandbox))
    click.echo(f"{label}Destroyed {session.id}: stack {session.stack_name} deleted; session {session.status}.")
