"""mypy is part of the checks: `make typecheck`, `make test` (which fails when mypy or pytest fails)
and the pull-request workflow run it, and the strict part of the configuration really is strict."""

from __future__ import annotations

import shutil
import subprocess
import tomllib

import pytest
import yaml

from .conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _make_dry_run(target: str) -> list[str]:
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    # -n prints the recipe; -o the stamp: treat the venv as installed, so nothing else is listed
    result = subprocess.run(["make", "-n", "-o", ".venv/.installed", target], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_make_typecheck_runs_mypy():
    assert any(line.strip().endswith("python -m mypy") for line in _make_dry_run("typecheck"))


def test_make_test_runs_mypy_and_pytest_and_fails_when_either_fails(tmp_path):
    recipe = "\n".join(_make_dry_run("test"))
    assert "python -m mypy" in recipe and "python -m pytest" in recipe
    for failing in ("mypy", "pytest"):
        fake = tmp_path / failing
        bin_dir = fake / "bin"
        bin_dir.mkdir(parents=True)
        # a stand-in interpreter: `-m mypy` or `-m pytest` fails as told, the other passes
        (bin_dir / "python").write_text(f'#!/bin/sh\n[ "$2" = "{failing}" ] && exit 3\nexit 0\n')
        (bin_dir / "python").chmod(0o755)
        result = subprocess.run(["make", "-o", f"{fake}/.installed", f"VENV={fake}", "test"], cwd=REPO,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode != 0, f"make test passed although {failing} failed"
    (bin_dir / "python").write_text("#!/bin/sh\nexit 0\n")
    result = subprocess.run(["make", "-o", f"{fake}/.installed", f"VENV={fake}", "test"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_pull_request_workflow_type_checks():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "validate.yml").read_text())
    runs = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert any("make typecheck" in run for run in runs)


def test_the_pure_core_is_checked_strictly():
    config = PYPROJECT["tool"]["mypy"]
    assert config["files"] == ["registry_tools"] and config["python_version"] == "3.11"
    assert "ignore_missing_imports" not in config, "only per third-party module, never globally"
    [strict] = [o for o in config["overrides"] if o.get("disallow_untyped_defs")]
    for module in ("registry_tools.packs.*", "registry_tools.pricing.*", "registry_tools.sessions.model",
                   "registry_tools.monitor.cost", "registry_tools.client.search", "registry_tools.dist.*",
                   "registry_tools.security.*"):
        assert module in strict["module"]
    assert all(strict.get(flag) for flag in ("disallow_any_generics", "warn_return_any", "no_implicit_reexport",
                                             "disallow_untyped_calls", "strict_equality"))
    # `strict = true` in an override is applied to every module by mypy, not only the override's
    assert not any("strict" in o for o in config["overrides"])
