"""``sessions list`` answered from ``active_sessions.json`` before click is imported.

``entry.main`` hands ``sessions list`` (and ``deploy sessions list``) arguments to
``run``. With plain arguments (what ``options.parse(options.SESSIONS_LIST, ...)`` takes:
``--all``, ``--json``, ``--sandbox``), local session
storage and a registry whose rows are all current (``registry_file.current_rows``),
``run`` prints the listing and returns True; otherwise False and the click command
runs (it rebuilds stale rows and reports unreadable sessions). A session to show that is
still ``launching`` may be out of date (its stack may have finished since): ``run`` never
calls AWS, so it leaves those listings to the click command, which reconciles them first. Both print through
``render``, which escapes control characters (``textsafe.printable``: a session holds its
pack's title); tests/test_sessions_cli.py checks they agree.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

from registry_tools.cli import options
from registry_tools.textsafe import printable

SANDBOX_LABEL = "SANDBOX"
EMPTY = "No sessions{hint}. Start one with: aws-research-wizard deploy --domain NAME"


def age(since: str, now: datetime) -> str:
    try:
        seconds = (now - datetime.fromisoformat(since.replace("Z", "+00:00"))).total_seconds()
    except (ValueError, AttributeError):
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(int(seconds), 0)}s"


GENERATED_SESSION = "botocore-session-"  # the role session name botocore makes up per process


def identity(arn: str | None) -> str | None:
    """Who an STS caller ARN is, the same across logins: an assumed role's session name is dropped
    when botocore generated it (``.../assumed-role/Lab/botocore-session-1700000000`` -> ``.../Lab``)."""
    if not arn:
        return None
    head, _, session_name = arn.rpartition("/")
    if ":assumed-role/" in arn and session_name.startswith(GENERATED_SESSION) and session_name[17:].isdigit():
        return head
    return arn


def principal(arn: str | None) -> str:
    """Who an STS caller ARN is, short: ``arn:aws:sts::1:assumed-role/Admin/alice`` -> ``alice``."""
    who = identity(arn)
    return (who.rsplit("/", 1)[-1] or who) if who else "-"


def render(rows: list[dict], show_all: bool, as_json: bool, now: datetime) -> str:
    """The output of `sessions list` for *rows* (newest first); ages as of *now*."""
    from registry_tools.sessions.status import ACTIVE

    if not show_all:
        rows = [r for r in rows if r.get("status") in ACTIVE and not r.get("archived")]
    if as_json:
        import json

        return json.dumps(rows, indent=2, default=str)
    if not rows:
        return EMPTY.format(hint="" if show_all else " (--all shows finished and archived ones)")
    lines = [f"{'ID':<34} {'STATUS':<10} {'PACK':<36} {'SIZE (INSTANCE)':<28} {'BY':<12} {'AGE':>5} {'COST':>9}"]
    for r in rows:
        pack = printable(f"{r.get('domain')} {r.get('pack_version')} - {r.get('title')}")  # the pack's own text
        pack = pack if len(pack) <= 36 else pack[:35] + "…"
        by = printable(principal(r.get("launched_by")))
        by = by if len(by) <= 12 else by[:11] + "…"
        size = f"{r.get('size')} ({r.get('instance_type')})"
        cost = r.get("cost_so_far_usd")
        cost = "-" if not isinstance(cost, int | float) else f"${cost:,.2f}"
        status = f"{r.get('status')}{'*' if r.get('archived') else ''}"
        label = f" [{SANDBOX_LABEL}]" if r.get("sandbox") else ""
        lines.append(printable(f"{r.get('id', ''):<34} {status:<10} {pack:<36} {size:<28} {by:<12} "
                               f"{age(r.get('launch_time', ''), now):>5} {cost:>9}{label}"))
    return "\n".join(lines)


def launching(rows: list[dict], show_all: bool) -> list[str]:
    """Ids of the rows to show that are still launching: their stacks may have finished since, so the
    click command brings them up to date with AWS (as `sessions resume` does) before listing."""
    return [str(r.get("id")) for r in rows if r.get("status") == "launching" and (show_all or not r.get("archived"))]


def run(args: list[str]) -> bool:
    """Answer `sessions list ARGS` from the session registry; False when the click command must."""
    values = options.parse(options.SESSIONS_LIST, args)
    if values is None or os.environ.get(options.STATE_ENV):
        return False
    from registry_tools import clock
    from registry_tools.paths import config_text, state_dir_name
    from registry_tools.sessions import registry_file

    try:
        if "session_state" in (config_text() or ""):  # maybe S3 session storage: the full command decides
            return False
    except OSError:
        return False
    rows = registry_file.current_rows(os.path.join(state_dir_name(), "sessions"))
    if rows is None or launching(rows, values["show_all"]):  # launching: may be stale, only click asks AWS
        return False
    sys.stdout.write(render(rows, values["show_all"], values["as_json"], now=clock.now()) + "\n")
    return True
