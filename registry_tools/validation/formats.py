"""Render a validation ``Report`` for machines: JSON, SARIF 2.1.0 and GitHub annotations. Pure."""

from __future__ import annotations

import json

from registry_tools.validation.findings import Finding, Report

RULES = {
    "ARW001": "domain.yaml does not match the pack schema",
    "ARW002": "domain.yaml is not valid YAML",
    "ARW003": "domain.yaml fields contradict each other",
    "ARW004": "cloudformation.json is not a valid template",
    "ARW005": "a pack file is missing, binary, too large or a link",
    "ARW006": "domain.yaml holds a value JSON cannot carry (NaN, infinity, a huge integer, a key that is not text)",
    "ARW007": "domain.yaml text holds control characters",
    "ARW101": "pack name does not match its directory",
    "ARW102": "version does not match its directory",
    "ARW103": "latest does not point at the highest version",
    "ARW104": "a new version is not greater than the published ones",
    "ARW110": "instance type not in the price catalogue",
    "ARW111": "size specs differ from the catalogue",
    "ARW112": "instance type not sold in a declared region",
    "ARW120": "monthly cost estimate disagrees with the price table",
    "ARW121": "cost estimate priced on another date than the price table",
    "ARW122": "price table is old",
    "ARW130": "template InstanceType does not allow every size",
    "ARW131": "declared output missing from the template",
    "ARW132": "template default instance type differs from the default size",
    "ARW133": "deployment parameter is not a template parameter",
    "ARW140": "README is missing a required section",
}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/aws-research-wizard/aws-research-wizard"


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2)


def _describe(rule: str) -> str:
    from registry_tools.security import RULES as SECURITY_RULES  # the one security rule set: its titles

    if rule in SECURITY_RULES:
        return SECURITY_RULES[rule].title
    return RULES.get(rule, f"cfn-lint rule {rule}")


def to_sarif(report: Report, tool_version: str) -> str:
    rule_ids = sorted({f.rule for f in report.findings})
    index = {rule: i for i, rule in enumerate(rule_ids)}
    results = []
    for f in report.findings:
        region = ({"startLine": f.line, **({"startColumn": f.column} if f.column else {})} if f.line else {})
        location = {"physicalLocation": {"artifactLocation": {"uri": f.file}, **({"region": region} if region else {})}}
        results.append({
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": "error" if f.severity == "error" else "warning",
            "message": {"text": f"{f.pack} {f.version}: {f.message}"},
            "locations": [location],
        })
    sarif = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "aws-research-wizard",
                "version": tool_version,
                "informationUri": INFO_URI,
                "rules": [{"id": r, "name": r, "shortDescription": {"text": _describe(r)}} for r in rule_ids],
            }},
            "results": results,
        }],
    }
    return json.dumps(sarif, indent=2)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_line(f: Finding) -> str:
    command = "error" if f.severity == "error" else "warning"
    props = [f"file={_escape_property(f.file)}"]
    if f.line:
        props.append(f"line={f.line}")
        if f.column:
            props.append(f"col={f.column}")
    props.append(f"title={_escape_property(f'{f.rule} {_describe(f.rule)}')}")
    return f"::{command} {','.join(props)}::{_escape_data(f'{f.pack} {f.version}: {f.message}')}"


def to_github(report: Report) -> str:
    lines = [github_line(f) for f in report.findings]
    lines.append(f"Checked {report.packs} pack version(s): {report.errors} error(s), {report.warnings} warning(s).")
    return "\n".join(lines)
