"""Ranked search over registry index entries. Pure, stdlib only, no I/O.

``search(entries, query)`` takes ``(pack_name, entry, trust)`` triples, where
``entry`` is a pack entry of the index (``name`` = title, ``description``,
``categories``, ``keywords``, ``latest_version``), and returns the best
``Hit``s, highest score first, ties by pack name. ``SearchIndex(entries)``
keeps the preparation for more queries over the same entries.

Matching is case-insensitive on words: runs of letters and digits, so ``_``,
``-`` and punctuation separate words (``climate modeling`` finds
``climate_modeling``). Every query word must match somewhere (AND); each
word scores its best match and the words' scores add up:

* a whole word of the name, title, a keyword or a category: ``WORD``;
  the start of such a word (query words of 2+ characters): ``PREFIX``;
* a word of those within Damerau-Levenshtein (optimal string alignment)
  distance 1 for query words of 4+ characters, 2 from 8 characters: ``FUZZY``.
  Typos are looked for in these short fields only: in the description prose
  they would mostly find unrelated words;
* a whole description word: ``DESCRIPTION_WORD``; the start of one (3+
  characters): ``DESCRIPTION_PREFIX``;
* ``ALSO`` for each further field the query word matches.

Then the whole query: the pack name (``EXACT_NAME``), the start of it
(``NAME_PREFIX``), or, for several words, consecutive words of the name, the
title, a keyword or a category (``PHRASE``).

Speed (10,000 entries): nothing is tokenized entry by entry. Each field of
all entries is joined into one lower-cased text; a query word is found with
``str.find`` (or the regex engine, for short or frequent substrings), a hit
mapped to its entry by bisecting the entries' offsets, and the rest of that
entry skipped once a whole word is found. For typos, regexes that start with
a literal piece of the query word (so the engine skips ahead) list the few
distinct words of plausible length that keep an unedited piece; a banded,
early-exit distance picks the near ones, which are then found like query
words. The longest query word is looked up first; the others only in the
entries still in the running when those are few.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import namedtuple
from collections.abc import Iterable, Mapping
from functools import lru_cache
from itertools import accumulate, chain, repeat
from operator import add, itemgetter

TYPE_CHECKING = False  # typing is not imported at run time: `config search` starts without it
if TYPE_CHECKING:
    from typing import Any

EXACT_NAME = 1000
NAME_PREFIX = 500
WORD = 40
PREFIX = 20
FUZZY = {1: 15, 2: 10}
DESCRIPTION_WORD = 10
DESCRIPTION_PREFIX = 5
ALSO = 1
PHRASE = 25

FIELDS = ("name", "title", "keywords", "categories", "description")
_SHORT = (0, 1, 2, 3)  # field indexes where whole words, prefixes and typos count fully
_DESCRIPTION = 4
_LISTS = (2, 3)
_KEYS = ("", "name", "keywords", "categories", "description")  # index entry keys (the pack name comes apart)
_MIN_PREFIX = (2, 2, 2, 2, 3)  # shortest query word matched as a word start, per field
_MIN_FUZZY = 4
_MIN_FUZZY_2 = 8
# Later query words are checked entry by entry when at most this many entries are left.
_NARROW = 400
# str.find gives way to the regex engine after this many hits inside longer words.
_INSIDE = 200

_WORD_RE = re.compile(r"[^\W_]+")
_SEP = "\x00"  # between entries in a field text (entries are found by offset, so a NUL inside is harmless)
_ITEM_SEP = "\x1f"  # between the keywords (categories) of one entry: a phrase must stay inside one
SNAPSHOT_FORMAT = 1


# One result: pack name, title, score, matched_fields (in FIELDS order), trust, latest_version,
# description. A named tuple rather than a dataclass: `config search` starts without importing
# dataclasses (and inspect), see registry_tools.cli.fast_search.
Hit = namedtuple("Hit", "name title score matched_fields trust latest_version description")


def query_words(query: str) -> list[str]:
    """The words of *query*, lower-cased, in order (duplicates kept)."""
    return _WORD_RE.findall(query.lower())


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _word_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return [_text(v) for v in value]
    return []


def distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment (Damerau-Levenshtein) distance of *a* and *b*, or
    ``limit + 1`` as soon as it is known to exceed *limit*."""
    if a == b:
        return 0
    la, lb = len(a), len(b)
    if abs(la - lb) > limit:
        return limit + 1
    # Drop the common prefix and suffix: they never change the distance.
    start = 0
    while start < la and start < lb and a[start] == b[start]:
        start += 1
    end = 0
    while end < la - start and end < lb - start and a[la - 1 - end] == b[lb - 1 - end]:
        end += 1
    a, b = a[start:la - end], b[start:lb - end]
    la, lb = len(a), len(b)
    if not la or not lb:
        return (la or lb) if (la or lb) <= limit else limit + 1
    over = limit + 1
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        ca = a[i - 1]
        cur = [i] + [over] * lb
        lo, hi = max(1, i - limit), min(lb, i + limit)
        best = i if lo == 1 else over
        for j in range(lo, hi + 1):
            cb = b[j - 1]
            d = prev[j - 1] + (ca != cb)
            if prev[j] + 1 < d:
                d = prev[j] + 1
            if cur[j - 1] + 1 < d:
                d = cur[j - 1] + 1
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb and prev2[j - 2] + 1 < d:
                d = prev2[j - 2] + 1
            cur[j] = d if d < over else over
            if d < best:
                best = d
        if best > limit:
            return over
        prev2, prev = prev, cur
    return prev[lb] if prev[lb] <= limit else over


def _limit(term: str) -> int:
    """How many edits a query word tolerates."""
    return 0 if len(term) < _MIN_FUZZY else 1 if len(term) < _MIN_FUZZY_2 else 2


_W = r"[^\W_]"  # a word character


@lru_cache(maxsize=256)
def _near_patterns(term: str, limit: int) -> tuple[tuple[re.Pattern[str], str], ...]:
    """(regex, piece) pairs that find every word within *limit* edits of *term*, and some
    more: each regex starts with its piece, a literal the regex engine skips ahead to, and
    its groups are the word before the piece (one group per possible length, the others
    empty) and the word after it.

    Distance 1: an edit from the third character on keeps the first two; an edit of the
    first three keeps the rest from the fourth, at the end of the word. (For four letters,
    the rest from the third, and swapping the second and third characters makes one word.)
    Distance 2: cut the term into three pieces with a character between them; an edit
    changes at most one piece, so one piece is left whole, near where it was.
    """
    n, W = len(term), _W
    if limit == 1 and n >= 5:
        # (piece, how far before it the word may start, how many characters may follow it)
        layout = [(term[:2], (0,), (n - 3, n - 1)), (term[3:], (2, 3, 4), (0, 0))]
    elif limit == 1:  # a one-character tail would be slow to look for: swapped 2nd and 3rd apart
        layout = [(term[:2], (0,), (n - 3, n - 1)), (term[0] + term[2] + term[1] + term[3:], (0,), (0, 0)),
                  (term[2:], (1, 2, 3), (0, 0))]
    else:
        p = (n - 2) // 3
        layout = []
        for at, piece in ((0, term[:p]), (p + 1, term[p + 1:2 * p + 1]), (2 * p + 2, term[2 * p + 2:])):
            back = tuple(range(max(0, at - 2), at + 3))
            layout.append((piece, back, (max(0, n - 4 - at - len(piece)), n + 2 - len(piece) - back[0])))
    out = []
    for piece, back, (least, most) in layout:
        k = re.escape(piece)
        starts = "|".join(rf"(?<=(?<!{W})({W}{{{b}}}){k})" for b in back)
        out.append((re.compile(rf"{k}(?:{starts})({W}{{{least},{most}}})(?!{W})"), piece))
    return tuple(out)


class _Field:
    """One field of every entry, lower-cased and joined with NUL; ``starts[i]`` is where entry i begins."""

    __slots__ = ("text", "starts")

    def __init__(self, values: list[str]):
        joined = _SEP.join(values)
        text = joined.lower()
        if len(text) != len(joined):  # a few characters lower-case to two: keep the offsets exact
            values = [v.lower() for v in values]
            text = _SEP.join(values)
        self.text = text
        self.starts = _offsets(values)

    @classmethod
    def restore(cls, joined: str, starts: list[int], size: int) -> _Field:
        """The field of *size* values joined with NUL in their original case, the i-th at
        ``starts[i]`` (``ValueError`` unless that is what they describe)."""
        if not (isinstance(joined, str) and isinstance(starts, list) and len(starts) == size + 1
                and starts[0] == 0 and starts[-1] == len(joined) + 1):
            raise ValueError(f"a field must be a text and the offsets of its {size} entries")
        text = joined.lower()
        if len(text) != len(joined):
            return cls([joined[starts[i]:starts[i + 1] - 1] for i in range(size)])
        field = cls.__new__(cls)
        field.text, field.starts = text, starts
        return field

    def bounds(self, i: int) -> tuple[int, int]:
        return self.starts[i], self.starts[i + 1] - 1


def _offsets(values: list[str]) -> list[int]:
    """Where each of *values* starts once joined with one separator; one more for the end."""
    return list(accumulate(map(add, map(len, values), repeat(1)), initial=0))


def _prefix_pattern(term: str, whole_only: bool) -> re.Pattern[str]:
    """A word starting with *term* (group 1: the rest of the word). The literal comes first
    so the regex engine can skip ahead to it; the look-behind checks the word start."""
    t = re.escape(term)
    return re.compile(rf"{t}(?<![^\W_]{t})" + (r"()(?![^\W_])" if whole_only else r"([^\W_]*)"))


class SearchIndex:
    """Entries prepared for searching: build once (cheap; fields are prepared on first use)
    and call ``search`` for each query. Entries are ``(pack_name, index_entry, trust)``
    triples (``ValueError`` otherwise); missing or odd entry fields count as empty."""

    def __init__(self, entries: Iterable[tuple[str, Mapping[str, Any], str]]):
        rows = entries if isinstance(entries, list | tuple) else list(entries)
        self.size = len(rows)
        if rows and set(map(len, rows)) != {3}:
            raise ValueError("entries must be (pack name, index entry, trust) triples")
        self.names, self.entries, self.trusts = (list(map(itemgetter(k), rows)) for k in range(3))
        self._columns: list[list[Any] | None] = [None] * len(FIELDS)
        self._fields: list[_Field | None] = [None] * len(FIELDS)
        self._distinct_text: list[str | None] = [None] * len(FIELDS)
        self._display: tuple[list[str], list[str], list[list[int]]] | None = None  # from a snapshot

    # --- snapshots: everything a search needs, prepared once ---------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The prepared index as strings and lists of ints: each field's values joined with NUL
        in their original case (``texts``, the first being the pack names) with their offsets
        (``starts``), trusts, latest versions and the distinct keywords and categories.
        ``from_snapshot`` undoes it without reading index entries or joining fields again."""
        values = [self._values(f) for f in range(len(FIELDS))]
        return {"format": SNAPSHOT_FORMAT, "trusts": list(self.trusts),
                "versions": [self._display_of(i)[1] for i in range(self.size)],
                "distinct": [self._distinct(f) for f in _SHORT],
                "texts": [_SEP.join(v) for v in values], "starts": [_offsets(v) for v in values]}

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> SearchIndex:
        """The index a ``snapshot()`` describes; ``ValueError`` for anything else."""
        try:
            trusts, versions, texts, starts = data["trusts"], data["versions"], data["texts"], data["starts"]
            size, distinct = len(trusts), data["distinct"]
            if (data["format"] != SNAPSHOT_FORMAT or len(versions) != size or len(texts) != len(FIELDS)
                    or len(starts) != len(FIELDS) or len(distinct) != len(_SHORT)
                    or not set(map(type, chain(trusts, versions, distinct, texts))) <= {str}):
                raise ValueError("format or sizes differ")
            index = cls([])
            index._fields = [_Field.restore(t, s, size) for t, s in zip(texts, starts, strict=True)]
            names = texts[0].split(_SEP) if size else []
            if len(names) != size:  # a NUL inside a name
                names = [texts[0][starts[0][i]:starts[0][i + 1] - 1] for i in range(size)]
            index.size, index.names, index.trusts, index.entries = size, names, trusts, [None] * size
            for f, text in zip(_SHORT, distinct, strict=True):
                index._distinct_text[f] = text
            index._display = (versions, texts, starts)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a search index snapshot ({exc})") from None
        return index

    # --- preparation -------------------------------------------------------------------------

    def _column(self, f: int) -> list[Any]:
        """Field *f* of every entry: a string, or a list of strings for keywords and categories."""
        column = self._columns[f]
        if column is None:
            column = self._columns[f] = self._fast_column(f) or self._safe_column(f)
        return column

    def _fast_column(self, f: int) -> list[Any] | None:
        """The column straight from well-formed entries (C-level loops only), else None."""
        try:
            column = list(self.names) if f == 0 else list(map(itemgetter(_KEYS[f]), self.entries))
        except (KeyError, TypeError):
            return None
        if f in _LISTS and not set(map(type, column)) <= {list, tuple}:
            return None
        return column  # strings are checked when joined

    def _safe_column(self, f: int) -> list[Any]:
        if f == 0:
            return [_text(n) for n in self.names]
        convert = _word_list if f in _LISTS else _text
        return [convert(e.get(_KEYS[f])) if isinstance(e, Mapping) else convert(None) for e in self.entries]

    def _field(self, f: int) -> _Field:
        field = self._fields[f]
        if field is None:
            try:
                field = _Field(self._joinable(self._column(f), f))
            except TypeError:  # not all strings
                column = self._columns[f] = self._safe_column(f)
                field = _Field(self._joinable(column, f))
            self._fields[f] = field
        return field

    @staticmethod
    def _joinable(column: list[Any], f: int) -> list[Any]:
        return list(map(_ITEM_SEP.join, column)) if f in _LISTS else column

    def _values(self, f: int) -> list[str]:
        """The strings field *f* is made of, in their original case."""
        self._field(f)  # makes sure the column holds strings
        return self._joinable(self._column(f), f)

    def _distinct(self, f: int) -> str:
        """The distinct keywords (or categories) of all entries, or the distinct words of a
        name or title field, lower-cased, as one text."""
        text = self._distinct_text[f]
        if text is None:
            self._field(f)  # makes sure the column holds strings
            values = set(chain.from_iterable(self._column(f))) if f in _LISTS else set(_WORD_RE.findall(self._field(f).text))
            text = self._distinct_text[f] = " \x00 ".join(values).lower()
        return text

    def _scan(self, f: int, term: str, whole_only: bool, hits: dict[int, int]) -> None:
        """Entries whose field *f* has a word equal to (2) or starting with (1) *term*, into *hits*."""
        field = self._field(f)
        text, starts = field.text, field.starts
        n, size = len(term), len(text)
        p = 0
        if n >= 4:  # str.find skips ahead by the word's length; Python checks the word boundaries
            find = text.find
            p = find(term)
            inside = 0
            while p != -1:
                if p == 0 or not text[p - 1].isalnum():
                    q = p + n
                    whole = q == size or not text[q].isalnum()
                    if whole or not whole_only:
                        i = bisect_right(starts, p) - 1
                        if whole:
                            hits[i] = 2
                            p = find(term, starts[i + 1])  # nothing better in this entry
                            continue
                        hits.setdefault(i, 1)
                else:
                    inside += 1
                    if inside > _INSIDE:  # mostly inside other words: the regex engine checks faster
                        break
                p = find(term, p + 1)
            else:
                return
        search = _prefix_pattern(term, whole_only).search
        m = search(text, p)
        while m:
            i = bisect_right(starts, m.start()) - 1
            if m.start(1) == m.end(1):
                hits[i] = 2
                m = search(text, starts[i + 1])
            else:
                hits.setdefault(i, 1)
                m = search(text, m.end())

    def _near_words(self, f: int, term: str, limit: int, hits: dict[int, int]) -> None:
        """Entries whose field *f* has a word within *limit* (1 or 2) edits of *term*, into
        *hits* as the smallest distance. The regexes list the few distinct words that could
        be that close, ``distance`` picks the near ones, which are then found like query words."""
        # Keywords repeat a lot; for names and titles the distinct words pay off once prepared (snapshot).
        text = self._distinct(f) if f in _LISTS or self._distinct_text[f] is not None else self._field(f).text
        candidates: set[str] = set()
        for pattern, piece in _near_patterns(term, limit):
            candidates.update("".join(groups[:-1]) + piece + groups[-1] for groups in set(pattern.findall(text)))
        candidates.discard(term)  # an exact match, found by _scan
        near = sorted((d, word) for word in candidates if (d := distance(term, word, limit)) <= limit)
        for d, word in near:
            found: dict[int, int] = {}
            self._scan(f, word, True, found)
            for i in found:
                hits.setdefault(i, d)

    @staticmethod
    def _field_score(f: int, kind: int) -> int:
        """kind: 2 whole word, 1 prefix, -1/-2 fuzzy at distance 1/2."""
        if f == _DESCRIPTION:
            return DESCRIPTION_WORD if kind == 2 else DESCRIPTION_PREFIX
        return WORD if kind == 2 else PREFIX if kind == 1 else FUZZY[-kind]

    def _term_everywhere(self, term: str) -> dict[int, list[int]]:
        """entry -> per-field score of *term*, over all entries."""
        scores: dict[int, list[int]] = {}
        limit = _limit(term)
        for f in range(len(FIELDS)):
            hits: dict[int, int] = {}
            self._scan(f, term, len(term) < _MIN_PREFIX[f], hits)
            if limit and f in _SHORT:
                near: dict[int, int] = {}
                self._near_words(f, term, limit, near)
                for i, d in near.items():
                    if i not in hits:
                        hits[i] = -d
            for i, kind in hits.items():
                row = scores.get(i)
                if row is None:
                    row = scores[i] = [0] * len(FIELDS)
                row[f] = self._field_score(f, kind)
        return scores

    def _term_within(self, term: str, candidates: Iterable[int]) -> dict[int, list[int]]:
        """entry -> per-field score of *term*, over *candidates* only."""
        limit = _limit(term)
        rows = {i: [0] * len(FIELDS) for i in candidates}
        for f in range(len(FIELDS)):
            pattern = _prefix_pattern(term, len(term) < _MIN_PREFIX[f])
            field = self._field(f)
            unmatched = []
            for i, row in rows.items():
                start, end = field.bounds(i)
                kind = 0
                for m in pattern.finditer(field.text, start, end):
                    kind = 2 if m.start(1) == m.end(1) else 1
                    if kind == 2:
                        break
                if kind:
                    row[f] = self._field_score(f, kind)
                elif limit and f in _SHORT:
                    unmatched.append(i)
            if unmatched:
                for i, d in self._near_within(f, term, limit, unmatched).items():
                    rows[i][f] = self._field_score(f, -d)
        return {i: row for i, row in rows.items() if any(row)}

    def _near_within(self, f: int, term: str, limit: int, entries: list[int]) -> dict[int, int]:
        """entry -> the smallest distance (at most *limit*) of a word of its field *f* to *term*,
        among *entries*. The distinct words of all their fields are measured once."""
        field = self._field(f)
        pieces = [field.text[slice(*field.bounds(i))] for i in entries]
        near = {}
        for word in set(_WORD_RE.findall(" ".join(pieces))):
            d = distance(term, word, limit)
            if d <= limit:
                near[word] = d
        found = {}
        if near:
            for i, piece in zip(entries, pieces, strict=True):
                if any(word in piece for word in near):
                    distances = [near[w] for w in _WORD_RE.findall(piece) if w in near]
                    if distances:
                        found[i] = min(distances)
        return found

    def _phrase(self, i: int, words: list[str], fields: int) -> bool:
        """Whether *words* are consecutive words (the last maybe a word's start) of entry *i*'s
        name, title, a keyword or a category, among *fields* (a bit mask)."""
        phrase = " " + " ".join(words)
        for k in _SHORT:
            if fields & (1 << k):
                field = self._field(k)
                start, end = field.bounds(i)
                parts = field.text[start:end].split(_ITEM_SEP) if k in _LISTS else [field.text[start:end]]
                if any(phrase in " " + " ".join(_WORD_RE.findall(part)) for part in parts):
                    return True
        return False

    # --- search ------------------------------------------------------------------------------

    def search(self, query: str, limit: int | None = 20) -> list[Hit]:
        """The best matches of *query*, best first, ties by pack name; at most *limit* (``None``: all)."""
        words = query_words(query)
        terms = list(dict.fromkeys(words))
        if not terms or not self.size or (limit is not None and limit <= 0):
            return []
        # Longest word first: usually the rarest, so the others have few entries left to check.
        order = sorted(terms, key=len, reverse=True)
        total: dict[int, int] = {}
        any_field: dict[int, int] = {}
        all_terms: dict[int, int] = {}
        for k, term in enumerate(order):
            if k == 0:
                scores = self._term_everywhere(term)
            elif len(total) <= _NARROW:
                scores = self._term_within(term, total)
            else:
                scores = self._term_everywhere(term)
            survivors = scores.keys() if k == 0 else scores.keys() & total.keys()
            new_total, new_any, new_all = {}, {}, {}
            for i in survivors:
                row = scores[i]
                matched = [s for s in row if s]
                mask = sum(1 << f for f, s in enumerate(row) if s)
                new_total[i] = total.get(i, 0) + max(matched) + ALSO * (len(matched) - 1)
                new_any[i] = any_field.get(i, 0) | mask
                new_all[i] = all_terms.get(i, -1) & mask
            total, any_field, all_terms = new_total, new_any, new_all
            if not total:
                return []
        wanted = " ".join(words)
        name_field = self._field(0)
        for i in total:
            if all_terms[i] & 1:  # every word matched the name: is it the name, or its start?
                start, end = name_field.bounds(i)
                name = " ".join(_WORD_RE.findall(name_field.text, start, end))
                if name == wanted:
                    total[i] += EXACT_NAME
                elif name.startswith(wanted):
                    total[i] += NAME_PREFIX
            if len(words) > 1 and all_terms[i] & 0b1111 and self._phrase(i, words, all_terms[i]):
                total[i] += PHRASE
        names = self._sort_names()
        ranked = sorted(total, key=lambda i: (-total[i], names[i], i))
        if limit is not None:
            ranked = ranked[:limit]
        return [self._hit(i, total[i], any_field[i]) for i in ranked]

    def _sort_names(self) -> list[str]:
        return self.names if self._display is not None else self._column(0)  # strings once the name field is built

    def _display_of(self, i: int) -> tuple[str, str, str]:
        """Entry *i*'s title, latest version and description, as shown."""
        if self._display is not None:
            versions, texts, starts = self._display
            title, description = (texts[f][starts[f][i]:starts[f][i + 1] - 1] for f in (1, _DESCRIPTION))
            return title or self.names[i], versions[i], description
        entry = self.entries[i] if isinstance(self.entries[i], Mapping) else {}
        return (_text(entry.get("name")) or _text(self.names[i]), _text(entry.get("latest_version")),
                _text(entry.get("description")))

    def _hit(self, i: int, score: int, mask: int) -> Hit:
        title, version, description = self._display_of(i)
        return Hit(name=self.names[i], title=title, score=score,
                   matched_fields=tuple(f for k, f in enumerate(FIELDS) if mask & (1 << k)),
                   trust=self.trusts[i], latest_version=version, description=description)


def search(entries: Iterable[tuple[str, Mapping[str, Any], str]] | SearchIndex, query: str, limit: int | None = 20) -> list[Hit]:
    """The best matches of *query* among *entries* (``(pack_name, index_entry, trust)``), best first,
    ties by pack name; at most *limit* (``None``: all)."""
    index = entries if isinstance(entries, SearchIndex) else SearchIndex(entries)
    return index.search(query, limit)
