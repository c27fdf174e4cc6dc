"""The energy challenge's submissions, truth, scores, reference and split.

A submission forecasts the daily net customer growth of the forecast days, one line per day::

    date;net_growth;new;terminations;net_growth_lo80;net_growth_hi80
    2019-11-01;61.5;80;18.5;40;85

``date`` and ``net_growth`` are required: net growth is what is scored. ``new`` and
``terminations`` are optional, together: when given, they must not be negative and
``net_growth`` must equal ``new - terminations`` within :data:`ROUNDING` (forecasts are rounded
separately). ``net_growth_lo80`` and ``net_growth_hi80`` are optional, together: the bounds of an
80 % prediction interval (lo ≤ hi), scored by ``interval_score``. Numbers may be fractional; with
``;`` as the delimiter a decimal comma is accepted (French spreadsheets write ``61,5``). Dates are
``YYYY-MM-DD`` and must be exactly the split's days, once each.

Scores (all lower is better, none ever non-finite):

- ``growth_error``: |Σ forecast − Σ truth| / max(|Σ truth|, 1) over the scored days: the error of
  the cumulative growth, the figure the cooperative buys energy on (ranks);
- ``mase``: mean |forecast − truth| over the days divided by the in-sample mean absolute error of
  the weekly seasonal naive forecast (y(t) = y(t−7)) on the history before the days;
- ``interval_score``: the 80 % interval (Winkler) score, (hi − lo) + (2/0.2)·(lo − y)·[y < lo]
  + (2/0.2)·(y − hi)·[y > hi], averaged over the days and divided by the same scale (M4's MSIS);
  None without intervals.

Splits: ``test`` is ``truth_test.parquet`` (the 61 days after the history); ``train`` is the
history's own last 61 days, a labelled backtest with the same shape (its scale and its reference
use only the days before it), so that a team checks itself as the leaderboard will.
"""
from __future__ import annotations

import hashlib
import math
import re

import numpy as np
import pandas as pd

from datathon.challenges.energy import data, schema
from datathon.challenges.energy.world import HORIZON
from datathon.errors import UserError
from datathon.challenge import Submission
from datathon.evaluate import (DELIMITERS, _UTF8_BOM, _WRONG_DELIMITERS, _header_excerpt, _read_bytes, _reject_non_text,
                               _SAVE_AS_CSV, _Source, _split)
from datathon.text import plural

DEFAULT_MAX_BYTES = 1_000_000  # 61 short lines take a few kB
REQUIRED = ("date", "net_growth")
PARTS = ("new", "terminations")
INTERVAL = ("net_growth_lo80", "net_growth_hi80")
COLUMNS = REQUIRED + PARTS + INTERVAL
HEADER = "date;net_growth"
ROUNDING = 0.5  # |net_growth - (new - terminations)| allowed: each may be rounded on its own
ALPHA = 0.2  # 80 % intervals
SEASON = 7  # the seasonal naive's lag: the same weekday a week before
TREND_WEEKS = 13  # the reference's recent-trend window
YEAR = 364  # 52 weeks: the same weekday a year before
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]00:00(?::00)?)?")
_EXPECTED = f"expected a header line {HEADER} (optionally new;terminations and net_growth_lo80;net_growth_hi80), " \
            "then one line per forecast day"


# --------------------------------------------------------------------------- reading


def read_submission(source, *, known_ids=None, max_bytes: int | None = None) -> Submission:
    """Read and check a submission: a CSV path, its bytes, or a DataFrame.

    ``known_ids`` are the split's days (the truth's ``date``): the file must give each exactly
    once and no other. Without them, the days must be distinct and consecutive. Every problem is
    one :class:`UserError` line naming the offending lines.
    """
    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    if limit <= 0:
        raise UserError(f"the size limit must be a positive number of bytes, not {limit}")
    if isinstance(source, pd.DataFrame):
        fields, src, warnings, decimal_comma = _fields_from_frame(source)
        digest = None
    else:
        try:
            name, raw = _read_bytes(source, limit, None)
            _reject_non_text(raw.removeprefix(_UTF8_BOM), name)
        except UserError as err:  # the engine's messages still name Sirene's format (until datathon/submission.py)
            raise UserError(str(err).replace(_SAVE_AS_CSV, f"save the submission as CSV ({HEADER})")
                            .replace("one short line per bulletin", "one short line per forecast day")) from None
        digest = hashlib.sha256(raw).hexdigest()
        fields, src, warnings, decimal_comma = _fields_from_csv(raw, name)
    frame = _check(fields, src, known_ids, decimal_comma)
    return Submission(frame=frame, warnings=warnings, sha256=digest)


def _fields_from_csv(raw: bytes, name: str) -> tuple[dict[str, list[str]], _Source, list[str], bool]:
    warnings = []
    raw = raw.removeprefix(_UTF8_BOM)
    if not raw.strip():
        raise UserError(f"{name}: the file is empty — {_EXPECTED}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
        warnings.append(f"{name}: the file is not valid UTF-8: it was read as Latin-1")
    head = text.lstrip()[:1]
    if head in ("{", "["):
        raise UserError(f"{name}: the file looks like JSON, not a CSV — {_EXPECTED}")
    if head == "<":
        raise UserError(f"{name}: the file looks like HTML or XML, not a CSV — {_EXPECTED}")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not lines[0].strip():
        raise UserError(f"{name}: line 1 is blank — the first line must be the header {HEADER}")
    delimiter, header = _sniff(lines[0], name)
    _check_header(header, name, _header_excerpt(lines[0], delimiter))
    known = [c for c in header if c in COLUMNS]
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        warnings.append(f"{name}: ignored {plural(len(unknown), 'unknown column')}: {', '.join(map(repr, unknown))}")
    fields: dict[str, list[str]] = {c: [] for c in known}
    numbers, wrong = [], []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        values = _split(line, delimiter)
        if len(values) != len(header):
            wrong.append(number)
            continue
        numbers.append(number)
        for column, value in zip(header, values):
            if column in fields:
                fields[column].append(value.strip())
    if wrong:
        shown = ", ".join(map(str, wrong[:10])) + (", …" if len(wrong) > 10 else "")
        raise UserError(f"{name}: {plural(len(wrong), 'line does', 'lines do')} not have the header's {len(header)} "
                        f"fields ({'line' if len(wrong) == 1 else 'lines'} {shown}) — separate fields with "
                        f"{delimiter!r} as in the header")
    return fields, _Source(name, "line", np.array(numbers, dtype=object)), warnings, delimiter == ";"


def _sniff(header_line: str, name: str) -> tuple[str, list[str]]:
    """``;`` or ``,``: the one whose fields hold the required columns, else the one giving more."""
    candidates = []
    for delimiter in DELIMITERS:
        header = [f.strip().strip("\ufeff").strip().lower() for f in _split(header_line, delimiter)]
        candidates.append((all(c in header for c in REQUIRED), len(header), delimiter == ";", delimiter, header))
    _, width, _, delimiter, header = max(candidates)
    if width == 1:
        for wrong, label in _WRONG_DELIMITERS.items():
            if wrong in header_line.strip():
                raise UserError(f"{name}: the header {_header_excerpt(header_line, delimiter)} separates its fields "
                                f"with {label} — accepted delimiters are ';' and ','")
    return delimiter, header


def _check_header(header: list[str], name: str, shown: str) -> None:
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        looks_like_data = bool(header) and bool(_DATE.fullmatch(header[0]))
        hint = f"the first line looks like data: add the header line {HEADER}" if looks_like_data else _EXPECTED
        raise UserError(f"{name}: missing required {'column' if len(missing) == 1 else 'columns'} "
                        f"{', '.join(missing)} in the header {shown} — {hint}")
    repeated = sorted({c for c in header if header.count(c) > 1 and c in COLUMNS})
    if repeated:
        raise UserError(f"{name}: the header {shown} repeats {', '.join(repeated)}")
    for pair in (PARTS, INTERVAL):
        given = [c for c in pair if c in header]
        if len(given) == 1:
            other = next(c for c in pair if c not in given)
            raise UserError(f"{name}: the header has {given[0]} but not {other} — give both or neither")


def _fields_from_frame(frame: pd.DataFrame) -> tuple[dict[str, list[str]], _Source, list[str], bool]:
    name = "submission"
    header = [str(c).strip().lower() for c in frame.columns]
    _check_header(header, name, repr(";".join(map(str, frame.columns))[:80]))
    warnings = []
    unknown = [str(c) for c, h in zip(frame.columns, header) if h not in COLUMNS]
    if unknown:
        warnings.append(f"{name}: ignored {plural(len(unknown), 'unknown column')}: {', '.join(map(repr, unknown))}")
    fields = {}
    for position, column in enumerate(header):
        if column not in COLUMNS:
            continue
        series = frame.iloc[:, position]
        if column == "date" and pd.api.types.is_datetime64_any_dtype(series):
            text = series.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            text = series.astype("float64").map(repr)
        else:
            text = series.map(lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v))
        fields[column] = ["" if pd.isna(v) or v in ("nan", "NaT", "<NA>", "None") else str(v).strip()
                          for v in text.tolist()]
    return fields, _Source(name, "row", np.asarray(frame.index, dtype=object)), warnings, False


def _numbers(values: list[str], column: str, src: _Source, decimal_comma: bool) -> np.ndarray:
    text = [v.replace(",", ".") if decimal_comma else v for v in values]
    blank = np.array([not v for v in text], dtype=bool)
    if blank.any():
        raise src.problem(blank, f"{plural(int(blank.sum()), 'empty ' + column + ' value')}",
                          hint=f"every forecast day needs a {column}")
    parsed = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(parsed)
    if bad.any():
        raise src.problem(bad, f"{plural(int(bad.sum()), column + ' value')} not a finite number", values=values,
                          hint="write numbers such as 61 or 61.5")
    return parsed


def _check(fields: dict[str, list[str]], src: _Source, known_ids, decimal_comma: bool) -> pd.DataFrame:
    n = len(fields["date"])
    name = src.name
    if n == 0:
        raise UserError(f"{name}: no forecast line after the header — {_EXPECTED}")
    dates_text = fields["date"]
    well_formed = np.array([bool(_DATE.fullmatch(v)) for v in dates_text], dtype=bool)
    dates = pd.to_datetime(pd.Series([v[:10] if ok else None for v, ok in zip(dates_text, well_formed)]),
                           format="%Y-%m-%d", errors="coerce")
    bad = dates.isna().to_numpy()
    if bad.any():
        raise src.problem(bad, f"{plural(int(bad.sum()), 'date')} not a day written YYYY-MM-DD", values=dates_text,
                          hint="write dates as 2019-11-01")
    repeated = dates.duplicated(keep=False).to_numpy()
    if repeated.any():
        raise src.problem(repeated, f"{plural(int(dates[repeated].nunique()), 'date')} given more than once",
                          values=dates_text, hint="one line per forecast day")
    if known_ids is not None:
        expected = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(known_ids)))).normalize()
        outside = ~dates.isin(expected).to_numpy()
        window = f"{expected.min():%Y-%m-%d} to {expected.max():%Y-%m-%d}" if len(expected) else "empty"
        if outside.any():
            raise src.problem(outside, f"{plural(int(outside.sum()), 'date')} outside the forecast days ({window})",
                              values=dates_text)
        absent = expected[~expected.isin(dates)]
        if len(absent):
            shown = ", ".join(f"{d:%Y-%m-%d}" for d in absent[:5]) + (", …" if len(absent) > 5 else "")
            raise UserError(f"{name}: {plural(len(absent), 'forecast day')} missing: {shown} — give one line per "
                            f"day from {window}")
    else:
        span = (dates.max() - dates.min()).days + 1
        if span != n:
            raise UserError(f"{name}: the dates run from {dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d} but "
                            f"{n} of those {span} days are given — give one line per consecutive day")

    frame = pd.DataFrame({"date": dates.astype("datetime64[ns]")})
    frame["net_growth"] = _numbers(fields["net_growth"], "net_growth", src, decimal_comma)
    if "new" in fields:
        for column in PARTS:
            frame[column] = _numbers(fields[column], column, src, decimal_comma)
            negative = frame[column].to_numpy() < 0
            if negative.any():
                raise src.problem(negative, f"{plural(int(negative.sum()), column + ' value')} below 0",
                                  values=fields[column], hint=f"{column} counts contracts")
        gap = np.abs(frame["net_growth"] - (frame["new"] - frame["terminations"])).to_numpy()
        inconsistent = gap > ROUNDING + 1e-9
        if inconsistent.any():
            raise src.problem(inconsistent, f"{plural(int(inconsistent.sum()), 'line')} where net_growth is not "
                              f"new - terminations (within {ROUNDING})", values=fields["net_growth"],
                              hint="net_growth = new - terminations")
    if INTERVAL[0] in fields:
        for column in INTERVAL:
            frame[column] = _numbers(fields[column], column, src, decimal_comma)
        reversed_ = (frame[INTERVAL[0]] > frame[INTERVAL[1]]).to_numpy()
        if reversed_.any():
            raise src.problem(reversed_, f"{plural(int(reversed_.sum()), 'interval')} with "
                              f"{INTERVAL[0]} above {INTERVAL[1]}", values=fields[INTERVAL[0]],
                              hint="the lower bound comes first")
    frame.index = pd.Index(src.labels, name=src.unit)
    return frame.sort_values("date", kind="stable")


# --------------------------------------------------------------------------- truth and context


def load_truth(directory, split: str) -> pd.DataFrame:
    """The split's days with ``new``, ``terminations``, ``net_growth`` (``date`` first).

    ``attrs["naive_mae"]`` holds the scale of ``mase`` (from the history before the days), so that
    :func:`score` works on the frame alone.
    """
    if split not in schema.SCHEMA.splits:
        raise UserError(f"unknown split {split!r}: choose {' or '.join(schema.SCHEMA.splits)}")
    daily = data.history(directory)
    if split == "test":
        truth = data.load(directory, schema.TRUTH, required=False)
        if truth is None:
            raise UserError(f"no {schema.TRUTH} in {directory}: the test truth is the instructor's "
                            f"(participants' copies lack it); score the train split, the history's last {HORIZON} days")
        truth = truth[["date", "new", "terminations", "net_growth"]].sort_values("date", kind="stable")
    else:
        if len(daily) < HORIZON + 2 * YEAR:
            raise UserError(f"{directory}: {len(daily)} days of history; the train split needs over two years")
        truth = daily.iloc[-HORIZON:][["date", "new", "terminations", "net_growth"]]
    truth = truth.reset_index(drop=True)
    truth.attrs["naive_mae"] = naive_mae(daily, truth["date"].min())
    return truth


def naive_mae(daily: pd.DataFrame, before) -> float | None:
    """Mean |y(t) − y(t−7)| of ``net_growth`` over the history before ``before`` (pairs of present days)."""
    history = daily[daily["date"] < before].set_index("date")["net_growth"].astype("float64")
    if history.empty:
        return None
    full = history.reindex(pd.date_range(history.index.min(), history.index.max(), freq="D"))
    errors = (full - full.shift(SEASON)).abs().dropna()
    return float(errors.mean()) if len(errors) and errors.mean() > 0 else None


def context(directory, truth: pd.DataFrame) -> dict:
    """The scale of ``mase`` and ``interval_score``, from the history before the truth's days."""
    if directory is None:
        return {"naive_mae": truth.attrs.get("naive_mae")}
    return {"naive_mae": naive_mae(data.history(directory), pd.Timestamp(truth["date"].min()))}


# --------------------------------------------------------------------------- scores


def _finite(value) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def score(submission, truth: pd.DataFrame, *, context: dict | None = None) -> dict:
    """Every score (None when not applicable): see the module docstring."""
    frame = getattr(submission, "frame", submission)  # a Submission (any reader's) or a bare frame
    scale = (context or {}).get("naive_mae", truth.attrs.get("naive_mae"))
    # A frame straight from reference() holds its dates as text: compare days with days.
    forecast = frame.assign(date=pd.to_datetime(frame["date"])).set_index("date").reindex(pd.DatetimeIndex(truth["date"]))
    y = truth["net_growth"].to_numpy(dtype="float64")
    predicted = forecast["net_growth"].to_numpy(dtype="float64")
    missing = np.isnan(predicted)
    predicted = np.where(missing, 0.0, predicted)  # a day without a forecast counts as no growth
    total_true, total_forecast = float(y.sum()), float(predicted.sum())
    mae = float(np.abs(predicted - y).mean()) if len(y) else None
    result = {
        "growth_error": _finite(abs(total_forecast - total_true) / max(abs(total_true), 1.0)) if len(y) else None,
        "mase": _finite(mae / scale) if mae is not None and scale else None,
        "interval_score": None,
        "n_days": int(len(y)),
        "cumulative_truth": total_true,
        "cumulative_forecast": total_forecast,
        "mae": _finite(mae) if mae is not None else None,
        "warnings": [f"{plural(int(missing.sum()), 'day')} without a forecast counted as 0"] if missing.any() else [],
    }
    if all(c in forecast.columns for c in INTERVAL) and scale and len(y):
        lo = forecast[INTERVAL[0]].to_numpy(dtype="float64")
        hi = forecast[INTERVAL[1]].to_numpy(dtype="float64")
        if not (np.isnan(lo).any() or np.isnan(hi).any()):
            winkler = (hi - lo) + (2 / ALPHA) * (lo - y) * (y < lo) + (2 / ALPHA) * (y - hi) * (y > hi)
            result["interval_score"] = _finite(float(winkler.mean()) / scale)
    return result


# --------------------------------------------------------------------------- reference and split


def reference(directory, split: str) -> pd.DataFrame:
    """The same weeks last year (52 weeks before, same weekday) scaled by the recent trend: the
    ratio of the last 13 weeks to the same 13 weeks a year earlier, for new and terminations apart."""
    return reference_from_history(data.history(directory), _split_days(directory, split), name=str(directory))


def reference_from_history(daily: pd.DataFrame, truth_days: pd.DatetimeIndex, *, name: str = "the history") -> pd.DataFrame:
    """:func:`reference` for any forecast days, from a ``daily`` frame (only its days before them are
    read): what rolling-origin backtests compare against."""
    truth_days = pd.DatetimeIndex(truth_days)
    history = daily[daily["date"] < truth_days.min()].set_index("date")
    first = truth_days.min()
    recent = pd.date_range(first - pd.Timedelta(days=7 * TREND_WEEKS), first - pd.Timedelta(days=1), freq="D")
    year_before = recent - pd.Timedelta(days=YEAR)
    last_year = truth_days - pd.Timedelta(days=YEAR)
    needed = recent.union(year_before).union(last_year)
    absent = needed.difference(history.index)
    if len(absent):
        raise UserError(f"{name}: the reference needs the history's days from {needed.min():%Y-%m-%d}; "
                        f"{plural(len(absent), 'day')} missing (e.g. {absent[0]:%Y-%m-%d})")
    out = {"date": truth_days}
    for column in PARTS:
        before = float(history.loc[year_before, column].sum())
        ratio = float(history.loc[recent, column].sum()) / before if before > 0 else 1.0
        out[column] = np.round(history.loc[last_year, column].to_numpy(dtype="float64") * ratio, 2)
    frame = pd.DataFrame(out)
    frame["net_growth"] = np.round(frame["new"] - frame["terminations"], 2)
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    return frame[["date", "net_growth", "new", "terminations"]].reset_index(drop=True)


def _split_days(directory, split: str) -> pd.DatetimeIndex:
    """The days a split forecasts, without reading the test truth's values."""
    if split not in schema.SCHEMA.splits:
        raise UserError(f"unknown split {split!r}: choose {' or '.join(schema.SCHEMA.splits)}")
    daily = data.history(directory)
    if split == "train":
        return pd.DatetimeIndex(daily["date"].iloc[-HORIZON:])
    start = daily["date"].max() + pd.Timedelta(days=1)
    return pd.date_range(start, periods=HORIZON, freq="D")


def split(truth: pd.DataFrame, salt: str, share: float | None) -> np.ndarray:
    """Public: the days of the first calendar month of the forecast; private: the rest."""
    if share is not None:
        raise UserError("the energy challenge splits by time (public: the first calendar month of the forecast "
                        "days, private: the rest): drop --public-share")
    dates = pd.DatetimeIndex(truth["date"])
    if not len(dates):
        return np.zeros(0, dtype=bool)
    first = dates.min()
    return np.asarray((dates.year == first.year) & (dates.month == first.month), dtype=bool)
