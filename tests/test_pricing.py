import dataclasses

import pytest

from registry_tools.packs.loader import load_pack
from registry_tools.pricing.catalogue import Catalogue, PriceError
from registry_tools.pricing.cost import check_estimates, monthly_cost

from .conftest import REFERENCE_PACK


@pytest.fixture(scope="module")
def catalogue():
    return Catalogue.load()


def test_catalogue_is_dated_and_sourced(catalogue):
    assert catalogue.price_date == "2026-11-01"
    assert "aws.amazon.com" in catalogue.source
    assert set(catalogue.regions) == {"us-east-1", "us-east-2", "us-west-2", "eu-west-1"}


def test_every_type_has_positive_prices_only_in_known_regions(catalogue):
    for spec in catalogue.instances.values():
        assert spec.hourly_usd, spec.name
        assert set(spec.hourly_usd) <= set(catalogue.regions)
        assert all(price > 0 for price in spec.hourly_usd.values())
        assert spec.vcpus > 0 and spec.memory_gib > 0


def test_known_list_prices(catalogue):
    assert catalogue.hourly("m7i.2xlarge", "us-east-1") == pytest.approx(0.4032)
    assert catalogue.hourly("p4d.24xlarge", "us-east-1") == pytest.approx(21.96, rel=0.01)
    assert catalogue.gp3("us-east-1") == 0.08


def test_types_not_sold_in_a_region_are_refused(catalogue):
    with pytest.raises(PriceError, match="hpc6a.48xlarge is not sold in us-east-1"):
        catalogue.hourly("hpc6a.48xlarge", "us-east-1")
    with pytest.raises(PriceError, match="not in the price catalogue"):
        catalogue.hourly("m99.huge", "us-east-1")


def test_monthly_cost_formula(catalogue):
    assert monthly_cost(catalogue, "m7i.2xlarge", "us-east-1", 730, 200) == pytest.approx(0.4032 * 730 + 200 * 0.08)
    assert monthly_cost(catalogue, "m7i.2xlarge", "us-east-1", 100, 0) == pytest.approx(40.32)


def test_check_estimates_flags_a_wrong_cost():
    pack = load_pack(REFERENCE_PACK)
    assert check_estimates(Catalogue.load(), pack) == []
    wrong = dict(pack.cost_estimate.monthly_usd, standard=pack.cost_estimate.monthly_usd["standard"] * 1.10)
    bad = dataclasses.replace(pack, cost_estimate=dataclasses.replace(pack.cost_estimate, monthly_usd=wrong))
    mismatches = check_estimates(Catalogue.load(), bad)
    assert [m.size for m in mismatches] == ["standard"]
    assert "the price table gives $812.63" in str(mismatches[0])
