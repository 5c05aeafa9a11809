"""The client's configuration: which registries to use and how each is trusted.

Stored in ``$ARW_HOME/config.yaml`` (written atomically under a file lock).
A registry has a name, a location (https://, http://, file:// URL or a local
directory) and a trust anchor (Ed25519 public keys, or a sigstore identity
with its issuer). Without a config file the project's public registry is
used, trusted through the sigstore identity of its release workflow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from registry_tools.config import state_dir
from registry_tools.home import CONFIG_FILE
from registry_tools.signing.trust import TrustAnchor
from registry_tools.yamlio import load_yaml

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
DEFAULT_UPDATE_HOURS = 24.0
PUBLIC_REGISTRY = {
    "name": "public",
    "location": "https://aws-research-wizard.github.io/aws-research-wizard/registry/",
    "trust": {
        "kind": "sigstore",
        "identity": "https://github.com/aws-research-wizard/aws-research-wizard/.github/workflows/release.yml@refs/heads/main",
        "issuer": "https://token.actions.githubusercontent.com",
    },
}


class SettingsError(Exception):
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
            return cls(str(data["name"]), str(data["location"]), TrustAnchor.from_dict(data["trust"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SettingsError(f"invalid registry entry {data!r}: {exc}") from None


@dataclass(frozen=True)
class Settings:
    registries: tuple[Registry, ...] = field(default_factory=tuple)
    update_interval_hours: float = DEFAULT_UPDATE_HOURS
    session_state: str | None = None  # s3://bucket/prefix for shared session state; None: local

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
    from registry_tools import home

    try:
        return home.config_text()
    except OSError as exc:
        raise SettingsError(f"cannot read {config_path()}: {exc.strerror or exc}") from None


def load() -> Settings:
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
    return Settings(registries=registries, update_interval_hours=interval, session_state=state)


def save(settings: Settings) -> None:
    import yaml

    from registry_tools.fsutil import atomic_write_text

    header = "# AWS Research Wizard client configuration (edit with `aws-research-wizard config registries ...`)\n"
    atomic_write_text(config_path(), header + yaml.safe_dump(settings.to_dict(), sort_keys=False), mode=0o600)


def _lock():
    from filelock import FileLock

    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path) + ".lock", timeout=30)


def add_registry(name: str, location: str, trust: TrustAnchor) -> Registry:
    if not NAME_RE.match(name):
        raise SettingsError(f"invalid registry name {name!r}: use lowercase letters, digits, - and _ (e.g. my-lab)")
    registry = Registry(name, normalise_location(location), trust)
    with _lock():
        current = load()
        if any(r.name == name for r in current.registries):
            raise SettingsError(f"a registry named {name!r} exists; remove it first (config registries remove {name})")
        save(replace(current, registries=(*current.registries, registry)))
    return registry


def remove_registry(name: str) -> Registry:
    with _lock():
        current = load()
        registry = current.registry(name)
        save(replace(current, registries=tuple(r for r in current.registries if r.name != name)))
    return registry
