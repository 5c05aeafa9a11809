"""YAML state files (config.yaml, pins.yaml, session metadata) read with libyaml's safe
loader when PyYAML has it: several times faster than the pure-Python ``yaml.safe_load``
on every command that reads its configuration. Same results, same errors (``yaml.YAMLError``)."""

from __future__ import annotations

from typing import Any


def load_yaml(text: str | bytes) -> Any:
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
