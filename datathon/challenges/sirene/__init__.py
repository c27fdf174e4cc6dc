"""Sirene: code the employer's SIRET of census bulletins, against the MCA (the default challenge).

:class:`SireneChallenge` declares the challenge under the contract of :mod:`datathon.challenge`
and delegates to today's modules where they are (``datathon.challenges.sirene.world``, ``check``, ``evaluate``,
``mca``, ``leaderboard.split``); they move here later (docs/challenges.md, §4 step 3), with the
same outputs: tests/test_sirene_golden.py holds them.
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from types import MappingProxyType

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
    source_tree,
)

# Files participants never get, and the columns of them that give a test bulletin's truth away
# (the labelled training bulletins carry the same columns in the open: they are for learning).
_TRUTH_FILES = {"truth_test.parquet"}
_HIDDEN = {schema.TRUTH_COLUMN, schema.NOISE_COLUMN}
_SPLITS = {"bulletins_train.parquet": "train", "bulletins_test.parquet": "test", "truth_test.parquet": "test"}


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
            split=_SPLITS.get(name),
        )
        for name, columns in schema.FILES.items()
    )
    naf = FileSpec(schema.NAF_FILE, (Column("code", schema.STRING, MEANINGS["code"]),
                                     Column("libelle", schema.STRING, MEANINGS["libelle"])), role="aux",
                   required=False)  # the package ships the nomenclature
    return Schema(files + (naf,), id_column="CABBI")


class SireneChallenge(Challenge):
    name = "sirene"
    title = "Who is the employer? Code census bulletins to their SIRET in the Sirene register"
    version = __version__
    scales = ("sample", "departement", "campaign")
    submission = SubmissionFormat(required=("CABBI", "siret"), optional=("score", "rank"), max_lines_per_row=2)
    score_types = (
        # Two decimals: what the leaderboard has always shown (a rate over thousands of bulletins).
        ScoreType("success_rate", "success rate", Direction.HIGHER, digits=2, on_board=True),
        ScoreType("precision", "precision", Direction.HIGHER, digits=2, on_board=True),
        ScoreType("coding_rate", "coding rate", Direction.HIGHER, digits=2, on_board=True),
        ScoreType("mca_concordance", "concordance with MCA", Direction.HIGHER, digits=2),
    )
    reference_name = "MCA"
    material_root = source_tree()
    sample_seed = 20180118
    # Kept from the single-course kit: a course that has released assignments keeps its exchange folder.
    course_id = "datathon"
    split_kind = "hash"
    default_public_share = 0.5
    unit = "test bulletins"
    instructor_only_metrics = ("by_noise",)  # the synthetic noise model's breakdown
    legacy_names = MappingProxyType({"n_rows": "n_bulletins", "reference_public_score": "mca_public_score"})

    @cached_property
    def schema(self) -> Schema:
        return _schema()

    def generate(self, seed, scale, out, *, force=False, progress=True, **options) -> dict:
        from datathon.challenges.sirene.world import generate

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

    def public_manifest_keys(self):
        from datathon.challenges.sirene.bundle import PUBLIC_KEYS

        return dict(PUBLIC_KEYS)

    def dictionary(self, directory, *, bundle=False):
        """The data dictionary of :mod:`datathon.dictionary`; None for data it cannot describe (real
        data, noise rates overridden). Sirene's tells nothing of the truth: the bundle's is the same."""
        from datathon.challenges.sirene.bundle import describable
        from datathon.data import load_manifest
        from datathon.dictionary import render

        manifest = load_manifest(directory) or {}
        return render(directory) if describable(directory, manifest) else None

    def check_report(self, directory):
        from datathon.check import run_check

        return run_check(directory)

    def score_file(self, path, directory, split, *, max_bytes=None) -> dict:
        from datathon.evaluate import DEFAULT_MAX_BYTES, score_directory

        return score_directory(path, directory, split=split,
                               max_bytes=DEFAULT_MAX_BYTES if max_bytes is None else max_bytes)

    def truth_values(self, sample):
        """The SIRETs of the sample's test truth (none when it has no truth file)."""
        path = Path(sample) / "truth_test.parquet"
        if not path.is_file():
            return "SIRET", frozenset()
        values = pd.read_parquet(path, columns=[schema.TRUTH_COLUMN])[schema.TRUTH_COLUMN].dropna().astype(str)
        return "SIRET", frozenset(v for v in values if len(v) == 14 and v.isdigit())

    def key_metrics(self, metrics) -> dict:
        """The counts and rates, top-5 accuracy and coverage at 95 % precision (the quality table's columns)."""
        keys = ("n_bulletins", "coding_rate", "precision", "success_rate", "mca_concordance")
        out = {k: metrics.get(k) for k in keys}
        if metrics.get("topk_accuracy"):
            out["top5_accuracy"] = metrics["topk_accuracy"].get("5")
        if metrics.get("coverage_at_precision"):
            out["coverage_at_0.95"] = metrics["coverage_at_precision"].get("0.95")
        return out

    def summary(self, metrics) -> str:
        from datathon.evaluate import format_summary

        return format_summary(metrics)

    def context(self, directory, truth):
        """The register's SIRETs, sorted once for the leaderboard's many scorings
        (:class:`datathon.leaderboard._sirene.Register`); None without a directory."""
        # The register's SIRETs: a valid SIRET naming no establishment is flagged when scoring.
        # evaluate's own helper, used in place until scoring moves here (step 3).
        from datathon.leaderboard._sirene import Register

        return None if directory is None else Register.load(Path(directory), truth)

    def score(self, submission, truth, *, context=None) -> dict:
        from datathon.evaluate import score

        return score(submission, truth, register_sirets=getattr(context, "sorted", context))

    def as_submission(self, frame) -> object:
        from datathon.evaluate import Submission

        columns = {"CABBI": frame["CABBI"].astype("string"), "siret": frame["siret"].astype("string")}
        # A confidence (and rank) given with the codings: coverage at a precision is measured on it.
        columns.update({c: frame[c] for c in self.submission.optional if c in frame.columns})
        return Submission(frame=pd.DataFrame(columns))

    def score_parts(self, submission, truth, public, *, context=None):
        """Counts of codings over the whole file, so that no public figure tells a probing team
        which bulletins are public (:func:`datathon.leaderboard._sirene.score_parts`)."""
        from datathon.leaderboard._sirene import score_parts

        return score_parts(submission, truth, public, context)

    def format_metrics(self, metrics) -> list[tuple[str, str, str]]:
        rows = [(label, _percent(metrics.get(key)), note) for label, key, note in (
            ("success rate", "success_rate", ""), ("coding rate", "coding_rate", ""), ("precision", "precision", ""),
            ("MCA concordance", "mca_concordance", "(where both coded)"), ("only team right", "only_team_right", ""),
            ("only MCA right", "only_mca_right", ""))]  # fmt: skip
        rows += [(f"top-{k} accuracy", _percent(v), "") for k, v in (metrics.get("topk_accuracy") or {}).items()]
        rows += [(f"coverage at precision {k}", _percent(v), "")
                 for k, v in (metrics.get("coverage_at_precision") or {}).items()]  # fmt: skip
        rows += [(f"success rate, {group}", _percent(m.get("success_rate")), f"(n = {m.get('n', 0):,})")
                 for group, m in (metrics.get("by_typcol") or {}).items()]  # fmt: skip
        return rows

    def reference(self, directory, split) -> pd.DataFrame:
        """The MCA's recorded codings (``SIRETC``): what the incumbent coded, on real data too.

        A directory without ``SIRETC`` gets the replica's re-run (``datathon mca``); on synthetic
        data the two are the same, line for line (tests/test_challenges.py).
        """
        from datathon.data import load_bulletins
        from datathon.challenges.sirene.mca import run_mca_on_directory

        bulletins = load_bulletins(directory, split)
        if "SIRETC" not in bulletins.columns:
            return run_mca_on_directory(directory, split)
        return pd.DataFrame({"CABBI": bulletins["CABBI"], "siret": bulletins["SIRETC"]})

    def split(self, truth, salt, share) -> np.ndarray:
        from datathon.leaderboard.split import public_mask

        return public_mask(truth["CABBI"], salt, self.default_public_share if share is None else share)


def _percent(value) -> str:
    return "–" if value is None else f"{100 * float(value):.2f} %"


CHALLENGE = SireneChallenge()
