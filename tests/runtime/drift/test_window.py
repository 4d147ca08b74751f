import numpy as np
import pytest
from scipy import stats

from runtime.drift.profile import bin_index, build_profile
from runtime.drift.window import CategoricalWindow, NumericWindow, RowSampler, window_from_dict

from .conftest import make_rows


def feed(window, sampler, values):
    window.add(values, *sampler.take(len(values)))


def test_numeric_counts_match_binning_every_row(reference):
    rows = make_rows(5_000, seed=2)["amount"].to_numpy()
    window, sampler = NumericWindow(reference.features["amount"], capacity=1_000), RowSampler(1_000)
    for chunk in np.array_split(rows, 7):
        feed(window, sampler, chunk)
    edges = reference.features["amount"].edges
    assert window.counts.tolist() == np.bincount(bin_index(edges, rows), minlength=len(edges) + 1).tolist()
    assert window.rows == 5_000 and window.sample.size == 1_000
    assert np.isin(window.sample, rows).all()
    assert window.mean == pytest.approx(rows.mean()) and window.std == pytest.approx(rows.std())


def test_reservoir_holds_every_row_until_full_so_ks_equals_the_exact_test(reference):
    rows = make_rows(800, seed=3)["tenure"].to_numpy()
    window, sampler = NumericWindow(reference.features["tenure"], capacity=1_000), RowSampler(1_000)
    feed(window, sampler, rows[:300])
    feed(window, sampler, rows[300:])
    ref_sample = reference.features["tenure"].sample
    assert np.array_equal(window.sample, rows)
    assert stats.ks_2samp(ref_sample, window.sample).statistic == stats.ks_2samp(ref_sample, rows).statistic


def test_reservoir_is_a_uniform_sample():
    profile = build_profile(__import__("pandas").DataFrame({"x": np.arange(1_000.0)})).features["x"]
    hits = np.zeros(1_000)
    for seed in range(300):
        window, sampler = NumericWindow(profile, capacity=100), RowSampler(100, seed=seed)
        for chunk in np.array_split(np.arange(1_000.0), 9):
            feed(window, sampler, chunk)
        hits[window.sample.astype(int)] += 1
    # every row kept with probability 0.1: compare early, middle and late rows
    thirds = [hits[:333].mean(), hits[333:666].mean(), hits[666:].mean()]
    assert thirds == pytest.approx([30, 30, 30], rel=0.08)
    assert stats.chisquare(hits.reshape(20, 50).sum(axis=1)).pvalue > 0.001


def test_missing_and_non_numeric_values_are_counted_apart(reference):
    window = NumericWindow(reference.features["amount"], capacity=10)
    feed(window, RowSampler(10), [1.0, None, "x", float("nan"), 2.0])
    assert window.rows == 2 and window.missing == 3
    assert window.sample.tolist() == [1.0, 2.0]


def test_categorical_counts_and_new_categories(reference):
    window = CategoricalWindow(reference.features["country"])
    window.add(["fr", "fr", "de", "mars", None, "venus", "mars"])
    counts = dict(zip([*window.categories, "unseen"], window.counts.tolist()))
    assert counts["fr"] == 2 and counts["de"] == 1 and counts["unseen"] == 3
    assert window.new_categories == {"mars": 2, "venus": 1} and window.missing == 1


def test_round_trip_continues_the_same_stream(reference):
    rows = make_rows(3_000, seed=4)["amount"].to_numpy()
    column = reference.features["amount"]
    straight, sampler = NumericWindow(column, capacity=500), RowSampler(500, seed=9)
    for chunk in (rows[:1_700], rows[1_700:]):
        feed(straight, sampler, chunk)
    first, sampler = NumericWindow(column, capacity=500), RowSampler(500, seed=9)
    feed(first, sampler, rows[:1_700])
    resumed = window_from_dict(column, first.to_dict(), capacity=500)
    resumed_sampler = RowSampler(500)
    resumed_sampler.load(sampler.to_dict())
    feed(resumed, resumed_sampler, rows[1_700:])
    assert resumed.counts.tolist() == straight.counts.tolist() and resumed.rows == 3_000
    assert np.array_equal(resumed.sample, straight.sample)
    with pytest.raises(ValueError, match="persisted window is 'numeric'"):
        window_from_dict(reference.features["country"], first.to_dict())


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("amount", [100.5, 3, -7.25, 2**60, 1e308 * 10, float("nan"), 140.0, 99]),
        ("amount", [1.5, None, "12.5", "n/a", True, 80.0]),  # not all numbers: coerced
        ("country", ["fr", "de", "xx", None, float("nan"), "fr", 1, 1.0, True, "yy", "xx", 2.5]),
    ],
    ids=["numbers", "mixed", "categories"],
)
def test_json_columns_count_as_the_pandas_route_counts(reference, column, values):
    """A list (a decoded JSON column) takes the direct route; a tuple of the same values the
    pandas one (to_numeric, value_counts): both leave the same window."""
    windows = []
    for given in (values * 40, tuple(values * 40)):
        sampler = RowSampler(100, seed=4)
        profile = reference.features[column]
        window = NumericWindow(profile, 100) if column == "amount" else CategoricalWindow(profile)
        feed(window, sampler, given)
        windows.append(window.to_dict())
    assert windows[0] == windows[1]
    assert windows[0]["rows"] + windows[0]["missing"] == len(values) * 40
