"""chart-values: a value the pinned chart does not have, or one its schema refuses."""

from __future__ import annotations

from tests.components.deployability.helpers import findings, only, release_values, render_of


def test_istiod_minimum_under_pilot_is_named_with_where_the_chart_reads_it():
    document = render_of("prod")
    values = release_values(document, "mesh-istiod")
    values["pilot"] = {"autoscaleMin": values.pop("autoscaleMin")}
    finding = only(document, "chart-values")
    assert finding.resource.startswith("Helm release istio-system/istiod (chart istiod 1.28.1)"), finding
    assert "values.pilot is not a value of the pinned chart (istiod/values.yaml)" in finding.message, finding
    assert "Helm ignores it silently" in finding.message and "'autoscaleMin' exists" in finding.message, finding


def test_a_misspelt_nested_key_gets_a_suggestion():
    document = render_of("prod")
    release_values(document, "cluster-lb-controller")["serviceAcount"] = {"create": True}
    finding = only(document, "chart-values")
    assert "values.serviceAcount" in finding.message and "did you mean 'serviceAccount'?" in finding.message, finding


def test_a_value_the_chart_schema_refuses_is_reported():
    document = render_of("prod")
    release_values(document, "mesh-ingress-gateway")["autoscaling"]["minReplicas"] = "two"
    finding = only(document, "chart-values")
    assert "values.autoscaling.minReplicas: 'two' is not of type 'integer'" in finding.message, finding
    assert "values.schema.json" in finding.message


def test_free_form_maps_take_any_key_and_a_chart_without_data_is_named():
    document = render_of("prod")
    release_values(document, "cluster-cluster-autoscaler")["extraArgs"]["max-node-provision-time"] = "10m"
    release_values(document, "mesh-ingress-gateway")["service"]["annotations"]["example.com/any"] = "x"
    assert findings(document, "chart-values") == []
    autoscaler = next(r for r in document["resources"] if r["name"] == "cluster-cluster-autoscaler")
    autoscaler["inputs"]["version"] = "9.99.0"
    finding = only(document, "chart-values")
    assert "no data for chart cluster-autoscaler 9.99.0" in finding.message, finding
