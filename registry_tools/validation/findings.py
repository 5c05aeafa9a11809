"""Findings: what a validation run reports, one per problem, with a stable rule id.

Every finding has a line (and, when known, a column), except those about a
whole file or something absent (``FILE_LEVEL_RULES``): a pack file missing,
a link, not a regular file or too large (ARW005), a missing or wrong
``latest`` link (ARW103), a new version that is not newer (ARW104), the
price table's age (ARW122) and a README section that does not exist (ARW140).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

ERROR = "error"
WARNING = "warning"
FILE_LEVEL_RULES = frozenset({"ARW005", "ARW103", "ARW104", "ARW122", "ARW140"})


@dataclass(frozen=True)
class Finding:
    pack: str
    version: str
    rule: str
    severity: str
    file: str
    line: int | None
    message: str
    column: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def where(self) -> str:
        """``file:line:column``, ``file:line`` or ``file``."""
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}" if self.column else f"{self.file}:{self.line}"

    def __str__(self) -> str:
        return f"{self.where}: {self.severity} [{self.rule}] {self.message}"


@dataclass(frozen=True)
class Report:
    packs: int
    findings: tuple[Finding, ...]
    cached: int = 0

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == WARNING)

    def to_dict(self) -> dict:
        return {
            "packs": self.packs,
            "errors": self.errors,
            "warnings": self.warnings,
            "findings": [f.to_dict() for f in self.findings],
        }
