"""Which entries of a registry index get a page: the packs of ``domains`` and ``community_packs`` as ``PackView``s.

An entry is shown only when the pages can rely on it: a valid pack name, a
``latest_version`` among its releases, semver versions, and sizes for every
release. Anything else is skipped with a note (the build goes on), so a broken
entry in a hand-edited or hostile index never breaks the site. Views are sorted
by title, then name: the order of the catalog and of the pack pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


@dataclass(frozen=True)
class PackView:
    name: str
    trust: str  # official | verified | community | experimental
    entry: dict


def pack_views(index: dict, notes: list[str]) -> list[PackView]:
    views = []
    for key, official in (("domains", True), ("community_packs", False)):
        for name, entry in index[key].items():
            problem = _entry_problem(name, entry)
            if problem:
                notes.append(f"skipped {key}.{name!s:.60}: {problem}")
                continue
            trust = "official" if official else str(entry.get("trust_level") or "community")
            views.append(PackView(name, trust, entry))
    views.sort(key=lambda v: (str(v.entry.get("name") or v.name).lower(), v.name))
    return views


def _entry_problem(name: object, entry: object) -> str | None:
    if not isinstance(name, str) or not _NAME.match(name):
        return "the name is not a valid pack name"
    if not isinstance(entry, dict) or not isinstance(entry.get("releases"), dict) or not entry["releases"]:
        return "no releases"
    if entry.get("latest_version") not in entry["releases"]:
        return "latest_version is not among its releases"
    for version, release in entry["releases"].items():
        if not isinstance(version, str) or not _VERSION.match(version):
            return f"version {version!r:.40} is not semver"
        if not isinstance(release, dict) or not isinstance(release.get("sizes"), dict):
            return f"release {version} has no sizes"
    return None
