"""The publishing seam: put a built dist somewhere users can fetch it.

Targets: GitHub Releases (``github.py``), S3 (``s3.py``) and a local
directory (``local.py``). Every publisher is idempotent (an identical
existing file is skipped) and immutable (a different existing file is an
error, never overwritten), uploads archives and signatures before the index,
and reports what it did in a ``PublishReport``. One error type: ``PublishError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from registry_tools.errors import ArwError


class PublishError(ArwError):
    """Publishing failed or would overwrite a published file with different content."""


@dataclass
class PublishReport:
    target: str
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"target": self.target, "uploaded": self.uploaded, "skipped": self.skipped}


class Publisher(Protocol):
    def publish(self, dist: Path) -> PublishReport:
        ...
