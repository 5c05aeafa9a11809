"""``HttpFetcher``, the ``Fetcher`` (``fetch.interface``) the tool uses: httpx with timeouts, a deadline
and a minimum rate, the one retry policy (``fetch.retry``), and size caps enforced while
downloading (a server cannot make us store more than the cap, nor keep us waiting past the deadline).

``HttpFetcher.download(url, dest, max_bytes)`` writes to a temporary file beside
``dest`` and renames it into place only when the whole body arrived within
the cap and the deadline (the partial file is removed otherwise). ``get`` reads
into memory the same way. ``file://`` URLs and plain paths are read from disk
with the same cap, and only when they name a regular file (never a FIFO, device
or directory). Which URLs a signed index may point at is decided before anything
is fetched (``fetch.urls``). Retries (``FetchSettings.retry``) pause in a wait
that ends at the deadline. One error type: ``FetchError`` (``TooSlow`` when the
deadline or the minimum rate was missed).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from registry_tools.fetch.interface import FetchError, Response, TooSlow
from registry_tools.fetch.retry import DEFAULT_RETRY, RetryPolicy, retry, transport_error_retryable
from registry_tools.limits import LIMITS

__all__ = ["FetchError", "FetchSettings", "HttpFetcher", "Response", "TooSlow", "import_httpx"]


def import_httpx():
    """httpx, without its command-line client: ``import httpx`` also imports ``httpx._main``
    (click, rich, pygments) for a ``main`` we never call. With a placeholder
    module in its place httpx falls back to its stub ``main``, as when those are missing."""
    import sys

    if "httpx" not in sys.modules:
        import types

        sys.modules.setdefault("httpx._main", types.ModuleType("httpx._main"))
    import httpx

    return httpx


def _lazy_transport(httpx, factory):
    """A transport that makes the real one (*factory*) on its first request."""
    base: Any = httpx.BaseTransport  # httpx is imported lazily (see import_httpx)

    class LazyTransport(base):
        def __init__(self):
            self._transport = None

        def handle_request(self, request):
            if self._transport is None:
                self._transport = factory()
            return self._transport.handle_request(request)

        def close(self):
            if self._transport is not None:
                self._transport.close()

    return LazyTransport()


@dataclass(frozen=True)
class FetchSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retry: RetryPolicy = DEFAULT_RETRY  # the tool's one retry policy (tries end at the deadline too)
    deadline: float = LIMITS.download_deadline_seconds  # seconds for the whole download, retries included
    min_rate: float = LIMITS.download_min_bytes_per_second  # bytes/s over every rate_window (0: no minimum)
    rate_window: float = LIMITS.download_rate_window_seconds
    require_https: bool = False  # refuse plain http:// (redirects included) except to loopback hosts


def _local_path(parsed, url: str) -> Path:
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(url)


class _Watchdog:
    """One download's deadline and minimum rate, watched from a thread. When either is missed it
    shuts down the sockets of the download's client, so a read blocked on a silent server, or
    one receiving a byte at a time (each of which would restart the read timeout), returns at
    once; the downloading thread then raises ``TooSlow`` with ``reason``. Sockets are seen as
    connections open (httpcore's ``trace`` request extension), so redirects, proxies and TLS are
    covered; the bytes counted are the body's (``received``), so a server that trickles its
    headers is stalled too."""

    def __init__(self, settings: FetchSettings, sockets: list):
        self.settings = settings
        self.sockets = sockets  # the client's network streams, shared by its downloads
        self.received = 0
        self.reason: str | None = None
        self.fired = threading.Event()
        self._done = threading.Event()
        self.started = time.monotonic()
        threading.Thread(target=self._watch, name="arw-download-watchdog", daemon=True).start()

    def trace(self, event: str, info: dict) -> None:
        if event.endswith((".connect_tcp.complete", ".start_tls.complete")):  # "connection.", "proxy." (tunnels)
            stream = info.get("return_value")
            if stream is not None:
                self.sockets[:] = [s for s in self.sockets if _fileno(s) != -1] + [stream]
                if self.fired.is_set():
                    _shutdown(stream)

    def stop(self) -> None:
        self._done.set()

    def sleep(self, seconds: float) -> None:
        """Wait before a retry; ``TooSlow`` when the deadline passes first."""
        if _wait(self.fired, seconds):
            raise TooSlow(self.reason)

    def _watch(self) -> None:
        s = self.settings
        deadline = self.started + s.deadline
        window_start, window_bytes = self.started, 0
        while True:
            wake = min(deadline, window_start + s.rate_window) if s.min_rate > 0 else deadline
            if _wait(self._done, max(wake - time.monotonic(), 0.0)):
                return
            now, got = time.monotonic(), self.received
            if now >= deadline:
                return self._fire(f"no complete answer within the {s.deadline:g}-second deadline "
                                  f"({got:,} bytes received; download_deadline_seconds in config.yaml)")
            if s.min_rate > 0 and now - window_start >= s.rate_window:
                if got - window_bytes < s.min_rate * (now - window_start):
                    return self._fire(f"stalled: {got - window_bytes:,} bytes in the last {now - window_start:.3g} s, "
                                      f"below the minimum of {s.min_rate:,g} bytes/s "
                                      "(download_min_bytes_per_second in config.yaml)")
                window_start, window_bytes = now, got

    def _fire(self, reason: str) -> None:
        self.reason = reason
        self.fired.set()
        for stream in list(self.sockets):
            _shutdown(stream)


WAIT_STEP_S = 0.05


def _wait(event: threading.Event, seconds: float) -> bool:
    """``event.wait(seconds)`` in short sleeps. A timed wait on a lock hands the kernel an absolute
    CLOCK_MONOTONIC deadline, which libfaketime (how CI moves the clock a year ahead) shifts for
    Python but not for the kernel: the wait would never end; relative sleeps are unaffected."""
    end = time.monotonic() + seconds
    while not event.is_set():
        left = end - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(left, WAIT_STEP_S))
    return True


def _fileno(stream) -> int:
    try:
        return stream.get_extra_info("socket").fileno()
    except (AttributeError, OSError):
        return -1


def _shutdown(stream) -> None:
    """Shut a network stream's socket down (both directions) from another thread: a blocked read returns.
    ``socket.socket.shutdown`` on a TLS socket acts on its file descriptor, not on the TLS session."""
    import socket

    with contextlib.suppress(AttributeError, TypeError, OSError):
        socket.socket.shutdown(stream.get_extra_info("socket"), socket.SHUT_RDWR)


def _refuse_plain_http(url) -> str | None:
    """Why *url* (an ``httpx.URL``) may not be fetched under ``require_https``, or None."""
    from registry_tools.fetch.urls import is_loopback_host

    if url.scheme == "http" and not is_loopback_host(url.host):
        return (f"{url}: plain HTTP to {url.host} refused: require_https is set in config.yaml "
                "(https:// only, except on this machine)")
    return None


class HttpFetcher:
    """A ``Fetcher`` over httpx (and regular local files) under *settings*; *sleep* replaces the
    deadline-bounded pause between retries (tests; the deadline is still checked after it)."""

    def __init__(self, settings: FetchSettings = FetchSettings(), *, sleep: Callable[[float], None] | None = None):
        self.settings = settings
        self._sleep = sleep
        self._client = None
        self._sockets: list = []  # the client's open network streams (what a watchdog shuts down)

    def _http(self):
        if self._client is None:
            from registry_tools import __version__

            httpx = import_httpx()
            timeout = httpx.Timeout(self.settings.read_timeout, connect=self.settings.connect_timeout)
            hooks = {}
            if self.settings.require_https:
                def check(request):
                    refusal = _refuse_plain_http(request.url)
                    if refusal:
                        raise FetchError(refusal)

                hooks = {"request": [check]}  # every request, redirects included
            # Loading the CA bundle for TLS takes time: the HTTPS transport is made on the first
            # https:// request. Plain http:// (a loopback or intranet registry) never uses TLS, so its
            # transport needs no CA bundle; a redirect to https:// goes through the verifying one.
            self._client = httpx.Client(
                timeout=timeout, follow_redirects=True, max_redirects=5, event_hooks=hooks,
                headers={"User-Agent": f"aws-research-wizard/{__version__}"},
                transport=_lazy_transport(httpx, httpx.HTTPTransport),
                mounts={"http://": httpx.HTTPTransport(verify=False)})
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def download(self, url: str, dest: Path, max_bytes: int = LIMITS.max_archive_bytes) -> Path:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                parsed = urlparse(url)
                if parsed.scheme in ("http", "https"):
                    self._download_http(url, out, max_bytes)
                elif parsed.scheme in ("", "file"):
                    self._copy_local(_local_path(parsed, url), out, max_bytes)
                else:
                    raise FetchError(f"{url}: unsupported URL scheme {parsed.scheme!r}")
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest

    def get(self, url: str, max_bytes: int, *, etag: str | None = None, last_modified: str | None = None) -> Response:
        """GET into memory under a cap; conditional when *etag* / *last_modified* are given (304 -> empty)."""
        import io

        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https"):
            if parsed.scheme not in ("", "file"):
                raise FetchError(f"{url}: unsupported URL scheme {parsed.scheme!r}")
            buffer = io.BytesIO()
            self._copy_local(_local_path(parsed, url), buffer, max_bytes)
            return Response(200, buffer.getvalue(), None, None)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        buffer = io.BytesIO()
        status, response_headers = self._download_http(url, buffer, max_bytes, headers=headers, accept=(200, 304))
        return Response(status, buffer.getvalue() if status == 200 else b"",
                        response_headers.get("ETag"), response_headers.get("Last-Modified"))

    def _copy_local(self, path: Path, out, max_bytes: int) -> None:
        """Copy a local regular file. Anything else (a FIFO, whose open or read would wait for a writer
        forever; a device; a directory) is refused before it is opened; opened without blocking, the
        file must still be the regular file that was checked."""
        try:
            before = os.stat(path)
            if not stat.S_ISREG(before.st_mode):
                raise FetchError(f"{path} is not a regular file; refusing to read it")
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        except OSError as exc:
            raise FetchError(f"{path}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as src:
            now = os.fstat(src.fileno())
            if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
                raise FetchError(f"{path} changed while it was opened; refusing to read it")
            try:
                data = src.read(max_bytes + 1)
            except OSError as exc:
                raise FetchError(f"{path}: {exc.strerror}") from None
        if len(data) > max_bytes:
            raise FetchError(f"{path} is larger than the {max_bytes}-byte limit")
        out.write(data)

    def _download_http(self, url: str, out, max_bytes: int, *, headers: dict | None = None,
                       accept: tuple[int, ...] = (200,)):
        httpx = import_httpx()
        if self.settings.require_https:
            refusal = _refuse_plain_http(httpx.URL(url))
            if refusal:
                raise FetchError(refusal)
        watchdog = _Watchdog(self.settings, self._sockets)
        try:
            return self._attempts(watchdog, url, out, max_bytes, headers or {}, accept)
        except httpx.HTTPError as exc:
            if watchdog.reason:  # the watchdog shut the sockets down: it says why
                raise TooSlow(f"{url}: {watchdog.reason}") from None
            if transport_error_retryable(exc, idempotent=True):
                raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
            raise FetchError(f"{url}: {exc}") from None
        except TooSlow as exc:
            raise TooSlow(f"{url}: {exc}") from None
        finally:
            watchdog.stop()

    def _attempts(self, watchdog: _Watchdog, url: str, out, max_bytes: int, headers: dict,
                  accept: tuple[int, ...]):
        """(status, headers) of the accepted answer, its body in *out*; tried again under the retry
        policy (an answer in ``retry.statuses``; a failed connection, read timeout or broken answer:
        a GET is idempotent) until the tries or the deadline run out."""

        def attempt():
            with self._http().stream("GET", url, headers=headers, extensions={"trace": watchdog.trace}) as response:
                if response.status_code not in accept or response.status_code != 200:
                    return response.status_code, response.headers  # retried, refused or not modified
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise FetchError(f"{url} is {declared} bytes; the limit is {max_bytes}")
                out.seek(0)
                out.truncate()
                received = 0
                for chunk in response.iter_bytes():  # as the bytes arrive (decoded)
                    received += len(chunk)
                    watchdog.received += len(chunk)
                    if received > max_bytes:
                        raise FetchError(f"{url} is larger than the {max_bytes}-byte limit (stopped while downloading)")
                    out.write(chunk)
                if watchdog.fired.is_set():  # a body that ends at the connection's close may have been cut short
                    raise TooSlow(watchdog.reason)
                return response.status_code, response.headers

        def pause(seconds: float) -> None:
            if self._sleep is None:
                watchdog.sleep(seconds)  # ends early, with TooSlow, at the deadline
            else:
                self._sleep(seconds)
            if watchdog.fired.is_set():
                raise TooSlow(watchdog.reason)

        status, response_headers = retry(
            self.settings.retry, attempt, status=lambda answer: answer[0], sleep=pause,
            retryable=lambda exc: not watchdog.fired.is_set() and transport_error_retryable(exc, idempotent=True))
        if status not in accept:
            raise FetchError(f"{url}: HTTP {status}")
        return status, response_headers
