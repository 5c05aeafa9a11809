"""Ranked search over registry index entries. Pure, stdlib only, no I/O.

``search(entries, query)`` takes ``(pack_name, entry, trust)`` triples, where
``entry`` is a pack entry of the index (``name`` = title, ``description``,
``categories``, ``keywords``, ``latest_version``), and returns the best
``Hit``s, highest score first, ties by pack name.

Matching is case-insensitive on words: runs of letters and digits, so ``_``,
``-`` and punctuation separate words (``climate modeling`` finds
``climate_modeling``). Every query word must match somewhere (AND); each
word scores its best match and the words' scores add up:

* the whole query is the pack name: ``EXACT_NAME``; the start of it: ``NAME_PREFIX``;
* a whole word of the name, title, a keyword or a category: ``WORD``;
  the start of such a word (query words of 2+ characters): ``PREFIX``;
* within Damerau-Levenshtein (optimal string alignment) distance 1 of such a
  word for query words of 4+ characters, distance 2 from 8 characters:
  ``FUZZY``; typos are looked for in these short fields only, not in the
  description prose, where they would mostly find unrelated words;
* a whole description word: ``DESCRIPTION_WORD``; the start of one (3+
  characters): ``DESCRIPTION_PREFIX``;
* ``ALSO`` for each further field the word matches, and ``PHRASE`` when a
  query of several words appears as consecutive words of one field.

Speed: nothing is tokenized per entry. Each field of all entries is joined
into one lower-cased text; a query word is found with ``str.find`` (or the
regex engine when the substring is very frequent), a hit mapped to its entry
by bisecting the entries' offsets, and the rest of that entry skipped once
the best kind of match is found. Typos are looked up once per query word
among the distinct words of the short fields (built on first use): every
distance-1 spelling is generated and intersected with them as sets; for
distance 2 only words of plausible length that contain an unedited third of
the query word are compared, with a banded, early-exit distance. After the
most selective query word, the other words are only checked in the entries
still in the running. ``SearchIndex`` keeps this preparation for repeated
queries over the same entries.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import accumulate, chain, repeat
from operator import add, itemgetter

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
# A fuzzy word set larger than this is looked up with one regex pass instead of str.find per word.
_MANY_WORDS = 6

_WORD_RE = re.compile(r"[^\W_]+")
_ALPHANUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_ASCII_SEPARATORS = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})
_SEP = "\x00"  # between entries in a field text; never part of a word


@dataclass(frozen=True)
class Hit:
    name: str  # pack name
    title: str
    score: int
    matched_fields: tuple[str, ...]  # in FIELDS order
    trust: str
    latest_version: str
    description: str


def query_words(query: str) -> list[str]:
    """The words of *query*, lower-cased, in order (duplicates kept)."""
    return _WORD_RE.findall(query.lower())


def _text(value) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _word_list(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return [_text(v) for v in value]
    return []


def _tokens(text: str) -> list[str]:
    """Words of an already lower-cased text."""
    return text.translate(_ASCII_SEPARATORS).split() if text.isascii() else _WORD_RE.findall(text)


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
        return la or lb if (la or lb) <= limit else limit + 1
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


def _edits1(word: str, alphabet: str) -> set[str]:
    """Every string at optimal-string-alignment distance 1 of *word* (and *word* itself)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {left + right[1:] for left, right in splits if right}
    out.update(left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1)
    out.update(left + c + right[1:] for left, right in splits if right for c in alphabet)
    out.update(left + c + right for left, right in splits for c in alphabet)
    return out


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
        self.starts = list(accumulate(map(add, map(len, values), repeat(1)), initial=0))

    def entry_at(self, pos: int) -> int:
        return bisect_right(self.starts, pos) - 1

    def bounds(self, i: int) -> tuple[int, int]:
        return self.starts[i], self.starts[i + 1] - 1


def _prefix_pattern(term: str, whole_only: bool) -> re.Pattern:
    """A word starting with *term* (group 1: the rest of the word). The literal comes first
    so the regex engine can skip ahead to it; the look-behind checks the word start."""
    t = re.escape(term)
    return re.compile(rf"{t}(?<![^\W_]{t})" + (r"()(?![^\W_])" if whole_only else r"([^\W_]*)"))


@dataclass
class _Query:
    words: list[str]  # as typed, lower-cased
    terms: list[str]  # distinct, in order


class SearchIndex:
    """Entries prepared for searching; build once and call ``search`` for each query."""

    def __init__(self, entries: Iterable[tuple[str, Mapping, str]]):
        rows = entries if isinstance(entries, list | tuple) else list(entries)
        self.size = len(rows)
        self.names, self.entries, self.trusts = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [])
        self._columns: list[list | None] = [None] * len(FIELDS)
        self._fields: list[_Field | None] = [None] * len(FIELDS)
        self._vocabulary: set[str] | None = None
        self._by_length: dict[int, list[str]] | None = None
        self._alphabet = _ALPHANUM

    # --- preparation -------------------------------------------------------------------------

    def _column(self, f: int) -> list:
        """Field *f* of every entry: a string, or a list of strings for keywords and categories."""
        column = self._columns[f]
        if column is None:
            column = self._columns[f] = self._fast_column(f) or self._safe_column(f)
        return column

    def _fast_column(self, f: int) -> list | None:
        """The column straight from well-formed entries (C-level loops only), else None."""
        try:
            column = list(self.names) if f == 0 else list(map(itemgetter(_KEYS[f]), self.entries))
        except (KeyError, TypeError):
            return None
        if f in _LISTS:
            if set(map(type, column)) <= {list, tuple} and set(map(type, chain.from_iterable(column))) <= {str}:
                return column
        elif set(map(type, column)) <= {str}:
            return column
        return None

    def _safe_column(self, f: int) -> list:
        if f == 0:
            return [_text(n) for n in self.names]
        convert = _word_list if f in _LISTS else _text
        return [convert(e.get(_KEYS[f])) if isinstance(e, Mapping) else convert(None) for e in self.entries]

    def _field(self, f: int) -> _Field:
        field = self._fields[f]
        if field is None:
            values = self._column(f)
            if f in _LISTS:
                values = list(map(" ".join, values))
            field = _Field(values)
            if field.text.count(_SEP) != len(values) - 1:  # a NUL inside a value: it must not split entries
                field = _Field([v.replace(_SEP, " ") for v in values])
            self._fields[f] = field
        return field

    def vocabulary(self) -> set[str]:
        """Distinct words of the names, titles, keywords and categories."""
        if self._vocabulary is None:
            keywords = " ".join(set(chain.from_iterable(self._column(2))) | set(chain.from_iterable(self._column(3))))
            words = set(_tokens(keywords.lower()))
            for f in (0, 1):
                words.update(_tokens(self._field(f).text))
            self._vocabulary = words
            extra = {c for w in words if not w.isascii() for c in w if not c.isascii()}
            self._alphabet = _ALPHANUM + "".join(sorted(extra))
        return self._vocabulary

    def _words_of_length(self, n: int) -> list[str]:
        if self._by_length is None:
            by_length: dict[int, list[str]] = {}
            for word in self.vocabulary():
                by_length.setdefault(len(word), []).append(word)
            self._by_length = by_length
        return self._by_length.get(n, [])

    # --- matching ----------------------------------------------------------------------------

    def fuzzy_words(self, term: str) -> dict[str, int]:
        """Vocabulary words at distance 1..max of *term* (max 1 from 4 characters, 2 from 8) -> distance."""
        n = len(term)
        if n < _MIN_FUZZY:
            return {}
        vocabulary = self.vocabulary()
        if n < _MIN_FUZZY_2:
            found = _edits1(term, self._alphabet) & vocabulary
            found.discard(term)
            return dict.fromkeys(found, 1)
        # Distance 2: cut the term into three pieces with one character between them; an edit
        # touches at most one piece, so one piece survives whole in any word within distance 2.
        p = (n - 2) // 3
        pieces = (term[:p], term[p + 1:2 * p + 1], term[2 * p + 2:])
        out = {}
        for length in range(n - 2, n + 3):
            for word in self._words_of_length(length):
                if (pieces[0] in word or pieces[1] in word or pieces[2] in word) and word != term:
                    d = distance(term, word, 2)
                    if d <= 2:
                        out[word] = d
        return out

    def _scan(self, f: int, term: str, whole_only: bool, hits: dict[int, int]) -> None:
        """Entries whose field *f* has a word equal to (2) or starting with (1) *term*, into *hits*."""
        field = self._field(f)
        text, starts = field.text, field.starts
        n, size = len(term), len(text)
        if text.count(term) <= self.size:
            find = text.find
            p = find(term)
            while p != -1:
                if p == 0 or not text[p - 1].isalnum():
                    q = p + n
                    whole = q == size or not text[q].isalnum()
                    if whole or not whole_only:
                        i = bisect_right(starts, p) - 1
                        if whole:
                            hits[i] = 2
                            p = find(term, starts[i + 1])
                            continue
                        hits.setdefault(i, 1)
                p = find(term, p + 1)
        else:  # a frequent substring: let the regex engine check word boundaries
            search = _prefix_pattern(term, whole_only).search
            m = search(text)
            while m:
                i = bisect_right(starts, m.start()) - 1
                if m.start(1) == m.end(1):
                    hits[i] = 2
                    m = search(text, starts[i + 1])
                else:
                    hits.setdefault(i, 1)
                    m = search(text, m.end())

    def _scan_words(self, f: int, words: dict[str, int], hits: dict[int, int]) -> None:
        """Entries whose field *f* has one of *words* (-> distance), into *hits* as the lowest distance."""
        field = self._field(f)
        text, starts, size = field.text, field.starts, len(field.text)
        if len(words) > _MANY_WORDS:
            alternatives = "|".join(rf"{re.escape(w)}(?<![^\W_]{re.escape(w)})"
                                    for w in sorted(words, key=len, reverse=True))
            for m in re.finditer(rf"(?:{alternatives})(?![^\W_])", text):
                i = bisect_right(starts, m.start()) - 1
                d = words[m.group()]
                if d < hits.get(i, 99):
                    hits[i] = d
            return
        for word, d in words.items():
            n, find = len(word), text.find
            p = find(word)
            while p != -1:
                q = p + n
                if (p == 0 or not text[p - 1].isalnum()) and (q == size or not text[q].isalnum()):
                    i = bisect_right(starts, p) - 1
                    if d < hits.get(i, 99):
                        hits[i] = d
                    p = find(word, starts[i + 1])
                else:
                    p = find(word, p + 1)

    @staticmethod
    def _field_score(f: int, kind: int) -> int:
        """kind: 2 whole word, 1 prefix, -1/-2 fuzzy at distance 1/2."""
        if f == _DESCRIPTION:
            return DESCRIPTION_WORD if kind == 2 else DESCRIPTION_PREFIX
        return WORD if kind == 2 else PREFIX if kind == 1 else FUZZY[-kind]

    def _term_everywhere(self, term: str) -> dict[int, list[int]]:
        """entry -> per-field score of *term*, over all entries."""
        scores: dict[int, list[int]] = {}
        fuzzy = self.fuzzy_words(term)
        for f in range(len(FIELDS)):
            hits: dict[int, int] = {}
            self._scan(f, term, len(term) < _MIN_PREFIX[f], hits)
            if fuzzy and f in _SHORT:
                near: dict[int, int] = {}
                self._scan_words(f, fuzzy, near)
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
        patterns = [_prefix_pattern(term, len(term) < _MIN_PREFIX[f]) for f in range(len(FIELDS))]
        fields = [self._field(f) for f in range(len(FIELDS))]
        limit = 0 if len(term) < _MIN_FUZZY else 1 if len(term) < _MIN_FUZZY_2 else 2
        known: dict[str, int] = {}
        scores: dict[int, list[int]] = {}
        for i in candidates:
            row = [0] * len(FIELDS)
            for f, field in enumerate(fields):
                start, end = field.bounds(i)
                kind = 0
                for m in patterns[f].finditer(field.text, start, end):
                    kind = 2 if m.start(1) == m.end(1) else 1
                    if kind == 2:
                        break
                if not kind and limit and f in _SHORT:
                    best = limit + 1
                    for word in _WORD_RE.findall(field.text, start, end):
                        d = known.get(word)
                        if d is None:
                            d = known[word] = distance(term, word, limit)
                        if d < best:
                            best = d
                    if best <= limit:
                        kind = -best
                if kind:
                    row[f] = self._field_score(f, kind)
            if any(row):
                scores[i] = row
        return scores

    def _phrase(self, i: int, words: list[str], fields: int) -> bool:
        phrase = " ".join(words)
        for f in _SHORT:
            if fields & (1 << f):
                start, end = self._field(f).bounds(i)
                parts = self._column(f)[i] if f in _LISTS else [self._field(f).text[start:end]]
                if any(phrase in " ".join(_WORD_RE.findall(p.lower())) for p in parts):
                    return True
        return False

    # --- search ------------------------------------------------------------------------------

    def search(self, query: str, limit: int | None = 20) -> list[Hit]:
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
        for i in total:
            if all_terms[i] & 1:  # every word matched the name: is it the name, or its start?
                name = " ".join(_WORD_RE.findall(self._field(0).text[slice(*self._field(0).bounds(i))]))
                if name == wanted:
                    total[i] += EXACT_NAME
                elif name.startswith(wanted):
                    total[i] += NAME_PREFIX
            if len(words) > 1 and all_terms[i] & 0b1111 and self._phrase(i, words, all_terms[i]):
                total[i] += PHRASE
        names = self._column(0)
        ranked = sorted(total, key=lambda i: (-total[i], names[i], i))
        if limit is not None:
            ranked = ranked[:limit]
        return [self._hit(i, total[i], any_field[i]) for i in ranked]

    def _hit(self, i: int, score: int, mask: int) -> Hit:
        entry = self.entries[i] if isinstance(self.entries[i], Mapping) else {}
        return Hit(
            name=self.names[i],
            title=_text(entry.get("name")) or _text(self.names[i]),
            score=score,
            matched_fields=tuple(f for k, f in enumerate(FIELDS) if mask & (1 << k)),
            trust=self.trusts[i],
            latest_version=_text(entry.get("latest_version")),
            description=_text(entry.get("description")),
        )


def search(entries: Iterable[tuple[str, Mapping, str]] | SearchIndex, query: str, limit: int | None = 20) -> list[Hit]:
    """The best matches of *query* among *entries* (``(pack_name, index_entry, trust)``), best first,
    ties by pack name; at most *limit* (``None``: all)."""
    index = entries if isinstance(entries, SearchIndex) else SearchIndex(entries)
    return index.search(query, limit)
