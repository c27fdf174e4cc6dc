"""Loading a data directory, synthetic or real, into frames typed as :mod:`datathon.schema` says.

A data directory holds the files listed in :mod:`datathon.schema`. Every frame comes back with the
schema's dtypes: text columns as pandas ``"string"`` (blank values become nulls), coordinates as
``float64``, codes such as ``TYPCOL`` as nullable integers. Columns a file has beyond the schema
are kept (a real Sirene extract has dozens more), after the schema's own columns.

Bringing real data
    Each ``NAME.parquet`` of the schema may instead be given as ``NAME.csv``: UTF-8 text, the
    separator ``;`` or ``,`` (told apart from the header line), every value read as text, then
    cast like the parquet files. This is how the Sirene stock files come. The stock's marker of
    non-diffusible values, ``[ND]``, is read as a null. When both forms exist, the parquet wins.

    The 2018 INSEE files (``rp_final_<year>.csv``, ``sirus_<year>.csv``, ``communes_adjacentes_<year>.csv``,
    ``;``-separated Latin-1) are read too: :func:`kit_directory` converts them once into the kit's
    files (see datathon/challenges/sirene/insee2018.py and docs/real-data.md).

Typical use in a notebook::

    from datathon import data
    ds = data.load("data_samples")             # everything, typed
    reg = data.load_register("data_samples", columns=["siret", "denominationUniteLegale"])
    train = data.load_bulletins("data_samples", "train")

A directory that is missing, or lacks a file or a column the call needs, raises
:class:`datathon.errors.UserError` with what to do; ``datathon data check DIR`` lists every
problem of a directory at once.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from datathon import schema
from datathon.errors import UserError

SPLITS = ("train", "test")

# Values read as nulls in CSV files: the empty string and the Sirene stock's "non-diffusible".
CSV_NULLS = ["", "[ND]"]

# The schema of naf.csv (it is not in schema.FILES: it is a copy of the package's nomenclature).
NAF: dict[str, str] = {"code": schema.STRING, "libelle": schema.STRING}

# Arrow text types are converted to pandas "string" (nulls as pd.NA), not pandas 3's default "str".
_STRING_TYPES = {pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype()}
if hasattr(pa, "string_view"):
    _STRING_TYPES[pa.string_view()] = pd.StringDtype()

# Bounds of the integer dtypes the schema uses, to tell "not an integer of this size" apart.
_INT_BOUNDS = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
}

GENERATE_HINT = (
    "generate data with `datathon generate --scale sample --seed N --out {dir}` "
    "or see README 'Bring real data'"
)


# --------------------------------------------------------------------------------------------
# Finding and reading files
# --------------------------------------------------------------------------------------------


def data_directory(directory: str | Path) -> Path:
    """The directory as a :class:`Path` (for the 2018 INSEE files, their conversion: :func:`kit_directory`),
    or a :class:`UserError` if it is not a directory."""
    path = Path(directory)
    if not path.exists():
        raise UserError(f"no data directory {path}: {GENERATE_HINT.format(dir=path)}")
    if not path.is_dir():
        raise UserError(f"{path} is a file, not a data directory: give the directory that holds "
                        "etablissements.parquet, bulletins_train.parquet, ...")
    return kit_directory(path)


def kit_directory(directory: str | Path) -> Path:
    """``directory`` itself; for the 2018 INSEE files (``rp_final_<year>.csv``, ``sirus_<year>.csv``),
    their conversion to the kit's files, made once and cached (datathon/challenges/sirene/insee2018.py)."""
    from datathon.challenges.sirene import insee2018

    path = Path(directory)
    return insee2018.materialize(path) if insee2018.is_insee2018(path) else path


def find_file(directory: str | Path, name: str) -> Path | None:
    """The file that stands for ``name`` in ``directory``, or None.

    ``name`` is a schema file name (``etablissements.parquet``); its CSV form
    (``etablissements.csv``) is accepted when the parquet file is absent.
    """
    directory = kit_directory(directory)
    path = directory / name
    if path.is_file():
        return path
    if path.suffix == ".parquet":
        alternative = path.with_suffix(".csv")
        if alternative.is_file():
            return alternative
    return None


def csv_header(path: Path) -> tuple[str, list[str]]:
    """The separator (``;`` or ``,``) and the column names of a CSV file, from its first line."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        line = f.readline()
    separator = ";" if line.count(";") >= line.count(",") else ","
    return separator, next(csv.reader([line], delimiter=separator), [])


def file_columns(path: Path) -> list[str]:
    """The column names of a parquet or CSV file, reading only its metadata or header."""
    if path.suffix == ".csv":
        return csv_header(path)[1]
    return list(pq.read_schema(path).names)


def read_raw(path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A parquet or CSV file as stored, without casting (CSV values are all text).

    ``columns`` restricts what is read (and must exist in the file). Text columns come as pandas
    ``"string"``. Errors of pyarrow (corrupt file, malformed CSV line) propagate: callers decide
    whether they are a :class:`UserError` or a problem to report.
    """
    columns = list(columns) if columns is not None else None
    if path.suffix == ".csv":
        separator, header = csv_header(path)
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding="utf8"),
            parse_options=pacsv.ParseOptions(delimiter=separator),
            convert_options=pacsv.ConvertOptions(
                # Everything as text: codes keep their leading zeros; the cast comes after.
                column_types={name: pa.string() for name in header},
                include_columns=columns,
                null_values=CSV_NULLS,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    else:
        table = pq.read_table(path, columns=columns)
    return table.to_pandas(types_mapper=_STRING_TYPES.get)


# --------------------------------------------------------------------------------------------
# Casting to the schema
# --------------------------------------------------------------------------------------------


def convert_column(values: pd.Series, dtype: str) -> tuple[pd.Series, np.ndarray]:
    """``values`` cast to the schema ``dtype``, and a mask of the values that could not be.

    Text is stripped of nothing but blank values become nulls. A value is *bad* when it is
    present but is not a number (float columns), not an integer within the dtype's range (integer
    columns), or is missing from a non-nullable integer column; bad values are nulls in the
    returned series. The loader refuses bad values, the checker reports them.
    """
    n = len(values)
    if dtype == schema.STRING:
        text = _as_text(values)
        return text, np.zeros(n, dtype=bool)

    text_input = not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values))
    if text_input:
        text = _as_text(values)
        present = text.notna().to_numpy()
        numbers = pd.to_numeric(text.str.strip(), errors="coerce")
    else:
        present = values.notna().to_numpy()
        numbers = values.astype("Float64") if pd.api.types.is_bool_dtype(values) else values
    numbers = pd.Series(numbers, index=values.index).astype("Float64")
    parsed = numbers.notna().to_numpy()
    bad = present & ~parsed

    if dtype in ("float64", "float32"):
        return numbers.astype(dtype), bad

    # Integer dtypes: "Int8" (nullable) or "int64" (no nulls allowed).
    low, high = _INT_BOUNDS[dtype.lower()]
    as_float = numbers.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        fits = parsed & (np.floor(as_float) == as_float) & (as_float >= low) & (as_float <= high)
    bad |= parsed & ~fits
    nullable = dtype[0] == "I"
    if not nullable:
        bad |= ~present
    clean = pd.Series(np.where(fits, as_float, np.nan), index=values.index)
    target = dtype if nullable else dtype.capitalize()  # nullable until proven complete
    converted = clean.astype("Float64").astype(target)
    if not nullable and not bad.any():
        converted = converted.astype(dtype)
    return converted, bad


def describe_dtype(dtype: str) -> str:
    """What a schema dtype accepts, in words, for messages ("numbers", "integers, never empty")."""
    if dtype == schema.STRING:
        return "text"
    if dtype.startswith("float"):
        return "numbers"
    low, high = _INT_BOUNDS[dtype.lower()]
    words = "integers" if dtype.lower() == "int64" else f"integers from {low} to {high}"
    return words if dtype[0] == "I" else f"{words}, never empty"


def _as_text(values: pd.Series) -> pd.Series:
    """Values as pandas ``"string"``, blank ones (empty or only spaces) as nulls."""
    text = values if isinstance(values.dtype, pd.StringDtype) and values.dtype.na_value is pd.NA \
        else values.astype(pd.StringDtype())
    blank = (text.str.strip() == "").fillna(False).to_numpy(dtype=bool)
    if blank.any():
        text = text.mask(blank)
    return text


def cast(frame: pd.DataFrame, columns: Mapping[str, str], *, file: str, directory: Path) -> pd.DataFrame:
    """``frame`` with the schema's columns cast to their dtypes, schema columns first.

    Raises :class:`UserError` naming the column and a few bad values when a value cannot be cast.
    """
    out = {}
    for name in frame.columns:
        if name in columns:
            converted, bad = convert_column(frame[name], columns[name])
            if bad.any():
                examples = ", ".join(repr(v) for v in frame[name][bad].head(3).tolist())
                n = int(bad.sum())
                raise UserError(
                    f"column {name} of {file} in {directory} should hold "
                    f"{describe_dtype(columns[name])}, but {n:,} value{'' if n == 1 else 's'} "
                    f"{'is' if n == 1 else 'are'} not (e.g. {examples}); run `datathon data check "
                    f"{directory}` for every problem of the directory"
                )
            out[name] = converted
        elif frame[name].dtype == object or pd.api.types.is_string_dtype(frame[name]):
            out[name] = _as_text(frame[name])  # extra text columns follow the same convention
        else:
            out[name] = frame[name]
    order = [c for c in columns if c in out] + [c for c in out if c not in columns]
    return pd.DataFrame({c: out[c] for c in order}, index=pd.RangeIndex(len(frame)))


# --------------------------------------------------------------------------------------------
# Loaders
# --------------------------------------------------------------------------------------------


def load_frame(
    directory: str | Path,
    name: str,
    *,
    columns: Sequence[str] | None = None,
    required: bool = True,
) -> pd.DataFrame | None:
    """One file of the directory as a typed frame (None when absent and not ``required``).

    ``name`` is a schema file name (``etablissements.parquet``, ``communes_adjacentes.csv``,
    ``naf.csv``, ...). ``columns`` reads only those columns, in that order, which is much faster
    on the full register. Every schema column must be present (optional ones such as ``NOISE``
    excepted) unless ``columns`` says which ones are wanted.
    """
    directory = data_directory(directory)
    expected = NAF if name == schema.NAF_FILE else schema.FILES.get(name)
    if expected is None:
        raise UserError(f"{name} is not a file of a data directory; known files: "
                        + ", ".join([*schema.FILES, schema.NAF_FILE]))
    path = find_file(directory, name)
    if path is None:
        if not required:
            return None
        alternative = f" (or {Path(name).stem}.csv)" if name.endswith(".parquet") else ""
        raise UserError(f"no {name}{alternative} in {directory}: {GENERATE_HINT.format(dir=directory)}")

    try:
        present = file_columns(path)
    except (OSError, pa.ArrowException, UnicodeDecodeError, ValueError) as err:
        raise UserError(f"cannot read {path}: {_first_line(err)}; is it really a "
                        f"{path.suffix[1:]} file? `datathon data check {directory}` says more") from None
    if columns is not None:
        wanted = list(columns)
    else:
        wanted = [c for c in expected if c not in schema.OPTIONAL_COLUMNS]
    missing = [c for c in wanted if c not in present]
    if missing:
        raise UserError(f"{path.name} in {directory} lacks the columns {', '.join(missing)}; "
                        f"run `datathon data check {directory}` for every problem of the directory")
    try:
        # Without columns=, everything the file has: the schema's, optional and extra ones.
        raw = read_raw(path, wanted if columns is not None else None)
    except (OSError, pa.ArrowException, UnicodeDecodeError, ValueError) as err:
        raise UserError(f"cannot read {path}: {_first_line(err)}; `datathon data check "
                        f"{directory}` says more") from None
    frame = cast(raw, expected, file=path.name, directory=directory)
    if columns is not None:
        frame = frame[wanted]
    return frame


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]


def load_register(directory: str | Path, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The register: establishments with their legal unit's columns (``etablissements``)."""
    return load_frame(directory, "etablissements.parquet", columns=columns)


def load_bulletins(
    directory: str | Path, split: str, *, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """The bulletins of one split: ``"train"`` (with ``SIRET_DEC``) or ``"test"`` (without)."""
    _check_splits([split])
    return load_frame(directory, f"bulletins_{split}.parquet", columns=columns)


def load_truth(directory: str | Path, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The test truth (``CABBI``, ``SIRET_DEC``): instructors only, never in participants' data."""
    return load_frame(directory, "truth_test.parquet", columns=columns)


def load_manifest(directory: str | Path) -> dict | None:
    """The directory's ``manifest.json`` (seed, scale, rows, checksums, ...), or None if absent."""
    path = data_directory(directory) / schema.MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read {path}: {_first_line(err)}") from None
    if not isinstance(manifest, dict):
        raise UserError(f"{path} is not a JSON object")
    return manifest


def _check_splits(splits: Sequence[str]) -> None:
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise UserError(f"unknown split {', '.join(map(repr, unknown))}: choose among "
                        + ", ".join(map(repr, SPLITS)))


@dataclass
class DataSet:
    """Every frame of a data directory; None for a file that is absent and was not required."""

    directory: Path
    etablissements: pd.DataFrame
    communes: pd.DataFrame | None = None
    adjacences: pd.DataFrame | None = None
    adresses: pd.DataFrame | None = None
    bulletins_train: pd.DataFrame | None = None
    bulletins_test: pd.DataFrame | None = None
    truth_test: pd.DataFrame | None = None
    naf: pd.DataFrame | None = None
    manifest: dict | None = None

    def rows(self) -> dict[str, int]:
        """Row counts of the frames that were loaded."""
        return {
            f.name: len(value)
            for f in fields(self)
            if isinstance(value := getattr(self, f.name), pd.DataFrame)
        }

    def __repr__(self) -> str:
        # The default dataclass repr would print every frame in full: a summary reads better.
        counts = ", ".join(f"{name}={n:,}" for name, n in self.rows().items())
        return f"DataSet({str(self.directory)!r}: {counts})"


# Attribute of DataSet -> file; the register and the requested bulletins are required.
_ATTRIBUTES = {
    "etablissements": "etablissements.parquet",
    "communes": "communes.parquet",
    "adjacences": "communes_adjacentes.csv",
    "adresses": "adresses.parquet",
    "bulletins_train": "bulletins_train.parquet",
    "bulletins_test": "bulletins_test.parquet",
    "truth_test": "truth_test.parquet",
    "naf": schema.NAF_FILE,
}


def load(
    directory: str | Path,
    *,
    splits: Sequence[str] = SPLITS,
    with_truth: bool = True,
    columns: Mapping[str, Sequence[str]] | None = None,
) -> DataSet:
    """Load a data directory, typed.

    The register (``etablissements``) and the bulletins of each of ``splits`` are required; the
    geography, ``naf.csv`` and ``manifest.json`` are loaded when present. The test truth is
    loaded when ``with_truth`` and the file is present: participants' directories do not have it,
    and ``with_truth=False`` keeps it out of reach even when it is there.

    ``columns`` maps a DataSet attribute (``"etablissements"``, ``"bulletins_train"``, ...) to
    the only columns to read from its file.
    """
    directory = data_directory(directory)
    splits = tuple(splits)
    _check_splits(splits)
    columns = dict(columns or {})
    unknown = [k for k in columns if k not in _ATTRIBUTES]
    if unknown:
        raise UserError(f"columns= names unknown frames {', '.join(unknown)}; "
                        f"known: {', '.join(_ATTRIBUTES)}")

    frames: dict[str, pd.DataFrame | None] = {}
    for attribute, name in _ATTRIBUTES.items():
        if attribute.startswith("bulletins_") and attribute.removeprefix("bulletins_") not in splits:
            continue
        if attribute == "truth_test" and not with_truth:
            continue
        required = attribute == "etablissements" or attribute.startswith("bulletins_")
        frames[attribute] = load_frame(directory, name, columns=columns.get(attribute), required=required)
    return DataSet(directory=directory, manifest=load_manifest(directory), **frames)
