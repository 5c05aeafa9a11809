"""The dated instance and price catalogue shipped in ``data/prices.json``.

``Catalogue.load()`` reads it once; lookups are pure. A type missing from a
region means it is not sold there. Validating the packs of a source tree uses
that tree's own table when it has one (``repository_price_file``), so a
change to the table is checked against the packs it prices.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from registry_tools.errors import ArwError
from registry_tools.paths import package_data

PRICE_FILE = package_data("data", "prices.json")
REPOSITORY_PRICE_FILE = ("registry_tools", "data", "prices.json")


class PriceError(ArwError, LookupError):
    """An instance type or region the catalogue does not know."""


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_gib: float
    gpus: int
    efa: bool
    hourly_usd: Mapping[str, float]
    gpu_model: str | None = None

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(self.hourly_usd)


@dataclass(frozen=True)
class Catalogue:
    price_date: str
    source: str
    regions: tuple[str, ...]
    ebs_gp3_usd_per_gb_month: Mapping[str, float]
    instances: Mapping[str, InstanceType]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Catalogue:
        return cls(
            price_date=data["price_date"],
            source=data["source"],
            regions=tuple(data["regions"]),
            ebs_gp3_usd_per_gb_month=MappingProxyType(dict(data["ebs_gp3_usd_per_gb_month"])),
            instances=MappingProxyType({
                name: InstanceType(
                    name=name,
                    vcpus=spec["vcpus"],
                    memory_gib=spec["memory_gib"],
                    gpus=spec.get("gpus", 0),
                    efa=spec.get("efa", False),
                    gpu_model=spec.get("gpu_model"),
                    hourly_usd=MappingProxyType(dict(spec["on_demand_usd_per_hour"])),
                )
                for name, spec in data["instances"].items()
            }),
        )

    @classmethod
    def load(cls) -> Catalogue:
        return _default()

    @classmethod
    def from_bytes(cls, raw: bytes, source: str = "the price table") -> Catalogue:
        """Parse a price table; anything malformed is a PriceError naming *source*."""
        try:
            return cls.from_mapping(json.loads(raw.decode("utf-8")))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PriceError(f"{source} is not a valid price table: {type(exc).__name__}: {exc}") from None

    def instance(self, name: str) -> InstanceType:
        try:
            return self.instances[name]
        except KeyError:
            raise PriceError(f"instance type {name!r} is not in the price catalogue ({self.price_date})") from None

    def hourly(self, instance_type: str, region: str) -> float:
        spec = self.instance(instance_type)
        try:
            return spec.hourly_usd[region]
        except KeyError:
            sold = ", ".join(spec.regions) or "none of the supported regions"
            raise PriceError(f"{instance_type} is not sold in {region} (sold in: {sold})") from None

    def gp3(self, region: str) -> float:
        try:
            return self.ebs_gp3_usd_per_gb_month[region]
        except KeyError:
            raise PriceError(f"no EBS gp3 price for region {region!r}") from None


def repository_price_file(project_root: Path | None) -> Path:
    """The price table of the source tree at *project_root* (the directory holding domains/) when it has one,
    else the table shipped with this package."""
    if project_root is not None:
        candidate = project_root.joinpath(*REPOSITORY_PRICE_FILE)
        if candidate.is_file():
            return candidate
    return PRICE_FILE


@lru_cache(maxsize=1)
def _default() -> Catalogue:
    return Catalogue.from_mapping(json.loads(PRICE_FILE.read_text(encoding="utf-8")))
