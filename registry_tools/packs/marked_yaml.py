"""Safe YAML parsing that remembers where every value came from.

``parse(text, filename)`` composes the document with PyYAML's safe loader,
then builds plain Python values while recording a ``Mark`` (line, column) for
every value and every mapping key, keyed by the value's path. Hostile input is
bounded in work and memory: nesting depth, the number of aliases (of scalars,
sequences and mappings alike), and the size of the document with every alias
expanded, counted both in values (``max_yaml_nodes``) and in characters
(``expanded_chars_cap``: 4 x ``max_pack_file_bytes``), so a small file of
aliases cannot become a huge document for the checks after it. Numbers are
at most ``MAX_NUMBER_CHARS`` characters long. Duplicate keys are errors
(PyYAML silently keeps the last one). Dates stay strings, so
``price_date: 2026-11-01`` is validated as text.

Every error is a ``YamlError`` with the line and column of the problem,
control characters included (PyYAML would say "position N").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from registry_tools.errors import ArwError
from registry_tools.limits import LIMITS, Limits
from registry_tools.packs.errors import safe_text

Path_ = tuple[Any, ...]


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based


class YamlError(ArwError):
    """Malformed or hostile YAML; carries the position of the problem."""

    def __init__(self, message: str, mark: Mark | None = None, rule: str = "yaml"):
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.rule = rule  # "yaml", or "value" for a number no JSON reader could hold


EXPANSION_FACTOR = 4  # aliases may grow a document to this many times the largest file allowed
MAX_NUMBER_CHARS = 100  # a longer int/float literal is refused before it is converted


def expanded_chars_cap(limits: Limits) -> int:
    """Characters of scalar text (keys included) a document may hold with every alias expanded."""
    return EXPANSION_FACTOR * limits.max_pack_file_bytes


# The characters YAML allows in a stream (YAML 1.1 "printable"); anything else is refused by the reader.
_NOT_YAML = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def position(text: str, index: int) -> Mark:
    """The line and column (1-based, lines as editors count them) of character *index* of *text*."""
    index = max(0, min(index, len(text)))
    start = text.rfind("\n", 0, index) + 1
    return Mark(text.count("\n", 0, index) + 1, index - start + 1)


def _describe(char: str) -> str:
    names = {"\t": "tab", "\x1b": "ESC", "\x7f": "DEL", "\x07": "BEL", "\x08": "backspace", "\x0c": "form feed",
             "\x0b": "vertical tab"}
    name = names.get(char)
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


@dataclass
class MarkedDocument:
    data: Any
    value_marks: dict[Path_, Mark] = field(default_factory=dict)
    key_marks: dict[Path_, Mark] = field(default_factory=dict)

    def mark_for(self, path: Path_, *, key: bool = False) -> Mark | None:
        """The mark of *path*, or of its closest ancestor that has one."""
        marks = self.key_marks if key else self.value_marks
        probe = tuple(path)
        while True:
            if probe in marks:
                return marks[probe]
            if key and probe in self.value_marks:
                return self.value_marks[probe]
            if not probe:
                return None
            probe = probe[:-1]


if TYPE_CHECKING:
    _BaseLoader = yaml.SafeLoader
else:  # libyaml's C parser when PyYAML was built with it; the same safe loader in pure Python otherwise
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SafeDateless(_BaseLoader):
    """Safe loader without the timestamp resolver (dates stay strings)."""


_Loader = SafeDateless
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


_ALLOWED_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
)
_SEQ_TAG, _MAP_TAG = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def parse(text: str, limits: Limits = LIMITS) -> MarkedDocument:
    """Parse one YAML document into Python values plus marks; raise ``YamlError`` (always with a mark)."""
    bad = _NOT_YAML.search(text)
    if bad:
        raise YamlError(f"invalid YAML: control character {_describe(bad.group())} is not allowed; remove it",
                        position(text, bad.start()))
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        problem_mark = exc.problem_mark or exc.context_mark
        mark = Mark(problem_mark.line + 1, problem_mark.column + 1) if problem_mark else position(text, len(text))
        what = exc.problem or exc.context or "malformed YAML"
        if exc.problem and exc.context and exc.problem.startswith("but "):  # "expected X, but found Y"
            what = f"{exc.context}, {exc.problem}"
        raise YamlError(f"invalid YAML: {what}", mark) from None
    except yaml.reader.ReaderError as exc:  # the scan above makes this unreachable; kept as a net
        # libyaml reports a byte offset in the UTF-8 text
        index = len(text.encode("utf-8")[: exc.position].decode("utf-8", "ignore"))
        raise YamlError(f"invalid YAML: {exc.reason}", position(text, index)) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                        position(text, 0)) from None
    finally:
        loader.dispose()
    doc = MarkedDocument(data=None)
    if node is None:
        return doc
    builder = _Builder(loader, doc, limits)
    doc.data = builder.build(node, (), 0)
    return doc


_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})


class _Builder:
    """Builds values from the composed node graph within the budgets of *limits*.

    The composer resolves an alias to the very node it names, so meeting a node a second time is an
    alias: the alias itself is counted once (however deep the aliased node goes), and every value and
    character under it counts again toward the expanded-size budgets.
    """

    def __init__(self, loader: yaml.SafeLoader, doc: MarkedDocument, limits: Limits):
        self.loader = loader
        self.doc = doc
        self.limits = limits
        self.nodes = 0
        self.chars = 0
        self.max_chars = expanded_chars_cap(limits)
        self.seen: set[int] = set()
        self.aliases = 0
        self.in_alias = 0  # > 0 while expanding an aliased node

    def _visit(self, node: yaml.Node) -> bool:
        """Count *node* against the budgets; True when it is an alias (met before)."""
        again = id(node) in self.seen
        if again and not self.in_alias:
            self.aliases += 1
            if self.aliases > self.limits.max_yaml_aliases:
                raise YamlError(f"too many YAML aliases (more than {self.limits.max_yaml_aliases})", _mark(node))
        self.seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            self.chars += len(node.value)
            if self.chars > self.max_chars:
                raise YamlError(f"document too large: with its aliases expanded it holds more than {self.max_chars} "
                                "characters", _mark(node))
        return again

    def build(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > self.limits.max_yaml_nodes:
            raise YamlError(f"document too large (more than {self.limits.max_yaml_nodes} values, aliases expanded)",
                            _mark(node))
        if depth > self.limits.max_yaml_depth:
            raise YamlError(f"nesting deeper than {self.limits.max_yaml_depth} levels", _mark(node))
        alias = self._visit(node)
        self.in_alias += alias
        try:
            return self._build(node, path, depth)
        finally:
            self.in_alias -= alias

    def _build(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.doc.value_marks.setdefault(path, _mark(node))
        if node.tag not in _ALLOWED_TAGS:
            raise YamlError(f"unsupported YAML tag {_shown_tag(node.tag)}", _mark(node))
        wanted = (_MAP_TAG if isinstance(node, yaml.MappingNode) else _SEQ_TAG if isinstance(node, yaml.SequenceNode)
                  else None)
        if wanted != node.tag and (wanted or node.tag in (_SEQ_TAG, _MAP_TAG)):  # e.g. `!!float [1, 2]`
            raise YamlError(f"YAML tag {_shown_tag(node.tag)} does not fit a "
                            f"{'mapping' if wanted == _MAP_TAG else 'list' if wanted else 'single value'}", _mark(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_CHARS:
            raise YamlError(f"a number written with {len(node.value)} characters (at most {MAX_NUMBER_CHARS}); "
                            "quote it if it is text", _mark(node), rule="value")
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise YamlError(f"invalid YAML value: {exc.problem}", _mark(node)) from None
        except (ValueError, ArithmeticError, LookupError, TypeError):  # e.g. `!!bool maybe`, `!!int x`
            raise YamlError(f"invalid YAML value: '{safe_text(str(node.value))}' cannot be read as "
                            f"{_shown_tag(node.tag)}", _mark(node)) from None

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError("YAML merge keys (<<) are not allowed", _mark(key_node))
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError("mapping keys must be plain scalars", _mark(key_node))
            if key_node.tag not in _ALLOWED_TAGS:
                raise YamlError(f"unsupported YAML tag {_shown_tag(key_node.tag)}", _mark(key_node))
            self._visit(key_node)
            key = self._scalar(key_node)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise YamlError(f"unsupported mapping key {str(key)[:60]!r}", _mark(key_node))
            if key in result:
                raise YamlError(f"duplicate key {_shown_key(key)}", _mark(key_node))
            self.doc.key_marks[(*path, key)] = _mark(key_node)
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result


def _shown_tag(tag: str) -> str:
    short = "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag
    return f"'{safe_text(short)}'"


def _shown_key(key: Any) -> str:
    return f"'{safe_text(key)}'" if isinstance(key, str) else repr(key)
