"""The local platform end to end: real MLflow, training, model servers, gateway and drift monitor."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import grpc
import httpx
import pytest
import yaml
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc

from runtime.local.layout import Layout, LocalSettings
from runtime.local.seed import ensure_versions
from runtime.local.traffic import normal_rows, v2_request
from runtime.promote.cli import main as promote
from runtime.spec import load_stack, stack_file
from tests.ports import free_run
from tests.runtime.local.stops import Terminal, makefile, nothing_left, text, tree, wait

READY_LINE = "Ctrl-C stops every part."


def _test_stack(folder: Path) -> Path:
    """The local stack file, with a budget a busy 2-core CI machine meets and an even split.

    An even split makes both live variants answer among a few dozen requests; the generous
    budget keeps a loaded machine's slow answers from turning into fallbacks.
    """
    document = yaml.safe_load(stack_file("local").read_text())
    # The vision model's end to end path has its own tests (tests/runtime/modelserver/test_image_server.py);
    # here it would add two trainings and two torch processes to a busy machine.
    document["config"]["ml-serving:models"].pop("vision", None)
    fraud = document["config"]["ml-serving:models"]["fraud"]
    fraud["latencyBudgetMs"] = 5000
    fraud["variants"][0]["weight"] = 50
    fraud["variants"][1]["weight"] = 50
    document["config"]["ml-serving:models"]["recommender"]["latencyBudgetMs"] = 5000
    folder.mkdir()
    path = folder / "Pulumi.local.yaml"
    path.write_text(yaml.safe_dump(document))
    return folder


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_platform_serves_the_declared_variants_feeds_the_monitor_and_stops_clean(tmp_path) -> None:
    first = free_run(10)
    mlflow_port, gateway_port, monitor_port, base = first, first + 1, first + 2, first + 3
    grpc_port = first + 8  # after five model servers
    prometheus_port = first + 9
    output = tmp_path / "up.log"
    argv = [
        sys.executable,
        "-m",
        "runtime.local",
        "up",
        "--stacks-dir",
        str(_test_stack(tmp_path / "stacks")),
        "--state-dir",
        str(tmp_path / "state"),
        "--mlflow-port",
        str(mlflow_port),
        "--gateway-port",
        str(gateway_port),
        "--monitor-port",
        str(monitor_port),
        "--model-server-base-port",
        str(base),
        "--gateway-grpc-port",
        str(grpc_port),
        "--prometheus-port",
        str(prometheus_port),
        "--train-rows",
        "400",
    ]
    # As a person runs it: `make up 2>&1 | tee log` in a terminal, stopped with Ctrl-C at the end.
    terminal = Terminal(f"make -f {makefile(tmp_path, argv)} up 2>&1 | tee {output}")
    try:
        wait(lambda: READY_LINE in text(output) or terminal.proc.poll() is not None, 600, "the platform was not ready")
        text_now = text(output)
        assert terminal.proc.poll() is None, text_now
        servers = [f"model-server fraud/{v}" for v in ("v1", "v2", "v3")]
        servers += [f"model-server recommender/{v}" for v in ("popular", "als")]
        for part in ("mlflow", *servers, "gateway", "drift monitor", "prometheus"):
            assert f"{part} ready in" in text_now, text_now
        assert "training fraud versions 1..3" in text_now and "registered fraud versions 1..3 with lineage" in text_now
        started = tree(terminal.proc.pid)
        assert (
            "registered recommender-popular versions 1..1" in text_now
            and "registered recommender-als versions 1..1" in text_now
        )
        assert len(started) >= 11, started  # bash, make, tee, the platform, MLflow, 5 model servers, ...

        assert f"grpc://127.0.0.1:{grpc_port} model_name=fraud" in text_now, text_now
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            assert stub.ModelReady(pb.ModelReadyRequest(name="fraud"), timeout=30).ready, (
                "the gateway's gRPC service answers"
            )

        gateway = f"http://127.0.0.1:{gateway_port}"
        frame = normal_rows(120, seed=5)
        served_rows = {"v1": 0, "v2": 0}
        with httpx.Client(timeout=30, trust_env=False) as client:
            for i in range(40):
                rows = frame.iloc[i * 3 : i * 3 + 3]
                response = client.post(f"{gateway}/v2/models/fraud/infer", json=v2_request(rows, request_id=f"r{i}"))
                assert response.status_code == 200, response.text
                assert "x-ml-serving-fallback" not in response.headers, response.headers
                variant = response.headers["x-ml-serving-variant"]
                body = response.json()
                assert body["model_version"] == variant
                (prediction,) = body["outputs"]
                assert prediction["shape"] == [3] and set(prediction["data"]) <= {0, 1}
                served_rows[variant] += 3
            assert served_rows["v1"] > 0 and served_rows["v2"] > 0, served_rows

            def counted():
                token = (tmp_path / "state" / "monitor-token").read_text()
                status = client.get(
                    f"http://127.0.0.1:{monitor_port}/status/fraud", headers={"authorization": f"Bearer {token}"}
                ).json()["variants"]
                return status if all(status[v]["rows_seen"] == n for v, n in served_rows.items()) else None

            status = wait(counted, 30, f"the drift monitor did not count {served_rows}")
            assert status["v3"]["rows_seen"] == 0, "the monitor is fed what was served, not the shadow's mirror"

            def mirrored():
                report = client.get(f"{gateway}/rollouts/fraud/report").json()
                return report if report["shadows"][0]["mirrored"] > 0 else None

            report = wait(mirrored, 30, "the shadow got no mirrored request")
            assert report["shadows"][0]["variant"] == "v3"

            # The recommender: top-k lists per user, the same arm on every visit, exposures counted.
            arms: dict[int, str] = {}
            for user in list(range(12)) * 2:
                body = {"inputs": [{"name": "user_id", "datatype": "INT64", "shape": [1], "data": [user]}]}
                response = client.post(f"{gateway}/v2/models/recommender/infer", json=body)
                assert response.status_code == 200 and "x-ml-serving-fallback" not in response.headers, response.text
                outputs = {o["name"]: o for o in response.json()["outputs"]}
                assert outputs["items"]["shape"] == [1, 10] and outputs["scores"]["shape"] == [1, 10]
                assert (
                    arms.setdefault(user, response.headers["x-ml-serving-variant"])
                    == response.headers["x-ml-serving-variant"]
                )
            assert set(arms.values()) == {"popular", "als"}, arms

            def exposed():
                token = (tmp_path / "state" / "monitor-token").read_text()
                readout = client.get(
                    f"http://127.0.0.1:{monitor_port}/experiments/recommender",
                    headers={"authorization": f"Bearer {token}"},
                ).json()
                arm_counts = readout["arms"]
                return readout if arm_counts["A"]["exposures"] + arm_counts["B"]["exposures"] == 24 else None

            readout = wait(exposed, 30, "the experiment did not count 24 exposures")
            assert readout["arms"]["A"]["users"] + readout["arms"]["B"]["users"] == 12
            assert readout["decision"] == "no difference yet"

            # The real Prometheus scrapes every part, has the alert rules, and promotion reads it.
            prometheus = f"http://127.0.0.1:{prometheus_port}"
            assert "Prometheus (alert rules loaded)" in text_now and prometheus in text_now, text_now

            # Each target has its own offset within the scrape interval: a model server may not have
            # been scraped yet when the gateway's answers first show, so both are waited for.
            seen: dict[str, object] = {}

            def scraped():
                up = client.get(f"{prometheus}/api/v1/query", params={"query": "up"}).json()["data"]["result"]
                seen["jobs up"] = jobs = {row["metric"]["job"] for row in up if row["value"][1] == "1"}
                answered = client.get(
                    f"{prometheus}/api/v1/query",
                    params={"query": 'sum(ml_serving_gateway_requests_total{model="fraud"})'},
                ).json()["data"]["result"]
                seen["fraud answers"] = answered[0]["value"][1] if answered else None
                every_part = {"gateway", "drift-monitor", "model-servers"} <= jobs
                return jobs if every_part and answered and float(answered[0]["value"][1]) == 40 else None

            wait(
                scraped, 60, lambda: f"Prometheus did not scrape every part and the gateway's 40 fraud answers: {seen}"
            )
            groups = client.get(f"{prometheus}/api/v1/rules").json()["data"]["groups"]
            assert any(rule["type"] == "alerting" for group in groups for rule in group["rules"]), groups
        evidence = tmp_path / "evidence.json"
        assert (
            promote(
                [
                    "--stack",
                    "local",
                    "--stacks-dir",
                    str(tmp_path / "stacks"),
                    "--prometheus",
                    prometheus,
                    "--model",
                    "fraud",
                    "--dry-run",
                    "--evidence",
                    str(evidence),
                ]
            )
            == 0
        )
        (decision,) = json.loads(evidence.read_text())["decisions"]
        assert decision["action"] == "hold" and decision["weight"] == 50
        assert decision["evidence"]["counts"]["canary_calls"] == served_rows["v2"] // 3
        assert decision["evidence"]["counts"]["primary_calls"] == served_rows["v1"] // 3

        # What a second start does first: find the versions registered and train nothing.
        settings = LocalSettings(state_dir=tmp_path / "state", mlflow_port=mlflow_port)
        layout = Layout.resolve(load_stack("local", tmp_path / "stacks"), settings)
        said: list[str] = []
        environment = dict(os.environ)
        assert ensure_versions(layout, said.append) == {}
        assert dict(os.environ) == environment, "seeding left its MLflow client settings in the environment"
        assert said == [
            f"  registry has {name}: reusing them"
            for name in ("fraud versions 1..3", "recommender-popular versions 1..1", "recommender-als versions 1..1")
        ]
        # Ctrl-C: tee dies at once, so whatever the platform prints while it stops hits a dead pipe.
        terminal.ctrl_c()
        nothing_left(
            started,
            [mlflow_port, gateway_port, grpc_port, monitor_port, prometheus_port, *range(base, base + 5)],
            timeout_s=90,
        )
    finally:
        terminal.close()
    assert (tmp_path / "state" / "mlflow.db").exists() and (tmp_path / "state" / "logs" / "gateway.log").exists()
