"""The sandbox: a local AWS emulator (moto) on 127.0.0.1 for trying everything offline.

Run as ``python -m registry_tools.sandbox.server --state-file F [--port P]``;
``aws-research-wizard sandbox start`` does this in the background. Once the
server answers, it seeds the public SSM parameters real AWS has (see
``public_parameters``) and applies ``moto_fixes`` (stack deletion and failures), then writes F (JSON: pid, host, port, endpoint) and
serves until SIGTERM/SIGINT, removing F on the way out.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path

from registry_tools import clock
from registry_tools.fsutil import atomic_write_text
from registry_tools.timefmt import format_utc

HOST = "127.0.0.1"
ACCOUNT_ID = "123456789012"
REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1")


def serve(state_file: Path, port: int) -> None:
    from moto.server import ThreadedMotoServer

    from registry_tools.sandbox import moto_fixes
    from registry_tools.sandbox.public_parameters import seed

    moto_fixes.apply()

    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    for region in REGIONS:
        seed(ACCOUNT_ID, region)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    atomic_write_text(state_file, json.dumps({
        "pid": os.getpid(),
        "host": host,
        "port": bound,
        "endpoint": f"http://{host}:{bound}",
        "account_id": ACCOUNT_ID,
        "started": format_utc(clock.now()),  # this process's command time: the system clock, or $ARW_NOW
    }), mode=0o600)
    try:
        stop.wait()
    finally:
        state_file.unlink(missing_ok=True)
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    serve(args.state_file, args.port)


if __name__ == "__main__":
    main()
