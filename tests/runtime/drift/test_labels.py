from runtime.drift.labels import LabelStore


def test_labels_join_predictions_by_request_id_per_bucket():
    store = LabelStore(capacity=10, bucket_seconds=60, buckets=2)
    for i, (pred, t) in enumerate([(1, 0), (0, 10), (1, 70), (1, 130)]):
        store.remember(f"r{i}", "v3", pred, t)
    assert store.label("r0", 1) and store.label("r1", 1) and store.label("r2", 0) and store.label("r3", True)
    assert not store.label("r0", 1)  # already labelled
    buckets = store.series["v3"]
    assert [b.start for b in buckets] == [60, 120]  # the oldest bucket fell out
    assert (buckets[0].accuracy, buckets[0].precision) == (0.0, 0.0)
    assert (buckets[1].accuracy, buckets[1].precision) == (1.0, 1.0)


def test_pending_predictions_are_bounded_oldest_first():
    store = LabelStore(capacity=3)
    for i in range(5):
        store.remember(f"r{i}", "v3", 1, 0.0)
    assert list(store.pending) == ["r2", "r3", "r4"]
    assert not store.label("r0", 1)


def test_round_trip():
    store = LabelStore(capacity=5, bucket_seconds=60)
    store.remember("a", "v3", "1", 5.0)
    store.remember("b", "v3", "0", 6.0)
    store.label("a", "1")
    again = LabelStore(capacity=5, bucket_seconds=60)
    again.load(store.to_dict())
    assert again.summary() == store.summary() and list(again.pending) == ["b"]
