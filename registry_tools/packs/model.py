"""The pack model: frozen values built from a schema-valid ``domain.yaml``.

``Pack.from_mapping`` assumes the mapping already passed the schema (the
loader guarantees it); it does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from registry_tools.packs.semver import Version

OFFICIAL = "official"
COMMUNITY = "community"


@dataclass(frozen=True)
class Size:
    name: str
    instance_type: str
    vcpus: int
    memory_gib: float
    storage_gib: int
    use_case: str
    gpus: int = 0
    gpu_model: str | None = None
    efa: bool = False


@dataclass(frozen=True)
class Maintainer:
    name: str
    email: str | None = None
    github: str | None = None


@dataclass(frozen=True)
class CostEstimate:
    region: str
    hours_per_month: float
    price_date: str
    monthly_usd: Mapping[str, float]
    notes: str = ""


@dataclass(frozen=True)
class Workflow:
    name: str
    description: str
    expected_runtime_minutes: int
    input_data: tuple[str, ...]
    size: str | None = None
    command: str | None = None


@dataclass(frozen=True)
class DataSource:
    name: str
    location: str
    description: str
    region: str | None = None
    registry_url: str | None = None
    requester_pays: bool = False


@dataclass(frozen=True)
class Deployment:
    template: str
    parameters: Mapping[str, Any]
    outputs: tuple[str, ...]
    notes: str = ""


@dataclass(frozen=True)
class Pack:
    name: str
    version: Version
    title: str
    description: str
    categories: tuple[str, ...]
    maintainers: tuple[Maintainer, ...]
    license: str
    sizes: tuple[Size, ...]
    default_size: str
    regions: tuple[str, ...]
    cost_estimate: CostEstimate
    software: Mapping[str, Any]
    workflows: tuple[Workflow, ...]
    data_sources: tuple[DataSource, ...]
    deployment: Deployment
    keywords: tuple[str, ...] = ()
    changelog: tuple[str, ...] = ()
    trust: str = OFFICIAL
    path: Path | None = field(default=None, compare=False)

    def size(self, name: str) -> Size:
        for size in self.sizes:
            if size.name == name:
                return size
        raise KeyError(f"pack {self.name} has no size {name!r}; sizes: {', '.join(s.name for s in self.sizes)}")

    @property
    def default(self) -> Size:
        return self.size(self.default_size)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, trust: str = OFFICIAL, path: Path | None = None) -> Pack:
        cost = data["cost_estimate"]
        dep = data["deployment"]
        return cls(
            name=data["name"],
            version=Version.parse(data["version"]),
            title=data["title"],
            description=data["description"],
            categories=tuple(data["categories"]),
            maintainers=tuple(Maintainer(**m) for m in data["maintainers"]),
            license=data["license"],
            sizes=tuple(Size(name=n, **s) for n, s in data["sizes"].items()),
            default_size=data["default_size"],
            regions=tuple(data["regions"]),
            cost_estimate=CostEstimate(
                region=cost["region"],
                hours_per_month=float(cost["hours_per_month"]),
                price_date=cost["price_date"],
                monthly_usd=MappingProxyType({k: float(v) for k, v in cost["monthly_usd"].items()}),
                notes=cost.get("notes", ""),
            ),
            software=MappingProxyType(dict(data["software"])),
            workflows=tuple(
                Workflow(**{**w, "input_data": tuple(w["input_data"])}) for w in data["workflows"]
            ),
            data_sources=tuple(DataSource(**d) for d in data["data_sources"]),
            deployment=Deployment(
                template=dep["template"],
                parameters=MappingProxyType(dict(dep["parameters"])),
                outputs=tuple(dep["outputs"]),
                notes=dep.get("notes", ""),
            ),
            keywords=tuple(data.get("keywords", ())),
            changelog=tuple(data.get("changelog", ())),
            trust=trust,
            path=path,
        )
