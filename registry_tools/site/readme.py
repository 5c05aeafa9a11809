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


def read_members(archive: Path, top: str, names: tuple[str, ...], checksum: str | None = None) -> dict[str, str]:
    """The text of the regular files ``<top>/<name>`` in ``archive`` (each under MAX_README_BYTES), in
    one pass; missing or unusable ones are left out, and nothing when the checksum does not match."""
    found: dict[str, str] = {}
    wanted = {f"{top}/{name}": name for name in names}
    try:
        if not archive.is_file() or archive.stat().st_size > MAX_ARCHIVE_BYTES:
            return found
        if checksum is not None:
            digest = hashlib.sha256(archive.read_bytes()).hexdigest()
            if f"sha256:{digest}" != checksum:
                return found
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name.rstrip("/"))
                if name is None or not member.isreg() or member.size > MAX_README_BYTES:
                    continue
                handle = tar.extractfile(member)
                if handle is not None:
                    found[name] = handle.read(MAX_README_BYTES + 1)[:MAX_README_BYTES].decode("utf-8", errors="replace")
                if len(found) == len(wanted):
                    break
    except (OSError, tarfile.TarError, EOFError):
        return {}
    return found


def read_readme(archive: Path, top: str, checksum: str | None = None) -> str | None:
    """README.md's text from ``archive`` (top directory ``top``), or None when absent or unusable."""
    return read_members(archive, top, ("README.md",), checksum).get("README.md")


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
