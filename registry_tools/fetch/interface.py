"""The fetching seam: what the index store, install and dist copying ask of whatever downloads for them.

A ``Fetcher`` has two operations, modelled on python-tuf's ``FetcherInterface``
(``download_bytes`` / ``download_file``): ``get`` reads a URL into memory under a size cap
(conditionally, for the index's ``ETag`` / ``Last-Modified``), ``download`` writes one to a file
under a cap, all or nothing. Callers take a ``Fetcher`` (``load_registries``, ``load_index``,
``install``, ``download_dist``) and default to ``fetch.http.HttpFetcher``; tests and other
transports hand in their own. Every failure is a ``FetchError`` (``TooSlow`` when a deadline or
minimum rate was missed); which URLs may be fetched at all is ``fetch.urls``' decision, made before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from registry_tools.errors import ArwError


class FetchError(ArwError):
    """A download failed, was refused, or exceeded its size cap."""


class TooSlow(FetchError):
    """A download missed its deadline or its minimum rate (a stalled or trickling server)."""


@dataclass(frozen=True)
class Response:
    """What ``get`` read: status 200 with the body, or 304 (not modified) with an empty one."""

    status: int
    content: bytes
    etag: str | None
    last_modified: str | None


class Fetcher(Protocol):
    def get(self, url: str, max_bytes: int, *, etag: str | None = None,
            last_modified: str | None = None) -> Response:
        """GET *url* into memory, at most *max_bytes*; conditional when *etag* / *last_modified* are
        given (an answer of 304 has an empty body). ``FetchError`` otherwise."""
        ...

    def download(self, url: str, dest: Path, max_bytes: int) -> Path:
        """Write *url* to *dest*, at most *max_bytes*; *dest* is replaced only by a complete body
        (no partial file is left on failure). ``FetchError`` otherwise."""
        ...
