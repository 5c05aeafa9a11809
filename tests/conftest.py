"""Shared fixtures: the repository's packs and throwaway copies of them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from registry_tools.packs.repository import discover

REPO = Path(__file__).resolve().parents[1]
DOMAINS = REPO / "domains"
REFERENCE_PACK = DOMAINS / "genomics" / "v1.2.0"


def all_version_dirs() -> list[Path]:
    return [path for source in discover(DOMAINS) for _, path in source.versions]


def version_id(path: Path) -> str:
    return f"{path.parent.name}@{path.name[1:]}"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """Tests never reach real AWS (fake credentials, no profile, no stray endpoint)
    and never touch the user's state directory (ARW_HOME is per test)."""
    monkeypatch.setenv("ARW_HOME", str(tmp_path / "arw-home"))
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def arw_home(tmp_path) -> Path:
    return tmp_path / "arw-home"


@pytest.fixture
def pack_copy(tmp_path) -> Path:
    """A writable copy of the reference pack at domains/genomics/v1.2.0 under tmp_path."""
    target = tmp_path / "domains" / "genomics" / "v1.2.0"
    shutil.copytree(REFERENCE_PACK, target)
    (target.parent / "latest").symlink_to("v1.2.0")
    return target


@pytest.fixture
def repo_copy(tmp_path) -> Path:
    """A writable copy of the source tree parts that maintainer commands use."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(DOMAINS, root / "domains", symlinks=True)
    shutil.copytree(REPO / "templates", root / "templates")
    (root / "schemas").symlink_to(REPO / "schemas")
    return root


ARW = Path(sys.executable).with_name("aws-research-wizard")


@pytest.fixture(scope="session")
def sandbox_home(tmp_path_factory):
    """One sandbox server (a real moto server process on 127.0.0.1) per test worker."""
    home = tmp_path_factory.mktemp("sandbox-home")
    env = {**os.environ, "ARW_HOME": str(home)}
    started = subprocess.run([str(ARW), "sandbox", "start", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    yield home, json.loads(started.stdout)["endpoint"]
    subprocess.run([str(ARW), "sandbox", "stop"], env=env, capture_output=True, timeout=60)


@pytest.fixture
def sandbox(sandbox_home, monkeypatch):
    """The sandbox's endpoint; ARW_HOME points at its state so commands find it."""
    home, endpoint = sandbox_home
    monkeypatch.setenv("ARW_HOME", str(home))
    return endpoint


@pytest.fixture
def serve_directory():
    """Serve a directory over HTTP on 127.0.0.1 (a real server in a thread); returns its base URL."""
    import functools
    import http.server
    import threading

    servers = []

    def start(directory: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _quiet_handler_base():
    import http.server

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    return Handler


_QuietHandler = _quiet_handler_base()
