"""The estimate of the fixed ``costs`` stack, computed by hand; and what each edit changes.

Unit prices (snapshot, us-west-2): m6i.xlarge $0.192/h, g5.xlarge $1.006/h, EKS $0.10/h, NAT
$0.045/h and $0.045/GB, EKS extended support $0.60/h, public IPv4 $0.005/h, NLB $0.0225/h and $0.006/LCU-h, db.t4g.medium
$0.065/h, RDS gp3 $0.115/GB-month, backup $0.095/GB-month, S3 $0.023/GB-month, PUT $0.005 and GET
$0.0004 per 1,000, internet egress $0.09/GB, CloudWatch Logs $0.50/GB, EBS gp2 $0.10/GB-month (node
root volumes) and gp3 $0.08/GB-month (claims, on the stack's default gp3 class).

Pods on the CPU group (requests plus the Istio sidecar's 100m / 128Mi): fraud 3100m / 6272Mi per
replica, gateway 1100m / 640Mi, MLflow and drift monitor 600m / 1152Mi each. An m6i.xlarge offers
3920m / 15391Mi (4000m less 80m; 16384Mi less 11 x 58 + 255 and 100Mi eviction). Packed
largest-first: each fraud replica takes a node of its own (3100m + 1100m > 3920m), one 600m pod
joins it, and the gateways share a third node.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.cost.estimate import estimate
from components.cost.items import SCENARIOS
from components.cost.prices import PriceBook
from components.cost.report import to_json
from components.cost.shares import model_costs
from tests.components.cost.stacks import rendered
from tests.components.renders import stack_renders

H = 730
CPU_NODE, GPU_NODE = 0.192, 1.006


def run(name: str):
    spec, document, _ = rendered()[name]
    return estimate(spec, document, "us-west-2", PriceBook.from_snapshot("us-west-2"))


def monthly(est) -> dict[str, dict[str, float]]:
    return {item.name: item.monthly for item in est.items}


def each(value: float) -> dict[str, Any]:
    return {s: pytest.approx(value, abs=0.005) for s in SCENARIOS}


def test_base_estimate_matches_the_hand_computation():
    items = monthly(run("base"))
    expected = {
        "nodes/cluster-cpu": {"min": 3 * H * CPU_NODE, "expected": 3 * H * CPU_NODE, "max": 6 * H * CPU_NODE},
        "nodes/cluster-cpu/disk": {"min": 3 * 50 * 0.10, "expected": 3 * 50 * 0.10, "max": 6 * 50 * 0.10},
        "nodes/cluster-gpu": {"min": 0, "expected": 0, "max": 2 * H * GPU_NODE},
        "nodes/cluster-gpu/disk": {"min": 0, "expected": 0, "max": 2 * 100 * 0.10},
        "eks/ml-serving-costs": H * 0.60,  # 1.32 left standard support on 2026-03-23
        "logs/ml-serving-costs": 10 * 0.50,
        "rds/mlflow-db-rds": H * 0.065,
        "rds/mlflow-db-rds/storage": 20 * 0.115,
        "rds/mlflow-db-rds/backup": 7 * 0.01 * 20 * 0.095,
        "volume/drift-state": 10 * 0.08,
        "lb/mesh-ingress-gateway": H * 0.0225,
        "lb/mesh-ingress-gateway/lcu": 1 * H * 0.006,
        "lb/mesh-ingress-gateway/ipv4": 2 * H * 0.005,
        "nat/cluster-vpc": 2 * H * 0.045,
        "nat/cluster-vpc/ipv4": 2 * H * 0.005,
        "nat/cluster-vpc/data": 100 * 0.045,
        "transfer/internet-out": 50 * 0.09,
        "s3/artifacts-bucket": 100 * 0.023,
        "s3/artifacts-bucket/put": 10_000 / 1000 * 0.005,
        "s3/artifacts-bucket/get": 1_000_000 / 1000 * 0.0004,
    }
    assert sorted(items) == sorted(expected)
    for name, value in expected.items():
        want = {s: pytest.approx(v, abs=0.005) for s, v in value.items()} if isinstance(value, dict) else each(value)
        assert items[name] == want, name


def test_items_sum_to_the_totals():
    est = run("base")
    for scenario in SCENARIOS:
        assert est.totals[scenario] == pytest.approx(sum(item.monthly[scenario] for item in est.items), abs=1e-9)
    assert est.totals["min"] == pytest.approx(1042.02, abs=0.005)


def test_prod_items_sum_to_its_total():
    from runtime.spec import load_stack

    est = estimate(load_stack("prod"), stack_renders()["prod"], "us-west-2", PriceBook.from_snapshot("us-west-2"))
    document = to_json(est)
    for scenario in SCENARIOS:
        parts = sum(item["monthlyUsd"][scenario] for item in document["items"])
        assert document["totalMonthlyUsd"][scenario] == pytest.approx(parts, abs=1e-6)
    assert (
        document["totalMonthlyUsd"]["max"]
        >= document["totalMonthlyUsd"]["expected"]
        >= document["totalMonthlyUsd"]["min"]
        > 0
    )
    assert {i["name"].split("/")[0] for i in document["items"]} >= {
        "eks",
        "nodes",
        "nat",
        "lb",
        "rds",
        "s3",
        "transfer",
        "volume",
    }


def changed(before, after) -> dict[str, dict[str, float]]:
    a, b = monthly(before), monthly(after)
    out = {}
    for name in sorted(set(a) | set(b)):
        delta = {s: round(b.get(name, {}).get(s, 0) - a.get(name, {}).get(s, 0), 2) for s in SCENARIOS}
        if any(delta.values()):
            out[name] = delta
    return out


def test_adding_a_shadow_adds_two_cpu_nodes_at_minimum_and_expected():
    # Four fraud pods take four nodes; the gateways move to a fifth: 3 -> 5 nodes. Its share of
    # 50% of 200 rps needs one replica at 100 rps, so its minimum of two holds. At maximum the
    # group is at its max already.
    delta = changed(run("base"), run("shadow"))
    two_nodes = round(2 * H * CPU_NODE, 2)
    assert delta == {
        "nodes/cluster-cpu": {"min": two_nodes, "expected": two_nodes, "max": 0},
        "nodes/cluster-cpu/disk": {"min": 2 * 50 * 0.10, "expected": 2 * 50 * 0.10, "max": 0},
    }
    (fraud,) = model_costs(run("shadow"))
    share = 3100 / 3920  # CPU is the dominant request
    assert fraud.monthly(("shadow",))["expected"] == pytest.approx(2 * share * CPU_NODE * H, abs=0.01)
    assert fraud.monthly(("primary",)) == model_costs(run("base"))[0].monthly(("primary",))


def test_moving_the_model_to_gpu_moves_its_nodes():
    # Two fraud replicas take one GPU each: 0 -> 2 g5.xlarge; what stays on the CPU group fits one
    # node (1100 x 2 + 600 x 2 = 3400m), so the group falls to its minimum, 3 -> 2.
    delta = changed(run("base"), run("gpu"))
    assert delta == {
        "nodes/cluster-cpu": {"min": round(-H * CPU_NODE, 2), "expected": round(-H * CPU_NODE, 2), "max": 0},
        "nodes/cluster-cpu/disk": {"min": -5.0, "expected": -5.0, "max": 0},
        "nodes/cluster-gpu": {"min": round(2 * H * GPU_NODE, 2), "expected": round(2 * H * GPU_NODE, 2), "max": 0},
        "nodes/cluster-gpu/disk": {"min": 20.0, "expected": 20.0, "max": 0},
    }
    (fraud,) = model_costs(run("gpu"))
    (primary,) = fraud.variants
    assert (primary.group, primary.share) == ("cluster-gpu", 1.0)  # the node's only GPU: the whole node
    assert fraud.monthly()["min"] == pytest.approx(2 * GPU_NODE * H, abs=0.01)


def test_raising_the_minimum_adds_one_node():
    delta = changed(run("base"), run("min3"))
    one_node = round(H * CPU_NODE, 2)
    assert delta == {
        "nodes/cluster-cpu": {"min": one_node, "expected": one_node, "max": 0},
        "nodes/cluster-cpu/disk": {"min": 5.0, "expected": 5.0, "max": 0},
    }


def test_cost_per_million_predictions():
    (fraud,) = model_costs(run("base"))
    # 200 rps over a month is 525.6 million predictions; two replicas at 3100/3920 of a node.
    replica_hourly = 3100 / 3920 * CPU_NODE
    assert fraud.per_million["total"] == pytest.approx(2 * replica_hourly * H / (200 * H * 3600 / 1e6), abs=1e-4)
    assert fraud.per_million["shadow"] == 0
    assert fraud.per_million_at_capacity == pytest.approx(replica_hourly / (100 * 3600) * 1e6, abs=1e-4)


def test_gpu_node_hours_scale_to_zero():
    groups = {g["name"]: g for g in to_json(run("base"))["nodeGroups"]}
    assert groups["cluster-gpu"]["gpuNodeHours"] == {"min": 0, "expected": 0, "max": 2 * H}
    assert to_json(run("gpu"))["nodeGroups"][1]["gpuNodeHours"]["min"] == 2 * H


def test_control_plane_rate_follows_the_eks_support_calendar():
    import datetime

    spec, document, _ = rendered()["base"]
    during = estimate(
        spec, document, "us-west-2", PriceBook.from_snapshot("us-west-2"), today=datetime.date(2026, 3, 23)
    )
    after = estimate(
        spec, document, "us-west-2", PriceBook.from_snapshot("us-west-2"), today=datetime.date(2026, 3, 24)
    )
    assert monthly(during)["eks/ml-serving-costs"]["min"] == pytest.approx(H * 0.10)
    assert monthly(after)["eks/ml-serving-costs"]["min"] == pytest.approx(H * 0.60)
    assert any("left EKS standard support on 2026-03-23" in w for w in after.findings.warnings)
    assert not any("standard support" in w for w in during.findings.warnings)


def test_replica_throughput_from_bench_results(tmp_path, monkeypatch):
    import importlib.util
    import json
    import sys

    from components.cost.cli import bench_rps_per_cpu
    from runtime.errors import MLServingError
    from runtime.spec import load_stack_file
    from tests.components.cost.stacks import ROOT, write_stack

    loaded = importlib.util.spec_from_file_location("bench_modelserver", ROOT / "bench" / "modelserver.py")
    bench = importlib.util.module_from_spec(loaded)
    monkeypatch.setitem(sys.modules, "bench_modelserver", bench)  # its dataclasses look themselves up there
    loaded.loader.exec_module(bench)
    results = {
        "(a) naive FastAPI + pyfunc": {1: bench.Load(90.0, 10.0, 14.0, 0), 32: bench.Load(100.0, 300.0, 500.0, 0)},
        "(c) ours, batching 32/10ms": {1: bench.Load(140.0, 7.0, 9.0, 0), 32: bench.Load(40.0, 20.0, 55.0, 0)},
    }
    path = tmp_path / "modelserver.json"
    path.write_text(json.dumps(bench.results_document(results, 3)))
    assert bench_rps_per_cpu(path) == 40.0

    _, document, _ = rendered()["base"]
    spec = load_stack_file(write_stack(tmp_path / "stack", [("      replicaRps: 100\n", "")]))
    (fraud,) = model_costs(
        estimate(spec, document, "us-west-2", PriceBook.from_snapshot("us-west-2"), bench_rps_per_cpu=40.0)
    )
    # 40 req/s per CPU x the model's 3 CPUs (the sidecar's CPU serves no predictions): 120 req/s.
    assert fraud.replica_rps == 120 and fraud.replica_rps_source.startswith("bench/modelserver.py")
    assert fraud.per_million_at_capacity == pytest.approx(3100 / 3920 * CPU_NODE / (120 * 3600) * 1e6, abs=1e-4)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(MLServingError, match="bench/modelserver.py --json"):
        bench_rps_per_cpu(tmp_path / "bad.json")


def test_spot_group_is_priced_at_the_declared_discount():
    # capacityType reaches the render's node group; 60% off on-demand, the disks unchanged.
    _, document, _ = rendered()["spot"]
    (cpu,) = [
        r for r in document["resources"] if r["name"] == "cluster-cpu" and r["type"] == "aws:eks/nodeGroup:NodeGroup"
    ]
    assert cpu["inputs"]["capacityType"] == "SPOT"
    delta = changed(run("base"), run("spot"))
    assert delta == {
        "nodes/cluster-cpu": {
            "min": round(round(3 * H * CPU_NODE * 0.4, 2) - round(3 * H * CPU_NODE, 2), 2),
            "expected": round(round(3 * H * CPU_NODE * 0.4, 2) - round(3 * H * CPU_NODE, 2), 2),
            "max": round(round(6 * H * CPU_NODE * 0.4, 2) - round(6 * H * CPU_NODE, 2), 2),
        }
    }
    assert monthly(run("spot"))["nodes/cluster-cpu"]["min"] == 168.19
    (fraud,) = model_costs(run("spot"))
    assert fraud.variants[0].replica_hourly_usd == pytest.approx(3100 / 3920 * CPU_NODE * 0.4)
