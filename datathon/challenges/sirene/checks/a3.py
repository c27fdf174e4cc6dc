"""Checks for assignment a3_learning (``solutions/a3_learning``): activity, pair features, matcher, threshold.

``q1`` ``activity_classifier``, ``q2`` ``pair_features``, ``q3`` ``train_matcher``, ``q4``
``choose_threshold``, ``q5`` ``make_submission``. Each check runs the student's function on small
examples written for it (the graded tests use the real bulletins and other examples) and checks
properties every right answer has. The performance bands of questions 1, 3 and 5 are not checked
here: the notebook measures them on held-out training bulletins, and the grader on the hidden truth.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from datathon.checks import Incorrect, Literal, NotAttempted, Question, approx, expect, show

__all__ = ["q1", "q2", "q3", "q4", "q5"]


def _call(function, called: str, *args, none_ok: bool = False):
    """:func:`datathon.checks.call`, shown as ``called`` (the arguments are frames and arrays, too long to show):
    ``NotImplementedError`` or ``None`` is not attempted, any other exception incorrect."""
    try:
        result = function(*args)
    except NotImplementedError:
        raise NotAttempted(f"{function.__name__}() still raises NotImplementedError: write its body, run the cell, "
                           "then check again") from None
    except Exception as err:  # noqa: BLE001 - any failure of the student's code is a verdict
        raise Incorrect(f"{called} raised {type(err).__name__}: {err}") from None
    if result is None and not none_ok:
        raise NotAttempted(f"{called} returned None: is a `return` missing?")
    return result


def _require(ok: bool, called: str, what: str, wanted: str) -> None:
    """Raise :class:`Incorrect` unless ``ok``: '<called> returned <what>, expected <wanted>' (no quoting: ``what``
    describes the result in words)."""
    if not ok:
        raise Incorrect(f"{called} returned {what}, expected {wanted}")


# ------------------------------------------------------------------------------------------------
# q1: activity_classifier
# ------------------------------------------------------------------------------------------------

# A small corpus of declared activities, three times each (a vectoriser may drop words seen once).
_ACTIVITIES = {
    "10": ["BOULANGERIE", "boulangerie patisserie", "Boulangerie artisanale", "FABRICATION DE PAIN"],
    "49": ["TRANSPORT ROUTIER", "transports de marchandises", "Transport routier de voyageurs", "TAXI"],
    "85": ["ENSEIGNEMENT", "ecole primaire", "Enseignement secondaire", "COLLEGE"],
    "47": ["COMMERCE DE DETAIL", "supermarche", "Commerce de detail alimentaire", ""],
}
_TEXTS = np.array([t for texts in _ACTIVITIES.values() for t in texts] * 3, dtype=object)
_DIVISIONS = np.array([d for d, texts in _ACTIVITIES.items() for _ in texts] * 3, dtype=object)


def _verify_activity(activity_classifier) -> str:
    shown = [Literal("texts"), Literal("divisions")]
    model = _call(activity_classifier, "activity_classifier(texts, divisions)", _TEXTS, _DIVISIONS)
    missing = [a for a in ("predict", "predict_proba", "classes_") if not hasattr(model, a)]
    expect(not missing, activity_classifier, shown, model,
           f"a fitted classifier with predict, predict_proba and classes_ (missing: {', '.join(missing)}); "
           "did you return the pipeline after fitting it?")
    classes = [str(c) for c in model.classes_]
    expect(sorted(classes) == sorted(_ACTIVITIES), activity_classifier, shown, classes,
           f"classes_ {sorted(_ACTIVITIES)}: the divisions it was given, as strings")
    for text, wanted in [("BOULANGERIE DU PORT", "10"), ("TRANSPORT ROUTIER DE MARCHANDISES", "49"),
                         ("ECOLE PRIMAIRE PUBLIQUE", "85")]:
        try:
            got = [str(x) for x in model.predict([text])]
        except Exception as err:  # noqa: BLE001 - the student's model, any failure is a verdict
            raise Incorrect(f"the classifier's predict([{text!r}]) raised {type(err).__name__}: {err}") from None
        if got != [wanted]:
            raise Incorrect(f"the classifier's predict([{text!r}]) returned {show(got)}, expected ['{wanted}'] "
                            "(the words it learnt point there)")
    try:
        proba = np.asarray(model.predict_proba(["ECOLE", ""]), dtype=float)
    except Exception as err:  # noqa: BLE001
        raise Incorrect(f"the classifier's predict_proba(['ECOLE', '']) raised {type(err).__name__}: {err} "
                        "(a blank activity is a text too)") from None
    if proba.shape != (2, len(classes)) or not np.allclose(proba.sum(axis=1), 1.0):
        raise Incorrect(f"the classifier's predict_proba(['ECOLE', '']) returned {show(proba.round(3).tolist())}, "
                        f"expected 2 rows of {len(classes)} probabilities (one per class), each summing to 1")
    return ("activity_classifier() learns words that point to a division, and gives a probability for every "
            "division, even for a blank text.")


q1 = Question(
    "q1", ["activity_classifier"], _verify_activity,
    "sklearn.pipeline.make_pipeline(TfidfVectorizer(...), LogisticRegression(...)) is a classifier that takes raw "
    "texts; fit it on (texts, divisions) and return it. TfidfVectorizer's strip_accents, ngram_range=(1, 2) and "
    "sublinear_tf are worth trying; a larger C or max_iter helps LogisticRegression on many small texts.",
)


# ------------------------------------------------------------------------------------------------
# q2: pair_features
# ------------------------------------------------------------------------------------------------


class _Activities:
    """A stand-in activity classifier: 'GARAGE' is division 45 (90 %), anything else 10 / 45 / 56 evenly."""

    classes_ = np.array(["10", "45", "56"])

    def predict_proba(self, texts):
        return np.array([[0.05, 0.9, 0.05] if "GARAGE" in str(t) else [1 / 3] * 3 for t in texts])

    def predict(self, texts):
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]


def _pairs() -> pd.DataFrame:
    """Two bulletins, three candidates each; bulletin 1 was not geocoded."""
    return pd.DataFrame({
        "bulletin": [0, 0, 0, 1, 1, 1], "CABBI": ["P", "P", "P", "Q", "Q", "Q"], "row": [5, 6, 7, 8, 9, 10],
        "siret": [f"3000000000001{i}" for i in range(6)],
        "declared_name": ["GARAGE LE GOFF", "GARAGE LE GOFF", "GARAGE LE GOFF", "", "", ""],
        "candidate_name": ["GARAGE LE GOFF", "GARAGE LE GOF", "PHARMACIE CENTRALE", "BAR DU PORT", "", "HOTEL"],
        "declared_activity": ["GARAGE", "GARAGE", "GARAGE", "", "", ""],
        "candidate_activity": ["45.20A", "45.20B", "47.73Z", "56.30Z", "10.71C", "55.10Z"],
        "x": [300000.0] * 3 + [np.nan] * 3, "y": [6800000.0] * 3 + [np.nan] * 3,
        "candidate_x": [300300.0, np.nan, 301000.0, 302000.0, 302000.0, 302000.0],
        "candidate_y": [6800400.0, np.nan, 6800000.0, 6800000.0, 6800000.0, 6800000.0],
        "geocode_level": ["number"] * 3 + ["none"] * 3,
        "declared_street": ["PORT"] * 3 + [""] * 3, "candidate_street": ["PORT", "GARE", "", "PORT", "", "MER"],
        "declared_number": ["4"] * 3 + [""] * 3, "candidate_number": ["4", "", "9", "1", "", ""],
        "same_commune": [1.0, 1.0, 0.0, 0.0, 1.0, 0.0],
        "is_open": [True, True, True, False, True, True], "is_public": [False] * 6,
        "log_size": [1.1, 0.0, 2.6, 1.8, 0.0, 2.2], "employer_type": [1.0] * 6,
        "is_mca": [False] * 6, "mca_class": [np.nan] * 6,
        "by_name": [True, True, False, False, False, True], "by_place": [True, False, True, False, False, False],
        "by_siblings": [False] * 6, "by_frequent": [False] * 6,
    })


_REQUIRED = ("name_similarity", "distance", "activity_agreement")
_IDENTIFIERS = ("bulletin", "row", "CABBI", "siret")


def _verify_pair_features(pair_features) -> str:
    pairs = _pairs()
    before = pairs.copy()
    called = "pair_features(pairs, classifier)"
    got = _call(pair_features, called, pairs, _Activities())
    _require(isinstance(got, pd.DataFrame), called, f"a {type(got).__name__}", "a DataFrame, one row per pair")
    if not pairs.equals(before):
        raise Incorrect("pair_features(pairs, classifier) changed the pairs it was given: write the features into a "
                        "new frame (pd.DataFrame(index=pairs.index)); pair_features() must not modify the pairs")
    _require(len(got) == len(pairs) and list(got.index) == list(pairs.index), called,
             f"a frame of {len(got)} rows, index {list(got.index)}", f"{len(pairs)} rows with the pairs' index "
             "(one row per pair, same order)")
    missing = [c for c in _REQUIRED if c not in got.columns]
    _require(not missing, called, f"columns {list(got.columns)}",
             f"the columns {', '.join(_REQUIRED)} (missing: {', '.join(missing)})")
    text = [c for c in got.columns if not (pd.api.types.is_numeric_dtype(got[c]) or pd.api.types.is_bool_dtype(got[c]))]
    _require(not text, called, f"column {text[:1]} of type {got[text[0]].dtype}" if text else "",
             "numbers or booleans only: a classifier cannot learn from text")
    ids = [c for c in got.columns if c in _IDENTIFIERS]
    _require(not ids, called, f"columns {ids}",
             "no identifier among the features: a bulletin's number or a SIRET says nothing about a match")

    def values(column):
        return got[column].to_numpy(dtype=float)

    name = values("name_similarity")
    _require(approx(name[0], 1.0, 1e-6), called, f"name_similarity {name[0]:.4g} for the pair "
             "('GARAGE LE GOFF', 'GARAGE LE GOFF')", "1.0 for the same name")
    _require(0.0 < name[1] < 1.0 and name[1] > name[2], called,
             f"name_similarity {name[1]:.4g} for ('GARAGE LE GOFF', 'GARAGE LE GOF') and {name[2]:.4g} for "
             "('GARAGE LE GOFF', 'PHARMACIE CENTRALE')", "a value between 0 and 1 for a near name, higher than for "
             "another name")
    _require(bool(np.all(name[3:] == 0.0)), called, f"name_similarity {name[3:].round(3).tolist()} "
             "for an empty declared name", "0.0 when either name is empty")
    _require(bool(np.all((name >= 0.0) & (name <= 1.0))), called, f"name_similarity {name.round(3).tolist()}",
             "values between 0 and 1")
    distance = values("distance")
    _require(approx(distance[0], 500.0, 1e-6), called, f"distance {distance[0]:.4g} between (300000, "
             "6800000) and (300300, 6800400)", "500.0 metres (a 300-400-500 right triangle)")
    _require(approx(distance[2], 1000.0, 1e-6), called, f"distance {distance[2]:.4g} between (300000, "
             "6800000) and (301000, 6800000)", "1000.0 metres")
    _require(bool(np.isnan(distance[1])), called, f"distance {distance[1]:.4g} to a candidate without "
             "coordinates", "NaN: the distance is unknown (not 0, which would mean 'at the same place')")
    _require(bool(np.isnan(distance[3:]).all()), called, f"distance {distance[3:].round(1).tolist()} "
             "for a bulletin that was not geocoded", "NaN for each: the distance is unknown")
    agreement = values("activity_agreement")
    for i, wanted, why in [(0, 0.9, "'GARAGE' is division 45 at 90 %, the candidate's code 45.20A is in 45"),
                           (2, 0.0, "division 47 (47.73Z) is not one of the classifier's classes"),
                           (3, 1 / 3, "a blank activity: the classifier spreads it evenly; 56.30Z is in 56"),
                           (4, 1 / 3, "10.71C is in division 10")]:
        _require(approx(agreement[i], wanted, 1e-6), called,
                 f"activity_agreement {agreement[i]:.4g} for pair {i}", f"{wanted:.4g} ({why})")
    return ("pair_features() gives name_similarity, distance (NaN when unknown) and activity_agreement, "
            f"with {got.shape[1] - len(_REQUIRED)} more feature(s) of your own.")


q2 = Question(
    "q2", ["pair_features"], _verify_pair_features,
    "Start from an empty frame with the pairs' index: features = pd.DataFrame(index=pairs.index). The distance is "
    "np.hypot of the coordinate differences (NaN spreads by itself). For the activity, call predict_proba once on "
    "the distinct declared activities (np.unique(..., return_inverse=True)) and pick, for each pair, the column of "
    "classifier.classes_ equal to candidate_activity[:2]. rapidfuzz.process.cpdist compares two lists of names "
    "pairwise, fast.",
)


# ------------------------------------------------------------------------------------------------
# q3: train_matcher
# ------------------------------------------------------------------------------------------------


def _training_pairs() -> tuple[pd.DataFrame, np.ndarray]:
    """600 pairs, 15 % employers: a strong signal, a weak one, and one with missing values."""
    rng = np.random.default_rng(3)
    n = 600
    employer = rng.random(n) < 0.15
    strong = np.where(employer, rng.uniform(0.7, 1.0, n), rng.uniform(0.0, 0.8, n))
    distance = np.where(employer, rng.exponential(50, n), rng.exponential(2000, n))
    distance[rng.random(n) < 0.3] = np.nan  # addresses not geocoded
    noise = rng.normal(size=n)
    return pd.DataFrame({"name_similarity": strong, "distance": distance, "noise": noise}), employer


def _verify_matcher(train_matcher) -> str:
    features, employer = _training_pairs()
    shown = [Literal("features"), Literal("is_employer")]
    try:
        model = _call(train_matcher, "train_matcher(features, is_employer)", features, employer)
    except Incorrect as err:
        if "NaN" in str(err) or "missing" in str(err).lower():
            first = re.split(r"\.\s", str(err))[0]  # scikit-learn's message goes on for lines
            raise Incorrect(f"{first}: the features hold missing values (NaN distances); use a classifier that "
                            "accepts them (HistGradientBoostingClassifier), or put a SimpleImputer before it in a "
                            "pipeline") from None
        raise
    expect(hasattr(model, "predict_proba"), train_matcher, shown, model,
           "a fitted classifier with predict_proba (did you return it after fitting it?)")
    try:
        proba = np.asarray(model.predict_proba(features), dtype=float)
    except Exception as err:  # noqa: BLE001 - the student's model, any failure is a verdict
        raise Incorrect(f"the matcher's predict_proba(features) raised {type(err).__name__}: {err}") from None
    if proba.shape != (len(features), 2):
        raise Incorrect(f"the matcher's predict_proba(features) has shape {proba.shape}, expected "
                        f"({len(features)}, 2): one row per pair, the probabilities of 'not the employer' and "
                        "'the employer' (learn from booleans, not from several classes)")
    if not ((proba >= 0) & (proba <= 1)).all():
        raise Incorrect("the matcher's probabilities should lie between 0 and 1")
    gap = proba[employer, 1].mean() - proba[~employer, 1].mean()
    if gap < 0.3:
        raise Incorrect(f"on pairs where the employers stand out clearly, the matcher's mean probability is "
                        f"{proba[employer, 1].mean():.2f} for employers and {proba[~employer, 1].mean():.2f} for the "
                        "others: it should tell them apart (is column 1 the probability of True?)")
    return "train_matcher() learns, from features with missing values, a classifier that tells employers apart."


q3 = Question(
    "q3", ["train_matcher"], _verify_matcher,
    "HistGradientBoostingClassifier(...).fit(features, is_employer) works as it is, NaN included. To go faster, "
    "keep every employer pair and a random share of the others: a boolean mask for the rows, and "
    "sample_weight=1 / share for the negatives kept, so that the probabilities stay right.",
)


# ------------------------------------------------------------------------------------------------
# q4: choose_threshold
# ------------------------------------------------------------------------------------------------

T, F = True, False
_THRESHOLDS = [
    (([0.9, 0.8, 0.7, 0.6], [T, T, F, T], 0.75), 0.6, "keeping all four: 3 right out of 4 = 0.75 reaches 0.75"),
    (([0.9, 0.8, 0.7, 0.6], [T, T, F, T], 0.8), 0.8, "at 0.6, 3 out of 4 = 0.75 is not enough; at 0.8, 2 out of 2"),
    (([0.9, 0.7, 0.7], [T, T, F], 0.9), 0.9, "the two codings at 0.7 go together (2 out of 3): 0.7 cannot be "
                                              "the threshold"),
    (([0.9, 0.8, 0.7, 0.6, 0.5], [T, F, T, T, T], 0.8), 0.5, "precision dips at 0.8 (1 out of 2) and recovers: "
                                                                "4 out of 5 at 0.5"),
    (([0.3, 0.1, 0.2], [T, T, T], 0.95), 0.1, "every coding right: the lowest score, whatever the order"),
    (([0.4, 0.2], [F, F], 0.5), math.inf, "no threshold reaches 0.5: inf (code nothing)"),
]


def _verify_threshold(choose_threshold) -> str:
    for args, wanted, why in _THRESHOLDS:
        got = _call(choose_threshold, f"choose_threshold({', '.join(show(a) for a in args)})", *args, none_ok=True)
        if math.isinf(wanted):
            ok = isinstance(got, (int, float, np.floating)) and math.isinf(float(got)) and float(got) > 0
        else:
            ok = isinstance(got, (int, float, np.floating)) and approx(float(got), wanted)
        expect(ok, choose_threshold, args, got, f"{wanted} ({why})")
    return "choose_threshold() keeps the lowest threshold that reaches the precision, never splitting equal scores."


q4 = Question(
    "q4", ["choose_threshold"], _verify_threshold,
    "Sort the codings by decreasing score: keeping those above a threshold keeps a prefix of that order, and "
    "np.cumsum of correct gives the right codings of every prefix at once. Only prefixes that end with the last of a "
    "run of equal scores are possible thresholds; among those that reach the precision, take the longest.",
)


# ------------------------------------------------------------------------------------------------
# q5: make_submission
# ------------------------------------------------------------------------------------------------


def _top() -> pd.DataFrame:
    """X: two candidates (confidence 0.75); W: one at exactly the threshold; Y: one below it; Z: none."""
    return pd.DataFrame({
        "bulletin": [0, 0, 1, 2], "CABBI": ["X", "X", "W", "Y"], "row": [1, 2, 3, 4],
        "siret": ["30000000000011", "30000000000012", "30000000000013", "30000000000014"],
        "rank": [1, 2, 1, 1], "probability": [0.9, 0.3, 0.5, 0.2], "confidence": [0.75, 0.25, 0.5, 0.2],
    })


def _missing(value) -> bool:
    return value is None or (isinstance(value, str) and value == "") or bool(pd.isna(value))


def _verify_submission(make_submission) -> str:
    top = _top()
    bulletins = pd.DataFrame({"CABBI": ["X", "W", "Y", "Z"]})
    called = "make_submission(top, bulletins, 0.5)"
    got = _call(make_submission, called, top, bulletins, 0.5)
    _require(isinstance(got, pd.DataFrame), called, f"a {type(got).__name__}", "a DataFrame: CABBI, siret, rank, score")
    missing = [c for c in ("CABBI", "siret", "rank", "score") if c not in got.columns]
    _require(not missing, called, f"columns {list(got.columns)}",
             f"the columns CABBI, siret, rank and score (missing: {', '.join(missing)})")
    lines = {}
    for cabbi, rank, siret, score in zip(got["CABBI"].astype(str), got["rank"], got["siret"], got["score"]):
        lines.setdefault((cabbi, int(rank)), []).append((siret, float(score)))
    repeated = [key for key, found in lines.items() if len(found) > 1]
    _require(not repeated, called, f"several lines for {repeated[:1]}", "one line per bulletin and rank")
    firsts = sorted(cabbi for cabbi, rank in lines if rank == 1)
    _require(firsts == ["W", "X", "Y", "Z"], called, f"rank-1 lines for {firsts}",
             "a rank-1 line for each of the 4 bulletins, Z included (no candidate: siret missing, score 0)")
    cases = [
        (("X", 1), "30000000000011", 0.75, "its confidence (0.75, not its probability) reaches 0.5: coded"),
        (("W", 1), "30000000000013", 0.5, "a confidence equal to the threshold is coded (>=)"),
        (("Y", 1), None, 0.2, "0.2 is below the threshold: no SIRET (manual review), the score kept"),
        (("Z", 1), None, 0.0, "no candidate: no SIRET, score 0"),
        (("X", 2), "30000000000012", 0.3, "rank 2: always its SIRET, its probability (0.3) as score"),
    ]
    for key, siret, score, why in cases:
        found = lines.get(key)
        ok = found is not None and (_missing(found[0][0]) if siret is None else str(found[0][0]) == siret) \
            and approx(found[0][1], score, 1e-9)
        _require(ok, called, f"{key[0]}'s rank {key[1]} " + (
                 f"with siret {show(found[0][0])} and score {found[0][1]:.4g}" if found else "missing"),
                 f"siret {siret or 'missing'} and score {score} ({why})")
    _require(len(got) == 5, called, f"{len(got)} lines", "5 lines: the 4 rows of top, and Z's")
    return "make_submission() codes rank 1 from the threshold on, keeps every bulletin and lists ranks 2+ for review."


q5 = Question(
    "q5", ["make_submission"], _verify_submission,
    "Build the rank-1 lines from the bulletins, not from top (so that a bulletin without candidates still gets one): "
    "a Series of top's rank-1 confidence and siret indexed by CABBI, .reindex(bulletins['CABBI']), then blank the "
    "siret where the score is below the threshold. Ranks 2+ come straight from top; pd.concat the two.",
)
