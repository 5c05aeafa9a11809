"""The command line: help, listing, config, new and bump, driven through click's runner and a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from registry_tools.cli.main import cli

from .conftest import REPO
from .test_moto_deploy import deploy_default_size
from .test_templates import check_all


def run(*args, **kwargs):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kwargs)


def test_help_lists_the_groups():
    result = run("--help")
    assert result.exit_code == 0
    for group in ("config", "registry", "sandbox"):
        assert group in result.output


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and "aws-research-wizard, version" in result.output


def test_help_imports_no_heavy_library():
    code = ("import sys, registry_tools.cli.main as m\n"
            "heavy = ['boto3', 'botocore', 'cfnlint', 'httpx', 'sigstore', 'rich', 'yaml', 'jsonschema', 'moto']\n"
            "try:\n    m.cli(['--help'], prog_name='arw')\nexcept SystemExit:\n    pass\n"
            "for sub in (['registry', '--help'], ['config', '--help'], ['sandbox', '--help']):\n"
            "    try:\n        m.cli(sub, prog_name='arw')\n    except SystemExit:\n        pass\n"
            "print(sorted(k for k in heavy if k in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_registry_list_json_from_the_repository():
    result = run("registry", "list", "--json", "--domains-dir", str(REPO / "domains"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["errors"] == []
    genomics = next(p for p in data["packs"] if p["name"] == "genomics")
    assert genomics["latest_version"] == "1.2.0"
    assert genomics["versions"] == ["1.0.0", "1.1.0", "1.2.0"]
    assert genomics["trust"] == "official"
    assert genomics["monthly_usd"] == 812.63


def test_registry_list_text_sections():
    result = run("registry", "list", "--domains-dir", str(REPO / "domains"))
    assert result.exit_code == 0
    assert "Official packs" in result.output and "genomics" in result.output


def test_registry_list_reports_broken_pack_and_exits_1(repo_copy):
    path = repo_copy / "domains" / "genomics" / "v1.0.0" / "domain.yaml"
    path.write_text(path.read_text().replace("    vcpus: 8\n", "    vcpus: eight\n", 1))
    result = run("registry", "list", "--json", "--domains-dir", str(repo_copy / "domains"))
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert any('sizes.small.vcpus: expected integer, got "eight"' in e for e in data["errors"])
    # the other versions still list
    assert any(p["name"] == "genomics" for p in data["packs"])


def test_config_show_honours_arw_home(arw_home):
    result = run("config", "show", "--json")
    data = json.loads(result.output)
    assert data["state_dir"] == str(arw_home)
    assert data["state_dir_source"] == "ARW_HOME"
    assert data["price_table_date"] == "2026-11-01"


def test_new_creates_a_valid_pack_and_refuses_duplicates(repo_copy):
    domains = repo_copy / "domains"
    result = run("registry", "new", "ocean_acoustics", "--community", "--domains-dir", str(domains), "--json")
    assert result.exit_code == 0, result.output
    created = Path(json.loads(result.output)["path"])
    assert created == domains / "community" / "ocean_acoustics" / "v0.1.0"
    assert os.readlink(created.parent / "latest") == "v0.1.0"
    validate = run("registry", "validate", "--format", "json", str(created))
    assert validate.exit_code == 0, validate.output
    assert json.loads(validate.output)["errors"] == 0
    check_all(created)
    deploy_default_size(created)
    again = run("registry", "new", "ocean_acoustics", "--domains-dir", str(domains))
    assert again.exit_code == 1 and "already exists" in again.output


def test_new_rejects_bad_names_without_leaving_anything(repo_copy):
    domains = repo_copy / "domains"
    before = sorted(p.name for p in domains.iterdir())
    result = run("registry", "new", "Bad-Name", "--domains-dir", str(domains))
    assert result.exit_code == 1 and "invalid pack name 'Bad-Name'" in result.output
    assert sorted(p.name for p in domains.iterdir()) == before


def test_bump_copies_rewrites_and_moves_latest(repo_copy):
    domains = repo_copy / "domains"
    result = run("registry", "bump", "genomics", "--minor", "--domains-dir", str(domains))
    assert result.exit_code == 0, result.output
    assert "genomics v1.2.0 -> v1.3.0" in result.output
    new = domains / "genomics" / "v1.3.0"
    assert os.readlink(domains / "genomics" / "latest") == "v1.3.0"
    assert 'version: "1.3.0"' in (new / "domain.yaml").read_text()
    template = json.loads((new / "cloudformation.json").read_text())
    assert template["Metadata"]["ResearchWizard"]["Version"] == "1.3.0"
    assert "ARW_PACK_VERSION=1.3.0" in json.dumps(template)
    assert "## Changes in 1.3.0" in (new / "README.md").read_text()
    validate = run("registry", "validate", "--format", "json", str(new))
    assert validate.exit_code == 0, validate.output
    check_all(new)
    deploy_default_size(new)
    # the previous version is untouched
    assert 'version: "1.2.0"' in (domains / "genomics" / "v1.2.0" / "domain.yaml").read_text()


def test_bump_needs_exactly_one_part(repo_copy):
    result = run("registry", "bump", "genomics", "--domains-dir", str(repo_copy / "domains"))
    assert result.exit_code == 2 and "--major, --minor or --patch" in result.output


def test_bump_unknown_pack(repo_copy):
    result = run("registry", "bump", "nope", "--patch", "--domains-dir", str(repo_copy / "domains"))
    assert result.exit_code == 1 and "no pack named 'nope'" in result.output


def test_validate_whole_tree_subprocess_no_traceback(repo_copy):
    path = repo_copy / "domains" / "genomics" / "v1.1.0" / "domain.yaml"
    path.write_text(path.read_text().replace("categories: [life-sciences]", "categories: [life-science]"))
    exe = Path(sys.executable).with_name("aws-research-wizard")
    result = subprocess.run([str(exe), "registry", "validate", "--no-lint", "genomics"],
                            cwd=repo_copy / "domains", capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "domain.yaml:" in result.stdout and "did you mean 'life-sciences'" in result.stdout


def test_outside_a_repository_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("registry", "list")
    assert result.exit_code == 1 and "no domains/ directory found" in result.output


def test_standalone_config_program():
    exe = Path(sys.executable).with_name("aws-research-wizard-config")
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "show" in result.stdout


def test_fast_root_help_and_version_match_click():
    """The entry point answers --help/--version without click; the text must be click's, at any width."""
    exe = str(Path(sys.executable).with_name("aws-research-wizard"))
    via_click = [sys.executable, "-c", "from registry_tools.cli.main import main; main()"]
    for columns in ("40", "57", "58", "60", "80", "100", "132", "200"):
        env = {**os.environ, "COLUMNS": columns}
        for flag in ("--help", "--version"):
            fast = subprocess.run([exe, flag], capture_output=True, text=True, env=env, check=True).stdout
            slow = subprocess.run([*via_click, flag], capture_output=True, text=True, env=env, check=True).stdout
            assert fast == slow, (columns, flag)
    code = "import sys, registry_tools.cli.entry as e; sys.argv=['x','--help']; e.main(); print('click' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "COLUMNS": "100"}).stdout
    assert out.strip().endswith("False")
