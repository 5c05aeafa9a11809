"""Dates from git, not from the clock, so rebuilding a commit gives identical output.

One ``git log`` over ``domains/`` gives, for every version directory, the
time of the first commit that touched it (``created``) and of the last one
(``updated``, also the archive mtime). Outside a git checkout, or for files
not committed yet, the fixed epoch is used.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from registry_tools.build.archive import FIXED_EPOCH


@dataclass(frozen=True)
class Dates:
    created: int
    updated: int


class GitDates:
    def __init__(self, domains_dir: Path):
        self.domains = domains_dir.resolve()
        self._by_dir: dict[Path, Dates] = {}
        self.head_time: int | None = None
        self.commit_count: int | None = None
        self._load()

    def _git(self, *args: str) -> str | None:
        try:
            result = subprocess.run(["git", "-C", str(self.domains), *args], capture_output=True, text=True, timeout=120)
        except (FileNotFoundError, subprocess.TimeoutExpired):
            return None
        return result.stdout if result.returncode == 0 else None

    def _load(self) -> None:
        top = self._git("rev-parse", "--show-toplevel")
        if top is None:
            return
        root = Path(top.strip())
        head = self._git("log", "-1", "--format=%ct")
        count = self._git("rev-list", "--count", "HEAD")
        self.head_time = int(head.strip()) if head and head.strip() else None
        self.commit_count = int(count.strip()) if count and count.strip() else None
        log = self._git("log", "--format=@%ct", "--name-only", "--no-renames", "--", str(self.domains))
        if not log:
            return
        when = None
        for line in log.splitlines():
            if line.startswith("@"):
                when = int(line[1:])
            elif line.strip() and when is not None:
                # every directory between the file and domains/ gets the commit, so a lookup is one dict access
                path = (root / line.strip()).parent
                while path != self.domains and self.domains in path.parents:
                    dates = self._by_dir.get(path)
                    # git log lists newest first: the first time seen is the last update
                    self._by_dir[path] = Dates(created=when, updated=dates.updated if dates else when)
                    path = path.parent

    def for_version_dir(self, version_dir: Path) -> Dates:
        """Dates of a version directory (any file inside it, at any depth)."""
        return self._by_dir.get(version_dir.resolve(), Dates(FIXED_EPOCH, FIXED_EPOCH))

    def last_updated(self) -> int:
        if not self._by_dir:
            return FIXED_EPOCH
        return max(d.updated for d in self._by_dir.values())
