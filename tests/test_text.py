"""datathon/text.py: the text normalisation shared by the generator, MCA and the approaches."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from datathon.text import commune_key, is_missing, simplify, strip_accents, upper_ascii


@pytest.mark.parametrize("raw, expected", [
    ("Église", "Eglise"),
    ("Œuvre", "OEuvre"),
    ("cœur", "coeur"),
    ("Ætna", "AEtna"),
    ("ex æquo", "ex aequo"),
    ("Françoise Hélène Noël", "Francoise Helene Noel"),
    ("plain", "plain"),
])
def test_strip_accents(raw, expected):
    """Are accents removed and ligatures spelt out, and nothing else changed?"""
    assert strip_accents(raw) == expected


def test_upper_ascii_keeps_punctuation():
    """Is a paper form's capture upper case without accents, punctuation kept?"""
    assert upper_ascii("Rue de l'Église") == "RUE DE L'EGLISE"


@pytest.mark.parametrize("raw, expected", [
    ("Boulangerie  Pâtisserie", "BOULANGERIE PATISSERIE"),
    ("  l'Œuf   d'Or  ", "L OEUF D OR"),
    ("Dupont & Fils, S.A.R.L.", "DUPONT FILS S A R L"),
    ("Saint-Aubin-du-Cormier", "SAINT AUBIN DU CORMIER"),
    ("35 rue Nationale", "35 RUE NATIONALE"),
    ("---", ""),
    ("", ""),
])
def test_simplify(raw, expected):
    """Is a name folded to upper-case ASCII words separated by single spaces?"""
    assert simplify(raw) == expected


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan, pd.NA, pd.NaT])
def test_simplify_of_missing_values_is_empty(missing):
    """Do None, NaN, pandas' NA and NaT give an empty string, never 'NAN' or 'NONE'?"""
    assert simplify(missing) == ""
    assert commune_key(missing) == ""
    assert is_missing(missing)


@pytest.mark.parametrize("value", ["", "NA", "None", "nan", 0, 0.0])
def test_present_values_are_not_missing(value):
    """Are the empty string, the words NA/None/nan and zero values, not missing ones?"""
    assert not is_missing(value)


@pytest.mark.parametrize("value, expected", [("NA", "NA"), ("None", "NONE"), (35, "35"), (3.5, "3 5")])
def test_simplify_keeps_real_values(value, expected):
    """Are the text 'NA' (a real word) and numbers kept, not taken for missing values?"""
    assert simplify(value) == expected


@pytest.mark.parametrize("spellings", [
    ["St-Aubin-du-Cormier", "SAINT AUBIN DU CORMIER", "Saint-Aubin-du-Cormier", "st aubin du cormier",
     "ST AUBIN DU CORMIER", "Saint Aubin  du-Cormier"],
    ["Ste-Marie", "SAINTE MARIE", "Sainte-Marie", "STE MARIE"],
    ["L'Hermitage", "L HERMITAGE", "l'hermitage"],
    ["Châteaugiron", "CHATEAUGIRON", "chateaugiron"],
])
def test_commune_key_makes_usual_spellings_agree(spellings):
    """Do the usual spellings of a commune (ST/SAINT, STE/SAINTE, hyphens, accents, case) give one key?"""
    assert len({commune_key(s) for s in spellings}) == 1


def test_commune_key_only_expands_whole_words():
    """Are ST and STE expanded only as whole words (STRASBOURG, ESTE and VEST stay as they are)?"""
    assert commune_key("Strasbourg") == "STRASBOURG"
    assert commune_key("Este-sur-Vest") == "ESTE SUR VEST"
    assert commune_key("ST MALO") == "SAINT MALO"


def test_commune_key_tells_different_communes_apart():
    """Do Saint-Aubin and Sainte-Aubine, or Saint-Malo and Saint-Malon, keep different keys?"""
    assert commune_key("St-Aubin") != commune_key("Ste-Aubine")
    assert commune_key("Saint-Malo") != commune_key("Saint-Malon")
