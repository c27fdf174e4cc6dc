"""Checking an energy data directory, synthetic or an organiser's CSV extract: every problem at once.

One :class:`datathon.check.Problem` per (file, kind of problem), with a count and a few examples
located by ``row N`` (parquet, from 0) or ``line N`` (CSV, the header is line 1). Never a
traceback: data odd enough to break a step becomes an ``unreadable-file`` problem.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from datathon.challenges.energy import schema
from datathon.challenges.energy.data import convert, describe
from datathon.challenges.energy.world import HORIZON
from datathon.check import ERROR, MAX_EXAMPLES, WARNING, CheckReport, Problem, manifest_checksums
from datathon.data import data_directory, file_columns, find_file, load_manifest, read_raw
from datathon.errors import UserError
from datathon.files import sha256_file
from datathon.text import plural

KINDS: dict[str, str] = {
    "missing-file": "a file every energy data directory has is absent",
    "unreadable-file": "a file cannot be read (corrupt, not parquet, malformed CSV or JSON)",
    "empty-file": "a file has no rows",
    "missing-columns": "columns of the schema are absent from a file",
    "extra-columns": "columns beyond the schema (warning: the loader keeps them)",
    "wrong-type": "values that are not of the column's type (text in a count, a date not YYYY-MM-DD)",
    "missing-value": "an empty value where the column is always filled",
    "duplicate-key": "the same date (or date, region and channel) on several rows",
    "missing-date": "days absent from the daily history, which has every day",
    "negative-count": "a count below zero",
    "invalid-value": "a value outside the column's domain (unknown calendar kind, an end before its start)",
    "net-mismatch": "net_growth differs from new - terminations",
    "stock-mismatch": "customers differs from the previous day's customers plus net_growth",
    "total-mismatch": "the daily totals differ from the sum of subscriptions.parquet's rows",
    "truth-mismatch": f"the truth's days are not the {HORIZON} days after the history",
    "wrong-challenge": "manifest.json names another challenge",
    "checksum-mismatch": "a file whose sha256 differs from manifest.json",
    "row-count-mismatch": "a file whose row count differs from manifest.json",
}
REQUIRED = (schema.DAILY, schema.SUBSCRIPTIONS, schema.SIGNALS, schema.CALENDAR)
# Columns that may be empty (the others are always filled).
NULLABLE = {(schema.SIGNALS, "web_visits"), (schema.CALENDAR, "channel"), (schema.CALENDAR, "change_pct")}


def check(directory) -> list[Problem]:
    """Every problem of an energy data directory (empty when it is sound)."""
    return run_check(directory).problems


def run_check(directory) -> CheckReport:
    """``datathon data check``: the problems and the row count of each file that could be read."""
    checker = _Checker(data_directory(directory))
    problems = checker.run()
    rows = {checker.paths[name].name: len(frame) for name, frame in checker.frames.items()}
    return CheckReport(checker.directory, problems=problems, rows=rows)


class _Checker:
    def __init__(self, directory: Path):
        self.directory = directory
        self.problems: list[Problem] = []
        self.frames: dict[str, pd.DataFrame] = {}
        self.paths: dict[str, Path] = {}

    def run(self) -> list[Problem]:
        for spec in schema.FILES:
            self._guarded(spec.name, lambda name=spec.name: self._read(name))
        for name, step in [(schema.DAILY, self._daily), (schema.SUBSCRIPTIONS, self._subscriptions),
                           (schema.CALENDAR, self._calendar), (schema.TRUTH, self._truth),
                           (schema.MANIFEST, self._manifest)]:
            self._guarded(name, step)
        return self.problems

    def _guarded(self, name: str, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as err:  # noqa: BLE001 - the promise: bad data never gives a traceback
            text = (str(err).strip() or type(err).__name__).splitlines()[0]
            self.add(self._shown(name), "unreadable-file", f"could not be checked: {type(err).__name__}: {text}")

    # -- recording ----------------------------------------------------------------------------

    def _shown(self, name: str) -> str:
        return self.paths[name].name if name in self.paths else name

    def add(self, file: str, kind: str, message: str, examples=(), count: int = 1, level: str = ERROR) -> None:
        assert kind in KINDS, kind
        self.problems.append(Problem(file, kind, message, tuple(examples)[:MAX_EXAMPLES], count, level))

    def rows(self, name: str, mask, kind: str, message: str, show: Callable[[int], str]) -> None:
        """One problem for the rows of ``name`` where ``mask`` holds; ``message`` takes ``{n}`` and ``{s}``."""
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        if not len(positions):
            return
        csv = self.paths[name].suffix == ".csv"
        where = [f"{'line' if csv else 'row'} {i + 2 if csv else i}: {show(i)}" for i in positions[:MAX_EXAMPLES]]
        n = len(positions)
        self.add(self._shown(name), kind, message.format(n=f"{n:,}", s="" if n == 1 else "s"), where, n)

    # -- reading ------------------------------------------------------------------------------

    def _read(self, name: str) -> None:
        path = find_file(self.directory, name)
        if path is None:
            if name in REQUIRED:
                self.add(name, "missing-file", f"is absent (and so is {Path(name).stem}.csv): every energy data "
                         "directory has it")
            return
        self.paths[name] = path
        try:
            present = file_columns(path)
            raw = read_raw(path)
        except Exception as err:  # noqa: BLE001 - whatever the reader says, the file is unreadable
            text = (str(err).strip() or type(err).__name__).splitlines()[0]
            self.add(path.name, "unreadable-file", f"cannot be read: {text}")
            return
        dtypes = schema.dtypes(name)
        missing = [c for c in dtypes if c not in present]
        if missing:
            self.add(path.name, "missing-columns", f"{plural(len(missing), 'column')} of the schema absent: "
                     f"{', '.join(missing)}", count=len(missing))
        extra = [c for c in present if c not in dtypes]
        if extra:
            self.add(path.name, "extra-columns", f"{plural(len(extra), 'column')} not in the schema (the loader "
                     f"keeps them): {', '.join(extra[:20])}", count=len(extra), level=WARNING)
        if raw.empty:
            self.add(path.name, "empty-file", "has no rows")
        frame = {}
        for column, dtype in dtypes.items():
            if column not in raw.columns:
                continue
            values, bad = convert(raw[column], dtype)
            empty = raw[column].isna().to_numpy()
            # An empty value is a missing one (below), not one of the wrong type.
            self.rows(name, bad & ~empty, "wrong-type", f"{{n}} value{{s}} of {column} not {describe(dtype)}",
                      lambda i, v=raw[column]: repr(v.iat[i]))
            if (name, column) not in NULLABLE:
                self.rows(name, empty, "missing-value", f"{{n}} empty value{{s}} of {column}", lambda i: "empty")
            frame[column] = values
        frame = pd.DataFrame(frame, index=pd.RangeIndex(len(raw)))
        for column in schema.COUNTS[name]:
            if column in frame:
                negative = (frame[column] < 0).fillna(False).to_numpy(dtype=bool)
                self.rows(name, negative, "negative-count", f"{{n}} negative value{{s}} of {column}",
                          lambda i, c=column: str(frame[c].iat[i]))
        key = [c for c in schema.KEYS.get(name, ()) if c in frame]
        if key and len(key) == len(schema.KEYS[name]):
            repeated = frame.duplicated(key, keep=False).to_numpy() & frame[key].notna().all(axis=1).to_numpy()
            self.rows(name, repeated, "duplicate-key", f"{{n}} row{{s}} repeat a {', '.join(key)}",
                      lambda i: ", ".join(_text(frame[c].iat[i]) for c in key))
        self.frames[name] = frame

    # -- files alone and together -------------------------------------------------------------

    def _net(self, name: str) -> None:
        f = self.frames[name]
        if {"new", "terminations", "net_growth"} <= set(f.columns):
            wrong = (f["net_growth"] != f["new"] - f["terminations"]).fillna(False).to_numpy(dtype=bool)
            self.rows(name, wrong, "net-mismatch", "{n} row{s} where net_growth is not new - terminations",
                      lambda i: f"{_text(f['date'].iat[i])}: {f['net_growth'].iat[i]} ≠ {f['new'].iat[i]} - "
                                f"{f['terminations'].iat[i]}")

    def _daily(self) -> None:
        if schema.DAILY not in self.frames:
            return
        f = self.frames[schema.DAILY]
        self._net(schema.DAILY)
        if "date" not in f or f["date"].isna().all():
            return
        order = f.sort_values("date", kind="stable")
        days = pd.DatetimeIndex(order["date"].dropna().unique())
        absent = pd.date_range(days.min(), days.max(), freq="D").difference(days)
        if len(absent):
            self.add(self._shown(schema.DAILY), "missing-date", f"{plural(len(absent), 'day')} absent between "
                     f"{days.min():%Y-%m-%d} and {days.max():%Y-%m-%d}: the daily history has every day",
                     [f"{d:%Y-%m-%d}" for d in absent[:MAX_EXAMPLES]], len(absent))
        if {"customers", "net_growth"} <= set(f.columns) and not len(absent):
            stock = order["customers"].to_numpy(dtype="float64")
            net = order["net_growth"].to_numpy(dtype="float64")
            wrong = np.zeros(len(order), dtype=bool)
            wrong[1:] = stock[1:] != stock[:-1] + net[1:]
            positions = order.index.to_numpy()
            mask = np.zeros(len(f), dtype=bool)
            mask[positions[wrong]] = True
            self.rows(schema.DAILY, mask, "stock-mismatch",
                      "{n} day{s} whose customers are not the previous day's plus net_growth",
                      lambda i: f"{_text(f['date'].iat[i])}: {f['customers'].iat[i]}")

    def _subscriptions(self) -> None:
        if schema.SUBSCRIPTIONS not in self.frames or schema.DAILY not in self.frames:
            return
        s, d = self.frames[schema.SUBSCRIPTIONS], self.frames[schema.DAILY]
        if not ({"date", "new", "terminations"} <= set(s.columns) and {"date", "new", "terminations"} <= set(d.columns)):
            return
        totals = s.groupby("date")[["new", "terminations"]].sum()
        daily = d.dropna(subset=["date"]).drop_duplicates("date").set_index("date")[["new", "terminations"]]
        joined = daily.join(totals.add_suffix("_rows")).fillna(0)  # a day without rows had nothing
        wrong = (joined["new"] != joined["new_rows"]) | (joined["terminations"] != joined["terminations_rows"])
        outside = totals.index.difference(daily.index)
        if wrong.any():
            shown = [f"{day:%Y-%m-%d}: daily {int(r.new)} new, {int(r.terminations)} terminations; rows "
                     f"{int(r.new_rows)}, {int(r.terminations_rows)}" for day, r in joined[wrong].head(MAX_EXAMPLES).iterrows()]
            self.add(self._shown(schema.SUBSCRIPTIONS), "total-mismatch", f"{plural(int(wrong.sum()), 'day')} whose "
                     f"rows do not add up to {schema.DAILY}'s new and terminations", shown, int(wrong.sum()))
        if len(outside):
            self.add(self._shown(schema.SUBSCRIPTIONS), "total-mismatch", f"{plural(len(outside), 'day')} absent "
                     f"from {schema.DAILY}", [f"{day:%Y-%m-%d}" for day in outside[:MAX_EXAMPLES]], len(outside))

    def _calendar(self) -> None:
        if schema.CALENDAR not in self.frames:
            return
        c = self.frames[schema.CALENDAR]
        if "kind" in c:
            unknown = c["kind"].notna().to_numpy() & ~c["kind"].isin(schema.CALENDAR_KINDS).to_numpy()
            self.rows(schema.CALENDAR, unknown, "invalid-value",
                      f"{{n}} row{{s}} of an unknown kind (known: {', '.join(schema.CALENDAR_KINDS)})",
                      lambda i: repr(c["kind"].iat[i]))
        if {"start", "end"} <= set(c.columns):
            backwards = (c["end"] < c["start"]).fillna(False).to_numpy(dtype=bool)
            self.rows(schema.CALENDAR, backwards, "invalid-value", "{n} row{s} ending before they start",
                      lambda i: f"{_text(c['start'].iat[i])} to {_text(c['end'].iat[i])}")

    def _truth(self) -> None:
        if schema.TRUTH not in self.frames:
            return
        self._net(schema.TRUTH)
        t = self.frames[schema.TRUTH]
        d = self.frames.get(schema.DAILY)
        if d is None or "date" not in d or "date" not in t or d["date"].isna().all():
            return
        start = d["date"].max() + pd.Timedelta(days=1)
        expected = pd.date_range(start, periods=HORIZON, freq="D")
        given = pd.DatetimeIndex(t["date"].dropna())
        if len(given) != HORIZON or not given.sort_values().equals(expected):
            extra = given.difference(expected)
            absent = expected.difference(given)
            shown = [f"missing {day:%Y-%m-%d}" for day in absent[:3]] + [f"extra {day:%Y-%m-%d}" for day in extra[:2]]
            self.add(self._shown(schema.TRUTH), "truth-mismatch", f"{len(given)} days, expected the {HORIZON} days "
                     f"{expected[0]:%Y-%m-%d} to {expected[-1]:%Y-%m-%d} after the history", shown)

    def _manifest(self) -> None:
        try:
            manifest = load_manifest(self.directory)
        except UserError as err:
            self.add(schema.MANIFEST, "unreadable-file", str(err))
            return
        if manifest is None:
            return
        if manifest.get("challenge", "sirene") != "energy":
            self.add(schema.MANIFEST, "wrong-challenge", f"says challenge {manifest.get('challenge', 'sirene')!r}, "
                     "not 'energy'")
        for file, expected in manifest_checksums(manifest).items():
            target = self.directory / file
            if not target.is_file():  # participants' copies lack the truth on purpose
                continue
            actual = sha256_file(target)
            if actual != expected:
                self.add(file, "checksum-mismatch", f"sha256 differs from {schema.MANIFEST}: the file changed since "
                         f"the manifest was written (expected {expected[:12]}…, found {actual[:12]}…)")
        rows = manifest.get("rows")
        if isinstance(rows, dict):
            for name, expected in rows.items():
                if name in self.frames and isinstance(expected, int) and len(self.frames[name]) != expected:
                    self.add(self._shown(name), "row-count-mismatch",
                             f"{len(self.frames[name]):,} rows, {schema.MANIFEST} says {expected:,}")


def _text(value) -> str:
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}"
    return "empty" if pd.isna(value) else str(value)
