"""Prometheus metrics of the drift monitor, read from its state at scrape time.

Read at scrape time (a custom collector) rather than kept in client-library objects, so counters
continue from the persisted totals after a restart and a closed window's verdict is exported once.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["DriftCollector"]

_P = "ml_serving_drift_"


class DriftCollector(Collector):
    def __init__(self, service) -> None:  # noqa: ANN001 - DriftService; avoids an import cycle
        self.service = service

    def collect(self) -> Iterator[Metric]:
        variant = ["model", "variant"]
        feature = [*variant, "feature", "test"]
        rows = CounterMetricFamily(f"{_P}rows", "Rows seen per model variant.", labels=variant)
        windows = CounterMetricFamily(f"{_P}windows", "Windows compared with the reference.", labels=variant)
        fill = GaugeMetricFamily(f"{_P}window_fill_rows", "Rows in the open window.", labels=variant)
        dataset = GaugeMetricFamily(
            f"{_P}dataset_drifted", "1 when the last window drifted as a whole.", labels=variant
        )
        share = GaugeMetricFamily(f"{_P}share", "Share of input features drifted in the last window.", labels=variant)
        prediction = GaugeMetricFamily(
            f"{_P}prediction_drifted", "1 when the outputs drifted in the last window.", labels=variant
        )
        score = GaugeMetricFamily(f"{_P}score", "Statistic or distance of the last window, per column.", labels=feature)
        p_value = GaugeMetricFamily(f"{_P}p_value", "P-value of the last window, per column.", labels=feature)
        adjusted = GaugeMetricFamily(
            f"{_P}adjusted_p_value", "P-value after the multiple-testing correction.", labels=feature
        )
        drifted = GaugeMetricFamily(
            f"{_P}feature_drifted", "1 when the column drifted in the last window.", labels=feature
        )
        for monitor in self.service.monitors.values():
            key = [monitor.model, monitor.variant]
            rows.add_metric(key, monitor.rows_seen)
            windows.add_metric(key, monitor.windows_done)
            fill.add_metric(key, monitor.window_rows)
            last = monitor.last
            if last is None:
                continue
            dataset.add_metric(key, float(last.dataset_drifted))
            share.add_metric(key, last.drift_share)
            prediction.add_metric(key, float(last.prediction_drifted))
            columns = [(v.name, v) for v in last.features] + [(f"prediction:{v.name}", v) for v in last.predictions]
            for name, verdict in columns:
                labels = [*key, name, verdict.test]
                score.add_metric(labels, verdict.score)
                drifted.add_metric(labels, float(verdict.drifted))
                if verdict.p_value is not None:
                    p_value.add_metric(labels, verdict.p_value)
                    adjusted.add_metric(labels, verdict.adjusted_p_value)
        yield from (rows, windows, fill, dataset, share, prediction, score, p_value, adjusted, drifted)
        skipped = CounterMetricFamily(
            f"{_P}records_skipped",
            "Tap records not counted, by model and reason "
            "(unmonitored: no monitor for its model or variant; invalid: columns of unequal length).",
            labels=["model", "reason"],
        )
        for (model, reason), count in sorted(self.service.skipped.items()):
            skipped.add_metric([model, reason], count)
        yield skipped
        yield from self._labels()
        yield from self._webhook()

    def _labels(self) -> Iterator[Metric]:
        labels = ["model", "variant"]
        accuracy = GaugeMetricFamily(
            f"{_P}label_accuracy", "Accuracy in the latest labelled time bucket.", labels=labels
        )
        precision = GaugeMetricFamily(
            f"{_P}label_precision", "Precision (positive class) in the latest bucket.", labels=labels
        )
        labelled = GaugeMetricFamily(f"{_P}labelled_rows", "Labelled rows in the latest bucket.", labels=labels)
        for model, store in self.service.labels.items():
            for variant, buckets in store.series.items():
                latest = buckets[-1]
                labelled.add_metric([model, variant], latest.labelled)
                if latest.accuracy is not None:
                    accuracy.add_metric([model, variant], latest.accuracy)
                if latest.precision is not None:
                    precision.add_metric([model, variant], latest.precision)
        yield from (accuracy, precision, labelled)

    def _webhook(self) -> Iterator[Metric]:
        notifier = self.service.notifier
        if notifier is None:
            return
        for name, value, text in (
            ("webhook_delivered", notifier.delivered, "Drift events delivered to the webhook."),
            (
                "webhook_failed",
                notifier.failed,
                "Delivery rounds that failed every retry (the event stays in the outbox).",
            ),
            ("webhook_dropped", notifier.dropped, "Drift events dropped because the outbox was full."),
        ):
            family = CounterMetricFamily(f"{_P}{name}", text)
            family.add_metric([], value)
            yield family
        pending = GaugeMetricFamily(f"{_P}webhook_pending", "Drift events in the outbox, not yet delivered.")
        pending.add_metric([], notifier.pending)
        yield pending
