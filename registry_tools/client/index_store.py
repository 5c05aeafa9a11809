"""Fetch, verify and cache each registry's index.

``load_index(registry)``:
- uses the cached index without any request while it is younger than the
  update interval (``refresh`` forces a check; ``offline`` never asks a
  remote registry, while local directories are always read);
- otherwise asks with If-None-Match / If-Modified-Since; 304 keeps the cache;
- a new index is verified (``trust_policy.check_index``: signature, no
  rollback below the highest serial seen, not expired) before it replaces the
  cache, written atomically;
- a network failure, or a download that misses its deadline or minimum rate
  (a stalled server), falls back to the last verified index, with a notice.
The cache lives in ``$ARW_HOME/cache/registries/<name>/``; ``meta.json``
keeps the validators, the fetch time, the highest serial seen and the digest
of the verified index (so a cached file that changed is not used).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from registry_tools.client.settings import Registry
from registry_tools.client.trust_policy import TrustedIndex, TrustError, check_index
from registry_tools.clock import is_fresh
from registry_tools.dist.layout import INDEX_JSON
from registry_tools.errors import ArwError
from registry_tools.fetch.dist import index_url
from registry_tools.fetch.http import HttpFetcher
from registry_tools.fetch.interface import Fetcher, FetchError
from registry_tools.fetch.urls import release_url
from registry_tools.fsutil import atomic_write_bytes, atomic_write_text
from registry_tools.limits import LIMITS
from registry_tools.paths import state_dir
from registry_tools.timefmt import format_utc, parse_utc

NOTICE_PREFIX = {"note": "note", "expired": "warning", "failed": "warning",  # how each kind of notice is shown
                 "insecure": "warning"}
ALWAYS_SHOWN = ("failed", "insecure")  # notices printed even beside --json output (on stderr)


class RegistryError(ArwError):
    """No usable index for a registry (nothing cached and the fetch failed, or refused by trust)."""


@dataclass(frozen=True)
class LoadedIndex:
    registry: Registry
    trusted: TrustedIndex
    source: str  # "network", "not-modified", "cache" or "fallback"
    digest: str  # sha256 of the index file, as cached
    notice: str | None = None
    # what fetched it, and so downloads its archives (deadline, rate, require_https; or one handed in)
    fetcher: Fetcher | None = field(default=None, compare=False, repr=False)

    @property
    def index(self) -> dict:
        return self.trusted.index

    def index_url(self) -> str:
        return index_location(self.registry)


def index_location(registry: Registry) -> str:
    return index_url(registry.location)


def cache_dir(registry: Registry) -> Path:
    return state_dir() / "cache" / "registries" / registry.name


class _Cache:
    def __init__(self, registry: Registry):
        self.dir = cache_dir(registry)
        self.suffix = registry.trust.suffix

    def meta(self) -> dict:
        try:
            return json.loads((self.dir / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def read(self, meta: dict) -> tuple[bytes, bytes] | None:
        try:
            data = (self.dir / INDEX_JSON).read_bytes()
            signature = (self.dir / (INDEX_JSON + self.suffix)).read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            return None  # not the file that was verified
        return data, signature

    def store(self, data: bytes, signature: bytes, meta: dict) -> str:
        """Cache *data* (verified) and its signature; its sha256."""
        digest = hashlib.sha256(data).hexdigest()
        atomic_write_bytes(self.dir / (INDEX_JSON + self.suffix), signature, 0o600)
        atomic_write_bytes(self.dir / INDEX_JSON, data, 0o600)
        atomic_write_text(self.dir / "meta.json", json.dumps({**meta, "sha256": digest}), 0o600)
        return digest

    def touch(self, meta: dict, **changes) -> dict:
        updated = {**meta, **changes}
        atomic_write_text(self.dir / "meta.json", json.dumps(updated), 0o600)
        return updated


def load_index(registry: Registry, *, now: datetime, refresh: bool = False, offline: bool = False,
               allow_expired: bool = False, interval_hours: float = 24.0, fetcher: Fetcher | None = None) -> LoadedIndex:
    """The verified index of *registry* as of *now* (expiry, cache age), fetched by *fetcher*
    (default: an ``HttpFetcher`` with the default limits)."""
    fetcher = fetcher if fetcher is not None else HttpFetcher()
    cache = _Cache(registry)
    meta = cache.meta()
    cached = cache.read(meta)
    highest = meta.get("highest_serial")
    fetched_at = parse_utc(meta["fetched_at"]) if meta.get("fetched_at") else None

    def from_cache(source: str, notice: str | None = None) -> LoadedIndex:
        assert cached is not None  # only called when there is a cached index
        data, signature = cached
        trusted = _check(registry, data, signature, highest, now, allow_expired)
        return LoadedIndex(registry, trusted, source, meta["sha256"], notice, fetcher=fetcher)

    fresh = fetched_at is not None and is_fresh(fetched_at, now, timedelta(hours=interval_hours))
    if cached and ((offline and registry.is_remote) or (fresh and not refresh)):
        return from_cache("cache")
    if offline and registry.is_remote:
        raise RegistryError(f"registry {registry.name}: no cached index and --offline forbids fetching "
                          f"{index_location(registry)}")

    url = index_location(registry)
    try:
        response = fetcher.get(url, LIMITS.max_index_bytes,
                               etag=meta.get("etag") if cached else None,
                               last_modified=meta.get("last_modified") if cached else None)
        if response.status == 304 and cached:
            meta = cache.touch(meta, fetched_at=format_utc(now))
            return from_cache("not-modified")
        signature = fetcher.get(url + registry.trust.suffix, LIMITS.max_signature_bytes).content
    except FetchError as exc:
        if cached:
            return from_cache("fallback", f"registry {registry.name}: {exc}; using cached index from "
                                          f"{meta.get('fetched_at', 'an earlier fetch')}")
        raise RegistryError(f"registry {registry.name}: cannot fetch the index: {exc}") from None

    trusted = _check(registry, response.content, signature, highest, now, allow_expired)
    digest = cache.store(response.content, signature, {
        "etag": response.etag, "last_modified": response.last_modified, "fetched_at": format_utc(now),
        "serial": trusted.serial, "highest_serial": max(trusted.serial, highest or 0), "url": url,
    })
    return LoadedIndex(registry, trusted, "network", digest, fetcher=fetcher)


def _check(registry: Registry, data: bytes, signature: bytes, highest: int | None, now: datetime,
           allow_expired: bool) -> TrustedIndex:
    try:
        return check_index(data, signature, registry.trust.verifier(), registry=registry.name,
                           highest_seen_serial=highest, now=now, allow_expired=allow_expired)
    except TrustError as exc:
        raise RegistryError(str(exc)) from None


@dataclass(frozen=True)
class ReleaseUrls:
    archive: str
    signature: str | None  # None: the release is not signed


def release_urls(loaded: LoadedIndex, release: dict) -> ReleaseUrls:
    """Where a release's archive and signature are, by the one rule for URLs from a signed index
    (``fetch.urls.release_url``): https:// or http:// for a remote registry, resolved against its
    index; paths inside the registry's directory only for a local one. ``FetchError`` otherwise."""
    base = loaded.index_url()
    signature = release.get("signature_url")
    return ReleaseUrls(release_url(base, release.get("download_url"), field="download_url"),
                       release_url(base, signature, field="signature_url") if signature else None)


def load_registries(registry_name: str | None, *, now: datetime, refresh: bool = False, offline: bool = False,
                    allow_expired: bool = False, notify=lambda level, text: None, fetcher: Fetcher | None = None):
    """(catalog, loaded indexes) from the configured registries (or only *registry_name*), as of *now*.
    Notices go to ``notify(level, text)``: "note" (a cached index was used after a network
    failure), "expired" (used because of *allow_expired*) and "failed" (a registry that
    could not be loaded while another one was). ``RegistryError`` when none loads or
    the configuration is unusable. Every index is fetched by *fetcher* (default: an ``HttpFetcher``
    with the limits of ``config.yaml``), which each ``LoadedIndex`` keeps for its archives."""
    from registry_tools.client import settings
    from registry_tools.client.catalog import Catalog

    try:
        config = settings.load()
        registries = [config.registry(registry_name)] if registry_name else list(config.registries)
    except settings.SettingsError as exc:
        raise RegistryError(str(exc)) from None
    if not registries:
        raise RegistryError("no registries configured; add one with: aws-research-wizard config registries add NAME LOCATION ...")
    loaded, failures = [], []
    fetcher = fetcher if fetcher is not None else HttpFetcher(config.fetch_settings())
    for registry in registries:
        try:
            item = load_index(registry, now=now, refresh=refresh, offline=offline, allow_expired=allow_expired,
                              interval_hours=config.update_interval_hours, fetcher=fetcher)
        except RegistryError as exc:
            failures.append(str(exc))
            continue
        if item.notice:
            notify("note", item.notice)
        if item.trusted.expired:
            notify("expired", f"registry {registry.name}: the index expired "
                              f"{item.trusted.age_description(now)} ago; used because of --allow-expired")
        loaded.append(item)
    if not loaded:
        raise RegistryError("\n".join(failures))
    for failure in failures:
        notify("failed", failure)
    catalog = Catalog.from_indexes(loaded)
    catalog.failures.extend(failures)
    return catalog, loaded
