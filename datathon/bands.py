"""Partial credit by performance bands, for the graded notebooks whose answer is a submission.

An assignment such as ``a3_learning`` or the ``challenge`` is not right or wrong: it codes some
share of the bulletins, at some precision. Its hidden test scores the submission against the
truth and awards points by bands: a few points for beating MCA, more for each step beyond.

The truth the bands are measured on is the **grading truth**: the instructor's event data when
``DATATHON_GRADING_DATA`` names a data directory (the test truth students never see), else the
data directory the notebook ran on (the public sample, whose truth ships with it: fine for
practice, not for a graded event).

Typical use in a hidden test cell::

    from datathon.bands import Band, award
    points = award(submission, data_dir, success=SUCCESS_BANDS, coverage=COVERAGE_BANDS)
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from datathon import evaluate
from datathon.errors import UserError

#: Environment variable naming the instructor's data directory (with the test truth) for grading.
GRADING_DATA = "DATATHON_GRADING_DATA"


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


def grading_directory(data_dir: str | Path) -> Path:
    """Where the truth for grading lives: ``$DATATHON_GRADING_DATA`` if set, else ``data_dir``."""
    chosen = os.environ.get(GRADING_DATA) or str(data_dir)
    path = Path(chosen)
    if not path.is_dir():
        raise UserError(f"{GRADING_DATA}={chosen!r} is not a directory: point it at the event's data directory"
                        if os.environ.get(GRADING_DATA) else f"{chosen}: no such data directory")
    return path


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


def award(submission: pd.DataFrame, data_dir: str | Path, *, success: Sequence[Band], coverage: Sequence[Band],
          split: str = "test") -> Award:
    """Score ``submission`` on the grading truth (:func:`grading_directory`) of ``split`` and award
    the bands it reaches. Bulletins of the truth missing from the submission count as not coded."""
    truth = evaluate.load_truth(grading_directory(data_dir), split)
    metrics = evaluate.score(submission, truth)
    coverage_95 = (metrics.get("coverage_at_precision") or {}).get("0.95")
    return Award(success_rate=metrics["success_rate"], coverage_at_95=coverage_95,
                 success_points=points_for(metrics["success_rate"], success),
                 coverage_points=points_for(coverage_95, coverage))
