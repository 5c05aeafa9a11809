"""A test double of the GitHub Releases REST API: real HTTP servers on 127.0.0.1.

Two servers run in threads, each on its own port:

* the "api" server answers the endpoints the publisher uses (release by tag,
  create release, list release assets, get an asset) and the upload endpoint
  named by each release's ``upload_url`` (``/uploads/repos/...`` on the same
  server, unless ``upload_origin`` says otherwise);
* the "objects" server stands in for objects.githubusercontent.com: getting an
  asset with ``Accept: application/octet-stream`` answers a 302 to a one-off
  URL there. Like the real storage behind it, it refuses requests that carry
  an Authorization header.

State lives in memory. Every request is recorded (server, method, path with
query, headers with lower-case names) so tests can assert what went where.
``fail_next`` injects error answers (e.g. 503) before the normal handling.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

DOCS = "https://docs.github.com/rest"


@dataclass(frozen=True)
class Recorded:
    server: str  # "api" or "objects"
    method: str
    path: str  # path and query
    headers: dict[str, str]  # lower-case names
    body: bytes = b""


@dataclass
class _Failure:
    status: int
    method: str | None
    path_prefix: str | None
    times: int
    message: str
    after_handling: bool


@dataclass
class StoredAsset:
    id: int
    release_id: int
    name: str
    content_type: str
    data: bytes
    label: str = ""
    state: str = "uploaded"
    blob_key: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    server_version = "GitHubApiDouble/1"
    role = "api"

    def log_message(self, format, *args):  # noqa: A002 - silence the default stderr log
        pass

    @property
    def double(self) -> GitHubApiDouble:
        return self.server.double  # type: ignore[attr-defined]

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self, method: str) -> None:
        body = self._body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.double._record(Recorded(self.role, method, self.path, headers, body))
        status, out_headers, payload = self.double._dispatch(self.role, method, self.path, headers, body)
        self.send_response(status)
        for name, value in out_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(payload)

    def do_GET(self):  # noqa: N802
        self._handle("GET")

    def do_POST(self):  # noqa: N802
        self._handle("POST")

    def do_PATCH(self):  # noqa: N802
        self._handle("PATCH")

    def do_PUT(self):  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self):  # noqa: N802
        self._handle("DELETE")


class _ObjectsHandler(_Handler):
    role = "objects"


def _server(handler: type[BaseHTTPRequestHandler], double: GitHubApiDouble) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.double = double  # type: ignore[attr-defined]
    return server


def _json(status: int, value, headers: dict[str, str] | None = None):
    return status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, json.dumps(value).encode()


def _error(status: int, message: str, errors: list[dict] | None = None):
    body = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors:
        body["errors"] = errors
    return _json(status, body)


class GitHubApiDouble:
    """Releases of one repository, served over HTTP. Use as a context manager."""

    def __init__(self, token: str = "ghs_double-token", repo: str = "octo/packs", *, digests: bool = True):
        self.token = token
        self.repo = repo
        self.digests = digests  # whether asset JSON carries "digest" (GitHub has since mid-2025)
        self.upload_origin: str | None = None  # None: the api server itself
        self.requests: list[Recorded] = []
        self.releases: dict[int, dict] = {}
        self.assets: dict[int, StoredAsset] = {}
        self._failures: list[_Failure] = []
        self._ids = iter(range(1000, 10**9))
        self._lock = threading.RLock()
        self._api = _server(_Handler, self)
        self._objects = _server(_ObjectsHandler, self)
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> GitHubApiDouble:
        for server in (self._api, self._objects):
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def close(self) -> None:
        for server in (self._api, self._objects):
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> GitHubApiDouble:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._api.server_address[1]}"

    @property
    def objects_url(self) -> str:
        return f"http://127.0.0.1:{self._objects.server_address[1]}"

    # -- test controls and views ------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        method: str | None = None,
        path_prefix: str | None = None,
        times: int = 1,
        message: str = "Service Unavailable",
        after_handling: bool = False,
    ) -> None:
        """Answer the next *times* matching api requests with *status* instead of handling them
        (or, with *after_handling*, after handling them: the change is made, the answer lost)."""
        with self._lock:
            self._failures.append(_Failure(status, method, path_prefix, times, message, after_handling))

    def requests_to(self, server: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.server == server]

    def release(self, tag: str) -> dict | None:
        with self._lock:
            return next((r for r in self.releases.values() if r["tag_name"] == tag), None)

    def assets_of(self, tag: str) -> dict[str, StoredAsset]:
        release = self.release(tag)
        if release is None:
            return {}
        with self._lock:
            return {a.name: a for a in self.assets.values() if a.release_id == release["id"]}

    def add_asset(self, tag: str, name: str, data: bytes, content_type: str = "application/octet-stream", **kw):
        """Seed an asset directly (as if uploaded earlier); creates the release if needed."""
        with self._lock:
            release = self.release(tag) or self._new_release({"tag_name": tag, "name": tag})
            asset = StoredAsset(next(self._ids), release["id"], name, content_type, data, **kw)
            self.assets[asset.id] = asset
            return asset

    # -- request handling ---------------------------------------------------------------------------

    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)

    def _dispatch(self, role: str, method: str, raw_path: str, headers: dict[str, str], body: bytes):
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        if role == "objects":
            return self._serve_blob(method, path, headers)
        with self._lock:
            failure = next(
                (
                    f
                    for f in self._failures
                    if f.method in (None, method) and (f.path_prefix is None or path.startswith(f.path_prefix))
                ),
                None,
            )
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                if not failure.after_handling:
                    return _error(failure.status, failure.message)
            answer = self._route(method, path, query, headers, body)
            return _error(failure.status, failure.message) if failure is not None else answer

    def _route(self, method: str, path: str, query: dict, headers: dict[str, str], body: bytes):
        auth = headers.get("authorization")
        if auth is None:
            return _error(401, "Requires authentication")
        if auth != f"Bearer {self.token}":
            return _error(401, "Bad credentials")
        prefix = f"/repos/{self.repo}"
        upload_prefix = f"/uploads/repos/{self.repo}"
        with self._lock:
            if method == "GET" and (m := re.fullmatch(prefix + r"/releases/tags/([^/]+)", path)):
                release = self.release(unquote(m[1]))
                return _json(200, self._release_json(release)) if release else _error(404, "Not Found")
            if method == "POST" and path == prefix + "/releases":
                return self._create_release(body)
            if method == "GET" and (m := re.fullmatch(prefix + r"/releases/(\d+)/assets", path)):
                return self._list_assets(int(m[1]), query)
            if method == "GET" and (m := re.fullmatch(prefix + r"/releases/assets/(\d+)", path)):
                return self._get_asset(int(m[1]), headers)
            if method == "POST" and (m := re.fullmatch(upload_prefix + r"/releases/(\d+)/assets", path)):
                return self._upload(int(m[1]), query, headers, body)
        return _error(404, "Not Found")

    def _new_release(self, payload: dict) -> dict:
        release_id = next(self._ids)
        release = {
            "id": release_id,
            "tag_name": payload["tag_name"],
            "name": payload.get("name") or payload["tag_name"],
            "body": payload.get("body") or "",
            "draft": bool(payload.get("draft", False)),
            "prerelease": bool(payload.get("prerelease", False)),
            "make_latest": payload.get("make_latest", "true"),
        }
        self.releases[release_id] = release
        return release

    def _release_json(self, release: dict) -> dict:
        origin = self.upload_origin or self.api_url
        rid = release["id"]
        return {
            **{k: v for k, v in release.items() if k != "make_latest"},
            "url": f"{self.api_url}/repos/{self.repo}/releases/{rid}",
            "assets_url": f"{self.api_url}/repos/{self.repo}/releases/{rid}/assets",
            "upload_url": f"{origin}/uploads/repos/{self.repo}/releases/{rid}/assets{{?name,label}}",
            "html_url": f"https://github.com/{self.repo}/releases/tag/{release['tag_name']}",
            "assets": [self._asset_json(a) for a in self.assets.values() if a.release_id == rid],
        }

    def _asset_json(self, asset: StoredAsset) -> dict:
        value = {
            "id": asset.id,
            "name": asset.name,
            "label": asset.label,
            "state": asset.state,
            "content_type": asset.content_type,
            "size": len(asset.data),
            "url": f"{self.api_url}/repos/{self.repo}/releases/assets/{asset.id}",
            "browser_download_url": f"https://github.com/{self.repo}/releases/download/x/{asset.name}",
        }
        if self.digests:
            value["digest"] = f"sha256:{asset.sha256}"
        return value

    def _create_release(self, body: bytes):
        try:
            payload = json.loads(body)
        except ValueError:
            return _error(400, "Problems parsing JSON")
        if not isinstance(payload, dict) or not payload.get("tag_name"):
            return _error(
                422, "Validation Failed", [{"resource": "Release", "code": "missing_field", "field": "tag_name"}]
            )
        if self.release(payload["tag_name"]):
            return _error(
                422, "Validation Failed", [{"resource": "Release", "code": "already_exists", "field": "tag_name"}]
            )
        return _json(201, self._release_json(self._new_release(payload)))

    def _list_assets(self, release_id: int, query: dict):
        if release_id not in self.releases:
            return _error(404, "Not Found")
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        assets = [self._asset_json(a) for a in self.assets.values() if a.release_id == release_id]
        return _json(200, assets[(page - 1) * per_page : page * per_page])

    def _get_asset(self, asset_id: int, headers: dict[str, str]):
        asset = self.assets.get(asset_id)
        if asset is None:
            return _error(404, "Not Found")
        if headers.get("accept") == "application/octet-stream":
            location = f"{self.objects_url}/blob/{asset.blob_key}?sig={secrets.token_hex(8)}"
            return 302, {"Location": location}, b""
        return _json(200, self._asset_json(asset))

    def _upload(self, release_id: int, query: dict, headers: dict[str, str], body: bytes):
        if release_id not in self.releases:
            return _error(404, "Not Found")
        name = query.get("name", [""])[0]
        if not name:
            return _error(422, "Validation Failed", [{"resource": "ReleaseAsset", "code": "missing", "field": "name"}])
        if not headers.get("content-type"):
            return _error(
                422, "Validation Failed", [{"resource": "ReleaseAsset", "code": "missing", "field": "content_type"}]
            )
        if any(a.name == name and a.release_id == release_id for a in self.assets.values()):
            return _error(
                422, "Validation Failed", [{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}]
            )
        asset = StoredAsset(
            next(self._ids), release_id, name, headers["content-type"], body, query.get("label", [""])[0]
        )
        self.assets[asset.id] = asset
        return _json(201, self._asset_json(asset))

    def _serve_blob(self, method: str, path: str, headers: dict[str, str]):
        if "authorization" in headers:
            # What the storage behind objects.githubusercontent.com does with a second credential.
            return 400, {"Content-Type": "text/plain"}, b"Only one auth mechanism allowed"
        m = re.fullmatch(r"/blob/([A-Za-z0-9_-]+)", path)
        with self._lock:
            asset = next((a for a in self.assets.values() if m and a.blob_key == m[1]), None)
        if method != "GET" or asset is None:
            return 404, {"Content-Type": "text/plain"}, b"BlobNotFound"
        return 200, {"Content-Type": "application/octet-stream"}, asset.data
