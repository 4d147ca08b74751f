"""Helm releases: one chart version, pinned images in the values."""

from __future__ import annotations

import pytest

from policies.charts import HELM_RELEASE, chart_pinned, value_images
from tests.policies.builders import resource_args, run


def release(version, values=None):
    return resource_args(HELM_RELEASE, "mesh-istiod", {"chart": "istiod", "version": version, "values": values or {}})


@pytest.mark.parametrize("version", ["1.28.1", "v0.16.0", "9.52.1", "1.0.0-rc.1"])
def test_exact_versions_pass(version):
    assert not run(chart_pinned, release(version))


@pytest.mark.parametrize("version", [None, "", "^1.28", "~1.28.0", ">=1.0.0", "1.x", "latest", "1.28"])
def test_missing_or_floating_versions_are_reported(version):
    reports = run(chart_pinned, release(version))
    assert len(reports) == 1 and "not one released chart version" in reports.messages[0]


def test_images_the_values_set_must_be_pinned():
    values = {
        "global": {"hub": "docker.io/istio"},
        "pilot": {"image": "docker.io/istio/pilot:latest"},
        "controller": {"image": {"repository": "kserve/kserve-controller", "tag": ""}},
        "sidecar": {"image": {"repository": "quay.io/x/y", "digest": "sha256:" + "a" * 64}},
        "tolerations": [{"image": "busybox"}],
    }
    assert sorted(value_images("", values)) == [
        ("controller.image", "kserve/kserve-controller"),
        ("pilot.image", "docker.io/istio/pilot:latest"),
        ("sidecar.image", "quay.io/x/y@sha256:" + "a" * 64),
        ("tolerations[0].image", "busybox"),
    ]
    reports = run(chart_pinned, release("1.28.1", values))
    assert [m.split(" sets ")[1].split(" to ")[0] for m in reports.messages] == [
        "values.pilot.image",
        "values.controller.image",
        "values.tolerations[0].image",
    ]


def test_releases_of_the_shipped_prod_render_are_pinned():
    from tests.components.renders import stack_renders

    releases = [r for r in stack_renders()["prod"]["resources"] if r["type"] == HELM_RELEASE]
    assert {r["inputs"]["chart"].rsplit("/", 1)[-1] for r in releases} >= {
        "cert-manager",
        "istiod",
        "kserve",
        "cluster-autoscaler",
    }
    for r in releases:
        assert not run(chart_pinned, resource_args(HELM_RELEASE, r["name"], r["inputs"])), r["urn"]
