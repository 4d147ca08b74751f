import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from runtime.drift.monitor import VariantMonitor
from runtime.errors import InvalidInput
from runtime.spec import DriftSpec
from tests.runtime.drift.memory_probe import batches

from .conftest import make_rows, predict

REPO = Path(__file__).resolve().parents[3]


def test_memory_and_state_size_do_not_grow_with_rows_seen():
    done = subprocess.run(
        [sys.executable, "-m", "tests.runtime.drift.memory_probe"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["rows_seen"] == 550_000 and seen["windows_done"] == 110, seen
    assert abs(seen["size_after"] - seen["size_before"]) < 200, seen
    assert seen["memory_after"] - seen["memory_before"] < 256 * 1024, seen


def test_a_batch_crossing_windows_is_split_exactly(reference):
    monitor = VariantMonitor("fraud", "v3", reference, DriftSpec(window_rows=1_000), reservoir=500)
    rows = make_rows(2_600, seed=3)
    reports = monitor.ingest({c: rows[c].to_numpy() for c in rows.columns})
    assert [r.rows for r in reports] == [1_000, 1_000] and monitor.window_rows == 600
    assert monitor.features["amount"].rows == 600
    assert sum(monitor.features["country"].counts) == 600


def test_inputs_of_different_lengths_are_refused(reference):
    monitor = VariantMonitor("fraud", "v3", reference, DriftSpec())
    with pytest.raises(InvalidInput, match="one value per row"):
        monitor.ingest({"amount": np.ones(3), "score": np.ones(2)})
    with pytest.raises(InvalidInput, match="outputs.fraud: 2 values for 3 input rows"):
        monitor.ingest({"amount": np.ones(3)}, {"fraud": [1, 0]})


def test_a_missing_input_counts_as_missing(reference):
    monitor = VariantMonitor("fraud", "v3", reference, DriftSpec(window_rows=10))
    monitor.ingest({"amount": np.ones(4)})
    assert monitor.features["score"].missing == 4 and monitor.features["amount"].rows == 4


def test_a_state_that_fails_half_way_leaves_the_monitor_as_it_was(reference):
    donor = VariantMonitor("fraud", "v3", reference, DriftSpec(window_rows=5_000), reservoir=2_000)
    inputs, outputs = next(batches(1))
    donor.ingest(inputs, outputs)
    broken = donor.to_dict()
    del broken["feature_rows"]

    fresh = VariantMonitor("fraud", "v3", reference, DriftSpec(window_rows=5_000), reservoir=2_000)
    before = json.dumps(fresh.to_dict(), sort_keys=True)
    with pytest.raises(KeyError):
        fresh.restore(broken)
    assert json.dumps(fresh.to_dict(), sort_keys=True) == before
    fresh.restore(donor.to_dict())
    assert fresh.rows_seen == donor.rows_seen == 2_500


def test_matrix_inputs_are_split_by_the_profile_columns(reference):
    """V1 row lists and V2 [n, k] tensors reach the tap as one 2-D column: split, they drift."""
    rows = make_rows(1_000, seed=31)
    rows["amount"] = rows["amount"] + 20.0  # one standard deviation
    matrix = rows[list(reference.features)].values.tolist()
    monitor = VariantMonitor("fraud", "v3", reference, DriftSpec(window_rows=1_000, p_value=0.01, drift_share=0.25))
    (report,) = monitor.ingest({"instances": matrix}, {"predict": predict(rows).tolist()})
    verdicts = {f.name: f for f in report.features}
    assert all(f.missing_rate == 0.0 for f in report.features), verdicts
    assert verdicts["amount"].drifted and verdicts["amount"].reasons == ("distribution",)
    assert report.dataset_drifted and verdicts["amount"].rows == 1_000


def test_a_matrix_of_another_width_is_not_split(reference):
    monitor = VariantMonitor("fraud", "v3", reference, DriftSpec(window_rows=10))
    monitor.ingest({"instances": [[1.0, 2.0]] * 10})
    assert all(f.missing_rate == 1.0 for f in monitor.last.features)
