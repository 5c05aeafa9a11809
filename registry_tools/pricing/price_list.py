"""Turn AWS Pricing API price-list items into our price table. Pure; no I/O.

``GetProducts`` returns one JSON document per SKU. We keep on-demand Linux,
shared-tenancy, no pre-installed software, "Used" capacity compute prices in
USD per hour, and gp3 storage in USD per GB-month, for the regions we support.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ComputePrice:
    instance_type: str
    region: str
    usd_per_hour: float
    vcpus: int
    memory_gib: float
    gpus: int


@dataclass(frozen=True)
class StoragePrice:
    region: str
    usd_per_gb_month: float


def _on_demand_usd(item: dict[str, Any], unit: str) -> float | None:
    for term in item.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            if dimension.get("unit") == unit and "USD" in dimension.get("pricePerUnit", {}):
                price = float(dimension["pricePerUnit"]["USD"])
                if price > 0:
                    return price
    return None


def _memory_gib(text: str) -> float:
    match = re.match(r"^\s*([\d,.]+)\s*GiB", text or "")
    if not match:
        raise ValueError(f"unexpected memory value {text!r}")
    return float(match.group(1).replace(",", ""))


def parse_item(raw: str | dict[str, Any]) -> ComputePrice | StoragePrice | None:
    """One price-list item -> a price we keep, or None when it is not one."""
    item = json.loads(raw) if isinstance(raw, str) else raw
    product = item.get("product", {})
    attrs = product.get("attributes", {})
    family = product.get("productFamily")
    region = attrs.get("regionCode")
    if not region:
        return None
    if family == "Storage" and attrs.get("volumeApiName") == "gp3":
        price = _on_demand_usd(item, "GB-Mo")
        return StoragePrice(region, price) if price else None
    if family not in ("Compute Instance", "Compute Instance (bare metal)"):
        return None
    wanted = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}
    if any(attrs.get(k) != v for k, v in wanted.items()):
        return None
    if attrs.get("licenseModel") not in (None, "No License required"):
        return None
    price = _on_demand_usd(item, "Hrs")
    if price is None:
        return None
    return ComputePrice(
        instance_type=attrs["instanceType"],
        region=region,
        usd_per_hour=price,
        vcpus=int(attrs["vcpu"]),
        memory_gib=_memory_gib(attrs["memory"]),
        gpus=int(attrs.get("gpu") or 0),
    )


def build_table(current: dict[str, Any], compute: list[ComputePrice], storage: list[StoragePrice],
                regions: list[str], price_date: str, source: str) -> tuple[dict[str, Any], list[str]]:
    """A new price table for the instance types of *current*; returns (table, notes about changes)."""
    notes: list[str] = []
    instances: dict[str, Any] = {}
    by_type: dict[str, dict[str, ComputePrice]] = {}
    for price in compute:
        if price.region in regions:
            by_type.setdefault(price.instance_type, {})[price.region] = price
    for name, old in current["instances"].items():
        found = by_type.get(name, {})
        if not found:
            notes.append(f"{name}: no price returned; kept the previous entry")
            instances[name] = old
            continue
        sample = next(iter(found.values()))
        entry = {**old, "vcpus": sample.vcpus, "memory_gib": sample.memory_gib, "gpus": sample.gpus,
                 "on_demand_usd_per_hour": {r: round(found[r].usd_per_hour, 6) for r in regions if r in found}}
        for region in regions:
            before = old.get("on_demand_usd_per_hour", {}).get(region)
            after = entry["on_demand_usd_per_hour"].get(region)
            if before != after:
                notes.append(f"{name} {region}: {before if before is not None else 'not sold'} -> "
                             f"{after if after is not None else 'not sold'}")
        instances[name] = entry
    gp3 = dict(current["ebs_gp3_usd_per_gb_month"])
    for volume in storage:
        if volume.region in regions and gp3.get(volume.region) != volume.usd_per_gb_month:
            notes.append(f"gp3 {volume.region}: {gp3.get(volume.region)} -> {volume.usd_per_gb_month}")
            gp3[volume.region] = volume.usd_per_gb_month
    table = {**current, "price_date": price_date, "source": source, "regions": regions,
             "ebs_gp3_usd_per_gb_month": {r: gp3[r] for r in regions if r in gp3},
             "instances": dict(sorted(instances.items()))}
    return table, notes
