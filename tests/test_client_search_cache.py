"""`config search` from its snapshot: the click command writes it, the entry point answers
from it with the same output, and it is ignored whenever the full command would search
something else (config changed, index refreshed, cache stale or expired, other options)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from registry_tools.cli import entry, fast_search, options
from registry_tools.cli.main import cli
from registry_tools.client import search_cache
from registry_tools.paths import state_dir

from .conftest import FIXTURE_NOW
from .test_build import small_repo  # noqa: F401  (fixture)
from .test_client_index import served, signed_dist  # noqa: F401  (fixtures)


@pytest.fixture
def lab(served, fixture_time):  # noqa: F811
    repo, www, key, server, url = served
    runner = CliRunner()
    assert runner.invoke(cli, ["config", "registries", "remove", "public"]).exit_code == 0
    added = runner.invoke(cli, ["config", "registries", "add", "lab", url, "--trust-key", f"{key}.pub"])
    assert added.exit_code == 0, added.output
    return runner, server


def fast(monkeypatch, capsys, *args: str) -> tuple[bool, str, int]:
    """(answered from the snapshot, stdout, exit code) of `aws-research-wizard config search ARGS`."""
    code = 0
    try:
        answered = fast_search.run(list(args))
    except SystemExit as exc:
        answered, code = True, exc.code
    return answered, capsys.readouterr().out, code


def test_the_full_command_writes_the_snapshot_and_the_fast_path_prints_the_same(lab, monkeypatch, capsys):
    runner, server = lab
    assert not fast(monkeypatch, capsys, "genomics")[0]  # nothing cached yet
    for args in (["genomics"], ["genomcis", "--json"], ["variant calling", "--limit", "1"],
                 ["genomics", "--registry", "lab", "--json", "--limit=2"], ["genomics", "--offline"]):
        full = runner.invoke(cli, ["config", "search", *args])
        assert full.exit_code == 0, full.output
        requests = len(server.requests)
        answered, out, code = fast(monkeypatch, capsys, *args)
        assert answered and code == 0 and out == full.output, args
        assert len(server.requests) == requests  # the snapshot path never touches the network
        if "--json" in args:
            assert json.loads(out)[0]["registry"] == "lab"
    assert (state_dir() / "cache" / "search" / "all.bin").is_file()
    assert (state_dir() / "cache" / "search" / "registry-lab.bin").is_file()
    assert fast(monkeypatch, capsys, "genomics", "--refresh") == (False, "", 0)
    nothing = runner.invoke(cli, ["config", "search", "xyzzy"])
    assert fast(monkeypatch, capsys, "xyzzy") == (True, nothing.output, 1) and nothing.exit_code == 1


def test_the_console_script_uses_the_snapshot_without_importing_click(lab):
    runner, _ = lab
    assert runner.invoke(cli, ["config", "search", "genomics"]).exit_code == 0
    code = ("import sys; from registry_tools.cli.entry import main; sys.argv = ['arw', 'config', 'search', 'genomics'];"
            "main(); assert 'click' not in sys.modules and 'yaml' not in sys.modules, 'imported click or yaml'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())
    assert result.returncode == 0, result.stderr
    assert result.stdout == runner.invoke(cli, ["config", "search", "genomics"]).output


@pytest.mark.parametrize("args", [["genomics", "--refresh"], ["genomics", "--allow-expired"], ["--help"],
                                  ["genomics", "--limit", "0"], ["genomics", "--limit"], ["a", "b"], [],
                                  ["genomics", "--registry", "../etc"], ["--", "genomics"], ["genomics", "--bogus"]])
def test_anything_but_plain_arguments_goes_to_click(args):
    assert options.parse(options.SEARCH, args) is None


def test_the_snapshot_is_ignored_once_it_is_not_what_the_full_command_would_search(lab, monkeypatch, capsys, served):  # noqa: F811
    runner, server = lab
    _, www, key, _, url = served

    def warm():
        assert runner.invoke(cli, ["config", "search", "genomics"]).exit_code == 0
        assert search_cache.load("all", now=FIXTURE_NOW) is not None

    warm()  # a registry added or removed: another config.yaml
    assert runner.invoke(cli, ["config", "registries", "add", "lab2", url, "--trust-key", f"{key}.pub"]).exit_code == 0
    assert search_cache.load("all", now=FIXTURE_NOW) is None
    warm()  # the cached index replaced (another process refreshed it)
    cached = state_dir() / "cache" / "registries" / "lab" / "registry.json"
    os.utime(cached, ns=(0, 0))
    assert search_cache.load("all", now=FIXTURE_NOW) is None
    assert runner.invoke(cli, ["config", "search", "genomics", "--refresh"]).exit_code == 0
    assert search_cache.load("all", now=FIXTURE_NOW) is not None
    assert search_cache.load("all", now=FIXTURE_NOW + timedelta(hours=25)) is None  # older than the update interval
    header = read_header()
    expires = datetime.fromisoformat(header["sources"][0]["expires"])
    assert search_cache.load("all", now=expires + timedelta(seconds=1)) is None  # the index expired
    monkeypatch.setenv("ARW_NOW", "2026-12-01T12:00:01Z")  # the fast path asks the command's clock
    assert fast(monkeypatch, capsys, "genomics") == (False, "", 0)
    monkeypatch.setenv("ARW_NOW", "2026-11-02T13:00:00Z")
    assert fast(monkeypatch, capsys, "genomics")[0]
    snapshot = state_dir() / "cache" / "search" / "all.bin"
    snapshot.write_bytes(snapshot.read_bytes()[:-9])  # torn
    assert search_cache.load("all", now=FIXTURE_NOW) is None
    snapshot.write_bytes(b"")
    assert search_cache.load("all", now=FIXTURE_NOW) is None
    assert fast(monkeypatch, capsys, "genomics") == (False, "", 0)
    warm()  # and the full command writes a good one again


def test_no_snapshot_after_a_registry_failed_or_when_it_cannot_be_written(lab, served):  # noqa: F811
    runner, server = lab
    _, _, key, _, url = served
    assert runner.invoke(cli, ["config", "registries", "add", "gone", "http://127.0.0.1:9/",
                               "--trust-key", f"{key}.pub"]).exit_code == 0
    partial = runner.invoke(cli, ["config", "search", "genomics"])
    assert partial.exit_code == 0 and "warning: registry gone" in partial.output
    assert search_cache.load("all", now=FIXTURE_NOW) is None  # a snapshot would hide the warning
    search_dir = state_dir() / "cache" / "search"
    search_dir.parent.mkdir(parents=True, exist_ok=True)
    search_dir.write_text("not a directory")  # the snapshot cannot be written (works as root too)
    lab_only = runner.invoke(cli, ["config", "search", "genomics", "--registry", "lab"])
    assert lab_only.exit_code == 0 and lab_only.output.startswith("genomics")


def read_header() -> dict:
    with open(state_dir() / "cache" / "search" / "all.bin", "rb") as fh:
        assert fh.readline() == search_cache.MAGIC
        return json.loads(fh.readline())


def test_the_standalone_program_takes_the_fast_path_too(lab, monkeypatch, capsys):
    runner, _ = lab
    full = runner.invoke(cli, ["config", "search", "genomics"])
    monkeypatch.setattr(sys, "argv", ["aws-research-wizard-config", "search", "genomics"])
    monkeypatch.setattr("registry_tools.cli.main.config_main", lambda: pytest.fail("click was used"))
    entry.config_main()
    assert capsys.readouterr().out == full.output
