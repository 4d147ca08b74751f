"""The live-price path against recorded Price List responses, through botocore's Stubber (no network).

Responses have the shape of ``GetProducts`` answers: ``PriceList`` is a list of JSON strings, each
a product with its attributes and on-demand terms (the shape of botocore's own example for the
operation, which the first test parses as it ships).
"""

from __future__ import annotations

import datetime
import json
import shutil

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from components.cost.estimate import estimate
from components.cost.pricelist import PriceCache, PriceList, Query, parse_products, query_for, refresh_snapshot
from components.cost.prices import SNAPSHOT_PATH, PriceBook, load_snapshot
from tests.components.cost.stacks import rendered

REGION = "us-west-2"


def client():
    return boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def product(sku: str, usagetype: str, unit: str, *tiers: tuple[str, str], family: str = "Compute Instance") -> str:
    """One PriceList entry; ``tiers`` are (beginRange, USD) pairs."""
    dimensions = {
        f"{sku}.JRTCKXETXF.{i}": {
            "unit": unit,
            "beginRange": begin,
            "endRange": "Inf",
            "description": "recorded",
            "appliesTo": [],
            "rateCode": f"{sku}.JRTCKXETXF.{i}",
            "pricePerUnit": {"USD": usd},
        }
        for i, (begin, usd) in enumerate(tiers)
    }
    return json.dumps(
        {
            "product": {
                "productFamily": family,
                "attributes": {"usagetype": usagetype, "regionCode": REGION},
                "sku": sku,
            },
            "serviceCode": "recorded",
            "terms": {
                "OnDemand": {
                    f"{sku}.JRTCKXETXF": {
                        "priceDimensions": dimensions,
                        "sku": sku,
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "offerTermCode": "JRTCKXETXF",
                        "termAttributes": {},
                    }
                }
            },
            "version": "20261101000000",
            "publicationDate": "2026-11-01T00:00:00Z",
        }
    )


def params(key: str, token: str | None = None) -> dict:
    query = query_for(key, REGION)
    assert query is not None, f"{key} has no price-list query"
    out = {"ServiceCode": query.service, "Filters": query.api_filters(), "FormatVersion": "aws_v1", "MaxResults": 100}
    return {**out, "NextToken": token} if token else out


def test_parses_botocores_own_example_response():
    loader = botocore.session.get_session().get_component("data_loader")
    example = loader.load_service_model("pricing", "examples-1")["examples"]["GetProducts"][0]["output"]
    parsed = parse_products(example["PriceList"], Query("AmazonEC2", (), "EBS:VolumeUsage.piops"))
    assert parsed == (0.138, "GB-Mo", "2017-08-01", "WQGC34PB2AWS8R4U")


def test_instance_price_with_the_filters_sent():
    pricing = client()
    with Stubber(pricing) as stub:
        stub.add_response(
            "get_products",
            {
                "FormatVersion": "aws_v1",
                "PriceList": [product("SKU1", "USW2-BoxUsage:m6i.xlarge", "Hrs", ("0", "0.1920000000"))],
            },
            params("ec2/m6i.xlarge/hour"),
        )
        price = PriceList(pricing, REGION).lookup("ec2/m6i.xlarge/hour")
        stub.assert_no_pending_responses()
    assert (price.usd, price.unit, price.as_of, price.origin) == (0.192, "Hrs", "2026-11-01", "live")
    assert price.source == "AWS Price List API: AmazonEC2 sku SKU1"
    sent = dict(query_for("ec2/m6i.xlarge/hour", REGION).filters)
    assert sent["regionCode"] == REGION and sent["operatingSystem"] == "Linux" and sent["capacitystatus"] == "Used"


def test_usagetype_picks_the_charge_and_tiers_start_at_the_first_positive_one():
    pricing = client()
    nat = [
        product("HRS", "USW2-NatGateway-Hours", "Hrs", ("0", "0.045")),
        product("GB", "USW2-NatGateway-Bytes", "GB", ("0", "0.045")),
    ]
    transfer = [
        product(
            "OUT",
            "USW2-DataTransfer-Out-Bytes",
            "GB",
            ("0", "0.0000000000"),
            ("100", "0.0900000000"),
            ("10240", "0.0850000000"),
        )
    ]
    with Stubber(pricing) as stub:
        stub.add_response("get_products", {"PriceList": nat[:1], "NextToken": "page-2"}, params("vpc/nat-gateway-gb"))
        stub.add_response("get_products", {"PriceList": nat[1:]}, params("vpc/nat-gateway-gb", "page-2"))
        stub.add_response("get_products", {"PriceList": transfer}, params("transfer/internet-out-gb"))
        live = PriceList(pricing, REGION)
        assert live.lookup("vpc/nat-gateway-gb").source.endswith("sku GB")
        assert live.lookup("transfer/internet-out-gb").usd == 0.09
        stub.assert_no_pending_responses()


def test_s3_requests_are_priced_per_thousand():
    pricing = client()
    with Stubber(pricing) as stub:
        stub.add_response(
            "get_products",
            {"PriceList": [product("PUT", "USW2-Requests-Tier1", "Requests", ("0", "0.0000050000"))]},
            params("s3/put-1k"),
        )
        assert PriceList(pricing, REGION).lookup("s3/put-1k").usd == pytest.approx(0.005)


def test_estimate_on_live_prices_with_a_product_missing():
    """Every price the costs stack needs comes from the stubbed Price List; NAT bytes are missing."""
    spec, document, _ = rendered()["base"]
    order = list(estimate(spec, document, REGION, PriceBook.from_snapshot(REGION)).book.used)  # keys in the order asked
    snapshot = load_snapshot(REGION)
    pricing = client()
    with Stubber(pricing) as stub:
        for i, key in enumerate(order):
            query = query_for(key, REGION)
            if key == "vpc/nat-gateway-gb":
                stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []}, params(key))
                continue
            usd = 0.2 if key == "ec2/m6i.xlarge/hour" else snapshot[key].usd / query.multiplier
            stub.add_response(
                "get_products",
                {"PriceList": [product(f"S{i}", f"USW2-{query.usagetype_suffix or 'Usage'}", "Hrs", ("0", repr(usd)))]},
                params(key),
            )
        book = PriceBook.from_snapshot(REGION, live=PriceList(pricing, REGION))
        live = estimate(spec, document, REGION, book)
        stub.assert_no_pending_responses()
    summary = book.summary()
    assert summary["origins"] == ["live", "snapshot"] and summary["missingLive"] == ["vpc/nat-gateway-gb"]
    assert {p["key"]: p["origin"] for p in summary["prices"]}["vpc/nat-gateway-gb"] == "snapshot"
    items = {i.name: i.monthly for i in live.items}
    assert items["nodes/cluster-cpu"]["min"] == pytest.approx(3 * 730 * 0.2)
    assert items["nat/cluster-vpc/data"]["min"] == pytest.approx(100 * 0.045)


def test_a_refused_call_falls_back_to_the_snapshot():
    pricing = client()
    with Stubber(pricing) as stub:
        stub.add_client_error("get_products", service_error_code="AccessDeniedException", http_status_code=403)
        live = PriceList(pricing, REGION)
        book = PriceBook.from_snapshot(REGION, live=live)
        assert book.get("eks/cluster-hour").origin == "snapshot"
    assert book.summary()["missingLive"] == ["eks/cluster-hour"] and "AccessDeniedException" in live.errors[0]


def test_cache_answers_within_its_ttl(tmp_path):
    pricing = client()
    cache = PriceCache(tmp_path / "prices.json", today=datetime.date(2026, 12, 1))
    with Stubber(pricing) as stub:
        stub.add_response(
            "get_products",
            {"PriceList": [product("E", "USW2-AmazonEKS-Hours:perCluster", "Hours", ("0", "0.10"))]},
            params("eks/cluster-hour"),
        )
        assert PriceList(pricing, REGION, cache).lookup("eks/cluster-hour").origin == "live"
        # No response is queued: a second call would fail the stubber.
        assert PriceList(pricing, REGION, cache).lookup("eks/cluster-hour").origin == "cache"
    stale = PriceCache(tmp_path / "prices.json", today=datetime.date(2026, 12, 9))
    assert stale.get(REGION, "eks/cluster-hour") is None


def test_refresh_rewrites_the_snapshot_with_sources(tmp_path):
    path = tmp_path / "prices.json"
    shutil.copy(SNAPSHOT_PATH, path)
    pricing = client()
    with Stubber(pricing) as stub:
        for key in sorted(load_snapshot(REGION, path)):
            answer = (
                []
                if key == "cloudwatch/logs-ingest-gb"
                else [product("R", f"USW2-{query_for(key, REGION).usagetype_suffix or 'Usage'}", "Hrs", ("0", "1.5"))]
            )
            stub.add_response("get_products", {"PriceList": answer}, params(key))
        refreshed, missing = refresh_snapshot(REGION, PriceList(pricing, REGION), path)
    assert missing == ["cloudwatch/logs-ingest-gb"] and refreshed == len(load_snapshot(REGION, path)) - 1
    prices = load_snapshot(REGION, path)
    assert (
        prices["eks/cluster-hour"].source == "AWS Price List API: AmazonEKS sku R"
        and prices["eks/cluster-hour"].as_of == "2026-11-01"
    )
    assert prices["cloudwatch/logs-ingest-gb"].usd == 0.5  # kept, with its old source and date


def test_every_snapshot_key_has_a_query():
    assert [key for key in load_snapshot(REGION) if query_for(key, REGION) is None] == []
    assert query_for("elb/network-lcu-hour", REGION).usagetype_suffix == "LCUUsage"


def test_auto_goes_live_only_with_credentials(monkeypatch, tmp_path):
    from components.cost.cli import price_book

    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(var, raising=False)
    for var in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.setenv(var, str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("ML_SERVING_PRICE_CACHE", str(tmp_path / "cache.json"))
    assert price_book(REGION, "auto").live is None
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    book = price_book(REGION, "auto")
    assert isinstance(book.live, PriceList) and book.live.cache.path == tmp_path / "cache.json"
    assert price_book(REGION, "snapshot").live is None
