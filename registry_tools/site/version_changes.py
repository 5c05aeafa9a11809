"""A pack page's "What changed" section: every version against the one before it, with the client's diff.

For each version of a pack (in semver order) the site reads ``domain.yaml``
and the CloudFormation template from the version's archive (``pack_sections.read_version``:
checksum-checked, never extracted), ``diff_input`` turns them into a ``VersionFiles``, and
``changes_html`` diffs each consecutive pair with ``diff.versions.diff_packs`` (the
same comparison as ``config diff NAME@A NAME@B``) and renders the client's text
report as escaped HTML, newest first. A version whose archive is missing or
unreadable is named, never guessed at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from registry_tools.packs.files import PACK_FILE

LINE_CLASSES = {"+": "arw-add", "-": "arw-del", "~": "arw-chg", "!": "arw-warn"}
OPEN_LATEST = 1  # how many of the newest changes are shown unfolded


@dataclass(frozen=True)
class VersionFiles:
    """What the diff needs of one version: the pack model and its template (``diff.versions.DiffInput``)."""

    pack: Any  # registry_tools.packs.model.Pack
    template: dict[str, Any]


def diff_input(data: Any, members: dict[str, str]) -> VersionFiles | str:
    """The pack and template of one archive (its parsed ``domain.yaml`` and members), or why not."""
    from registry_tools.packs.model import Pack

    if PACK_FILE not in members:
        return f"its archive has no readable {PACK_FILE}"
    try:
        template_name = str(data["deployment"]["template"])
    except (KeyError, TypeError):
        return f"its {PACK_FILE} cannot be read"
    if template_name not in members:
        return f"its archive has no readable {template_name}"
    try:
        template = json.loads(members[template_name])
        pack = Pack.from_mapping(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"it does not load ({type(exc).__name__}: {str(exc)[:120]})"
    if not isinstance(template, dict):
        return f"its {template_name} is not a template"
    return VersionFiles(pack, template)


def changes_html(versions: list[tuple[str, VersionFiles | str]]) -> str:
    """HTML for versions in ascending order, each with its files or the reason they are missing."""
    from html import escape

    if len(versions) < 2:
        return "<p>This is the pack's first version.</p>\n"
    parts = ['<div class="arw-changes">\n']
    pairs = [(versions[i - 1], versions[i]) for i in range(len(versions) - 1, 0, -1)]  # newest first
    for n, ((old_version, old), (new_version, new)) in enumerate(pairs):
        opened = " open" if n < OPEN_LATEST else ""
        if isinstance(old, str):
            missing, why = old_version, old
        elif isinstance(new, str):
            missing, why = new_version, new
        else:
            parts.append(_compared(opened, old_version, old, new_version, new))
            continue
        parts.append(f"<details{opened}><summary><strong>{escape(new_version)}</strong> (from "
                     f"{escape(old_version)}): not compared, version {escape(missing)}: {escape(why)}"
                     "</summary></details>\n")
    parts.append("</div>\n")
    return "".join(parts)


def _compared(opened: str, old_version: str, old: VersionFiles, new_version: str, new: VersionFiles) -> str:
    """One version against the previous one: the diff's summary, and its lines unless there are none."""
    from html import escape

    from registry_tools.diff.versions import diff_packs, render_text

    report = render_text(diff_packs(old, new)).rstrip("\n").split("\n")
    summary = report[0].split(": ", 1)[-1]
    parts = [f"<details{opened}><summary><strong>{escape(new_version)}</strong> (from {escape(old_version)}): "
             f"{escape(summary)}</summary>\n"]
    if len(report) > 2:
        parts.append('<pre class="arw-diff">' + "\n".join(_line(line) for line in report[2:]) + "</pre>\n")
    parts.append("</details>\n")
    return "".join(parts)


def _line(line: str) -> str:
    from html import escape

    if not line:
        return ""
    marker = line.lstrip()[:1]
    css = LINE_CLASSES.get(marker) if line.startswith("  ") else "arw-section"
    return f'<span class="{css}">{escape(line)}</span>' if css else escape(line)
