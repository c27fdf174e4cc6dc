"""datathon.plots: the precision–coverage curve (course/05_submit and the approach notebooks)."""
from __future__ import annotations

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from datathon import evaluate, plots  # noqa: E402
from datathon.luhn import luhn_check_digit  # noqa: E402


def test_the_curve_has_one_point_per_distinct_score_from_the_highest():
    """Are equal scores kept together (a threshold cannot split them), highest first?"""
    curve = plots.precision_coverage_curve([0.9, 0.5, 0.9, 0.2], [True, False, True, False], 10)
    assert curve["threshold"].tolist() == [0.9, 0.5, 0.2]
    assert curve["coded"].tolist() == [2, 3, 4] and curve["right"].tolist() == [2, 2, 2]
    assert curve["coverage"].tolist() == pytest.approx([0.2, 0.3, 0.4])
    assert curve["precision"].tolist() == pytest.approx([1.0, 2 / 3, 0.5])
    assert plots.coverage_at(curve, 0.6) == pytest.approx(0.3)
    assert plots.coverage_at(curve, 1.0) == pytest.approx(0.2)
    assert plots.coverage_at(plots.precision_coverage_curve([0.5], [False], 3), 0.9) == 0.0


def test_coverage_at_agrees_with_the_evaluation_module():
    """Does the curve give, at 0.90, 0.95 and 0.98, the coverage evaluate.score reports, ties included?"""
    rng = np.random.default_rng(3)
    n = 400
    sirets = [body + luhn_check_digit(body) for body in (f"{1234567800000 + 10 * i:013d}" for i in range(n))]
    truth = pd.DataFrame({"CABBI": [f"b{i}" for i in range(n)], "SIRET_DEC": sirets})
    coded = rng.random(n) < 0.7
    right = rng.random(n) < 0.93
    predicted = [s if r else sirets[(i + 1) % n] for i, (s, r) in enumerate(zip(sirets, right))]
    scores = np.round(rng.random(n) * 0.5 + 0.5 * right, 1)  # few distinct values: many ties
    sub = pd.DataFrame({"CABBI": truth["CABBI"], "siret": pd.array(np.where(coded, predicted, None), dtype="string"),
                        "score": scores})
    result = evaluate.score(sub, truth)
    curve = plots.precision_coverage_curve(scores[coded], (np.array(predicted) == np.array(sirets))[coded], n)
    for label, value in result["coverage_at_precision"].items():
        assert plots.coverage_at(curve, float(label)) == pytest.approx(value), label


def test_the_plot_draws_the_curve_rings_each_target_and_labels_its_axes():
    """Does precision_coverage draw one labelled line, a ring and a label per reachable target, and name both axes?"""
    fig, ax = plt.subplots()
    curve = plots.precision_coverage(ax, [0.9, 0.8, 0.7, 0.6], [True, True, False, False], 8, label="ours",
                                     targets=(0.9, 0.6))
    assert len(curve) == 4
    assert [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")] == ["ours"]
    assert [t.get_text() for t in ax.texts] == ["25.0% at ≥ 90%", "37.5% at ≥ 60%"]
    assert ax.get_xlabel().startswith("coverage") and ax.get_ylabel().startswith("precision")
    plt.close(fig)


def test_an_axis_already_labelled_keeps_its_label():
    """Is a second curve on the same axes drawn without renaming them?"""
    fig, ax = plt.subplots()
    ax.set_xlabel("mine")
    plots.precision_coverage(ax, [0.5], [True], 2, targets=())
    assert ax.get_xlabel() == "mine" and not ax.texts
    plt.close(fig)
