"""The HTML helpers every generated page shares: escaping and the tables the theme styles.

Pack text (titles, descriptions, maintainers, software, data sources) can come
from community packs and is untrusted: every page module passes it through
``esc`` before it reaches a page, and builds its tables with ``html_table`` from
rows it escaped itself. Only our own headings are Markdown (they feed the table
of contents and the search sections).
"""

from __future__ import annotations

import html
from collections.abc import Iterable


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def html_table(css: str, rows: Iterable[str], headers: tuple[str, ...] = ()) -> str:
    """``<div class=css>`` around a table: *headers* (HTML) as its head row, *rows* (whole ``<tr>`` lines) as its body."""
    head = "<thead><tr>" + "".join(f"<th>{h}</th>" for h in headers) + "</tr></thead>\n" if headers else ""
    return f'<div class="{css}">\n<table>\n{head}<tbody>\n{"".join(rows)}</tbody>\n</table>\n</div>\n'
