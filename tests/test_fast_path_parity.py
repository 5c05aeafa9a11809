"""The fast paths answer exactly as click would, or leave the arguments to click.

Every argument vector below goes through the console scripts' fast path (``entry._fast_path``, in
process, with stdout, stderr and ``SystemExit`` captured) and through the click application
(``CliRunner``). Where the fast path answered, its stdout, stderr and exit code must be click's;
the test also says which path must answer: the fast path for plain arguments with a current
search snapshot / session registry / registry, click for everything else (bad values, unknown or
click-only options, ``--help``, ``--flag=value``, a missing or extra argument), in which case
the fast path must print nothing.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from registry_tools.cli import entry, options
from registry_tools.cli.main import cli

from .test_build import small_repo  # noqa: F401  (fixture)
from .test_client_index import served, signed_dist  # noqa: F401  (fixtures)
from .test_hostile_registry import resign_index

FAST, CLICK = True, False
COPIES = 24  # more packs matching "genomics" than a search shows by default


def fast(argv: list[str], capsys) -> tuple[bool, str, str, int]:
    """(the fast path answered, stdout, stderr, exit code) of the console script on *argv*."""
    capsys.readouterr()
    code = 0
    try:
        answered = entry._fast_path(list(argv))
    except SystemExit as exc:
        answered, code = True, exc.code
    out, err = capsys.readouterr()
    return answered, out, err, code


def clicked(argv: list[str]) -> tuple[str, str, int]:
    result = CliRunner().invoke(cli, list(argv))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.stdout, result.stderr, result.exit_code


def check(argv: list[str], expected: bool, capsys, *, click_first: bool = True) -> tuple[str, str, int]:
    """Run *argv* through both paths (click first: it writes the snapshot the fast path reads, or
    second, for commands that change state); assert which answered and that the answers agree."""
    slow = clicked(argv) if click_first else None
    answered, out, err, code = fast(argv, capsys)
    if not click_first:
        slow = clicked(argv)
    assert answered is expected, (argv, "fast path answered" if answered else "left to click", out, err)
    if answered:
        assert (out, err, code) == slow, argv
    else:
        assert (out, err) == ("", ""), argv  # nothing printed before handing over
    return slow


@pytest.fixture
def lab(served, fixture_time):  # noqa: F811
    """A loopback registry "lab" (genomics and one community pack, plus COPIES more genomics packs)."""
    repo, www, key, server, url = served

    def copies(index):
        genomics = index["domains"]["genomics"]
        for n in range(COPIES):
            index["domains"][f"genomics-{n:02d}"] = {**genomics, "name": f"genomics-{n:02d}"}

    resign_index(www, key, copies)
    runner = CliRunner()
    assert runner.invoke(cli, ["config", "registries", "remove", "public"]).exit_code == 0
    added = runner.invoke(cli, ["config", "registries", "add", "lab", url, "--trust-key", f"{key}.pub"])
    assert added.exit_code == 0, added.output
    return server


SEARCH = [
    (["genomics"], FAST), (["genomics", "--json"], FAST), (["--json", "genomics"], FAST),
    (["genomics", "--limit", "3"], FAST), (["genomics", "--limit=3"], FAST), (["genomics", "--limit", "500"], FAST),
    (["genomics", "--limit", "05"], FAST), (["genomics", "--limit", "1", "--limit", "2"], FAST),
    (["genomics", "--registry", "lab"], FAST), (["genomics", "--registry=lab"], FAST),
    (["genomics", "--registry", "nope", "--registry", "lab"], FAST), (["genomics", "--offline"], FAST),
    (["genomics", "--json", "--json", "--offline"], FAST), (["variant calling", "--limit", "1", "--json"], FAST),
    (["xyzzy"], FAST), (["xyzzy", "--json"], FAST), ([""], FAST),
    (["genomics", "--limit", "0"], CLICK), (["genomics", "--limit", "501"], CLICK),
    (["genomics", "--limit", "abc"], CLICK), (["genomics", "--limit", "-1"], CLICK), (["genomics", "--limit", "²"], CLICK),
    (["genomics", "--limit"], CLICK), (["genomics", "--limit="], CLICK), (["genomics", "--limit", "+5"], CLICK),
    (["genomics", "--registry", "BAD!"], CLICK), (["genomics", "--registry", "../etc"], CLICK),
    (["genomics", "--registry="], CLICK), (["genomics", "--registry"], CLICK), (["genomics", "--registry", "nope"], CLICK),
    (["genomics", "--registry", "--json"], CLICK), (["genomics", "--json=1"], CLICK), (["genomics", "--bogus"], CLICK),
    (["genomics", "--refresh"], CLICK), (["genomics", "--allow-expired"], CLICK), ([], CLICK), (["a", "b"], CLICK),
    (["--help"], CLICK), (["-h"], CLICK), (["genomics", "--help"], CLICK), (["--", "genomics"], CLICK), (["-"], CLICK),
]


def test_config_search_answers_as_click_does(lab, capsys):
    assert clicked(["config", "search", "genomics"])[2] == 0  # the full command writes the snapshot
    for args, expected in SEARCH:
        check(["config", "search", *args], expected, capsys)


def test_a_search_shows_twenty_hits_by_default_through_both_paths(lab, capsys):
    for args in (["genomics"], ["genomics", "--json"]):
        out, _, code = check(["config", "search", *args], FAST, capsys)
        shown = json.loads(out) if "--json" in args else out.splitlines()
        assert code == 0 and len(shown) == 20, args
    out, _, _ = check(["config", "search", "genomics", "--limit", "21"], FAST, capsys)
    assert len(out.splitlines()) == 21  # there are more


def test_the_fast_search_never_touches_the_network(lab, capsys):
    assert clicked(["config", "search", "genomics"])[2] == 0
    requests = len(lab.requests)
    assert fast(["config", "search", "genomics", "--offline"], capsys)[0]
    assert len(lab.requests) == requests


REFUSED = 1
INSTALL = [  # (arguments, which path answers, exit code when the fast path does)
    (["genomics@1.0.0"], FAST, 0), (["genomics@1.0.0", "--json"], FAST, 0),
    (["--registry", "lab", "genomics@1.1.0"], FAST, 0), (["genomics@1.1.0", "--registry=lab", "--offline"], FAST, 0),
    (["genomics@1.1.0", "--refresh", "--refresh"], FAST, 0), (["genomics@1.1.0", "--allow-expired"], FAST, 0),
    (["genomics@9.9.9"], FAST, REFUSED), (["no-such-pack"], FAST, REFUSED),
    (["genomics", "--registry", "nope"], FAST, REFUSED),
    (["genomics@1.1.0", "--registry", "BAD!"], CLICK, None), (["genomics", "--registry"], CLICK, None),
    (["genomics", "--registry="], CLICK, None), (["genomics", "--json=yes"], CLICK, None),
    (["genomics", "--bogus"], CLICK, None), (["genomics", "--allow-insecure", "E9999"], CLICK, None),
    ([], CLICK, None), (["a", "b"], CLICK, None), (["--help"], CLICK, None), (["genomics", "-h"], CLICK, None),
    (["--", "genomics"], CLICK, None),
]


def test_config_install_answers_as_click_does(lab, capsys):
    for args, expected, code in INSTALL:  # the fast path first; click installs the same again
        out, err, exit_code = check(["config", "install", *args], expected, capsys, click_first=False)
        if expected is FAST:
            assert exit_code == code and err.startswith("Error: ") is (code == REFUSED), (args, out, err)


def test_a_pinned_pack_is_refused_the_same_way_by_both_paths(lab, capsys):
    assert clicked(["config", "install", "genomics@1.1.0"])[2] == 0
    assert clicked(["config", "pin", "genomics@1.1.0"])[2] == 0
    _, err, code = check(["config", "install", "genomics@1.2.0"], FAST, capsys, click_first=False)
    assert code == 1 and err == ("Error: genomics is pinned at 1.1.0; unpin it to install 1.2.0 "
                                 "(aws-research-wizard config unpin genomics)\n")


def session(n: int, status: str, archived: bool = False):
    from registry_tools.sessions.local import LocalStore
    from registry_tools.sessions.model import Session

    record = Session(id=f"ses_genomics_20261102_120{n}", domain="genomics", pack_version="1.2.0",
                     pack_sha256="ab" * 32, title="Genomics", stack_name=f"arw-genomics-{n}", region="us-east-1",
                     account="123456789012", size="small", instance_type="t3.large",
                     launch_time="2026-11-02T11:00:00Z", last_accessed="2026-11-02T11:00:00Z", status=status,
                     failure_reason=None, archived=archived)
    LocalStore().create(lambda attempt: record)


SESSIONS = [
    ([], FAST), (["--all"], FAST), (["--json"], FAST), (["--all", "--json"], FAST), (["--json", "--all", "--all"], FAST),
    (["--sandbox"], FAST), (["--sandbox", "--all", "--json"], FAST),
    (["--all=1"], CLICK), (["--json=yes"], CLICK), (["--state"], CLICK), (["--state", "not-s3"], CLICK),
    (["--profile", "someone"], CLICK), (["--bogus"], CLICK), (["extra"], CLICK), (["--help"], CLICK), (["-h"], CLICK),
    (["--", "--all"], CLICK),
]


@pytest.mark.parametrize("group", [["sessions", "list"], ["deploy", "sessions", "list"]])
def test_sessions_list_answers_as_click_does(group, arw_home, fixture_time, capsys):
    session(1, "running")
    session(2, "completed")
    session(3, "failed", archived=True)
    for args, expected in SESSIONS:
        out, _, _ = check([*group, *args], expected, capsys)
        if expected is FAST and "--json" in args:
            assert len(json.loads(out)) == (3 if "--all" in args else 1), args
    assert options.parse(options.SESSIONS_LIST, ["--mine"]) is None  # asks AWS who you are: click's alone


def test_no_sessions_yet_and_a_launching_one(arw_home, fixture_time, capsys):
    out, _, _ = check(["sessions", "list"], FAST, capsys)
    assert out.startswith("No sessions (--all shows finished and archived ones)")
    session(1, "launching")  # its stack may have finished since: only click asks AWS (not run here: no sandbox)
    assert fast(["sessions", "list"], capsys) == (False, "", "", 0)


def test_the_fast_parser_reads_what_click_passes():
    assert options.parse(options.SEARCH, ["q", "--limit=7", "--registry", "lab"]) == {
        "query": "q", "registry_name": "lab", "refresh": False, "offline": False, "allow_expired": False,
        "limit": 7, "as_json": False}


def test_one_error_printer_for_click_and_the_fast_paths(monkeypatch, capsys):
    """``Error: <message>`` and the hint, escaped, in red on a terminal only (and not with NO_COLOR),
    then the error's exit code: the same bytes from a fast path (``report.fail``) and from click
    (``UserError.show``)."""
    import os

    from registry_tools.cli import report
    from registry_tools.cli.output import UserError
    from registry_tools.errors import ArwError

    error = ArwError("registry lab: the index\x1b[2J expired", hint="ask its maintainer")

    def on_a_terminal(show) -> bytes:
        main, side = os.openpty()
        with open(side, "w", closefd=True) as stream:
            show(stream)
        data = os.read(main, 4096)
        os.close(main)
        return data

    monkeypatch.delenv("NO_COLOR", raising=False)
    fast_bytes = on_a_terminal(lambda stream: report.show(error, stream))
    assert fast_bytes == b"\x1b[31mError: registry lab: the index\\x1b[2J expired\r\n  hint: ask its maintainer\x1b[0m\r\n"
    assert on_a_terminal(UserError.of(error).show) == fast_bytes
    monkeypatch.setenv("NO_COLOR", "1")
    assert on_a_terminal(UserError.of(error).show) == fast_bytes.replace(b"\x1b[31m", b"").replace(b"\x1b[0m", b"")
    with pytest.raises(SystemExit) as exited:
        report.fail(error)
    assert exited.value.code == 1
    assert capsys.readouterr().err == "Error: registry lab: the index\\x1b[2J expired\n  hint: ask its maintainer\n"
