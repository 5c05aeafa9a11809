"""GitHub workflow files are valid (offline schema from check-jsonschema) and call real commands."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from registry_tools.cli.main import cli

from .conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_github_schema(workflow):
    exe = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run([str(exe), "--builtin-schema", "vendor.github-workflows", str(workflow)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_commands_exist(workflow):
    text = yaml.safe_load(workflow.read_text())
    scripts = [step.get("run", "") for job in text["jobs"].values() for step in job["steps"]]
    calls = re.findall(r"aws-research-wizard ((?:[a-z-]+ ?){1,2})", "\n".join(scripts))
    assert calls
    for call in calls:
        words = shlex.split(call)
        result = CliRunner().invoke(cli, [*words, "--help"])
        assert result.exit_code == 0, f"`aws-research-wizard {call}` is not a command: {result.output}"


def test_changed_command(repo_copy):
    import os

    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e.org", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e.org"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", *args], cwd=repo_copy, check=True, capture_output=True, env=env)
    readme = repo_copy / "domains" / "genomics" / "v1.0.0" / "README.md"
    readme.write_text(readme.read_text() + "\nMore.\n")
    result = CliRunner().invoke(cli, ["registry", "changed", "--since", "HEAD", "--domains-dir", str(repo_copy / "domains")])
    assert result.exit_code == 0 and result.output.split() == ["genomics@1.0.0"]
