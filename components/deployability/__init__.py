"""The deployability check: what the controllers of a real cluster would do with a stack's render.

Schemas cannot see admission webhooks, load-balancer controllers, storage provisioning or node
capacity. Each rule here reads the offline render (and the pinned charts' own data in
``../shared/charts``) the way one controller would, and says what a real ``pulumi up`` would do:

- ``chart-values``       every Helm value exists in the pinned chart (``charts.py``)
- ``kserve-runtime-admission``  KServe's serving-runtime webhook, chart built-ins included (``admission.py``)
- ``scheduling``         requests + sidecar fit a node group's first instance type; minimums fit
                         the maximums; GPU pods have a device plugin on their nodes (``capacity.py``)
- ``volume-binding``     claims have a class, a provisioner, and wait for both (``volumes.py``)
- ``load-balancer``      LoadBalancer Services have their controller and tagged subnets (``network.py``)
- ``storage-uri``        storage URIs use a scheme the storage initializer downloads (``volumes.py``)
- ``scraping``         Prometheus selects the monitors and rules; they reach the pods through the
                         mesh; Grafana's sidecar finds the dashboards (``scraping.py``)
- ``lock-registry``      the model lock was resolved against the stack's own registry

    ml-serving check --stack prod --only deployability     # exit 1 on any error finding
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from components.deployability.admission import kserve_runtime_admission
from components.deployability.capacity import scheduling
from components.deployability.charts import chart_values
from components.deployability.network import load_balancer
from components.deployability.render_view import Finding, RenderView
from components.deployability.scraping import scraping
from components.deployability.volumes import storage_uri, volume_binding
from runtime.registry.lock import ModelLock, lock_command
from runtime.spec import StackSpec

__all__ = ["Finding", "RULES", "check_render", "lock_registry"]

RULES: dict[str, Callable[[RenderView], list[Finding]]] = {
    "chart-values": chart_values,
    "kserve-runtime-admission": kserve_runtime_admission,
    "scheduling": scheduling,
    "volume-binding": volume_binding,
    "load-balancer": load_balancer,
    "storage-uri": storage_uri,
    "scraping": scraping,
}


def lock_registry(spec: StackSpec, lock: ModelLock) -> list[Finding]:
    """A lock resolved against another registry pins versions and artifacts this stack may not have."""
    registry = spec.platform.mlflow.tracking_uri
    if lock.tracking_uri == registry:
        return []
    where = f"stacks/models.{spec.stack}.lock.json"
    if lock.stand_in:
        return [
            Finding(
                "lock-registry",
                where,
                f"stand-in lock ({lock.stand_in}): resolved against {lock.tracking_uri}, not "
                f"this stack's registry {registry}; its versions and artifact URIs are placeholders; fix: run "
                f"`{lock_command(spec.stack)}` against {registry} before `pulumi up`",
                warning=True,
            )
        ]
    return [
        Finding(
            "lock-registry",
            where,
            f"resolved against {lock.tracking_uri}, not this stack's registry {registry}: the "
            "predictors would fetch versions and artifacts that registry may not have; fix: run "
            f"`{lock_command(spec.stack)}` against {registry}",
        )
    ]


def check_render(
    document: dict[str, Any], spec: StackSpec | None = None, lock: ModelLock | None = None
) -> list[Finding]:
    """Every finding of every rule, in rule order."""
    view = RenderView(document)
    findings = [f for rule in RULES.values() for f in rule(view)]
    if spec is not None and lock is not None:
        findings += lock_registry(spec, lock)
    return findings
