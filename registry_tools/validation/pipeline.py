"""Validate pack versions: load -> semantics -> cfn-lint, collecting findings.

``validate(dirs)`` never raises for a bad pack: every problem becomes a
``Finding`` with a rule id, file and line. cfn-lint is optional (``lint``)
and, when on, uses one ``CfnLinter`` for the whole run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from registry_tools.packs.errors import PackError
from registry_tools.packs.loader import load_pack_files
from registry_tools.pricing.catalogue import Catalogue
from registry_tools.validation.findings import ERROR, Finding, Report
from registry_tools.validation.semantics import check_pack, check_price_table_age

RULE_FOR_PROBLEM = {"schema": "ARW001", "yaml": "ARW002", "consistency": "ARW003", "template": "ARW004"}


def _guess_identity(version_dir: Path) -> tuple[str, str]:
    version = version_dir.name[1:] if version_dir.name.startswith("v") else version_dir.name
    return version_dir.parent.name, version


def validate(
    version_dirs: Iterable[Path],
    *,
    lint: bool = True,
    catalogue: Catalogue | None = None,
    progress: Callable[[Path], None] | None = None,
    today: date | None = None,
) -> Report:
    catalogue = catalogue or Catalogue.load()
    linter = None
    findings: list[Finding] = check_price_table_age(catalogue, today) if today else []
    count = 0
    try:
        for version_dir in version_dirs:
            count += 1
            if progress:
                progress(version_dir)
            name, version = _guess_identity(version_dir)
            try:
                loaded = load_pack_files(version_dir)
            except PackError as exc:
                findings.extend(
                    Finding(name, version, RULE_FOR_PROBLEM.get(p.rule, "ARW001"), ERROR, p.file, p.line,
                            f"{p.field}: {p.message}" if p.field else p.message)
                    for p in exc.problems
                )
                continue
            findings.extend(check_pack(loaded, catalogue, version_dir))
            if lint:
                if linter is None:
                    from registry_tools.validation.cfn import CfnLinter

                    linter = CfnLinter()
                findings.extend(linter.lint(loaded.template_text, loaded.pack.regions, pack=name,
                                            version=str(loaded.pack.version), file=loaded.template_file))
    finally:
        if linter is not None:
            linter.close()
    return Report(packs=count, findings=tuple(findings))
