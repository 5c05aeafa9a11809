import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry_tools.limits import Limits
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


# --- issue 15: bounded work and memory, a line and column for every error ------------------------------------------

def test_scalar_aliases_count_as_aliases():
    """An alias of a scalar is an alias: a file of `*a` repeated cannot slip past the alias cap."""
    few = "a: &a xxxxx\nb: [" + ", ".join(["*a"] * 20) + "]\n"
    assert parse(few).data["b"] == ["xxxxx"] * 20
    with pytest.raises(YamlError, match="too many YAML aliases") as info:
        parse("a: &a xxxxx\nb: [" + ", ".join(["*a"] * 21) + "]\n")
    assert info.value.mark is not None


def test_each_alias_counts_once_however_much_it_expands():
    """Expanding an aliased list is budgeted by values and characters, not by the alias cap."""
    text = "a: &a [" + ", ".join(f"&x{i} v{i}" for i in range(30)) + "]\nb: *a\nc: *a\n"
    assert parse(text).data["c"] == [f"v{i}" for i in range(30)]


def test_expanded_characters_are_capped():
    """A long scalar aliased a few times is refused once the expansion passes 4 x the file size cap."""
    limits = Limits(max_pack_file_bytes=1000)  # 4,000 expanded characters
    ok = "a: &a " + "x" * 600 + "\nb: [" + ", ".join(["*a"] * 5) + "]\n"
    assert len(parse(ok, limits).data["b"]) == 5
    with pytest.raises(YamlError, match="more than 4000 characters") as info:
        parse("a: &a " + "x" * 600 + "\nb: [" + ", ".join(["*a"] * 6) + "]\n", limits)
    assert info.value.mark == Mark(1, 4)


def test_the_77_kb_scalar_alias_file_of_issue_15_is_refused_quickly():
    text = "keywords: [&a " + "y" * 60_000 + ", " + ", ".join(["*a"] * 4000) + "]\n"
    with pytest.raises(YamlError, match="too many YAML aliases|document too large"):
        parse(text)


@pytest.mark.parametrize(("text", "mark"), [
    ("a: 1\ntitle: Gen\x07omics\n", Mark(2, 11)),
    ("a: 1\ntitle: \u00e9\u00e9 Gen\x1b]0;x\x07omics\n", Mark(2, 14)),  # columns count characters, not bytes
    ("a: 1\n\x7f: 2\n", Mark(2, 1)),
    ("a: \"x\x9by\"\n", Mark(1, 6)),
])
def test_control_characters_give_line_and_column(text, mark):
    with pytest.raises(YamlError, match=r"control character U\+00") as info:
        parse(text)
    assert info.value.mark == mark
    assert "position" not in info.value.message and "\n" not in info.value.message


def test_long_numbers_are_refused_before_conversion():
    with pytest.raises(YamlError, match="a number written with 5000 characters") as info:
        parse("a: 1\nb: " + "9" * 5000 + "\n")
    assert info.value.mark == Mark(2, 4) and info.value.rule == "value"
    assert parse("b: " + "9" * 100 + "\n").data["b"] == int("9" * 100)  # a finding later, with its line


@pytest.mark.parametrize(("text", "message"), [
    ("a: !!bool maybe\n", "cannot be read as '!!bool'"),
    ("a: !!int x\n", "cannot be read as '!!int'"),
    ("a: !!float [1, 2]\n", "'!!float' does not fit a list"),
    ("a: !!seq x\n", "'!!seq' does not fit a single value"),
    ("a: !!str {b: 1}\n", "'!!str' does not fit a mapping"),
    ("!!python/name:os.system x: 1\n", "unsupported YAML tag '!!python/name:os.system'"),
    ("a: !!binary aGVsbG8=\n", "unsupported YAML tag '!!binary'"),
    ("a: 1\n---\nb: 2\n", "expected a single document in the stream, but found another document"),
])
def test_odd_tags_and_documents_are_one_error_with_a_mark(text, message):
    with pytest.raises(YamlError) as info:
        parse(text)
    assert message in info.value.message
    assert info.value.mark is not None


def test_hostile_keys_are_shown_escaped():
    with pytest.raises(YamlError) as info:
        parse('"\\e[2J": 1\n"\\e[2J": 2\n')
    assert info.value.message == "duplicate key '\\x1b[2J'"


_YAMLISH = st.text(alphabet=st.sampled_from(list("ab1.: -[]{},&*!|>'\"#\n\t%@?~\\e") + ["\x1b", "\x85", "\u202e"]),
                   max_size=80)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_YAMLISH)
def test_any_text_parses_or_gives_one_error_with_a_mark(text):
    try:
        parse(text)
    except YamlError as exc:
        assert exc.mark is not None and exc.mark.line >= 1 and exc.mark.column >= 1, exc.message
        assert "\n" not in exc.message
