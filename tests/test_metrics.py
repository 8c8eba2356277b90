"""Agreement metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from grader.scoring.metrics import derive_step, pearson, qwk, rmse, round_to_step


def test_pearson_matches_hand_computation() -> None:
    # dx = (-1.5, -.5, .5, 1.5), dy = (-1.75, .25, 1.25, .25): 3.5 / sqrt(5 * 4.75)
    assert pearson([1, 2, 3, 4], [2, 4, 5, 4]) == pytest.approx(3.5 / math.sqrt(23.75))


def test_pearson_is_nan_for_a_constant_side_and_bounded() -> None:
    assert math.isnan(pearson([1, 2, 3], [5, 5, 5]))
    assert pearson([0.1, 0.2, 0.3], [0.2, 0.4, 0.6]) == 1.0


def test_rmse_matches_hand_computation() -> None:
    assert rmse([0.0, 1.0], [1.0, 1.0]) == pytest.approx(math.sqrt(0.5))
    assert rmse([0.5], [0.5]) == 0.0


@pytest.mark.parametrize(
    "call",
    [
        lambda: pearson([1, 2], [1, 2, 3]),
        lambda: pearson([1], [1]),
        lambda: rmse([], []),
        lambda: rmse([1.0, math.nan], [1.0, 1.0]),
    ],
)
def test_bad_inputs_raise(call) -> None:
    with pytest.raises(ValueError):
        call()


def test_qwk_matches_hand_computation() -> None:
    # Categories (step 0.5): true 0,1,2,2; predicted 0,2,2,1; weights (i-j)^2/4.
    # Observed weighted disagreement 0.5; expected 22/16. Kappa = 1 - 0.5 / 1.375.
    value = qwk([0, 0.5, 1, 1], [0, 1, 1, 0.5], step=0.5)
    assert value == pytest.approx(1 - 0.5 / 1.375)


def test_qwk_agrees_with_scikit_learn_on_rounded_categories() -> None:
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 9, 200) / 8
    pred = np.clip(truth + rng.normal(0, 0.2, 200), 0, 1)
    ours = qwk(truth, pred, step=0.125)
    labels = list(range(9))
    theirs = cohen_kappa_score(
        round_to_step(truth, step=0.125, lo=0, hi=1),
        round_to_step(pred, step=0.125, lo=0, hi=1),
        labels=labels,
        weights="quadratic",
    )
    assert ours == pytest.approx(theirs)


def test_qwk_edge_cases() -> None:
    assert qwk([0, 0.5, 1], [0, 0.5, 1], step=0.5) == 1.0
    assert qwk([1, 1], [1, 1], step=0.125) == 1.0  # one category on both sides
    assert qwk([1, 1], [0, 0], step=0.125) == 0.0
    with pytest.raises(ValueError, match="step"):
        qwk([0, 1], [0, 1], step=0)
    with pytest.raises(ValueError, match="hi"):
        qwk([0, 1], [0, 1], step=0.5, lo=1, hi=1)


def test_rounding_is_half_up_and_clipped() -> None:
    cats = round_to_step([0.0625, 0.06, 0.8, 0.9375, -0.3, 1.7], step=0.125, lo=0, hi=1)
    assert cats.tolist() == [1, 0, 6, 8, 0, 8]


def test_derive_step() -> None:
    saf_like = [1.0] * 80 + [0.75] * 10 + [0.625] * 6 + [0.8] * 3 + [0.9]
    assert derive_step(saf_like, 1.0) == 0.125
    assert derive_step([0, 1, 1, 0], 1.0) == 1.0
    assert derive_step([0, 2, 5, 3, 4], 5.0) == 1.0
    assert derive_step([0, 2.5, 5, 3.5], 5.0) == 0.5
    with pytest.raises(ValueError, match="max_score"):
        derive_step([0.5], 0.0)
