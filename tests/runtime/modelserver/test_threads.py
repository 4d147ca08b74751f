"""The model server sets its predict threads before the model's libraries load, and says so."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import pytest

from runtime.cores import usable_cores
from runtime.modelserver import threads
from tests.runtime.modelserver.servers import REPO, start_server


def test_the_setting_wins_then_omp_num_threads_then_the_usable_cores() -> None:
    assert threads.predict_threads(["--predict_threads", "3"], {"ML_SERVING_PREDICT_THREADS": "2"}) == (
        3,
        "--predict_threads",
    )
    assert threads.predict_threads(["--predict_threads=4"], {}) == (4, "--predict_threads")
    assert threads.predict_threads([], {"ML_SERVING_PREDICT_THREADS": "2", "OMP_NUM_THREADS": "5"}) == (
        2,
        "ML_SERVING_PREDICT_THREADS",
    )
    assert threads.predict_threads([], {"OMP_NUM_THREADS": "5"}) == (5, "OMP_NUM_THREADS")
    assert threads.predict_threads([], {"OMP_NUM_THREADS": "lots"})[0] == usable_cores()
    assert threads.predict_threads([], {}) == (usable_cores(), "the cores this process may use")


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--predict_threads", "0"], {}, "--predict_threads: expected a whole number of threads above 0, got '0'"),
        ([], {"ML_SERVING_PREDICT_THREADS": "two"}, "ML_SERVING_PREDICT_THREADS: expected a whole number"),
    ],
)
def test_a_bad_count_names_where_it_came_from(argv, env, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        threads.predict_threads(argv, env)


def test_apply_writes_what_openmp_openblas_and_mkl_read() -> None:
    env: dict[str, str] = {"OMP_NUM_THREADS": "8"}
    assert threads.apply(["--predict_threads", "1"], env) == (1, "--predict_threads")
    assert env == {name: "1" for name in threads.THREAD_ENV}


def test_importing_the_package_loads_no_thread_pool_library() -> None:
    """``python -m runtime.modelserver`` imports the package before its __main__ sets the threads."""
    probe = "import sys, runtime.modelserver.threads; print(sorted({'numpy', 'sklearn'} & set(sys.modules)))"
    said = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert said.stdout.strip() == "[]", said.stdout + said.stderr


def _threads_metric(url: str) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = re.findall(r'^ml_serving_predict_threads\{library="(\w+)",model="fraud"\} ([0-9.]+)$', text, re.M)
    return {library: float(value) for library, value in found}


def _serve(fraud_registry, tmp_path, args: list[str], env: dict[str, str]):
    base = {k: v for k, v in os.environ.items() if k not in (*threads.THREAD_ENV, threads.SETTING_ENV)}
    return start_server(
        ["--model_name", "fraud", "--model_dir", fraud_registry["uri"], *args],
        tmp_path / "server.log",
        env={**base, "MLFLOW_TRACKING_URI": fraud_registry["tracking_uri"], **env},
    )


def test_the_setting_reaches_openmp_and_blas_over_a_given_omp_num_threads(fraud_registry, tmp_path) -> None:
    server = _serve(
        fraud_registry,
        tmp_path,
        ["--predict_threads", "1", "--max_batch_size", "8", "--max_latency_ms", "5"],
        {"OMP_NUM_THREADS": "3"},
    )
    try:
        assert _threads_metric(server.url) == {"openmp": 1.0, "blas": 1.0}, server.output()
        assert "predict threads: blas 1, openmp 1 (OMP_NUM_THREADS=1)" in server.output()
    finally:
        server.stop()


def test_unset_it_is_the_cores_this_process_may_use(fraud_registry, tmp_path) -> None:
    server = _serve(fraud_registry, tmp_path, [], {})
    try:
        cores = float(usable_cores())
        assert _threads_metric(server.url) == {"openmp": cores, "blas": cores}, server.output()
    finally:
        server.stop()


def test_a_bad_count_stops_the_server_before_it_loads_anything() -> None:
    said = subprocess.run(
        [
            sys.executable,
            "-m",
            "runtime.modelserver",
            "--model_name",
            "m",
            "--model_dir",
            "/nowhere",
            "--predict_threads",
            "0",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert said.returncode == 2 and "Traceback" not in said.stderr, said.stderr
    assert "error: settings: --predict_threads: expected a whole number of threads above 0, got '0'" in said.stderr
