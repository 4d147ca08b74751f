"""Rules ``volume-binding`` and ``storage-uri``: claims bind, and predictors can fetch their models.

``volume-binding``: on EKS every PersistentVolumeClaim (and StatefulSet claim template) names a
StorageClass the stack creates, or relies on one it marks default (EKS 1.30+ has none of its
own); the class's provisioner is installed (``ebs.csi.aws.com``: the EBS CSI add-on or chart);
and the workload is created after the class. Otherwise the claim stays Pending and so does its
pod. On an existing cluster a claim without a class uses that cluster's default, which the
render cannot see.

``storage-uri``: an InferenceService's ``storageUri`` uses a scheme KServe's storage initializer
downloads (``SupportedStorageURIPrefixList`` in ``pkg/controller/v1beta1/inferenceservice/utils/
utils.go`` at v0.16.0, and ``kserve_storage.Storage.download``); a ``pvc://`` claim exists in the
predictor's namespace. A download runs in the ``storage-initializer`` init container: in a
namespace with Istio sidecar injection it has network only when istiod injects native sidecars
(``ENABLE_NATIVE_SIDECARS``, which Istio 1.27+ turns on by itself only for kubelets 1.33+), since
a plain sidecar starts after the init containers while its traffic capture is already in place.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from components.deployability.charts import effective_values
from components.deployability.render_view import Finding, RenderView, label

__all__ = ["STORAGE_URI_PREFIXES", "volume_binding", "storage_uri"]

STORAGE_URI_PREFIXES = (
    "gs://",
    "s3://",
    "pvc://",
    "file://",
    "https://",
    "http://",
    "hdfs://",
    "webhdfs://",
    "oci://",
    "hf://",
)
_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
_PROVISIONERS = {"ebs.csi.aws.com": ("aws:eks/addon:Addon", "aws-ebs-csi-driver")}


def _claims(view: RenderView) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(URN of the object, its label, claim spec) of every claim, templates included."""
    for urn, manifest in view.of_kind("PersistentVolumeClaim"):
        yield urn, label(manifest, urn), manifest.get("spec") or {}
    for urn, manifest in view.of_kind("StatefulSet"):
        for template in (manifest.get("spec") or {}).get("volumeClaimTemplates") or []:
            name = (template.get("metadata") or {}).get("name")
            yield urn, f"{label(manifest, urn)} claim template '{name}'", template.get("spec") or {}


def _provisioner_installed(view: RenderView, provisioner: str) -> bool:
    kind, name = _PROVISIONERS.get(provisioner, (None, None))
    if kind and any((r.get("inputs") or {}).get("addonName") == name for r in view.of_type(kind)):
        return True
    return any(r.chart == name for r in view.releases) if name else False


def volume_binding(view: RenderView) -> list[Finding]:
    if not view.is_eks:
        return []
    classes = {(m.get("metadata") or {}).get("name"): (urn, m) for urn, m in view.of_kind("StorageClass")}
    defaults = [
        n
        for n, (_, m) in classes.items()
        if ((m.get("metadata") or {}).get("annotations") or {}).get(_DEFAULT_CLASS) == "true"
    ]
    findings = []
    for urn, where, spec in _claims(view):
        name = spec.get("storageClassName") or (defaults[0] if len(defaults) == 1 else None)
        if name is None:
            findings.append(
                Finding(
                    "volume-binding",
                    where,
                    "names no StorageClass and the stack marks none default (EKS 1.30+ has no "
                    "default class): the claim stays Pending and so does its pod; fix: create a default class "
                    "(e.g. encrypted gp3 on the EBS CSI driver) or name one",
                )
            )
            continue
        if name not in classes:
            findings.append(
                Finding(
                    "volume-binding",
                    where,
                    f"names StorageClass '{name}', which the stack does not create: the claim "
                    "stays Pending; fix: create that class or name one the stack creates",
                )
            )
            continue
        class_urn, storage_class = classes[name]
        provisioner = storage_class.get("provisioner", "")
        if not _provisioner_installed(view, provisioner):
            findings.append(
                Finding(
                    "volume-binding",
                    where,
                    f"binds with StorageClass '{name}', whose provisioner {provisioner} is not "
                    "installed by the stack: no volume is ever created; fix: install its CSI driver (the EKS add-on "
                    "aws-ebs-csi-driver with an IRSA role for ebs.csi.aws.com)",
                )
            )
        if class_urn not in view.waits_for(urn):
            findings.append(
                Finding(
                    "volume-binding",
                    where,
                    f"is created without waiting for StorageClass '{name}': on the first run "
                    "the claim can be admitted before the class exists; fix: depend on the class",
                )
            )
    return findings


def _native_sidecars(view: RenderView) -> bool:
    istiod = view.release("istiod")
    env = (effective_values(istiod).get("env") or {}) if istiod else {}
    return str(env.get("ENABLE_NATIVE_SIDECARS", "")).lower() == "true"


def storage_uri(view: RenderView) -> list[Finding]:
    findings = []
    native = _native_sidecars(view)
    claims = {
        ((m.get("metadata") or {}).get("namespace"), (m.get("metadata") or {}).get("name"))
        for _, m in view.of_kind("PersistentVolumeClaim")
    }
    for urn, isvc in view.of_kind("InferenceService"):
        predictor = (isvc.get("spec") or {}).get("predictor") or {}
        uri = (predictor.get("model") or {}).get("storageUri") or predictor.get("storageUri")
        if not isinstance(uri, str):
            continue
        if not uri.startswith(STORAGE_URI_PREFIXES):
            findings.append(
                Finding(
                    "storage-uri",
                    label(isvc, urn),
                    f"storageUri '{uri}' has a scheme KServe's storage initializer does not download (it knows "
                    f"{', '.join(STORAGE_URI_PREFIXES)}): the init container fails and the predictor never starts; "
                    "fix: resolve the URI to where the artifacts are (s3://<bucket>/..., or pvc://<claim>/...)",
                )
            )
        elif (
            not uri.startswith("pvc://")
            and (isvc.get("metadata") or {}).get("namespace") in view.injected_namespaces
            and not native
        ):
            findings.append(
                Finding(
                    "storage-uri",
                    label(isvc, urn),
                    f"downloads '{uri}' in KServe's storage-initializer init container, in a namespace with Istio "
                    "sidecar injection but without native sidecars: the capture sends its traffic to a proxy that "
                    "has not started, the download fails and the predictor never starts; fix: istiod values "
                    'env.ENABLE_NATIVE_SIDECARS "true" (Kubernetes 1.29+)',
                )
            )
        elif uri.startswith("pvc://"):
            claim = uri.removeprefix("pvc://").split("/", 1)[0]
            namespace = (isvc.get("metadata") or {}).get("namespace")
            if (namespace, claim) not in claims:
                findings.append(
                    Finding(
                        "storage-uri",
                        label(isvc, urn),
                        f"storageUri '{uri}' names claim '{claim}', which the stack does not create in namespace "
                        f"{namespace}: the predictor pod cannot mount it; fix: point at the claim that holds the artifacts",
                    )
                )
    return findings
