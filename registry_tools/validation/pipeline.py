"""Validate pack versions: load -> semantics -> cfn-lint, collecting findings.

``validate(dirs)`` never raises for a bad pack: every problem becomes a
``Finding`` with a rule id, file and line, and the run goes on. Per-version
results are cached by content hash (``ResultCache``, files stored relative to
the version directory and shown relative to the working directory), so an
unchanged pack is not re-linted; pack-level checks (``latest``, version
order) always run.
cfn-lint uses one reused rule set per process; ``jobs > 1`` spreads the
uncached versions over worker processes. Costs and instance specs are checked
against the packaged price table, or the one in ``price_file`` (the source
tree's own, read once per run and part of every cache key).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from registry_tools.packs.errors import PackError
from registry_tools.packs.files import PACK_FILE
from registry_tools.packs.loader import display_path, load_pack_files
from registry_tools.packs.repository import LATEST_LINK, version_dirs
from registry_tools.pricing.catalogue import Catalogue, PriceError
from registry_tools.validation.cache import ParsedPacks, ResultCache, lint_key, pack_key, prices_digest
from registry_tools.validation.findings import ERROR, Finding, Report
from registry_tools.validation.semantics import check_pack, check_price_table_age

if TYPE_CHECKING:
    from registry_tools.packs.loader import LoadedPack
    from registry_tools.validation.cfn import CfnLinter

MAX_AUTO_JOBS = 4
MIN_PARALLEL = 4
RULE_FOR_PROBLEM = {"schema": "ARW001", "yaml": "ARW002", "consistency": "ARW003", "template": "ARW004", "file": "ARW005",
                    "value": "ARW006", "text": "ARW007"}


def _guess_identity(version_dir: Path) -> tuple[str, str]:
    version = version_dir.name[1:] if version_dir.name.startswith("v") else version_dir.name
    return version_dir.parent.name, version


class _Checker:
    """Checks one version directory; keeps one cfn-lint rule set for its process.

    cfn-lint's verdict depends only on the template and the regions, so it is
    cached by their hash too: a version bump or README edit does not re-lint
    an unchanged template.
    """

    def __init__(self, lint: bool, cache: ResultCache | None = None, catalogue: Catalogue | None = None):
        self.lint = lint
        self.cache = cache
        self.catalogue = catalogue or Catalogue.load()
        self._linter: CfnLinter | None = None

    def check(self, version_dir: Path) -> list[Finding]:
        # names come from the real directory: `validate .` or `validate latest` name it otherwise
        real_dir = version_dir.resolve()
        name, version = _guess_identity(real_dir)
        try:
            loaded = load_pack_files(version_dir)
        except PackError as exc:
            return [
                Finding(name, version, RULE_FOR_PROBLEM.get(p.rule, "ARW001"), ERROR, p.file, p.line,
                        f"{p.field}: {p.message}" if p.field else p.message, p.column)
                for p in exc.problems
            ]
        findings = check_pack(loaded, self.catalogue, real_dir)
        if self.cache and not any(f.severity == ERROR for f in findings):
            ParsedPacks().put((version_dir / PACK_FILE).read_bytes(), loaded.document.data)
        if self.lint:
            findings += self._lint(loaded, name)
        return findings

    def _lint(self, loaded: LoadedPack, name: str) -> list[Finding]:
        version = str(loaded.pack.version)
        cache = self.cache
        key = lint_key(loaded.template_text, loaded.pack.regions) if cache else None
        cached = cache.get(key) if cache and key else None
        if cached is not None:
            return [replace(f, pack=name, version=version, file=loaded.template_file) for f in cached]
        if self._linter is None:
            from registry_tools.validation.cfn import CfnLinter

            self._linter = CfnLinter()
        findings = self._linter.lint(loaded.template_text, loaded.pack.regions, pack=name, version=version,
                                     file=loaded.template_file)
        if cache and key:
            cache.put(key, findings)
        return findings

    def close(self) -> None:
        if self._linter is not None:
            self._linter.close()


_WORKER: _Checker | None = None


def _worker_init(lint: bool, cache: ResultCache | None, prices: bytes | None = None) -> None:
    global _WORKER
    _WORKER = _Checker(lint, cache, Catalogue.from_bytes(prices) if prices is not None else None)


def _worker_check(version_dir: Path) -> list[Finding]:
    assert _WORKER is not None
    return _WORKER.check(version_dir)


def pack_level_findings(pack_dirs: Iterable[Path], added: Iterable[Path] = ()) -> list[Finding]:
    """`latest` points at the highest version; versions added since a ref are newer than the rest."""
    findings: list[Finding] = []
    added = {p.resolve() for p in added}
    for pack_dir in sorted(set(pack_dirs)):
        versions = version_dirs(pack_dir)
        if not versions:
            continue
        highest = versions[-1][1].name
        link = pack_dir / LATEST_LINK
        where = display_path(link)
        if not link.is_symlink():
            findings.append(Finding(pack_dir.name, versions[-1][0].__str__(), "ARW103", ERROR, where, None,
                                    f"no '{LATEST_LINK}' link; create it with: ln -s {highest} {link}"))
        elif os.readlink(link) != highest:
            findings.append(Finding(pack_dir.name, str(versions[-1][0]), "ARW103", ERROR, where, None,
                                    f"'{LATEST_LINK}' points at {os.readlink(link)}, not the highest version {highest}"))
        existing = [v for v, path in versions if path.resolve() not in added]
        for version, path in versions:
            if path.resolve() in added and existing and version <= max(existing):
                newest = max(existing)
                findings.append(Finding(pack_dir.name, str(version), "ARW104", ERROR, display_path(path / PACK_FILE), None,
                                        f"new version {version} is not greater than the published {newest}; "
                                        "published versions are never replaced - bump the version"))
    return findings


def validate(
    version_dirs_: Iterable[Path],
    *,
    lint: bool = True,
    progress: Callable[[Path], None] | None = None,
    today: date | None = None,
    cache: ResultCache | None = None,
    jobs: int = 1,
    added: Iterable[Path] = (),
    price_file: Path | None = None,
) -> Report:
    """Raises PriceError (before checking anything) when *price_file* cannot be read or parsed."""
    unique: dict[Path, Path] = {}
    for given in version_dirs_:  # once each, as first given (`latest` and the version it links to are one)
        unique.setdefault(Path(given).resolve(), Path(given))
    dirs = list(unique.values())
    prices: bytes | None = None
    if price_file is not None:
        try:
            prices = Path(price_file).read_bytes()
        except OSError as exc:
            raise PriceError(f"cannot read the price table {price_file}: {exc.strerror or exc}") from None
    catalogue = Catalogue.from_bytes(prices, str(price_file)) if prices is not None else Catalogue.load()
    digest = prices_digest(prices) if prices is not None else None
    findings: list[Finding] = check_price_table_age(catalogue, today) if today else []
    results: dict[Path, list[Finding]] = {}
    keys: dict[Path, str | None] = {}
    cached = 0
    for version_dir in dirs:
        key = keys[version_dir] = pack_key(version_dir.resolve(), lint, digest) if cache else None
        hit = cache.get(key, base=version_dir) if cache and key else None
        if hit is not None:
            results[version_dir] = hit
            cached += 1
    todo = [d for d in dirs if d not in results]
    if jobs <= 0:
        jobs = min(os.cpu_count() or 1, MAX_AUTO_JOBS)
    # each worker process loads cfn-lint's rules first: only worth it for several uncached packs
    if jobs > 1 and len(todo) >= MIN_PARALLEL:
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), initializer=_worker_init, initargs=(lint, cache, prices)) as pool:
            for version_dir, result in zip(todo, pool.map(_worker_check, todo, chunksize=max(1, len(todo) // (jobs * 4))), strict=True):
                if progress:
                    progress(version_dir)
                results[version_dir] = result
    else:
        checker = _Checker(lint, cache, catalogue)
        try:
            for version_dir in todo:
                if progress:
                    progress(version_dir)
                results[version_dir] = checker.check(version_dir)
        finally:
            checker.close()
    for version_dir in todo:
        key = keys[version_dir]
        if cache and key:
            cache.put(key, results[version_dir], base=version_dir)
    for version_dir in dirs:
        findings.extend(results[version_dir])
    real_dirs = [d.resolve() for d in dirs]
    pack_dirs = [d.parent for d in real_dirs if d.name.startswith("v") and d.parent.is_dir()]
    findings.extend(pack_level_findings(pack_dirs, added))
    return Report(packs=len(dirs), findings=tuple(findings), cached=cached)

