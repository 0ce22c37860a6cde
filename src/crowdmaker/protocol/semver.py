"""Semantic versions and version ranges of protocol interfaces (PROTOCOL.md: "`^1.2`, `>=1.0,<2`").

Pure Python, no Django: `Version.parse("1.2")` and `VersionRange.parse("^1.2")`. Pre-release and build
suffixes (`1.2.3-beta`, `1.2.3+build`) are refused, not ignored. Malformed input raises `VersionSyntaxError`
(a ValueError) whose message names the bad part; nothing here ever guesses.

Versions: one to three non-negative integers separated by dots; missing parts are 0 ("1" is 1.0.0, "1.2" is
1.2.0). Leading zeros ("01") are refused, as in SemVer 2.0.

Ranges (npm's node-semver rules; Cargo agrees on every form accepted here):
- `*`                any version.
- `^V`  caret        the left-most non-zero part of V may not change: ^1.2.3 is >=1.2.3,<2.0.0; ^1.2 is
                     >=1.2.0,<2.0.0; ^0.2.3 is >=0.2.3,<0.3.0; ^0.2 is >=0.2.0,<0.3.0; ^0.0.3 is >=0.0.3,<0.0.4;
                     ^0.0 is >=0.0.0,<0.1.0; ^0 is >=0.0.0,<1.0.0.
- `~V`  tilde        patch-level changes only when a minor is given: ~1.2.3 is >=1.2.3,<1.3.0; ~1.2 is
                     >=1.2.0,<1.3.0; ~1 is >=1.0.0,<2.0.0.
- `V` or `=V`        a full version (three parts) means exactly that version; a partial one is npm's
                     "X-range": 1.2 (and =1.2) is >=1.2.0,<1.3.0, 1 is >=1.0.0,<2.0.0. (Cargo reads a bare
                     version as a caret range; we follow npm, which is the stricter reading.)
- `>=V`, `>V`, `<=V`, `<V`  comparisons; with a partial V they compare against the whole X-range, as npm and
                     Cargo do: >1.2 is >=1.3.0, <=1.2 is <1.3.0, >=1.2 is >=1.2.0, <1.2 is <1.2.0.
- `A,B,...`          all of them (comma = and). Whitespace around commas and after an operator is allowed.
  `||` (or) and npm's space-separated sets and hyphen ranges are not supported and are refused.

Because versions here are integer triples without pre-releases, every range is one half-open interval
[lower, upper) (upper may be unbounded), which makes `contains` two tuple comparisons. A range whose bounds
cross (`>=2,<1`) is valid and matches nothing (`is_empty`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_NUMBER = re.compile(r"0|[1-9][0-9]*")
_OPERATORS = (">=", "<=", ">", "<", "=", "^", "~")


class VersionSyntaxError(ValueError):
    """A version or range that cannot be read; `part` is the offending piece of the input."""

    def __init__(self, message: str, *, part: str) -> None:
        super().__init__(message)
        self.part = part


@dataclass(frozen=True, order=True, slots=True)
class Version:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        parts = _parse_parts(text, what="version")
        return cls(*(*parts, 0, 0, 0)[:3])

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def _parse_parts(text: str, *, what: str) -> tuple[int, ...]:
    """One to three dot-separated integers, refusing pre-release/build suffixes with a message saying so."""
    if not isinstance(text, str):
        raise VersionSyntaxError(f"{what} must be a string, not {type(text).__name__}", part=repr(text))
    stripped = text.strip()
    if not stripped:
        raise VersionSyntaxError(f"empty {what}", part=text)
    for mark, name in (("-", "pre-release"), ("+", "build metadata")):
        if mark in stripped:
            suffix = stripped[stripped.index(mark) :]
            raise VersionSyntaxError(
                f"{what} {stripped!r}: {name} suffix {suffix!r} is not supported (use plain MAJOR.MINOR.PATCH)",
                part=suffix,
            )
    pieces = stripped.split(".")
    if len(pieces) > 3:
        raise VersionSyntaxError(
            f"{what} {stripped!r} has {len(pieces)} parts; at most three (MAJOR.MINOR.PATCH)", part=stripped
        )
    numbers = []
    for piece in pieces:
        if piece in ("x", "X", "*"):
            raise VersionSyntaxError(
                f"{what} {stripped!r}: wildcard part {piece!r} is not supported (write {'.'.join(pieces[: pieces.index(piece)]) or '*'} instead)",
                part=piece,
            )
        if not _NUMBER.fullmatch(piece):
            reason = "has a leading zero" if piece.isdigit() else "is not a non-negative integer"
            raise VersionSyntaxError(f"{what} {stripped!r}: part {piece!r} {reason}", part=piece or stripped)
        numbers.append(int(piece))
    return tuple(numbers)


def _upper_of_x_range(parts: tuple[int, ...]) -> Version:
    """The exclusive upper bound of the X-range a version names: 1 -> 2.0.0, 1.2 -> 1.3.0, 1.2.3 -> 1.2.4."""
    if len(parts) == 1:
        return Version(parts[0] + 1, 0, 0)
    if len(parts) == 2:
        return Version(parts[0], parts[1] + 1, 0)
    return Version(parts[0], parts[1], parts[2] + 1)


def _next(version: Version) -> Version:
    return Version(version.major, version.minor, version.patch + 1)


@dataclass(frozen=True, slots=True)
class VersionRange:
    """Versions v with lower <= v < upper (upper None: no upper bound). `text` is the input as given."""

    lower: Version
    upper: Version | None
    text: str

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        if not isinstance(text, str):
            raise VersionSyntaxError(f"version range must be a string, not {type(text).__name__}", part=repr(text))
        stripped = text.strip()
        if not stripped:
            raise VersionSyntaxError("empty version range", part=text)
        if "||" in stripped:
            raise VersionSyntaxError(
                f"range {stripped!r}: '||' (or) is not supported; one range is one interval", part="||"
            )
        lower = Version(0, 0, 0)
        upper: Version | None = None
        for comparator in stripped.split(","):
            low, high = _parse_comparator(comparator, whole=stripped)
            lower = max(lower, low)
            if high is not None:
                upper = high if upper is None else min(upper, high)
        return cls(lower=lower, upper=upper, text=stripped)

    def contains(self, version: Version) -> bool:
        return self.lower <= version and (self.upper is None or version < self.upper)

    __contains__ = contains

    @property
    def is_empty(self) -> bool:
        return self.upper is not None and self.upper <= self.lower

    def __str__(self) -> str:
        """The normalised interval, e.g. '>=1.2.0,<2.0.0' or '*'."""
        if self.upper is None:
            return "*" if self.lower == Version(0, 0, 0) else f">={self.lower}"
        return f">={self.lower},<{self.upper}"


def _parse_comparator(raw: str, *, whole: str) -> tuple[Version, Version | None]:
    """One comparator as [lower, upper)."""
    comparator = raw.strip()
    if not comparator:
        raise VersionSyntaxError(f"range {whole!r} has an empty part between commas", part=raw)
    if comparator == "*":
        return Version(0, 0, 0), None
    operator = next((op for op in _OPERATORS if comparator.startswith(op)), "")
    operand = comparator[len(operator) :].strip()
    if not operand:
        raise VersionSyntaxError(f"range {whole!r}: {comparator!r} has no version after the operator", part=comparator)
    if any(ch.isspace() for ch in operand) or operand[0] in "<>=^~":
        raise VersionSyntaxError(
            f"range {whole!r}: {comparator!r} is not one comparator (separate comparators with commas)",
            part=comparator,
        )
    if operand[0] in "vV":
        raise VersionSyntaxError(f"range {whole!r}: write {operand[1:]!r} without the 'v'", part=operand)
    parts = _parse_parts(operand, what="version")
    version = Version(*(*parts, 0, 0, 0)[:3])
    x_upper = _upper_of_x_range(parts)
    if operator in ("", "="):
        return version, x_upper
    if operator == ">=":
        return version, None
    if operator == ">":
        return x_upper, None
    if operator == "<":
        return Version(0, 0, 0), version
    if operator == "<=":
        return Version(0, 0, 0), x_upper
    if operator == "~":
        return version, (
            Version(version.major + 1, 0, 0) if len(parts) == 1 else Version(version.major, version.minor + 1, 0)
        )
    # caret: the left-most non-zero part given (or the last part given, when all given parts are zero) is fixed.
    if version.major > 0 or len(parts) == 1:
        return version, Version(version.major + 1, 0, 0)
    if version.minor > 0 or len(parts) == 2:
        return version, Version(0, version.minor + 1, 0)
    return version, _next(version)


@lru_cache(maxsize=4096)
def _version_of(text: str) -> Version:
    return Version.parse(text)


@lru_cache(maxsize=4096)
def _range_of(text: str) -> VersionRange:
    return VersionRange.parse(text)


def parse_version(text: str) -> Version:
    """`Version.parse`, remembered: a catalog of 100,000 products spells its versions a handful of ways."""
    return _version_of(text) if isinstance(text, str) else Version.parse(text)


def parse_range(text: str) -> VersionRange:
    """`VersionRange.parse`, remembered (ranges are immutable, so one parsed range serves every product)."""
    return _range_of(text) if isinstance(text, str) else VersionRange.parse(text)
