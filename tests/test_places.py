"""datathon/places.py: street spellings, geocoding on the address reference, place features of
candidate pairs, and the nearest establishments of a geocoded point."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from datathon.places import (COMMUNE, NONE, NUMBER, PLACE_FEATURES, STREET, STREET_CUTOFF, Geocoder, NearbyIndex,
                             PlaceScorer, split_ban_street, street_key, street_similarity, street_type)

# -- street spellings ------------------------------------------------------------------------------


@pytest.mark.parametrize("written, code", [
    ("Avenue", "AV"), ("av", "AV"), ("AVE", "AV"), ("ave.", "AV"), ("AV", "AV"),
    ("Boulevard", "BD"), ("bd", "BD"), ("BVD", "BD"), ("r", "RUE"), ("Rue", "RUE"), ("Place", "PL"),
    ("zone d'activités", "ZA"), ("Lieu-dit", "LD"), ("Rond-Point", "RPT"),
])
def test_street_type_reads_the_usual_spellings(written, code):
    """Are a type word in full, its Sirene code and the usual short forms all read as the Sirene code?"""
    assert street_type(written) == code


@pytest.mark.parametrize("unknown", ["XYZ", "PLACETTE", "", "   ", None, np.nan, pd.NA])
def test_an_unknown_or_missing_street_type_is_empty(unknown):
    """Is a word that is no street type, or a missing value, the empty string (never an error)?"""
    assert street_type(unknown) == ""


@pytest.mark.parametrize("name, key", [
    ("de l'Église", "EGLISE"),
    ("DE L EGLISE", "EGLISE"),
    ("Saint-Michel", "SAINT MICHEL"),
    ("ST MICHEL", "SAINT MICHEL"),
    ("Ste Anne", "SAINTE ANNE"),
    ("du Général de Gaulle", "GENERAL GAULLE"),
    ("des   Lilas", "LILAS"),
])
def test_street_key_forgets_accents_case_small_words_and_abbreviations(name, key):
    """Do accents, case, punctuation and small words not matter, and ST/STE read as SAINT/SAINTE?"""
    assert street_key(name) == key


def test_a_street_key_made_only_of_small_words_keeps_them():
    """Is 'de la' kept as 'DE LA' rather than reduced to nothing, and a missing name ''?"""
    assert street_key("de la") == "DE LA"
    assert street_key(None) == ""


def test_street_similarity_forgives_a_typo_and_a_doubled_small_word():
    """Is a one-letter typo above the matching cutoff, a doubled small word ('DESS LILAS') too, and
    two different streets far below it?"""
    assert street_similarity("VICTOR HUGO", "VICTOR HUGOT") >= STREET_CUTOFF
    assert street_similarity("DESS LILAS", "LILAS") >= STREET_CUTOFF
    assert street_similarity("DESS LILAS", "LILAS") < 100  # a little lower than an exact match
    assert street_similarity("GARE", "GARE") == 100
    assert street_similarity("LILAS", "GARE") < 50


def test_street_similarity_of_an_empty_key_is_zero_and_the_cutoff_applies():
    """Is an empty key 0, and a score under score_cutoff reported as 0 (rapidfuzz's convention)?"""
    assert street_similarity("", "GARE") == 0.0 and street_similarity("GARE", "") == 0.0
    assert street_similarity("VICTOR HUGO", "VICTOR HUGOT", score_cutoff=99) == 0.0
    assert street_similarity("GARE", "GARE", score_cutoff=99) == 100


@pytest.mark.parametrize("nom_voie, expected", [
    ("Rue de la Gare", ("RUE", "GARE")),
    ("Avenue Jean Jaurès", ("AV", "JEAN JAURES")),
    ("BD Victor Hugo", ("BD", "VICTOR HUGO")),
    ("Zone d'activité de la Touche", ("ZA", "TOUCHE")),
    ("Lieu-dit les Landes", ("LD", "LANDES")),
    ("La Touche", ("", "TOUCHE")),
    ("Le Bourg", ("", "BOURG")),
])
def test_split_ban_street_separates_the_type_from_the_name(nom_voie, expected):
    """Is a leading type word read as its code and the rest as the key, and a lieu-dit without type
    given an empty type?"""
    assert split_ban_street(nom_voie) == expected


# -- geocoding on a tiny reference -----------------------------------------------------------------
# Commune 35001 has the Rue de la Gare (numbers 1, 2, 4, 4 bis, 10) and the Avenue Victor Hugo
# (3, 5); its neighbour 35002 has the Chemin des Lilas and the lieu-dit La Touche; 35003, adjacent
# to neither, has no street at all.

ADRESSES = pd.DataFrame([
    ("1", None, "Rue de la Gare", "35001", 100.0, 0.0),
    ("2", None, "Rue de la Gare", "35001", 200.0, 0.0),
    ("4", None, "Rue de la Gare", "35001", 400.0, 0.0),
    ("4", "bis", "Rue de la Gare", "35001", 410.0, 0.0),
    ("10", None, "Rue de la Gare", "35001", 1000.0, 0.0),
    ("3", None, "Avenue Victor Hugo", "35001", 0.0, 300.0),
    ("5", None, "Avenue Victor Hugo", "35001", 0.0, 500.0),
    ("7", None, "Chemin des Lilas", "35002", 5000.0, 700.0),
    ("1", None, "La Touche", "35002", 5200.0, 100.0),
], columns=["numero", "rep", "nom_voie", "code_insee", "x", "y"]).astype(
    {"numero": "string", "rep": "string", "nom_voie": "string", "code_insee": "string"})
COMMUNES = pd.DataFrame({
    "code_commune": ["35001", "35002", "35003"], "nom_commune": ["Minsac", "Lanzan", "Pacbert"],
    "code_departement": ["35", "35", "35"], "x": [500.0, 5000.0, 9000.0], "y": [500.0, 5000.0, 9000.0],
})
ADJACENCES = pd.DataFrame({"code_commune": ["35001"], "code_commune_adjacente": ["35002"]})


def declared(*addresses) -> pd.DataFrame:
    """Bulletins from (number, repetition, type, street) tuples."""
    return pd.DataFrame(list(addresses), columns=["NUMVOI_X", "BISTER_X", "TYPEVOI_X", "NOMVOI_X"], dtype="string")


def workplace(*communes) -> pd.DataFrame:
    return pd.DataFrame({"commune": pd.array(list(communes), dtype="string")})


@pytest.fixture(scope="module")
def geocoder() -> Geocoder:
    return Geocoder(ADRESSES, COMMUNES, ADJACENCES)


def test_the_geocoder_indexes_each_street_of_each_commune(geocoder):
    """Are the four streets of the reference (two per commune) each indexed once?"""
    assert geocoder.n_streets == 4


def test_an_exact_number_is_placed_on_its_point(geocoder):
    """Is '4 rue de la Gare' placed at number 4's coordinates, '4 B' at 4 bis's, both at level number?"""
    out = geocoder.geocode(declared(("4", None, "RUE", "de la Gare"), ("4", "B", "R", "DE LA GARE")),
                           workplace=workplace("35001", "35001"))
    assert out[["x", "y"]].values.tolist() == [[400.0, 0.0], [410.0, 0.0]]
    assert out["level"].tolist() == [NUMBER, NUMBER]
    assert out["street"].tolist() == ["GARE", "GARE"] and out["commune"].tolist() == ["35001", "35001"]
    assert out["declared_street"].tolist() == ["GARE", "GARE"]


def test_an_unknown_number_is_placed_at_the_nearest_number_of_the_street(geocoder):
    """Is '6 rue de la Gare' (no number 6) placed at number 4, the closest, at level street?"""
    out = geocoder.geocode(declared(("6", None, "rue", "Gare")), workplace=workplace("35001"))
    assert out[["x", "y"]].values.tolist() == [[400.0, 0.0]]
    assert out["level"].tolist() == [STREET]


def test_a_number_with_a_repetition_the_street_lacks_is_placed_on_the_number_at_level_street(geocoder):
    """Is '2 ter' (the reference has 2 only) placed on number 2, but not claimed to be exact?"""
    out = geocoder.geocode(declared(("2", "T", None, "de la gare")), workplace=workplace("35001"))
    assert out[["x", "y"]].values.tolist() == [[200.0, 0.0]] and out["level"].tolist() == [STREET]


def test_a_misspelt_street_is_found(geocoder):
    """Is 'VICTOR HUGOT' (a typo, no number) found as the Avenue Victor Hugo, at level street?"""
    out = geocoder.geocode(declared((None, None, "AV", "VICTOR HUGOT")), workplace=workplace("35001"))
    assert out["street"].tolist() == ["VICTOR HUGO"] and out["level"].tolist() == [STREET]
    assert out["street_score"].iloc[0] >= STREET_CUTOFF
    assert out["x"].iloc[0] == 0.0 and out["y"].iloc[0] in (300.0, 500.0)


def test_a_street_of_an_adjacent_commune_is_found_there(geocoder):
    """Is '7 chemin des Lilas' declared in 35001 found in its neighbour 35002, at the numbered point?"""
    out = geocoder.geocode(declared(("7", None, "CHE", "des lilas")), workplace=workplace("35001"))
    assert out["commune"].tolist() == ["35002"] and out["street"].tolist() == ["LILAS"]
    assert out[["x", "y"]].values.tolist() == [[5000.0, 700.0]] and out["level"].tolist() == [NUMBER]


def test_a_lieu_dit_without_type_is_found(geocoder):
    """Is 'la touche', declared without a type, found as the lieu-dit La Touche?"""
    out = geocoder.geocode(declared(("1", None, None, "la touche")), workplace=workplace("35002"))
    assert out["street"].tolist() == ["TOUCHE"] and out["level"].tolist() == [NUMBER]


def test_without_a_street_found_the_commune_centroid_is_used(geocoder):
    """Is an unknown street, or no street at all, placed at the declared commune's centroid?"""
    out = geocoder.geocode(declared(("3", None, None, "de la Paix"), (None, None, None, None)),
                           workplace=workplace("35003", "35002"))
    assert out[["x", "y"]].values.tolist() == [[9000.0, 9000.0], [5000.0, 5000.0]]
    assert out["level"].tolist() == [COMMUNE, COMMUNE]
    assert out["street"].tolist() == ["", ""] and out["street_score"].tolist() == [0.0, 0.0]
    assert out["declared_street"].tolist() == ["PAIX", ""]


def test_without_a_commune_nothing_is_placed(geocoder):
    """Is a bulletin whose commune could not be read left nowhere (NaN coordinates, level none), even
    with a street that exists?"""
    out = geocoder.geocode(declared(("4", None, "RUE", "de la Gare")), workplace=workplace(None))
    assert out["level"].tolist() == [NONE]
    assert np.isnan(out["x"].iloc[0]) and np.isnan(out["y"].iloc[0])


def test_geocode_keeps_the_bulletins_index(geocoder):
    """Is the result aligned with the bulletins (same index, same length)?"""
    b = declared(("4", None, "RUE", "de la Gare"), ("1", None, None, "la touche")).set_axis([10, 20])
    out = geocoder.geocode(b, workplace=workplace("35001", "35002").set_axis([10, 20]))
    assert out.index.tolist() == [10, 20]
    assert set(out.columns) >= {"x", "y", "level", "commune", "street", "street_score", "declared_street"}


def test_the_declared_commune_is_preferred_to_a_neighbour():
    """When both the declared commune and its neighbour have a street of that name, is the declared
    commune's chosen?"""
    adresses = pd.concat([ADRESSES, ADRESSES.iloc[[0]].assign(code_insee="35002", x=7777.0)], ignore_index=True)
    out = Geocoder(adresses, COMMUNES, ADJACENCES).geocode(declared(("1", None, "RUE", "Gare")),
                                                           workplace=workplace("35002"))
    assert out["commune"].tolist() == ["35002"] and out["x"].tolist() == [7777.0]


def test_without_adjacency_a_neighbour_street_is_not_found():
    """Without the adjacency table, does 'des lilas' declared in 35001 fall back to the centroid?"""
    out = Geocoder(ADRESSES, COMMUNES).geocode(declared(("7", None, "CHE", "des lilas")), workplace=workplace("35001"))
    assert out["level"].tolist() == [COMMUNE] and out["commune"].tolist() == ["35001"]


def test_geocode_reads_the_workplace_itself_when_not_given(geocoder):
    """Without workplace=, is CLT_X read against the communes (as the docstring promises), giving the
    same answer as with the workplace given?"""
    b = declared(("4", None, "RUE", "de la Gare")).assign(CLT_X="Minsac", DLT_X="35", ILT_X="2",
                                                          DEPCOM_CODE="35002")
    expected = geocoder.geocode(b, workplace=workplace("35001"))
    pd.testing.assert_frame_equal(geocoder.geocode(b), expected)


def test_the_street_score_stays_within_0_and_100(geocoder):
    """Is street_score, documented as 0-100, never above 100 (an exact name with a matching type)?"""
    out = geocoder.geocode(declared(("4", None, "RUE", "de la Gare")), workplace=workplace("35001"))
    assert 0 <= out["street_score"].iloc[0] <= 100


# -- place features of candidate pairs -------------------------------------------------------------

REGISTER = pd.DataFrame({
    "libelleVoieEtablissement": ["DE LA GARE", "DE LA GARE", "VICTOR HUGO", None, "DES LILAS"],
    "typeVoieEtablissement": ["RUE", "RUE", "AV", None, "CHE"],
    "numeroVoieEtablissement": ["4", "10", None, None, "7"],
    "coordonneeLambertAbscisseEtablissement": ["400", "1000", "0", None, "5000"],
    "coordonneeLambertOrdonneeEtablissement": ["0", "0", "500", None, "700"],
    "etatAdministratifEtablissement": ["A", "A", "A", "A", "F"],
}, dtype="string")


@pytest.fixture(scope="module")
def scored(geocoder):
    """Five bulletins (4 rue de la Gare; Victor Hugot without number; 7 des Lilas; a commune only;
    nowhere) paired with register rows."""
    bulletins = declared(("4", None, "RUE", "de la Gare"), (None, None, "AV", "VICTOR HUGOT"),
                         ("7", None, "CHE", "des lilas"), ("3", None, None, None), ("4", None, None, "GARE"))
    located = geocoder.geocode(bulletins, workplace=workplace("35001", "35001", "35001", "35003", None))
    pairs = pd.DataFrame({"bulletin": [0, 0, 0, 0, 1, 2, 3, 4], "row": [0, 1, 2, 3, 2, 4, 0, 0]})
    return PlaceScorer(REGISTER).features(pairs, located, bulletins)


def test_place_features_add_every_place_column(scored):
    """Does features() keep bulletin and row, and add exactly PLACE_FEATURES?"""
    assert list(scored.columns) == ["bulletin", "row", *PLACE_FEATURES]
    assert scored["row"].tolist() == [0, 1, 2, 3, 2, 4, 0, 0]


def test_log_distance_is_log10_of_one_plus_metres(scored):
    """Is the distance 0 at the same point, log10(601) 600 m away, and NaN when either side has no
    coordinates?"""
    d = scored["log_distance"].to_numpy()
    assert d[0] == 0.0 and d[1] == pytest.approx(math.log10(601))
    assert d[4] == pytest.approx(0.0) and d[5] == pytest.approx(0.0)
    assert np.isnan(d[3])  # the establishment has no coordinates
    assert np.isnan(d[7])  # the declaration could not be placed
    assert d[6] == pytest.approx(math.log10(1 + math.hypot(9000 - 400, 9000)))  # commune centroid


def test_same_street_compares_the_geocoded_street_with_the_establishment(scored):
    """Is same_street 1 for the establishments of the geocoded street (typo included), 0 otherwise?"""
    assert scored["same_street"].tolist() == [1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]


def test_same_number_is_missing_when_either_number_is(scored):
    """Is same_number 1 for the same number, 0 for another, NaN when the bulletin or the establishment
    has none?"""
    same = scored["same_number"].tolist()
    assert same[0] == 1.0 and same[1] == 0.0 and same[5] == 1.0
    assert all(np.isnan(same[i]) for i in (2, 3, 4))
    assert same[6] == 0.0  # 3 against 4


def test_street_similarity_is_a_share_and_missing_without_a_declared_street(scored):
    """Is street_similarity in 0-1 (1 for the same street key), and NaN for a bulletin without street?"""
    s = scored["street_similarity"].to_numpy()
    assert s[0] == 1.0 and 0.8 <= s[4] < 1.0 and s[3] == 0.0
    assert np.isnan(s[6])
    finite = s[np.isfinite(s)]
    assert ((finite >= 0) & (finite <= 1)).all()


def test_geocode_level_is_coded_from_zero_to_three(scored):
    """Is geocode_level 0 for a numbered point, 1 for a street, 2 for a commune, 3 for nowhere?"""
    assert scored["geocode_level"].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 3.0]


def test_place_features_of_no_pair_are_an_empty_frame(geocoder):
    """Does an empty candidate table give an empty frame with the same columns?"""
    bulletins = declared(("4", None, "RUE", "de la Gare"))
    located = geocoder.geocode(bulletins, workplace=workplace("35001"))
    pairs = pd.DataFrame({"bulletin": np.empty(0, np.int64), "row": np.empty(0, np.int64)})
    out = PlaceScorer(REGISTER).features(pairs, located, bulletins)
    assert len(out) == 0 and list(out.columns) == ["bulletin", "row", *PLACE_FEATURES]


# -- the nearest establishments ----------------------------------------------------------------------

NEAR_REGISTER = pd.DataFrame({
    "coordonneeLambertAbscisseEtablissement": ["0", "10", "20", "50", None, "5"],
    "coordonneeLambertOrdonneeEtablissement": ["0", "0", "0", "0", "0", "0"],
    "etatAdministratifEtablissement": ["A", "A", "A", "A", "A", "F"],
}, dtype="string")
LOCATED = pd.DataFrame({"x": [1.0, 1000.0, 0.0, np.nan, 48.0], "y": [0.0, 0.0, 0.0, np.nan, 0.0],
                        "level": [NUMBER, STREET, COMMUNE, NONE, STREET]})


def test_nearby_returns_the_k_nearest_within_the_radius_in_order():
    """Are the k nearest establishments returned, ranked 1 = nearest, with their distances in metres?"""
    near = NearbyIndex(NEAR_REGISTER).query(LOCATED, k=2, radius=30)
    first = near[near["bulletin"] == 0]
    assert first["row"].tolist() == [0, 1] and first["rank"].tolist() == [1, 2]
    assert first["distance"].tolist() == [1.0, 9.0]
    last = near[near["bulletin"] == 4]
    assert last["row"].tolist() == [3, 2] and last["distance"].tolist() == pytest.approx([2.0, 28.0])


def test_nearby_leaves_out_closed_establishments_and_those_without_coordinates():
    """Is the closed establishment 4 m away left out (and kept with keep_closed), and the one without
    coordinates never returned?"""
    near = NearbyIndex(NEAR_REGISTER).query(LOCATED, k=10, radius=30)
    assert 5 not in set(near["row"]) and 4 not in set(near["row"])
    kept = NearbyIndex(NEAR_REGISTER, keep_closed=True).query(LOCATED, k=2, radius=30)
    assert kept.loc[kept["bulletin"] == 0, "row"].tolist() == [0, 5]


def test_nearby_returns_nothing_beyond_the_radius():
    """Is nothing found for a point 950 m from everyone, and only establishments within the radius
    otherwise, even when k asks for more?"""
    near = NearbyIndex(NEAR_REGISTER).query(LOCATED, k=10, radius=30)
    assert 1 not in set(near["bulletin"])
    assert (near["distance"] <= 30).all()
    assert near.loc[near["bulletin"] == 0, "row"].tolist() == [0, 1, 2]  # 50 m away: left out


def test_nearby_only_queries_the_levels_asked():
    """Are declarations placed at the commune centroid or nowhere left out by default, and the centroid
    queried when levels includes it?"""
    index = NearbyIndex(NEAR_REGISTER)
    assert set(index.query(LOCATED, k=2, radius=30)["bulletin"]) == {0, 4}
    wider = index.query(LOCATED, k=2, radius=30, levels=(NUMBER, STREET, COMMUNE))
    assert set(wider["bulletin"]) == {0, 2, 4}


def test_nearby_on_an_empty_register_or_no_placed_declaration_is_empty():
    """Do an index without any establishment, and declarations none of which is placed, give empty
    frames with the documented columns?"""
    empty = NearbyIndex(NEAR_REGISTER.iloc[:0]).query(LOCATED)
    assert len(empty) == 0 and list(empty.columns) == ["bulletin", "row", "distance", "rank"]
    none = NearbyIndex(NEAR_REGISTER).query(LOCATED.iloc[[2, 3]], k=3)
    assert len(none) == 0 and list(none.columns) == ["bulletin", "row", "distance", "rank"]
