"""Where things live: the user's state directory (``$ARW_HOME``, else ``~/.aws-research-wizard``) and
its ``config.yaml`` text, the source tree (nearest ``domains/``), files shipped in the package.
Imports nothing but ``os`` (``pathlib`` inside the functions that return a ``Path``): the fast paths of
the CLI (``config search``, ``sessions list``) need them before anything heavier is imported."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

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


def state_dir() -> Path:
    """The user's state directory as a ``Path``; ``$ARW_HOME`` wins over the default."""
    from pathlib import Path

    return Path(state_dir_name())


def find_repo_root(start: Path | None = None) -> Path | None:
    """The nearest directory at or above *start* holding ``domains/``, if any: this repository, or any
    directory of packs (``registry new`` starts one with ``./domains/``; schemas and templates come
    from the package)."""
    from pathlib import Path

    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "domains").is_dir():
            return candidate
    return None


def package_data(*parts: str) -> Path:
    """A file shipped inside the package (price table, schemas, the pack template)."""
    from pathlib import Path

    return Path(__file__).resolve().parent.joinpath(*parts)
