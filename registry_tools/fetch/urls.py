"""Where a signed index may send the client: the one decision about the URLs a release names.

An index is signed, but a signature says who wrote it, not that what it points at is safe to
open. ``release_url(index_url, value)`` resolves a release's ``download_url`` or
``signature_url`` against the index it came from, or raises ``FetchError``:

- an index fetched over ``https://`` or ``http://`` may name only ``https://`` / ``http://`` URLs
  and relative references, which resolve against the index's URL (``/etc/passwd`` is the
  server's ``/etc/passwd``; ``file:``, ``ftp:``, ``data:`` ... are refused): its archives are
  never local files;
- an index in a local directory (a path or ``file://``) may also name files in that directory,
  by relative paths that stay inside it (no absolute paths, no ``..``, no ``file:`` URLs).

``HttpFetcher`` itself reads only regular files, so a path that does get through is still never a
FIFO, device or directory. ``is_loopback_host`` and ``plain_http_outside_loopback`` say which
``http://`` locations deserve a warning (or, with ``require_https``, a refusal).
"""

from __future__ import annotations

import posixpath
from urllib.parse import unquote, urljoin, urlparse

from registry_tools.fetch.interface import FetchError

WEB_SCHEMES = ("http", "https")


def is_remote(location: str) -> bool:
    """Whether *location* (an index URL or a registry location) is fetched over HTTP(S)."""
    return urlparse(location).scheme in WEB_SCHEMES


def is_loopback_host(host: str | None) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): traffic that never leaves this machine."""
    import ipaddress

    host = (host or "").strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_outside_loopback(location: str) -> bool:
    """Whether *location* is a plain ``http://`` URL on a host other than this machine."""
    parsed = urlparse(location)
    return parsed.scheme == "http" and not is_loopback_host(parsed.hostname)


def _unsafe_chars(text: str) -> bool:
    return any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in text) or "\\" in text


def release_url(index_url: str, value: object, *, field: str = "download_url") -> str:
    """Where *value* (a release's *field*, from the signed index at *index_url*) points: an
    ``http(s)://`` URL, or, for an index in a local directory, a path inside that directory."""
    if not isinstance(value, str) or not value:
        raise FetchError(f"{field} {value!r} in the index is not a URL")
    if _unsafe_chars(value):
        raise FetchError(f"{field} {value!r} in the index has control characters or backslashes; refusing it")
    parsed = urlparse(value)
    if parsed.scheme in WEB_SCHEMES:
        if not parsed.hostname:
            raise FetchError(f"{field} {value!r} in the index has no host")
        return value
    if parsed.scheme:  # file:, ftp:, data:, ... (a Windows drive letter would land here too)
        raise FetchError(f"{field} {value!r} in the index uses the {parsed.scheme}: scheme; only https:// and "
                         "http:// URLs and paths relative to the index are allowed")
    if is_remote(index_url):
        resolved = urljoin(index_url, value)
        if urlparse(resolved).scheme not in WEB_SCHEMES:  # cannot happen with an http(s) base; kept as the rule
            raise FetchError(f"{field} {value!r} does not resolve to an https:// or http:// URL")
        return resolved
    # a local registry: a relative path that stays inside its directory (checked as written and decoded)
    for form in {value, unquote(value)}:
        if form.startswith("/"):
            raise FetchError(f"{field} {value!r} in the index is an absolute path; a local registry's files are "
                             "named relative to its directory")
        if ".." in form.split("/"):
            raise FetchError(f"{field} {value!r} in the index leaves the registry's directory (..); refusing it")
    if parsed.query or parsed.fragment:
        raise FetchError(f"{field} {value!r} in the index is not a plain relative path")
    index = urlparse(index_url)
    base = unquote(index.path) if index.scheme == "file" else index_url
    return posixpath.join(posixpath.dirname(base), posixpath.normpath(value))
