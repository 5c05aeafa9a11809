"""Cost maths. Pure functions over the catalogue; no I/O.

monthly = on-demand hourly x hours per month + gp3 storage GiB x GB-month price.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry_tools.packs.model import Pack, Size
from registry_tools.pricing.catalogue import Catalogue, PriceError

HOURS_PER_MONTH_ALWAYS_ON = 730
TOLERANCE = 0.05


def monthly_cost(catalogue: Catalogue, instance_type: str, region: str, hours_per_month: float, storage_gib: float) -> float:
    return catalogue.hourly(instance_type, region) * hours_per_month + storage_gib * catalogue.gp3(region)


def size_monthly_cost(catalogue: Catalogue, pack: Pack, size: Size, region: str | None = None) -> float:
    est = pack.cost_estimate
    return monthly_cost(catalogue, size.instance_type, region or est.region, est.hours_per_month, size.storage_gib)


@dataclass(frozen=True)
class CostMismatch:
    size: str
    declared: float
    computed: float | None
    reason: str

    def __str__(self) -> str:
        return f"size {self.size}: {self.reason}"


def check_estimates(catalogue: Catalogue, pack: Pack, tolerance: float = TOLERANCE) -> list[CostMismatch]:
    """Sizes whose declared monthly cost is off by more than *tolerance*."""
    out: list[CostMismatch] = []
    for size in pack.sizes:
        declared = pack.cost_estimate.monthly_usd.get(size.name)
        try:
            computed = size_monthly_cost(catalogue, pack, size)
        except PriceError as exc:
            out.append(CostMismatch(size.name, declared or 0.0, None, str(exc)))
            continue
        if declared is None:
            continue
        if computed == 0 or abs(declared - computed) / computed > tolerance:
            out.append(CostMismatch(
                size.name, declared, computed,
                f"declared ${declared:,.2f}/month but the price table gives ${computed:,.2f} "
                f"({size.instance_type} x {pack.cost_estimate.hours_per_month:g} h + {size.storage_gib} GiB gp3 "
                f"in {pack.cost_estimate.region}, prices of {catalogue.price_date})",
            ))
    return out
