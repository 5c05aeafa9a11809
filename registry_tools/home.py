"""Where the user's state lives, and its configuration file's text, with nothing but ``os``:
the fast paths of the CLI (``config search``, ``sessions list``) need them before anything
heavier is imported.
``registry_tools.config.state_dir`` is the ``Path`` form everyone else uses."""

from __future__ import annotations

import os

STATE_DIR_ENV = "ARW_HOME"
DEFAULT_STATE_DIR = "~/.aws-research-wizard"
CONFIG_FILE = "config.yaml"


def state_dir_name() -> str:
    """The state directory; ``$ARW_HOME`` wins over the default."""
    return os.path.expanduser(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


def config_text() -> str | None:
    """The exact text of ``config.yaml`` (None when there is none); ``OSError`` when unreadable."""
    try:
        with open(os.path.join(state_dir_name(), CONFIG_FILE), encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
