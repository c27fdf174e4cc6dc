"""The three scales of the world."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    departements: int
    communes_per_departement: int
    establishments_per_departement: int  # open and closed
    bulletins_per_departement: int
    test_share: float = 0.4

    @property
    def population_per_departement(self) -> int:
        # About one establishment for every eight inhabitants, as in the Sirene stock.
        return self.establishments_per_departement * 8


SCALES = {
    # One small département: committed in data_samples/, every notebook runs on it in seconds.
    "sample": Scale("sample", 1, 150, 25_000, 15_000),
    # One département the size of Ille-et-Vilaine's register extract.
    "departement": Scale("departement", 1, 350, 120_000, 40_000),
    # The 2017 campaign: 1.7 M bulletins against 8.5 M establishments, 96 départements.
    "campaign": Scale("campaign", 96, 350, 88_700, 17_720),
}
