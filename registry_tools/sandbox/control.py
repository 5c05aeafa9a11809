"""Start, find and stop the background sandbox server.

The server's state file (``$ARW_HOME/sandbox.json``: pid, port, endpoint) is written by the
server itself once it is ready; a state file whose process is gone is stale
and removed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from registry_tools.errors import ArwError
from registry_tools.fsutil import open_append, pid_alive
from registry_tools.paths import state_dir

if TYPE_CHECKING:
    from registry_tools.aws.adapter import Target

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
SANDBOX_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class SandboxError(ArwError):
    """The sandbox could not be started, reached or stopped."""


@dataclass(frozen=True)
class SandboxInfo:
    pid: int
    endpoint: str
    port: int
    started: str
    account_id: str

    def environment(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.endpoint, **SANDBOX_ENV}


def state_file() -> Path:
    return state_dir() / "sandbox.json"


def log_file() -> Path:
    return state_dir() / "sandbox" / "server.log"


def current() -> SandboxInfo | None:
    path = state_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        info = SandboxInfo(int(data["pid"]), data["endpoint"], int(data["port"]), data["started"], data["account_id"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None
    if not pid_alive(info.pid):
        path.unlink(missing_ok=True)
        return None
    return info


def start(port: int = 0) -> tuple[SandboxInfo, bool]:
    """Start the server unless it runs; returns (info, started_now)."""
    running = current()
    if running:
        return running, False
    try:
        import moto.server  # noqa: F401
    except ImportError:
        raise SandboxError("the sandbox needs moto's server: pip install 'aws-research-wizard[sandbox]'") from None
    path, log_path = state_file(), log_file()
    with open_append(log_path, 0o600) as log:  # its directory 0700; neither depends on the umask
        proc = subprocess.Popen(
            [sys.executable, "-m", "registry_tools.sandbox.server", "--state-file", str(path), "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SandboxError(f"the sandbox server exited with code {proc.returncode}; see {log_path}")
        info = current()
        if info and info.pid == proc.pid:
            return info, True
        time.sleep(0.05)
    proc.terminate()
    raise SandboxError(f"the sandbox server did not start within {START_TIMEOUT_S:.0f} s; see {log_path}")


def target(region: str) -> Target:
    """A deployment target for the running sandbox (raises SandboxError when it is not running)."""
    from registry_tools.aws.adapter import Target

    info = current()
    if info is None:
        raise SandboxError("the sandbox is not running; start it with: aws-research-wizard sandbox start")
    return Target(region=region, endpoint_url=info.endpoint, sandbox=True)


def stop() -> SandboxInfo | None:
    info = current()
    if info is None:
        return None
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and pid_alive(info.pid):
        time.sleep(0.05)
    if pid_alive(info.pid):
        os.kill(info.pid, signal.SIGKILL)
    state_file().unlink(missing_ok=True)
    return info


def ping(info: SandboxInfo) -> bool:
    import httpx

    try:
        return httpx.get(f"{info.endpoint}/moto-api/data.json", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
