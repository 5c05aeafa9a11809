"""Shared fixtures: the repository's packs and throwaway copies of them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from registry_tools.packs.repository import discover
from registry_tools.timefmt import format_utc

REPO = Path(__file__).resolve().parents[1]
DOMAINS = REPO / "domains"
REFERENCE_PACK = DOMAINS / "genomics" / "v1.2.0"

# Every git repository a test makes is committed at this time, so registries built from one
# (30-day expiry by default) are valid from it until FIXTURE_COMMIT + 30 days.
FIXTURE_COMMIT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
FIXTURE_NOW = FIXTURE_COMMIT + timedelta(days=1)
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e.org", "GIT_AUTHOR_DATE": format_utc(FIXTURE_COMMIT),
           "GIT_COMMITTER_DATE": format_utc(FIXTURE_COMMIT), "PATH": "/usr/bin:/bin"}


def all_version_dirs() -> list[Path]:
    return [path for source in discover(DOMAINS) for _, path in source.versions]


def version_id(path: Path) -> str:
    return f"{path.parent.name}@{path.name[1:]}"


# --- loopback only ------------------------------------------------------------------------------
# Tests may talk to 127.0.0.0/8 and ::1 and nothing else. Every other connection (or name lookup)
# from the test process is refused with LoopbackOnly, which is not an OSError, so code that falls
# back on network errors cannot swallow it, and recorded, so the test fails even if something does.
# Subprocesses are covered by running the suite in a network namespace (`.ci/run`: unshare -n).

_blocked: list[str] = []


class LoopbackOnly(RuntimeError):
    """A test tried to reach a host outside 127.0.0.0/8 / ::1."""


def _is_loopback(host) -> bool:
    import ipaddress

    if host is None or host in ("localhost", "localhost.", b"localhost"):
        return True
    try:
        return ipaddress.ip_address(host.decode() if isinstance(host, bytes) else host).is_loopback
    except ValueError:
        return False


def _refuse(what: str, host) -> None:
    _blocked.append(f"{what} {host!r}")
    raise LoopbackOnly(f"tests may only reach 127.0.0.1: {what} {host!r} was refused (tests/conftest.py)")


def _install_loopback_guard() -> None:
    import socket

    real_connect, real_connect_ex, real_getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            _refuse("connecting to", address[0])

    def connect(self, address):
        check(self, address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(self, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            _refuse("looking up", host)
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo


_install_loopback_guard()


@pytest.fixture(autouse=True)
def _loopback_only():
    """Fail the test that tried to leave 127.0.0.1, even when the code under test caught the error."""
    del _blocked[:]
    yield
    if _blocked:
        attempts = sorted(set(_blocked))
        del _blocked[:]
        pytest.fail(f"the test tried to reach the network outside 127.0.0.1: {', '.join(attempts)}")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """Tests never reach real AWS (fake credentials, no profile, no stray endpoint)
    and never touch the user's state directory (ARW_HOME is per test)."""
    monkeypatch.setenv("ARW_HOME", str(tmp_path / "arw-home"))
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE", "ARW_NOW", "SOURCE_DATE_EPOCH"):
        monkeypatch.delenv(key, raising=False)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # never the developer's ~/.aws files, and no instance-metadata credential lookups (169.254.169.254)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config-absent"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials-absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_REGION", raising=False)


def aws_now() -> datetime:
    """The clock moto stamps AWS resources with (launch and stop times, metric timestamps): the system
    clock, which faketime moves for moto and the tests alike (``ARW_NOW`` never reaches moto). Tests that
    compare with those stamps take ``now`` from here."""
    return datetime.now(UTC)


@pytest.fixture
def fixture_time(monkeypatch) -> datetime:
    """Commands run as of FIXTURE_NOW (``$ARW_NOW``), a day after the fixture commits, whatever
    the system clock says; returns that time for calls that take ``now``."""
    monkeypatch.setenv("ARW_NOW", format_utc(FIXTURE_NOW))
    return FIXTURE_NOW


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
