"""The energy cooperative's synthetic world: daily subscriptions, terminations and signals.

One world is a decade of one cooperative (:data:`START` to :data:`HISTORY_END`, then the
:data:`HORIZON` forecast days), simulated day by day because growth feeds on the stock. Every
mechanism is named in :data:`MECHANISMS`, with its parameters and its own random stream
(``np.random.default_rng([seed, stream])``), so changing one mechanism's draws never moves
another's. Scales differ only in how much of the history they write: the sample is the last
three years of the same world as the full scale (same seed, same days, same numbers).

Orders of magnitude follow the public figures of a French renewable-electricity cooperative
(5,000 customers in 2010, about 90,000 in 2019, 20–25 % growth a year, contract requests doubled
within weeks of the Fukushima accident); seasonality is a documented assumption, as no monthly
switching figure is published.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

START = date(2010, 1, 1)
HISTORY_END = date(2019, 10, 31)
HORIZON = 61  # forecast days after the history: November and December
FORECAST_START = HISTORY_END + timedelta(days=1)
FORECAST_END = HISTORY_END + timedelta(days=HORIZON)

CHANNELS = ("web", "phone", "events", "partners")
REGIONS = ("Île-de-France", "Auvergne-Rhône-Alpes", "Nouvelle-Aquitaine", "Occitanie", "Grand Ouest",
           "Autres régions")


@dataclass(frozen=True)
class Scale:
    name: str
    first_day: date  # the first day written; the world is always simulated from START


SCALES = {
    "sample": Scale("sample", date(2016, 11, 1)),
    "full": Scale("full", START),
}

# Each mechanism: its random stream (None: deterministic) and its parameters. Written as is into
# manifest.json["mechanisms"] (with what the draws gave), and quoted by the data dictionary.
MECHANISMS: dict[str, dict] = {
    "trend": {
        "stream": None,
        "what": "organic intake proportional to the stock: the yearly net growth rate slows from "
                "growth_start to growth_end with time constant slowdown_years; churn is replaced",
        "start_customers": 5000, "growth_start": 0.44, "growth_end": 0.14, "slowdown_years": 4.0,
    },
    "churn": {
        "stream": None,
        "what": "terminations: a yearly share of the stock leaves (moves, dissatisfaction)",
        "yearly_rate": 0.07,
    },
    "weekly": {
        "stream": None,
        "what": "day-of-week profile of each channel (Monday first, mean 1); terminations are processed "
                "on working days",
        "web": [1.15, 1.10, 1.05, 1.00, 0.95, 0.85, 0.90],
        "phone": [1.35, 1.30, 1.25, 1.20, 1.10, 0.30, 0.0],
        "events": [0.30, 0.30, 0.40, 0.50, 0.80, 2.60, 2.10],
        "partners": [1.30, 1.25, 1.20, 1.20, 1.05, 0.0, 0.0],
        "terminations": [1.30, 1.25, 1.20, 1.20, 1.15, 0.50, 0.40],
    },
    "yearly": {
        "stream": None,
        "what": "seasonal bumps on the log scale, Gaussian in the day of the year: [centre day, width "
                "in days, effect on new, effect on terminations]; moves in September and January, "
                "summer lull, Christmas",
        "september_moves": [253, 14, 0.35, 0.30],
        "january_moves": [12, 10, 0.22, 0.20],
        "summer_lull": [222, 16, -0.40, -0.15],
        "christmas": [359, 5, -0.45, -0.30],
    },
    "holidays": {
        "stream": None,
        "what": "French public holidays (fixed dates, Easter Monday, Ascension, Whit Monday): "
                "multiplier per channel and on terminations",
        "web": 0.8, "phone": 0.0, "events": 0.6, "partners": 0.0, "terminations": 0.15,
    },
    "channel_mix": {
        "stream": "channels",
        "what": "share of each channel in new subscriptions, moving linearly from the first to the "
                "last day; days' counts are split by a multinomial draw",
        "start": {"web": 0.40, "phone": 0.32, "events": 0.16, "partners": 0.12},
        "end": {"web": 0.68, "phone": 0.14, "events": 0.08, "partners": 0.10},
    },
    "regions": {
        "stream": "regions",
        "what": "share of each region, moving linearly (the cooperative starts in Île-de-France and "
                "spreads); a multinomial split",
        "start": [0.55, 0.12, 0.08, 0.08, 0.10, 0.07],
        "end": [0.33, 0.17, 0.12, 0.12, 0.15, 0.11],
    },
    "campaigns": {
        "stream": "campaigns",
        "what": "marketing campaigns planned each year from templates [name, month, first start day, last "
                "start day, min days, max days, channel, min boost, max boost]; a planned one runs with "
                "probability run_probability (those in the forecast window always: the plan is known); "
                "boost ramps up over ramp_days, decays over decay_days after the end; spill_web of it "
                "reaches the web channel",
        "templates": [
            ["New year offer", 1, 8, 20, 14, 21, "web", 0.25, 0.5],
            ["Spring fairs", 3, 10, 31, 10, 17, "events", 0.6, 1.2],
            ["Partner weeks", 6, 1, 15, 14, 28, "partners", 0.4, 0.8],
            ["Back to school", 9, 1, 12, 14, 21, "web", 0.3, 0.6],
            ["Autumn fairs", 10, 1, 20, 7, 14, "events", 0.5, 1.0],
            ["Green November", 11, 12, 22, 10, 18, "web", 0.3, 0.6],
        ],
        "run_probability": 0.85, "ramp_days": 3.0, "decay_days": 5.0, "spill_web": 0.25,
    },
    "tariff": {
        "stream": "tariff",
        "what": "the regulated tariff moves on 1 February and 1 August (public, announced): a rise "
                "narrows the cooperative's premium and brings a burst of new subscriptions, "
                "effect_per_point × change (in %) decaying over decay_days",
        "mean_change_pct": 2.5, "sd_change_pct": 2.0, "effect_per_point": 0.06, "decay_days": 20.0,
    },
    "own_price": {
        "stream": "own_price",
        "what": "the cooperative's own price rises on 1 January of some years (announced notice_days "
                "before): terminations rise by term_per_point × change, new subscriptions fall by "
                "new_per_point × change, decaying over decay_days",
        "probability": 0.35, "min_pct": 3.0, "max_pct": 9.0, "notice_days": 15, "term_per_point": 0.08,
        "new_per_point": 0.02, "decay_days": 25.0,
    },
    "news": {
        "stream": "news",
        "what": "news that moves opinion on energy: a Fukushima-type shock on a fixed date, then "
                "random shocks (Poisson per_year, log-normal amplitude); interest rises over rise_days "
                "and decays; new subscriptions × (1 + amplitude × shape). Past shocks are in "
                "calendar.parquet, future ones nobody knows",
        "fixed": [["Fukushima accident", "2011-03-11", 1.1, 40.0]],
        "per_year": 2.0, "median_amplitude": 0.25, "sd_log_amplitude": 0.5, "min_decay_days": 7.0,
        "max_decay_days": 25.0, "rise_days": 4.0,
    },
    "social": {
        "stream": "social",
        "what": "posts (Poisson; per day from posts_start to posts_end, more in campaigns and after "
                "news), reach (per-post median reach_per_customer × stock, log-normal noise, rare viral "
                "days), shares (share_rate of reach) and new followers",
        "posts_start": 0.3, "posts_end": 2.5, "weekday": [1.1, 1.2, 1.2, 1.1, 1.0, 0.6, 0.5],
        "campaign_posts": 1.0, "reach_per_customer": 0.25, "organic_posts": 0.4, "sd_log_reach": 0.45,
        "viral_probability": 0.02, "viral_min": 3.0, "viral_max": 10.0, "share_rate": 0.003,
        "followers_per_share": 0.02, "followers_per_customer": 0.0004,
    },
    "social_lag": {
        "stream": None,
        "what": "growth responds to social activity with a distributed lag: new subscriptions × "
                "exp(beta × Σ_k w_k z(t-k)), z the surprise in log reach (log reach minus its expected "
                "value without campaigns or news), w a discretised gamma kernel (shape, scale) over "
                "lags 1..max_lag, normalised; its mode is peak_lag days",
        "beta": 0.6, "shape": 12.0, "scale": 0.9, "max_lag": 35, "peak_lag": 10,
    },
    "web": {
        "stream": "web",
        "what": "website visits: visits_per_customer × stock, web weekly profile, campaigns, news and "
                "same-day social surprise, log-normal noise",
        "visits_per_customer": 2.5, "campaign": 0.8, "news": 1.5, "social": 0.4, "sd_log": 0.12,
    },
    "press": {
        "stream": "press",
        "what": "press mentions: Poisson(base + per_customer × stock + news × news intensity + campaign "
                "while a campaign runs)",
        "base": 0.3, "per_customer": 5e-6, "news": 4.0, "campaign": 1.0,
    },
    "noise": {
        "stream": "noise",
        "what": "day-to-day noise: counts are negative binomial (Poisson with a gamma multiplier of "
                "shape dispersion_new or dispersion_terminations)",
        "dispersion_new": 25.0, "dispersion_terminations": 15.0,
    },
    "missing_days": {
        "stream": "missing",
        "what": "signal exports have gaps as real ones do: a gap of 1..max_gap days starts on a day "
                "with gap_rate (those dates are absent from signals.parquet), and one web-analytics "
                "outage of outage_min..outage_max days in the history's last two years leaves web_visits empty; the subscription "
                "counts and the truth have every day",
        "gap_rate": 0.006, "max_gap": 3, "outage_min": 5, "outage_max": 12,
    },
}

_STREAMS = {name: i for i, name in enumerate(
    ["channels", "regions", "campaigns", "tariff", "own_price", "news", "social", "web", "press", "noise",
     "missing"], start=1)}
STREAMS = dict(_STREAMS)  # stream name -> the integer mixed with the seed (documented in the manifest)


def _rng(seed: int, stream: str) -> np.random.Generator:
    """The random stream of that name (a mechanism's ``stream``), derived from the seed alone."""
    return np.random.default_rng([seed, _STREAMS[stream]])


def easter(year: int) -> date:
    """Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def public_holidays(first: date, last: date) -> list[tuple[date, str]]:
    """French public holidays between two dates, in date order."""
    fixed = [(1, 1, "New Year's Day"), (5, 1, "Labour Day"), (5, 8, "Victory in Europe Day"),
             (7, 14, "Bastille Day"), (8, 15, "Assumption"), (11, 1, "All Saints' Day"),
             (11, 11, "Armistice Day"), (12, 25, "Christmas Day")]
    out = []
    for year in range(first.year, last.year + 1):
        days = [(date(year, m, d), name) for m, d, name in fixed]
        e = easter(year)
        days += [(e + timedelta(days=1), "Easter Monday"), (e + timedelta(days=39), "Ascension Day"),
                 (e + timedelta(days=50), "Whit Monday")]
        out += [(d, name) for d, name in days if first <= d <= last]
    return sorted(out)


def lag_kernel() -> np.ndarray:
    """The social lag kernel w_k for k = 0..max_lag (w_0 = 0), summing to 1."""
    p = MECHANISMS["social_lag"]
    k = np.arange(p["max_lag"] + 1, dtype=float)
    w = np.where(k > 0, k ** (p["shape"] - 1) * np.exp(-k / p["scale"]), 0.0)
    return w / w.sum()


def _bump(doy: np.ndarray, centre: float, width: float) -> np.ndarray:
    distance = np.abs(doy - centre)
    distance = np.minimum(distance, 365.25 - distance)  # circular: Christmas wraps into January
    return np.exp(-0.5 * (distance / width) ** 2)


def _burst(n_days: int, start: int, amplitude: float, rise: float, decay: float, end: int | None = None) -> np.ndarray:
    """An effect starting on day ``start``: rises over ``rise`` days, holds until ``end`` (or not),
    then decays with time constant ``decay``."""
    t = np.arange(n_days) - start
    out = np.zeros(n_days)
    on = t >= 0
    hold_end = (end - start) if end is not None else 0
    ramp = 1 - np.exp(-(t[on] + 1) / rise)
    after = np.maximum(t[on] - hold_end, 0)
    out[on] = amplitude * ramp * np.exp(-after / decay)
    return out


@dataclass
class World:
    """Every daily series of the simulated decade (index = days since START), and the calendar."""

    days: pd.DatetimeIndex
    new: np.ndarray  # (days, channels, regions)
    terminations: np.ndarray
    customers: np.ndarray  # stock at the end of each day
    signals: pd.DataFrame  # one row per day, before export gaps
    missing_dates: np.ndarray  # boolean per day: absent from the signals export
    calendar: pd.DataFrame
    realised: dict  # draws worth recording in the manifest (campaigns, tariff changes, shocks)


def simulate(seed: int) -> World:
    """The whole decade plus the forecast window, for an integer seed."""
    days = pd.date_range(START, FORECAST_END, freq="D")
    n = len(days)
    years = np.arange(n) / 365.25
    dow = days.day_of_week.to_numpy()
    doy = days.day_of_year.to_numpy().astype(float)
    index = {d.date(): i for i, d in enumerate(days)}
    frac = np.arange(n) / (n - 1)

    # -- calendar: holidays, tariff, own price, campaigns, news -----------------------------------
    holidays = public_holidays(START, FORECAST_END)
    holiday = np.zeros(n, dtype=bool)
    holiday[[index[d] for d, _ in holidays]] = True
    rows = [("holiday", name, d, d, None, np.nan) for d, name in holidays]

    p = MECHANISMS["tariff"]
    rng = _rng(seed, "tariff")
    tariff_boost = np.zeros(n)
    tariffs = []
    for year in range(START.year, FORECAST_END.year + 1):
        for month in (2, 8):
            d = date(year, month, 1)
            change = float(np.clip(round(rng.normal(p["mean_change_pct"], p["sd_change_pct"]), 1), -3, 8))
            if d > FORECAST_END:
                continue
            tariffs.append([d.isoformat(), change])
            rows.append(("tariff", "Regulated tariff change", d, d, None, change))
            tariff_boost += _burst(n, index[d], p["effect_per_point"] * max(change, 0.0), 1.0, p["decay_days"])

    p = MECHANISMS["own_price"]
    rng = _rng(seed, "own_price")
    term_price = np.zeros(n)
    new_price = np.zeros(n)
    prices = []
    for year in range(START.year + 1, FORECAST_END.year + 2):
        runs, change = rng.random() < p["probability"], round(float(rng.uniform(p["min_pct"], p["max_pct"])), 1)
        d = date(year, 1, 1)
        notice = d - timedelta(days=p["notice_days"])
        if not runs or notice > FORECAST_END:
            continue
        prices.append([d.isoformat(), change])
        rows.append(("price", "Cooperative price change", d, d, None, change))
        start = index[notice]
        term_price += _burst(n, start, p["term_per_point"] * change, 2.0, p["decay_days"])
        new_price += _burst(n, start, p["new_per_point"] * change, 2.0, p["decay_days"])

    p = MECHANISMS["campaigns"]
    rng = _rng(seed, "campaigns")
    campaign_boost = np.zeros((n, len(CHANNELS)))
    campaign_on = np.zeros(n, dtype=bool)
    campaigns = []
    for year in range(START.year, FORECAST_END.year + 1):
        for name, month, first, last, shortest, longest, channel, low, high in p["templates"]:
            runs = rng.random() < p["run_probability"]
            start = date(year, month, int(rng.integers(first, last + 1)))
            length = int(rng.integers(shortest, longest + 1))
            boost = round(float(rng.uniform(low, high)), 2)
            end = start + timedelta(days=length - 1)
            in_window = FORECAST_START <= start <= FORECAST_END
            if not (runs or in_window) or start > FORECAST_END:
                continue
            end = min(end, FORECAST_END)
            campaigns.append([name, start.isoformat(), end.isoformat(), channel, boost])
            rows.append(("campaign", name, start, end, channel, np.nan))
            s, e = index[start], index[end]
            shape = _burst(n, s, 1.0, p["ramp_days"], p["decay_days"], end=e)
            c = CHANNELS.index(channel)
            campaign_boost[:, c] += boost * shape
            if channel != "web":
                campaign_boost[:, 0] += p["spill_web"] * boost * shape
            campaign_on[s:e + 1] = True

    p = MECHANISMS["news"]
    rng = _rng(seed, "news")
    news = np.zeros(n)
    shocks = []
    for name, day, amplitude, decay in p["fixed"]:
        shocks.append([name, day, amplitude, decay])
    names = ["Climate report", "Nuclear incident abroad", "Documentary on energy", "Heatwave",
             "Reactor outage", "Energy transition bill", "Power cut", "Climate march"]
    n_shocks = int(rng.poisson(p["per_year"] * n / 365.25))
    starts = np.sort(rng.integers(0, n, n_shocks))
    for i, s in enumerate(starts):
        amplitude = round(float(p["median_amplitude"] * math.exp(p["sd_log_amplitude"] * rng.normal())), 3)
        decay = round(float(rng.uniform(p["min_decay_days"], p["max_decay_days"])), 1)
        name = names[int(rng.integers(len(names)))]
        shocks.append([name, days[s].date().isoformat(), amplitude, decay])
    for name, day, amplitude, decay in shocks:
        d = date.fromisoformat(day)
        if d > FORECAST_END:
            continue
        news += _burst(n, index[d], amplitude, p["rise_days"], decay)
        if d <= HISTORY_END:  # a past shock is known; a future one is not
            rows.append(("news", name, d, d, None, np.nan))
    shocks.sort(key=lambda s: s[1])

    # -- the stock's path needs the social surprise, which needs the stock: the social reach scales
    # with the previous day's stock, so both are simulated in one pass.
    pt, pc = MECHANISMS["trend"], MECHANISMS["churn"]
    growth = pt["growth_end"] + (pt["growth_start"] - pt["growth_end"]) * np.exp(-years / pt["slowdown_years"])

    pw = MECHANISMS["weekly"]
    weekly = np.array([pw[c] for c in CHANNELS]).T  # (7, channels)
    weekly = weekly / weekly.mean(axis=0)
    weekly_term = np.array(pw["terminations"]) / np.mean(pw["terminations"])
    py = MECHANISMS["yearly"]
    season_new = np.exp(sum(b[2] * _bump(doy, b[0], b[1]) for b in py.values() if isinstance(b, list)))
    season_term = np.exp(sum(b[3] * _bump(doy, b[0], b[1]) for b in py.values() if isinstance(b, list)))
    ph = MECHANISMS["holidays"]
    holiday_new = np.where(holiday[:, None], np.array([ph[c] for c in CHANNELS])[None, :], 1.0)
    holiday_term = np.where(holiday, ph["terminations"], 1.0)
    pm = MECHANISMS["channel_mix"]
    mix = (1 - frac)[:, None] * np.array([pm["start"][c] for c in CHANNELS]) + \
        frac[:, None] * np.array([pm["end"][c] for c in CHANNELS])
    # The shape of each day's intake across channels (before the trend's level).
    channel_shape = mix * weekly[dow] * holiday_new * (1 + campaign_boost)
    common = season_new * (1 + news) * (1 + tariff_boost) * np.maximum(1 - new_price, 0.2)
    term_shape = weekly_term[dow] * season_term * holiday_term * (1 + term_price)

    ps = MECHANISMS["social"]
    rng_social = _rng(seed, "social")
    posts_base = ps["posts_start"] + (ps["posts_end"] - ps["posts_start"]) * frac
    weekday = np.array(ps["weekday"]) / np.mean(ps["weekday"])
    posts_rate = posts_base * weekday[dow] * (1 + ps["campaign_posts"] * campaign_on) * (1 + news)
    posts = rng_social.poisson(posts_rate)
    eps = rng_social.normal(size=n)
    viral = np.where(rng_social.random(n) < ps["viral_probability"],
                     np.log(rng_social.uniform(ps["viral_min"], ps["viral_max"], n)), 0.0)
    share_noise = rng_social.normal(size=n)
    # z: the surprise in log reach against what a day without campaign or news would give.
    z = np.log(posts + ps["organic_posts"]) - np.log(posts_base * weekday[dow] + ps["organic_posts"]) \
        + ps["sd_log_reach"] * eps + viral + np.log1p(news)
    pl = MECHANISMS["social_lag"]
    kernel = lag_kernel()
    # Centred on the history alone: the forecast days' draws never move the past.
    z_centred = z - z[days <= pd.Timestamp(HISTORY_END)].mean()
    lagged = np.convolve(z_centred, kernel)[:n]  # lagged[t] = Σ_k w_k z(t-k)
    social_effect = np.exp(pl["beta"] * lagged)

    pn = MECHANISMS["noise"]
    rng_noise = _rng(seed, "noise")
    gamma_new = rng_noise.gamma(pn["dispersion_new"], 1 / pn["dispersion_new"], n)
    gamma_term = rng_noise.gamma(pn["dispersion_terminations"], 1 / pn["dispersion_terminations"], n)
    uniform_new = rng_noise.random(n)
    uniform_term = rng_noise.random(n)
    new_total = np.zeros(n, dtype=np.int64)
    term_total = np.zeros(n, dtype=np.int64)
    customers = np.zeros(n, dtype=np.int64)
    stock = float(pt["start_customers"])
    shape_total = channel_shape.sum(axis=1)
    for t in range(n):
        # Organic intake replaces churn and adds the trend's growth, at the mean of the multipliers.
        intake = stock * (growth[t] + pc["yearly_rate"]) / 365.25
        lam_new = intake * shape_total[t] * common[t] * social_effect[t] * gamma_new[t]
        lam_term = stock * pc["yearly_rate"] / 365.25 * term_shape[t] * gamma_term[t]
        # Poisson quantiles of pre-drawn uniforms: each day's draw is fixed whatever came before.
        new_total[t] = _poisson_quantile(lam_new, uniform_new[t])
        term_total[t] = min(_poisson_quantile(lam_term, uniform_term[t]), int(stock))
        stock += new_total[t] - term_total[t]
        customers[t] = stock

    # -- split each day's counts over channels and regions ------------------------------------------
    rng = _rng(seed, "channels")
    p_channel = channel_shape / channel_shape.sum(axis=1, keepdims=True)
    new_by_channel = rng.multinomial(new_total, p_channel)
    # Leaving customers came through the channels of a few years earlier.
    earlier = np.maximum(np.arange(n) - 3 * 365, 0)
    term_by_channel = rng.multinomial(term_total, mix[earlier] / mix[earlier].sum(axis=1, keepdims=True))
    pr = MECHANISMS["regions"]
    rng = _rng(seed, "regions")
    region_mix = (1 - frac)[:, None] * np.array(pr["start"]) + frac[:, None] * np.array(pr["end"])
    region_mix /= region_mix.sum(axis=1, keepdims=True)
    new = np.zeros((n, len(CHANNELS), len(REGIONS)), dtype=np.int64)
    terminations = np.zeros_like(new)
    for c in range(len(CHANNELS)):
        new[:, c, :] = rng.multinomial(new_by_channel[:, c], region_mix)
        terminations[:, c, :] = rng.multinomial(term_by_channel[:, c], region_mix[earlier])

    # -- signals -------------------------------------------------------------------------------------
    previous_stock = np.concatenate(([pt["start_customers"]], customers[:-1])).astype(float)
    reach = np.round(ps["reach_per_customer"] * previous_stock * np.exp(z + np.log(posts_base * weekday[dow]
                                                                                 + ps["organic_posts"])))
    reach = reach.astype(np.int64)
    shares = rng_social.poisson(ps["share_rate"] * reach * np.exp(0.3 * share_noise))
    followers = rng_social.poisson(ps["followers_per_share"] * shares + ps["followers_per_customer"] * previous_stock)

    pv = MECHANISMS["web"]
    rng = _rng(seed, "web")
    visits = pv["visits_per_customer"] * previous_stock * weekly[dow, 0] * np.sqrt(season_new) \
        * (1 + pv["campaign"] * campaign_boost.max(axis=1)) * (1 + pv["news"] * news) \
        * np.exp(pv["social"] * z_centred) \
        * np.exp(pv["sd_log"] * rng.normal(size=n))
    visits = np.round(visits).astype(np.int64)

    pp = MECHANISMS["press"]
    press = _rng(seed, "press").poisson(pp["base"] + pp["per_customer"] * previous_stock + pp["news"] * news
                                        + pp["campaign"] * campaign_on)

    pg = MECHANISMS["missing_days"]
    rng = _rng(seed, "missing")
    missing = np.zeros(n, dtype=bool)
    gap_starts = np.flatnonzero(rng.random(n) < pg["gap_rate"])
    gap_lengths = rng.integers(1, pg["max_gap"] + 1, len(gap_starts))
    for s, length in zip(gap_starts, gap_lengths):
        missing[s:s + length] = True
    outage_length = int(rng.integers(pg["outage_min"], pg["outage_max"] + 1))
    # In the last two years of the history, so that every scale shows one.
    history_days = n - HORIZON
    outage_start = int(rng.integers(history_days - 730, history_days - outage_length))
    web_visits = pd.array(visits, dtype="Int64")
    web_visits[outage_start:outage_start + outage_length] = pd.NA

    signals = pd.DataFrame({
        "date": days, "posts": posts.astype(np.int64), "reach": reach, "shares": shares.astype(np.int64),
        "new_followers": followers.astype(np.int64), "web_visits": web_visits,
        "press_mentions": press.astype(np.int64),
    })
    calendar = pd.DataFrame(rows, columns=["kind", "name", "start", "end", "channel", "change_pct"])
    kinds = {"holiday": 0, "tariff": 1, "price": 2, "campaign": 3, "news": 4}
    calendar = calendar.assign(_k=calendar["kind"].map(kinds)).sort_values(["start", "_k", "name"], kind="stable") \
        .drop(columns="_k").reset_index(drop=True)
    realised = {
        "campaigns": campaigns, "tariff_changes": tariffs, "own_price_changes": prices, "news_shocks": shocks,
        "web_outage": [days[outage_start].date().isoformat(),
                       days[outage_start + outage_length - 1].date().isoformat()],
    }
    return World(days, new, terminations, customers, signals, missing, calendar, realised)


def _poisson_quantile(lam: float, u: float) -> int:
    """The Poisson(lam) draw given by the uniform ``u`` (inverse CDF; a normal approximation with
    continuity correction above 500, where the sum of terms would underflow)."""
    if lam <= 0:
        return 0
    if lam > 500:
        from statistics import NormalDist

        return max(0, int(math.floor(NormalDist(lam, math.sqrt(lam)).inv_cdf(min(max(u, 1e-12), 1 - 1e-12)) + 0.5)))
    k, p = 0, math.exp(-lam)
    cumulative = p
    while cumulative < u and k < 10_000:
        k += 1
        p *= lam / k
        cumulative += p
    return k
