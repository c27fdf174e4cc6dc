"""Auto-grade every collected submission of an assignment in parallel, with nbgrader's own autograder.

``nbgrader autograde ASSIGNMENT`` grades one student after another, and its SQLite gradebook is not
safe for concurrent writers (nbgrader issue #174), so two ``nbgrader autograde --student X``
processes on one course may fail with ``database is locked`` or lose updates. :func:`grade` (what
``datathon grade`` calls) gets the same final state as that sequential run, in less time:

1. The lead process reads the course configuration as nbgrader does (``nbgrader_config.py`` in the
   course root, loaded with the course root as working directory), checks the assignment is in the
   gradebook and lists the collected submissions (``submitted/<student>/<assignment>/*.ipynb``). It
   decides which to grade exactly as nbgrader's ``init_destination`` does: a submission without an
   ``autograded/`` copy, every one with ``force``, one collected again since it was graded (its
   ``timestamp.txt`` is newer); excluded students (``CourseDirectory.student_id_exclude``) never.
2. It takes a consistent snapshot of the gradebook (SQLite's backup API). Each student is then
   graded in a worker process, by nbgrader's ``Autograde`` converter with the course's own
   configuration, against a **private copy** of that snapshot (``CourseDirectory.db_url``) and a
   **private staging tree** (``CourseDirectory.autograded_directory``). The staging tree sits
   beside ``autograded/`` in the course root, so a notebook runs at the same depth and relative
   paths such as ``../../../data`` resolve as in a sequential run, and the final move is a rename
   on the same file system. No two processes ever write the same database or directory.
3. When every student is done, the lead merges what each worker wrote into the course gradebook
   in student order (the order of the sequential run, which fixes the order in which new students
   enter it), **in one SQLite transaction**: the course and student rows autograde creates, the
   submission (created with its notebooks, grades and comments, or its ``timestamp`` updated), and
   per cell exactly the columns autograde writes (``auto_score``, ``needs_manual_grade``,
   ``auto_comment``, the notebook's ``late_submission_penalty``). Manual grades, extra credit,
   manual comments, flags and extensions are left as they are in the course gradebook. If the
   assignment's cells changed in the gradebook meanwhile (``generate_assignment`` ran again), nothing
   is written. Then each autograded directory is moved into place atomically
   (:func:`datathon.files.replace_directory`); a failed student's is removed, as nbgrader does.

A student whose notebook fails (a syntax error, an exception, a cell over the time limit) is graded
like any other: nbgrader records the failing cells at zero and goes on. A submission nbgrader
cannot grade at all (a notebook that is not JSON, a kernel that dies) counts as *failed*, as in
nbgrader, without stopping the others; it is tried once more first, since a kernel can also fail
to start for a passing reason (two kernels picking the same free port at once). A worker process
that dies is a failed student too. An interrupted run (Ctrl-C) writes nothing: the gradebook and
``autograded/`` stay as they were.

Workers are forked from a fork server that has imported nbgrader once (importing it costs ~3 s),
so a student costs what nbgrader's converter costs: a kernel start and the notebook's own run. As
with any use of multiprocessing's fork server, a script that calls :func:`grade` must do so under
``if __name__ == "__main__":`` (each worker imports the main module). Grades reach the gradebook
only when every student is done: a run stopped half-way keeps nothing, and the next one starts over.
"""
from __future__ import annotations

import glob
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

from datathon import bands, sandbox
from datathon.challenges import get as get_challenge
from datathon.errors import UserError
from datathon.files import remove_tree, replace_directory

DEFAULT_JOBS = 2
#: The course root when ``--course`` is not given and the working directory holds no nbgrader_config.py.
DEFAULT_COURSE = "grader"
CONFIG_FILE = "nbgrader_config.py"
#: A failed student is graded once more before it counts as failed (see the module docstring).
RETRIES = 1

#: What nbgrader's autograde writes in each table (converters/autograde.py and the SaveAutoGrades and
#: AssignLatePenalties preprocessors): only these columns are copied onto existing rows.
AUTOGRADE_COLUMNS = {
    "submitted_assignment": ("timestamp",),
    "submitted_notebook": ("late_submission_penalty",),
    "grade": ("auto_score", "needs_manual_grade"),
    "comment": ("auto_comment",),
}


@dataclass
class StudentResult:
    """What happened to one student's submission."""

    student: str
    status: str  # "graded", "failed" or "skipped"
    reason: str = ""  # why it was skipped, or why it failed (one line)
    score: float | None = None  # after the late penalty, as `nbgrader export` computes it
    max_score: float | None = None
    seconds: float = 0.0
    attempts: int = 0
    #: locked cells the student changed, which nbgrader put back before grading (a cheating attempt, or an accident)
    edited_cells: list[str] = field(default_factory=list)
    #: performance cells scored by the grader outside the notebook: grade_id -> one line (metrics and points)
    performance: dict[str, str] = field(default_factory=dict)
    leftovers: int = 0  # processes the notebook left running, killed before the merge
    warnings: list[str] = field(default_factory=list)  # nbgrader's other WARNING/ERROR lines for this student
    log: str = ""  # nbgrader's whole log for this student

    @property
    def ok(self) -> bool:
        return self.status != "failed"


@dataclass
class GradeRun:
    assignment: str
    course: Path
    jobs: int
    results: list[StudentResult] = field(default_factory=list)
    seconds: float = 0.0
    sandboxed: bool = True
    data: Path | None = None  # where the public data and the truth of performance cells came from

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failures(self) -> list[StudentResult]:
        return [r for r in self.results if r.status == "failed"]

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)


# --------------------------------------------------------------------------------------------
# Arguments and the course
# --------------------------------------------------------------------------------------------


def parse_jobs(value) -> int:
    """``--jobs``: a whole number of worker processes, at least 1 (an int, or its digits as text)."""
    whole = isinstance(value, int) and not isinstance(value, bool)
    if not (whole or isinstance(value, str) and re.fullmatch(r"\s*\+?\d+\s*", value)) or int(value) < 1:
        raise UserError(f"--jobs must be a whole number of processes, at least 1 (got {value!r})")
    return int(value)


def default_course_dir(challenge: str | None = None) -> Path:
    """The working directory when it holds nbgrader_config.py (as nbgrader assumes), else the
    challenge's course root in the checkout, ``grader/<challenge>`` (Sirene's by default)."""
    if Path(CONFIG_FILE).is_file():
        return Path(".")
    from datathon.challenges import DEFAULT

    return Path(DEFAULT_COURSE) / (challenge or DEFAULT)


@dataclass
class Course:
    """The configuration of an nbgrader course, as ``nbgrader autograde`` run in its root reads it."""

    directory: Path  # where nbgrader_config.py is (the working directory of every nbgrader run)
    coursedir: object  # nbgrader's CourseDirectory, configured
    db_path: Path

    @property
    def root(self) -> Path:
        return Path(self.coursedir.root)

    def path(self, step: str, student: str, assignment: str) -> Path:
        return Path(self.coursedir.format_path(step, student, assignment))

    def submitted(self, student: str, assignment: str) -> Path:
        return self.path(self.coursedir.submitted_directory, student, assignment)

    def autograded(self, student: str, assignment: str) -> Path:
        return self.path(self.coursedir.autograded_directory, student, assignment)


def find_course(directory: str | Path | None = None, challenge: str | None = None) -> Path:
    """The course root (absolute); :class:`UserError` when it holds no nbgrader_config.py."""
    directory = Path(directory) if directory is not None else default_course_dir(challenge)
    if not (directory / CONFIG_FILE).is_file():
        where = "no such directory" if not directory.is_dir() else f"no {CONFIG_FILE} in it"
        raise UserError(f"no nbgrader course at {directory} ({where}): give the course root, the directory "
                        f"holding {CONFIG_FILE}, with --course")
    return directory.resolve()


def load_course(directory: str | Path | None = None) -> Course:
    """Read a course's nbgrader configuration; :class:`UserError` when there is no course there."""
    directory = find_course(directory)
    coursedir = _nbgrader_coursedir(directory)
    db_path = _sqlite_path(coursedir.db_url, directory)
    return Course(directory=directory, coursedir=coursedir, db_path=db_path)


def _nbgrader_coursedir(directory: Path):
    """nbgrader's CourseDirectory for the course, configured exactly as ``nbgrader autograde`` would be.

    nbgrader reads nbgrader_config.py from the working directory (and Jupyter's config path), so
    the configuration is read with the course root as working directory, which is then restored.
    """
    from nbgrader.apps.autogradeapp import AutogradeApp

    cwd, path = os.getcwd(), list(sys.path)
    os.chdir(directory)
    try:
        app = AutogradeApp()
        app.initialize([])
        return app.coursedir
    except SystemExit:  # traitlets exits on a configuration it cannot read
        raise UserError(f"nbgrader cannot read the configuration of the course at {directory}") from None
    finally:
        os.chdir(cwd)
        sys.path[:] = path  # nbgrader puts the working directory first on sys.path


def _sqlite_path(db_url: str, directory: Path) -> Path:
    from sqlalchemy.engine import make_url

    try:
        url = make_url(db_url)
    except Exception:  # noqa: BLE001 - sqlalchemy raises several kinds
        raise UserError(f"the course's gradebook URL {db_url!r} is not a database URL") from None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise UserError(f"datathon grade needs a SQLite gradebook file; the course's is {db_url!r} "
                        f"(grade it with `nbgrader autograde` instead)")
    return (directory / url.database).resolve()


def _known_assignments(db_path: Path) -> list[str]:
    if not db_path.is_file():
        return []
    try:
        con = _connect(db_path, readonly=True)
        try:
            return [r[0] for r in con.execute("SELECT name FROM assignment ORDER BY name")]
        finally:
            con.close()
    except sqlite3.Error as err:
        raise UserError(f"cannot read the gradebook {db_path}: {err}") from None


def collected_students(course: Course, assignment: str) -> list[str]:
    """Students with a collected submission of ``assignment`` (a notebook in submitted/), in nbgrader's order.

    nbgrader autograde goes through ``submitted/*/<assignment>`` sorted by path and skips a
    directory without a notebook; so does this.
    """
    cd = course.coursedir
    pattern = cd.format_path(cd.submitted_directory, "*", glob.escape(assignment))
    regexp = re.compile(cd.format_path(cd.submitted_directory, "(?P<student_id>.*)", re.escape(assignment),
                                       escape=True) + "$")
    students = []
    for path in sorted(glob.glob(pattern)):
        match = regexp.match(path)
        if match and os.path.isdir(path) and glob.glob(os.path.join(path, cd.notebook_id + ".ipynb")):
            students.append(match.group("student_id"))
    return students


def _decide(course: Course, assignment: str, student: str, force: bool) -> str:
    """'' to grade this submission, else why not: nbgrader's ``BaseConverter.init_destination``."""
    cd = course.coursedir
    if cd.student_id_exclude and student in cd.student_id_exclude.split(","):
        return "excluded by CourseDirectory.student_id_exclude"
    dest = course.autograded(student, assignment)
    if not dest.exists() or force:
        return ""
    new = cd.get_existing_timestamp(str(course.submitted(student, assignment)))
    old = cd.get_existing_timestamp(str(dest))
    if new is not None and old is not None and new > old:
        return ""
    return "already autograded (--force grades it again)"


# --------------------------------------------------------------------------------------------
# Grading
# --------------------------------------------------------------------------------------------


def grade(
    assignment: str,
    *,
    course: str | Path | None = None,
    jobs: int = DEFAULT_JOBS,
    students: Sequence[str] | None = None,
    force: bool = False,
    progress: bool = True,
    data: str | Path | None = None,
    trusted: bool = False,
    limits: sandbox.Limits | None = None,
    challenge: str | None = None,
) -> GradeRun:
    """Autograde the collected submissions of ``assignment`` with ``jobs`` worker processes.

    ``course`` is the course root (the directory holding nbgrader_config.py; default: the working
    directory if it holds one, else ``grader/<challenge>``, where ``challenge`` is the one of
    ``datathon.challenges.resolve``); ``students`` limits grading to those students;
    ``force`` grades again submissions already autograded. ``data`` is the event's data directory,
    truth included: notebooks see only its public files, and performance cells are scored on its
    truth (default: the public sample, for practice). Each notebook runs in a :mod:`datathon.sandbox`
    box under ``limits``; ``trusted=True`` runs them as this user instead (only for notebooks you
    wrote). Raises :class:`UserError` for bad arguments or a machine that cannot sandbox (then
    nothing is written); a submission that cannot be graded does not raise: it is ``failed`` in the
    result (see the module docstring for the whole design).
    """
    jobs = parse_jobs(jobs)
    from datathon.challenges import resolve

    challenge = resolve(challenge, data=data).name
    data_dir = _grading_data(data, challenge)
    # nbgrader migrates a gradebook by running the `alembic` script, found on PATH: make it the one
    # beside this Python (the venv's bin/, which `make` does not put on PATH).
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    if not isinstance(assignment, str) or not assignment.strip() or any(c in assignment for c in "/\\*?["):
        raise UserError(f"invalid assignment name {assignment!r}")
    course_dir = find_course(course, challenge)
    _start_fork_server()  # it imports nbgrader while this process does the same
    course_ = load_course(course_dir)
    known = _known_assignments(course_.db_path)
    if assignment not in known:
        hint = f"known: {', '.join(known)}" if known else "the gradebook has none"
        raise UserError(f"unknown assignment {assignment!r} in {course_.db_path} ({hint}); "
                        f"run `nbgrader generate_assignment {assignment}` in {course_.directory} first")
    collected = collected_students(course_, assignment)
    if not collected:
        where = course_.path(course_.coursedir.submitted_directory, "*", assignment)
        raise UserError(f"nothing collected for {assignment!r}: no notebook in {where} "
                        f"(run `nbgrader collect {assignment}` first)")
    if students:
        missing = [s for s in students if s not in collected]
        if missing:
            raise UserError(f"no collected submission of {assignment!r} by {', '.join(map(repr, missing))} "
                            f"(collected: {', '.join(collected)})")
        collected = [s for s in collected if s in set(students)]
    if not trusted:  # after the arguments: a mistyped assignment is the first thing to hear about
        sandbox.require(jobs)

    run = GradeRun(assignment=assignment, course=course_.directory, jobs=jobs, sandboxed=not trusted, data=data_dir)
    start = time.perf_counter()
    reasons = {s: _decide(course_, assignment, s, force) for s in collected}
    to_grade = [s for s in collected if not reasons[s]]
    outcomes = {}
    if to_grade:
        with (nullcontext([]) if trusted else sandbox.reserved(jobs)) as accounts:
            outcomes = _grade_students(course_, assignment, to_grade, jobs=jobs, progress=progress,
                                       accounts=accounts, data=data_dir, limits=limits or sandbox.Limits(),
                                       challenge=challenge)
    scores = _scores(course_, assignment, to_grade) if to_grade else {}
    released = _released_checksums(course_, assignment)
    for s in collected:
        if reasons[s]:
            run.results.append(StudentResult(s, "skipped", reason=reasons[s]))
            continue
        result = outcomes[s]
        result.score, result.max_score = scores.get(s, (None, None))
        _sort_warnings(result, released)
        run.results.append(result)
    run.seconds = time.perf_counter() - start
    return run


def _grade_students(course: Course, assignment: str, students: list[str], *, jobs: int, progress: bool,
                    accounts: list[sandbox.Account], data: Path, limits: sandbox.Limits,
                    challenge: str | None = None) -> dict[str, StudentResult]:
    """Grade in workers (sandboxed), score performance cells, merge in one transaction, move the outputs into place."""
    from datathon.event import bundle

    cd = course.coursedir
    step = cd.autograded_directory
    step_parent = Path(course.root, step).parent  # where autograded/ is (os.path.join keeps an absolute step)
    step_parent.mkdir(parents=True, exist_ok=True)
    staging_dir = Path(tempfile.mkdtemp(prefix=f".{Path(step).name}-datathon-", dir=step_parent))
    staging = str(staging_dir) if os.path.isabs(step) else os.path.relpath(staging_dir, course.root)
    work = Path(tempfile.mkdtemp(prefix="datathon-grade-"))
    boxes = Path(tempfile.mkdtemp(prefix="datathon-sandbox-"))  # root's, 0700: each box is bound in by path
    try:
        public = boxes / sandbox.DATA_DIR
        bundle(data, public)  # what students may see of the event's data: never its truth
        _readable_by_all(public)
        snapshot = work / "snapshot.db"
        _backup(course.db_path, snapshot)
        structure = _structure(snapshot, assignment)
        tasks = []
        for i, student in enumerate(students):
            private = work / f"{i:05d}"
            private.mkdir()
            tasks.append({
                "student": student, "assignment": assignment, "work": str(private),
                "db": str(private / "gradebook.db"), "snapshot": str(snapshot), "staging": staging,
                "cwd": str(course.directory), "env": dict(os.environ),
                "staged": str(course.path(staging, student, assignment)),
                "submitted": str(course.submitted(student, assignment)),
                "box": str(boxes / f"{i:05d}"), "data": str(public), "limits": asdict(limits), "challenge": challenge,
            })
        results = _run_workers(tasks, jobs=jobs, progress=progress, desc=f"grading {assignment}", accounts=accounts)
        for account in accounts:  # belt and braces: each worker killed its own box's leftovers already
            sandbox.kill_leftovers(account)
        performance = bands.performance_cells(assignment)
        if performance:
            truths = {p.split: get_challenge(p.challenge).load_truth(data, p.split) for p in performance}
            for task in tasks:
                if results[task["student"]].status == "graded":
                    results[task["student"]].performance = _score_performance(task, performance, truths)
        _merge(course.db_path, assignment, structure,
               [(t["student"], Path(t["db"])) for t in tasks if Path(t["db"]).exists()])
        for task in tasks:
            student = task["student"]
            dest, staged = course.autograded(student, assignment), Path(task["staged"])
            if results[student].status == "graded" and staged.is_dir():
                dest.parent.mkdir(parents=True, exist_ok=True)
                replace_directory(staged, dest)
            elif results[student].status == "failed":
                remove_tree(dest)  # nbgrader removes the autograded copy of a submission it failed to grade...
                if staged.parent.is_dir():  # ...and leaves the student's directory it had made
                    dest.parent.mkdir(parents=True, exist_ok=True)
        return results
    finally:
        remove_tree(staging_dir)
        remove_tree(work)
        remove_tree(boxes)


def _grading_data(data: str | Path | None, challenge: str | None = None) -> Path:
    """The event's data directory (truth included), or the challenge's public sample when none is given."""
    from datathon.challenges import DEFAULT
    from datathon.course import find_data_dir, sample_dir

    if data is None:
        sample = sample_dir(challenge or DEFAULT)
        found = find_data_dir(sample)
        if found is None:
            raise UserError(f"no data to grade with: give the event's data directory with --data "
                            f"(the public sample {sample}/ was not found either)")
        return Path(found).resolve()
    path = Path(data)
    if not path.is_dir():
        raise UserError(f"--data {data}: no such directory (give the event's data directory, truth included)")
    return path.resolve()


def _readable_by_all(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def _score_performance(task: dict, performance: list[bands.Performance], truths: dict) -> dict[str, str]:
    """Score what each performance cell handed in against the truth, outside the notebook.

    Writes the points into the student's private gradebook (merged with the rest) and replaces the
    cell's output in the autograded notebook by one line: the metrics and the points, never a truth
    row. A cell that failed, or handed nothing in, scores 0 and says why.
    """
    import nbformat
    from nbgrader.api import Gradebook

    lines: dict[str, str] = {}
    notebooks = sorted(Path(task["staged"]).glob("*.ipynb"))
    for perf in performance:
        for path in notebooks:
            if path.is_symlink():  # nbgrader writes the notebooks it graded: a link is none of them
                continue
            nb = nbformat.read(path, as_version=4)
            cell = next((c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == perf.cell),
                        None)
            if cell is None:
                continue
            points, line = _performance_points(task, perf, truths[perf.split], cell)
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=line + "\n")]
            mode = path.stat().st_mode
            path.chmod(0o644)  # nbgrader leaves it read-only
            nbformat.write(nb, path)
            path.chmod(mode & 0o7777)
            with Gradebook(f"sqlite:///{task['db']}") as gb:
                grade = gb.find_grade(perf.cell, path.stem, task["assignment"], task["student"])
                grade.auto_score = points
                grade.needs_manual_grade = False
                gb.db.commit()
            lines[perf.cell] = line
            break
    return lines


def _performance_points(task: dict, perf: bands.Performance, truth, cell) -> tuple[float, str]:
    if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
        return 0.0, f"Performance: 0 of {perf.max_points:g} points — the cell failed before handing a submission in."
    handed_in = Path(task["box"]) / sandbox.HANDIN_DIR / perf.file_name
    if not os.path.lexists(handed_in):
        return 0.0, f"Performance: 0 of {perf.max_points:g} points — no submission was handed in."
    challenge = get_challenge(perf.challenge)
    try:  # the scorer's own reader: a regular file only (never through a link), bounded, checked
        submission = challenge.read_submission(handed_in, known_ids=truth[challenge.schema.id_column])
    except UserError as err:
        why = err.message.replace(str(handed_in), perf.file_name)
        return 0.0, f"Performance: 0 of {perf.max_points:g} points — the submission handed in is not valid: {why}"
    earned = bands.award_on_truth(submission, truth, perf)
    return earned.points, (f"Performance, graded outside the notebook on the hidden truth: {earned} — "
                           f"{earned.points:g} of {perf.max_points:g} points.")


def _run_workers(tasks: list[dict], *, jobs: int, progress: bool, desc: str,
                 accounts: Sequence[sandbox.Account] = ()) -> dict[str, StudentResult]:
    """Run one worker process per task, ``jobs`` at a time; each failure is tried again RETRIES times.

    With ``accounts``, each running task has a sandbox account of its own (``jobs`` accounts at most).
    """
    from tqdm.auto import tqdm

    ctx = _context()
    pending = [(task, 1) for task in tasks]
    running: dict[int, tuple] = {}
    results: dict[str, StudentResult] = {}
    with tqdm(total=len(tasks), desc=desc, unit="student", disable=not progress, leave=True) as bar:
        try:
            while pending or running:
                while pending and len(running) < jobs:
                    task, attempt = pending.pop(0)
                    busy = {t["account"]["slot"] for _, t, *_ in running.values() if t.get("account")}
                    free = [a for a in accounts if a.slot not in busy]
                    task["account"] = asdict(free[0]) if accounts else None
                    _reset(task)
                    proc = ctx.Process(target=_worker, args=(task,), name=f"datathon-grade-{task['student']}",
                                       daemon=False)
                    proc.start()
                    running[proc.sentinel] = (proc, task, attempt, time.perf_counter())
                for sentinel in multiprocessing.connection.wait(list(running)):
                    proc, task, attempt, started = running.pop(sentinel)
                    proc.join()
                    result = _read_result(task, proc.exitcode, time.perf_counter() - started, attempt)
                    if result.status == "failed" and attempt <= RETRIES:
                        pending.insert(0, (task, attempt + 1))
                        continue
                    results[task["student"]] = result
                    bar.set_postfix_str(f"{task['student']} {result.status}")
                    bar.update()
        except BaseException:
            # Interrupted: a worker that gets SIGINT shuts its kernel down (nbclient's cleanup) and ends;
            # one that does not within 10 s is killed. Nothing is merged, nothing moved.
            for proc, *_ in running.values():
                if proc.is_alive():
                    os.kill(proc.pid, signal.SIGINT)
            deadline = time.monotonic() + 10
            for proc, *_ in running.values():
                proc.join(max(0.0, deadline - time.monotonic()))
                if proc.is_alive():
                    proc.kill()
                    proc.join()
            raise
    return results


def _context():
    """Worker processes forked from a server that has imported nbgrader (never a fork of this process,
    which may hold threads: the progress bar's, a web server's)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["datathon.grading", "nbgrader.apps.autogradeapp", "nbgrader.converters",
                                "nbgrader.preprocessors", "nbgrader.api", "nbclient", "jupyter_client"])
    return ctx


def _reset(task: dict) -> None:
    """A fresh private gradebook (a copy of the snapshot) and no staged output: attempts start equal."""
    work = Path(task["work"])
    for name in ("result.json", "worker.log", "gradebook.db", "gradebook.db-journal"):
        (work / name).unlink(missing_ok=True)
    remove_tree(Path(task["staged"]))
    shutil.copyfile(task["snapshot"], task["db"])


def _read_result(task: dict, exitcode: int | None, seconds: float, attempt: int) -> StudentResult:
    work = Path(task["work"])
    log_file = work / "worker.log"
    worker_log = log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else ""
    try:
        raw = json.loads((work / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        tail = _last_line(worker_log) or "no output"
        return StudentResult(task["student"], "failed", reason=f"the worker process died (exit code {exitcode}): "
                             f"{tail}", seconds=round(seconds, 2), attempts=attempt, log=worker_log)
    log = raw.get("log") or ""
    warnings = [m.group(1) for m in re.finditer(r"^\[(?:WARNING|ERROR|CRITICAL)\] (.*)$", log, re.M)]
    if raw.get("success"):
        return StudentResult(task["student"], "graded", seconds=round(seconds, 2), attempts=attempt,
                             warnings=warnings, log=log, leftovers=int(raw.get("leftovers") or 0))
    return StudentResult(task["student"], "failed", reason=_failure_reason(log, raw.get("error") or ""),
                         seconds=round(seconds, 2), attempts=attempt, warnings=warnings, log=log)


def _failure_reason(log: str, error: str) -> str:
    """The exception nbgrader logged for a submission it could not grade, in one line."""
    for text in (log, error):
        for block in re.split(r"^\[[A-Z]+\] Traceback \(most recent call last\):$", text, flags=re.M)[1:]:
            lines = [ln for ln in block.splitlines() if ln.strip() and not ln.startswith((" ", "\t"))]
            if lines:
                return _clip(re.sub(r"^\[[A-Z]+\] ", "", lines[0]))
    return _clip(_last_line(error) or "nbgrader could not grade it")


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _clip(text: str, width: int = 300) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _worker(task: dict) -> None:
    """Autograde one student, in a worker process: nbgrader's converter, the course's configuration,
    a private gradebook and a private staging tree. Writes ``result.json`` in the task's directory."""
    work = Path(task["work"])
    fd = os.open(work / "worker.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)  # nbgrader's log and the kernels' stderr go to the log file, not over the progress bar
    os.close(fd)
    os.environ.clear()
    os.environ.update(task["env"])  # the fork server's environment may be older than this run's
    os.chdir(task["cwd"])
    start = time.perf_counter()
    account = sandbox.Account(**task["account"]) if task.get("account") else None
    try:
        result = _autograde(task, account)
    except BaseException:  # noqa: BLE001 - every failure is reported, none escapes the worker
        result = {"success": False, "error": traceback.format_exc()}
    finally:
        if account is not None:  # nothing the notebook started may outlive its grading
            result_leftovers = sandbox.kill_leftovers(account)
        else:
            result_leftovers = 0
    result["leftovers"] = result_leftovers
    result["seconds"] = round(time.perf_counter() - start, 3)
    tmp = work / "result.json.tmp"
    tmp.write_text(json.dumps(result), encoding="utf-8")
    os.replace(tmp, work / "result.json")


def _autograde(task: dict, account: sandbox.Account | None) -> dict:
    from nbgrader.apps.autogradeapp import AutogradeApp
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute
    from nbgrader.utils import capture_log

    from datathon.grading_sandbox import SandboxedExecute, SandboxKernelManager

    box = sandbox.Box(account, Path(task["box"]), data=Path(task["data"]), limits=sandbox.Limits(**task["limits"]),
                      challenge=task.get("challenge"))
    box.prepare(files_from=Path(task["submitted"]))
    if account is not None:
        SandboxKernelManager.box = box
    else:  # trusted: the kernel is this process's child, with its environment; same data, same hand-in folder
        os.environ[sandbox.DATA_VARIABLE] = str(box.directory / sandbox.DATA_DIR)
        os.environ[sandbox.HANDIN_VARIABLE] = str(box.handin)
        if box.challenge is not None:
            os.environ[sandbox.CHALLENGE_VARIABLE] = box.challenge
        os.rmdir(box.directory / sandbox.DATA_DIR)
        os.symlink(task["data"], box.directory / sandbox.DATA_DIR)

    app = AutogradeApp()
    app.initialize([])  # reads nbgrader_config.py from the course root, as `nbgrader autograde` does
    cd = app.coursedir
    cd.assignment_id = task["assignment"]
    cd.student_id = glob.escape(task["student"])  # nbgrader globs it
    cd.db_url = f"sqlite:///{task['db']}"
    cd.autograded_directory = task["staging"]
    converter = Autograde(coursedir=cd, parent=app)
    converter.autograde_preprocessors = [SandboxedExecute if p is Execute else p
                                         for p in converter.autograde_preprocessors]
    return capture_log(converter)


# --------------------------------------------------------------------------------------------
# The gradebook
# --------------------------------------------------------------------------------------------


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    else:
        con = sqlite3.connect(path, timeout=60, isolation_level=None)
    con.row_factory = sqlite3.Row
    return con


def _backup(source: Path, dest: Path) -> None:
    """A consistent copy of the gradebook, even while another process writes it."""
    src = sqlite3.connect(source, timeout=60)  # not read-only: SQLite may have to roll back a crashed writer's journal
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()


def _structure(db: Path | sqlite3.Connection, assignment: str) -> list[tuple]:
    """The assignment's notebooks and cells as generate_assignment recorded them (ids, points, checksums)."""
    con = _connect(db, readonly=True) if isinstance(db, Path) else db
    try:
        rows = con.execute(
            """SELECT a.id, n.id, n.name, c.id, c.name, c.type, g.max_score, t.max_score, s.checksum
               FROM assignment a
               JOIN notebook n ON n.assignment_id = a.id
               LEFT JOIN base_cell c ON c.notebook_id = n.id
               LEFT JOIN grade_cells g ON g.id = c.id
               LEFT JOIN task_cells t ON t.id = c.id
               LEFT JOIN source_cell s ON s.notebook_id = n.id AND s.name = c.name
               WHERE a.name = ?
               ORDER BY n.name, c.name, c.type""", (assignment,)).fetchall()
        return [tuple(r) for r in rows]
    finally:
        if isinstance(db, Path):
            con.close()


def _merge(db_path: Path, assignment: str, structure: list[tuple], privates: Iterable[tuple[str, Path]]) -> None:
    """Copy what autograde wrote in each private gradebook into the course's, in one transaction."""
    con = _connect(db_path)
    try:
        con.execute("BEGIN IMMEDIATE")
        try:
            if _structure(con, assignment) != structure:
                raise UserError(f"the cells of {assignment!r} changed in the gradebook while grading (did "
                                f"generate_assignment run again?); nothing was written: grade again")
            assignment_id = con.execute("SELECT id FROM assignment WHERE name = ?", (assignment,)).fetchone()[0]
            for student, private in privates:
                src = _connect(private)  # read-write: a killed worker may have left a journal to roll back
                try:
                    _merge_student(con, src, assignment_id, student)
                finally:
                    src.close()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    except sqlite3.OperationalError as err:
        raise UserError(f"cannot write the gradebook {db_path}: {err}; nothing was written", exit_code=1) from None
    finally:
        con.close()


def _row(con: sqlite3.Connection, sql: str, *args) -> dict | None:
    row = con.execute(sql, args).fetchone()
    return dict(row) if row is not None else None


def _rows(con: sqlite3.Connection, sql: str, *args) -> list[dict]:
    return [dict(r) for r in con.execute(sql, args).fetchall()]


def _insert(con: sqlite3.Connection, table: str, row: dict) -> None:
    columns = ", ".join(f'"{c}"' for c in row)
    con.execute(f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join("?" * len(row))})', tuple(row.values()))


def _update(con: sqlite3.Connection, table: str, row_id: str, source: dict) -> None:
    columns = AUTOGRADE_COLUMNS[table]
    assignments = ", ".join(f'"{c}" = ?' for c in columns)
    con.execute(f'UPDATE "{table}" SET {assignments} WHERE id = ?', (*(source[c] for c in columns), row_id))


def _merge_student(con: sqlite3.Connection, src: sqlite3.Connection, assignment_id: str, student: str) -> None:
    """One student: rows autograde created are inserted, columns it wrote are copied (by natural keys)."""
    for course in _rows(src, "SELECT * FROM course"):  # Gradebook() adds its course_id when missing
        if _row(con, "SELECT id FROM course WHERE id = ?", course["id"]) is None:
            _insert(con, "course", course)
    row = _row(src, "SELECT * FROM student WHERE id = ?", student)
    if row is not None and _row(con, "SELECT id FROM student WHERE id = ?", student) is None:
        _insert(con, "student", row)
    sub = _row(src, "SELECT * FROM submitted_assignment WHERE assignment_id = ? AND student_id = ?",
               assignment_id, student)
    if sub is None:  # the worker failed before autograde created the submission
        return
    mine = _row(con, "SELECT id FROM submitted_assignment WHERE assignment_id = ? AND student_id = ?",
                assignment_id, student)
    if mine is None:
        _insert(con, "submitted_assignment", sub)
        sub_id = sub["id"]
    else:
        sub_id = mine["id"]
        _update(con, "submitted_assignment", sub_id, sub)
    for nb in _rows(src, "SELECT * FROM submitted_notebook WHERE assignment_id = ?", sub["id"]):
        mine = _row(con, "SELECT id FROM submitted_notebook WHERE assignment_id = ? AND notebook_id = ?",
                    sub_id, nb["notebook_id"])
        if mine is None:
            _insert(con, "submitted_notebook", {**nb, "assignment_id": sub_id})
            nb_id = nb["id"]
        else:
            nb_id = mine["id"]
            _update(con, "submitted_notebook", nb_id, nb)
        for table in ("grade", "comment"):
            for cell in _rows(src, f'SELECT * FROM "{table}" WHERE notebook_id = ?', nb["id"]):
                mine = _row(con, f'SELECT id FROM "{table}" WHERE notebook_id = ? AND cell_id = ?',
                            nb_id, cell["cell_id"])
                if mine is None:
                    _insert(con, table, {**cell, "notebook_id": nb_id})
                else:
                    _update(con, table, mine["id"], cell)


def _scores(course: Course, assignment: str, students: list[str]) -> dict[str, tuple[float, float]]:
    """Each student's score (after the late penalty, as ``nbgrader export`` computes it) and the maximum."""
    from nbgrader.api import Gradebook, MissingEntry

    scores = {}
    with Gradebook(course.coursedir.db_url, course.coursedir.course_id) as gb:
        for student in students:
            try:
                sub = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            scores[student] = (max(0.0, sub.score - sub.late_submission_penalty), sub.max_score)
    return scores


_CHANGED_CHECKSUM = re.compile(r"^Attribute 'checksum' for cell (?P<cell>.+?) has changed! "
                               r"\(should be: (?P<should>\w+), got: (?P<got>\w+)\)$")


def _released_checksums(course: Course, assignment: str) -> dict[str, str]:
    """The checksum of each locked cell as students received it (release/<assignment>/*.ipynb)."""
    import nbformat

    cd = course.coursedir
    release = Path(cd.format_path(cd.release_directory, ".", assignment))
    checksums = {}
    for path in sorted(release.glob("*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001 - an unreadable release only means less precise warnings
            continue
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("locked") and meta.get("grade_id") and meta.get("checksum"):
                checksums[meta["grade_id"]] = meta["checksum"]
    return checksums


def _sort_warnings(result: StudentResult, released: dict[str, str]) -> None:
    """Tell edited locked cells from nbgrader's other warnings.

    nbgrader warns that a locked cell "has changed" for every student whose cell differs from the
    source: for hidden tests, that is every student (the release removed them). A cell differs
    from what the student *received* only if the student edited it.
    """
    others = []
    for warning in result.warnings:
        match = _CHANGED_CHECKSUM.match(warning)
        if match and match["cell"] in released:
            if match["got"] != released[match["cell"]]:
                result.edited_cells.append(match["cell"])
            continue
        others.append(warning)
    result.warnings = others


def _start_fork_server() -> None:
    """Start the workers' fork server now: its imports overlap with this process's."""
    from multiprocessing import forkserver

    _context()
    try:
        forkserver.ensure_running()
    except Exception:  # noqa: BLE001 - it is started again, or the error shown, when a worker starts
        pass


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def format_summary(run: GradeRun) -> str:
    """One line per student (score, status, seconds), then nbgrader's warnings about each."""
    graded, failed, skipped = run.count("graded"), run.count("failed"), run.count("skipped")
    head = (f"{run.assignment}: {graded} graded, {failed} failed, {skipped} skipped of {len(run.results)} "
            f"collected, in {run.seconds:.1f} s with {run.jobs} job{'s' if run.jobs > 1 else ''} ({run.course})")
    width = max([len("student")] + [len(r.student) for r in run.results])
    lines = [head, "", f"{'student':<{width}}  {'score':>13}  {'seconds':>7}  status"]
    for r in run.results:
        score = f"{_num(r.score)} / {_num(r.max_score)}" if r.score is not None else "—"
        status = r.status + (f": {r.reason}" if r.reason else "")
        if r.edited_cells:
            status += f"; edited locked cells, put back: {', '.join(r.edited_cells)}"
        seconds = f"{r.seconds:.1f}" if r.status != "skipped" else ""
        lines.append(f"{r.student:<{width}}  {score:>13}  {seconds:>7}  {status}")
    isolation = "each notebook in its sandbox" if run.sandboxed else "TRUSTED: notebooks ran as you, without a sandbox"
    lines.insert(1, f"{isolation}; data: {run.data} (notebooks saw its public files only)")
    performance = [f"  {r.student}: {line}" for r in run.results for line in r.performance.values()]
    if performance:
        lines += ["", "performance, scored outside the notebooks on the truth:"] + performance
    killed = [f"  {r.student}: {r.leftovers} process{'es' if r.leftovers > 1 else ''} left running, killed"
              for r in run.results if r.leftovers]
    if killed:
        lines += ["", "processes the notebooks left behind, killed before the merge:"] + killed
    notes = [f"  {r.student}: {w}" for r in run.results if r.status != "failed" for w in r.warnings]
    if notes:
        lines += ["", "nbgrader's warnings:"] + notes
    return "\n".join(lines)


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:g}"
