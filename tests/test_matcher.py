"""datathon/matcher.py: the learning approach, stage by stage, on a small part of the committed sample
(1,000 training and 200 test bulletins against the whole register), then end to end with Coder."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from datathon import evaluate, schema
from datathon.activity import division
from datathon.data import load
from datathon.matcher import (FEATURES, SAFETY_MARGIN, SOURCES, STAGES, Coder, CrossFitted, Matcher, Reference,
                              as_submission, bulletin_folds, bulletin_table, decide, labels, pair_features, ranked,
                              retrieve)
from datathon.names import normalise_names, size_prior, threshold_for_precision
from datathon.schema import departement_of

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "sirene"
N_TRAIN, N_TEST = 1000, 200
K_SIBLINGS, RADIUS = 5, 250.0  # retrieve()'s defaults
K_TEMP = 8
K_DEPARTEMENT, DEPARTEMENT_BELOW, DEPARTEMENT_MIN = 5, 0.75, 0.5


@pytest.fixture(scope="module")
def ds():
    return load(SAMPLE)


@pytest.fixture(scope="module")
def train(ds) -> pd.DataFrame:
    return ds.bulletins_train.sample(N_TRAIN, random_state=1).reset_index(drop=True)


@pytest.fixture(scope="module")
def test_bulletins(ds) -> pd.DataFrame:
    return ds.bulletins_test.sample(N_TEST, random_state=1).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(ds, train) -> Reference:
    return Reference.from_dataset(ds).learn_frequent_employers(train)


@pytest.fixture(scope="module")
def activity(reference, train):
    return reference.activity_model(train)


@pytest.fixture(scope="module")
def candidates(reference, train, activity):
    return retrieve(train, reference, activity)


@pytest.fixture(scope="module")
def features(candidates, reference, activity) -> pd.DataFrame:
    return pair_features(candidates, reference, activity)


@pytest.fixture(scope="module")
def truth(features, train, reference) -> np.ndarray:
    return labels(features, train, reference)


@pytest.fixture(scope="module")
def crossfitted(features, truth) -> CrossFitted:
    return CrossFitted(folds=3, seed=0, max_iter=20).fit(features, truth)


@pytest.fixture(scope="module")
def coder(reference, train) -> Coder:
    return Coder.train(reference, train)


@pytest.fixture(scope="module")
def coded(coder, test_bulletins) -> pd.DataFrame:
    """The Coder's submission for the test bulletins."""
    return coder.code(test_bulletins)


# -- the reference -----------------------------------------------------------------------------------

def test_rows_of_gives_register_positions_and_minus_one_when_absent(reference):
    """Are SIRETs found at their register positions, and missing or unknown SIRETs -1, in order?"""
    siret = reference.register["siret"].astype(str)
    asked = pd.Series([siret.iloc[100], None, "00000000000000", siret.iloc[0], pd.NA], index=[9, 8, 7, 6, 5],
                      dtype="string")
    assert reference.rows_of(asked).tolist() == [100, -1, -1, 0, -1]
    assert reference.rows_of([siret.iloc[7]]).tolist() == [7]


def _bare_reference(register: pd.DataFrame) -> Reference:
    """A Reference holding only a register (what learn_frequent_employers and rows_of use)."""
    return Reference(register=register, communes=None, adjacences=None, adresses=None, naf=None, names=None,
                     geocoder=None, nearby=None, places=None, labels=None)


def test_frequent_employers_are_the_most_frequent_of_each_departement():
    """On a hand-made register of two départements, are each département's `top` most frequent employers
    kept, most frequent first (ties by register row), unknown or missing truths ignored?"""
    register = pd.DataFrame({"siret": [f"S{i}" for i in range(6)],
                             "codeCommuneEtablissement": ["35001", "35002", "35003", "22001", "22002", "35004"]},
                            dtype="string")
    truths = ["S0"] * 2 + ["S1"] * 4 + ["S2"] * 3 + ["S5"] * 3 + ["S3"] * 5 + ["S4"] + [None, "UNKNOWN"] * 3
    ref = _bare_reference(register).learn_frequent_employers(pd.DataFrame({schema.TRUTH_COLUMN: truths}), top=3)
    assert set(ref.frequent) == {"35", "22"}
    assert ref.frequent["35"].tolist() == [1, 2, 5]  # 4, 3 and 3 bulletins; S0's 2 are not among the top 3
    assert ref.frequent["22"].tolist() == [3, 4]


def test_frequent_employers_on_the_sample(reference, train):
    """On the sample's bulletins, is the département's first frequent employer the most declared one?"""
    rows = reference.rows_of(train[schema.TRUTH_COLUMN])
    counts = pd.Series(rows[rows >= 0]).value_counts()
    assert list(reference.frequent) == ["35"]
    assert len(reference.frequent["35"]) == 12
    assert counts[reference.frequent["35"][0]] == counts.max()
    assert (counts.reindex(reference.frequent["35"]).to_numpy() >= counts.sort_values().iloc[-12]).all()


# -- retrieval -----------------------------------------------------------------------------------------

def test_retrieve_keeps_each_pair_once_with_its_sources(candidates, train):
    """Is each (bulletin, row) pair listed once, sorted, flagged 0/1 for each way it was found, and found at
    least one way?"""
    pairs = candidates.pairs
    assert not pairs.duplicated(["bulletin", "row"]).any()
    assert pairs[["bulletin", "row"]].equals(pairs[["bulletin", "row"]].sort_values(["bulletin", "row"]))
    flags = pairs[list(SOURCES)].to_numpy()
    assert set(np.unique(flags)) <= {0.0, 1.0}
    assert (flags.sum(axis=1) >= 1).all()
    assert flags.sum(axis=0).min() > 0  # every way finds something on 1,000 bulletins
    assert pairs["bulletin"].between(0, len(train) - 1).all()
    assert len(candidates.bulletins) == len(train) and len(candidates.located) == len(train)


def test_retrieve_offers_every_bulletin_its_mca_candidate(candidates, reference, train):
    """Does every bulletin that MCA coded (SIRETC set) have MCA's establishment among its candidates,
    flagged from_mca, and are the other pairs not flagged?"""
    mca = reference.rows_of(train["SIRETC"])
    assert (mca >= 0).sum() == train["SIRETC"].notna().sum() > 0
    pairs = candidates.pairs
    flagged = pairs[pairs["from_mca"] == 1]
    expected = {(b, r) for b, r in enumerate(mca) if r >= 0}
    assert set(zip(flagged["bulletin"], flagged["row"])) == expected


def test_siblings_belong_to_a_name_candidate_legal_unit_and_to_the_block(candidates, reference):
    """Is each sibling pair an establishment of the same SIREN as one of the bulletin's name candidates,
    and in the bulletin's geographic block?"""
    pairs = candidates.pairs
    siren = reference.register["siren"].astype(str).to_numpy()
    siblings = pairs[pairs["from_siblings"] == 1]
    assert len(siblings) > 0
    named = pairs[pairs["from_names"] == 1]
    named_units = set(zip(named["bulletin"], siren[named["row"]]))
    assert all((b, siren[r]) in named_units for b, r in zip(siblings["bulletin"], siblings["row"]))
    assert candidates.blocks.contains_pairs(siblings["bulletin"], siblings["row"]).all()


def test_frequent_employers_are_offered_to_every_bulletin_of_their_departement(candidates, reference):
    """Is every bulletin of département 35 paired with all 12 of its frequent employers, and are the pairs
    flagged from_frequent exactly those?"""
    pairs = candidates.pairs
    deps = candidates.blocks.workplace["departement"].to_numpy(dtype=object, na_value=None)
    frequent = reference.frequent["35"]
    expected = {(b, r) for b in np.flatnonzero(deps == "35") for r in frequent}
    flagged = pairs[pairs["from_frequent"] == 1]
    assert set(zip(flagged["bulletin"], flagged["row"])) == expected


def test_activity_candidates_are_in_the_predicted_division_and_the_declared_commune(candidates, reference,
                                                                                    activity, train):
    """Is each pair found by activity an open establishment of the bulletin's declared commune whose NAF
    division is the one predicted for the declared activity?"""
    pairs = candidates.pairs
    found = pairs[pairs["from_activity"] == 1]
    assert len(found) > 0
    register = reference.register
    predicted = activity.predict(train["ACTET_X"].to_numpy(dtype=object))
    ape = register["activitePrincipaleEtablissement"].astype(str).to_numpy()
    commune = register["codeCommuneEtablissement"].astype(str).to_numpy()
    declared = candidates.blocks.workplace["commune"].to_numpy(dtype=object, na_value=None)
    b, r = found["bulletin"].to_numpy(), found["row"].to_numpy()
    assert all(division(ape[i]) == predicted[j] for i, j in zip(r, b))
    assert (commune[r] == declared[b]).all()
    assert (register["etatAdministratifEtablissement"].astype(str).to_numpy()[r] != "F").all()


def ape_division(ape: np.ndarray) -> np.ndarray:
    return np.array([division(c) for c in ape], dtype=object)


def test_temp_agencies_are_the_largest_agencies_of_the_block(candidates, reference):
    """Is each pair found as a temp agency an open establishment of NAF division 78 in the bulletin's block,
    does every bulletin with a commune get the K_TEMP largest agencies of its block (all of them when fewer),
    and is every agency of the register proposed to some bulletin?"""
    pairs = candidates.pairs
    register = reference.register
    ape = register["activitePrincipaleEtablissement"].astype(str).to_numpy()
    is_open = register["etatAdministratifEtablissement"].astype(str).to_numpy() != "F"
    agencies = np.flatnonzero((ape_division(ape) == "78") & is_open)
    assert len(agencies) > 0
    found = pairs[pairs["from_temp_agency"] == 1]
    b, r = found["bulletin"].to_numpy(), found["row"].to_numpy()
    assert np.isin(r, agencies).all()
    assert candidates.blocks.contains_pairs(b, r).all()
    size = size_prior(register)
    by_bulletin = found.groupby("bulletin")["row"].apply(set)
    for i in range(0, len(candidates.bulletins), 37):
        if not candidates.blocks.key[i].startswith("C:"):
            continue
        in_block = agencies[np.isin(agencies, candidates.blocks.candidates(i))]
        expected = in_block[np.lexsort((in_block, -size[in_block]))][:K_TEMP]
        assert by_bulletin.get(i, set()) == set(expected.tolist())


def test_departement_names_are_alike_names_of_the_departement_outside_the_block(candidates, reference):
    """Is each pair found in the whole département one of at most K_DEPARTEMENT per bulletin, of a bulletin
    whose block has no name at DEPARTEMENT_BELOW or more, in its département, outside its name candidates,
    with a name similarity of at least DEPARTEMENT_MIN?"""
    pairs = candidates.pairs
    wide = pairs[pairs["from_departement"] == 1]
    assert len(wide) > 0
    assert (wide["from_names"] == 0).all()
    assert (wide["similarity"] >= DEPARTEMENT_MIN - 1e-6).all()
    assert wide.groupby("bulletin").size().max() <= K_DEPARTEMENT
    best_in_block = pairs[pairs["from_names"] == 1].groupby("bulletin")["similarity"].max()
    assert (best_in_block.reindex(wide["bulletin"].unique()).fillna(0) < DEPARTEMENT_BELOW).all()
    communes = reference.register["codeCommuneEtablissement"].astype(str).to_numpy()[wide["row"].to_numpy()]
    deps = candidates.blocks.workplace["departement"].to_numpy(dtype=object)[wide["bulletin"].to_numpy()]
    assert all(departement_of(c) == d for c, d in zip(communes, deps))


def test_without_an_activity_model_nothing_is_found_by_activity(reference, train):
    """Without an activity classifier, are no pairs flagged from_activity?"""
    few = train.iloc[:20]
    assert retrieve(few, reference, None).pairs["from_activity"].sum() == 0


def test_places_candidates_are_within_the_radius(features):
    """Is every pair found by address within the search radius of the geocoded declaration?"""
    near = features[features["from_places"] == 1]
    assert len(near) > 0
    assert (near["log_distance"] <= np.log10(1 + RADIUS) + 1e-9).all()


# -- pair features and labels -------------------------------------------------------------------------

def test_pair_features_have_every_signal_and_no_infinity(features, candidates):
    """Are the columns bulletin, row and FEATURES in that order, aligned with the candidate pairs, all
    numeric, with missing values allowed but no infinity?"""
    assert list(features.columns) == ["bulletin", "row", *FEATURES]
    assert features["bulletin"].tolist() == candidates.pairs["bulletin"].tolist()
    assert features["row"].tolist() == candidates.pairs["row"].tolist()
    values = features[list(FEATURES)].to_numpy(dtype=np.float64)
    assert not np.isinf(values).any()
    for column in ("similarity", "is_open", "is_mca", "n_candidates", "similarity_rank", *SOURCES):
        assert features[column].notna().all(), column


def test_pair_features_describe_the_competition_within_a_bulletin(features):
    """Is n_candidates the bulletin's number of pairs, the best similarity ranked 1 with a gap of 0,
    is_mca the from_mca flag, and the shares within 0-1?"""
    by = features.groupby("bulletin")
    assert (features["n_candidates"] == by["row"].transform("size")).all()
    assert (by["similarity_rank"].min() == 1).all()
    assert (by["similarity_gap"].min() == 0).all() and (features["similarity_gap"] >= 0).all()
    assert (features["is_mca"] == features["from_mca"]).all()
    for column in ("similarity", "activity_probability", "activity_label_similarity", "street_similarity"):
        v = features[column].dropna()
        assert ((v >= 0) & (v <= 1 + 1e-5)).all(), column


def test_pair_features_say_what_a_temp_worker_would_write(features, reference, activity, train):
    """Is is_temp_agency the candidate's being in division 78, temp_agencies the bulletin's number of temp
    agency candidates, temp_probability the classifier's probability of division 78 for the declared activity,
    and named_log_size / named_division the size and division of the bulletin's most alike name?"""
    ape = reference.register["activitePrincipaleEtablissement"].astype(str).to_numpy()
    rows, b = features["row"].to_numpy(), features["bulletin"].to_numpy()
    assert (features["is_temp_agency"].to_numpy() == (ape_division(ape[rows]) == "78")).all()
    assert features["is_temp_agency"].sum() > 0
    count = features.groupby("bulletin")["from_temp_agency"].transform("sum").to_numpy()
    assert (features["temp_agencies"].to_numpy() == count).all()
    expected = activity.probability_of(train["ACTET_X"].to_numpy(dtype=object), ["78.20Z"] * len(train))
    assert features["temp_probability"].to_numpy() == pytest.approx(expected[b])
    assert features["division"].to_numpy() == pytest.approx([float(c[:2]) for c in ape[rows]])
    best = features.sort_values(["bulletin", "similarity"], ascending=[True, False], kind="stable").groupby(
        "bulletin").head(1).set_index("bulletin")
    named = features.groupby("bulletin")[["named_log_size", "named_division"]].first()
    assert named["named_log_size"].to_numpy() == pytest.approx(best.loc[named.index, "log_size"].to_numpy())
    assert named["named_division"].to_numpy() == pytest.approx(best.loc[named.index, "division"].to_numpy())


def test_without_answers_the_name_signals_are_constant(features):
    """Without what a Coder learnt about declared names, are name_uncodable and name_frequency 0 (a
    constant the trees ignore)?"""
    assert (features["name_uncodable"] == 0).all() and (features["name_frequency"] == 0).all()


def test_without_an_activity_model_the_activity_probability_is_missing(candidates, reference):
    """With activity=None, is activity_probability NaN while the label similarity is still computed?"""
    plain = pair_features(candidates, reference, None)
    assert plain["activity_probability"].isna().all()
    assert plain["activity_label_similarity"].notna().all()


def test_labels_mark_the_true_employer_once_per_bulletin(features, truth, train, reference):
    """Is a pair labelled true exactly when its row is the bulletin's SIRET_DEC, at most once per bulletin,
    never for a bulletin that cannot be coded?"""
    true_rows = reference.rows_of(train[schema.TRUTH_COLUMN])
    assert truth.dtype == bool and len(truth) == len(features)
    assert (truth == (features["row"].to_numpy() == true_rows[features["bulletin"].to_numpy()])).all()
    per_bulletin = pd.Series(truth).groupby(features["bulletin"].to_numpy()).sum()
    assert per_bulletin.max() == 1
    assert not truth[true_rows[features["bulletin"].to_numpy()] < 0].any()
    assert truth.sum() > 0.7 * (true_rows >= 0).sum()  # the recall of the retrieval, loosely


# -- the matchers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("negatives", [0, -0.1, 1.5])
def test_matcher_refuses_a_share_of_negatives_outside_0_1(negatives):
    """Is a share of wrong pairs of 0, below 0 or above 1 refused?"""
    with pytest.raises(ValueError):
        Matcher(negatives=negatives)


def test_matcher_gives_probabilities_that_favour_the_truth(crossfitted, features, truth):
    """Are a fitted matcher's probabilities within 0-1, one per pair, higher on average for the true pairs,
    and is no pair an empty array?"""
    matcher = crossfitted.matchers[0]  # a Matcher fitted on two thirds of the bulletins
    p = matcher.probabilities(features)
    assert p.shape == (len(features),) and ((p >= 0) & (p <= 1)).all()
    assert p[truth].mean() > 10 * p[~truth].mean()
    assert matcher.probabilities(features.iloc[:0]).shape == (0,)


def test_a_signal_absent_from_the_data_is_learnt_as_constant(features, truth):
    """When a signal has no value at all (a real census file with no VARDOMPART_X code 3 leaves
    employer_type and public_mismatch empty), does the matcher still fit and give probabilities that
    favour the truth, instead of failing in scikit-learn's binning?"""
    blind = features.assign(employer_type=np.nan, public_mismatch=np.nan)
    matcher = Matcher(max_iter=20).fit(blind, truth)
    p = matcher.probabilities(blind)
    assert np.isfinite(p).all() and p[truth].mean() > 10 * p[~truth].mean()


def test_matcher_trees_run_on_the_threads_asked_for(features, truth, monkeypatch):
    """Does the matcher fit and predict with OpenMP limited to its ``threads`` (one by default), and are
    its probabilities the same whatever the number of threads?"""
    import threadpoolctl

    seen = []
    fit = HistGradientBoostingClassifier.fit

    def spying_fit(self, *args, **kwargs):
        seen.append(max((pool["num_threads"] for pool in threadpoolctl.threadpool_info()
                         if pool["user_api"] == "openmp"), default=None))
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(HistGradientBoostingClassifier, "fit", spying_fit)
    one = Matcher(max_iter=10).fit(features, truth)
    two = Matcher(max_iter=10, threads=2).fit(features, truth)
    assert seen == [1, 2]
    assert np.allclose(one.probabilities(features), two.probabilities(features), rtol=0, atol=1e-12)


def test_bulletin_folds_keep_a_bulletin_pairs_together():
    """Do all pairs of a bulletin share one fold, the same for the same seed, every fold being used?"""
    bulletin = np.repeat(np.arange(200), 3)
    fold = bulletin_folds(bulletin, 4, seed=5)
    assert (pd.Series(fold).groupby(bulletin).nunique() == 1).all()
    assert set(fold) == {0, 1, 2, 3}
    assert (fold == bulletin_folds(bulletin, 4, seed=5)).all()
    assert bulletin_folds(np.empty(0, np.int64), 3).shape == (0,)


def test_cross_fitted_held_out_probabilities_come_from_the_other_folds(crossfitted, features, truth):
    """Does every pair get a held-out probability, from the matcher of its bulletin's fold, that matcher
    being the one a fit on the other folds alone gives (checked for one fold: each fit takes a second)?"""
    held_out = crossfitted.held_out_
    assert held_out.shape == (len(features),) and ((held_out >= 0) & (held_out <= 1)).all()
    fold = bulletin_folds(features["bulletin"].to_numpy(), 3, 0)
    assert set(fold) == {0, 1, 2} and len(crossfitted.matchers) == 3
    for f, matcher in enumerate(crossfitted.matchers):
        held = fold == f
        assert held_out[held] == pytest.approx(matcher.probabilities(features[held]))
    held = fold == 1
    alone = Matcher(max_iter=20).fit(features[~held], truth[~held])
    assert held_out[held] == pytest.approx(alone.probabilities(features[held]))
    assert not np.allclose(held_out[held], crossfitted.matchers[0].probabilities(features[held]))


def test_cross_fitted_probabilities_average_the_matchers(crossfitted, features):
    """On new pairs, is the probability the mean of the fold matchers'?"""
    part = features.iloc[:500]
    expected = np.mean([m.probabilities(part) for m in crossfitted.matchers], axis=0)
    assert crossfitted.probabilities(part) == pytest.approx(expected)


def test_cross_fitting_needs_two_folds_and_a_fit():
    """Is a single fold refused, and an unfitted CrossFitted unable to answer?"""
    with pytest.raises(ValueError):
        CrossFitted(folds=1)
    with pytest.raises(RuntimeError):
        CrossFitted().probabilities(pd.DataFrame())


# -- from probabilities to a submission ---------------------------------------------------------------

def test_bulletin_table_has_one_row_per_bulletin(features, crossfitted, train):
    """Is there one row per bulletin, in order, with its most probable candidate, p1 >= p2, and row -1 with
    zero probabilities for bulletins without any candidate?"""
    keep = features["bulletin"].to_numpy() != 0  # bulletin 0 loses its candidates
    part, p = features[keep], crossfitted.held_out_[keep]
    n = len(train) + 2  # and two bulletins never had any
    table = bulletin_table(part, p, n)
    assert table.index.tolist() == list(range(n))
    for b in (0, n - 2, n - 1):
        assert table.loc[b, "row"] == -1 and table.loc[b, "p1"] == 0 and table.loc[b, "p_total"] == 0
    assert (table["p1"] >= table["p2"]).all() and (table["p_total"] >= table["p1"] - 1e-12).all()
    # The best candidate, the first listed among equals.
    best = pd.DataFrame({"bulletin": part["bulletin"], "row": part["row"], "p": p}).sort_values(
        ["bulletin", "p"], ascending=[True, False], kind="stable").groupby("bulletin").head(1).set_index("bulletin")
    assert table.loc[best.index, "p1"].to_numpy() == pytest.approx(best["p"].to_numpy())
    assert table.loc[best.index, "row"].tolist() == best["row"].tolist()


def test_decide_gives_every_bulletin_one_rank_one_line(features, crossfitted, train):
    """Does every bulletin get exactly one rank-1 line, coded with its best candidate when the confidence
    reaches the threshold and left uncoded (-1) below it, ranks 2+ listing the others?"""
    threshold = 0.6
    n = len(train) + 1  # the last bulletin has no candidate
    top = ranked(features, crossfitted.held_out_, k=3)
    lines = decide(top, threshold, n)
    first = lines[lines["rank"] == 1]
    assert first["bulletin"].tolist() == list(range(n))
    coded = first["row"] >= 0
    assert (first.loc[coded, "score"] >= threshold).all() and (first.loc[~coded, "score"] < threshold).all()
    best = top[top["rank"] == 1].set_index("bulletin")
    chosen = first[coded].set_index("bulletin")
    assert (chosen["row"] == best.loc[chosen.index, "row"]).all()
    assert first["row"].iloc[-1] == -1 and first["score"].iloc[-1] == 0
    assert lines["rank"].max() <= 3 and not lines.duplicated(["bulletin", "rank"]).any()


def test_decide_lists_the_best_candidate_of_a_bulletin_left_for_review(features, crossfitted, train):
    """Does a bulletin left for review get its best candidate at rank 2, then the next ones, k lines in
    all, while a coded bulletin's ranks 2+ are its second and later candidates?"""
    top = ranked(features, crossfitted.held_out_, k=3)
    lines = decide(top, 0.6, len(train))
    first = lines[lines["rank"] == 1].set_index("bulletin")
    order = top.set_index(["bulletin", "rank"])["row"]
    review = first.index[(first["row"] < 0) & first.index.isin(top["bulletin"])]
    coded = first.index[first["row"] >= 0]
    assert len(review) and len(coded)
    listed = lines.set_index(["bulletin", "rank"])["row"]
    for b in review[:50]:
        assert [listed.get((b, r)) for r in (2, 3)] == [order.get((b, 1)), order.get((b, 2))]
    for b in coded[:50]:
        assert [listed.get((b, r)) for r in (1, 2, 3)] == [order.get((b, r)) for r in (1, 2, 3)]
    assert lines["rank"].max() <= 3 and not lines.duplicated(["bulletin", "rank"]).any()
    # k deeper than any list: the reviewer's list may grow to k.
    deeper = decide(top, 0.6, len(train), k=4)
    assert deeper["rank"].max() == 4 and (deeper["rank"] == 4).sum() <= len(review)


def test_as_submission_gives_a_valid_submission(features, crossfitted, train, reference):
    """Does as_submission() give CABBI;siret;rank;score lines that read_submission accepts, with the SIRETs of
    the coded rows?"""
    lines = decide(ranked(features, crossfitted.held_out_, k=3), 0.6, len(train))
    sub = as_submission(lines, train, reference.register)
    assert list(sub.columns) == ["CABBI", "siret", "rank", "score"]
    checked = evaluate.read_submission(sub, known_cabbi=train["CABBI"])
    assert len(checked.frame) == len(sub)
    coded = lines["row"].to_numpy() >= 0
    siret = reference.register["siret"].astype(str).to_numpy()
    assert sub["siret"].to_numpy()[coded].tolist() == siret[lines["row"].to_numpy()[coded]].tolist()
    assert sub["siret"].isna().sum() == (~coded).sum()


# -- the whole chain ---------------------------------------------------------------------------------

def test_coder_codes_a_valid_submission_above_its_threshold(coder, coded, test_bulletins):
    """Trained on 1,000 bulletins, does the Coder turn 200 test bulletins into a valid submission with one
    rank-1 line each, every coded one at a score of at least the threshold and the others below it?"""
    sub = coded
    evaluate.read_submission(sub, known_cabbi=test_bulletins["CABBI"])
    first = sub[sub["rank"] == 1]
    assert sorted(first["CABBI"]) == sorted(test_bulletins["CABBI"].astype(str))
    is_coded = first["siret"].notna()
    assert is_coded.any() and not is_coded.all()
    # Scores are written rounded to 6 decimals.
    assert (first.loc[is_coded, "score"] >= coder.threshold - 1e-6).all()
    assert (first.loc[~is_coded, "score"] < coder.threshold + 1e-6).all()
    assert sub.groupby("CABBI")["rank"].max().max() <= 5


def test_coder_precision_on_held_out_bulletins_reaches_the_target(coder):
    """On the training bulletins' held-out confidences, do those at or above the threshold reach the
    target precision?"""
    table = coder.held_out
    assert len(table) == N_TRAIN and {"confidence", "correct"} <= set(table.columns)
    kept = table["confidence"] >= coder.threshold
    assert kept.any() and table.loc[kept, "correct"].mean() >= coder.precision


def test_coder_on_test_bulletins_is_about_as_precise_as_trained_for(coded, test_bulletins, ds):
    """Scored against the test truth, are the Coder's codings mostly right (precision >= 85 %, a loose bound
    for 200 bulletins and a 95 % target)?"""
    truth = ds.truth_test[ds.truth_test["CABBI"].isin(test_bulletins["CABBI"])]
    metrics = evaluate.score(coded, truth)
    assert metrics["n_coded"] > 0 and metrics["precision"] >= 0.85


def test_coder_threshold_keeps_a_safety_margin(coder):
    """Is the threshold at least the one that reaches the target without a margin, and do the held-out
    codings at or above it reach the target by SAFETY_MARGIN standard errors?"""
    table = coder.held_out
    assert coder.threshold >= threshold_for_precision(table["confidence"], table["correct"], coder.precision)
    kept = table["confidence"] >= coder.threshold
    n, p = int(kept.sum()), coder.precision
    assert table.loc[kept, "correct"].mean() >= p + SAFETY_MARGIN * np.sqrt(p * (1 - p) / n) - 1e-12


def test_coder_learns_which_names_are_not_answers(coder, train, test_bulletins):
    """Has the Coder learnt that the name most often given on bulletins that cannot be coded leads
    nowhere (name_uncodable above one half), and does it leave bulletins declaring it uncoded, whatever
    address they give?"""
    names = normalise_names(train["RS_X"]).to_numpy(dtype=object)
    uncodable = reference_rows_missing(coder, train)
    worst = pd.Series(names[uncodable]).value_counts().index[0]
    assert coder.answers.share([worst])[0] > 0.5
    assert coder.answers.share(["SOME NAME NEVER SEEN"])[0] < 0.2
    declared = test_bulletins.iloc[:40].assign(RS_X=train["RS_X"].to_numpy()[names == worst][0])
    features = pair_features(retrieve(declared, coder.reference, coder.activity), coder.reference, coder.activity,
                             coder.answers)
    assert (features["name_uncodable"] > 0.5).all()
    sub = coder.code(declared)
    assert sub.loc[sub["rank"] == 1, "siret"].isna().all()


def reference_rows_missing(coder, bulletins) -> np.ndarray:
    return coder.reference.rows_of(bulletins[schema.TRUTH_COLUMN]) < 0


def test_coder_threshold_can_be_overridden(coder, test_bulletins):
    """Does an infinite threshold leave every bulletin uncoded, and 0 code every bulletin with a candidate?"""
    few = test_bulletins.iloc[:30]
    none = coder.code(few, threshold=np.inf)
    assert none.loc[none["rank"] == 1, "siret"].isna().all()
    every = coder.code(few, threshold=0.0, k=1)
    assert (every["rank"] == 1).all() and every["siret"].notna().mean() > 0.9


@pytest.mark.parametrize("precision", [0.0, 1.0, 1.5, -0.2])
def test_coder_refuses_a_precision_outside_0_1(reference, train, precision):
    """Is a target precision that is not strictly between 0 and 1 refused before any work?"""
    with pytest.raises(ValueError, match="precision"):
        Coder.train(reference, train, precision=precision)


def test_departement_of_the_sample_communes(reference):
    """Are all the sample register's communes in département 35 (what the frequent-employer tests assume)?"""
    communes = reference.register["codeCommuneEtablissement"].astype(str).unique()
    assert {departement_of(c) for c in communes} == {"35"}


def test_coder_codes_a_bulletin_without_any_candidate(coder, test_bulletins):
    """Does a bulletin that says nothing (no name, address, activity, commune or MCA coding), coded on its
    own, get one uncoded rank-1 line rather than an error?"""
    blank = test_bulletins.iloc[[0]].assign(RS_X=None, ACTET_X=None, NUMVOI_X=None, NOMVOI_X=None, CLT_X=None,
                                            DLT_X=None, DEPCOM_CODE=None, SIRETC=None)
    sub = coder.code(blank)
    assert len(sub) == 1 and sub["siret"].isna().all() and sub["rank"].tolist() == [1]


def test_prediction_says_what_each_stage_cost(coder, coded, test_bulletins):
    """Does Coder.predict time each of STAGES (and nothing else), keep the candidates it retrieved for
    exactly the bulletins given, and give the same submission as Coder.code?"""
    prediction = coder.predict(test_bulletins)
    assert tuple(prediction.seconds) == STAGES
    assert all(s >= 0 for s in prediction.seconds.values()) and sum(prediction.seconds.values()) > 0
    pairs = prediction.candidates.pairs
    assert len(pairs) > len(test_bulletins) and set(pairs["bulletin"]) <= set(range(len(test_bulletins)))
    pd.testing.assert_frame_equal(prediction.submission(), coded)
