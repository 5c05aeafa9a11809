"""Benchmark: `registry site` for 2,500 packs, whole process, and the catalog page in headless Chromium.

Setup: `registry build` of this repository's packs, signed with a fresh
Ed25519 key; `synth_registry` turns that index into signed registries of
--packs packs (default 2,500) and of a tenth of that (the baseline: the build
time should grow about linearly). Every synthetic pack gets archives of its own
(the real pack's, with the top directory and the name in domain.yaml changed),
so the build reads, checks and diffs as many archives as a real registry of
that size would.

- build: `aws-research-wizard registry site --registry DIST` timed as a whole
  process, RUNS times; target (issue 8): median <= 15 s for 2,500 packs.
- catalog: the built site served on 127.0.0.1; headless Chromium (Debian's,
  driven by Playwright) navigates to catalog/; as soon as every pack is loaded
  (`#arw-catalog[data-ready=true]`, the count "N of N packs" shown, the first
  rows in the table) a filter is typed, and the time from navigation start
  until a frame with its result is drawn is measured on the page's clock, RUNS
  times; target: median <= 1 s. Also reported: when the script was done, and
  Playwright's wall time to notice it. Baseline in the same run: the same page
  with catalog.js blocked, until its load event.
Writes bench/results/site.json; exits 1 when a target is missed.
Usage: python bench/bench_site.py [--packs N] [--runs N] [--no-browser]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import EXE, arw, finish, run, serve  # noqa: E402
from synth_registry import synthesize  # noqa: E402

from registry_tools.signing.keys import KeySigner  # noqa: E402

BUILD_TARGET_S = 15.0
INTERACTIVE_TARGET_MS = 1000.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def synthesize_site_registry(real: Path, out: Path, count: int, key: Path) -> None:
    """synth_registry's packs, renamed to valid pack names (``<pack>_<word>_<n>``: pack names have no dashes),
    each with archives of its own (as in a real registry: the site reads every version's archive for the README,
    the software and the diff against the previous version), signed again; registry.yaml is not needed here."""
    index = synthesize(real, out, count, key)
    signer = KeySigner(key)
    for section in ("domains", "community_packs"):
        renamed = {}
        for synth_name, entry in index[section].items():
            name = synth_name.replace("-", "_")
            base = synth_name.split("-", 1)[0]
            for version, release in entry["releases"].items():
                data = renamed_archive((real / release["download_url"]).read_bytes(), base, name, version)
                target = out / "packs" / f"{name}-{version}.tar.gz"
                target.write_bytes(data)
                signer.sign_file(target)
                release.update(download_url=f"packs/{target.name}", signature_url=f"packs/{target.name}.sig",
                               checksum=f"sha256:{hashlib.sha256(data).hexdigest()}", size=len(data))
            latest = entry["releases"][entry["latest_version"]]
            entry.update(download_url=latest["download_url"], checksum=latest["checksum"])
            renamed[name] = entry
        index[section] = renamed
    (out / "registry.json").write_bytes(json.dumps(index, sort_keys=True, separators=(",", ":")).encode())
    signer.sign_file(out / "registry.json")
    (out / "registry.yaml").unlink(missing_ok=True)


def renamed_archive(data: bytes, base: str, name: str, version: str) -> bytes:
    """The archive of pack *base* at *version*, as pack *name*: top directory and domain.yaml's name changed."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as src, \
            gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as dst:
        for member in src:
            content = src.extractfile(member).read() if member.isreg() else None
            member.name = member.name.replace(f"{base}-{version}", f"{name}-{version}", 1)
            if content is not None and member.name.endswith("/domain.yaml"):
                content = content.replace(f"\nname: {base}\n".encode(), f"\nname: {name}\n".encode(), 1)
                member.size = len(content)
            dst.addfile(member, io.BytesIO(content) if content is not None else None)
    return out.getvalue()


def time_build(dist: Path, env: dict, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        times.append(run(arw("registry", "site", "--registry", str(dist)), env) / 1000)
    if not (dist / "site" / "catalog" / "index.html").is_file():
        sys.exit(f"registry site wrote no catalog page into {dist / 'site'}")
    return times


# Every pack loaded and counted, the first rows in the table (one predicate: each Playwright wait is a round trip).
READY = ("n => !!document.querySelector('#arw-catalog[data-ready=true]')"
         " && document.querySelector('#arw-count').textContent.startsWith(n + ' of ' + n + ' packs')"
         " && document.querySelectorAll('#arw-catalog tbody tr').length > 0")
# Type a filter the moment the catalog is ready; resolve with [typed, shown, count] once the browser has drawn a
# frame with its result (times on the page's clock: milliseconds since navigation start).
TYPE_FILTER = """() => new Promise(done => {
    const input = document.getElementById('arw-filter'), typed = performance.now();
    input.value = 'genomics';
    input.dispatchEvent(new Event('input'));
    requestAnimationFrame(() => setTimeout(() =>
        done([typed, performance.now(), document.getElementById('arw-count').textContent]), 0));
})"""
PAGE_TIMES = """() => ({ready: performance.getEntriesByName('arw-catalog-ready')[0].startTime,
    fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
    load: performance.getEntriesByType('navigation')[0].loadEventEnd})"""


def time_catalog(url: str, packs: int, runs: int) -> dict:
    """Interactive = a filter typed as soon as every pack is loaded has its result on screen, by the page's
    clock (Playwright's own waits add 0.3-0.6 s of polling on this machine, so the harness wall time is
    reported beside it, not used). Baseline: the same page with catalog.js blocked, until its load event."""
    from playwright.sync_api import sync_playwright

    shown, wall, ready, plain = [], [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for n in range(runs + 1):  # the first run warms the server and the disk cache; not counted
                context = browser.new_context()
                page = context.new_page()
                start = time.perf_counter()
                page.goto(url, wait_until="commit")
                page.wait_for_function(READY, arg=packs, timeout=30_000)
                elapsed = (time.perf_counter() - start) * 1000
                _, shown_at, count = page.evaluate(TYPE_FILTER)
                matched = int(count.split()[0])
                if not 0 < matched < packs:
                    sys.exit(f"the filter did not narrow the packs ({matched} of {packs} match)")
                times = page.evaluate(PAGE_TIMES)
                context.close()

                context = browser.new_context()
                context.route("**/catalog.js", lambda route: route.abort())
                page = context.new_page()
                page.goto(url, wait_until="load")
                page.wait_for_selector("#arw-filter", state="visible")
                baseline = page.evaluate(PAGE_TIMES.replace("performance.getEntriesByName('arw-catalog-ready')[0]"
                                                            ".startTime", "null"))
                context.close()
                if n:
                    shown.append(shown_at)
                    wall.append(elapsed)
                    ready.append(times["ready"])
                    plain.append(baseline["load"])
        finally:
            browser.close()
    return {"median_ms": round(statistics.median(shown), 1), "runs_ms": [round(t, 1) for t in shown],
            "script_ready_median_ms": round(statistics.median(ready), 1),
            "harness_wall_median_ms": round(statistics.median(wall), 1),
            "without_script_load_median_ms": round(statistics.median(plain), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", type=int, default=2_500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true", help="time the build only")
    options = parser.parse_args()
    small_count = max(options.packs // 10, 1)
    with tempfile.TemporaryDirectory(prefix="arw-bench-site-") as tmp:
        base = Path(tmp)
        env = {**os.environ, "ARW_HOME": str(base / "home")}
        key = base / "keys" / "registry.pem"
        run(arw("registry", "keygen", str(key)), env)
        real = base / "real"
        run(arw("registry", "build", "--out", str(real), "--sign-key", str(key)), env)
        big, small = base / "www" / "big", base / "www" / "small"
        synthesize_site_registry(real, big, options.packs, key)
        synthesize_site_registry(real, small, small_count, key)
        big_times = time_build(big, env, options.runs)
        small_times = time_build(small, env, options.runs)
        pages = sum(1 for _ in (big / "site").rglob("index.html"))
        result = {"benchmark": "registry site build and catalog page", "packs": options.packs, "runs": options.runs,
                  "exe": EXE, "index_bytes": (big / "registry.json").stat().st_size, "pages": pages,
                  "build": {"median_s": round(statistics.median(big_times), 2),
                            "runs_s": [round(t, 2) for t in big_times],
                            "baseline_packs": small_count,
                            "baseline_median_s": round(statistics.median(small_times), 2)}}
        build = result["build"]
        # Per-pack cost of the big build relative to the small one (1.0 = exactly linear beyond the fixed cost).
        build["per_pack_ms"] = round((build["median_s"] - build["baseline_median_s"])
                                     / (options.packs - small_count) * 1000, 2) if options.packs > small_count else None
        if not options.no_browser:
            if not Path(CHROMIUM).is_file():
                sys.exit(f"Chromium not found at {CHROMIUM} (use --no-browser to time the build only)")
            server, url = serve(base / "www")
            try:
                result["catalog"] = time_catalog(url + "big/site/catalog/", options.packs, options.runs)
            finally:
                server.shutdown()
    met = build["median_s"] <= BUILD_TARGET_S
    if "catalog" in result:
        met = met and result["catalog"]["median_ms"] <= INTERACTIVE_TARGET_MS
    result["met"] = met
    lines = [f"registry site, {options.packs:,} packs ({pages:,} pages)  median {build['median_s']:6.2f} s  "
             f"(target <= {BUILD_TARGET_S:.0f} s; runs {build['runs_s']})",
             f"registry site, {small_count:,} packs (baseline)       median {build['baseline_median_s']:6.2f} s  "
             f"-> {build['per_pack_ms']} ms per extra pack"]
    if "catalog" in result:
        catalog = result["catalog"]
        lines += [f"catalog interactive, {options.packs:,} rows      median {catalog['median_ms']:7.1f} ms  "
                  f"(target <= {INTERACTIVE_TARGET_MS:.0f} ms; runs {catalog['runs_ms']}): a filter typed at once "
                  "is on screen",
                  f"  catalog script done                median {catalog['script_ready_median_ms']:7.1f} ms; "
                  f"Playwright saw it after {catalog['harness_wall_median_ms']:.1f} ms (wall clock)",
                  f"  page without catalog.js loaded     median {catalog['without_script_load_median_ms']:7.1f} ms"]
    return finish("site", result, lines)


if __name__ == "__main__":
    sys.exit(main())
