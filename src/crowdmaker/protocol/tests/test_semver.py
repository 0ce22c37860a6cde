"""Versions and ranges of protocol interfaces: the npm/Cargo forms, the 0.x caret, exclusive upper bounds,
and clear refusals of what is not supported. Pure tests, no database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crowdmaker.protocol.semver import Version, VersionRange, VersionSyntaxError, parse_range, parse_version


def v(text: str) -> Version:
    return Version.parse(text)


def matches(range_text: str, version_text: str) -> bool:
    return VersionRange.parse(range_text).contains(v(version_text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", Version(1, 0, 0)), ("1.2", Version(1, 2, 0)), ("1.2.3", Version(1, 2, 3)), (" 0.0.0 ", Version(0, 0, 0))],
)
def test_versions_fill_missing_parts_with_zero(text: str, expected: Version) -> None:
    assert v(text) == expected


def test_versions_order_numerically_not_textually() -> None:
    assert v("1.10") > v("1.9")
    assert v("2") > v("1.99.99")
    assert str(v("1.2")) == "1.2.0"


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("^1.2.3", ">=1.2.3,<2.0.0"),
        ("^1.2", ">=1.2.0,<2.0.0"),
        ("^1", ">=1.0.0,<2.0.0"),
        ("^0.2.3", ">=0.2.3,<0.3.0"),
        ("^0.2", ">=0.2.0,<0.3.0"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("^0.0", ">=0.0.0,<0.1.0"),
        ("^0", ">=0.0.0,<1.0.0"),
        ("~1.2.3", ">=1.2.3,<1.3.0"),
        ("~1.2", ">=1.2.0,<1.3.0"),
        ("~1", ">=1.0.0,<2.0.0"),
        ("~0.2.3", ">=0.2.3,<0.3.0"),
        ("1.2.3", ">=1.2.3,<1.2.4"),
        ("=1.2.3", ">=1.2.3,<1.2.4"),
        ("1.2", ">=1.2.0,<1.3.0"),
        ("=1.2", ">=1.2.0,<1.3.0"),
        ("1", ">=1.0.0,<2.0.0"),
        (">=1.2", ">=1.2.0"),
        (">1.2", ">=1.3.0"),
        (">1.2.3", ">=1.2.4"),
        ("<1.2", ">=0.0.0,<1.2.0"),
        ("<=1.2", ">=0.0.0,<1.3.0"),
        ("<=1.2.3", ">=0.0.0,<1.2.4"),
        (">=1.0,<2", ">=1.0.0,<2.0.0"),
        (" >= 1.0 , < 2 ", ">=1.0.0,<2.0.0"),
        (">=1.0,<2,^1.5", ">=1.5.0,<2.0.0"),
        ("*", "*"),
        ("*,<3", ">=0.0.0,<3.0.0"),
    ],
)
def test_ranges_follow_npm_semantics(text: str, normalised: str) -> None:
    assert str(VersionRange.parse(text)) == normalised


@pytest.mark.parametrize(
    ("range_text", "version_text", "expected"),
    [
        ("^1.2", "1.2", True),
        ("^1.2", "1.99.99", True),
        ("^1.2", "2", False),  # upper bounds are exclusive
        ("^1.2", "1.1.9", False),
        ("^0.2", "0.2.9", True),
        ("^0.2", "0.3", False),  # 0.x: a minor bump is breaking
        ("^0.0.3", "0.0.4", False),
        ("~1.2", "1.2.9", True),
        ("~1.2", "1.3", False),
        (">=1.0,<2", "2", False),
        (">=1.0,<2", "1.9.9", True),
        ("1.2.3", "1.2.4", False),
        ("1.2", "1.2.7", True),
        ("*", "0", True),
        (">=2,<1", "1.5", False),
    ],
)
def test_range_membership_edges(range_text: str, version_text: str, expected: bool) -> None:
    assert matches(range_text, version_text) is expected


def test_a_crossed_range_is_valid_and_empty() -> None:
    assert VersionRange.parse(">=2,<1").is_empty
    assert not VersionRange.parse("^1").is_empty


@pytest.mark.parametrize(
    ("text", "part", "fragment"),
    [
        ("1.2.3-beta.1", "-beta.1", "pre-release"),
        ("1.2.3+build5", "+build5", "build metadata"),
        ("1.2.3.4", "1.2.3.4", "at most three"),
        ("1.a", "a", "not a non-negative integer"),
        ("01.2", "01", "leading zero"),
        ("1..2", "1..2", "not a non-negative integer"),
        ("-1", "-1", "pre-release"),
        ("1.x", "x", "wildcard"),
        ("", "", "empty version"),
    ],
)
def test_malformed_versions_are_refused_naming_the_bad_part(text: str, part: str, fragment: str) -> None:
    with pytest.raises(VersionSyntaxError) as caught:
        Version.parse(text)
    assert caught.value.part == part
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("text", "part", "fragment"),
    [
        ("^1.2.3-rc.1", "-rc.1", "pre-release"),
        (">=1.0 <2", ">=1.0 <2", "separate comparators with commas"),
        ("^1 || ^2", "||", "'||' (or) is not supported"),
        (">=1.0,", "", "empty part between commas"),
        (">=", ">=", "no version after the operator"),
        ("=>1", "=>1", "not one comparator"),
        ("v1.2", "v1.2", "without the 'v'"),
        ("^1.b", "b", "not a non-negative integer"),
        ("1.2 - 2.3", "1.2 - 2.3", "not one comparator"),
        ("  ", "  ", "empty version range"),
    ],
)
def test_malformed_ranges_are_refused_naming_the_bad_part(text: str, part: str, fragment: str) -> None:
    with pytest.raises(VersionSyntaxError) as caught:
        VersionRange.parse(text)
    assert caught.value.part == part
    assert fragment in str(caught.value)


def test_non_strings_are_refused() -> None:
    with pytest.raises(VersionSyntaxError, match="must be a string"):
        Version.parse(1.2)  # type: ignore[arg-type]
    with pytest.raises(VersionSyntaxError, match="must be a string"):
        VersionRange.parse(None)  # type: ignore[arg-type]


parts = st.integers(min_value=0, max_value=30)
versions = st.builds(Version, parts, parts, parts)
version_texts = st.one_of(
    versions.map(str),
    st.tuples(parts, parts).map(lambda p: f"{p[0]}.{p[1]}"),
    parts.map(str),
)


@given(version_texts)
def test_a_version_satisfies_its_own_caret_tilde_exact_and_at_least_ranges(text: str) -> None:
    version = v(text)
    for operator in ("^", "~", ">=", "=", "", "<="):
        assert matches(operator + text, str(version)), operator


@given(version_texts, versions)
def test_never_both_below_and_at_least(text: str, candidate: Version) -> None:
    below = VersionRange.parse("<" + text).contains(candidate)
    at_least = VersionRange.parse(">=" + text).contains(candidate)
    assert below != at_least  # exactly one: "<v" and ">=v" split the versions in two


@given(versions, versions)
def test_comma_is_intersection(a: Version, b: Version) -> None:
    both = VersionRange.parse(f"^{a},~{b}")
    for candidate in (a, b, Version(a.major, a.minor + 1, 0), Version(b.major + 1, 0, 0)):
        expected = VersionRange.parse(f"^{a}").contains(candidate) and VersionRange.parse(f"~{b}").contains(candidate)
        assert both.contains(candidate) is expected


@given(versions)
def test_caret_upper_bound_is_exclusive_and_the_next_breaking_version(version: Version) -> None:
    caret = VersionRange.parse(f"^{version}")
    assert caret.upper is not None
    assert not caret.contains(caret.upper)
    assert caret.contains(version)


def test_remembered_parsing_gives_the_same_immutable_answers() -> None:
    assert parse_range("^1.2") is parse_range("^1.2")
    assert parse_range("^1.2") == VersionRange.parse("^1.2")
    assert parse_version("1.2") is parse_version("1.2")
    assert parse_version("1.2") == Version(1, 2, 0)
    with pytest.raises(VersionSyntaxError):
        parse_range("^x")  # refusals are not remembered as answers
    with pytest.raises(VersionSyntaxError):
        parse_range("^x")
