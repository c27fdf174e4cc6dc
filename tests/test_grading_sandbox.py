"""``datathon grade`` runs every student notebook in a sandbox (datathon/sandbox.py, datathon/grading_sandbox.py).

Each attack found once on a real event stays here: a notebook that reads the instructor's secrets,
one that leaves a detached process behind to rewrite grades, one that forks and allocates, one
that loops and ignores SIGINT; and the honest reference solutions, graded in the sandbox on an
event world of a seed no notebook uses, must earn every performance point.

The course is a small nbgrader assignment, ``probe``: two questions (2 and 3 points), whose
answer cells each student fills in with code of its own. These tests need root (the sandbox runs
notebooks as other accounts), bubblewrap and the sandbox accounts: ``make test`` sets them up when
run as root, as CI does; elsewhere they skip and say why.
"""
from __future__ import annotations

import os
import re
import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest
from course_tree import course_root, sources
from test_grading import course_env, nbgrader

from datathon import bands, sandbox
from datathon.errors import UserError
from datathon.grading import grade

pytestmark = [pytest.mark.filterwarnings("ignore:Object of type <Submitted"),
              pytest.mark.skipif(not sandbox.status(2).ok,
                                 reason="needs root, bubblewrap and the sandbox accounts (`make sandbox` as root): "
                                 + "; ".join(sandbox.status(2).problems))]

REPO = Path(__file__).resolve().parents[1]
SECRET = "TOP-SECRET-7f3a9c"  # planted in every place a notebook must not reach
CELL_TIMEOUT = 8


def probe_source() -> nbformat.NotebookNode:
    def meta(**kw):
        base = {"grade": False, "locked": False, "solution": False, "schema_version": 3, "task": False}
        return {"nbgrader": {**base, **kw}}

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Probe", metadata=meta(grade_id="title", locked=True)),
        nbformat.v4.new_code_cell("### BEGIN SOLUTION\nfirst = 42\n### END SOLUTION",
                                  metadata=meta(grade_id="q1-answer", solution=True)),
        nbformat.v4.new_code_cell("assert first == 42", metadata=meta(grade_id="q1-tests", grade=True, locked=True,
                                                                      points=2)),
        nbformat.v4.new_code_cell("### BEGIN SOLUTION\nsecond = 'ok'\n### END SOLUTION",
                                  metadata=meta(grade_id="q2-answer", solution=True)),
        nbformat.v4.new_code_cell("assert second == 'ok'", metadata=meta(grade_id="q2-tests", grade=True, locked=True,
                                                                       points=3)),
    ]
    return nb


@pytest.fixture
def course(tmp_path) -> Path:
    """A course root with the probe assignment generated, and secrets planted around it."""
    grader = course_root(tmp_path)
    (sources(tmp_path) / "probe").mkdir(parents=True)
    nbformat.write(probe_source(), sources(tmp_path) / "probe" / "probe.ipynb")
    (grader / "secret.txt").write_text(SECRET)
    env = {**course_env(tmp_path), "DATATHON_CELL_TIMEOUT": str(CELL_TIMEOUT)}
    nbgrader("generate_assignment", "probe", cwd=grader, env=env)
    for name, value in env.items():
        os.environ[name] = value  # grade() reads the course's configuration with these, as the CLI would
    return grader


@pytest.fixture(autouse=True)
def restore_environment():
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def submit(course: Path, student: str, first: str, second: str = "second = 'ok'") -> Path:
    """A collected submission of the probe whose answer cells hold ``first`` and ``second``."""
    nb = nbformat.read(course / "release" / "probe" / "probe.ipynb", as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "q1-answer":
            cell.source = textwrap.dedent(first)
        elif gid == "q2-answer":
            cell.source = textwrap.dedent(second)
    folder = course / "submitted" / student / "probe"
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "probe.ipynb")
    (folder / "timestamp.txt").write_text("2026-12-07 10:00:00.000000 UTC")
    return folder


def scores(course: Path) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "datathon") as gb:
        out = {}
        for sub in gb.assignment_submissions("probe"):
            out[sub.student_id] = {g.name: g.score for nb in sub.notebooks for g in nb.grades}
        return out


def autograded_text(course: Path, student: str) -> str:
    return (course / "autograded" / student / "probe" / "probe.ipynb").read_text(encoding="utf-8")


def outputs_text(course: Path, student: str) -> str:
    """Everything the autograded notebook's cells printed or raised."""
    nb = nbformat.read(course / "autograded" / student / "probe" / "probe.ipynb", as_version=4)
    return "\n".join(str(o) for c in nb.cells for o in c.get("outputs", []))


def processes_marked(marker: str) -> list[int]:
    """Processes whose command line holds ``marker`` (other tests may be grading meanwhile: they hold no marker)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.append(int(entry))
        except OSError:
            continue
    return found


def test_a_notebook_reads_none_of_the_instructors_secrets(course, tmp_path, request):
    """Does a notebook that looks for the truth, the gradebook, the sources, the course root, the instructor's home
    and environment find none of them (and no network), and do neither the autograded notebook nor the feedback
    quote any secret?"""
    os.environ["DATATHON_INSTRUCTOR_SECRET"] = SECRET
    event = tmp_path / "event"
    shutil.copytree(REPO / "data_samples" / "sirene", event)
    (event / "secret.txt").write_text(SECRET)
    home_secret = Path.home() / ".datathon-test-secret"
    home_secret.write_text(SECRET)
    request.addfinalizer(lambda: home_secret.unlink(missing_ok=True))
    targets = [event / "truth_test.parquet", event / "secret.txt", course / "gradebook.db", course / "secret.txt",
               sources(course.parents[1]) / "probe" / "probe.ipynb", home_secret, Path("/etc/shadow")]
    submit(course, "reader", f"""
        import os, socket
        found = []
        for path in {[str(t) for t in targets]!r}:
            try:
                found.append(path + ': ' + (str(os.listdir(path)) if os.path.isdir(path) else open(path, 'rb').read(200).decode('latin-1')))
            except OSError as err:
                print('refused', path, type(err).__name__)
        print(found, sorted(os.environ.items()))
        try:
            socket.create_connection(('127.0.0.1', 22), timeout=2)
            print('network reached')
        except OSError as err:
            print('no network:', err)
        first = 42 if not found else 0
        """)
    run = grade("probe", course=course, jobs=1, progress=False, data=event)
    assert run.ok and run.sandboxed
    assert scores(course)["reader"] == {"q1-tests": 2.0, "q2-tests": 3.0}  # found nothing: first stayed 42
    text = autograded_text(course, "reader")
    assert SECRET not in text and "DATATHON_INSTRUCTOR_SECRET" not in text
    printed = outputs_text(course, "reader")
    assert "refused" in printed and "no network" in printed and "network reached" not in printed
    nbgrader("generate_feedback", "probe", cwd=course, env=course_env(course.parents[1]))
    feedback = next((course / "feedback" / "reader" / "probe").glob("*.html")).read_text(encoding="utf-8")
    assert SECRET not in feedback


def test_a_detached_process_dies_before_the_merge(course):
    """Does a process a notebook detaches (setsid, double fork) to rewrite the gradebook later die before anything
    is merged, leaving no process of any sandbox account and the grades as graded?"""
    submit(course, "saboteur", f"""
        import os, subprocess, sys
        code = "import time; time.sleep(600)  # left-behind-7f3a"
        subprocess.Popen(['setsid', sys.executable, '-c', code], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, '-c', code])
            os._exit(0)
        first = 42
        """)
    submit(course, "honest", "first = 42")
    run = grade("probe", course=course, jobs=2, progress=False)
    assert run.ok
    assert processes_marked("left-behind-7f3a") == []
    assert scores(course) == {"honest": {"q1-tests": 2.0, "q2-tests": 3.0},
                              "saboteur": {"q1-tests": 2.0, "q2-tests": 3.0}}


def test_forking_and_allocating_is_bounded(course):
    """Does a notebook that forks many children, each filling memory, stay within the sandbox's process and memory
    limits, without stopping an honest student graded beside it?"""
    submit(course, "hog", """
        import os, sys
        children = 0
        for _ in range(200):
            try:
                if os.fork() == 0:
                    block = bytearray(150 * 1024 * 1024)
                    for i in range(0, len(block), 4096):
                        block[i] = 1
                    os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(600)  # hog-7f3a'])
                children += 1
            except OSError:
                break
        print('children', children)
        first = 42
        """)
    submit(course, "honest", "first = 42")
    run = grade("probe", course=course, jobs=2, progress=False,
                limits=sandbox.Limits(memory=1024**3, processes=48))
    assert {r.student: r.status for r in run.results} == {"honest": "graded", "hog": "graded"}
    assert scores(course)["honest"] == {"q1-tests": 2.0, "q2-tests": 3.0}
    assert processes_marked("hog-7f3a") == []
    forked = re.search(r"children (\d+)", outputs_text(course, "hog"))
    assert forked and int(forked.group(1)) < 48  # the process limit stopped the forks


def test_a_loop_that_ignores_interrupts_costs_only_its_cell(course):
    """Does a cell that ignores SIGINT and loops past the time limit score 0 with the reason in its output,
    while the next question, answered right, keeps its points (the kernel restarted and replayed)?"""
    submit(course, "stubborn", """
        import signal
        first = 42
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            pass
        """)
    run = grade("probe", course=course, jobs=1, progress=False)
    assert run.ok
    assert scores(course)["stubborn"] == {"q1-tests": 0.0, "q2-tests": 3.0}
    assert "ignored the interrupt" in outputs_text(course, "stubborn")


def test_grading_refuses_to_run_unsandboxed_without_being_told(monkeypatch):
    """Without root, does grade() refuse in one line that says how to fix it (or --trusted), rather than grade
    untrusted notebooks as the instructor?"""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(UserError, match=r"needs root.*--trusted"):
        sandbox.require(1)


#: A seed no notebook, test or benchmark uses: the event world the reference solutions have never seen.
EVENT_SEED = "unseen event world for the sandbox test, seed 91457"


@pytest.fixture(scope="module")
def event_world(tmp_path_factory) -> Path:
    from datathon.world import generate

    out = tmp_path_factory.mktemp("event") / "data"
    generate(scale="sample", seed=EVENT_SEED, out=out, progress=False)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("assignment", [p.assignment for p in bands.PERFORMANCE])
def test_the_reference_solution_earns_every_performance_point_on_an_unseen_event(assignment, event_world, tmp_path):
    """Graded in the sandbox on an event world of a new seed (its truth out of the notebook's reach), does the
    honest reference solution read the event's public data, hand its submission in, and earn every point,
    performance points included, scored outside the notebook on the event's truth?"""
    from test_grading import make_course, release_and_collect_one

    course = make_course(tmp_path, assignment, n_bulletins=None)
    env = {**course_env(tmp_path), "DATATHON_CELL_TIMEOUT": "300"}  # the course's real cells, on a busy machine
    os.environ.update(env)
    release_and_collect_one(tmp_path, assignment, "perfect")
    run = grade(assignment, course=course, jobs=1, progress=False, data=event_world)
    result = run.results[0]
    assert result.status == "graded" and result.score == result.max_score, (result.performance, result.reason)
    for perf in bands.performance_cells(assignment):
        assert f"{perf.max_points:g} of {perf.max_points:g} points" in result.performance[perf.cell]
    notebook = (course / "autograded" / "perfect" / assignment / f"{assignment}.ipynb").read_text(encoding="utf-8")
    assert str(event_world) not in notebook  # it read the public copy, never the event directory


def test_a_hand_in_that_is_a_link_scores_nothing_and_quotes_nothing(tmp_path):
    """Is a hand-in file the notebook replaced by a link (to the truth, to /etc/passwd) refused unread, for 0 points,
    with a message that quotes nothing of the target?"""
    from datathon import evaluate
    from datathon.grading import _performance_points

    perf = bands.performance("challenge", "performance-tests")
    truth = evaluate.load_truth(REPO / "data_samples" / "sirene", "test")
    box = tmp_path / "box"
    (box / sandbox.HANDIN_DIR).mkdir(parents=True)
    cell = nbformat.v4.new_code_cell("hand_in(...)")
    for target in ("/etc/passwd", str(REPO / "data_samples" / "sirene" / "truth_test.parquet")):
        link = box / sandbox.HANDIN_DIR / perf.file_name
        link.unlink(missing_ok=True)
        link.symlink_to(target)
        points, line = _performance_points({"box": str(box)}, perf, truth, cell)
        assert points == 0.0 and "not valid" in line and "root:" not in line and "symbolic link" in line
    (box / sandbox.HANDIN_DIR / perf.file_name).unlink()
    assert "no submission was handed in" in _performance_points({"box": str(box)}, perf, truth, cell)[1]


def test_the_summary_says_how_notebooks_ran_and_what_they_earned(course):
    """Does `datathon grade`'s summary say that notebooks ran in the sandbox, on which data, and give each
    student's score?"""
    from datathon.grading import format_summary

    submit(course, "honest", "first = 42")
    text = format_summary(grade("probe", course=course, jobs=1, progress=False))
    assert "each notebook in its sandbox" in text and "data_samples" in text
    assert "honest" in text and "5 / 5" in text


def test_extra_and_linked_notebooks_in_a_submission_neither_crash_nor_steer_performance(course, monkeypatch):
    """Does a submission that also holds a copy of its notebook and a link named like one (to /etc/passwd) get
    graded, with the performance cell scored from the assignment's own notebook only, and nothing written through
    the link?"""
    success = bands.Measure(("success_rate",), "success rate", (bands.Band(0.0, 3),))
    monkeypatch.setattr(bands, "PERFORMANCE", (bands.Performance("probe", "q2-tests", (success,)),))
    folder = submit(course, "crafty", "first = 42")
    shutil.copy2(folder / "probe.ipynb", folder / "copy.ipynb")
    (folder / "evil.ipynb").symlink_to("/etc/passwd")
    before = Path("/etc/passwd").read_bytes()
    run = grade("probe", course=course, jobs=1, progress=False)
    result = run.results[0]
    assert result.status == "graded", result.reason
    assert "no submission was handed in" in result.performance["q2-tests"]  # q2 never calls hand_in
    assert scores(course)["crafty"] == {"q1-tests": 2.0, "q2-tests": 0.0}
    assert Path("/etc/passwd").read_bytes() == before
