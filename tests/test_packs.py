"""Every pack in domains/ loads, matches the schema and is internally consistent."""

from __future__ import annotations

import os

import pytest

from registry_tools.packs.loader import load_pack_files
from registry_tools.packs.model import COMMUNITY, OFFICIAL
from registry_tools.packs.repository import LATEST_LINK, discover
from registry_tools.pricing.catalogue import Catalogue
from registry_tools.validation.semantics import check_pack

from .conftest import DOMAINS, all_version_dirs, version_id

VERSION_DIRS = all_version_dirs()


def test_catalog_has_15_official_and_8_community_packs():
    sources = discover(DOMAINS)
    official = [s.name for s in sources if s.trust == OFFICIAL]
    community = [s.name for s in sources if s.trust == COMMUNITY]
    assert len(official) == 15, official
    assert len(community) == 8, community
    assert len(set(official) | set(community)) == 23


def test_at_least_five_packs_have_several_versions():
    multi = [s.name for s in discover(DOMAINS) if len(s.versions) >= 2]
    assert len(multi) >= 5, multi


@pytest.mark.parametrize("source", discover(DOMAINS), ids=lambda s: s.name)
def test_latest_points_at_highest_version(source):
    link = source.directory / LATEST_LINK
    assert link.is_symlink(), f"{source.directory} has no latest symlink"
    assert os.readlink(link) == source.versions[-1][1].name


@pytest.mark.parametrize("version_dir", VERSION_DIRS, ids=version_id)
def test_pack_loads_and_passes_semantic_checks(version_dir):
    loaded = load_pack_files(version_dir)
    findings = check_pack(loaded, Catalogue.load(), version_dir)
    errors = [str(f) for f in findings if f.severity == "error"]
    assert errors == []
    pack = loaded.pack
    assert pack.trust == (COMMUNITY if version_dir.parent.parent.name == "community" else OFFICIAL)
    assert all(source.location.startswith("s3://") for source in pack.data_sources)


@pytest.mark.parametrize("version_dir", VERSION_DIRS, ids=version_id)
def test_cost_estimates_agree_with_price_table_within_5_percent(version_dir):
    from registry_tools.pricing.cost import size_monthly_cost

    loaded = load_pack_files(version_dir)
    catalogue = Catalogue.load()
    for size in loaded.pack.sizes:
        computed = size_monthly_cost(catalogue, loaded.pack, size)
        declared = loaded.pack.cost_estimate.monthly_usd[size.name]
        assert abs(declared - computed) / computed <= 0.05, (size.name, declared, computed)


def test_multi_version_packs_really_differ():
    for source in discover(DOMAINS):
        if len(source.versions) < 2:
            continue
        texts = [(path / "domain.yaml").read_text() for _, path in source.versions]
        softwares = [load_pack_files(path).pack.software for _, path in source.versions]
        assert len({repr(dict(s)) for s in softwares}) == len(softwares), f"{source.name}: versions share one software stack"
        assert len(set(texts)) == len(texts)
