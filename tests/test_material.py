"""Tests of datathon.material and ``datathon material run``: executing notebooks with papermill.

Two tiny notebooks in a temporary repository: ``solutions/sirene/a1/good.ipynb`` plots, writes a
submission on the tiny world's test bulletins and records metrics; ``course/sirene/bad.ipynb`` fails in
its second cell.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from datathon import cli
from datathon.errors import UserError
from datathon.material import MATHJAX_DIR, _submission_names, discover, parse_parameters, run_material
from worlds import write_tiny_world

GOOD = [
    ("markdown", "# Good\n\nA notebook that runs."),
    ("parameters", 'data_dir = "data_samples"\noutput_path = "submission.csv"\nseed = 0'),
    ("code", "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
             "from IPython.display import display\n"
             "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nax.set_title('a line')\ndisplay(fig)\nplt.close(fig)"),
    ("code", "import pandas as pd\nfrom pathlib import Path\n"
             "test = pd.read_parquet(Path(data_dir) / 'bulletins_test.parquet')\n"
             "pd.DataFrame({'CABBI': test['CABBI'], 'siret': test['SIRETC']})"
             ".to_csv(output_path, sep=';', index=False)"),
    ("code", "from datathon.course import record_metrics\n"
             "record_metrics({'rows': len(test), 'seed': seed, 'data_is_absolute': Path(data_dir).is_absolute()})"),
]
BAD = [
    ("markdown", "# Bad"),
    ("code", 'x = 1\nraise ValueError("boom")'),
    ("code", "y = 2"),
]


def write_notebook(path: Path, cells) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, source in cells:
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            cell = nbformat.v4.new_code_cell(source)
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A repository with the two notebooks and the tiny world as its data."""
    root = tmp_path_factory.mktemp("repo")
    write_notebook(root / "solutions" / "sirene" / "a1" / "good.ipynb", GOOD)
    write_notebook(root / "course" / "sirene" / "bad.ipynb", BAD)
    write_tiny_world(root / "data")
    return root


@pytest.fixture(scope="module")
def material(repo, tmp_path_factory):
    """One run of both notebooks through the Python API (about ten seconds)."""
    out = tmp_path_factory.mktemp("material")
    run = run_material(root=repo, data_dir=repo / "data", out=out, jobs=2, parameters={"seed": 7}, progress=False)
    return run, out


def by_name(run, name):
    return next(r for r in run.results if r.notebook == name)


@pytest.mark.slow
def test_run_reports_a_failure_without_raising(material):
    """Does a run with a failing notebook return, with ok False and that notebook failed?"""
    run, _ = material
    assert not run.ok
    assert [r.notebook for r in run.results] == ["course/sirene/bad.ipynb", "solutions/sirene/a1/good.ipynb"]
    assert [r.status for r in run.results] == ["failed", "ok"]
    assert [r.notebook for r in run.failures] == ["course/sirene/bad.ipynb"]


@pytest.mark.slow
def test_failure_names_the_cell_its_first_line_and_the_exception(material):
    """Is a failure located at the source notebook's cell 2, with its first line and the exception?"""
    run, _ = material
    error = by_name(run, "course/sirene/bad.ipynb").error
    assert error["cell_number"] == 2 and error["cell_index"] == 1
    assert error["first_line"] == "x = 1"
    assert error["exception"] == "ValueError: boom"
    assert "cell 2" in error["message"] and "x = 1" in error["message"] and "ValueError: boom" in error["message"]


@pytest.mark.slow
def test_summary_json_has_seconds_status_and_recorded_metrics(material):
    """Does summary.json hold, per notebook, its status, seconds and the metrics it recorded?"""
    _, out = material
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["ok"] is False and summary["parameters"] == {"seed": 7}
    good = next(n for n in summary["notebooks"] if n["notebook"] == "solutions/sirene/a1/good.ipynb")
    assert good["status"] == "ok" and 0 < good["seconds"] < 60
    # The -p parameter and the absolute data_dir reached the notebook.
    assert good["metrics"] == {"rows": 20, "seed": 7, "data_is_absolute": True}
    bad = next(n for n in summary["notebooks"] if n["notebook"] == "course/sirene/bad.ipynb")
    assert bad["status"] == "failed" and bad["metrics"] is None and bad["error"]["cell_number"] == 2


@pytest.mark.slow
def test_summary_md_has_a_row_per_notebook_and_the_failure(material):
    """Does summary.md list both notebooks and spell out the failure?"""
    _, out = material
    text = (out / "summary.md").read_text(encoding="utf-8")
    assert "1 of 2 notebooks ran" in text
    assert "| [solutions/sirene/a1/good.ipynb](solutions/sirene/a1/good.html) | ok |" in text
    assert "| [course/sirene/bad.ipynb](course/sirene/bad.html) | failed |" in text
    assert "course/sirene/bad.ipynb: cell 2 (`x = 1`) raised ValueError: boom" in text


@pytest.mark.slow
def test_submission_is_written_under_submissions_and_scored(material):
    """Is the notebook's submission in OUT/submissions/<notebook>.csv, and scored on the test truth?"""
    run, out = material
    good = by_name(run, "solutions/sirene/a1/good.ipynb")
    assert good.submission == "submissions/good.csv"
    assert (out / "submissions" / "good.csv").read_text(encoding="utf-8").startswith("CABBI;siret")
    score = good.submission_score
    assert score["split"] == "test" and score["n_bulletins"] == 20
    assert 0 <= score["success_rate"] <= score["coding_rate"] <= 1
    assert by_name(run, "course/sirene/bad.ipynb").submission is None


@pytest.mark.slow
def test_html_renderings_exist_with_embedded_images(material):
    """Is there an HTML rendering of each notebook, failed ones included, with images inlined?"""
    _, out = material
    good = (out / "solutions" / "sirene" / "a1" / "good.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in good
    assert "ValueError" in (out / "course" / "sirene" / "bad.html").read_text(encoding="utf-8")
    assert (out / "course" / "sirene" / "bad.ipynb").exists() and (out / "solutions" / "sirene" / "a1" / "good.ipynb").exists()


@pytest.mark.slow
def test_renderings_load_nothing_from_the_network_and_hide_the_plumbing(material):
    """Does every HTML rendering load no script or style from the network (MathJax comes from OUT/_mathjax,
    whose relative link resolves), and leave out the input of the parameters cells papermill reads and fills?"""
    _, out = material
    for page in out.rglob("*.html"):
        if MATHJAX_DIR in page.parts:
            continue
        html = page.read_text(encoding="utf-8")
        assert not re.findall(r'(?:src|href)="https?://', html), page
        link = re.search(r'src="([^"]*MathJax\.js)\?config=', html)
        assert link and (page.parent / link.group(1)).resolve().is_file(), page
    good = (out / "solutions" / "sirene" / "a1" / "good.html").read_text(encoding="utf-8")
    assert "output_path = " not in good  # the parameters, declared and injected, are plumbing


@pytest.mark.slow
def test_cli_exits_non_zero_and_names_the_notebook_and_cell(repo, tmp_path):
    """Does `datathon material run` exit 1 and name the failing notebook and cell on stderr?"""
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "datathon", "material", "run", "course", "--data", "data", "--out", str(out),
         "--quiet", "-p", "seed=3"],
        cwd=repo, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    assert "course/sirene/bad.ipynb: cell 2 (`x = 1`) raised ValueError: boom" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "| [course/sirene/bad.ipynb](course/sirene/bad.html) | failed |" in proc.stdout
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["notebooks"][0]["status"] == "failed"


# --------------------------------------------------------------------------------------------
# Fast: arguments, discovery, the CLI's refusals
# --------------------------------------------------------------------------------------------


def test_parameters_are_literals_when_they_can_be():
    """Are -p values read as Python literals when they are, and as text otherwise?"""
    assert parse_parameters(["seed=7", "split=train", "rate=0.5", "quoted='x y'", "flag=True", "empty="]) == {
        "seed": 7, "split": "train", "rate": 0.5, "quoted": "x y", "flag": True, "empty": ""}
    assert parse_parameters(["path=a=b"]) == {"path": "a=b"}


@pytest.mark.parametrize("item", ["seed", "=3", "2x=1", "a b=1"])
def test_bad_parameter_syntax_is_a_user_error(item):
    """Is a -p item without key=value, or whose key is no identifier, refused with a UserError?"""
    with pytest.raises(UserError, match="key=value"):
        parse_parameters([item])


def test_discovery_handles_a_missing_or_empty_solutions_directory(tmp_path):
    """Are notebooks found in course/ when solutions/ is missing, then empty, checkpoints left out?"""
    write_notebook(tmp_path / "course" / "sirene" / "a.ipynb", BAD)
    write_notebook(tmp_path / "course" / "sirene" / ".ipynb_checkpoints" / "a-checkpoint.ipynb", BAD)
    assert [name for name, _ in discover(root=tmp_path)] == ["course/sirene/a.ipynb"]
    (tmp_path / "solutions" / "sirene").mkdir(parents=True)
    assert [name for name, _ in discover(root=tmp_path)] == ["course/sirene/a.ipynb"]


def test_a_run_without_notebooks_writes_an_empty_summary(tmp_path):
    """Does a run over empty course/ and solutions/ succeed and say that no notebook was found?"""
    (tmp_path / "course" / "sirene").mkdir(parents=True)
    (tmp_path / "solutions" / "sirene").mkdir(parents=True)
    (tmp_path / "data").mkdir()
    run = run_material(root=tmp_path, data_dir=tmp_path / "data", out=tmp_path / "out", progress=False)
    assert run.ok and run.results == []
    assert "No notebook found." in (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["notebooks"] == []


def test_submission_names_are_the_notebook_names_unless_they_clash():
    """Is a submission named after its notebook, with its assignment prefixed on a clash?"""
    assert _submission_names(["solutions/names/names.ipynb", "solutions/places/places.ipynb"]) == {
        "solutions/names/names.ipynb": "names", "solutions/places/places.ipynb": "places"}
    assert _submission_names(["solutions/a/x.ipynb", "solutions/b/x.ipynb"]) == {
        "solutions/a/x.ipynb": "a-x", "solutions/b/x.ipynb": "b-x"}


@pytest.mark.parametrize("argv, message", [
    (["material", "run", "no-such-dir", "--data", "."], "no notebook or notebook directory no-such-dir"),
    (["material", "run", "--data", ".", "-p", "seed"], "key=value"),
    (["material", "run", "--data", "no-such-data"], "--data: no data directory no-such-data"),
    (["material", "run", "--data", ".", "--jobs", "0"], "--jobs must be"),
])
def test_cli_refuses_bad_arguments_in_one_line(argv, message, tmp_path, monkeypatch, capsys):
    """Does the CLI refuse an unknown notebook directory, a bad -p, a missing --data or --jobs 0
    with exit code 2 and one line, without a traceback?"""
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
