"""Which installed packs have newer versions, and what `update` would do. Pure; no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from registry_tools.client.catalog import Catalog
from registry_tools.client.install import Receipt
from registry_tools.client.pins import Pin
from registry_tools.packs.semver import Version, highest_stable


@dataclass(frozen=True)
class Update:
    name: str
    installed: str
    available: str | None  # highest stable version offered, None if the pack vanished
    pinned: str | None
    registry: str | None

    @property
    def newer(self) -> bool:
        return self.available is not None and Version.parse(self.available) > Version.parse(self.installed)

    @property
    def target(self) -> str | None:
        """The version `update` moves to, or None (up to date, pinned, or gone)."""
        return None if self.pinned or not self.newer else self.available


def plan(receipts: list[Receipt], catalog: Catalog, pins: dict[str, Pin]) -> list[Update]:
    newest_installed: dict[str, Receipt] = {}
    for receipt in receipts:
        current = newest_installed.get(receipt.name)
        if current is None or Version.parse(receipt.version) > Version.parse(current.version):
            newest_installed[receipt.name] = receipt
    updates = []
    for name in sorted(newest_installed):
        entry = catalog.get(name)
        available = highest_stable(entry.entry.get("releases", {})) if entry else None
        pin = pins.get(name)
        updates.append(Update(name, newest_installed[name].version, available, pin.version if pin else None,
                              entry.registry if entry else None))
    return updates
