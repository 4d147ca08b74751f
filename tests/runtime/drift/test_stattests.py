import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from runtime.drift import stattests
from runtime.drift.detector import choose_tests
from runtime.drift.stattests import STATTESTS, expected_tests, for_column
from runtime.drift.stattests.chi2 import chi2, pool_rare
from runtime.drift.stattests.jensenshannon import jensenshannon
from runtime.drift.stattests.ks import ks
from runtime.drift.stattests.psi import psi
from runtime.drift.stattests.wasserstein import wasserstein
from runtime.spec import DriftSpec


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def test_ks_matches_scipy_exactly(rng):
    ref, cur = rng.normal(size=3_000), rng.normal(0.1, 1.0, size=2_000)
    expected = stats.ks_2samp(ref, cur)
    result = ks(ref, cur, 0.01)
    assert result.score == expected.statistic and result.p_value == expected.pvalue
    assert result.drifted == (expected.pvalue < 0.01) and result.kind == "p_value"


def test_chi2_matches_scipy_contingency_and_drops_empty_cells(rng):
    ref = np.array([500, 300, 0, 200])
    cur = np.array([40, 35, 0, 25])
    expected = stats.chi2_contingency(np.array([[500, 300, 200], [40, 35, 25]]), correction=False)
    result = chi2(ref, cur)
    assert result.score == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12)


def test_chi2_flags_a_new_category():
    result = chi2(np.array([500, 500, 0]), np.array([40, 40, 20]), 0.01)
    assert result.drifted and result.p_value < 1e-6


def test_pool_rare_merges_small_cells_but_keeps_new_categories():
    ref, cur = pool_rare(np.array([1000, 1000, 3, 2, 0]), np.array([100, 100, 0, 1, 9]))
    assert ref.tolist() == [1000, 1000, 0, 5] and cur.tolist() == [100, 100, 9, 1]


def test_psi_by_hand():
    ref, cur = np.array([50, 30, 20]), np.array([30, 30, 40])
    r, c = ref / ref.sum(), cur / cur.sum()
    assert psi(ref, cur).score == pytest.approx(float(np.sum((c - r) * np.log(c / r))))
    assert psi(ref, ref).score == 0 and not psi(ref, ref).drifted
    assert psi(ref, cur, 0.2).drifted and psi(ref, cur).p_value is None


def test_wasserstein_matches_scipy_normalized_by_reference_std(rng):
    ref, cur = rng.exponential(2.0, 4_000), rng.exponential(2.0, 1_000) + 0.5
    result = wasserstein(ref, cur)
    assert result.score == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-12)
    assert result.drifted and result.kind == "distance"


def test_jensenshannon_matches_scipy_and_the_definition(rng):
    ref, cur = np.array([500, 300, 0, 200]), np.array([30, 30, 15, 25])
    result = jensenshannon(ref, cur)
    expected = distance.jensenshannon(ref, cur, base=2)  # scipy normalizes counts itself
    p, q = ref / ref.sum(), cur / cur.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.sum(a[a > 0] * np.log2(a[a > 0] / b[a > 0])))

    assert result.score == pytest.approx(expected, rel=1e-12)
    assert result.score == pytest.approx(np.sqrt((kl(p, m) + kl(q, m)) / 2), rel=1e-12)
    assert result.drifted and result.kind == "distance" and result.threshold == 0.1
    assert jensenshannon(ref, ref).score == pytest.approx(0.0, abs=1e-7) and not jensenshannon(ref, ref).drifted
    assert jensenshannon(np.array([5, 0]), np.array([0, 5])).score == pytest.approx(1.0)
    assert not jensenshannon(ref, np.zeros(4)).drifted
    same = rng.multinomial(20_000, p)
    assert not jensenshannon(ref, same).drifted


def test_jensenshannon_runs_on_a_categorical_feature_from_the_spec(reference):
    tests = choose_tests(reference, DriftSpec(features={"country": {"test": "jensenshannon", "threshold": 0.2}}))
    assert tests["country"].function is jensenshannon


def test_chi2_pools_rare_cells_when_asked():
    ref, cur = np.array([1000, 1000, 3, 2, 1]), np.array([100, 100, 0, 1, 4])
    pooled = chi2(*pool_rare(ref, cur, 5.0))
    assert chi2(ref, cur, 0.05, 5.0) == pooled and chi2(ref, cur) != pooled


def test_registry_is_explicit_and_complete():
    assert {t.reads for t in STATTESTS.values()} == {"sample", "counts"}
    assert all((t.kind == "distance") == (t.default_threshold is not None) for t in STATTESTS.values())
    # A test that reads samples needs the reference sample, which only numeric columns keep.
    assert all(t.columns == {"numeric"} for t in STATTESTS.values() if t.reads == "sample")
    assert {t.name for t in for_column("categorical")} >= {"chi2", "psi"}
    assert expected_tests([STATTESTS["psi"], STATTESTS["chi2"]]) == "'chi2' or 'psi'"


def test_registry_and_modules_are_one_list():
    """Each registered test has its module with a function of its name, and each test module is registered."""
    package = Path(stattests.__file__).parent
    modules = {p.stem for p in package.glob("*.py")} - {"__init__", "result", "rate"}
    assert modules == set(STATTESTS)
    for name, test in STATTESTS.items():
        assert test.name == name and callable(test.function) and test.function.__name__ == name
        assert test.function.__module__ == f"runtime.drift.stattests.{name}"


def test_the_registry_loads_neither_numpy_nor_scipy():
    code = "import sys, runtime.drift.stattests\nprint(sorted(m for m in sys.modules if m.split('.')[0] in {'numpy', 'scipy', 'pandas'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_empty_inputs_do_not_drift():
    empty = np.array([])
    assert not ks(empty, np.ones(3)).drifted and not wasserstein(np.ones(3), empty).drifted
    assert not chi2(np.array([5, 0]), np.array([0, 0])).drifted
