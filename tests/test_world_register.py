"""datathon/world/register.py: the synthetic Sirene register (etablissements.parquet)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datathon.luhn import siren_valid, siret_valid
from datathon.naf import nomenclature
from datathon.schema import ETABLISSEMENTS, TRANCHES
from datathon.text import simplify, upper_ascii
from datathon.world.geography import Departement, make_addresses, make_adjacency, make_communes, make_streets
from datathon.world.noise import register_rates, resolve_rates
from datathon.world.register import (_band, _initials, build_register, make_national_units, national_siren,
                                     size_profile)

ARROW_TYPES = {"string": pa.string(), "float64": pa.float64(), "int64": pa.int64(), "Int8": pa.int8(),
               "Int16": pa.int16()}
LEGAL_COLUMNS = ["denominationUniteLegale", "sigleUniteLegale", "nomUniteLegale", "prenom1UniteLegale",
                 "categorieJuridiqueUniteLegale", "activitePrincipaleUniteLegale"]
WORLD_SEED = 11  # tests/conftest.py's world_dir


@pytest.fixture(scope="module")
def reg(world_frames) -> pd.DataFrame:
    return world_frames["etablissements"]


@pytest.fixture(scope="module")
def open_reg(reg) -> pd.DataFrame:
    return reg[reg["etatAdministratifEtablissement"] == "A"]


def legal_name(frame: pd.DataFrame) -> pd.Series:
    """The legal unit's name: its denomination, or a sole proprietor's surname and first name."""
    person = frame["nomUniteLegale"] + " " + frame["prenom1UniteLegale"]
    return frame["denominationUniteLegale"].fillna(person)


# -- schema and identifiers ------------------------------------------------------------------------

def test_exact_columns_and_types(world_dir):
    """Are the columns exactly schema.ETABLISSEMENTS's, in order, with their types?"""
    schema = pq.read_schema(world_dir / "etablissements.parquet")
    assert schema.names == list(ETABLISSEMENTS)
    for name, dtype in ETABLISSEMENTS.items():
        assert schema.field(name).type == ARROW_TYPES[dtype], name


def test_loaded_dtypes(reg):
    """Does pandas read text columns as nullable strings and coordinates as float64?"""
    for name, dtype in ETABLISSEMENTS.items():
        if dtype == "string":
            assert isinstance(reg[name].dtype, pd.StringDtype), name
        else:
            assert reg[name].dtype == np.dtype(dtype), name


def test_siren_and_siret_keys_are_valid(reg):
    """Does every SIREN and SIRET carry a valid Luhn key, with 9 and 14 digits?"""
    assert reg["siren"].str.fullmatch(r"\d{9}").all()
    assert reg["siret"].str.fullmatch(r"\d{14}").all()
    assert reg["siren"].map(siren_valid).all()
    assert reg["siret"].map(siret_valid).all()


def test_siret_is_siren_then_nic(reg):
    """Is every SIRET its SIREN followed by its 5-digit NIC?"""
    assert reg["nic"].str.fullmatch(r"\d{5}").all()
    assert (reg["siret"] == reg["siren"] + reg["nic"]).all()


def test_siret_is_unique(reg):
    """Is every establishment's SIRET unique?"""
    assert reg["siret"].is_unique


def test_no_missing_key_fields(reg):
    """Have all establishments a state, a seat flag, a size band, an activity and a commune?"""
    for col in ("etatAdministratifEtablissement", "etablissementSiege", "trancheEffectifsEtablissement",
                "activitePrincipaleEtablissement", "codeCommuneEtablissement", "codePostalEtablissement",
                "libelleCommuneEtablissement", "libelleVoieEtablissement", "categorieJuridiqueUniteLegale",
                "coordonneeLambertAbscisseEtablissement", "coordonneeLambertOrdonneeEtablissement"):
        assert reg[col].notna().all(), col
    assert set(reg["etablissementSiege"]) == {"true", "false"}
    assert set(reg["etatAdministratifEtablissement"]) == {"A", "F"}


# -- activity and size --------------------------------------------------------------------------------

def test_naf_codes_are_dotted_sous_classes(reg):
    """Are both activity codes sous-classes of NAF rév. 2, in the stock's dotted form (56.10A)?"""
    codes = set(nomenclature()["code"])
    for col in ("activitePrincipaleEtablissement", "activitePrincipaleUniteLegale"):
        assert reg[col].str.fullmatch(r"\d{2}\.\d{2}[A-Z]").all(), col
        assert reg[col].isin(codes).all(), col
    assert reg["activitePrincipaleEtablissement"].str[:2].nunique() > 60  # the whole economy, not a few trades


def test_size_bands_are_official_with_a_realistic_mix(reg, open_reg):
    """Are size bands Sirene's, most establishments small, some large?"""
    assert reg["trancheEffectifsEtablissement"].isin(list(TRANCHES)).all()
    share = open_reg["trancheEffectifsEtablissement"].value_counts(normalize=True)
    small = share.reindex(["NN", "00", "01", "02", "03"]).fillna(0).sum()  # fewer than 10 employees
    large = share.reindex(["21", "22", "31", "32", "41", "42", "51", "52", "53"]).fillna(0).sum()  # 50 and more
    assert 0.65 < small < 0.95
    assert 0.005 < large < 0.08
    assert (share.reindex(["12", "21", "22"]) > 0).all()
    assert open_reg["trancheEffectifsEtablissement"].nunique() >= 10


def test_closed_establishments_are_distractors(reg, open_reg):
    """Are some establishments closed (F), and do they bear the name of an open one, as distractors?"""
    closed = reg[reg["etatAdministratifEtablissement"] == "F"]
    assert 0.08 < len(closed) / len(reg) < 0.25
    open_names = set(legal_name(open_reg).dropna())
    assert legal_name(closed).isin(open_names).mean() > 0.95
    # Some moved (same SIREN, another NIC), some ceased (another SIREN).
    moved = closed["siren"].isin(set(open_reg["siren"]))
    assert 0.2 < moved.mean() < 0.8
    assert (closed["trancheEffectifsEtablissement"] == "NN").all()


# -- legal units ------------------------------------------------------------------------------------

def test_sole_proprietors_are_named_by_person(reg):
    """Do sole proprietors (1000) have a surname and first name and no denomination, and only they?"""
    sole = reg["categorieJuridiqueUniteLegale"] == "1000"
    assert sole.mean() > 0.1
    people = reg[sole]
    assert people["nomUniteLegale"].notna().all()
    assert people["prenom1UniteLegale"].notna().all()
    assert people["denominationUniteLegale"].isna().all()
    others = reg[~sole]
    assert others["denominationUniteLegale"].notna().all()
    assert others["nomUniteLegale"].isna().all()


def test_legal_unit_columns_agree_within_a_siren(reg):
    """Do all establishments of one SIREN carry the same legal-unit columns (they are joined on siren)?"""
    per_siren = reg[["siren", *LEGAL_COLUMNS]].fillna("<null>").drop_duplicates()
    split = per_siren[per_siren["siren"].duplicated(keep=False)].sort_values("siren")
    assert split.empty, f"{split['siren'].nunique()} SIRENs have differing legal-unit columns:\n{split.head(6)}"


def test_one_seat_per_local_legal_unit(reg):
    """Does every legal unit of the département have exactly one seat (etablissementSiege), closed or open?"""
    national = reg["siren"].str.startswith("97")  # national units: their seat is outside the département
    seats = reg[reg["etablissementSiege"] == "true"].groupby("siren").size()
    assert seats.max() == 1
    without = set(reg.loc[~national, "siren"]) - set(seats.index)
    assert not without, f"{len(without)} local legal units have no seat, e.g. {sorted(without)[:3]}"


# -- kinds of employers -----------------------------------------------------------------------------

def test_chains_have_signs_across_communes(reg):
    """Do national chains run several establishments under one SIREN, with their sign as enseigne?"""
    national = make_national_units(np.random.default_rng([WORLD_SEED, 10_000]))
    chains = [b for b in national.brands if not b.franchise]
    assert chains
    rows = reg[reg["siren"].isin([b.siren for b in chains])]
    per_chain = rows.groupby("siren").agg(n=("siret", "size"), communes=("codeCommuneEtablissement", "nunique"),
                                          signs=("enseigne1Etablissement", "count"))
    assert (per_chain["n"] >= 2).any() and (per_chain["communes"] >= 2).any()
    assert per_chain["signs"].sum() > 0
    assert reg["enseigne1Etablissement"].notna().mean() > 0.03


def test_franchisees_trade_under_a_national_sign(reg, open_reg):
    """Do franchisees, local legal units of their own, trade under a national brand's sign?"""
    national = make_national_units(np.random.default_rng([WORLD_SEED, 10_000]))
    franchises = [b for b in national.brands if b.franchise]
    assert franchises
    found = 0
    for brand in franchises:
        signed = open_reg[open_reg["enseigne1Etablissement"].str.startswith(brand.name, na=False)]
        local = signed[signed["siren"] != brand.siren]
        found += local["siren"].nunique()
        assert (local["activitePrincipaleEtablissement"] == brand.naf).all()
    assert found >= 1  # most signs are missing from the register (sign_not_in_register)


def test_banks_have_agencies(open_reg):
    """Is there a bank whose one SIREN has agencies in several communes?"""
    banks = open_reg[open_reg["activitePrincipaleEtablissement"] == "64.19Z"]
    per_siren = banks.groupby("siren")["codeCommuneEtablissement"].nunique()
    assert (per_siren >= 3).sum() >= 2
    big = banks[banks["siren"] == per_siren.idxmax()]
    assert big["sigleUniteLegale"].notna().all()


def test_every_commune_has_its_town_hall(open_reg, world_frames):
    """Has every commune a 'COMMUNE DE …' (or D'…) legal unit (7210, 84.11Z) whose MAIRIE is its seat there?"""
    communes = world_frames["communes"]
    mairies = open_reg[(open_reg["categorieJuridiqueUniteLegale"] == "7210")
                       & (open_reg["denominationUsuelleEtablissement"] == "MAIRIE")]
    assert mairies["codeCommuneEtablissement"].is_unique
    assert set(mairies["codeCommuneEtablissement"]) == set(communes["code_commune"])
    assert (mairies["etablissementSiege"] == "true").all()
    assert (mairies["activitePrincipaleEtablissement"] == "84.11Z").all()
    town = communes.set_index("code_commune")["nom_commune"].map(simplify)
    for denomination, code in zip(mairies["denominationUniteLegale"], mairies["codeCommuneEtablissement"]):
        assert simplify(denomination) in of_commune(town[code]), denomination


def of_commune(town: str) -> set[str]:
    """The ways to write 'COMMUNE DE <town>': DE, D' before a vowel, DU for LE, DES for LES."""
    forms = {f"COMMUNE DE {town}", f"COMMUNE D {town}"}
    if town.startswith("LE "):
        forms.add(f"COMMUNE DU {town[3:]}")
    if town.startswith("LES "):
        forms.add(f"COMMUNE DES {town[4:]}")
    return forms


def test_a_commune_is_one_legal_unit(reg):
    """Is each 'COMMUNE DE …' one SIREN (a commune never ceases to give way to a namesake)?"""
    communes = reg[reg["categorieJuridiqueUniteLegale"] == "7210"]
    sirens = communes.groupby("denominationUniteLegale")["siren"].nunique()
    assert (sirens == 1).all(), f"communes with several SIRENs: {list(sirens[sirens > 1].index[:5])}"


def test_larger_communes_have_municipal_services(open_reg, world_frames):
    """Do communes of 2,500 inhabitants or more run services (schools' canteen, technical services…)?"""
    communes = world_frames["communes"]
    larger = communes.loc[communes["population"] >= 2500, "code_commune"]
    assert len(larger) >= 3
    town = open_reg[open_reg["categorieJuridiqueUniteLegale"] == "7210"]
    per_commune = town.groupby("codeCommuneEtablissement")["siret"].size()
    assert (per_commune.reindex(larger).fillna(0) >= 3).all()
    usual = set(town["denominationUsuelleEtablissement"].dropna())
    assert {"RESTAURANT SCOLAIRE", "SERVICES TECHNIQUES"} <= usual
    assert any(u.startswith("ECOLE") for u in usual)
    smallest = communes.loc[communes["population"].idxmin(), "code_commune"]
    assert per_commune[smallest] == 1


def test_colleges_and_lycees(open_reg):
    """Are there collèges and lycées, public legal units of their own (7331, 85.31Z/85.32Z)?"""
    eple = open_reg[open_reg["categorieJuridiqueUniteLegale"] == "7331"]
    assert eple["denominationUniteLegale"].str.startswith("COLLEGE").sum() >= 3
    assert eple["denominationUniteLegale"].str.startswith("LYCEE").sum() >= 1
    assert eple["activitePrincipaleEtablissement"].isin(["85.31Z", "85.32Z"]).all()
    assert eple["siren"].is_unique


def test_a_hospital_with_several_sites(open_reg):
    """Is there a public hospital (7364, 86.10Z), the chef-lieu's with several sites under one SIREN?"""
    hospitals = open_reg[(open_reg["activitePrincipaleEtablissement"] == "86.10Z")
                         & (open_reg["categorieJuridiqueUniteLegale"] == "7364")]
    assert len(hospitals) >= 1
    assert hospitals.groupby("siren").size().max() >= 2
    assert hospitals["denominationUniteLegale"].str.contains("HOSPITALIER").all()


def test_temp_agencies(open_reg):
    """Are there temporary-work agencies (78.20Z), networks with several agencies under one SIREN?"""
    agencies = open_reg[open_reg["activitePrincipaleEtablissement"] == "78.20Z"]
    assert agencies.groupby("siren").size().max() >= 2
    assert agencies["trancheEffectifsEtablissement"].isin(["21", "22", "31", "32", "41"]).any()


def test_homonyms_in_adjacent_communes(open_reg, world_frames):
    """Do identical names appear in adjacent communes under different SIRENs, often of the same trade?"""
    adjacency = world_frames["communes_adjacentes"]
    x = pd.DataFrame({"name": legal_name(open_reg), "siren": open_reg["siren"],
                      "commune": open_reg["codeCommuneEtablissement"],
                      "division": open_reg["activitePrincipaleEtablissement"].str[:2]}).dropna()
    category = open_reg["categorieJuridiqueUniteLegale"]
    x = x[category.str.startswith("5") | (category == "1000")]  # businesses, not public bodies
    pairs = x.merge(x, on="name").merge(adjacency, left_on=["commune_x", "commune_y"],
                                        right_on=["code_commune", "code_commune_adjacente"])
    pairs = pairs[pairs["siren_x"] != pairs["siren_y"]]
    assert pairs["name"].nunique() >= 50
    assert (pairs["division_x"] == pairs["division_y"]).mean() > 0.5


def test_addresses_are_those_of_the_commune(reg, world_frames):
    """Do postal code and commune name match the commune, and numbered addresses sit on a BAN point?"""
    communes = world_frames["communes"].set_index("code_commune")
    assert reg["codeCommuneEtablissement"].isin(communes.index).all()
    assert (reg["codePostalEtablissement"].to_numpy()
            == communes.loc[reg["codeCommuneEtablissement"], "code_postal"].to_numpy()).all()
    assert (reg["libelleCommuneEtablissement"].to_numpy()
            == communes.loc[reg["codeCommuneEtablissement"], "nom_commune"].map(upper_ascii).to_numpy()).all()
    points = world_frames["adresses"]
    keys = set(zip(points["code_insee"], points["x"], points["y"]))
    numbered = reg[reg["numeroVoieEtablissement"].notna()]
    on_point = [k in keys for k in zip(numbered["codeCommuneEtablissement"],
                                       numbered["coordonneeLambertAbscisseEtablissement"],
                                       numbered["coordonneeLambertOrdonneeEtablissement"])]
    assert np.mean(on_point) == 1.0


# -- builder functions --------------------------------------------------------------------------------

@pytest.mark.parametrize("staff, band", [(0, "00"), (1, "01"), (2, "01"), (3, "02"), (9, "03"), (10, "11"),
                                         (49, "12"), (50, "21"), (199, "22"), (250, "32"), (1999, "42"),
                                         (10_000, "53"), (50_000, "53")])
def test_band_of_a_headcount(staff, band):
    """Does a headcount fall into Sirene's size band?"""
    assert _band(staff) == band


def test_initials_and_profiles():
    """Are acronyms the initials of significant words, and trades given their size profile?"""
    assert _initials("CAISSE REGIONALE DE CREDIT ARMORICAIN") == "CRCA"
    assert _initials("BANQUE DE L OUEST ATLANTIQUE") == "BOA"
    assert size_profile("25") == "industry" and size_profile("47") == "small" and size_profile("96") == "micro"


def test_national_units_are_valid_distinct_and_seeded():
    """Have national units valid distinct SIRENs in their own range, the same for the same seed?"""
    a = make_national_units(np.random.default_rng([11, 10_000]))
    b = make_national_units(np.random.default_rng([11, 10_000]))
    c = make_national_units(np.random.default_rng([12, 10_000]))
    sirens = [u.siren for u in a.brands + a.banks + a.temp_agencies] + [a.ministry_siren]
    assert len(set(sirens)) == len(sirens)
    assert all(siren_valid(s) and s.startswith("97") for s in sirens)
    assert [u.name for u in a.brands] == [u.name for u in b.brands]
    assert [u.name for u in a.brands] != [u.name for u in c.brands]
    assert national_siren(0) != national_siren(1)
    assert len(a.banks) >= 2 and len(a.temp_agencies) >= 1 and any(u.franchise for u in a.brands)


def small_register(seed: int, **overrides) -> pd.DataFrame:
    dep = Departement(code="35", index=0, x=350_000.0, y=6_790_000.0)
    communes = make_communes(np.random.default_rng([seed, 1]), dep, 25, 20_000)
    rng = np.random.default_rng([seed, 2])
    streets = make_streets(rng, communes)
    addresses = make_addresses(rng, streets)
    national = make_national_units(np.random.default_rng([seed, 10_000]))
    return build_register(np.random.default_rng([seed, 3]), dep, communes, streets, addresses,
                          make_adjacency(communes), national, 2_500, register_rates(resolve_rates(overrides)))


def test_build_register_size_and_determinism():
    """Does build_register give about the requested number of rows, the same for the same seed?"""
    a, b = small_register(11), small_register(11)
    assert 0.9 * 2_500 < len(a) < 1.1 * 2_500
    pd.testing.assert_frame_equal(a, b)
    assert not small_register(12)["siret"].equals(a["siret"])


def test_closed_distractor_rate_drives_closed_establishments():
    """Does the closed_distractor rate set the share of closed establishments (none at 0)?"""
    none = small_register(11, closed_distractor=0.0)
    many = small_register(11, closed_distractor=0.5)
    assert (none["etatAdministratifEtablissement"] == "A").all()
    assert 0.25 < (many["etatAdministratifEtablissement"] == "F").mean() < 0.42


def test_homonym_rate_drives_homonyms():
    """Does the homonym_nearby rate drive how many businesses share a name with another SIREN?"""
    def shared(frame):
        names = legal_name(frame[frame["_kind"] == "independent"])
        return names.duplicated(keep=False).mean()
    assert shared(small_register(11, homonym_nearby=0.6)) > shared(small_register(11, homonym_nearby=0.0)) + 0.1
