"""Partial credit by performance bands, for the graded notebooks whose answer is a submission.

An assignment such as ``a3_learning`` or the ``challenge`` is not right or wrong: it codes some
share of the bulletins, at some precision (an energy forecast: some error). Its points come by bands
of the challenge's own scores: a few for beating the reference, more for each step beyond. They are measured on the **hidden truth**, which a student's notebook must
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

from datathon.errors import UserError

#: Set by the grader in a sandboxed kernel: the folder where :func:`hand_in` writes submissions.
HANDIN_VARIABLE = "DATATHON_HANDIN"


@dataclass(frozen=True)
class Band:
    """``points`` are earned when a metric reaches ``at_least`` (higher is better) or stays within
    ``at_most`` (lower is better: an error); a band has exactly one of the two thresholds."""

    at_least: float | None
    points: float
    at_most: float | None = None

    def __post_init__(self):
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("a band has one threshold: at_least (higher is better) or at_most (lower is better)")

    def reached_by(self, value: float) -> bool:
        return value >= self.at_least if self.at_least is not None else value <= self.at_most


def points_for(value: float | None, bands: Sequence[Band]) -> float:
    """The points of the best band ``value`` reaches (0 when it reaches none, or is None)."""
    if value is None:
        return 0.0
    reached = [b.points for b in bands if b.reached_by(value)]
    return float(max(reached)) if reached else 0.0


@dataclass(frozen=True)
class Measure:
    """One figure of a challenge's ``score()`` result that earns points by bands."""

    path: tuple[str, ...]  # where it is in the result: ("success_rate",), ("coverage_at_precision", "0.95")
    label: str  # as the feedback says it: "success rate"
    bands: tuple[Band, ...]
    percent: bool = True  # shown as "41.2%"; else as a number with three decimals

    def value(self, metrics: dict) -> float | None:
        for key in self.path:
            metrics = metrics.get(key) if isinstance(metrics, dict) else None
        return metrics

    def display(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        return f"{value:.1%}" if self.percent else f"{value:.3f}"


@dataclass(frozen=True)
class Performance:
    """A graded cell whose points the grader computes from the submission handed in there."""

    assignment: str
    cell: str  # the cell's nbgrader grade_id
    measures: tuple[Measure, ...]
    split: str = "test"
    challenge: str = "sirene"

    @property
    def file_name(self) -> str:
        return f"{self.cell}.csv"

    @property
    def max_points(self) -> float:
        return sum(max((b.points for b in m.bands), default=0.0) for m in self.measures)


def _sirene(success: tuple[Band, ...], coverage: tuple[Band, ...]) -> tuple[Measure, ...]:
    return (Measure(("success_rate",), "success rate", success),
            Measure(("coverage_at_precision", "0.95"), "coverage at 95 % precision", coverage))


PERFORMANCE = (
    Performance("a3_learning", "q5-tests-bands",
                _sirene(success=(Band(0.40, 3), Band(0.50, 5), Band(0.60, 7)),
                        coverage=(Band(0.30, 3), Band(0.45, 5), Band(0.60, 7)))),
    Performance("challenge", "performance-tests",
                _sirene(success=(Band(0.40, 5), Band(0.45, 10), Band(0.50, 15), Band(0.55, 18), Band(0.60, 21),
                                 Band(0.65, 25)),
                        coverage=(Band(0.30, 4), Band(0.45, 8), Band(0.55, 11), Band(0.65, 13), Band(0.70, 15)))),
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
    """What a submission earned: each measure's value and the points of the band it reached."""

    earned: tuple[tuple[Measure, float | None, float], ...]  # (measure, value, points)

    @property
    def points(self) -> float:
        return sum(points for _, _, points in self.earned)

    def value(self, label: str) -> float | None:
        """The value of the measure called ``label``."""
        return next(value for measure, value, _ in self.earned if measure.label == label)

    def __str__(self) -> str:
        return "; ".join(f"{measure.label} {measure.display(value)} → {points:g} points"
                         for measure, value, points in self.earned)


def award_on_truth(submission, truth: pd.DataFrame, perf: Performance, *, context=None) -> Award:
    """Score ``submission`` (a frame, or what the challenge's reader returned) against ``truth`` with
    the performance cell's challenge, and award the bands each measure reaches. Rows of the truth
    missing from it count as not answered."""
    from datathon.challenges import get

    challenge = get(perf.challenge)
    if isinstance(submission, pd.DataFrame):
        submission = challenge.as_submission(submission)
    metrics = challenge.score(submission, truth, context=context)
    return Award(tuple((m, m.value(metrics), points_for(m.value(metrics), m.bands)) for m in perf.measures))


def award(submission: pd.DataFrame, data_dir: str | Path, perf: Performance) -> Award:
    """:func:`award_on_truth` on the truth of the cell's split in ``data_dir``."""
    from datathon.challenges import get

    return award_on_truth(submission, get(perf.challenge).load_truth(data_dir, perf.split), perf)


def _has_truth(data_dir: Path, perf: Performance) -> bool:
    from datathon.challenges import get

    try:
        get(perf.challenge).load_truth(data_dir, perf.split)
    except (UserError, OSError):
        return False
    return True


def hand_in(submission, *, assignment: str, cell: str, data_dir: str | Path | None = None) -> Award | None:
    """Hand a notebook's submission in for its performance points (see the module docstring).

    Under ``datathon grade``: writes it to the sandbox's hand-in folder and returns None; the grader
    scores it afterwards. Elsewhere: returns (and prints) the points it would earn on ``data_dir``'s
    own truth when the directory has one, else None.
    """
    from datathon.challenges import get

    perf = performance(assignment, cell)
    required = get(perf.challenge).submission.required
    if not isinstance(submission, pd.DataFrame) or not set(required) <= set(submission.columns):
        raise UserError(f"`submission` must be a DataFrame with {' and '.join(required)} columns: "
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
    if data_dir is None or not _has_truth(Path(data_dir), perf):
        print(f"No {perf.split} truth in {data_dir}: the grader scores this submission on the hidden truth.")
        return None
    with warnings.catch_warnings():  # nbgrader takes a graded cell's stderr for a failure
        warnings.simplefilter("ignore")
        earned = award(submission, data_dir, perf)
    shown = Path(data_dir).name if Path(data_dir).parent.name != "data_samples" else f"data_samples/{Path(data_dir).name}"
    print(f"Practice on {shown} (whose truth is public): {earned} — {earned.points:g} of "
          f"{perf.max_points:g} points. Graded, the same bands apply to the hidden truth.")
    return earned
