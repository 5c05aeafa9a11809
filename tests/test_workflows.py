"""GitHub workflow files: valid (offline schemas from check-jsonschema), calling real commands, and following the
rules of issue 13 (actions pinned by SHA, no persisted checkout credentials, least privilege, releases from main
only, URLs from github.repository, SARIF upload skipped on forks, PyPI by trusted publishing), plus zizmor."""

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
DEPENDABOT = REPO / ".github" / "dependabot.yml"
VALIDATE = REPO / ".github" / "workflows" / "validate.yml"
RELEASE = REPO / ".github" / "workflows" / "release.yml"
MAIN_ONLY = "github.ref == 'refs/heads/main'"
TAGS_ONLY = "startsWith(github.ref, 'refs/tags/v')"
# the only write permissions any job has, and why
WRITES = {
    ("validate.yml", "packs"): {"security-events"},  # SARIF upload to code scanning
    ("release.yml", "registry"): {"id-token"},  # sigstore keyless signing
    ("release.yml", "releases"): {"contents"},  # GitHub Releases
    ("release.yml", "pages"): {"pages", "id-token"},  # deploy-pages
    ("release.yml", "pypi"): {"id-token"},  # PyPI trusted publishing
}


def load(workflow: Path) -> dict:
    data = yaml.safe_load(workflow.read_text())
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def steps(workflow: Path):
    for name, job in load(workflow)["jobs"].items():
        for step in job.get("steps", []):
            yield name, step


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


def test_dependabot_config_is_valid_and_covers_actions_and_pip():
    exe = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run([str(exe), "--builtin-schema", "vendor.dependabot", str(DEPENDABOT)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(DEPENDABOT.read_text())
    assert {u["package-ecosystem"] for u in config["updates"]} >= {"github-actions", "pip"}


USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$")


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha_with_its_version(workflow):
    lines = [m for line in workflow.read_text().splitlines() if (m := USES.match(line))]
    assert len(lines) == sum(1 for _, step in steps(workflow) if "uses" in step) > 0
    for match in lines:
        action, comment = match.group(1), match.group(2).strip()
        if action.startswith("./"):
            continue
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), f"{action} is not pinned to a full commit SHA"
        assert re.fullmatch(r"# v\d+(\.\d+)*", comment), f"{action}: no '# vX.Y.Z' comment naming the pinned version"


def _versions(prefix: str) -> list[tuple[int, ...]]:
    found = []
    for workflow in WORKFLOWS:
        for line in workflow.read_text().splitlines():
            if (m := USES.match(line)) and m.group(1).startswith(prefix):
                found.append(tuple(int(p) for p in m.group(2).strip().removeprefix("# v").split(".")))
    return found


def test_codeql_action_is_a_supported_major():
    # github/codeql-action v3 is retired in December 2026
    versions = _versions("github/codeql-action/")
    assert versions and all(v[0] >= 4 for v in versions), versions


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_checkout_never_persists_credentials(workflow):
    checkouts = [(job, step) for job, step in steps(workflow) if step.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    for job, step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, f"{workflow.name} {job}: persist-credentials"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege(workflow):
    data = load(workflow)
    assert data["permissions"] in ({}, {"contents": "read"}), "top-level permissions must be empty or read-only"
    for name, job in data["jobs"].items():
        assert isinstance(job.get("permissions"), dict), f"{workflow.name} {name}: no permissions of its own"
        writes = {scope for scope, level in job["permissions"].items() if level != "read"}
        assert set(job["permissions"].values()) <= {"read", "write", "none"}
        assert writes == WRITES.get((workflow.name, name), set()), f"{workflow.name} {name} writes {writes}"


def test_sarif_is_uploaded_only_by_the_validation_job_and_never_from_forks():
    uploads = [(job, step) for job, step in steps(VALIDATE)
               if step.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    assert [job for job, _ in uploads] == ["packs"]
    condition = uploads[0][1]["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition
    assert "cancelled()" in condition  # the report of a failing validation is uploaded too


def test_pull_request_checks_run_lint_the_whole_suite_and_changed_packs():
    data = load(VALIDATE)
    assert data["on"] == {"pull_request": None}, "every pull request, no paths filter: any code change can break the suite"
    runs = {job: "\n".join(step.get("run", "") for step in j["steps"]) for job, j in data["jobs"].items()}
    assert "make lint" in runs["lint"]
    tests = data["jobs"]["tests"]
    assert "bash .ci/run" in runs["tests"] and "bookworm" in tests["container"]["image"]
    # the offline pass must really run in a network namespace there, not fall back with a warning
    assert {"--cap-add=SYS_ADMIN", "--cap-add=NET_ADMIN"} <= set(tests["container"]["options"].split())
    assert [step["env"]["ARW_REQUIRE_NETNS"] for step in tests["steps"] if "bash .ci/run" in step.get("run", "")] == ["1"]
    assert 'registry validate --changed-since "$BASE_SHA"' in runs["packs"]
    assert 'registry changed --since "$BASE_SHA"' in runs["test-deploy"]


def test_no_url_comes_from_the_event_repository_name():
    # github.event.repository.name is empty on scheduled runs: the index would be signed full of broken links
    for workflow in WORKFLOWS:
        assert "github.event.repository" not in yaml.safe_dump(load(workflow)), workflow.name  # comments aside


def _pages_url_step() -> dict:
    [step] = [step for job, step in steps(RELEASE) if job == "registry" and "SITE_URL=" in step.get("run", "")]
    return step


@pytest.mark.parametrize(("repository", "pages_url", "expected"), [
    ("aws-research-wizard/aws-research-wizard", "", "https://aws-research-wizard.github.io/aws-research-wizard"),
    ("My-Org/Research-Packs", "", "https://my-org.github.io/Research-Packs"),
    ("My-Org/my-org.github.io", "", "https://my-org.github.io"),
    ("My-Org/Research-Packs", "https://packs.example.org/", "https://packs.example.org"),
    ("My-Org/Research-Packs", "http://packs.example.org", None),
    ("My-Org/Research-Packs", "https://packs.example.org\nEVIL=1", None),
])
def test_site_url_is_derived_from_github_repository(tmp_path, repository, pages_url, expected):
    step = _pages_url_step()
    assert step["env"]["REPOSITORY"] == "${{ github.repository }}"
    env_file = tmp_path / "github_env"
    env_file.touch()
    result = subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], capture_output=True, text=True, timeout=30,
                            env={"PATH": "/usr/bin:/bin", "GITHUB_ENV": str(env_file), "REPOSITORY": repository,
                                 "PAGES_URL": pages_url})
    if expected is None:
        assert result.returncode != 0 and env_file.read_text() == ""
        return
    assert result.returncode == 0, result.stderr
    assert env_file.read_text() == f"SITE_URL={expected}\n"
    registry = load(RELEASE)["jobs"]["registry"]
    build = next(s["run"] for s in registry["steps"] if "registry build" in s.get("run", ""))
    assert '--base-url "$SITE_URL/registry/"' in build


def test_release_runs_from_main_only_and_tags_only_publish_the_package():
    data = load(RELEASE)
    assert data["on"]["push"] == {"branches": ["main"], "tags": ["v*"]}
    assert "workflow_dispatch" in data["on"] and data["on"]["schedule"]
    guards = {name: job.get("if") for name, job in data["jobs"].items()}
    assert guards == {"registry": MAIN_ONLY, "releases": MAIN_ONLY, "pages": MAIN_ONLY,
                      "package": TAGS_ONLY, "pypi": TAGS_ONLY}


def test_release_checks_everything_before_publishing_anything():
    jobs = load(RELEASE)["jobs"]
    assert jobs["releases"]["needs"] == "registry" and set(jobs["pages"]["needs"]) == {"registry", "releases"}
    order = [s.get("run", s.get("uses", "")) for s in jobs["registry"]["steps"]]

    def at(text: str) -> int:
        return next(i for i, step in enumerate(order) if text in step)

    assert (at("registry validate") < at("registry build") < at("registry verify dist") < at("registry site")
            < at("public/registry --trust-identity") < at("actions/upload-pages-artifact@"))
    build = order[at("registry build")]
    # a fresh expiry on every run, so the weekly run re-signs the index; archives stay those of the commit
    assert "--expires \"$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)\"" in build and "--sigstore" in build
    assert "SOURCE_DATE_EPOCH" not in RELEASE.read_text()
    publish = [step for job, step in steps(RELEASE) if "publish dist --to github" in step.get("run", "")]
    assert [step["env"]["GITHUB_TOKEN"] for step in publish] == ["${{ secrets.GITHUB_TOKEN }}"]


def test_pypi_by_trusted_publishing_after_checking_the_tag():
    jobs = load(RELEASE)["jobs"]
    pypi = jobs["pypi"]
    assert pypi["needs"] == "package" and pypi["environment"]["name"] == "pypi"
    assert pypi["permissions"] == {"id-token": "write"}
    [publish] = [s for s in pypi["steps"] if s.get("uses", "").startswith("pypa/gh-action-pypi-publish@")]
    assert not publish.get("with", {}).get("password"), "trusted publishing needs no token"
    assert "secrets." not in yaml.safe_dump(pypi)
    package = "\n".join(s.get("run", "") for s in jobs["package"]["steps"])
    assert 'tomllib.load(open("pyproject.toml", "rb"))["project"]["version"]' in package and '"v$version"' in package
    assert "git merge-base --is-ancestor" in package and "python -m build" in package


def test_zizmor_finds_nothing():
    exe = Path(sys.executable).with_name("zizmor")
    if not exe.is_file():
        pytest.skip("zizmor is not installed (pip install -e '.[dev]' installs it)")
    result = subprocess.run([str(exe), "--offline", "--no-progress", str(REPO / ".github" / "workflows"), str(DEPENDABOT)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
