"""Errors and notices on the terminal, the same for click commands and the fast paths.

``fail(exc)`` is where an ``ArwError`` becomes output: ``Error: <message>`` on stderr, the hint on
the line below (``exc.diagnostics()``), exit code ``exc.exit_code``. The fast paths call it
directly; click commands reach it through ``output.UserError.show`` (``error_text`` there).
``say`` prints one message, its control characters escaped (``textsafe.printable_lines``: errors
and notices may quote a registry's index), in colour only on a terminal and when ``NO_COLOR`` is
unset. No click here: the fast paths run without it.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing is not imported on the fast paths
if TYPE_CHECKING:
    from typing import NoReturn

RED, YELLOW = "31", "33"


def say(stream, text: str, color: str | None = None) -> None:
    """*text* and a line break on *stream*; ANSI *color* (an SGR code such as ``RED``) on a terminal."""
    from registry_tools.textsafe import printable_lines

    text = printable_lines(text)
    tty = color is not None and stream.isatty() and "NO_COLOR" not in os.environ
    stream.write(f"\x1b[{color}m{text}\x1b[0m\n" if tty else text + "\n")
    stream.flush()


def notifier(quiet: bool):
    """Registry notices (``index_store``'s *notify*) on stderr; with *quiet* (JSON output) only those
    ``ALWAYS_SHOWN`` (failed registries, insecure packs)."""
    from registry_tools.client.index_store import ALWAYS_SHOWN, NOTICE_PREFIX

    def notify(level: str, text: str) -> None:
        if not quiet or level in ALWAYS_SHOWN:
            say(sys.stderr, f"{NOTICE_PREFIX[level]}: {text}", YELLOW)

    return notify


def error_text(exc) -> str:
    """What the user is told about the ``ArwError`` *exc*."""
    return f"Error: {exc.diagnostics()}"


def show(exc, stream=None) -> None:
    """Print the ``ArwError`` *exc* on *stream* (stderr)."""
    say(stream if stream is not None else sys.stderr, error_text(exc), RED)


def fail(exc) -> NoReturn:
    """Print the ``ArwError`` *exc* and exit with its exit code."""
    show(exc)
    sys.exit(exc.exit_code)
