"""The client's registries and index: served by a real loopback HTTP server, verified, cached,
conditional requests, rollback and expiry refused, offline and fallback behaviour (a stalled
server included); plain-HTTP registries warned about, and refused with require_https."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
import time
from datetime import timedelta

import pytest
from click.testing import CliRunner

from registry_tools.cli.main import cli
from registry_tools.client.index_store import RegistryError, load_index
from registry_tools.client.settings import Registry
from registry_tools.fetch.http import FetchSettings, HttpFetcher
from registry_tools.signing.trust import anchor_from_options

from .conftest import FIXTURE_NOW
from .test_build import build, small_repo  # noqa: F401  (fixture)


class CountingServer:
    """A static file server on 127.0.0.1 that counts requests and can be stopped and restarted;
    paths in ``trickle`` (path -> (bytes, seconds)) are sent that many bytes at a time with that pause."""

    def __init__(self, directory):
        self.directory = directory
        self.requests: list[tuple[str, str, dict]] = []
        self.trickle: dict[str, tuple[int, float]] = {}
        self.port = 0
        self.server = None

    def start(self):
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(("GET", self.path, dict(self.headers)))
                if self.path in outer.trickle:
                    return self.send_slowly(*outer.trickle[self.path])
                super().do_GET()

            def send_slowly(self, size: int, pause: float) -> None:
                body = (outer.directory / self.path.lstrip("/")).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    for start in range(0, len(body), size):
                        self.wfile.write(body[start:start + size])
                        time.sleep(pause)
                except OSError:  # the client gave up
                    pass

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # clients that stop reading early (size caps) are expected here

        self.server = Server(("127.0.0.1", self.port), functools.partial(Handler, directory=str(self.directory)))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.port}/"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def signed_dist(small_repo, tmp_path):  # noqa: F811
    runner = CliRunner()
    key = tmp_path / "keys" / "registry.pem"
    assert runner.invoke(cli, ["registry", "keygen", str(key)]).exit_code == 0
    assert build(small_repo, tmp_path / "www", "--sign-key", str(key), "--serial", "5").exit_code == 0
    return small_repo, tmp_path / "www", key


@pytest.fixture
def served(signed_dist):
    repo, www, key = signed_dist
    server = CountingServer(www)
    url = server.start()
    yield repo, www, key, server, url
    server.stop()


def registry_for(url, key):
    return Registry("lab", url, anchor_from_options([key.with_name(key.name + ".pub")], None, None))


def test_fetch_verify_cache_and_conditional_requests(served):
    repo, www, key, server, url = served
    registry = registry_for(url, key)
    first = load_index(registry, now=FIXTURE_NOW)
    assert first.source == "network" and first.trusted.serial == 5
    assert "genomics" in first.index["domains"]
    count = len(server.requests)
    second = load_index(registry, now=FIXTURE_NOW)
    assert second.source == "cache" and len(server.requests) == count  # fresh cache: no request at all
    third = load_index(registry, now=FIXTURE_NOW, refresh=True)
    assert third.source == "not-modified"
    conditional = server.requests[count]
    assert "If-Modified-Since" in conditional[2]
    later = load_index(registry, now=FIXTURE_NOW + timedelta(hours=25))
    assert later.source in ("not-modified", "network")  # the update interval passed: asked again


def republish(repo, www, key, out, *, serial: int) -> None:
    """Serve a new build of *repo* with *serial*, with a Last-Modified newer than the cached copy's."""
    assert build(repo, out, "--sign-key", str(key), "--serial", str(serial)).exit_code == 0
    shutil.rmtree(www)
    shutil.copytree(out, www)
    later = (www / "registry.json").stat().st_mtime + 10  # the file system's clock, which faketime does not move
    for path in www.rglob("*"):
        os.utime(path, (later, later))


def test_a_cache_written_at_a_later_reference_time_is_not_fresh(served, tmp_path):
    """A command run with ARW_NOW in the future must not stop later runs from checking for a new index."""
    repo, www, key, server, url = served
    registry = registry_for(url, key)
    assert load_index(registry, now=FIXTURE_NOW + timedelta(days=10)).trusted.serial == 5
    republish(repo, www, key, tmp_path / "newer", serial=6)
    again = load_index(registry, now=FIXTURE_NOW)
    assert again.source == "network" and again.trusted.serial == 6


def test_rollback_to_a_lower_serial_is_refused(served, tmp_path):
    repo, www, key, server, url = served
    registry = registry_for(url, key)
    load_index(registry, now=FIXTURE_NOW)
    republish(repo, www, key, tmp_path / "older", serial=3)
    with pytest.raises(RegistryError, match="serial 3 is lower than serial 5 seen before"):
        load_index(registry, now=FIXTURE_NOW, refresh=True)


def test_expired_index_is_refused_unless_allowed(served):
    repo, www, key, server, url = served
    registry = registry_for(url, key)
    in_a_year = FIXTURE_NOW + timedelta(days=365)
    with pytest.raises(RegistryError, match="expired .* ago .*--allow-expired"):
        load_index(registry, now=in_a_year)
    allowed = load_index(registry, now=in_a_year, allow_expired=True)
    assert allowed.trusted.expired


def test_tampered_or_unsigned_index_is_refused(served):
    repo, www, key, server, url = served
    registry = registry_for(url, key)
    index = www / "registry.json"
    index.write_bytes(index.read_bytes().replace(b'"genomics"', b'"genomicz"', 1))
    with pytest.raises(RegistryError, match="signature does not match"):
        load_index(registry, now=FIXTURE_NOW)
    (www / "registry.json.sig").unlink()
    with pytest.raises(RegistryError, match="HTTP 404"):
        load_index(registry, now=FIXTURE_NOW, refresh=True)


def test_server_down_falls_back_to_the_cache_and_offline_never_fetches(served, tmp_path):
    repo, www, key, server, url = served
    registry = registry_for(url, key)
    load_index(registry, now=FIXTURE_NOW)
    server.stop()
    fallback = load_index(registry, now=FIXTURE_NOW, refresh=True)
    assert fallback.source == "fallback" and "using cached index from" in fallback.notice
    offline = load_index(registry, now=FIXTURE_NOW, offline=True, refresh=True)
    assert offline.source == "cache"
    other = Registry("other", "http://127.0.0.1:9/", registry.trust)
    with pytest.raises(RegistryError, match="--offline forbids fetching"):
        load_index(other, now=FIXTURE_NOW, offline=True)
    server.start()


def test_registry_commands_browse_and_info(served, fixture_time):
    repo, www, key, server, url = served
    runner = CliRunner()
    assert runner.invoke(cli, ["config", "registries", "remove", "public"]).exit_code == 0
    added = runner.invoke(cli, ["config", "registries", "add", "lab", url, "--trust-key", f"{key}.pub"])
    assert added.exit_code == 0, added.output
    again = runner.invoke(cli, ["config", "registries", "add", "lab", url, "--trust-key", f"{key}.pub"])
    assert again.exit_code == 1 and "exists" in again.output
    listed = json.loads(runner.invoke(cli, ["config", "registries", "list", "--json"]).output)
    assert [r["name"] for r in listed] == ["lab"] and listed[0]["trust"]["kind"] == "key"
    browse = json.loads(runner.invoke(cli, ["config", "browse", "--json"]).output)
    assert [p["name"] for p in browse["official"]] == ["genomics"]
    assert browse["community"][0]["trust_level"] == "community"
    info = runner.invoke(cli, ["config", "info", "genomics@1.1.0", "--json"])
    data = json.loads(info.output)
    assert data["version"] == "1.1.0" and data["sizes"]["standard"]["monthly_usd"] == 812.63
    assert data["signed_by"].startswith("Ed25519 key SHA256:")
    missing = runner.invoke(cli, ["config", "info", "genomics@9.9.9"])
    assert missing.exit_code == 1 and "has no version 9.9.9" in missing.output
    bad_trust = runner.invoke(cli, ["config", "registries", "add", "x", url, "--trust-identity", "https://github.com/o/r/"])
    assert bad_trust.exit_code == 2


def test_expiry_is_decided_by_the_commands_reference_time(served, monkeypatch):
    """The same cached index is valid or expired depending only on ``$ARW_NOW`` (never the system
    clock), and the age the warning prints is measured from that time."""
    repo, www, key, server, url = served
    runner = CliRunner()
    runner.invoke(cli, ["config", "registries", "remove", "public"])
    assert runner.invoke(cli, ["config", "registries", "add", "lab", url, "--trust-key", f"{key}.pub"]).exit_code == 0
    monkeypatch.setenv("ARW_NOW", "2026-11-30T12:00:00Z")
    fresh = runner.invoke(cli, ["config", "browse"])
    assert fresh.exit_code == 0 and "expired" not in fresh.output
    monkeypatch.setenv("ARW_NOW", "2026-12-04T12:00:00Z")  # the cache is now older than a day, too
    refused = runner.invoke(cli, ["config", "browse"])
    assert refused.exit_code == 1 and "the index expired 3.0 days ago (2026-12-01T12:00:00Z)" in refused.output
    allowed = runner.invoke(cli, ["config", "browse", "--allow-expired"])
    assert allowed.exit_code == 0
    assert "registry lab: the index expired 3.0 days ago; used because of --allow-expired" in allowed.stderr


def test_a_malformed_reference_time_is_a_usage_error(monkeypatch):
    import subprocess

    from .conftest import ARW

    for command in (["config", "browse"], ["sessions", "list"], ["config", "search", "x"]):
        result = subprocess.run([str(ARW), *command], env={**os.environ, "ARW_NOW": "tomorrow"}, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 2, result
        assert "ARW_NOW='tomorrow' is not a UTC time; use e.g. ARW_NOW=2027-06-01T00:00:00Z" in result.stderr
        assert "Traceback" not in result.stderr
    runner = CliRunner()
    monkeypatch.setenv("ARW_NOW", "2027-13-01")
    clicked = runner.invoke(cli, ["sessions", "list"])
    assert clicked.exit_code == 2 and "ARW_NOW='2027-13-01' is not a UTC time" in clicked.output


QUICK = FetchSettings(deadline=5.0, min_rate=500, rate_window=0.5)  # what config.yaml can set; defaults: Limits


def test_a_stalled_index_refresh_falls_back_to_the_cached_index_with_a_note(served):
    repo, www, key, server, url = served
    registry = registry_for(url, key)
    load_index(registry, now=FIXTURE_NOW)
    server.trickle["/registry.json"] = (1, 0.05)  # 20 bytes/s: a slow-loris server
    started = time.monotonic()
    fallback = load_index(registry, now=FIXTURE_NOW, refresh=True, fetcher=HttpFetcher(QUICK))
    assert time.monotonic() - started < 4
    assert fallback.source == "fallback" and fallback.trusted.serial == 5
    assert "stalled" in fallback.notice and "below the minimum of 500 bytes/s" in fallback.notice
    assert "using cached index from" in fallback.notice
    nothing_cached = Registry("other", url, registry.trust)
    started = time.monotonic()
    with pytest.raises(RegistryError, match="registry other: cannot fetch the index: .* stalled"):
        load_index(nothing_cached, now=FIXTURE_NOW, fetcher=HttpFetcher(QUICK))
    assert time.monotonic() - started < 4
    server.trickle.clear()
    assert load_index(registry, now=FIXTURE_NOW, refresh=True, fetcher=HttpFetcher(QUICK)).source == "not-modified"


def test_plain_http_registries_warned_about_and_refused_with_require_https(served, fixture_time, arw_home):
    repo, www, key, server, url = served
    runner = CliRunner()
    trust = ["--trust-key", f"{key}.pub"]
    assert runner.invoke(cli, ["config", "registries", "remove", "public"]).exit_code == 0
    local = runner.invoke(cli, ["config", "registries", "add", "lab", url, *trust])  # http://127.0.0.1: no warning
    assert local.exit_code == 0 and "warning" not in local.output
    far = runner.invoke(cli, ["config", "registries", "add", "far", "http://registry.example.org/reg", *trust])
    assert far.exit_code == 0, far.output  # nothing is fetched when a registry is added
    assert "warning: registry far uses plain HTTP (http://registry.example.org/reg/): signatures still protect what " \
           "is installed, but not privacy" in far.stderr
    assert "freshness" in far.stderr and "require_https: true" in far.stderr
    secure = runner.invoke(cli, ["config", "registries", "add", "secure", "https://registry.example.org/reg", *trust])
    assert secure.exit_code == 0 and "warning" not in secure.output
    config = arw_home / "config.yaml"
    config.write_text(config.read_text() + "require_https: true\n")
    for command in (["config", "browse"], ["config", "registries", "list"], ["config", "install", "genomics"]):
        refused = runner.invoke(cli, command)
        assert refused.exit_code == 1 and "Traceback" not in refused.output, refused.output
        assert "registry far is served over plain HTTP (http://registry.example.org/reg/) and require_https is set" \
               in refused.output
        assert "config registries remove far" in refused.output
    assert runner.invoke(cli, ["config", "registries", "remove", "far"]).exit_code == 0  # the way out works
    again = runner.invoke(cli, ["config", "registries", "add", "far2", "http://other.example.org/", *trust])
    assert again.exit_code == 1 and "refusing to add registry far2" in again.output and "require_https" in again.output
    assert runner.invoke(cli, ["config", "registries", "remove", "secure"]).exit_code == 0
    assert "require_https: true" in config.read_text()  # kept by the rewrite
    browse = runner.invoke(cli, ["config", "browse", "--json"])  # loopback http stays allowed
    assert browse.exit_code == 0, browse.output


def test_the_download_limits_in_config_apply_to_index_refreshes(served, fixture_time, arw_home):
    repo, www, key, server, url = served
    runner = CliRunner()
    runner.invoke(cli, ["config", "registries", "remove", "public"])
    assert runner.invoke(cli, ["config", "registries", "add", "lab", url, "--trust-key", f"{key}.pub"]).exit_code == 0
    assert runner.invoke(cli, ["config", "browse"]).exit_code == 0  # cached
    config = arw_home / "config.yaml"
    config.write_text(config.read_text() + "download_deadline_seconds: 3\ndownload_min_bytes_per_second: 500\n"
                                           "download_rate_window_seconds: 0.5\n")
    server.trickle["/registry.json"] = (1, 0.05)
    started = time.monotonic()
    result = runner.invoke(cli, ["config", "browse", "--refresh"])
    assert time.monotonic() - started < 4
    assert result.exit_code == 0, result.output
    assert "note: registry lab: http://127.0.0.1:" in result.stderr and "stalled" in result.stderr
    assert "using cached index from" in result.stderr and "genomics" in result.stdout


class RecordingFetcher:
    """A second ``Fetcher`` (``fetch.interface``): records each URL it is asked for and hands the work to
    an ``HttpFetcher``."""

    def __init__(self):
        self.urls: list[str] = []
        self._http = HttpFetcher()

    def get(self, url, max_bytes, *, etag=None, last_modified=None):
        self.urls.append(url)
        return self._http.get(url, max_bytes, etag=etag, last_modified=last_modified)

    def download(self, url, dest, max_bytes):
        self.urls.append(url)
        return self._http.download(url, dest, max_bytes)


def served_urls(server, url, since=0) -> list[str]:
    """The URLs of the requests *server* answered, from the *since*-th on."""
    return [url.rstrip("/") + path for _, path, _ in server.requests[since:]]


def test_load_registries_fetches_through_the_fetcher_it_is_handed(served, fixture_time, arw_home):
    from registry_tools.client.index_store import load_registries

    repo, www, key, server, url = served
    runner = CliRunner()
    runner.invoke(cli, ["config", "registries", "remove", "public"])
    assert runner.invoke(cli, ["config", "registries", "add", "lab", url, "--trust-key", f"{key}.pub"]).exit_code == 0
    before = len(server.requests)
    recorder = RecordingFetcher()
    catalog, loaded = load_registries(None, now=FIXTURE_NOW, fetcher=recorder)
    assert catalog.get("genomics") is not None and loaded[0].source == "network"
    assert recorder.urls == [url + "registry.json", url + "registry.json.sig"]
    assert recorder.urls == served_urls(server, url, before)  # every request the server saw was the recorder's
    assert loaded[0].fetcher is recorder  # kept for the archives of this index
