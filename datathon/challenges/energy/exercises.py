"""The energy course's "predict, then check" exercises (``course/energy/``): ``q.check()``, ``q.hint()``.

Each notebook asks for a small function after a question to answer in one's head first::

    from datathon.challenges.energy.exercises import q00_1
    def cumulative_error(forecast, truth): ...
    q00_1.check()

Each check tries small examples written for it and properties every right answer has; none holds
the answer's code (:mod:`datathon.checks`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from datathon.checks import Incorrect, Question, approx, call, expect, show

__all__ = ["q00_1", "q00_2", "q01_1", "q01_2", "q02_1", "q02_2", "q03_1", "q03_2", "q04_1", "q04_2",
           "q05_1", "q05_2", "e1_q1", "e1_q2", "e1_q3"]


# ------------------------------------------------------------------------------------------------ 00


def _verify_cumulative_error(cumulative_error) -> str:
    cases = [([10, 20, 30], [10, 20, 30], 0.0, "a perfect forecast"),
             ([30, 20, 10], [10, 20, 30], 0.0, "daily errors that cancel: the total is right"),
             ([12, 12, 12], [10, 10, 10], 0.2, "6 too many over a truth of 30"),
             ([0, 0], [-5, 5], 0.0, "a truth summing to 0 divides by 1, not by 0"),
             ([5, 5], [-5, 5], 10.0, "a truth summing to 0 divides by 1")]
    for forecast, truth, wanted, why in cases:
        got = call(cumulative_error, np.array(forecast, float), np.array(truth, float))
        expect(approx(got, wanted, 1e-9), cumulative_error, [forecast, truth], got, f"{wanted} ({why})")
    return "cumulative_error() is |Σ forecast − Σ truth| / max(|Σ truth|, 1): daily errors of opposite signs cancel."


q00_1 = Question(
    "q00_1", ["cumulative_error"], _verify_cumulative_error,
    "Sum each series first, then compare the two totals; divide by the truth's total in absolute value, "
    "but never by less than 1.",
)


def _verify_seasonal_naive(seasonal_naive_forecast) -> str:
    history = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14], float)
    got = call(seasonal_naive_forecast, history, 10)
    wanted = np.array([8, 9, 10, 11, 12, 13, 14, 8, 9, 10], float)
    expect(got is not None and len(got) == 10 and np.allclose(np.asarray(got, float), wanted),
           seasonal_naive_forecast, [history, 10], got, f"{show(list(wanted))} (the last 7 days, repeated)")
    got = call(seasonal_naive_forecast, history, 3)
    expect(got is not None and np.allclose(np.asarray(got, float), [8, 9, 10]), seasonal_naive_forecast,
           [history, 3], got, "[8.0, 9.0, 10.0] (the first days of the last week)")
    return "seasonal_naive_forecast() repeats the last week: MASE's yardstick."


q00_2 = Question(
    "q00_2", ["seasonal_naive_forecast"], _verify_seasonal_naive,
    "Take the last 7 values; day h after the history (h = 0, 1, …) is value h modulo 7 of that week.",
)


# ------------------------------------------------------------------------------------------------ 01


def _daily_example() -> pd.DataFrame:
    days = pd.date_range("2024-01-01", periods=21, freq="D")  # 2024-01-01 is a Monday
    net = np.tile([10, 12, 11, 9, 8, 3, 1], 3) + np.repeat([0, 1, 2], 7)
    return pd.DataFrame({"date": days, "net_growth": net})


def _by_weekday_matches(got, wanted: np.ndarray) -> bool:
    """``got`` (a Series or list) holds the 7 values of ``wanted``, Monday (0) first once sorted by index."""
    try:
        values = pd.Series(got).sort_index().to_numpy(dtype=float)
    except (TypeError, ValueError):
        return False
    return len(values) == 7 and bool(np.allclose(values, wanted))


def _verify_weekday_profile(weekday_profile) -> str:
    daily = _daily_example()
    got = call(weekday_profile, daily)
    wanted = pd.Series([11.0, 13.0, 12.0, 10.0, 9.0, 4.0, 2.0], index=range(7))
    expect(_by_weekday_matches(got, wanted.to_numpy()), weekday_profile, ["a 3-week frame"], got,
           f"{show(wanted.tolist())} (mean net growth by weekday, Monday = 0 first)")
    return "weekday_profile() gives the mean by weekday: weekends are the low days here."


q01_1 = Question(
    "q01_1", ["weekday_profile"], _verify_weekday_profile,
    "pandas gives the weekday of a date column as .dt.day_of_week (Monday = 0); group by it and average.",
)


def _verify_missing_days(missing_days) -> str:
    dates = pd.to_datetime(["2024-03-01", "2024-03-02", "2024-03-05", "2024-03-06", "2024-03-09"])
    got = call(missing_days, pd.DataFrame({"date": dates, "reach": [1, 2, 3, 4, 5]}))
    wanted = pd.to_datetime(["2024-03-03", "2024-03-04", "2024-03-07", "2024-03-08"])
    ok = got is not None and len(got) == len(wanted) and pd.DatetimeIndex(pd.to_datetime(list(got))).equals(wanted)
    expect(ok, missing_days, ["signals with 4 days absent"], got,
           "the 4 absent dates 2024-03-03, 03-04, 03-07, 03-08 (between the first and the last day)")
    got = call(missing_days, pd.DataFrame({"date": dates[:2], "reach": [1, 2]}))
    expect(got is not None and len(got) == 0, missing_days, ["two consecutive days"], got, "no date")
    return "missing_days() lists the days absent between the first and the last: gaps to fill or mask."


q01_2 = Question(
    "q01_2", ["missing_days"], _verify_missing_days,
    "pd.date_range(first, last, freq='D') lists every day; keep those not in the frame's dates.",
)


# ------------------------------------------------------------------------------------------------ 02


def _verify_naive_scale(naive_scale) -> str:
    y = np.array([5, 6, 7, 8, 9, 10, 11, 7, 6, 9, 8, 9, 12, 11], float)
    got = call(naive_scale, y)
    wanted = float(np.mean(np.abs(y[7:] - y[:-7])))
    expect(approx(got, wanted, 1e-9), naive_scale, [y], got, f"{wanted:.6g} (mean |y(t) − y(t−7)|)")
    got = call(naive_scale, np.tile([3.0, 1, 4, 1, 5, 9, 2], 3))
    expect(approx(got, 0.0, 1e-12), naive_scale, ["a series repeating every week"], got, "0")
    return "naive_scale() is the seasonal naive's in-sample error: MASE divides by it."


q02_1 = Question(
    "q02_1", ["naive_scale"], _verify_naive_scale,
    "Compare each value with the one 7 days before (y[7:] against y[:-7]); average the absolute gaps.",
)


def _verify_coverage(coverage) -> str:
    y = np.array([1, 5, 9, 4, 7], float)
    lo = np.array([0, 6, 8, 4, 2], float)
    hi = np.array([2, 8, 10, 4, 6], float)
    got = call(coverage, y, lo, hi)
    expect(approx(got, 0.6, 1e-9), coverage, [y, lo, hi], got, "0.6 (3 of 5 inside, bounds included)")
    return "coverage() is the share of days inside their interval: an 80 % interval should hold about 0.8."


q02_2 = Question(
    "q02_2", ["coverage"], _verify_coverage,
    "A day is covered when lo ≤ y ≤ hi; the mean of a boolean array is the share of True.",
)


# ------------------------------------------------------------------------------------------------ 03


def _verify_direct_pairs(direct_pairs) -> str:
    origins = pd.to_datetime(["2024-01-10", "2024-01-20"])
    got = call(direct_pairs, origins, 3)
    try:
        frame = pd.DataFrame(got)
        ok = (len(frame) == 6 and list(frame["horizon"]) == [1, 2, 3, 1, 2, 3]
              and list(pd.to_datetime(frame["target_day"]).dt.day) == [10, 11, 12, 20, 21, 22])
    except (KeyError, TypeError, ValueError):
        ok = False
    expect(ok, direct_pairs, [list(origins.strftime("%Y-%m-%d")), 3], got,
           "6 rows: horizon 1, 2, 3 per origin, target_day = origin + horizon − 1")
    return "direct_pairs() makes one training row per (origin, horizon): one model learns every horizon."


q03_1 = Question(
    "q03_1", ["direct_pairs"], _verify_direct_pairs,
    "For each origin and each h in 1..horizon, a row with origin, horizon = h and "
    "target_day = origin + (h − 1) days; pd.Timedelta(days=...) adds days.",
)


def _verify_relative_target(relative_target) -> str:
    new = pd.Series([10.0] * 28 + [20.0] * 28, index=pd.date_range("2024-01-01", periods=56, freq="D"))
    got = call(relative_target, new, pd.Timestamp("2024-01-29"), 50.0)
    expect(approx(got, 5.0, 1e-9), relative_target, ["new", "2024-01-29", 50.0], got,
           "5.0 (50 over the mean of the 28 days before the origin, 10)")
    got = call(relative_target, new, pd.Timestamp("2024-02-26"), 50.0)
    expect(approx(got, 2.5, 1e-9), relative_target, ["new", "2024-02-26", 50.0], got,
           "2.5 (the origin's own day is not known yet: the 28 days before it average 20)")
    return "relative_target() divides by the level known at the origin: one model serves a growing cooperative."


q03_2 = Question(
    "q03_2", ["relative_target"], _verify_relative_target,
    "Take the 28 values strictly before the origin (new[new.index < origin].iloc[-28:]) and divide by their mean.",
)


# ------------------------------------------------------------------------------------------------ 04


def _verify_known_share(known_share) -> str:
    cases = [(10, 61, 10 / 61, "10 of 61 days"), (0, 61, 0.0, "no lag, nothing known ahead"),
             (90, 61, 1.0, "a lag longer than the horizon informs every day"), (1, 1, 1.0, "one day")]
    for lag, horizon, wanted, why in cases:
        got = call(known_share, lag, horizon)
        expect(approx(got, wanted, 1e-9), known_share, [lag, horizon], got, f"{wanted:.4g} ({why})")
    return "known_share() = min(lag, horizon) / horizon: a lag only informs the first days of the horizon."


q04_1 = Question(
    "q04_1", ["known_share"], _verify_known_share,
    "Day h of the horizon (1..H) depends on the signal of day h − lag, which is known when h ≤ lag.",
)


def _verify_best_lag(best_lag) -> str:
    rng = np.random.default_rng(3)
    x = pd.Series(rng.normal(size=400))
    y = 0.8 * x.shift(6) + 0.2 * rng.normal(size=400)
    got = call(best_lag, x, y, 20)
    expect(got == 6, best_lag, ["x", "y = 0.8·x(t−6) + noise", 20], got, "6")
    y = 0.8 * x.shift(3) + 0.2 * rng.normal(size=400)
    got = call(best_lag, x, y, 20)
    expect(got == 3, best_lag, ["x", "y = 0.8·x(t−3) + noise", 20], got, "3")
    return "best_lag() finds where x leads y most: the peak of the cross-correlation."


q04_2 = Question(
    "q04_2", ["best_lag"], _verify_best_lag,
    "For k in 1..max_lag compute x.shift(k).corr(y) (pandas skips the missing pairs); return the k of the largest.",
)


# ------------------------------------------------------------------------------------------------ 05


def _verify_make_submission(make_submission) -> str:
    from datathon.challenges.energy.scoring import read_submission

    days = pd.date_range("2019-11-01", periods=3, freq="D")
    got = call(make_submission, days, np.array([10.0, 12.5, 9.0]), np.array([5.0, 8.0, 4.0]),
               np.array([15.0, 16.0, 14.0]))
    if not isinstance(got, pd.DataFrame):
        raise Incorrect(f"make_submission(...) returned {show(got)}, expected a DataFrame with date, net_growth, "
                        "net_growth_lo80, net_growth_hi80")
    submission = read_submission(got, known_ids=days)
    frame = submission.frame
    expect(np.allclose(frame["net_growth"], [10.0, 12.5, 9.0]) and np.allclose(frame["net_growth_lo80"], [5, 8, 4])
           and np.allclose(frame["net_growth_hi80"], [15, 16, 14]), make_submission,
           ["3 days", "net", "lo", "hi"], frame.to_dict("list"), "the values given, in the right columns")
    return "make_submission() gives a frame the challenge's reader accepts, intervals included."


q05_1 = Question(
    "q05_1", ["make_submission"], _verify_make_submission,
    "Columns date (YYYY-MM-DD text or dates), net_growth, net_growth_lo80, net_growth_hi80; one row per day.",
)


def _verify_widen(widen) -> str:
    lo, hi = np.array([8.0, 0.0]), np.array([12.0, 10.0])
    got = call(widen, lo, hi, 2.0)
    ok = got is not None and len(got) == 2 and np.allclose(got[0], [6.0, -5.0]) and np.allclose(got[1], [14.0, 15.0])
    expect(ok, widen, [lo, hi, 2.0], got, "([6, -5], [14, 15]): each interval twice as wide, same centre")
    got = call(widen, lo, hi, 1.0)
    ok = got is not None and np.allclose(got[0], lo) and np.allclose(got[1], hi)
    expect(ok, widen, [lo, hi, 1.0], got, "the same bounds (a factor of 1)")
    return "widen() scales an interval about its centre: the fix when backtests cover less than 80 %."


q05_2 = Question(
    "q05_2", ["widen"], _verify_widen,
    "centre = (lo + hi) / 2 and half = (hi − lo) / 2; return centre − factor·half, centre + factor·half.",
)


# ------------------------------------------------------------------------------------------------ e1_decomposition
# The graded assignment's checks (solutions/energy/e1_decomposition): other examples than its graded tests.


def _daily_frame(new, start="2024-01-01") -> pd.DataFrame:
    days = pd.date_range(start, periods=len(new), freq="D")
    return pd.DataFrame({"date": days, "new": np.asarray(new, float)})


def _verify_weekday_factors(weekday_factors) -> str:
    daily = _daily_frame(np.tile([12, 12, 12, 12, 12, 6, 4], 4))  # starts on a Monday
    got = call(weekday_factors, daily)
    wanted = np.array([12, 12, 12, 12, 12, 6, 4]) / 10.0
    expect(_by_weekday_matches(got, wanted), weekday_factors, ["4 weeks of 12, 12, 12, 12, 12, 6, 4"], got,
           f"{show(wanted.tolist())} (each weekday's mean over the mean of all days)")
    return "weekday_factors() gives each weekday's multiplier: they average 1."


e1_q1 = Question(
    "e1_q1", ["weekday_factors"], _verify_weekday_factors,
    "Group new by the weekday of date (.dt.day_of_week), take the mean, divide by the mean of all days.",
)


def _verify_deseasonalise(deseasonalise) -> str:
    daily = _daily_frame(np.tile([12, 12, 12, 12, 12, 6, 4], 2) * np.repeat([1, 2], 7))
    factors = pd.Series([1.2, 1.2, 1.2, 1.2, 1.2, 0.6, 0.4], index=range(7))
    got = call(deseasonalise, daily, factors)
    wanted = np.repeat([10.0, 20.0], 7)
    ok = got is not None and len(got) == 14 and np.allclose(np.asarray(got, dtype=float), wanted)
    expect(ok, deseasonalise, ["2 weeks, the second twice the first", "factors"], got,
           "7 × 10 then 7 × 20 (each day divided by its weekday's factor)")
    return "deseasonalise() divides each day by its weekday's factor: what is left is the level."


e1_q2 = Question(
    "e1_q2", ["deseasonalise"], _verify_deseasonalise,
    "Map each date's weekday to its factor (factors[weekday]) and divide new by it, day by day.",
)


def _verify_level_forecast(level_forecast) -> str:
    daily = _daily_frame(np.tile([12, 12, 12, 12, 12, 6, 4], 8))
    factors = pd.Series([1.2, 1.2, 1.2, 1.2, 1.2, 0.6, 0.4], index=range(7))
    days = pd.date_range(daily["date"].max() + pd.Timedelta(days=1), periods=9, freq="D")
    got = call(level_forecast, daily, factors, days)
    wanted = np.array([12, 12, 12, 12, 12, 6, 4, 12, 12], float)
    ok = got is not None and len(got) == 9 and np.allclose(np.asarray(got, dtype=float), wanted)
    expect(ok, level_forecast, ["8 steady weeks", "factors", "9 days"], got,
           f"{show(wanted.tolist())} (the last 28 days' level × each day's weekday factor)")
    return "level_forecast() puts the season back on the recent level: the simplest decomposition forecast."


e1_q3 = Question(
    "e1_q3", ["level_forecast"], _verify_level_forecast,
    "The level is the mean of deseasonalise(...) over the last 28 days; multiply it by the factor of each "
    "forecast day's weekday.",
)
