"""The catalog page: ``catalog.md`` (the page around the table) and ``catalog.json`` (the rows it filters).

The page is static HTML inside Markdown: the filter controls and an empty
table. The browser fills it with ``assets/catalog.js`` (in the template) from
``catalog.json``, which ``write_catalog`` precomputes from the pack views: one
list per column, sorted by title, with the text the filter matches already
lowercased, a fraction of ``registry.json`` to fetch and parse.
"""

from __future__ import annotations

import json
from pathlib import Path

from registry_tools.site.views import PackView


def write_catalog(docs: Path, views: list[PackView]) -> None:
    """Write ``catalog.json`` and ``catalog.md`` into the project's ``docs``."""
    # What the catalog table needs, precomputed: a fraction of registry.json to fetch and parse in the browser.
    (docs / "catalog.json").write_text(json.dumps(catalog_columns(views), separators=(",", ":")), encoding="utf-8")
    (docs / "catalog.md").write_text(catalog_page(len(views)), encoding="utf-8")


def catalog_page(count: int) -> str:
    return ("---\ntitle: Catalog\n---\n\n# Catalog\n\n"
            f"Every pack in the registry ({count}). Filter by text, category or trust level; "
            "open a pack for its sizes, versions and install command.\n\n"
            # fetched while the theme loads, not after it: the catalog script reads it from the cache
            '<link rel="preload" href="../catalog.json" as="fetch" crossorigin="anonymous">\n'
            '<div id="arw-catalog" data-base="../">\n'
            '<div class="arw-controls">\n'
            '<input id="arw-filter" type="search" placeholder="Filter packs: name, description, keyword" '
            'aria-label="Filter packs" autocomplete="off">\n'
            '<select id="arw-category" aria-label="Category"><option value="">All categories</option></select>\n'
            '<select id="arw-trust" aria-label="Trust level"><option value="">All trust levels</option></select>\n'
            '<span id="arw-count"></span>\n'
            "</div>\n"
            '<p id="arw-status">Loading the catalog…</p>\n'
            '<div class="arw-table">\n<table>\n'
            "<thead><tr><th>Pack</th><th>Latest</th><th>Categories</th><th>Trust</th>"
            "<th>Monthly cost</th></tr></thead>\n"
            "<tbody></tbody>\n</table>\n</div>\n</div>\n\n"
            # before the theme's scripts: the first rows are in place when the theme first measures the page
            '<script src="../assets/catalog.js"></script>\n'
            '<noscript><p>The catalog table needs JavaScript; the search box finds every pack page.</p></noscript>\n')


CATALOG_COLUMNS = ("id", "title", "version", "categories", "trust", "low", "high", "text")


def catalog_columns(views: list[PackView]) -> dict[str, list]:
    """``catalog.json``: what the catalog table shows and filters, one list per field (a few large arrays parse
    and collect faster in the browser than thousands of small objects), sorted by title."""
    columns: dict[str, list] = {name: [] for name in CATALOG_COLUMNS}
    for view in sorted(views, key=lambda v: (str(v.entry.get("name") or v.name).lower(), v.name)):
        entry = view.entry
        release = entry["releases"][entry["latest_version"]]
        listed = [s.get("monthly_usd") for s in release["sizes"].values() if isinstance(s, dict)]
        costs = [c for c in listed if isinstance(c, int | float)]
        title = str(entry.get("name") or view.name)
        categories = [str(c) for c in entry.get("categories") or []]
        keywords = [str(k) for k in entry.get("keywords") or []]
        # What the filter matches words against, lowercased once here instead of in every visitor's browser.
        text = " ".join([view.name, title, str(entry.get("description") or ""), *categories, *keywords, view.trust])
        for name, value in (("id", view.name), ("title", title), ("version", str(entry["latest_version"])),
                            ("categories", "|" + "|".join(categories) + "|"), ("trust", view.trust),
                            ("low", min(costs) if costs else None), ("high", max(costs) if costs else None),
                            ("text", text.lower())):
            columns[name].append(value)
    return columns
