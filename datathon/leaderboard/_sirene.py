"""Sirene's scoring on the leaderboard: the register check and the public part blind to the split.

This is Sirene's :meth:`~datathon.challenge.Challenge.score_parts` and
:meth:`~datathon.challenge.Challenge.context` (``datathon.challenges.sirene`` calls them); it lives
here, beside the leaderboard it was written for, until the Sirene modules move into their package
(docs/challenges.md, §4 step 3). Its figures are held by tests/test_sirene_golden.py.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from datathon import schema


@dataclass(frozen=True)
class Register:
    """The register's SIRETs, as int64, prepared once so that scoring stays fast.

    Passing the whole register (8.5 M SIRETs at campaign scale) to each scoring costs ~2 s a time,
    for a check that can only change a result where the coded SIRET equals the true one. So:

    - ``for_parts`` is what the public and private parts are scored with: None when every true
      SIRET is in the register (then "in the register" never changes a correct coding), else only
      the true SIRETs that are in it (the same answer, on a much smaller set);
    - ``sorted`` (the whole register) finds, in one vectorised lookup, whether a submission codes
      any SIRET absent from the register; only then is the full check run, for its warning.
    """

    sorted: np.ndarray | None
    for_parts: np.ndarray | None

    @classmethod
    def load(cls, data: Path, truth: pd.DataFrame) -> Register:
        from datathon import evaluate

        try:
            register = evaluate._register_sirets(data)  # int64, read and converted once
        except Exception:  # an unreadable register only costs the check, never a submission
            register = None
        if register is None:
            return cls(None, None)
        ordered = _sorted_unique(register)
        true, _ = evaluate._siret_ints(truth["SIRET_DEC"])
        true = _sorted_unique(true[true >= 0])
        listed = _in_all_sorted(ordered, true)  # both sorted
        return cls(ordered, None if listed.all() else true[listed])

    def lists(self, sirets: np.ndarray) -> np.ndarray:
        """Which of these coded SIRETs can count as right: all, unless the register lacks some
        true SIRETs (``for_parts``), in which case only those it has."""
        if self.for_parts is None:
            return np.ones(len(sirets), dtype=bool)
        return _in_all_sorted(self.for_parts, sirets)

    def absent(self, sirets: np.ndarray) -> bool:
        """Is any of these int64 SIRETs (-1 = not coded) missing from the register?"""
        if self.sorted is None:
            return False
        coded = np.sort(sirets[sirets >= 0])
        return bool(len(coded)) and not _in_all_sorted(self.sorted, coded).all()


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting: numpy's hash-based unique takes seconds on 8.5 M int64."""
    ordered = np.sort(values)
    if len(ordered) == 0:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def _in_all_sorted(ordered: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Which of ``values`` are in the sorted array ``ordered`` (sorted ``values`` are read faster)."""
    if len(ordered) == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    return ordered[pos] == values


def score_parts(
    sub: Any, truth: pd.DataFrame, public_rows: np.ndarray, register: Register | None
) -> tuple[dict, dict, list[str]]:
    """Score a submission on the public and the private part (``public_rows``, aligned with
    ``truth``), without telling which is which.

    Returns ``(public_metrics, private_metrics, warnings)``. Each part is scored on its own
    bulletins (the submission filtered to them), so the private metrics, hidden until the reveal,
    are exact. The public metrics are shown at once, so none of them may depend on *which* of the
    team's coded bulletins are public: scored on the public part alone, a one-line file (or a
    complete file that codes one bulletin) would tell by ``n_coded``, the coding rate or the
    precision (0, or undefined) whether that bulletin is public. Of the two cures, scoring the
    public part only for complete submissions would refuse the one-line probe but not the same
    probe written as a complete file with one coded line; so the counts are taken over the whole
    file instead:

    - what counts the team's *right* codings is on the public part: ``n_correct``, the success
      rate (the ranking), top-k accuracy, ``only_team_right`` / ``only_mca_right``, the
      success rates by collection mode. A right coding moves them only when its bulletin is
      public: that is what a public score is, and the daily quota bounds what it tells;
    - what counts its codings, right or wrong, is over the whole file, which the team knows
      already: ``n_coded``, the coding rate, MCA concordance, the coding rates by collection mode;
    - ratios of the two (precision, coverage at a target precision, precision by collection
      mode) divide the public part's right codings, scaled by the part's size, by the whole
      file's codings: precision = public success rate / whole coding rate (at most 1). On a real
      submission that is the public precision up to sampling noise (the split is a hash,
      independent of what a team codes); on a probe it says nothing about the split.

    A one-line probe of a public and of a private bulletin therefore gets the same answer unless
    it codes the bulletin right. The warnings come from the reading (against the whole split)
    and, when a coded SIRET is absent from the register, from scoring the whole submission once
    more; the parts' own warnings are dropped: they quote CABBIs.
    """
    from datathon import evaluate

    register = Register(None, None) if register is None else register
    public_rows = np.asarray(public_rows, dtype=bool)
    frame = sub.frame
    results = []
    # Each submission line's part, from its bulletin's position in the truth: one hash join with
    # pyarrow (pandas' isin on 1.7 M strings takes seconds), or none when both are in the same
    # order, as they usually are.
    at = evaluate._positions(evaluate._strings(frame["CABBI"]), evaluate._strings(truth["CABBI"]))
    line_public = np.where(at >= 0, public_rows[np.maximum(at, 0)], False)
    line_known = at >= 0
    for public in (True, False):
        part_truth = truth[public_rows == public].reset_index(drop=True)
        keep = line_known & (line_public == public)
        part_sub = replace(sub, frame=frame[keep])
        from datathon.leaderboard.service import _jsonable

        metrics = _jsonable(evaluate.score(part_sub, part_truth, register_sirets=register.for_parts))
        metrics.pop("warnings", None)
        results.append(metrics)
    sirets = evaluate._siret_ints(frame["siret"])[0]
    coding = frame["rank"].to_numpy() == 1 if "rank" in frame else np.ones(len(frame), dtype=bool)
    public = _blind_to_split(results[0], frame, truth, at, sirets, coding & line_known, line_public, register)
    warnings: list[str] = []
    if register.absent(sirets[coding]):
        whole = evaluate.score(sub, truth, register_sirets=register.sorted)
        warnings = [str(w) for w in whole.get("warnings", [])]
    return public, results[1], warnings


def _blind_to_split(
    public: dict, frame: pd.DataFrame, truth: pd.DataFrame, at: np.ndarray, sirets: np.ndarray,
    rank_one: np.ndarray, line_public: np.ndarray, register: Register,
) -> dict:  # fmt: skip
    """The public part's metrics with every count of codings taken over the whole file (see
    :func:`score_parts`). Per submission line: ``at``, its bulletin's position in ``truth``;
    ``sirets``, its SIRET as int64 (-1: blank); ``rank_one``, whether it is its bulletin's
    coding line; ``line_public``, whether its bulletin is public."""
    from datathon import evaluate
    from datathon.leaderboard.service import _jsonable

    n = len(truth)
    lines = np.flatnonzero(rank_one & (sirets >= 0))  # one per coded bulletin (the reader checked)
    pred = np.full(n, -1, dtype=np.int64)
    pred[at[lines]] = sirets[lines]
    coded = pred >= 0
    out = dict(public)
    out["n_coded"] = int(coded.sum())
    out["coding_rate"] = evaluate._rate(out["n_coded"], n)
    out["precision"] = _precision(public["success_rate"], out["coding_rate"])
    if "SIRETC" in truth:  # agreement with MCA where both coded: the truth plays no part in it
        no_truth = np.full(n, -1, dtype=np.int64)
        out["mca_concordance"] = evaluate._mca_metrics(truth, pred, no_truth, no_truth >= 0, n)["mca_concordance"]
    if public.get("by_typcol"):
        whole = evaluate._by_typcol(truth["TYPCOL"], coded, np.zeros(n, dtype=bool))
        out["by_typcol"] = {
            group: {**m, "coding_rate": whole[group]["coding_rate"],
                    "precision": _precision(m["success_rate"], whole[group]["coding_rate"])}
            for group, m in public["by_typcol"].items()
        }  # fmt: skip
    if public.get("coverage_at_precision") is not None:
        # The public part's right codings, each weighing n / n_public, over all the codings.
        true, _ = evaluate._siret_ints(truth[schema.TRUTH_COLUMN])
        right = line_public[lines] & (sirets[lines] == true[at[lines]]) & register.lists(sirets[lines])
        scores = frame["score"].to_numpy(dtype=np.float64)[lines]
        out["coverage_at_precision"] = evaluate._coverage(scores, right * (n / public["n_bulletins"]), n)
    return _jsonable(out)


def _precision(success_rate: float | None, coding_rate: float | None) -> float | None:
    """Precision as success rate / coding rate (the identity within one part), at most 1."""
    if not coding_rate:
        return None  # nothing coded, as the scorer says
    return min(1.0, (success_rate or 0.0) / coding_rate)


