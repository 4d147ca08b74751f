"""The service's batch ingestion against a record-by-record reference on the same records.

``ingest_batch`` builds each variant's columns and remembers the served predictions for a whole
batch at once; the reference below does what it did before, one record at a time (append each
record's columns, pad the ones it lacks, remember each prediction alone). Both must leave every
window, sample, verdict, label and skip count the same.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from runtime.drift.profile import ReferenceProfile
from runtime.drift.service import DriftService
from runtime.errors import MLServingError
from runtime.wiring import TapBatch, TapRecord
from tests.runtime.drift.conftest import make_rows, monitor_config, predict, settings


def _record(model: str, variant: str, request_id: str, inputs: dict, outputs: dict | None = None) -> dict[str, Any]:
    return {"model": model, "variant": variant, "requestId": request_id, "timestamp": 1_700_000_000.5,
            "inputs": inputs, "outputs": outputs or {}}  # fmt: skip


def _mixed_batch(seed: int) -> TapBatch:
    """Single-row records as the gateway taps them, among every kind of odd record."""
    rng = np.random.default_rng(seed)
    rows = make_rows(1_400, seed=seed)
    labels = predict(rows)
    records = []
    for i, row in enumerate(rows.itertuples(index=False)):
        inputs = {"amount": [row.amount], "tenure": [row.tenure], "score": [row.score], "country": [row.country]}
        variant = "v4" if i % 7 == 0 else "v3"
        request_id = f"r{rng.integers(0, 900)}"  # repeated ids: a later prediction replaces the earlier
        if i % 97 == 0:
            del inputs["score"]  # an optional input left out
        if i % 131 == 0:
            inputs["extra"] = [1.0]  # a column the profile does not know
        outputs = {} if i % 53 == 0 else {"fraud": [int(labels[i])]}
        records.append(_record("fraud", variant, request_id, inputs, outputs))
    many = {"amount": [1.0, 250.0, 90.0], "tenure": [1.0, 2.0, 3.0], "score": [0.1, 0.2, 0.3],
            "country": ["fr", "xx", "de"]}  # fmt: skip
    records[10:10] = [
        _record("fraud", "v3", "multi", many, {"fraud": [0, 1, True]}),
        _record("nope", "v3", "a", {"x": [1.0]}, {"y": [1]}),
        _record("fraud", "v9", "b", {}, {"fraud": [1.0]}),
        _record("fraud", "v3", "c", {"amount": [1.0, 2.0], "score": [0.5]}),
    ]
    return TapBatch.model_validate({"records": records})


def _one_by_one(service: DriftService, batch: TapBatch) -> dict[str, Any]:
    """The reference: each record's columns appended and its predictions remembered on their own."""
    groups: dict[tuple[str, str], tuple[dict[str, list], dict[str, list], list[int]]] = {}
    skipped: Counter[str] = Counter()
    errors: list[str] = []

    def remember(record: TapRecord) -> None:
        store = service.labels.get(record.model)
        if not record.outputs or store is None:
            return
        values = next(iter(record.outputs.values()))
        for i, value in enumerate(values):
            key = record.request_id if len(values) == 1 else f"{record.request_id}/{i}"
            store.remember(key, record.variant, value, record.timestamp)

    def extend(columns: dict[str, list], part: dict[str, list], filled: int, rows: int) -> None:
        for name, values in part.items():
            columns.setdefault(name, [None] * filled).extend(values)
        for name, values in columns.items():
            if name not in part:
                values.extend([None] * rows)

    for i, record in enumerate(batch.records):
        try:
            service.monitor(record.model, record.variant)
            lengths = {len(v) for v in (*record.inputs.values(), *record.outputs.values())}
            if len(lengths) > 1:
                raise MLServingError(f"records[{i}]: lengths differ")
        except MLServingError as exc:
            reason = "invalid" if "lengths differ" in exc.message else "unmonitored"
            skipped[reason] += 1
            service.skipped[(record.model, reason)] += 1
            errors.append(exc.message)
            if reason == "unmonitored":
                remember(record)
            continue
        inputs, outputs, filled = groups.setdefault((record.model, record.variant), ({}, {}, [0]))
        rows = lengths.pop() if lengths else 0
        extend(inputs, record.inputs, filled[0], rows)
        extend(outputs, record.outputs, filled[0], rows)
        filled[0] += rows
        remember(record)
    total = sum(service.ingest(m, v, i, o) for (m, v), (i, o, _) in groups.items())
    return {"rows": total, "skipped": dict(skipped)}


def _state(service: DriftService) -> dict[str, Any]:
    store = service.labels["fraud"]
    return {
        "monitors": {key: m.to_dict() for key, m in service.monitors.items()},
        "pending": list(store.pending.items()),
        "changes": store.changes,
        "skipped": dict(service.skipped),
    }


@pytest.mark.parametrize("capacity", [100_000, 300])
def test_batch_ingestion_leaves_the_state_record_by_record_ingestion_leaves(
    reference: ReferenceProfile, tmp_path, capacity: int
):
    """Windows close mid-batch (1,000 rows), the label store forgets (capacity 300) in both."""
    profiles = {"fraud": {"v3": reference}}
    services = [
        DriftService(monitor_config(str(tmp_path / name)), settings(label_capacity=capacity), profiles)
        for name in ("batched", "reference")
    ]
    for seed in (3, 4):
        batch = _mixed_batch(seed)
        answer = services[0].ingest_batch(batch)
        expected = _one_by_one(services[1], batch)
        assert {"rows": answer["rows"], "skipped": answer["skipped"]} == expected
        assert expected["skipped"] == {"unmonitored": 2, "invalid": 1}
    batched, one_by_one = (_state(s) for s in services)
    assert batched["monitors"][("fraud", "v3")]["windows_done"] == 2  # verdicts were compared too
    assert len(batched["pending"]) == min(capacity, len(one_by_one["pending"]))
    assert batched == one_by_one
