"""seqlrp.models.metrics: AUROC / average precision on inputs small enough to check by hand."""

import math

import numpy as np
import pytest

from seqlrp.models.metrics import accuracy, auroc, average_precision, precision_recall_curve, roc_curve


def mann_whitney(labels, scores):
    """AUROC by definition: P(score_pos > score_neg) + 1/2 P(tie), over all pairs."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size


def test_perfect_and_reversed_ranking():
    labels = np.array([1, 1, 1, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    assert auroc(labels, scores) == 1.0
    assert average_precision(labels, scores) == 1.0
    assert auroc(labels, -scores) == 0.0


def test_small_example_by_hand():
    # ranking P N P N: positive 0.9 beats both negatives, positive 0.7 beats one -> 3/4
    labels = np.array([1, 0, 1, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    assert auroc(labels, scores) == pytest.approx(0.75)
    # precision 1/1 at recall 1/2, then 2/3 at recall 1: AP = 1/2 * 1 + 1/2 * 2/3
    assert average_precision(labels, scores) == pytest.approx(0.5 + 1 / 3)


def test_ties_count_half_and_form_one_threshold():
    # p1 beats all three negatives (3); p2 ties two negatives (2 x 1/2) and beats one (1) -> 5/6
    labels = np.array([1, 1, 0, 0, 0])
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    assert auroc(labels, scores) == pytest.approx(5 / 6)
    # thresholds 0.9 (P=1, R=1/2) and 0.5 (tp 2, fp 2: P=1/2, R=1): AP = 1/2 + 1/4
    assert average_precision(labels, scores) == pytest.approx(0.75)
    fpr, tpr, thresholds = roc_curve(labels, scores)
    np.testing.assert_allclose(thresholds, [0.9, 0.5, 0.1])
    np.testing.assert_allclose(fpr, [0, 0, 2 / 3, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 1, 1])


def test_all_scores_tied():
    labels = np.array([1, 0, 0, 1, 0])
    scores = np.full(5, 3.0)
    assert auroc(labels, scores) == pytest.approx(0.5)
    assert average_precision(labels, scores) == pytest.approx(0.4)  # the prevalence


def test_auroc_matches_pairwise_definition_with_many_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        labels = rng.integers(0, 2, size=60)
        scores = rng.integers(0, 6, size=60).astype(float)  # few distinct values: many ties
        if labels.all() or not labels.any():
            continue
        assert auroc(labels, scores) == pytest.approx(mann_whitney(labels, scores), abs=1e-12)


def test_average_precision_is_mean_precision_at_each_positive_without_ties():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, size=50)
    scores = rng.random(50)
    ranked = labels[np.argsort(-scores)]
    hits = np.cumsum(ranked)
    expected = np.mean([hits[i] / (i + 1) for i in np.flatnonzero(ranked)])
    assert average_precision(labels, scores) == pytest.approx(expected)


def test_pr_curve_shape():
    labels = np.array([True, False, True, False])
    precision, recall, thresholds = precision_recall_curve(labels, np.array([4.0, 3.0, 2.0, 1.0]))
    np.testing.assert_allclose(precision, [1, 1 / 2, 2 / 3, 1 / 2])
    np.testing.assert_allclose(recall, [0.5, 0.5, 1, 1])
    np.testing.assert_allclose(thresholds, [4, 3, 2, 1])


def test_one_class_only_is_nan_and_bad_input_raises():
    assert math.isnan(auroc(np.ones(4), np.arange(4.0)))
    assert math.isnan(auroc(np.zeros(4), np.arange(4.0)))
    assert math.isnan(average_precision(np.zeros(4), np.arange(4.0)))
    assert average_precision(np.ones(4), np.arange(4.0)) == 1.0
    with pytest.raises(ValueError, match="shapes"):
        auroc(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="finite"):
        auroc(np.array([0, 1]), np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="0/1"):
        auroc(np.array([0, 2]), np.array([0.0, 1.0]))


def test_accuracy():
    assert accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == 0.75
    assert math.isnan(accuracy([], []))
