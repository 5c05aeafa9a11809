"""Pins: a pack held at one version and archive digest (``$ARW_HOME/pins.yaml``).

``update`` never moves a pinned pack, and ``install`` of a pinned pack must
get exactly the pinned archive (same sha256), so a registry cannot swap what
a reproducible analysis runs on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from registry_tools.config import state_dir
from registry_tools.yamlio import load_yaml

PINS_FILE = "pins.yaml"


class PinsError(Exception):
    """pins.yaml cannot be read."""


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    sha256: str


def pins_path() -> Path:
    return state_dir() / PINS_FILE


def load() -> dict[str, Pin]:
    path = pins_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise PinsError(f"cannot read {path}: {exc.strerror or exc}; fix or delete the file (then pin again)") from None
    import yaml

    try:
        data = load_yaml(text) or {}
        return {str(name): Pin(str(name), str(p["version"]), str(p["sha256"])) for name, p in data.items()}
    except (yaml.YAMLError, AttributeError, KeyError, TypeError) as exc:
        raise PinsError(f"cannot read {path}: {str(exc).splitlines()[0]}; fix or delete the file "
                        "(then pin again)") from None


def save(pins: dict[str, Pin]) -> None:
    import yaml

    from registry_tools.fsutil import atomic_write_text

    body = {p.name: {"version": p.version, "sha256": p.sha256} for p in sorted(pins.values(), key=lambda p: p.name)}
    atomic_write_text(pins_path(), "# packs held at one version and archive digest\n" + yaml.safe_dump(body))


def _locked(change):
    from filelock import FileLock

    path = pins_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=30):
        pins = load()
        result = change(pins)
        save(pins)
        return result


def pin(name: str, version: str, sha256: str) -> Pin:
    def change(pins):
        pins[name] = Pin(name, version, sha256)
        return pins[name]

    return _locked(change)


def unpin(name: str) -> Pin | None:
    return _locked(lambda pins: pins.pop(name, None))
