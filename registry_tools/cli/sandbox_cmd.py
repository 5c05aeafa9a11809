"""``sandbox``: a local AWS emulator on 127.0.0.1 so the whole flow runs without an AWS account."""

from __future__ import annotations

import click

from registry_tools.cli.output import Group, UserError, emit_json


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
def sandbox() -> None:
    """Run a local AWS emulator (moto) to try everything without an AWS account."""


@sandbox.command("start")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Port on 127.0.0.1 (0 = any free port).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def start_cmd(port: int, as_json: bool) -> None:
    """Start the sandbox in the background (does nothing if it already runs)."""
    from registry_tools.sandbox import control

    info, started = control.start(port)
    if as_json:
        emit_json({"started": started, "pid": info.pid, "endpoint": info.endpoint, "environment": info.environment()})
        return
    click.echo(f"Sandbox {'started' if started else 'already running'} at {info.endpoint} (pid {info.pid}).")
    click.echo("Use it from a shell with:  eval \"$(aws-research-wizard sandbox env)\"")


@sandbox.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def status_cmd(as_json: bool) -> None:
    """Show whether the sandbox runs and where. Exits 1 when it does not."""
    from registry_tools.sandbox import control

    info = control.current()
    healthy = info is not None and control.ping(info)
    if as_json:
        emit_json({"running": bool(info), "healthy": healthy, "endpoint": info.endpoint if info else None,
                   "pid": info.pid if info else None, "started": info.started if info else None})
    elif info:
        click.echo(f"Sandbox running at {info.endpoint} (pid {info.pid}, since {info.started}); "
                   f"{'answering' if healthy else 'NOT answering'}.")
    else:
        click.echo("Sandbox is not running. Start it with: aws-research-wizard sandbox start")
    if not healthy:
        raise SystemExit(1)


@sandbox.command("stop")
def stop_cmd() -> None:
    """Stop the sandbox. Its emulated resources are discarded."""
    from registry_tools.sandbox import control

    info = control.stop()
    click.echo(f"Sandbox at {info.endpoint} stopped." if info else "Sandbox was not running.")


@sandbox.command("env")
def env_cmd() -> None:
    """Print shell exports that point the AWS CLI and boto3 at the sandbox."""
    from registry_tools.sandbox import control

    info = control.current()
    if info is None:
        raise UserError("the sandbox is not running; start it with: aws-research-wizard sandbox start")
    for key, value in info.environment().items():
        click.echo(f"export {key}={value}")
