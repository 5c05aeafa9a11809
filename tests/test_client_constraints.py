"""Version constraints: every accepted form, the pre-release rule, errors, and properties of best_match."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry_tools.client.constraints import (
    Constraint,
    ConstraintError,
    best_match,
    parse_constraint,
)
from registry_tools.packs.semver import Version


def v(text: str) -> Version:
    return Version.parse(text)


def allowed(constraint: str, versions: list[str], include_prerelease: bool = False) -> list[str]:
    parsed = parse_constraint(constraint)
    return [text for text in versions if parsed.allows(v(text), include_prerelease=include_prerelease)]


VERSIONS = ["0.0.1", "0.0.3", "0.0.4", "0.1.0", "0.2.2", "0.2.3", "0.2.9", "0.3.0", "1.0.0", "1.1.0", "1.1.5",
            "1.2.0", "1.2.3", "1.2.9", "1.3.0", "1.4.2", "1.4.3", "1.9.9", "2.0.0", "2.1.0", "10.0.0"]


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ("1.2.0", ["1.2.0"]),
        ("=1.2.0", ["1.2.0"]),
        ("==1.2.0", ["1.2.0"]),
        ("v1.2.0", ["1.2.0"]),
        ("^1.2.3", ["1.2.3", "1.2.9", "1.3.0", "1.4.2", "1.4.3", "1.9.9"]),
        ("^1.2", ["1.2.0", "1.2.3", "1.2.9", "1.3.0", "1.4.2", "1.4.3", "1.9.9"]),
        ("^1", ["1.0.0", "1.1.0", "1.1.5", "1.2.0", "1.2.3", "1.2.9", "1.3.0", "1.4.2", "1.4.3", "1.9.9"]),
        ("^0.2.3", ["0.2.3", "0.2.9"]),
        ("^0.0.3", ["0.0.3"]),
        ("^0.0", ["0.0.1", "0.0.3", "0.0.4"]),
        ("^0", ["0.0.1", "0.0.3", "0.0.4", "0.1.0", "0.2.2", "0.2.3", "0.2.9", "0.3.0"]),
        ("~1.2", ["1.2.0", "1.2.3", "1.2.9"]),
        ("~1.2.3", ["1.2.3", "1.2.9"]),
        ("~1", ["1.0.0", "1.1.0", "1.1.5", "1.2.0", "1.2.3", "1.2.9", "1.3.0", "1.4.2", "1.4.3", "1.9.9"]),
        ("~0.2", ["0.2.2", "0.2.3", "0.2.9"]),
        (">=1.9", ["1.9.9", "2.0.0", "2.1.0", "10.0.0"]),
        (">1.1", ["1.1.5", "1.2.0", "1.2.3", "1.2.9", "1.3.0", "1.4.2", "1.4.3", "1.9.9", "2.0.0", "2.1.0", "10.0.0"]),
        ("<0.1", ["0.0.1", "0.0.3", "0.0.4"]),
        ("<=0.2.3", ["0.0.1", "0.0.3", "0.0.4", "0.1.0", "0.2.2", "0.2.3"]),
        (">=1.1,<2", ["1.1.0", "1.1.5", "1.2.0", "1.2.3", "1.2.9", "1.3.0", "1.4.2", "1.4.3", "1.9.9"]),
        (">=1.4, <=1.4.2", ["1.4.2"]),
        (">= 1.2.3 , < 1.3", ["1.2.3", "1.2.9"]),
        ("^1.2,!=1.3.0,<1.4.3", ["1.2.0", "1.2.3", "1.2.9", "1.4.2"]),
        ("1.2.*", ["1.2.0", "1.2.3", "1.2.9"]),
        ("1.*", ["1.0.0", "1.1.0", "1.1.5", "1.2.0", "1.2.3", "1.2.9", "1.3.0", "1.4.2", "1.4.3", "1.9.9"]),
        ("0.2.*", ["0.2.2", "0.2.3", "0.2.9"]),
        ("*", VERSIONS),
        ("latest", VERSIONS),
        (">=2,<1", []),
    ],
)
def test_each_form_allows_exactly(constraint, expected):
    assert allowed(constraint, VERSIONS) == expected


def test_not_equal_excludes_one_version():
    assert allowed("!=1.3.0", VERSIONS) == [x for x in VERSIONS if x != "1.3.0"]


def test_build_metadata_is_ignored_when_matching():
    assert parse_constraint("1.2.0").allows(v("1.2.0+build.7"))
    assert not parse_constraint("!=1.2.0").allows(v("1.2.0+build.7"))


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("1.2.0", "1.2.0"),
        ("=1.2.0", "1.2.0"),
        ("==1.2.0", "1.2.0"),
        ("v1.2.0", "1.2.0"),
        ("^1.2", "^1.2"),
        ("^v1.2.3", "^1.2.3"),
        ("^0.0", "^0.0"),
        ("~1.2", "~1.2"),
        (">=1.1", ">=1.1.0"),
        (">1.1", ">1.1.0"),
        ("<2", "<2.0.0"),
        (" >= 1.1 , < 2 ", ">=1.1.0,<2.0.0"),
        ("!=1.3.0", "!=1.3.0"),
        ("1.2.*", "1.2.*"),
        ("v1.*", "1.*"),
        ("*", "*"),
        ("latest", "*"),
        ("*,>=1", ">=1.0.0"),
        ("^1.2.3-beta.2", "^1.2.3-beta.2"),
        (">=1.0.0-rc.1", ">=1.0.0-rc.1"),
    ],
)
def test_str_is_normalised_and_reparses_to_the_same_constraint(text, normalised):
    constraint = parse_constraint(text)
    assert str(constraint) == normalised
    assert parse_constraint(str(constraint)) == constraint


# --- pre-releases --------------------------------------------------------------------

PRE = ["1.2.3-alpha", "1.2.3-beta.2", "1.2.3-beta.4", "1.2.3", "1.2.4-beta", "1.3.0-rc.1", "1.3.0", "2.0.0-rc.1",
       "2.0.0"]


@pytest.mark.parametrize(
    ("constraint", "expected", "expected_with_prerelease"),
    [
        ("^1.2.3", ["1.2.3", "1.3.0"], ["1.2.3", "1.2.4-beta", "1.3.0-rc.1", "1.3.0"]),
        ("^1.2.3-beta.2", ["1.2.3-beta.2", "1.2.3-beta.4", "1.2.3", "1.3.0"],
         ["1.2.3-beta.2", "1.2.3-beta.4", "1.2.3", "1.2.4-beta", "1.3.0-rc.1", "1.3.0"]),
        ("1.3.0-rc.1", ["1.3.0-rc.1"], ["1.3.0-rc.1"]),
        (">=1.3.0-rc.1", ["1.3.0-rc.1", "1.3.0", "2.0.0"], ["1.3.0-rc.1", "1.3.0", "2.0.0-rc.1", "2.0.0"]),
        ("<2", ["1.2.3", "1.3.0"], ["1.2.3-alpha", "1.2.3-beta.2", "1.2.3-beta.4", "1.2.3", "1.2.4-beta", "1.3.0-rc.1",
                                    "1.3.0", "2.0.0-rc.1"]),
        ("1.*", ["1.2.3", "1.3.0"], ["1.2.3-alpha", "1.2.3-beta.2", "1.2.3-beta.4", "1.2.3", "1.2.4-beta",
                                     "1.3.0-rc.1", "1.3.0"]),
        ("~1.3", ["1.3.0"], ["1.3.0"]),
        ("*", ["1.2.3", "1.3.0", "2.0.0"], PRE),
        ("!=1.3.0-rc.1", ["1.2.3", "1.3.0", "2.0.0"], [x for x in PRE if x != "1.3.0-rc.1"]),
    ],
)
def test_prereleases_need_to_be_named_or_included(constraint, expected, expected_with_prerelease):
    assert allowed(constraint, PRE) == expected
    assert allowed(constraint, PRE, include_prerelease=True) == expected_with_prerelease


def test_caret_never_reaches_the_next_majors_prereleases():
    assert not parse_constraint("^1.2").allows(v("2.0.0-alpha"), include_prerelease=True)
    assert not parse_constraint("~1.2").allows(v("1.3.0-0"), include_prerelease=True)
    assert not parse_constraint("1.2.*").allows(v("1.3.0-alpha"), include_prerelease=True)


def test_best_match_picks_the_highest_allowed():
    versions = [v(x) for x in PRE]
    assert best_match(versions, parse_constraint("^1.2")) == v("1.3.0")
    assert best_match(versions, parse_constraint("^1.2"), include_prerelease=True) == v("1.3.0")
    assert best_match(versions, parse_constraint("<1.3"), include_prerelease=True) == v("1.3.0-rc.1")
    assert best_match(versions, parse_constraint("latest")) == v("2.0.0")
    assert best_match(versions, parse_constraint("1.2.3-beta.2")) == v("1.2.3-beta.2")
    assert best_match(versions, parse_constraint(">=1.3.0-rc.1,<1.3.0")) == v("1.3.0-rc.1")
    assert best_match(versions, parse_constraint("^3")) is None
    assert best_match([], parse_constraint("*")) is None
    assert best_match(iter(versions), parse_constraint("~1.2")) == v("1.2.3")  # any iterable


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("1.2", "'1.2' is not a full version; write 1.2.0 for exactly that version, 1.2.* for any of it"),
        ("=1", "'=1' is not a full version; write 1.0.0"),
        ("abc", "'abc' is not a version"),
        ("1.x", "'1.x' is not a version"),
        ("01.2.0", "'01.2.0' is not a version"),
        ("1.2.3.4", "'1.2.3.4' is not a version"),
        ("^", "has an operator but no version"),
        (">=", "has an operator but no version"),
        ("~>1.2", "'~>' is not supported"),
        ("~=1.2", "'~=' is not supported"),
        (">=1.1 <2", "is not a version; join conditions with commas"),
        ("1.2.0,", r"empty part \(a stray comma\?\)"),
        (",1.2.0", "empty part"),
        ("1.2.0+build.1", r"has build metadata \(\+build.1\)"),
        ("^1.2||^2", r"alternatives \('\|\|'\) are not supported"),
        ("=>1.2", "'=>1.2' is not a version"),
        ("1.2.*.*", "not a version"),
        ("^1.2-beta", "not a version"),
        ("x" * 300, "longer than 256 characters"),
    ],
)
def test_invalid_constraints_say_what_and_give_examples(text, reason):
    with pytest.raises(ConstraintError, match=reason) as caught:
        parse_constraint(text)
    message = str(caught.value)
    assert "e.g. 1.2.0, ^1.2" in message
    if len(text) <= 256:
        assert repr(text) in message


def test_non_text_is_refused():
    with pytest.raises(ConstraintError, match="must be text"):
        parse_constraint(None)  # type: ignore[arg-type]


def test_constraint_error_is_a_value_error():
    assert issubclass(ConstraintError, ValueError)


# --- properties ----------------------------------------------------------------------

small = st.integers(min_value=0, max_value=3)
prerelease = st.sampled_from([(), (), (), ("alpha",), ("beta", "2"), ("rc", "1"), ("0",)])
versions = st.builds(Version, small, small, small, prerelease)


@st.composite
def constraint_texts(draw) -> str:
    def part() -> str:
        numbers = [draw(small) for _ in range(draw(st.integers(min_value=1, max_value=3)))]
        text = ".".join(map(str, numbers))
        if len(numbers) == 3 and draw(st.booleans()):
            text += "-" + ".".join(draw(prerelease) or ("rc", "1"))
        return text

    def term() -> str:
        kind = draw(st.sampled_from(["^", "~", ">=", ">", "<", "<=", "!=", "=", "", "wild", "*"]))
        if kind == "*":
            return draw(st.sampled_from(["*", "latest"]))
        if kind == "wild":
            return ".".join(str(draw(small)) for _ in range(draw(st.integers(1, 2)))) + ".*"
        text = part()
        if kind in ("=", "") and text.count(".") < 2:
            text += ".0" * (2 - text.count("."))
        return kind + text

    return ",".join(term() for _ in range(draw(st.integers(min_value=1, max_value=3))))


@given(st.lists(versions, max_size=25), constraint_texts(), st.booleans())
def test_best_match_is_allowed_and_nothing_allowed_is_higher(candidates, text, include_prerelease):
    constraint = parse_constraint(text)
    best = best_match(candidates, constraint, include_prerelease=include_prerelease)
    permitted = [c for c in candidates if constraint.allows(c, include_prerelease=include_prerelease)]
    if best is None:
        assert permitted == []
    else:
        assert best in candidates
        assert constraint.allows(best, include_prerelease=include_prerelease)
        assert not any(c > best for c in permitted)


@given(constraint_texts(), st.lists(versions, max_size=15))
def test_normalised_text_means_the_same(text, candidates):
    constraint = parse_constraint(text)
    again = parse_constraint(str(constraint))
    assert str(again) == str(constraint)
    assert isinstance(again, Constraint)
    for candidate in candidates:
        for include in (False, True):
            assert again.allows(candidate, include) == constraint.allows(candidate, include)


@given(versions, st.booleans())
def test_include_prerelease_only_widens(version, _unused):
    for text in ["^1.2", "~1", "<2", ">=0.1", "1.*", "*", "^1.2.3-rc.1", "!=1.0.0"]:
        constraint = parse_constraint(text)
        if constraint.allows(version):
            assert constraint.allows(version, include_prerelease=True)
        if not version.prerelease:
            assert constraint.allows(version) == constraint.allows(version, include_prerelease=True)


@given(st.tuples(small, small, small), versions)
def test_caret_and_tilde_match_their_explicit_ranges_for_releases(parts, version):
    major, minor, patch = parts
    base = f"{major}.{minor}.{patch}"
    caret_upper = f"{major + 1}.0.0" if major else (f"0.{minor + 1}.0" if minor else f"0.0.{patch + 1}")
    pairs = [(f"^{base}", f">={base},<{caret_upper}"), (f"~{base}", f">={base},<{major}.{minor + 1}.0"),
             (f"{major}.{minor}.*", f">={major}.{minor}.0,<{major}.{minor + 1}.0")]
    if not version.prerelease:
        for sugar, explicit in pairs:
            assert parse_constraint(sugar).allows(version) == parse_constraint(explicit).allows(version), sugar
