"""datathon/names.py: normalising names, the register's name variants, the n-gram index, string
features, and the pieces of the decision (choice model, name reliability, threshold)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from datathon.blocking import block_bulletins
from datathon.names import (FEATURES, SIGNALS, ChoiceModel, NameIndex, NameReliability, NonAnswers, best_candidates,
                            candidate_features, candidate_table, initials, name_variants, normalise_name,
                            normalise_names, pair_features, place_words, size_prior, string_features,
                            threshold_for_precision, without_words)


@pytest.mark.parametrize("raw, expected", [
    ("Boulangerie Dupont SARL", "BOULANGERIE DUPONT"),
    ("S.A.R.L. Boulangerie Dupont", "BOULANGERIE DUPONT"),
    ("SAS MARTIN & FILS", "MARTIN FILS"),
    ("Ste Payet", "SOCIETE PAYET"),
    ("Mairie de Ste Anne", "MAIRIE SAINTE ANNE"),
    ("ETS Bruvetin", "ETABLISSEMENTS BRUVETIN"),
    ("Pharmacie de St-Malo", "PHARMACIE SAINT MALO"),
    ("Crêperie l'Écluse", "CREPERIE ECLUSE"),
    ("Le Café des Sports", "CAFE SPORTS"),
    ("EURL  plomberie   GARCIER", "PLOMBERIE GARCIER"),
])
def test_normalise_name(raw, expected):
    """Are case, accents, punctuation, legal forms, abbreviations and small words all taken care of?"""
    assert normalise_name(raw) == expected


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA, "", "  ", "--"])
def test_a_missing_or_empty_name_normalises_to_the_empty_string(missing):
    """Do missing values and names without letters give '' (never 'NAN')?"""
    assert normalise_name(missing) == ""


def test_a_name_made_only_of_dropped_words_is_kept():
    """Is 'SA' alone, or 'LA LA', kept rather than normalised away to nothing?"""
    assert normalise_name("SA") == "SA"
    assert normalise_name("la la") == "LA LA"


def test_extra_words_can_be_dropped():
    """Does drop= remove words (here USINE) on top of the defaults?"""
    assert normalise_name("Usine Bonnet Biscuiterie", drop={"USINE"}) == "BONNET BISCUITERIE"


def test_normalise_names_keeps_the_index_and_handles_missing_values():
    """Is a Series normalised value by value, its index kept, <NA> giving ''?"""
    names = pd.Series(["Ste Payet", None, "Ste Payet"], index=[10, 20, 30], dtype="string")
    out = normalise_names(names)
    assert out.tolist() == ["SOCIETE PAYET", "", "SOCIETE PAYET"]
    assert out.index.tolist() == [10, 20, 30]
    assert normalise_names(["ETS X"]).tolist() == ["ETABLISSEMENTS X"]


def test_initials():
    """Are the initials those of the words of a normalised name?"""
    assert initials("BISCUITERIE MORLILON") == "BM"


REGISTER = pd.DataFrame({
    "siret": ["00000000000001", "00000000000002", "00000000000003", "00000000000004", "00000000000005"],
    "denominationUniteLegale": ["BOULANGERIE DUPONT SARL", "COMMUNE DE MINSAC", None, "OCEA DISTRIBUTION",
                                "BOULANGERIE DUPONT"],
    "enseigne1Etablissement": ["AU BON PAIN", None, "COIFFURE NATHALIE", None, None],
    "denominationUsuelleEtablissement": [None, "MAIRIE", None, None, None],
    "sigleUniteLegale": [None, None, None, "OD", None],
    "nomUniteLegale": [None, None, "LE GALL", None, None],
    "prenom1UniteLegale": [None, None, "NATHALIE", None, None],
    "codeCommuneEtablissement": ["35001", "35001", "35002", "35002", "35003"],
    "trancheEffectifsEtablissement": ["03", "12", "NN", "21", "01"],
    "etatAdministratifEtablissement": ["A", "A", "A", "A", "A"],
}).astype("string")


def test_name_variants_lists_every_name_of_each_establishment():
    """Does each establishment get its legal name, sign, usual name, acronym, and a sole proprietor both
    'surname first name' and 'first name surname', normalised?"""
    v = name_variants(REGISTER)
    got = {(r, k): n for r, k, n in zip(v["row"], v["kind"], v["name"])}
    assert got[(0, "legal")] == "BOULANGERIE DUPONT" and got[(0, "sign")] == "BON PAIN"
    assert got[(1, "usual")] == "MAIRIE"
    assert got[(2, "sign")] == "COIFFURE NATHALIE"
    assert got[(2, "person")] == "GALL NATHALIE" and got[(2, "person_reversed")] == "NATHALIE GALL"
    assert got[(3, "acronym")] == "OD"
    assert (2, "legal") not in got  # a sole proprietor has no denomination: no blank variant


def test_name_variants_keeps_one_copy_of_a_repeated_name():
    """When the sign equals the legal name, is the name listed once, as the legal name?"""
    reg = REGISTER.iloc[[4]].assign(enseigne1Etablissement="Boulangerie Dupont")
    v = name_variants(reg)
    assert v[["kind", "name"]].values.tolist() == [["legal", "BOULANGERIE DUPONT"]]


def test_name_variants_can_add_initials():
    """With kinds=('legal', 'initials'), are the initials of multi-word legal names added?"""
    v = name_variants(REGISTER, kinds=("legal", "initials"))
    assert set(v.loc[v["kind"] == "initials", "name"]) == {"BD", "CM", "OD"}
    with pytest.raises(ValueError):
        name_variants(REGISTER, kinds=("nickname",))


@pytest.fixture(scope="module")
def index():
    return NameIndex(REGISTER, ngram_range=(2, 4))


def test_the_index_finds_a_name_despite_a_typo(index):
    """Is 'BOULANGRIE DUPOND' closest to a Boulangerie Dupont?"""
    top = index.query(["BOULANGRIE DUPOND"], k=2)
    assert set(top["row"]) == {0, 4} and top["rank"].tolist() == [1, 2]
    assert top["similarity"].iloc[0] > 0.5


def test_the_index_finds_a_truncated_name(index):
    """Is a cut-short 'OCEA DISTRI' found as OCEA DISTRIBUTION?"""
    assert index.query(["OCEA DISTRI"], k=1)["row"].tolist() == [3]


def test_an_establishment_is_scored_by_its_best_name(index):
    """Is a sign matched ('AU BON PAIN'), the establishment listed once, with the kind of name that matched?"""
    top = index.query([normalise_name("Au Bon Pain")], k=5)
    assert top["row"].iloc[0] == 0 and top["kind"].iloc[0] == "sign"
    assert top["similarity"].iloc[0] == pytest.approx(1.0, abs=1e-5)
    assert top["row"].is_unique


def test_k_limits_the_candidates_and_ranks_start_at_one(index):
    """Does k=2 give at most two candidates per bulletin, ranked 1 and 2 by decreasing similarity?"""
    top = index.query(["BOULANGERIE", "MAIRIE MINSAC"], k=2)
    assert top.groupby("bulletin").size().max() <= 2
    for _, g in top.groupby("bulletin"):
        assert g["rank"].tolist() == list(range(1, len(g) + 1))
        assert g["similarity"].is_monotonic_decreasing


def test_an_empty_name_gets_no_candidate(index):
    """Does a bulletin with an empty name get no row, while the others do?"""
    top = index.query(["", "MAIRIE"], k=3)
    assert set(top["bulletin"]) == {1}


def test_a_block_restricts_the_search(index):
    """Given only rows 3 and 4 as candidates, is Boulangerie Dupont found at row 4, never row 0?"""
    top = index.query(["BOULANGERIE DUPONT"], k=5, block=[np.array([3, 4])])
    assert 0 not in set(top["row"]) and top["row"].iloc[0] == 4


def test_blocks_and_small_budgets_give_the_same_answer(index):
    """Are results the same with Blocks, with per-bulletin arrays, and with products cut into tiny chunks?"""
    communes = pd.DataFrame({"code_commune": ["35001", "35002", "35003"],
                             "nom_commune": ["Minsac", "Lanzan", "Pacbert"], "code_departement": ["35"] * 3})
    adjacences = pd.DataFrame({"code_commune": ["35001"], "code_commune_adjacente": ["35002"]})
    bulletins = pd.DataFrame({"CLT_X": ["MINSAC", "PACBERT", "MINSAC"], "DLT_X": ["35"] * 3, "ILT_X": ["2"] * 3,
                              "DEPCOM_CODE": ["35001"] * 3}).astype("string")
    blocks = block_bulletins(bulletins, REGISTER, communes, adjacences)
    names = ["BOULANGERIE DUPONT", "BOULANGERIE DUPONT", "COIFFURE"]
    a = index.query(names, k=3, block=blocks)
    b = index.query(names, k=3, block=list(blocks))
    small = NameIndex(REGISTER, ngram_range=(2, 4), budget=1)
    c = small.query(names, k=3, block=blocks)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)
    assert a.loc[a["bulletin"] == 1, "row"].tolist() == [4]  # Pacbert's own Boulangerie Dupont


def test_min_similarity_drops_weak_candidates(index):
    """Does min_similarity leave out candidates below it?"""
    top = index.query(["BOULANGERIE DUPONT"], k=5, min_similarity=0.9)
    assert (top["similarity"] >= 0.9).all() and len(top) == 2


def test_query_refuses_blocks_of_the_wrong_length(index):
    """Is a block list that does not match the names refused?"""
    with pytest.raises(ValueError):
        index.query(["A", "B"], block=[np.array([0])])
    with pytest.raises(ValueError):
        index.query(["A"], k=0)


def test_pair_features():
    """Are identical names 1 on every measure, and empty ones 0?"""
    assert pair_features("BOULANGERIE DUPONT", "BOULANGERIE DUPONT") == pytest.approx((1, 1, 1, 1))
    assert pair_features("", "DUPONT") == (0.0, 0.0, 0.0, 0.0)


def test_string_features_reward_what_each_measure_is_for():
    """Does token_set_ratio forgive an added word, partial_ratio a truncation, ratio a typo?"""
    f = string_features(["GROUPE DUPONT", "OCEA DISTRI", "DUPOND"], ["DUPONT", "OCEA DISTRIBUTION", "DUPONT"])
    assert list(f.columns) == list(FEATURES)
    assert f.loc[0, "token_set_ratio"] == 1.0
    assert f.loc[1, "partial_ratio"] == 1.0 and f.loc[1, "ratio"] < 1.0
    assert 0.8 < f.loc[2, "ratio"] < 1.0
    assert ((f >= 0) & (f <= 1)).all().all()
    with pytest.raises(ValueError):
        string_features(["A"], [])


def test_candidate_features_take_the_best_of_an_establishment_names(index):
    """Is a candidate's token_set_ratio the best over all its names (the sign here)?"""
    top = index.query(["BON PAIN"], k=1)
    f = candidate_features(top, ["BON PAIN"], index)
    assert f.loc[0, "row"] == 0 and f.loc[0, "token_set_ratio"] == 1.0


def test_size_prior():
    """Is the prior log(1 + employees) at the middle of the band, 0 for NN or an unknown band?"""
    prior = size_prior(pd.DataFrame({"trancheEffectifsEtablissement": ["NN", "12", None, "??"]}))
    assert prior[0] == 0 and prior[1] == pytest.approx(math.log1p(34.5)) and prior[2] == 0 and prior[3] == 0


def test_place_words_and_without_words():
    """Is the town taken out of 'BOULANGERIE MINSAC', but a name made only of it kept?"""
    communes = pd.DataFrame({"code_commune": ["35001", "35002"], "nom_commune": ["Minsac", "Saint-Marc-le-Petit"]})
    words = place_words(["35001", None, "35002"], communes)
    assert words[0] == {"MINSAC"} and words[1] == set() and words[2] == {"MARC"}
    out = without_words(["BOULANGERIE MINSAC", "MINSAC", "SAINT MARC"], words)
    assert out.tolist() == ["BOULANGERIE", "MINSAC", "SAINT"]


def test_candidate_table_adds_the_place_size_and_frequency_signals(index):
    """Does each candidate come with same_commune, log_size and how many establishments share its name?"""
    table = candidate_table(index, ["BOULANGERIE DUPONT"], [np.arange(5)], k=3, communes=["35003"])
    assert set(SIGNALS) <= set(table.columns)
    first = table[table["rank"] == 1]
    assert first["same_commune"].tolist() in ([0.0], [1.0])
    by_row = table.set_index("row")
    assert by_row.loc[4, "same_commune"] == 1.0 and by_row.loc[0, "same_commune"] == 0.0
    assert by_row.loc[0, "log_name_count"] == pytest.approx(math.log(2))  # two establishments are BOULANGERIE DUPONT
    assert by_row.loc[0, "siret"] == "00000000000001"


def test_candidate_table_keeps_the_better_of_two_versions_of_a_name(index):
    """With an alternative version of the name ('MAIRIE' for 'MAIRIE DUPONT'), is the best of both kept?"""
    plain = candidate_table(index, ["MAIRIE DUPONT"], None, k=3)
    both = candidate_table(index, ["MAIRIE DUPONT"], None, k=3, alternatives=["MAIRIE"])
    assert both.set_index("row").loc[1, "similarity"] == pytest.approx(1.0, abs=1e-5)
    assert both.set_index("row").loc[1, "similarity"] > plain.set_index("row").loc[1, "similarity"]


def _candidates(rng, n_bulletins=400, per=4):
    """Synthetic candidate lists: the true candidate (row 0 of each bulletin) has a higher similarity,
    except for a quarter of bulletins whose employer is not among the candidates."""
    rows = []
    truth = np.full(n_bulletins, -1)
    for b in range(n_bulletins):
        present = b % 4 != 0
        for j in range(per):
            sim = rng.uniform(0.2, 0.6) + (0.4 if (present and j == 0) else 0.0)
            rows.append({"bulletin": b, "row": b * per + j, **{s: 0.0 for s in SIGNALS}, "similarity": sim})
        if present:
            truth[b] = b * per
    return pd.DataFrame(rows), truth


def test_the_choice_model_learns_that_similarity_matters():
    """Fitted on candidates where the employer is the most similar, does the model weigh similarity
    positively and give the true candidates the highest probabilities?"""
    cands, truth = _candidates(np.random.default_rng(0))
    model = ChoiceModel(("similarity",)).fit(cands, truth)
    assert model.weights()["similarity"] > 0
    p = model.probabilities(cands)
    per_bulletin = pd.Series(p).groupby(cands["bulletin"]).sum()
    assert (per_bulletin <= 1 + 1e-9).all()  # the rest is "none of them"
    best = best_candidates(cands, p, k=1)
    present = truth[best["bulletin"]] >= 0
    assert (best["row"].to_numpy()[present] == truth[best["bulletin"]][present]).mean() > 0.9


def test_an_unfitted_choice_model_refuses_to_answer():
    """Does an unfitted model raise rather than return nonsense?"""
    with pytest.raises(RuntimeError):
        ChoiceModel().probabilities(pd.DataFrame({"bulletin": [0], **{s: [0.0] for s in SIGNALS}}))


def test_best_candidates_ranks_by_probability():
    """Are candidates re-ranked by probability, k kept per bulletin?"""
    cands = pd.DataFrame({"bulletin": [0, 0, 0, 1], "row": [5, 6, 7, 8]})
    best = best_candidates(cands, np.array([0.1, 0.7, 0.2, 0.5]), k=2)
    assert best["row"].tolist() == [6, 7, 8] and best["rank"].tolist() == [1, 2, 1]


def test_name_reliability_lowers_names_that_usually_mislead():
    """Does a name whose best candidate was always wrong get a factor below 1, a reliable or unseen one 1?"""
    names = ["EDUCATION NATIONALE"] * 10 + ["DUPONT"] * 10 + ["OTHER"] * 10
    correct = [False] * 10 + [True] * 10 + [True, False] * 5
    rel = NameReliability(strength=2).fit(names, correct)
    f = rel.factor(["EDUCATION NATIONALE", "DUPONT", "NEVER SEEN"])
    assert f[0] < 0.3 and f[1] == 1.0 and f[2] == 1.0


def test_cross_fitted_reliability_does_not_use_a_bulletin_own_label():
    """Is a name seen once given factor 1 out of fold (its own failure is not held against it)?"""
    f = NameReliability.cross_fit(["A", "B", "C", "D"], [False, True, True, True], folds=4, seed=0)
    assert f.tolist() == [1.0, 1.0, 1.0, 1.0]
    assert NameReliability().fit(["A", "B", "C", "D"], [False, True, True, True]).factor(["A"])[0] < 1.0


def test_non_answers_learn_which_names_lead_nowhere():
    """Is a name whose bulletins could never be coded (the empty name, NEANT) given a share near 1, a
    real employer's name a share near 0, an unseen one the overall share, and is each name's
    frequency its bulletins per 1,000?"""
    names = [""] * 20 + ["NEANT"] * 10 + ["BOULANGERIE DUPONT"] * 10 + [f"GARAGE {i}" for i in range(60)]
    codable = [False] * 30 + [True] * 70
    answers = NonAnswers(strength=2).fit(names, codable)
    share = answers.share(["", "NEANT", "BOULANGERIE DUPONT", "NEVER SEEN", None])
    assert share[0] > 0.9 and share[1] > 0.8
    assert share[2] < 0.1
    assert share[3] == pytest.approx(0.3) and share[4] == share[0]  # a missing name is the empty name
    assert answers.frequency(["", "NEANT", "GARAGE 1", "NEVER SEEN"]).tolist() == [200.0, 100.0, 10.0, 0.0]
    with pytest.raises(RuntimeError):
        NonAnswers().share(["NEANT"])


def test_cross_fitted_non_answers_do_not_use_a_bulletin_own_label():
    """Out of fold, is a name seen once treated as unseen (overall share of the other folds, frequency 0),
    while a name repeated in every fold keeps its share?"""
    names = ["NEANT"] * 40 + [f"NAME {i}" for i in range(40)]
    codable = [False] * 40 + [True] * 40
    share, frequency = NonAnswers.cross_fit(names, codable, folds=4, seed=0)
    assert (share[:40] > 0.8).all() and (frequency[:40] > 0).all()
    assert (frequency[40:] == 0).all()
    assert (share[40:] > 0.3).all() and (share[40:] < 0.7).all()  # the others' overall share, not 0


def test_threshold_for_precision_with_a_safety_margin():
    """Does a margin in standard errors ask for more than the target where few codings measure it, and
    never lower the threshold?"""
    scores = np.linspace(1.0, 0.05, 20)
    correct = [True] * 19 + [False]  # 95 % precision over all 20
    assert threshold_for_precision(scores, correct, 0.95) == scores[19]
    # 19 right of 19 pass 0.95 + 0.5 * sqrt(0.95 * 0.05 / 19) = 0.975; 19 of 20 (0.95) do not pass 0.974.
    assert threshold_for_precision(scores, correct, 0.95, margin=0.5) == scores[18]
    rng = np.random.default_rng(0)
    scores, correct = rng.random(500), rng.random(500) < 0.9
    for margin in (0.5, 1.0, 2.0):
        assert threshold_for_precision(scores, correct, 0.8, margin=margin) >= threshold_for_precision(scores, correct, 0.8)


def test_threshold_for_precision():
    """Is the chosen threshold the lowest that keeps the codings at the target precision?"""
    scores = [0.9, 0.8, 0.7, 0.6, 0.5]
    correct = [True, True, True, False, False]
    assert threshold_for_precision(scores, correct, 1.0) == 0.7
    assert threshold_for_precision(scores, correct, 0.75) == 0.6
    assert threshold_for_precision([0.5, 0.4], [False, False], 0.9) == math.inf


def test_threshold_for_precision_never_splits_equal_scores():
    """With tied scores, is the threshold placed only where a cut is possible?"""
    assert threshold_for_precision([0.9, 0.5, 0.5], [True, True, False], 0.9) == 0.9


# -- pair_similarity: the name signal of pairs found some other way -----------------------------------

def test_pair_similarity_agrees_with_the_search(index):
    """For pairs the search also found, is the similarity pair_similarity gives the search's, whatever the
    order of the pairs, and the variant reported a name of that establishment scoring that similarity?
    (Between equally similar names, 'GALL NATHALIE' and 'NATHALIE GALL', either may be reported.)"""
    names = ["BOULANGRIE DUPOND", "BON PAIN", "MAIRIE MINSAC"]
    found = index.query(names, k=5)
    shuffled = found.sample(frac=1.0, random_state=0).reset_index(drop=True)
    out = index.pair_similarity(names, shuffled["bulletin"], shuffled["row"])
    assert len(out) == len(shuffled) and list(out.columns) == ["similarity", "kind", "variant"]
    assert out["similarity"].to_numpy() == pytest.approx(shuffled["similarity"].to_numpy(), abs=1e-5)
    variants = out["variant"].to_numpy()
    assert (index.variants["row"].to_numpy()[variants] == shuffled["row"].to_numpy()).all()
    assert out["kind"].tolist() == index.variants["kind"].to_numpy()[variants].tolist()
    own = np.asarray(index.transform([names[b] for b in shuffled["bulletin"]]).multiply(
        index.matrix[variants]).sum(axis=1)).ravel()
    assert own == pytest.approx(out["similarity"].to_numpy(), abs=1e-5)


def test_pair_similarity_takes_the_best_name_of_the_establishment(index):
    """Is 'BON PAIN' against establishment 0 scored by its sign (about 1), not its legal name?"""
    out = index.pair_similarity(["BON PAIN"], [0], [0])
    assert out["similarity"].iloc[0] == pytest.approx(1.0, abs=1e-5) and out["kind"].iloc[0] == "sign"
    assert index.variants.loc[out["variant"].iloc[0], "row"] == 0


def test_pair_similarity_of_unrelated_or_empty_names_is_zero(index):
    """Are a name sharing no n-gram with the establishment's, and an empty name, given similarity 0?"""
    out = index.pair_similarity(["XYZ", ""], [0, 1], [3, 0])
    assert out["similarity"].tolist() == [0.0, 0.0]


def test_pair_similarity_of_a_nameless_establishment():
    """Is an establishment without any name given similarity 0, no kind and variant -1, its neighbours
    unaffected?"""
    nameless = pd.concat([REGISTER, REGISTER.iloc[[0]].assign(
        siret="00000000000006", denominationUniteLegale=None, enseigne1Etablissement=None)], ignore_index=True)
    index = NameIndex(nameless, ngram_range=(2, 4))
    out = index.pair_similarity(["BOULANGERIE DUPONT", "BOULANGERIE DUPONT"], [0, 1], [5, 4])
    assert out["similarity"].iloc[0] == 0.0 and pd.isna(out["kind"].iloc[0]) and out["variant"].iloc[0] == -1
    assert out["similarity"].iloc[1] == pytest.approx(1.0, abs=1e-5) and out["kind"].iloc[1] == "legal"


def test_pair_similarity_of_no_pair_is_empty(index):
    """Does an empty list of pairs give an empty frame with the three columns?"""
    out = index.pair_similarity(["BOULANGERIE"], [], [])
    assert len(out) == 0 and list(out.columns) == ["similarity", "kind", "variant"]
