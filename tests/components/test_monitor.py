"""Drift monitor component: workload, persistent state, config with the lock's reference profiles."""

from __future__ import annotations

import pulumi

from components.monitor import STATE_DIR, DriftMonitor, DriftMonitorArgs
from runtime.spec import load_stack
from runtime.wiring import MonitorConfig
from tests.components.locks import lock_for
from tests.components.recorded import of_kind, schema_problems, settled

PROD = load_stack("prod")
LOCK = lock_for(PROD, {"champion": 8})


@pulumi.runtime.test
def test_monitor_has_state_volume_and_the_locked_profiles():
    component = DriftMonitor("t-drift", DriftMonitorArgs(PROD, LOCK, "ml-serving", mlflow_url="http://mlflow.ml-serving.svc.cluster.local:5000"))

    def check(urn: str) -> None:
        [(cm_urn, config_map)] = of_kind(urn, "ConfigMap")
        config = MonitorConfig.model_validate_json(config_map["data"]["monitor.json"])
        assert sorted(config.models) == ["fraud", "recommender", "vision"], cm_urn
        assert config.profiles["fraud"]["v6"] == LOCK.versions["models:/fraud/6"].profile_uri, cm_urn
        assert config.profiles["vision"]["champion"] == LOCK.versions["models:/vision-resnet@champion"].profile_uri, cm_urn
        assert config.state_dir == STATE_DIR, cm_urn
        [(pvc_urn, claim)] = of_kind(urn, "PersistentVolumeClaim")
        assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi", pvc_urn
        [(dep_urn, deployment)] = of_kind(urn, "Deployment")
        pod = deployment["spec"]["template"]["spec"]
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}, dep_urn
        mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes[mounts[STATE_DIR]]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"], dep_urn
        assert pod["containers"][0]["command"] == ["python", "-m", "runtime.drift"], dep_urn
        assert schema_problems(urn) == []

    return settled(component, component.config_map, component.state, component.deployment, component.service).apply(check)
