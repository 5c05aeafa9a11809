"""Publishing a dist to GitHub Releases, against a real HTTP double of the GitHub API."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import socket
import tarfile
import threading
from pathlib import Path

import pytest

from registry_tools.fetch.http import FetchError, FetchSettings, HttpFetcher
from registry_tools.fetch.retry import DEFAULT_RETRY, RetryPolicy
from registry_tools.publish.github import (
    GitHubPublisher,
    check_api_url,
    check_upload_url,
    content_type,
)
from registry_tools.publish.interface import Publisher, PublishError
from tests.github_api_double import GitHubApiDouble
from tests.test_fetch import scripted  # noqa: F401  (fixture)

TOKEN = "ghs_SeCrEt-token-0123456789"
REPO = "octo/packs"
GENOMICS_TAG = "genomics-v1.2.0"
MARINE_TAG = "marine_biology-v0.1.0-beta.1"
ALL_ASSETS = [
    f"{GENOMICS_TAG}/genomics-1.2.0.tar.gz",
    f"{GENOMICS_TAG}/genomics-1.2.0.tar.gz.sig",
    f"{MARINE_TAG}/marine_biology-0.1.0-beta.1.tar.gz",
    f"{MARINE_TAG}/marine_biology-0.1.0-beta.1.tar.gz.sigstore.json",
]


def _tar_gz(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def add_pack(dist: Path, name: str, version: str, signature_suffix: str = ".sig") -> Path:
    archive = dist / "packs" / f"{name}-{version}.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(_tar_gz({f"{name}/v{version}/domain.yaml": f"name: {name}\nversion: {version}\n".encode()}))
    signature = archive.with_name(archive.name + signature_suffix)
    if signature_suffix == ".sig":
        signature.write_text("c2lnbmF0dXJlLW92ZXItdGhlLWFyY2hpdmU=\n")
    else:
        signature.write_text(json.dumps({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}))
    return archive


@pytest.fixture
def dist(tmp_path) -> Path:
    root = tmp_path / "dist"
    root.mkdir()
    (root / "registry.json").write_text(json.dumps({"schema": 1, "packs": {"genomics": ["1.2.0"]}}))
    add_pack(root, "genomics", "1.2.0", ".sig")
    add_pack(root, "marine_biology", "0.1.0-beta.1", ".sigstore.json")
    return root


@pytest.fixture
def double():
    with GitHubApiDouble(token=TOKEN, repo=REPO) as server:
        yield server


@pytest.fixture
def double_without_digests():
    with GitHubApiDouble(token=TOKEN, repo=REPO, digests=False) as server:
        yield server


def NO_PAUSE(seconds: float) -> None:  # noqa: N802 - a constant-like function: retries without waiting
    pass


def publisher(server: GitHubApiDouble, token: str = TOKEN) -> GitHubPublisher:
    return GitHubPublisher(REPO, token, api_url=server.api_url, timeout=5.0, sleep=NO_PAUSE)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def writes(requests) -> list:
    return [r for r in requests if r.method != "GET"]


# -- first publish ---------------------------------------------------------------------------------


def test_first_publish_creates_releases_and_assets(dist, double):
    pub: Publisher = publisher(double)  # the protocol is not runtime-checkable; this is for type checkers
    with pub:
        report = pub.publish(dist)

    assert report.target == f"github:{REPO}"
    assert sorted(report.uploaded) == sorted(ALL_ASSETS) and report.skipped == []

    genomics = double.release(GENOMICS_TAG)
    assert genomics["name"] == "genomics 1.2.0" and genomics["draft"] is False
    assert genomics["prerelease"] is False and genomics["make_latest"] == "false"
    assert "genomics" in genomics["body"]
    marine = double.release(MARINE_TAG)
    assert marine["prerelease"] is True and marine["make_latest"] == "false"

    assets = double.assets_of(GENOMICS_TAG) | double.assets_of(MARINE_TAG)
    packs = dist / "packs"
    expected_types = {
        "genomics-1.2.0.tar.gz": "application/gzip",
        "genomics-1.2.0.tar.gz.sig": "text/plain",
        "marine_biology-0.1.0-beta.1.tar.gz": "application/gzip",
        "marine_biology-0.1.0-beta.1.tar.gz.sigstore.json": "application/json",
    }
    assert {name: a.content_type for name, a in assets.items()} == expected_types
    for name, asset in assets.items():
        assert asset.data == (packs / name).read_bytes()
    # The index is not a release asset.
    assert not any(r.path.endswith("registry.json") for r in double.requests)


def test_api_requests_carry_the_github_headers(dist, double):
    publisher(double).publish(dist)
    api = double.requests_to("api")
    assert api
    for request in api:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["user-agent"].startswith("aws-research-wizard")
        if not request.path.startswith("/uploads/"):
            assert request.headers["accept"] == "application/vnd.github+json"
    uploads = [r for r in api if r.method == "POST" and r.path.startswith("/uploads/")]
    assert sorted(r.path.split("?name=")[1] for r in uploads) == sorted(a.split("/")[1] for a in ALL_ASSETS)
    created = [json.loads(r.body) for r in api if r.method == "POST" and r.path == f"/repos/{REPO}/releases"]
    assert {c["tag_name"] for c in created} == {GENOMICS_TAG, MARINE_TAG}


def test_an_existing_release_gets_the_missing_assets(dist, double):
    double.add_asset(GENOMICS_TAG, "genomics-1.2.0.tar.gz", (dist / "packs" / "genomics-1.2.0.tar.gz").read_bytes())
    report = publisher(double).publish(dist)
    assert report.skipped == [f"{GENOMICS_TAG}/genomics-1.2.0.tar.gz"]
    assert sorted(report.uploaded) == sorted(a for a in ALL_ASSETS if a not in report.skipped)
    assert len([r for r in double.requests if r.method == "POST" and r.path.endswith("/releases")]) == 1


# -- idempotent and immutable ----------------------------------------------------------------------------


@pytest.mark.parametrize("server", ["double", "double_without_digests"])
def test_publishing_again_skips_everything(dist, server, request):
    server = request.getfixturevalue(server)
    publisher(server).publish(dist)
    before = len(server.requests)

    again = publisher(server).publish(dist)

    assert again.uploaded == [] and sorted(again.skipped) == sorted(ALL_ASSETS)
    assert writes(server.requests[before:]) == []


def test_without_digests_assets_are_downloaded_and_the_token_stays_home(dist, double_without_digests):
    server = double_without_digests
    publisher(server).publish(dist)
    before = len(server.requests)

    publisher(server).publish(dist)

    second = server.requests[before:]
    asset_gets = [r for r in second if r.server == "api" and "/releases/assets/" in r.path]
    objects = [r for r in second if r.server == "objects"]
    assert len(asset_gets) == len(ALL_ASSETS) == len(objects)
    for r in asset_gets:
        assert r.headers["accept"] == "application/octet-stream"
        assert r.headers["authorization"] == f"Bearer {TOKEN}"
    for r in objects:
        assert "authorization" not in r.headers
        assert "x-github-api-version" not in r.headers
        assert TOKEN not in json.dumps(r.headers) and TOKEN not in r.path
    # Never, in any run.
    assert all("authorization" not in r.headers for r in server.requests_to("objects"))


@pytest.mark.parametrize("server", ["double", "double_without_digests"])
def test_a_changed_archive_is_refused_and_nothing_is_overwritten(dist, server, request):
    server = request.getfixturevalue(server)
    publisher(server).publish(dist)
    archive = dist / "packs" / "genomics-1.2.0.tar.gz"
    published = archive.read_bytes()
    changed = bytearray(published)
    changed[len(changed) // 2] ^= 0xFF
    archive.write_bytes(bytes(changed))
    before = len(server.requests)

    with pytest.raises(PublishError) as caught:
        publisher(server).publish(dist)

    message = str(caught.value)
    assert GENOMICS_TAG in message and "genomics-1.2.0.tar.gz" in message
    assert hashlib.sha256(published).hexdigest() in message and sha256(archive) in message
    assert TOKEN not in message
    assert writes(server.requests[before:]) == []
    assert server.assets_of(GENOMICS_TAG)["genomics-1.2.0.tar.gz"].data == published


def test_a_conflict_stops_the_run_before_any_upload(dist, double):
    publisher(double).publish(dist)
    add_pack(dist, "genomics", "1.3.0")
    (dist / "packs" / "marine_biology-0.1.0-beta.1.tar.gz.sigstore.json").write_text("{}")
    before = len(double.requests)

    with pytest.raises(PublishError, match=r"marine_biology-v0\.1\.0-beta\.1.*sigstore\.json"):
        publisher(double).publish(dist)

    assert writes(double.requests[before:]) == []
    assert double.release("genomics-v1.3.0") is None


def test_an_incomplete_upload_in_the_way_is_reported(dist, double):
    double.add_asset(GENOMICS_TAG, "genomics-1.2.0.tar.gz", b"", state="starter")
    with pytest.raises(PublishError, match="incomplete upload"):
        publisher(double).publish(dist)


# -- credentials and security --------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "   ", None])
def test_a_missing_token_is_a_clear_error(token):
    with pytest.raises(PublishError, match="no GitHub token"):
        GitHubPublisher(REPO, token)


def test_a_token_with_whitespace_is_refused_without_echoing_it():
    with pytest.raises(PublishError) as caught:
        GitHubPublisher(REPO, "ghp_abc\ndef")
    assert "ghp_abc" not in str(caught.value)


def test_bad_credentials_are_a_clear_error(dist, double):
    wrong = "ghp_wrong-token-zzz"
    with pytest.raises(PublishError) as caught:
        publisher(double, token=wrong).publish(dist)
    message = str(caught.value)
    assert "401" in message and "Bad credentials" in message and f"/repos/{REPO}/releases/tags/" in message
    assert "GET" in message and wrong not in message and TOKEN not in message
    assert double.releases == {}


def test_the_token_does_not_appear_in_repr():
    assert TOKEN not in repr(GitHubPublisher(REPO, TOKEN))


def test_an_upload_url_on_another_host_is_refused(dist, double):
    double.upload_origin = double.objects_url
    with pytest.raises(PublishError, match="refusing to send the token"):
        publisher(double).publish(dist)
    assert double.requests_to("objects") == []


@pytest.mark.parametrize(
    ("upload_url", "ok"),
    [
        ("https://uploads.github.com/repos/o/r/releases/1/assets{?name,label}", True),
        ("https://api.github.com/repos/o/r/releases/1/assets{?name,label}", True),
        ("https://uploads.github.com.evil.example/repos/o/r/releases/1/assets", False),
        ("https://evil.example/repos/o/r/releases/1/assets{?name,label}", False),
        ("http://uploads.github.com/repos/o/r/releases/1/assets", False),
        ("https://uploads.github.com:8443/repos/o/r/releases/1/assets", False),
        ("https://user:pw@uploads.github.com/repos/o/r/releases/1/assets", False),
        ("https://objects.githubusercontent.com/x", False),
    ],
)
def test_upload_host_rule_for_github_com(upload_url, ok):
    if ok:
        assert check_upload_url("https://api.github.com", upload_url) == upload_url.split("{")[0]
    else:
        with pytest.raises(PublishError):
            check_upload_url("https://api.github.com", upload_url)


def test_upload_host_rule_for_enterprise_and_loopback():
    ghe = "https://ghe.example.com/api/v3"
    assert check_upload_url(ghe, "https://ghe.example.com/api/uploads/repos/o/r/releases/1/assets{?name,label}")
    assert check_upload_url(ghe, "https://uploads.ghe.example.com/repos/o/r/releases/1/assets")
    assert check_upload_url("http://127.0.0.1:8000", "http://127.0.0.1:8000/uploads/x{?name,label}")
    with pytest.raises(PublishError):
        check_upload_url("http://127.0.0.1:8000", "http://127.0.0.1:8001/uploads/x")


@pytest.mark.parametrize(
    "api_url",
    [
        "http://api.github.com",
        "ftp://api.github.com",
        "https://user:pw@api.github.com",
        "https://api.github.com/?x=1",
        "api.github.com",
        "https://api.github.com:port",
    ],
)
def test_unsafe_api_urls_are_refused(api_url):
    with pytest.raises(PublishError):
        check_api_url(api_url)


@pytest.mark.parametrize("repo", ["packs", "octo/packs/extra", "../x", "octo/..", "octo/pa cks", ""])
def test_bad_repository_names_are_refused(repo):
    with pytest.raises(PublishError, match="OWNER/NAME"):
        GitHubPublisher(repo, TOKEN)


def test_asset_names_github_would_rename_are_refused_before_any_request(dist, double):
    add_pack(dist, "genomics", "1.3.0+build.7")
    with pytest.raises(PublishError, match=r"genomics-1\.3\.0\+build\.7\.tar\.gz"):
        publisher(double).publish(dist)
    assert double.requests == []


def test_content_types():
    assert content_type("packs/a-1.0.0.tar.gz") == "application/gzip"
    assert content_type("packs/a-1.0.0.tar.gz.sig") == "text/plain"
    assert content_type("packs/a-1.0.0.tar.gz.sigstore.json") == "application/json"


def test_a_dist_without_an_index_is_a_publish_error(tmp_path, double):
    with pytest.raises(PublishError, match="registry.json"):
        publisher(double).publish(tmp_path)


# -- failures and retries ----------------------------------------------------------------------------------


def test_503_then_success_is_retried(dist, double):
    double.fail_next(503, method="GET", path_prefix=f"/repos/{REPO}/releases/tags/", times=2)
    double.fail_next(502, method="POST", path_prefix="/uploads/")

    report = publisher(double).publish(dist)

    assert sorted(report.uploaded) == sorted(ALL_ASSETS)
    tag_gets = [r for r in double.requests if r.path == f"/repos/{REPO}/releases/tags/{GENOMICS_TAG}"]
    assert len(tag_gets) == 3
    assert len([r for r in double.requests if r.method == "POST" and r.path.startswith("/uploads/")]) == 5


def test_retries_are_bounded(dist, double):
    double.fail_next(504, method="GET", times=10)
    with pytest.raises(PublishError, match=r"GET /repos/octo/packs/releases/tags/genomics-v1\.2\.0: 504"):
        publisher(double).publish(dist)
    assert len(double.requests) == 3


def test_other_errors_are_not_retried(dist, double):
    double.fail_next(500, method="POST", path_prefix=f"/repos/{REPO}/releases", message="Server Error", times=10)
    with pytest.raises(PublishError, match=r"POST /repos/octo/packs/releases: 500 Server Error"):
        publisher(double).publish(dist)
    assert len([r for r in double.requests if r.method == "POST"]) == 1


def test_a_retried_upload_that_had_succeeded_is_not_an_error(dist, double):
    # The first upload is stored but its answer lost (502); the retry meets 422 already_exists.
    double.fail_next(502, method="POST", path_prefix="/uploads/", after_handling=True)
    report = publisher(double).publish(dist)
    assert sorted(report.uploaded + report.skipped) == sorted(ALL_ASSETS)
    assert len(double.assets_of(GENOMICS_TAG)) == 2


def test_a_retried_release_creation_that_had_succeeded_is_not_an_error(dist, double):
    double.fail_next(503, method="POST", path_prefix=f"/repos/{REPO}/releases", after_handling=True)
    report = publisher(double).publish(dist)
    assert sorted(report.uploaded) == sorted(ALL_ASSETS)
    assert len(double.releases) == 2


def test_network_errors_are_publish_errors(dist):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pub = GitHubPublisher(REPO, TOKEN, api_url=f"http://127.0.0.1:{port}", timeout=2.0, sleep=NO_PAUSE)
    with pytest.raises(PublishError) as caught:
        pub.publish(dist)
    message = str(caught.value)
    assert "network error" in message and "GET /repos/octo/packs/releases/tags/" in message
    assert TOKEN not in message


# -- one retry policy, shared with downloads -----------------------------------------------------------------


def test_one_retry_policy_object_drives_downloads_and_the_publisher(dist, double, scripted):  # noqa: F811
    url, handler = scripted
    shared = RetryPolicy(attempts=3, first_delay=0.25, factor=3.0)
    fetch_pauses: list[float] = []
    publish_pauses: list[float] = []
    fetcher = HttpFetcher(FetchSettings(retry=shared), sleep=fetch_pauses.append)
    pub = GitHubPublisher(REPO, TOKEN, api_url=double.api_url, timeout=5.0, retry=shared, sleep=publish_pauses.append)
    tag_path = f"/repos/{REPO}/releases/tags/{GENOMICS_TAG}"

    # 404: neither tries again
    handler.answers = [404]
    with pytest.raises(FetchError, match="HTTP 404"):
        fetcher.get(url, 10)
    assert handler.served == 1 and fetch_pauses == []
    double.fail_next(404, method="POST", path_prefix=f"/repos/{REPO}/releases")
    with pytest.raises(PublishError, match="POST /repos/octo/packs/releases: 404"):
        pub.publish(dist)
    assert len([r for r in double.requests if r.method == "POST"]) == 1 and publish_pauses == []

    # 503 then 200: both try again, after the policy's first pause
    double.requests.clear()
    handler.answers, handler.served = [503], 0
    assert fetcher.get(url, 10).content == b"ok" and handler.served == 2 and fetch_pauses == [0.25]
    double.fail_next(503, method="GET", path_prefix=tag_path)
    assert sorted(pub.publish(dist).uploaded) == sorted(ALL_ASSETS)
    assert len([r for r in double.requests if r.path == tag_path]) == 2 and publish_pauses == [0.25]

    # 503 for ever: both stop after the policy's attempts, pausing as it says
    handler.answers, handler.served = [503] * 10, 0
    with pytest.raises(FetchError, match="HTTP 503"):
        fetcher.get(url, 10)
    assert handler.served == 3 and fetch_pauses == [0.25, 0.25, 0.75]
    double.requests.clear()
    double.fail_next(503, method="GET", times=10)
    with pytest.raises(PublishError, match="503"):
        pub.publish(dist)
    assert len(double.requests) == 3 and publish_pauses == [0.25, 0.25, 0.75]


def test_the_publisher_uses_the_download_policy_by_default():
    pub = GitHubPublisher(REPO, TOKEN, api_url="http://127.0.0.1:9")
    assert pub._retry is DEFAULT_RETRY is FetchSettings().retry


class _HangUp(http.server.BaseHTTPRequestHandler):
    """A GitHub API that breaks its answers: it hangs up on every GET (``hang_up_gets``), or answers
    GET with 404 (no release yet) and hangs up on the POST that creates the release, after reading it."""

    hang_up_gets = True
    seen: list[str] = []

    def do_GET(self):
        type(self).seen.append("GET")
        if type(self).hang_up_gets:
            return
        body = b'{"message": "Not Found"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        type(self).seen.append("POST")
        self.rfile.read(int(self.headers.get("Content-Length") or 0))  # the request went out in full

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("hang_up_gets", "seen", "pauses"), [
    (True, ["GET"] * 3, [0.5, 1.0]),  # a GET can be sent again
    (False, ["GET", "GET", "POST"], []),  # (a GET per pack) a POST that was sent may have created the release: never sent twice
])
def test_a_broken_answer_is_retried_only_for_a_get(dist, hang_up_gets, seen, pauses):
    handler = type("HangUp", (_HangUp,), {"hang_up_gets": hang_up_gets, "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    slept: list[float] = []
    try:
        pub = GitHubPublisher(REPO, TOKEN, api_url=f"http://127.0.0.1:{server.server_address[1]}", timeout=5.0,
                              sleep=slept.append)
        with pytest.raises(PublishError, match="network error: RemoteProtocolError"):
            pub.publish(dist)
    finally:
        server.shutdown()
        server.server_close()
    assert handler.seen == seen and slept == pauses
