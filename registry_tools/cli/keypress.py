"""Waiting that listens for ``q``: while a deploy or the monitor waits between polls, a
``q`` on an interactive terminal raises ``Detached`` (the work goes on; resume later).
Without a terminal (pipes, CI) it simply sleeps."""

from __future__ import annotations

import os
import sys
import time

from registry_tools.sessions.lifecycle import Detached


class QuitKey:
    def __init__(self, stream=None):
        self.stream = stream or sys.stdin
        self._saved = None

    def __enter__(self) -> QuitKey:
        try:
            interactive = self.stream.isatty()
        except (AttributeError, ValueError):
            interactive = False
        if interactive:
            import termios
            import tty

            self._fd = self.stream.fileno()
            self._saved = termios.tcgetattr(self._fd)
            tty.setcbreak(self._fd)
        return self

    def __exit__(self, *exc) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def wait(self, seconds: float) -> None:
        """Sleep *seconds*; raise ``Detached`` as soon as ``q`` is pressed."""
        if self._saved is None:
            time.sleep(seconds)
            return
        import select

        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self._fd], [], [], left)
            if ready and os.read(self._fd, 1) in (b"q", b"Q"):
                raise Detached()
