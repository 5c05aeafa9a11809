"""Benchmark: `aws-research-wizard --help` wall time against an eager-import baseline.

Both commands run alternately in the same process pool so machine noise hits
them equally. The baseline is the same CLI after importing boto3, cfn-lint,
httpx and sigstore up front (what an eager CLI would pay on every start).
Targets (issue 2): median <= 80 ms and >= 8x faster than the baseline.
Writes bench/results/cli_help.json and exits 1 when a target is missed.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from common import EXE, finish

RUNS = 15
WARMUP = 2
TARGET_MS = 80.0
TARGET_RATIO = 8.0

EAGER = ("import boto3, cfnlint.api, httpx, sigstore.verify, sigstore.sign; "
         "import sys; from registry_tools.cli.main import main; sys.argv = ['aws-research-wizard', '--help']; main()")


def _time(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - start) * 1000


def main() -> int:
    lazy_cmd = [EXE, "--help"]
    eager_cmd = [sys.executable, "-c", EAGER]
    for _ in range(WARMUP):
        _time(lazy_cmd)
        _time(eager_cmd)
    lazy, eager = [], []
    for _ in range(RUNS):
        lazy.append(_time(lazy_cmd))
        eager.append(_time(eager_cmd))
    lazy_ms, eager_ms = statistics.median(lazy), statistics.median(eager)
    ratio = eager_ms / lazy_ms
    result = {
        "benchmark": "cli --help wall time",
        "runs": RUNS,
        "median_ms": round(lazy_ms, 1),
        "baseline_eager_median_ms": round(eager_ms, 1),
        "speedup": round(ratio, 1),
        "targets": {"median_ms_max": TARGET_MS, "speedup_min": TARGET_RATIO},
        "met": lazy_ms <= TARGET_MS and ratio >= TARGET_RATIO,
    }
    return finish("cli_help", result, [
        f"aws-research-wizard --help   median {lazy_ms:7.1f} ms  (target <= {TARGET_MS:.0f} ms)",
        f"eager-import baseline        median {eager_ms:7.1f} ms",
        f"speed-up                     {ratio:7.1f}x     (target >= {TARGET_RATIO:.0f}x)"])


if __name__ == "__main__":
    sys.exit(main())
