"""Semantic checks of a loaded pack: pure functions, no I/O.

Beyond the schema: directory names match ``name``/``version``; every size's
instance type is in the price catalogue, sold in every declared region and
described with the catalogue's vCPUs/memory/GPUs; declared monthly costs agree
with the price table; the template's ``InstanceType`` allowed values cover
every size and it declares every output the pack promises; the README has the
sections users need. Whatever the schema lets through and whatever shape the
template has, these checks return findings and never raise.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from registry_tools.packs.errors import safe_text
from registry_tools.packs.loader import LoadedPack
from registry_tools.packs.schema import show
from registry_tools.pricing.catalogue import Catalogue, PriceError
from registry_tools.pricing.cost import check_estimates
from registry_tools.validation.findings import ERROR, WARNING, Finding

README_SECTIONS = ("overview", "sizes and cost", "software", "getting started")
COST_WARNING = 0.05  # more than 5% off the price table: warning
COST_ERROR = 0.10  # more than 10% off: error
PRICE_TABLE_MAX_AGE_DAYS = 180
PRICE_TABLE = "(price table)"  # the "pack" of findings about the price table itself


def check_pack(loaded: LoadedPack, catalogue: Catalogue, version_dir: Path | None = None) -> list[Finding]:
    pack, doc = loaded.pack, loaded.document
    out: list[Finding] = []

    def add(rule: str, message: str, path: tuple = (), *, severity: str = ERROR, file: str | None = None, line: int | None = None) -> None:
        column = None
        if file is None:
            mark = doc.mark_for(path)
            file, line, column = loaded.pack_file, (mark.line if mark else None), (mark.column if mark else None)
        out.append(Finding(pack.name, str(pack.version), rule, severity, file, line, message, column))

    if version_dir is not None:
        if version_dir.parent.name != pack.name:
            add("ARW101", f"name {pack.name!r} does not match the pack directory {version_dir.parent.name!r}", ("name",))
        if version_dir.name != f"v{pack.version}":
            add("ARW102", f"version {str(pack.version)!r} does not match the version directory {version_dir.name!r} (expected v{pack.version})", ("version",))

    for size in pack.sizes:
        path = ("sizes", size.name)
        try:
            spec = catalogue.instance(size.instance_type)
        except PriceError as exc:
            add("ARW110", f"{exc}; choose a type from registry_tools/data/prices.json", (*path, "instance_type"))
            continue
        for field, declared, actual in (("vcpus", size.vcpus, spec.vcpus), ("memory_gib", size.memory_gib, spec.memory_gib), ("gpus", size.gpus, spec.gpus)):
            if declared != actual:
                add("ARW111", f"{size.instance_type} has {actual} {field.replace('_gib', ' GiB')}, the pack says {declared}", (*path, field))
        for region in pack.regions:
            if region not in spec.hourly_usd:
                add("ARW112", f"size {size.name}: {size.instance_type} is not sold in {region} (sold in: {', '.join(spec.regions)}); remove the region or change the type", ("regions",))

    errors = {m.size for m in check_estimates(catalogue, pack, COST_ERROR) if m.computed is not None}
    for mismatch in check_estimates(catalogue, pack, COST_WARNING):
        if mismatch.computed is not None:
            severity = ERROR if mismatch.size in errors else WARNING
            add("ARW120", str(mismatch), ("cost_estimate", "monthly_usd", mismatch.size), severity=severity)
    if pack.cost_estimate.price_date != catalogue.price_date:
        add("ARW121", f"costs are priced on {pack.cost_estimate.price_date}; the price table is dated {catalogue.price_date}", ("cost_estimate", "price_date"), severity=WARNING)

    template = loaded.template
    parameters = _mapping(template.get("Parameters"))
    param = parameters.get("InstanceType")
    if not isinstance(param, dict):
        add("ARW130", "the template has no InstanceType parameter", file=loaded.template_file, line=1)
    else:
        allowed = param.get("AllowedValues")
        allowed = allowed if isinstance(allowed, list) else []
        param_line = _line_of(loaded.template_text, '"InstanceType"') or 1
        line = _line_of(loaded.template_text, '"AllowedValues"', param_line) or param_line
        for size in pack.sizes:
            if size.instance_type not in allowed:
                add("ARW130", f"InstanceType AllowedValues does not include {size.instance_type} (size {size.name})", file=loaded.template_file, line=line)
        if param.get("Default") != pack.default.instance_type:
            add("ARW132", f"InstanceType default is {show(param.get('Default'))}; the pack's default size uses {pack.default.instance_type}", file=loaded.template_file, line=param_line, severity=WARNING)
    outputs = _mapping(template.get("Outputs"))
    for name in pack.deployment.outputs:
        if name not in outputs:
            add("ARW131", f"output '{safe_text(name)}' is declared in domain.yaml but missing from the template's Outputs", ("deployment", "outputs"))
    for key in pack.deployment.parameters:
        if key not in parameters:
            add("ARW133", f"deployment parameter '{safe_text(key)}' is not a template parameter", ("deployment", "parameters", key))

    # headings found line by line, stripped in Python: a regex with \s* around a lazy group is quadratic
    headings = {h.strip().lower() for h in re.findall(r"^##[ \t]+(.*)$", loaded.readme, flags=re.MULTILINE)}
    readme_file = str(Path(loaded.pack_file).with_name("README.md"))
    for section in README_SECTIONS:
        if section not in headings:
            add("ARW140", f"README.md has no '## {section.title()}' section", file=readme_file, line=None)
    return out


def _mapping(value) -> dict:
    """A template section that should be a mapping; anything else counts as empty."""
    return value if isinstance(value, dict) else {}


def _line_of(text: str, needle: str, after_line: int = 1) -> int | None:
    """The line of the first *needle* on or after line *after_line*."""
    start = 0
    for _ in range(after_line - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return None
    index = text.find(needle, start)
    return text.count("\n", 0, index) + 1 if index >= 0 else None


def check_price_table_age(catalogue: Catalogue, today: date) -> list[Finding]:
    """A warning when the price table is older than PRICE_TABLE_MAX_AGE_DAYS."""
    age = (today - date.fromisoformat(catalogue.price_date)).days
    if age <= PRICE_TABLE_MAX_AGE_DAYS:
        return []
    return [Finding(PRICE_TABLE, catalogue.price_date, "ARW122", WARNING, "registry_tools/data/prices.json", None,
                    f"the price table is {age} days old ({catalogue.price_date}); prices may have changed")]
