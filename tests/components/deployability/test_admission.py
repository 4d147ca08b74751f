"""kserve-runtime-admission: the runtime webhook's priority rules, the chart's built-ins included."""

from __future__ import annotations

from components.deployability.admission import builtin_runtimes
from components.deployability.render_view import RenderView
from tests.components.deployability.helpers import findings, only, release_values, render_of, resource

_RUNTIME = "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime"


def _formats(document: dict) -> list[dict]:
    return resource(document, _RUNTIME, "serving-runtime")["inputs"]["spec"]["supportedModelFormats"]


def test_the_chart_builtins_are_read_from_the_pinned_template_with_their_switches():
    runtimes = {r["metadata"]["name"]: r["spec"] for r in builtin_runtimes(RenderView(render_of("prod")))}
    assert "kserve-mlserver" in runtimes and "kserve-sklearnserver" in runtimes, sorted(runtimes)
    assert runtimes["kserve-mlserver"]["disabled"] is True  # the stack switches it off
    assert runtimes["kserve-sklearnserver"]["disabled"] is False
    assert {"name": "mlflow", "version": "2", "autoSelect": True, "priority": 1} in runtimes["kserve-mlserver"][
        "supportedModelFormats"
    ]


def test_mlserver_left_on_with_our_runtime_at_its_priority_is_denied():
    document = render_of("local")
    release_values(document, "serving-kserve")["kserve"].pop("servingruntime")
    _formats(document)[0]["priority"] = 1
    finding = only(document, "kserve-runtime-admission")
    assert finding.resource.startswith("ClusterServingRuntime ml-serving-mlflow"), finding
    assert "'kserve-mlserver' also auto-selects mlflow v2 at priority 1" in finding.message, finding
    assert "failurePolicy Fail" in finding.message and "every InferenceService on it" in finding.message


def test_a_distinct_priority_or_a_disabled_builtin_is_admitted():
    document = render_of("local")
    release_values(document, "serving-kserve")["kserve"].pop("servingruntime")  # mlserver on, our priority differs
    assert findings(document, "kserve-runtime-admission") == []
    document = render_of("local")
    _formats(document)[0]["priority"] = 1  # same priority, but mlserver is disabled
    assert findings(document, "kserve-runtime-admission") == []


def test_no_shared_protocol_means_no_clash():
    document = render_of("local")
    release_values(document, "serving-kserve")["kserve"].pop("servingruntime")
    _formats(document)[0]["priority"] = 1
    resource(document, _RUNTIME, "serving-runtime")["inputs"]["spec"]["protocolVersions"] = [
        "v1"
    ]  # mlserver is v2 only
    assert findings(document, "kserve-runtime-admission") == []


def test_one_runtime_with_two_priorities_for_one_format_is_denied():
    document = render_of("local")
    _formats(document).append({"name": "mlflow", "version": "1", "autoSelect": True, "priority": 3})
    finding = only(document, "kserve-runtime-admission")
    assert "different priorities assigned for the model format mlflow" in finding.message, finding


def test_an_inference_service_on_a_runtime_nobody_creates_is_named():
    document = render_of("local")
    isvc = resource(document, "kubernetes:serving.kserve.io/v1beta1:InferenceService", "rollout-fraud-v1-isvc")
    isvc["inputs"]["spec"]["predictor"]["model"]["runtime"] = "kserve-mlserver"  # disabled by the stack
    finding = only(document, "kserve-runtime-admission")
    assert (
        finding.resource.startswith("InferenceService ml-serving/fraud-v1") and "'kserve-mlserver'" in finding.message
    ), finding
