"""The client's configuration: which registries to use and how each is trusted.

Stored in ``$ARW_HOME/config.yaml`` (written atomically under a file lock).
A registry has a name, a location (https://, http://, file:// URL or a local
directory) and a trust anchor (Ed25519 public keys, or a sigstore identity
with its issuer). Without a config file the project's public registry is
used, trusted through the sigstore identity of its release workflow.

Downloads: ``require_https: true`` refuses plain ``http://`` registries (and
downloads) except on this machine; ``download_deadline_seconds``,
``download_min_bytes_per_second`` and ``download_rate_window_seconds`` change
the deadline and minimum rate of every download (defaults: ``config.Limits``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from registry_tools.errors import ArwError
from registry_tools.limits import LIMITS
from registry_tools.names import REGISTRY_NAME
from registry_tools.paths import CONFIG_FILE, state_dir
from registry_tools.signing.trust import TrustAnchor, TrustAnchorError, parse_anchor
from registry_tools.yamlio import load_yaml

NAME_RE = re.compile(f"^{REGISTRY_NAME}$")
DEFAULT_UPDATE_HOURS = 24.0
# config.yaml keys for the deadline and minimum rate of downloads, named as the Limits fields they override
DOWNLOAD_KEYS = ("download_deadline_seconds", "download_min_bytes_per_second", "download_rate_window_seconds")
PLAIN_HTTP_RISK = ("signatures still protect what is installed, but not privacy (anyone on the path sees which "
                   "packs you fetch) or freshness (they can hold back updates until the index expires)")
PUBLIC_REGISTRY = {
    "name": "public",
    "location": "https://aws-research-wizard.github.io/aws-research-wizard/registry/",
    "trust": {
        "kind": "sigstore",
        "identity": "https://github.com/aws-research-wizard/aws-research-wizard/.github/workflows/release.yml@refs/heads/main",
        "issuer": "https://token.actions.githubusercontent.com",
    },
}


class SettingsError(ArwError):
    """The configuration is invalid or cannot be changed as asked."""


@dataclass(frozen=True)
class Registry:
    name: str
    location: str
    trust: TrustAnchor

    @property
    def is_remote(self) -> bool:
        return self.location.startswith(("http://", "https://"))

    def to_dict(self) -> dict:
        return {"name": self.name, "location": self.location, "trust": self.trust.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> Registry:
        try:
            return cls(str(data["name"]), str(data["location"]), parse_anchor(data["trust"]))
        except (KeyError, TypeError, TrustAnchorError) as exc:
            raise SettingsError(f"invalid registry entry {data!r}: {exc}") from None


@dataclass(frozen=True)
class Settings:
    registries: tuple[Registry, ...] = field(default_factory=tuple)
    update_interval_hours: float = DEFAULT_UPDATE_HOURS
    session_state: str | None = None  # s3://bucket/prefix for shared session state; None: local
    require_https: bool = False  # refuse plain http:// registries and downloads (loopback excepted)
    downloads: tuple[tuple[str, float], ...] = ()  # (DOWNLOAD_KEYS item, value) set in config.yaml

    def fetch_settings(self):
        """How downloads are made: the deadline and minimum rate (``Limits``, or config.yaml), require_https."""
        from registry_tools.fetch.http import FetchSettings

        values = {key: getattr(LIMITS, key) for key in DOWNLOAD_KEYS} | dict(self.downloads)
        return FetchSettings(deadline=values["download_deadline_seconds"],
                             min_rate=values["download_min_bytes_per_second"],
                             rate_window=values["download_rate_window_seconds"], require_https=self.require_https)

    def registry(self, name: str) -> Registry:
        for registry in self.registries:
            if registry.name == name:
                return registry
        names = ", ".join(r.name for r in self.registries) or "none"
        raise SettingsError(f"no registry named {name!r} (configured: {names})")

    def to_dict(self) -> dict:
        data = {"update_interval_hours": self.update_interval_hours,
                "registries": [r.to_dict() for r in self.registries]}
        if self.session_state:
            data["session_state"] = self.session_state
        if self.require_https:
            data["require_https"] = True
        data.update(self.downloads)
        return data


def normalise_location(location: str) -> str:
    if location.startswith(("http://", "https://", "file://")):
        return location if location.endswith("/") or location.endswith(".json") else location + "/"
    if "://" in location:
        raise SettingsError(f"unsupported registry location {location!r}: use https://, http://, file:// or a directory")
    path = Path(location).expanduser().resolve()
    return str(path)


def config_path() -> Path:
    return state_dir() / CONFIG_FILE


def config_text() -> str | None:
    """The configuration file's exact text (None when there is none: the defaults apply)."""
    from registry_tools import paths

    try:
        return paths.config_text()
    except OSError as exc:
        raise SettingsError(f"cannot read {config_path()}: {exc.strerror or exc}") from None


def load(*, check_https: bool = True) -> Settings:
    """The configuration; with *check_https* (all but `registries remove`, which must be able to fix
    it), ``require_https`` and a plain-HTTP registry outside loopback together are an error."""
    import yaml

    path = config_path()
    if not path.is_file():
        return Settings(registries=(Registry.from_dict(PUBLIC_REGISTRY),))
    try:
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a mapping")
    registries = tuple(Registry.from_dict(r) for r in data.get("registries") or [])
    try:
        interval = float(data.get("update_interval_hours", DEFAULT_UPDATE_HOURS))
    except (TypeError, ValueError):
        raise SettingsError(f"{path}: update_interval_hours must be a number") from None
    state = data.get("session_state")
    if state is not None and not (isinstance(state, str) and state.startswith("s3://")):
        raise SettingsError(f"{path}: session_state must be an s3://bucket/prefix URL, got {state!r}")
    require_https = data.get("require_https", False)
    if not isinstance(require_https, bool):
        raise SettingsError(f"{path}: require_https must be true or false, got {require_https!r}")
    downloads = []
    for key in DOWNLOAD_KEYS:
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
                raise SettingsError(f"{path}: {key} must be a positive number, got {value!r} "
                                    f"(default {getattr(LIMITS, key):g})")
            downloads.append((key, value))
    settings = Settings(registries=registries, update_interval_hours=interval, session_state=state,
                        require_https=require_https, downloads=tuple(downloads))
    if check_https and require_https:
        for registry in registries:
            check_https_policy(registry, settings, where=str(path))
    return settings


def check_https_policy(registry: Registry, settings: Settings, where: str = "") -> None:
    """``SettingsError`` when *settings* require HTTPS and *registry* is plain HTTP outside loopback."""
    from registry_tools.fetch.urls import plain_http_outside_loopback

    if settings.require_https and plain_http_outside_loopback(registry.location):
        raise SettingsError(f"{where + ': ' if where else ''}registry {registry.name} is served over plain HTTP "
                            f"({registry.location}) and require_https is set: use its https:// address, or remove "
                            f"it (aws-research-wizard config registries remove {registry.name})")


def plain_http_warning(registry: Registry) -> str | None:
    """What to tell someone adding *registry* when it is plain HTTP outside loopback (else None)."""
    from registry_tools.fetch.urls import plain_http_outside_loopback

    if not plain_http_outside_loopback(registry.location):
        return None
    return (f"registry {registry.name} uses plain HTTP ({registry.location}): {PLAIN_HTTP_RISK}. Use https:// if the "
            f"server offers it; `require_https: true` in {config_path()} refuses plain HTTP.")


def save(settings: Settings) -> None:
    import yaml

    from registry_tools.fsutil import atomic_write_text

    header = "# AWS Research Wizard client configuration (edit with `aws-research-wizard config registries ...`)\n"
    atomic_write_text(config_path(), header + yaml.safe_dump(settings.to_dict(), sort_keys=False), mode=0o600)


def _lock():
    from filelock import FileLock

    from registry_tools.fsutil import make_dirs

    path = config_path()
    make_dirs(path.parent)  # 0700, whatever the umask (registry_tools.fsutil)
    return FileLock(str(path) + ".lock", timeout=30, mode=0o600)


def add_registry(name: str, location: str, trust: TrustAnchor) -> Registry:
    if not NAME_RE.match(name):
        raise SettingsError(f"invalid registry name {name!r}: use lowercase letters, digits, - and _ (e.g. my-lab)")
    registry = Registry(name, normalise_location(location), trust)
    with _lock():
        current = load()
        if any(r.name == name for r in current.registries):
            raise SettingsError(f"a registry named {name!r} exists; remove it first (config registries remove {name})")
        if current.require_https and plain_http_warning(registry):
            raise SettingsError(f"refusing to add registry {name}: {registry.location} is plain HTTP and require_https "
                                f"is set in {config_path()}; use its https:// address")
        save(replace(current, registries=(*current.registries, registry)))
    return registry


def remove_registry(name: str) -> Registry:
    with _lock():
        current = load(check_https=False)
        registry = current.registry(name)
        save(replace(current, registries=tuple(r for r in current.registries if r.name != name)))
    return registry
