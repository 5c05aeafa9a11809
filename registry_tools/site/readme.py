"""A pack's README, read from its archive and rendered to HTML that is safe to embed.

The archive is never extracted: the one member ``<name>-<version>/README.md``
is read from the tar stream, only if it is a regular file under a size cap.
READMEs of community packs are untrusted, so they are rendered with raw HTML
disabled (tags show as text), ``javascript:``-style links refused by
markdown-it's link validation, relative links (which point into the archive,
not the site) and images (the site loads nothing from elsewhere) dropped, and headings demoted one level so the
pack page keeps a single ``<h1>``.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
from pathlib import Path

MAX_README_BYTES = 512 * 1024
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
_ABSOLUTE = re.compile(r"^(?:https?:|mailto:|#)", re.IGNORECASE)


def read_readme(archive: Path, top: str, checksum: str | None = None) -> str | None:
    """README.md's text from ``archive`` (top directory ``top``), or None when absent or unusable."""
    try:
        if not archive.is_file() or archive.stat().st_size > MAX_ARCHIVE_BYTES:
            return None
        if checksum is not None:
            digest = hashlib.sha256(archive.read_bytes()).hexdigest()
            if f"sha256:{digest}" != checksum:
                return None
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                if member.name.rstrip("/") != f"{top}/README.md":
                    continue
                if not member.isreg() or member.size > MAX_README_BYTES:
                    return None
                handle = tar.extractfile(member)
                if handle is None:
                    return None
                return handle.read(MAX_README_BYTES + 1)[:MAX_README_BYTES].decode("utf-8", errors="replace")
    except (OSError, tarfile.TarError, EOFError):
        return None
    return None


def render_readme(text: str) -> str:
    """Markdown -> HTML with raw HTML escaped, relative links and images removed, headings demoted."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    tokens = md.parse(text)
    # Drop the README's own top heading (the page already has the pack's title).
    if len(tokens) >= 3 and tokens[0].type == "heading_open" and tokens[0].tag == "h1":
        tokens = tokens[3:]
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            level = min(int(token.tag[1]) + 1, 6)
            token.tag = f"h{level}"
        for child in token.children or ():
            if child.type == "link_open" and not _ABSOLUTE.match(str(child.attrGet("href") or "")):
                child.attrs.pop("href", None)
            elif child.type == "link_open":
                child.attrSet("rel", "nofollow noopener")
            elif child.type == "image":  # the site loads nothing from elsewhere; the alt text stays
                child.type = "text"
                child.content = child.content or ""
                child.children = None
    return md.renderer.render(tokens, md.options, {})
