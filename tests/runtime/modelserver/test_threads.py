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
from runtime.modelserver.settings import parse_settings
from tests.runtime.modelserver.servers import REPO, start_server


def test_the_setting_wins_then_omp_num_threads_then_the_usable_cores() -> None:
    assert threads.predict_threads(3, {"OMP_NUM_THREADS": "5"}) == (3, "the predict_threads setting")
    assert threads.predict_threads(None, {"OMP_NUM_THREADS": "5"}) == (5, "OMP_NUM_THREADS")
    assert threads.predict_threads(None, {"OMP_NUM_THREADS": "4,1"}) == (4, "OMP_NUM_THREADS")  # nested levels
    assert threads.predict_threads(None, {"OMP_NUM_THREADS": "lots"})[0] == usable_cores()
    assert threads.predict_threads(None, {}) == (usable_cores(), "the cores this process may use")


def test_the_setting_is_read_as_the_server_reads_it() -> None:
    """Through the settings' own parser: abbreviations and the environment's names alike."""
    for argv, env in (
        (["--predict_threads", "3"], {}),
        (["--predict_threads=3"], {}),
        (["--predict", "3"], {}),
        ([], {"ML_SERVING_PREDICT_THREADS": "3"}),
        ([], {"ml_serving_predict_threads": "3"}),
    ):
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            setting = parse_settings(["--model_name", "m", "--model_dir", "d", *argv]).predict_threads
        assert threads.predict_threads(setting, {"OMP_NUM_THREADS": "2"})[0] == 3, (argv, env)


def test_apply_writes_what_openmp_openblas_and_mkl_read() -> None:
    env: dict[str, str] = {"OMP_NUM_THREADS": "8", "MKL_NUM_THREADS": "8"}
    assert threads.apply(1, env) == (1, "the predict_threads setting")
    assert env == {name: "1" for name in threads.THREAD_ENV}
    given = {"OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "2"}
    threads.apply(None, given)
    assert given == {"OMP_NUM_THREADS": "4", "OPENBLAS_NUM_THREADS": "4", "MKL_NUM_THREADS": "2"}


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


@pytest.mark.parametrize(
    ("option", "env", "message"),
    [
        (["--predict_threads", "0"], {}, "error: predict_threads: input should be greater than 0 (got 0)"),
        ([], {"ML_SERVING_PREDICT_THREADS": "two"}, "error: predict_threads: input should be a valid integer"),
    ],
)
def test_a_bad_count_stops_the_server_naming_the_setting(option, env, message) -> None:
    said = subprocess.run(
        [sys.executable, "-m", "runtime.modelserver", "--model_name", "m", "--model_dir", "/nowhere", *option],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert said.returncode == 2 and "Traceback" not in said.stderr, said.stderr
    assert message in said.stderr, said.stderr
