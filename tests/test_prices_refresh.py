"""Price refresh from the AWS Pricing API, driven by botocore's Stubber with recorded response shapes
(moto does not implement the Pricing API)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from registry_tools.pricing.catalogue import PRICE_FILE, Catalogue
from registry_tools.pricing.price_list import ComputePrice, StoragePrice, build_table, parse_item
from registry_tools.pricing.pricing_api import COMPUTE_FILTERS, fetch


def compute_item(instance_type, region, usd, vcpu="8", memory="32 GiB", gpu=None, **overrides):
    attrs = {"instanceType": instance_type, "regionCode": region, "vcpu": vcpu, "memory": memory,
             "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used",
             "licenseModel": "No License required", "location": "somewhere", "servicecode": "AmazonEC2"}
    if gpu:
        attrs["gpu"] = gpu
    attrs.update(overrides)
    sku = f"SKU{abs(hash((instance_type, region, usd))) % 10**8}"
    return json.dumps({
        "product": {"productFamily": "Compute Instance", "attributes": attrs, "sku": sku},
        "serviceCode": "AmazonEC2",
        "terms": {
            "OnDemand": {f"{sku}.JRTCKXETXF": {
                "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                    "unit": "Hrs", "endRange": "Inf", "beginRange": "0", "appliesTo": [],
                    "description": f"${usd} per On Demand Linux {instance_type} Instance Hour",
                    "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7", "pricePerUnit": {"USD": f"{usd:.10f}"}}},
                "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z", "offerTermCode": "JRTCKXETXF", "termAttributes": {}}},
            "Reserved": {f"{sku}.4NA7Y494T4": {"priceDimensions": {"x": {"unit": "Hrs", "pricePerUnit": {"USD": "0.1"}}}}},
        },
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z",
    })


def storage_item(region, usd):
    return json.dumps({
        "product": {"productFamily": "Storage", "sku": f"EBS{region}",
                    "attributes": {"regionCode": region, "volumeApiName": "gp3", "volumeType": "General Purpose"}},
        "terms": {"OnDemand": {"t": {"priceDimensions": {"d": {"unit": "GB-Mo", "pricePerUnit": {"USD": str(usd)}}}}}},
    })


def test_parse_keeps_only_on_demand_linux_shared():
    price = parse_item(compute_item("m7i.2xlarge", "us-east-1", 0.4032))
    assert price == ComputePrice("m7i.2xlarge", "us-east-1", 0.4032, 8, 32.0, 0)
    assert parse_item(compute_item("m7i.2xlarge", "us-east-1", 0.5, operatingSystem="Windows")) is None
    assert parse_item(compute_item("m7i.2xlarge", "us-east-1", 0.5, tenancy="Dedicated")) is None
    assert parse_item(compute_item("m7i.2xlarge", "us-east-1", 0.5, capacitystatus="UnusedCapacityReservation")) is None
    assert parse_item(compute_item("p4d.24xlarge", "us-east-1", 21.9576, vcpu="96", memory="1,152 GiB", gpu="8")).memory_gib == 1152
    assert parse_item(storage_item("eu-west-1", 0.088)) == StoragePrice("eu-west-1", 0.088)


def test_build_table_reports_changes_and_drops_unsold_regions():
    current = json.loads(PRICE_FILE.read_text())
    compute = [ComputePrice("m7i.2xlarge", r, 0.4100 if r == "us-east-1" else 0.4032, 8, 32.0, 0)
               for r in ("us-east-1", "us-east-2", "us-west-2")]
    table, notes = build_table(current, compute, [StoragePrice("us-east-1", 0.08)],
                               ["us-east-1", "us-east-2", "us-west-2", "eu-west-1"], "2026-12-01", "test")
    entry = table["instances"]["m7i.2xlarge"]
    assert entry["on_demand_usd_per_hour"] == {"us-east-1": 0.41, "us-east-2": 0.4032, "us-west-2": 0.4032}
    assert "m7i.2xlarge us-east-1: 0.4032 -> 0.41" in notes
    assert "m7i.2xlarge eu-west-1: 0.448 -> not sold" in notes
    assert table["price_date"] == "2026-12-01"
    assert any("no price returned; kept the previous entry" in n for n in notes)  # every other type
    Catalogue.from_mapping(table)  # still a valid catalogue


def test_fetch_pages_through_get_products_with_stubber():
    client = boto3.client("pricing", region_name="us-east-1")
    filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v}
               for k, v in {"instanceType": "g5.xlarge", **COMPUTE_FILTERS}.items()]
    with Stubber(client) as stub:
        stub.add_response("get_products",
                          {"FormatVersion": "aws_v1", "NextToken": "page2",
                           "PriceList": [compute_item("g5.xlarge", "us-east-1", 1.006, vcpu="4", memory="16 GiB", gpu="1"),
                                         compute_item("g5.xlarge", "ap-south-1", 1.2, vcpu="4", memory="16 GiB", gpu="1")]},
                          {"ServiceCode": "AmazonEC2", "FormatVersion": "aws_v1", "Filters": filters})
        stub.add_response("get_products",
                          {"FormatVersion": "aws_v1",
                           "PriceList": [compute_item("g5.xlarge", "eu-west-1", 1.123, vcpu="4", memory="16 GiB", gpu="1")]},
                          {"ServiceCode": "AmazonEC2", "FormatVersion": "aws_v1", "Filters": filters, "NextToken": "page2"})
        stub.add_response("get_products",
                          {"FormatVersion": "aws_v1", "PriceList": [storage_item("us-east-1", 0.08), storage_item("eu-west-1", 0.088)]},
                          {"ServiceCode": "AmazonEC2", "FormatVersion": "aws_v1",
                           "Filters": [{"Type": "TERM_MATCH", "Field": "productFamily", "Value": "Storage"},
                                       {"Type": "TERM_MATCH", "Field": "volumeApiName", "Value": "gp3"}]})
        compute, storage = fetch(client, ["g5.xlarge"], ["us-east-1", "eu-west-1"])
        stub.assert_no_pending_responses()
    assert sorted((p.region, p.usd_per_hour, p.gpus) for p in compute) == [("eu-west-1", 1.123, 1), ("us-east-1", 1.006, 1)]
    assert sorted(storage, key=lambda s: s.region) == [StoragePrice("eu-west-1", 0.088), StoragePrice("us-east-1", 0.08)]


def test_api_errors_surface_cleanly():
    from registry_tools.aws.adapter import AwsError, call

    client = boto3.client("pricing", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("get_products", service_error_code="AccessDeniedException",
                              service_message="not authorized to perform pricing:GetProducts")
        with pytest.raises(AwsError, match="AccessDeniedException: not authorized"):
            call(lambda: fetch(client, ["m7i.large"], ["us-east-1"]))
