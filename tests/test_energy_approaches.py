"""The energy challenge's forecasting approaches (datathon/challenges/energy/approaches.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datathon.challenges.energy import CHALLENGE
from datathon.challenges.energy import approaches as ea
from datathon.challenges.energy import exercises, scoring
from datathon.challenges.energy.world import MECHANISMS
from datathon.checks import CORRECT, INCORRECT, NOT_ATTEMPTED
from datathon.errors import UserError

SAMPLE = Path(__file__).resolve().parents[1] / "data_samples" / "energy"
LAG_SEED = 7411  # no notebook, benchmark or other test uses it


@pytest.fixture(scope="module")
def data() -> ea.EnergyData:
    return ea.load_history(SAMPLE)


@pytest.fixture(scope="module")
def train(data):
    """The train split as the challenge builds it: its truth and what was known before it."""
    truth = scoring.load_truth(SAMPLE, "train")
    origin = pd.Timestamp(truth["date"].min())
    return truth, data.before(origin), pd.DatetimeIndex(truth["date"])


@pytest.mark.parametrize("method", [ea.seasonal_naive, ea.last_year_trend, ea.auto_ets, ea.statistical,
                                    ea.reference_solution], ids=lambda m: m.__name__)
def test_each_approach_gives_a_submission_the_reader_accepts_and_scores(method, train):
    """Every method's frame passes the challenge's reader for the train days and gets finite scores;
    those with intervals get an interval score and bounds around the point forecast."""
    truth, known, days = train
    frame = method(known, days)
    submission = scoring.read_submission(frame, known_ids=truth["date"])
    assert len(submission.frame) == len(days)
    scores = scoring.score(submission, truth)
    assert np.isfinite(scores["growth_error"]) and np.isfinite(scores["mase"])
    assert scores["mase"] > 0 and scores["cumulative_forecast"] > 0  # a growing cooperative, forecast as such
    if "net_growth_lo80" in frame:
        assert scores["interval_score"] is not None and np.isfinite(scores["interval_score"])
        assert (frame["net_growth_lo80"] <= frame["net_growth"]).all()
        assert (frame["net_growth"] <= frame["net_growth_hi80"]).all()


def test_the_reference_baseline_is_the_challenges_reference(train):
    """last_year_trend on the days before the train split gives exactly the challenge's train reference."""
    truth, known, days = train
    ours = ea.last_year_trend(known, days)
    theirs = scoring.reference(SAMPLE, "train")
    pd.testing.assert_frame_equal(ours.reset_index(drop=True), theirs.reset_index(drop=True))


def test_methods_never_see_the_days_they_forecast(data):
    """before(origin) keeps no day at or after the origin, and no news after it, but every planned campaign."""
    origin = data.end - pd.Timedelta(days=100)
    known = data.before(origin)
    assert known.daily.index.max() < origin and known.signals.index.max() < origin
    news = known.calendar[known.calendar["kind"] == "news"]
    assert (news["start"] < origin).all()
    planned = data.calendar[data.calendar["kind"] == "campaign"]
    assert len(known.calendar[known.calendar["kind"] == "campaign"]) == len(planned)


def test_rolling_origins_and_backtest_stay_inside_the_history(data):
    """Every origin's 61 days end within the history, the last origin is the train split's, origins are
    28 days apart, and the backtest scores each with the challenge's scores."""
    origins = ea.rolling_origins(data, 4)
    assert len(origins) == 4
    assert (origins + pd.Timedelta(days=ea.HORIZON - 1) <= data.end).all()
    assert origins[-1] == data.end - pd.Timedelta(days=ea.HORIZON - 1)
    assert set(np.diff(origins).astype("timedelta64[D]").astype(int)) == {28}
    scores = ea.backtest(ea.seasonal_naive, data, origins)
    assert list(scores["origin"]) == list(origins)
    for origin, row in zip(origins, scores.itertuples()):
        truth = ea.backtest_truth(data, origin)
        expected = scoring.score(ea.seasonal_naive(data.before(origin), pd.DatetimeIndex(truth["date"])), truth)
        assert row.growth_error == pytest.approx(expected["growth_error"])


def test_a_backtest_past_the_history_is_refused(data):
    """An origin whose horizon runs past the data is a one-line UserError, not a KeyError."""
    with pytest.raises(UserError, match="past the history"):
        ea.backtest(ea.seasonal_naive, data, [data.end - pd.Timedelta(days=10)])


def test_learning_is_deterministic(train):
    """The boosting approach gives the same numbers twice (seeded, one thread)."""
    _, known, days = train
    first = ea.learning(known, days, social=True, max_rows=600)
    second = ea.learning(known, days, social=True, max_rows=600)
    pd.testing.assert_frame_equal(first, second)


def test_known_social_index_uses_only_days_before_the_origin():
    """The known index counts the surprises before the origin only, so it vanishes beyond the longest lag."""
    days = pd.date_range("2020-01-01", periods=60, freq="D")
    z = pd.Series(1.0, index=days)
    weights = pd.Series({3: 0.5, 5: 0.5})
    origin = days[30]
    targets = pd.date_range(origin, periods=8, freq="D")
    index = ea.known_social_index(z, weights, origin, targets)
    # Day origin + h − 1 uses z(t − 3) when h ≤ 3 and z(t − 5) when h ≤ 5.
    assert index.tolist() == [1.0, 1.0, 1.0, 0.5, 0.5, 0.0, 0.0, 0.0]


def test_the_social_lag_is_found_on_an_unseen_world(tmp_path):
    """On a world of a seed nothing else uses, the lag estimated from the data alone is within two
    days of the generator's documented peak lag."""
    out = tmp_path / "world"
    CHALLENGE.generate(LAG_SEED, "sample", out, progress=False)
    found = ea.social_lag(ea.load_history(out))
    assert abs(found - MECHANISMS["social_lag"]["peak_lag"]) <= 2


# The exercises' checks: a right answer is correct, a plausible wrong one is not (answers live here, never in
# the course's notebooks).
def _answers():
    def cumulative_error(forecast, truth):
        return abs(np.sum(forecast) - np.sum(truth)) / max(abs(np.sum(truth)), 1.0)

    def seasonal_naive_forecast(history, steps):
        return np.asarray(history, float)[-7:][np.arange(steps) % 7]

    def weekday_profile(daily):
        return daily.groupby(pd.to_datetime(daily["date"]).dt.day_of_week)["net_growth"].mean()

    def missing_days(signals):
        dates = pd.DatetimeIndex(pd.to_datetime(signals["date"]))
        return pd.date_range(dates.min(), dates.max(), freq="D").difference(dates)

    def naive_scale(y):
        y = np.asarray(y, float)
        return float(np.mean(np.abs(y[7:] - y[:-7])))

    def coverage(y, lo, hi):
        return float(np.mean((np.asarray(lo) <= np.asarray(y)) & (np.asarray(y) <= np.asarray(hi))))

    def direct_pairs(origins, horizon):
        return pd.DataFrame([{"origin": o, "horizon": h, "target_day": o + pd.Timedelta(days=h - 1)}
                             for o in origins for h in range(1, horizon + 1)])

    def relative_target(new, origin, value):
        return value / new[new.index < origin].iloc[-28:].mean()

    def known_share(lag, horizon):
        return min(lag, horizon) / horizon

    def best_lag(x, y, max_lag):
        return max(range(1, max_lag + 1), key=lambda k: x.shift(k).corr(y))

    def make_submission(days, net, lo, hi):
        return pd.DataFrame({"date": days, "net_growth": net, "net_growth_lo80": lo, "net_growth_hi80": hi})

    def widen(lo, hi, factor):
        centre, half = (lo + hi) / 2, (hi - lo) / 2
        return centre - factor * half, centre + factor * half

    def weekday_factors(daily):
        weekday = pd.to_datetime(daily["date"]).dt.day_of_week
        return daily.groupby(weekday)["new"].mean() / daily["new"].mean()

    def deseasonalise(daily, factors):
        return (daily["new"] / pd.to_datetime(daily["date"]).dt.day_of_week.map(pd.Series(factors))).to_numpy()

    def level_forecast(daily, factors, days):
        level = float(np.mean(deseasonalise(daily, factors)[-28:]))
        return level * pd.Series(factors).reindex(pd.DatetimeIndex(days).day_of_week).to_numpy()

    return locals()


_WRONG = {
    "cumulative_error": lambda forecast, truth: float(np.mean(np.abs(np.asarray(forecast) - np.asarray(truth)))),
    "seasonal_naive_forecast": lambda history, steps: np.repeat(np.asarray(history, float)[-1], steps),
    "weekday_profile": lambda daily: daily.groupby(pd.to_datetime(daily["date"]).dt.day_of_week)["net_growth"].sum(),
    "missing_days": lambda signals: [],
    "naive_scale": lambda y: float(np.mean(np.abs(np.diff(np.asarray(y, float))))),
    "coverage": lambda y, lo, hi: float(np.mean((np.asarray(lo) < np.asarray(y)) & (np.asarray(y) < np.asarray(hi)))),
    "direct_pairs": lambda origins, horizon: pd.DataFrame({"origin": list(origins), "horizon": 1,
                                                           "target_day": list(origins)}),
    "relative_target": lambda new, origin, value: value / new[new.index <= origin].iloc[-28:].mean(),
    "known_share": lambda lag, horizon: lag / horizon,
    "best_lag": lambda x, y, max_lag: 1,
    "make_submission": lambda days, net, lo, hi: pd.DataFrame({"date": days, "net_growth": net}),
    "widen": lambda lo, hi, factor: (lo * factor, hi * factor),
    "weekday_factors": lambda daily: daily.groupby(pd.to_datetime(daily["date"]).dt.day_of_week)["new"].mean(),
    "deseasonalise": lambda daily, factors: daily["new"].to_numpy() * 1.0,
    "level_forecast": lambda daily, factors, days: np.repeat(daily["new"].iloc[-28:].mean(), len(days)),
}


@pytest.mark.parametrize("label", exercises.__all__)
def test_each_exercise_check_accepts_a_right_answer_and_rejects_a_wrong_one(label):
    """Every energy question says correct for a right answer, incorrect for a plausible mistake, and
    not attempted for a stub that raises NotImplementedError."""
    question = getattr(exercises, label)
    right = _answers()
    name = question.names[0]
    assert question.feedback({name: right[name]}).status == CORRECT, question.feedback({name: right[name]}).line
    assert question.feedback({name: _WRONG[name]}).status == INCORRECT

    def stub(*args):
        raise NotImplementedError

    assert question.feedback({name: stub}).status == NOT_ATTEMPTED
