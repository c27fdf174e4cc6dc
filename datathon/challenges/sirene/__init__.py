"""Sirene: code the employer's SIRET of census bulletins, against the MCA (the default challenge).

:class:`SireneChallenge` declares the challenge under the contract of :mod:`datathon.challenge`
and delegates to today's modules where they are (``datathon.world``, ``check``, ``evaluate``,
``mca``, ``leaderboard.split``); they move here later (docs/challenges.md, §4 step 3), with the
same outputs: tests/test_sirene_golden.py holds them.
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from datathon import __version__, schema
from datathon.challenge import (
    Challenge,
    Column,
    Direction,
    FileSpec,
    Schema,
    ScoreType,
    SubmissionFormat,
)

# Files participants never get, and the columns of them that give a test bulletin's truth away
# (the labelled training bulletins carry the same columns in the open: they are for learning).
_TRUTH_FILES = {"truth_test.parquet"}
_HIDDEN = {schema.TRUTH_COLUMN, schema.NOISE_COLUMN}


def _schema() -> Schema:
    # The meanings are the data dictionary's (datathon/dictionary.py), the types schema.py's.
    from datathon.dictionary import MEANINGS, MEANINGS_BY_FILE

    files = tuple(
        FileSpec(
            name,
            tuple(Column(col, dtype, MEANINGS_BY_FILE.get((name, col)) or MEANINGS.get(col, ""),
                         hidden=name in _TRUTH_FILES and col in _HIDDEN)
                  for col, dtype in columns.items()),
            role="truth" if name in _TRUTH_FILES else "public",
        )
        for name, columns in schema.FILES.items()
    )
    naf = FileSpec(schema.NAF_FILE, (Column("code", schema.STRING, MEANINGS["code"]),
                                     Column("libelle", schema.STRING, MEANINGS["libelle"])), role="aux")
    return Schema(files + (naf,), id_column="CABBI")


class SireneChallenge(Challenge):
    name = "sirene"
    title = "Who is the employer? Code census bulletins to their SIRET in the Sirene register"
    version = __version__
    scales = ("sample", "departement", "campaign")
    submission = SubmissionFormat(required=("CABBI", "siret"), optional=("score", "rank"), max_lines_per_row=2)
    score_types = (
        ScoreType("success_rate", "success rate", Direction.HIGHER, on_board=True),
        ScoreType("precision", "precision", Direction.HIGHER, on_board=True),
        ScoreType("coding_rate", "coding rate", Direction.HIGHER, on_board=True),
        ScoreType("mca_concordance", "concordance with MCA", Direction.HIGHER),
    )
    reference_name = "MCA"
    split_kind = "hash"
    default_public_share = 0.5

    @cached_property
    def schema(self) -> Schema:
        return _schema()

    def generate(self, seed, scale, out, *, force=False, progress=True, **options) -> dict:
        from datathon.world import generate

        return generate(scale=scale, seed=seed, out=out, force=force, progress=progress, **options)

    def check(self, directory):
        from datathon.check import run_check

        return run_check(directory).problems

    def load_truth(self, directory, split):
        from datathon.evaluate import load_truth

        return load_truth(directory, split)

    def read_submission(self, source, *, known_ids=None, max_bytes=None):
        from datathon.evaluate import DEFAULT_MAX_BYTES, read_submission

        return read_submission(source, known_cabbi=known_ids,
                               max_bytes=DEFAULT_MAX_BYTES if max_bytes is None else max_bytes)

    def context(self, directory, truth):
        # The register's SIRETs: a valid SIRET naming no establishment is flagged when scoring.
        # evaluate's own helper, used in place until scoring moves here (step 3).
        from datathon.evaluate import _register_sirets

        return None if directory is None else _register_sirets(Path(directory))

    def score(self, submission, truth, *, context=None) -> dict:
        from datathon.evaluate import score

        return score(submission, truth, register_sirets=context)

    def reference(self, directory, split) -> pd.DataFrame:
        """The MCA's recorded codings (``SIRETC``): what the incumbent coded, on real data too.

        A directory without ``SIRETC`` gets the replica's re-run (``datathon mca``); on synthetic
        data the two are the same, line for line (tests/test_challenges.py).
        """
        from datathon.data import load_bulletins
        from datathon.mca import run_mca_on_directory

        bulletins = load_bulletins(directory, split)
        if "SIRETC" not in bulletins.columns:
            return run_mca_on_directory(directory, split)
        return pd.DataFrame({"CABBI": bulletins["CABBI"], "siret": bulletins["SIRETC"]})

    def split(self, truth, salt, share) -> np.ndarray:
        from datathon.leaderboard.split import public_mask

        return public_mask(truth["CABBI"], salt, self.default_public_share if share is None else share)


CHALLENGE = SireneChallenge()
