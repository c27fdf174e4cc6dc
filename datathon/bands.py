"""Partial credit by performance bands, for the graded notebooks whose answer is a submission.

An assignment such as ``a3_learning`` or the ``challenge`` is not right or wrong: it codes some
share of the bulletins, at some precision. Its points come by bands: a few for beating MCA, more
for each step beyond. They are measured on the **hidden truth**, which a student's notebook must
never see, so they are not computed in the notebook:

- the notebook's performance cell calls :func:`hand_in`. When ``datathon grade`` runs the notebook
  (in its sandbox, where ``DATATHON_HANDIN`` names the box's hand-in folder), ``hand_in`` only
  writes the submission there;
- after the notebook has run and its sandbox is gone, the grader reads that file
  (:func:`datathon.grading`), scores it against the event's truth with :func:`award_on_truth`,
  and writes the points of that cell to the gradebook, with a one-line account in the notebook's
  feedback (the metrics and the points: never a truth row);
- anywhere else (the student's own run, nbval, ``datathon material run``) ``hand_in`` previews the
  points on the data directory's own truth when it has one (the public sample's is public), and
  says so.

:data:`PERFORMANCE` lists these cells: the grader needs nothing else to find them.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from datathon import evaluate
from datathon.errors import UserError

#: Set by the grader in a sandboxed kernel: the folder where :func:`hand_in` writes submissions.
HANDIN_VARIABLE = "DATATHON_HANDIN"


@dataclass(frozen=True)
class Band:
    """``points`` are earned when a metric reaches ``at_least``."""

    at_least: float
    points: float


def points_for(value: float | None, bands: Sequence[Band]) -> float:
    """The points of the highest band ``value`` reaches (0 below the lowest, or when None)."""
    if value is None:
        return 0.0
    reached = [b.points for b in bands if value >= b.at_least]
    return float(max(reached)) if reached else 0.0


@dataclass(frozen=True)
class Performance:
    """A graded cell whose points the grader computes from the submission handed in there."""

    assignment: str
    cell: str  # the cell's nbgrader grade_id
    success: tuple[Band, ...]  # bands of success rate
    coverage: tuple[Band, ...]  # bands of coverage at 95 % precision
    split: str = "test"

    @property
    def file_name(self) -> str:
        return f"{self.cell}.csv"

    @property
    def max_points(self) -> float:
        return max((b.points for b in self.success), default=0.0) + max((b.points for b in self.coverage), default=0.0)


PERFORMANCE = (
    Performance("a3_learning", "q5-tests-bands",
                success=(Band(0.40, 3), Band(0.50, 5), Band(0.60, 7)),
                coverage=(Band(0.30, 3), Band(0.45, 5), Band(0.60, 7))),
    Performance("challenge", "performance-tests",
                success=(Band(0.40, 5), Band(0.45, 10), Band(0.50, 15), Band(0.55, 18), Band(0.60, 21), Band(0.65, 25)),
                coverage=(Band(0.30, 4), Band(0.45, 8), Band(0.55, 11), Band(0.65, 13), Band(0.70, 15))),
)


def performance_cells(assignment: str) -> list[Performance]:
    """The performance cells of an assignment (none for most)."""
    return [p for p in PERFORMANCE if p.assignment == assignment]


def performance(assignment: str, cell: str) -> Performance:
    for p in PERFORMANCE:
        if (p.assignment, p.cell) == (assignment, cell):
            return p
    raise UserError(f"no performance cell {cell!r} in {assignment!r} "
                    f"(known: {', '.join(f'{p.assignment}/{p.cell}' for p in PERFORMANCE)})")


@dataclass
class Award:
    """What a submission earned: the metrics it was measured on, and the points of each band."""

    success_rate: float | None
    coverage_at_95: float | None
    success_points: float
    coverage_points: float

    @property
    def points(self) -> float:
        return self.success_points + self.coverage_points

    def __str__(self) -> str:
        def pct(v):
            return "n/a" if v is None else f"{v:.1%}"
        return (f"success rate {pct(self.success_rate)} → {self.success_points:g} points; "
                f"coverage at 95 % precision {pct(self.coverage_at_95)} → {self.coverage_points:g} points")


def award_on_truth(submission, truth: pd.DataFrame, *, success: Sequence[Band], coverage: Sequence[Band]) -> Award:
    """Score ``submission`` (a frame, or a checked :class:`~datathon.evaluate.Submission`) against
    ``truth`` and award the bands it reaches. Bulletins of the truth missing from it count as not coded."""
    metrics = evaluate.score(submission, truth)
    coverage_95 = (metrics.get("coverage_at_precision") or {}).get("0.95")
    return Award(success_rate=metrics["success_rate"], coverage_at_95=coverage_95,
                 success_points=points_for(metrics["success_rate"], success),
                 coverage_points=points_for(coverage_95, coverage))


def award(submission: pd.DataFrame, data_dir: str | Path, *, success: Sequence[Band], coverage: Sequence[Band],
          split: str = "test") -> Award:
    """:func:`award_on_truth` on the truth of ``split`` in ``data_dir``."""
    return award_on_truth(submission, evaluate.load_truth(data_dir, split), success=success, coverage=coverage)


def _has_truth(data_dir: Path, split: str) -> bool:
    if split == "train":
        return any((data_dir / f"bulletins_train{ext}").is_file() for ext in (".parquet", ".csv"))
    return any((data_dir / f"truth_{split}{ext}").is_file() for ext in (".parquet", ".csv"))


def hand_in(submission, *, assignment: str, cell: str, data_dir: str | Path | None = None) -> Award | None:
    """Hand a notebook's submission in for its performance points (see the module docstring).

    Under ``datathon grade``: writes it to the sandbox's hand-in folder and returns None; the grader
    scores it afterwards. Elsewhere: returns (and prints) the points it would earn on ``data_dir``'s
    own truth when the directory has one, else None.
    """
    perf = performance(assignment, cell)
    if not isinstance(submission, pd.DataFrame) or not {"CABBI", "siret"} <= set(submission.columns):
        raise UserError("`submission` must be a DataFrame with CABBI and siret columns: "
                        "run the cells above that build it")
    folder = os.environ.get(HANDIN_VARIABLE)
    if folder:
        folder = Path(folder)
        with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False, encoding="utf-8") as tmp:
            submission.to_csv(tmp, sep=";", index=False)
        os.replace(tmp.name, folder / perf.file_name)  # whole or not at all
        print(f"Handed in {len(submission):,} lines: the grader scores them on the hidden truth once the "
              f"notebook has run ({perf.max_points:g} points at most).")
        return None
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        raise UserError("grade this assignment with `datathon grade`: its performance points are computed "
                        "outside the notebook, on the hidden truth")
    if data_dir is None or not _has_truth(Path(data_dir), perf.split):
        print(f"No {perf.split} truth in {data_dir}: the grader scores this submission on the hidden truth.")
        return None
    with warnings.catch_warnings():  # nbgrader takes a graded cell's stderr for a failure
        warnings.simplefilter("ignore")
        earned = award(submission, data_dir, success=perf.success, coverage=perf.coverage, split=perf.split)
    print(f"Practice on {Path(data_dir).name} (whose truth is public): {earned} — {earned.points:g} of "
          f"{perf.max_points:g} points. Graded, the same bands apply to the hidden truth.")
    return earned
