"""Cost maths. Pure functions over the catalogue; no I/O.

monthly = on-demand hourly x hours per month + gp3 storage GiB x GB-month price.

The schema bounds every input (hours, storage, declared costs) and the loader
refuses NaN, infinities and huge integers, so these sums stay finite; still,
a result that is not a finite number, or inputs that cannot be converted
(``OverflowError``), are a ``CostMismatch`` with the reason, never an
exception or a silent pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from registry_tools.packs.model import Pack, Size
from registry_tools.pricing.catalogue import Catalogue, PriceError

HOURS_PER_MONTH = 730.0  # AWS's convention for monthly prices (24 x 365 / 12)
TOLERANCE = 0.05


class CostOverflow(PriceError):
    """The prices are known but the pack's numbers give no finite monthly cost."""


def monthly_cost(catalogue: Catalogue, instance_type: str, region: str, hours_per_month: float, storage_gib: float) -> float:
    """Raises ``PriceError`` when a price is unknown or the inputs give no finite cost."""
    try:
        cost = catalogue.hourly(instance_type, region) * float(hours_per_month) + float(storage_gib) * catalogue.gp3(region)
    except OverflowError:
        cost = math.inf
    if not math.isfinite(cost):
        raise CostOverflow(f"no finite monthly cost for {instance_type} x {hours_per_month!s:.20} h + "
                         f"{storage_gib!s:.20} GiB gp3 in {region}")
    return cost


def size_monthly_cost(catalogue: Catalogue, pack: Pack, size: Size, region: str | None = None) -> float:
    est = pack.cost_estimate
    return monthly_cost(catalogue, size.instance_type, region or est.region, est.hours_per_month, size.storage_gib)


def _usd(amount: float) -> str:
    """$1,234.56, or $1.06e+308 for amounts no one would write out."""
    return f"${amount:,.2f}" if abs(amount) < 1e15 else f"${amount:.3g}"


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
        except CostOverflow as exc:  # a cost error, unlike an unknown price (reported as such by the caller)
            out.append(CostMismatch(size.name, declared or 0.0, math.inf, str(exc)))
            continue
        except PriceError as exc:
            out.append(CostMismatch(size.name, declared or 0.0, None, str(exc)))
            continue
        if declared is None:
            continue
        if not math.isfinite(declared):
            out.append(CostMismatch(size.name, declared, computed,
                                    f"declared ${declared}/month is not a finite number; the price table gives {_usd(computed)}"))
            continue
        if computed == 0 or abs(declared - computed) / computed > tolerance:
            out.append(CostMismatch(
                size.name, declared, computed,
                f"declared {_usd(declared)}/month but the price table gives {_usd(computed)} "
                f"({size.instance_type} x {pack.cost_estimate.hours_per_month:g} h + {size.storage_gib} GiB gp3 "
                f"in {pack.cost_estimate.region}, prices of {catalogue.price_date})",
            ))
    return out


@dataclass(frozen=True)
class Rates:
    """What a session costs per hour: the instance (while running) and its storage (always)."""

    instance_hourly: float
    storage_hourly: float

    def projected_monthly(self, running: bool = True) -> float:
        return round(((self.instance_hourly if running else 0.0) + self.storage_hourly) * HOURS_PER_MONTH, 2)


def rates_for(catalogue: Catalogue, instance_type: str, region: str, storage_gib: float) -> Rates:
    """Rates from the price table (``PriceError`` for an unknown type or region)."""
    return Rates(catalogue.hourly(instance_type, region), storage_gib * catalogue.gp3(region) / HOURS_PER_MONTH)
