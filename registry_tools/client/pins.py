"""Pins: a pack held at one version and archive digest (``$ARW_HOME/pins.yaml``).

``update`` never moves a pinned pack, and ``install`` of a pinned pack must
get exactly the pinned archive (same sha256), so a registry cannot swap what
a reproducible analysis runs on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from registry_tools.errors import ArwError
from registry_tools.paths import state_dir
from registry_tools.yamlio import load_yaml

PINS_FILE = "pins.yaml"
T = TypeVar("T")


class PinsError(ArwError):
    """pins.yaml cannot be read."""


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    sha256: str


def holding(name: str, requested: str | None, purpose: str = "install") -> Pin | None:
    """The pin on *name* (None: not pinned); ``PinsError`` when *requested* asks for another version
    (install and deploy refuse it the same way)."""
    pin = load().get(name)
    if pin and requested and requested != pin.version:
        raise PinsError(f"{name} is pinned at {pin.version}; unpin it to {purpose} {requested} "
                        f"(aws-research-wizard config unpin {name})")
    return pin


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
    atomic_write_text(pins_path(), "# packs held at one version and archive digest\n" + yaml.safe_dump(body), mode=0o600)


def _locked(change: Callable[[dict[str, Pin]], T]) -> T:
    from filelock import FileLock

    from registry_tools.fsutil import make_dirs

    path = pins_path()
    make_dirs(path.parent)  # 0700, whatever the umask (registry_tools.fsutil)
    with FileLock(str(path) + ".lock", timeout=30, mode=0o600):
        pins = load()
        result = change(pins)
        save(pins)
        return result


def pin(name: str, version: str, sha256: str) -> Pin:
    def change(pins: dict[str, Pin]) -> Pin:
        pins[name] = Pin(name, version, sha256)
        return pins[name]

    return _locked(change)


def unpin(name: str) -> Pin | None:
    return _locked(lambda pins: pins.pop(name, None))
