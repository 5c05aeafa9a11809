"""One retry policy for every HTTP request the tool makes: downloads (index, signatures, archives,
dist copies) and the GitHub publisher's API calls.

``retry(policy, attempt, ...)`` calls *attempt* until it gives an answer whose status is not
one of ``policy.statuses`` (502, 503, 504) or raises an error the caller calls retryable, at most
``policy.attempts`` times in all, pausing ``first_delay``, then ``first_delay * factor``, ...
between tries; the last answer is returned (or the last error raised) when the tries run out.
The pause is ``sleep(seconds)``: ``time.sleep`` by default, a deadline-bounded wait in
``HttpFetcher``, a recorder in tests. What may be retried is the caller's call:
``transport_error_retryable`` retries connection failures (nothing was sent) for any request, and
read timeouts or broken answers only for idempotent ones, so a POST whose body may have taken
effect is never sent twice on a network error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

RETRY_STATUSES = frozenset({502, 503, 504})
MAX_EXPONENT = 60  # pauses stop growing after this many retries (a float would overflow long before a deadline)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is tried again (the deadline and minimum rate of a
    download are ``limits.Limits``'; they bound the retries too)."""

    statuses: frozenset[int] = RETRY_STATUSES  # answers worth another try: the server or a proxy is overloaded
    attempts: int = 3  # tries in all, the first included
    first_delay: float = 0.5  # seconds before the first retry
    factor: float = 2.0  # each further pause is this many times the previous one

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"a retry policy needs at least one attempt, got {self.attempts}")
        if self.first_delay < 0 or self.factor < 0:
            raise ValueError(f"retry delays cannot be negative (first_delay {self.first_delay}, factor {self.factor})")

    def delay(self, retry: int) -> float:
        """Seconds to wait before the *retry*-th retry (1 for the first)."""
        return self.first_delay * self.factor ** min(retry - 1, MAX_EXPONENT)


DEFAULT_RETRY = RetryPolicy()


def retry(policy: RetryPolicy, attempt: Callable[[], T], *, status: Callable[[T], int | None] = lambda answer: None,
          retryable: Callable[[BaseException], bool] = lambda exc: False,
          discard: Callable[[T], None] = lambda answer: None, sleep: Callable[[float], None] = time.sleep,
          on_retry: Callable[[str], None] = lambda reason: None) -> T:
    """*attempt*'s answer, tried again under *policy*: while ``status(answer)`` is in ``policy.statuses``
    (the answer is ``discard``ed first) or the error it raised is ``retryable``; *on_retry* hears why
    ("503", "ConnectError") before each pause."""
    for number in range(1, policy.attempts + 1):
        last = number == policy.attempts
        try:
            answer = attempt()
        except Exception as exc:
            if last or not retryable(exc):
                raise
            reason = type(exc).__name__
        else:
            code = status(answer)
            if last or code not in policy.statuses:
                return answer
            discard(answer)
            reason = str(code)
        on_retry(reason)
        sleep(policy.delay(number))
    raise AssertionError("unreachable: the last attempt returns or raises")


def transport_error_retryable(exc: BaseException, *, idempotent: bool) -> bool:
    """Whether an httpx error is worth another try: a failed connection always (no byte of the
    request left), a read timeout or a broken answer only when repeating the request is harmless."""
    import sys

    httpx = sys.modules.get("httpx")  # an httpx error means httpx is loaded; never import it here
    if httpx is None:
        return False
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return True
    return idempotent and isinstance(exc, (httpx.ReadTimeout, httpx.RemoteProtocolError))

