"""Generate the catalog site from a built registry: a mkdocs project built with ``mkdocs build --strict``, then
one page per pack.

Inputs: a dist directory as written by ``registry build`` (``registry.json``,
``packs/<name>-<version>.tar.gz``) and the template directory ``site/template/``
beside this module (``mkdocs.yml``, theme overrides, hand-written pages, the
catalog's JS/CSS; ``site/`` at the repository root links to it).
``generate_project`` copies the template into a temporary directory and adds
``catalog.md``, ``catalog.json`` (the rows the catalog's filter reads), a copy
of ``registry.json``, the home page's counts and two stamp pages; mkdocs builds
it; ``write_pack_pages`` then writes every pack page from a stamp page: facts
from the index, the README, software and workflows of the latest archive, all
versions, and what changed from each previous version (``site.version_changes``), in
one forked worker per CPU for large registries. The site is built next to
``out`` and moved into place only when everything succeeded.

Pack text (titles, descriptions, maintainers, READMEs) can come from community
packs and is untrusted: it is HTML-escaped (READMEs: rendered by ``site.readme``),
so neither Markdown nor HTML in it is interpreted. Only our own headings are
Markdown (they feed the table of contents and the search sections).
"""

from __future__ import annotations

import gc
import html
import json
import logging
import multiprocessing
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from registry_tools.errors import ArwError

TEMPLATE_DIR = Path(__file__).resolve().parent / "template"  # shipped in the package; the checkout's site/ links here
MARKER = ".arw-site"  # in a built site: lets the next build replace it, and nothing else
COUNTS_MARKER = "<!-- arw:counts -->"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_CHECKSUM = re.compile(r"^sha256:[0-9a-f]{64}$")


class SiteError(ArwError):
    """The site cannot be generated or built (bad input, or mkdocs refused it in strict mode)."""


@dataclass
class SiteResult:
    out: Path
    packs: int
    pages: int
    seconds: float
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PackView:
    name: str
    trust: str  # official | verified | community | experimental
    entry: dict


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def html_table(css: str, rows, headers: tuple[str, ...] = ()) -> str:
    """``<div class=css>`` around a table: *headers* (HTML) as its head row, *rows* (whole ``<tr>`` lines) as its body."""
    head = "<thead><tr>" + "".join(f"<th>{h}</th>" for h in headers) + "</tr></thead>\n" if headers else ""
    return f'<div class="{css}">\n<table>\n{head}<tbody>\n{"".join(rows)}</tbody>\n</table>\n</div>\n'


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


# --- pages -------------------------------------------------------------------------------------------------


def money(value: object) -> str:
    return f"${value:,.2f}" if isinstance(value, int | float) else "n/a"


def cost_range(release: dict) -> str:
    costs = [s.get("monthly_usd") for s in release.get("sizes", {}).values() if isinstance(s, dict)]
    costs = [c for c in costs if isinstance(c, int | float)]
    if not costs:
        return "n/a"
    low, high = min(costs), max(costs)
    return money(low) if low == high else f"{money(low)} – {money(high)}"


def _front_matter(title: str, description: str) -> str:
    # JSON strings are valid YAML double-quoted scalars; the values are HTML-escaped because
    # mkdocs puts them into <title> and <meta> without escaping.
    return (f"---\ntitle: {json.dumps(esc(title))}\n"
            f"description: {json.dumps(esc(description[:300]))}\n---\n\n")


def _link(url: str, page_dir: Path, dist: Path) -> str:
    """A release URL as seen from a page: absolute URLs as they are, relative ones resolved against the dist."""
    if "://" in url:
        return url if url.lower().startswith(("https://", "http://")) else "#"
    return Path(os.path.relpath(dist / url, page_dir)).as_posix()


def trust_reason(view: PackView, signing: str) -> str:
    how = {"ed25519": "signed with the registry's Ed25519 key",
           "sigstore": "signed by the registry's release workflow (sigstore keyless)",
           }.get(signing, "not signed (this registry was built without a signing key)")
    if view.trust == "official":
        return f"Official pack, reviewed and released by the project maintainers; archives {how}."
    return f"{view.trust.capitalize()} pack, contributed by its maintainers; archives {how}."


def pack_values(view: PackView, index: dict, dist: Path, out: Path, notes: list[str]) -> dict[str, str]:
    """The HTML of one pack page's parts, keyed by the stamp placeholders of ``STAMP_PAGE`` (all escaped)."""
    entry = view.entry
    name = view.name
    title = str(entry.get("name") or name)
    description = str(entry.get("description") or "")
    latest = entry["latest_version"]
    release = entry["releases"][latest]
    page_dir = out / "packs" / name
    parts = []
    badges = f'<span class="arw-badge arw-trust-{esc(view.trust)}">{esc(view.trust)}</span>'
    status = entry.get("status")
    if status and status != "active":
        badges += f' <span class="arw-badge arw-status">{esc(status)}</span>'
    parts.append(f'<p class="arw-lead">{badges} <code>{esc(name)}</code> · latest version '
                 f'<strong>{esc(latest)}</strong> · license {esc(entry.get("license") or "n/a")}</p>\n')
    parts.append(f"<p>{esc(description)}</p>\n")

    maintainers = []
    for m in entry.get("maintainers") or [{"name": entry.get("maintainer", "")}]:
        if not isinstance(m, dict):
            continue
        text = esc(m.get("name", ""))
        if m.get("github") and re.match(r"^[A-Za-z0-9-]{1,39}$", str(m["github"])):
            text += f' (<a href="https://github.com/{esc(m["github"])}" rel="nofollow noopener">@{esc(m["github"])}</a>)'
        if m.get("email"):
            text += f" &lt;{esc(m['email'])}&gt;"
        maintainers.append(text)
    rows = [
        ("Trust", f"{esc(view.trust)}: {esc(trust_reason(view, str(index.get('signing', 'none'))))}"),
        ("Maintainers", ", ".join(maintainers) or "n/a"),
        ("Categories", " ".join(f'<span class="arw-chip">{esc(c)}</span>' for c in entry.get("categories") or [])
         or "n/a"),
        ("Keywords", esc(", ".join(map(str, entry.get("keywords") or []))) or "n/a"),
        ("Regions", esc(", ".join(map(str, release.get("regions") or []))) or "n/a"),
        ("Monthly cost", esc(cost_range(release))),
    ]
    parts.append(html_table("arw-facts", (f"<tr><th>{k}</th><td>{v}</td></tr>\n" for k, v in rows)))

    from registry_tools.site.version_changes import changes_html

    history, latest_read = [], None
    for version in sorted(entry["releases"], key=version_order):
        read = read_version(dist, name, version, entry["releases"][version],
                             extra=("README.md",) if version == latest else ())
        history.append((version, read.diff_input))
        if version == latest:
            latest_read = read
    files = latest_read.members if latest_read else {}
    if "README.md" not in files:
        notes.append(f"{name}@{latest}: no README found in its archive")
    readme = files.get("README.md")
    values = {
        "ARWSTAMPID": esc(name),
        "ARWSTAMPTITLE": esc(title),
        "ARWSTAMPDESCRIPTION": esc(description[:300]),
        "ARWSTAMPNAME": name,  # a valid pack name: [a-z][a-z0-9_]*
        "ARWSTAMPLATEST": esc(latest),  # semver
        "ARWSTAMPHEAD": "".join(parts),
        "ARWSTAMPSIZES": sizes_table(release),
        "ARWSTAMPVERSIONS": versions_table(entry, page_dir, dist),
        "ARWSTAMPINSIDE": inside_html(latest_read.data if latest_read else None, "domain.yaml" in files),
        "ARWSTAMPCHANGES": changes_html(history),
    }
    if readme:
        from registry_tools.site.readme import render_readme

        values["ARWSTAMPREADME"] = f'<div class="arw-readme">\n{render_readme(readme).strip()}\n</div>\n'
    return values


def version_order(version: str) -> tuple:
    """Semver order; an unparsable version sorts first and never breaks the page."""
    from registry_tools.packs.semver import Version

    try:
        return (1, Version.parse(version)._key())
    except ValueError:
        return (0, ())


@dataclass(frozen=True)
class VersionRead:
    """One version's files from its archive: the members read, ``domain.yaml`` parsed (None when it is missing
    or unreadable), and what the diff needs (or why it cannot have it)."""

    members: dict[str, str]
    data: object
    diff_input: object  # changes.VersionFiles | str


def read_version(dist: Path, name: str, version: str, release: dict, extra: tuple[str, ...] = ()) -> VersionRead:
    """Read one version's ``domain.yaml``, template and *extra* files from its archive beside the index."""
    import yaml

    from registry_tools.limits import LIMITS
    from registry_tools.packs.files import PACK_FILE, TEMPLATE_FILE
    from registry_tools.packs.marked_yaml import SafeDateless
    from registry_tools.site.readme import read_members
    from registry_tools.site.version_changes import diff_input

    url = str(release.get("download_url", ""))
    # A registry built with --base-url links its archives absolutely; the archive is still beside the index.
    local = dist / "packs" / url.rsplit("/", 1)[-1] if url.startswith(("http://", "https://")) else dist / url
    top, checksum = f"{name}-{version}", release.get("checksum")
    members = read_members(local, top, (PACK_FILE, TEMPLATE_FILE, *extra), checksum, LIMITS.max_template_bytes)
    if not members:
        return VersionRead(members, None, "its archive is not beside the index or does not match its checksum")
    try:
        data = yaml.load(members.get(PACK_FILE, ""), Loader=SafeDateless)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        data = None
    deployment = data.get("deployment") if isinstance(data, dict) else None
    wanted = str(deployment.get("template") or TEMPLATE_FILE) if isinstance(deployment, dict) else TEMPLATE_FILE
    if wanted not in members:
        members.update(read_members(local, top, (wanted,), checksum, LIMITS.max_template_bytes))
    return VersionRead(members, data, diff_input(data, members))


def _words(value: object) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_words(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_words(v) for v in value)
    return str(value)


def _minutes(value: object) -> str:
    return f"{value} min" if value else ""


def _external_link(url: object, text: object) -> str:
    url = str(url or "")
    if url.startswith(("https://", "http://")):
        return f'<a href="{esc(url)}" rel="nofollow noopener">{esc(text)}</a>'
    return esc(text)


def inside_html(data: object, found: bool) -> str:
    """The software, demo workflows and data sources of the latest version (its archive's parsed domain.yaml)."""
    if not found:
        return "<p>Not shown: this registry's archives are not beside it (see the pack's domain.yaml).</p>"
    if not isinstance(data, dict):
        return "<p>Not shown: the pack's domain.yaml could not be read.</p>"
    parts = []
    software = data.get("software")
    if isinstance(software, dict) and software:
        parts.append("<h3>Software</h3>\n" + html_table("arw-facts", (
            f"<tr><th>{esc(k.replace('_', ' '))}</th><td>{esc(_words(v))}</td></tr>\n" for k, v in software.items())))
    workflows = [w for w in data.get("workflows") or [] if isinstance(w, dict)]
    if workflows:
        parts.append("<h3>Demo workflows</h3>\n" + html_table("arw-workflows", (
            f"<tr><td><code>{esc(w.get('name', ''))}</code></td><td>{esc(w.get('description', ''))}</td>"
            f"<td>{esc(w.get('size', ''))}</td><td>{esc(_minutes(w.get('expected_runtime_minutes')))}</td>"
            f"<td>{esc(_words(w.get('input_data') or []))}</td></tr>\n" for w in workflows),
            ("Workflow", "What it does", "Size", "Runtime", "Input data")))
    sources = [d for d in data.get("data_sources") or [] if isinstance(d, dict)]
    if sources:
        parts.append("<h3>Data sources</h3>\n" + html_table("arw-data", (
            f"<tr><td>{_external_link(d.get('registry_url'), d.get('name', ''))}</td>"
            f"<td><code>{esc(d.get('location', ''))}</code></td><td>{esc(d.get('region') or '')}</td>"
            f"<td>{esc(d.get('description', ''))}</td></tr>\n" for d in sources),
            ("Data", "Location", "Region", "Description")))
    return "".join(parts) or "<p>The pack lists no software, workflows or data sources.</p>"


def sizes_table(release: dict) -> str:
    default = release.get("default_size")
    rows = []
    for size_name, size in release["sizes"].items():
        if not isinstance(size, dict):
            continue
        label = esc(size_name) + (" <em>(default)</em>" if size_name == default else "")
        rows.append(f"<tr><td>{label}</td><td><code>{esc(size.get('instance_type', ''))}</code></td>"
                    f"<td>{esc(size.get('vcpus', ''))}</td><td>{esc(size.get('memory_gib', ''))}</td>"
                    f"<td>{esc(size.get('gpus', 0))}</td><td>{esc(size.get('storage_gib', ''))}</td>"
                    f'<td class="arw-cost">{esc(money(size.get("monthly_usd")))}</td></tr>\n')
    lines = [html_table("arw-sizes", rows, ("Size", "Instance type", "vCPUs", "Memory (GiB)", "GPUs", "Storage (GiB)",
                                            "Monthly cost (USD)")), "\n"]
    assumptions = release.get("cost_assumptions") or {}
    lines.append(f"<p><small>On-demand prices of {esc(assumptions.get('price_date', 'n/a'))} in "
                 f"{esc(assumptions.get('region', 'n/a'))}, {esc(assumptions.get('hours_per_month', 730))} hours a "
                 "month, plus gp3 storage.</small></p>\n\n")
    return "".join(lines)


def versions_table(entry: dict, page_dir: Path, dist: Path) -> str:
    rows = []
    for version in sorted(entry["releases"], key=version_order, reverse=True):
        release = entry["releases"][version]
        checksum = str(release.get("checksum", ""))
        label = esc(version) + (" <em>(pre-release)</em>" if release.get("prerelease") else "")
        links = []
        if release.get("download_url"):
            links.append(f'<a href="{esc(_link(str(release["download_url"]), page_dir, dist))}">archive</a>'
                         f" ({release.get('size', 0) if isinstance(release.get('size'), int) else 0:,} bytes)")
        if release.get("signature_url"):
            links.append(f'<a href="{esc(_link(str(release["signature_url"]), page_dir, dist))}">signature</a>')
        rows.append(f"<tr><td>{label}</td><td>{esc(str(release.get('created', ''))[:10])}</td>"
                    f'<td class="arw-checksum">{esc(checksum) if _CHECKSUM.match(checksum) else "n/a"}</td>'
                    f"<td>{' · '.join(links)}</td></tr>\n")
    return html_table("arw-versions", rows, ("Version", "Date", "Checksum", "Download")) + "\n"


def catalog_page(count: int) -> str:
    return ("---\ntitle: Catalog\n---\n\n# Catalog\n\n"
            f"Every pack in the registry ({count}). Filter by text, category or trust level; "
            "open a pack for its sizes, versions and install command.\n\n"
            # fetched while the theme loads, not after it: the catalog script reads it from the cache
            '<link rel="preload" href="../catalog.json" as="fetch" crossorigin="anonymous">\n'
            '<div id="arw-catalog" data-base="../">\n'
            '<div class="arw-controls">\n'
            '<input id="arw-filter" type="search" placeholder="Filter packs: name, description, keyword" '
            'aria-label="Filter packs" autocomplete="off">\n'
            '<select id="arw-category" aria-label="Category"><option value="">All categories</option></select>\n'
            '<select id="arw-trust" aria-label="Trust level"><option value="">All trust levels</option></select>\n'
            '<span id="arw-count"></span>\n'
            "</div>\n"
            '<p id="arw-status">Loading the catalog…</p>\n'
            '<div class="arw-table">\n<table>\n'
            "<thead><tr><th>Pack</th><th>Latest</th><th>Categories</th><th>Trust</th>"
            "<th>Monthly cost</th></tr></thead>\n"
            "<tbody></tbody>\n</table>\n</div>\n</div>\n\n"
            # before the theme's scripts: the first rows are in place when the theme first measures the page
            '<script src="../assets/catalog.js"></script>\n'
            '<noscript><p>The catalog table needs JavaScript; the search box finds every pack page.</p></noscript>\n')


CATALOG_COLUMNS = ("id", "title", "version", "categories", "trust", "low", "high", "text")


def catalog_columns(views: list[PackView]) -> dict[str, list]:
    """``catalog.json``: what the catalog table shows and filters, one list per field (a few large arrays parse
    and collect faster in the browser than thousands of small objects), sorted by title."""
    columns: dict[str, list] = {name: [] for name in CATALOG_COLUMNS}
    for view in sorted(views, key=lambda v: (str(v.entry.get("name") or v.name).lower(), v.name)):
        entry = view.entry
        release = entry["releases"][entry["latest_version"]]
        costs = [s.get("monthly_usd") for s in release["sizes"].values() if isinstance(s, dict)]
        costs = [c for c in costs if isinstance(c, int | float)]
        title = str(entry.get("name") or view.name)
        categories = [str(c) for c in entry.get("categories") or []]
        keywords = [str(k) for k in entry.get("keywords") or []]
        # What the filter matches words against, lowercased once here instead of in every visitor's browser.
        text = " ".join([view.name, title, str(entry.get("description") or ""), *categories, *keywords, view.trust])
        for name, value in (("id", view.name), ("title", title), ("version", str(entry["latest_version"])),
                            ("categories", "|" + "|".join(categories) + "|"), ("trust", view.trust),
                            ("low", min(costs) if costs else None), ("high", max(costs) if costs else None),
                            ("text", text.lower())):
            columns[name].append(value)
    return columns


def counts_html(views: list[PackView]) -> str:
    by_category: dict[str, int] = {}
    by_trust: dict[str, int] = {}
    for view in views:
        by_trust[view.trust] = by_trust.get(view.trust, 0) + 1
        for category in view.entry.get("categories") or []:
            by_category[str(category)] = by_category.get(str(category), 0) + 1

    def table(heading: str, counts: dict[str, int]) -> str:
        return html_table("arw-counts", (f"<tr><td>{esc(k)}</td><td>{v}</td></tr>\n" for k, v in sorted(counts.items())),
                          (heading, "Packs"))

    return (f'<p id="arw-total">{len(views)} packs.</p>\n\n' + table("Trust level", by_trust) + "\n"
            + table("Category", by_category))


# --- project and build ---------------------------------------------------------------------------------------


# Pack pages are stamped, not built one by one: mkdocs renders two stamp pages (with and without a README) whose
# text is made of placeholders, and every pack page is that HTML with the placeholders replaced by the pack's
# escaped HTML (all pack pages live at the same depth, so every relative URL in the theme is the same). The
# search index gets the stamp pages' entries, filled in the same way. This keeps the build linear and cheap
# (Python-Markdown, the theme and the search plugin would otherwise run once per pack: ~20 ms each).
STAMPS = {"plain": "arw-stamp-plain", "readme": "arw-stamp-readme"}  # not valid pack names: never a real page
STAMP_PAGE = """---
title: ARWSTAMPTITLE
description: ARWSTAMPDESCRIPTION
---

<h1 id="ARWSTAMPID">ARWSTAMPTITLE</h1>

ARWSTAMPHEAD

## Install and deploy

```bash
aws-research-wizard config install ARWSTAMPNAME@ARWSTAMPLATEST
aws-research-wizard deploy --domain ARWSTAMPNAME@ARWSTAMPLATEST
```

## Sizes and monthly cost

ARWSTAMPSIZES

## Software, workflows and data

ARWSTAMPINSIDE

## Versions

ARWSTAMPVERSIONS

## What changed { #changes }

ARWSTAMPCHANGES
"""
STAMP_README = """
## README (ARWSTAMPLATEST) { #readme }

ARWSTAMPREADME
"""
_PLACEHOLDER = re.compile(r"<p>(ARWSTAMP(?:HEAD|SIZES|INSIDE|VERSIONS|CHANGES|README))</p>|(ARWSTAMP[A-Z]+)")
_TAG = re.compile(r"<[^>]+>")
PARALLEL_MIN_PACKS = 200  # below this, starting worker processes costs more than it saves
MAX_WORKERS = 8
# Kept out of the search index: diff lines, checksums and whole READMEs would bury the words people search for
# (description, keywords, software, workflows, data) and make every visitor download megabytes per thousand packs.
UNSEARCHED = ("ARWSTAMPCHANGES", "ARWSTAMPVERSIONS", "ARWSTAMPREADME")


class Stamp:
    """A template split once at its placeholders; ``fill`` joins the parts with a pack's values (inserted text
    is never scanned again, and the template is not scanned per pack)."""

    def __init__(self, template: str) -> None:
        pieces = _PLACEHOLDER.split(template)  # text, (group 1, group 2), text, ...
        self.texts = pieces[::3]
        self.keys = [a or b for a, b in zip(pieces[1::3], pieces[2::3], strict=True)]

    def fill(self, values: dict[str, str]) -> str:
        out = [self.texts[0]]
        for key, text in zip(self.keys, self.texts[1:], strict=True):
            out += (values[key], text)
        return "".join(out)


def search_text(values: dict[str, str]) -> dict[str, str]:
    """The placeholder values as the plain text the search index holds."""
    def plain(key: str, html_text: str) -> str:
        if key in ("ARWSTAMPNAME", "ARWSTAMPLATEST"):
            return html_text
        return "" if key in UNSEARCHED else " ".join(_TAG.sub(" ", html_text).split())

    return {k: plain(k, v) for k, v in values.items()}


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
    # What the catalog table needs, precomputed: a fraction of registry.json to fetch and parse in the browser.
    (docs / "catalog.json").write_text(json.dumps(catalog_columns(views), separators=(",", ":")), encoding="utf-8")
    (docs / "catalog.md").write_text(catalog_page(len(views)), encoding="utf-8")
    home = docs / "index.md"
    text = home.read_text(encoding="utf-8")
    home.write_text(text.replace(COUNTS_MARKER, counts_html(views)) if COUNTS_MARKER in text
                    else text + "\n" + counts_html(views), encoding="utf-8")
    (docs / "packs").mkdir()
    (docs / "packs" / f"{STAMPS['plain']}.md").write_text(STAMP_PAGE, encoding="utf-8")
    (docs / "packs" / f"{STAMPS['readme']}.md").write_text(STAMP_PAGE + STAMP_README, encoding="utf-8")
    return index, views, notes


@dataclass(frozen=True)
class PageJob:
    """What every pack page needs besides its pack (inherited by forked workers, never pickled)."""

    index: dict
    dist: Path
    site: Path
    out: Path
    pages: dict[str, Stamp]  # stamp kind -> the page mkdocs rendered for it
    search: dict[str, list[tuple[dict, Stamp, Stamp]]] | None  # stamp kind -> (entry, title, text) per section


_JOB: PageJob | None = None  # set while pack pages are written


def _write_pack_page(view: PackView) -> tuple[list[dict], list[str]]:
    """Write one pack's page; its search entries and notes."""
    job = _JOB
    notes: list[str] = []
    values = pack_values(view, job.index, job.dist, job.out, notes)
    kind = "readme" if "ARWSTAMPREADME" in values else "plain"
    page_dir = job.site / "packs" / view.name
    page_dir.mkdir(exist_ok=True)
    (page_dir / "index.html").write_text(job.pages[kind].fill(values), encoding="utf-8")
    if job.search is None:
        return [], notes
    text = search_text(values)
    return [{**entry, "location": f"packs/{view.name}/{entry['location']}", "title": title.fill(text),
             "text": body.fill(text)} for entry, title, body in job.search[kind]], notes


def write_pack_pages(site: Path, views: list[PackView], index: dict, dist: Path, out: Path,
                     workers: int | None = None) -> list[str]:
    """Write every pack page of the built ``site`` from its stamp pages, add their search entries, remove the
    stamp pages; the notes. Each pack reads, parses and diffs all its archives and renders its README, so with
    many packs the work is spread over one forked process per CPU."""
    global _JOB
    pages = {kind: Stamp((site / "packs" / slug / "index.html").read_text(encoding="utf-8"))
             for kind, slug in STAMPS.items()}
    search_path = site / "search" / "search_index.json"
    search = json.loads(search_path.read_text(encoding="utf-8")) if search_path.is_file() else None
    entries: dict[str, list[tuple[dict, Stamp, Stamp]]] | None = None
    if search is not None:
        entries, docs = {kind: [] for kind in STAMPS}, []
        for doc in search["docs"]:
            kind = next((k for k, slug in STAMPS.items() if doc["location"].startswith(f"packs/{slug}/")), None)
            if kind and _TAG.sub("", doc["text"]).strip() in UNSEARCHED:
                continue  # a section with nothing searchable: no entry titled "Versions" for every pack
            if kind:
                entries[kind].append(({**doc, "location": doc["location"][len(f"packs/{STAMPS[kind]}/"):]},
                                      Stamp(doc["title"]), Stamp(doc["text"])))
            else:
                docs.append(doc)
        search["docs"] = docs
    if workers is None:
        workers = min(os.cpu_count() or 1, MAX_WORKERS) if len(views) >= PARALLEL_MIN_PACKS else 1
    _JOB = PageJob(index, dist, site, out, pages, entries)
    try:
        if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
            results = [_write_pack_page(view) for view in views]
        else:
            from concurrent.futures import ProcessPoolExecutor

            # Everything a worker imports is imported before the fork: no child can wait on an import lock that
            # another thread of this process held at that moment.
            import cmarkgfm  # noqa: F401
            import yaml  # noqa: F401

            import registry_tools.diff.versions  # noqa: F401
            import registry_tools.packs.marked_yaml  # noqa: F401
            import registry_tools.packs.model  # noqa: F401
            import registry_tools.site.readme  # noqa: F401
            import registry_tools.site.version_changes  # noqa: F401

            chunk = max(1, min(64, len(views) // (workers * 8)))
            # The workers inherit the index and templates frozen (never scanned, so their pages stay shared) and
            # run without the cyclic garbage collector: pack pages make almost no cycles (a worker's peak memory
            # is the same with it), and collections were ~10% of their time.
            gc.freeze()
            try:
                with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                         initializer=gc.disable) as pool:
                    results = list(pool.map(_write_pack_page, views, chunksize=chunk))
            finally:
                gc.unfreeze()
    finally:
        _JOB = None
    notes = [note for _, found in results for note in found]
    if len(notes) > 5:  # one line, not thousands, when the archives are elsewhere
        notes = [f"{len(notes)} packs have no README in the registry's archives (first: {notes[0].split(':')[0]})"]
    for slug in STAMPS.values():
        shutil.rmtree(site / "packs" / slug)
    if search is not None:
        search["docs"] += [doc for docs, _ in results for doc in docs]
        search_path.write_text(json.dumps(search, separators=(",", ":")), encoding="utf-8")
    return notes


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
