"""Modes under $ARW_HOME do not depend on the umask: the CLI run under umask 000 creates the state
directory and everything about the user 0700/0600 (configuration, pins, locks, index and search caches,
validation cache, scratch space, sessions, sandbox state and log, keys), and installed packs 0755/0644."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .test_build import small_repo  # noqa: F401  (fixture)
from .test_client_index import CountingServer, served, signed_dist  # noqa: F401  (fixtures)

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
UMASK_000 = ["sh", "-c", 'umask 000 && exec "$0" "$@"']

SESSION_WRITES = """
from tests.test_sessions_store import make_session
from registry_tools.sessions.local import LocalStore
from dataclasses import replace
store = LocalStore()
session = store.create(lambda attempt: make_session(attempt=attempt))
store.update(session.id, lambda s: replace(s, status="failed", status_reason="stopped in a test"))
"""


def under_umask_000(*command: str, env: dict, cwd: Path = REPO) -> subprocess.CompletedProcess:
    done = subprocess.run([*UMASK_000, *command], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (command, done.stdout, done.stderr)
    return done


def arw(*args: str, env: dict, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return under_umask_000(str(BIN / "aws-research-wizard"), *args, env=env, cwd=cwd)


def expected_mode(relative: Path, is_dir: bool) -> int:
    """The policy: installed packs (domains/, not its locks) are published content, 0755/0644; a public
    key is 0644; everything else under $ARW_HOME is private, 0700/0600."""
    shared = relative.parts[:1] == ("domains",) and ".locks" not in relative.parts
    if is_dir:
        return 0o755 if shared else 0o700
    return 0o644 if shared or relative.suffix == ".pub" else 0o600


def wrong_modes(home: Path) -> list[str]:
    wrong = []
    for path in [home, *sorted(home.rglob("*"))]:
        info = path.lstat()
        assert not stat.S_ISLNK(info.st_mode), path
        relative = path.relative_to(home)
        want = expected_mode(relative, stat.S_ISDIR(info.st_mode))
        if stat.S_IMODE(info.st_mode) != want:
            wrong.append(f"{relative}: {stat.S_IMODE(info.st_mode):04o}, expected {want:04o}")
    return wrong


def test_state_written_under_umask_000_gets_the_intended_modes(served, tmp_path, fixture_time):  # noqa: F811
    repo, www, key, server, url = served
    home = tmp_path / "fresh" / "arw-home"  # created by the first command, parents included
    env = {**os.environ, "ARW_HOME": str(home), "PYTHONPATH": str(REPO)}
    arw("config", "registries", "remove", "public", env=env)
    arw("config", "registries", "add", "lab", url, "--trust-key", f"{key}.pub", env=env)
    arw("config", "install", "genomics@1.1.0", env=env)
    arw("config", "install", "genomics@1.2.0", env=env)
    arw("config", "install", "genomics@1.2.0", "--refresh", env=env)  # a swap over an existing install
    arw("config", "list", env=env)
    arw("config", "search", "genomics", env=env)  # writes the search snapshot
    arw("config", "search", "genomics", env=env)  # answered from it
    arw("config", "pin", "genomics@1.2.0", env=env)
    arw("registry", "validate", "--no-lint", env=env, cwd=repo)  # the validation and parsed-pack caches
    arw("registry", "keygen", str(home / "keys" / "site" / "registry.pem"), env=env)
    under_umask_000(sys.executable, "-c", SESSION_WRITES, env=env)
    listed = arw("sessions", "list", "--all", "--json", env=env)
    assert "genomics" in listed.stdout
    created = {path.relative_to(home).as_posix() for path in home.rglob("*")}
    for name in ("config.yaml", "config.yaml.lock", "pins.yaml", "pins.yaml.lock", "tmp",
                 "domains/genomics/1.2.0/.arw-receipt.json", "domains/.locks/genomics@1.2.0.lock",
                 "cache/registries/lab/registry.json", "cache/search/all.bin", "cache/validate", "cache/parsed",
                 "keys/site/registry.pem", "keys/site/registry.pem.pub", "sessions/.lock"):
        assert name in created, name
    assert any(name.startswith("sessions/session-") for name in created)
    assert wrong_modes(home) == [], "\n".join(wrong_modes(home))
    assert stat.S_IMODE(home.parent.stat().st_mode) == 0o700  # parents made for it: private too


def test_the_sandbox_state_and_log_under_umask_000(tmp_path):
    pytest.importorskip("moto.server")
    home = tmp_path / "arw-home"
    env = {**os.environ, "ARW_HOME": str(home)}
    try:
        arw("sandbox", "start", env=env)
        assert (home / "sandbox.json").is_file() and (home / "sandbox" / "server.log").is_file()
        assert wrong_modes(home) == [], "\n".join(wrong_modes(home))
    finally:
        subprocess.run([str(BIN / "aws-research-wizard"), "sandbox", "stop"], env=env, capture_output=True, timeout=60)


def test_make_dirs_and_atomic_writes_ignore_the_umask(tmp_path):
    from registry_tools.fsutil import atomic_write_bytes, dir_mode_for, make_dirs, open_append

    previous = os.umask(0o000)
    try:
        assert make_dirs(tmp_path / "a" / "b", 0o700) == tmp_path / "a" / "b"
        atomic_write_bytes(tmp_path / "c" / "d" / "file", b"x", 0o600)
        atomic_write_bytes(tmp_path / "e" / "file", b"x")
        with open_append(tmp_path / "f" / "log") as log:
            log.write(b"line\n")
        os.umask(0o077)
        make_dirs(tmp_path / "g", 0o755)
        atomic_write_bytes(tmp_path / "g" / "file", b"x", 0o644)
    finally:
        os.umask(previous)
    modes = {path.relative_to(tmp_path).as_posix(): stat.S_IMODE(path.stat().st_mode) for path in tmp_path.rglob("*")}
    assert modes == {"a": 0o700, "a/b": 0o700, "c": 0o700, "c/d": 0o700, "c/d/file": 0o600, "e": 0o755,
                     "e/file": 0o644, "f": 0o700, "f/log": 0o600, "g": 0o755, "g/file": 0o644}
    assert (dir_mode_for(0o600), dir_mode_for(0o644), dir_mode_for(0o640)) == (0o700, 0o755, 0o750)
    make_dirs(tmp_path / "a", 0o755)  # an existing directory keeps its mode
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
