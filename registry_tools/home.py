"""Where the user's state lives, with nothing but ``os``: the fast paths of the CLI
(``config search`` from its snapshot) need it before anything heavier is imported.
``registry_tools.config.state_dir`` is the ``Path`` form everyone else uses."""

from __future__ import annotations

import os

STATE_DIR_ENV = "ARW_HOME"
DEFAULT_STATE_DIR = "~/.aws-research-wizard"


def state_dir_name() -> str:
    """The state directory; ``$ARW_HOME`` wins over the default."""
    return os.path.expanduser(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)
