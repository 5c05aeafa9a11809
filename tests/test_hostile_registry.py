"""A hostile registry, served from 127.0.0.1: every attack is refused with a clear message, nothing is
installed and an earlier install stays intact. Archives and indexes here are re-signed with the trusted
key, so only the client's own checks stand between them and the disk: unsafe archives, URLs that point
at local files or FIFOs, slow-loris servers, and escape sequences in pack and session text."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import time

import pytest
from click.testing import CliRunner

from registry_tools.cli.main import cli
from registry_tools.signing.keys import KeySigner

from .test_build import small_repo  # noqa: F401  (fixture)
from .test_client_index import CountingServer, served, signed_dist  # noqa: F401  (fixtures)

PREFIX = "genomics-1.2.0"


def run(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def lab(served, arw_home, fixture_time):  # noqa: F811
    repo, www, key, server, url = served
    run("config", "registries", "remove", "public")
    assert run("config", "registries", "add", "lab", url, "--trust-key", f"{key}.pub").exit_code == 0
    assert run("config", "install", "genomics@1.1.0").exit_code == 0
    return www, key, arw_home


def tar_gz(members) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()


def file_member(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def link_member(name, target, kind):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def bomb_member():
    zeros = b"\0" * (80 * 1024 * 1024)
    return file_member(f"{PREFIX}/domain.yaml", zeros)


HOSTILE = {
    "dotdot": lambda: [file_member(f"{PREFIX}/../../escape.txt")],
    "absolute": lambda: [file_member("/tmp/arw-absolute.txt")],
    "symlink": lambda: [link_member(f"{PREFIX}/domain.yaml", "/etc/passwd", tarfile.SYMTYPE)],
    "hardlink": lambda: [link_member(f"{PREFIX}/domain.yaml", "/etc/passwd", tarfile.LNKTYPE)],
    "tar-bomb": lambda: [bomb_member()],
}


def republish(www, key, data: bytes) -> None:
    """Replace genomics 1.2.0's archive with *data* and re-sign archive and index with the trusted key."""
    archive = www / "packs" / f"{PREFIX}.tar.gz"
    archive.write_bytes(data)
    KeySigner(key).sign_file(archive)
    index_path = www / "registry.json"
    index = json.loads(index_path.read_text())
    release = index["domains"]["genomics"]["releases"]["1.2.0"]
    release["checksum"] = "sha256:" + hashlib.sha256(data).hexdigest()
    release["size"] = len(data)
    index["serial"] += 1
    index_path.write_text(json.dumps(index))
    KeySigner(key).sign_file(index_path)
    newer(index_path)


def newer(path) -> None:
    """Give *path* a Last-Modified after the cached copy's, so a conditional request fetches it."""
    later = path.stat().st_mtime + 10  # the file system's clock, which faketime does not move
    os.utime(path, (later, later))


def installed_tree(home):
    return sorted(p.relative_to(home / "domains").as_posix() for p in (home / "domains").rglob("*"))


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_hostile_archive_is_refused(lab, attack, tmp_path):
    www, key, home = lab
    before = installed_tree(home)
    republish(www, key, tar_gz(HOSTILE[attack]()))
    result = run("config", "install", "genomics@1.2.0", "--refresh")
    assert result.exit_code == 1, result.output
    assert "unsafe archive" in result.output and "Traceback" not in result.output
    assert installed_tree(home) == before
    assert not (home / "domains" / "genomics" / "1.2.0").exists()
    assert not (tmp_path.parent / "escape.txt").exists()


def test_archive_larger_than_declared_is_stopped_while_downloading(lab):
    www, key, home = lab
    archive = www / "packs" / f"{PREFIX}.tar.gz"
    archive.write_bytes(archive.read_bytes() + b"\0" * 1_000_000)
    result = run("config", "install", "genomics@1.2.0")
    assert result.exit_code == 1 and "limit" in result.output
    assert not (home / "domains" / "genomics" / "1.2.0").exists()


def test_oversized_index_is_refused(lab, served):  # noqa: F811
    www, key, home = lab
    from registry_tools.limits import LIMITS

    (www / "registry.json").write_bytes(b" " * (LIMITS.max_index_bytes + 1))
    newer(www / "registry.json")
    result = run("config", "browse", "--refresh")
    assert "limit" in result.output
    # the cached, verified index is still used
    assert result.exit_code == 0 and "using cached index" in result.output


WRONG_CONTENT = {
    "another pack": (lambda: [file_member(f"{PREFIX}/domain.yaml", b"name: other\nversion: 1.2.0\n")],
                     "the archive does not hold a readable pack"),
    "not yaml": (lambda: [file_member(f"{PREFIX}/domain.yaml", b"name: [unclosed\n")],
                 "the archive does not hold a readable pack"),
    "no domain.yaml": (lambda: [file_member(f"{PREFIX}/README.md", b"# hi\n")], "the archive does not hold a readable pack"),
}


@pytest.mark.parametrize("case", sorted(WRONG_CONTENT))
def test_a_signed_archive_that_does_not_hold_the_pack_is_refused(lab, case):
    www, key, home = lab
    before = installed_tree(home)
    members, message = WRONG_CONTENT[case]
    republish(www, key, tar_gz(members()))
    result = run("config", "install", "genomics@1.2.0", "--refresh")
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output, result.output
    assert installed_tree(home) == before


def test_a_signed_archive_of_another_pack_or_missing_files_is_refused(lab, served):  # noqa: F811
    www, key, home = lab
    source = served[0] / "domains" / "genomics" / "v1.2.0"
    files = {p.name: p.read_bytes() for p in source.iterdir()}
    renamed = files["domain.yaml"].replace(b'version: "1.2.0"', b'version: "1.1.0"', 1)
    assert renamed != files["domain.yaml"]
    republish(www, key, tar_gz([file_member(f"{PREFIX}/{n}", renamed if n == "domain.yaml" else d) for n, d in files.items()]))
    result = run("config", "install", "genomics@1.2.0", "--refresh")
    assert result.exit_code == 1 and "the archive holds genomics 1.1.0" in result.output, result.output
    republish(www, key, tar_gz([file_member(f"{PREFIX}/{n}", d) for n, d in files.items() if n != "README.md"]))
    newer(www / "registry.json")  # once more: a Last-Modified after the first republish's
    result = run("config", "install", "genomics@1.2.0", "--refresh")
    assert result.exit_code == 1 and "the archive lacks README.md" in result.output, result.output
    assert not (home / "domains" / "genomics" / "1.2.0").exists()


# --- where a signed index may point --------------------------------------------------------------------


def resign_index(www, key, change) -> dict:
    """Apply *change* to the served index and re-sign it with the trusted key (a newer serial)."""
    index_path = www / "registry.json"
    index = json.loads(index_path.read_text())
    change(index)
    index["serial"] += 1
    previous = index_path.stat().st_mtime
    index_path.write_text(json.dumps(index))
    KeySigner(key).sign_file(index_path)
    later = max(previous, index_path.stat().st_mtime) + 10  # a Last-Modified after every earlier one
    os.utime(index_path, (later, later))
    return index


def release(index, name="genomics", version="1.2.0"):
    return index["domains"][name]["releases"][version]


@pytest.fixture
def secret(tmp_path):
    """A local file the index must never make the client read (its digest must never be printed)."""
    path = tmp_path / "secret.txt"
    path.write_bytes(b"the user's private data\n")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def opened(monkeypatch):
    """Paths the command stats or opens, recorded for the ones in ``watched``."""
    import builtins
    import io

    watched: set[str] = set()
    seen: list[tuple[str, str]] = []

    def spy(name, real):
        def call(path, *args, **kwargs):
            if isinstance(path, str | os.PathLike) and os.fspath(path) in watched:
                seen.append((name, os.fspath(path)))
            return real(path, *args, **kwargs)
        return call

    for module, name in ((builtins, "open"), (io, "open"), (os, "open"), (os, "stat"), (os, "lstat")):
        monkeypatch.setattr(module, name, spy(name, getattr(module, name)))
    return watched, seen


def run_bounded(*args, seconds: float = 30):
    """``run(*args)`` in a thread: a command that hangs (a FIFO opened for reading waits for a writer
    for ever) fails the test instead of hanging it."""
    import threading

    result = []
    worker = threading.Thread(target=lambda: result.append(run(*args)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"{' '.join(args)} hung"
    return result[0]


REMOTE_POINTERS = {  # download_url values a remote index may not use to reach local files -> what happens instead
    "absolute path": (lambda secret, fifo: str(secret), "HTTP 404"),  # the server's path of that name
    "file URL": (lambda secret, fifo: secret.as_uri(), "uses the file: scheme"),
    "dotdot": (lambda secret, fifo: "../" * 30 + str(secret).lstrip("/"), "HTTP 404"),
    "FIFO": (lambda secret, fifo: str(fifo), "HTTP 404"),
    "FIFO URL": (lambda secret, fifo: fifo.as_uri(), "uses the file: scheme"),
}


@pytest.mark.parametrize("field", ["download_url", "signature_url"])
def test_a_remote_index_cannot_make_the_client_read_local_files(lab, served, secret, opened, tmp_path, field):  # noqa: F811
    www, key, home = lab
    server = served[3]
    secret_path, digest = secret
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    watched, seen = opened
    watched.update({str(secret_path), str(fifo)})
    before = installed_tree(home)
    for case, (pointer, expected) in sorted(REMOTE_POINTERS.items()):
        value = pointer(secret_path, fifo)
        resign_index(www, key, lambda index, value=value: release(index).update({field: value}))
        result = run_bounded("config", "install", "genomics@1.2.0", "--refresh")
        assert result.exit_code == 1 and expected in result.output and "Traceback" not in result.output, (case, result.output)
        assert digest not in result.output, case
        assert seen == [], case  # neither opened nor even looked at
        assert installed_tree(home) == before, case
        if expected == "HTTP 404":  # resolved against the registry's URL: a request to its server
            assert server.requests[-1][1].endswith(value.lstrip("./")), case


@pytest.fixture
def local_lab(signed_dist, arw_home, fixture_time, tmp_path):  # noqa: F811
    """The same signed registry as a local directory (where paths are allowed, inside it)."""
    repo, www, key = signed_dist
    directory = tmp_path / "local-registry"
    shutil.copytree(www, directory)
    run("config", "registries", "remove", "public")
    assert run("config", "registries", "add", "dir", str(directory), "--trust-key", f"{key}.pub").exit_code == 0
    return directory, key, arw_home


LOCAL_POINTERS = {
    "absolute path": (lambda secret, fifo: str(secret), "is an absolute path"),
    "file URL": (lambda secret, fifo: secret.as_uri(), "uses the file: scheme"),
    "dotdot": (lambda secret, fifo: "../secret.txt", "leaves the registry's directory (..)"),
    "FIFO outside": (lambda secret, fifo: str(fifo), "is an absolute path"),
    "directory": (lambda secret, fifo: "packs", "is not a regular file"),
}


def test_a_local_registry_may_name_only_regular_files_inside_it(local_lab, secret, opened, tmp_path):
    directory, key, home = local_lab
    secret_path, digest = secret
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    watched, seen = opened
    watched.update({str(secret_path), str(fifo)})
    for case, (pointer, expected) in sorted(LOCAL_POINTERS.items()):
        value = pointer(secret_path, fifo)
        resign_index(directory, key, lambda index, value=value: release(index).update(download_url=value))
        result = run_bounded("config", "install", "genomics@1.2.0", "--refresh")
        assert result.exit_code == 1 and expected in result.output and "Traceback" not in result.output, (case, result.output)
        assert digest not in result.output and seen == [], case
        assert not (home / "domains" / "genomics" / "1.2.0").exists(), case


def test_a_fifo_in_a_local_registry_is_refused_without_being_opened(local_lab, opened):
    directory, key, home = local_lab
    assert run("config", "install", "genomics@1.1.0").exit_code == 0  # a local registry installs as before
    archive = directory / "packs" / f"{PREFIX}.tar.gz"
    archive.unlink()
    os.mkfifo(archive)  # where the index says the archive is
    watched, seen = opened
    watched.add(str(archive))
    result = run_bounded("config", "install", "genomics@1.2.0")
    assert result.exit_code == 1 and f"{archive} is not a regular file; refusing to read it" in result.output
    assert [name for name, _ in seen] == ["stat"]  # looked at, never opened
    assert not (home / "domains" / "genomics" / "1.2.0").exists()


# --- slow servers ---------------------------------------------------------------------------------------


def quick_limits(home, deadline: float = 5, min_rate: int = 500, window: float = 0.5) -> None:
    """config.yaml limits that make a stall show within a second (defaults: 120 s, 1 KiB/s over 20 s)."""
    config = home / "config.yaml"
    config.write_text(config.read_text() + f"download_deadline_seconds: {deadline}\n"
                      f"download_min_bytes_per_second: {min_rate}\ndownload_rate_window_seconds: {window}\n")


def leftovers(home) -> list[str]:
    return sorted(p.name for p in home.rglob("*") if p.name.endswith(".part") or p.name == "pack.tar.gz")


def test_a_slow_loris_index_falls_back_to_the_cached_verified_index(lab, served):  # noqa: F811
    www, key, home = lab
    server = served[3]
    quick_limits(home)
    server.trickle["/registry.json"] = (1, 0.05)  # 20 bytes/s, for ever
    started = time.monotonic()
    result = run("config", "browse", "--refresh")
    assert time.monotonic() - started < 4  # stalled after 0.5 s
    assert result.exit_code == 0 and "genomics" in result.stdout, result.output
    assert "note: registry lab:" in result.stderr and "stalled" in result.stderr
    assert "using cached index from" in result.stderr


@pytest.mark.parametrize(("trickle", "limits", "reason"), [
    ((1, 0.05), {}, "stalled: "),  # 20 bytes/s against a 500 bytes/s minimum
    ((60, 0.05), {"deadline": 1.5, "min_rate": 200}, "no complete answer within the 1.5-second deadline"),  # 1.2 KB/s
])
def test_a_slow_loris_archive_fails_within_the_deadline_and_leaves_nothing(lab, served, trickle, limits, reason):  # noqa: F811
    www, key, home = lab
    server = served[3]
    archive = www / "packs" / f"{PREFIX}.tar.gz"
    assert archive.stat().st_size > 4000  # more than the steady server sends before the deadline
    quick_limits(home, **limits)
    server.trickle[f"/packs/{PREFIX}.tar.gz"] = trickle
    before = installed_tree(home)
    started = time.monotonic()
    result = run("config", "install", "genomics@1.2.0")
    assert time.monotonic() - started < limits.get("deadline", 2) + 2.5  # seconds, not the minutes a trickle takes
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert f"Error: genomics 1.2.0 (registry lab): download failed: http://127.0.0.1:{server.port}/packs/" in result.output
    assert reason in result.output
    assert installed_tree(home) == before and leftovers(home) == []  # the partial download was removed
    assert not list((home / "tmp").glob("install-*"))


# --- pack text on the terminal --------------------------------------------------------------------------

HOSTILE_TEXT = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202egnp.exe [red]marked[/red] [link=http://evil.example]x[/link]"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def assert_escaped(text: str, where: str) -> None:
    """No raw control character in *text* but the command's own styles (SGR: ESC [ ... m, e.g. bold; the
    hostile text has none, so none of its escapes can hide among them)."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert not any(ch in text for ch in RAW), f"{where} printed raw control characters: {text!r}"
    assert "\\x1b]0;pwned\\x07" in text, f"{where}: {text!r}"


@pytest.fixture
def hostile_text(lab):
    www, key, home = lab

    def change(index):
        name = next(iter(index["community_packs"]))
        entry = index["community_packs"][name]
        entry["name"] = "Pwn " + HOSTILE_TEXT
        entry["description"] = HOSTILE_TEXT
        entry["maintainers"] = [{"name": "Mallory " + HOSTILE_TEXT}]
        index["hostile"] = name

    index = resign_index(www, key, change)
    assert run("config", "browse", "--refresh").exit_code == 0
    return index["hostile"]


def test_escape_sequences_from_a_signed_index_are_escaped_in_every_listing(hostile_text, monkeypatch, capsys):
    from registry_tools.cli import fast_search

    name = hostile_text
    outputs = {}
    for command in (["config", "browse"], ["config", "search", "pwn"], ["config", "info", name]):
        result = CliRunner().invoke(cli, command, color=True)  # color: click strips nothing, as on a terminal
        assert result.exit_code == 0, result.output
        outputs[" ".join(command)] = result.output
        assert_escaped(result.output, " ".join(command))
    assert "Mallory \\x1b]0;pwned" in outputs[f"config info {name}"]
    assert "\\u202egnp.exe" in outputs[f"config info {name}"]
    assert "[red]marked[/red]" in outputs["config browse"]  # rich markup shown as text, not applied
    capsys.readouterr()
    assert fast_search.run(["pwn"])  # the snapshot the click command wrote
    fast = capsys.readouterr().out
    assert fast == outputs["config search pwn"]
    for command in (["config", "browse", "--json"], ["config", "search", "pwn", "--json"],
                    ["config", "info", name, "--json"]):
        result = CliRunner().invoke(cli, command, color=True)
        assert not any(ch in result.output for ch in RAW), command  # JSON is ASCII: \u001b, \u009b, \u202e
        assert HOSTILE_TEXT in strings(json.loads(result.output)), command  # and the text is intact


def strings(data) -> str:
    """Every string in a JSON document, one per line."""
    if isinstance(data, dict):
        return "\n".join(strings(v) for v in data.values())
    if isinstance(data, list):
        return "\n".join(strings(v) for v in data)
    return data if isinstance(data, str) else ""


def hostile_session(title: str):
    from registry_tools.sessions.local import LocalStore
    from registry_tools.sessions.model import Session

    session = Session(id="ses_pwn_20261102_1200", domain="pwn", pack_version="1.0.0", pack_sha256="ab" * 32,
                      title=title, stack_name="arw-pwn", region="us-east-1", account="123456789012",
                      size="small", instance_type="t3.large", launch_time="2026-11-02T11:00:00Z",
                      last_accessed="2026-11-02T11:00:00Z", status="running",
                      failure_reason=None, status_reason="\x1b[2Jreason",
                      outputs={"Url": "http://x/\x1b]8;;http://evil.example\x07"})
    LocalStore().create(lambda attempt: session)
    return session


def test_escape_sequences_in_session_records_are_escaped(arw_home, fixture_time, capsys):
    from registry_tools.cli import fast_sessions
    from registry_tools.cli.monitor_cmd import dashboard, detail_text

    session = hostile_session("Pwn " + HOSTILE_TEXT)
    assert fast_sessions.run([])  # the fast path: no click
    listed = capsys.readouterr().out
    assert_escaped(listed, "sessions list (fast path)")
    clicked = CliRunner().invoke(cli, ["sessions", "list"], color=True)
    assert clicked.exit_code == 0 and clicked.output == listed
    shown = CliRunner().invoke(cli, ["sessions", "show", session.id], color=True)
    assert shown.exit_code == 0, shown.output
    assert_escaped(shown.output, "sessions show")
    assert "\\x1b[2Jreason" in shown.output and "\\x1b]8;;http://evil.example\\x07" in shown.output
    as_json = CliRunner().invoke(cli, ["sessions", "show", session.id, "--json"], color=True)
    assert not any(ch in as_json.output for ch in RAW) and json.loads(as_json.output)["title"] == session.title
    snap = {"session": session.id, "sandbox": False, "domain": "pwn", "pack_version": "1.0.0", "title": session.title,
            "stack_status": "CREATE_COMPLETE", "region": "us-east-1", "instance_id": "i-1", "instance_type": "t3.large",
            "instance_state": "running", "health": "ok", "status_checks": {}, "cpu_percent": None, "cpu_trend": [],
            "memory_percent": None, "memory_trend": [], "runtime_hours": 1.0, "cost_usd": 0.1, "cost_note": "estimate",
            "projected_monthly_usd": 60.0, "budget_usd": None, "over_budget": False, "resume": "arw monitor",
            "time": "12:00:00"}
    assert_escaped(detail_text(snap), "monitor --once")
    from rich.console import Console

    console = Console(record=True, width=200, force_terminal=False)
    console.print(dashboard(snap, 30))
    live = console.export_text()
    assert_escaped(live, "the live monitor")
    assert "[red]marked[/red]" in live


def test_printable_escapes_controls_and_bidi_and_keeps_everything_else():
    from registry_tools.textsafe import printable, printable_lines

    assert printable("Génomique 🧬 — ok [x]") == "Génomique 🧬 — ok [x]"  # unchanged, and the same object
    assert printable("a\x1b[2Jb\x07\x00\x7f") == "a\\x1b[2Jb\\x07\\x00\\x7f"
    assert printable("\x9b31m\x85") == "\\x9b31m\\x85"  # C1: CSI and NEL
    assert printable("\u202egnp.exe\u2066\u200f\u2028") == "\\u202egnp.exe\\u2066\\u200f\\u2028"
    assert printable("two\nlines\r\t") == "two\\nlines\\r\\t"
    assert printable_lines("two\nlines\x1b") == "two\nlines\\x1b"
    assert printable(None) == "None" and printable(3) == "3"
    assert "\\u001b" in json.dumps("\x1b") and json.dumps("\x9b\u202e") == '"\\u009b\\u202e"'  # --json: ASCII
