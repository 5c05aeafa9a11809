"""Issue 15's acceptance: `registry validate --no-lint` fuzzed with mutants of the real domain.yaml files.

`scripts/fuzz_validate.py` (what `make fuzz` runs with 10,000 mutants) makes the mutants and checks each
one; here it runs 1,000 of them in a subprocess bounded in CPU time (a few seconds on a laptop), so that
the process's peak memory is the validations' alone. Every mutant must give findings, never a traceback;
every finding has a line unless its rule is about a whole file (`FILE_LEVEL_RULES`), and a parse error is
one finding with a line and a column. The memory bound is asserted on the worst cases the budgets of the
YAML reader allow (alias bombs just under and over them, long strings, wide lists), not on timings.
"""

from __future__ import annotations

import importlib.util
import json
import random
import resource
import subprocess
import sys

from .conftest import REPO

SCRIPT = REPO / "scripts" / "fuzz_validate.py"
CPU_SECONDS = 240  # the whole run, enforced by the kernel (RLIMIT_CPU); ~10 s on a slow machine
MEMORY_BOUND_MB = 300  # acceptance: one validation stays under 300 MB
DESIGN_BOUND_MB = 200  # the reader's budgets: no file of at most 256 KB takes more than ~200 MB


def _fuzz(*args: str) -> dict:
    def bounded():
        resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))

    result = subprocess.run([sys.executable, str(SCRIPT), *args, "--json"], capture_output=True, text=True,
                            preexec_fn=bounded, timeout=CPU_SECONDS * 3, cwd=REPO)
    assert result.returncode in (0, 1), result.stderr[-3000:]
    return json.loads(result.stdout)


def _module():
    spec = importlib.util.spec_from_file_location("fuzz_validate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_1000_mutants_of_the_real_packs_give_findings_never_tracebacks():
    summary = _fuzz("--mutants", "1000", "--seed", "15", "--max-cpu", "20", "--max-memory-mb", str(MEMORY_BOUND_MB))
    failures = "\n\n".join(f"{f['kind']} ({f['pack']}): " + "\n".join(f["failures"]) for f in summary["failures"])
    assert summary["failed"] == 0, failures
    assert summary["mutants"] == 1000
    assert summary["tracebacks"] == 0 and summary["without_line"] == 0
    assert summary["max_peak_mb_per_validation"] < MEMORY_BOUND_MB
    assert summary["max_growth_mb_per_validation"] < DESIGN_BOUND_MB
    assert summary["process_max_rss_mb"] < MEMORY_BOUND_MB
    # the mutants reach every kind of mutation and the new checks
    module = _module()
    assert set(summary["kinds"]) == {*module.TEXT_MUTATORS, *module.BYTE_MUTATORS, "combo"}
    assert {"ARW001", "ARW002", "ARW005", "ARW006", "ARW007"} <= set(summary["rules"])
    assert summary["validated_clean"] > 0  # and some stay valid: the build's index is checked for those


def test_the_worst_cases_stay_under_the_memory_bound():
    """Alias bombs (nested and scalar, under and over the budgets), long strings, wide lists and
    documents full of errors, each at most 256 KB: the memory peak while validating each (on Linux the
    process's resident peak, libyaml's allocations included; elsewhere tracemalloc's)."""
    results = _fuzz("--worst-cases")
    process = results.pop("(process)")
    assert len(results) >= 10
    for name, result in results.items():
        assert result["bytes"] <= 256 * 1024, name
        assert result["peak_mb"] < MEMORY_BOUND_MB, (name, result)  # the whole process, while validating it
        assert result["growth_mb"] < DESIGN_BOUND_MB, (name, result)  # what validating it added
        assert result["rules"], (name, result)  # each is refused or reported, with findings
    assert process["max_rss_mb"] < MEMORY_BOUND_MB, process
    # the file of issue 15 that took 1.9 GB is refused by the reader
    assert results["scalar alias bomb (77 KB, issue 15)"]["rules"] == ["ARW002"]


def test_mutants_are_deterministic_for_a_seed():
    module = _module()
    original = (REPO / "domains" / "genomics" / "v1.2.0" / "domain.yaml").read_bytes()
    first = [module.mutate(random.Random(7), original) for _ in range(3)]
    again = [module.mutate(random.Random(7), original) for _ in range(3)]
    assert first == again and all(data != original for _, data in first)
