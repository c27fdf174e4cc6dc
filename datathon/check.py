"""Validating a data directory: every problem at once, readable, never a traceback.

:func:`check_directory` reads each file of :mod:`datathon.schema` (only the columns it validates,
so that an 8.5 M-row register stays fast), then checks each file alone and the files against one
another, and returns one :class:`Problem` per (file, kind of problem) with a count and a few
examples. ``datathon data check DIR`` prints them grouped by file.

Each kind of problem is listed in :data:`KINDS`. Errors make the command fail; warnings (columns
beyond the schema, one-way adjacencies) are reported but do not, unless ``--strict``.

Examples locate a value by ``row N`` in a parquet file (``frame.iloc[N]``, counted from 0) and by
``line N`` in a CSV file (the header is line 1).

What a participant's copy lacks on purpose is not a problem: ``truth_test.parquet`` (the test
truth is kept apart), ``naf.csv`` (the package ships the nomenclature) and ``manifest.json``.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datathon import schema
from datathon.challenges.sirene import luhn, naf
from datathon.files import sha256_file
from datathon.text import plural
from datathon.data import (NAF, convert_column, data_directory, describe_dtype, file_columns, find_file,
                           read_raw)

ERROR = "error"
WARNING = "warning"
MAX_EXAMPLES = 5

# Every kind of problem, with what it means. Tests check that each one is detected.
KINDS: dict[str, str] = {
    "missing-file": "a file every data directory must have is absent",
    "unreadable-file": "a file cannot be read (corrupt, not parquet, malformed CSV or JSON)",
    "empty-file": "a file has no rows",
    "missing-columns": "columns of the schema are absent from a file",
    "extra-columns": "columns beyond the schema (warning: the loader keeps them)",
    "truth-in-test": "the test bulletins carry the truth column SIRET_DEC",
    "wrong-type": "values that are not of the column's type (text stored as numbers, non-numeric "
    "coordinates, non-integer codes)",
    "invalid-value": "values outside the column's domain (TYPCOL not 0/1, MCA class not 1..9, ...)",
    "missing-value": "an identifier (CABBI, commune code) is empty",
    "invalid-siren": "a SIREN that is not 9 digits with a valid Luhn key",
    "invalid-siret": "a SIRET that is not 14 digits with a valid Luhn key",
    "siret-mismatch": "a siret that is not its siren followed by its nic",
    "duplicate-siret": "the same siret on several rows of the register",
    "duplicate-cabbi": "the same CABBI on several bulletins, within or across the splits",
    "duplicate-commune": "the same commune code on several rows of communes",
    "unknown-commune": "a commune code that is not in communes.parquet",
    "unknown-siret": "a SIRET (truth or MCA coding) that is not in the register",
    "truth-mismatch": "test truth and test bulletins do not have the same CABBI",
    "unknown-naf": "an activity code that is not a NAF rév. 2 sous-classe (dotted form)",
    "asymmetric-adjacency": "a pair of adjacent communes given in one direction only (warning)",
    "checksum-mismatch": "a file whose sha256 differs from manifest.json",
    "row-count-mismatch": "a file whose row count differs from manifest.json",
}

# Files a data directory must have; the others are optional (see the module docstring).
REQUIRED = [name for name in schema.FILES if name != "truth_test.parquet"]
OPTIONAL = ["truth_test.parquet", schema.NAF_FILE]
FILE_ORDER = [*schema.FILES, schema.NAF_FILE, schema.MANIFEST]

# Text columns whose values are validated (the others, names and labels, can hold any text, so
# they are not even read: this keeps the check of a full register fast).
VALIDATED_TEXT: dict[str, list[str]] = {
    "etablissements.parquet": [
        "siren",
        "nic",
        "siret",
        "etatAdministratifEtablissement",
        "etablissementSiege",
        "trancheEffectifsEtablissement",
        "activitePrincipaleEtablissement",
        "codeCommuneEtablissement",
        "activitePrincipaleUniteLegale",
    ],
    "communes.parquet": ["code_commune"],
    "communes_adjacentes.csv": ["code_commune", "code_commune_adjacente"],
    "adresses.parquet": ["code_insee"],
    "bulletins_train.parquet": ["CABBI", "DEPCOM_CODE", "SIRETC", schema.TRUTH_COLUMN],
    "bulletins_test.parquet": ["CABBI", "DEPCOM_CODE", "SIRETC"],
    "truth_test.parquet": ["CABBI", schema.TRUTH_COLUMN],
    schema.NAF_FILE: ["code"],
}

# Columns of the real Sirene stock that say which nomenclature an activity code belongs to:
# closed establishments keep older codes (NAFRev1, NAF1993, NAP) that are not errors.
NOMENCLATURE_COLUMNS = {
    "activitePrincipaleEtablissement": "nomenclatureActivitePrincipaleEtablissement",
    "activitePrincipaleUniteLegale": "nomenclatureActivitePrincipaleUniteLegale",
}
NAF_REV2 = "NAFRev2"

# Domains of coded columns: (file, column) -> (test on non-null values, what is expected).
_DOMAINS: dict[tuple[str, str], tuple[Callable[[pd.Series], pd.Series], str]] = {
    ("etablissements.parquet", "etatAdministratifEtablissement"): (
        lambda s: s.isin(["A", "F"]), "A (active) or F (closed)"),
    ("etablissements.parquet", "etablissementSiege"): (
        lambda s: s.isin(["true", "false"]), '"true" or "false"'),
    ("etablissements.parquet", "trancheEffectifsEtablissement"): (
        lambda s: s.isin(list(schema.TRANCHES)), "a size band (NN, 00, 01, ... 53)"),
    ("communes.parquet", "code_commune"): (
        lambda s: s.str.fullmatch(r"[0-9][0-9AB][0-9]{3}"), "a 5-character COG code (35238, 2A004)"),
    ("communes.parquet", "population"): (lambda s: s >= 0, "a non-negative count"),
    **{
        (f"bulletins_{split}.parquet", column): rule
        for split in ("train", "test")
        for column, rule in {
            "TYPCOL": (lambda s: s.isin([0, 1]), "0 (paper) or 1 (internet)"),
            "I_MCA_C": (lambda s: s.between(1, 9), "an MCA class 1..9"),
            "NOTE_MCA_NOM_C": (lambda s: s.between(0, 1000), "a name score 0..1000"),
            "NOTE_MCA_ADR_C": (lambda s: s.between(10, 35), "an address score 10..35"),
        }.items()
    },
}

# Reference columns that other files' codes must be found in.
COMMUNE_CODES = ("communes.parquet", "code_commune")
REGISTER_SIRETS = ("etablissements.parquet", "siret")

# Values per Luhn batch: the vectorised check builds an (n, 14) int64 array, so batches bound
# the memory it takes on the 8.5 M-row register (about 110 MB per million).
_LUHN_BATCH = 1_000_000


@dataclass(frozen=True)
class Problem:
    """One kind of problem found in one file.

    ``count`` is how many values, rows or columns are concerned (the message says which);
    ``examples`` are up to five of them, located by row or line.
    """

    file: str
    kind: str
    message: str
    examples: tuple[str, ...] = ()
    count: int = 1
    level: str = ERROR

    def __str__(self) -> str:
        return f"{self.file}: {self.level} {self.kind}: {self.message}"


@dataclass
class CheckReport:
    """The problems of a directory and the row count of each file that could be read."""

    directory: Path
    problems: list[Problem] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == WARNING]

    def format(self) -> str:
        """The report as printed by ``datathon data check``."""
        counts = ", ".join(f"{Path(name).stem} {n:,}" for name, n in self.rows.items())
        if not self.problems:
            return f"{self.directory}: no problem found ({counts})"
        lines = []
        by_file: dict[str, list[Problem]] = {}
        for problem in self.problems:
            by_file.setdefault(problem.file, []).append(problem)
        order = sorted(by_file, key=lambda f: (_file_rank(f), f))
        for name in order:
            lines.append(name)
            for p in by_file[name]:
                lines.append(f"  {p.level:<8} {p.kind}: {p.message}")
                lines.extend(f"{'':13}{example}" for example in p.examples)
            lines.append("")
        errors, warnings = len(self.errors), len(self.warnings)
        if errors:
            summary = (f"{self.directory}: {plural(errors, 'error')}, {plural(warnings, 'warning')} "
                       f"in {plural(len(order), 'file')}")
        else:
            summary = f"{self.directory}: no error found, {plural(warnings, 'warning')} ({counts})"
        lines.append(summary)
        if any(" row " in f" {e}" or e.startswith("line ") for p in self.problems for e in p.examples):
            lines.append("(row N is frame.iloc[N], counted from 0; line N is a line of a CSV file, "
                         "the header being line 1)")
        return "\n".join(lines)


def check_directory(directory: str | Path) -> list[Problem]:
    """Every problem of a data directory (an empty list when it is sound).

    Raises :class:`datathon.errors.UserError` when ``directory`` is not a directory.
    """
    return run_check(directory).problems


def run_check(directory: str | Path) -> CheckReport:
    """Check a data directory: its problems and the row counts of its files."""
    from datathon.challenges.sirene import insee2018

    if insee2018.is_insee2018(directory):  # the 2018 INSEE files: the format's deviations, then the kit's checks
        return insee2018.check_directory(directory)
    return _Checker(data_directory(directory)).run()


# --------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------


@dataclass
class _File:
    """A file that could be read: where it is and its validated columns, cast to the schema."""

    path: Path
    frame: pd.DataFrame

    def where(self, position: int) -> str:
        # CSV: the header is line 1, so data row 0 is line 2 (no multi-line quoted fields assumed).
        return f"line {position + 2}" if self.path.suffix == ".csv" else f"row {position}"


class _Checker:
    def __init__(self, directory: Path):
        self.directory = directory
        self.report = CheckReport(directory)
        self.files: dict[str, _File] = {}
        self._value_sets: dict[tuple[str, str], pa.Array | None] = {}

    def run(self) -> CheckReport:
        for name in [*schema.FILES, schema.NAF_FILE]:
            self._guarded(name, lambda name=name: self._read(name))
        checks = [
            ("etablissements.parquet", self._check_register),
            ("communes.parquet", self._check_communes),
            ("communes_adjacentes.csv", self._check_adjacences),
            ("adresses.parquet", self._check_adresses),
            ("bulletins_train.parquet", lambda: self._check_bulletins("train")),
            ("bulletins_test.parquet", lambda: self._check_bulletins("test")),
            ("truth_test.parquet", self._check_truth),
            (schema.NAF_FILE, self._check_naf_file),
            (schema.MANIFEST, self._check_manifest),
        ]
        for name, check in checks:
            self._guarded(name, check)
        self.report.problems.sort(key=lambda p: _file_rank(p.file))  # stable: keeps kind order
        return self.report

    def _guarded(self, name: str, step: Callable[[], None]) -> None:
        """Run one step; data odd enough to break a check becomes a problem, not a traceback."""
        try:
            step()
        except Exception as err:  # noqa: BLE001 - the promise is: never a traceback for bad data
            shown = self.files[name].path.name if name in self.files else name
            self.add(shown, "unreadable-file", f"could not be checked: {type(err).__name__}: "
                     f"{_first_line(err)}")

    # -- recording ---------------------------------------------------------------------------

    def add(self, file: str, kind: str, message: str, examples: Iterable[str] = (), count: int = 1,
            level: str = ERROR) -> None:
        assert kind in KINDS, kind
        examples = tuple(examples)[:MAX_EXAMPLES]
        self.report.problems.append(Problem(file, kind, message, examples, count, level))

    def add_values(self, name: str, kind: str, mask, column: str | None, message: str,
                   level: str = ERROR, show: Callable[[int], str] | None = None) -> None:
        """Report the rows of file ``name`` where ``mask`` is true, showing ``column``'s values
        (or what ``show(row)`` says).

        ``message`` is formatted with ``n`` (how many values), ``s`` (plural ending) and ``are``
        ("is" or "are"), so that it reads right for one value or many.
        """
        f = self.files[name]
        mask = np.asarray(mask, dtype=bool)
        positions = np.flatnonzero(mask)
        if not len(positions):
            return
        if show is None:
            values = f.frame[column]
            show = lambda i: _show(values.iat[i])  # noqa: E731
        examples = [f"{f.where(i)}: {show(i)}" for i in positions[:MAX_EXAMPLES]]
        n = len(positions)
        text = message.format(n=f"{n:,}", s="" if n == 1 else "s", are="is" if n == 1 else "are")
        self.add(f.path.name, kind, text, examples, n, level)

    # -- reading -----------------------------------------------------------------------------

    def _read(self, name: str) -> None:
        """Read the validated columns of one file, reporting what prevents or spoils it."""
        expected = NAF if name == schema.NAF_FILE else schema.FILES[name]
        path = find_file(self.directory, name)
        if path is None:
            if name in REQUIRED:
                alternative = f" (and so is {Path(name).stem}.csv)" if name.endswith(".parquet") else ""
                self.add(name, "missing-file", f"is absent{alternative}: every data directory has it "
                         "(see datathon/schema.py)")
            return
        try:
            present = file_columns(path)
            arrow_types = {} if path.suffix == ".csv" else dict(zip(present, pq.read_schema(path).types))
        except Exception as err:  # noqa: BLE001 - whatever the reader says, the file is unreadable
            self.add(path.name, "unreadable-file", f"cannot be read as {_format_name(path)}: "
                     f"{_first_line(err)}")
            return

        missing = [c for c in expected if c not in present and c not in schema.OPTIONAL_COLUMNS]
        if missing:
            self.add(path.name, "missing-columns", f"{plural(len(missing), 'column')} of the schema "
                     f"absent: {', '.join(missing)}", count=len(missing))
        extra = [c for c in present if c not in expected]
        if name == "bulletins_test.parquet" and schema.TRUTH_COLUMN in extra:
            extra.remove(schema.TRUTH_COLUMN)
            self.add(path.name, "truth-in-test", f"has the truth column {schema.TRUTH_COLUMN}: the test "
                     "truth belongs in truth_test.parquet, never with the bulletins participants get")
        extra = [c for c in extra if c not in NOMENCLATURE_COLUMNS.values()]
        if extra:
            self.add(path.name, "extra-columns", f"{plural(len(extra), 'column')} not in the schema "
                     f"(the loader keeps them): {', '.join(extra[:20])}{' ...' if len(extra) > 20 else ''}",
                     count=len(extra), level=WARNING)

        # Text stored as numbers has already lost its leading zeros (01001 -> 1001): say so.
        for column, arrow_type in arrow_types.items():
            if expected.get(column) == schema.STRING and not _is_text(arrow_type):
                self.add(path.name, "wrong-type", f"column {column} is stored as {arrow_type}, not text "
                         "(codes stored as numbers lose their leading zeros)")

        wanted = [c for c in expected if c in present and
                  (expected[c] != schema.STRING or c in VALIDATED_TEXT.get(name, []))]
        if name == "etablissements.parquet":
            wanted += [c for c in NOMENCLATURE_COLUMNS.values() if c in present]
        try:
            raw = read_raw(path, wanted)
        except Exception as err:  # noqa: BLE001 - a corrupt row group or a malformed CSV line
            self.add(path.name, "unreadable-file", f"cannot be read as {_format_name(path)}: "
                     f"{_first_line(err)}")
            return
        self.report.rows[path.name] = len(raw)
        if len(raw) == 0:
            self.add(path.name, "empty-file", "has no rows")

        columns = {}
        self.files[name] = _File(path, raw)  # raw values, for the examples of wrong types
        for column in raw.columns:
            dtype = expected.get(column, schema.STRING)
            converted, bad = convert_column(raw[column], dtype)
            if bad.any():
                self.add_values(name, "wrong-type", bad, column, f"{{n}} value{{s}} of {column} {{are}} "
                                f"not {describe_dtype(dtype)}")
            columns[column] = converted
        self.files[name] = _File(path, pd.DataFrame(columns, index=raw.index))

        for (file, column), (test, description) in _DOMAINS.items():
            if file == name and column in self.files[name].frame:
                values = self.files[name].frame[column]
                ok = test(values.dropna()).reindex(values.index, fill_value=True)
                self.add_values(name, "invalid-value", ~ok.fillna(False).to_numpy(dtype=bool), column,
                                f"{{n}} value{{s}} of {column} {{are}} not {description}")

    # -- helpers shared by the checks --------------------------------------------------------

    def column(self, name: str, column: str) -> pd.Series | None:
        """A validated column of a file that was read, or None (the file/column is absent)."""
        f = self.files.get(name)
        if f is None or column not in f.frame:
            return None
        return f.frame[column]

    def check_present(self, name: str, column: str) -> None:
        values = self.column(name, column)
        if values is not None:
            self.add_values(name, "missing-value", values.isna().to_numpy(), column,
                            f"{{n}} row{{s}} without a {column}")

    def value_set(self, name: str, column: str) -> pa.Array | None:
        """The distinct values of a column of a file that was read (None if absent), built once:
        the register's sirets are looked up four times."""
        if (name, column) not in self._value_sets:
            values = self.column(name, column)
            self._value_sets[name, column] = None if values is None else _value_set(values)
        return self._value_sets[name, column]

    def check_in(self, name: str, column: str, reference: tuple[str, str], kind: str, where: str) -> None:
        """Report values of ``column`` (nulls aside) not in the ``reference`` (file, column)."""
        values = self.column(name, column)
        known = self.value_set(*reference)
        if values is None or known is None:
            return
        unknown = values.notna().to_numpy() & ~_isin(values, known)
        self.add_values(name, kind, unknown, column, f"{{n}} {column} value{{s}} {{are}} not in {where}")

    def check_unique(self, name: str, column: str, kind: str) -> None:
        values = self.column(name, column)
        if values is None:
            return
        duplicated = values.duplicated(keep=False).to_numpy() & values.notna().to_numpy()
        if not duplicated.any():
            return
        f = self.files[name]
        repeated = values[duplicated]
        examples = []
        for value in repeated.drop_duplicates().head(MAX_EXAMPLES):
            positions = np.flatnonzero((values == value).fillna(False).to_numpy(dtype=bool))
            examples.append(f"{_show(value)}: " + ", ".join(f.where(i) for i in positions[:MAX_EXAMPLES]))
        n_values = repeated.nunique()
        self.add(f.path.name, kind, f"{plural(n_values, f'{column} value')} "
                 f"{'appears' if n_values == 1 else 'appear'} on several rows "
                 f"({len(repeated):,} rows in all)", examples, int(n_values))

    def check_naf(self, name: str, column: str) -> None:
        values = self.column(name, column)
        if values is None:
            return
        codes = pd.Series(naf.nomenclature()["code"], dtype="string")
        unknown = values.notna().to_numpy() & ~_isin(values, _value_set(codes))
        nomenclature = self.column(name, NOMENCLATURE_COLUMNS.get(column, ""))
        if nomenclature is not None:  # older nomenclatures are legitimate (closed establishments)
            unknown &= (nomenclature.isna() | (nomenclature == NAF_REV2)).fillna(True).to_numpy(dtype=bool)
        hint = ""
        compact = _value_set(codes.str.replace(".", "", regex=False))
        if unknown.any() and _isin(values[unknown], compact).any():
            hint = " (write codes dotted, 56.10A, not 5610A)"
        self.add_values(name, "unknown-naf", unknown, column,
                        f"{{n}} {column} value{{s}} {{are}} not NAF rév. 2 sous-classes{hint}")

    # -- the checks, file by file ------------------------------------------------------------

    def _check_register(self) -> None:
        name = "etablissements.parquet"
        if name not in self.files:
            return
        siren, nic, siret = (self.column(name, c) for c in ("siren", "nic", "siret"))
        if siren is not None:
            self.add_values(name, "invalid-siren", ~_valid_ids(siren, 9), "siren",
                            "{n} siren value{s} {are} not 9 digits with a valid Luhn key")
        if siret is not None:
            self.add_values(name, "invalid-siret", ~_valid_ids(siret, 14), "siret",
                            "{n} siret value{s} {are} not 14 digits with a valid Luhn key")
            self.check_unique(name, "siret", "duplicate-siret")
        if siren is not None and nic is not None and siret is not None:
            mismatch = (siren.fillna("") + nic.fillna("") != siret).fillna(False).to_numpy(dtype=bool)
            mismatch &= siret.notna().to_numpy()
            self.add_values(name, "siret-mismatch", mismatch, None,
                            "{n} siret value{s} {are} not siren followed by nic",
                            show=lambda i: f"siret {_show(siret.iat[i])}, siren {_show(siren.iat[i])}, "
                                           f"nic {_show(nic.iat[i])}")
        self.check_in(name, "codeCommuneEtablissement", COMMUNE_CODES,
                      "unknown-commune", "communes.parquet")
        self.check_naf(name, "activitePrincipaleEtablissement")
        self.check_naf(name, "activitePrincipaleUniteLegale")

    def _check_communes(self) -> None:
        self.check_present("communes.parquet", "code_commune")
        self.check_unique("communes.parquet", "code_commune", "duplicate-commune")

    def _check_adjacences(self) -> None:
        name = "communes_adjacentes.csv"
        for column in ("code_commune", "code_commune_adjacente"):
            self.check_present(name, column)
            self.check_in(name, column, COMMUNE_CODES, "unknown-commune", "communes.parquet")
        a, b = self.column(name, "code_commune"), self.column(name, "code_commune_adjacente")
        if a is None or b is None:
            return
        # The contract gives both directions, so that a lookup by code_commune finds every neighbour.
        pairs = pd.MultiIndex.from_arrays([a, b])
        reverse = pd.MultiIndex.from_arrays([b, a])
        one_way = ~reverse.isin(pairs) & a.notna().to_numpy() & b.notna().to_numpy()
        self.add_values(name, "asymmetric-adjacency", one_way, None,
                        "{n} pair{s} without the reverse pair (both directions are expected)",
                        level=WARNING, show=lambda i: f"{_show(a.iat[i])} -> {_show(b.iat[i])}")

    def _check_adresses(self) -> None:
        self.check_in("adresses.parquet", "code_insee", COMMUNE_CODES,
                      "unknown-commune", "communes.parquet")

    def _check_bulletins(self, split: str) -> None:
        name = f"bulletins_{split}.parquet"
        if name not in self.files:
            return
        self.check_present(name, "CABBI")
        self.check_unique(name, "CABBI", "duplicate-cabbi")
        if split == "test":
            # The same bulletin in both splits leaks its truth into the training data.
            self.check_in_other(name, "CABBI", ("bulletins_train.parquet", "CABBI"),
                                "duplicate-cabbi", "also in bulletins_train.parquet")
        self.check_in(name, "DEPCOM_CODE", COMMUNE_CODES,
                      "unknown-commune", "communes.parquet")
        self.check_in(name, "SIRETC", REGISTER_SIRETS, "unknown-siret", "the register")
        if split == "train":
            self.check_in(name, schema.TRUTH_COLUMN, REGISTER_SIRETS, "unknown-siret", "the register")

    def check_in_other(self, name: str, column: str, other: tuple[str, str], kind: str, message: str) -> None:
        """Report values of ``column`` that *are* in the ``other`` (file, column)."""
        values = self.column(name, column)
        known = self.value_set(*other)
        if values is None or known is None:
            return
        shared = values.notna().to_numpy() & _isin(values, known)
        self.add_values(name, kind, shared, column, f"{{n}} {column} value{{s}} {{are}} {message}")

    def _check_truth(self) -> None:
        name = "truth_test.parquet"
        if name not in self.files:
            return
        self.check_present(name, "CABBI")
        self.check_unique(name, "CABBI", "duplicate-cabbi")
        self.check_in(name, schema.TRUTH_COLUMN, REGISTER_SIRETS,
                      "unknown-siret", "the register")
        test = self.column("bulletins_test.parquet", "CABBI")
        truth = self.column(name, "CABBI")
        if test is None or truth is None:
            return
        self.check_in(name, "CABBI", ("bulletins_test.parquet", "CABBI"), "truth-mismatch",
                      "bulletins_test.parquet")
        untruthed = test.notna().to_numpy() & ~_isin(test, self.value_set(name, "CABBI"))
        self.add_values("bulletins_test.parquet", "truth-mismatch", untruthed, "CABBI",
                        "{n} bulletin{s} without a row in truth_test.parquet")

    def _check_naf_file(self) -> None:
        self.check_naf(schema.NAF_FILE, "code")

    def _check_manifest(self) -> None:
        path = self.directory / schema.MANIFEST
        if not path.is_file():
            return
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(manifest, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as err:
            self.add(schema.MANIFEST, "unreadable-file", f"cannot be read as JSON: {_first_line(err)}")
            return
        for file, expected in manifest_checksums(manifest).items():
            target = self.directory / file
            # A file listed but absent is not a checksum problem: participants' copies drop
            # truth_test.parquet on purpose, and a required file's absence is reported anyway.
            if not target.is_file():
                continue
            actual = sha256_file(target)
            if actual != expected:
                self.add(file, "checksum-mismatch", f"sha256 differs from {schema.MANIFEST}: the file "
                         f"changed since the manifest was written (expected {expected[:12]}…, "
                         f"found {actual[:12]}…)")
        rows = manifest.get("rows")
        if isinstance(rows, dict):
            actual_rows = {Path(n).stem: (n, count) for n, count in self.report.rows.items()}
            for key, expected in rows.items():
                stem = _ATTRIBUTE_STEMS.get(key, Path(str(key)).stem)
                if stem in actual_rows and isinstance(expected, int) and actual_rows[stem][1] != expected:
                    file, count = actual_rows[stem]
                    self.add(file, "row-count-mismatch",
                             f"{count:,} rows, {schema.MANIFEST} says {expected:,}")


# A manifest may count rows under the DataSet's attribute names.
_ATTRIBUTE_STEMS = {"adjacences": "communes_adjacentes", "naf": "naf"}


def manifest_checksums(manifest: dict) -> dict[str, str]:
    """File name -> sha256 hex digest, as listed by a manifest.

    Accepted forms, so that real and generated manifests both work:
    ``"checksums"`` or ``"sha256"`` mapping names to a digest (optionally prefixed ``sha256:``)
    or to ``{"sha256": digest}``, and ``"files"`` mapping names to ``{"sha256": digest, ...}``.
    """
    listed: dict[str, str] = {}
    for key in ("files", "sha256", "checksums"):
        entries = manifest.get(key)
        if not isinstance(entries, dict):
            continue
        for file, value in entries.items():
            if isinstance(value, dict):
                value = value.get("sha256")
            if isinstance(value, str):
                listed[file] = value.lower().removeprefix("sha256:")
    return listed


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _isin(values: pd.Series, value_set: pa.Array) -> np.ndarray:
    """Which text ``values`` are in ``value_set`` (see :func:`_value_set`); nulls are not.

    Arrow's hash lookup, directly: pandas' ``isin`` on string columns walks the reference values
    in Python, which takes a minute against an 8.5 M-row register.
    """
    found = pc.is_in(_arrow_text(values), value_set=value_set, skip_nulls=True)
    return found.fill_null(False).to_numpy(zero_copy_only=False)


def _value_set(reference: pd.Series) -> pa.Array:
    """The distinct values of a text column, ready for :func:`_isin`."""
    return _arrow_text(reference).unique()


def _arrow_text(values: pd.Series) -> pa.ChunkedArray:
    # Zero-copy for the pyarrow-backed "string" columns the reader returns.
    return pa.chunked_array(pa.array(values.astype(pd.StringDtype()).array)).cast(pa.large_string())


def _valid_ids(values: pd.Series, width: int) -> np.ndarray:
    """Which values are ``width`` digits with a valid Luhn key (La Poste's SIRET rule included).

    Vectorised: the digit test runs in Arrow, the key test in numpy over int64 batches.
    """
    digits = values.str.fullmatch(rf"\d{{{width}}}").fillna(False).to_numpy(dtype=bool)
    ok = np.zeros(len(values), dtype=bool)
    positions = np.flatnonzero(digits)
    if len(positions):
        numbers = values.iloc[positions].astype("int64").to_numpy()
        for start in range(0, len(numbers), _LUHN_BATCH):
            batch = slice(start, start + _LUHN_BATCH)
            ok[positions[batch]] = luhn.vectorised_valid(numbers[batch], width)
    if width == 14:
        # La Poste's establishments follow their own rule; they are few, so check them one by one.
        la_poste = digits & values.str.startswith(luhn.LA_POSTE_SIREN).fillna(False).to_numpy(dtype=bool)
        for i in np.flatnonzero(la_poste):
            ok[i] = luhn.siret_valid(values.iat[i])
    return ok


def _is_text(arrow_type: pa.DataType) -> bool:
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    is_string_view = getattr(pa.types, "is_string_view", lambda t: False)  # pyarrow >= 16
    return (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)
            or is_string_view(arrow_type) or pa.types.is_null(arrow_type))


def _show(value) -> str:
    if isinstance(value, np.generic):
        value = value.item()  # np.int8(3) -> 3
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "(empty)"
    return repr(str(value)) if isinstance(value, str) else repr(value)


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]


def _format_name(path: Path) -> str:
    return {".csv": "CSV", ".parquet": "parquet"}.get(path.suffix, path.suffix)


def _file_rank(file: str) -> int:
    """Files in schema order, CSV alternatives with their parquet form."""
    names = [Path(n).stem for n in FILE_ORDER]
    stem = Path(file).stem
    return names.index(stem) if stem in names else len(names)
