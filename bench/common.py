"""What the benchmark scripts share: the CLI under test, timing a whole process, a loopback HTTP
server for registries and sites, and the report (``results/<name>.json``, printed lines, the
verdict and the exit code: 1 when a target is missed)."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXE = shutil.which("aws-research-wizard") or str(Path(sys.executable).with_name("aws-research-wizard"))


def arw(*args: str) -> list[str]:
    return [EXE, *args]


def run(args: list[str], env: dict | None = None, check: bool = True) -> float:
    """Milliseconds *args* took as a whole process; a failure ends the benchmark when *check*."""
    start = time.perf_counter()
    result = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT)
    elapsed = (time.perf_counter() - start) * 1000
    if check and result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return elapsed


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory: Path) -> tuple[ThreadingHTTPServer, str]:
    """*directory* served on 127.0.0.1 in a background thread: (server, base URL)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def finish(name: str, result: dict, lines: list[str]) -> int:
    """Write ``results/<name>.json``, print *lines* and the verdict; the exit code."""
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\n".join(lines))
    print("targets met" if result["met"] else "TARGET MISSED")
    return 0 if result["met"] else 1
