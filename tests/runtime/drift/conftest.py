"""Shared data for the drift monitor tests: a seeded reference and a monitor config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from runtime.auth import bearer
from runtime.drift.profile import build_profile
from runtime.drift.settings import MonitorSettings
from runtime.wiring import MonitorConfig

TOKEN = "writer-token-for-tests"
AUTH = bearer(TOKEN)
"""The header the gateway's tap sends: the monitor's token."""


def settings(**values) -> MonitorSettings:
    """Monitor settings with the tests' token."""
    return MonitorSettings(tokens=TOKEN, **values)


CATEGORIES = np.array(["fr", "de", "us", "es", "it"], dtype=object)
CATEGORY_P = [0.4, 0.25, 0.2, 0.1, 0.05]


def make_rows(n: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> pd.DataFrame:
    """Rows of the reference distribution; ``shift``/``scale`` move 'amount' in units of its std."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.normal(100.0, 20.0, n) * scale + shift * 20.0 + 100.0 * (1 - scale),
            "tenure": rng.exponential(3.0, n),
            "score": rng.uniform(0.0, 1.0, n),
            "country": CATEGORIES[rng.choice(5, n, p=CATEGORY_P)],
        }
    )


def predict(rows: pd.DataFrame) -> np.ndarray:
    return (rows["amount"] > 120.0).astype(int).to_numpy()


def reference_profile():
    """The reference the monitor tests compare with: 20,000 rows of ``make_rows``, seed 1."""
    rows = make_rows(20_000, seed=1)
    return build_profile(rows, {"fraud": predict(rows)}, sample_size=5_000)


@pytest.fixture(scope="session")
def reference():
    return reference_profile()


def monitor_config(state_dir: str, profile_path: str | None = None, **drift) -> MonitorConfig:
    spec = {
        "variants": [
            {"model": "models:/fraud/3", "role": "primary", "weight": 90},
            {"model": "models:/fraud/4", "role": "canary", "weight": 10},
        ],
        "latencyBudgetMs": 50,
        "drift": {"windowRows": 1_000, "pValue": 0.01, "driftShare": 0.25, **drift},
    }
    profiles = {"fraud": {"v3": profile_path}} if profile_path else {}
    return MonitorConfig.model_validate(
        {"stack": "test", "models": {"fraud": spec}, "profiles": profiles, "stateDir": state_dir}
    )


def columns(rows: pd.DataFrame) -> dict[str, list]:
    return {name: rows[name].tolist() for name in rows.columns}
