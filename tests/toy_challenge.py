"""A tiny challenge for the engine's tests: forecast a daily count, lower error is better.

It is everything Sirene is not, so that an engine that still thinks in Sirene's terms fails on
it: its score is an error (``mae``, lower is better, a plain number), its public/private split is
by time (the first half of the forecast days is public, no share, no salt), its reference is a
naive forecast called ``Naive``, and its data is one CSV file, ``daily.csv`` (``date``,
``count``, ``split``). Tests inject it with :func:`install`, which monkeypatches the registry
(docs/challenges.md, §2 "Engine tests over every challenge").
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from datathon.challenge import (
    Challenge,
    Column,
    Direction,
    FileSpec,
    Schema,
    ScoreType,
    Submission,
    SubmissionFormat,
)
from datathon.errors import UserError

NAME = "toy"
FILE = "daily.csv"
TRAIN_DAYS, TEST_DAYS = 60, 20
FIRST_DAY = pd.Timestamp("2024-01-01")


class ToyChallenge(Challenge):
    name = NAME
    title = "Toy: forecast a daily count"
    version = "1"
    schema = Schema(
        files=(FileSpec(FILE, (Column("date", "string", "the day, ISO 8601"),
                               Column("count", "float64", "what was counted that day"),
                               Column("split", "string", "train (given) or test (to forecast)"))),),  # fmt: skip
        id_column="date",
    )
    scales = ("sample",)
    submission = SubmissionFormat(required=("date", "count"), max_lines_per_row=1)
    score_types = (
        ScoreType("mae", "mean absolute error", Direction.LOWER, format="number", digits=2, on_board=True),
        ScoreType("bias", "mean error", Direction.LOWER, format="number", digits=2),
    )
    reference_name = "Naive"
    split_kind = "time"
    default_public_share = None
    unit = "forecast days"

    def generate(self, seed, scale, out, *, force=False, progress=True, **options) -> dict:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=bool(force) or not any(out.glob("*")))
        rng = np.random.default_rng(int(seed))
        days = pd.date_range(FIRST_DAY, periods=TRAIN_DAYS + TEST_DAYS, freq="D")
        level = 100 + 0.5 * np.arange(len(days)) + 10 * np.sin(np.arange(len(days)) * 2 * np.pi / 7)
        frame = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "count": np.round(level + rng.normal(0, 3, len(days)), 1),
                              "split": ["train"] * TRAIN_DAYS + ["test"] * TEST_DAYS})  # fmt: skip
        frame.to_csv(out / FILE, index=False)
        manifest = {"challenge": NAME, "seed": int(seed), "scale": scale}
        (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        return manifest

    def check(self, directory):
        return [] if (Path(directory) / FILE).is_file() else [f"{FILE} is missing"]

    def _days(self, directory: Path) -> pd.DataFrame:
        path = Path(directory) / FILE
        if not path.is_file():
            raise UserError(f"{path} not found: generate the toy data first")
        return pd.read_csv(path, dtype={"date": str, "count": float, "split": str})

    def load_truth(self, directory, split):
        days = self._days(directory)
        return days[days["split"] == split][["date", "count"]].reset_index(drop=True)

    def read_submission(self, source, *, known_ids=None, max_bytes=None):
        if isinstance(source, pd.DataFrame):
            frame, digest = source.copy(), None
        else:
            data = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
            if max_bytes is not None and len(data) > max_bytes:
                raise UserError(f"the submission has {len(data):,} bytes; at most {max_bytes:,} are read")
            digest = hashlib.sha256(data).hexdigest()
            try:
                frame = pd.read_csv(io.BytesIO(data), dtype={"date": str})
            except (ValueError, pd.errors.ParserError) as err:
                raise UserError(f"the submission is not a CSV file of date,count ({' '.join(str(err).split())})") from None
        missing = [c for c in self.submission.required if c not in frame.columns]
        if missing:
            raise UserError(f"the submission lacks the column(s) {', '.join(missing)}: expected date,count")
        counts = pd.to_numeric(frame["count"], errors="coerce")
        if counts.isna().any() or not np.isfinite(counts.to_numpy(dtype=float)).all():
            raise UserError("every count of the submission must be a finite number")
        frame = pd.DataFrame({"date": frame["date"].astype(str), "count": counts.astype(float)})
        if known_ids is not None:
            unknown = sorted(set(frame["date"]) - set(pd.Series(known_ids).astype(str)))
            if unknown:
                raise UserError(f"{len(unknown)} date(s) of the submission are not forecast days, such as {unknown[0]}")
        if frame["date"].duplicated().any():
            raise UserError(f"the date {frame.loc[frame['date'].duplicated(), 'date'].iloc[0]} appears twice")
        return Submission(frame=frame, sha256=digest)

    def score(self, submission, truth, *, context=None) -> dict:
        frame = submission.frame if isinstance(submission, Submission) else submission
        predicted = truth[["date"]].merge(frame, on="date", how="left")["count"].fillna(0.0).to_numpy()
        error = predicted - truth["count"].to_numpy(dtype=float)
        n = len(truth)
        return {"n_days": n, "mae": float(np.abs(error).mean()) if n else None,
                "bias": float(error.mean()) if n else None}  # fmt: skip

    def reference(self, directory, split):
        """The mean of the last seven training days, for every day to forecast."""
        days = self._days(directory)
        level = days[days["split"] == "train"]["count"].tail(7).mean()
        truth = self.load_truth(directory, split)
        return pd.DataFrame({"date": truth["date"], "count": float(level)})

    def split(self, truth, salt, share):
        """The first half of the forecast days is public (by time: no salt, no share)."""
        order = pd.to_datetime(truth["date"]).rank(method="first").to_numpy()
        return order <= len(truth) // 2


TOY = ToyChallenge()


def install(monkeypatch) -> ToyChallenge:
    """Make ``toy`` an installed challenge for the test (the registry's cache, undone afterwards)."""
    from datathon import challenges

    monkeypatch.setitem(challenges._loaded, NAME, TOY)
    monkeypatch.setattr(challenges, "available", lambda: {**challenges.BUILTINS, NAME: "toy_challenge:TOY"})
    return TOY


def forecast(truth: pd.DataFrame, error: float, *, seed: int = 0) -> pd.DataFrame:
    """A submission whose every forecast is off by about ``error`` (either way)."""
    rng = np.random.default_rng(seed)
    signs = np.where(rng.random(len(truth)) < 0.5, -1.0, 1.0)
    return pd.DataFrame({"date": truth["date"].astype(str), "count": truth["count"].to_numpy(dtype=float) + signs * error})
