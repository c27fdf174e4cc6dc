"""The energy challenge's forecasting approaches, what the course notebooks and the benchmark share.

    from datathon.challenges.energy import approaches as ea
    data = ea.load_history(directory)                     # the daily series, signals and calendar
    days = ea.forecast_days(data)                          # the 61 days after the history
    submission = ea.reference_solution(data, days)         # a frame the challenge's reader accepts
    scores = ea.backtest(ea.statistical, data)             # per-origin scores, rolling origins

Every method is ``method(data, days) -> submission frame`` (``date``, ``net_growth``, and where it
has them ``new``/``terminations`` and the 80 % bounds ``net_growth_lo80``/``net_growth_hi80``), and
reads only the history before ``days`` (:meth:`EnergyData.before` cuts it; the calendar's planned
campaigns, holidays and announced tariff changes stay, past news only). The three approaches:

- :func:`statistical`: new subscriptions and terminations apart, on the log scale; MSTL removes the
  weekly and yearly seasonality, exponential smoothing (ETS, chosen by AICc) forecasts what is left,
  the yearly component is carried from a year before; 80 % intervals from the ETS model.
- :func:`learning`: direct multi-horizon gradient boosting: one model whose rows are (origin,
  horizon) pairs, with the target day's calendar and known-future inputs (campaigns, tariff and
  price changes, holidays) and the state at the origin; quantile models give the interval.
- the social-media signal (:func:`reach_surprise`, :func:`cross_correlation`, :func:`social_lag`,
  :func:`known_social_index`): a lag of L days only informs the first days of the horizon; beyond
  the lag no social input is known, and only planned campaigns remain as known future inputs.

:func:`reference_solution` is the learning approach with the social feature: the three approaches'
inputs in one model. Baselines: :func:`seasonal_naive`, :func:`last_year_trend` (the
challenge's reference) and :func:`auto_ets` (ETS on the daily net growth, chosen by AICc as
statsforecast's AutoETS does; statsforecast itself needs pandas < 3, which the kit does not use).
Scores come from :mod:`datathon.challenges.energy.scoring`, never re-implemented here.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from datathon.challenges.energy import data as energy_data
from datathon.challenges.energy import schema, scoring
from datathon.errors import UserError

HORIZON = scoring.HORIZON
WEEK = scoring.SEASON
YEAR = scoring.YEAR  # 52 weeks: the same weekday a year before
Z80 = 1.2815515655446004  # the standard normal's 90 % quantile: an 80 % two-sided interval
SEED = 0
PARTS = ("new", "terminations")
#: How many days of history the statistical models see: three years hold three yearly cycles and
#: keep a fit within a second or two.
FIT_DAYS = 3 * 365
#: Rolling origins need the reference's inputs: a year and 13 weeks before the origin, and a year of the horizon.
MIN_HISTORY = YEAR + 7 * scoring.TREND_WEEKS
#: Days the statistical approach's ETS sees once the yearly season is out: level, trend and weekly
#: season are recent matters, and a shorter fit halves its cost.
ETS_DAYS = 2 * 365
#: Days of the centred mean that smooths the yearly component before it is carried forward.
YEARLY_SMOOTHING = 15
#: The social lag is looked for up to this many days.
MAX_LAG = 40
CAMPAIGN_CHANNELS = ("web", "events", "partners", "phone")


# --------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class EnergyData:
    """The history to forecast from: ``daily`` indexed by every day (``new``, ``terminations``,
    ``net_growth``, ``customers``), ``signals`` on the same days (absent days as NaN), and the
    ``calendar`` (planned campaigns, holidays and announced changes up to the forecast's end)."""

    daily: pd.DataFrame
    signals: pd.DataFrame
    calendar: pd.DataFrame

    @property
    def end(self) -> pd.Timestamp:
        """The last day of the history."""
        return self.daily.index.max()

    def before(self, origin) -> EnergyData:
        """What a forecaster knew on the morning of ``origin``: the days before it, the calendar's
        plans (campaigns, holidays, tariff and price changes, all announced), and only the news
        already out."""
        origin = pd.Timestamp(origin)
        calendar = self.calendar[(self.calendar["kind"] != "news") | (self.calendar["start"] < origin)]
        return EnergyData(self.daily[self.daily.index < origin], self.signals[self.signals.index < origin],
                          calendar.reset_index(drop=True))


def load_history(directory) -> EnergyData:
    """The history of a data directory as :class:`EnergyData` (one-line :class:`UserError` when a
    file is missing or malformed; ``datathon data check DIR`` lists every problem)."""
    daily = energy_data.history(directory).set_index("date")
    days = pd.date_range(daily.index.min(), daily.index.max(), freq="D")
    if len(days) != len(daily):
        raise UserError(f"{directory}: daily.parquet misses {len(days) - len(daily)} days; "
                        f"`datathon data check {directory}` lists them")
    signals = energy_data.load(directory, schema.SIGNALS).set_index("date").sort_index()
    signals = signals[~signals.index.duplicated()].reindex(days).astype("float64")
    calendar = energy_data.load(directory, schema.CALENDAR)
    return EnergyData(daily.astype("float64"), signals, calendar)


def forecast_days(data: EnergyData, horizon: int = HORIZON) -> pd.DatetimeIndex:
    """The ``horizon`` days after the history: what a submission forecasts."""
    return pd.date_range(data.end + pd.Timedelta(days=1), periods=horizon, freq="D")


def calendar_features(days: pd.DatetimeIndex, calendar: pd.DataFrame) -> pd.DataFrame:
    """One row per day of what is known in advance: weekday, day of the year, holidays, the
    campaigns running (by channel) and the days since one ended, the days since the last regulated
    tariff change and its size, the same for the cooperative's own price change."""
    days = pd.DatetimeIndex(days)
    out = pd.DataFrame(index=days)
    out["weekday"] = days.day_of_week
    out["day_of_year"] = days.day_of_year
    out["month"] = days.month
    holidays = set(pd.DatetimeIndex(calendar.loc[calendar["kind"] == "holiday", "start"]))
    out["holiday"] = days.isin(holidays).astype(float)
    # A bridge: the working day between a holiday and the weekend.
    out["bridge"] = (((days.day_of_week == 0) & (days + pd.Timedelta(days=1)).isin(holidays))
                     | ((days.day_of_week == 4) & (days - pd.Timedelta(days=1)).isin(holidays))).astype(float)
    campaigns = calendar[calendar["kind"] == "campaign"]
    since_end = np.full(len(days), 30.0)
    for channel in CAMPAIGN_CHANNELS:
        out[f"campaign_{channel}"] = 0.0
    out["campaign_day"] = 0.0  # days since the running campaign started (0 when none): its ramp
    for row in campaigns.itertuples(index=False):
        start, end = pd.Timestamp(row.start), pd.Timestamp(row.end)
        running = (days >= start) & (days <= end)
        channel = row.channel if row.channel in CAMPAIGN_CHANNELS else "web"
        out.loc[running, f"campaign_{channel}"] = 1.0
        out.loc[running, "campaign_day"] = (days[running] - start).days + 1.0
        after = (days > end).astype(bool)
        since_end = np.where(after, np.minimum(since_end, (days - end).days), since_end)
    out["days_after_campaign"] = np.minimum(since_end, 30.0)
    for kind, column in (("tariff", "tariff"), ("price", "own_price")):
        changes = calendar[calendar["kind"] == kind].sort_values("start")
        since = np.full(len(days), 120.0)
        size = np.zeros(len(days))
        for row in changes.itertuples(index=False):
            delta = (days - pd.Timestamp(row.start)).days.to_numpy()
            later = (delta >= 0) & (delta < since)
            since = np.where(later, delta, since)
            size = np.where(later, float(row.change_pct) if pd.notna(row.change_pct) else 0.0, size)
        out[f"days_since_{column}"] = np.minimum(since, 120.0)
        out[f"{column}_pct"] = np.where(since < 120, size, 0.0)
    return out


def submission_frame(days, net, *, new=None, terminations=None, lo=None, hi=None) -> pd.DataFrame:
    """A submission as the challenge's reader takes it: dates as text, numbers rounded to 2 digits."""
    frame = pd.DataFrame({"date": pd.DatetimeIndex(days).strftime("%Y-%m-%d"),
                          "net_growth": np.round(np.asarray(net, dtype=float), 2)})
    if new is not None and terminations is not None:
        frame["new"] = np.round(np.clip(np.asarray(new, dtype=float), 0, None), 2)
        frame["terminations"] = np.round(np.clip(np.asarray(terminations, dtype=float), 0, None), 2)
        frame["net_growth"] = np.round(frame["new"] - frame["terminations"], 2)
    if lo is not None and hi is not None:
        low, high = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        net_values = frame["net_growth"].to_numpy()
        # The bounds hold the point forecast, lo ≤ hi whatever the models gave.
        frame["net_growth_lo80"] = np.round(np.minimum(np.minimum(low, high), net_values), 2)
        frame["net_growth_hi80"] = np.round(np.maximum(np.maximum(low, high), net_values), 2)
    return frame


# --------------------------------------------------------------------------- baselines


def seasonal_naive(data: EnergyData, days: pd.DatetimeIndex) -> pd.DataFrame:
    """The last week repeated: the yardstick of MASE."""
    last_week = data.daily["net_growth"].iloc[-WEEK:].to_numpy()
    offset = (pd.DatetimeIndex(days) - data.end).days.to_numpy() - 1
    return submission_frame(days, last_week[offset % WEEK])


def last_year_trend(data: EnergyData, days: pd.DatetimeIndex) -> pd.DataFrame:
    """The challenge's reference: the same weeks last year scaled by the last 13 weeks' trend."""
    return scoring.reference_from_history(data.daily.reset_index(), pd.DatetimeIndex(days))


def _ets(y: pd.Series, steps: int, *, seasonal: bool = True):
    """ETS chosen by AICc among additive-error models (no trend or damped trend; weekly additive
    seasonality when ``seasonal``): the mean forecast and the 80 % bounds over ``steps`` days."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    best = None
    values = y.to_numpy(dtype="float64")
    for trend in (None, "add"):
        model = ETSModel(values, error="add", trend=trend, damped_trend=trend is not None,
                         seasonal="add" if seasonal else None, seasonal_periods=WEEK if seasonal else None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on flat stretches; AICc judges the fit
            fit = model.fit(disp=False, maxiter=200)
        if np.isfinite(fit.aicc) and (best is None or fit.aicc < best.aicc):
            best = fit
    if best is None:
        raise UserError("no exponential smoothing model could be fitted to the history")
    mean = np.asarray(best.forecast(steps), dtype=float)
    sigma = np.sqrt(best.mse)
    # Additive-error ETS: the h-step variance is σ²(1 + (h−1)α²) plus terms in the trend and season
    # smoothing, which are near 0 in these fits (get_prediction's bounds matched these to 3 digits on
    # the sample); get_prediction itself fails on plain arrays under pandas 3 and is far slower.
    alpha = float(best.smoothing_level)
    h = np.arange(1, steps + 1)
    half = Z80 * sigma * np.sqrt(1 + (h - 1) * alpha ** 2)
    return mean, mean - half, mean + half


def auto_ets(data: EnergyData, days: pd.DatetimeIndex) -> pd.DataFrame:
    """ETS on the daily net growth with weekly seasonality, chosen by AICc (statsforecast's
    AutoETS does the same search); no yearly seasonality: what a library gives out of the box."""
    steps = _steps(data, days)
    mean, lo, hi = _ets(data.daily["net_growth"].iloc[-FIT_DAYS:], steps)
    return submission_frame(days, mean[-len(days):], lo=lo[-len(days):], hi=hi[-len(days):])


def _steps(data: EnergyData, days: pd.DatetimeIndex) -> int:
    steps = int((pd.DatetimeIndex(days).max() - data.end).days)
    if pd.DatetimeIndex(days).min() <= data.end:
        raise UserError(f"the forecast days must come after the history, which ends on {data.end:%Y-%m-%d}")
    return steps


# --------------------------------------------------------------------------- (a) statistical


def decompose(y: pd.Series, *, periods: Sequence[int] = (WEEK, 365)):
    """MSTL of a daily series: trend, one seasonal column per period, residual (statsmodels)."""
    from statsmodels.tsa.seasonal import MSTL

    return MSTL(y.astype("float64"), periods=list(periods)).fit()


def statistical(data: EnergyData, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Approach (a): new and terminations apart, on log(1 + count). MSTL takes the yearly
    component out, which is carried forward from the same days a year before (365 days: it
    follows the date, not the weekday); ETS with weekly seasonality forecasts the rest. The net
    interval combines the parts' (independent) errors."""
    steps = _steps(data, days)
    take = len(days)
    forecasts, sds = {}, {}
    for part in PARTS:
        y = np.log1p(data.daily[part].iloc[-FIT_DAYS:].clip(lower=0))
        # With three cycles, each day of the year's seasonal value rests on three days, one of them
        # a campaign's perhaps: a centred fortnight's mean keeps the season and drops the noise.
        yearly = (decompose(y, periods=(WEEK, 365)).seasonal["seasonal_365"]
                  .rolling(YEARLY_SMOOTHING, center=True, min_periods=1).mean())
        adjusted = y - yearly
        mean, lo, hi = _ets(adjusted.iloc[-ETS_DAYS:], steps)
        target_days = pd.date_range(data.end + pd.Timedelta(days=1), periods=steps, freq="D")
        carried = yearly.reindex(target_days - pd.Timedelta(days=365)).fillna(0.0).to_numpy()
        log_mean = mean + carried
        log_sd = (hi - lo) / (2 * Z80)
        level = np.expm1(log_mean + log_sd ** 2 / 2)  # the mean of a log-normal, not its median
        forecasts[part] = level[-take:]
        sds[part] = (np.exp(log_mean + log_sd ** 2 / 2) * np.sqrt(np.expm1(log_sd ** 2)))[-take:]
    net = forecasts["new"] - forecasts["terminations"]
    half = Z80 * np.sqrt(sds["new"] ** 2 + sds["terminations"] ** 2)
    return submission_frame(days, net, new=forecasts["new"], terminations=forecasts["terminations"],
                            lo=net - half, hi=net + half)


# --------------------------------------------------------------------------- (c) the social signal


def _campaign_or_news(data: EnergyData, index: pd.DatetimeIndex, *, after_days: int = 10) -> np.ndarray:
    """Days inside a campaign or a news shock, or within ``after_days`` of one: the reach and the
    growth both move then, for reasons other than the social lag."""
    mask = np.zeros(len(index), dtype=bool)
    for row in data.calendar[data.calendar["kind"].isin(["campaign", "news"])].itertuples(index=False):
        start = pd.Timestamp(row.start)
        end = pd.Timestamp(row.end) + pd.Timedelta(days=after_days + (10 if row.kind == "news" else 0))
        mask |= np.asarray((index >= start) & (index <= end))
    return mask


def reach_surprise(data: EnergyData, *, window: int = 28) -> pd.Series:
    """z(t): log reach minus its median over the ``window`` days before (the reach the stock of
    followers and the posting habit led one to expect); NaN on missing days and on campaign and
    news days, where reach rises for known reasons."""
    log_reach = np.log(data.signals["reach"].where(data.signals["reach"] > 0))
    expected = log_reach.shift(1).rolling(window, min_periods=window // 2).median()
    z = log_reach - expected
    z[_campaign_or_news(data, z.index, after_days=0)] = np.nan
    return z.rename("reach_surprise")


def growth_surprise(data: EnergyData, *, weeks: int = 4) -> pd.Series:
    """g(t): log new subscriptions minus the mean of the same weekday over ``weeks`` weeks on each
    side (a centred, weekday-aware level; for analysis, not for forecasting), NaN around
    campaigns, news and holidays."""
    y = np.log1p(data.daily["new"])
    neighbours = [y.shift(k * WEEK) for k in range(-weeks, weeks + 1) if k != 0]
    g = y - pd.concat(neighbours, axis=1).mean(axis=1, skipna=False)
    holidays = pd.DatetimeIndex(data.calendar.loc[data.calendar["kind"] == "holiday", "start"])
    g[_campaign_or_news(data, g.index) | g.index.isin(holidays)] = np.nan
    return g.rename("growth_surprise")


def cross_correlation(x: pd.Series, y: pd.Series, max_lag: int = MAX_LAG) -> pd.Series:
    """corr(x(t − k), y(t)) for k = 0..max_lag over the days where both are present: a peak at
    k > 0 means x leads y by k days."""
    values = {}
    for k in range(max_lag + 1):
        pair = pd.concat([x.shift(k), y], axis=1).dropna()
        values[k] = float(pair.iloc[:, 0].corr(pair.iloc[:, 1])) if len(pair) > 30 else np.nan
    return pd.Series(values, name="correlation").rename_axis("lag")


def social_correlation(data: EnergyData, max_lag: int = MAX_LAG) -> pd.Series:
    """The cross-correlation of the reach surprise with the growth surprise, lags 0..max_lag."""
    return cross_correlation(reach_surprise(data), growth_surprise(data), max_lag)


def social_lag(data: EnergyData, max_lag: int = MAX_LAG) -> int:
    """The lag (days, 1..max_lag) at which social activity moves growth most: the peak of
    :func:`social_correlation` smoothed over three lags (one day's noise should not move it)."""
    ccf = social_correlation(data, max_lag).iloc[1:]
    smooth = ccf.rolling(3, center=True, min_periods=1).mean()
    return int(smooth.idxmax())


def lag_weights(data: EnergyData, max_lag: int = MAX_LAG) -> pd.Series:
    """An estimate of the lag kernel: the positive part of the cross-correlation over lags
    1..max_lag, kept around the peak and normalised to sum 1 (zeros when nothing is positive)."""
    ccf = social_correlation(data, max_lag).iloc[1:].fillna(0.0).clip(lower=0)
    peak = int(ccf.rolling(3, center=True, min_periods=1).mean().idxmax())
    # Only the hump around the peak: isolated positive noise far from it is not the kernel.
    hump = ccf.copy()
    for k in hump.index:
        between = ccf.loc[min(k, peak):max(k, peak)]
        if (between <= 0).any():
            hump[k] = 0.0
    total = hump.sum()
    return hump / total if total > 0 else hump


def known_social_index(z: pd.Series, weights: pd.Series, origin, days: pd.DatetimeIndex) -> np.ndarray:
    """For each day t of ``days``: Σ_k w_k z(t − k) over the lags k whose day t − k is before
    ``origin`` (the part of the social effect already written in the data when forecasting);
    the unknown future surprises count as 0, their expectation. Beyond the longest lag it is 0."""
    origin = pd.Timestamp(origin)
    known = z[z.index < origin].fillna(0.0)
    if known.empty:
        return np.zeros(len(days))
    first = known.index.min()
    values = known.to_numpy()
    target = (pd.DatetimeIndex(days) - first).days.to_numpy()
    out = np.zeros(len(target))
    for k, w in weights.items():
        source = target - int(k)
        usable = (source >= 0) & (source < len(values))
        out[usable] += w * values[source[usable]]
    return out


# --------------------------------------------------------------------------- (b) learning


def _origin_state(daily: pd.DataFrame) -> pd.DataFrame:
    """What is known at each origin (the morning of day t, from days before t): the level (mean
    new subscriptions of the last 28 days) and ratios that are comparable across years."""
    # One more day than the history: the state on the morning after its last day.
    daily = daily.reindex(daily.index.union([daily.index.max() + pd.Timedelta(days=1)]))
    new, net, terms = daily["new"], daily["net_growth"], daily["terminations"]
    level = new.rolling(28).mean().shift(1)
    state = pd.DataFrame(index=daily.index)
    state["level"] = level
    state["net_28"] = net.rolling(28).mean().shift(1) / level
    state["net_7"] = net.rolling(7).mean().shift(1) / level
    state["terminations_28"] = terms.rolling(28).mean().shift(1) / level
    state["new_7"] = new.rolling(7).mean().shift(1) / level
    recent = new.rolling(7 * scoring.TREND_WEEKS).sum().shift(1)
    state["trend"] = recent / recent.shift(YEAR)
    return state


def _rows(data: EnergyData, origins: pd.DatetimeIndex, horizon: int, features: pd.DataFrame,
          z: pd.Series | None, weights: pd.Series | None) -> pd.DataFrame:
    """One row per (origin, horizon day): the target day's known features, the state at the
    origin, last year's same weekday (relative to last year's level), the known social index."""
    state = _origin_state(data.daily)
    net = data.daily["net_growth"]
    frames = []
    h = np.arange(1, horizon + 1)
    for origin in origins:
        targets = origin + pd.to_timedelta(h - 1, unit="D")
        row = features.reindex(targets).reset_index(drop=True)
        row["horizon"] = h
        for column, value in state.loc[origin].items():
            row[column] = value
        last_year_level = state["level"].get(origin - pd.Timedelta(days=YEAR), np.nan)
        row["last_year"] = net.reindex(targets - pd.Timedelta(days=YEAR)).to_numpy() / last_year_level
        if z is not None:
            row["social"] = known_social_index(z, weights, origin, targets)
        row["origin"] = origin
        row["target_day"] = targets
        frames.append(row)
    return pd.concat(frames, ignore_index=True)


def learning(data: EnergyData, days: pd.DatetimeIndex, *, social: bool = False, max_rows: int = 8_000,
             seed: int = SEED) -> pd.DataFrame:
    """Approach (b): direct multi-horizon gradient boosting. Each training row is a past origin
    and a day 1..61 after it: the model learns the net growth of that day relative to the level at
    the origin from the day's calendar (weekday, season, holidays, campaigns, tariff and price
    changes: all known in advance), the horizon, the state at the origin and last year's same
    weekday. Quantile models (10 % and 90 %) give the 80 % interval. ``social`` adds the known
    part of the social index (:func:`known_social_index`) with weights from :func:`lag_weights`."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    steps = _steps(data, days)
    horizon = steps
    all_days = data.daily.index.union(pd.date_range(data.end, periods=steps + 1, freq="D"))
    features = calendar_features(all_days, data.calendar)
    z = weights = None
    if social:
        z = reach_surprise(data)
        weights = lag_weights(data)
    # Training origins: every origin whose whole horizon and last year's level are in the history,
    # thinned evenly to keep about max_rows rows (the last origins always in).
    first = data.daily.index.min() + pd.Timedelta(days=YEAR + 28 + 7 * scoring.TREND_WEEKS)
    last = data.end - pd.Timedelta(days=horizon - 1)
    candidates = pd.date_range(first, last, freq="D")
    if len(candidates) < 30:
        raise UserError(f"the history ({len(data.daily)} days) is too short to learn from: it needs "
                        f"{YEAR + 28 + 7 * scoring.TREND_WEEKS + horizon + 30} days")
    step = max(1, int(np.ceil(len(candidates) * horizon / max_rows)))
    origins = candidates[::-1][::step][::-1]
    train = _rows(data, origins, horizon, features, z, weights)
    train["y"] = data.daily["net_growth"].reindex(train["target_day"]).to_numpy() / train["level"]
    train = train.dropna(subset=["y"])
    columns = [c for c in train.columns if c not in ("origin", "target_day", "y", "level")]
    origin = data.end + pd.Timedelta(days=1)
    test = _rows(data, pd.DatetimeIndex([origin]), horizon, features, z, weights)
    level = float(test["level"].iloc[0])

    def fit(**loss) -> np.ndarray:
        model = HistGradientBoostingRegressor(max_iter=150, learning_rate=0.08, max_leaf_nodes=15,
                                              min_samples_leaf=40, l2_regularization=1.0,
                                              random_state=seed, **loss)
        # One OpenMP thread: on a shared two-core machine, threads waiting for each other are
        # several times slower than one (the kit's matcher does the same).
        with threadpool_limits(1):
            model.fit(train[columns], train["y"])
            return model.predict(test[columns]) * level

    point = fit()
    lo = fit(loss="quantile", quantile=0.1)
    hi = fit(loss="quantile", quantile=0.9)
    take = len(days)
    return submission_frame(days, point[-take:], lo=lo[-take:], hi=hi[-take:])


def learning_social(data: EnergyData, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Approach (b) with the social signal (c) as a feature: the known part of the lagged index."""
    return learning(data, days, social=True)


def reference_solution(data: EnergyData, days: pd.DatetimeIndex) -> pd.DataFrame:
    """The course's reference solution: the three approaches' lessons in one model: direct
    multi-horizon boosting (b) on the calendar and the known future (campaigns, tariff and price
    changes), last year's same weekday (the seasonal memory the statistical approach (a) keeps),
    and the known part of the lagged social index (c), with quantile models for the interval.
    Averaging it with :func:`statistical` was measured worse on the sample's backtests (the
    statistical forecast misses the campaigns), so the reference solution does not."""
    return learning_social(data, days)


# --------------------------------------------------------------------------- backtests

Method = Callable[[EnergyData, pd.DatetimeIndex], pd.DataFrame]


def rolling_origins(data: EnergyData, n: int = 20, *, horizon: int = HORIZON, step: int = 28) -> pd.DatetimeIndex:
    """``n`` origins ``step`` days apart, the last being the train split's (the history's last
    ``horizon`` days); each has the history the reference needs before it. Fewer when the history
    is too short."""
    last = data.end - pd.Timedelta(days=horizon - 1)
    earliest = data.daily.index.min() + pd.Timedelta(days=MIN_HISTORY)
    origins = [last - pd.Timedelta(days=step * i) for i in range(n)]
    origins = [o for o in origins if o >= earliest]
    if not origins:
        raise UserError(f"the history ({len(data.daily)} days) is too short for a backtest: it needs "
                        f"{MIN_HISTORY + horizon} days")
    return pd.DatetimeIndex(sorted(origins))


def backtest_truth(data: EnergyData, origin, horizon: int = HORIZON) -> pd.DataFrame:
    """The labelled days after ``origin`` as the challenge's truth frame (``attrs["naive_mae"]``
    from the days before it), as :func:`scoring.load_truth` builds the train split's."""
    origin = pd.Timestamp(origin)
    days = pd.date_range(origin, periods=horizon, freq="D")
    if days.max() > data.end:
        raise UserError(f"origin {origin:%Y-%m-%d}: its {horizon} days run past the history's end ({data.end:%Y-%m-%d})")
    truth = data.daily.loc[days, ["new", "terminations", "net_growth"]].rename_axis("date").reset_index()
    truth.attrs["naive_mae"] = scoring.naive_mae(data.daily.reset_index(), origin)
    return truth


def score_forecast(frame: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """The challenge's scores of a forecast frame against a truth frame (its reader checks it first)."""
    submission = scoring.read_submission(frame, known_ids=truth["date"])
    return scoring.score(submission, truth, context={"naive_mae": truth.attrs["naive_mae"]})


def backtest(method: Method, data: EnergyData, origins: Sequence | None = None, horizon: int = HORIZON) -> pd.DataFrame:
    """Rolling-origin backtest: for each origin, forecast the ``horizon`` days from what was known
    before it and score them with the challenge's own scores. One row per origin: ``origin``,
    ``growth_error``, ``mase``, ``interval_score``, the cumulative truth and forecast, ``seconds``."""
    origins = rolling_origins(data, horizon=horizon) if origins is None else pd.DatetimeIndex(origins)
    rows = []
    for origin in origins:
        truth = backtest_truth(data, origin, horizon)
        started = time.perf_counter()
        frame = method(data.before(origin), pd.DatetimeIndex(truth["date"]))
        seconds = time.perf_counter() - started
        scores = score_forecast(frame, truth)
        rows.append({"origin": origin, **{k: scores[k] for k in ("growth_error", "mase", "interval_score",
                                                                   "cumulative_truth", "cumulative_forecast")},
                     "seconds": seconds})
    return pd.DataFrame(rows)


METHODS: dict[str, Method] = {
    "seasonal naive": seasonal_naive,
    "last year × trend (reference)": last_year_trend,
    "AutoETS (statsmodels, AICc)": auto_ets,
    "statistical (MSTL + ETS)": statistical,
    "learning (boosting)": learning,
    "learning + social": learning_social,
    "reference solution": reference_solution,
}
