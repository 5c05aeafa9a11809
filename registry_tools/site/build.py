"""``registry site``: build the catalog site of a built registry; ``build_site`` is the entry point.

Input: a dist directory as written by ``registry build`` (``registry.json``,
``packs/<name>-<version>.tar.gz``) and the template directory ``template/``
beside this module (``mkdocs.yml``, theme overrides, hand-written pages, the
catalog's JS/CSS; ``site/`` at the repository root links to it).

1. ``generate_project`` copies the template into a temporary directory and adds
   a copy of ``registry.json``, the catalog (``site.catalog_page``), the home
   page's counts (``site.home``) and the two stamp pages (``site.pack_pages``),
   for the packs ``site.views`` accepts.
2. ``run_mkdocs`` builds it with ``mkdocs build --strict`` in this process; any
   warning fails the build with the warnings listed.
3. ``site.pack_pages.write_pack_pages`` stamps every pack page into the result.
4. The site is built next to ``out`` and moved into place only when everything
   succeeded; ``out`` is replaced only if it is a site built here (``MARKER``).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from registry_tools.errors import ArwError
from registry_tools.site.catalog_page import write_catalog
from registry_tools.site.home import add_counts
from registry_tools.site.pack_pages import add_stamp_pages, write_pack_pages
from registry_tools.site.views import PackView, pack_views

TEMPLATE_DIR = Path(__file__).resolve().parent / "template"  # shipped in the package; the checkout's site/ links here
MARKER = ".arw-site"  # in a built site: lets the next build replace it, and nothing else


class SiteError(ArwError):
    """The site cannot be generated or built (bad input, or mkdocs refused it in strict mode)."""


@dataclass(frozen=True)
class SiteResult:
    out: Path
    packs: int
    pages: int
    seconds: float
    notes: list[str] = field(default_factory=list)


def load_registry(dist: Path) -> dict:
    path = dist / "registry.json"
    if not path.is_file():
        raise SiteError(f"{path} not found; build the registry first with `aws-research-wizard registry build --out {dist}`")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SiteError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(index, dict) or not isinstance(index.get("domains"), dict) \
            or not isinstance(index.get("community_packs"), dict):
        raise SiteError(f"{path} is not a registry index (no `domains` and `community_packs` maps)")
    return index



def generate_project(dist: Path, project: Path, template_dir: Path = TEMPLATE_DIR
                     ) -> tuple[dict, list[PackView], list[str]]:
    """Write the mkdocs project for ``dist`` into ``project`` (which must not exist): the template, the catalog,
    the home page's counts and the two stamp pages. Returns (index, pack views, notes)."""
    if not (template_dir / "mkdocs.yml").is_file():
        raise SiteError(f"{template_dir} is not a site template (no mkdocs.yml)")
    index = load_registry(dist)
    notes: list[str] = []
    views = pack_views(index, notes)
    shutil.copytree(template_dir, project)
    docs = project / "docs"
    shutil.copyfile(dist / "registry.json", docs / "registry.json")
    write_catalog(docs, views)
    add_counts(docs / "index.md", views)
    add_stamp_pages(docs)
    return index, views, notes


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run_mkdocs(config_file: Path, site_dir: Path) -> None:
    """``mkdocs build --strict`` in this process; warnings become a SiteError listing them."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    logger = logging.getLogger("mkdocs")
    collect = _Collect()
    saved = logger.propagate
    logger.addHandler(collect)
    logger.propagate = False
    try:
        config = load_config(config_file=str(config_file), strict=True, site_dir=str(site_dir))
        build(config)
    except MkDocsException as exc:
        details = "\n".join(f"  {m}" for m in collect.messages[:20])
        raise SiteError(f"mkdocs build --strict failed: {exc}" + (f"\n{details}" if details else "")) from None
    finally:
        logger.removeHandler(collect)
        logger.propagate = saved


def build_site(dist: Path, out: Path | None = None, *, template_dir: Path = TEMPLATE_DIR,
               keep_project: Path | None = None, workers: int | None = None) -> SiteResult:
    """Generate and build the site for ``dist`` into ``out`` (default ``dist/site``), replacing it on success;
    ``workers`` processes write the pack pages (default: one per CPU, up to 8, for 200 packs or more)."""
    started = time.monotonic()
    dist = dist.resolve()
    out = (out or dist / "site").resolve()
    if out == dist or dist.is_relative_to(out) or out == Path(out.anchor):
        raise SiteError(f"--out {out} would replace the registry itself; choose a directory such as {dist / 'site'}")
    load_registry(dist)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise SiteError(f"--out {out} exists and is not a site built by this command; remove it or choose another")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".arw-site-", dir=out.parent) as scratch:
        project = keep_project.resolve() if keep_project else Path(scratch) / "project"
        if keep_project and project.exists():
            shutil.rmtree(project)
        index, views, notes = generate_project(dist, project, template_dir)
        built = Path(scratch) / "site"
        run_mkdocs(project / "mkdocs.yml", built)
        notes += write_pack_pages(built, views, index, dist, out, workers)
        (built / MARKER).write_text("Built by `aws-research-wizard registry site`; replaced on every build.\n",
                                    encoding="utf-8")
        pages = sum(1 for _ in built.rglob("index.html"))
        old = Path(scratch) / "old"
        if out.exists():
            out.rename(old)
        built.rename(out)
    return SiteResult(out=out, packs=len(views), pages=pages, seconds=time.monotonic() - started, notes=notes)
