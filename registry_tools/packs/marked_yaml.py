"""Safe YAML parsing that remembers where every value came from.

``parse(text, filename)`` composes the document with PyYAML's safe loader,
then builds plain Python values while recording a ``Mark`` (line, column) for
every value and every mapping key, keyed by the value's path. Hostile input is
bounded: nesting depth, alias count and expanded node count are capped, and
duplicate keys are errors (PyYAML silently keeps the last one). Dates stay
strings, so ``price_date: 2026-11-01`` is validated as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from registry_tools.config import LIMITS, Limits

Path_ = tuple[Any, ...]


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based


class YamlError(Exception):
    """Malformed or hostile YAML; carries the position of the problem."""

    def __init__(self, message: str, mark: Mark | None = None):
        super().__init__(message)
        self.message = message
        self.mark = mark


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


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~10x faster


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


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def parse(text: str, limits: Limits = LIMITS) -> MarkedDocument:
    """Parse one YAML document into Python values plus marks."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        problem_mark = exc.problem_mark or exc.context_mark
        mark = Mark(problem_mark.line + 1, problem_mark.column + 1) if problem_mark else None
        what = exc.problem or exc.context or "malformed YAML"
        raise YamlError(f"invalid YAML: {what}", mark) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    doc = MarkedDocument(data=None)
    if node is None:
        return doc
    builder = _Builder(loader, doc, limits)
    doc.data = builder.build(node, (), 0)
    return doc


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, doc: MarkedDocument, limits: Limits):
        self.loader = loader
        self.doc = doc
        self.limits = limits
        self.nodes = 0
        self.seen: set[int] = set()
        self.aliases = 0

    def build(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.nodes += 1
        if isinstance(node, yaml.CollectionNode):
            # the composer resolves an alias to the node it names: meeting a node twice is an alias
            if id(node) in self.seen:
                self.aliases += 1
                if self.aliases > self.limits.max_yaml_aliases:
                    raise YamlError(f"too many YAML aliases (more than {self.limits.max_yaml_aliases})", _mark(node))
            self.seen.add(id(node))
        if self.nodes > self.limits.max_yaml_nodes:
            raise YamlError(f"document too large (more than {self.limits.max_yaml_nodes} values)", _mark(node))
        if depth > self.limits.max_yaml_depth:
            raise YamlError(f"nesting deeper than {self.limits.max_yaml_depth} levels", _mark(node))
        self.doc.value_marks.setdefault(path, _mark(node))
        if node.tag not in _ALLOWED_TAGS:
            raise YamlError(f"unsupported YAML tag {node.tag!r}", _mark(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise YamlError(f"invalid YAML value: {exc.problem}", _mark(node)) from None

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError("YAML merge keys (<<) are not allowed", _mark(key_node))
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError("mapping keys must be plain scalars", _mark(key_node))
            key = self.loader.construct_object(key_node)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise YamlError(f"unsupported mapping key {key!r}", _mark(key_node))
            if key in result:
                raise YamlError(f"duplicate key {key!r}", _mark(key_node))
            self.doc.key_marks[(*path, key)] = _mark(key_node)
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result
