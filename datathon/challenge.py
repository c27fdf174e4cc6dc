"""The challenge contract: what a challenge plug-in declares and does for the engine.

A challenge supplies a domain (its data, its scoring, its reference); the engine (leaderboard,
grading, material, CLI) works through this contract only. The design, and what comes in later
steps, is in docs/challenges.md. A challenge is a subclass of :class:`Challenge` whose instance is
registered in :mod:`datathon.challenges`. Standard library, numpy and pandas only: listing the
installed challenges must stay fast, so heavy imports belong inside a challenge's methods.
"""
from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

API = 1  # version of the contract; a challenge declares the one it was written for


class Direction(enum.Enum):
    """Whether a higher or a lower score is better (RAMP's ``is_lower_the_better``)."""

    HIGHER = "higher"
    LOWER = "lower"

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b``."""
        return a > b if self is Direction.HIGHER else a < b

    def sort_key(self, value: float) -> float:
        """Sorting by this key, ascending, puts the best first."""
        return -value if self is Direction.HIGHER else value


@dataclass(frozen=True)
class ScoreType:
    """One figure of :meth:`Challenge.score`'s result, with how to rank and show it."""

    key: str  # key in score()'s result; "a.b" reaches a nested dict
    label: str  # "success rate", "cumulative growth error"
    direction: Direction
    format: str = "percent"  # "percent" (value × 100, " %") or "number"
    digits: int = 1  # display precision, as RAMP's `precision`
    on_board: bool = False  # shown as a column on the leaderboard page (the first score type always is)

    def __post_init__(self):
        if self.format not in ("percent", "number"):
            raise ValueError(f"ScoreType {self.key}: format must be 'percent' or 'number', not {self.format!r}")

    def value(self, metrics: dict) -> Any:
        """This score's value in ``metrics`` (a result of ``score()``); KeyError when missing."""
        for part in self.key.split("."):
            metrics = metrics[part]
        return metrics

    def display(self, value: float | None) -> str:
        """The value as shown to people: ``41.2 %`` or ``0.137``; ``n/a`` for None."""
        if value is None:
            return "n/a"
        if self.format == "percent":
            return f"{100 * value:.{self.digits}f} %"
        return f"{value:.{self.digits}f}"


@dataclass(frozen=True)
class Column:
    """One column of a data file."""

    name: str
    dtype: str  # as datathon.data.cast understands it ("string", "float64", "Int64", ...)
    meaning: str  # the data dictionary's text; never empty
    hidden: bool = False  # gives a test row's truth away: never in a public file (only in truth files)


@dataclass(frozen=True)
class FileSpec:
    """One file of a data directory."""

    name: str
    columns: tuple[Column, ...]
    role: str = "public"  # "public" (participants get it), "truth" (kept apart) or "aux"

    def __post_init__(self):
        if self.role not in ("public", "truth", "aux"):
            raise ValueError(f"FileSpec {self.name}: role must be public, truth or aux, not {self.role!r}")


@dataclass(frozen=True)
class Schema:
    """The files of a data directory, and what a submission line is keyed by."""

    files: tuple[FileSpec, ...]
    id_column: str  # "CABBI"
    splits: tuple[str, ...] = ("train", "test")

    def file(self, name: str) -> FileSpec:
        for spec in self.files:
            if spec.name == name:
                return spec
        raise KeyError(name)


@dataclass(frozen=True)
class SubmissionFormat:
    """What a submission file holds."""

    required: tuple[str, ...]  # ("CABBI", "siret"): the id column first
    optional: tuple[str, ...] = ()
    max_lines_per_row: int = 2  # bound checked before parsing, per truth row


class Challenge(abc.ABC):
    """A challenge plug-in. Subclasses set the class attributes and implement every abstract method."""

    api: int = API
    name: str
    title: str
    version: str
    schema: Schema
    scales: tuple[str, ...]  # choices of `generate --scale`, smallest first
    submission: SubmissionFormat
    score_types: tuple[ScoreType, ...]  # the first one ranks
    reference_name: str  # "MCA": the reference's line on the leaderboard
    split_kind: str  # "hash" or "time": what the page says of the public and private parts
    default_public_share: float | None  # None: the split decides alone (by time)

    @property
    def ranking(self) -> ScoreType:
        """The score type that ranks teams."""
        return self.score_types[0]

    @abc.abstractmethod
    def generate(self, seed: int | str, scale: str, out: Path, *, force: bool = False, progress: bool = True,
                 **options) -> dict:
        """Write a data directory for ``seed`` at ``scale`` (same seed, same bytes); return its manifest."""

    @abc.abstractmethod
    def check(self, directory: Path) -> list:
        """Every problem of a data directory (:class:`datathon.check.Problem`); empty when clean."""

    @abc.abstractmethod
    def load_truth(self, directory: Path, split: str) -> pd.DataFrame:
        """The truth of a split, ``schema.id_column`` first."""

    @abc.abstractmethod
    def read_submission(self, source, *, known_ids=None, max_bytes: int | None = None):
        """Read and check a submission; one-line :class:`datathon.errors.UserError` when it is invalid."""

    def context(self, directory: Path | None, truth: pd.DataFrame) -> Any:
        """What scoring needs from the data directory besides the truth (computed once per event)."""
        return None

    @abc.abstractmethod
    def score(self, submission, truth: pd.DataFrame, *, context: Any = None) -> dict:
        """Every score type's key (None when not applicable), JSON-able, never a non-finite number.

        ``context`` is what :meth:`context` returned for the truth's directory.
        """

    @abc.abstractmethod
    def reference(self, directory: Path, split: str) -> pd.DataFrame:
        """The reference entry as a submission frame (``submission.required`` columns)."""

    @abc.abstractmethod
    def split(self, truth: pd.DataFrame, salt: str, share: float | None) -> np.ndarray:
        """The public part of ``truth``'s rows (a boolean mask), deterministic in its arguments."""
