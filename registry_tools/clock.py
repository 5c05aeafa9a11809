"""What time it is, for every decision that depends on it.

Index expiry and freshness, cache ages, install receipts, session timestamps
and ages, monitor samples and billing windows all take the time as an
argument: ``now`` (one moment, like python-tuf's ``reference_time``) for a
decision, or a ``Clock`` (a function returning the time) for work that waits,
such as following a stack or refreshing the monitor. Nothing below the CLI
reads the system clock by itself.

The two rules every such decision uses live here too: ``is_expired`` and
``is_fresh`` (a cache written "in the future", e.g. by a command run with a
later ``$ARW_NOW``, is never fresh).

The CLI takes its time from ``now()``: the system clock, or ``$ARW_NOW``
(``2027-06-01T00:00:00Z``) when set, which answers "what would this command do
at that time" for scripts, reproducible runs and tests. Durations (timeouts,
polling) use ``time.monotonic`` and are not affected.

Only ``os`` and ``datetime`` are imported: the fast paths of the CLI read the time too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from registry_tools.errors import ArwError

NOW_ENV = "ARW_NOW"
YEARS = (1970, 9000)  # a reference time outside these is a typo, and would overflow date arithmetic

Clock = Callable[[], datetime]


class ClockError(ArwError, ValueError):
    """``$ARW_NOW`` is set but is not a UTC time."""


def system_now() -> datetime:
    """The system clock in UTC, to the second (the precision every stored time has)."""
    return datetime.now(UTC).replace(microsecond=0)


def now() -> datetime:
    """The command's reference time: ``$ARW_NOW`` when set, else the system clock."""
    text = os.environ.get(NOW_ENV)
    return system_now() if not text else parse_reference_time(text)


def parse_reference_time(text: str) -> datetime:
    """``2027-06-01T00:00:00Z`` (or ``2027-06-01``) as an aware UTC datetime; ``ClockError`` otherwise."""
    from registry_tools.timefmt import parse_utc_or_date

    try:
        moment = parse_utc_or_date(text)
    except ValueError:
        moment = None
    if moment is None or not YEARS[0] <= moment.year <= YEARS[1]:
        raise ClockError(f"{NOW_ENV}={text!r} is not a UTC time; use e.g. {NOW_ENV}=2027-06-01T00:00:00Z "
                         f"or unset it to use the system clock")
    return moment


def is_expired(expires: datetime, now: datetime) -> bool:
    """Whether something valid until *expires* is expired at *now* (valid through the instant itself)."""
    return now > expires


def is_fresh(since: datetime, now: datetime, window: timedelta) -> bool:
    """Whether something made at *since* is still fresh at *now*: younger than *window*, and not from
    the future (a clock that went back, or a run with a later ``$ARW_NOW``)."""
    return timedelta(0) <= now - since < window

