"""Build the wheel, install it into fresh virtual environments and use it from outside the checkout.

    python scripts/check_wheel.py                          # CI (.ci/run): dependencies from PyPI
    python scripts/check_wheel.py --deps-from SITE_PACKAGES  # offline (tests/test_wheel.py)

Two environments get the wheel, and every command runs in an empty directory outside this
repository with a throwaway ARW_HOME:

* client (`pip install aws-research-wizard`): `registry new` works; `registry validate`,
  `registry build`, `registry site`, `config validate` and `sandbox start` exit 1 with one line
  naming the extra to install (never a traceback); `registry validate --no-lint` works.
* maintainer (`pip install 'aws-research-wizard[maintainer]'`): `registry new`, `registry validate`,
  `registry keygen`, `registry build --sign-key`, `registry site`, then `config registries add`
  and `config browse` of the registry just built; the client environment then browses, installs
  and re-checks (`config validate --no-lint`) a pack from it.

Both check that `registry_tools` is imported from the environment, never from this checkout.

By default the wheel is built with build isolation and both environments install from PyPI,
pinned by requirements/constraints.txt; their site-packages sizes are printed
(bench/README.md records them). With --deps-from, nothing is downloaded: the wheel is built
with the setuptools of the running interpreter (--no-build-isolation), installed with
--no-deps, and each environment reads its dependencies from SITE_PACKAGES through a .pth line,
the client's without the maintainer and sandbox distributions.
Exit status 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONSTRAINTS = REPO / "requirements" / "constraints.txt"
# What goes into the wheel: the package and the files pyproject.toml names. Building from a copy
# keeps build/ and *.egg-info out of the checkout and proves nothing outside the package is needed.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "registry_tools")
# Distributions of the optional extras: hidden from the client environment with --deps-from.
EXTRA_DISTRIBUTIONS = ("cfn-lint", "mkdocs", "mkdocs-material", "cmarkgfm", "moto")
INSTALL_HINT = "pip install 'aws-research-wizard[{}]'"
PACKS = ("field_demo", "ocean_acoustics")  # one official, one community (`registry new --community`)


class CheckFailed(Exception):
    pass


def log(message: str) -> None:
    print(message, flush=True)


def sh(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise CheckFailed(f"{' '.join(map(str, cmd))} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


# --- building and installing ---------------------------------------------------------------------

def build_wheel(scratch: Path, offline: bool) -> Path:
    src, out = scratch / "src", scratch / "wheel"
    src.mkdir()
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, src / name)
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out)]
    if offline:
        pip += ["--no-build-isolation", "--no-index"]
    else:
        pip += ["--build-constraint", str(CONSTRAINTS)]
    sh([*pip, str(src)])
    wheels = sorted(out.glob("aws_research_wizard-*.whl"))
    if len(wheels) != 1:
        raise CheckFailed(f"expected one wheel in {out}, found {wheels}")
    return wheels[0]


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if len(found) != 1:
        raise CheckFailed(f"no site-packages in {venv}")
    return found[0]


def dependency_view(deps: Path, target: Path, hide: tuple[str, ...]) -> Path:
    """A directory of links to everything in *deps* except the project itself and the distributions
    in *hide* (their packages and metadata), so an environment can use them without the checkout."""
    hidden = set()
    for dist in importlib.metadata.distributions(path=[str(deps)]):
        name = (dist.metadata["Name"] or "").lower()
        if name == "aws-research-wizard" or name in hide:
            hidden.update(str(f).split("/")[0] for f in dist.files or () if not str(f).startswith(".."))
    target.mkdir()
    for entry in deps.iterdir():
        if (entry.name in hidden or entry.name.startswith("__editable__") or entry.suffix == ".pth"
                or entry.name in ("registry_tools", "__pycache__")):
            continue
        (target / entry.name).symlink_to(entry)
    return target


def make_env(scratch: Path, name: str, wheel: Path, extra: str | None, deps: Path | None) -> Path:
    venv = scratch / name
    spec = f"{wheel}[{extra}]" if extra else str(wheel)
    if deps is None:
        sh([sys.executable, "-m", "venv", str(venv)])
        sh([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c", str(CONSTRAINTS), spec])
    else:
        sh([sys.executable, "-m", "venv", "--without-pip", str(venv)])
        sh([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
            "--no-deps", "--no-index", str(wheel)])
        if extra not in (None, "maintainer"):
            raise CheckFailed(f"--deps-from cannot provide the extra {extra!r}")
        hide = () if extra == "maintainer" else EXTRA_DISTRIBUTIONS
        view = dependency_view(deps, scratch / f"{name}-deps", hide)
        (site_packages(venv) / "_check_wheel_deps.pth").write_text(f"{view}\n")
    return venv


def size_mb(path: Path) -> float:
    return int(sh(["du", "-sk", str(path)]).stdout.split()[0]) / 1024


# --- running commands ----------------------------------------------------------------------------

class Env:
    """One environment's commands, run from *work* (outside the checkout) with its own ARW_HOME."""

    def __init__(self, venv: Path, work: Path, home: Path):
        self.venv, self.work, self.home = venv, work, home
        work.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "SOURCE_DATE_EPOCH")
                    and not k.startswith(("ARW_", "AWS_"))}
        self.env.update(ARW_HOME=str(home), PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")

    def run(self, *args: str, expect: int = 0, env: dict | None = None) -> subprocess.CompletedProcess:
        cmd = [str(self.venv / "bin" / "aws-research-wizard"), *args]
        result = subprocess.run(cmd, cwd=self.work, env={**self.env, **(env or {})}, capture_output=True,
                                text=True, timeout=600)
        shown = "aws-research-wizard " + " ".join(args)
        if result.returncode != expect:
            raise CheckFailed(f"{shown}: exit {result.returncode}, expected {expect}\n"
                              f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        if "Traceback" in result.stdout + result.stderr:
            raise CheckFailed(f"{shown} printed a traceback:\n{result.stderr}")
        log(f"  ok  {shown}  (exit {result.returncode})")
        return result

    def needs_extra(self, extra: str, *args: str, alternative: str = "") -> None:
        """The command exits 1 with one line that names the extra (and the way around it, if any)."""
        result = self.run(*args, expect=1)
        lines = result.stderr.strip().splitlines()
        hint = INSTALL_HINT.format(extra)
        if len(lines) != 1 or hint not in lines[0] or (alternative and alternative not in lines[0]):
            raise CheckFailed(f"aws-research-wizard {' '.join(args)}: expected one line naming {hint!r}"
                              f"{f' and {alternative!r}' if alternative else ''}, got:\n{result.stderr}")

    def check_imports_from_env(self) -> None:
        where = subprocess.run([str(self.venv / "bin" / "python"), "-c",
                                "import registry_tools; print(registry_tools.__file__)"],
                               cwd=self.work, env=self.env, capture_output=True, text=True, check=True).stdout.strip()
        if not Path(where).resolve().is_relative_to(self.venv.resolve()):
            raise CheckFailed(f"registry_tools was imported from {where}, not from {self.venv}")
        log(f"  ok  registry_tools from {where}")


def check_client_without_extras(client: Env) -> None:
    log("client environment, no extras:")
    client.check_imports_from_env()
    client.run("--version")
    client.run("registry", "new", "client_pack")
    if not (client.work / "domains" / "client_pack" / "v0.1.0" / "domain.yaml").is_file():
        raise CheckFailed("registry new did not create ./domains/client_pack/v0.1.0")
    client.needs_extra("maintainer", "registry", "validate", alternative="--no-lint")
    client.run("registry", "validate", "--no-lint")
    client.needs_extra("maintainer", "registry", "build")
    client.needs_extra("maintainer", "registry", "site", "--registry", "dist")
    client.needs_extra("sandbox", "sandbox", "start")


def check_maintainer(maint: Env) -> dict:
    log("maintainer environment:")
    maint.check_imports_from_env()
    maint.run("registry", "new", PACKS[0])
    maint.run("registry", "new", PACKS[1], "--community", "--title", "Ocean Acoustics")
    for path in ("domains/field_demo/v0.1.0", "domains/community/ocean_acoustics/v0.1.0"):
        if not (maint.work / path / "domain.yaml").is_file():
            raise CheckFailed(f"registry new did not create ./{path}")
    maint.run("registry", "validate")
    key = maint.work / "keys" / "registry.pem"
    maint.run("registry", "keygen", str(key))
    # Not a git checkout: the build time would be the clock anyway; say so, so the index is valid
    # for 30 days from now whatever the date.
    built = json.loads(maint.run("registry", "build", "--out", "dist", "--sign-key", str(key), "--json",
                                 env={"SOURCE_DATE_EPOCH": str(int(time.time()))}).stdout)
    if (built["official"], built["community"]) != (1, 1):
        raise CheckFailed(f"registry build: expected 1 official and 1 community pack, got {built}")
    site = json.loads(maint.run("registry", "site", "--registry", "dist", "--json").stdout)
    for page in ("index.html", "catalog/index.html", *(f"packs/{p}/index.html" for p in PACKS)):
        if not (maint.work / "dist" / "site" / page).is_file():
            raise CheckFailed(f"registry site wrote no {page} ({site})")
    maint.run("config", "registries", "add", "local", str(maint.work / "dist"), "--trust-key", f"{key}.pub")
    maint.run("config", "registries", "remove", "public")  # offline: only the registry just built
    browsed = json.loads(maint.run("config", "browse", "--json").stdout)
    names = sorted(e["name"] for group in ("official", "community") for e in browsed[group])
    if names != sorted(PACKS):
        raise CheckFailed(f"config browse: expected {sorted(PACKS)}, got {names}")
    return {"dist": maint.work / "dist", "key": f"{key}.pub"}


def check_client_uses_registry(client: Env, registry: dict) -> None:
    log("client environment, using the maintainer's registry:")
    client.run("config", "registries", "add", "local", str(registry["dist"]), "--trust-key", registry["key"])
    client.run("config", "registries", "remove", "public")
    client.run("config", "browse")
    client.run("config", "install", PACKS[0])
    client.needs_extra("maintainer", "config", "validate", PACKS[0], alternative="--no-lint")
    client.run("config", "validate", PACKS[0], "--no-lint")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deps-from", type=Path, metavar="SITE_PACKAGES",
                        help="offline: take dependencies from this site-packages instead of PyPI")
    parser.add_argument("--workdir", type=Path, help="scratch directory (default: a new temporary one, removed after)")
    args = parser.parse_args(argv)
    offline = args.deps_from is not None
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="arw-wheel-", dir=args.workdir)).resolve()
    if scratch.is_relative_to(REPO):
        parser.error(f"the scratch directory {scratch} must be outside the checkout {REPO}")
    started = time.monotonic()
    try:
        wheel = build_wheel(scratch, offline)
        log(f"built {wheel.name} ({wheel.stat().st_size // 1024} KiB)")
        deps = args.deps_from.resolve() if offline else None
        client_venv = make_env(scratch, "client", wheel, None, deps)
        maint_venv = make_env(scratch, "maintainer", wheel, "maintainer", deps)
        client = Env(client_venv, scratch / "work-client", scratch / "home-client")
        maint = Env(maint_venv, scratch / "work-maintainer", scratch / "home-maintainer")
        check_client_without_extras(client)
        registry = check_maintainer(maint)
        check_client_uses_registry(client, registry)
        if not offline:
            empty = scratch / "empty"
            sh([sys.executable, "-m", "venv", str(empty)])
            sizes = {name: size_mb(site_packages(scratch / name)) for name in ("empty", "client", "maintainer")}
            log("installed sizes (du -sk of site-packages): " + ", ".join(
                f"{name} {mb:.0f} MB" for name, mb in sizes.items()))
    except CheckFailed as exc:
        log(f"FAILED: {exc}")
        return 1
    finally:
        if not args.workdir:
            shutil.rmtree(scratch, ignore_errors=True)
    log(f"wheel check passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
