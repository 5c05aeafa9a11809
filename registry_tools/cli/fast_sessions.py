"""``sessions list`` answered from ``active_sessions.json`` before click is imported.

``entry.main`` hands ``sessions list`` (and ``deploy sessions list``) arguments to
``run``. With plain arguments (``--all``, ``--json``, ``--sandbox``), local session
storage and a registry whose rows are all current (``registry_file.current_rows``),
``run`` prints the listing and returns True; otherwise False and the click command
runs (it rebuilds stale rows and reports unreadable sessions). Both print through
``render``; tests/test_sessions_cli.py checks they agree.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

SANDBOX_LABEL = "SANDBOX"
STATE_ENV = "ARW_SESSION_STATE"
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


def render(rows: list[dict], show_all: bool, as_json: bool, now: datetime) -> str:
    """The output of `sessions list` for *rows* (newest first); ages as of *now*."""
    from registry_tools.sessions.registry_file import ACTIVE

    if not show_all:
        rows = [r for r in rows if r.get("status") in ACTIVE and not r.get("archived")]
    if as_json:
        import json

        return json.dumps(rows, indent=2, default=str)
    if not rows:
        return EMPTY.format(hint="" if show_all else " (--all shows finished and archived ones)")
    lines = [f"{'ID':<34} {'STATUS':<10} {'PACK':<40} {'SIZE (INSTANCE)':<28} {'AGE':>5} {'COST':>9}"]
    for r in rows:
        pack = f"{r.get('domain')} {r.get('pack_version')} - {r.get('title')}"
        pack = pack if len(pack) <= 40 else pack[:39] + "…"
        size = f"{r.get('size')} ({r.get('instance_type')})"
        cost = r.get("cost_so_far_usd")
        cost = "-" if not isinstance(cost, int | float) else f"${cost:,.2f}"
        status = f"{r.get('status')}{'*' if r.get('archived') else ''}"
        label = f" [{SANDBOX_LABEL}]" if r.get("sandbox") else ""
        lines.append(f"{r.get('id', ''):<34} {status:<10} {pack:<40} {size:<28} {age(r.get('launch_time', ''), now):>5} "
                     f"{cost:>9}{label}")
    return "\n".join(lines)


def parse(args: list[str]) -> tuple[bool, bool] | None:
    """(show_all, as_json) for plain arguments, else None."""
    if not set(args) <= {"--all", "--json", "--sandbox"}:
        return None
    return "--all" in args, "--json" in args


def run(args: list[str]) -> bool:
    parsed = parse(args)
    if parsed is None or os.environ.get(STATE_ENV):
        return False
    from registry_tools import clock
    from registry_tools.home import config_text, state_dir_name
    from registry_tools.sessions import registry_file

    try:
        if "session_state" in (config_text() or ""):  # maybe S3 session storage: the full command decides
            return False
    except OSError:
        return False
    rows = registry_file.current_rows(os.path.join(state_dir_name(), "sessions"))
    if rows is None:
        return False
    sys.stdout.write(render(rows, *parsed, now=clock.now()) + "\n")
    return True
