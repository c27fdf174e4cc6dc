"""Benchmark: the energy challenge's forecasts over rolling origins, on worlds no notebook or test uses.

Run it as ``.venv/bin/python -m benchmarks.energy.bench_forecast`` (``make bench-energy``). It
generates two ``full``-scale worlds (seeds :data:`SEEDS`, 2010-2019) into ``benchmarks/work/``
(kept between runs), then on each runs the same :data:`ORIGINS` rolling origins (28 days apart,
the last being the train split's) for every method of :data:`METHODS`, each forecasting the 61
days after its origin from what was known before it, scored by the challenge's own scores
(:func:`datathon.challenges.energy.approaches.backtest`). Writes
``benchmarks/results/energy.json`` and ``benchmarks/energy/results.md``: the mean growth error
and MASE side by side, the mean interval score where there are intervals, and the wall time.

Targets (issue 16): the reference solution's growth error at most half the reference's
("last year × trend"), and its MASE below AutoETS's. The figures are what was measured, met or not.
"""
from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from benchmarks.common import RESULTS, machine
from datathon.challenges.energy import CHALLENGE
from datathon.challenges.energy import approaches as ea

SEEDS = (7301, 7302)
ORIGINS = 20
WORK = Path(__file__).resolve().parents[1] / "work"
HERE = Path(__file__).resolve().parent
METHODS = ("last year × trend (reference)", "seasonal naive", "AutoETS (statsmodels, AICc)", "reference solution")


def world(seed: int) -> Path:
    """The full-scale world of ``seed`` in benchmarks/work/, generated once."""
    out = WORK / f"energy-full-{seed}"
    if not (out / "manifest.json").exists():
        CHALLENGE.generate(seed, "full", out, force=True, progress=False)
    return out


def run(seeds=SEEDS, n_origins: int = ORIGINS, methods=METHODS) -> dict:
    per_origin = []
    for seed in seeds:
        data = ea.load_history(world(seed))
        origins = ea.rolling_origins(data, n_origins)
        for name in methods:
            started = time.perf_counter()
            scores = ea.backtest(ea.METHODS[name], data, origins)
            print(f"seed {seed}  {name:32s} growth_error {scores['growth_error'].mean():.3f}  "
                  f"MASE {scores['mase'].mean():.3f}  {time.perf_counter() - started:6.1f} s", flush=True)
            per_origin.append(scores.assign(seed=seed, method=name))
    table = pd.concat(per_origin, ignore_index=True)
    summary = (table.groupby("method", sort=False)
               .agg(growth_error=("growth_error", "mean"), median_growth_error=("growth_error", "median"),
                    mase=("mase", "mean"), interval_score=("interval_score", "mean"),
                    seconds_per_origin=("seconds", "mean"), origins=("origin", "size"))
               .reindex(list(methods)))
    ref = summary.loc["last year × trend (reference)"]
    best = summary.loc["reference solution"]
    ets = summary.loc["AutoETS (statsmodels, AICc)"]
    targets = {
        "growth_error_ratio_to_reference": best["growth_error"] / ref["growth_error"],
        "growth_error_at_most_half_reference": bool(best["growth_error"] <= ref["growth_error"] / 2),
        "mase_beats_autoets": bool(best["mase"] < ets["mase"]),
    }
    return {"seeds": list(seeds), "origins_per_seed": n_origins, "horizon": ea.HORIZON,
            "summary": {m: {k: (None if pd.isna(v) else float(v)) for k, v in row.items()}
                        for m, row in summary.iterrows()},
            "targets": targets,
            "per_origin": json.loads(table.assign(origin=table["origin"].dt.strftime("%Y-%m-%d"))
                                     .to_json(orient="records"))}


def markdown(result: dict) -> str:
    lines = ["# Energy forecasts: rolling-origin benchmark", "",
             f"Seeds {', '.join(map(str, result['seeds']))} (full scale), {result['origins_per_seed']} origins each, "
             f"28 days apart, {result['horizon']}-day horizon; measured {result['measured_at']} on "
             f"{result['machine']['nproc']} cores ({result['machine']['cpu']}). Lower is better.", "",
             "| method | growth error (mean) | growth error (median) | MASE | interval score | s / origin |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, row in result["summary"].items():
        interval = "—" if row["interval_score"] is None else f"{row['interval_score']:.2f}"
        lines.append(f"| {name} | {row['growth_error']:.1%} | {row['median_growth_error']:.1%} | {row['mase']:.3f} | "
                     f"{interval} | {row['seconds_per_origin']:.2f} |")
    t = result["targets"]
    lines += ["", f"- Reference solution's growth error / reference's: {t['growth_error_ratio_to_reference']:.2f} "
              f"(target ≤ 0.5: {'met' if t['growth_error_at_most_half_reference'] else 'not met'}).",
              f"- Reference solution's MASE below AutoETS's: {'met' if t['mase_beats_autoets'] else 'not met'}.",
              "- AutoETS is statsmodels' ETSModel chosen by AICc (no trend / damped trend, weekly seasonality), "
              "the search statsforecast's AutoETS makes; statsforecast 2.1 requires pandas < 3 and the kit pins pandas 3.", ""]
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def main(argv=None) -> int:
    started = time.perf_counter()
    result = run()
    result["wall_seconds"] = time.perf_counter() - started
    result["machine"] = machine()
    result["measured_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    RESULTS.mkdir(parents=True, exist_ok=True)
    _write(RESULTS / "energy.json", json.dumps({"benchmark": "energy", **result}, indent=2, ensure_ascii=False) + "\n")
    text = markdown(result)
    _write(HERE / "results.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
