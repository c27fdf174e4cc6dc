"""The nbgrader grading cycle (DESIGN.md §7) on the first assignment, and ``datathon grade`` (datathon/grading.py).

A temporary copy of the course, laid out as in the repository: ``grader/nbgrader_config.py`` (the
course root, the repository's configuration), ``solutions/a1_names/`` (the source) and
``data_samples`` (a link to the repository's), with its own exchange (``DATATHON_EXCHANGE``) and a
cell time limit of CELL_TIMEOUT seconds (``DATATHON_CELL_TIMEOUT``). The copy ranks
N_BULLETINS bulletins in question 5 instead of 150 (the notebook's ``n_bulletins`` parameter): the
same code, its slowest cell four times shorter. nbgrader's apps run in this process through their Python API
(as nbgrader's own tests run them), each in the directory where an instructor or a student would
type the command: importing nbgrader costs seconds, a subprocess per command would cost a minute.

Six simulated students fetch the released assignment and submit it under their own id
(``nbgrader submit --student ID``: ``CourseDirectory.student_id`` is what nbgrader's exchange files a
submission under; without it, the login name):

perfect   every answer cell filled in with the reference solution;
partial   the last question left as released (``raise NotImplementedError()``);
broken    a syntax error in the first question's answer, the rest solved;
looping   ``while True: pass`` at the top of the second-to-last question's answer, the rest solved:
          the cell time limit interrupts it, and the notebook goes on;
cheat     nothing answered, and every locked test cell replaced by ``pass`` (nbgrader puts the tests
          back: no credit);
corrupt   a notebook file cut in half (not JSON): nbgrader cannot grade it at all.

A question's tests also fail when an answer they call is missing (question 3's ``normalise`` calls
questions 1 and 2; question 5 calls question 4's functions): ``USES`` says which. Expected scores
are then sums of the test cells' points, read from the source notebook.
"""
from __future__ import annotations

import csv
import fcntl
import io
import logging
import os
import re
import shutil
import sqlite3
import sys
from contextlib import closing, contextmanager
from pathlib import Path

import nbformat
import pytest

from course_tree import course_root, sources

from datathon import cli, sandbox

#: `datathon grade` runs notebooks in its sandbox where the machine allows it (root: CI); elsewhere these tests of
#: nbgrader's cycle grade the course's own notebooks with --trusted (tests/test_grading_sandbox.py covers the sandbox).
TRUSTED = [] if sandbox.status(2).ok else ["--trusted"]

# nbgrader's add_submission trips a warning of SQLAlchemy 2 on every new submission: nbgrader's, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:Object of type <Submitted")

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "a1_names"
#: Seconds a cell may run. The slowest legitimate cell takes ~3 s (loading the sample) on a busy machine;
#: the margin is for one busier still with the rest of the suite.
CELL_TIMEOUT = 15
N_BULLETINS = 40
#: The answers each question's tests also call (a1_names: normalise() chains clean, expand and drop_words;
#: question 5 cuts names with ngrams() and ranks with jaccard()).
USES = {"q3-answer": {"q1-answer", "q2-answer"}, "q5-answer": {"q4-answer"}}

# ---------------------------------------------------------------------------------------------
# Simulated students
# ---------------------------------------------------------------------------------------------

KINDS = ("perfect", "partial", "broken", "looping", "cheat", "corrupt")
_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def solved(source: str) -> str:
    """A source answer cell as a student who found the reference solution leaves it."""
    return "\n".join(line for line in source.splitlines() if not _MARKERS.match(line))


def questions(source_nb) -> list[tuple[str, list]]:
    """(answer cell id, the test cells after it) for each question, in order."""
    out: list[tuple[str, list]] = []
    for cell in source_nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution") and cell.cell_type == "code":
            out.append((meta["grade_id"], []))
        elif meta.get("grade") and not meta.get("solution") and out:
            out[-1][1].append(cell)
    return out


def points(cells) -> float:
    return float(sum(nbgrader_meta(c).get("points", 0) for c in cells))


def spoiled_answer(kind: str, source_nb) -> set[str]:
    """The answers a kind of student gets wrong (before their consequences through USES)."""
    qs = [q for q, _ in questions(source_nb)]
    if kind == "perfect":
        return set()
    return {"partial": {qs[-1]}, "broken": {qs[0]}, "looping": {qs[-2]}, "cheat": set(qs), "corrupt": set(qs)}[kind]


def expected_score(kind: str, source_nb) -> float:
    """The exact score of a kind of student: the points of every test whose answers all work."""
    spoiled = spoiled_answer(kind, source_nb)
    return sum(points(tests) for q, tests in questions(source_nb) if not ({q} | USES.get(q, set())) & spoiled)


def simulate(kind: str, released: Path, source_nb) -> None:
    """Edit a released notebook (in place) as the student of this kind would."""
    if kind == "corrupt":
        text = released.read_text(encoding="utf-8")
        released.write_text(text[: len(text) // 2], encoding="utf-8")
        return
    nb = nbformat.read(released, as_version=4)
    reference = {nbgrader_meta(c)["grade_id"]: c.source for c in source_nb.cells if nbgrader_meta(c).get("solution")}
    spoiled = spoiled_answer(kind, source_nb)
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        if kind == "cheat":
            if meta.get("locked") and meta.get("grade"):
                cell.source = "pass"  # every test passes... until nbgrader puts the tests back
            continue  # and nothing is answered
        if meta.get("solution") and gid in reference:
            if kind == "partial" and gid in spoiled:
                continue  # left as released
            cell.source = solved(reference[gid])
            if kind == "broken" and gid in spoiled:
                cell.source = "def oops(:\n" + cell.source
            elif kind == "looping" and gid in spoiled:
                cell.source = "while True:\n    pass\n" + cell.source
    nbformat.write(nb, released)


# ---------------------------------------------------------------------------------------------
# nbgrader's apps, in this process
# ---------------------------------------------------------------------------------------------


@contextmanager
def _inside(cwd: Path, env: dict[str, str]):
    old_cwd, old_env, old_path = os.getcwd(), os.environ.copy(), list(sys.path)
    os.environ.update(env)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)
        sys.path[:] = old_path


def nbgrader(*args: str, cwd: Path, env: dict[str, str], retcode: int = 0) -> str:
    """``nbgrader ARGS`` run in ``cwd`` with ``env`` added, through nbgrader's app; returns its log."""
    from jupyter_core.application import NoStart
    from nbgrader.apps.nbgraderapp import NbGraderApp

    log = io.StringIO()
    with _inside(cwd, env):
        app = NbGraderApp.instance()
        try:
            app.initialize(list(args))
            app.init_logging(logging.StreamHandler, [log], color=False, subapps=True)
            app.start()
            code = 0
        except NoStart:  # the app's way of saying it ran its subcommand
            code = 0
        except SystemExit as exit_:
            code = exit_.code or 0
        finally:
            app.reset()
    assert code == retcode, f"nbgrader {' '.join(args)} exited {code}:\n{log.getvalue()}"
    return log.getvalue()


def course_env(root: Path) -> dict[str, str]:
    """The course's exchange and cell time limit; and this interpreter's bin/ first on PATH, where
    nbgrader looks for the ``alembic`` command when it creates a gradebook."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {"DATATHON_EXCHANGE": str(root / "exchange"), "DATATHON_CELL_TIMEOUT": str(CELL_TIMEOUT), "PATH": path}


def make_course(root: Path, assignment: str = ASSIGNMENT, n_bulletins: int | None = N_BULLETINS) -> Path:
    """``root/grader/sirene`` (the course root, the repository's config), ``root/solutions/sirene/<assignment>``,
    and ``root/data_samples``, a link to the repository's (notebooks look for it in their parents).

    ``n_bulletins`` replaces the value of the source's parameter (None: the source as it is).
    """
    grader = course_root(root)
    (root / "data_samples").symlink_to(REPO / "data_samples", target_is_directory=True)
    shutil.copytree(REPO / "solutions" / "sirene" / assignment, sources(root) / assignment,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    source = sources(root) / assignment / f"{assignment}.ipynb"
    if n_bulletins is None:
        return grader
    nb = nbformat.read(source, as_version=4)
    parameters = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert parameters and re.search(r"^n_bulletins = \d+", parameters[0].source, re.M), "the parameters cell changed"
    parameters[0].source = re.sub(r"^n_bulletins = \d+", f"n_bulletins = {n_bulletins}", parameters[0].source,
                                  flags=re.M)
    nbformat.write(nb, source)
    return grader


def source_notebook(root: Path, assignment: str = ASSIGNMENT):
    return nbformat.read(sources(root) / assignment / f"{assignment}.ipynb", as_version=4)


def student_args(root: Path, kind: str) -> list[str]:
    """What a student's own nbgrader configuration says: the course, the exchange, their cache."""
    home = root / "students" / kind
    return ["--CourseDirectory.course_id=datathon", f"--Exchange.root={root / 'exchange'}",
            f"--Exchange.cache={home / '.cache'}"]


def release_and_collect(root: Path, assignment: str = ASSIGNMENT, kinds: tuple[str, ...] = KINDS) -> None:
    """generate_assignment, release_assignment; fetch, edit and submit for each kind; collect."""
    grader, env = root / "grader" / "sirene", course_env(root)
    nbgrader("generate_assignment", assignment, cwd=grader, env=env)
    nbgrader("release_assignment", assignment, cwd=grader, env=env)
    source_nb = source_notebook(root, assignment)
    for kind in kinds:
        home = root / "students" / kind
        home.mkdir(parents=True)
        nbgrader("fetch_assignment", assignment, *student_args(root, kind), cwd=home, env=env)
        for released in sorted((home / assignment).glob("*.ipynb")):
            simulate(kind, released, source_nb)
        nbgrader("submit", assignment, f"--student={kind}", *student_args(root, kind), cwd=home, env=env)
    nbgrader("collect", assignment, "--CollectApp.check_owner=False", cwd=grader, env=env)


def release_and_collect_one(root: Path, assignment: str, kind: str) -> None:
    """The cycle of :func:`release_and_collect` with one student of ``kind``."""
    release_and_collect(root, assignment, kinds=(kind,))


def _shared_dir(tmp_path_factory) -> Path:
    """A directory every pytest-xdist worker of this run shares."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def _once(tmp_path_factory, name: str):
    """``(path, built)``: a directory built once per run, whichever worker gets there first."""
    shared = _shared_dir(tmp_path_factory)
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            target = shared / name
            yield target, (target / ".done").exists()
            (target / ".done").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def collected(tmp_path_factory) -> Path:
    """A course where the six students' submissions are collected (shared: copy it before writing)."""
    with _once(tmp_path_factory, f"collected-{ASSIGNMENT}") as (root, done):
        if not done:
            shutil.rmtree(root, ignore_errors=True)
            make_course(root)
            release_and_collect(root)
    return root


@pytest.fixture(scope="session")
def sequential(tmp_path_factory, collected) -> Path:
    """That course after a sequential ``nbgrader autograde a1_names`` (shared: copy it before writing).

    nbgrader exits 1: it could not grade the corrupt notebook (it still grades the others).
    """
    with _once(tmp_path_factory, f"sequential-{ASSIGNMENT}") as (root, done):
        if not done:
            shutil.rmtree(root, ignore_errors=True)
            copy_course(collected, root)
            nbgrader("autograde", ASSIGNMENT, cwd=root / "grader" / "sirene", env=course_env(root), retcode=1)
    return root


def copy_course(src: Path, dest: Path) -> Path:
    """A copy of a course at another place; the exchange and the config follow (paths are derived)."""
    shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns(".done"))
    return dest


# ---------------------------------------------------------------------------------------------
# Reading a gradebook
# ---------------------------------------------------------------------------------------------


def gradebook_state(grader: Path) -> dict:
    """Everything autograde records, keyed by names (row ids are random): the basis of comparisons."""
    con = sqlite3.connect(grader / "gradebook.db")
    try:
        students = con.execute("SELECT id, first_name, last_name, email FROM student ORDER BY rowid").fetchall()
        submissions = con.execute(
            """SELECT a.name, s.student_id, s.timestamp, s.extension FROM submitted_assignment s
               JOIN assignment a ON a.id = s.assignment_id ORDER BY a.name, s.student_id""").fetchall()
        notebooks = con.execute(
            """SELECT a.name, s.student_id, n.name, sn.flagged, sn.late_submission_penalty
               FROM submitted_notebook sn JOIN submitted_assignment s ON s.id = sn.assignment_id
               JOIN assignment a ON a.id = s.assignment_id JOIN notebook n ON n.id = sn.notebook_id
               ORDER BY 1, 2, 3""").fetchall()
        cells = {}
        for table, columns in (("grade", "auto_score, manual_score, extra_credit, needs_manual_grade"),
                               ("comment", "auto_comment, manual_comment")):
            cells[table] = con.execute(
                f"""SELECT a.name, s.student_id, n.name, c.name, {columns} FROM {table} g
                    JOIN submitted_notebook sn ON sn.id = g.notebook_id
                    JOIN submitted_assignment s ON s.id = sn.assignment_id
                    JOIN assignment a ON a.id = s.assignment_id JOIN notebook n ON n.id = sn.notebook_id
                    JOIN base_cell c ON c.id = g.cell_id ORDER BY 1, 2, 3, 4""").fetchall()
        courses = con.execute("SELECT id FROM course ORDER BY rowid").fetchall()
    finally:
        con.close()
    return {"students": students, "submissions": submissions, "notebooks": notebooks, "courses": courses, **cells}


def scores(grader: Path, assignment: str = ASSIGNMENT) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{grader / 'gradebook.db'}", "datathon") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(assignment)}


def export(grader: Path, env: dict[str, str], out: Path) -> list[dict]:
    """``nbgrader export --to OUT``: the course's grades, one row per student and assignment."""
    nbgrader("export", f"--to={out}", cwd=grader, env=env)
    with open(out, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def errors_by_cell(notebook: Path) -> list[tuple[str, list[str]]]:
    """(cell id, names of the errors it shows) of each code cell: what a run of the notebook did."""
    nb = nbformat.read(notebook, as_version=4)
    return [(nbgrader_meta(c).get("grade_id", str(i)), [o.get("ename", "") for o in c.outputs if o.output_type == "error"])
            for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def files_under(path: Path) -> dict[str, str]:
    """Relative path -> permission bits of every file under ``path``."""
    return {p.relative_to(path).as_posix(): oct(p.stat().st_mode & 0o777) for p in sorted(path.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------
# The full cycle, with nbgrader's own commands
# ---------------------------------------------------------------------------------------------

GRADED = [k for k in KINDS if k != "corrupt"]


@pytest.mark.slow
def test_autograde_gives_each_kind_of_student_its_exact_score(sequential):
    """Does nbgrader autograde give each student exactly the points of the tests their answers pass?"""
    source_nb = source_notebook(sequential)
    total = points(c for c in source_nb.cells if nbgrader_meta(c).get("grade"))
    expected = {kind: expected_score(kind, source_nb) for kind in GRADED}
    assert expected["perfect"] == total > 0
    assert all(0 <= expected[k] < total for k in GRADED if k != "perfect")
    got = scores(sequential / "grader" / "sirene")
    assert {k: got[k] for k in GRADED} == expected


@pytest.mark.slow
def test_autograde_grades_every_cell_around_a_failing_one(sequential):
    """Do a syntax error and an endless loop cost only their own question, the loop interrupted at the time limit?"""
    graded = sequential / "grader" / "sirene" / "autograded"
    source_nb = source_notebook(sequential)
    for kind, error in (("broken", "SyntaxError"), ("looping", None)):
        cells = errors_by_cell(graded / kind / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
        (spoiled,) = spoiled_answer(kind, source_nb)
        shown = dict(cells)[spoiled]
        if error:
            assert shown == [error], (kind, shown)
        else:  # nbgrader interrupts the kernel at the time limit: KeyboardInterrupt, and its own timeout error
            assert "KeyboardInterrupt" in shown or "CellTimeoutError" in shown, shown
        # every later cell ran: the last test cell has a result (a pass or an error), the kernel was alive
        nb = nbformat.read(graded / kind / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
        assert all(c.execution_count is not None for c in nb.cells if c.cell_type == "code"), kind
    # the perfect notebook ran without a single error
    assert not any(errs for _, errs in errors_by_cell(graded / "perfect" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"))


@pytest.mark.slow
def test_autograde_puts_back_the_tests_a_student_edited(sequential):
    """Are the cheat's emptied test cells restored from the gradebook (hidden tests included) and worth nothing?"""
    source_nb = source_notebook(sequential)
    tests = {nbgrader_meta(c)["grade_id"]: c.source for c in source_nb.cells
             if nbgrader_meta(c).get("grade") and nbgrader_meta(c).get("locked")}
    nb = nbformat.read(sequential / "grader" / "sirene" / "autograded" / "cheat" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                       as_version=4)
    restored = {nbgrader_meta(c)["grade_id"]: c.source for c in nb.cells if nbgrader_meta(c).get("grade_id") in tests}
    assert restored == tests
    assert "### BEGIN HIDDEN TESTS" in "".join(restored.values())
    with closing(sqlite3.connect(sequential / "grader" / "sirene" / "gradebook.db")) as con:
        cheat = con.execute("""SELECT c.name, g.auto_score FROM grade g JOIN submitted_notebook sn ON sn.id = g.notebook_id
                               JOIN submitted_assignment s ON s.id = sn.assignment_id JOIN base_cell c ON c.id = g.cell_id
                               WHERE s.student_id = 'cheat'""").fetchall()
    assert sorted(cheat) == sorted((name, 0.0) for name in tests)


@pytest.mark.slow
def test_autograde_goes_past_a_notebook_it_cannot_read(sequential):
    """Does a corrupt notebook fail alone: no autograded copy for it, every other student graded?"""
    graded = sequential / "grader" / "sirene" / "autograded"
    assert sorted(p.parent.name for p in graded.glob(f"*/{ASSIGNMENT}")) == sorted(GRADED)
    assert (sequential / "grader" / "sirene" / "submitted" / "corrupt" / ASSIGNMENT).is_dir()


@pytest.mark.slow
def test_feedback_and_export_reach_every_student(sequential, tmp_path):
    """Does every graded student get an HTML feedback, released through the exchange, and does the export list every student with their score?"""
    root = copy_course(sequential, tmp_path / "course")
    grader, env = root / "grader" / "sirene", course_env(root)
    nbgrader("generate_feedback", ASSIGNMENT, cwd=grader, env=env)
    nbgrader("release_feedback", ASSIGNMENT, cwd=grader, env=env)
    source_nb = source_notebook(root)
    total = points(c for c in source_nb.cells if nbgrader_meta(c).get("grade"))
    for kind in GRADED:
        html = (grader / "feedback" / kind / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")
        assert f"Score: {expected_score(kind, source_nb):.1f} / {total:.1f}" in html, kind  # the notebook's total
    assert not (grader / "feedback" / "corrupt").exists()
    released = list((root / "exchange" / "datathon" / "feedback").glob("*.html"))
    assert len(released) == len(GRADED)

    home = root / "students" / "perfect"
    nbgrader("fetch_feedback", ASSIGNMENT, "--student=perfect", *student_args(root, "perfect"), cwd=home, env=env)
    fetched = list((home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    assert len(fetched) == 1 and f"Score: {total:.1f} / {total:.1f}" in fetched[0].read_text(encoding="utf-8")

    rows = export(grader, env, tmp_path / "grades.csv")
    assert sorted(r["student_id"] for r in rows) == sorted(KINDS)
    assert {r["assignment"] for r in rows} == {ASSIGNMENT}
    assert all(float(r["max_score"]) == total for r in rows)
    assert {r["student_id"]: float(r["score"]) for r in rows if r["student_id"] in GRADED} == \
        {k: expected_score(k, source_nb) for k in GRADED}
    assert float(next(r for r in rows if r["student_id"] == "corrupt")["score"]) == 0.0


# ---------------------------------------------------------------------------------------------
# datathon grade
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_datathon_grade_in_parallel_equals_sequential_autograde(collected, request, tmp_path, monkeypatch, capsys):
    """Does `datathon grade --jobs 2` leave the gradebook, the export and the autograded files of a sequential `nbgrader autograde`?"""
    root = copy_course(collected, tmp_path / "course")
    grader = root / "grader" / "sirene"
    for key, value in course_env(root).items():
        monkeypatch.setenv(key, value)
    code = cli.main(["grade", ASSIGNMENT, "--jobs", "2", "--course", str(grader), "--quiet", *TRUSTED])
    out, err = capsys.readouterr()
    assert code == 1, (out, err)  # the corrupt notebook could not be graded, as with nbgrader
    assert err.splitlines() == [err.splitlines()[0]] and err.startswith("datathon grade: failed: corrupt: "), err
    assert "Traceback" not in out + err
    source_nb = source_notebook(root)
    for kind in GRADED:
        assert re.search(rf"^{kind}\s+{expected_score(kind, source_nb):g} / ", out, re.M), out
    # the cheat, alone, is reported for the locked cells nbgrader had to put back
    tests = [nbgrader_meta(c)["grade_id"] for c in source_nb.cells if nbgrader_meta(c).get("grade")]
    assert re.search(rf"^cheat\s.*edited locked cells, put back: {', '.join(tests)}$", out, re.M), out
    assert out.count("edited locked cells") == 1

    # Only now wait for the sequential run (another worker may be building it meanwhile).
    sequential = request.getfixturevalue("sequential")
    assert gradebook_state(grader) == gradebook_state(sequential / "grader" / "sirene")
    env = course_env(root)
    assert export(grader, env, tmp_path / "parallel.csv") == export(sequential / "grader" / "sirene", env, tmp_path / "seq.csv")
    mine, theirs = grader / "autograded", sequential / "grader" / "sirene" / "autograded"
    assert files_under(mine) == files_under(theirs)
    for kind in GRADED:
        notebook = Path(kind) / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        assert errors_by_cell(mine / notebook) == errors_by_cell(theirs / notebook), kind
    assert sorted(p.name for p in grader.iterdir()) == sorted(p.name for p in (sequential / "grader" / "sirene").iterdir())

    # Again, without --force: what is graded is skipped; the corrupt one is tried again, as nbgrader does.
    state = gradebook_state(grader)
    code = cli.main(["grade", ASSIGNMENT, "--course", str(grader), "--quiet", *TRUSTED])
    out, err = capsys.readouterr()
    assert code == 1
    assert all(re.search(rf"^{kind}\s.*skipped: already autograded", out, re.M) for kind in GRADED), out
    assert gradebook_state(grader) == state and files_under(mine) == files_under(theirs)


# ---------------------------------------------------------------------------------------------
# datathon grade: what it refuses
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bare_gradebook(tmp_path_factory) -> Path:
    """A gradebook that knows a1_names and nothing else (made once: nbgrader runs `alembic` to create one)."""
    from nbgrader.api import Gradebook

    db = tmp_path_factory.mktemp("bare") / "gradebook.db"
    with _inside(db.parent, {"PATH": course_env(db.parent)["PATH"]}):
        with Gradebook(f"sqlite:///{db}", "datathon") as gb:
            gb.add_assignment(ASSIGNMENT)
    return db


@pytest.fixture
def bare_course(tmp_path, monkeypatch, bare_gradebook) -> Path:
    """A course root with the repository's configuration, that gradebook, and one collected submission
    (alice's, an empty notebook); nothing graded."""
    root = tmp_path / "course"
    grader = course_root(root)
    shutil.copy2(bare_gradebook, grader / "gradebook.db")
    for key, value in course_env(root).items():
        monkeypatch.setenv(key, value)
    submission = grader / "submitted" / "alice" / ASSIGNMENT
    submission.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), submission / f"{ASSIGNMENT}.ipynb")
    return grader


def tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): (p.read_bytes() if p.is_file() else b"") for p in sorted(path.rglob("*"))}


@pytest.mark.parametrize("args, message", [
    (["grade", "a9_nothing"], "unknown assignment 'a9_nothing'"),
    (["grade", ASSIGNMENT, "--jobs", "0"], "--jobs must be a whole number"),
    (["grade", ASSIGNMENT, "--jobs", "-2"], "--jobs must be a whole number"),
    (["grade", ASSIGNMENT, "--jobs", "two"], "--jobs must be a whole number"),
    (["grade", ASSIGNMENT, "--jobs", "1.5"], "--jobs must be a whole number"),
    (["grade", ASSIGNMENT, "--student", "bob"], "no collected submission of 'a1_names' by 'bob'"),
])
def test_grade_refuses_bad_arguments_in_one_line(bare_course, args, message, capsys):
    """Is a bad argument reported on one line, exit 2, with the course left exactly as it was?"""
    before = tree(bare_course)
    code = cli.main([*args, "--course", str(bare_course), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("datathon grade: error: ") and message in err, err
    assert tree(bare_course) == before


def test_grade_refuses_an_assignment_with_nothing_collected(bare_course, capsys):
    """Is grading an assignment nobody submitted refused on one line, exit 2, pointing at nbgrader collect?"""
    shutil.rmtree(bare_course / "submitted")
    before = tree(bare_course)
    code = cli.main(["grade", ASSIGNMENT, "--course", str(bare_course)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "nothing collected for 'a1_names'" in err and "nbgrader collect" in err
    assert tree(bare_course) == before


def test_grade_refuses_a_directory_without_course_config(tmp_path, capsys):
    """Is a --course without nbgrader_config.py, or without a gradebook, refused on one line, exit 2, creating nothing?"""
    code = cli.main(["grade", ASSIGNMENT, "--course", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no nbgrader course at" in err
    assert not (tmp_path / "nowhere").exists()

    grader = course_root(tmp_path)
    code = cli.main(["grade", ASSIGNMENT, "--course", str(grader), *TRUSTED])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "the gradebook has none" in err, err
    assert sorted(p.name for p in grader.iterdir()) == ["nbgrader_config.py"]  # no gradebook.db created


def test_an_interrupted_grade_writes_nothing(bare_course, monkeypatch, capsys):
    """Does a run interrupted while students are graded leave the gradebook and autograded/ as they were, and no staging behind?"""
    from datathon import grading

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(grading, "_run_workers", interrupted)
    before = tree(bare_course)
    code = cli.main(["grade", ASSIGNMENT, "--course", str(bare_course), "--quiet", *TRUSTED])
    assert code == 130 and "interrupted" in capsys.readouterr().err
    assert tree(bare_course) == before


def test_merge_writes_only_what_autograde_writes(bare_gradebook, tmp_path):
    """Does the merge copy a re-grade's automatic scores and comments, add a new student, and keep the manual grades and comments given meanwhile?"""
    from nbgrader.api import Gradebook

    from datathon import grading

    course = tmp_path / "gradebook.db"
    shutil.copy2(bare_gradebook, course)
    url = f"sqlite:///{course}"
    with Gradebook(url, "datathon") as gb:
        gb.add_notebook("nb", ASSIGNMENT)
        gb.add_grade_cell("test", "nb", ASSIGNMENT, max_score=2, cell_type="code")
        gb.add_solution_cell("answer", "nb", ASSIGNMENT)
        gb.add_student("alice")
        gb.add_submission(ASSIGNMENT, "alice", timestamp="2026-01-18 09:00:00 UTC")
        grade = gb.find_grade("test", "nb", ASSIGNMENT, "alice")
        grade.auto_score, grade.manual_score, grade.needs_manual_grade = 1.0, 2.0, True
        gb.find_comment("answer", "nb", ASSIGNMENT, "alice").manual_comment = "good"
        gb.db.commit()

    snapshot = tmp_path / "snapshot.db"
    grading._backup(course, snapshot)
    private = tmp_path / "private.db"
    shutil.copy2(snapshot, private)
    with Gradebook(f"sqlite:///{private}", "datathon") as gb:  # what a worker's autograde writes
        gb.update_or_create_submission(ASSIGNMENT, "alice", timestamp="2026-01-18 10:00:00 UTC")
        grade = gb.find_grade("test", "nb", ASSIGNMENT, "alice")
        grade.auto_score, grade.needs_manual_grade = 0.0, True
        gb.find_comment("answer", "nb", ASSIGNMENT, "alice").auto_comment = "No response."
        gb.add_student("bob")
        gb.add_submission(ASSIGNMENT, "bob", timestamp="2026-01-18 10:05:00 UTC")
        gb.find_grade("test", "nb", ASSIGNMENT, "bob").auto_score = 2.0
        gb.db.commit()
    with Gradebook(url, "datathon") as gb:  # meanwhile, a grader edits alice's comment
        gb.find_comment("answer", "nb", ASSIGNMENT, "alice").manual_comment = "very good"
        gb.db.commit()

    grading._merge(course, ASSIGNMENT, grading._structure(snapshot, ASSIGNMENT), [("alice", private), ("bob", private)])
    with Gradebook(url, "datathon") as gb:
        alice = gb.find_grade("test", "nb", ASSIGNMENT, "alice")
        assert (alice.auto_score, alice.manual_score, alice.needs_manual_grade) == (0.0, 2.0, True)
        comment = gb.find_comment("answer", "nb", ASSIGNMENT, "alice")
        assert (comment.auto_comment, comment.manual_comment) == ("No response.", "very good")
        assert str(gb.find_submission(ASSIGNMENT, "alice").timestamp) == "2026-01-18 10:00:00"
        assert gb.find_grade("test", "nb", ASSIGNMENT, "bob").auto_score == 2.0
        assert [s.id for s in gb.students] == ["alice", "bob"]


def test_merge_refuses_when_the_assignment_changed_meanwhile(bare_gradebook, tmp_path):
    """Is nothing written when the assignment's cells changed in the gradebook while students were graded?"""
    from nbgrader.api import Gradebook

    from datathon import grading
    from datathon.errors import UserError

    course = tmp_path / "gradebook.db"
    shutil.copy2(bare_gradebook, course)
    with Gradebook(f"sqlite:///{course}", "datathon") as gb:
        gb.add_notebook("nb", ASSIGNMENT)
        gb.add_grade_cell("test", "nb", ASSIGNMENT, max_score=2, cell_type="code")
    snapshot = tmp_path / "snapshot.db"
    grading._backup(course, snapshot)
    private = tmp_path / "private.db"
    shutil.copy2(snapshot, private)
    with Gradebook(f"sqlite:///{private}", "datathon") as gb:
        gb.add_student("alice")
        gb.add_submission(ASSIGNMENT, "alice")
    with Gradebook(f"sqlite:///{course}", "datathon") as gb:  # generate_assignment ran again: 3 points now
        gb.find_graded_cell("test", "nb", ASSIGNMENT).max_score = 3
        gb.db.commit()
    before = course.read_bytes()
    with pytest.raises(UserError, match="changed in the gradebook while grading"):
        grading._merge(course, ASSIGNMENT, grading._structure(snapshot, ASSIGNMENT), [("alice", private)])
    assert course.read_bytes() == before
