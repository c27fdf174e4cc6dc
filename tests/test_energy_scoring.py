"""The energy challenge's submissions, scores, reference and split (datathon/challenges/energy/scoring.py)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datathon.challenge import Direction
from datathon.challenges import get
from datathon.challenges.energy import data, schema, scoring
from datathon.errors import UserError

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "energy"
ENERGY = get("energy")
KEYS = [t.key for t in ENERGY.score_types]


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    return ENERGY.load_truth(SAMPLE, "test")


def _csv(truth: pd.DataFrame, header: str = "date;net_growth;new;terminations", rows=None) -> bytes:
    """A submission file: the header, then one line per truth day (``rows(i, day)`` gives its fields)."""
    rows = rows or (lambda i, day: f"{day};40;50;10")
    lines = [header] + [rows(i, f"{d:%Y-%m-%d}") for i, d in enumerate(truth["date"])]
    return ("\n".join(lines) + "\n").encode()


# --------------------------------------------------------------------------- the contract's declarations


def test_challenge_declares_lower_is_better_scores_and_a_time_split():
    """Score types in order growth_error, mase, interval_score, all lower is better; a time split with no
    default share; the submission's required columns are date and net_growth."""
    assert KEYS == ["growth_error", "mase", "interval_score"]
    assert all(t.direction is Direction.LOWER for t in ENERGY.score_types)
    assert ENERGY.split_kind == "time" and ENERGY.default_public_share is None
    assert ENERGY.submission.required == ("date", "net_growth")
    assert ENERGY.schema.id_column == "date" and ENERGY.schema.file(schema.TRUTH).role == "truth"


# --------------------------------------------------------------------------- reading


def test_reads_a_full_submission_with_parts_and_intervals(truth):
    """A ';' file with parts and interval bounds, a decimal comma and a BOM reads into a typed frame
    sorted by date."""
    text = _csv(truth, "date;net_growth;new;terminations;net_growth_lo80;net_growth_hi80",
                lambda i, d: f"{d};40,5;50,5;10;20;60")
    submission = ENERGY.read_submission(b"\xef\xbb\xbf" + text, known_ids=truth["date"])
    frame = submission.frame
    assert list(frame.columns) == ["date", "net_growth", "new", "terminations", "net_growth_lo80", "net_growth_hi80"]
    assert frame["net_growth"].iloc[0] == 40.5 and len(frame) == 61 and frame["date"].is_monotonic_increasing
    assert submission.sha256 and submission.warnings == []


def test_reads_a_comma_file_without_parts_and_a_frame(truth, tmp_path):
    """Parts are optional: 'date,net_growth' is enough; a DataFrame with datetime dates reads the same;
    unknown columns are ignored with a warning."""
    path = tmp_path / "s.csv"
    path.write_bytes(_csv(truth, "date,net_growth,comment", lambda i, d: f"{d},{i},x"))
    from_file = ENERGY.read_submission(path, known_ids=truth["date"])
    from_frame = ENERGY.read_submission(pd.DataFrame({"date": truth["date"], "net_growth": np.arange(61.0)}),
                                        known_ids=truth["date"])
    assert (from_file.frame["net_growth"].to_numpy() == from_frame.frame["net_growth"].to_numpy()).all()
    assert any("comment" in w for w in from_file.warnings)


REFUSALS = [
    (b"", "empty"),
    (b'{"date": 1}', "looks like JSON"),
    (b"\x89PNG\r\n\x1a\n....", "date;net_growth"),
    (b"date;new\n2019-11-01;3\n", "missing required column net_growth"),
    (b"2019-11-01;3\n", "looks like data"),
    (b"date\tnet_growth\n2019-11-01\t3\n", "tab"),
    (b"date;net_growth;net_growth\n", "repeats net_growth"),
    (b"date;net_growth;new\n", "has new but not terminations"),
    (b"date;net_growth;net_growth_lo80\n", "has net_growth_lo80 but not net_growth_hi80"),
    (b"date;net_growth\n", "no forecast line"),
]


@pytest.mark.parametrize("raw,phrase", REFUSALS, ids=[p for _, p in REFUSALS])
def test_refuses_malformed_files_in_one_line(raw, phrase, truth):
    """Each malformed file is one UserError line saying what is wrong."""
    with pytest.raises(UserError) as err:
        ENERGY.read_submission(raw, known_ids=truth["date"])
    assert phrase in str(err.value) and "\n" not in str(err.value)


VALUE_REFUSALS = {
    "bad date": (lambda i, d: f"{'01/11/2019' if i == 3 else d};1;1;0", "not a day written YYYY-MM-DD (line 5)"),
    "repeated date": (lambda i, d: f"{'2019-11-01' if i == 1 else d};1;1;0", "given more than once"),
    "outside": (lambda i, d: f"{'2020-01-05' if i == 60 else d};1;1;0", "outside the forecast days"),
    "blank": (lambda i, d: f"{d};{'' if i == 2 else 1};1;0", "empty net_growth value"),
    "not finite": (lambda i, d: f"{d};{'inf' if i == 2 else 1};1;0", "not a finite number"),
    "nan": (lambda i, d: f"{d};{'nan' if i == 2 else 1};1;0", "not a finite number"),
    "text": (lambda i, d: f"{d};{'many' if i == 2 else 1};1;0", "not a finite number"),
    "negative part": (lambda i, d: f"{d};1;{-1 if i == 4 else 1};{-2 if i == 4 else 0}", "new value below 0"),
    "inconsistent": (lambda i, d: f"{d};{5 if i == 0 else 1};1;0", "net_growth is not new - terminations"),
    "fields": (lambda i, d: f"{d};1;1" if i == 0 else f"{d};1;1;0", "not have the header's 4 fields (line 2)"),
}


@pytest.mark.parametrize("case", sorted(VALUE_REFUSALS))
def test_refuses_bad_values_in_one_line_naming_the_line(case, truth):
    """Each bad value is one UserError line naming the problem (and the line where it can)."""
    rows, phrase = VALUE_REFUSALS[case]
    with pytest.raises(UserError) as err:
        ENERGY.read_submission(_csv(truth, rows=rows), known_ids=truth["date"])
    assert phrase in str(err.value) and "\n" not in str(err.value)


def test_refuses_missing_days_reversed_intervals_and_big_files(truth):
    """A missing forecast day is named; lo above hi is refused; a file over the byte limit is refused
    before parsing; without known days the dates must be consecutive."""
    short = truth.iloc[:-2]
    with pytest.raises(UserError, match="2 forecast days missing: 2019-12-30, 2019-12-31"):
        ENERGY.read_submission(_csv(short), known_ids=truth["date"])
    reversed_ = _csv(truth, "date;net_growth;net_growth_lo80;net_growth_hi80", lambda i, d: f"{d};1;{5 if i else 0};2")
    with pytest.raises(UserError, match="net_growth_lo80 above net_growth_hi80"):
        ENERGY.read_submission(reversed_, known_ids=truth["date"])
    with pytest.raises(UserError, match="more than the 100-byte limit"):
        ENERGY.read_submission(_csv(truth), max_bytes=100)
    gap = truth.drop(index=5)
    with pytest.raises(UserError, match="consecutive"):
        ENERGY.read_submission(_csv(gap))


# --------------------------------------------------------------------------- scores


def _tiny_truth(values, naive_mae=2.0) -> pd.DataFrame:
    truth = pd.DataFrame({"date": pd.date_range("2019-11-01", periods=len(values), freq="D"),
                          "net_growth": np.array(values, dtype="int64")})
    truth.attrs["naive_mae"] = naive_mae
    return truth


def test_scores_on_a_hand_computed_case():
    """Truth 10, -2, 5 (sum 13), forecast 8, 0, 8 (sum 16), naive MAE 2: growth_error 3/13, MASE
    (7/3)/2; intervals [5,12], [1,4], [6,9]: Winkler 7, 3 + 10·3, 3 + 10·1, mean 53/3, scaled 53/6."""
    truth = _tiny_truth([10, -2, 5])
    forecast = pd.DataFrame({"date": truth["date"], "net_growth": [8.0, 0.0, 8.0],
                             "net_growth_lo80": [5.0, 1.0, 6.0], "net_growth_hi80": [12.0, 4.0, 9.0]})
    result = ENERGY.score(ENERGY.read_submission(forecast, known_ids=truth["date"]), truth)
    assert result["growth_error"] == pytest.approx(3 / 13)
    assert result["mase"] == pytest.approx(7 / 6)
    assert result["interval_score"] == pytest.approx(53 / 6)
    without = ENERGY.score(ENERGY.read_submission(forecast[["date", "net_growth"]]), truth)
    assert without["interval_score"] is None and without["growth_error"] == pytest.approx(3 / 13)


def test_scores_stay_finite_when_the_truth_sums_to_zero_or_has_no_scale():
    """A truth summing to 0 divides by 1; without a history scale mase is None; every key is present."""
    truth = _tiny_truth([1, -1], naive_mae=None)
    result = ENERGY.score(pd.DataFrame({"date": truth["date"], "net_growth": [2.0, 0.0]}), truth)
    assert result["growth_error"] == 2.0 and result["mase"] is None
    assert set(KEYS) <= set(result)
    assert all(v is None or math.isfinite(v) for k, v in result.items() if k in KEYS)


def test_naive_scale_is_the_weekly_seasonal_naive_mae():
    """The MASE scale is the mean |y(t) - y(t-7)| over the history before the scored days, with a
    missing day leaving its pairs out."""
    days = pd.date_range("2019-01-01", periods=15, freq="D")
    values = np.arange(15) * 2  # y(t) - y(t-7) = 14 everywhere
    daily = pd.DataFrame({"date": days, "net_growth": values})
    assert scoring.naive_mae(daily, days[-1] + pd.Timedelta(days=1)) == 14.0
    assert scoring.naive_mae(daily.drop(index=10), days[-1] + pd.Timedelta(days=1)) == 14.0
    assert scoring.naive_mae(daily, days[7]) is None  # no pair before the eighth day


def test_context_gives_the_same_scale_as_the_truth_frame(truth):
    """Scoring with the engine's context (computed from the directory) equals scoring the loaded truth."""
    reference = ENERGY.read_submission(ENERGY.reference(SAMPLE, "test"), known_ids=truth["date"])
    context = ENERGY.context(SAMPLE, truth)
    assert context["naive_mae"] == truth.attrs["naive_mae"] > 0
    assert ENERGY.score(reference, truth, context=context) == ENERGY.score(reference, truth)


# --------------------------------------------------------------------------- reference


@pytest.mark.parametrize("split", ["test", "train"])
def test_reference_beats_the_zero_forecast(split):
    """The reference, read back as a submission, beats forecasting no growth on both scores, on both splits."""
    truth = ENERGY.load_truth(SAMPLE, split)
    frame = ENERGY.reference(SAMPLE, split)
    reference = ENERGY.score(ENERGY.read_submission(frame.to_csv(sep=";", index=False).encode(),
                                                    known_ids=truth["date"]), truth)
    zero = ENERGY.score(pd.DataFrame({"date": truth["date"], "net_growth": 0.0}), truth)
    assert reference["growth_error"] < zero["growth_error"] and reference["mase"] < zero["mase"]


def test_reference_is_last_year_scaled_by_the_recent_trend():
    """One day by hand: new 364 days before × (new of the last 13 weeks / new of the same weeks a year
    earlier), likewise for terminations; net = new - terminations."""
    daily = data.history(SAMPLE).set_index("date")
    first = daily.index.max() + pd.Timedelta(days=1)
    recent = pd.date_range(first - pd.Timedelta(days=91), periods=91, freq="D")
    ratio = daily.loc[recent, "new"].sum() / daily.loc[recent - pd.Timedelta(days=364), "new"].sum()
    frame = ENERGY.reference(SAMPLE, "test")
    day = 10
    expected = daily.loc[first + pd.Timedelta(days=day) - pd.Timedelta(days=364), "new"] * ratio
    assert frame.loc[day, "new"] == pytest.approx(expected, abs=0.006)
    assert (frame["net_growth"] - (frame["new"] - frame["terminations"])).abs().max() < 0.011
    assert frame["date"].iloc[0] == f"{first:%Y-%m-%d}"


# --------------------------------------------------------------------------- truth and split


def test_truth_splits_test_and_train():
    """test is truth_test.parquet; train is the history's last 61 days; an unknown split or a
    participant's copy without the truth is one line."""
    test = ENERGY.load_truth(SAMPLE, "test")
    train = ENERGY.load_truth(SAMPLE, "train")
    daily = data.history(SAMPLE)
    assert list(test.columns) == ["date", "new", "terminations", "net_growth"] and len(test) == len(train) == 61
    assert list(train["date"]) == list(daily["date"].iloc[-61:])
    assert train.attrs["naive_mae"] != test.attrs["naive_mae"]
    with pytest.raises(UserError, match="unknown split 'dev'"):
        ENERGY.load_truth(SAMPLE, "dev")


def test_participants_copy_has_no_test_truth(tmp_path):
    """Without truth_test.parquet, load_truth('test') says whose it is, in one line; train still works."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(SAMPLE, copy)
    (copy / schema.TRUTH).unlink()
    with pytest.raises(UserError) as err:
        ENERGY.load_truth(copy, "test")
    assert "instructor" in str(err.value) and "\n" not in str(err.value)
    assert len(ENERGY.load_truth(copy, "train")) == 61
    assert len(ENERGY.reference(copy, "test")) == 61  # the reference needs no truth


def test_split_is_exactly_the_first_calendar_month(truth):
    """Public: the 30 days of November; private: the 31 of December; the salt changes nothing; a share is
    refused in one line."""
    public = ENERGY.split(truth, "salt", None)
    assert public.dtype == bool and public.sum() == 30
    assert (truth.loc[public, "date"].dt.month == 11).all() and (truth.loc[~public, "date"].dt.month == 12).all()
    assert (ENERGY.split(truth, "other", None) == public).all()
    with pytest.raises(UserError) as err:
        ENERGY.split(truth, "salt", 0.5)
    assert "splits by time" in str(err.value) and "\n" not in str(err.value)


def test_score_takes_the_reference_frame_as_it_is(truth):
    """reference() gives dates as text (as the CSV holds them): score() matches them to the truth's days
    and gives the same figures as the file read back."""
    frame = ENERGY.reference(SAMPLE, "test")
    read_back = ENERGY.read_submission(frame.to_csv(sep=";", index=False).encode(), known_ids=truth["date"])
    direct = ENERGY.score(frame, truth)
    assert direct["warnings"] == [] and direct == ENERGY.score(read_back, truth)


def test_engine_default_score_parts_split_by_month(truth):
    """The contract's default score_parts, given the reference as the engine wraps it (as_submission),
    scores November and December apart: each part's cumulative truth is its own month's."""
    reference = ENERGY.as_submission(ENERGY.reference(SAMPLE, "test"))
    public = ENERGY.split(truth, "salt", None)
    first, second, warnings = ENERGY.score_parts(reference, truth, public, context=ENERGY.context(SAMPLE, truth))
    assert first["n_days"] == 30 and second["n_days"] == 31 and warnings == []
    assert first["cumulative_truth"] == truth.loc[public, "net_growth"].sum()
    assert second["cumulative_truth"] == truth.loc[~public, "net_growth"].sum()
    assert all(first[k] is not None for k in ("growth_error", "mase"))
