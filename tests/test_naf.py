"""datathon/naf.py: the official NAF rév. 2 nomenclature shipped with the package."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from datathon.naf import naf_csv_frame, nomenclature, to_compact, to_dotted

DOTTED = re.compile(r"^\d{2}\.\d{2}[A-Z]$")


@pytest.fixture(scope="module")
def official(repo_root):
    """INSEE's file as kept in ../shared/reference/ (official, never edited)."""
    path = repo_root.parent / "shared" / "reference" / "naf2008.csv"
    if not path.is_file():
        pytest.skip(f"{path} is not here: the shared reference data sits beside the repository")
    return pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)


def test_732_sous_classes_in_dotted_form():
    """Are there exactly 732 distinct sous-classes, every code in the stock's dotted form (56.10A)?"""
    nom = nomenclature()
    assert len(nom) == 732
    assert nom["code"].is_unique
    assert nom["code"].map(lambda c: bool(DOTTED.match(c))).all()
    assert "56.10A" in set(nom["code"])


def test_levels_are_consistent_with_the_codes():
    """Does every sous-classe sit in its own classe, groupe and division, with INSEE's level counts?"""
    nom = nomenclature()
    assert (nom["classe"] == nom["code"].str[:5]).all()
    assert (nom["groupe"] == nom["code"].str[:4]).all()
    assert (nom["division"] == nom["code"].str[:2]).all()
    assert (nom["classe"].nunique(), nom["groupe"].nunique(), nom["division"].nunique(),
            nom["section"].nunique()) == (615, 272, 88, 21)
    labels = ["libelle", "libelle_classe", "libelle_groupe", "libelle_division", "libelle_section"]
    assert nom[labels].notna().all().all()


def test_labels_are_the_official_ones(official):
    """Are codes and labels exactly INSEE's, character for character (accents, apostrophes)?"""
    nom = nomenclature()
    ours = pd.DataFrame({"code": nom["code"].map(to_compact), "libelle": nom["libelle"]})
    assert ours.sort_values("code").reset_index(drop=True).equals(
        official.sort_values("code").reset_index(drop=True))


def test_packaged_copy_is_byte_identical(repo_root):
    """Is the package's naf2008.csv the shared reference file, unedited?"""
    ref = repo_root.parent / "shared" / "reference"
    if not ref.is_dir():
        pytest.skip(f"{ref} is not here")
    for name in ("naf2008.csv", "naf2008_levels.csv"):
        assert (repo_root / "datathon" / "challenges" / "sirene" / "resources" / name).read_bytes() == (ref / name).read_bytes(), name


def test_naf_csv_frame_is_code_and_label_in_dotted_form(official):
    """Is naf.csv's frame code;libelle, 732 dotted codes, with the official labels?"""
    frame = naf_csv_frame()
    assert list(frame.columns) == ["code", "libelle"]
    assert len(frame) == 732 and frame["code"].map(lambda c: bool(DOTTED.match(c))).all()
    ours = dict(zip(frame["code"].map(to_compact), frame["libelle"]))
    assert ours == dict(zip(official["code"], official["libelle"]))


def test_dotted_and_compact_round_trip():
    """Does every code survive to_compact then to_dotted, and the reverse?"""
    for code in nomenclature()["code"]:
        compact = to_compact(code)
        assert len(compact) == 5 and "." not in compact
        assert to_dotted(compact) == code
        assert to_compact(to_dotted(compact)) == compact


@pytest.mark.parametrize("raw, dotted, compact", [
    ("5610A", "56.10A", "5610A"),
    ("56.10A", "56.10A", "5610A"),
    (" 5610a ", "56.10A", "5610A"),
    ("01.11z", "01.11Z", "0111Z"),
])
def test_conversions_normalise_case_and_spaces(raw, dotted, compact):
    """Do to_dotted and to_compact accept either form, lower case and surrounding spaces?"""
    assert to_dotted(raw) == dotted
    assert to_compact(raw) == compact
