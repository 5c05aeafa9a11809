import pytest

from registry_tools.client.constraints import best_match, parse_constraint
from registry_tools.packs.semver import Version, VersionError, highest_stable


def test_parse_and_str_round_trip():
    for text in ["0.1.0", "1.2.3", "10.20.30", "1.0.0-rc.1", "1.0.0-alpha+build.5"]:
        assert str(Version.parse(text)) == text


@pytest.mark.parametrize("text", ["1.2", "1", "01.2.3", "1.2.3.4", "v1.2.3", "", "1.2.x"])
def test_rejects_non_semver(text):
    with pytest.raises(VersionError, match="not a semantic version"):
        Version.parse(text)


def test_precedence_follows_semver_spec():
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
               "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0"]
    versions = [Version.parse(v) for v in ordered]
    assert sorted(reversed(versions), key=lambda v: v._key()) == versions
    assert Version.parse("1.10.0") > Version.parse("1.9.9")


def test_bump():
    v = Version.parse("1.2.3")
    assert str(v.bump("major")) == "2.0.0"
    assert str(v.bump("minor")) == "1.3.0"
    assert str(v.bump("patch")) == "1.2.4"
    with pytest.raises(ValueError):
        v.bump("micro")


@pytest.mark.parametrize(("versions", "expected"), [
    (["1.0.0", "1.10.0", "1.9.0"], "1.10.0"),
    (["1.0.0", "2.0.0-rc.1"], "1.0.0"),
    (["2.0.0-rc.1", "2.0.0-rc.2"], None),
    (["not-a-version", "0.1.0"], "0.1.0"),
    ([], None),
])
def test_highest_stable_is_what_the_constraint_star_picks(versions, expected):
    assert highest_stable(versions) == expected
    parsed = [Version.parse(v) for v in versions if v != "not-a-version"]
    best = best_match(parsed, parse_constraint("*"))
    assert (str(best) if best else None) == expected
