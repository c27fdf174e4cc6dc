"""Writing an energy data directory: the public history, the calendar, the truth kept apart, the
manifest and the data dictionary.

Parquet with fixed writer options (zstd, no statistics) so that the same seed gives the same
bytes, and because a typed, compressed file is what the sample can afford to commit; an
organiser's CSV extract is read in its place (:mod:`datathon.challenges.energy.data`).
"""
from __future__ import annotations

import json
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from datathon import __version__
from datathon.challenges.energy import schema, world
from datathon.errors import UserError
from datathon.files import check_out_directory, replace_directory, sha256_file
from datathon.seeds import parse_seed

PARQUET_OPTIONS = {"compression": "zstd", "use_dictionary": True, "write_statistics": False}
_ARROW = {"date": pa.date32(), "int64": pa.int64(), "Int64": pa.int64(), "string": pa.string(),
          "float64": pa.float64()}
# What the Sirene generator's options mean is not a question here: any given one is refused.
_SIRENE_OPTIONS = {"register": "--register", "unites_legales": "--unites-legales", "departements": "--departements"}


def frames(w: world.World, scale: world.Scale) -> dict[str, pd.DataFrame]:
    """The files' frames, for the days a scale writes."""
    first = pd.Timestamp(scale.first_day)
    history = (w.days >= first) & (w.days <= pd.Timestamp(world.HISTORY_END))
    window = w.days > pd.Timestamp(world.HISTORY_END)
    new = w.new.sum(axis=(1, 2))
    terminations = w.terminations.sum(axis=(1, 2))
    daily = pd.DataFrame({"date": w.days, "new": new, "terminations": terminations,
                          "net_growth": new - terminations, "customers": w.customers})

    n_c, n_r = len(world.CHANNELS), len(world.REGIONS)
    days = np.flatnonzero(history)
    # One row per (day, region, channel), as a GROUP BY export gives it: a cell with nothing is absent.
    cells_new = w.new[days].transpose(0, 2, 1).reshape(-1)  # day-major, then region, then channel
    cells_term = w.terminations[days].transpose(0, 2, 1).reshape(-1)
    keep = (cells_new > 0) | (cells_term > 0)
    subscriptions = pd.DataFrame({
        "date": np.repeat(w.days[days], n_c * n_r),
        "region": np.tile(np.repeat(np.array(world.REGIONS, dtype=object), n_c), len(days)),
        "channel": np.tile(np.array(world.CHANNELS, dtype=object), len(days) * n_r),
        "new": cells_new, "terminations": cells_term,
    })[keep]

    signals = w.signals[history & ~w.missing_dates]
    calendar = w.calendar[(w.calendar["end"] >= scale.first_day)]
    truth = daily.loc[window, ["date", "new", "terminations", "net_growth"]]
    return {
        schema.DAILY: daily[history],
        schema.SUBSCRIPTIONS: subscriptions,
        schema.SIGNALS: signals,
        schema.CALENDAR: calendar,
        schema.TRUTH: truth,
    }


def write_parquet(frame: pd.DataFrame, path: Path, name: str) -> None:
    """``frame`` as the schema's typed parquet file, with fixed writer options."""
    columns = []
    for column in schema.spec(name).columns:
        values = frame[column.name]
        if column.dtype == schema.DATE:
            array = pa.array(pd.to_datetime(values).to_numpy().astype("datetime64[D]"), type=pa.date32())
        elif column.dtype == "string":
            array = pa.array(values.astype(object).where(values.notna(), None).tolist(), type=pa.string())
        elif column.dtype == "float64":
            array = pa.array(values.to_numpy(dtype="float64"), type=pa.float64(), from_pandas=True)
        else:
            array = pa.array(pd.array(values, dtype="Int64"), type=pa.int64())
        columns.append(array)
    table = pa.Table.from_arrays(columns, schema=pa.schema([(c.name, _ARROW[c.dtype])
                                                             for c in schema.spec(name).columns]))
    pq.write_table(table, path, **PARQUET_OPTIONS)


def manifest_mechanisms(w: world.World, scale: world.Scale) -> dict:
    """Every mechanism's parameters, its stream's number, and what its draws gave (the dates missing
    from signals.parquet counted over the days the scale writes)."""
    written = (w.days >= pd.Timestamp(scale.first_day)) & (w.days <= pd.Timestamp(world.HISTORY_END))
    realised = {"campaigns": {"planned": w.realised["campaigns"]},
                "tariff": {"changes": w.realised["tariff_changes"]},
                "own_price": {"changes": w.realised["own_price_changes"]},
                "news": {"shocks": w.realised["news_shocks"]},
                "missing_days": {"web_outage": w.realised["web_outage"],
                                 "missing_signal_dates": int((w.missing_dates & written).sum())}}
    out = {}
    for name, params in world.MECHANISMS.items():
        entry = dict(params)
        entry["stream"] = None if params["stream"] is None else [params["stream"], world.STREAMS[params["stream"]]]
        entry.update(realised.get(name, {}))
        out[name] = entry
    return out


def generate(seed: int | str, scale: str, out, *, force: bool = False, progress: bool = True, **options) -> dict:
    """Write the world of ``seed`` at ``scale`` to ``out``, whole or not at all; return the manifest."""
    given = [flag for key, flag in _SIRENE_OPTIONS.items() if options.pop(key, None) is not None]
    given += [f"--{key.replace('_', '-')}" for key, value in options.items() if value is not None]
    if given:
        raise UserError(f"{', '.join(given)}: not an option of the energy challenge "
                        "(it takes --scale, --seed, --out, --force)")
    if scale not in world.SCALES:
        raise UserError(f"unknown scale {scale!r} for the energy challenge: choose {' or '.join(world.SCALES)}")
    number = parse_seed(seed)
    out = Path(out)
    check_out_directory(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        manifest = _write(tmp, number, world.SCALES[scale])
        replace_directory(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _write(directory: Path, seed: int, scale: world.Scale) -> dict:
    from datathon.challenges.energy.dictionary import render

    w = world.simulate(seed)
    written = frames(w, scale)
    for name, frame in written.items():
        write_parquet(frame, directory / name, name)
    manifest = {
        "challenge": "energy",
        "generator": "datathon",
        "version": __version__,
        "kind": "synthetic",
        "scale": scale.name,
        "seed": seed,
        "period": {"history_start": scale.first_day.isoformat(), "history_end": world.HISTORY_END.isoformat(),
                   "forecast_start": world.FORECAST_START.isoformat(),
                   "forecast_end": world.FORECAST_END.isoformat(), "horizon_days": world.HORIZON},
        "rows": {name: len(frame) for name, frame in written.items()},
        "mechanisms": manifest_mechanisms(w, scale),
    }
    # The dictionary quotes the manifest but not when it was written, so it keeps its bytes too.
    (directory / schema.README).write_text(render(directory, manifest), encoding="utf-8")
    manifest["generated_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest["checksums"] = {name: sha256_file(directory / name) for name in sorted(written)}
    (directory / schema.MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
    return manifest
