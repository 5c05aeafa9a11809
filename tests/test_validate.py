"""registry validate: semantic rules, pack-level rules, bad input, output formats, --changed-since and the cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from registry_tools.cli.main import cli
from registry_tools.validation.cache import ResultCache
from registry_tools.validation.pipeline import validate

from .conftest import REFERENCE_PACK, REPO


def rules(report_or_dirs, **kwargs):
    report = validate(report_or_dirs, lint=False, **kwargs) if isinstance(report_or_dirs, list) else report_or_dirs
    return {f.rule for f in report.findings if f.severity == "error"}, report


def edit(path, old, new):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_reference_pack_is_clean(pack_copy):
    errors, report = rules([pack_copy])
    assert errors == set() and report.warnings == 0


SEMANTIC = {
    "ARW110": ("domain.yaml", "instance_type: m7i.2xlarge", "instance_type: m7i.3xlarge"),
    "ARW111": ("domain.yaml", "    memory_gib: 32\n", "    memory_gib: 64\n"),
    "ARW120": ("domain.yaml", "standard: 812.63", "standard: 950.00"),
    "ARW130": ("cloudformation.json", '"r7i.12xlarge",', ""),
    "ARW131": ("domain.yaml", "outputs: [InstanceId, BucketName, ConnectCommand, ResultsUri]",
               "outputs: [InstanceId, BucketName, ConnectCommand, ResultsUri, JupyterUrl]"),
    "ARW133": ("domain.yaml", "    RootVolumeGiB: 500\n", "    RootVolumeGiB: 500\n    KeyName: mine\n"),
    "ARW140": ("README.md", "## Getting started", "## Try it"),
}


@pytest.mark.parametrize("rule", sorted(SEMANTIC))
def test_semantic_rule_fires_with_a_line(pack_copy, rule):
    file, old, new = SEMANTIC[rule]
    edit(pack_copy / file, old, new)
    errors, report = rules([pack_copy])
    assert rule in errors, report.findings
    finding = next(f for f in report.findings if f.rule == rule)
    assert finding.file.endswith(file)
    if file == "domain.yaml":
        assert finding.line is not None


def test_region_where_a_type_is_not_sold(pack_copy):
    edit(pack_copy / "domain.yaml", "instance_type: r7i.12xlarge", "instance_type: hpc6a.48xlarge")
    edit(pack_copy / "domain.yaml", "    vcpus: 48\n    memory_gib: 384\n", "    vcpus: 96\n    memory_gib: 384\n")
    errors, report = rules([pack_copy])
    assert "ARW112" in errors
    assert any("hpc6a.48xlarge is not sold in us-east-1" in f.message for f in report.findings)


def test_cost_drift_between_5_and_10_percent_is_a_warning(pack_copy):
    edit(pack_copy / "domain.yaml", "standard: 812.63", "standard: 870.00")  # +7%
    errors, report = rules([pack_copy])
    assert "ARW120" not in errors
    assert any(f.rule == "ARW120" and f.severity == "warning" and "$812.63" in f.message for f in report.findings)


def test_directory_names_must_match(pack_copy):
    renamed = pack_copy.parent / "v9.9.9"
    pack_copy.rename(renamed)
    errors, _ = rules([renamed])
    assert "ARW102" in errors
    other = pack_copy.parent.parent / "genetics"
    pack_copy.parent.rename(other)
    errors, _ = rules([other / "v9.9.9"])
    assert "ARW101" in errors


def test_latest_must_point_at_highest(pack_copy):
    older = pack_copy.parent / "v1.1.0"
    shutil.copytree(REFERENCE_PACK.parent / "v1.1.0", older)
    (pack_copy.parent / "latest").unlink()
    (pack_copy.parent / "latest").symlink_to("v1.1.0")
    errors, report = rules([pack_copy])
    assert "ARW103" in errors


@pytest.mark.parametrize("bad", ["binary", "huge", "symlink", "missing"])
def test_bad_files_become_findings_and_the_run_continues(pack_copy, tmp_path, bad):
    target = pack_copy / "README.md"
    if bad == "binary":
        target.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    elif bad == "huge":
        target.write_text("x" * (600 * 1024))
    elif bad == "symlink":
        outside = tmp_path / "outside.md"
        outside.write_text("# secret\n")
        target.unlink()
        target.symlink_to(outside)
    else:
        target.unlink()
    good = tmp_path / "good" / "genomics" / "v1.1.0"
    shutil.copytree(REFERENCE_PACK.parent / "v1.1.0", good)
    (good.parent / "latest").symlink_to("v1.1.0")
    errors, report = rules([pack_copy, good])
    assert errors == {"ARW005"}
    assert report.packs == 2
    assert all(f.pack == "genomics" and f.version == "1.2.0" for f in report.findings if f.severity == "error")


def _run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_json_format(pack_copy, fixture_time):
    edit(pack_copy / "domain.yaml", "standard: 812.63", "standard: 950.00")
    result = _run("registry", "validate", "--no-lint", "--format", "json", str(pack_copy))
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert set(data) == {"packs", "errors", "warnings", "findings"}
    assert data["packs"] == 1 and data["errors"] == 1
    finding = data["findings"][0]
    assert set(finding) == {"pack", "version", "rule", "severity", "file", "line", "column", "message"}
    assert finding["rule"] == "ARW120" and isinstance(finding["line"], int)


def test_sarif_format(pack_copy, fixture_time):
    edit(pack_copy / "domain.yaml", "standard: 812.63", "standard: 950.00")
    result = _run("registry", "validate", "--no-lint", "--format", "sarif", str(pack_copy))
    assert result.exit_code == 1
    sarif = json.loads(result.output)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    assert run["tool"]["driver"]["name"] == "aws-research-wizard"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["ARW120"]
    res = run["results"][0]
    assert res["level"] == "error" and res["ruleId"] == "ARW120"
    assert res["locations"][0]["physicalLocation"]["region"]["startLine"] > 1


def test_github_format_escapes(pack_copy, fixture_time):
    edit(pack_copy / "domain.yaml", "standard: 812.63", "standard: 950.00")
    result = _run("registry", "validate", "--no-lint", "--format", "github", str(pack_copy))
    assert result.exit_code == 1
    line = result.output.splitlines()[0]
    assert line.startswith("::error file=") and ",line=" in line and "::genomics 1.2.0: size standard" in line
    assert "title=ARW120 monthly cost estimate disagrees with the price table" in line


def test_cache_skips_unchanged_and_rechecks_edited_packs(tmp_path, arw_home):
    domains = tmp_path / "domains"
    for name in ("genomics", "genomics_copy"):
        target = domains / name / "v1.2.0"
        shutil.copytree(REFERENCE_PACK, target)
        (target.parent / "latest").symlink_to("v1.2.0")
        edit(target / "domain.yaml", "name: genomics", f"name: {name}")
    dirs = [domains / "genomics" / "v1.2.0", domains / "genomics_copy" / "v1.2.0"]
    cache = ResultCache()
    first = validate(dirs, lint=False, cache=cache)
    assert first.cached == 0 and first.errors == 0
    second = validate(dirs, lint=False, cache=cache)
    assert second.cached == 2 and second.findings == first.findings
    edit(dirs[1] / "domain.yaml", "standard: 812.63", "standard: 950.00")
    third = validate(dirs, lint=False, cache=cache)
    assert third.cached == 1 and {f.pack for f in third.findings} == {"genomics_copy"}
    assert (arw_home / "cache" / "validate").is_dir()
    fresh = validate(dirs, lint=False, cache=None)
    assert fresh.cached == 0 and fresh.findings == third.findings


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"})


def test_changed_since_checks_only_changed_packs_and_new_versions(repo_copy):
    _git(repo_copy, "init", "-q", "-b", "main")
    _git(repo_copy, "add", "-A")
    _git(repo_copy, "commit", "-q", "-m", "base")
    domains = repo_copy / "domains"
    nothing = _run("registry", "validate", "--no-lint", "--format", "json", "--changed-since", "HEAD",
                   "--domains-dir", str(domains))
    assert json.loads(nothing.output)["packs"] == 0
    edit(domains / "genomics" / "v1.1.0" / "README.md", "## Overview", "## Overview\n")
    one = json.loads(_run("registry", "validate", "--no-lint", "--format", "json", "--changed-since", "HEAD",
                          "--domains-dir", str(domains)).output)
    assert one["packs"] == 1 and one["errors"] == 0
    # a new version that is not newer than the published ones
    shutil.copytree(domains / "genomics" / "v1.0.0", domains / "genomics" / "v1.0.1")
    edit(domains / "genomics" / "v1.0.1" / "domain.yaml", 'version: "1.0.0"', 'version: "1.0.1"')
    result = _run("registry", "validate", "--no-lint", "--format", "json", "--changed-since", "HEAD",
                  "--domains-dir", str(domains))
    data = json.loads(result.output)
    assert result.exit_code == 1 and data["packs"] == 2
    assert [f["rule"] for f in data["findings"] if f["severity"] == "error"] == ["ARW104"]


def test_changed_since_unknown_ref_is_a_clear_error(repo_copy):
    _git(repo_copy, "init", "-q", "-b", "main")
    result = _run("registry", "validate", "--changed-since", "no-such-ref", "--domains-dir", str(repo_copy / "domains"))
    assert result.exit_code == 1 and "--changed-since no-such-ref" in result.output


def test_jobs_give_the_same_report(repo_copy):
    from registry_tools.packs.repository import pack_version_dirs

    dirs = pack_version_dirs(repo_copy / "domains")
    assert len(dirs) >= 4
    serial = validate(dirs, lint=False)
    parallel = validate(dirs, lint=False, jobs=2)
    assert serial.findings == parallel.findings and parallel.packs == len(dirs)


def _raise_price(table, instance, factor):
    data = json.loads(table.read_text())
    prices = data["instances"][instance]["on_demand_usd_per_hour"]
    for region in prices:
        prices[region] = round(prices[region] * factor, 4)
    table.write_text(json.dumps(data, indent=2) + "\n")


def _repo_with_price_table(repo_copy):
    table = repo_copy / "registry_tools" / "data" / "prices.json"
    table.parent.mkdir(parents=True)
    shutil.copyfile(REPO / "registry_tools" / "data" / "prices.json", table)
    _git(repo_copy, "init", "-q", "-b", "main")
    _git(repo_copy, "add", "-A")
    _git(repo_copy, "commit", "-q", "-m", "base")
    return table


def test_a_price_change_validates_every_pack_against_the_repositorys_table(repo_copy):
    """Issue 13's acceptance: raise one instance price by 50% in a temporary repository, commit, and
    `registry validate --changed-since HEAD~1` reports the cost errors of every pack version using it."""
    from registry_tools.packs.repository import pack_version_dirs
    from registry_tools.validation.git_changes import changed_since

    table = _repo_with_price_table(repo_copy)
    domains = repo_copy / "domains"
    every = pack_version_dirs(domains)
    # a clean run first fills the cache: the changed table must not be answered from it
    clean = _run("registry", "validate", "--no-lint", "--format", "json", "--domains-dir", str(domains))
    assert clean.exit_code == 0 and json.loads(clean.stdout)["packs"] == len(every)
    instance = "g5.2xlarge"
    _raise_price(table, instance, 1.5)
    _git(repo_copy, "commit", "-q", "-am", f"{instance} costs 50% more")
    using = {(d.parent.name, d.name[1:]) for d in every
             if any(size["instance_type"] == instance
                    for size in yaml.safe_load((d / "domain.yaml").read_text())["sizes"].values())}
    assert len(using) >= 2

    # no pack file changed: without the rule nothing would be checked
    found = changed_since(domains, "HEAD~1")
    assert found.changed == () and found.every_pack == ("registry_tools/data/prices.json",)

    result = _run("registry", "validate", "--no-lint", "--format", "json", "--changed-since", "HEAD~1",
                  "--domains-dir", str(domains))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["packs"] == len(every)
    assert {(f["pack"], f["version"]) for f in report["findings"] if f["severity"] == "error"} == using
    assert {f["rule"] for f in report["findings"] if f["severity"] == "error"} == {"ARW120"}
    assert "registry_tools/data/prices.json changed: validating every pack" in result.stderr
    assert f"prices from {table}" in result.stderr

    text = _run("registry", "validate", "--no-lint", "--changed-since", "HEAD~1", "--domains-dir", str(domains))
    assert text.exit_code == 1
    assert text.stderr.startswith("note: registry_tools/data/prices.json changed: validating every pack\n")
    assert f"Checked {len(every)} pack version(s): {len(using)} error(s)" in text.stdout
    github = _run("registry", "validate", "--no-lint", "--format", "github", "--changed-since", "HEAD~1",
                  "--domains-dir", str(domains))
    assert github.stdout.startswith("::notice::registry_tools/data/prices.json changed: validating every pack\n")
    assert github.stdout.count("::error ") == len(using)
    # `registry changed` still lists only packs whose own files changed (the test-deploy list), with a note
    changed = _run("registry", "changed", "--since", "HEAD~1", "--domains-dir", str(domains))
    assert changed.exit_code == 0 and changed.stdout == ""
    assert "registry_tools/data/prices.json changed, which affects every pack" in changed.stderr


def test_validating_a_tree_uses_its_price_table_and_caches_by_its_content(repo_copy):
    table = _repo_with_price_table(repo_copy)
    genomics = repo_copy / "domains" / "genomics" / "v1.2.0"
    assert _run("registry", "validate", "--no-lint", str(genomics)).exit_code == 0
    _raise_price(table, "m7i.2xlarge", 1.5)
    raised = _run("registry", "validate", "--no-lint", "--format", "json", str(genomics))
    assert raised.exit_code == 1 and json.loads(raised.stdout)["errors"] == 1
    table.write_text("{not json")
    broken = _run("registry", "validate", "--no-lint", str(genomics))
    assert broken.exit_code == 1 and f"{table} is not a valid price table" in broken.output


@pytest.mark.parametrize(("path", "every"), [
    ("registry_tools/data/prices.json", True),
    ("registry_tools/schemas/domain.schema.json", True),
    ("registry_tools/validation/semantics.py", True),
    ("templates/domain-template/domain.yaml", True),
    ("pyproject.toml", True),
    ("requirements/constraints.txt", True),
    ("docs/ARCHITECTURE.md", False),
    ("README.md", False),
    (".github/workflows/validate.yml", False),
])
def test_which_changes_affect_every_pack(repo_copy, path, every):
    from registry_tools.validation.git_changes import changed_since

    _git(repo_copy, "init", "-q", "-b", "main")
    _git(repo_copy, "add", "-A")
    _git(repo_copy, "commit", "-q", "-m", "base")
    target = repo_copy / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text((target.read_text() if target.exists() else "") + "\n# changed\n")
    found = changed_since(repo_copy / "domains", "HEAD")
    assert found.changed == ()
    assert found.every_pack == ((path,) if every else ())


def test_a_removed_latest_link_checks_the_pack(repo_copy):
    _git(repo_copy, "init", "-q", "-b", "main")
    _git(repo_copy, "add", "-A")
    _git(repo_copy, "commit", "-q", "-m", "base")
    (repo_copy / "domains" / "genomics" / "latest").unlink()
    result = _run("registry", "validate", "--no-lint", "--format", "json", "--changed-since", "HEAD",
                  "--domains-dir", str(repo_copy / "domains"))
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["packs"] == 1
    assert [f["rule"] for f in data["findings"] if f["severity"] == "error"] == ["ARW103"]


def test_the_price_table_age_is_judged_by_the_commands_reference_time(pack_copy, monkeypatch):
    from registry_tools.pricing.catalogue import Catalogue

    dated = date.fromisoformat(Catalogue.load().price_date)
    monkeypatch.setenv("ARW_NOW", (dated + timedelta(days=180)).isoformat())
    fresh = json.loads(_run("registry", "validate", "--no-lint", "--format", "json", str(pack_copy)).output)
    assert not [f for f in fresh["findings"] if f["rule"] == "ARW122"]
    monkeypatch.setenv("ARW_NOW", (dated + timedelta(days=181)).isoformat())
    old = json.loads(_run("registry", "validate", "--no-lint", "--format", "json", str(pack_copy)).output)
    (warning,) = [f for f in old["findings"] if f["rule"] == "ARW122"]
    assert warning["severity"] == "warning" and "181 days old" in warning["message"] and old["errors"] == 0
    text = _run("registry", "validate", "--no-lint", str(pack_copy)).output
    assert "Checked 1 pack version(s): 0 error(s), 1 warning(s), 1 clean" in text  # the table is not a pack


# --- issue 15: hostile numbers and text, parse errors with columns, cached paths from any directory -------------------

@pytest.mark.parametrize(("old", "new", "rule"), [
    ("hours_per_month: 730", "hours_per_month: .nan", "ARW006"),
    ("standard: 812.63", "standard: " + "9" * 400, "ARW006"),
    ("standard: 812.63", "standard: " + "9" * 40, "ARW006"),
    ("title: Genomics and Variant Calling", 'title: "\\e]0;pwned\\a\\e[2J Genomics"', "ARW007"),
    ("title: Genomics and Variant Calling", "title: Gen\x07omics", "ARW002"),
])
@pytest.mark.parametrize("fmt", ["json", "sarif", "github", "text"])
def test_hostile_values_are_findings_with_line_and_column_in_every_format(pack_copy, old, new, rule, fmt, fixture_time):
    edit(pack_copy / "domain.yaml", old, new)
    line = next(n for n, text in enumerate((pack_copy / "domain.yaml").read_text().splitlines(), 1) if new[:10] in text)
    result = CliRunner().invoke(cli, ["registry", "validate", "--no-lint", "--format", fmt, str(pack_copy)])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output and "position" not in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    if fmt == "json":
        (finding,) = [f for f in json.loads(result.output)["findings"] if f["severity"] == "error"]
        assert (finding["rule"], finding["line"]) == (rule, line) and finding["column"] > 1
    elif fmt == "sarif":
        (res,) = json.loads(result.output)["runs"][0]["results"]
        region = res["locations"][0]["physicalLocation"]["region"]
        assert res["ruleId"] == rule and region["startLine"] == line and region["startColumn"] > 1
    elif fmt == "github":
        assert f",line={line},col=" in result.output and f"title={rule} " in result.output
    else:
        assert f"[{rule}]" in result.output and f"domain.yaml:{line}" in result.output


def test_the_cost_maths_never_overflow(pack_copy):
    """Whatever numbers the schema lets through, the semantic checks give findings."""
    from registry_tools.packs.loader import load_pack_files
    from registry_tools.pricing.catalogue import Catalogue
    from registry_tools.pricing.cost import check_estimates

    edit(pack_copy / "domain.yaml", "standard: 812.63", "standard: 10000000")
    edit(pack_copy / "domain.yaml", "hours_per_month: 730", "hours_per_month: 744")
    edit(pack_copy / "domain.yaml", "    storage_gib: 500\n", "    storage_gib: 16384\n")
    errors, report = rules([pack_copy])
    assert errors == {"ARW120"}
    loaded = load_pack_files(pack_copy)
    catalogue = Catalogue.load()
    # a pack object built without the schema (as a caller might): no exception, a mismatch with a reason
    cost = loaded.pack.cost_estimate
    from dataclasses import replace

    from registry_tools.packs.model import CostEstimate
    for hours, declared in ((1.79e308, 812.63), (730.0, float("nan")), (730.0, float("inf"))):
        estimate = CostEstimate(cost.region, hours, cost.price_date, {**cost.monthly_usd, "standard": declared})
        mismatches = check_estimates(catalogue, replace(loaded.pack, cost_estimate=estimate))
        (standard,) = [m for m in mismatches if m.size == "standard"]
        assert standard.computed is not None and ("finite" in standard.reason)


def test_cached_findings_are_shown_from_where_the_command_runs(tmp_path, arw_home, monkeypatch, fixture_time):
    """Issue 15: cached findings kept the paths of the run that cached them."""
    repo = tmp_path / "repo"
    pack = repo / "domains" / "genomics" / "v1.2.0"
    shutil.copytree(REFERENCE_PACK, pack)
    (pack.parent / "latest").symlink_to("v1.2.0")
    edit(pack / "domain.yaml", "standard: 812.63", "standard: 950.00")
    edit(pack / "README.md", "## Getting started", "## Try it")
    cache = ResultCache()

    def files(report):
        return sorted(f.file for f in report.findings)

    monkeypatch.chdir(repo)
    first = validate([Path("domains/genomics/v1.2.0")], lint=False, cache=cache)
    assert first.cached == 0
    assert files(first) == ["domains/genomics/v1.2.0/README.md", "domains/genomics/v1.2.0/domain.yaml"]

    monkeypatch.chdir(repo / "domains" / "genomics")
    second = validate([Path("v1.2.0")], lint=False, cache=cache)
    assert second.cached == 1 and files(second) == ["v1.2.0/README.md", "v1.2.0/domain.yaml"]
    assert [(f.rule, f.line) for f in second.findings] == [(f.rule, f.line) for f in first.findings]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    third = validate([pack], lint=False, cache=cache)
    assert third.cached == 1 and files(third) == [str(pack / "README.md"), str(pack / "domain.yaml")]

    # the CLI, from the pack directory itself
    monkeypatch.chdir(pack)
    data = json.loads(_run("registry", "validate", "--no-lint", "--format", "json", ".").output)
    assert sorted(f["file"] for f in data["findings"]) == ["README.md", "domain.yaml"]
    stored = json.loads(next((arw_home / "cache" / "validate").rglob("*.json")).read_text())
    assert sorted(f["file"] for f in stored["findings"]) == ["README.md", "domain.yaml"]


def test_build_refuses_values_json_cannot_hold(tmp_path):
    """`hours_per_month: .nan` used to validate clean and put NaN into registry.json."""
    from registry_tools.build.builder import BuildError, build
    from registry_tools.validation.findings import Report

    from .conftest import FIXTURE_NOW

    domains = tmp_path / "domains"
    pack = domains / "genomics" / "v1.2.0"
    shutil.copytree(REFERENCE_PACK, pack)
    (pack.parent / "latest").symlink_to("v1.2.0")
    edit(pack / "domain.yaml", "hours_per_month: 730", "hours_per_month: .nan")
    out = tmp_path / "dist"
    with pytest.raises(BuildError, match=r"domain\.yaml:\d+:\d+: error \[ARW006\] cost_estimate.hours_per_month: NaN"):
        build(domains, out, validate_packs=lambda dirs: validate(dirs, lint=False), now=FIXTURE_NOW)
    assert not out.exists()
    # the last guard: a validator that missed it still gives no invalid JSON
    with pytest.raises(BuildError, match="would not be valid JSON"):
        build(domains, out, validate_packs=lambda dirs: Report(packs=len(dirs), findings=()), now=FIXTURE_NOW)
    assert not out.exists() and not list(tmp_path.glob(".dist-staging-*"))


@pytest.mark.parametrize("template", [
    {"Resources": {}, "Parameters": [], "Outputs": "none"},
    {"Resources": {}, "Parameters": {"InstanceType": {"AllowedValues": "r7i.4xlarge", "Default": ["x"]}}},
    {"Resources": {}, "Parameters": {"InstanceType": None}, "Outputs": []},
])
def test_any_template_shape_gives_findings_not_exceptions(pack_copy, template):
    (pack_copy / "cloudformation.json").write_text(json.dumps(template, indent=2))
    errors, report = rules([pack_copy])
    assert {"ARW130", "ARW131"} <= errors
    assert all(f.line for f in report.findings if f.file.endswith("cloudformation.json"))


def test_readme_headings_are_found_in_linear_time(pack_copy):
    import time

    readme = pack_copy / "README.md"
    readme.write_text(readme.read_text() + "\n## a" + " " * 400_000 + "b\n")
    started = time.process_time()
    errors, _ = rules([pack_copy])
    assert errors == set() and time.process_time() - started < 5  # the old pattern: minutes


# --------------------------------------------------------------------------- rules once left to pytest (issue 16)

TEMPLATE_RULES = {
    # rule: (file, text in the reference pack, what breaks it, text on the finding's line)
    "ARW134": ("cloudformation.json", "aws ssm start-session --target ${Instance}", "ssh ec2-user@${Instance.PublicIp}",
               '"ConnectCommand"'),
    "ARW150": ("cloudformation.json", '\\"namespace\\": \\"CWAgent\\"', '\\"namespace\\": \\"Lab\\"', '"UserData"'),
    "ARW151": ("cloudformation.json", "  'minimap2=2.28' \\\\\\n", "", "minimap2=2.28"),
}


@pytest.mark.parametrize("rule", sorted(TEMPLATE_RULES))
def test_rules_once_left_to_pytest_fire_with_file_and_line(pack_copy, rule):
    file, old, new, on_line = TEMPLATE_RULES[rule]
    errors, report = rules([pack_copy])
    assert rule not in errors  # the reference pack keeps the rule
    edit(pack_copy / file, old, new)
    errors, report = rules([pack_copy])
    assert rule in errors, report.findings
    [finding] = [f for f in report.findings if f.rule == rule]
    lines = (pack_copy / Path(finding.file).name).read_text().splitlines()
    assert finding.line and on_line in lines[finding.line - 1], (finding, lines[finding.line - 1])
    if rule == "ARW151":  # reported where domain.yaml declares the package
        assert finding.file.endswith("domain.yaml") and "minimap2" in finding.message


def test_a_pack_declaring_software_its_template_never_installs(pack_copy):
    edit(pack_copy / "domain.yaml", "      - samtools=1.21\n", "      - samtools=1.21\n      - bowtie2=2.5.4\n")
    errors, report = rules([pack_copy])
    [finding] = [f for f in report.findings if f.rule == "ARW151"]
    assert "conda package 'bowtie2'" in finding.message and finding.column
    assert (pack_copy / "domain.yaml").read_text().splitlines()[finding.line - 1].strip() == "- bowtie2=2.5.4"


def _rule_ids(text: str) -> set[str]:
    import re

    return set(re.findall(r"\b(ARW\d{3}|[EW]9\d{3})\b", text))


def test_every_rule_contributing_names_is_in_the_validators_rule_set():
    """CONTRIBUTING's rules name the id that enforces each; every id named exists, so the list cannot drift."""
    from registry_tools.security import RULES as SECURITY_RULES
    from registry_tools.validation.semantics import RULES as SEMANTIC_RULES

    text = (REPO / "CONTRIBUTING.md").read_text()
    section = text.split("## Rules the checks enforce", 1)[1].split("\n## ", 1)[0]
    named = _rule_ids(section)
    assert named, "CONTRIBUTING's rules name no rule id"
    assert named - set(SECURITY_RULES) - set(SEMANTIC_RULES) == set()
    assert set(SECURITY_RULES) <= named  # every security rule is listed
    bullets = [b for b in section.split("\n- ")[1:]]
    for bullet in bullets:  # each rule says what enforces it
        assert _rule_ids(bullet) or "cfn-lint" in bullet, bullet
    assert _rule_ids(text) - set(SECURITY_RULES) - set(SEMANTIC_RULES) == set()


def test_the_semantic_rule_set_is_what_the_validator_reports():
    """``semantics.RULES`` lists exactly the ARW ids the validator's code can report."""
    import ast
    import re

    from registry_tools.validation import pipeline, semantics

    used: set[str] = set()
    for module in (pipeline, semantics):
        tree = ast.parse(Path(module.__file__).read_text())
        table = next(n for n in ast.walk(tree) if isinstance(n, ast.AnnAssign)
                     and getattr(n.target, "id", None) == "RULES") if module is semantics else None
        skip = {id(n) for n in ast.walk(table)} if table else set()
        used |= {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                 and id(n) not in skip and re.fullmatch(r"ARW\d{3}", n.value)}
    assert used == set(semantics.RULES)
