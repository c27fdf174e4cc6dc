"""Benchmark: the pipeline from one département to the whole campaign, side by side with Splink.

``make bench-scale`` (``python -m benchmarks.bench_scale [--sizes ...] [--no-peer]``) measures
``datathon match`` (the combined matcher, one Dask task per département, :mod:`datathon.pipeline`)
at four sizes of the benchmark's own world (seed :data:`SEED`, which no notebook or test uses):

* ``sample``: one small département of 25,000 establishments (the ``sample`` scale);
* ``departement``: one département of 120,000 establishments (the ``departement`` scale);
* ``campaign/10``: the first 10 départements of the campaign (``--departements 10``);
* ``campaign``: all 96 (1.7 M bulletins, ≥ 8.5 M establishments).

The first départements of a seed are the same at every size, so the sizes nest. For each size it
records the wall time and the peak resident memory of the whole process tree (Dask workers
included), the seconds per stage, and the quality of the submission scored by
:mod:`datathon.evaluate`: coverage at 95 % precision, success rate, top-5 accuracy. The
``sample`` and ``departement`` models are trained on their own world's labelled bulletins; the
campaign sizes share one model trained on ``campaign/10`` (the default: the fewest départements that give 25,000 labelled
bulletins). Targets for the campaign on 2 cores: ≤ 30 min and ≤ 16 GiB.

The peer, Splink with DuckDB (:mod:`benchmarks.peer_splink`, the ``bench`` extra), runs on the
``departement`` and ``campaign/10`` worlds in the same run and is scored the same way.

Results go to ``benchmarks/results/scale.json`` and the report.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchmarks.common import RESULTS, run_measured, write_result
from datathon.evaluate import score_directory

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(__file__).parent / "work" / "scale"
SEED = 8500  # the benchmarks' world: bench_data generates the same campaign
#: label -> (scale, départements or None for the scale's own)
SIZES = {
    "sample": ("sample", None),
    "departement": ("departement", None),
    "campaign/10": ("campaign", 10),
    "campaign": ("campaign", None),
}
PEER_SIZES = ("departement", "campaign/10")
TRAINING_SIZE = {"sample": "sample", "departement": "departement"}  # the campaign's sizes learn on campaign/10
TARGETS = {"campaign": {"seconds": 30 * 60, "peak_rss_gib": 16.0}}


def _directory(label: str) -> Path:
    return WORK / label.replace("/", "-")


def world(label: str) -> Path:
    """The world of ``label``, generated unless already there (same seed, same bytes)."""
    scale, departements = SIZES[label]
    out = _directory(label)
    manifest = out / "manifest.json"
    if manifest.exists():
        m = json.loads(manifest.read_text(encoding="utf-8"))
        if m.get("seed") == SEED and m.get("scale") == scale and \
                (departements is None or len(m.get("departements", [])) == departements):
            return out
    kept = Path(__file__).parent / "work" / "campaign"  # `bench_data --keep` leaves the same campaign there
    if label == "campaign" and (kept / "manifest.json").exists() and \
            json.loads((kept / "manifest.json").read_text(encoding="utf-8")).get("seed") == SEED:
        return kept
    cmd = [sys.executable, "-m", "datathon", "generate", "--scale", scale, "--seed", str(SEED), "--out", str(out),
           "--force", "--quiet"]
    if departements is not None:
        cmd += ["--departements", str(departements)]
    print(f"generating {label} …", flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    return out


def train(label: str) -> tuple[Path, dict]:
    data = world(label)
    model = _directory(label).with_name(f"model-{label.replace('/', '-')}.pkl")
    m = run_measured([sys.executable, "-m", "datathon", "train", "--data", str(data), "--out", str(model), "--quiet"])
    if m["returncode"] != 0:
        raise SystemExit(f"datathon train on {label} failed (exit {m['returncode']})")
    return model, m


def quality(submission: Path, data: Path) -> dict:
    r = score_directory(submission, data)
    return {"coverage_at_95": (r.get("coverage_at_precision") or {}).get("0.95"),
            "success_rate": r["success_rate"], "coding_rate": r["coding_rate"], "precision": r["precision"],
            "top5_accuracy": (r.get("topk_accuracy") or {}).get("5")}


def measure_datathon(label: str, model: Path, workers: int) -> dict:
    data = world(label)
    out = _directory(label).with_name(f"datathon-{label.replace('/', '-')}.csv")
    m = run_measured([sys.executable, "-m", "datathon", "match", "--data", str(data), "--model", str(model),
                      "--out", str(out), "--workers", str(workers), "--json", "--quiet"], capture=True)
    if m["returncode"] != 0:
        raise SystemExit(f"datathon match on {label} failed (exit {m['returncode']})")
    report = json.loads(m.pop("stdout"))
    manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    row = {"establishments": manifest["rows"]["etablissements.parquet"],
           "bulletins": report["bulletins"], **m, **quality(out, data),
           "stages": report["seconds"], "work_seconds": report["work_seconds"],
           "largest_partition": report["largest_partition"], "partitions": report["partitions"]}
    if label in TARGETS:
        row["targets"] = TARGETS[label]
        row["within_targets"] = all(row[k] <= v for k, v in TARGETS[label].items())
    print(f"datathon {label}: {row['seconds']} s, {row['peak_rss_gib']} GiB, coverage@95 "
          f"{row['coverage_at_95']}, success {row['success_rate']}", flush=True)
    return row


def measure_splink(label: str, threads: int) -> dict:
    data = world(label)
    out = _directory(label).with_name(f"splink-{label.replace('/', '-')}.csv")
    m = run_measured([sys.executable, "-m", "benchmarks.peer_splink", "--data", str(data), "--out", str(out),
                      "--threads", str(threads)])
    if m["returncode"] != 0:
        return {"error": f"benchmarks.peer_splink failed (exit {m['returncode']})", **m}
    row = {**m, **quality(out, data)}
    print(f"splink {label}: {row['seconds']} s, {row['peak_rss_gib']} GiB, coverage@95 "
          f"{row['coverage_at_95']}, success {row['success_rate']}", flush=True)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--workers", type=int, default=2, help="local Dask workers (default 2: this machine's cores)")
    parser.add_argument("--no-peer", action="store_true", help="leave Splink out")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "scale.json"
    previous = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    result = {"what": "datathon match (Dask, one task per département) vs Splink (DuckDB); wall time and peak "
                      "RSS of the process tree; quality by datathon.evaluate on the test split",
              "seed": SEED, "workers": args.workers,
              "datathon": dict(previous.get("datathon", {})), "splink": dict(previous.get("splink", {})),
              "training": dict(previous.get("training", {}))}
    models: dict[str, Path] = {}
    for label in args.sizes:
        source = TRAINING_SIZE.get(label, "campaign/10")
        if source not in models:
            models[source], spent = train(source)
            result["training"][source] = spent
        result["datathon"][label] = measure_datathon(label, models[source], args.workers)
        write_result("scale", result)
        if label in PEER_SIZES and not args.no_peer:
            result["splink"][label] = measure_splink(label, args.workers)
            write_result("scale", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
