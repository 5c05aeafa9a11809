"""What a user asks of the client in one call, for every front end: install a pack by its spec.

``install_request(spec)`` runs the whole request: the pin on the pack (``pins.holding``), the
configured registries (``index_store.load_registries``), the install with its checks
(``install.install``), as of one *now*. ``config install`` (click and its fast path) and ``deploy``
(a pack not installed yet) call it; ``install_spec`` adds the text ``config install`` prints.
Errors are the seams' own ``ArwError``s (``PinsError``, ``RegistryError``, ``InstallError``),
left to the caller to show (``cli/report.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime

from registry_tools.client import pins
from registry_tools.client.index_store import load_registries
from registry_tools.client.install import Receipt, install, installed_dir
from registry_tools.textsafe import printable_lines

TYPE_CHECKING = False
if TYPE_CHECKING:
    from registry_tools.fetch.interface import Fetcher


def _quiet(level: str, text: str) -> None:
    """Notices nobody asked to hear."""


def install_request(spec: str, registry_name: str | None = None, *, now: datetime, refresh: bool = False,
                    offline: bool = False, allow_expired: bool = False,
                    notify: Callable[[str, str], None] = _quiet, purpose: str = "install",
                    allow_insecure: Iterable[str] = (), fetcher: Fetcher | None = None) -> Receipt:
    """Install NAME[@VERSION|@CONSTRAINT] honouring its pin (*purpose* names the refused action) and
    the security policy (*allow_insecure*: rule ids let past it), as of *now* (index expiry, cache
    age, receipt time); its receipt. The index and the archive are fetched by *fetcher* (None: one
    made from the configuration's limits)."""
    name, _, requested = spec.partition("@")
    pin = pins.holding(name, requested, purpose)
    catalog, loaded = load_registries(registry_name, now=now, refresh=refresh, offline=offline,
                                      allow_expired=allow_expired, notify=notify, fetcher=fetcher)
    return install(catalog, loaded, name, pin.version if pin else (requested or None), now=now, fetcher=fetcher,
                   expected_sha256=pin.sha256 if pin else None, allow_insecure=allow_insecure,
                   warn=lambda line: notify("insecure", line))


def install_spec(spec: str, registry_name: str | None = None, *, now: datetime, refresh: bool = False,
                 offline: bool = False, allow_expired: bool = False, as_json: bool = False,
                 notify: Callable[[str, str], None] = _quiet, allow_insecure: Iterable[str] = (),
                 fetcher: Fetcher | None = None) -> str:
    """Install NAME[@VERSION|@CONSTRAINT] as ``install_request`` does; the text `config install` prints."""
    receipt = install_request(spec, registry_name, now=now, refresh=refresh, offline=offline,
                              allow_expired=allow_expired, notify=notify, allow_insecure=allow_insecure,
                              fetcher=fetcher)
    path = installed_dir(receipt.name, receipt.version)
    if as_json:
        return json.dumps({**receipt.to_dict(), "path": str(path)}, indent=2, default=str)
    return printable_lines(f"Installed {receipt.name} {receipt.version} from registry {receipt.registry} "
                           f"(sha256 {receipt.sha256[:12]}..., signed by {receipt.signer})\n  -> {path}")
