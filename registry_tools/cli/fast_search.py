"""``config search`` answered from the search snapshot, before click is imported.

``entry.main`` hands ``config search`` arguments to ``run``. When they are plain (what
``options.parse(options.SEARCH, ...)`` takes: one query; ``--json``, ``--limit N``,
``--registry NAME``, ``--offline``) and
``client.search_cache.load`` has a snapshot that is still exactly what the full command
would search, ``run`` prints the answer and returns True. Anything else (``--help``,
``--refresh``, an unknown option, a stale or missing snapshot) returns False and the
click command runs, which also writes a new snapshot. Both print through ``render``, so
the output is the same either way (tests/test_fast_path_parity.py checks it), with the
registries' text escaped (``textsafe.printable``; JSON is ASCII).
"""

from __future__ import annotations

import sys

from registry_tools.cli import options
from registry_tools.textsafe import printable

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


def run(args: list[str]) -> bool:
    """Answer `config search ARGS` from the snapshot; False when the full command must."""
    values = options.parse(options.SEARCH, args)
    if values is None:
        return False
    query, limit, as_json = values["query"], values["limit"], values["as_json"]
    from registry_tools import clock
    from registry_tools.client import search_cache

    loaded = search_cache.load(search_cache.selection_name(values["registry_name"]), now=clock.now())
    if loaded is None:
        return False
    index, registries = loaded
    hits = index.search(query, limit)
    if not hits and not as_json:
        sys.stdout.write(NO_MATCH.format(query=query) + "\n")
        sys.exit(1)
    sys.stdout.write(render(hits, dict(zip(index.names, registries, strict=True)), as_json) + "\n")
    return True
