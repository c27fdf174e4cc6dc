"""Benchmark: auto-grade 60 submissions of a1_names, sequentially with ``nbgrader autograde`` and in
parallel with ``datathon grade --jobs 2``, side by side in one run.

``make bench-grade`` (or ``python -m benchmarks.bench_grade [--students 60] [--jobs 2]
[--n-bulletins N]``) builds a course in ``benchmarks/work/grade/`` laid out as the repository's
(``grader/sirene/nbgrader_config.py``, ``solutions/sirene/a1_names/``, a link to ``data_samples``), generates the
assignment with nbgrader, and writes 60 collected submissions (``submitted/<id>/a1_names/`` with a
``timestamp.txt``, as ``nbgrader collect`` leaves them) from the simulated students of
``tests/test_grading.py``, in turn: perfect, partial, broken (a syntax error), cheat (test cells
emptied); no endless loop. Two copies of the course are then graded, one after the other, each as a
subprocess whose wall time and peak resident memory (the whole process tree: kernels and workers
included) are measured:

- ``nbgrader autograde a1_names`` run in the course root (its log goes to ``work/grade/*.log``);
- ``datathon grade a1_names --jobs 2 --course ...``.

It checks that the two gradebooks are identical (every grade, comment, submission and student) and
writes the ratio to ``benchmarks/results/grade.json`` and ``benchmarks/report.md``, with the machine
and the 1-minute load average before and after each run: other work on the 2 cores slows both down.
The assignment runs as released (``n_bulletins`` = 150 in question 5) unless ``--n-bulletins``
says otherwise.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.common import run_measured, write_result

REPO = Path(__file__).resolve().parents[1]
WORK = Path(__file__).parent / "work" / "grade"
ASSIGNMENT = "a1_names"
MIX = ("perfect", "partial", "broken", "cheat")


def simulation():
    """The simulated students and the course helpers of tests/test_grading.py (one definition of each kind)."""
    spec = importlib.util.spec_from_file_location("_grading_simulation", REPO / "tests" / "test_grading.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(sim, students: int, n_bulletins: int | None) -> Path:
    """The course with ``students`` collected submissions; returns the course's top directory."""
    root = WORK / "course"
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    grader = sim.make_course(root, ASSIGNMENT, n_bulletins=n_bulletins)
    sim.nbgrader("generate_assignment", ASSIGNMENT, cwd=grader, env=sim.course_env(root))
    source_nb = sim.source_notebook(root, ASSIGNMENT)
    release = grader / "release" / ASSIGNMENT
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    for i in range(students):
        kind = MIX[i % len(MIX)]
        dest = grader / "submitted" / f"s{i:03d}-{kind}" / ASSIGNMENT
        shutil.copytree(release, dest)
        sim.simulate(kind, dest / f"{ASSIGNMENT}.ipynb", source_nb)
        (dest / "timestamp.txt").write_text(stamp, encoding="utf-8")
    return root


def measure(sim, cmd: list[str], root: Path, log: Path) -> dict:
    """Run ``cmd`` in the course root of ``root`` (its output to ``log``): wall time, peak memory, load."""
    env = {**os.environ, **sim.course_env(root), "LOG": str(log)}
    # No endless loop here: the course's own cell time limit (120 s), unless the caller set one.
    env["DATATHON_CELL_TIMEOUT"] = os.environ.get("DATATHON_CELL_TIMEOUT", "")
    before = os.getloadavg()[0]
    # nbgrader's log of 60 students would drown the terminal: each command's output goes to a file.
    m = run_measured(["sh", "-c", 'cd "$0" && exec "$@" >"$LOG" 2>&1', str(root / "grader" / "sirene"), *cmd], env=env)
    m["load_average_1min_before"] = round(before, 2)
    return m


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--n-bulletins", type=int, default=None,
                        help="bulletins ranked in question 5 (default: the assignment's own, 150)")
    args = parser.parse_args(argv)
    sim = simulation()
    source = build(sim, args.students, args.n_bulletins)
    sequential = sim.copy_course(source, WORK / "sequential")
    parallel = sim.copy_course(source, WORK / "parallel")
    bin_ = Path(sys.executable).parent

    print(f"grading {args.students} submissions of {ASSIGNMENT} with nbgrader autograde (one at a time)...", flush=True)
    seq = measure(sim, [str(bin_ / "nbgrader"), "autograde", ASSIGNMENT], sequential, WORK / "sequential.log")
    print(f"  {seq['seconds']:.1f} s; now with datathon grade --jobs {args.jobs}...", flush=True)
    from datathon import sandbox

    sandboxed = sandbox.status(args.jobs).ok  # as root with the accounts: each notebook in its sandbox
    par = measure(sim, [str(bin_ / "datathon"), "grade", ASSIGNMENT, "--jobs", str(args.jobs), "--quiet",
                        *([] if sandboxed else ["--trusted"])], parallel, WORK / "parallel.log")
    for name, m in (("nbgrader autograde", seq), ("datathon grade", par)):
        if m["returncode"] != 0:
            raise SystemExit(f"{name} failed with exit code {m['returncode']}: see {WORK}")

    same = sim.gradebook_state(sequential / "grader" / "sirene") == sim.gradebook_state(parallel / "grader" / "sirene")
    scores = sim.scores(parallel / "grader" / "sirene", ASSIGNMENT)
    by_kind = {kind: sorted(Counter(v for s, v in scores.items() if s.endswith(kind)).items()) for kind in MIX}
    ratio = seq["seconds"] / par["seconds"]
    result = {
        "what": f"autograde {args.students} collected submissions of {ASSIGNMENT} (kinds {', '.join(MIX)} in turn): "
                f"sequential `nbgrader autograde` vs `datathon grade --jobs {args.jobs}`, one after the other",
        "submissions": args.students,
        "jobs": args.jobs,
        "sandboxed": sandboxed,
        "n_bulletins": args.n_bulletins or "as released (150)",
        "sequential_seconds": seq["seconds"],
        "parallel_seconds": par["seconds"],
        "speedup": round(ratio, 2),
        "seconds_per_submission": {"sequential": round(seq["seconds"] / args.students, 2),
                                   "parallel": round(par["seconds"] / args.students, 2)},
        "peak_rss_gib": {"sequential": seq["peak_rss_gib"], "parallel": par["peak_rss_gib"]},
        "load_average_1min": {"sequential": [seq["load_average_1min_before"], seq["load_average_1min_at_end"]],
                              "parallel": [par["load_average_1min_before"], par["load_average_1min_at_end"]]},
        "identical_gradebooks": same,
        "scores_by_kind": {k: [f"{score:g} × {n}" for score, n in v] for k, v in by_kind.items()},
    }
    path = write_result("grade", result)
    print(f"grade: {args.students} submissions, nbgrader autograde {seq['seconds']:.1f} s, datathon grade --jobs "
          f"{args.jobs} {par['seconds']:.1f} s: × {ratio:.2f}; gradebooks identical: {same}; "
          f"peak {seq['peak_rss_gib']:.2f} / {par['peak_rss_gib']:.2f} GiB; load {seq['load_average_1min_before']}"
          f"→{par['load_average_1min_at_end']} -> {path}")
    if not same:
        raise SystemExit("the two gradebooks differ")
    return result


if __name__ == "__main__":
    main()
