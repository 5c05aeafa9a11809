"""A pack's README, read from its archive and rendered to HTML that is safe to embed.

The archive is never extracted: the members ``<name>-<version>/README.md`` (and
whatever else the page needs) are read from the tar stream, only if they are
regular files under a size cap. READMEs are rendered with cmark-gfm, GitHub's
own Markdown engine (a README looks as it does on GitHub, and C is far faster
than a pure-Python parser: bench/README.md), in its safe mode: raw HTML is
omitted and ``javascript:``, ``vbscript:``, ``file:`` and ``data:`` links are
emptied. cmark escapes all text,
so every tag in its output is one it generated, in a fixed form; those are then
rewritten: relative links (which point into the archive, not the site) lose
their target, images become their alt text (the site loads nothing from
elsewhere), other links get ``rel="nofollow noopener"``, and headings are
demoted one level (after dropping a leading ``<h1>``) so the pack page keeps a
single ``<h1>``.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from pathlib import Path

MAX_README_BYTES = 512 * 1024
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
_ABSOLUTE = re.compile(r"^(?:https?:|mailto:|#)", re.IGNORECASE)
EXTENSIONS = ["table", "strikethrough", "autolink"]
# The only forms cmark's HTML renderer writes these tags in (attribute values are escaped, text has no "<").
_LEADING_H1 = re.compile(r"\A\s*<h1>.*?</h1>\n", re.DOTALL)
_IMAGE = re.compile(r'<img src="[^"]*" alt="(?P<alt>[^"]*)"(?: title="[^"]*")? />')
_LINK = re.compile(r'<a href="(?P<href>[^"]*)"(?P<title> title="[^"]*")?>')
_HEADING = re.compile(r"<(/?)h([1-6])>")


def read_members(archive: Path, top: str, names: tuple[str, ...], checksum: str | None = None,
                 max_bytes: int = MAX_README_BYTES) -> dict[str, str]:
    """The text of the regular files ``<top>/<name>`` in ``archive`` (each under ``max_bytes``), in
    one pass; missing or unusable ones are left out, and nothing when the checksum does not match."""
    found: dict[str, str] = {}
    wanted = {f"{top}/{name}": name for name in names}
    try:
        if not archive.is_file() or archive.stat().st_size > MAX_ARCHIVE_BYTES:
            return found
        data = archive.read_bytes()
        if checksum is not None and f"sha256:{hashlib.sha256(data).hexdigest()}" != checksum:
            return found
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name.rstrip("/"))
                if name is None or not member.isreg() or member.size > max_bytes:
                    continue
                handle = tar.extractfile(member)
                if handle is not None:
                    found[name] = handle.read(max_bytes + 1)[:max_bytes].decode("utf-8", errors="replace")
                if len(found) == len(wanted):
                    break
    except (OSError, tarfile.TarError, EOFError):
        return {}
    return found


def render_readme(text: str) -> str:
    """Markdown -> HTML: raw HTML omitted, unsafe and relative links removed, images as text, headings demoted."""
    import cmarkgfm

    rendered = cmarkgfm.markdown_to_html_with_extensions(text, options=0, extensions=EXTENSIONS)
    rendered = _LEADING_H1.sub("", rendered, count=1)
    rendered = _IMAGE.sub(lambda m: m["alt"], rendered)
    rendered = _LINK.sub(_link, rendered)
    return _HEADING.sub(lambda m: f"<{m[1]}h{min(int(m[2]) + 1, 6)}>", rendered)


def _link(match: re.Match) -> str:
    title = match["title"] or ""
    if _ABSOLUTE.match(match["href"]):
        return f'<a href="{match["href"]}"{title} rel="nofollow noopener">'
    return f"<a{title}>"
