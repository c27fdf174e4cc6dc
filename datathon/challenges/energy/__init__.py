"""Energy: forecast a cooperative electricity supplier's daily customer growth for two months.

:class:`EnergyChallenge` declares the challenge under the contract of :mod:`datathon.challenge`.
The world is :mod:`.world` (every mechanism seeded and documented), the files :mod:`.schema`,
the generator :mod:`.generate`, the checks :mod:`.check`, the data dictionary :mod:`.dictionary`,
and submissions, scores, reference and split :mod:`.scoring`. Heavy imports stay inside the
methods: listing the challenges stays fast.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from datathon import __version__
from datathon.challenge import Challenge, Direction, Schema, ScoreType, SubmissionFormat, source_tree
from datathon.challenges.energy.schema import SCHEMA


class EnergyChallenge(Challenge):
    name = "energy"
    title = "How many customers next? Forecast an energy cooperative's daily growth for two months"
    version = __version__
    schema: Schema = SCHEMA
    scales = ("sample", "full")
    # net_growth is scored; new and terminations are optional together, as are the 80 % bounds.
    submission = SubmissionFormat(required=("date", "net_growth"),
                                  optional=("new", "terminations", "net_growth_lo80", "net_growth_hi80"),
                                  max_lines_per_row=2)
    score_types = (
        ScoreType("growth_error", "cumulative growth error", Direction.LOWER, format="percent", digits=1,
                  on_board=True),
        ScoreType("mase", "MASE (daily, vs weekly seasonal naive)", Direction.LOWER, format="number", digits=3,
                  on_board=True),
        ScoreType("interval_score", "80 % interval score (scaled)", Direction.LOWER, format="number", digits=2,
                  on_board=True),
    )
    reference_name = "last year × trend"
    split_kind = "time"
    default_public_share = None
    unit = "forecast days"
    material_root = source_tree()
    sample_seed = 20190601

    def generate(self, seed, scale, out, *, force=False, progress=True, **options) -> dict:
        from datathon.challenges.energy.generate import generate

        return generate(seed, scale, out, force=force, progress=progress, **options)

    def check(self, directory) -> list:
        from datathon.challenges.energy.check import check

        return check(directory)

    def check_report(self, directory):
        """``datathon data check``: the problems, and each file's row count for its summary line."""
        from datathon.challenges.energy.check import run_check

        return run_check(directory)

    def load_truth(self, directory, split) -> pd.DataFrame:
        from datathon.challenges.energy.scoring import load_truth

        return load_truth(directory, split)

    def read_submission(self, source, *, known_ids=None, max_bytes=None):
        from datathon.challenges.energy.scoring import read_submission

        return read_submission(source, known_ids=known_ids, max_bytes=max_bytes)

    def context(self, directory, truth):
        from datathon.challenges.energy.scoring import context

        return context(None if directory is None else Path(directory), truth)

    def score(self, submission, truth, *, context=None) -> dict:
        from datathon.challenges.energy.scoring import score

        return score(submission, truth, context=context)

    def reference(self, directory, split) -> pd.DataFrame:
        from datathon.challenges.energy.scoring import reference

        return reference(directory, split)

    def split(self, truth, salt, share) -> np.ndarray:
        from datathon.challenges.energy.scoring import split

        return split(truth, salt, share)

    def dictionary(self, directory, *, bundle: bool = False) -> str:
        """The README.md of a data directory (docs/challenges.md's ``dictionary`` hook); a participants'
        bundle's leaves out the mechanisms' parameters, which would give the lag and the shocks away."""
        from datathon.challenges.energy.dictionary import render

        return render(directory, mechanisms=not bundle)

    def public_manifest_keys(self) -> dict:
        """What a participants' bundle may keep of the manifest (docs/challenges.md's hook): never the
        seed, nor the mechanisms, whose draws include news shocks of the forecast days."""
        same = lambda value, files: value  # noqa: E731
        return {"challenge": same, "generator": same, "version": same, "kind": same, "scale": same,
                "period": same, "rows": lambda rows, files: {n: k for n, k in rows.items() if n in files},
                "generated_at": same}


CHALLENGE = EnergyChallenge()
