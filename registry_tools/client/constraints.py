"""Version constraints (what ``install genomics@^1.2`` asks for). Pure; no I/O.

Accepted forms, joined with commas for "and" (``>=1.1,<2``):

=================  ==========================================
``1.2.0``          exactly 1.2.0 (also ``=1.2.0``, ``==1.2.0``)
``^1.2.3``         >=1.2.3,<2.0.0   (``^0.2.3``: <0.3.0, ``^0.0.3``: <0.0.4)
``^1.2``           >=1.2.0,<2.0.0   (``^0.0``: <0.1.0, ``^0``: <1.0.0)
``~1.2.3``         >=1.2.3,<1.3.0   (``~1.2``: >=1.2.0,<1.3.0, ``~1``: <2.0.0)
``>=1.1`` ...      ``>``, ``>=``, ``<``, ``<=``, ``!=``; a partial version is
                   filled with zeros (``>1.1`` is ``>1.1.0``)
``1.2.*``          >=1.2.0,<1.3.0   (``1.*``: >=1.0.0,<2.0.0)
``*``, ``latest``  any release
=================  ==========================================

Caret and tilde follow npm/cargo: missing parts of the lower bound are 0 and
the upper bound depends on how many parts were given. A leading ``v``
(``v1.2.0``, as in the pack directories) is accepted. Pre-releases match only
when the constraint itself names a pre-release of the same MAJOR.MINOR.PATCH
(npm's rule; ``!=`` does not count) or when ``include_prerelease`` is set.
Upper bounds of ``^``, ``~`` and wildcards exclude the next version's
pre-releases too (``^1.2`` never allows ``2.0.0-rc.1``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from registry_tools.errors import ArwError
from registry_tools.packs.semver import Version, VersionError

MAX_CONSTRAINT_LENGTH = 256
EXAMPLES = "e.g. 1.2.0, ^1.2, ~1.2.3, '>=1.1,<2', 1.2.* or latest"

_NUMBER = r"(0|[1-9]\d*)"
_PARTIAL = re.compile(rf"^{_NUMBER}(?:\.{_NUMBER}(?:\.{_NUMBER})?)?$")
_WILDCARD = re.compile(rf"^v?{_NUMBER}(?:\.{_NUMBER})?\.\*$")
_OPERATOR = re.compile(r"^(\^|~|==|=|!=|>=|<=|>|<)?\s*(.*)$")
_COMPARISONS = ("=", "!=", ">", ">=", "<", "<=")


class ConstraintError(ArwError, ValueError):
    """Not a version constraint."""


@dataclass(frozen=True)
class Comparator:
    """One primitive test: ``op`` is one of =, !=, >, >=, <, <=."""

    op: str
    version: Version

    def test(self, version: Version) -> bool:
        ref = self.version
        if self.op == "=":
            return version >= ref and version <= ref  # precedence only: build metadata is ignored
        if self.op == "!=":
            return not (version >= ref and version <= ref)
        if self.op == ">":
            return version > ref
        if self.op == ">=":
            return version >= ref
        if self.op == "<":
            return version < ref
        return version <= ref

    def __str__(self) -> str:
        return f"{self.op}{self.version}"


@dataclass(frozen=True)
class Term:
    """One comma-separated part as written (normalised).

    ``kind`` is ``any``, ``exact``, ``caret``, ``tilde``, ``wildcard`` or a
    comparison operator. ``minor``/``patch`` are None when not written (caret,
    tilde and wildcard depend on it); comparisons and exact versions are full.
    """

    kind: str
    major: int = 0
    minor: int | None = None
    patch: int | None = None
    prerelease: tuple[str, ...] = ()

    @property
    def lower(self) -> Version:
        return Version(self.major, self.minor or 0, self.patch or 0, self.prerelease)

    def comparators(self) -> tuple[Comparator, ...]:
        if self.kind == "any":
            return ()
        if self.kind in _COMPARISONS:
            return (Comparator(self.kind, self.lower),)
        if self.kind == "exact":
            return (Comparator("=", self.lower),)
        if self.kind == "caret":
            if self.major > 0 or self.minor is None:
                upper = (self.major + 1, 0, 0)
            elif self.minor > 0 or self.patch is None:
                upper = (0, self.minor + 1, 0)
            else:
                upper = (0, 0, self.patch + 1)
        elif self.minor is None:  # ~1, 1.*
            upper = (self.major + 1, 0, 0)
        else:  # ~1.2, ~1.2.3, 1.2.*
            upper = (self.major, self.minor + 1, 0)
        # X.Y.Z-0 is the lowest version of X.Y.Z, so its pre-releases are excluded too.
        return (Comparator(">=", self.lower), Comparator("<", Version(*upper, prerelease=("0",))))

    @property
    def names_prerelease(self) -> bool:
        return bool(self.prerelease) and self.kind != "!="

    def __str__(self) -> str:
        if self.kind == "any":
            return "*"
        if self.kind == "wildcard":
            return f"{self.major}.*" if self.minor is None else f"{self.major}.{self.minor}.*"
        if self.kind in ("caret", "tilde"):
            parts = [p for p in (self.major, self.minor, self.patch) if p is not None]
            text = ".".join(str(p) for p in parts)
            if self.prerelease:
                text += "-" + ".".join(self.prerelease)
            return ("^" if self.kind == "caret" else "~") + text
        op = "" if self.kind == "exact" else self.kind
        return f"{op}{self.lower}"


@dataclass(frozen=True)
class Constraint:
    """A conjunction of terms; ``allows`` is true when every term allows the version."""

    terms: tuple[Term, ...]

    @property
    def comparators(self) -> tuple[Comparator, ...]:
        return tuple(c for term in self.terms for c in term.comparators())

    def allows(self, version: Version, include_prerelease: bool = False) -> bool:
        if not all(c.test(version) for c in self.comparators):
            return False
        if version.prerelease and not include_prerelease:
            triple = (version.major, version.minor, version.patch)
            return any(
                term.names_prerelease and (term.major, term.minor or 0, term.patch or 0) == triple
                for term in self.terms
            )
        return True

    def __str__(self) -> str:
        return ",".join(str(term) for term in self.terms) or "*"


def _error(text: str, reason: str) -> ConstraintError:
    return ConstraintError(f"invalid version constraint {text!r}: {reason} ({EXAMPLES})")


def _parse_version(whole: str, term: str, text: str) -> tuple[int, int | None, int | None, tuple[str, ...]]:
    """``1``, ``1.2``, ``1.2.3`` or ``1.2.3-rc.1`` (optional leading ``v``) -> parts; None for parts not written."""
    bare = text[1:] if text.startswith("v") else text
    match = _PARTIAL.match(bare)
    if match:
        major, minor, patch = match.groups()
        return int(major), None if minor is None else int(minor), None if patch is None else int(patch), ()
    try:
        version = Version.parse(bare)
    except VersionError:
        hint = "; join conditions with commas" if any(ch.isspace() for ch in text) else ""
        raise _error(whole, f"{term!r} is not a version{hint}") from None
    if version.build:
        raise _error(whole, f"{term!r} has build metadata (+{version.build}), which never affects matching; drop it")
    return version.major, version.minor, version.patch, version.prerelease


def _parse_term(whole: str, text: str) -> Term:
    if not text:
        raise _error(whole, "empty part (a stray comma?)")
    if text in ("*", "latest"):
        return Term("any")
    wildcard = _WILDCARD.match(text)
    if wildcard:
        major, minor = wildcard.groups()
        return Term("wildcard", int(major), None if minor is None else int(minor))
    if text.startswith(("~>", "~=")):
        raise _error(whole, f"{text[:2]!r} is not supported; use ~1.2 (>=1.2.0,<1.3.0) or ^1.2 (>=1.2.0,<2.0.0)")
    operator = _OPERATOR.match(text)
    if operator is None:  # `.` stops at a line break inside the term
        raise _error(whole, f"{text!r} is not a version; join conditions with commas")
    op, rest = operator.groups()
    if not rest:
        raise _error(whole, f"{text!r} has an operator but no version")
    major, minor, patch, prerelease = _parse_version(whole, text, rest)
    if op in ("^", "~"):
        return Term("caret" if op == "^" else "tilde", major, minor, patch, prerelease)
    if op in (None, "=", "==") and patch is None:
        partial = ".".join(str(p) for p in (major, minor) if p is not None)
        raise _error(
            whole,
            f"{text!r} is not a full version; write {partial}{'.0' if minor is not None else '.0.0'} for exactly "
            f"that version, {partial}.* for any of it, or ^{partial} for compatible versions",
        )
    kind = "exact" if op in (None, "=", "==") else op
    return Term(kind, major, minor or 0, patch or 0, prerelease)


def parse_constraint(text: str) -> Constraint:
    """Parse a constraint such as ``^1.2`` or ``>=1.1,<2``; raise ``ConstraintError`` with an example if invalid."""
    if not isinstance(text, str):
        raise ConstraintError(f"a version constraint must be text, got {type(text).__name__} ({EXAMPLES})")
    if len(text) > MAX_CONSTRAINT_LENGTH:
        raise ConstraintError(f"version constraint is longer than {MAX_CONSTRAINT_LENGTH} characters ({EXAMPLES})")
    stripped = text.strip()
    if not stripped:
        raise _error(text, "empty")
    if "||" in stripped:
        raise _error(text, "alternatives ('||') are not supported; use one range")
    terms = tuple(_parse_term(text, part.strip()) for part in stripped.split(","))
    if len(terms) > 1 and any(term.kind == "any" for term in terms):
        terms = tuple(term for term in terms if term.kind != "any")
    return Constraint(terms)


def best_match(
    versions: Iterable[Version], constraint: Constraint, include_prerelease: bool = False
) -> Version | None:
    """The highest version the constraint allows, or None."""
    best: Version | None = None
    for version in versions:
        if constraint.allows(version, include_prerelease) and (best is None or version > best):
            best = version
    return best
