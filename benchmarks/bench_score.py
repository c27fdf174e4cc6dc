"""Benchmark: check and score a campaign-size submission (1.7 M lines) against 1.7 M truths.

Run it as ``.venv/bin/python -m benchmarks.bench_score``. It builds a synthetic truth (valid
Luhn SIRETs, MCA codings, collection modes, noise mechanisms) and a submission CSV with a
``score`` column in *shuffled* order (the slower case: teams that keep the test file's order
get a fast path), then times :func:`datathon.evaluate.read_submission` (read + every check,
with the split's CABBI as ``known_cabbi``) followed by :func:`datathon.evaluate.score`.

Prints the median of 3 runs and writes it to ``benchmarks/results/score.json`` (and the report) with the
machine it ran on. Target: ≤ 3 s.

Then the peak memory, each in a child process of its own (``--peak-memory WHAT DIR``), which
reports its peak resident set (``VmHWM``; the interpreter, pandas and the truth included):

- ``evaluate``: read_submission + score, as ``datathon score`` does;
- ``leaderboard``: read_submission + the public and private parts, as the server does for a
  submission (``service._score_parts``);
- ``refused``: the file of issue 12, 66 M one-character lines (198 MB), which is refused by its
  line count before anything is parsed.

Target: each ≤ 1 GiB.
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.common import write_result
from datathon.evaluate import read_submission, score
from datathon.luhn import with_luhn_key

N_BULLETINS = 1_700_000
RUNS = 3
TARGET_SECONDS = 3.0
TARGET_PEAK_MIB = 1024
SEED = 2017
ATTACK_LINES = 66_000_000  # issue 12's file: one character and a newline each, 132 MB


def _padded(values: np.ndarray, width: int, prefix: str = "") -> pa.Array:
    """Integers as zero-padded strings, built in arrow (no Python loop over 1.7 M values)."""
    text = pc.utf8_lpad(pa.array(values).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, text, "") if prefix else text


def _sirets(rng: np.random.Generator, n: int) -> np.ndarray:
    """n valid SIRETs as int64: random 13-digit bodies plus their Luhn key."""
    return with_luhn_key(rng.integers(10**11, 10**13, n), 14)


def build(n: int = N_BULLETINS, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A truth frame (as load_truth returns it) and a submission frame, both of n bulletins."""
    rng = np.random.default_rng(seed)
    cabbi = _padded(np.arange(n), 10, "35")
    true = _sirets(rng, n)
    codable = rng.random(n) > 0.05  # about 5 % of bulletins cannot be coded
    # MCA codes about 45 %, right on about 88 % of those.
    mca_coded = rng.random(n) < 0.45
    mca = np.where(rng.random(n) < 0.88, true, _sirets(rng, n))
    noise_kinds = np.array(["", "", "", "enseigne", "commune_voisine", "enseigne|commune_voisine", "mairie", "interim"])
    truth = pd.DataFrame(
        {
            "CABBI": pd.arrays.ArrowStringArray(cabbi.cast(pa.large_string())),
            "SIRET_DEC": pd.Series(pd.arrays.ArrowStringArray(_padded(true, 14).cast(pa.large_string()))).where(codable),
            "SIRETC": pd.Series(pd.arrays.ArrowStringArray(_padded(mca, 14).cast(pa.large_string()))).where(mca_coded),
            "TYPCOL": pd.array(rng.integers(0, 2, n), dtype="Int8"),
            "NOISE": pd.array(noise_kinds[rng.integers(0, len(noise_kinds), n)], dtype="string"),
        }
    )
    # The team codes about 70 % of bulletins, right on about 85 % of those, in shuffled order.
    coded = rng.random(n) < 0.70
    guess = np.where(rng.random(n) < 0.85, true, _sirets(rng, n))
    siret = pd.Series(pd.arrays.ArrowStringArray(_padded(guess, 14).cast(pa.large_string()))).where(coded)
    order = rng.permutation(n)
    submission = pd.DataFrame(
        {
            "CABBI": truth["CABBI"].to_numpy()[order],
            "siret": siret.to_numpy()[order],
            "score": np.round(rng.random(n), 4)[order],
        }
    )
    return truth, submission


def peak_memory(what: str, directory: Path) -> dict:
    """In this (child) process: load the truth, then do ``what`` once; the peak resident memory."""
    from datathon.errors import UserError
    from datathon.leaderboard import service

    truth = pd.read_parquet(directory / "truth.parquet")
    before = _high_water_mib()
    start = time.perf_counter()
    outcome = "scored"
    if what == "refused":
        try:
            read_submission(directory / "attack.csv", known_cabbi=truth["CABBI"])
            outcome = "accepted"
        except UserError as err:
            outcome = f"refused: {err.message}"
    elif what == "leaderboard":
        sub = read_submission(directory / "submission.csv", known_cabbi=truth["CABBI"])
        service._score_parts(sub, truth, service.Register(None, None))
    else:
        score(read_submission(directory / "submission.csv", known_cabbi=truth["CABBI"]), truth.drop(columns="PUBLIC"))
    return {"peak_rss_mib": _high_water_mib(), "after_loading_truth_mib": before,
            "seconds": round(time.perf_counter() - start, 2), "outcome": outcome}  # fmt: skip


def _high_water_mib() -> int:
    """This process's peak resident memory (MiB). Linux's ``VmHWM``, not ``ru_maxrss``: a child's
    ``ru_maxrss`` starts at its parent's size (exec keeps the old high-water mark), and this
    benchmark's parent holds the 1.7 M-row frames when it starts the children."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # elsewhere: KiB on Linux, bytes on macOS


def _measure_in_child(what: str, directory: Path) -> dict:
    """:func:`peak_memory` in a fresh interpreter, so that nothing this process holds counts."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_score", "--peak-memory", what, str(directory)],
                         check=True, capture_output=True, text=True)  # fmt: skip
    return json.loads(out.stdout)


def _write_attack(path: Path) -> None:
    """Issue 12's file: a header, then 66 M one-character lines, just under the 200 MB limit."""
    with open(path, "wb") as fh:
        fh.write(b"CABBI;siret\n")
        blocks, rest = divmod(ATTACK_LINES, 1 << 20)
        for _ in range(blocks):
            fh.write(b"x\r\n" * (1 << 20))  # CRLF: 3 bytes a line, 198 MB as in the issue
        fh.write(b"x\r\n" * rest)


def main() -> dict:
    truth, submission = build()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "submission.csv"
        # A blank siret (not coded) is written as an empty field, as teams write it.
        submission.to_csv(path, sep=";", index=False, na_rep="")
        size = path.stat().st_size
        truth.assign(PUBLIC=np.random.default_rng(SEED).random(len(truth)) < 0.5).to_parquet(Path(tmp) / "truth.parquet")
        _write_attack(Path(tmp) / "attack.csv")
        memory = {what: _measure_in_child(what, Path(tmp)) for what in ("evaluate", "leaderboard", "refused")}
        # Other jobs on the machine slow every run down: record how busy it was.
        load_before = os.getloadavg()[0]
        runs, reads, scores, cpu = [], [], [], []
        for _ in range(RUNS):
            cpu_start = time.process_time()
            start = time.perf_counter()
            sub = read_submission(path, known_cabbi=truth["CABBI"])
            middle = time.perf_counter()
            metrics = score(sub, truth)
            end = time.perf_counter()
            cpu.append(time.process_time() - cpu_start)
            reads.append(middle - start)
            scores.append(end - middle)
            runs.append(end - start)
            del sub  # free it before the next run reads the file again
    seconds = statistics.median(runs)
    result = {
        "what": "read_submission (CSV, all checks, known_cabbi) + score, 1.7 M shuffled lines vs 1.7 M truths",
        "bulletins": N_BULLETINS,
        "submission_bytes": size,
        "seconds": round(seconds, 3),
        "runs": [round(r, 3) for r in runs],
        "best_seconds": round(min(runs), 3),
        # CPU time of this process (all its threads): what the work costs, however busy the machine.
        "cpu_seconds": round(statistics.median(cpu), 3),
        "read_submission_seconds": round(statistics.median(reads), 3),
        "score_seconds": round(statistics.median(scores), 3),
        "target_seconds": TARGET_SECONDS,
        "within_target": seconds <= TARGET_SECONDS,
        "success_rate": round(metrics["success_rate"], 4),
        # Peak resident memory of one run in a child process (interpreter, pandas and truth included).
        "peak_rss_mib": {what: m["peak_rss_mib"] for what, m in memory.items()},
        "peak_rss_after_loading_truth_mib": memory["evaluate"]["after_loading_truth_mib"],
        "peak_rss_target_mib": TARGET_PEAK_MIB,
        "within_memory_target": all(m["peak_rss_mib"] <= TARGET_PEAK_MIB for m in memory.values()),
        "refused_file": f"{ATTACK_LINES:,} one-character lines: {memory['refused']['outcome']} "
                        f"in {memory['refused']['seconds']} s",
        "versions": {"pandas": pd.__version__, "numpy": np.__version__, "pyarrow": pa.__version__},
        "load_average_1min_before": round(load_before, 2),
    }
    path = write_result("score", result)  # adds the machine and the date, rebuilds report.md
    machine = json.loads(path.read_text(encoding="utf-8"))["machine"]
    print(
        f"score: {seconds:.2f} s (median of {RUNS}; read+check {result['read_submission_seconds']:.2f} s, "
        f"score {result['score_seconds']:.2f} s; {result['cpu_seconds']:.2f} s of CPU) for {N_BULLETINS:,} lines, "
        f"target ≤ {TARGET_SECONDS:.0f} s, on {machine['nproc']} × {machine['cpu']} "
        f"(load average {load_before:.1f}) -> {path}"
    )
    print("peak memory: " + ", ".join(f"{what} {mib:,} MiB" for what, mib in result["peak_rss_mib"].items())
          + f" (target ≤ {TARGET_PEAK_MIB:,} MiB); {result['refused_file']}")  # fmt: skip
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["--peak-memory"]:
        print(json.dumps(peak_memory(sys.argv[2], Path(sys.argv[3]))))
    else:
        main()
