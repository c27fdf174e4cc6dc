"""datathon/activity.py: the NAF division of a code, the activity classifier and the similarity of a
declared activity with NAF labels."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from datathon.activity import ActivityClassifier, LabelSimilarity, division
from datathon.naf import naf_csv_frame


@pytest.mark.parametrize("code, expected", [
    ("56.10A", "56"), ("01.11Z", "01"), ("5610A", "56"), ("10", "10"),
    (None, ""), (np.nan, ""), (pd.NA, ""), ("", ""), ("5", ""), ("AB.12", ""),
])
def test_division(code, expected):
    """Is the division the first two digits of a code, and '' for a missing or malformed one?"""
    assert division(code) == expected


# Bakeries, road transport and hairdressers: three divisions, each with its own words.
TEXTS = ["boulangerie patisserie", "boulangerie", "patisserie artisanale", "fabrication de pain", "Boulangerie pain",
         "transport routier", "transport de marchandises", "chauffeur routier", "transport routier de fret",
         "livraison transport", "coiffure", "salon de coiffure", "coiffure mixte"]
CODES = ["10.71C"] * 5 + ["49.41A"] * 5 + ["96.02A"] * 3


@pytest.fixture(scope="module")
def classifier() -> ActivityClassifier:
    return ActivityClassifier().fit(TEXTS, CODES)


def test_the_classifier_learns_divisions_and_predicts_them(classifier):
    """Fitted on bakery, transport and hairdressing descriptions, does it predict 10, 49 and 96 for new
    descriptions of each trade?"""
    assert classifier.classes_.tolist() == ["10", "49", "96"]
    assert classifier.predict(["BOULANGERIE", "transport routier", "salon coiffure"]).tolist() == ["10", "49", "96"]


def test_predict_proba_has_a_column_per_division_summing_to_one(classifier):
    """Is there one probability per division (classes_ order), summing to 1, highest for the right one?"""
    proba = classifier.predict_proba(["boulangerie", "transport routier"])
    assert proba.shape == (2, 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert proba[0].argmax() == 0 and proba[1].argmax() == 1


def test_an_empty_text_gets_the_prior(classifier):
    """Does an empty or missing description get the divisions' prior, whatever the other texts?"""
    proba = classifier.predict_proba(["", None, "boulangerie", "  "])
    for i in (0, 1, 3):
        assert proba[i] == pytest.approx(classifier.prior_)
    assert not np.allclose(proba[2], classifier.prior_)
    # The largest division of the training set is the most probable a priori.
    assert classifier.prior_.argmax() in (0, 1) and classifier.prior_[2] < classifier.prior_[0]


def test_probability_of_is_aligned_with_the_codes(classifier):
    """Is probability_of(texts, codes)[i] the probability of codes[i]'s division for texts[i], 0 for a
    division never seen and for a missing code?"""
    texts = ["boulangerie", "boulangerie", "transport routier", "boulangerie", "boulangerie"]
    codes = ["10.71C", "49.41A", "49.41A", "56.10A", None]
    p = classifier.probability_of(texts, codes)
    proba = classifier.predict_proba(["boulangerie", "transport routier"])
    assert p[:3] == pytest.approx([proba[0, 0], proba[0, 1], proba[1, 1]])
    assert p[3] == 0.0 and p[4] == 0.0
    assert p[0] > 0.5 > p[1]


def test_probability_of_accepts_series(classifier):
    """Do pandas Series (with any index) give the same answer as lists?"""
    texts = pd.Series(["boulangerie", "coiffure"], index=[7, 3])
    codes = pd.Series(["10.71C", "96.02A"], index=[1, 2])
    assert classifier.probability_of(texts, codes) == pytest.approx(
        classifier.probability_of(["boulangerie", "coiffure"], ["10.71C", "96.02A"]))


def test_length_mismatches_are_refused(classifier):
    """Are texts and codes of different lengths refused, in fit() and in probability_of()?"""
    with pytest.raises(ValueError):
        ActivityClassifier().fit(["a", "b"], ["10.71C"])
    with pytest.raises(ValueError):
        classifier.probability_of(["boulangerie"], [])


def test_one_division_is_not_enough():
    """Is a training set with a single division (after leaving out empty texts and codes) refused?"""
    with pytest.raises(ValueError, match="two"):
        ActivityClassifier().fit(["boulangerie", "patisserie", "", "transport"], ["10.71C", "10.71D", "49.41A", None])


def test_an_unfitted_classifier_refuses_to_answer():
    """Does an unfitted classifier raise rather than return nonsense?"""
    with pytest.raises(RuntimeError):
        ActivityClassifier().predict(["boulangerie"])


def test_naf_labels_add_the_divisions_the_bulletins_never_show():
    """With naf=, are all 88 divisions learnt, the bulletins' own still predicted?"""
    model = ActivityClassifier().fit(TEXTS, CODES, naf=naf_csv_frame())
    assert len(model.classes_) == 88
    assert model.predict(["boulangerie", "transport routier"]).tolist() == ["10", "49"]


# -- similarity with NAF labels ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def labels() -> LabelSimilarity:
    return LabelSimilarity(naf_csv_frame())


def test_label_similarity_is_highest_for_the_matching_label(labels):
    """Among all 732 NAF codes, is 'boulangerie patisserie' closest to 10.71C (Boulangerie et
    boulangerie-pâtisserie), and is the exact label about 1?"""
    naf = naf_csv_frame()
    s = labels.similarity(["boulangerie patisserie"] * len(naf), naf["code"])
    assert naf["code"].iloc[int(np.argmax(s))] == "10.71C"
    exact = labels.similarity(["Boulangerie et boulangerie-pâtisserie"], ["10.71C"])
    assert exact[0] == pytest.approx(1.0, abs=1e-5)
    assert labels.similarity(["coiffure"], ["96.02A"])[0] > labels.similarity(["coiffure"], ["49.41A"])[0]


def test_label_similarity_is_zero_for_unknown_codes_and_missing_values(labels):
    """Is the similarity 0 for a code not in the nomenclature, a missing code and a missing text?"""
    s = labels.similarity(["boulangerie", "boulangerie", None, ""], ["99.99Z", None, "10.71C", "10.71C"])
    assert s.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_label_similarity_of_repeated_pairs_matches_each_pair_alone(labels):
    """Computed once per distinct pair, is each pair's value the one it gets on its own, in order?"""
    texts = ["boulangerie", "coiffure", "boulangerie", "transport routier", "coiffure", "boulangerie"]
    codes = ["10.71C", "96.02A", "49.41A", "49.41A", "96.02A", "10.71C"]
    together = labels.similarity(texts, codes)
    alone = [labels.similarity([t], [c])[0] for t, c in zip(texts, codes)]
    assert together == pytest.approx(alone, abs=1e-6)
    assert together[0] == together[5] and together[1] == together[4]
    assert labels.similarity(pd.Series(texts), pd.Series(codes)) == pytest.approx(together)


def test_label_similarity_checks_lengths_and_accepts_nothing(labels):
    """Are texts and codes of different lengths refused, and no pair an empty array?"""
    with pytest.raises(ValueError):
        labels.similarity(["a"], [])
    assert labels.similarity([], []).shape == (0,)


def test_no_text_gives_empty_probabilities(classifier):
    """Do predict_proba and probability_of on no text return empty arrays (as LabelSimilarity does) rather
    than raise? pair_features() calls probability_of on every pair, none for bulletins without candidates."""
    assert classifier.predict_proba([]).shape == (0, len(classifier.classes_))
    assert classifier.probability_of([], []).shape == (0,)
