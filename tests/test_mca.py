"""datathon/mca.py: the MCA replica, unit by unit, on hand-built frames, then calibrated end to end."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from datathon.cli import main
from datathon.luhn import with_luhn_key
from datathon import mca as mca_module
from datathon.mca import (CLASS_TABLE, ActivityCheck, address_level, each_distinct, mca_name, name_candidates,
                          name_level, resolve_communes, run_mca)
from datathon.schema import BULLETINS, ETABLISSEMENTS

CALIBRATION_SEEDS = (101, 202)  # reserved: no solution uses them


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "datathon", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


# -- hand-built frames -------------------------------------------------------------------------------

COMMUNES = pd.DataFrame(
    [("35001", "Alpha", "35100", "35"), ("35002", "Saint-Aubin-du-Cormier", "35140", "35"),
     ("35003", "Beta", "35100", "35"), ("35004", "Gamma", "35200", "35"), ("56001", "Beta", "56000", "56")],
    columns=["code_commune", "nom_commune", "code_postal", "code_departement"],
)
POSTAL = dict(zip(COMMUNES["code_commune"], COMMUNES["code_postal"]))


def siret(k: int) -> str:
    siren = int(with_luhn_key(np.array([10_000_000 + k]), 9)[0])
    return f"{int(with_luhn_key(np.array([siren * 10_000 + 1]), 14)[0]):014d}"


def register(*rows: dict) -> pd.DataFrame:
    """A register in the schema's columns from a few establishments (unset columns null)."""
    frame = pd.DataFrame([{**{c: None for c in ETABLISSEMENTS}, **r} for r in rows])
    frame["siren"] = frame["siret"].str[:9]
    frame["nic"] = frame["siret"].str[9:]
    frame["codePostalEtablissement"] = frame["codeCommuneEtablissement"].map(POSTAL)
    frame["etatAdministratifEtablissement"] = frame["etatAdministratifEtablissement"].fillna("A")
    return frame.astype({c: "string" for c, t in ETABLISSEMENTS.items() if t == "string"})


def etab(k: int, name: str, commune: str = "35001", street: str | None = "RUE DE LA GARE", number: str | None = "12",
         naf: str = "10.71C", **more) -> dict:
    return {"siret": siret(k), "denominationUniteLegale": name, "codeCommuneEtablissement": commune,
            "libelleVoieEtablissement": street, "numeroVoieEtablissement": number,
            "activitePrincipaleEtablissement": naf, "activitePrincipaleUniteLegale": naf, **more}


def bulletin(name: str, commune: str | None = "ALPHA", street: str | None = "RUE DE LA GARE", number: str | None = "12",
             activity: str = "", ilt: str = "2", dlt: str | None = "35", home: str = "35004") -> dict:
    return {"RS_X": name, "CLT_X": commune, "NOMVOI_X": street, "NUMVOI_X": number, "ACTET_X": activity,
            "ILT_X": ilt, "DLT_X": dlt, "DEPCOM_CODE": home, "TYPCOL": 1}


def bulletins(*rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame([{**{c: None for c in BULLETINS}, **r} for r in rows])
    frame["CABBI"] = [f"35{i:08d}" for i in range(len(frame))]
    return frame.astype({c: t for c, t in BULLETINS.items()})


# Around the bakery: a few other businesses of Alpha, and one of Beta (same postal code) and Gamma.
NEIGHBOURS = [
    etab(2, "GARAGE MARTIN", street="ROUTE DE RENNES", number="3", naf="45.20A"),
    etab(3, "CABINET INFIRMIER LE GOFF", street="PLACE DE L EGLISE", number="1", naf="86.90D"),
    etab(4, "SUPERMARCHE ALPHA", street="ZONE DES LANDES", number="7", naf="47.11D",
         enseigne1Etablissement="PRIXMARKET"),
]
BAKERY = etab(1, "BOULANGERIE DUPONT")


def mca(reg_rows, *bull_rows) -> pd.DataFrame:
    return run_mca(bulletins(*bull_rows), register(*reg_rows), COMMUNES)


def one(result: pd.DataFrame) -> dict:
    assert len(result) == 1
    row = result.iloc[0]
    return {"siretc": None if pd.isna(row["SIRETC"]) else row["SIRETC"],
            "cls": None if pd.isna(row["I_MCA_C"]) else int(row["I_MCA_C"]),
            "name": None if pd.isna(row["NOTE_MCA_NOM_C"]) else int(row["NOTE_MCA_NOM_C"]),
            "address": None if pd.isna(row["NOTE_MCA_ADR_C"]) else int(row["NOTE_MCA_ADR_C"])}


# -- normalised names, levels and classes ------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("SARL Boulangerie Dupont", "BOULANGERIE DUPONT"),
    ("Dupont & Fils", "DUPONT FILS"),
    ("Société Générale", "GENERALE"),
    ("ETS LE GALL ET FILS SAS", "FILS GALL"),
    ("Zèbre Alpha", "ALPHA ZEBRE"),
    ("SAS", ""),
    (None, ""),
    (float("nan"), ""),
    (pd.NA, ""),
])
def test_mca_name(raw, expected):
    """Is MCA's name simplified, without legal forms or small words, its words sorted?"""
    assert mca_name(raw) == expected


def test_mca_name_ignores_word_order_and_legal_form():
    """Do 'DUPONT BOULANGERIE SARL' and 'Boulangerie Dupont' get the same MCA name?"""
    assert mca_name("DUPONT BOULANGERIE SARL") == mca_name("Boulangerie Dupont")


def test_name_levels():
    """Is a name score ≥ 800 good, 200–799 fair, < 200 bad?"""
    scores = np.array([1000, 800, 799, 500, 200, 199, 0])
    assert name_level(scores).tolist() == [0, 0, 1, 1, 1, 2, 2]


def test_address_levels():
    """Are address scores 10–11 good, 20–22 fair, 31–35 bad?"""
    scores = np.array([10, 11, 20, 21, 22, 31, 32, 33, 34, 35])
    assert address_level(scores).tolist() == [0, 0, 1, 1, 1, 2, 2, 2, 2, 2]


@pytest.mark.parametrize("name, address, cls", [
    ("good", "good", 1), ("good", "fair", 2), ("fair", "good", 3), ("good", "bad", 4), ("fair", "fair", 5),
    ("bad", "good", 6), ("fair", "bad", 7), ("bad", "fair", 8), ("bad", "bad", 9),
])
def test_class_table(name, address, cls):
    """Does each (name, address) level pair give the class of MCA's documentation?"""
    levels = {"good": 0, "fair": 1, "bad": 2}
    assert CLASS_TABLE[levels[name], levels[address]] == cls


def test_class_table_is_a_permutation_of_1_to_9():
    """Is every class 1–9 used exactly once?"""
    assert sorted(CLASS_TABLE.ravel().tolist()) == list(range(1, 10))


# -- the activity check -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def check() -> ActivityCheck:
    return ActivityCheck()


@pytest.mark.parametrize("activity, naf", [
    ("BOULANGERIE", "10.71C"), ("boulangerie pâtisserie", "10.71C"), ("Supermarché", "47.11D"),
    ("PROGRAMMATION INFORMATIQUE", "62.01Z"), ("garage réparation automobile", "45.20A"),
])
def test_activity_check_agrees(check, activity, naf):
    """Does a declared activity sharing a significant word with the NAF labels agree?"""
    assert check.agrees(activity, naf)


@pytest.mark.parametrize("activity, naf", [
    ("INFORMATIQUE", "10.71C"), ("BOULANGERIE", "62.01Z"), ("", "10.71C"), (None, "10.71C"),
    ("BOULANGERIE", "99.99Z"), ("COMMERCE", "47.11D"), ("SERVICES", "62.01Z"), ("DE LA", "10.71C"),
])
def test_activity_check_disagrees(check, activity, naf):
    """Do another trade, a blank, an unknown code, and words too vague or too short disagree?"""
    assert not check.agrees(activity, naf)


# -- communes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("clt, dlt, ilt, home, expected", [
    ("ALPHA", "35", "2", "35004", "35001"),
    ("ST AUBIN DU CORMIER", "35", "2", "35004", "35002"),
    ("St-Aubin-du-Cormier", None, "2", "35004", "35002"),
    ("saint aubin du cormier", "35", "2", "35004", "35002"),
    (None, None, "1", "35004", "35004"),
    ("", None, "1", "35003", "35003"),
    (None, None, "2", "35004", None),
    ("BETA", "56", "2", "35004", "56001"),
    ("BETA", "35", "2", "56001", "35003"),
    ("BETA", None, "2", "56001", "56001"),
    ("BETA", None, "2", "35001", "35003"),
    ("NOWHERE", "35", "2", "35004", None),
])
def test_resolve_communes(clt, dlt, ilt, home, expected):
    """Is the workplace commune read from CLT_X's usual spellings, DLT_X, or the home when ILT_X = 1?"""
    b = bulletins(bulletin("X", commune=clt, dlt=dlt, ilt=ilt, home=home))
    assert resolve_communes(b, COMMUNES).tolist() == [expected]


# -- run_mca on tiny frames --------------------------------------------------------------------------

def test_exact_name_at_the_same_address_is_class_1_and_coded():
    """Is an exact name at the same street and number class 1 (1000, 10), and validated?"""
    r = one(mca([BAKERY, *NEIGHBOURS], bulletin("Boulangerie Dupont")))
    assert r == {"siretc": siret(1), "cls": 1, "name": 1000, "address": 10}


def test_same_street_other_number_is_11():
    """Is the same street with another number an 11, still class 1?"""
    r = one(mca([BAKERY, *NEIGHBOURS], bulletin("SARL BOULANGERIE DUPONT", number="40")))
    assert (r["cls"], r["address"], r["siretc"]) == (1, 11, siret(1))


def test_good_name_without_street_is_class_2_and_coded():
    """Is a good name with no street declared class 2 (address 21), and validated without activity?"""
    r = one(mca([BAKERY, *NEIGHBOURS], bulletin("BOULANGERIE DUPONT", street=None, number=None)))
    assert r == {"siretc": siret(1), "cls": 2, "name": 1000, "address": 21}


def test_fair_name_good_address_agreeing_activity_is_coded():
    """Is a fair name at the right address (class 3) validated when the activity agrees?"""
    r = one(mca([BAKERY, *NEIGHBOURS], bulletin("DUPONT", activity="BOULANGERIE")))
    assert 200 <= r["name"] < 800 and r["address"] == 10
    assert r["cls"] == 3 and r["siretc"] == siret(1)


def test_fair_name_good_address_disagreeing_activity_is_not_coded():
    """Is the same class-3 candidate rejected when the declared activity is another trade?"""
    r = one(mca([BAKERY, *NEIGHBOURS], bulletin("DUPONT", activity="INFORMATIQUE")))
    assert r["cls"] == 3 and r["siretc"] is None


def test_fair_name_good_address_blank_activity_is_not_coded():
    """Is a class-3 candidate rejected when no activity is declared?"""
    r = one(mca([BAKERY, *NEIGHBOURS], bulletin("DUPONT", activity="")))
    assert r["cls"] == 3 and r["siretc"] is None


def test_bad_name_is_not_coded():
    """Is a name matching nothing (bad, < 200) rejected even at a good address?"""
    r = one(mca([BAKERY, *NEIGHBOURS], bulletin("ZZZZ", activity="BOULANGERIE")))
    assert r["name"] < 200 and r["cls"] in (6, 7, 8, 9)
    assert r["siretc"] is None


def test_exact_tie_between_two_establishments_is_not_coded():
    """Are two establishments with the same name at the same address an exact tie, left uncoded?"""
    twin = etab(5, "BOULANGERIE DUPONT")
    r = one(mca([BAKERY, twin, *NEIGHBOURS], bulletin("BOULANGERIE DUPONT")))
    assert r["cls"] == 1 and r["siretc"] is None


def test_a_better_address_breaks_the_tie():
    """Is a namesake at another street no tie: the one at the declared address is coded?"""
    twin = etab(5, "BOULANGERIE DUPONT", street="AVENUE DU GENERAL DE GAULLE", number="2")
    r = one(mca([BAKERY, twin, *NEIGHBOURS], bulletin("BOULANGERIE DUPONT")))
    assert r["siretc"] == siret(1) and r["address"] == 10


def test_exact_tie_elsewhere_with_a_repeated_name_is_not_coded():
    """Is a tie between two exact namesakes in other communes detected, even if one has the name twice?"""
    a = etab(6, "PHARMACIE CENTRALE", commune="35001", naf="47.73Z", enseigne1Etablissement="PHARMACIE CENTRALE")
    b = etab(7, "PHARMACIE CENTRALE", commune="35001", street="RUE NATIONALE", number="4", naf="47.73Z")
    r = one(mca([a, b], bulletin("PHARMACIE CENTRALE", commune="BETA", activity="PHARMACIE")))
    assert (r["cls"], r["address"]) == (4, 32)
    assert r["siretc"] is None


def test_the_sign_and_a_sole_proprietor_name_are_searched():
    """Are the enseigne and a sole proprietor's surname and first name searched as names?"""
    shop = etab(8, None, nomUniteLegale="LE GOFF", prenom1UniteLegale="ANNIE", naf="96.02A",
                categorieJuridiqueUniteLegale="1000", street="RUE NATIONALE", number="9")
    r = one(mca([BAKERY, shop, *NEIGHBOURS], bulletin("Annie Le Goff", street="RUE NATIONALE", number="9")))
    assert (r["siretc"], r["cls"]) == (siret(8), 1)
    r = one(mca([BAKERY, *NEIGHBOURS], bulletin("PRIXMARKET", street="ZONE DES LANDES", number="7")))
    assert (r["siretc"], r["cls"]) == (siret(4), 1)


def test_the_commune_name_identifies_nothing_in_its_commune():
    """Is 'MAIRIE' enough for 'MAIRIE D ALPHA' in Alpha (the commune's own words are ignored)?"""
    hall = etab(9, "MAIRIE D ALPHA", street="PLACE DE LA MAIRIE", number="1", naf="84.11Z")
    r = one(mca([BAKERY, hall, *NEIGHBOURS], bulletin("MAIRIE", street=None, number=None)))
    assert (r["siretc"], r["cls"]) == (siret(9), 2)


@pytest.mark.parametrize("commune, address", [("BETA", 32), ("GAMMA", 33), ("NOWHERE", 34), (None, 34)])
def test_exact_name_in_another_commune(commune, address):
    """Is an exact name found in another commune scored 32 same postal code, 33 other, 34 unreadable?"""
    r = one(mca([BAKERY, *NEIGHBOURS], bulletin("BOULANGERIE DUPONT", commune=commune, activity="BOULANGERIE")))
    assert (r["cls"], r["address"], r["name"]) == (4, address, 1000)
    assert r["siretc"] == siret(1)  # class 4 with an agreeing activity


def test_class_4_with_disagreeing_activity_is_not_coded():
    """Is an exact name found only in another commune rejected when the activity disagrees?"""
    r = one(mca([BAKERY, *NEIGHBOURS], bulletin("BOULANGERIE DUPONT", commune="GAMMA", activity="TRANSPORT")))
    assert r["cls"] == 4 and r["siretc"] is None


def test_nothing_found_leaves_every_column_null():
    """Has a bulletin with no candidate (blank name, unknown commune) all MCA columns null?"""
    r = one(mca([BAKERY, *NEIGHBOURS], bulletin("", commune="NOWHERE")))
    assert r == {"siretc": None, "cls": None, "name": None, "address": None}


def test_output_columns_order_and_types():
    """Does run_mca return CABBI and the four MCA columns, in the bulletins' order, with the schema's types?"""
    rows = [bulletin("BOULANGERIE DUPONT"), bulletin("ZZZZ"),
            bulletin("GARAGE MARTIN", street="ROUTE DE RENNES", number="3")]
    b = bulletins(*rows)
    out = run_mca(b, register(BAKERY, *NEIGHBOURS), COMMUNES)
    assert list(out.columns) == ["CABBI", "SIRETC", "I_MCA_C", "NOTE_MCA_NOM_C", "NOTE_MCA_ADR_C"]
    assert out["CABBI"].tolist() == b["CABBI"].tolist()
    for col in out.columns[1:]:
        assert str(out[col].dtype) == BULLETINS[col], col
    assert out["SIRETC"].tolist()[0::2] == [siret(1), siret(2)]


def test_each_bulletin_is_judged_alone():
    """Is a bulletin's result the same alone as among others (no leak between bulletins)?"""
    rows = [bulletin("BOULANGERIE DUPONT"), bulletin("DUPONT", activity="BOULANGERIE"), bulletin("ZZZZ"),
            bulletin("GARAGE MARTIN", commune="GAMMA", activity="GARAGE")]
    reg = [BAKERY, *NEIGHBOURS]
    together = mca(reg, *rows).drop(columns="CABBI")
    alone = pd.concat([mca(reg, r).drop(columns="CABBI") for r in rows], ignore_index=True)
    pd.testing.assert_frame_equal(together, alone)


def test_each_distinct_calls_once_per_value():
    """Does each_distinct give the list comprehension's values, calling the function once per distinct
    value and once for all missing ones?"""
    calls = []

    def shout(v):
        calls.append(v)
        return "" if v is None else v.upper()

    values = ["a", "b", "a", None, "c", float("nan"), "b", pd.NA]
    out = each_distinct(shout, values)
    assert out.tolist() == ["A", "B", "A", "", "C", "", "B", ""]
    assert calls.count(None) == 1 and sorted(c for c in calls if c is not None) == ["a", "b", "c"]
    assert each_distinct(shout, []).tolist() == []


def reference_name_candidates(queries, choices, choice_rows):
    """MCA's name search as first written: every (query, name) pair scored, the names grouped by establishment."""
    from rapidfuzz import fuzz, process

    e_rows = np.asarray(choice_rows)
    order = np.argsort(e_rows, kind="stable")
    establishments, starts = np.unique(e_rows[order], return_index=True)
    scores = process.cdist(queries, choices, scorer=fuzz.ratio, dtype=np.int32)
    best = np.maximum.reduceat(scores[:, order], starts, axis=1) * 10
    k = min(5, len(establishments))
    top = np.argpartition(-best, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(best, top, axis=1).min(axis=1)
    wide = kth >= 200
    rows, cols = np.nonzero((best >= kth[:, None]) & wide[:, None])
    narrow = np.flatnonzero(~wide)
    rows = np.concatenate([rows, np.repeat(narrow, k)])
    cols = np.concatenate([cols, top[narrow].ravel()])
    return sorted(zip(rows.tolist(), establishments[cols].tolist(), best[rows, cols].tolist()))


@pytest.mark.parametrize("seed", range(12))
def test_name_candidates_are_the_straightforward_search(seed, monkeypatch):
    """Does the search by distinct texts keep exactly the pairs and scores of the straightforward one,
    with many repeated names, ties (also among bad names, where argpartition picks) and small chunks?"""
    rng = np.random.default_rng(seed)
    words = ["BOULANGERIE", "DUPONT", "GARAGE", "MARTIN", "LE", "GALL", "CAFE", "PORT", "XQZW", "EARL"]
    n_est = int(rng.integers(1, 150))

    def text():
        return " ".join(rng.choice(words, size=int(rng.integers(1, 4))))

    rows, choices = [], []
    for e in rng.permutation(1000)[:n_est]:
        for _ in range(int(rng.integers(1, 4))):  # 1 to 3 names each, repeats included
            rows.append(int(e))
            choices.append(text())
    shuffle = rng.permutation(len(rows))
    rows, choices = [rows[i] for i in shuffle], [choices[i] for i in shuffle]
    # Some queries match nothing well: their bad scores tie, and argpartition picks among them.
    junk = ["Y" * 19 + letter for letter in "BGCTE"]
    queries = [text() for _ in range(int(rng.integers(1, 30)))] + junk + junk[:2]
    monkeypatch.setattr(mca_module, "CHUNK_CELLS", int(rng.integers(1, 200)))
    q, e, s = name_candidates(queries, choices, np.array(rows))
    assert sorted(zip(q.tolist(), e.tolist(), s.tolist())) == reference_name_candidates(queries, choices, rows)


# -- the command and the calibration -----------------------------------------------------------------

@pytest.fixture
def tiny_world(tmp_path, tiny_scale):
    from datathon.world import generate

    generate(scale="sample", seed=12, out=tmp_path / "world", progress=False)
    return tmp_path / "world"


@pytest.mark.parametrize("split", ["test", "train"])
def test_mca_command_writes_a_submission(tiny_world, tmp_path, capsys, split):
    """Does `datathon mca --split S` write CABBI;siret for every bulletin of S, the codings generated?"""
    out = tmp_path / "sub" / "mca.csv"
    assert main(["mca", "--data", str(tiny_world), "--split", split, "--out", str(out)]) == 0
    assert "coded" in capsys.readouterr().out
    sub = pd.read_csv(out, sep=";", dtype=str, keep_default_na=False)
    b = pd.read_parquet(tiny_world / f"bulletins_{split}.parquet")
    assert list(sub.columns) == ["CABBI", "siret"]
    assert sub["CABBI"].tolist() == b["CABBI"].tolist()
    assert sub["siret"].tolist() == b["SIRETC"].fillna("").tolist()
    assert (sub["siret"] != "").any()


def test_mca_command_on_a_missing_directory_is_one_line(tmp_path, capsys):
    """Does `datathon mca` on a directory that does not exist exit 2 with one line, writing nothing?"""
    assert main(["mca", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "mca.csv")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "datathon mca: error:" in err
    assert not (tmp_path / "mca.csv").exists()


def calibration_figures(directory) -> dict:
    test = pd.read_parquet(directory / "bulletins_test.parquet", columns=["CABBI", "SIRETC"])
    truth = pd.read_parquet(directory / "truth_test.parquet", columns=["CABBI", "SIRET_DEC"])
    b = test.merge(truth, on="CABBI", validate="one_to_one")
    coded = b["SIRETC"].notna()
    right = (b["SIRETC"] == b["SIRET_DEC"]).fillna(False)
    return {"coding_rate": coded.mean(), "precision": right.sum() / coded.sum(), "success_rate": right.mean()}


@pytest.mark.parametrize("seed", CALIBRATION_SEEDS)
def test_calibration_of_the_generated_codings(sample_world, seed):
    """On a reserved seed, does MCA code 40–50 % of the test bulletins, 85–92 % of them right?"""
    figures = calibration_figures(sample_world(seed))
    assert 0.40 <= figures["coding_rate"] <= 0.50, figures
    assert 0.85 <= figures["precision"] <= 0.92, figures


@pytest.mark.parametrize("seed", CALIBRATION_SEEDS)
def test_calibration_through_the_commands(sample_world, tmp_path, seed):
    """As a user would: `datathon mca` then `datathon score --json` give 40–50 % coded, 85–92 % right?"""
    data = sample_world(seed)
    sub = tmp_path / "mca.csv"
    made = run_cli("mca", "--data", data, "--split", "test", "--out", sub)
    assert made.returncode == 0, made.stderr
    written = pd.read_csv(sub, sep=";", dtype=str, keep_default_na=False)
    generated = pd.read_parquet(data / "bulletins_test.parquet", columns=["CABBI", "SIRETC"])
    assert written["CABBI"].tolist() == generated["CABBI"].tolist()
    assert written["siret"].tolist() == generated["SIRETC"].fillna("").tolist()
    scored = run_cli("score", sub, "--data", data, "--json")
    assert scored.returncode == 0, scored.stderr
    metrics = json.loads(scored.stdout)
    assert 0.40 <= metrics["coding_rate"] <= 0.50, metrics
    assert 0.85 <= metrics["precision"] <= 0.92, metrics
    assert metrics["success_rate"] == pytest.approx(metrics["coding_rate"] * metrics["precision"])
    expected = calibration_figures(data)
    for key in ("coding_rate", "precision", "success_rate"):
        assert metrics[key] == pytest.approx(expected[key]), key


def test_resolve_communes_reads_a_missing_ilt_as_unknown():
    """Is a missing ILT_X (pandas' <NA> in a string column, as real extracts have) read as "workplace unknown"
    rather than crashing MCA?"""
    b = bulletins(bulletin("X", commune=None, dlt=None, ilt="1", home="35004"),
                  bulletin("Y", commune="ALPHA", dlt="35", ilt="2", home="35004"))
    b["ILT_X"] = pd.array([pd.NA, "2"], dtype="string")
    assert resolve_communes(b, COMMUNES).tolist() == [None, "35001"]
