"""Fixtures shared across the test tree."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conformance.matrix import ROWS, write_matrix
from tests.mlflow_state import mlflow_state

_CONFORMANCE: list[dict] = []
"""Rows of the V2 conformance matrix, as the conformance tests' reports bring them (from the
test workers too: hooks of the root conftest run in the process that prints the summary)."""


@pytest.fixture(autouse=True)
def _mlflow_put_back() -> Iterator[None]:
    """Each test leaves MLflow's tracking URI and active experiment as it found them."""
    with mlflow_state():
        yield


SHARED_SCOPES = {
    # tests/runtime/registry/conftest.py's session registry: an MLflow server and three trained
    # versions, about a minute on a busy machine. Its files on one worker make it once.
    "tests/runtime/registry/test_lock.py": "the session registry server",
    "tests/runtime/registry/test_register.py": "the session registry server",
}
"""Test files that ``make test``'s workers take as one unit (``--dist loadfile`` takes each file as one)."""


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's: absent with -p no:xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedScopes(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return SHARED_SCOPES.get(path, path)

    return SharedScopes(config, log)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        for name, value in report.user_properties:
            if name == ROWS:
                _CONFORMANCE.extend(value)  # type: ignore[arg-type]


def pytest_terminal_summary(terminalreporter) -> None:
    if _CONFORMANCE:
        write_matrix(terminalreporter, _CONFORMANCE)


@pytest.fixture(scope="session")
def fraud_registry() -> dict[str, str]:
    """One SQLite MLflow registry for the session with a small fraud forest registered in it:
    ``tracking_uri`` and the version's ``uri`` (``models:/fraud/1``). Making a registry runs
    MLflow's schema migrations, so the model server, gateway and dashboard tests share this one
    (the vision tests' too) and only read from it."""
    from tests.runtime.modelserver.servers import register_model
    from tests.sqlite_registry import sqlite_registry

    tracking_uri, root = sqlite_registry()
    with mlflow_state():
        uri = register_model(tracking_uri, root / "fraud-artifacts")
    return {"tracking_uri": tracking_uri, "uri": uri}
