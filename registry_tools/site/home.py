"""The home page's counts: how many packs there are, by trust level and by category.

The template's ``docs/index.md`` is hand-written; ``add_counts`` puts the
generated tables where it has the ``COUNTS_MARKER`` comment, or at its end when
it has none.
"""

from __future__ import annotations

from pathlib import Path

from registry_tools.site.html import esc, html_table
from registry_tools.site.views import PackView

COUNTS_MARKER = "<!-- arw:counts -->"


def counts_html(views: list[PackView]) -> str:
    by_category: dict[str, int] = {}
    by_trust: dict[str, int] = {}
    for view in views:
        by_trust[view.trust] = by_trust.get(view.trust, 0) + 1
        for category in view.entry.get("categories") or []:
            by_category[str(category)] = by_category.get(str(category), 0) + 1

    def table(heading: str, counts: dict[str, int]) -> str:
        return html_table("arw-counts", (f"<tr><td>{esc(k)}</td><td>{v}</td></tr>\n" for k, v in sorted(counts.items())),
                          (heading, "Packs"))

    return (f'<p id="arw-total">{len(views)} packs.</p>\n\n' + table("Trust level", by_trust) + "\n"
            + table("Category", by_category))


def add_counts(home: Path, views: list[PackView]) -> None:
    """Put the counts into the home page ``home`` of the project: at its marker, else at its end."""
    text = home.read_text(encoding="utf-8")
    home.write_text(text.replace(COUNTS_MARKER, counts_html(views)) if COUNTS_MARKER in text
                    else text + "\n" + counts_html(views), encoding="utf-8")
