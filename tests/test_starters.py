"""The nbgrader course (grader/nbgrader_config.py, ./nbgrader_config.py), the starters generated from
solutions/ (datathon/starters.py, `make starters`), and the leak scan of what students see."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from course_tree import course_root

from datathon import starters

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# The course configuration
# --------------------------------------------------------------------------------------------


def nbgrader_sees(directory: Path, monkeypatch, tmp_path: Path, **env) -> dict:
    """The course settings nbgrader's autograde reads when started in ``directory``."""
    from nbgrader.apps.autogradeapp import AutogradeApp
    from nbgrader.preprocessors import Execute

    for key in ("DATATHON_EXCHANGE", "DATATHON_CELL_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "jupyter-config"))  # not ~/.jupyter
    monkeypatch.chdir(directory)
    monkeypatch.setattr(sys, "path", list(sys.path))  # nbgrader puts the working directory first
    app = AutogradeApp()
    app.initialize([])
    coursedir = app.coursedir
    return {
        "course_id": coursedir.course_id,
        "root": coursedir.root,
        "source": Path(coursedir.format_path(coursedir.source_directory, ".", "a1_names")).resolve(),
        "db_url": coursedir.db_url,
        "exchange": app.config.Exchange.root,
        "timeout": Execute(config=app.config).timeout,
    }


@pytest.mark.parametrize("where", ["grader/sirene", "."], ids=["in grader/sirene/", "at the top (JupyterLab)"])
def test_nbgrader_finds_the_course_in_grader_and_at_the_top(where, monkeypatch, tmp_path):
    """Does nbgrader started in grader/sirene/ or at the top of the repository (where `make lab` starts
    JupyterLab) see Sirene's course: id datathon, root grader/sirene/, sources in solutions/sirene/, the
    local exchange grader/exchange, 120 s per cell?"""
    monkeypatch.delenv("DATATHON_CHALLENGE", raising=False)
    seen = nbgrader_sees(ROOT / where, monkeypatch, tmp_path)
    assert seen["course_id"] == "datathon"
    assert seen["root"] == str(ROOT / "grader" / "sirene")
    assert seen["source"] == ROOT / "solutions" / "sirene" / "a1_names"
    assert seen["db_url"] == f"sqlite:///{ROOT / 'grader' / 'sirene' / 'gradebook.db'}"
    assert seen["exchange"] == str(ROOT / "grader" / "exchange")
    assert seen["timeout"] == 120


def test_environment_variables_move_the_exchange_and_set_the_cell_timeout(tmp_path, monkeypatch):
    """Do DATATHON_EXCHANGE and DATATHON_CELL_TIMEOUT change the exchange and nbgrader's per-cell time limit?"""
    seen = nbgrader_sees(ROOT / "grader" / "sirene", monkeypatch, tmp_path, DATATHON_EXCHANGE=str(tmp_path / "ex"),
                         DATATHON_CELL_TIMEOUT="7")
    assert seen["exchange"] == str(tmp_path / "ex") and seen["timeout"] == 7


def test_a_wrong_cell_timeout_is_one_line_and_the_default(monkeypatch, tmp_path, capsys):
    """Does a DATATHON_CELL_TIMEOUT that is not a positive number print one line and keep 120 s?"""
    seen = nbgrader_sees(ROOT / "grader" / "sirene", monkeypatch, tmp_path, DATATHON_CELL_TIMEOUT="two minutes")
    assert seen["timeout"] == 120
    lines = set(capsys.readouterr().err.splitlines())
    assert lines == {"nbgrader_config.py: DATATHON_CELL_TIMEOUT='two minutes' is not a positive whole number "
                     "of seconds; using 120"}


# --------------------------------------------------------------------------------------------
# Generating the starters
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated() -> dict[str, bytes]:
    """starter_notebooks/ as `make starters` would write it now (nbgrader into a temporary directory)."""
    return starters.generate(ROOT)


@pytest.mark.slow
def test_committed_starters_are_what_make_starters_writes(generated):
    """Is starter_notebooks/ exactly what nbgrader generates from solutions/ now (else: run `make starters`)?"""
    problems = starters.differences(generated, starters.read_starters(ROOT))
    assert not problems, "starter_notebooks/ is out of date, run `make starters`:\n" + "\n".join(problems)
    assert "a1_names/a1_names.ipynb" in generated


@pytest.mark.slow
def test_a_starter_keeps_what_nbgrader_needs_and_no_solution(generated):
    """Does the a1_names starter keep every graded cell's nbgrader metadata (id, points, checksum), stubs in
    place of the solutions, the visible tests without the hidden ones, and the check calls?"""
    source = nbformat.read(ROOT / "solutions" / "sirene" / "a1_names" / "a1_names.ipynb", as_version=4)
    starter = nbformat.reads(generated["a1_names/a1_names.ipynb"].decode(), as_version=4)
    assert [c.id for c in starter.cells] == [c.id for c in source.cells]
    for before, after in zip(source.cells, starter.cells):
        meta = before.metadata.get("nbgrader")
        if not meta:
            assert after.source == before.source and "nbgrader" not in after.metadata
            continue
        kept = after.metadata["nbgrader"]
        assert kept["grade_id"] == meta["grade_id"] and kept.get("points") == meta.get("points")
        if meta["solution"] or meta["grade"]:
            assert len(kept["checksum"]) == 32  # what autograde compares a submission's cell with
        if meta["solution"]:
            assert "raise NotImplementedError()" in after.source and "BEGIN SOLUTION" not in after.source
        if meta["grade"]:
            assert "HIDDEN TESTS" not in after.source
            assert after.source == before.source.split("### BEGIN HIDDEN TESTS")[0].rstrip("\n")
        if meta["locked"]:
            assert after.metadata["editable"] is False and after.metadata["deletable"] is False
    checks = [c.source.splitlines()[0] for c in starter.cells if c.source.endswith("uncomment for a hint")]
    assert checks == ["q1.check()", "q2.check()", "q3.check()", "q4.check()", "q5.check()"]


def test_normalising_drops_what_changes_between_runs_and_keeps_nbgrader_metadata():
    """Does normalising clear outputs, counts, timings and the Python version, name cells without an id,
    and leave the nbgrader metadata and locks alone?"""
    grading = {"grade": True, "grade_id": "q1-tests", "locked": True, "points": 3, "schema_version": 3,
               "solution": False, "task": False, "checksum": "0" * 32}
    nb = new_notebook(cells=[
        new_markdown_cell("# T\nwhat", id="title"),
        new_code_cell("assert True", id="q1-tests", execution_count=4,
                      outputs=[new_output("stream", name="stdout", text="x\n")],
                      metadata={"nbgrader": grading, "editable": False, "deletable": False,
                                "execution": {"iopub.status.busy": "2024-01-01T00:00:00"}}),
        new_code_cell("x = 1"),
    ], metadata={"language_info": {"name": "python", "version": "3.11.7", "pygments_lexer": "ipython3"}})
    nb.cells[2].id = "q1-tests"  # a repeated id (new_notebook would have replaced it)
    data = json.dumps(nb).encode()  # not nbformat.writes, which would replace the repeated id at random
    out = nbformat.reads(starters.normalise_notebook_bytes(data).decode(), as_version=4)
    cell = out.cells[1]
    assert cell.outputs == [] and cell.execution_count is None and "execution" not in cell.metadata
    assert cell.metadata["nbgrader"] == grading and cell.metadata["editable"] is False
    assert [c.id for c in out.cells] == ["title", "q1-tests", "cell-3"]
    assert out.metadata["language_info"] == {"name": "python"}
    once = starters.normalise_notebook_bytes(data)
    assert starters.normalise_notebook_bytes(data) == once and starters.normalise_notebook_bytes(once) == once


def test_writing_starters_mirrors_what_was_generated(tmp_path):
    """Does writing replace stale files and assignments, and leave starter_notebooks/'s own top-level files?"""
    base = tmp_path / "starter_notebooks" / "sirene"
    (base / "old").mkdir(parents=True)
    (base / "old" / "old.ipynb").write_text("{}")
    (base / "a1").mkdir()
    (base / "a1" / "gone.csv").write_text("x")
    (base / "README.md").write_text("kept")
    changed = starters.write_starters(tmp_path, {"a1/a1.ipynb": b"new\n"})
    files = sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
    assert files == ["README.md", "a1/a1.ipynb"]
    assert (base / "a1" / "a1.ipynb").read_bytes() == b"new\n"
    assert "starter_notebooks/sirene/a1/a1.ipynb is missing" in changed


def test_a_failing_nbgrader_is_one_clear_line(tmp_path):
    """When nbgrader cannot generate an assignment, is the error one line naming the assignment?"""
    course_root(tmp_path)
    with pytest.raises(starters.UserError) as caught:
        starters.generate(tmp_path, ["no_such_assignment"])
    message = caught.value.message
    assert "\n" not in message and message.startswith("nbgrader generate_assignment no_such_assignment failed")
    result = subprocess.run([sys.executable, "-m", "datathon.starters", "--root", str(tmp_path / "nowhere")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("datathon.starters: error: no nbgrader course")


# --------------------------------------------------------------------------------------------
# Leaks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("challenge", sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()))
def test_nothing_students_see_leaks(challenge):
    """Do each challenge's starter_notebooks/ and course/ hold no solution line, no hidden test, no marker, no
    value of the test truth (Sirene's SIRETs), and do the starters not read the test truth?"""
    secrets = starters.collect_secrets(ROOT, challenge=challenge)
    assert secrets.solution_lines and secrets.hidden_lines
    assert secrets.truth_values or challenge != "sirene"
    assert starters.scan(ROOT, secrets=secrets, challenge=challenge) == []


def _write(path: Path, cells: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=cells), path)
    return path


@pytest.fixture
def leaky_repo(tmp_path) -> Path:
    """A repository with a source notebook, a test truth, and student notebooks that leak in every way."""
    _write(tmp_path / "solutions" / "sirene" / "zz" / "zz.ipynb", [
        new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return sorted(x, key=len)[::-1]\n    return x\n"
                      "    ### END SOLUTION", id="a"),
        new_code_cell('assert f([]) == []\n### BEGIN HIDDEN TESTS\nassert f(["ab", "c"]) == ["ab", "c"]\n'
                      "### END HIDDEN TESTS", id="t"),
    ])
    (tmp_path / "data_samples" / "sirene").mkdir(parents=True)
    pd.DataFrame({"CABBI": ["1", "2"], "SIRET_DEC": ["30195488900012", None]}).to_parquet(
        tmp_path / "data_samples" / "sirene" / "truth_test.parquet")
    _write(tmp_path / "starter_notebooks" / "sirene" / "zz" / "clean.ipynb", [
        new_code_cell("def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n    return x", id="a"),
        new_code_cell("ds = load(data_dir, splits=['train'], with_truth=False)\nn = '30195488900013'", id="b"),
    ])
    _write(tmp_path / "starter_notebooks" / "sirene" / "zz" / "leaky.ipynb", [
        new_code_cell("def f(x):\n    return sorted(x, key=len)[::-1]", id="a"),
        new_code_cell('assert f(["ab", "c"]) == ["ab", "c"]', id="b"),
        new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", id="c"),
        new_code_cell("truth = pd.read_parquet('data_samples/truth_test.parquet')\n"
                      "t = evaluate.load_truth(data_dir, 'test')\nds = load(data_dir)", id="d",
                      outputs=[new_output("stream", name="stdout", text="30195488900012\n")]),
    ])
    _write(tmp_path / "course" / "sirene" / "scored.ipynb", [
        new_code_cell("truth = evaluate.load_truth(data_dir, 'test')", id="a"),
    ])
    return tmp_path


def test_the_leak_scan_finds_every_kind_of_leak(leaky_repo):
    """Does the scan report a solution line, a hidden test, a marker, a truth SIRET in an output and every way
    of reading the test truth, and nothing in a clean starter or a course notebook scoring on the sample?"""
    found = starters.scan(leaky_repo)
    leaky = [line for line in found if "leaky.ipynb" in line]
    assert found == leaky, "the clean starter and the course notebook must pass"
    text = "\n".join(leaky)
    assert "cell 1: a line of a solution: `return sorted(x, key=len)[::-1]`" in text
    assert 'cell 2: a line of a hidden test: `assert f(["ab", "c"]) == ["ab", "c"]`' in text
    assert text.count("an nbgrader marker") == 2
    assert "it names truth_test" in text and "it calls load_truth() on the test split" in text
    assert "it calls load() without with_truth=False" in text
    assert "1 SIRET(s) of the test truth, e.g. 30195488900012" in text
    assert "return x" not in text  # too common a line to be a leak by itself
    strict = starters.scan(leaky_repo, no_truth_reading=("starter_notebooks", "course"))
    assert any("scored.ipynb" in line and "load_truth() on the test split" in line for line in strict)


def test_the_check_command_fails_on_a_leak_or_a_stale_starter(leaky_repo, monkeypatch, capsys):
    """Does `python -m datathon.starters --check` exit 1 listing stale starters and leaks, and say what to run?"""
    monkeypatch.setattr(starters, "generate", lambda root, challenge: {"zz/clean.ipynb": b"changed\n"})
    assert starters.main(["--root", str(leaky_repo), "--check"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert ("datathon.starters: starter_notebooks/sirene/zz/clean.ipynb differs from what solutions/sirene/zz/ "
            "generates") in err
    assert "datathon.starters: run `make starters` and commit starter_notebooks/sirene/" in err
    assert any("leaky.ipynb, cell 1: a line of a solution" in line for line in err)


def test_the_makefile_target_runs_the_module():
    """Does `make starters` run python -m datathon.starters?"""
    out = subprocess.run(["make", "-s", "-n", "starters"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "python -m datathon.starters" in out


def test_the_source_notebook_is_json_nbgrader_can_read():
    """Does every cell of solutions/a1_names carry valid nbgrader metadata (schema 3, unique grade ids)?"""
    nb = json.loads((ROOT / "solutions" / "sirene" / "a1_names" / "a1_names.ipynb").read_text(encoding="utf-8"))
    ids = [c["metadata"]["nbgrader"]["grade_id"] for c in nb["cells"] if "nbgrader" in c["metadata"]]
    assert len(ids) == len(set(ids))
    assert all(c["metadata"]["nbgrader"]["schema_version"] == 3 for c in nb["cells"] if "nbgrader" in c["metadata"])
