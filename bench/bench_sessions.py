"""Benchmark: `aws-research-wizard sessions list` with 1,000 local sessions, whole process.

1,000 sessions (a mix of statuses, some with monitoring history) are created
through the local store, as deploys would. Then `sessions list` (active ones)
and `sessions list --all --json` are timed RUNS times each, alternating with
the baseline measured in the same run: the same listing after deleting
`active_sessions.json`, so every session file is parsed again (what listing
costs without the registry).
Target (issue 6): `sessions list` median <= 200 ms.
Writes bench/results/sessions.json; exits 1 when the target is missed.
Usage: python bench/bench_sessions.py [--sessions N] [--runs N]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import EXE, finish, run  # noqa: E402

TARGET_MS = 200.0
STATUSES = ("running", "running", "stopped", "launching", "completed", "failed")


DOMAINS = (("genomics", "Genomics and Variant Calling"), ("climate_modeling", "Climate Modeling"),
           ("machine_learning", "Machine Learning"))


def populate(home: Path, count: int) -> None:
    os.environ["ARW_HOME"] = str(home)
    from registry_tools.sessions import model
    from registry_tools.sessions.local import LocalStore
    from registry_tools.timefmt import format_utc

    store = LocalStore()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(count):
        moment = start + timedelta(minutes=7 * n)
        domain, title = DOMAINS[n % len(DOMAINS)]
        session = model.Session(
            id="", domain=domain, pack_version="1.2.0", pack_sha256="ab" * 32, title=title,
            stack_name=f"arw-bench-{n}", region="us-east-1", account="123456789012", size="standard",
            instance_type="r7i.4xlarge", launch_time=format_utc(moment), last_accessed=format_utc(moment),
            status=STATUSES[n % len(STATUSES)], parameters={"InstanceType": "r7i.4xlarge", "RootVolumeGiB": "500"},
            instance_ids=(f"i-{n:017x}",),
            monitoring=tuple({"time": format_utc(moment + timedelta(minutes=k)), "cpu": 40.0 + k, "cost_usd": 0.1 * k}
                             for k in range(n % 5)))
        store.create(functools.partial(with_id, session, moment))


def with_id(session, moment: datetime, attempt: int):
    from dataclasses import replace

    from registry_tools.sessions import model

    return replace(session, id=model.session_id(session.domain, moment, attempt))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arw-bench-sessions-") as tmp:
        home = Path(tmp) / "home"
        populate(home, options.sessions)
        env = {**os.environ, "ARW_HOME": str(home)}
        listing, listing_json, rebuild = [], [], []
        registry = home / "sessions" / "active_sessions.json"
        for _ in range(options.runs):
            listing.append(run([EXE, "sessions", "list"], env))
            listing_json.append(run([EXE, "sessions", "list", "--all", "--json"], env))
            registry.unlink()
            rebuild.append(run([EXE, "sessions", "list"], env))
        rows = json.loads(subprocess.run([EXE, "sessions", "list", "--all", "--json"], env=env, capture_output=True,
                                         text=True, check=True).stdout)
        if len(rows) != options.sessions:
            sys.exit(f"listed {len(rows)} sessions, created {options.sessions}")
    median, median_json, baseline = (statistics.median(x) for x in (listing, listing_json, rebuild))
    result = {"benchmark": "sessions list", "sessions": options.sessions, "runs": options.runs,
              "median_ms": round(median, 1), "all_json_median_ms": round(median_json, 1),
              "baseline_rebuild_median_ms": round(baseline, 1), "speedup": round(baseline / median, 1),
              "targets": {"median_ms_max": TARGET_MS}, "met": median <= TARGET_MS}
    return finish("sessions", result, [
        f"sessions list ({options.sessions:,} sessions)      median {median:7.1f} ms  (target <= {TARGET_MS:.0f} ms)",
        f"sessions list --all --json           median {median_json:7.1f} ms",
        f"without active_sessions.json (rebuild) median {baseline:7.1f} ms  -> registry {result['speedup']}x faster"])


if __name__ == "__main__":
    sys.exit(main())
