"""``config search`` answered from the search snapshot, before click is imported.

``entry.main`` hands ``config search`` arguments to ``run``. When they are plain (one
query; ``--json``, ``--limit N``, ``--registry NAME``, ``--offline``) and
``client.search_cache.load`` has a snapshot that is still exactly what the full command
would search, ``run`` prints the answer and returns True. Anything else (``--help``,
``--refresh``, an unknown option, a stale or missing snapshot) returns False and the
click command runs, which also writes a new snapshot. Both print through ``render``, so
the output is the same either way (tests/test_client_search_cache.py checks it), with the
registries' text escaped (``textsafe.printable``; JSON is ASCII).
"""

from __future__ import annotations

import sys

from registry_tools.textsafe import printable

REGISTRY_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
LIMIT_RANGE = (1, 500)
NO_MATCH = "No packs match {query!r}. Try `aws-research-wizard config browse`."


def render(hits, registry_of: dict[str, str], as_json: bool) -> str:
    """The output of `config search` for *hits* (``registry_of``: pack name -> registry)."""
    if as_json:
        import json

        return json.dumps([{"name": h.name, "title": h.title, "score": h.score, "trust": h.trust,
                            "latest_version": h.latest_version, "matched": list(h.matched_fields),
                            "registry": registry_of[h.name]} for h in hits], indent=2, default=str)
    return "\n".join(f"{printable(h.name):<26} {printable(h.latest_version):<8} {printable(h.trust):<9} "
                     f"{printable(h.title)}" for h in hits)


def parse(args: list[str]) -> tuple[str, str | None, int, bool] | None:
    """(query, registry, limit, as_json) for plain arguments, else None."""
    query, registry, limit, as_json = None, None, 20, False
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if arg in ("--json", "--offline"):
            as_json = as_json or arg == "--json"
        elif name in ("--limit", "--registry"):
            if not eq:
                if not rest:
                    return None
                value = rest.pop(0)
            if name == "--registry":
                if not value or not set(value) <= REGISTRY_NAME_CHARS:
                    return None
                registry = value
            else:
                if not value.isdigit() or not LIMIT_RANGE[0] <= int(value) <= LIMIT_RANGE[1]:
                    return None
                limit = int(value)
        elif arg.startswith("-") or query is not None:
            return None
        else:
            query = arg
    return None if query is None else (query, registry, limit, as_json)


def run(args: list[str]) -> bool:
    """Answer `config search ARGS` from the snapshot; False when the full command must."""
    parsed = parse(args)
    if parsed is None:
        return False
    query, registry, limit, as_json = parsed
    from registry_tools import clock
    from registry_tools.client import search_cache

    loaded = search_cache.load(search_cache.selection_name(registry), now=clock.now())
    if loaded is None:
        return False
    index, registries = loaded
    hits = index.search(query, limit)
    if not hits and not as_json:
        sys.stdout.write(NO_MATCH.format(query=query) + "\n")
        sys.exit(1)
    sys.stdout.write(render(hits, dict(zip(index.names, registries, strict=True)), as_json) + "\n")
    return True
