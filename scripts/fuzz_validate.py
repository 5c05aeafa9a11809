#!/usr/bin/env python3
"""Fuzz `registry validate --no-lint` with mutants of the real domain.yaml files.

    python scripts/fuzz_validate.py --mutants 10000          # what `make fuzz` runs
    python scripts/fuzz_validate.py --mutants 200 --seed 7 --save /tmp/fuzz-failures

A seeded mutator turns the repository's own domain.yaml files into hostile
ones: values replaced by huge, negative, NaN or infinite numbers, empty
values, control characters, escapes and very long strings; keys deleted,
duplicated or made non-text; types swapped; nested and scalar alias bombs;
deep nesting; tags, directives and extra documents; truncation, random byte
flips and broken UTF-8; files over the size limit. Each mutant is written
into a copy of its pack and checked by `validation.pipeline.validate` with
lint=False and no cache, the same code `registry validate --no-lint` runs,
then rendered in every report format; a mutant that validates without
errors is also turned into an index (`dist.index`) as `registry build`
would, which must be strict JSON that matches `registry.schema.json`.

A mutant fails when:
- an exception escapes (any, with its traceback),
- a finding has no line and its rule is not one of the file-level rules
  (`validation.findings.FILE_LEVEL_RULES`: whole-file problems and absent
  things), or a parse error (ARW002) has no column or is not alone,
- a message is longer than 1,000 characters or holds a control character,
- a report format or the index is not strict JSON,
- one validation takes more than --max-cpu seconds of CPU, or the process
  peaks at more than --max-memory-mb while validating one mutant.

Memory is measured per validation: on Linux as the process's resident peak
(VmHWM, reset before each validation through /proc/self/clear_refs: C
allocations included, no overhead), elsewhere with tracemalloc (Python
allocations only, slower). `--worst-cases` measures the hostile files the
YAML reader's budgets allow (alias bombs under and over them, long strings,
wide lists, files full of errors) instead of mutants.

Prints a summary (or JSON with --json); exits 1 when any mutant failed.
Deterministic: the same --seed and --mutants give the same mutants.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
import tracemalloc
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MAX_MESSAGE = 1000
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# --- what mutants are made of ------------------------------------------------------------------

NUMBERS = [
    "9" * 16, str(2**53 - 1), str(2**53), str(2**53 + 1), "9" * 20, "-" + "9" * 40, "9" * 100, "9" * 101,
    "9" * 309, "9" * 400, "9" * 5000, "-1", "0", "-0", "-0.0", "1e308", "1e309", "-1e999", "1e-400",
    "4.9e-324", ".nan", ".NaN", ".NAN", ".inf", "-.inf", "+.Inf", "0x" + "f" * 40, "0x" + "f" * 200,
    "0o777", "0b" + "1" * 90, "1_000_000", "1:30:00", "190:20:30.15", "1" + ":59" * 60, "3.", ".5",
    "1e5", "-744", "745", "744.0001", "16385", "7", "0.0000001", "12345678901234567890.5",
]
EMPTY = ["", '""', "''", "~", "null", "Null", "[]", "{}", "[[]]", "[{}]", "{a: }", "-"]
BOOLS = ["yes", "no", "on", "off", "true", "False", "y", "n"]
TEXT = [
    '"\\e]0;pwned\\a"', '"\\x1b[2J\\x1b[H"', '"\\u202eevil"', '"a\\nb"', '"tab\\there"', '"\\0"', '"\\x85"',
    '"\\u2028"', '"\\u2066x\\u2069"', '"\\r"', '"\\x7f"', '"\\x9b31m"', "'it''s'", '"\\ud800"', '"\\U0010ffff"',
    "\u202eevil", "caf\u00e9", "\u05e9\u05dc\u05d5\u05dd", "\U0001f9ec genome", "\ufeffbom", "\u200bzero",
    "ab\u2028cd", "Gen\u0085omics", "x" * 100, "x" * 1000, "0" * 80, "a@b", "a@" + "." * 3000 + "@",
    "s3://" + "a" * 70, "https://" + "a" * 3000, "r7i." + "x" * 500, "1.2.3-" + "1" * 3000 + "!",
    "9" * 5000 + ".0.0", "samtools=" + "1" * 2000 + "!",
]
DATES = ["2026-13-45", "2026-11-01T00:00:00Z", "2001-12-14t21:59:43.10-05:00", "20261101"]
SYNTAX = [
    "&a x", "*undefined", "!!binary aGVsbG8=", "!!python/object/apply:os.system ['true']", "!!set {a, b}",
    "!!timestamp 2001-12-14", "!custom x", "!!int x", "!!float abc", "!!str 1", "!!map {}", "!!omap [a: 1]",
    "? complex", "|", ">", "|-\n  block\n  text", ">+\n  folded\n\n", '"unterminated', "'unterminated",
    "[unterminated", "{unterminated", "a: b: c", "- - -", "%TAG ! tag:x,2000:", "@reserved", "`reserved",
    "{a: 1, a: 2}", "[1, [2, [3]]]", "{? [a]: b}", "<<: *a", "*a", "&a", "&a &b x", "!! x", "! x",
    "{a: 1}: b", "[a]: b", "\t- tab", "--- x", "... x", "#comment", "x #comment", "'a\n\n b'",
]
VALUES = NUMBERS + EMPTY + BOOLS + TEXT + DATES + SYNTAX
KEYS = ["1", "true", "null", "~", "1.5", ".nan", "0x10", '"\\e[2J"', '"\\u202e"', "? [a]", "? {a: 1}", "<<",
        "!!python/name:os.system", "&k name", "*k", '"x' + "y" * 300 + '"', "'licence'", "Name", "name ", "-"]
INSERTS = list("{}[],:&*!|>'\"%@`#-?\t\r\n\\") + ["\x00", "\x1b", "\x07", "\x85", "\u2028", "\ufeff", "\u202e",
                                                   ": ", "- ", "\n  ", "\n- ", "&a ", "*a ", "!!str ", "---\n"]

_KEY_VALUE = re.compile(r"^(\s*(?:- )?)([A-Za-z_][\w-]*):[ \t]+(\S.*)$")
_ITEM = re.compile(r"^(\s*- )(\S.*)$")
_KEY_LINE = re.compile(r"^(\s*(?:- )?)([A-Za-z_][\w-]*):")


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _pick(rng: random.Random, lines: list[str], pattern: re.Pattern) -> int | None:
    sites = [i for i, line in enumerate(lines) if pattern.match(line)]
    return rng.choice(sites) if sites else None


def _value(rng: random.Random) -> str:
    return rng.choice(VALUES)


def m_replace_value(rng, text):
    lines = _lines(text)
    i = _pick(rng, lines, _KEY_VALUE)
    if i is None:
        return text
    m = _KEY_VALUE.match(lines[i])
    lines[i] = f"{m.group(1)}{m.group(2)}: {_value(rng)}"
    return "\n".join(lines)


def m_replace_number(rng, text):
    lines = _lines(text)
    sites = [i for i, line in enumerate(lines) if re.match(r"^\s*[\w-]+:\s+-?[0-9.]+\s*$", line)]
    if not sites:
        return text
    i = rng.choice(sites)
    key = lines[i].split(":", 1)[0]
    lines[i] = f"{key}: {rng.choice(NUMBERS)}"
    return "\n".join(lines)


def m_replace_item(rng, text):
    lines = _lines(text)
    i = _pick(rng, lines, _ITEM)
    if i is not None and rng.random() < 0.6:
        lines[i] = f"{_ITEM.match(lines[i]).group(1)}{_value(rng)}"
        return "\n".join(lines)
    flows = [i for i, line in enumerate(lines) if re.search(r"\[[^\]]+\]\s*$", line)]
    if not flows:
        return text
    i = rng.choice(flows)
    head, _, inner = lines[i].rpartition("[")
    items = inner.rstrip().rstrip("]").split(",")
    items[rng.randrange(len(items))] = " " + rng.choice(VALUES).replace("\n", " ")
    lines[i] = f"{head}[{','.join(items)}]"
    return "\n".join(lines)


def m_text_value(rng, text):
    """A control character, escape or odd Unicode in a name, title, description or maintainer."""
    lines = _lines(text)
    sites = [i for i, line in enumerate(lines)
             if re.match(r"^\s*(?:- )?(name|title|description|github|email|use_case|notes|command):\s+\S", line)]
    if not sites:
        return text
    i = rng.choice(sites)
    key, _, value = lines[i].partition(":")
    value = value.strip().strip('"')
    evil = rng.choice(["\\e]0;pwned\\a", "\\x1b[2J", "\\u202e", "\\n", "\\t", "\\0", "\\x9b", "\\u2066", "\\r"])
    at = rng.randrange(len(value) + 1)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    lines[i] = f'{key}: "{escaped[:at]}{evil}{escaped[at:]}"'
    return "\n".join(lines)


def m_delete_lines(rng, text):
    lines = _lines(text)
    i = rng.randrange(len(lines))
    del lines[i:i + rng.choice([1, 1, 1, 2, 3, 5])]
    return "\n".join(lines)


def m_duplicate_line(rng, text):
    lines = _lines(text)
    i = _pick(rng, lines, _KEY_LINE)
    if i is None:
        return text
    lines.insert(i + 1, lines[i] if rng.random() < 0.7 else lines[rng.randrange(len(lines))])
    return "\n".join(lines)


def m_swap_lines(rng, text):
    lines = _lines(text)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def m_reindent(rng, text):
    lines = _lines(text)
    i = rng.randrange(len(lines))
    delta = rng.choice([-4, -2, -1, 1, 2, 4])
    lines[i] = " " * max(0, len(lines[i]) - len(lines[i].lstrip(" ")) + delta) + lines[i].lstrip(" ")
    return "\n".join(lines)


def m_type_swap(rng, text):
    lines = _lines(text)
    i = _pick(rng, lines, _KEY_LINE)
    if i is None:
        return text
    m = _KEY_LINE.match(lines[i])
    indent = len(m.group(1))
    end = i + 1
    while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent):
        end += 1
    pad = " " * (indent + 2)
    new = rng.choice([
        [f"{m.group(1)}{m.group(2)}: {_value(rng)}"],
        [f"{m.group(1)}{m.group(2)}:", f"{pad}- {_value(rng)}", f"{pad}- {_value(rng)}"],
        [f"{m.group(1)}{m.group(2)}:", f"{pad}x: {_value(rng)}"],
        [f"{m.group(1)}{m.group(2)}: [{', '.join(rng.choice(NUMBERS + BOOLS) for _ in range(3))}]"],
        [f"{m.group(1)}{m.group(2)}: {{{m.group(2)}: {m.group(2)}}}"],
    ])
    lines[i:end] = new
    return "\n".join(lines)


def m_key(rng, text):
    lines = _lines(text)
    i = _pick(rng, lines, _KEY_LINE)
    if i is None:
        return text
    m = _KEY_LINE.match(lines[i])
    lines[i] = m.group(1) + rng.choice(KEYS) + ":" + lines[i][m.end():]
    return "\n".join(lines)


def _value_site(rng, text, body: str) -> str:
    """*body* (one line, no newline) as the value of a random key, or a new top-level field."""
    lines = _lines(text)
    i = _pick(rng, lines, _KEY_VALUE)
    if i is None or rng.random() < 0.25:
        return text.rstrip("\n") + f"\n{rng.choice(['changelog', 'keywords', 'extra'])}: {body}\n"
    m = _KEY_VALUE.match(lines[i])
    lines[i] = f"{m.group(1)}{m.group(2)}: {body}"
    return "\n".join(lines)


def m_nested_alias_bomb(rng, text):
    levels, fan = rng.randint(2, 12), rng.randint(2, 12)
    parts = ["&b0 [" + ", ".join(["lol"] * fan) + "]"]
    parts += [f"&b{n} [" + ", ".join([f"*b{n - 1}"] * fan) + "]" for n in range(1, levels)]
    body = "[" + ", ".join(parts) + "]"
    if rng.random() < 0.5:  # the classic layout: one key per level
        head = "\n".join(f"bomb{n}: {part}" for n, part in enumerate(parts))
        return text.rstrip("\n") + "\n" + head + f"\nchangelog: *b{levels - 1}\n"
    return _value_site(rng, text, body)


def m_scalar_alias_bomb(rng, text):
    length = rng.choice([10, 100, 1000, 10_000, 60_000, 200_000])
    count = rng.choice([5, 20, 21, 100, 3000, 20_000])
    anchor = "&s " + "y" * length
    body = "[" + anchor + ", " + ", ".join(["*s"] * count) + "]"
    return _value_site(rng, text, body)


def m_many_aliases(rng, text):
    """Legitimate-looking reuse: anchor a value, alias it elsewhere (a few or too many times)."""
    lines = _lines(text)
    sites = [i for i, line in enumerate(lines) if _KEY_VALUE.match(line)]
    if len(sites) < 2:
        return text
    first = rng.choice(sites)
    m = _KEY_VALUE.match(lines[first])
    lines[first] = f"{m.group(1)}{m.group(2)}: &v {m.group(3)}"
    for i in rng.sample(sites, min(len(sites), rng.choice([1, 3, 25]))):
        if i != first:
            m = _KEY_VALUE.match(lines[i])
            lines[i] = f"{m.group(1)}{m.group(2)}: *v"
    return "\n".join(lines)


def m_deep(rng, text):
    depth = rng.choice([5, 19, 21, 25, 200, 999, 1001, 5000])
    body = rng.choice(["[" * depth + "]" * depth, "{a: " * depth + "1" + "}" * depth, "[" * depth])
    return _value_site(rng, text, body)


def m_wide(rng, text):
    n = rng.choice([100, 1000, 19_999, 20_001, 60_000])
    item = rng.choice(["1", "x", "{}", "[]", "{a: 1}", "s3://bucket/x", ".nan", '"\\e"'])
    return _value_site(rng, text, "[" + ", ".join([item] * n) + "]")


def m_many_keys(rng, text):
    n = rng.choice([50, 1000, 25_000])
    return _value_site(rng, text, "{" + ", ".join(f"k{i}: {i}" for i in range(n)) + "}")


def m_long_string(rng, text):
    length = rng.choice([1000, 10_000, 100_000, 250_000])
    char = rng.choice(["x", "a ", "\u00e9", ".", "9", "@", "\U0001f9ec"])
    return _value_site(rng, text, (char * length)[:length])


def m_pad_huge(rng, text):
    return text + "# pad\n" * (256 * 1024 // 6 + rng.randint(1, 100))


def m_truncate(rng, text):
    return text[: rng.randrange(len(text) + 1)]


def m_documents(rng, text):
    return rng.choice([
        "%YAML 1.1\n---\n" + text, "%YAML 1.1\n%YAML 1.1\n---\n" + text, "%YAML 2.0\n---\n" + text,
        text + "\n---\nx: 1\n", text + "\n...\n", "---\n" + text + "\n...\n---\n", "--- !!map\n" + text,
        "%TAG !e! tag:example.com,2000:\n---\n" + text, "", "\n\n", "# only a comment\n", "---\n", "[]\n",
        "just a string\n", "42\n", "- a\n- b\n", "~\n",
    ])


def m_tags(rng, text):
    lines = _lines(text)
    i = _pick(rng, lines, _KEY_VALUE)
    if i is None:
        return text
    m = _KEY_VALUE.match(lines[i])
    tag = rng.choice(["!!str", "!!int", "!!float", "!!bool", "!!null", "!!binary", "!!timestamp", "!!set", "!!seq",
                      "!!map", "!!python/str", "!!python/tuple", "!local", "!<tag:yaml.org,2002:str>", "!e!x"])
    lines[i] = f"{m.group(1)}{m.group(2)}: {tag} {m.group(3)}"
    return "\n".join(lines)


def m_insert(rng, text):
    for _ in range(rng.randint(1, 5)):
        at = rng.randrange(len(text) + 1)
        text = text[:at] + rng.choice(INSERTS) + text[at:]
    return text


def m_line_endings(rng, text):
    return rng.choice([text.replace("\n", "\r\n"), text.replace("\n", "\r"), text.replace("  ", "\t"),
                       text.replace("\n", "\u2028"), text.replace("\n", "\x85"), "\ufeff" + text,
                       text.replace(": ", ":\t")])


def m_byte_flips(rng, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 3, 8, 32])):
        if not out:
            break
        i = rng.randrange(len(out))
        out[i] = rng.choice([0, 0x07, 0x1B, 0x7F, 0x80, 0x85, 0xC0, 0xED, 0xFE, 0xFF, rng.randrange(256)])
    return bytes(out)


def m_bad_utf8(rng, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x80", b"\x00",
                                   b"\xef\xbb\xbf", b"\xc2\x85"]) + data[at:]


TEXT_MUTATORS = {
    "replace_value": (m_replace_value, 10), "replace_number": (m_replace_number, 10),
    "replace_item": (m_replace_item, 6), "text_value": (m_text_value, 8), "delete_lines": (m_delete_lines, 6),
    "duplicate_line": (m_duplicate_line, 5), "swap_lines": (m_swap_lines, 3), "reindent": (m_reindent, 4),
    "type_swap": (m_type_swap, 6), "key": (m_key, 5), "nested_alias_bomb": (m_nested_alias_bomb, 3),
    "scalar_alias_bomb": (m_scalar_alias_bomb, 3), "many_aliases": (m_many_aliases, 3), "deep": (m_deep, 2),
    "wide": (m_wide, 2), "many_keys": (m_many_keys, 1), "long_string": (m_long_string, 2),
    "pad_huge": (m_pad_huge, 1), "truncate": (m_truncate, 4), "documents": (m_documents, 2), "tags": (m_tags, 3),
    "insert": (m_insert, 5), "line_endings": (m_line_endings, 2),
}
BYTE_MUTATORS = {"byte_flips": (m_byte_flips, 5), "bad_utf8": (m_bad_utf8, 2)}
COMBO_WEIGHT = 6


def mutate(rng: random.Random, original: bytes) -> tuple[str, bytes]:
    """One mutant of *original*: (the mutation's name, the new file)."""
    table = {**{k: v for k, v in TEXT_MUTATORS.items()}, **BYTE_MUTATORS, "combo": (None, COMBO_WEIGHT)}
    names = list(table)
    name = rng.choices(names, weights=[table[n][1] for n in names])[0]
    if name == "combo":
        data = original
        for _ in range(rng.randint(2, 4)):
            step = rng.choice(list(TEXT_MUTATORS) + list(BYTE_MUTATORS))
            data = _apply(rng, step, data)
        return name, data
    return name, _apply(rng, name, original)


def _apply(rng: random.Random, name: str, data: bytes) -> bytes:
    if name in BYTE_MUTATORS:
        return BYTE_MUTATORS[name][0](rng, data)
    text = data.decode("utf-8", "surrogateescape")
    return TEXT_MUTATORS[name][0](rng, text).encode("utf-8", "surrogateescape")


# --- worst cases for memory (what the bound is asserted on) ------------------------------------

def worst_cases(base: str, max_bytes: int = 256 * 1024) -> dict[str, str]:
    """Hostile domain.yaml files of at most *max_bytes*, built on *base*: each pushes one budget of the
    YAML reader to its limit (just under it, or over it) or makes the schema report as much as it can."""
    room = max_bytes - len(base.encode()) - 200
    no_keywords = base.replace("keywords:", "old_keywords:")
    nested = "\n".join([f"bomb0: &b0 [{', '.join(['lol'] * 9)}]"] + [
        f"bomb{n}: &b{n} [{', '.join([f'*b{n - 1}'] * 9)}]" for n in range(1, 9)])
    unknown, i = [], 0
    while sum(map(len, unknown)) < room:
        unknown.append(f"k{i}: {i}\n")
        i += 1
    cases = {
        "nested alias bomb (billion laughs)": base + nested + "\nchangelog: *b8\n",
        "nested aliases just under the value budget": base.replace("changelog:", "old_changelog:")
            + "b0: &b0 [" + ", ".join(["lol"] * 990) + "]\nchangelog: [" + ", ".join(["*b0"] * 19) + "]\n",
        "scalar aliases just under the character budget": no_keywords + "keywords: [&s " + "y" * 49_000 + ", "
            + ", ".join(["*s"] * 20) + "]\n",
        "scalar alias bomb over the character budget": no_keywords + "keywords: [&s " + "y" * (room - 100) + ", "
            + ", ".join(["*s"] * 20) + "]\n",
        "scalar alias bomb (77 KB, issue 15)": no_keywords + "keywords: [&a " + "y" * 60_000 + ", "
            + ", ".join(["*a"] * ((77_000 - 60_000 - len(base)) // 4)) + "]\n",
        "many anchors aliased once each": base.replace("changelog:", "old_changelog:") + "changelog: ["
            + ", ".join(f"&a{i} {'z' * 4000}, *a{i}" for i in range(room // 4020)) + "]\n",
        "one long string": base.replace("title:", "old_title:") + "title: " + "x" * room + "\n",
        "many long strings with errors": no_keywords + "keywords: [" + ", ".join(["X" * 60] * (room // 62)) + "]\n",
        "wide list": no_keywords + "keywords: [" + "1," * (room // 2) + "1]\n",
        "wide list of mappings": no_keywords + "keywords: [" + "{a: 1}," * (room // 7) + "{}]\n",
        "deep nesting": base + "extra: " + "[" * 20 + "]" * 20 + "\n",
        "many unknown keys": base + "".join(unknown[:-1]),
        "many bad numbers": no_keywords + "keywords: [" + ".nan, " * (room // 6) + ".nan]\n",
        "many control characters": no_keywords + "keywords: [" + '"\\e", ' * (room // 6) + '"\\e"]\n',
    }
    for name, text in cases.items():
        assert len(text.encode()) <= max_bytes, (name, len(text.encode()))
    return cases


# --- measuring ---------------------------------------------------------------------------------

class PeakMemory:
    """The memory peak of a block: resident (Linux) or traced by tracemalloc (elsewhere, or when asked)."""

    def __init__(self, method: str = "auto"):
        self.startup_peak = self._status("VmHWM") if os.path.exists("/proc/self/status") else 0
        if method == "auto":
            method = "rss" if self._can_reset_rss() else "tracemalloc"
        self.method = method
        if method == "tracemalloc":
            tracemalloc.start()

    @staticmethod
    def _can_reset_rss() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return PeakMemory._status("VmHWM") > 0
        except OSError:
            return False

    @staticmethod
    def _status(field: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        return 0

    @contextlib.contextmanager
    def measure(self):
        """Yields a dict that holds, after the block, "peak" (bytes, absolute: the process's RSS or the
        traced total) and "growth" (the peak minus what was in use before)."""
        out = {"peak": 0, "growth": 0}
        if self.method == "rss":
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # VmHWM := VmRSS
            before = self._status("VmRSS")
        else:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
        try:
            yield out
        finally:
            peak = self._status("VmHWM") if self.method == "rss" else tracemalloc.get_traced_memory()[1]
            out.update(peak=peak, growth=max(0, peak - before))

    def process_peak(self, largest_measured: int) -> int:
        """The process's resident peak in bytes. With "rss", the largest VmHWM seen (at start-up and in
        each measured block: clear_refs resets it). Otherwise getrusage's ru_maxrss, which on Linux keeps
        the peak of the process that forked this one before its exec (a large test runner shows)."""
        if self.method == "rss":
            return max(self.startup_peak, largest_measured, self._status("VmHWM"))
        return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, largest_measured)

    def close(self) -> None:
        if self.method == "tracemalloc":
            tracemalloc.stop()


# --- running mutants ---------------------------------------------------------------------------

class CpuLimit(BaseException):
    """One validation used more CPU time than allowed."""


def _on_cpu_limit(signum, frame):
    raise CpuLimit()


@contextlib.contextmanager
def cpu_limit(seconds: float):
    """Interrupt the block after *seconds* of CPU time (main thread, POSIX); no limit when 0."""
    if not seconds or not hasattr(signal, "setitimer"):
        yield
        return
    previous = signal.signal(signal.SIGPROF, _on_cpu_limit)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def _strict_json(text: str):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


class Fuzzer:
    def __init__(self, domains: Path, work: Path, *, max_cpu: float = 10.0, max_memory_mb: float = 300.0,
                 memory: PeakMemory | None = None):
        from registry_tools.packs.repository import discover

        self.tree = work / "domains"
        shutil.copytree(domains, self.tree, symlinks=True)
        self.version_dirs = [path for source in discover(self.tree) for _, path in source.versions]
        if not self.version_dirs:
            raise SystemExit(f"no packs under {domains}")
        self.originals = {d: (d / "domain.yaml").read_bytes() for d in self.version_dirs}
        self.max_cpu = max_cpu
        self.max_memory = max_memory_mb * 1024 * 1024
        self.memory = memory or PeakMemory()

    def check(self, version_dir: Path, data: bytes) -> dict:
        """Validate *data* as *version_dir*'s domain.yaml; what happened, with every failure."""
        from registry_tools.validation.findings import FILE_LEVEL_RULES
        from registry_tools.validation.pipeline import validate

        target = version_dir / "domain.yaml"
        target.write_bytes(data)
        failures: list[str] = []
        report = None
        started = time.process_time()
        with self.memory.measure() as memory:
            try:
                with cpu_limit(self.max_cpu):
                    report = validate([version_dir], lint=False, cache=None)
            except CpuLimit:
                failures.append(f"validation took more than {self.max_cpu} s of CPU")
            except Exception:  # noqa: BLE001 - every escaping exception is what we look for
                failures.append("traceback:\n" + traceback.format_exc())
        cpu = time.process_time() - started
        if memory["peak"] > self.max_memory:
            failures.append(f"validation peaked at {memory['peak'] / 2**20:.0f} MB ({self.memory.method})")
        result = {"cpu": cpu, "peak": memory["peak"], "growth": memory["growth"], "rules": [], "errors": 0,
                  "failures": failures}
        if report is None:
            return result
        result["rules"] = [f.rule for f in report.findings]
        result["errors"] = report.errors
        parse_errors = [f for f in report.findings if f.rule == "ARW002"]
        if parse_errors and (len(parse_errors) > 1 or not all(f.line and f.column for f in parse_errors)):
            failures.append(f"a parse error is not one finding with line and column: {parse_errors}")
        for f in report.findings:
            if not f.line and f.rule not in FILE_LEVEL_RULES:
                failures.append(f"finding without a line: {f}")
            if len(f.message) > MAX_MESSAGE:
                failures.append(f"message of {len(f.message)} characters: {f.message[:200]}...")
            if _UNSAFE.search(f.message):
                failures.append(f"message with a control character: {f.message[:200]!r}")
        try:
            self._render(report)
            if not report.errors:
                self._index(version_dir)
        except Exception:  # noqa: BLE001
            failures.append("traceback while rendering or indexing:\n" + traceback.format_exc())
        return result

    @staticmethod
    def _render(report) -> None:
        from registry_tools.validation import formats

        _strict_json(formats.to_json(report))
        _strict_json(formats.to_sarif(report, "fuzz"))
        formats.to_github(report)
        for f in report.findings:
            str(f)

    @staticmethod
    def _index(version_dir: Path) -> None:
        """What `registry build` writes for a pack that validated: strict JSON matching the registry schema."""
        from registry_tools.build.builder import check_index
        from registry_tools.dist.index import BuiltRelease, build_index, to_json
        from registry_tools.packs.loader import load_pack, load_validated_pack

        pack = load_validated_pack(version_dir)
        if pack != load_pack(version_dir):
            raise AssertionError("the build reads this domain.yaml differently from validation")
        index = build_index([BuiltRelease(pack, f"{pack.name}-{pack.version}.tar.gz", "0" * 64, 1, 0, None)],
                            serial=1, last_updated=0, expires=86400)
        check_index(index)
        _strict_json(to_json(index).decode("utf-8"))

    def restore(self, version_dir: Path) -> None:
        (version_dir / "domain.yaml").write_bytes(self.originals[version_dir])


def run(mutants: int, seed: int, *, domains: Path, max_cpu: float, max_memory_mb: float, save: Path | None,
        memory_method: str = "auto", progress=None) -> dict:
    rng = random.Random(seed)
    kinds: Counter = Counter()
    kind_cpu: Counter = Counter()
    rules: Counter = Counter()
    failed: list[dict] = []
    clean = with_errors = 0
    max_cpu_seen = max_peak = max_growth = 0.0
    slowest = ""
    memory = PeakMemory(memory_method)
    started = time.process_time()
    with tempfile.TemporaryDirectory(prefix="arw-fuzz-") as work:
        fuzzer = Fuzzer(domains, Path(work), max_cpu=max_cpu, max_memory_mb=max_memory_mb, memory=memory)
        for n in range(mutants):
            version_dir = rng.choice(fuzzer.version_dirs)
            kind, data = mutate(rng, fuzzer.originals[version_dir])
            kinds[kind] += 1
            result = fuzzer.check(version_dir, data)
            fuzzer.restore(version_dir)
            rules.update(result["rules"])
            kind_cpu[kind] += result["cpu"]
            with_errors += bool(result["errors"])
            clean += not result["errors"] and not result["failures"]
            if result["cpu"] > max_cpu_seen:
                max_cpu_seen, slowest = result["cpu"], kind
            max_peak = max(max_peak, result["peak"])
            max_growth = max(max_growth, result["growth"])
            if result["failures"]:
                entry = {"mutant": n, "kind": kind, "pack": f"{version_dir.parent.name}/{version_dir.name}",
                         "failures": result["failures"]}
                if save:
                    save.mkdir(parents=True, exist_ok=True)
                    path = save / f"mutant-{seed}-{n}-{kind}.yaml"
                    path.write_bytes(data)
                    entry["saved"] = str(path)
                failed.append(entry)
            if progress and (n + 1) % 1000 == 0:
                progress(f"{n + 1} mutants, {len(failed)} failed")
    memory.close()
    return {
        "mutants": mutants, "seed": seed, "failed": len(failed),
        "tracebacks": sum(1 for f in failed for x in f["failures"] if x.startswith("traceback")),
        "without_line": sum(1 for f in failed for x in f["failures"] if x.startswith("finding without a line")),
        "validated_clean": clean, "with_errors": with_errors,
        "cpu_seconds": round(time.process_time() - started, 2), "max_cpu_per_mutant": round(max_cpu_seen, 3),
        "slowest_kind": slowest, "memory_method": memory.method,
        "max_peak_mb_per_validation": round(max_peak / 2**20, 1),
        "max_growth_mb_per_validation": round(max_growth / 2**20, 1),
        "process_max_rss_mb": round(memory.process_peak(max_peak) / 2**20, 1),
        "kinds": dict(sorted(kinds.items())),
        "cpu_by_kind": {k: round(v, 2) for k, v in sorted(kind_cpu.items(), key=lambda kv: -kv[1])}, "rules": dict(sorted(rules.items())), "failures": failed[:50],
    }


def measure_worst_cases(domains: Path, max_bytes: int = 256 * 1024, memory_method: str = "auto") -> dict[str, dict]:
    """Each worst case validated once: CPU time, memory peak (absolute) and growth, the rules it gave."""
    from registry_tools.validation.pipeline import validate

    results = {}
    memory = PeakMemory(memory_method)
    with tempfile.TemporaryDirectory(prefix="arw-worst-") as work:
        fuzzer = Fuzzer(domains, Path(work), memory=memory)
        version_dir = next(d for d in fuzzer.version_dirs if d.parent.name == "genomics")
        validate([version_dir], lint=False, cache=None)  # warm: schema, price table, imports
        base = fuzzer.originals[version_dir].decode()
        for name, text in worst_cases(base, max_bytes).items():
            (version_dir / "domain.yaml").write_text(text)
            started = time.process_time()
            with memory.measure() as used:
                report = validate([version_dir], lint=False, cache=None)
            results[name] = {"bytes": len(text.encode()), "cpu": round(time.process_time() - started, 3),
                             "peak_mb": round(used["peak"] / 2**20, 1), "growth_mb": round(used["growth"] / 2**20, 1),
                             "rules": sorted({f.rule for f in report.findings})}
    memory.close()
    largest = max((r["peak_mb"] for r in results.values()), default=0.0)
    results["(process)"] = {"method": memory.method,
                            "max_rss_mb": round(memory.process_peak(int(largest * 2**20)) / 2**20, 1)}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutants", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--domains", type=Path, default=REPO / "domains")
    parser.add_argument("--max-cpu", type=float, default=10.0, help="CPU seconds one validation may take")
    parser.add_argument("--max-memory-mb", type=float, default=300.0,
                        help="memory peak the process may reach while validating one mutant")
    parser.add_argument("--memory", choices=["auto", "rss", "tracemalloc"], default="auto",
                        help="how to measure it: resident peak (Linux) or tracemalloc (default: rss when possible)")
    parser.add_argument("--save", type=Path, help="write failing mutants here")
    parser.add_argument("--worst-cases", action="store_true", help="measure the memory worst cases instead")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    if args.worst_cases:
        results = measure_worst_cases(args.domains, memory_method=args.memory)
        if args.json:
            print(json.dumps(results, indent=2))
        else:
            for name, r in results.items():
                print(f"{name}: {r}")
        return 0
    summary = run(args.mutants, args.seed, domains=args.domains, max_cpu=args.max_cpu,
                  max_memory_mb=args.max_memory_mb, save=args.save, memory_method=args.memory,
                  progress=None if args.json else (lambda m: print(m, file=sys.stderr, flush=True)))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{summary['mutants']} mutants (seed {summary['seed']}): {summary['failed']} failed, "
              f"{summary['tracebacks']} traceback(s), {summary['without_line']} finding(s) without a line; "
              f"{summary['with_errors']} with errors, {summary['validated_clean']} without")
        print(f"CPU {summary['cpu_seconds']} s in all, at most {summary['max_cpu_per_mutant']} s for one mutant "
              f"({summary['slowest_kind']}); memory ({summary['memory_method']}): one validation peaked at "
              f"{summary['max_peak_mb_per_validation']} MB at most (+{summary['max_growth_mb_per_validation']} MB), "
              f"the process at {summary['process_max_rss_mb']} MB")
        print("mutations: " + ", ".join(f"{k} {v}" for k, v in summary["kinds"].items()))
        print("findings:  " + ", ".join(f"{k} {v}" for k, v in summary["rules"].items()))
        for failure in summary["failures"]:
            print(f"\nmutant {failure['mutant']} ({failure['kind']}, {failure['pack']}"
                  f"{', saved to ' + failure['saved'] if 'saved' in failure else ''}):")
            for line in failure["failures"]:
                print("  " + line.replace("\n", "\n  "))
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
