"""Downloads through httpx from a loopback HTTP server: caps while downloading, retries, remote verify."""

from __future__ import annotations

import http.server
import threading

import pytest
from click.testing import CliRunner

from registry_tools.cli.main import cli
from registry_tools.fetch.http import Fetcher, FetchError, FetchSettings

from .test_build import build, small_repo  # noqa: F401  (fixture)


def test_download_and_cap(tmp_path, serve_directory):
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "small.bin").write_bytes(b"x" * 1000)
    (tmp_path / "www" / "big.bin").write_bytes(b"y" * 200_000)
    base = serve_directory(tmp_path / "www")
    fetcher = Fetcher()
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
        Fetcher().download(streaming_server + "/endless", tmp_path / "endless", 1_000_000)


def test_retry_on_503(tmp_path, streaming_server):
    _Streaming.calls = 0
    path = Fetcher(FetchSettings(backoff=0.01)).download(streaming_server + "/flaky", tmp_path / "flaky", 100_000)
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
