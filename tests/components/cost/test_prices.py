"""The shipped price snapshot: every figure has a source and a date; the book says what it used."""

from __future__ import annotations

import datetime
import json

import pytest

from components.cost.prices import SNAPSHOT_PATH, Price, PriceBook
from runtime.errors import MLServingError


def test_every_snapshot_figure_has_a_source_and_a_date():
    document = json.loads(SNAPSHOT_PATH.read_text())
    assert "not fetched from the Price List API" in document["about"] and "--refresh-prices" in document["about"]
    for region, entries in document["regions"].items():
        assert entries, region
        for key, entry in entries.items():
            assert entry["usd"] > 0 and entry["unit"], key
            assert entry["source"].startswith("https://aws.amazon.com/") or "Price List" in entry["source"], key
            datetime.date.fromisoformat(entry["asOf"])


def test_book_reports_which_prices_it_used_and_from_when():
    book = PriceBook.from_snapshot("us-west-2")
    assert book.get("ec2/m6i.xlarge/hour").usd == 0.192
    book.get("eks/cluster-hour")
    summary = book.summary()
    assert summary["origins"] == ["snapshot"] and summary["live"] is None
    assert [p["key"] for p in summary["prices"]] == ["ec2/m6i.xlarge/hour", "eks/cluster-hour"]
    assert summary["asOf"]["oldest"] <= summary["asOf"]["newest"]


def test_missing_price_and_region_are_named():
    book = PriceBook.from_snapshot("us-west-2")
    with pytest.raises(MLServingError, match="no price for ec2/x9.huge/hour in us-west-2"):
        book.get("ec2/x9.huge/hour")
    with pytest.raises(
        MLServingError, match=r"no figures for region 'ap-south-7'.*--refresh-prices --region ap-south-7"
    ):
        PriceBook.from_snapshot("ap-south-7")


class _Live:
    description = "stub"

    def __init__(self, known: dict[str, float]) -> None:
        self.known = known

    def lookup(self, key: str) -> Price | None:
        usd = self.known.get(key)
        return None if usd is None else Price(key, usd, "hour", "stub", "2026-11-01", "live")


def test_live_first_then_snapshot_for_what_it_lacks():
    book = PriceBook.from_snapshot("us-west-2", live=_Live({"eks/cluster-hour": 0.11}))
    assert book.get("eks/cluster-hour").origin == "live"
    assert book.get("ec2/m6i.xlarge/hour").origin == "snapshot"
    summary = book.summary()
    assert summary["origins"] == ["live", "snapshot"] and summary["missingLive"] == ["ec2/m6i.xlarge/hour"]
