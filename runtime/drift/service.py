"""The monitor of every configured model: routes rows to variant monitors, persists, alerts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from itertools import chain
from pathlib import Path
from typing import Any

from runtime.drift.journal import LabelJournal
from runtime.drift.labels import LabelStore
from runtime.drift.monitor import VariantMonitor
from runtime.drift.profile import ReferenceProfile, load_profile
from runtime.drift.settings import MonitorSettings
from runtime.drift.state import load_state, save_state
from runtime.drift.webhook import WebhookNotifier
from runtime.errors import InvalidInput, MLServingError, ModelNotFound
from runtime.wiring import MonitorConfig, TapBatch, TapRecord

__all__ = ["DriftService", "SKIP_REASONS"]

log = logging.getLogger(__name__)
SKIP_REASONS = ("unmonitored", "invalid")
"""Why a tap record was not counted: its model or variant has no monitor, or its columns do not line up."""
_OUTBOX = "_outbox"


class DriftService:
    def __init__(
        self,
        config: MonitorConfig,
        settings: MonitorSettings,
        profiles: Mapping[str, Mapping[str, ReferenceProfile]] | None = None,
    ) -> None:
        """``profiles`` (model -> variant -> profile) skips loading ``config.profiles``."""
        self.config, self.settings = config, settings
        self.notifier = (
            WebhookNotifier(
                settings.webhook_url,
                Path(config.state_dir) / _OUTBOX,
                settings.webhook_retries,
                settings.webhook_timeout_s,
                settings.webhook_backoff_s,
                settings.webhook_queue,
                settings.webhook_pause_s,
                settings.webhook_drain_s,
            )
            if settings.webhook_url
            else None
        )
        self.monitors: dict[tuple[str, str], VariantMonitor] = {}
        self.labels: dict[str, LabelStore] = {}
        self.journals: dict[str, LabelJournal] = {}
        self.skipped: Counter[tuple[str, str]] = Counter()
        """(model, reason) -> tap records not counted; see ``SKIP_REASONS``."""
        self._persister: asyncio.Task[None] | None = None
        self._saved_at: dict[tuple[str, str], float] = defaultdict(float)
        loaded = (
            profiles
            if profiles is not None
            else {
                m: {v: load_profile(loc) for v, loc in by_variant.items()} for m, by_variant in config.profiles.items()
            }
        )
        for model, spec in config.models.items():
            by_variant = loaded.get(model, {})
            primary = by_variant.get(spec.primary.variant_name)
            for variant in spec.variants:
                profile = by_variant.get(variant.variant_name, primary)
                if profile is None or not spec.drift.enabled:
                    continue
                monitor = VariantMonitor(
                    model,
                    variant.variant_name,
                    profile,
                    spec.drift,
                    settings.reservoir_size,
                    settings.seed,
                    on_window=self._window_closed,
                )
                self._restore(monitor)
                self.monitors[(model, variant.variant_name)] = monitor
            self.labels[model] = LabelStore(settings.label_capacity, settings.label_bucket_s, settings.label_buckets)
            self.journals[model] = LabelJournal(
                config.state_dir, model, compact_after=max(settings.label_capacity, 1_000)
            )
            self.journals[model].load(self.labels[model])

    async def start(self) -> None:
        """Start the webhook's outbox and the label journal's writer (needs a running loop)."""
        if self.notifier is not None:
            await self.notifier.start()
        self._closing = asyncio.Event()
        self._persister = asyncio.create_task(self._persist_labels(), name="drift-labels")

    async def stop(self) -> None:
        """Drain the outbox (with its deadline), then persist everything."""
        if self._persister is not None:
            # Not cancelled: a write in its worker thread would go on beside the final snapshot.
            self._closing.set()
            await self._persister
            self._persister = None
        if self.notifier is not None:
            await self.notifier.stop()
        self.save_all()

    async def _persist_labels(self) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.settings.label_persist_interval_s)
            if self._closing.is_set():
                return  # ``stop`` writes the final snapshot
            for model, journal in self.journals.items():
                try:
                    await journal.flush(self.labels[model])
                except OSError as exc:  # a full disk must not stop ingestion; the next flush retries
                    log.warning("cannot persist the labels of %s (%s)", model, exc)

    def _restore(self, monitor: VariantMonitor) -> None:
        data = load_state(self.config.state_dir, monitor.model, monitor.variant)
        if data is None:
            return
        try:
            monitor.restore(data)
        except (KeyError, ValueError, TypeError) as exc:
            log.warning(
                "state of %s/%s does not fit its profile (%s); starting afresh", monitor.model, monitor.variant, exc
            )

    def monitor(self, model: str, variant: str) -> VariantMonitor:
        spec = self.config.models.get(model)
        if spec is None:
            raise ModelNotFound.not_monitored(model, self.config.models)
        found = self.monitors.get((model, variant))
        if found is None:
            names = [v.variant_name for v in spec.variants]
            if variant not in names:
                raise ModelNotFound.unknown_variant(model, variant, names)
            raise ModelNotFound.no_profile(model, variant)
        return found

    def variants(self, model: str) -> list[VariantMonitor]:
        if model not in self.config.models:
            raise ModelNotFound.not_monitored(model, self.config.models)
        return [m for (name, _), m in self.monitors.items() if name == model]

    def ingest(self, model: str, variant: str, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> int:
        monitor = self.monitor(model, variant)
        monitor.ingest(inputs, outputs)
        self._maybe_save(monitor)
        return next((len(v) for v in inputs.values()), 0)

    def ingest_batch(self, batch: TapBatch) -> dict[str, Any]:
        """Group the records per variant into columns and ingest them. Each record stands alone:
        one for a model or variant without a monitor, or one whose columns do not line up, is
        counted (``skipped``, ``ml_serving_drift_records_skipped_total``) and the rest go in."""
        groups: dict[tuple[str, str], list[tuple[TapRecord, int]]] = {}
        served: dict[str, list[TapRecord]] = {}
        """Per model, in arrival order: the records whose predictions its label store keeps."""
        lookups: dict[tuple[str, str], MLServingError | None] = {}
        skipped: Counter[str] = Counter()
        errors: list[str] = []
        for i, record in enumerate(batch.records):
            target = (record.model, record.variant)
            if target not in lookups:
                lookups[target] = self._lookup(*target)
            problem = lookups[target]
            if problem is None:
                lengths = {len(v) for v in record.inputs.values()}
                lengths.update(len(v) for v in record.outputs.values())
                if len(lengths) > 1:
                    problem = InvalidInput(
                        f"records[{i}]: inputs and outputs must hold one value per row, got lengths "
                        f"{ {k: len(v) for k, v in (*record.inputs.items(), *record.outputs.items())} }"
                    )
            if problem is not None:
                reason = "unmonitored" if isinstance(problem, ModelNotFound) else "invalid"
                skipped[reason] += 1
                self.skipped[(record.model, reason)] += 1
                if len(errors) < 10:
                    errors.append(problem.message)
                if reason == "unmonitored":
                    served.setdefault(record.model, []).append(record)  # its labels are joined all the same
                continue
            groups.setdefault(target, []).append((record, lengths.pop() if lengths else 0))
            served.setdefault(record.model, []).append(record)
        for model, predicted in served.items():
            self._remember(model, predicted)
        total = 0
        for (model, variant), records in groups.items():
            inputs = _columns([(r.inputs, rows) for r, rows in records])
            outputs = _columns([(r.outputs, rows) for r, rows in records])
            total += self.ingest(model, variant, inputs, outputs)
        answer: dict[str, Any] = {"rows": total}
        if skipped:
            answer.update(skipped=dict(skipped), errors=errors)
        return answer

    def _lookup(self, model: str, variant: str) -> MLServingError | None:
        """Why ``monitor(model, variant)`` would fail, or None when it would not."""
        try:
            self.monitor(model, variant)
        except MLServingError as exc:
            return exc
        return None

    def _remember(self, model: str, records: list[TapRecord]) -> None:
        """Keep each served prediction for its delayed label: by request id, or ``{request id}/{row}``."""
        store = self.labels.get(model)
        if store is None:
            return
        served: list[tuple[str, str, Any, float]] = []
        for record in records:
            if not record.outputs:
                continue
            values = next(iter(record.outputs.values()))
            if len(values) == 1:
                served.append((record.request_id, record.variant, values[0], record.timestamp))
            else:
                served.extend(
                    (f"{record.request_id}/{i}", record.variant, value, record.timestamp)
                    for i, value in enumerate(values)
                )
        store.remember_many(served)

    def _maybe_save(self, monitor: VariantMonitor, force: bool = False) -> None:
        key = (monitor.model, monitor.variant)
        now = time.monotonic()
        if force or now - self._saved_at[key] >= self.settings.persist_interval_s:
            save_state(self.config.state_dir, monitor.model, monitor.variant, monitor.to_dict())
            self._saved_at[key] = now

    def save_all(self) -> None:
        for monitor in self.monitors.values():
            self._maybe_save(monitor, force=True)
        for model, journal in self.journals.items():
            journal.flush_now(self.labels[model])

    def _window_closed(self, monitor: VariantMonitor, report: Any, entered_drift: bool) -> None:
        # The alert goes into the outbox before the verdict that caused it is persisted: a crash
        # between the two sends it twice (at least once), never zero times.
        if entered_drift and self.notifier is not None:
            drifted = [f.name for f in report.features if f.drifted]
            self.notifier.notify(
                {
                    "type": "ml-serving.drift.dataset",
                    "stack": self.config.stack,
                    "model": monitor.model,
                    "variant": monitor.variant,
                    "window": monitor.windows_done,
                    "rows": report.rows,
                    "drift_share": report.drift_share,
                    "drifted_features": drifted,
                    "summary": f"{monitor.model}/{monitor.variant}: {len(drifted)} of {len(report.features)} features drifted",
                }
            )
        self._maybe_save(monitor, force=True)


def _columns(parts: list[tuple[Mapping[str, list[Any]], int]]) -> dict[str, list[Any]]:
    """The records' columns (each part: its columns and rows) end to end, in record order. A
    column that a record lacks (or that is new in it) gets ``None`` for that record's rows."""
    if not parts:
        return {}
    names = parts[0][0].keys()
    if all(part.keys() == names for part, _ in parts):  # the usual batch: every record alike
        return {name: list(chain.from_iterable([part[name] for part, _ in parts])) for name in names}
    columns: dict[str, list[Any]] = {}
    filled = 0
    for part, rows in parts:
        _extend(columns, part, filled, rows)
        filled += rows
    return columns


def _extend(columns: dict[str, list[Any]], record: Mapping[str, list[Any]], filled: int, rows: int) -> None:
    """Append one record's ``rows`` after ``filled`` earlier rows; a column absent from the record
    (or new in it) gets ``None`` for the rows it lacks."""
    for name, values in record.items():
        columns.setdefault(name, [None] * filled).extend(values)
    for name, values in columns.items():
        if name not in record:
            values.extend([None] * rows)
