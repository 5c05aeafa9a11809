"""All packs visible through the configured registries, with name clashes resolved by registry order.

Pure over loaded indexes: ``Catalog.from_indexes(loaded)`` -> entries; the
first registry that offers a name wins and later ones are recorded as
shadowed, so output can say where a pack came from and what it hides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

OFFICIAL = "official"
COMMUNITY = "community"


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    registry: str
    trust: str  # official | community
    entry: dict[str, Any]
    shadowed: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        title: str = self.entry.get("name", self.name)
        return title

    @property
    def latest_version(self) -> str:
        version: str = self.entry.get("latest_version", "")
        return version

    @property
    def trust_level(self) -> str:
        level: str = self.entry.get("trust_level", "verified" if self.trust == OFFICIAL else "community")
        return level


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class _Signed(Protocol):
    @property
    def signer(self) -> object: ...


class Loaded(Protocol):
    """What the catalog reads of a loaded index (``index_store.LoadedIndex``)."""

    @property
    def registry(self) -> _Named: ...

    @property
    def trusted(self) -> _Signed: ...

    @property
    def index(self) -> Mapping[str, Any]: ...


@dataclass
class Catalog:
    entries: dict[str, CatalogEntry] = field(default_factory=dict)
    signers: dict[str, str] = field(default_factory=dict)  # registry -> who signed its index
    failures: list[str] = field(default_factory=list)  # registries that could not be loaded, and why

    @classmethod
    def from_indexes(cls, loaded: Iterable[Loaded]) -> Catalog:
        catalog = cls()
        for item in loaded:
            catalog.signers[item.registry.name] = str(item.trusted.signer)
            for section, trust in (("domains", OFFICIAL), ("community_packs", COMMUNITY)):
                for name, entry in (item.index.get(section) or {}).items():
                    if name in catalog.entries:
                        first = catalog.entries[name]
                        catalog.entries[name] = CatalogEntry(first.name, first.registry, first.trust, first.entry,
                                                             (*first.shadowed, item.registry.name))
                    else:
                        catalog.entries[name] = CatalogEntry(name, item.registry.name, trust, entry)
        return catalog

    def get(self, name: str) -> CatalogEntry | None:
        return self.entries.get(name)

    def sorted(self) -> list[CatalogEntry]:
        return [self.entries[n] for n in sorted(self.entries)]
