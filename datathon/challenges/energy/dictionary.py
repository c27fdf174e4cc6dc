"""The data dictionary of an energy data directory (its ``README.md``), generated from the data.

The prose lives here; every column's type and meaning comes from
:mod:`datathon.challenges.energy.schema`, every count, share and example from the files, and the
mechanisms' parameters from the manifest. It never quotes the seed (it would rebuild the truth)
nor when the data were written, so the same seed gives the same bytes.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from datathon.challenges.energy import data, schema
from datathon.challenges.energy.scoring import INTERVAL, PARTS, REQUIRED
from datathon.data import load_manifest
from datathon.dictionary import examples, num, pct, table

WHAT = {
    schema.DAILY: "the history to forecast from: one row per day, every day",
    schema.SUBSCRIPTIONS: "the same counts by region and channel (a cell with nothing is absent)",
    schema.SIGNALS: "social media, website and press, one row per day (a few days missing, as in real exports)",
    schema.CALENDAR: "public holidays, tariff and price changes, campaigns (planned ones included, up to the end of "
                     "the forecast days) and past news",
    schema.TRUTH: "the forecast days' truth, kept apart (instructors only)",
}


def _shown(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as ``YYYY-MM-DD`` text, for the examples."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return out


def column_table(name: str, frame: pd.DataFrame) -> str:
    rows = []
    shown = _shown(frame)
    for column in schema.spec(name).columns:
        filled = frame[column.name].notna().mean() if len(frame) else 0.0
        rows.append([f"`{column.name}`", column.dtype, pct(filled) if 0 < filled < 1 else f"{100 * filled:.0f} %",
                     examples(shown[column.name]), column.meaning])
    return table(["Column", "Type", "Filled", "Example", "Meaning"], rows)


# Manifest entries that are draws, not parameters: the manifest lists them in full.
_DRAWS = {"what", "stream", "planned", "changes", "shocks", "web_outage", "templates", "fixed"}


def _parameters(params: dict) -> str:
    shown = [f"{k} {json.dumps(v, ensure_ascii=False)}" for k, v in params.items()
             if k not in _DRAWS and len(json.dumps(v, ensure_ascii=False)) <= 120]
    return ", ".join(shown) or "see manifest.json"


def render(directory, manifest: dict | None = None, *, mechanisms: bool = True) -> str:
    """The data dictionary, as Markdown (``manifest`` defaults to the directory's).

    ``mechanisms=False`` leaves out how the world is made: an event's participants would read the
    lag, the campaigns' boosts and the news shocks there instead of finding them.
    """
    directory = Path(directory)
    if manifest is None:
        manifest = load_manifest(directory) or {}
    frames = {spec.name: data.load(directory, spec.name, required=False) for spec in schema.FILES}
    frames = {name: frame for name, frame in frames.items() if frame is not None}
    period = manifest.get("period", {})
    daily = frames.get(schema.DAILY)
    first, last = (f"{daily['date'].min():%Y-%m-%d}", f"{daily['date'].max():%Y-%m-%d}") if daily is not None else ("?", "?")
    sections = [f"""\
# The energy cooperative's data: forecast two months of customer growth

A cooperative electricity supplier must buy, two months ahead, the energy its customers will use: it needs the \
daily net growth of its customers (new subscriptions minus terminations) for the {period.get('horizon_days', 61)} \
days after its data end. This directory holds its daily history from {first} to {last}, what it knows of its \
social-media activity, website and press, and its calendar (holidays, tariff changes, planned campaigns). The data \
are synthetic: a seeded world whose mechanisms are listed below and in `manifest.json`.

The forecast days run from {period.get('forecast_start', '?')} to {period.get('forecast_end', '?')}. The \
leaderboard's public part is their first calendar month, its private part the rest.

## The files

{table(["File", "Rows", "What it holds"], [[f"`{n}`", num(len(f)), WHAT[n]] for n, f in frames.items()])}

`manifest.json`: how the data were made: scale, period, row counts, every mechanism's parameters and draws, \
checksums. In a notebook, `from datathon.challenges.energy.data import load; daily = load(DIR, "daily.parquet")` \
reads a file with the types below; `datathon data check DIR` lists any problem a directory has."""]
    for name, frame in frames.items():
        sections.append(f"## `{name}`\n\n{WHAT[name][0].upper() + WHAT[name][1:]}.\n\n{column_table(name, frame)}")
    sections.append(f"""\
## Splits, submissions and scores

- **test**: the forecast days, whose truth is `{schema.TRUTH}`. **train**: the history's own last \
{period.get('horizon_days', 61)} days, a labelled backtest of the same shape (its reference and its scale use only \
the days before it): `datathon reference --challenge energy --data DIR --split train --out F` and scoring F on \
the train split rehearse what the leaderboard does.
- A submission is a CSV file (`;` or `,`), one line per forecast day: `{';'.join(REQUIRED)}` required, \
`{';'.join(PARTS)}` optional together (then `net_growth` = `new` − `terminations` within 0.5), \
`{';'.join(INTERVAL)}` optional together (an 80 % interval, lo ≤ hi). Dates `YYYY-MM-DD`, numbers may be \
fractional.
- Scores, all lower is better: `growth_error` ranks: the relative error of the cumulative net growth over the days; \
`mase`: the mean absolute daily error over that of the weekly seasonal naive forecast on the history; \
`interval_score`: the 80 % interval (Winkler) score on the same scale, for those who give intervals.
- The reference (the line on the leaderboard): the same weeks last year, scaled by the trend of the last 13 weeks \
against the same weeks a year earlier.""")
    declared = manifest.get("mechanisms", {}) if mechanisms else {}
    if declared:
        rows = [[f"`{name}`", (m.get("stream") or ["—"])[0], m.get("what", ""), _parameters(m)]
                for name, m in declared.items()]
        sections.append("## How the world is made\n\nEvery mechanism draws from its own random stream, derived from "
                        "the seed and the stream's number; `manifest.json` holds the same parameters and what the "
                        "draws gave (campaigns, tariff changes, news shocks).\n\n"
                        + table(["Mechanism", "Stream", "What it does", "Parameters"], rows))
    sections.append("""\
## Bringing real data

An organiser's extract has the same file names, as `.csv` (UTF-8, `;` or `,`, dates `YYYY-MM-DD`) or `.parquet`, \
with the columns above; extra columns are kept. `datathon data check DIR` names every problem: missing files or \
columns, wrong types, duplicate or missing dates, negative counts, net growth that is not new minus terminations, a \
stock that is not the cumulative growth, regional rows that do not add up to the daily totals. A region × channel \
cell absent from `subscriptions` counts as zero, and days absent from `signals` are allowed (real exports have \
gaps); `daily` must have every day. Export aggregates \
only (counts per day, region and channel: never a customer), and suppress small cells (a region × channel × day \
below 5 is merged into `Autres régions` or the week) before the data leave the cooperative.""")
    return "\n\n".join(sections) + "\n"


def write(directory) -> Path:
    """Write ``DIR/README.md`` atomically; returns its path."""
    from datathon.files import written_atomically

    path = Path(directory) / schema.README
    text = render(directory)
    with written_atomically(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
