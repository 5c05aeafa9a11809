"""Semantic checks of a loaded pack: pure functions, no I/O.

Beyond the schema: directory names match ``name``/``version``; every size's
instance type is in the price catalogue, sold in every declared region and
described with the catalogue's vCPUs/memory/GPUs; declared monthly costs agree
with the price table; the template's ``InstanceType`` allowed values cover
every size and it declares every output the pack promises, its ConnectCommand
goes through SSM Session Manager, its user data sets up the CloudWatch agent's
memory metric and installs every conda/spack/pip package the pack declares; the
README has the sections users need. Whatever the schema lets through and
whatever shape the template has, these checks return findings and never raise.

``RULES`` is every ARW rule id ``registry validate`` reports (this module's, the
loader's problem kinds and the pack-level checks of ``pipeline``); with
``security.RULES`` (E91xx/W91xx) and cfn-lint's own it is the rule set
CONTRIBUTING.md lists, and ``tests/test_validate.py`` keeps the two in step.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from registry_tools.packs.errors import safe_text
from registry_tools.packs.loader import LoadedPack
from registry_tools.packs.schema import show
from registry_tools.pricing.catalogue import Catalogue, PriceError
from registry_tools.pricing.cost import check_estimates
from registry_tools.security.effective import walk_strings
from registry_tools.validation.findings import ERROR, WARNING, Finding

RULES: Mapping[str, str] = MappingProxyType({
    "ARW001": "domain.yaml matches the schema (types, bounds, required keys, pinned software, regions, s3:// data)",
    "ARW002": "domain.yaml is YAML the loader accepts (no tags, merge keys or duplicate keys; bounded aliases)",
    "ARW003": "the pack's fields agree with each other (default size, cost per size)",
    "ARW004": "cloudformation.json is valid JSON with a Resources section",
    "ARW005": "every pack file is present, a regular file and within its size cap",
    "ARW006": "numbers are finite and exact in JSON, mapping keys are text",
    "ARW007": "text has no control or bidi-override characters; one-line fields are one line",
    "ARW101": "name equals the pack directory",
    "ARW102": "version equals the version directory",
    "ARW103": "latest links to the highest version",
    "ARW104": "a new version is greater than the published ones",
    "ARW110": "every size's instance type is in the price table",
    "ARW111": "every size's vCPUs, memory and GPUs are the price table's",
    "ARW112": "every size's instance type is sold in every region of the pack",
    "ARW120": "monthly costs agree with the price table (warning beyond 5%, error beyond 10%)",
    "ARW121": "costs are priced on the price table's date",
    "ARW122": "the price table is at most 180 days old",
    "ARW130": "the template's InstanceType AllowedValues cover every size",
    "ARW131": "every output domain.yaml declares is in the template's Outputs",
    "ARW132": "the InstanceType default is the default size's type",
    "ARW133": "every deployment parameter is a template parameter",
    "ARW134": "the ConnectCommand output opens an SSM Session Manager session",
    "ARW140": "README.md has the sections Overview, Sizes and cost, Software, Getting started",
    "ARW150": "the user data runs the CloudWatch agent publishing mem_used_percent (namespace CWAgent, dimension InstanceId)",
    "ARW151": "every conda, spack and pip package of domain.yaml is installed by the template's user data",
})

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
    connect = outputs.get("ConnectCommand")
    if isinstance(connect, dict) and not any(SSM_SESSION.search(text) for _, text in walk_strings(connect.get("Value"))):
        connect_line = _line_of(loaded.template_text, '"ConnectCommand"', _line_of(loaded.template_text, '"Outputs"') or 1)
        add("ARW134", "the ConnectCommand output is not an SSM Session Manager command "
            "(aws ssm start-session --target <instance>); packs take no inbound connections",
            file=loaded.template_file, line=connect_line or 1)

    user_data = "\n".join(_user_data(template))
    user_data_line = _line_of(loaded.template_text, '"UserData"') or 1
    missing = [what for what, pattern in CLOUDWATCH_AGENT if not pattern.search(user_data)]
    if missing:
        add("ARW150", "the user data does not run the CloudWatch agent publishing mem_used_percent (namespace CWAgent, "
            f"dimension InstanceId), which the monitor reads: no {', no '.join(missing)}",
            file=loaded.template_file, line=user_data_line)
    for path, manager, name in _declared_software(pack.software):
        if not re.search(rf"(?<![A-Za-z0-9_.-]){re.escape(name)}(?![A-Za-z0-9_])", user_data, flags=re.IGNORECASE):
            add("ARW151", f"{manager} package '{safe_text(name)}' is declared in domain.yaml but not installed by the "
                "template's user data", path)

    # headings found line by line, stripped in Python: a regex with \s* around a lazy group is quadratic
    headings = {h.strip().lower() for h in re.findall(r"^##[ \t]+(.*)$", loaded.readme, flags=re.MULTILINE)}
    readme_file = str(Path(loaded.pack_file).with_name("README.md"))
    for section in README_SECTIONS:
        if section not in headings:
            add("ARW140", f"README.md has no '## {section.title()}' section", file=readme_file, line=None)
    return out


SSM_SESSION = re.compile(r"\bssm start-session\b")
CLOUDWATCH_AGENT = (
    ("amazon-cloudwatch-agent-ctl (the agent is never started)", re.compile(r"amazon-cloudwatch-agent-ctl\b")),
    ('"mem_used_percent" in a "measurement" list', re.compile(r'"measurement"\s*:\s*\[[^\]]*"mem_used_percent"')),
    ('"namespace": "CWAgent"', re.compile(r'"namespace"\s*:\s*"CWAgent"')),
    ('InstanceId in "append_dimensions"', re.compile(r'"append_dimensions"\s*:\s*\{[^{}]*"InstanceId"')),
)


def _user_data(template: dict) -> Iterator[str]:
    """Every string of every UserData in the template (instances, launch templates and configurations)."""
    for path, text in walk_strings(_mapping(template.get("Resources")), ("Resources",)):
        if "UserData" in path:
            yield text


def _declared_software(software: Mapping[str, Any]) -> Iterator[tuple[tuple, str, str]]:
    """(domain.yaml path, manager, package name) for every conda package, spack spec and pip requirement."""
    conda = software.get("conda")
    spack = software.get("spack")
    lists = (("conda", ("conda", "packages"), conda.get("packages") if isinstance(conda, Mapping) else None),
             ("spack", ("spack", "specs"), spack.get("specs") if isinstance(spack, Mapping) else None),
             ("pip", ("pip",), software.get("pip")))
    for manager, where, items in lists:
        for i, item in enumerate(items if isinstance(items, list | tuple) else ()):
            name = re.split(r"[=<>~!@\[\s]", str(item).strip(), maxsplit=1)[0]
            if name:
                yield ("software", *where, i), manager, name


def _mapping(value: object) -> dict[str, Any]:
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
