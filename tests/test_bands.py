"""datathon/bands.py: partial credit by performance bands, measured on the grading truth."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from datathon import schema
from datathon.bands import GRADING_DATA, Award, Band, award, grading_directory, points_for
from datathon.errors import UserError

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples"
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


def test_the_grading_directory_is_the_data_directory_by_default(monkeypatch, tmp_path):
    """Without DATATHON_GRADING_DATA, is the data directory the notebook ran on used?"""
    monkeypatch.delenv(GRADING_DATA, raising=False)
    assert grading_directory(tmp_path) == tmp_path
    assert grading_directory(str(tmp_path)) == tmp_path


def test_the_grading_variable_wins(monkeypatch, tmp_path):
    """With DATATHON_GRADING_DATA set, is its directory used instead of the notebook's?"""
    event = tmp_path / "event"
    event.mkdir()
    monkeypatch.setenv(GRADING_DATA, str(event))
    assert grading_directory(tmp_path / "anything") == event


def test_a_missing_grading_directory_is_named(monkeypatch, tmp_path):
    """Is a DATATHON_GRADING_DATA naming no directory a UserError naming the variable and the path, and a
    missing data directory one naming the directory?"""
    missing = tmp_path / "no-such-event"
    monkeypatch.setenv(GRADING_DATA, str(missing))
    with pytest.raises(UserError) as err:
        grading_directory(SAMPLE)
    assert GRADING_DATA in str(err.value) and str(missing) in str(err.value)
    monkeypatch.delenv(GRADING_DATA)
    with pytest.raises(UserError, match="no-such-event"):
        grading_directory(missing)


def test_an_award_adds_both_kinds_of_points():
    """Is an award's total the success points plus the coverage points, and its text readable?"""
    a = Award(success_rate=0.5, coverage_at_95=None, success_points=1.0, coverage_points=0.0)
    assert a.points == 1.0
    assert "50.0%" in str(a) and "n/a" in str(a)


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    return pd.read_parquet(SAMPLE / "truth_test.parquet")


def perfect(truth: pd.DataFrame) -> pd.DataFrame:
    """The truth as a submission: every codable bulletin coded right, with full confidence."""
    return pd.DataFrame({"CABBI": truth["CABBI"], "siret": truth[schema.TRUTH_COLUMN], "score": 1.0})


def test_a_perfect_submission_reaches_the_top_bands(monkeypatch, truth):
    """On the sample, does the truth itself earn the top success and coverage bands?"""
    monkeypatch.delenv(GRADING_DATA, raising=False)
    result = award(perfect(truth), SAMPLE, success=SUCCESS, coverage=COVERAGE)
    codable = truth[schema.TRUTH_COLUMN].notna().mean()
    assert result.success_rate == pytest.approx(codable)
    assert result.coverage_at_95 == pytest.approx(codable)
    assert result.success_points == 4.0 and result.coverage_points == 3.0 and result.points == 7.0


def test_an_empty_submission_earns_nothing(monkeypatch, truth):
    """Does a submission that codes nothing earn no point (bulletins left out count as not coded)?"""
    monkeypatch.delenv(GRADING_DATA, raising=False)
    nothing = pd.DataFrame({"CABBI": truth["CABBI"].iloc[:10], "siret": None, "score": 0.0})
    result = award(nothing, SAMPLE, success=SUCCESS, coverage=COVERAGE)
    assert result.success_rate == 0.0 and result.points == 0.0


def test_the_award_is_measured_on_the_grading_truth(monkeypatch, tmp_path, truth):
    """With DATATHON_GRADING_DATA naming a directory whose truth differs, is the submission measured on
    that truth rather than on the notebook's data directory?"""
    event = tmp_path / "event"
    event.mkdir()
    other = truth.copy()
    other[schema.TRUTH_COLUMN] = None  # nobody codable: the perfect submission is all wrong there
    other.to_parquet(event / "truth_test.parquet")
    monkeypatch.setenv(GRADING_DATA, str(event))
    result = award(perfect(truth), SAMPLE, success=SUCCESS, coverage=COVERAGE)
    assert result.success_rate == 0.0 and result.points == 0.0
