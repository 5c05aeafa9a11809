"""Benchmark: `registry build` for 1,000 packs (synthetic copies of the real ones), and a rebuild.

The tree is a git repository so dates come from git. The packs are validated
first (`registry validate`, which fills the content-hash caches exactly as
the release workflow's validate step does); then `registry build` is timed
twice and the two outputs compared byte for byte.
Targets (issue 4): build <= 10 s; the second build byte-identical.
Usage: python bench/bench_build.py [--packs N]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import finish  # noqa: E402

from registry_tools.packs.repository import discover  # noqa: E402

TARGET_S = 10.0


def make_repo(target: Path, count: int) -> None:
    sources = [(s.trust, path) for s in discover(ROOT / "domains") for _, path in s.versions]
    for i, (trust, source) in zip(range(count), itertools.cycle(sources)):
        name = f"{source.parent.name}_c{i}"
        base = target / "domains" / ("community" if trust == "community" else "")
        version_dir = base / name / source.name
        shutil.copytree(source, version_dir)
        text = (version_dir / "domain.yaml").read_text()
        (version_dir / "domain.yaml").write_text(text.replace(f"name: {source.parent.name}\n", f"name: {name}\n", 1))
        (version_dir.parent / "latest").symlink_to(source.name)
    (target / "schemas").symlink_to(ROOT / "schemas")
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.org",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.org",
           "GIT_AUTHOR_DATE": "2026-11-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-11-01T00:00:00Z"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "synthetic packs"]):
        subprocess.run(["git", *args], cwd=target, check=True, capture_output=True, env=env)


def digest_tree(path: Path) -> dict[str, str]:
    return {p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packs", type=int, default=1000)
    args = parser.parse_args()
    arw = str(Path(sys.executable).with_name("aws-research-wizard"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_repo(tmp / "repo", args.packs)
        env = {**os.environ, "ARW_HOME": str(tmp / "home")}
        env.pop("SOURCE_DATE_EPOCH", None)
        domains = str(tmp / "repo" / "domains")
        validate_s = timed([arw, "registry", "validate", "--domains-dir", domains, "--format", "json"], env)
        first_s = timed([arw, "registry", "build", "--domains-dir", domains, "--out", str(tmp / "dist1")], env)
        second_s = timed([arw, "registry", "build", "--domains-dir", domains, "--out", str(tmp / "dist2")], env)
        identical = digest_tree(tmp / "dist1") == digest_tree(tmp / "dist2")
        archives = len(list((tmp / "dist1" / "packs").glob("*.tar.gz")))
    result = {
        "benchmark": f"registry build, {args.packs} packs",
        "validate_first_s": round(validate_s, 2),
        "build_s": round(first_s, 2),
        "rebuild_s": round(second_s, 2),
        "archives": archives,
        "byte_identical": identical,
        "targets": {"build_max_s": TARGET_S, "byte_identical": True},
        "met": first_s <= TARGET_S and identical,
    }
    return finish("build", result, [
        f"registry validate (fills the caches)  {validate_s:8.2f} s",
        f"registry build, {args.packs} packs          {first_s:8.2f} s   (target <= {TARGET_S:.0f} s)",
        f"rebuild                               {second_s:8.2f} s   byte-identical: {identical}"])


if __name__ == "__main__":
    sys.exit(main())
