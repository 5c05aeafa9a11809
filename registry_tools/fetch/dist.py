"""Copy a published registry (URL or directory) into a local dist layout, for verification or mirroring.

Only what the index lists is fetched, each file under its size cap and
deadline, into ``packs/<name>-<version>.tar.gz`` (names are checked, so an
index cannot write outside the destination; where it may read from is
``fetch.urls.release_url``'s decision: a remote index never names local
files). Nothing here decides trust: the caller verifies the result
(``signing.dist_check.verify_dist``). Downloads go through the ``Fetcher``
handed in (an ``HttpFetcher`` with the default limits when none is).
"""

from __future__ import annotations

import json
from pathlib import Path

from registry_tools.dist.layout import ARCHIVE_RE, INDEX_JSON, PACKS_DIR, SIGNATURE_SUFFIXES, archive_name
from registry_tools.fetch.http import HttpFetcher
from registry_tools.fetch.interface import Fetcher, FetchError
from registry_tools.fetch.urls import release_url
from registry_tools.limits import LIMITS


def index_url(location: str) -> str:
    if location.endswith(INDEX_JSON):
        return location
    return location.rstrip("/") + "/" + INDEX_JSON


def download_dist(location: str, dest: Path, fetcher: Fetcher | None = None, names: set[str] | None = None) -> Path:
    """Copy the signed index and the archives it lists (only those of *names* when given)."""
    fetcher = fetcher if fetcher is not None else HttpFetcher()
    url = index_url(location)
    fetcher.download(url, dest / INDEX_JSON, LIMITS.max_index_bytes)
    for suffix in SIGNATURE_SUFFIXES:
        try:
            fetcher.download(url + suffix, dest / (INDEX_JSON + suffix), LIMITS.max_signature_bytes)
        except FetchError:
            continue
    try:
        index = json.loads((dest / INDEX_JSON).read_bytes())
    except ValueError as exc:
        raise FetchError(f"{url} is not JSON: {exc}") from None
    for section in ("domains", "community_packs"):
        for name, entry in (index.get(section) or {}).items():
            if names is not None and name not in names:
                continue
            for version, release in (entry.get("releases") or {}).items():
                file_name = archive_name(name, version)
                if not ARCHIVE_RE.match(file_name) or not isinstance(release, dict):
                    raise FetchError(f"{url} lists an invalid pack {name!r} version {version!r}")
                target = dest / PACKS_DIR / file_name
                fetcher.download(release_url(url, release.get("download_url")), target, LIMITS.max_archive_bytes)
                signature = release.get("signature_url")
                if signature:
                    signature_url = release_url(url, signature, field="signature_url")
                    kind = next((s for s in SIGNATURE_SUFFIXES if signature.endswith(s)), None)
                    if kind is None:
                        raise FetchError(f"{url}: unexpected signature file name {signature!r}")
                    fetcher.download(signature_url, target.with_name(file_name + kind), LIMITS.max_signature_bytes)
    return dest
