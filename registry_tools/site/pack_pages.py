"""Every pack page, stamped from two pages mkdocs rendered, with its entries in the search index.

Pack pages are stamped, not built one by one: ``add_stamp_pages`` puts two
stamp pages (with and without a README) made of placeholders into the mkdocs
project; after ``mkdocs build`` ``write_pack_pages`` splits their HTML once at
the placeholders (``Stamp``) and writes every pack page as that HTML joined with
the pack's escaped sections (``site.pack_sections``). All pack pages live at the
same depth, so every relative URL of the theme is the same. The stamp pages'
search entries are filled the same way (as plain text, without the unsearched
sections), then the stamp pages are removed. Large registries are written by one
forked worker per CPU.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from registry_tools.site.pack_sections import pack_values
from registry_tools.site.views import PackView

# Stamping keeps the build linear and cheap: Python-Markdown, the theme and the search plugin run once per stamp
# page instead of once per pack (figures in bench/README.md).
STAMPS = {"plain": "arw-stamp-plain", "readme": "arw-stamp-readme"}  # not valid pack names: never a real page
STAMP_PAGE = """---
title: ARWSTAMPTITLE
description: ARWSTAMPDESCRIPTION
---

<h1 id="ARWSTAMPID">ARWSTAMPTITLE</h1>

ARWSTAMPHEAD

## Install and deploy

```bash
aws-research-wizard config install ARWSTAMPNAME@ARWSTAMPLATEST
aws-research-wizard deploy --domain ARWSTAMPNAME@ARWSTAMPLATEST
```

## Sizes and monthly cost

ARWSTAMPSIZES

## Software, workflows and data

ARWSTAMPINSIDE

## Versions

ARWSTAMPVERSIONS

## What changed { #changes }

ARWSTAMPCHANGES
"""
STAMP_README = """
## README (ARWSTAMPLATEST) { #readme }

ARWSTAMPREADME
"""
_PLACEHOLDER = re.compile(r"<p>(ARWSTAMP(?:HEAD|SIZES|INSIDE|VERSIONS|CHANGES|README))</p>|(ARWSTAMP[A-Z]+)")
_TAG = re.compile(r"<[^>]+>")
PARALLEL_MIN_PACKS = 200  # below this, starting worker processes costs more than it saves
MAX_WORKERS = 8
# Kept out of the search index: diff lines, checksums and whole READMEs would bury the words people search for
# (description, keywords, software, workflows, data) and make every visitor download megabytes per thousand packs.
UNSEARCHED = ("ARWSTAMPCHANGES", "ARWSTAMPVERSIONS", "ARWSTAMPREADME")


class Stamp:
    """A template split once at its placeholders; ``fill`` joins the parts with a pack's values (inserted text
    is never scanned again, and the template is not scanned per pack)."""

    def __init__(self, template: str) -> None:
        pieces = _PLACEHOLDER.split(template)  # text, (group 1, group 2), text, ...
        self.texts = pieces[::3]
        self.keys = [a or b for a, b in zip(pieces[1::3], pieces[2::3], strict=True)]

    def fill(self, values: dict[str, str]) -> str:
        out = [self.texts[0]]
        for key, text in zip(self.keys, self.texts[1:], strict=True):
            out += (values[key], text)
        return "".join(out)


def search_text(values: dict[str, str]) -> dict[str, str]:
    """The placeholder values as the plain text the search index holds."""
    def plain(key: str, html_text: str) -> str:
        if key in ("ARWSTAMPNAME", "ARWSTAMPLATEST"):
            return html_text
        return "" if key in UNSEARCHED else " ".join(_TAG.sub(" ", html_text).split())

    return {k: plain(k, v) for k, v in values.items()}


def add_stamp_pages(docs: Path) -> None:
    """Write the two stamp pages into the project's ``docs/packs/`` (which must not exist)."""
    (docs / "packs").mkdir()
    (docs / "packs" / f"{STAMPS['plain']}.md").write_text(STAMP_PAGE, encoding="utf-8")
    (docs / "packs" / f"{STAMPS['readme']}.md").write_text(STAMP_PAGE + STAMP_README, encoding="utf-8")


@dataclass(frozen=True)
class PageJob:
    """What every pack page needs besides its pack (inherited by forked workers, never pickled)."""

    index: dict
    dist: Path
    site: Path
    out: Path
    pages: dict[str, Stamp]  # stamp kind -> the page mkdocs rendered for it
    search: dict[str, list[tuple[dict, Stamp, Stamp]]] | None  # stamp kind -> (entry, title, text) per section


_JOB: PageJob | None = None  # set while pack pages are written


def _write_pack_page(view: PackView) -> tuple[list[dict], list[str]]:
    """Write one pack's page; its search entries and notes."""
    job = _JOB
    assert job is not None, "write_pack_pages sets the job first"
    notes: list[str] = []
    values = pack_values(view, job.index, job.dist, job.out, notes)
    kind = "readme" if "ARWSTAMPREADME" in values else "plain"
    page_dir = job.site / "packs" / view.name
    page_dir.mkdir(exist_ok=True)
    (page_dir / "index.html").write_text(job.pages[kind].fill(values), encoding="utf-8")
    if job.search is None:
        return [], notes
    text = search_text(values)
    return [{**entry, "location": f"packs/{view.name}/{entry['location']}", "title": title.fill(text),
             "text": body.fill(text)} for entry, title, body in job.search[kind]], notes


def write_pack_pages(site: Path, views: list[PackView], index: dict, dist: Path, out: Path,
                     workers: int | None = None) -> list[str]:
    """Write every pack page of the built ``site`` from its stamp pages, add their search entries, remove the
    stamp pages; the notes. Each pack reads, parses and diffs all its archives and renders its README, so with
    many packs the work is spread over one forked process per CPU."""
    global _JOB
    pages = {kind: Stamp((site / "packs" / slug / "index.html").read_text(encoding="utf-8"))
             for kind, slug in STAMPS.items()}
    search_path = site / "search" / "search_index.json"
    search = json.loads(search_path.read_text(encoding="utf-8")) if search_path.is_file() else None
    entries: dict[str, list[tuple[dict, Stamp, Stamp]]] | None = None
    if search is not None:
        entries, docs = {kind: [] for kind in STAMPS}, []
        for doc in search["docs"]:
            kind = next((k for k, slug in STAMPS.items() if doc["location"].startswith(f"packs/{slug}/")), None)
            if kind and _TAG.sub("", doc["text"]).strip() in UNSEARCHED:
                continue  # a section with nothing searchable: no entry titled "Versions" for every pack
            if kind:
                entries[kind].append(({**doc, "location": doc["location"][len(f"packs/{STAMPS[kind]}/"):]},
                                      Stamp(doc["title"]), Stamp(doc["text"])))
            else:
                docs.append(doc)
        search["docs"] = docs
    if workers is None:
        workers = min(os.cpu_count() or 1, MAX_WORKERS) if len(views) >= PARALLEL_MIN_PACKS else 1
    _JOB = PageJob(index, dist, site, out, pages, entries)
    try:
        if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
            results = [_write_pack_page(view) for view in views]
        else:
            from concurrent.futures import ProcessPoolExecutor

            # Everything a worker imports is imported before the fork: no child can wait on an import lock that
            # another thread of this process held at that moment.
            import cmarkgfm  # noqa: F401
            import yaml  # noqa: F401

            import registry_tools.diff.versions  # noqa: F401
            import registry_tools.packs.marked_yaml  # noqa: F401
            import registry_tools.packs.model  # noqa: F401
            import registry_tools.site.readme  # noqa: F401
            import registry_tools.site.version_changes  # noqa: F401

            chunk = max(1, min(64, len(views) // (workers * 8)))
            # The workers inherit the index and templates frozen (never scanned, so their pages stay shared) and
            # run without the cyclic garbage collector: pack pages make almost no cycles (a worker's peak memory
            # is the same with it), and collections took a noticeable share of their time.
            gc.freeze()
            try:
                with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                         initializer=gc.disable) as pool:
                    results = list(pool.map(_write_pack_page, views, chunksize=chunk))
            finally:
                gc.unfreeze()
    finally:
        _JOB = None
    notes = [note for _, found in results for note in found]
    if len(notes) > 5:  # one line, not thousands, when the archives are elsewhere
        notes = [f"{len(notes)} packs have no README in the registry's archives (first: {notes[0].split(':')[0]})"]
    for slug in STAMPS.values():
        shutil.rmtree(site / "packs" / slug)
    if search is not None:
        search["docs"] += [doc for docs, _ in results for doc in docs]
        search_path.write_text(json.dumps(search, separators=(",", ":")), encoding="utf-8")
    return notes
