"""Benchmark: `registry validate` on 100 packs, cold and warm, against cfn-lint run once per template.

The 100 packs are copies of the real ones under new names (in a temporary
tree), each with a distinct template so cfn-lint really runs 100 times. Cold = empty cache; warm = the same run again with nothing changed.
The baseline runs the `cfn-lint` command once per template with the pack's
regions, which is what a naive CI does. Both run serially in this process's
session, so machine noise hits both. Targets (issue 3): cold >= 5x faster
than the baseline, warm <= 1.5 s.
Usage: python bench/bench_validate.py [--packs N]
"""

from __future__ import annotations

import argparse
import itertools
import json
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

TARGET_RATIO = 5.0
TARGET_WARM_S = 1.5


def make_tree(target: Path, count: int) -> list[tuple[Path, list[str]]]:
    sources = [path for source in discover(ROOT / "domains") for _, path in source.versions]
    made = []
    for i, source in zip(range(count), itertools.cycle(sources)):
        name = f"{source.parent.name}_c{i}"
        version_dir = target / "domains" / name / source.name
        shutil.copytree(source, version_dir)
        text = (version_dir / "domain.yaml").read_text()
        (version_dir / "domain.yaml").write_text(text.replace(f"name: {source.parent.name}\n", f"name: {name}\n", 1))
        (version_dir.parent / "latest").symlink_to(source.name)
        # every copy gets a distinct template, so no lint result can be reused between copies
        template = json.loads((version_dir / "cloudformation.json").read_text())
        template["Description"] = f"{template['Description']} (copy {name})"
        (version_dir / "cloudformation.json").write_text(json.dumps(template, indent=2) + "\n")
        import yaml

        regions = yaml.safe_load(text)["regions"]
        made.append((version_dir / "cloudformation.json", regions))
    (target / "schemas").symlink_to(ROOT / "schemas")
    return made


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packs", type=int, default=100)
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    arw, cfn_lint = str(bin_dir / "aws-research-wizard"), str(bin_dir / "cfn-lint")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        templates = make_tree(tmp / "tree", args.packs)
        env = {**os.environ, "ARW_HOME": str(tmp / "home")}
        cmd = [arw, "registry", "validate", "--domains-dir", str(tmp / "tree" / "domains"), "--format", "json"]
        cold_s, cold = timed(cmd, env)
        report = json.loads(cold.stdout)
        warm_s, warm = timed(cmd, env)
        assert json.loads(warm.stdout) == report, "warm run gave a different report"
        baseline_s = 0.0
        for template, regions in templates:
            seconds, _ = timed([cfn_lint, "--regions", *regions, "--", str(template)], env)
            baseline_s += seconds
    ratio = baseline_s / cold_s
    result = {
        "benchmark": f"registry validate, {args.packs} packs",
        "cold_s": round(cold_s, 2),
        "warm_s": round(warm_s, 2),
        "baseline_cfn_lint_per_template_s": round(baseline_s, 2),
        "speedup_cold_vs_baseline": round(ratio, 1),
        "errors_reported": report["errors"],
        "targets": {"speedup_min": TARGET_RATIO, "warm_max_s": TARGET_WARM_S},
        "met": ratio >= TARGET_RATIO and warm_s <= TARGET_WARM_S,
    }
    return finish("validate", result, [
        f"registry validate, {args.packs} packs, cold   {cold_s:8.2f} s",
        f"registry validate, {args.packs} packs, warm   {warm_s:8.2f} s   (target <= {TARGET_WARM_S} s)",
        f"cfn-lint once per template (baseline) {baseline_s:8.2f} s",
        f"speed-up cold vs baseline             {ratio:8.1f}x   (target >= {TARGET_RATIO:.0f}x)"])


if __name__ == "__main__":
    sys.exit(main())
