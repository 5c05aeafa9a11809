"""config install from a loopback registry: constraints, verification before unpacking, nothing left on failure."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from registry_tools.cli.main import cli
from registry_tools.signing.keys import KeySigner

from .test_build import small_repo  # noqa: F401  (fixture)
from .test_client_index import CountingServer, served, signed_dist  # noqa: F401  (fixtures)


@pytest.fixture
def lab(served, arw_home, fixture_time):  # noqa: F811
    repo, www, key, server, url = served
    runner = CliRunner()
    runner.invoke(cli, ["config", "registries", "remove", "public"])
    assert runner.invoke(cli, ["config", "registries", "add", "lab", url, "--trust-key", f"{key}.pub"]).exit_code == 0
    return www, key, arw_home


def run(*args):
    return CliRunner().invoke(cli, list(args))


def installed_tree(home):
    root = home / "domains"
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) if root.exists() else []


def test_install_default_exact_and_constraints(lab):
    www, key, home = lab
    result = run("config", "install", "genomics", "--json")
    assert result.exit_code == 0, result.output
    receipt = json.loads(result.output)
    assert receipt["version"] == "1.2.0" and receipt["registry"] == "lab" and receipt["signer"].startswith("Ed25519 key")
    assert receipt["installed_at"] == "2026-11-02T12:00:00Z"  # the command's reference time, not the system clock
    assert (home / "domains" / "genomics" / "1.2.0" / "domain.yaml").is_file()
    for spec, expected in (("genomics@1.0.0", "1.0.0"), ("genomics@~1.1", "1.1.0"), ("genomics@>=1.0,<1.2", "1.1.0"),
                           ("genomics@^1.0", "1.2.0")):
        got = json.loads(run("config", "install", spec, "--json").output)["version"]
        assert got == expected, spec
    listed = json.loads(run("config", "list", "--json").output)
    assert sorted(r["version"] for r in listed) == ["1.0.0", "1.1.0", "1.2.0"]
    nomatch = run("config", "install", "genomics@^2")
    assert nomatch.exit_code == 1 and "matches '^2'" in nomatch.output


def _flip(path, offset=200):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("attack", ["tampered-archive", "bad-signature", "untrusted-key", "missing-signature"])
def test_hostile_archives_are_refused_and_earlier_install_survives(lab, tmp_path, attack):
    www, key, home = lab
    assert run("config", "install", "genomics@1.1.0").exit_code == 0
    before = installed_tree(home)
    archive = www / "packs" / "genomics-1.2.0.tar.gz"
    signature = www / "packs" / "genomics-1.2.0.tar.gz.sig"
    if attack == "tampered-archive":
        _flip(archive)
        expected = "checksum mismatch"
    elif attack == "bad-signature":
        signature.write_text("A" * 86 + "==\n")
        expected = "signature does not match"
    elif attack == "untrusted-key":
        other = tmp_path / "other.pem"
        run("registry", "keygen", str(other))
        KeySigner(other).sign_file(archive)
        expected = "signature does not match"
    else:
        signature.unlink()
        expected = "cannot fetch the signature"
    result = run("config", "install", "genomics@1.2.0")
    assert result.exit_code == 1 and expected in result.output, result.output
    assert installed_tree(home) == before
    assert not list((home / "tmp").glob("install-*"))


def test_diff_between_two_real_versions(lab):
    result = run("config", "diff", "genomics@1.1.0", "genomics@1.2.0", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["new_version"] == "1.2.0" and data["old_version"] == "1.1.0"
    text = run("config", "diff", "genomics@1.1.0", "genomics@1.2.0").output
    assert "g5.12xlarge" in text and "samtools 1.19 -> 1.21" in text
    bad = run("config", "diff", "genomics", "genomics@1.2.0")
    assert bad.exit_code == 2


def test_update_outdated_and_pins(lab):
    www, key, home = lab
    assert run("config", "install", "genomics@1.0.0").exit_code == 0
    outdated = json.loads(run("config", "outdated", "--json").output)
    assert outdated == [{"name": "genomics", "installed": "1.0.0", "available": "1.2.0", "pinned": None, "registry": "lab"}]
    assert run("config", "pin", "genomics@1.0.0").exit_code == 0
    held = run("config", "update", "genomics")
    assert held.exit_code == 0 and "pinned at 1.0.0; 1.2.0 is available" in held.output
    refused = run("config", "install", "genomics@1.2.0")
    assert refused.exit_code == 1 and "pinned at 1.0.0" in refused.output
    assert run("config", "unpin", "genomics").exit_code == 0
    moved = run("config", "update", "--all")
    assert moved.exit_code == 0 and "genomics v1.0.0 -> v1.2.0" in moved.output
    assert "up to date" in run("config", "update", "genomics").output
    assert run("config", "update").exit_code == 2


def test_pin_digest_mismatch_is_refused(lab, tmp_path):
    www, key, home = lab
    assert run("config", "pin", "genomics@1.1.0").exit_code == 0
    pins = home / "pins.yaml"
    import yaml

    data = yaml.safe_load(pins.read_text())
    data["genomics"]["sha256"] = "0" * 64
    pins.write_text(yaml.safe_dump(data))
    result = run("config", "install", "genomics")
    assert result.exit_code == 1 and "pinned to sha256 " + "0" * 64 in result.output
    assert not (home / "domains" / "genomics" / "1.1.0").exists()


def test_validate_installed_pack(lab):
    www, key, home = lab
    assert run("config", "install", "genomics@1.2.0").exit_code == 0
    ok = run("config", "validate", "genomics", "--json")
    assert ok.exit_code == 0, ok.output
    checks = {c["check"]: c["ok"] for c in json.loads(ok.output)["checks"]}
    assert checks == {"checksum": True, "signature": True, "schema": True, "security": True,
                      "cost estimates current": True, "template lint": True}
    readme = home / "domains" / "genomics" / "1.2.0" / "README.md"
    readme.write_text(readme.read_text() + "\nlocal edit\n")
    bad = run("config", "validate", "genomics@1.2.0", "--no-lint")
    assert bad.exit_code == 1 and "FAIL  checksum: changed since install: README.md" in bad.output


def test_mirror_then_install_offline_from_the_mirror(lab, served, tmp_path):  # noqa: F811
    www, key, home = lab
    repo, _, _, server, url = served
    mirror = tmp_path / "mirror"
    result = run("config", "mirror", str(mirror), "genomics")
    assert result.exit_code == 0, result.output
    assert (mirror / "registry.json").is_file() and (mirror / "registry.json.sig").is_file()
    assert sorted(p.name for p in (mirror / "packs").iterdir())[:2] == ["genomics-1.0.0.tar.gz", "genomics-1.0.0.tar.gz.sig"]
    server.stop()
    try:
        assert run("config", "registries", "remove", "lab").exit_code == 0
        assert run("config", "registries", "add", "site", str(mirror), "--trust-key", f"{key}.pub").exit_code == 0
        installed = run("config", "install", "genomics@1.1.0", "--offline", "--json")
        assert installed.exit_code == 0, installed.output
        assert json.loads(installed.output)["registry"] == "site"
    finally:
        server.start()


def test_killed_install_leaves_nothing_and_a_later_install_succeeds(signed_dist, arw_home, fixture_time):  # noqa: F811
    import functools
    import http.server
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time
    from pathlib import Path

    repo, www, key = signed_dist

    class Slow(http.server.SimpleHTTPRequestHandler):
        slow = True

        def copyfile(self, source, outputfile):
            if Slow.slow and self.path.endswith(".tar.gz"):
                while chunk := source.read(512):
                    outputfile.write(chunk)
                    outputfile.flush()
                    time.sleep(0.05)
            else:
                super().copyfile(source, outputfile)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Slow, directory=str(www)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        run("config", "registries", "remove", "public")
        assert run("config", "registries", "add", "lab", url, "--trust-key", f"{key}.pub").exit_code == 0
        exe = Path(sys.executable).with_name("aws-research-wizard")
        proc = subprocess.Popen([str(exe), "config", "install", "genomics@1.2.0"], env={**os.environ},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list((arw_home / "tmp").glob("install-*/*")):
            time.sleep(0.05)
        assert list((arw_home / "tmp").glob("install-*")), "the install never started downloading"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert not (arw_home / "domains" / "genomics" / "1.2.0").exists()
        Slow.slow = False
        again = run("config", "install", "genomics@1.2.0")
        assert again.exit_code == 0, again.output
        assert (arw_home / "domains" / "genomics" / "1.2.0" / "domain.yaml").is_file()
        assert not list((arw_home / "tmp").glob("install-*"))  # the killed install's scratch was swept
    finally:
        server.shutdown()
        server.server_close()


def test_search_command(lab):
    hits = json.loads(run("config", "search", "genomcis", "--json").output)
    assert hits[0]["name"] == "genomics" and hits[0]["registry"] == "lab"
    none = run("config", "search", "xyzzy qwerty")
    assert none.exit_code == 1 and "No packs match" in none.output


def test_the_console_script_installs_without_click_and_prints_the_same(lab, monkeypatch, capsys):
    """`config install` with plain arguments runs in entry.py without importing click; its
    output and errors are those of the click command."""
    import subprocess
    import sys

    from registry_tools.cli import options

    www, key, home = lab
    assert options.parse(options.INSTALL, ["genomics@1.1.0", "--registry", "lab", "--json"]) == \
        {"spec": "genomics@1.1.0", "registry_name": "lab", "as_json": True, "refresh": False, "offline": False,
         "allow_expired": False}
    for args in (["--help"], ["a", "b"], ["genomics", "--bogus"], ["genomics", "--registry"], []):
        assert options.parse(options.INSTALL, args) is None, args
    code = ("import sys; from registry_tools.cli.entry import main; sys.argv = ['arw', 'config', 'install', *sys.argv[1:]];"
            "main(); assert 'click' not in sys.modules, 'imported click'")
    fast = subprocess.run([sys.executable, "-c", code, "genomics@1.0.0"], capture_output=True, text=True)
    assert fast.returncode == 0, fast.stderr
    full = run("config", "install", "genomics@1.0.0")
    assert fast.stdout == full.output and fast.stdout.startswith("Installed genomics 1.0.0 from registry lab")
    refused = subprocess.run([sys.executable, "-c", code, "nope"], capture_output=True, text=True)
    clicked = run("config", "install", "nope")
    assert refused.returncode == clicked.exit_code == 1
    assert refused.stderr == clicked.output == "Error: no pack named 'nope' in the configured registries\n"
    as_json = subprocess.run([sys.executable, "-c", code, "genomics@1.0.0", "--json"], capture_output=True, text=True)
    assert json.loads(as_json.stdout)["version"] == "1.0.0" and as_json.stderr == ""


# --- the swap: crash- and concurrency-safe ------------------------------------------------------------------------

# `config install` in a child process whose os.rename and shutil.rmtree stop at the Nth step of the swap of a
# version directory under MARKER (argv[2]): "paused" is printed and the process sleeps until it is killed. Steps
# (with nothing to recover first): 1 rename VERSION -> .VERSION-old-PID, 2 rename staging -> VERSION, 3 remove the
# old directory, 4 the same, half of it removed. Nothing of this lives in the product.
PAUSING_INSTALL = r"""
import os, shutil, sys, time
pause_at, marker = int(sys.argv[1]), sys.argv[2]
real_rename, real_rmtree, steps = os.rename, shutil.rmtree, [0]

def step():
    steps[0] += 1
    if steps[0] == pause_at:
        print("paused", flush=True)
        time.sleep(600)

def rename(src, dst, *args, **kwargs):
    if marker in os.fspath(src) or marker in os.fspath(dst):
        step()
    return real_rename(src, dst, *args, **kwargs)

def rmtree(path, *args, **kwargs):
    if marker in os.fspath(path):
        step()
        for name in sorted(os.listdir(path))[::2]:
            os.unlink(os.path.join(path, name))
        step()
    return real_rmtree(path, *args, **kwargs)

os.rename, shutil.rmtree = rename, rmtree
from registry_tools.cli.entry import main
sys.argv = ["aws-research-wizard", "config", "install", *sys.argv[3:]]
main()
"""


def _install_paused_at(step: int, marker, spec: str, env: dict) -> int | None:
    """Run PAUSING_INSTALL; SIGKILL it when it pauses. None if it was killed, else its exit code."""
    import select
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", PAUSING_INSTALL, str(step), str(marker), spec], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline() if ready else ""
        if line == "paused\n":
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            return None
        proc.wait(timeout=60)
        assert "Traceback" not in proc.stderr.read()
        return proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _listed(name: str) -> list[dict]:
    result = run("config", "list", "--json")
    assert result.exit_code == 0, result.output
    return [r for r in json.loads(result.output) if r["name"] == name]


def test_a_kill_at_every_step_of_the_swap_leaves_the_old_or_the_new_install(lab, served, monkeypatch):  # noqa: F811
    """Kill -9 before, between and after the renames and in the middle of removing the old directory:
    the next command finds one install, the old or the new, loads it and leaves nothing behind; deploy
    uses it without downloading again."""
    import os
    from datetime import timedelta

    from registry_tools.cli.deploy_cmd import installed_pack
    from registry_tools.timefmt import format_utc

    from .conftest import FIXTURE_NOW

    www, key, home = lab
    server = served[3]
    assert run("config", "install", "genomics@1.2.0").exit_code == 0
    pack_dir = home / "domains" / "genomics"
    outcomes = {}
    for step in (1, 2, 3, 4, 5):  # 5: no pause, the install completes
        old = _listed("genomics")
        assert len(old) == 1
        new_time = format_utc(FIXTURE_NOW + timedelta(minutes=step))
        code = _install_paused_at(step, pack_dir, "genomics@1.2.0", {**os.environ, "ARW_NOW": new_time})
        assert code == (0 if step == 5 else None), step
        downloads = len(server.requests)
        after = _listed("genomics")  # the next command: repairs, and lists it exactly once
        assert [r["version"] for r in after] == ["1.2.0"], (step, after)
        assert after[0]["installed_at"] in (old[0]["installed_at"], new_time), step
        outcomes[step] = "new" if after[0]["installed_at"] == new_time else "old"
        assert sorted(os.listdir(pack_dir)) == ["1.2.0"], step  # no swap leftover
        assert run("config", "validate", "genomics@1.2.0", "--no-lint").exit_code == 0, step  # complete, unchanged
        pack, sha256 = installed_pack("genomics@1.2.0", quiet=True)
        assert pack.pack.name == "genomics" and sha256 == after[0]["sha256"]
        assert len(server.requests) == downloads, step  # deploy found it: nothing fetched
    assert outcomes == {1: "old", 2: "old", 3: "new", 4: "new", 5: "new"}


def test_a_kill_while_a_killed_swap_is_repaired_still_leaves_the_old_install(lab, monkeypatch):
    """The repair is itself a rename under the lock: killed before it, the next command repairs again."""
    import os

    www, key, home = lab
    assert run("config", "install", "genomics@1.2.0").exit_code == 0
    old = _listed("genomics")[0]["installed_at"]
    pack_dir = home / "domains" / "genomics"
    assert _install_paused_at(2, pack_dir, "genomics@1.2.0", dict(os.environ)) is None
    assert not (pack_dir / "1.2.0").exists() and len(os.listdir(pack_dir)) == 1  # only .1.2.0-old-PID
    # the next install first renames the old directory back (its step 1): killed right before that rename
    assert _install_paused_at(1, pack_dir, "genomics@1.2.0", dict(os.environ)) is None
    assert not (pack_dir / "1.2.0").exists()
    listed = _listed("genomics")
    assert [r["installed_at"] for r in listed] == [old] and sorted(os.listdir(pack_dir)) == ["1.2.0"]


def test_swap_leftovers_are_never_listed_and_a_lost_install_is_reinstalled(lab):
    """What earlier releases left (a swap killed between its renames, an old directory never removed)
    is repaired by the next listing; a leftover that cannot be repaired is removed and deploy reinstalls."""
    import shutil

    from registry_tools.cli.deploy_cmd import installed_pack

    www, key, home = lab
    assert run("config", "install", "genomics@1.1.0").exit_code == 0
    assert run("config", "install", "genomics@1.2.0").exit_code == 0
    pack_dir = home / "domains" / "genomics"
    shutil.copytree(pack_dir / "1.2.0", pack_dir / ".1.2.0-old-999999999")  # a finished swap's leftover
    (pack_dir / "1.1.0").rename(pack_dir / ".1.1.0-old-999999998")  # killed between the renames
    assert [r["version"] for r in _listed("genomics")] == ["1.1.0", "1.2.0"]
    assert sorted(p.name for p in pack_dir.iterdir()) == ["1.1.0", "1.2.0"]
    shutil.rmtree(pack_dir / "1.2.0")
    (pack_dir / ".1.2.0-old-999999997").mkdir()  # no receipt: nothing to restore
    assert [r["version"] for r in _listed("genomics")] == ["1.1.0"]
    assert sorted(p.name for p in pack_dir.iterdir()) == ["1.1.0"]
    pack, _ = installed_pack("genomics@1.2.0", quiet=True)
    assert str(pack.pack.version) == "1.2.0" and [r["version"] for r in _listed("genomics")] == ["1.1.0", "1.2.0"]


CONCURRENT_INSTALLS = r"""
import sys
from registry_tools import clock
from registry_tools.client.requests import install_spec
from registry_tools.errors import ArwError
for _ in range(int(sys.argv[1])):
    try:
        print(install_spec("genomics@1.2.0", now=clock.now()).splitlines()[0], flush=True)
    except ArwError as exc:
        print(f"refused: {exc}", flush=True)
"""


def test_concurrent_installs_of_one_version_all_succeed(lab):
    """8 processes x 12 installs of the same version at once: all succeed, no traceback, one install left."""
    import os
    import subprocess
    import sys

    www, key, home = lab
    assert run("config", "install", "genomics@1.2.0").exit_code == 0  # the index is cached: installs overlap more
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT_INSTALLS, "12"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(8)]
    results = [(proc.communicate(timeout=300), proc.returncode) for proc in procs]
    for (out, err), code in results:
        assert code == 0 and "Traceback" not in err, err
        assert out.splitlines() == ["Installed genomics 1.2.0 from registry lab "
                                    f"(sha256 {_listed('genomics')[0]['sha256'][:12]}..., signed by "
                                    f"{_listed('genomics')[0]['signer']})"] * 12, out
    pack_dir = home / "domains" / "genomics"
    assert sorted(os.listdir(pack_dir)) == ["1.2.0"]
    assert not os.listdir(home / "tmp")
    assert run("config", "validate", "genomics@1.2.0", "--no-lint").exit_code == 0


def test_install_downloads_through_the_fetcher_it_is_handed(lab, served):  # noqa: F811
    from registry_tools.client.index_store import load_registries
    from registry_tools.client.install import install
    from registry_tools.client.requests import install_request

    from .conftest import FIXTURE_NOW
    from .test_client_index import RecordingFetcher, served_urls

    server, url = served[3], served[4]
    before = len(server.requests)
    recorder = RecordingFetcher()
    catalog, loaded = load_registries(None, now=FIXTURE_NOW, fetcher=recorder)
    assert install(catalog, loaded, "genomics", "1.1.0", now=FIXTURE_NOW, fetcher=recorder).version == "1.1.0"
    assert recorder.urls == [url + "registry.json", url + "registry.json.sig",
                             url + "packs/genomics-1.1.0.tar.gz", url + "packs/genomics-1.1.0.tar.gz.sig"]
    assert recorder.urls == served_urls(server, url, before)  # it answered every request

    install(catalog, loaded, "genomics", "1.0.0", now=FIXTURE_NOW)  # none handed: the one that fetched the index
    assert recorder.urls[-2:] == [url + "packs/genomics-1.0.0.tar.gz", url + "packs/genomics-1.0.0.tar.gz.sig"]
    assert recorder.urls == served_urls(server, url, before)

    other = RecordingFetcher()  # the use case the CLI's entry points call threads it through
    assert install_request("genomics@1.2.0", now=FIXTURE_NOW, refresh=True, fetcher=other).version == "1.2.0"
    assert other.urls[0] == url + "registry.json" and other.urls[-2:] == [
        url + "packs/genomics-1.2.0.tar.gz", url + "packs/genomics-1.2.0.tar.gz.sig"]
    assert recorder.urls + other.urls == served_urls(server, url, before)
