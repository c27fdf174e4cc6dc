"""datathon/bands.py: partial credit by performance bands, and handing a submission in for them."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest

from datathon import schema
from datathon.bands import (HANDIN_VARIABLE, PERFORMANCE, Award, Band, Measure, Performance, award, hand_in, performance,
                            points_for)
from datathon.errors import UserError

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data_samples" / "sirene"
SUCCESS = [Band(0.40, 1), Band(0.60, 2), Band(0.80, 4)]
COVERAGE = [Band(0.30, 1), Band(0.80, 3)]


@pytest.mark.parametrize("value, points", [
    (None, 0.0), (0.0, 0.0), (0.39, 0.0), (0.40, 1.0), (0.5, 1.0), (0.60, 2.0), (0.79, 2.0), (0.80, 4.0), (1.0, 4.0),
])
def test_points_for_gives_the_highest_band_reached(value, points):
    """Are the points those of the highest band reached (a band's bound included), 0 below the lowest
    and for None?"""
    assert points_for(value, SUCCESS) == points


def test_points_for_does_not_depend_on_the_order_of_the_bands():
    """Do bands listed in any order give the same points, and no band at all 0?"""
    assert points_for(0.7, list(reversed(SUCCESS))) == 2.0
    assert points_for(0.7, []) == 0.0


SUCCESS_MEASURE = Measure(("success_rate",), "success rate", tuple(SUCCESS))
COVERAGE_MEASURE = Measure(("coverage_at_precision", "0.95"), "coverage at 95 % precision", tuple(COVERAGE))
TEST_CELL = Performance("a3_learning", "q5-tests-bands", (SUCCESS_MEASURE, COVERAGE_MEASURE))


def test_an_award_adds_the_points_of_every_measure():
    """Is an award's total the sum of its measures' points, and its text readable (n/a for a missing value)?"""
    a = Award(((SUCCESS_MEASURE, 0.5, 1.0), (COVERAGE_MEASURE, None, 0.0)))
    assert a.points == 1.0 and a.value("success rate") == 0.5
    assert str(a) == "success rate 50.0% → 1 points; coverage at 95 % precision n/a → 0 points"


def test_a_lower_is_better_band_pays_below_its_threshold():
    """Does an error band (at_most) pay at or below its threshold, the lowest error earning the most, and is a
    band with both or neither threshold refused?"""
    error = [Band(None, 2, at_most=0.20), Band(None, 5, at_most=0.10), Band(None, 8, at_most=0.05)]
    assert [points_for(v, error) for v in (0.30, 0.20, 0.12, 0.05, 0.0)] == [0.0, 2.0, 2.0, 8.0, 8.0]
    for wrong in ((0.1, 1, 0.2), (None, 1, None)):
        with pytest.raises(ValueError, match="one threshold"):
            Band(*wrong)


def test_an_energy_cell_awards_bands_of_its_own_errors(tmp_path):
    """Does a performance cell of the energy challenge score with that challenge (cumulative growth error and
    MASE, lower is better): its reference earns the bands its errors reach, a zero forecast none?"""
    from datathon.challenges import get

    energy = get("energy")
    sample = REPO / "data_samples" / "energy"
    cell = Performance("e_test", "performance", (
        Measure(("growth_error",), "cumulative growth error", (Band(None, 1, at_most=0.50), Band(None, 3, at_most=0.25))),
        Measure(("mase",), "MASE", (Band(None, 2, at_most=2.0),), percent=False)), challenge="energy")
    reference = energy.reference(sample, "test")
    earned = award(reference, sample, cell)
    assert earned.value("cumulative growth error") < 0.25 and earned.points == 5.0
    zero = reference.assign(**{c: 0 for c in reference.columns if c != "date"})
    assert award(zero, sample, cell).value("cumulative growth error") == pytest.approx(1.0)
    assert award(zero, sample, cell).points == 0.0


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    return pd.read_parquet(SAMPLE / "truth_test.parquet")


def perfect(truth: pd.DataFrame) -> pd.DataFrame:
    """The truth as a submission: every codable bulletin coded right, with full confidence."""
    return pd.DataFrame({"CABBI": truth["CABBI"], "siret": truth[schema.TRUTH_COLUMN], "score": 1.0})


def test_a_perfect_submission_reaches_the_top_bands(monkeypatch, truth):
    """On the sample, does the truth itself earn the top success and coverage bands?"""
    result = award(perfect(truth), SAMPLE, TEST_CELL)
    codable = truth[schema.TRUTH_COLUMN].notna().mean()
    assert result.value("success rate") == pytest.approx(codable)
    assert result.value("coverage at 95 % precision") == pytest.approx(codable)
    assert [points for _, _, points in result.earned] == [4.0, 3.0] and result.points == 7.0


def test_an_empty_submission_earns_nothing(monkeypatch, truth):
    """Does a submission that codes nothing earn no point (bulletins left out count as not coded)?"""
    nothing = pd.DataFrame({"CABBI": truth["CABBI"].iloc[:10], "siret": None, "score": 0.0})
    result = award(nothing, SAMPLE, TEST_CELL)
    assert result.value("success rate") == 0.0 and result.points == 0.0


def test_a_hand_in_under_grading_only_writes_the_submission(monkeypatch, tmp_path, truth, capsys):
    """With DATATHON_HANDIN set (a sandboxed grading run), does hand_in write the whole submission there, score
    nothing in the notebook, and say that the grader scores it?"""
    monkeypatch.setenv(HANDIN_VARIABLE, str(tmp_path))
    assert hand_in(perfect(truth), assignment="challenge", cell="performance-tests", data_dir=SAMPLE) is None
    written = pd.read_csv(tmp_path / "performance-tests.csv", sep=";", dtype=str)
    assert len(written) == len(truth) and list(written.columns) == ["CABBI", "siret", "score"]
    assert "hidden truth" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["performance-tests.csv"]  # no temporary file left


def test_a_hand_in_elsewhere_previews_the_points_on_the_public_truth(monkeypatch, truth, capsys):
    """Outside grading, does hand_in give the points the submission would earn on the sample's own (public) truth,
    with the assignment's bands?"""
    monkeypatch.delenv(HANDIN_VARIABLE, raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    earned = hand_in(perfect(truth), assignment="challenge", cell="performance-tests", data_dir=SAMPLE)
    assert earned.points == performance("challenge", "performance-tests").max_points
    assert "Practice on data_samples" in capsys.readouterr().out


def test_a_hand_in_refuses_plain_nbgrader_autograde_and_a_missing_submission(monkeypatch, truth):
    """Under a plain `nbgrader autograde` (no sandbox, no hand-in folder), is the cell refused so it scores 0 instead
    of full points; and is something that is not a submission refused in one line?"""
    monkeypatch.delenv(HANDIN_VARIABLE, raising=False)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(UserError, match="datathon grade"):
        hand_in(perfect(truth), assignment="a3_learning", cell="q5-tests-bands", data_dir=SAMPLE)
    monkeypatch.delenv("NBGRADER_EXECUTION")
    with pytest.raises(UserError, match="DataFrame with CABBI and siret"):
        hand_in(None, assignment="a3_learning", cell="q5-tests-bands", data_dir=SAMPLE)


@pytest.mark.parametrize("perf", PERFORMANCE, ids=lambda p: f"{p.assignment}/{p.cell}")
def test_each_performance_cell_is_a_graded_cell_worth_its_bands(perf):
    """Is every performance cell the grader scores a graded, locked cell of its source notebook, worth exactly its
    bands' maximum, and calling hand_in with its own name?"""
    nb = nbformat.read(REPO / "solutions" / "sirene" / perf.assignment / f"{perf.assignment}.ipynb", as_version=4)
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == perf.cell]
    assert len(cells) == 1
    meta = cells[0].metadata["nbgrader"]
    assert meta["grade"] and meta["locked"] and meta["points"] == perf.max_points
    assert f'cell="{perf.cell}"' in cells[0].source and f'assignment="{perf.assignment}"' in cells[0].source
    assert "BEGIN HIDDEN TESTS" not in cells[0].source  # nothing hidden: the grader does the scoring
