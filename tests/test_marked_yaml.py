import pytest

from registry_tools.config import Limits
from registry_tools.packs.marked_yaml import Mark, YamlError, parse


def test_values_and_keys_carry_line_and_column():
    doc = parse("a: 1\nsizes:\n  small:\n    vcpus: 4\nlist:\n  - x\n  - y\n")
    assert doc.data == {"a": 1, "sizes": {"small": {"vcpus": 4}}, "list": ["x", "y"]}
    assert doc.value_marks[("sizes", "small", "vcpus")] == Mark(4, 12)
    assert doc.key_marks[("sizes", "small", "vcpus")] == Mark(4, 5)
    assert doc.value_marks[("list", 1)] == Mark(7, 5)
    # unknown paths fall back to the closest ancestor
    assert doc.mark_for(("sizes", "small", "missing")) == Mark(4, 5)


def test_dates_stay_strings():
    assert parse("d: 2026-11-01\n").data == {"d": "2026-11-01"}


def test_duplicate_keys_are_errors():
    with pytest.raises(YamlError, match="duplicate key 'a'") as info:
        parse("a: 1\nb: 2\na: 3\n")
    assert info.value.mark == Mark(3, 1)


def test_malformed_yaml_reports_position():
    with pytest.raises(YamlError, match="invalid YAML") as info:
        parse("a: [1, 2\nb: 3\n")
    assert info.value.mark is not None and info.value.mark.line >= 2


def test_alias_bomb_is_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    with pytest.raises(YamlError, match="aliases|too large"):
        parse(bomb)


def test_node_expansion_is_capped_even_with_few_aliases():
    text = "a: &a [" + ", ".join(["1"] * 50) + "]\nb: [" + ", ".join(["*a"] * 10) + "]\n"
    with pytest.raises(YamlError, match="too large"):
        parse(text, Limits(max_yaml_nodes=300))


def test_depth_is_capped():
    deep = "a: " + "[" * 30 + "]" * 30 + "\n"
    with pytest.raises(YamlError, match="nesting deeper"):
        parse(deep)


def test_merge_keys_and_python_tags_are_refused():
    with pytest.raises(YamlError, match="merge keys"):
        parse("base: &b {x: 1}\nother:\n  <<: *b\n")
    with pytest.raises(YamlError):
        parse("x: !!python/object/apply:os.system ['true']\n")
