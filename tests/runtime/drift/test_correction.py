import numpy as np
import pytest

from runtime.drift.correction import adjust, reject


def test_bh_step_up_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.20])
    # sorted: 0.01, 0.03, 0.04, 0.20 -> p*m/rank: 0.04, 0.06, 0.0533, 0.20 -> monotone from the top
    assert adjust(p, "bh") == pytest.approx([0.04, 0.05333333, 0.05333333, 0.20])
    assert reject(p, 0.05, "bh").tolist() == [True, False, False, False]


def test_bonferroni_multiplies_and_caps():
    p = np.array([0.01, 0.3, 0.6])
    assert adjust(p, "bonferroni").tolist() == pytest.approx([0.03, 0.9, 1.0])
    assert reject(p, 0.05, "bonferroni").tolist() == [True, False, False]


def test_bh_rejects_at_least_what_bonferroni_does():
    rng = np.random.default_rng(3)
    for _ in range(200):
        p = rng.random(20) ** 3
        assert (reject(p, 0.05, "bh") >= reject(p, 0.05, "bonferroni")).all()


def test_unknown_method_and_empty_input():
    assert adjust(np.array([]), "bh").size == 0
    with pytest.raises(ValueError, match="expected 'bh' or 'bonferroni'"):
        adjust(np.array([0.1]), "holm")
