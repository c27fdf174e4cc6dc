"""The challenge contract: what a challenge plug-in declares and does for the engine.

A challenge supplies a domain (its data, its scoring, its reference); the engine (leaderboard,
grading, material, CLI) works through this contract only. The design, and what comes in later
steps, is in docs/challenges.md. A challenge is a subclass of :class:`Challenge` whose instance is
registered in :mod:`datathon.challenges`. Standard library, numpy and pandas only: listing the
installed challenges must stay fast, so heavy imports belong inside a challenge's methods.
"""
from __future__ import annotations

import abc
import dataclasses
import enum
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

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
    required: bool = True  # False: a directory may lack it (the package ships a copy)
    split: str | None = None  # the split whose rows it holds: a public "test" file never carries a hidden column

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


@dataclass
class Submission:
    """A submission as the engine handles it: its ``frame`` (``submission.required`` columns,
    the id column first), the reader's ``warnings``, and the sha256 of its bytes (None for a frame)."""

    frame: pd.DataFrame
    warnings: list = field(default_factory=list)
    sha256: str | None = None


#: The kit's folders that hold one sub-folder per challenge (docs/challenges.md, §3).
MATERIAL_KINDS = ("course", "solutions", "starter_notebooks", "data_samples", "grader")


def source_tree() -> Path | None:
    """The checkout this package runs from (it has ``course/``), or None for an installed wheel."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "course").is_dir() else None


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
    unit: str = "rows"  # what the truth's rows are, plural, as the leaderboard says it: "test bulletins"
    instructor_only_metrics: tuple[str, ...] = ()  # score() keys teams never see (they describe the generator)
    # Older names of engine keys, still written beside them for scripts that read them (Sirene's
    # event.json said n_bulletins, its submission answers mca_public_score).
    legacy_names: Mapping[str, str] = types.MappingProxyType({})

    # Where the challenge's teaching material lives: a folder laid out as the kit's own checkout,
    # holding <kind>/<name>/ for each of MATERIAL_KINDS; None when it ships none (an installed wheel).
    material_root: Path | None = None
    sample_seed: int | str | None = None  # the public seed of data_samples/<name>/ (`make sample`)

    @property
    def ranking(self) -> ScoreType:
        """The score type that ranks teams."""
        return self.score_types[0]

    @property
    def course_id(self) -> str:
        """nbgrader's course id for this challenge's assignments: their folder in the shared exchange."""
        return f"datathon-{self.name}"

    def material(self, kind: str) -> Path | None:
        """``material_root/<kind>/<name>`` (``kind`` one of :data:`MATERIAL_KINDS`), or None when not shipped."""
        if kind not in MATERIAL_KINDS:
            raise ValueError(f"unknown kind of material {kind!r}: one of {', '.join(MATERIAL_KINDS)}")
        return None if self.material_root is None else Path(self.material_root) / kind / self.name

    def as_submission(self, frame: pd.DataFrame) -> Any:
        """``frame`` (the reference's output) as what :meth:`score` takes, without reading checks."""
        return Submission(frame=frame)

    def score_parts(self, submission, truth: pd.DataFrame, public: np.ndarray, *,
                    context: Any = None) -> tuple[dict, dict, list[str]]:
        """Score a submission on the public and on the private rows of ``truth`` (``public``, a
        boolean mask aligned with it): ``(public metrics, private metrics, warnings)``.

        The default scores each part on its own rows, the submission's lines filtered to the
        part's ids (``schema.id_column``). The parts' own warnings are dropped: they may quote ids,
        and so tell which are public. Override when a public figure scored this way would reveal
        the split to a probing team (Sirene counts codings over the whole file).
        """
        public = np.asarray(public, dtype=bool)
        id_column = self.schema.id_column
        frame = submission.frame
        part_of_id = pd.Series(public, index=truth[id_column].astype(str).to_numpy())
        line_part = frame[id_column].astype(str).map(part_of_id)  # NaN: an id the truth lacks
        results = []
        for part in (True, False):
            lines = frame[(line_part == part).to_numpy(dtype=bool)]
            part_submission = dataclasses.replace(submission, frame=lines) if dataclasses.is_dataclass(submission) \
                else lines
            metrics = self.score(part_submission, truth[public == part].reset_index(drop=True), context=context)
            metrics.pop("warnings", None)
            results.append(metrics)
        return results[0], results[1], []

    def format_metrics(self, metrics: dict) -> list[tuple[str, str, str]]:
        """``(label, value, note)`` rows that the CLI prints for a submission's metrics; by default
        one per score type, with its display format."""
        rows = []
        for score_type in self.score_types:
            try:
                value = score_type.value(metrics)
            except (KeyError, TypeError):
                value = None
            rows.append((score_type.label, score_type.display(value), ""))
        return rows

    def score_file(self, path: Path, directory: Path, split: str, *, max_bytes: int | None = None) -> dict:
        """``datathon score``: read the submission at ``path`` and score it on ``directory``'s ``split``
        (every score type's key, and ``warnings``, a list of one-line texts)."""
        truth = self.load_truth(directory, split)
        submission = self.read_submission(path, known_ids=truth[self.schema.id_column], max_bytes=max_bytes)
        metrics = self.score(submission, truth, context=self.context(directory, truth))
        metrics.setdefault("warnings", list(getattr(submission, "warnings", []) or []))
        return metrics

    def truth_values(self, sample: Path) -> tuple[str, frozenset[str]]:
        """What of a sample's test truth must never appear in a notebook students see, and what to call
        it: values distinctive enough that meeting one in a notebook means it leaked (Sirene: the
        SIRETs). The default: none (counts and dates are met by chance)."""
        return "value", frozenset()

    def key_metrics(self, metrics: dict) -> dict:
        """The figures of a ``score()`` result worth keeping in a summary (``datathon material run``): by
        default every score type's value, under its key."""
        out = {}
        for score_type in self.score_types:
            try:
                out[score_type.key] = score_type.value(metrics)
            except (KeyError, TypeError):
                out[score_type.key] = None
        return out

    def summary(self, metrics: dict) -> str:
        """What ``datathon score`` prints for ``metrics``: its warnings first (where they are seen), then one
        aligned line per :meth:`format_metrics` row."""
        rows = self.format_metrics(metrics)
        width = max((len(label) for label, _, _ in rows), default=0)
        return "\n".join([f"warning: {w}" for w in metrics.get("warnings") or []]
                         + [f"{label:<{width}}  {value}{'  ' + note if note else ''}" for label, value, note in rows])

    def public_manifest_keys(self) -> dict[str, Callable[[Any, set[str]], Any]]:
        """What a participants' bundle keeps of the instructor's manifest, key by key: how each value is
        published given the names of the bundle's files (None drops it). A key not named is left out,
        so that what nobody argued public stays hidden; the seed never is. The default keeps only what
        describes the files."""
        def same(value, files):
            return value

        return {"challenge": same, "generator": same, "version": same, "kind": same, "scale": same,
                "rows": lambda rows, files: {name: n for name, n in rows.items() if name in files},
                "generated_at": same}

    def dictionary(self, directory: Path, *, bundle: bool = False) -> str | None:
        """The data dictionary (README.md) of a data directory, or None when it cannot be described.
        ``bundle``: the participants' copy, which must not give away how the truth was drawn."""
        return None

    def check_report(self, directory: Path):
        """``datathon data check``: a :class:`datathon.check.CheckReport` of :meth:`check`'s problems."""
        from datathon.check import CheckReport

        return CheckReport(Path(directory), problems=list(self.check(directory)))

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
