"""Text from packs, registries and sessions, made safe to print on a terminal.

A signed index or a pack says who wrote it, not that its text is harmless: a title holding
``ESC]0;...BEL`` retitles the terminal window, ``ESC[2J`` clears the screen, other sequences
move the cursor, rewrite earlier lines or (some terminals) answer back into the input; a
right-to-left override makes text read differently from what it is. ``printable(text)``
escapes every C0 control character (``\\x1b``; ``\\n``, ``\\r``, ``\\t``), DEL, the C1
controls (``\\x9b`` starts a sequence on some terminals), the Unicode bidirectional controls
(``\\u202e``) and the line and paragraph separators, so they show as text; everything else,
accents and emoji included, is unchanged. Every command prints such text through it (rich
tables also need their markup escaped: pass ``rich.text.Text`` cells); ``--json`` output needs
nothing more, as ``json.dumps`` escapes all of them (it writes ASCII).

Pure Python with no imports: the CLI's fast paths use it.
"""

from __future__ import annotations

# Bidirectional controls (ALM, LRM, RLM, LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI) and the
# line / paragraph separators; C0, DEL and C1 are tested by code point.
_FORMAT = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")


_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    code = ord(ch)
    return _SHORT.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def unsafe(ch: str) -> bool:
    """Whether the character *ch* is escaped by ``printable``."""
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F or ch in _FORMAT


def printable(text: object, *, newlines: bool = False) -> str:
    """*text* (``str()`` of anything else) with control characters escaped; with *newlines*,
    line breaks (``\\n``) are kept, for text of several lines."""
    text = text if isinstance(text, str) else str(text)
    if text.isprintable():  # the common case, at C speed: isprintable() is False for all of the above
        return text
    return "".join(_escape(ch) if unsafe(ch) and not (newlines and ch == "\n") else ch for ch in text)


def printable_lines(text: object) -> str:
    """``printable`` for text of several lines: every line's controls escaped, the line breaks kept."""
    return printable(text, newlines=True)
