"""volume-binding and storage-uri: claims bind on EKS; predictors can fetch what they name."""

from __future__ import annotations

from tests.components.deployability.helpers import findings, only, release_values, render_of, resource

_CLASS = ("kubernetes:storage.k8s.io/v1:StorageClass", "cluster-ebs-class")
_ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"


def test_without_a_storage_class_every_claim_of_the_stack_stays_pending():
    document = render_of("dev")
    document["resources"] = [r for r in document["resources"] if (r["type"], r["name"]) != _CLASS]
    found = findings(document, "volume-binding")
    where = sorted(f.resource.split(" (")[0] for f in found)
    assert where == [
        "PersistentVolumeClaim ml-serving/ml-serving-drift-state",
        "StatefulSet ml-serving/mlflow-postgres",
    ], where
    assert all("StorageClass 'gp3', which the stack does not create" in f.message for f in found)


def test_claims_without_a_class_need_a_default_one():
    document = render_of("prod")
    claim = resource(document, "kubernetes:core/v1:PersistentVolumeClaim", "drift-state")
    del claim["inputs"]["spec"]["storageClassName"]
    assert findings(document, "volume-binding") == []  # gp3 is marked default
    storage_class = resource(document, *_CLASS)
    storage_class["inputs"]["metadata"]["annotations"] = {}
    finding = only(document, "volume-binding")
    assert "names no StorageClass and the stack marks none default" in finding.message, finding


def test_a_class_whose_provisioner_is_not_installed_is_named():
    document = render_of("prod")
    document["resources"] = [r for r in document["resources"] if r["type"] != "aws:eks/addon:Addon"]
    finding = only(document, "volume-binding")
    assert "provisioner ebs.csi.aws.com is not installed" in finding.message, finding


def test_a_claim_that_does_not_wait_for_its_class_is_named():
    document = render_of("prod")
    claim = resource(document, "kubernetes:core/v1:PersistentVolumeClaim", "drift-state")
    class_urn = resource(document, *_CLASS)["urn"]
    claim["dependencies"] = [d for d in claim["dependencies"] if d != class_urn]
    finding = only(document, "volume-binding")
    assert "without waiting for StorageClass 'gp3'" in finding.message, finding


def test_an_mlflow_artifacts_uri_cannot_be_downloaded():
    document = render_of("local")
    isvc = resource(document, _ISVC, "rollout-fraud-v1-isvc")
    isvc["inputs"]["spec"]["predictor"]["model"]["storageUri"] = "mlflow-artifacts:/1/models/m-1/artifacts"
    finding = only(document, "storage-uri")
    assert finding.resource.startswith("InferenceService ml-serving/fraud-v1"), finding
    assert "scheme KServe's storage initializer does not download" in finding.message and "s3://" in finding.message


def test_a_pvc_uri_names_a_claim_of_the_stack():
    document = render_of("local")
    assert all(
        r["inputs"]["spec"]["predictor"]["model"]["storageUri"].startswith("pvc://mlflow-data/artifacts/")
        for r in document["resources"]
        if r["type"] == _ISVC
    )
    isvc = resource(document, _ISVC, "rollout-fraud-v2-isvc")
    isvc["inputs"]["spec"]["predictor"]["model"]["storageUri"] = "pvc://models/fraud"
    finding = only(document, "storage-uri")
    assert "names claim 'models', which the stack does not create in namespace ml-serving" in finding.message, finding


def test_an_s3_download_behind_a_plain_sidecar_is_named():
    document = render_of("prod")
    release_values(document, "mesh-istiod").pop("env")
    found = findings(document, "storage-uri")
    assert found and all("storage-initializer init container" in f.message for f in found), found
    assert {f.resource.split(" (")[0] for f in found} >= {
        "InferenceService ml-serving/fraud-v5",
        "InferenceService ml-serving/vision-champion",
    }
