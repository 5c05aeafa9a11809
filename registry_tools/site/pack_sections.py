"""The HTML of one pack page's sections, keyed by the placeholders of the stamp page (``pack_pages.STAMP_PAGE``).

``pack_values`` takes a pack's index entry and reads each of its versions from
the archive beside the index (``read_version``: checksum-checked, never
extracted; the README and the template too for the latest one). From these it
writes the lead and the facts table (trust, maintainers, categories, regions,
cost), the sizes, what the latest version contains (software, demo workflows,
data sources from its ``domain.yaml``), every version with its download links,
the README (``site.readme``) and what changed from each previous version
(``site.version_changes``). Every value from the pack is escaped (``site.html``):
neither Markdown nor HTML in it is interpreted.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from registry_tools.site.html import esc, html_table
from registry_tools.site.views import PackView

if TYPE_CHECKING:
    from registry_tools.site.version_changes import VersionFiles

_CHECKSUM = re.compile(r"^sha256:[0-9a-f]{64}$")


def money(value: object) -> str:
    return f"${value:,.2f}" if isinstance(value, int | float) else "n/a"


def cost_range(release: dict) -> str:
    listed = [s.get("monthly_usd") for s in release.get("sizes", {}).values() if isinstance(s, dict)]
    costs = [c for c in listed if isinstance(c, int | float)]
    if not costs:
        return "n/a"
    low, high = min(costs), max(costs)
    return money(low) if low == high else f"{money(low)} – {money(high)}"


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
    """The HTML of one pack page's parts, keyed by the stamp placeholders of ``pack_pages.STAMP_PAGE`` (all escaped)."""
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
    diff_input: VersionFiles | str  # the reason when there are no files to compare


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

