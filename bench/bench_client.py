"""Benchmark: `config search` over a 10,000-pack registry and `config install`, whole processes.

Setup: `registry build` of this repository's packs, signed with a fresh Ed25519
key; `synth_registry` turns that index into a signed 10,000-pack registry (and
the same index as registry.yaml). Both are served from a loopback HTTP server.

- search: a client trusting the big registry searches once (fetch, verify,
  snapshot), then `aws-research-wizard config search QUERY` is timed for
  several queries, RUNS times each, round robin. Baseline in the same run:
  a process loading registry.yaml with PyYAML (`yaml.safe_load`; the libyaml
  CSafeLoader is reported too). Targets (issue 5): median <= 150 ms and
  >= 20x faster than the PyYAML load.
- install: `aws-research-wizard config install genomics` from the loopback
  registry (download, checksum, Ed25519 signature, safe extraction, receipt),
  RUNS times, removing the install between runs; the index is cached as after
  any earlier command. Target: median <= 400 ms. A cold run (index fetched and
  verified too) is reported alongside, as is the import floor (a process
  importing only the libraries an install needs: httpx, yaml, cryptography).
Writes bench/results/client.json; exits 1 when a target is missed.
Usage: python bench/bench_client.py [--packs N] [--runs N] [--skip-pure-yaml]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import arw, finish, run, serve  # noqa: E402
from synth_registry import synthesize  # noqa: E402

SEARCH_TARGET_MS = 150.0
SEARCH_TARGET_RATIO = 20.0
INSTALL_TARGET_MS = 400.0
QUERIES = ("genomics", "variant calling", "climat", "ocean atmosphere model", "protein structure prediction",
           "single cell", "xyzzy")
# What any install must import: httpx (without its CLI, as registry_tools.fetch.http does) and a plain-HTTP
# transport, yaml (config, pins), cryptography's Ed25519.
FLOOR = ("import sys, types; sys.modules['httpx._main'] = types.ModuleType('httpx._main'); import httpx, yaml; "
         "import cryptography.hazmat.primitives.asymmetric.ed25519; httpx.HTTPTransport(verify=False)")


def client_home(base: Path, name: str, url: str, key: Path) -> dict:
    env = {**os.environ, "ARW_HOME": str(base / f"home-{name}")}
    run(arw("config", "registries", "add", name, url, "--trust-key", str(key) + ".pub"), env)
    run(arw("config", "registries", "remove", "public"), env)
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--skip-pure-yaml", action="store_true", help="skip yaml.safe_load (minutes at 10,000 packs)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arw-bench-client-") as tmp:
        base = Path(tmp)
        env = {**os.environ, "ARW_HOME": str(base / "maintainer")}
        key = base / "keys" / "registry.pem"
        run(arw("registry", "keygen", str(key)), env)
        small, big = base / "www" / "small", base / "www" / "big"
        run(arw("registry", "build", "--out", str(small), "--sign-key", str(key)), env)
        synthesize(small, big, options.packs, key)
        server, url = serve(base / "www")
        try:
            result = {"benchmark": "client search and install", "packs": options.packs, "runs": options.runs,
                      "index_bytes": (big / "registry.json").stat().st_size,
                      "yaml_bytes": (big / "registry.yaml").stat().st_size}
            result["search"] = bench_search(base, url + "big/", key, big, options)
            result["install"] = bench_install(base, url + "small/", key, options)
        finally:
            server.shutdown()
    search, install = result["search"], result["install"]
    result["met"] = (search["median_ms"] <= SEARCH_TARGET_MS and search["speedup"] >= SEARCH_TARGET_RATIO
                     and install["median_ms"] <= INSTALL_TARGET_MS)
    return finish("client", result, [
        f"config search, {options.packs:,} packs   median {search['median_ms']:7.1f} ms  "
        f"(target <= {SEARCH_TARGET_MS:.0f} ms; slowest query median {search['slowest_query_ms']:.1f} ms)",
        f"PyYAML {search['baseline']} of registry.yaml  {search['baseline_ms']:9.1f} ms  -> "
        f"{search['speedup']:.1f}x (target >= {SEARCH_TARGET_RATIO:.0f}x)",
        f"libyaml CSafeLoader of registry.yaml   {search['csafeloader_ms']:9.1f} ms",
        f"config install (warm index)   median {install['median_ms']:7.1f} ms  (target <= {INSTALL_TARGET_MS:.0f} ms)",
        f"config install (cold index)   median {install['cold_median_ms']:7.1f} ms",
        f"import floor (httpx, yaml, cryptography only) {install['import_floor_ms']:.1f} ms"])


def bench_search(base: Path, url: str, key: Path, big: Path, options) -> dict:
    env = client_home(base, "big", url, key)
    run(arw("config", "search", "genomics"), env)  # fetch, verify, cache, snapshot
    per_query: dict[str, list[float]] = {q: [] for q in QUERIES}
    for _ in range(options.runs):
        for query in QUERIES:
            per_query[query].append(run(arw("config", "search", query), env, check=False))
    every = [t for times in per_query.values() for t in times]
    yaml_file = str(big / "registry.yaml")
    fast = run([sys.executable, "-c", "import sys, yaml; yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)",
                yaml_file], env)
    if options.skip_pure_yaml:
        baseline, baseline_ms = "CSafeLoader load", fast
    else:
        baseline, baseline_ms = "safe_load", run([sys.executable, "-c", "import sys, yaml; yaml.safe_load(open(sys.argv[1]))",
                                                  yaml_file], env)
    median = statistics.median(every)
    return {"median_ms": round(median, 1), "queries": {q: round(statistics.median(t), 1) for q, t in per_query.items()},
            "slowest_query_ms": round(max(statistics.median(t) for t in per_query.values()), 1),
            "baseline": baseline, "baseline_ms": round(baseline_ms, 1), "csafeloader_ms": round(fast, 1),
            "speedup": round(baseline_ms / median, 1)}


def bench_install(base: Path, url: str, key: Path, options) -> dict:
    env = client_home(base, "small", url, key)
    installed = Path(env["ARW_HOME"]) / "domains"
    cache = Path(env["ARW_HOME"]) / "cache"
    cold, warm, floor = [], [], []
    for _ in range(options.runs):
        shutil.rmtree(installed, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
        cold.append(run(arw("config", "install", "genomics"), env))
        shutil.rmtree(installed, ignore_errors=True)
        warm.append(run(arw("config", "install", "genomics"), env))
        floor.append(run([sys.executable, "-c", FLOOR], env))
    if not (installed / "genomics").is_dir():
        sys.exit("config install did not install genomics")
    return {"median_ms": round(statistics.median(warm), 1), "cold_median_ms": round(statistics.median(cold), 1),
            "import_floor_ms": round(statistics.median(floor), 1)}


if __name__ == "__main__":
    sys.exit(main())
