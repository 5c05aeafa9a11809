"""The package works anywhere: the wheel carries what its commands read, `registry new` works in an
empty directory, and a command whose extra is not installed names the extra (no traceback).

The full check (scripts/check_wheel.py) runs here offline: the wheel is built without build
isolation and installed with --no-deps into fresh venvs that take their dependencies from this
venv's site-packages. `.ci/run` runs the same script with dependencies from PyPI.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from click.testing import CliRunner

from registry_tools.cli.main import cli
from registry_tools.paths import package_data
from registry_tools.site.build import TEMPLATE_DIR

from .conftest import REPO

SCRIPT = REPO / "scripts" / "check_wheel.py"
INSTALL = "pip install 'aws-research-wizard[maintainer]'"


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_repository_links_point_into_the_package():
    assert (REPO / "site").resolve() == TEMPLATE_DIR == package_data("site", "template")
    assert (REPO / "templates").resolve() == package_data("templates")
    assert (REPO / "schemas").resolve() == package_data("schemas")
    assert (TEMPLATE_DIR / "mkdocs.yml").is_file()
    assert (package_data("templates", "domain-template") / "domain.yaml").is_file()


def test_new_in_an_empty_directory_creates_domains_here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("registry", "new", "ocean_acoustics", "--community", "--json")
    assert result.exit_code == 0, result.output
    created = tmp_path / "domains" / "community" / "ocean_acoustics" / "v0.1.0"
    assert Path(json.loads(result.output)["path"]) == created
    template = package_data("templates", "domain-template")
    expected = (template / "cloudformation.json").read_text().replace("{{name}}", "ocean_acoustics")
    assert (created / "cloudformation.json").read_text() == expected.replace("{{title}}", "Ocean Acoustics")
    # the new tree is found from here and from below, without --domains-dir
    monkeypatch.chdir(created)
    listed = run("registry", "validate", "--no-lint", "--format", "json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output)["errors"] == 0


def _without(modules: list[str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The console script's entry point with *modules* made unimportable."""
    code = (f"import sys; sys.modules.update(dict.fromkeys({modules!r})); sys.argv = ['aws-research-wizard', "
            f"*{list(args)!r}]; from registry_tools.cli.entry import main; sys.exit(main())")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_missing_maintainer_tools_name_the_extra(tmp_path, repo_copy):
    site = _without(["mkdocs", "material", "cmarkgfm"], "registry", "site", "--registry", str(tmp_path), cwd=tmp_path)
    assert site.returncode == 1 and "Traceback" not in site.stderr
    assert site.stderr == ("Error: `registry site` builds the site with mkdocs, part of the maintainer tools, which "
                           f"are not installed (missing: mkdocs, material, cmarkgfm): {INSTALL}\n")
    lint = _without(["cfnlint"], "registry", "validate", cwd=repo_copy)
    assert lint.returncode == 1 and "Traceback" not in lint.stderr
    assert lint.stderr == ("Error: `registry validate` lints templates with cfn-lint, part of the maintainer tools, "
                           f"which are not installed (missing: cfnlint): {INSTALL} (or pass --no-lint)\n")
    build = _without(["cfnlint"], "registry", "build", "--out", str(tmp_path / "dist"), cwd=repo_copy)
    assert build.returncode == 1 and f"missing: cfnlint): {INSTALL}" in build.stderr
    assert not (tmp_path / "dist").exists()
    unlinted = _without(["cfnlint"], "registry", "validate", "--no-lint", "genomics", cwd=repo_copy / "domains")
    assert unlinted.returncode == 0, unlinted.stdout + unlinted.stderr


def test_wheel_installs_and_works_outside_the_checkout(tmp_path):
    setuptools = importlib.metadata.version("setuptools")
    assert int(setuptools.split(".")[0]) >= 77, f"setuptools {setuptools} cannot build the wheel: run make venv"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, str(SCRIPT), "--deps-from", sysconfig.get_paths()["purelib"],
                             "--workdir", str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wheel check passed" in result.stdout
