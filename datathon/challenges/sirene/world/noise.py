"""The noise model: every way a true (person, establishment) pair becomes a poor declaration.

Each mechanism has a name, a documented effect and its own rate, higher on paper forms
(``TYPCOL = 0``) than on internet ones where it depends on the collection mode. Rates are
calibrated on the incumbent alone: with them, the MCA replica codes 40–50 % of bulletins
automatically and 85–92 % of its codings are right, as the real MCA does (44–45 %, 11.6 %
disagreement). The approaches taught in the course are never used to set them.
"""
from __future__ import annotations

from dataclasses import dataclass

from datathon.errors import UserError


@dataclass(frozen=True)
class Mechanism:
    name: str
    level: str  # register, name, address, activity, bulletin
    internet: float
    paper: float
    description: str


MECHANISMS: list[Mechanism] = [
    # register
    Mechanism("homonym_nearby", "register", 0.25, 0.25,
              "a business takes the name of a business of the same trade in an adjacent commune"),
    Mechanism("closed_distractor", "register", 0.18, 0.18,
              "a closed establishment (moved, or a ceased business of the same name) stays in the register"),
    Mechanism("sign_not_in_register", "register", 0.65, 0.65,
              "the sign people know an establishment by is missing from enseigne1Etablissement"),
    # bulletin: not codable
    Mechanism("household_employer", "bulletin", 0.025, 0.03,
              "employed by a private household (VARDOMPART_X = 3): no SIRET, not codable"),
    Mechanism("blank_answer", "bulletin", 0.04, 0.08,
              "blank or unusable name ('NEANT', '?', 'VOIR AU DOS'): not codable"),
    # name
    Mechanism("sign_for_name", "name", 0.80, 0.80,
              "the sign (enseigne, brand) is given instead of the legal name"),
    Mechanism("education_nationale", "name", 0.60, 0.60,
              "a teacher writes 'EDUCATION NATIONALE' instead of the school"),
    Mechanism("mairie", "name", 0.70, 0.70,
              "a municipal service is written as the town hall ('MAIRIE')"),
    Mechanism("temp_agency_client", "name", 0.80, 0.80,
              "a temp agency worker names the client company where they are placed, at its address"),
    Mechanism("other_name", "name", 0.10, 0.12,
              "a name the register does not know: a former name, a site ('USINE DE …') or a department"),
    Mechanism("informal_name", "name", 0.65, 0.65,
              "a colloquial form of the name: words dropped, or a generic word or the town added"),
    Mechanism("acronym", "name", 0.06, 0.06,
              "the acronym (sigleUniteLegale, or initials) is given instead of the name"),
    Mechanism("abbreviation", "name", 0.15, 0.20,
              "words are abbreviated: SOCIETE → STE, ETABLISSEMENTS → ETS, SAINT → ST"),
    Mechanism("legal_form", "name", 0.12, 0.12,
              "a legal form (SARL, SAS, …) is added to the name"),
    Mechanism("truncation", "name", 0.05, 0.12,
              "the name is cut short (a form's box, or a hurried answer)"),
    Mechanism("typos", "name", 0.10, 0.35,
              "one or two letters wrong, missing, doubled or swapped (handwriting and capture on paper)"),
    # address
    Mechanism("missing_address", "address", 0.25, 0.40,
              "no street address, only the commune"),
    Mechanism("partial_address", "address", 0.15, 0.22,
              "the number, or the street type, or part of the street name is missing"),
    Mechanism("neighbouring_commune", "address", 0.12, 0.15,
              "an adjacent commune is given instead of the real one"),
    Mechanism("home_commune", "address", 0.10, 0.12,
              "the home commune is given as the workplace (ILT_X = 1)"),
    # activity
    Mechanism("vague_activity", "activity", 0.20, 0.30,
              "the activity is blank or generic ('SERVICES', 'COMMERCE')"),
]

MECHANISMS_BY_NAME = {m.name: m for m in MECHANISMS}


def resolve_rates(overrides: dict | None = None) -> dict[str, tuple[float, float]]:
    """Every mechanism's (internet, paper) rates, with ``overrides`` applied.

    An override is one rate (both modes) or an (internet, paper) pair; unknown names and rates
    outside [0, 1] are refused.
    """
    out = {m.name: (m.internet, m.paper) for m in MECHANISMS}
    for name, value in (overrides or {}).items():
        if name not in out:
            raise UserError(f"unknown noise mechanism {name!r}: known ones are {', '.join(out)}")
        pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
        if len(pair) != 2 or not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in pair):
            raise UserError(f"the rate of {name!r} must be a number in [0, 1] or an (internet, paper) pair of them")
        out[name] = (float(pair[0]), float(pair[1]))
    return out


def register_rates(rates: dict[str, tuple[float, float]]) -> dict[str, float]:
    """The single rate of each register-level mechanism (the register has no collection mode)."""
    return {m.name: rates[m.name][0] for m in MECHANISMS if m.level == "register"}


def manifest_rates(rates: dict[str, tuple[float, float]] | None = None) -> dict[str, dict]:
    """The rates in force, as recorded in manifest.json."""
    rates = rates or resolve_rates()
    return {m.name: {"level": m.level, "internet": rates[m.name][0], "paper": rates[m.name][1],
                     "description": m.description} for m in MECHANISMS}
