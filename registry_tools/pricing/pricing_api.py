"""Fetch prices from the AWS Pricing API (boto3 ``pricing.get_products``).

The Pricing API lives in us-east-1 (and ap-south-1); moto does not implement
it, so tests drive this module with botocore's Stubber. One paginated call per
instance type, one for gp3 storage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from registry_tools.pricing.price_list import ComputePrice, StoragePrice, parse_item

PRICING_REGION = "us-east-1"
COMPUTE_FILTERS = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
    "licenseModel": "No License required",
}


def _filters(**fields: str) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in fields.items()]


def pricing_client(profile: str | None = None) -> Any:
    """A Pricing API client with *profile*'s credentials (None: AWS_PROFILE, else the default chain)."""
    import boto3
    from botocore.config import Config

    return boto3.Session(profile_name=profile).client(
        "pricing", region_name=PRICING_REGION, config=Config(retries={"max_attempts": 5, "mode": "adaptive"}, read_timeout=60))


def fetch(client: Any, instance_types: Iterable[str], regions: list[str],
          progress: Callable[[str], None] | None = None) -> tuple[list[ComputePrice], list[StoragePrice]]:
    compute: list[ComputePrice] = []
    storage: list[StoragePrice] = []
    paginator = client.get_paginator("get_products")
    for name in instance_types:
        if progress:
            progress(name)
        for page in paginator.paginate(ServiceCode="AmazonEC2", FormatVersion="aws_v1",
                                       Filters=_filters(instanceType=name, **COMPUTE_FILTERS)):
            for raw in page.get("PriceList", []):
                price = parse_item(raw)
                if isinstance(price, ComputePrice) and price.region in regions:
                    compute.append(price)
    for page in paginator.paginate(ServiceCode="AmazonEC2", FormatVersion="aws_v1",
                                   Filters=_filters(productFamily="Storage", volumeApiName="gp3")):
        for raw in page.get("PriceList", []):
            price = parse_item(raw)
            if isinstance(price, StoragePrice) and price.region in regions:
                storage.append(price)
    return compute, storage
