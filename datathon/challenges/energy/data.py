"""Loading an energy data directory, synthetic or an organiser's extract, into typed frames.

Each ``NAME.parquet`` of :mod:`datathon.challenges.energy.schema` may be given as ``NAME.csv``
instead (UTF-8, ``;`` or ``,`` from the header, dates as ``YYYY-MM-DD``), as a cooperative's data
engineer exports it from a CRM or a spreadsheet; the parquet file wins when both exist. Columns
beyond the schema are kept after the schema's own.

    from datathon.challenges.energy import data
    daily = data.load(directory, "daily.parquet")
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from datathon.challenges.energy import schema
from datathon.data import convert_column, data_directory, describe_dtype, file_columns, find_file, read_raw
from datathon.errors import UserError

_READ_ERRORS = (OSError, pa.ArrowException, UnicodeDecodeError, ValueError)
GENERATE = "generate data with `datathon generate --challenge energy --scale sample --seed N --out {dir}`"


def convert(values: pd.Series, dtype: str) -> tuple[pd.Series, np.ndarray]:
    """``values`` cast to ``dtype`` (the schema's, ``"date"`` included) and a mask of the present
    values that could not be cast (:func:`datathon.data.convert_column` for the others)."""
    if dtype != schema.DATE:
        return convert_column(values, dtype)
    if pd.api.types.is_datetime64_any_dtype(values):
        days = values.dt.normalize()
        return days.astype("datetime64[ns]"), (days != values).fillna(False).to_numpy(dtype=bool)
    present = values.notna().to_numpy()
    text = values.astype("string").str.strip()
    if values.dtype == object and present.any() and not isinstance(values.dropna().iloc[0], str):
        text = pd.Series(values.map(lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)),
                         index=values.index).astype("string")  # datetime.date from parquet date32
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    bad = present & parsed.isna().to_numpy()
    return parsed.astype("datetime64[ns]"), bad


def describe(dtype: str) -> str:
    return "dates written YYYY-MM-DD" if dtype == schema.DATE else describe_dtype(dtype)


def load(directory: str | Path, name: str, *, required: bool = True) -> pd.DataFrame | None:
    """One file of the directory, typed (None when absent and not ``required``).

    One-line :class:`UserError` when the file is missing, unreadable, lacks a column or holds a
    value of the wrong type; ``datathon data check DIR`` lists every problem at once.
    """
    directory = data_directory(directory)
    dtypes = schema.dtypes(name)
    path = find_file(directory, name)
    if path is None:
        if not required:
            return None
        raise UserError(f"no {name} (or {Path(name).stem}.csv) in {directory}: "
                        f"{GENERATE.format(dir=directory)}, or see its README 'Bringing real data'")
    try:
        present = file_columns(path)
        raw = read_raw(path)
    except _READ_ERRORS as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"cannot read {path}: {reason}; `datathon data check {directory}` says more") from None
    missing = [c for c in dtypes if c not in present]
    if missing:
        raise UserError(f"{path.name} in {directory} lacks the columns {', '.join(missing)}; "
                        f"`datathon data check {directory}` lists every problem")
    out = {}
    for column in raw.columns:
        if column not in dtypes:
            out[column] = raw[column]
            continue
        converted, bad = convert(raw[column], dtypes[column])
        if bad.any():
            examples = ", ".join(repr(v) for v in raw[column][bad].head(3).tolist())
            raise UserError(f"column {column} of {path.name} in {directory} should hold {describe(dtypes[column])}, "
                            f"but {int(bad.sum()):,} values are not (e.g. {examples}); "
                            f"`datathon data check {directory}` lists every problem")
        out[column] = converted
    order = [c for c in dtypes if c in out] + [c for c in out if c not in dtypes]
    return pd.DataFrame({c: out[c] for c in order}, index=pd.RangeIndex(len(raw)))


def history(directory: str | Path) -> pd.DataFrame:
    """``daily.parquet`` sorted by date: the labelled history a forecast starts from."""
    return load(directory, schema.DAILY).sort_values("date", kind="stable").reset_index(drop=True)

