"""A ready-to-search copy of the catalog, so a warm ``config search`` does not read indexes.

The full ``config search`` (click, settings, verified indexes) calls ``save`` after it
loaded every selected registry from a verified index, without a notice, failure or
expiry. ``save`` writes ``$ARW_HOME/cache/search/<selection>.bin``: the prepared
``SearchIndex`` plus what it was made from (the exact text of ``config.yaml``; per
registry the sha256, size and mtime of the cached index, when that was fetched and
when it expires).

``load`` (the fast path, ``registry_tools.cli.fast_search``) returns the index only
while all of that still holds and every registry's cache is fresh, i.e. exactly when
the full command would use those same cached indexes without asking the network;
otherwise None and the full command runs. It imports only ``os``, ``json``, ``array``
and ``datetime`` (no pathlib, dataclasses or yaml): on a slow machine those imports
alone cost more than the search.

File: ``MAGIC``, a JSON header line (sources, sizes), then UTF-8 texts (the five
search fields, trusts, versions; values joined with NUL) and 64-bit integers (each
field's offsets, each entry's registry), read through mmap.
"""

from __future__ import annotations

import json
import mmap
import os
from array import array
from datetime import datetime, timedelta

from registry_tools.client.search import SearchIndex
from registry_tools.clock import is_expired, is_fresh
from registry_tools.paths import config_text, state_dir_name
from registry_tools.timefmt import format_utc, parse_utc

MAGIC = b"ARW-SEARCH 1\n"
INDEX_FILE = "registry.json"  # registry_tools.dist.layout.INDEX_JSON
_SEP = "\x00"


def selection_name(registry: str | None) -> str:
    """The snapshot's name for ``--registry NAME`` (or all registries)."""
    return "all" if registry is None else f"registry-{registry}"


def _cache_root() -> str:
    return os.path.join(state_dir_name(), "cache")


def _snapshot_path(selection: str) -> str:
    return os.path.join(_cache_root(), "search", selection + ".bin")


def source_state(registry: str) -> dict | None:
    """What the cached index of *registry* is now: its digest, file size and mtime, and fetch time."""
    directory = os.path.join(_cache_root(), "registries", registry)
    try:
        with open(os.path.join(directory, "meta.json"), encoding="utf-8") as fh:
            meta = json.load(fh)
        stat = os.stat(os.path.join(directory, INDEX_FILE))
        return {"name": registry, "sha256": meta["sha256"], "fetched_at": meta["fetched_at"],
                "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(selection: str, config_text: str | None, interval_hours: float, sources: list[tuple[str, str, datetime]],
         index: SearchIndex, registry_of: list[str]) -> bool:
    """Write the snapshot of *index* for *selection*. *sources*: (registry, sha256 of the index
    it loaded, expiry) in order; *registry_of*: each entry's registry. Nothing is written (False)
    when a cached index is no longer the one loaded (another process refreshed it meanwhile)."""
    from pathlib import Path

    from registry_tools.fsutil import atomic_write_bytes

    states = []
    for registry, digest, expires in sources:
        state = source_state(registry)
        if state is None or state["sha256"] != digest:
            return False
        states.append({**state, "expires": format_utc(expires)})
    snap = index.snapshot()
    names = [state["name"] for state in states]
    texts = [*snap.pop("texts"), _SEP.join(snap.pop("trusts")), _SEP.join(snap.pop("versions"))]
    encoded = [text.encode("utf-8", "surrogatepass") for text in texts]
    arrays = [array("q", starts) for starts in snap.pop("starts")]
    arrays.append(array("q", [names.index(r) for r in registry_of]))
    header = {**snap, "size": index.size, "config": config_text, "interval_hours": interval_hours,
              "sources": states, "registries": names, "text_bytes": [len(t) for t in encoded]}
    body = b"".join(encoded) + b"".join(a.tobytes() for a in arrays)
    atomic_write_bytes(Path(_snapshot_path(selection)), MAGIC + json.dumps(header).encode() + b"\n" + body, 0o600)
    return True


def _current(header: dict, now: datetime) -> bool:
    """Whether the snapshot is still made of what the full command would search now."""
    try:
        if header["config"] != config_text():
            return False
    except OSError:
        return False
    window = timedelta(hours=float(header["interval_hours"]))
    for recorded in header["sources"]:
        state = source_state(recorded["name"])
        if (state is None or any(state[k] != recorded[k] for k in ("sha256", "size", "mtime_ns"))
                or not is_fresh(parse_utc(state["fetched_at"]), now, window)
                or is_expired(parse_utc(recorded["expires"]), now)):
            return False
    return True


def load(selection: str, *, now: datetime) -> tuple[SearchIndex, list[str]] | None:
    """(index, each entry's registry) for *selection* when the snapshot is still exactly what
    the full command would search at *now*; otherwise None."""
    try:
        with open(_snapshot_path(selection), "rb") as fh:
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    try:
        end = data.find(b"\n", len(MAGIC))
        if data[:len(MAGIC)] != MAGIC or end < 0:
            return None
        header = json.loads(data[len(MAGIC):end])
        if not _current(header, now):
            return None
        offset, texts, size, numbers = end + 1, [], header["size"], array("q")
        with memoryview(data) as view:
            for length in header["text_bytes"]:
                texts.append(str(view[offset:offset + length], "utf-8", "surrogatepass"))
                offset += length
            numbers.frombytes(view[offset:])
        if len(texts) != 7 or len(numbers) != 5 * (size + 1) + size:
            return None
        header["texts"], trusts, versions = texts[:5], texts[5], texts[6]
        header["trusts"] = trusts.split(_SEP) if size else []
        header["versions"] = versions.split(_SEP) if size else []
        header["starts"] = [numbers[k * (size + 1):(k + 1) * (size + 1)].tolist() for k in range(5)]
        index = SearchIndex.from_snapshot(header)
        registries = header["registries"]
        return index, [registries[k] for k in numbers[5 * (size + 1):]]
    except (KeyError, TypeError, ValueError, IndexError, OverflowError):
        return None
    finally:
        data.close()
