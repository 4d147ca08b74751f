"""Accounts of MLflow's auth app: the configuration the server reads, and the reader account the
platform's own parts use, created once the server is up.

``python -m runtime.registry.users`` runs inside the MLflow container (a postStart hook): it
waits for ``/health``, then creates the reader account with the admin credential from the
environment, or finds it already there. The server itself creates the admin account from
``MLFLOW_AUTH_ADMIN_USERNAME`` / ``MLFLOW_AUTH_ADMIN_PASSWORD`` the first time it starts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

__all__ = ["READER_USERNAME", "ADMIN_USERNAME", "basic_auth_ini", "ensure_reader", "main"]

ADMIN_USERNAME = "admin"
READER_USERNAME = "ml-serving-platform"
"""The account predictors and the drift monitor read the registry as."""


def basic_auth_ini(database_uri: str, default_permission: str = "READ") -> str:
    """MLflow's ``basic_auth.ini`` (``MLFLOW_AUTH_CONFIG_PATH``): users in ``database_uri`` (the
    tracking store's database is fine: the auth tables have their own migration history), and no
    credential at all: those come from the environment."""
    return (
        "[mlflow]\n"
        f"default_permission = {default_permission}\n"
        f"database_uri = {database_uri}\n"
        f"admin_username = {ADMIN_USERNAME}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )


def _wait_healthy(url: str, timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=5, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"error: {url}/health did not answer 200 within {timeout_s:g} s")
        time.sleep(1)


def ensure_reader(url: str, admin_password: str, reader_password: str) -> bool:
    """Create the reader account (``True``), or find it there (``False``)."""
    import httpx

    auth = (ADMIN_USERNAME, admin_password)
    with httpx.Client(base_url=url, auth=auth, timeout=30, trust_env=False) as client:
        found = client.get("/api/2.0/mlflow/users/get", params={"username": READER_USERNAME})
        if found.status_code == 200:
            return False
        if found.status_code == 401:
            raise SystemExit("error: the admin credential was refused (MLFLOW_AUTH_ADMIN_PASSWORD)")
        created = client.post(
            "/api/2.0/mlflow/users/create", json={"username": READER_USERNAME, "password": reader_password}
        )
        if created.status_code != 200:
            raise SystemExit(
                f"error: creating {READER_USERNAME} failed: HTTP {created.status_code} {created.text[:200]}"
            )
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.registry.users", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracking-uri", default="http://127.0.0.1:5000")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the server")
    args = parser.parse_args(argv)
    missing = [v for v in ("MLFLOW_AUTH_ADMIN_PASSWORD", "ML_SERVING_MLFLOW_READER_PASSWORD") if not os.environ.get(v)]
    if missing:
        print(f"error: set {' and '.join(missing)}", file=sys.stderr)
        return 2
    _wait_healthy(args.tracking_uri, args.timeout)
    made = ensure_reader(
        args.tracking_uri, os.environ["MLFLOW_AUTH_ADMIN_PASSWORD"], os.environ["ML_SERVING_MLFLOW_READER_PASSWORD"]
    )
    print(f"{READER_USERNAME}: {'created' if made else 'already there'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
