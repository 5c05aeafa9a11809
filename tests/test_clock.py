"""The time rules every decision shares (registry_tools.clock): the reference time, expiry, freshness."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from registry_tools import clock

T = datetime(2027, 6, 1, 12, tzinfo=UTC)


def test_the_reference_time_is_arw_now_or_the_system_clock(monkeypatch):
    monkeypatch.setenv("ARW_NOW", "2027-06-01T12:00:00Z")
    assert clock.now() == T
    monkeypatch.setenv("ARW_NOW", " 2027-06-01 ")
    assert clock.now() == datetime(2027, 6, 1, tzinfo=UTC)
    monkeypatch.delenv("ARW_NOW")
    before = clock.system_now()
    assert before <= clock.now() <= clock.system_now() and clock.now().microsecond == 0


@pytest.mark.parametrize("text", ["tomorrow", "2027-06-01T12:00:00", "2027-06-01T12:00:00+02:00", "2027-13-01",
                                  "9999-12-31", "0001-01-01T00:00:00Z"])
def test_a_reference_time_that_is_not_a_plausible_utc_time_is_refused(monkeypatch, text):
    monkeypatch.setenv("ARW_NOW", text)
    with pytest.raises(clock.ClockError, match=re.escape(f"ARW_NOW={text!r} is not a UTC time; use e.g.")):
        clock.now()


def test_expiry_includes_the_instant_itself():
    assert not clock.is_expired(T, T)
    assert clock.is_expired(T, T + timedelta(seconds=1))


def test_fresh_means_younger_than_the_window_and_not_from_the_future():
    window = timedelta(hours=24)
    assert clock.is_fresh(T, T, window)
    assert clock.is_fresh(T, T + window - timedelta(seconds=1), window)
    assert not clock.is_fresh(T, T + window, window)
    assert not clock.is_fresh(T, T - timedelta(seconds=1), window)  # written by a later clock: never trusted as fresh
