"""The root of every error a user can act on.

Each seam raises its own subclass of ``ArwError`` (``PackError``, ``FetchError``, ``AwsError``, ...):
a message that says what is wrong, with the offending value, and optionally a ``hint`` saying what to
do next. The CLI turns any ``ArwError`` into output in one place (``cli/report.py``: ``Error: ...``
on stderr, the hint below it, exit code 1), for click commands and the fast paths alike; anything
else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class ArwError(Exception):
    """An error the user can do something about. ``str(exc)`` is the message; ``hint`` what to do."""

    hint: str | None = None
    exit_code: int = 1  # per error class, as click's ClickException has it

    def __init__(self, *args: object, hint: str | None = None) -> None:
        super().__init__(*args)
        if hint is not None:
            self.hint = hint

    def diagnostics(self) -> str:
        """The message, and the hint on its own line when there is one."""
        message = str(self)
        return f"{message}\n  hint: {self.hint}" if self.hint else message
