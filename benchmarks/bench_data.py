"""Benchmark: generate the world at every scale, up to the 2017 campaign, and measure it.

``make bench-data`` (or ``python -m benchmarks.bench_data [--scales sample departement campaign]``)
runs ``datathon generate`` for each scale in a subprocess and records the wall time, the peak
resident memory of the whole process tree (workers included), the row counts and MCA's
calibration. Targets for the campaign (1.7 M bulletins, ≥ 8.5 M establishments): ≤ 15 min and
≤ 12 GiB on 2 cores. Results go to ``benchmarks/results/data.json`` and ``benchmarks/report.md``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from benchmarks.common import RESULTS, run_measured, write_result

WORK = Path(__file__).parent / "work"
TARGETS = {"campaign": {"seconds": 15 * 60, "peak_rss_gib": 12.0}}
SEED = 8500  # a seed of its own: the benchmark's world is no one else's


def measure(scale: str, keep: bool = False) -> dict:
    out = WORK / scale
    shutil.rmtree(out, ignore_errors=True)
    m = run_measured([sys.executable, "-m", "datathon", "generate", "--scale", scale, "--seed", str(SEED),
                      "--out", str(out), "--quiet"])
    if m["returncode"] != 0:
        raise SystemExit(f"datathon generate --scale {scale} failed with exit code {m['returncode']}")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    size = sum(p.stat().st_size for p in out.iterdir())
    row = {
        "seconds": m["seconds"],
        "peak_rss_gib": m["peak_rss_gib"],
        "establishments": manifest["rows"]["etablissements.parquet"],
        "bulletins": manifest["rows"]["bulletins_train.parquet"] + manifest["rows"]["bulletins_test.parquet"],
        "output_mib": round(size / 2**20, 1),
        "load_average_1min_at_end": m["load_average_1min_at_end"],
        "mca_test": manifest["mca"]["test"],
    }
    if scale in TARGETS:
        row["targets"] = TARGETS[scale]
        row["within_targets"] = all(row[k] <= v for k, v in TARGETS[scale].items())
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    print(f"{scale}: {row['seconds']} s, peak {row['peak_rss_gib']} GiB, {row['establishments']:,} establishments, "
          f"{row['bulletins']:,} bulletins", flush=True)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", default=["sample", "departement", "campaign"],
                        choices=["sample", "departement", "campaign"])
    parser.add_argument("--keep", action="store_true", help="keep the generated directories in benchmarks/work/")
    args = parser.parse_args(argv)
    previous = {}
    path = RESULTS / "data.json"
    if path.exists():
        previous = json.loads(path.read_text(encoding="utf-8")).get("scales", {})
    scales = dict(previous)
    for scale in args.scales:
        scales[scale] = measure(scale, keep=args.keep)
        write_result("data", {"what": "datathon generate, one subprocess per scale; peak RSS of the process tree",
                              "seed": SEED, "scales": scales})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
