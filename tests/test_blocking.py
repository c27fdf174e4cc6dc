"""datathon/blocking.py: reading the declared workplace, and the geographic block of each bulletin."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from datathon.blocking import (DECLARED, DEPARTEMENT, FUZZY, HOME, UNKNOWN, Blocks, CommuneResolver,
                               block_bulletins, candidate_rows, departement_of, neighbourhoods,
                               resolve_workplace)

COMMUNES = pd.DataFrame({
    "code_commune": ["35001", "35002", "35003", "35004", "35005", "22001"],
    "nom_commune": ["Saint-Aubin-du-Cormier", "Montreuil-le-Gast", "Bécherel", "Rennes", "Rennes-Est", "Dinan"],
    "code_departement": ["35", "35", "35", "35", "35", "22"],
})
ADJACENCES = pd.DataFrame({  # one direction only: neighbourhoods() must add the other
    "code_commune": ["35001", "35002"],
    "code_commune_adjacente": ["35002", "35003"],
})
REGISTER = pd.DataFrame({
    "siret": [f"S{i}" for i in range(7)],
    "codeCommuneEtablissement": ["35001", "35002", "35003", "35004", "35001", "22001", "35002"],
    "etatAdministratifEtablissement": ["A", "A", "A", "A", "F", "A", "A"],
})


def bulletins(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"CLT_X": [None] * n, "DLT_X": [None] * n, "ILT_X": ["2"] * n, "DEPCOM_CODE": ["35004"] * n}
    base.update(columns)
    return pd.DataFrame(base).astype("string")


@pytest.mark.parametrize("written", [
    "Saint-Aubin-du-Cormier", "ST AUBIN DU CORMIER", "st-aubin-du-cormier", "Saint Aubin du Cormier",
    "  SAINT-AUBIN-DU-CORMIER ",
])
def test_spelling_conventions_do_not_matter(written):
    """Are ST/SAINT, hyphens, case and spaces all read as the same commune?"""
    assert CommuneResolver(COMMUNES).resolve(written, "35") == ("35001", DECLARED)


def test_accents_do_not_matter():
    """Is 'BECHEREL' read as Bécherel?"""
    assert CommuneResolver(COMMUNES).resolve("BECHEREL") == ("35003", DECLARED)


def test_a_misspelt_commune_is_matched_to_the_clearly_closest_one():
    """Is a typo ('MONTREUIL LE GAZT') resolved to the commune it is closest to, and said to be fuzzy?"""
    assert CommuneResolver(COMMUNES).resolve("MONTREUIL LE GAZT", "35") == ("35002", FUZZY)


def test_a_misspelling_between_two_close_names_is_not_guessed():
    """When two communes are about equally close ('RENNES E' between Rennes and Rennes-Est), is
    nothing guessed?"""
    resolver = CommuneResolver(COMMUNES, fuzzy_cutoff=60)
    assert resolver.closest("RENNES E", "35") is None


def test_fuzzy_matching_can_be_turned_off():
    """With fuzzy=False, does a misspelt name stay unresolved?"""
    assert CommuneResolver(COMMUNES).resolve("MONTREUIL LE GAZT", "35", fuzzy=False) == (None, None)


def test_the_declared_departement_restricts_the_search():
    """Is 'Dinan' declared in département 35 (where there is none) left unresolved, but found in 22?"""
    resolver = CommuneResolver(COMMUNES)
    assert resolver.resolve("DINAN", "35", fuzzy=False) == (None, None)
    assert resolver.resolve("DINAN", "22") == ("22001", DECLARED)


def test_without_a_departement_a_unique_name_is_found_anywhere():
    """Without DLT_X, is a commune name that exists in one département only found there?"""
    assert CommuneResolver(COMMUNES).resolve("Dinan", None, home_departement="35") == ("22001", DECLARED)


def test_departement_of_overseas_communes_has_three_digits():
    """Is the département of 97411 '974', and of 35238 '35'?"""
    assert departement_of("97411") == "974" and departement_of("35238") == "35"


def test_resolve_workplace_reads_each_kind_of_declaration():
    """Are the declared commune, the home commune (empty CLT_X, ILT_X = 1), the département alone and
    nothing at all each recognised, with their source?"""
    b = bulletins(
        CLT_X=["ST AUBIN DU CORMIER", None, None, "NOWHERE AT ALL", "MONTREUIL LE GAZT", None],
        DLT_X=["35", None, "35", "35", None, None],
        ILT_X=["2", "1", "2", "2", "2", "2"],
        DEPCOM_CODE=["35004", "35003", "35004", "35004", "35004", None],
    )
    place = resolve_workplace(b, COMMUNES)
    assert place["commune"].tolist()[:2] == ["35001", "35003"]
    assert place["source"].tolist() == [DECLARED, HOME, DEPARTEMENT, DEPARTEMENT, FUZZY, UNKNOWN]
    assert place["departement"].tolist()[:5] == ["35"] * 5
    assert pd.isna(place["commune"].iloc[2]) and pd.isna(place["departement"].iloc[5])
    assert place.index.equals(b.index)


def test_a_written_commune_wins_over_the_home_indicator():
    """With ILT_X = 1 and a commune written, is the written commune used?"""
    b = bulletins(CLT_X=["Bécherel"], ILT_X=["1"], DEPCOM_CODE=["35004"])
    assert resolve_workplace(b, COMMUNES)["commune"].tolist() == ["35003"]


def test_neighbourhoods_are_symmetric_and_start_with_the_commune():
    """Does a pair given in one direction make each commune the other's neighbour, itself listed first?"""
    near = neighbourhoods(ADJACENCES)
    assert near["35001"] == ["35001", "35002"]
    assert near["35002"] == ["35002", "35001", "35003"]
    assert near["35003"] == ["35003", "35002"]


def test_the_block_is_the_commune_and_its_neighbours_without_closed_establishments():
    """Is a bulletin of 35001 compared with the open establishments of 35001 and 35002 only?"""
    blocks = block_bulletins(bulletins(CLT_X=["Saint-Aubin-du-Cormier"]), REGISTER, COMMUNES, ADJACENCES)
    assert blocks.candidates(0).tolist() == [0, 1, 6]  # row 4 (35001) is closed


def test_closed_establishments_can_be_kept():
    """With keep_closed=True, is the closed establishment of 35001 in the block?"""
    blocks = block_bulletins(bulletins(CLT_X=["Saint-Aubin-du-Cormier"]), REGISTER, COMMUNES, ADJACENCES,
                             keep_closed=True)
    assert blocks.candidates(0).tolist() == [0, 1, 4, 6]


def test_without_adjacency_the_block_is_the_commune_alone():
    """With adjacent=False, is only the declared commune searched?"""
    blocks = block_bulletins(bulletins(CLT_X=["Montreuil-le-Gast"]), REGISTER, COMMUNES, ADJACENCES,
                             adjacent=False)
    assert blocks.candidates(0).tolist() == [1, 6]


def test_without_a_commune_the_block_is_the_departement():
    """When no commune can be read, is every open establishment of the département a candidate, and
    of the whole register when not even the département is known?"""
    b = bulletins(CLT_X=[None, None], DLT_X=["35", None], DEPCOM_CODE=["35004", None])
    blocks = block_bulletins(b, REGISTER, COMMUNES, ADJACENCES)
    assert blocks.candidates(0).tolist() == [0, 1, 2, 3, 6]
    assert blocks.candidates(1).tolist() == [0, 1, 2, 3, 5, 6]
    assert list(blocks.key) == ["D:35", "-"]


def test_bulletins_of_the_same_commune_share_their_block():
    """Do two bulletins of the same commune get the same key, and groups() gather them?"""
    b = bulletins(CLT_X=["Bécherel", "Rennes", "BECHEREL"])
    blocks = block_bulletins(b, REGISTER, COMMUNES, ADJACENCES)
    assert blocks.key[0] == blocks.key[2] != blocks.key[1]
    groups = blocks.groups()
    assert sorted(map(list, groups.values())) == [[0, 2], [1]]
    assert blocks.sizes().tolist() == [3, 1, 3]


def test_a_commune_with_no_establishment_gives_an_empty_block():
    """Is a commune without establishments nor neighbours an empty block rather than an error?"""
    communes = pd.concat([COMMUNES, pd.DataFrame({"code_commune": ["35009"], "nom_commune": ["Vide"],
                                                  "code_departement": ["35"]})], ignore_index=True)
    blocks = block_bulletins(bulletins(CLT_X=["Vide"]), REGISTER, communes, ADJACENCES)
    assert blocks.candidates(0).tolist() == []


def test_contains_measures_whether_the_truth_is_in_the_block():
    """Does contains() say, per bulletin, whether a given register row is in its block (False for -1)?"""
    b = bulletins(CLT_X=["Saint-Aubin-du-Cormier", "Saint-Aubin-du-Cormier", "Rennes"])
    blocks = block_bulletins(b, REGISTER, COMMUNES, ADJACENCES)
    assert blocks.contains([6, 2, -1]).tolist() == [True, False, False]
    assert blocks.contains(pd.array([1, None, 3], dtype="Int64")).tolist() == [True, False, True]


def test_subset_keeps_the_blocks_of_the_chosen_bulletins():
    """Does subset() give the chosen bulletins' blocks, in the order asked?"""
    b = bulletins(CLT_X=["Bécherel", "Rennes", "Dinan"], DLT_X=["35", "35", "22"])
    blocks = block_bulletins(b, REGISTER, COMMUNES, ADJACENCES)
    part = blocks.subset([2, 0])
    assert isinstance(part, Blocks) and len(part) == 2
    assert part.candidates(0).tolist() == [5] and part.candidates(1).tolist() == blocks.candidates(0).tolist()
    assert part.workplace["commune"].tolist() == ["22001", "35003"]


def test_candidate_rows_lists_one_array_per_bulletin():
    """Does candidate_rows() return each bulletin's register rows as an array?"""
    rows = candidate_rows(bulletins(CLT_X=["Rennes", "Dinan"], DLT_X=["35", "22"]), REGISTER, COMMUNES, ADJACENCES)
    assert [r.tolist() for r in rows] == [[3], [5]]
    assert all(isinstance(r, np.ndarray) for r in rows)


def test_contains_pairs_agrees_with_each_bulletin_block():
    """For every (bulletin, row) pair, in any order and with repeats, does contains_pairs() say whether
    the row is among the bulletin's candidates, False for negative rows?"""
    b = bulletins(CLT_X=["Saint-Aubin-du-Cormier", "Dinan", None, "Rennes"], DLT_X=["35", "22", None, "35"],
                  DEPCOM_CODE=["35004", "35004", None, "35004"])
    blocks = block_bulletins(b, REGISTER, COMMUNES, ADJACENCES)
    pairs = [(i, r) for r in [-1, *range(len(REGISTER))] for i in (3, 0, 2, 1, 0)]
    got = blocks.contains_pairs([i for i, _ in pairs], [r for _, r in pairs])
    expected = [r >= 0 and r in set(blocks.candidates(i).tolist()) for i, r in pairs]
    assert got.tolist() == expected
    assert got.dtype == bool and any(expected) and not all(expected)


def test_contains_pairs_of_no_pair_is_empty():
    """Do empty pairs give an empty boolean array?"""
    blocks = block_bulletins(bulletins(CLT_X=["Rennes"]), REGISTER, COMMUNES, ADJACENCES)
    out = blocks.contains_pairs([], [])
    assert out.shape == (0,) and out.dtype == bool


def test_contains_is_contains_pairs_on_each_bulletin_own_row():
    """Is contains(rows) the same as contains_pairs(range(n), rows)?"""
    b = bulletins(CLT_X=["Saint-Aubin-du-Cormier", "Bécherel", "Rennes"])
    blocks = block_bulletins(b, REGISTER, COMMUNES, ADJACENCES)
    rows = [1, 2, 0]
    assert blocks.contains(rows).tolist() == blocks.contains_pairs([0, 1, 2], rows).tolist() == [True, True, False]
