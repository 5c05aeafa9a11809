"""Shared CLI plumbing: consoles, JSON output and user-facing errors.

rich is imported on first use so that ``--help`` stays instant.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from registry_tools.errors import ArwError


class UserError(ArwError, click.ClickException):
    """A problem the user can fix, found by the CLI itself; printed without a traceback, exit code 1."""

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code

    @classmethod
    def of(cls, exc: ArwError) -> UserError:
        """The click form of any ``ArwError``: same message, hint and exit code."""
        return cls(str(exc), hint=exc.hint, exit_code=exc.exit_code)

    def show(self, file=None) -> None:
        """``Error: ...`` and the hint on stderr, as the fast paths print it (``report.show``)."""
        from registry_tools.cli import report

        report.show(self, file)


class _ArwErrors:
    """Every ``ArwError`` raised by a command becomes a ``UserError`` (click prints it; no traceback)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)  # type: ignore[misc]
        except ArwError as exc:
            if isinstance(exc, click.ClickException):
                raise
            raise UserError.of(exc) from None


class Command(_ArwErrors, click.Command):
    """A command that may raise any ``ArwError``."""


class Group(_ArwErrors, click.Group):
    """A command group whose commands (and subgroups) may raise any ``ArwError``."""

    command_class = Command
    group_class = type


def command_now():
    """The command's reference time (``clock.now()``: ``$ARW_NOW`` or the system clock), read once
    per command so every decision in it agrees; a malformed ``$ARW_NOW`` is a user error."""
    from registry_tools import clock

    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx is not None else {}
    if "arw.now" not in meta:
        try:
            meta["arw.now"] = clock.now()
        except clock.ClockError as exc:
            raise click.UsageError(str(exc)) from None
    return meta["arw.now"]


def command_clock():
    """The command's clock for work that waits (following a stack, refreshing the monitor):
    ``clock.now``, with ``$ARW_NOW`` checked first."""
    from registry_tools import clock

    command_now()
    return clock.now


def profile_option(fn):
    """``--profile NAME`` for commands that talk to AWS (None: AWS_PROFILE, else the default credentials)."""
    return click.option("--profile", metavar="NAME",
                        help="AWS profile (default: AWS_PROFILE, else the default credentials).")(fn)


def console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 140  # pipes and CI logs get a readable width, not 80 columns
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def echo_err(message: str) -> None:
    click.echo(message, err=True)


def is_tty() -> bool:
    return sys.stdout.isatty()
