"""``monitor``: status, health, CPU, memory and cost of sessions, once or live.

Without ``--session``: one line per active session, all refreshed together
(``observe.refresh_many``: a few AWS calls per region, not per session); a
session that cannot be reached is shown with the reason while the others are
shown, and the exit code is ``UNREACHABLE_EXIT`` (4). With ``--session``: a
live dashboard refreshed every ``--interval`` seconds on a terminal (``q`` or
Ctrl-C quits and prints how to resume), or one snapshot with ``--once`` /
``--json``; a session that cannot be reached is an error (exit 1), and in the
live dashboard a failed refresh is shown while it keeps trying. A session still
``launching`` is brought up to date first (as ``sessions resume`` does). Every
refresh appends a sample to the session's history through its store.
``--budget`` warns, and exits 3 with ``--once``, when the cost so far or the
projected monthly cost passes it (4 wins over 3).
"""

from __future__ import annotations

import sys

import click

from registry_tools.cli.output import Command, UserError, command_clock, emit_json
from registry_tools.cli.sessions_cmd import (
    SANDBOX_LABEL,
    open_store,
    sandbox_requested,
    session_aws,
    session_options,
    store_errors,
)
from registry_tools.textsafe import printable

OVER_BUDGET_EXIT = 3
UNREACHABLE_EXIT = 4  # the list: some sessions could not be refreshed (shown with the reason)
SPARKS = "▁▂▃▄▅▆▇█"


def spark(values) -> str:
    if not values:
        return ""
    return "".join(SPARKS[min(int(v / 100 * len(SPARKS)), len(SPARKS) - 1)] for v in values)


def percent(value) -> str:
    return "no data yet" if value is None else f"{value:.1f} %"


def money(value) -> str:
    return f"${value:,.2f}"


HEADER = f"{'SESSION':<34} {'STATUS':<10} {'HEALTH':<13} {'CPU':>5} {'MEM':>5} {'COST':>10} {'RUNTIME':>9}"


def summary_line(snap: dict) -> str:
    label = f" [{SANDBOX_LABEL}]" if snap["sandbox"] else ""
    if "error" in snap:
        return printable(f"{snap['session']:<34} {snap['status'] or '?':<10} {'unreachable':<13} {snap['error']}{label}")
    cpu = "-" if snap["cpu_percent"] is None else f"{snap['cpu_percent']:.0f}%"
    mem = "-" if snap["memory_percent"] is None else f"{snap['memory_percent']:.0f}%"
    flag = "  OVER BUDGET" if snap["over_budget"] else ""
    return (f"{snap['session']:<34} {snap['status']:<10} {snap['health']:<13} {cpu:>5} {mem:>5} "
            f"{money(snap['cost_usd']):>10} {snap['runtime_hours']:>8.1f}h{label}{flag}")


def detail_rows(snap: dict) -> list[tuple[str, str]]:
    rows = [
        ("Session", snap["session"] + (f" [{SANDBOX_LABEL}]" if snap["sandbox"] else "")),
        ("Pack", f"{snap['domain']} {snap['pack_version']} - {snap['title']}"),
        ("Stack", f"{snap['stack_status'] or 'gone'} ({snap['region']})"),
        ("Instance", f"{snap['instance_id'] or '-'} {snap['instance_type']} {snap['instance_state'] or ''}".strip()),
        ("Health", snap["health"] + (f" (system {snap['status_checks'].get('system')}, instance "
                                      f"{snap['status_checks'].get('instance')})" if snap["status_checks"] else "")),
        ("CPU", f"{percent(snap['cpu_percent'])}  {spark(snap['cpu_trend'])}".rstrip()),
        ("Memory", f"{percent(snap['memory_percent'])}  {spark(snap['memory_trend'])}".rstrip()),
        ("Runtime", f"{snap['runtime_hours']:.2f} h running"),
        ("Cost so far", f"{money(snap['cost_usd'])} ({snap['cost_note']})"),
        ("Projected", f"{money(snap['projected_monthly_usd'])} / month at the current state"),
    ]
    if snap["budget_usd"] is not None:
        rows.append(("Budget", f"{money(snap['budget_usd'])}" + ("  - OVER BUDGET" if snap["over_budget"] else "")))
    if snap.get("refresh_error"):
        rows.append(("Last refresh", f"failed: {snap['refresh_error']} (showing the refresh before; retrying)"))
    rows.append(("Resume", snap["resume"]))
    return rows


def detail_text(snap: dict) -> str:
    width = max(len(k) for k, _ in detail_rows(snap))
    return "\n".join(f"  {k:<{width}}  {printable(v)}" for k, v in detail_rows(snap))  # the pack's title, errors


def dashboard(snap: dict, interval: float):
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for key, value in detail_rows(snap):
        style = "red" if (key == "Budget" and snap["over_budget"]) or key == "Last refresh" else ""
        table.add_row(key, Text(printable(value), style=style))  # Text: the pack's title is not rich markup
    return Panel(table, title=f"aws-research-wizard monitor - {snap['session']}",
                 subtitle=f"refresh every {interval:g} s at {snap['time']} - q quits", border_style="cyan")


def reach(profile: str | None = None):
    """*aws_for(session)* for ``observe.refresh_many``: the AWS adapter for the session's target (one
    per target); a target that cannot be used here (a profile not configured, the sandbox not running)
    raises ``AwsError`` with what to do."""
    from registry_tools.aws.interface import AwsError
    from registry_tools.cli.sessions_cmd import session_target

    made: dict = {}

    def aws_for(session):
        try:
            target = session_target(session, profile)
            if target not in made:
                made[target] = session_aws(session, profile)
        except UserError as exc:
            raise AwsError(str(exc), "Unreachable") from None
        return made[target]

    return aws_for


def bring_up_to_date(store, session_ids: list[str], profile: str | None = None) -> list[str]:
    """Reconcile *session_ids* with AWS as ``sessions resume`` does (``deploy.reconcile_many``; what
    ``sessions list`` and ``show`` do for launching sessions); why those that could not be were not."""
    from registry_tools.sessions import lifecycle

    outcomes = lifecycle.reconcile_many(store, session_ids, reach(profile), clock=command_clock())
    return [f"{sid} may be out of date: could not ask AWS ({outcome})"
            for sid, outcome in outcomes.items() if isinstance(outcome, str)]


def take(store, session_id: str, cost_source: str, budget: float | None, profile: str | None = None, *,
         aws_for=None) -> dict:
    """One refresh of one session (``UserError`` with the reason when it cannot be refreshed)."""
    from registry_tools.monitor.observe import refresh_many

    (snap,) = refresh_many(store, [session_id], aws_for or reach(profile), now=command_clock()(),
                           cost_source=cost_source, budget=budget)
    if "error" in snap:
        raise UserError(snap["error"])
    return snap


def live(store, session_id: str, interval: float, cost_source: str, budget: float | None, *,
         profile: str | None = None) -> None:
    from rich.live import Live

    from registry_tools.cli.keypress import QuitKey
    from registry_tools.cli.output import console
    from registry_tools.sessions.lifecycle import Detached

    aws_for = reach(profile)
    snap = take(store, session_id, cost_source, budget, profile, aws_for=aws_for)
    out = console()
    try:
        with QuitKey() as keys, Live(dashboard(snap, interval), console=out, auto_refresh=False) as view:
            while True:
                keys.wait(interval)
                try:
                    snap = take(store, session_id, cost_source, budget, profile, aws_for=aws_for)
                except UserError as exc:  # a failed refresh (network, credentials): shown, and tried again
                    snap = {**snap, "refresh_error": str(exc)}
                view.update(dashboard(snap, interval), refresh=True)
    except (Detached, KeyboardInterrupt):
        pass
    click.echo(f"Monitor closed; the session goes on. Resume with: aws-research-wizard monitor --session {session_id}")


def monitor_session(store, session_id: str, *, once: bool, as_json: bool, interval: float, cost_source: str,
                    budget: float | None, profile: str | None = None) -> None:
    if once or as_json or not sys.stdout.isatty():
        snap = take(store, session_id, cost_source, budget, profile)
        if as_json:
            emit_json(snap)
        else:
            click.echo(detail_text(snap))
        if snap["over_budget"]:
            click.secho(f"warning: {session_id} is over the budget of {money(budget)}", err=True, fg="red")
            if once:
                raise SystemExit(OVER_BUDGET_EXIT)
        return
    live(store, session_id, interval, cost_source, budget, profile=profile)


@click.command("monitor", cls=Command, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--session", "session_id", metavar="ID", help="One session: a live dashboard (or a snapshot).")
@click.option("--once", is_flag=True, help="Print one snapshot and exit (exit 3 when over --budget).")
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot(s) as JSON.")
@click.option("--interval", type=click.FloatRange(1, 3600), default=30, show_default=True,
              help="Seconds between refreshes of the live dashboard.")
@click.option("--budget", type=click.FloatRange(0), metavar="USD", help="Warn when the cost so far or the projection passes it.")
@click.option("--cost-source", type=click.Choice(["estimate", "billing"]), default="estimate", show_default=True,
              help="estimate: on-demand price x running hours; billing: Cost Explorer by the session tag (lags a day).")
@session_options
def monitor(session_id, once, as_json, interval, cost_source, budget, state, sandbox, profile) -> None:
    """Status, health, CPU, memory and cost of active sessions; live for one --session (q quits).

    Sessions still launching are brought up to date first. Exit codes: 3 over --budget (with
    --once); 4 when some sessions could not be refreshed (each is listed with the reason; the
    others are shown); 1 when the one --session cannot be."""
    store = open_store(state, sandbox_requested(sandbox), profile)
    if session_id:
        monitor_session(store, session_id, once=once, as_json=as_json, interval=interval, cost_source=cost_source,
                        budget=budget, profile=profile)
        return
    from registry_tools.monitor.observe import refresh_many
    from registry_tools.sessions.model import ACTIVE

    with store_errors():
        rows, problems = store.summaries()
    for problem in problems:
        click.secho(f"warning: {printable(problem)}", err=True, fg="yellow")
    active = [r["id"] for r in rows if r["status"] in ACTIVE and not r["archived"]]
    snaps = refresh_many(store, active, reach(profile), now=command_clock()(), cost_source=cost_source, budget=budget)
    if as_json:
        emit_json(snaps)
    elif not snaps:
        click.echo("No active sessions. Start one with: aws-research-wizard deploy --domain NAME")
    else:
        click.echo(HEADER)
        click.echo("\n".join(summary_line(s) for s in snaps))
    failed = [s for s in snaps if "error" in s]
    if failed:
        click.secho(f"warning: {len(failed)} of {len(snaps)} session{'s' if len(snaps) != 1 else ''} could not be "
                    "refreshed (the reason is on each line)", err=True, fg="yellow")
        raise SystemExit(UNREACHABLE_EXIT)
    if once and any(s["over_budget"] for s in snaps):
        raise SystemExit(OVER_BUDGET_EXIT)


def main() -> None:
    """The standalone ``aws-research-wizard-monitor`` program."""
    from registry_tools.cli.main import CONTEXT

    monitor.context_settings = CONTEXT
    monitor(prog_name="aws-research-wizard-monitor")
