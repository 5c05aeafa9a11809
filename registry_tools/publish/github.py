"""Publish a dist to GitHub Releases: one release per pack version.

Each pack version ``<name>-<version>`` gets the release tagged
``release_tag(name, version)`` (``<name>-v<version>``); its assets are the
archive and its detached signatures. Publishing is two-phase: first every
release and asset is read and compared (no writes), and any existing asset
whose content differs from the local file stops the run with a
``PublishError`` before anything is created or uploaded; then missing
releases are created and missing assets uploaded. Nothing is ever deleted
or overwritten; identical assets are skipped.

Security: the token is attached per request, only to the configured API
origin and to the upload origin the API names (which must be the API host
itself or ``uploads.<host>``, e.g. uploads.github.com for api.github.com).
Redirects are followed by hand and lose the token as soon as they leave the
origin that received it (asset downloads go to objects.githubusercontent.com).
The token is never logged and never appears in an error message.

Retries follow the tool's one policy (``fetch.retry``, the one downloads use; injectable with
the pause between tries): a 502/503/504 answer or a failed connection is tried again for any
call; a read timeout or broken answer only for a GET, since a release creation or upload whose
request went out may have taken effect (after a retried 5xx GitHub's 422 ``already_exists`` is
checked against the local file instead).

httpx is imported here, not at module import time (the CLI must start fast).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin, urlsplit

from registry_tools.dist.directory import Artifact, read_dist
from registry_tools.dist.layout import KEY_SIGNATURE_SUFFIX, SIGSTORE_SUFFIX, release_tag
from registry_tools.fetch.retry import DEFAULT_RETRY, RetryPolicy, retry, transport_error_retryable
from registry_tools.packs.semver import Version, VersionError
from registry_tools.publish.interface import PublishError, PublishReport

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
USER_AGENT = "aws-research-wizard-publisher"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD"})  # safe to send again after a read timeout or broken answer
MAX_REDIRECTS = 5
ASSETS_PER_PAGE = 100
MAX_ASSET_PAGES = 20  # GitHub allows 1000 assets per release
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no whitespace (a header value)
# Names GitHub keeps as they are; it renames anything else (e.g. "+" or a leading dot).
_SAFE_ASSET_NAME = re.compile(r"^[A-Za-z0-9_-](?:[A-Za-z0-9._-]*[A-Za-z0-9_-])?$")
_SHA256_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")


# -- pure helpers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        try:
            port = parts.port or {"https": 443, "http": 80}.get(scheme, 0)
        except ValueError:
            raise PublishError(f"invalid port in URL {url!r}") from None
        return cls(scheme, (parts.hostname or "").lower(), port)

    @property
    def is_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS

    def __str__(self) -> str:
        default = {"https": 443, "http": 80}.get(self.scheme)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")


def content_type(path: Path | str) -> str:
    """The Content-Type an asset is uploaded with."""
    name = Path(path).name
    if name.endswith(SIGSTORE_SUFFIX):
        return "application/json"
    if name.endswith(KEY_SIGNATURE_SUFFIX):
        return "text/plain"
    if name.endswith(".tar.gz"):
        return "application/gzip"
    return "application/octet-stream"


def is_prerelease(version: str) -> bool:
    return Version.parse(version).is_prerelease


def check_api_url(api_url: str) -> str:
    """The API base URL without a trailing slash. HTTPS, or plain HTTP to a loopback host (tests)."""
    parts = urlsplit(api_url)
    origin = Origin.of(api_url)
    if not origin.host or origin.scheme not in ("https", "http"):
        raise PublishError(f"GitHub API URL must be an http(s) URL with a host, got {api_url!r}")
    if origin.scheme == "http" and not origin.is_loopback:
        raise PublishError(f"GitHub API URL must use https (plain http only to a loopback host), got {api_url!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise PublishError("GitHub API URL must not carry credentials, a query or a fragment")
    return api_url.rstrip("/")


def allowed_upload_hosts(api_host: str) -> frozenset[str]:
    """Hosts an upload URL may name: the API host itself, or ``uploads.<domain>`` where
    domain is the API host without a leading ``api.`` (api.github.com -> uploads.github.com)."""
    api_host = api_host.lower()
    domain = api_host.removeprefix("api.")
    return frozenset({api_host, f"uploads.{domain}"})


def check_upload_url(api_url: str, upload_url: str) -> str:
    """The upload endpoint from a release's ``upload_url`` (RFC 6570 template stripped),
    after checking it points where the token may go; raises PublishError otherwise."""
    base = upload_url.split("{", 1)[0]
    api, up = Origin.of(api_url), Origin.of(base)
    parts = urlsplit(base)
    same_origin = up == api
    uploads_host = (
        up.host != api.host and up.host in allowed_upload_hosts(api.host) and up.scheme == "https" and up.port == 443
    )
    if parts.username or parts.password or parts.query or not (same_origin or uploads_host):
        raise PublishError(
            f"GitHub named an upload URL on {up} for a release; refusing to send the token there "
            f"(allowed: {api} or https://uploads.{api.host.removeprefix('api.')})"
        )
    return base


def release_body(name: str, version: str) -> str:
    return (
        f"Domain pack `{name}` version {version}, published by aws-research-wizard.\n\n"
        "Assets: the pack archive and its detached signature(s). Install it through a registry "
        "index; clients verify the signature before using the archive."
    )


@dataclass(frozen=True)
class LocalFile:
    path: Path
    size: int
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name

    @classmethod
    def read(cls, path: Path) -> LocalFile:
        digest, size = hashlib.sha256(), 0
        try:
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
                    size += len(chunk)
        except OSError as exc:
            raise PublishError(f"cannot read {path}: {exc.strerror or exc}") from None
        return cls(path, size, digest.hexdigest())


@dataclass
class _Plan:
    artifact: Artifact
    tag: str
    release: dict | None
    existing: dict[str, dict]  # asset name -> GitHub asset
    uploads: list[LocalFile]
    skips: list[LocalFile]


# -- the publisher --------------------------------------------------------------------------------


class GitHubPublisher:
    """Publish a dist's pack archives and signatures as GitHub Release assets of *repo* ("owner/name").

    *token* needs ``contents: write`` on the repository. *api_url* may be a GitHub
    Enterprise base such as ``https://ghe.example.com/api/v3``. Failed calls are tried again
    under *retry* (the policy downloads use, by default), pausing with *sleep*.
    """

    def __init__(
        self,
        repo: str,
        token: str,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 30.0,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not isinstance(repo, str) or not _REPO_RE.match(repo) or any(p in (".", "..") for p in repo.split("/")):
            raise PublishError(f"GitHub repository must look like OWNER/NAME, got {repo!r}")
        if not token or not isinstance(token, str) or not token.strip():
            raise PublishError("no GitHub token: set GITHUB_TOKEN (it needs contents: write on the repository)")
        if not _TOKEN_RE.match(token):
            raise PublishError("the GitHub token contains whitespace or non-ASCII characters; check how it was set")
        import httpx

        self.repo = repo
        self.api_url = check_api_url(api_url)
        self._api_origin = Origin.of(self.api_url)
        self._token = token
        self._retry = retry
        self._sleep = sleep
        self._httpx = httpx
        # No Authorization among the client's default headers: it is added per request, only
        # for trusted origins, so a redirect or a foreign URL can never inherit it.
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    def __repr__(self) -> str:
        return f"GitHubPublisher(repo={self.repo!r}, api_url={self.api_url!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GitHubPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def target(self) -> str:
        return f"github:{self.repo}"

    # -- Publisher ---------------------------------------------------------------------------------

    def publish(self, dist: Path) -> PublishReport:
        try:
            contents = read_dist(Path(dist))
        except FileNotFoundError as exc:
            raise PublishError(str(exc)) from None
        report = PublishReport(target=self.target)
        plans = [self._plan(artifact) for artifact in self._checked(contents.artifacts)]
        conflicts = [c for plan in plans for c in self._conflicts(plan)]
        if conflicts:
            raise PublishError(
                "refusing to overwrite published assets (published files are immutable; "
                "publish a new version instead):\n  " + "\n  ".join(conflicts)
            )
        for plan in plans:
            report.skipped.extend(f"{plan.tag}/{f.name}" for f in plan.skips)
            if not plan.uploads:
                continue
            release = plan.release or self._create_release(plan.artifact, plan.tag)
            upload_base = check_upload_url(self.api_url, str(release.get("upload_url", "")))
            for local in plan.uploads:
                uploaded = self._upload(release, plan.tag, upload_base, local)
                (report.uploaded if uploaded else report.skipped).append(f"{plan.tag}/{local.name}")
        return report

    # -- planning (read-only) -----------------------------------------------------------------------

    @staticmethod
    def _checked(artifacts: tuple[Artifact, ...]) -> tuple[Artifact, ...]:
        problems = []
        for artifact in artifacts:
            try:
                Version.parse(artifact.version)
            except VersionError as exc:
                problems.append(f"{artifact.archive.name}: {exc}")
            for path in (artifact.archive, *artifact.signatures):
                if not _SAFE_ASSET_NAME.match(path.name):
                    problems.append(
                        f"{path.name}: GitHub would rename this asset (only letters, digits, '.', '-' and '_' "
                        "are kept); build metadata ('+') cannot be published to GitHub Releases"
                    )
        if problems:
            raise PublishError("cannot publish to GitHub Releases:\n  " + "\n  ".join(problems))
        return artifacts

    def _plan(self, artifact: Artifact) -> _Plan:
        tag = release_tag(artifact.name, artifact.version)
        release = self._get_release(tag)
        existing = self._list_assets(release) if release else {}
        plan = _Plan(artifact, tag, release, existing, [], [])
        for path in (artifact.archive, *artifact.signatures):
            local = LocalFile.read(path)
            (plan.skips if local.name in existing else plan.uploads).append(local)
        return plan

    def _conflicts(self, plan: _Plan) -> list[str]:
        conflicts = []
        for local in plan.skips:
            problem = self._difference(plan.tag, plan.existing[local.name], local)
            if problem:
                conflicts.append(problem)
        return conflicts

    def _difference(self, tag: str, asset: dict, local: LocalFile) -> str | None:
        """None when *asset* holds exactly *local*'s bytes, else a message naming both digests."""
        where = f"release {tag}, asset {local.name}"
        state = asset.get("state", "uploaded")
        if state != "uploaded":
            return (
                f"{where}: an incomplete upload (state {state!r}) is in the way; "
                "delete that asset on GitHub and publish again"
            )
        remote_size = asset.get("size")
        remote = self._remote_sha256(asset)
        if remote == local.sha256 and remote_size == local.size:
            return None
        return (
            f"{where}: the published asset differs from {local.path} "
            f"(published sha256:{remote}, {remote_size} bytes; local sha256:{local.sha256}, {local.size} bytes)"
        )

    def _remote_sha256(self, asset: dict) -> str:
        match = _SHA256_DIGEST.match(str(asset.get("digest") or ""))
        if match:
            return match.group(1)
        return self._download_sha256(asset)

    # -- GitHub calls -------------------------------------------------------------------------------

    def _repo_url(self, path: str) -> str:
        return f"{self.api_url}/repos/{self.repo}{path}"

    def _get_release(self, tag: str) -> dict | None:
        response = self._call("GET", self._repo_url(f"/releases/tags/{quote(tag, safe='')}"), ok=(200, 404))
        return None if response.status_code == 404 else _json(response, "GET")

    def _create_release(self, artifact: Artifact, tag: str) -> dict:
        payload = {
            "tag_name": tag,
            "name": f"{artifact.name} {artifact.version}",
            "body": release_body(artifact.name, artifact.version),
            "draft": False,
            "prerelease": is_prerelease(artifact.version),
            "make_latest": "false",
        }
        url = self._repo_url("/releases")
        response = self._call("POST", url, ok=(201, 422), json=payload)
        if response.status_code == 201:
            log.info("created release %s in %s", tag, self.repo)
            return _json(response, "POST")
        # 422: most often "already_exists" (a concurrent run, or a retried POST that had
        # succeeded); take the release if it is there now, else report GitHub's answer.
        release = self._get_release(tag)
        if release is None:
            raise self._http_error("POST", url, response)
        return release

    def _list_assets(self, release: dict) -> dict[str, dict]:
        release_id = _release_id(release)
        assets: dict[str, dict] = {}
        for page in range(1, MAX_ASSET_PAGES + 1):
            url = self._repo_url(f"/releases/{release_id}/assets")
            response = self._call("GET", url, params={"per_page": ASSETS_PER_PAGE, "page": page})
            batch = _json(response, "GET")
            if not isinstance(batch, list):
                raise PublishError(f"GitHub GET {urlsplit(url).path}: expected a list of assets")
            for asset in batch:
                if isinstance(asset, dict) and isinstance(asset.get("name"), str):
                    assets[asset["name"]] = asset
            if len(batch) < ASSETS_PER_PAGE:
                break
        return assets

    def _upload(self, release: dict, tag: str, upload_base: str, local: LocalFile) -> bool:
        """Upload *local*; True when uploaded, False when an identical asset appeared meanwhile."""
        try:
            data = local.path.read_bytes()
        except OSError as exc:
            raise PublishError(f"cannot read {local.path}: {exc.strerror or exc}") from None
        if len(data) != local.size or hashlib.sha256(data).hexdigest() != local.sha256:
            raise PublishError(f"{local.path} changed while publishing")
        response = self._call(
            "POST",
            upload_base,
            ok=(201, 422),
            params={"name": local.name},
            content=data,
            headers={"Content-Type": content_type(local.path)},
        )
        if response.status_code == 422:
            # Already there: a concurrent run, or our own earlier attempt that answered 5xx.
            asset = self._list_assets(release).get(local.name)
            if asset is None:
                raise self._http_error("POST", upload_base, response)
            problem = self._difference(tag, asset, local)
            if problem:
                raise PublishError(f"refusing to overwrite a published asset: {problem}")
            return False
        asset = _json(response, "POST")
        stored = _SHA256_DIGEST.match(str(asset.get("digest") or ""))
        if asset.get("name") != local.name or asset.get("size") != local.size or (stored and stored[1] != local.sha256):
            raise PublishError(
                f"release {tag}: GitHub stored {local.name} as {asset.get('name')!r} "
                f"({asset.get('size')} bytes, {asset.get('digest')}); expected {local.size} bytes, "
                f"sha256:{local.sha256}"
            )
        log.info("uploaded %s to release %s", local.name, tag)
        return True

    def _download_sha256(self, asset: dict) -> str:
        """Hash an asset's bytes (for assets GitHub computed no digest for)."""
        url = self._repo_url(f"/releases/assets/{_asset_id(asset)}")
        limit = asset.get("size") if isinstance(asset.get("size"), int) else None
        authorized = True
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send("GET", url, authorized=authorized, stream=True, accept="application/octet-stream")
            try:
                if response.status_code in REDIRECT_STATUSES:
                    location = response.headers.get("location")
                    if not location:
                        raise PublishError(f"GitHub GET {_path(url)}: redirect without a location")
                    target = urljoin(url, location)
                    here, there = Origin.of(url), Origin.of(target)
                    if there.scheme not in ("https", "http") or (there.scheme == "http" and not there.is_loopback):
                        raise PublishError(f"GitHub GET {_path(url)}: refusing a redirect to {there}")
                    # The token goes no further than the origin that was given it.
                    authorized = authorized and there == here
                    url = target
                    continue
                if response.status_code != 200:
                    response.read()
                    raise self._http_error("GET", url, response)
                digest, size = hashlib.sha256(), 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise PublishError(
                            f"asset {asset.get('name')}: the download is larger than its declared {limit} bytes"
                        )
                    digest.update(chunk)
                return digest.hexdigest()
            except self._httpx.HTTPError as exc:
                raise self._network_error("GET", url, exc) from None
            finally:
                response.close()
        raise PublishError(f"asset {asset.get('name')}: more than {MAX_REDIRECTS} redirects")

    # -- HTTP plumbing --------------------------------------------------------------------------------

    def _trusted(self, url: str) -> bool:
        """The token may go to the API origin and to a checked upload origin."""
        origin = Origin.of(url)
        if origin == self._api_origin:
            return True
        try:
            check_upload_url(self.api_url, url)
        except PublishError:
            return False
        return True

    def _send(
        self,
        method: str,
        url: str,
        *,
        authorized: bool = True,
        stream: bool = False,
        accept: str = "application/vnd.github+json",
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request, tried again under the retry policy (see the module docstring); a network
        error that is not retried, or persists, becomes a PublishError."""
        httpx = self._httpx
        all_headers = {"Accept": accept, **(headers or {})}
        if authorized and self._trusted(url):
            all_headers["Authorization"] = f"Bearer {self._token}"
            all_headers["X-GitHub-Api-Version"] = API_VERSION
        request = self._client.build_request(method, url, headers=all_headers, **kwargs)
        idempotent = method in IDEMPOTENT_METHODS
        try:
            return retry(
                self._retry,
                lambda: self._client.send(request, stream=stream),
                status=lambda response: response.status_code,
                discard=lambda response: response.close(),
                retryable=lambda exc: transport_error_retryable(exc, idempotent=idempotent),
                sleep=self._sleep,
                on_retry=lambda reason: log.warning("GitHub %s %s: %s; retrying", method, _path(url), reason),
            )
        except httpx.HTTPError as exc:
            raise self._network_error(method, url, exc) from None

    def _call(self, method: str, url: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> httpx.Response:
        response = self._send(method, url, **kwargs)
        if response.status_code not in ok:
            raise self._http_error(method, url, response)
        return response

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _http_error(self, method: str, url: str, response: httpx.Response) -> PublishError:
        message = ""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            message = str(body.get("message") or "")
            codes = [
                f"{e.get('field')} {e.get('code')}" if e.get("field") else str(e.get("code") or e.get("message"))
                for e in body.get("errors") or []
                if isinstance(e, dict)
            ]
            if codes:
                message += f" ({', '.join(codes)})"
        if not message:
            message = response.reason_phrase or "error"
        hint = ""
        if response.status_code == 401:
            hint = "; the token was rejected (expired or revoked?)"
        elif response.status_code in (403, 404) and method != "GET":
            hint = f"; does {self.repo} exist and does the token have contents: write on it?"
        text = f"GitHub {method} {_path(url)}: {response.status_code} {message[:500]}{hint}"
        return PublishError(self._redact(text))

    def _network_error(self, method: str, url: str, exc: Exception) -> PublishError:
        return PublishError(self._redact(f"GitHub {method} {_path(url)}: network error: {type(exc).__name__}: {exc}"))


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


def _json(response: httpx.Response, method: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise PublishError(
            f"GitHub {method} {_path(str(response.request.url))}: {response.status_code} answer is not JSON"
        ) from None


def _release_id(release: dict) -> int:
    value = release.get("id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise PublishError(f"GitHub release {release.get('tag_name')!r} has no numeric id")
    return value


def _asset_id(asset: dict) -> int:
    value = asset.get("id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise PublishError(f"GitHub asset {asset.get('name')!r} has no numeric id")
    return value
