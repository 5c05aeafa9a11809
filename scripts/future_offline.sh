#!/usr/bin/env bash
# The whole test suite and the demo with the clock moved ahead (default 400 days, libfaketime),
# inside a network namespace that only has loopback: nothing may depend on the day it runs or
# reach past 127.0.0.1, subprocesses included (`make test-future-offline`; `.ci/run` runs it).
# Without namespaces (unshare -n refused, e.g. an unprivileged container) it says so and runs with
# the clock moved only; tests/conftest.py still refuses non-loopback connections from the suite.
# ARW_REQUIRE_NETNS=1 makes that a failure instead (the GitHub workflow sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.venv/bin}
SHIFT=${ARW_CLOCK_SHIFT:-+400d}
command -v faketime >/dev/null || { echo "error: needs libfaketime's faketime (Debian: apt-get install faketime)" >&2; exit 2; }
demo_home=$(mktemp -d "${TMPDIR:-/tmp}/arw-future-demo.XXXXXX")
trap 'rm -rf "$demo_home"' EXIT

# $1 clock shift, $2 venv bin, $3 the demo's state directory; "lo" is brought up first in a namespace.
checks='
set -e
if [ "${ARW_NETNS:-}" = 1 ]; then ip link set lo up; fi
echo "== the test suite, clock $1 ($(faketime -f "$1" date -u +%F))"
faketime -f "$1" "$2/python" -m pytest -n 2 -q
echo "== make demo, clock $1"
ARW_HOME="$3" faketime -f "$1" "$2/python" scripts/demo.py
'
if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
  echo "== in a network namespace with only loopback (unshare -n)"
  ARW_NETNS=1 unshare -n bash -c "$checks" checks "$SHIFT" "$BIN" "$demo_home"
elif [ "${ARW_REQUIRE_NETNS:-}" = 1 ]; then
  echo "error: ARW_REQUIRE_NETNS=1 but no network namespace can be created here (unshare -n or ip missing)" >&2
  exit 1
else
  echo "warning: cannot create a network namespace here (unshare -n or ip missing): the clock is moved, the" \
       "network is not cut; the suite's own loopback guard (tests/conftest.py) still applies" >&2
  bash -c "$checks" checks "$SHIFT" "$BIN" "$demo_home"
fi
