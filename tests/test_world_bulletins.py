"""datathon/world/bulletins.py and noise.py: census bulletins, their truth and their declaration noise."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rapidfuzz.distance import Levenshtein

from datathon.mca import CLASS_TABLE, address_level, name_level
from datathon.schema import BULLETINS, BULLETINS_TRAIN, NOISE_COLUMN, TRUTH, TRUTH_COLUMN
from datathon.text import commune_key, simplify
from datathon.world import vocabulary as V
from datathon.world.noise import MECHANISMS, MECHANISMS_BY_NAME

ARROW_TYPES = {"string": pa.string(), "float64": pa.float64(), "int64": pa.int64(), "Int8": pa.int8(),
               "Int16": pa.int16()}
DECLARATION_LEVELS = ("name", "address", "activity", "bulletin")


@pytest.fixture(scope="module")
def bulletins(world_frames) -> pd.DataFrame:
    """Train and test bulletins together, each with its truth and noise record, and its split."""
    train = world_frames["bulletins_train"].assign(split="train")
    test = world_frames["bulletins_test"].merge(world_frames["truth_test"], on="CABBI", how="left",
                                                validate="one_to_one").assign(split="test")
    return pd.concat([train, test], ignore_index=True)


@pytest.fixture(scope="module")
def noise(bulletins) -> pd.DataFrame:
    """One boolean column per mechanism: was it applied to the bulletin?"""
    sets = bulletins[NOISE_COLUMN].fillna("").str.split("|").map(lambda ws: set(w for w in ws if w))
    return pd.DataFrame({m.name: sets.map(lambda s, n=m.name: n in s).to_numpy(dtype=bool) for m in MECHANISMS})


@pytest.fixture(scope="module")
def register(world_frames) -> pd.DataFrame:
    return world_frames["etablissements"].set_index("siret", drop=False)


def employer(bulletins: pd.DataFrame, register: pd.DataFrame, column: str) -> pd.Series:
    """A column of each codable bulletin's true establishment."""
    coded = bulletins[TRUTH_COLUMN].dropna()
    return pd.Series(register.loc[coded, column].to_numpy(), index=coded.index)


# -- files ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, spec", [("bulletins_train.parquet", BULLETINS_TRAIN),
                                        ("bulletins_test.parquet", BULLETINS), ("truth_test.parquet", TRUTH)])
def test_rp_column_names_and_types(world_dir, name, spec):
    """Are the columns exactly the RP dictionary's (schema BULLETINS / BULLETINS_TRAIN / TRUTH), typed?"""
    schema = pq.read_schema(world_dir / name)
    assert schema.names == list(spec)
    for column, dtype in spec.items():
        assert schema.field(column).type == ARROW_TYPES[dtype], column


def test_test_bulletins_hide_their_truth(world_frames):
    """Has the test split no SIRET_DEC nor NOISE, while train has both?"""
    assert TRUTH_COLUMN not in world_frames["bulletins_test"] and NOISE_COLUMN not in world_frames["bulletins_test"]
    assert TRUTH_COLUMN in world_frames["bulletins_train"] and NOISE_COLUMN in world_frames["bulletins_train"]


def test_cabbi_is_unique_across_splits(world_frames):
    """Is every CABBI unique across train and test, 10 characters starting with the département?"""
    cabbi = pd.concat([world_frames["bulletins_train"]["CABBI"], world_frames["bulletins_test"]["CABBI"]])
    assert cabbi.notna().all() and cabbi.is_unique
    assert cabbi.str.fullmatch(r"35\d{8}").all()


def test_truth_aligns_with_the_test_bulletins(world_frames):
    """Does truth_test hold exactly the test CABBIs, in the same order?"""
    assert world_frames["truth_test"]["CABBI"].tolist() == world_frames["bulletins_test"]["CABBI"].tolist()


def test_split_sizes(world_frames):
    """Are there 15,000 bulletins, about 40 % of them in the test split?"""
    n_train, n_test = len(world_frames["bulletins_train"]), len(world_frames["bulletins_test"])
    assert n_train + n_test == 15_000
    assert 0.37 < n_test / 15_000 < 0.43


# -- truth ------------------------------------------------------------------------------------------

def test_truth_is_an_open_establishment(bulletins, register):
    """Is every non-null SIRET_DEC an open establishment of the register?"""
    coded = bulletins[TRUTH_COLUMN].dropna()
    assert coded.isin(register.index).all()
    assert (register.loc[coded, "etatAdministratifEtablissement"] == "A").all()
    assert 0.8 < len(coded) / len(bulletins) < 0.97


def test_household_employees_are_not_codable(bulletins, noise):
    """Have VARDOMPART_X = 3 bulletins (household employers) a null truth, and only household_employer ones?"""
    household = bulletins["VARDOMPART_X"] == "3"
    assert household.sum() > 100
    assert bulletins.loc[household, TRUTH_COLUMN].isna().all()
    assert (household.to_numpy() == noise["household_employer"].to_numpy()).all()


def test_blank_answers_are_not_codable(bulletins, noise):
    """Have blank_answer bulletins a null truth and an unusable name?"""
    blank = noise["blank_answer"].to_numpy()
    assert blank.sum() > 100
    assert bulletins.loc[blank, TRUTH_COLUMN].isna().all()
    unusable = {simplify(a) for a in V.UNUSABLE_ANSWERS}
    assert bulletins.loc[blank, "RS_X"].map(simplify).isin(unusable).all()


def test_every_uncodable_bulletin_has_a_reason(bulletins, noise):
    """Is a null truth always a household employer or a blank answer?"""
    reason = noise["household_employer"].to_numpy() | noise["blank_answer"].to_numpy()
    assert (bulletins[TRUTH_COLUMN].isna().to_numpy() == reason).all()


def test_vardompart_says_who_employs(bulletins, register):
    """Is VARDOMPART_X 2 exactly for public employers (catégorie juridique 7…), 1 for the others?"""
    assert set(bulletins["VARDOMPART_X"]) <= {"1", "2", "3"}
    codable = bulletins[TRUTH_COLUMN].notna()
    public = employer(bulletins, register, "categorieJuridiqueUniteLegale").str.startswith("7")
    declared = bulletins.loc[codable, "VARDOMPART_X"]
    mismatch = declared[(declared == "2") != public]
    examples = register.loc[bulletins.loc[mismatch.index[:3], TRUTH_COLUMN],
                            ["denominationUniteLegale", "categorieJuridiqueUniteLegale"]].values.tolist()
    assert mismatch.empty, f"{len(mismatch)} bulletins, e.g. employers {examples}"


# -- noise ------------------------------------------------------------------------------------------

def test_noise_names_are_known_mechanisms(bulletins):
    """Does NOISE only name declaration mechanisms of noise.MECHANISMS?"""
    names = {w for s in bulletins[NOISE_COLUMN].dropna() for w in s.split("|")}
    known = {m.name for m in MECHANISMS if m.level in DECLARATION_LEVELS}
    assert names <= known


@pytest.mark.parametrize("mechanism", [m.name for m in MECHANISMS if m.level in DECLARATION_LEVELS])
def test_every_declaration_mechanism_appears(noise, mechanism):
    """Does every name/address/activity/bulletin mechanism touch some bulletins of a sample world?"""
    assert noise[mechanism].sum() >= 20


def test_some_bulletins_are_clean(bulletins):
    """Are some bulletins free of any noise (the easy cases exist)?"""
    assert 0.01 < bulletins[NOISE_COLUMN].isna().mean() < 0.5


def test_paper_is_noisier_than_internet(bulletins, noise):
    """Are typos (and name noise in general) more frequent on paper (TYPCOL 0) than on internet forms?"""
    paper = (bulletins["TYPCOL"] == 0).to_numpy()
    typos = noise["typos"].to_numpy()
    assert typos[paper].mean() > 2 * typos[~paper].mean()
    for name in ("truncation", "missing_address", "blank_answer"):
        assert noise[name].to_numpy()[paper].mean() > noise[name].to_numpy()[~paper].mean(), name


def test_collection_modes(bulletins):
    """Is TYPCOL 0 or 1, a little more than half the bulletins collected on the internet?"""
    assert set(bulletins["TYPCOL"]) == {0, 1}
    assert 0.5 < (bulletins["TYPCOL"] == 1).mean() < 0.6


def test_mechanism_rates_are_paper_at_least_internet():
    """Has every declaration mechanism a paper rate at least its internet rate, both probabilities?"""
    for m in MECHANISMS:
        assert 0 <= m.internet <= 1 and 0 <= m.paper <= 1, m.name
        if m.level in DECLARATION_LEVELS:
            assert m.paper >= m.internet, m.name
        assert m.description and m.level in ("register", *DECLARATION_LEVELS)
    assert len(MECHANISMS_BY_NAME) == len(MECHANISMS)


def test_missing_address_leaves_no_street(bulletins, noise):
    """Do missing_address bulletins give no street, number nor type?"""
    missing = noise["missing_address"].to_numpy()
    for col in ("NUMVOI_X", "TYPEVOI_X", "NOMVOI_X"):
        assert bulletins.loc[missing, col].isna().all(), col


def test_public_sector_wordings(bulletins, noise, register):
    """Do 'EDUCATION NATIONALE' answers come from teachers' employers, 'MAIRIE' ones from communes?"""
    edu = bulletins[noise["education_nationale"].to_numpy() & bulletins[TRUTH_COLUMN].notna().to_numpy()]
    assert edu["RS_X"].map(simplify).str.contains("EDUC|ENSEIGN").all()
    assert register.loc[edu[TRUTH_COLUMN], "categorieJuridiqueUniteLegale"].isin(["7331", "7120"]).all()
    mairie = bulletins[noise["mairie"].to_numpy() & bulletins[TRUTH_COLUMN].notna().to_numpy()]
    assert mairie["RS_X"].map(simplify).str.contains("MAIRIE|VILLE|COMMUNE").all()
    assert (register.loc[mairie[TRUTH_COLUMN], "categorieJuridiqueUniteLegale"] == "7210").all()
    assert (register.loc[mairie[TRUTH_COLUMN], "denominationUsuelleEtablissement"] != "MAIRIE").all()


def test_temp_workers_name_the_client_but_belong_to_the_agency(bulletins, noise, register):
    """Is the truth of a temp_agency_client bulletin the agency (78.20Z), not the named client?"""
    temp = bulletins[noise["temp_agency_client"].to_numpy() & bulletins[TRUTH_COLUMN].notna().to_numpy()]
    assert len(temp) >= 20
    assert (register.loc[temp[TRUTH_COLUMN], "activitePrincipaleEtablissement"] == "78.20Z").all()


def test_neighbouring_commune_is_adjacent(bulletins, noise, register, world_frames):
    """Does a neighbouring_commune bulletin declare a commune adjacent to the employer's?"""
    communes = world_frames["communes"]
    code_of = dict(zip(communes["nom_commune"].map(commune_key), communes["code_commune"]))
    adjacency = set(zip(world_frames["communes_adjacentes"]["code_commune"],
                        world_frames["communes_adjacentes"]["code_commune_adjacente"]))
    national = bulletins[TRUTH_COLUMN].str.startswith("97").fillna(True).to_numpy()  # DSDEN teachers work at schools
    plain = noise["neighbouring_commune"].to_numpy() & ~noise["temp_agency_client"].to_numpy() \
        & bulletins[TRUTH_COLUMN].notna().to_numpy() & ~national
    rows = bulletins[plain]
    work = register.loc[rows[TRUTH_COLUMN], "codeCommuneEtablissement"].to_numpy()
    home = rows["DEPCOM_CODE"].to_numpy()
    declared = np.array([code_of.get(commune_key(c)) if isinstance(c, str) else h
                         for c, h in zip(rows["CLT_X"].astype(object), home)], dtype=object)
    readable = declared != None  # noqa: E711 (element-wise)
    assert readable.mean() > 0.9
    assert all((w, d) in adjacency for w, d in zip(work[readable], declared[readable]))


def test_ilt_says_whether_the_declared_commune_is_home(bulletins, world_frames):
    """Is ILT_X 1 exactly when the declared commune is the home one (CLT_X empty or its name)?"""
    names = dict(zip(world_frames["communes"]["code_commune"], world_frames["communes"]["nom_commune"]))
    assert bulletins["DEPCOM_CODE"].isin(names).all()
    assert set(bulletins["ILT_X"]) == {"1", "2"}
    home_key = bulletins["DEPCOM_CODE"].map(lambda c: commune_key(names[c]))
    clt = bulletins["CLT_X"].astype(object)
    same = (clt.map(commune_key) == home_key).to_numpy()
    empty = clt.isna().to_numpy()
    ilt1 = (bulletins["ILT_X"] == "1").to_numpy()
    other = ~ilt1
    assert not empty[other].any() and not same[other].any()  # ILT 2: another commune, always written
    assert empty[ilt1].mean() > 0.5
    # ILT 1 with a written name: the home commune's, up to a typo (the typos mechanism).
    written = ilt1 & ~empty & ~same
    assert written.mean() < 0.02
    assert bulletins.loc[written, "NOISE"].str.contains("typos").all()
    assert all(_close(commune_key(c), k) for c, k in zip(clt[written], home_key[written]))
    assert bulletins.loc[ilt1, "DLT_X"].isna().all()
    assert bulletins["PLT_X"].isna().all()


def _close(written: str, key: str) -> bool:
    """Is a written commune name the key's up to a typo (two letters changed, or swapped), full or ST/STE?"""
    short = re.sub(r"^SAINTE ", "STE ", re.sub(r"^SAINT ", "ST ", key))
    return min(Levenshtein.distance(written, key), Levenshtein.distance(written, short)) <= 4


def test_home_commune_noise_sets_ilt(bulletins, noise):
    """Do home_commune bulletins say ILT_X = 1?"""
    assert (bulletins.loc[noise["home_commune"].to_numpy(), "ILT_X"] == "1").all()


def test_workers_are_drawn_in_proportion_to_size(bulletins, register):
    """Do bigger establishments (by size band) get more bulletins, band by band?"""
    open_reg = register[register["etatAdministratifEtablissement"] == "A"]
    counts = bulletins[TRUTH_COLUMN].value_counts()
    per_etab = pd.Series(open_reg.index.map(counts).fillna(0).to_numpy(), index=open_reg.index)
    mean = per_etab.groupby(open_reg["trancheEffectifsEtablissement"].to_numpy()).mean()
    ladder = ["00", "01", "02", "03", "11", "12", "21", "22"]
    assert all(mean[a] < mean[b] for a, b in zip(ladder, ladder[1:])), mean.reindex(ladder).to_dict()
    assert mean["21"] > 10 * mean["01"]


def test_closed_establishments_employ_nobody(bulletins, register):
    """Is no bulletin's truth a closed establishment (they are distractors only)?"""
    closed = set(register.index[register["etatAdministratifEtablissement"] == "F"])
    assert not bulletins[TRUTH_COLUMN].dropna().isin(closed).any()


# -- the MCA replica's output ---------------------------------------------------------------------

def test_mca_columns_are_consistent(bulletins, register):
    """Are MCA's classes those of its scores, its codings register SIRETs of validated classes only?"""
    found = bulletins["I_MCA_C"].notna()
    assert found.mean() > 0.8
    b = bulletins[found]
    assert b["I_MCA_C"].between(1, 9).all()
    assert b["NOTE_MCA_NOM_C"].between(0, 1000).all()
    assert b["NOTE_MCA_ADR_C"].isin([10, 11, 20, 21, 22, 31, 32, 33, 34, 35]).all()
    expected = CLASS_TABLE[name_level(b["NOTE_MCA_NOM_C"].to_numpy(dtype=int)),
                           address_level(b["NOTE_MCA_ADR_C"].to_numpy(dtype=int))]
    assert (b["I_MCA_C"].to_numpy(dtype=int) == expected).all()
    coded = bulletins["SIRETC"].notna()
    assert bulletins.loc[coded, "SIRETC"].isin(register.index).all()
    assert (bulletins.loc[coded, "I_MCA_C"] <= 5).all()
    assert bulletins.loc[~found, ["SIRETC", "NOTE_MCA_NOM_C", "NOTE_MCA_ADR_C"]].isna().all().all()
    assert bulletins.loc[bulletins["I_MCA_C"].isin([1, 2]), "SIRETC"].notna().mean() > 0.5


def test_nearby_pools_are_the_commune_then_its_neighbours():
    """Does Declarer.nearby list the temp agencies' clients (or the schools) of a commune, then of its
    neighbours, in that order, building each list once?"""
    from datathon.world.bulletins import Declarer
    from datathon.world.geography import Departement, make_adjacency, make_addresses, make_communes, make_streets
    from datathon.world.noise import register_rates, resolve_rates
    from datathon.world.register import build_register, make_national_units

    dep = Departement(code="35", index=0, x=350_000.0, y=6_790_000.0)
    communes = make_communes(np.random.default_rng([5, 1]), dep, 25, 40_000)
    rng = np.random.default_rng([5, 2])
    streets = make_streets(rng, communes)
    adjacency = make_adjacency(communes)
    register = build_register(np.random.default_rng([5, 3]), dep, communes, streets, make_addresses(rng, streets),
                              adjacency, make_national_units(np.random.default_rng([5, 10_000])), 5_000,
                              register_rates(resolve_rates()))
    declarer = Declarer(np.random.default_rng(0), dep, register, communes, adjacency)
    for what, by_commune in (("clients", declarer.clients_by_commune), ("schools", declarer.school_by_commune)):
        for commune in communes["code_commune"]:
            near = [commune] + declarer.neighbours.get(commune, [])
            expected = [int(i) for c in near for i in by_commune.get(c, [])]
            pool = declarer.nearby(what, commune)
            assert [int(i) for i in pool] == expected
            assert declarer.nearby(what, commune) is pool
    assert any(declarer.nearby("clients", c) for c in communes["code_commune"])
    assert any(declarer.nearby("schools", c) for c in communes["code_commune"])
