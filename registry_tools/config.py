"""Paths and limits in one place.

``ARW_HOME`` overrides the state directory (``~/.aws-research-wizard``);
``Limits`` holds every size cap the loaders enforce against hostile input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from registry_tools.home import DEFAULT_STATE_DIR, STATE_DIR_ENV, state_dir_name  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class Limits:
    """Caps for untrusted input. One object so tests and callers see them all."""

    max_pack_file_bytes: int = 256 * 1024
    max_yaml_depth: int = 20
    max_yaml_aliases: int = 20
    max_yaml_nodes: int = 20_000
    max_template_bytes: int = 1024 * 1024
    max_readme_bytes: int = 512 * 1024
    max_index_bytes: int = 32 * 1024 * 1024
    max_archive_bytes: int = 16 * 1024 * 1024
    max_signature_bytes: int = 64 * 1024
    # Every download (index, signature, archive; retries included) ends by its deadline, and one that
    # receives fewer than download_min_bytes_per_second over any download_rate_window_seconds is stalled
    # and stopped. config.yaml can change each (same names); registry_tools/fetch/http.py enforces them.
    download_deadline_seconds: float = 120.0
    download_min_bytes_per_second: int = 1024
    download_rate_window_seconds: float = 20.0


LIMITS = Limits()


def state_dir() -> Path:
    """The user's state directory; ``$ARW_HOME`` wins over the default."""
    return Path(state_dir_name())


def find_repo_root(start: Path | None = None) -> Path | None:
    """The nearest directory at or above *start* holding ``domains/``, if any: this repository, or any
    directory of packs (``registry new`` starts one with ``./domains/``; schemas and templates come
    from the package)."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "domains").is_dir():
            return candidate
    return None


def package_data(*parts: str) -> Path:
    """A file shipped inside the package (price table, schemas, the pack template)."""
    return Path(__file__).resolve().parent.joinpath(*parts)
