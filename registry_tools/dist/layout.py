"""The layout of a built registry (``dist/``), shared by build, sign, verify and publish.

    dist/registry.yaml                     the index, human-readable
    dist/registry.json                     the same index, compact (what clients fetch)
    dist/registry.json<SIG>                its signature
    dist/packs/<name>-<version>.tar.gz     one deterministic archive per pack version
    dist/packs/<name>-<version>.tar.gz<SIG>

<SIG> is ``.sig`` (Ed25519, base64 text) or ``.sigstore.json`` (a sigstore
bundle). ``dist.directory.read_dist`` lists what a dist holds without trusting it.
"""

from __future__ import annotations

import re

INDEX_YAML = "registry.yaml"
INDEX_JSON = "registry.json"
PACKS_DIR = "packs"
KEY_SIGNATURE_SUFFIX = ".sig"
SIGSTORE_SUFFIX = ".sigstore.json"
SIGNATURE_SUFFIXES = (KEY_SIGNATURE_SUFFIX, SIGSTORE_SUFFIX)
ARCHIVE_RE = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)-(?P<version>\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)\.tar\.gz$")


def archive_name(name: str, version: str) -> str:
    return f"{name}-{version}.tar.gz"


def release_tag(name: str, version: str) -> str:
    """The git tag / GitHub Release of one pack version."""
    return f"{name}-v{version}"
