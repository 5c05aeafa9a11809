"""Downloads through httpx from a loopback HTTP server: caps while downloading, retries, remote verify;
deadlines and the minimum rate against slow servers; regular local files only; where an index may point."""

from __future__ import annotations

import http.server
import threading
import time

import pytest
from click.testing import CliRunner

from registry_tools.cli.main import cli
from registry_tools.fetch.http import FetchError, FetchSettings, HttpFetcher, TooSlow
from registry_tools.fetch.retry import RetryPolicy

from .test_build import build, small_repo  # noqa: F401  (fixture)


def test_download_and_cap(tmp_path, serve_directory):
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "small.bin").write_bytes(b"x" * 1000)
    (tmp_path / "www" / "big.bin").write_bytes(b"y" * 200_000)
    base = serve_directory(tmp_path / "www")
    fetcher = HttpFetcher()
    assert fetcher.download(base + "small.bin", tmp_path / "out" / "small.bin", 1000).read_bytes() == b"x" * 1000
    with pytest.raises(FetchError, match="limit"):
        fetcher.download(base + "big.bin", tmp_path / "out" / "big.bin", 100_000)
    assert not (tmp_path / "out" / "big.bin").exists()
    assert not list((tmp_path / "out").glob("*.part"))
    with pytest.raises(FetchError, match="HTTP 404"):
        fetcher.download(base + "missing.bin", tmp_path / "out" / "missing.bin", 1000)


class _Streaming(http.server.BaseHTTPRequestHandler):
    """Sends no Content-Length and an endless body: the cap must stop it while downloading."""

    calls = 0

    def do_GET(self):
        type(self).calls += 1
        if self.path == "/flaky" and type(self).calls == 1:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.end_headers()
        try:
            for _ in range(10_000 if self.path == "/endless" else 1):
                self.wfile.write(b"z" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def streaming_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Streaming)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_cap_is_enforced_while_streaming(tmp_path, streaming_server):
    with pytest.raises(FetchError, match="stopped while downloading"):
        HttpFetcher().download(streaming_server + "/endless", tmp_path / "endless", 1_000_000)


def test_retry_on_503(tmp_path, streaming_server):
    _Streaming.calls = 0
    path = HttpFetcher(FetchSettings(retry=RetryPolicy(first_delay=0.01))).download(streaming_server + "/flaky", tmp_path / "flaky", 100_000)
    assert path.stat().st_size == 65536 and _Streaming.calls == 2


def test_verify_a_registry_served_over_http(small_repo, tmp_path, serve_directory):  # noqa: F811
    runner = CliRunner()
    key = tmp_path / "k.pem"
    runner.invoke(cli, ["registry", "keygen", str(key)])
    assert build(small_repo, tmp_path / "dist", "--sign-key", str(key)).exit_code == 0
    url = serve_directory(tmp_path / "dist")
    ok = runner.invoke(cli, ["registry", "verify", url, "--trust-key", f"{key}.pub"])
    assert ok.exit_code == 0, ok.output
    (tmp_path / "dist" / "packs" / "genomics-1.0.0.tar.gz.sig").write_text("AAAA\n")
    bad = runner.invoke(cli, ["registry", "verify", url, "--trust-key", f"{key}.pub"])
    assert bad.exit_code == 1 and "genomics-1.0.0.tar.gz" in bad.output
    down = runner.invoke(cli, ["registry", "verify", "http://127.0.0.1:9/", "--trust-key", f"{key}.pub"])
    assert down.exit_code == 1 and "could not download the registry" in down.output


# --- deadlines and minimum rate ---------------------------------------------------------------------
# Small limits (FetchSettings, as config.yaml sets them) keep these fast: a real stall takes the
# defaults' 20-second window, a never-ending body their 120-second deadline.

QUICK = FetchSettings(deadline=2.0, min_rate=200, rate_window=0.5, retry=RetryPolicy(first_delay=0.05))


class _Slow(http.server.BaseHTTPRequestHandler):
    """/trickle: a body of 100 KB at 20 bytes/s; /steady: an endless body at ~2.4 KB/s (above the
    minimum rate, never done); /headers: the status line and headers a byte at a time; /silent:
    headers, then nothing; /busy: 503 for ever (retried until the deadline)."""

    def do_GET(self):
        try:
            if self.path == "/headers":
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                    self.wfile.write(bytes([byte]))
                    time.sleep(0.05)
            self.send_response(503 if self.path == "/busy" else 200)
            self.send_header("Content-Length", "0" if self.path == "/busy" else "100000")
            self.end_headers()
            if self.path == "/trickle":
                for _ in range(100_000):
                    self.wfile.write(b"t")
                    time.sleep(0.05)
            elif self.path == "/steady":
                for _ in range(100_000):
                    self.wfile.write(b"s" * 120)
                    time.sleep(0.05)
            elif self.path == "/silent":
                time.sleep(30)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("path", "reason", "within"), [
    ("/trickle", "stalled: .* below the minimum of 200 bytes/s", 4),  # 20 bytes/s: stalled after one window
    ("/headers", "stalled: 0 bytes", 4),  # headers a byte at a time never reach the body
    ("/silent", "stalled: 0 bytes", 4),
    ("/steady", "no complete answer within the 2-second deadline", 5),  # fast enough, but never done
    ("/busy", "no complete answer within the 2-second deadline", 5),  # retries end at the deadline too
])  # (bounds with room for a busy machine: the point is seconds, not the minutes a trickle takes)
def test_a_slow_server_is_stopped_by_the_deadline_or_the_minimum_rate(tmp_path, slow_server, path, reason, within):
    fetcher = HttpFetcher(FetchSettings(deadline=2.0, min_rate=0 if path == "/busy" else 200, rate_window=0.5,
                                        retry=RetryPolicy(attempts=1000, first_delay=0.05, factor=1.0)))
    started = time.monotonic()
    with pytest.raises(TooSlow, match=reason):
        fetcher.download(slow_server + path, tmp_path / "out" / "file", 1_000_000)
    assert time.monotonic() - started < within
    assert not (tmp_path / "out" / "file").exists() and not list((tmp_path / "out").iterdir())  # no partial file
    with pytest.raises(TooSlow, match=reason):  # get() (the index) is held to the same limits
        fetcher.get(slow_server + path, 1_000_000)


def test_the_default_limits_come_from_limits_and_config_can_change_them(arw_home):
    from registry_tools.client import settings
    from registry_tools.limits import LIMITS

    assert FetchSettings().deadline == LIMITS.download_deadline_seconds == 120
    assert FetchSettings().min_rate == LIMITS.download_min_bytes_per_second == 1024
    assert FetchSettings().rate_window == LIMITS.download_rate_window_seconds == 20
    assert settings.load().fetch_settings() == FetchSettings()
    arw_home.mkdir(parents=True, exist_ok=True)
    (arw_home / "config.yaml").write_text("registries: []\ndownload_deadline_seconds: 7.5\n"
                                          "download_min_bytes_per_second: 10\nrequire_https: true\n")
    loaded = settings.load()
    assert loaded.fetch_settings() == FetchSettings(deadline=7.5, min_rate=10, require_https=True)
    settings.save(loaded)  # kept when the configuration is rewritten (registries add/remove)
    assert settings.load() == loaded
    for bad in ("download_deadline_seconds: 0", "download_rate_window_seconds: -1", "download_min_bytes_per_second: x",
                "require_https: yes please"):
        (arw_home / "config.yaml").write_text(f"registries: []\n{bad}\n")
        with pytest.raises(settings.SettingsError, match=bad.split(":")[0]):
            settings.load()


def test_a_fast_download_is_not_held_up_by_its_watchdog(tmp_path, serve_directory):
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "a.bin").write_bytes(b"a" * 300_000)
    base = serve_directory(tmp_path / "www")
    fetcher = HttpFetcher(QUICK)
    for _ in range(20):  # each with its own watchdog, stopped when it ends
        assert fetcher.get(base + "a.bin", 1_000_000).content == b"a" * 300_000
    time.sleep(0.1)
    assert not [t for t in threading.enumerate() if t.name == "arw-download-watchdog"]


# --- local files: regular files only -----------------------------------------------------------------


def test_only_regular_local_files_are_read(tmp_path):
    import os
    import threading as th

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_bytes(b"data")
    fetcher = HttpFetcher()
    assert fetcher.get(str(tmp_path / "file"), 100).content == b"data"
    assert fetcher.get((tmp_path / "file").as_uri(), 100).content == b"data"
    outcome = {}

    def attempt():
        for target in (str(fifo), fifo.as_uri(), str(tmp_path / "dir"), "/dev/zero"):
            try:
                fetcher.download(target, tmp_path / "out", 100)
            except FetchError as exc:
                outcome[target] = str(exc)

    worker = th.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "reading a FIFO hung"  # opening it for reading would wait for a writer
    assert len(outcome) == 4 and all("is not a regular file; refusing to read it" in m for m in outcome.values())
    assert not (tmp_path / "out").exists()
    with pytest.raises(FetchError, match="unsupported URL scheme 'ftp'"):
        fetcher.get("ftp://127.0.0.1/x", 100)


# --- where an index may point ------------------------------------------------------------------------

REMOTE = "https://registry.example.org/reg/registry.json"
LOCAL = "/srv/reg/registry.json"


@pytest.mark.parametrize(("base", "value", "expected"), [
    (REMOTE, "packs/a-1.0.0.tar.gz", "https://registry.example.org/reg/packs/a-1.0.0.tar.gz"),
    (REMOTE, "/etc/passwd", "https://registry.example.org/etc/passwd"),  # the server's path, not ours
    (REMOTE, "../../../etc/passwd", "https://registry.example.org/etc/passwd"),
    (REMOTE, "https://github.com/o/r/releases/download/a/a.tar.gz", "https://github.com/o/r/releases/download/a/a.tar.gz"),
    (REMOTE, "http://mirror.example.org/a.tar.gz", "http://mirror.example.org/a.tar.gz"),
    (REMOTE, "file:///etc/passwd", "uses the file: scheme"),
    (REMOTE, "FILE:/etc/passwd", "uses the file: scheme"),
    (REMOTE, "ftp://example.org/a", "uses the ftp: scheme"),
    (REMOTE, "data:,hello", "uses the data: scheme"),
    (REMOTE, "https:///no-host", "has no host"),
    (REMOTE, "packs/\x1b]0;x\x07.tar.gz", "control characters"),
    (REMOTE, None, "is not a URL"),
    (REMOTE, 7, "is not a URL"),
    (LOCAL, "packs/a-1.0.0.tar.gz", "/srv/reg/packs/a-1.0.0.tar.gz"),
    ("file:///srv/reg/registry.json", "packs/a-1.0.0.tar.gz", "/srv/reg/packs/a-1.0.0.tar.gz"),
    (LOCAL, "https://registry.example.org/a.tar.gz", "https://registry.example.org/a.tar.gz"),
    (LOCAL, "/etc/passwd", "is an absolute path"),
    (LOCAL, "%2Fetc%2Fpasswd", "is an absolute path"),
    (LOCAL, "//etc/passwd", "is an absolute path"),
    (LOCAL, "file:///srv/reg/packs/a.tar.gz", "uses the file: scheme"),
    (LOCAL, "../secret", "leaves the registry's directory"),
    (LOCAL, "packs/../../secret", "leaves the registry's directory"),
    (LOCAL, "packs/%2e%2e/%2e%2e/secret", "leaves the registry's directory"),
    (LOCAL, "packs\\..\\..\\secret", "backslashes"),
])
def test_release_urls_are_web_urls_or_paths_inside_a_local_registry(base, value, expected):
    from registry_tools.fetch.urls import release_url

    if expected.startswith(("http", "/")):
        assert release_url(base, value) == expected
    else:
        with pytest.raises(FetchError, match=expected):
            release_url(base, value)


def test_plain_http_is_refused_with_require_https_except_on_loopback(tmp_path, serve_directory):
    from registry_tools.fetch.urls import is_loopback_host, plain_http_outside_loopback

    assert [is_loopback_host(h) for h in ("127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost", "LOCALHOST.",
                                          "10.0.0.1", "example.org", "", None)] == [True] * 6 + [False] * 4
    assert plain_http_outside_loopback("http://registry.example.org/")
    assert not plain_http_outside_loopback("http://127.0.0.1:8000/") and not plain_http_outside_loopback("https://x.org/")
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "a").write_bytes(b"a")
    base = serve_directory(tmp_path / "www")
    strict = HttpFetcher(FetchSettings(require_https=True))
    assert strict.get(base + "a", 10).content == b"a"  # loopback: never leaves the machine
    # refused before any connection (tests/conftest.py would also fail a test that tried one)
    with pytest.raises(FetchError, match="plain HTTP to registry.example.org refused: require_https"):
        strict.get("http://registry.example.org/registry.json", 10)


class _Redirect(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(302)
        self.send_header("Location", "http://192.0.2.1/registry.json")  # TEST-NET-1: never reached
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_redirect_to_plain_http_is_refused_with_require_https():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(FetchError, match="plain HTTP to 192.0.2.1 refused"):
            HttpFetcher(FetchSettings(require_https=True)).get(f"http://127.0.0.1:{server.server_address[1]}/", 10)
    finally:
        server.shutdown()
        server.server_close()


# --- the one retry policy -----------------------------------------------------------------------------


class Scripted(http.server.BaseHTTPRequestHandler):
    """Answers each GET with the next status of ``answers`` (200 "ok" once they run out); counts them."""

    answers: list[int] = []
    served = 0

    def do_GET(self):
        cls = type(self)
        cls.served += 1
        status = cls.answers.pop(0) if cls.answers else 200
        body = b"ok" if status == 200 else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted():
    """(url, handler class): a loopback server whose answers a test scripts through ``handler.answers``."""
    handler = type("ScriptedHandler", (Scripted,), {"answers": [], "served": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/file", handler
    server.shutdown()
    server.server_close()


def test_the_default_retry_policy_is_the_one_downloads_always_had():
    from registry_tools.fetch.retry import DEFAULT_RETRY, RETRY_STATUSES

    assert FetchSettings().retry is DEFAULT_RETRY
    assert DEFAULT_RETRY.statuses == RETRY_STATUSES == {502, 503, 504}
    assert DEFAULT_RETRY.attempts == 3  # two retries
    assert [DEFAULT_RETRY.delay(n) for n in (1, 2)] == [0.5, 1.0]
    assert RetryPolicy(first_delay=0.1, factor=3.0).delay(3) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="at least one attempt"):
        RetryPolicy(attempts=0)


@pytest.mark.parametrize(("answers", "outcome", "served", "pauses"), [
    ([503, 502], "ok", 3, [0.25, 0.75]),  # each pause factor times the one before
    ([504, 503, 503], "HTTP 503", 3, [0.25, 0.75]),  # the tries run out: the last answer is reported
    ([404], "HTTP 404", 1, []),  # not a status worth another try
    ([500], "HTTP 500", 1, []),
])
def test_downloads_follow_the_retry_policy_with_an_injected_pause(tmp_path, scripted, answers, outcome, served, pauses):
    url, handler = scripted
    policy = RetryPolicy(attempts=3, first_delay=0.25, factor=3.0)
    for call in ("get", "download"):
        handler.answers, handler.served, slept = list(answers), 0, []
        fetcher = HttpFetcher(FetchSettings(retry=policy), sleep=slept.append)
        if outcome == "ok":
            got = fetcher.get(url, 10).content if call == "get" else fetcher.download(url, tmp_path / "f", 10).read_bytes()
            assert got == b"ok"
        else:
            with pytest.raises(FetchError, match=outcome):
                fetcher.get(url, 10) if call == "get" else fetcher.download(url, tmp_path / "f", 10)
        assert (handler.served, slept) == (served, pauses), call


def test_a_failed_connection_is_retried_under_the_policy(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once the socket is closed
    slept = []
    fetcher = HttpFetcher(FetchSettings(retry=RetryPolicy(attempts=4, first_delay=0.1, factor=2.0)), sleep=slept.append)
    with pytest.raises(FetchError, match="ConnectError"):
        fetcher.get(f"http://127.0.0.1:{port}/x", 10)
    assert slept == [0.1, 0.2, 0.4]


def test_retry_returns_the_answer_discards_the_retried_ones_and_raises_what_is_not_retryable():
    from registry_tools.fetch.retry import retry

    policy = RetryPolicy(attempts=4, first_delay=1.0, factor=2.0)
    answers, discarded, slept, heard = [503, 502, 200], [], [], []
    got = retry(policy, lambda: answers.pop(0), status=lambda a: a, discard=discarded.append, sleep=slept.append,
                on_retry=heard.append)
    assert (got, discarded, slept, heard) == (200, [503, 502], [1.0, 2.0], ["503", "502"])

    errors = [ConnectionError("down"), ConnectionError("down"), "done"]

    def attempt():
        outcome = errors.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    slept.clear()
    assert retry(policy, attempt, retryable=lambda exc: isinstance(exc, ConnectionError), sleep=slept.append) == "done"
    assert slept == [1.0, 2.0]
    with pytest.raises(KeyError):  # not retryable: raised at once
        retry(policy, lambda: {}["x"], retryable=lambda exc: isinstance(exc, ConnectionError), sleep=slept.append)
    assert slept == [1.0, 2.0]
