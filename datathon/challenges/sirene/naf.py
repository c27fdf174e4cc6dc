"""The official NAF rév. 2 nomenclature (INSEE), shipped with the package.

Codes come in two forms: the stock's dotted form (``56.10A``), used in the register, and the
compact form (``5610A``). Labels are official and never edited.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd


def _resource(name: str):
    return resources.files("datathon.challenges.sirene") / "resources" / name


@lru_cache(maxsize=1)
def nomenclature() -> pd.DataFrame:
    """All 732 sous-classes with their five levels.

    Columns: ``code`` (dotted, ``01.11Z``), ``libelle`` (level-5 label), ``classe``, ``groupe``,
    ``division``, ``section`` and their labels ``libelle_classe`` … ``libelle_section``.
    """
    with _resource("naf2008_levels.csv").open("r", encoding="utf-8") as f:
        raw = pd.read_csv(f, dtype=str, index_col=0)
    return pd.DataFrame(
        {
            "code": raw["NIV5"],
            "libelle": raw["LIB_NIV5"],
            "classe": raw["NIV4"],
            "libelle_classe": raw["LIB_NIV4"],
            "groupe": raw["NIV3"],
            "libelle_groupe": raw["LIB_NIV3"],
            "division": raw["NIV2"],
            "libelle_division": raw["LIB_NIV2"],
            "section": raw["NIV1"],
            "libelle_section": raw["LIB_NIV1"],
        }
    ).reset_index(drop=True)


def to_dotted(code: str) -> str:
    """``5610A`` → ``56.10A`` (dotted codes are returned unchanged)."""
    code = code.strip().upper()
    if len(code) == 5 and "." not in code:
        return f"{code[:2]}.{code[2:]}"
    return code


def to_compact(code: str) -> str:
    """``56.10A`` → ``5610A``."""
    return code.strip().upper().replace(".", "")


def naf_csv_frame() -> pd.DataFrame:
    """The ``naf.csv`` written into every data directory: ``code;libelle`` in dotted form."""
    nom = nomenclature()
    return nom[["code", "libelle"]].copy()
