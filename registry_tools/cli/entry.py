"""Console-script entry points. Answer ``--help`` and ``--version`` for the root command
without importing click (the slowest part of starting the CLI), ``config search``
from its snapshot when that is current (``fast_search``), plain ``config install``
(``fast_install``) and ``sessions list`` from the session registry when it is
current (``fast_sessions``); otherwise hand over to the click application in ``main``.
The fast paths read their arguments from the description the click commands are built
from (``options``) and print errors through ``report``, as click does;
``tests/test_fast_path_parity.py`` runs the same arguments through both and compares.
"""

from __future__ import annotations

import sys

HELP_FLAGS = ("--help", "-h")
VERSION_FLAGS = ("--version", "-V")
# command path -> the module whose ``run(ARGS)`` answers it without click when it can (False: click must)
FAST_PATHS = {("config", "search"): "fast_search", ("config", "install"): "fast_install",
              ("sessions", "list"): "fast_sessions", ("deploy", "sessions", "list"): "fast_sessions"}


def _check_reference_time() -> None:
    """A malformed ``$ARW_NOW`` (``registry_tools.clock``) stops every command before it starts, as a usage error."""
    import os

    if os.environ.get("ARW_NOW"):
        from registry_tools import clock

        try:
            clock.now()
        except clock.ClockError as exc:  # a usage error, as click reports it (exit code 2)
            from registry_tools.cli import report

            report.show(exc)
            sys.exit(2)


def _fast_path(args: list[str]) -> bool:
    """Whether a fast path answered *args* (the command path and its arguments)."""
    _check_reference_time()
    for path, module in FAST_PATHS.items():
        if tuple(args[:len(path)]) == path:
            from importlib import import_module

            return import_module(f"registry_tools.cli.{module}").run(args[len(path):])
    return False


def _wrap(text: str, width: int, indent: str) -> list[str]:
    import textwrap

    lines: list[str] = []
    for paragraph in text.split("\n\n"):
        if lines:
            lines.append("")
        lines.extend(textwrap.wrap(" ".join(paragraph.split()), width, initial_indent=indent,
                                   subsequent_indent=indent, replace_whitespace=False) or [""])
    return lines


def _dl(rows, width: int, indent: int = 2, col_max: int = 30, spacing: int = 2) -> list[str]:
    import textwrap

    first_col = min(max(len(name) for name, _ in rows), col_max) + spacing
    out = []
    text_width = max(width - first_col - 2, 10)
    for name, help_text in rows:
        wrapped = textwrap.wrap(help_text, text_width, replace_whitespace=False)
        if len(name) <= first_col - spacing:
            head = " " * indent + name + " " * (first_col - len(name))
            out.append(head + wrapped[0])
        else:
            out.append(" " * indent + name)
            out.append(" " * (first_col + indent) + wrapped[0])
        out.extend(" " * (first_col + indent) + line for line in wrapped[1:])
    return out


USAGE = "Usage: {prog} [OPTIONS] COMMAND [ARGS]..."


def render_root_help(columns: int | None = None) -> str | None:
    """Click's root help text, or None when the terminal is too narrow for the usage line
    to stay on one line (then click renders it)."""
    import shutil

    from registry_tools.cli.help_text import GROUPS, MAX_WIDTH, PROG, ROOT_HELP, ROOT_OPTIONS

    cols = columns if columns is not None else shutil.get_terminal_size().columns
    width = max(min(cols, MAX_WIDTH) - 2, 50)
    usage = USAGE.format(prog=PROG)
    if len(usage) >= width:
        return None
    lines = [usage, ""]
    lines += _wrap(ROOT_HELP, width, "  ")
    lines += ["", "Options:"] + _dl(ROOT_OPTIONS, width)
    lines += ["", "Commands:"] + _dl([(name, GROUPS[name][2]) for name in sorted(GROUPS)], width)
    return "\n".join(lines) + "\n"


def main() -> None:
    args = sys.argv[1:]
    if len(args) == 1 and args[0] in HELP_FLAGS:
        text = render_root_help()
        if text is not None:
            sys.stdout.write(text)
            return
    if len(args) == 1 and args[0] in VERSION_FLAGS:
        from registry_tools import __version__
        from registry_tools.cli.help_text import PROG

        sys.stdout.write(f"{PROG}, version {__version__}\n")
        return
    if _fast_path(args):
        return
    from registry_tools.cli.main import main as click_main

    click_main()


def config_main() -> None:
    if _fast_path(["config", *sys.argv[1:]]):
        return
    from registry_tools.cli.main import config_main as click_config_main

    click_config_main()


def deploy_main() -> None:
    if _fast_path(["deploy", *sys.argv[1:]]):
        return
    from registry_tools.cli.deploy_cmd import main as click_deploy_main

    click_deploy_main()


def monitor_main() -> None:
    _check_reference_time()
    from registry_tools.cli.monitor_cmd import main as click_monitor_main

    click_monitor_main()
