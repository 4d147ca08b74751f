"""MLflow's own auth app, configured as the cluster configures it, against a real server."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from runtime.registry.server import local_registry
from runtime.registry.users import ADMIN_USERNAME, READER_USERNAME, basic_auth_ini
from tests.ports import free_port

SEARCH = "/api/2.0/mlflow/registered-models/search"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_people_and_parts_sign_in_and_the_reader_account_is_made_once(tmp_path):
    ini = tmp_path / "basic_auth.ini"
    ini.write_text(basic_auth_ini(f"sqlite:///{tmp_path / 'server' / 'mlflow.db'}"))
    secrets = {"MLFLOW_AUTH_ADMIN_PASSWORD": "admin-secret-1", "ML_SERVING_MLFLOW_READER_PASSWORD": "reader-secret-1"}
    server_env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(ini),
        "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN_USERNAME,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "csrf-key-1",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        **secrets,
    }
    with local_registry(
        tmp_path / "server", extra_args=("--app-name", "basic-auth"), env=server_env, port=free_port()
    ) as url:
        with httpx.Client(base_url=url, timeout=30, trust_env=False) as anyone:
            assert anyone.get("/health").status_code == 200, "probes need no credential"
            assert anyone.get(SEARCH).status_code == 401, "nobody reads without signing in"
            assert anyone.get(SEARCH, auth=(READER_USERNAME, "reader-secret-1")).status_code == 401, "not made yet"

            def users() -> subprocess.CompletedProcess:
                return subprocess.run(
                    [sys.executable, "-m", "runtime.registry.users", "--tracking-uri", url, "--timeout", "30"],
                    env={**os.environ, **secrets},
                    capture_output=True,
                    text=True,
                    timeout=120,
                )

            first, second = users(), users()
            assert first.returncode == 0 and f"{READER_USERNAME}: created" in first.stdout, first.stderr
            assert second.returncode == 0 and f"{READER_USERNAME}: already there" in second.stdout, second.stderr
            assert anyone.get(SEARCH, auth=(READER_USERNAME, "reader-secret-1")).status_code == 200
            assert anyone.get(SEARCH, auth=(READER_USERNAME, "guess")).status_code == 401
            assert anyone.get(SEARCH, auth=(ADMIN_USERNAME, "admin-secret-1")).status_code == 200
            wrong = subprocess.run(
                [sys.executable, "-m", "runtime.registry.users", "--tracking-uri", url],
                env={**os.environ, **secrets, "MLFLOW_AUTH_ADMIN_PASSWORD": "wrong"},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert wrong.returncode != 0 and "the admin credential was refused" in wrong.stderr + wrong.stdout
            assert "Traceback" not in wrong.stderr
