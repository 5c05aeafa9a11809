"""Every limit in one object: ``Limits`` holds each size cap the loaders enforce against hostile
input and the deadline and minimum rate of every download (``config.yaml`` may change the latter)."""

from __future__ import annotations

from dataclasses import dataclass


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
