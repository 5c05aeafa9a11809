"""Download files over HTTP(S) with httpx: timeouts, a small bounded retry, and size caps
enforced while downloading (a server cannot make us store more than the cap).

``Fetcher.download(url, dest, max_bytes)`` writes to a temporary file beside
``dest`` and renames it into place only when the whole body arrived within
the cap. ``file://`` URLs and plain paths are read from disk with the same
cap. One error type: ``FetchError``.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

from registry_tools.config import LIMITS

RETRY_STATUSES = {502, 503, 504}


def import_httpx():
    """httpx, without its command-line client: ``import httpx`` also imports ``httpx._main``
    (click, rich, pygments), ~0.1 s here, for a ``main`` we never call. With a placeholder
    module in its place httpx falls back to its stub ``main``, as when those are missing."""
    import sys

    if "httpx" not in sys.modules:
        import types

        sys.modules.setdefault("httpx._main", types.ModuleType("httpx._main"))
    import httpx

    return httpx


def _lazy_transport(httpx, factory):
    """A transport that makes the real one (*factory*) on its first request."""

    class LazyTransport(httpx.BaseTransport):
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


class FetchError(Exception):
    """A download failed, was refused, or exceeded its size cap."""


@dataclass(frozen=True)
class FetchSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 2
    backoff: float = 0.5


def join_url(base: str, relative: str) -> str:
    """Resolve *relative* against the URL (or directory path) of the index."""
    if "://" in relative or relative.startswith("/"):
        return relative
    if "://" not in base:
        return str(Path(base).parent / relative)
    return urljoin(base, relative)


@dataclass(frozen=True)
class Response:
    status: int
    content: bytes
    etag: str | None
    last_modified: str | None


def _local_path(parsed, url: str) -> Path:
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(url)


class Fetcher:
    def __init__(self, settings: FetchSettings = FetchSettings()):
        self.settings = settings
        self._client = None

    def _http(self):
        if self._client is None:
            from registry_tools import __version__

            httpx = import_httpx()
            timeout = httpx.Timeout(self.settings.read_timeout, connect=self.settings.connect_timeout)
            # Loading the CA bundle for TLS takes ~0.1 s: the HTTPS transport is made on the first
            # https:// request. Plain http:// (a loopback or intranet registry) never uses TLS, so its
            # transport needs no CA bundle; a redirect to https:// goes through the verifying one.
            self._client = httpx.Client(
                timeout=timeout, follow_redirects=True, max_redirects=5,
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
        try:
            with open(path, "rb") as src:
                data = src.read(max_bytes + 1)
        except OSError as exc:
            raise FetchError(f"{path}: {exc.strerror}") from None
        if len(data) > max_bytes:
            raise FetchError(f"{path} is larger than the {max_bytes}-byte limit")
        out.write(data)

    def _download_http(self, url: str, out, max_bytes: int, *, headers: dict | None = None,
                       accept: tuple[int, ...] = (200,)):
        httpx = import_httpx()
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._http().stream("GET", url, headers=headers or {}) as response:
                    if response.status_code in RETRY_STATUSES and attempt <= self.settings.retries:
                        time.sleep(self.settings.backoff * attempt)
                        continue
                    if response.status_code not in accept:
                        raise FetchError(f"{url}: HTTP {response.status_code}")
                    if response.status_code != 200:
                        return response.status_code, response.headers
                    declared = response.headers.get("Content-Length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise FetchError(f"{url} is {declared} bytes; the limit is {max_bytes}")
                    out.seek(0)
                    out.truncate()
                    received = 0
                    for chunk in response.iter_bytes(64 * 1024):
                        received += len(chunk)
                        if received > max_bytes:
                            raise FetchError(f"{url} is larger than the {max_bytes}-byte limit (stopped while downloading)")
                        out.write(chunk)
                    return response.status_code, response.headers
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.RemoteProtocolError) as exc:
                if attempt <= self.settings.retries:
                    time.sleep(self.settings.backoff * attempt)
                    continue
                raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
            except httpx.HTTPError as exc:
                raise FetchError(f"{url}: {exc}") from None
