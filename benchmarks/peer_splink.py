"""The Splink peer of ``make bench-scale``: link the test bulletins to the register with Splink.

Splink (https://moj-analytical-services.github.io/splink/) is the reference open-source tool for
probabilistic record linkage: a Fellegi-Sunter model whose u probabilities come from random pairs
and whose m probabilities come from expectation maximisation (EM), no labels needed. This module
runs it (DuckDB backend) on a datathon data directory and writes a submission that
:mod:`datathon.evaluate` scores like any team's, so both tools are measured by the same module::

    python -m benchmarks.peer_splink --data DIR --out splink.csv [--threads 2]
    datathon score splink.csv --data DIR --json

Shared inputs (fairness)
    Splink gets the same normalised inputs as the kit's own pipeline, computed by the kit's
    functions; nothing reads the test truth (``truth_test.parquet`` is never loaded).

    * names: :func:`datathon.names.normalise_names` of ``RS_X``, against every name the register
      gives an establishment (:func:`datathon.names.name_variants`): the legal name (or a sole
      proprietor's "surname first name"), the sign (``enseigne1Etablissement``), the usual name
      (``denominationUsuelleEtablissement``) and the acronym (or "first name surname"). People
      often declare the sign, not the legal name: the comparison takes the best of them;
    * street: :func:`datathon.places.register_streets` (:func:`~datathon.places.street_key` of
      the street name, the number as digits) on both sides; a declared street that starts with
      its type while ``TYPEVOI_X`` is empty is split with :func:`~datathon.places.split_ban_street`;
    * commune: the bulletin's resolved workplace commune
      (:func:`datathon.blocking.resolve_workplace`: ``CLT_X`` read against the commune names,
      misspellings included, or the home commune when ``ILT_X = 1``) against
      ``codeCommuneEtablissement``; adjacency (``communes_adjacentes.csv``) is one of its levels;
    * activity: the register's NAF division (:func:`datathon.activity.division` of
      ``activitePrincipaleEtablissement``) against the divisions that
      :class:`datathon.activity.ActivityClassifier`, trained by the kit's own
      :func:`datathon.matcher.activity_model` (labelled training bulletins:
      ``ACTET_X`` → their employer's APE code, plus the NAF labels), predicts for ``ACTET_X``;
    * closed establishments (``etatAdministratifEtablissement = "F"``) are left out, as the kit's
      blocking leaves them out.

The model (settings)
    ``link_only`` between the test bulletins and the open establishments, five comparisons, their
    levels from the most to the least specific (null levels: m and u not estimated):

    * ``name``: exact (the declared name equals any registered name), best Jaro-Winkler ≥ 0.92,
      two of the declared name's first three words among the registered names' words, best
      Jaro-Winkler ≥ 0.80, one such word, else;
    * ``street``: same street and number, same street, Jaro-Winkler ≥ 0.90, else;
    * ``commune``: same commune, adjacent commune, else;
    * ``activity``: the likeliest predicted division (with term-frequency adjustments: a rare
      division agreeing says more), one of the three likeliest, else;
    * ``size``: the establishment's size band (250+, 50+, 10+, 1+ employees, none). The bulletin
      has no size to compare, but a bulletin is a person and large establishments employ many:
      Splink's levels are any SQL condition on the pair, and EM learns how much this one weighs.
      On a held-out half of the sample's training bulletins it adds 5 points of top-1 accuracy
      (61 → 67 %) and 4 of coverage at 95 % precision (33 → 37 %); without it the model is the
      four comparisons of the issue.

    Jaro-Winkler similarities are computed once per pair: they open the null level with an
    impossible ``= -100`` test, the trick of Splink's "Optimising DuckDB" guide (it only works
    as the *first* term of that condition: measured 2× faster on the street comparison). Sets (a
    commune's neighbours, the likeliest divisions, the words of the registered names) are
    space-delimited strings tested with ``contains``: list columns, copied into every pair by
    DuckDB, made prediction several times slower.

    Blocking for prediction: ``block_on("commune")``, the bulletin's resolved workplace commune,
    then, as Splink's guide advises ("many strict blocking rules are generally better than few
    loose rules"), strict rules over the département that catch employers outside the declared
    commune (a neighbouring commune, a misread one, none read): same street and number, or the
    declared name equal to one of the registered names. Splink scores each pair once, whichever
    rules find it. The strict rules add 0.5 % of pairs and, on the held-out half of the sample's
    training bulletins, 11 points of top-1 accuracy (67 → 78 %) and 7 of coverage at 95 %
    precision (38 → 45 %). A bulletin that no rule pairs gets no candidate.

    Training, as Splink's tutorials do it: ``probability_two_random_records_match`` from the
    structure of the problem (a codable bulletin has one employer: the share of labelled training
    bulletins that are codable, over the number of open establishments); u by
    ``estimate_u_using_random_sampling`` (up to :data:`U_MAX_PAIRS` pairs, seed 1, until every
    level was seen :data:`U_MIN_COUNT_PER_LEVEL` times); m by three EM sessions, each blocking on
    something that makes matches common among its pairs and leaves other comparisons free (Splink
    estimates m for each comparison its rule does not use, and averages over sessions):

    1. ``commune``, ``street`` and ``street_number`` (same address) → m of name, activity, size;
    2. ``commune`` and ``name`` (same legal name) → m of street, activity, size;
    3. ``departement``, ``name`` and ``street`` → m of commune (and activity, size).

    Each session is capped at :data:`EM_MAX_PAIRS` pairs (Splink 5's ``max_pairs``). These rules
    were chosen on a held-out half of the sample's *training* bulletins, never on test truth:
    looser ones (``commune`` with ``activity``, or with the first letters of the name) gave EM a
    "match" class of same-legal-unit siblings and m values far from those the labels show.

Output
    Prediction runs in chunks of bulletins (``predict_chunk``, about :data:`PAIRS_PER_CHUNK` pairs
    each); each chunk is cut to every bulletin's :data:`TOP_K` best candidates in DuckDB before the
    next one, so memory holds one chunk of pairs at a time. The submission (``CABBI;siret;rank;
    score``, as :func:`datathon.matcher.submission` writes it) lists, for every test bulletin, its
    top candidates by match weight, rank 1 to 5, with ``score`` = Splink's match probability; a
    bulletin without any candidate gets a rank-1 line with a blank SIRET. No threshold is applied:
    the evaluation's coverage at a target precision chooses one from the scores.

Memory
    DuckDB's ``memory_limit`` (``--memory-limit``, default :data:`DEFAULT_MEMORY_LIMIT`) bounds
    its buffer manager, spilling to a temporary directory beyond; ``threads`` bounds its workers.
    With chunked prediction, a tenth of the campaign (886,504 establishments of which 751,690
    open, 71,236 test bulletins, 415 M pairs) peaked at 3.4 GiB resident, well under 16 GiB.
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from datathon import data, schema
from datathon.activity import ActivityClassifier, division
from datathon.blocking import neighbourhoods, resolve_workplace
from datathon.errors import UserError
from datathon.matcher import activity_model
from datathon.names import name_variants, normalise_names
from datathon.places import register_streets, split_ban_street
from datathon.schema import departement_of
from datathon.text import simplify

SPLINK_MISSING = "Splink is a benchmark extra: pip install -e '.[bench]'"

#: Splink puts the dataset whose name sorts first on the left of every pair (``_l``).
BULLETINS = "a_bulletins"
REGISTER = "b_register"

TOP_K = 5
#: Candidate pairs scored per prediction chunk: bounds the memory of prediction.
PAIRS_PER_CHUNK = 10_000_000
#: Random pairs for the u probabilities (Splink's docs: 1e7 is often adequate, more is better).
U_MAX_PAIRS = 2e7
#: Random pairs stop being drawn once every level was seen this often (Splink's default: 100).
U_MIN_COUNT_PER_LEVEL = 1000
#: Pairs per EM session (Splink 5 samples the session's blocked pairs down to this).
EM_MAX_PAIRS = 5e6
#: DuckDB's own memory bound; Python's frames (register, bulletins, results) come on top.
DEFAULT_MEMORY_LIMIT = "6GB"
#: How many of the classifier's likeliest divisions the activity comparison looks at.
TOP_DIVISIONS = 3

REGISTER_COLUMNS = [
    "siret", "etatAdministratifEtablissement", "codeCommuneEtablissement", "activitePrincipaleEtablissement",
    "numeroVoieEtablissement", "typeVoieEtablissement", "libelleVoieEtablissement",
    "denominationUniteLegale", "enseigne1Etablissement", "denominationUsuelleEtablissement", "sigleUniteLegale",
    "nomUniteLegale", "prenom1UniteLegale", "trancheEffectifsEtablissement",
]
TEST_COLUMNS = ["CABBI", "RS_X", "ACTET_X", "NUMVOI_X", "TYPEVOI_X", "NOMVOI_X", "CLT_X", "DLT_X", "ILT_X",
                "DEPCOM_CODE"]
TRAIN_COLUMNS = ["ACTET_X", schema.TRUTH_COLUMN]

#: The columns both inputs share (Splink stacks them: same names, same types). Sets of values are
#: space-delimited strings (" 35001 35002 "), tested with ``contains``: DuckDB copies list
#: columns into every candidate pair, and that dominated the time of prediction. A commune code
#: (5 characters) or a division (2) has no space, so it can only be found as a whole member.
RECORD_SCHEMA = pa.schema([
    ("unique_id", pa.string()),
    ("commune", pa.string()),
    ("communes_near", pa.string()),  # bulletins: the commune and its adjacent communes
    ("departement", pa.string()),
    ("name", pa.string()),  # bulletins: the declared name; register: the legal (or person's) name
    ("name_sign", pa.string()),
    ("name_usual", pa.string()),
    ("name_other", pa.string()),  # the acronym, or a person's "first name surname"
    ("name_words", pa.string()),  # register: every word of every name
    ("name_word1", pa.string()),  # bulletins: the declared name's first three distinct words
    ("name_word2", pa.string()),
    ("name_word3", pa.string()),
    ("street", pa.string()),
    ("street_number", pa.string()),
    ("activity", pa.string()),  # register: the NAF division; bulletins: the likeliest predicted one
    ("activity_top", pa.string()),  # bulletins: the TOP_DIVISIONS likeliest divisions
    ("employees", pa.int32()),  # register: the size band's lower bound (None when unknown)
])

#: Stands for a missing word: never found in a name (names are upper-case letters and digits).
_NO_WORD = "#"


# --------------------------------------------------------------------------------------------
# Inputs: the kit's normalisations, as two tables of the same columns
# --------------------------------------------------------------------------------------------


def _blank_to_none(values) -> list:
    """Strings with "" (and missing values) as None: Splink's null levels test IS NULL."""
    return [v if isinstance(v, str) and v else None for v in values]


def _as_set(values) -> str | None:
    """Values as a space-delimited set (" A B "): ``contains(set, ' A ')`` tests membership (and
    ``contains(set, 'A')`` for values of one fixed length, such as commune codes)."""
    values = [v for v in values if v]
    return f" {' '.join(values)} " if values else None


def _distinct_words(names) -> list[str]:
    """The distinct words of some names, in order of appearance."""
    return list(dict.fromkeys(" ".join(n for n in names if isinstance(n, str)).split()))


def bulletin_records(bulletins: pd.DataFrame, communes: pd.DataFrame, adjacences: pd.DataFrame | None,
                     classifier: ActivityClassifier) -> pa.Table:
    """The test bulletins as Splink records (:data:`RECORD_SCHEMA`)."""
    bulletins = bulletins.reset_index(drop=True)
    n = len(bulletins)
    workplace = resolve_workplace(bulletins, communes)
    commune = workplace["commune"].to_numpy(dtype=object, na_value=None)
    near = neighbourhoods(adjacences) if adjacences is not None else {}
    names = normalise_names(bulletins["RS_X"]).to_numpy(dtype=object)
    first_words = [(_distinct_words([name]) + [_NO_WORD] * 3)[:3] for name in names]

    # The register's normalisation, applied to the declared address.
    declared_type = bulletins["TYPEVOI_X"].to_numpy(dtype=object)
    declared_street = bulletins["NOMVOI_X"].to_numpy(dtype=object)
    streets, _, numbers = register_streets(pd.DataFrame({
        "libelleVoieEtablissement": declared_street, "typeVoieEtablissement": declared_type,
        "numeroVoieEtablissement": bulletins["NUMVOI_X"].to_numpy(dtype=object)}))
    for i in np.flatnonzero(pd.isna(declared_type)):
        # "Rue de la Gare" in NOMVOI_X with no TYPEVOI_X: the type is not part of the street's key.
        kind, key = split_ban_street(declared_street[i])
        if kind:
            streets[i] = key

    # The classifier's likeliest divisions; an empty ACTET_X says nothing (null level).
    texts = bulletins["ACTET_X"].to_numpy(dtype=object)
    top = classifier.classes_[np.argsort(-classifier.predict_proba(texts), axis=1)[:, :TOP_DIVISIONS]].tolist()
    described = [bool(simplify(t)) for t in texts]

    return pa.table({
        "unique_id": bulletins["CABBI"].astype(str).tolist(),
        "commune": commune.tolist(),
        "communes_near": [_as_set(near.get(c, [c])) if c else None for c in commune],
        "departement": workplace["departement"].to_numpy(dtype=object, na_value=None).tolist(),
        "name": _blank_to_none(names),
        "name_sign": [None] * n,
        "name_usual": [None] * n,
        "name_other": [None] * n,
        "name_words": [None] * n,
        "name_word1": [f" {w[0]} " for w in first_words],
        "name_word2": [f" {w[1]} " for w in first_words],
        "name_word3": [f" {w[2]} " for w in first_words],
        "street": _blank_to_none(streets),
        "street_number": _blank_to_none(numbers),
        "activity": [row[0] if ok else None for row, ok in zip(top, described)],
        "activity_top": [_as_set(row) if ok else None for row, ok in zip(top, described)],
        "employees": [None] * n,
    }, schema=RECORD_SCHEMA)


def register_records(register: pd.DataFrame) -> pa.Table:
    """The open establishments as Splink records (:data:`RECORD_SCHEMA`)."""
    n = len(register)
    variants = name_variants(register)
    by_kind = {kind: group.set_index("row")["name"] for kind, group in variants.groupby("kind")}
    rows = pd.RangeIndex(n)

    def kind(name: str) -> pd.Series:
        return by_kind.get(name, pd.Series(dtype=object)).reindex(rows)

    # A sole proprietor has no legal name: "surname first name" stands for it, and "first name
    # surname" takes the acronym's place (one never has both).
    legal = kind("legal").fillna(kind("person"))
    other = kind("acronym").fillna(kind("person_reversed"))
    all_names = variants.groupby("row")["name"].agg(list).reindex(rows)
    streets, _, numbers = register_streets(register)
    commune = register["codeCommuneEtablissement"].to_numpy(dtype=object, na_value=None)
    activity = [division(c) or None for c in
                register["activitePrincipaleEtablissement"].to_numpy(dtype=object, na_value="")]
    bands = register["trancheEffectifsEtablissement"].to_numpy(dtype=object, na_value=None)
    return pa.table({
        "unique_id": register["siret"].astype(str).tolist(),
        "commune": commune.tolist(),
        "communes_near": [None] * n,
        "departement": [departement_of(c) if c else None for c in commune],
        "name": _blank_to_none(legal.to_numpy(dtype=object)),
        "name_sign": _blank_to_none(kind("sign").to_numpy(dtype=object)),
        "name_usual": _blank_to_none(kind("usual").to_numpy(dtype=object)),
        "name_other": _blank_to_none(other.to_numpy(dtype=object)),
        "name_words": [_as_set(_distinct_words(g if isinstance(g, list) else [])) or " " for g in all_names],
        "name_word1": [None] * n,
        "name_word2": [None] * n,
        "name_word3": [None] * n,
        "street": _blank_to_none(streets),
        "street_number": _blank_to_none(numbers),
        "activity": activity,
        "activity_top": [None] * n,
        "employees": [schema.TRANCHES[b][0] if b in schema.TRANCHES else None for b in bands],
    }, schema=RECORD_SCHEMA)


def commune_pairs(bulletins: pa.Table, register: pa.Table) -> int:
    """How many (bulletin, establishment) pairs share the commune: nearly all the pairs scored
    (the other blocking rules add few), hence the size of the prediction chunks."""
    per_bulletin = pd.Series(bulletins.column("commune").to_pylist()).value_counts()
    per_register = pd.Series(register.column("commune").to_pylist()).value_counts()
    return int((per_bulletin * per_register.reindex(per_bulletin.index).fillna(0)).sum())


# --------------------------------------------------------------------------------------------
# The Splink model
# --------------------------------------------------------------------------------------------


def _import_splink():
    try:
        import duckdb
        import splink
        import splink.comparison_level_library as cll
        import splink.comparison_library as cl
        from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    except ImportError:
        raise UserError(SPLINK_MISSING) from None
    return duckdb, splink, cl, cll, DuckDBAPI, Linker, SettingsCreator, block_on


# Computed once per pair: DuckDB reuses an expression that is always evaluated, i.e. the first
# term of the first CASE branch (hence "similarity = -100 OR ... IS NULL": never true).
_NAME_SIMILARITY = ("greatest(jaro_winkler_similarity(name_l, name_r), jaro_winkler_similarity(name_l, name_sign_r), "
                    "jaro_winkler_similarity(name_l, name_usual_r), jaro_winkler_similarity(name_l, name_other_r))")
# Membership tests in a space-delimited set: a NULL (no name) counts as no word in common.
_WORDS_IN_COMMON = ("(coalesce(contains(name_words_r, name_word1_l), false)::INT"
                    " + coalesce(contains(name_words_r, name_word2_l), false)::INT"
                    " + coalesce(contains(name_words_r, name_word3_l), false)::INT)")
_STREET_SIMILARITY = "jaro_winkler_similarity(street_l, street_r)"


def comparisons(cl, cll) -> list:
    """The five comparisons (module docstring)."""
    name = cl.CustomComparison(
        output_column_name="name",
        comparison_description="declared name against the best of the registered names",
        comparison_levels=[
            cll.CustomLevel(f"{_NAME_SIMILARITY} = -100 OR name_l IS NULL", "no declared name")
            .configure(is_null_level=True),
            cll.CustomLevel("name_l IN (name_r, name_sign_r, name_usual_r, name_other_r)", "exact (any name)"),
            cll.CustomLevel(f"{_NAME_SIMILARITY} >= 0.92", "Jaro-Winkler >= 0.92"),
            cll.CustomLevel(f"{_WORDS_IN_COMMON} >= 2", "two words in common"),
            cll.CustomLevel(f"{_NAME_SIMILARITY} >= 0.80", "Jaro-Winkler >= 0.80"),
            cll.CustomLevel(f"{_WORDS_IN_COMMON} >= 1", "one word in common"),
            cll.ElseLevel(),
        ],
    )
    street = cl.CustomComparison(
        output_column_name="street",
        comparison_description="declared street (key and number) against the establishment's",
        comparison_levels=[
            cll.CustomLevel(f"{_STREET_SIMILARITY} = -100 OR street_l IS NULL OR street_r IS NULL", "no street")
            .configure(is_null_level=True),
            cll.CustomLevel("street_l = street_r AND street_number_l = street_number_r", "same street and number"),
            cll.CustomLevel("street_l = street_r", "same street"),
            cll.CustomLevel(f"{_STREET_SIMILARITY} >= 0.90", "Jaro-Winkler >= 0.90"),
            cll.ElseLevel(),
        ],
    )
    commune = cl.CustomComparison(
        output_column_name="commune",
        comparison_description="resolved workplace commune against the establishment's",
        comparison_levels=[
            cll.NullLevel("commune"),
            cll.ExactMatchLevel("commune"),
            cll.CustomLevel("contains(communes_near_l, commune_r)", "adjacent commune"),
            cll.ElseLevel(),
        ],
    )
    activity = cl.CustomComparison(
        output_column_name="activity",
        comparison_description="predicted NAF divisions of ACTET_X against the establishment's division",
        comparison_levels=[
            cll.NullLevel("activity"),
            # A rare division agreeing says more than a common one (Splink's term frequencies).
            cll.ExactMatchLevel("activity", term_frequency_adjustments=True),
            cll.CustomLevel("contains(activity_top_l, activity_r)", f"among the {TOP_DIVISIONS} likeliest"),
            cll.ElseLevel(),
        ],
    )
    # A bulletin is a person: large establishments employ many of them, so the establishment's
    # size is evidence although the bulletin has no size to compare it with.
    size = cl.CustomComparison(
        output_column_name="size",
        comparison_description="the establishment's size band (employees)",
        comparison_levels=[
            cll.CustomLevel("employees_r IS NULL", "size unknown").configure(is_null_level=True),
            cll.CustomLevel("employees_r >= 250", "250 employees or more"),
            cll.CustomLevel("employees_r >= 50", "50 to 249"),
            cll.CustomLevel("employees_r >= 10", "10 to 49"),
            cll.CustomLevel("employees_r >= 1", "1 to 9"),
            cll.ElseLevel(),  # no employee
        ],
    )
    return [name, street, commune, activity, size]


def prediction_blocking_rules(block_on) -> list:
    """Which pairs are scored (module docstring): those sharing the commune, then, anywhere in the
    département, those sharing the address or whose declared name is one of the registered names."""
    return [
        block_on("commune"),
        block_on("departement", "street", "street_number"),
        block_on("departement", "name"),
        *(f"l.departement = r.departement AND l.name = r.{column}" for column in ("name_sign", "name_usual",
                                                                                   "name_other")),
    ]


def em_blocking_rules(block_on) -> list:
    """The EM sessions' blocking rules (module docstring)."""
    return [
        block_on("commune", "street", "street_number"),
        block_on("commune", "name"),
        block_on("departement", "name", "street"),
    ]


def _top_candidates_sql(table: str) -> str:
    """Each bulletin's TOP_K best pairs of a prediction table, the bulletin first, whatever the side."""
    return f"""
        SELECT CABBI, siret, match_weight, match_probability FROM (
            SELECT
                CASE WHEN source_dataset_l = '{BULLETINS}' THEN unique_id_l ELSE unique_id_r END AS CABBI,
                CASE WHEN source_dataset_l = '{BULLETINS}' THEN unique_id_r ELSE unique_id_l END AS siret,
                match_weight, match_probability
            FROM {table}
        )
        QUALIFY row_number() OVER (PARTITION BY CABBI ORDER BY match_weight DESC, siret) <= {TOP_K}
    """


def _say(progress: bool, message: str) -> None:
    if progress:
        print(f"[peer_splink] {message}", file=sys.stderr, flush=True)


@dataclass
class Inputs:
    """What Splink is given: both record tables, the test bulletins' ids in file order, the share
    of labelled training bulletins that are codable, and how many pairs share their commune."""

    bulletins: pa.Table
    register: pa.Table
    cabbi: pd.Series
    codable_share: float
    commune_pairs: int


def prepare(data_dir) -> Inputs:
    """Load a data directory (never its test truth) and build both record tables."""
    ds = data.load(data_dir, splits=("train", "test"), with_truth=False, columns={
        "etablissements": REGISTER_COLUMNS, "bulletins_test": TEST_COLUMNS, "bulletins_train": TRAIN_COLUMNS,
        "adresses": ["code_insee"]})  # the address reference is not used: read one column only
    if ds.communes is None:
        raise UserError(f"no communes.parquet in {data_dir}: the workplace commune cannot be resolved")
    classifier = activity_model(ds.bulletins_train, ds.etablissements, ds.naf)
    train_truth = ds.bulletins_train[schema.TRUTH_COLUMN]
    codable_share = float(train_truth.notna().mean()) if len(train_truth) else 0.9
    state = ds.etablissements["etatAdministratifEtablissement"].astype("string")
    open_register = ds.etablissements[(state != "F").fillna(True).to_numpy(dtype=bool)].reset_index(drop=True)
    test = ds.bulletins_test.reset_index(drop=True)
    bulletins = bulletin_records(test, ds.communes, ds.adjacences, classifier)
    register = register_records(open_register)
    return Inputs(bulletins=bulletins, register=register, cabbi=test["CABBI"].astype(str),
                  codable_share=codable_share, commune_pairs=commune_pairs(bulletins, register))


def duckdb_connection(duckdb, *, threads: int, memory_limit: str, spill_directory: str):
    """An in-memory DuckDB connection bounded in threads and memory, spilling to ``spill_directory``."""
    return duckdb.connect(":memory:", config={
        "threads": int(threads), "memory_limit": memory_limit, "temp_directory": spill_directory,
        "preserve_insertion_order": False})  # row order is never needed, and keeping it costs memory


def build_linker(inputs: Inputs, con, *, progress: bool = False):
    """A Splink linker over both record tables, with the settings of the module docstring."""
    _, _, cl, cll, DuckDBAPI, Linker, SettingsCreator, block_on = _import_splink()
    db_api = DuckDBAPI(connection=con)
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(cl, cll),
        blocking_rules_to_generate_predictions=prediction_blocking_rules(block_on),
        # One employer per codable bulletin among all open establishments.
        probability_two_random_records_match=max(inputs.codable_share, 1e-3) / max(inputs.register.num_rows, 1),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    return Linker([db_api.register(inputs.bulletins, dataset_display_name=BULLETINS),
                   db_api.register(inputs.register, dataset_display_name=REGISTER)],
                  settings, log_level=logging.INFO if progress else logging.WARNING)


def train(linker) -> None:
    """u by random sampling, then m by the EM sessions of :func:`em_blocking_rules`."""
    block_on = _import_splink()[-1]
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=1,
                                                     min_count_per_level=U_MIN_COUNT_PER_LEVEL)
    for rule in em_blocking_rules(block_on):
        linker.training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=EM_MAX_PAIRS)


def predict_top(linker, con, pairs: int, *, progress: bool = False) -> tuple[pd.DataFrame, int, int]:
    """Every bulletin's :data:`TOP_K` best candidates (``CABBI``, ``siret``, ``match_weight``,
    ``match_probability``), predicted in chunks of bulletins of about :data:`PAIRS_PER_CHUNK`
    pairs; also the number of pairs scored and of chunks."""
    chunks = max(1, math.ceil(pairs / PAIRS_PER_CHUNK))
    tops, scored = [], 0
    for chunk in range(1, chunks + 1):
        predictions = linker.inference.predict_chunk(left_chunk=(chunk, chunks), right_chunk=(1, 1),
                                                     warning_mode="never")
        table = predictions.physical_name
        scored += con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        tops.append(con.sql(_top_candidates_sql(table)).to_arrow_table())
        predictions.drop_table_from_database_and_remove_from_cache()  # only the top candidates stay
        _say(progress, f"prediction chunk {chunk}/{chunks}: {scored:,} pairs scored so far")
    return pa.concat_tables(tops).to_pandas(), int(scored), chunks


def link(data_dir, out, *, threads: int = 2, progress: bool = True,
         memory_limit: str = DEFAULT_MEMORY_LIMIT) -> dict:
    """Link the test bulletins of ``data_dir`` to its register with Splink; write the submission
    to ``out``. Returns the seconds of each phase (``prepare``, ``train``, ``predict``, ``write``,
    ``total``) and the counts (bulletins, establishments, pairs compared, chunks)."""
    duckdb, splink = _import_splink()[:2]
    start = time.perf_counter()
    seconds: dict[str, float] = {}

    _say(progress, f"preparing {data_dir}")
    inputs = prepare(data_dir)
    seconds["prepare"] = time.perf_counter() - start
    _say(progress, f"{inputs.bulletins.num_rows:,} bulletins, {inputs.register.num_rows:,} open establishments, "
                   f"{inputs.commune_pairs:,} pairs in the same commune ({seconds['prepare']:.1f} s)")

    with tempfile.TemporaryDirectory(prefix="peer_splink_") as spill:
        con = duckdb_connection(duckdb, threads=threads, memory_limit=memory_limit, spill_directory=spill)
        linker = build_linker(inputs, con, progress=progress)
        phase = time.perf_counter()
        train(linker)
        seconds["train"] = time.perf_counter() - phase
        phase = time.perf_counter()
        top, scored, chunks = predict_top(linker, con, inputs.commune_pairs, progress=progress)
        seconds["predict"] = time.perf_counter() - phase
        con.close()

    phase = time.perf_counter()
    lines = submission_lines(top, inputs.cabbi)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    lines.to_csv(out, sep=";", index=False)
    seconds["write"] = time.perf_counter() - phase
    seconds["total"] = time.perf_counter() - start
    return {
        "splink": splink.__version__,
        "duckdb": duckdb.__version__,
        "threads": int(threads),
        "memory_limit": memory_limit,
        "bulletins": inputs.bulletins.num_rows,
        "establishments": inputs.register.num_rows,
        "pairs": scored,
        "chunks": chunks,
        "with_candidates": int(top["CABBI"].nunique()),
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }


def submission_lines(top: pd.DataFrame, cabbi: pd.Series) -> pd.DataFrame:
    """``CABBI;siret;rank;score`` lines: every bulletin's best candidates, rank 1 first; a rank-1
    line with a blank SIRET for a bulletin that has none."""
    top = top.sort_values(["CABBI", "match_weight", "siret"], ascending=[True, False, True], kind="stable")
    top["rank"] = top.groupby("CABBI", sort=False).cumcount() + 1
    ranked = pd.DataFrame({"CABBI": top["CABBI"].to_numpy(), "siret": top["siret"].to_numpy(),
                           "rank": top["rank"].to_numpy(dtype=np.int64),
                           "score": top["match_probability"].to_numpy(dtype=np.float64)})
    without = cabbi[~cabbi.isin(set(ranked["CABBI"]))]
    blank = pd.DataFrame({"CABBI": without.to_numpy(), "siret": None, "rank": 1, "score": np.nan})
    order = pd.Series(np.arange(len(cabbi)), index=cabbi.to_numpy())
    lines = pd.concat([ranked, blank], ignore_index=True)
    lines["position"] = order.reindex(lines["CABBI"].to_numpy()).to_numpy()
    return lines.sort_values(["position", "rank"], kind="stable").drop(columns="position").reset_index(drop=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Link a data directory's test bulletins to its register with "
                                                 "Splink (DuckDB) and write a submission.")
    parser.add_argument("--data", required=True, type=Path, help="the data directory")
    parser.add_argument("--out", required=True, type=Path, help="the submission CSV to write")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    parser.add_argument("--memory-limit", default=DEFAULT_MEMORY_LIMIT,
                        help=f"DuckDB memory_limit (default {DEFAULT_MEMORY_LIMIT})")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    args = parser.parse_args(argv)
    try:
        result = link(args.data, args.out, threads=args.threads, progress=not args.quiet,
                      memory_limit=args.memory_limit)
    except UserError as err:
        print(f"peer_splink: error: {err}", file=sys.stderr)
        return err.exit_code
    s = result["seconds"]
    print(f"splink {result['splink']}: {result['bulletins']:,} bulletins × {result['establishments']:,} "
          f"establishments, {result['pairs']:,} pairs in {result['chunks']} chunk(s); "
          f"prepare {s['prepare']} s, train {s['train']} s, predict {s['predict']} s, write {s['write']} s, "
          f"total {s['total']} s → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
