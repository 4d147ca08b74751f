"""The estimate as an HTML page: bars on one scale, the items, every figure escaped."""

from __future__ import annotations

import re

from components.cost.html import stacked_bars, to_html
from tests.components.cost.test_diff import estimate_of


def test_page_has_both_charts_and_the_totals():
    page = to_html(estimate_of("base"))
    assert page.count("<svg ") == 2 and "<h2>Per model (expected)</h2>" in page
    assert '<th class="n">1,042.02</th><th class="n">1,042.02</th><th class="n">2,966.26</th>' in page
    assert "$2,966.26</text>" in page and "Kubernetes 1.32 left EKS standard support" in page


def test_bars_share_one_scale_and_escape_labels():
    svg = stacked_bars([("a<b", {"x": 100.0, "y": 100.0}), ("c", {"x": 50.0})], ["x", "y"], width=300)
    widths = [float(w) for w in re.findall(r'<rect x="[^"]+" y="[^"]+" width="([^"]+)"', svg)]
    assert widths[0] == widths[1] and widths[2] == widths[0] / 2  # 100, 100, then 50 of the longest bar's 200
    assert "a&lt;b" in svg and "a<b" not in svg
