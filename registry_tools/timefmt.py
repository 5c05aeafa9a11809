"""UTC timestamps as the index, receipts and sessions write them: ``2026-06-28T16:47:00Z``.

``parse_utc`` avoids ``datetime.strptime``, whose first call imports ``_strptime``
(and locale, calendar): start-up work every command that reads a time would pay for.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_UTC_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def parse_utc(text: str) -> datetime:
    """*text* (exactly ``YYYY-MM-DDTHH:MM:SSZ``) as an aware UTC datetime; ``ValueError`` otherwise."""
    if not isinstance(text, str) or not _UTC_RE.fullmatch(text):
        raise ValueError(f"time data {text!r} does not match format {UTC_FORMAT!r}")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


def parse_utc_or_date(text: str) -> datetime:
    """``parse_utc``, also taking a plain date (``2027-01-31``: midnight UTC) as people type it."""
    value = text.strip() if isinstance(text, str) else text
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", value):
        value += "T00:00:00Z"
    return parse_utc(value)


def format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(UTC_FORMAT)


def describe_age(delta: timedelta) -> str:
    """A duration as people say it: ``36.0 hours``, ``3.5 days``."""
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"
