"""The course and solution notebooks, and the package helpers they share (datathon.course, datathon.plots).

Every notebook of course/ and solutions/ is committed without outputs and opens the same way: a
title, a ``parameters`` cell whose first assignment is ``data_dir``, then the environment check.
One slow test executes them all with ``datathon material run`` on data_samples/.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from datathon import course, evaluate, plots  # noqa: E402
from datathon.luhn import luhn_check_digit  # noqa: E402
from datathon.material import discover, run_material  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = discover(["course", "solutions"], root=ROOT)  # every challenge's notebooks


def read(path: Path):
    return nbformat.read(path, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_the_course_has_its_first_notebooks():
    """Are 00_challenge and 01_data among the notebooks the checks below cover?"""
    names = [name for name, _ in NOTEBOOKS]
    assert "course/sirene/00_challenge.ipynb" in names and "course/sirene/01_data.ipynb" in names


@pytest.mark.parametrize("name, path", NOTEBOOKS, ids=[n for n, _ in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(name, path):
    """Is every code cell of the notebook free of outputs and execution counts?"""
    dirty = [i + 1 for i, c in enumerate(read(path).cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("name, path", NOTEBOOKS, ids=[n for n, _ in NOTEBOOKS])
def test_notebook_cells_have_unique_ids(name, path):
    """Does every cell carry an id, unique in the notebook (nbformat 4.5), so that diffs stay stable?"""
    nb = read(path)
    ids = [c.get("id") for c in nb.cells]
    assert all(ids) and len(set(ids)) == len(ids), f"{name}: missing or repeated cell ids"


@pytest.mark.parametrize("name, path", NOTEBOOKS, ids=[n for n, _ in NOTEBOOKS])
def test_notebook_opens_with_a_title(name, path):
    """Is the first cell a Markdown title (`# ...`) followed by a line saying what the notebook is for?"""
    first = read(path).cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), f"{name}: no title cell first"
    assert len([line for line in first.source.splitlines() if line.strip()]) >= 2, f"{name}: a title alone"


@pytest.mark.parametrize("name, path", NOTEBOOKS, ids=[n for n, _ in NOTEBOOKS])
def test_notebook_has_a_parameters_cell_starting_with_data_dir(name, path):
    """Is the first code cell tagged `parameters`, with `data_dir = None` its first assignment (the event's data,
    $DATATHON_DATA, when set; else the public sample)?"""
    cells = code_cells(read(path))
    assert cells and "parameters" in cells[0].metadata.get("tags", []), f"{name}: no parameters cell first"
    assignments = [node for node in ast.parse(cells[0].source).body if isinstance(node, ast.Assign)]
    first = assignments[0] if assignments else None
    assert first is not None and ast.unparse(first) == "data_dir = None", \
        f"{name}: the parameters cell must start with data_dir = None"


@pytest.mark.parametrize("name, path", NOTEBOOKS, ids=[n for n, _ in NOTEBOOKS])
def test_notebook_checks_its_environment_right_after_its_parameters(name, path):
    """Does the code cell after the parameters call datathon.course.check_environment?"""
    cells = code_cells(read(path))
    assert len(cells) >= 2 and "check_environment(" in cells[1].source, \
        f"{name}: the second code cell must be the environment check"


@pytest.mark.slow
@pytest.mark.parametrize("challenge", sorted({Path(name).parts[1] for name, _ in NOTEBOOKS}))
def test_material_run_over_the_course_succeeds(tmp_path, challenge):
    """Does `datathon material run --challenge C` execute every notebook of the challenge on its sample,
    with an HTML rendering that shows its plots? (How long each takes is measured in summary.md, not
    asserted: the machines are shared.)"""
    run = run_material(root=ROOT, challenge=challenge, out=tmp_path / "material", jobs=2, progress=False)
    assert run.ok, "\n".join(r.describe_failure() for r in run.failures)
    mine = [name for name, _ in NOTEBOOKS if Path(name).parts[1] == challenge]
    assert [r.notebook for r in run.results] == mine
    for r in run.results:
        html = (tmp_path / "material" / r.html).read_text(encoding="utf-8")
        if any("plt." in c.source for c in code_cells(read(ROOT / r.notebook))):
            assert "data:image/png;base64," in html, f"{r.notebook}: no plot in its HTML rendering"
    summary = json.loads((tmp_path / "material" / "summary.json").read_text(encoding="utf-8"))
    assert summary["ok"] and len(summary["notebooks"]) == len(mine)


# --------------------------------------------------------------------------------------------
# datathon.course: the environment check
# --------------------------------------------------------------------------------------------


@pytest.fixture
def data_repo(tmp_path):
    """A repository-like tree: data_samples/ with two files, and course/ below which notebooks run."""
    data = tmp_path / "data_samples"
    data.mkdir()
    (data / "etablissements.parquet").write_bytes(b"")
    (data / "bulletins_train.csv").write_text("CABBI;RS_X\n", encoding="utf-8")
    (data / "manifest.json").write_text(json.dumps({"kind": "synthetic", "scale": "sample", "seed": 5}))
    (tmp_path / "course").mkdir()
    return tmp_path


def test_environment_check_prints_one_block_and_returns_the_absolute_directory(data_repo, monkeypatch, capsys):
    """From a notebook's directory, is data_samples found above, returned absolute, and the status printed?"""
    monkeypatch.chdir(data_repo / "course")
    found = course.check_environment("data_samples", required=["etablissements.parquet", "bulletins_train.parquet"])
    assert found == (data_repo / "data_samples").resolve()
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0].startswith("✓ Python 3.")
    assert "numpy" in lines[1] and "pandas" in lines[1] and "scikit-learn" in lines[1]
    assert "seed 5" in lines[2] and "2 needed files present" in lines[2]  # the .csv stands for the .parquet


def test_environment_check_says_how_to_get_a_missing_sample_file(data_repo, monkeypatch, capsys):
    """Does a missing file of data_samples raise EnvironmentProblem naming it and `make sample`?"""
    monkeypatch.chdir(data_repo)
    with pytest.raises(course.EnvironmentProblem) as caught:
        course.check_environment("data_samples", required=["etablissements.parquet", "adresses.parquet"])
    assert "adresses.parquet" in caught.value.message and "make sample" in caught.value.message
    assert "✗ data" in capsys.readouterr().out
    # In a notebook it shows as one line, without a traceback.
    assert len(caught.value._render_traceback_()) == 1


def test_environment_check_on_a_missing_directory_suggests_datathon_generate(tmp_path, monkeypatch):
    """Does a data directory that exists nowhere raise a problem suggesting `datathon generate`?"""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(course.EnvironmentProblem, match="datathon generate --scale sample --seed N --out event-data"):
        course.check_environment("event-data", quiet=True)


def test_environment_check_explains_a_missing_test_truth(data_repo):
    """Does a missing truth_test.parquet say that the instructor keeps it apart?"""
    report = course.environment_report(data_repo / "data_samples", ["truth_test.parquet"])
    assert report.missing_files == ["truth_test.parquet"]
    assert "kept apart by the instructor" in report.problems()[0]


def test_old_python_and_missing_packages_are_problems_other_versions_warnings(data_repo, monkeypatch):
    """Are Python < 3.11 and a missing package problems, and a version other than the pin a warning only?"""
    report = course.environment_report(data_repo / "data_samples", [], python=(3, 10, 4),
                                       packages=["numpy", "no-such-package-xyz"])
    problems = " ".join(report.problems())
    assert "Python 3.10.4 is too old" in problems and "no-such-package-xyz is not installed" in problems
    monkeypatch.setattr(course, "pinned_versions", lambda: {"numpy": "0.0.1"})
    report = course.environment_report(data_repo / "data_samples", [], packages=["numpy"])
    assert report.problems() == []
    assert "the kit pins 0.0.1" in report.warnings()[0] and "warning:" in report.format()


def test_pins_are_those_of_pyproject():
    """Are the pins the check compares with those of pyproject.toml, runtime and development ones?"""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = course.pinned_versions()
    assert f"pandas=={pins['pandas']}" in project["dependencies"]
    assert f"nbval=={pins['nbval']}" in project["optional-dependencies"]["dev"]


def test_find_data_dir_prefers_the_working_directory_then_its_parents(tmp_path):
    """Is a relative data directory looked for in the start directory first, then upwards?"""
    (tmp_path / "d").mkdir()
    (tmp_path / "course" / "d").mkdir(parents=True)
    assert course.find_data_dir("d", start=tmp_path / "course") == (tmp_path / "course" / "d").resolve()
    assert course.find_data_dir("d", start=tmp_path / "other") == (tmp_path / "d").resolve()
    assert course.find_data_dir(tmp_path / "nope") is None


# --------------------------------------------------------------------------------------------
# datathon.course: real figures, metrics records, measures of the training bulletins
# --------------------------------------------------------------------------------------------


def test_real_figures_derive_the_workload():
    """Do the real figures give 44.5 % automatic, 88.4 % precision and 943,500 bulletins by hand?"""
    assert course.REAL.mca_auto == pytest.approx(0.445)
    assert course.REAL.mca_precision == pytest.approx(0.884)
    assert course.REAL.manual_bulletins == 943_500 and course.REAL.person_months == 350


def test_recorded_metrics_round_trip_through_a_notebook_output(monkeypatch):
    """Does record_metrics display a metrics bundle that recorded_metrics finds again, the last one winning?"""
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    course.record_metrics({"rate": np.float64(0.5), "n": np.int64(3), "none": float("nan")})
    course.record_metrics({"rate": 0.75})
    assert "metrics: rate = 0.5" in shown[0]["text/plain"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("display_data", data=bundle) for bundle in shown])]
    assert course.recorded_metrics(nb) == {"rate": 0.75}
    assert course.recorded_metrics(nbformat.v4.new_notebook()) is None
    assert shown[0][course.METRICS_MIMETYPE] == {"rate": 0.5, "n": 3, "none": None}


@pytest.fixture
def labelled():
    """Six labelled bulletins and the four establishments they name."""
    bulletins = pd.DataFrame({
        "CABBI": ["1", "2", "3", "4", "5", "6"],
        "RS_X": ["BOULANGERIE DUPONT", "MAIRIE", "BOULANGERI DUPONT", None, "CHEZ M X", "GARAGE"],
        "ACTET_X": ["BOULANGERIE", "SERVICES", None, None, "MENAGE", "REPARATION"],
        "NUMVOI_X": ["1", None, None, None, None, "3"],
        "TYPEVOI_X": ["RUE", None, None, None, None, "RUE"],
        "NOMVOI_X": ["DE LA GARE", None, None, None, None, "DU PORT"],
        "CLT_X": ["RENNES", "BRUZ", "RENNES", "RENNES", "RENNES", "BETTON"],
        "ILT_X": ["2", "2", "2", "2", "2", "2"],
        "DEPCOM_CODE": ["35238"] * 6,
        "VARDOMPART_X": ["1", "2", "1", "1", "3", "1"],
        "TYPCOL": pd.array([0, 1, 0, 1, 1, 1], dtype="Int8"),
        "SIRETC": ["A", None, "A", None, None, "C"],
        "I_MCA_C": pd.array([1, 7, 2, None, None, 1], dtype="Int8"),
        "SIRET_DEC": ["A", "B", "A", None, None, "D"],
        "NOISE": [None, "mairie|neighbouring_commune", "typos|missing_address", "blank_answer",
                  "household_employer", "typos"],
    }).astype({c: "string" for c in ["CABBI", "RS_X", "ACTET_X", "SIRETC", "SIRET_DEC", "NOISE"]})
    register = pd.DataFrame({
        "siret": ["A", "B", "C", "D"],
        "denominationUniteLegale": ["DUPONT SARL", "COMMUNE DE BRUZ", "GARAGE X", "GARAGE DU PORT"],
        "enseigne1Etablissement": ["BOULANGERIE DUPONT", None, None, None],
        "denominationUsuelleEtablissement": [None, "MEDIATHEQUE", None, None],
        "sigleUniteLegale": [None, None, None, None],
        "nomUniteLegale": [None] * 4, "prenom1UniteLegale": [None] * 4,
        "numeroVoieEtablissement": ["1", "2", "3", "3"],
        "typeVoieEtablissement": ["RUE", "PL", "RUE", "RUE"],
        "libelleVoieEtablissement": ["DE LA GARE", "DE LA MAIRIE", "DU PORT", "DU PORT"],
        "libelleCommuneEtablissement": ["RENNES", "BRUZ", "BETTON", "BETTON"],
        "codeCommuneEtablissement": ["35238", "35047", "35024", "35024"],
        "activitePrincipaleEtablissement": ["10.71C", "84.11Z", "45.20A", "45.20A"],
    })
    return bulletins, register


def test_mechanism_frequencies_count_each_mechanism_and_the_clean_ones(labelled):
    """Are mechanisms counted once per bulletin, with shares overall and per collection mode?"""
    freq = course.mechanism_frequencies(labelled[0])
    assert freq.loc["typos", "n"] == 2 and freq.index[0] == "typos"
    assert freq.loc["typos", "share"] == pytest.approx(2 / 6)
    assert freq.loc["typos", "paper"] == pytest.approx(1 / 2) and freq.loc["typos", "internet"] == pytest.approx(1 / 4)
    assert freq.loc["clean", "n"] == 1 and freq.loc["clean", "level"] == ""
    assert freq.loc["mairie", "level"] == "name" and freq.loc["missing_address", "level"] == "address"


def test_mca_by_class_gives_decisions_coding_rates_and_precision(labelled):
    """Does each MCA class get its decision, bulletins, codings and precision (class 0: no candidate)?"""
    table = course.mca_by_class(labelled[0])
    assert list(table.index) == list(range(10))
    assert table.loc[1, ["bulletins", "coded", "right"]].tolist() == [2, 2, 1]
    assert table.loc[1, "precision"] == pytest.approx(0.5) and table.loc[1, "decision"] == "validated"
    assert table.loc[0, "bulletins"] == 2 and table.loc[0, "decision"] == "no candidate"
    assert table.loc[7, "coding_rate"] == 0 and np.isnan(table.loc[7, "precision"])
    assert table.loc[2, "levels"] == "good/fair"


def test_mechanism_examples_show_the_declared_and_the_registered_side_by_side(labelled):
    """Does each mechanism get examples with the field it touches, declared next to the register's?"""
    bulletins, register = labelled
    naf = pd.DataFrame({"code": ["45.20A"], "libelle": ["Entretien et réparation de véhicules"]})
    ex = course.mechanism_examples(bulletins, register, per_mechanism=2, naf=naf)
    assert set(ex["mechanism"]) == {"mairie", "neighbouring_commune", "typos", "missing_address",
                                    "blank_answer", "household_employer"}
    assert (ex["mechanism"] == "typos").sum() == 2
    mairie = ex[ex["mechanism"] == "mairie"].iloc[0]
    assert mairie["field"] == "name" and mairie["declared"] == "MAIRIE"
    assert mairie["register"] == "COMMUNE DE BRUZ [usual name MEDIATHEQUE]"
    commune = ex[ex["mechanism"] == "neighbouring_commune"].iloc[0]
    assert commune["field"] == "workplace" and commune["declared"] == "BRUZ"
    assert commune["register"] == "2 PL DE LA MAIRIE, BRUZ (35047)"
    assert ex[ex["mechanism"] == "blank_answer"].iloc[0]["register"] == "— (no SIRET)"
    assert "VARDOMPART_X = 3" in ex[ex["mechanism"] == "household_employer"].iloc[0]["declared"]


def test_by_mechanism_turns_the_score_breakdown_into_a_frame(labelled):
    """Does by_mechanism give MCA's success rate per mechanism from evaluate.score's by_noise?"""
    bulletins, _ = labelled
    sub = course.mca_submission(bulletins)
    assert list(sub.columns) == ["CABBI", "siret"] and sub["siret"].isna().sum() == 3
    sirets = {k: body + luhn_check_digit(body) for k, body in
              {"A": "1234567800010", "B": "1234567800020", "C": "1234567800030", "D": "1234567800040"}.items()}
    sub = sub.assign(siret=sub["siret"].map(sirets))
    truth = bulletins.assign(SIRET_DEC=bulletins["SIRET_DEC"].map(sirets), SIRETC=sub["siret"])
    per = course.by_mechanism(evaluate.score(sub, truth))
    assert per.loc["clean", "success_rate"] == 1.0 and per.loc["typos", "n"] == 2
    assert per.loc["typos", "precision"] == pytest.approx(0.5) and per.loc["mairie", "level"] == "name"
    assert course.by_mechanism({"by_noise": None}).empty


# --------------------------------------------------------------------------------------------
# datathon.plots
# --------------------------------------------------------------------------------------------


def test_barh_labels_every_bar_first_value_on_top():
    """Does barh draw one labelled bar per value, the first at the top, with a percent axis?"""
    fig, ax = plt.subplots()
    plots.barh(ax, pd.Series({"first": 0.5, "second": 0.25}), title="t", xlabel="share")
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["50%", "25%"]
    ticks = sorted(zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()]), reverse=True)
    assert [label for _, label in ticks] == ["first", "second"]
    assert ax.get_title(loc="left") == "t" and ax.get_xlabel() == "share"
    plt.close(fig)


def test_barh_groups_the_columns_of_a_frame_with_a_legend():
    """Does a DataFrame give one bar per column and label, with a legend naming the columns?"""
    fig, ax = plt.subplots()
    frame = pd.DataFrame({"paper": [0.4, 0.1], "internet": [0.2, 0.05]}, index=["typos", "acronym"])
    plots.barh(ax, frame, colors=plots.MODE_COLORS, reference=(0.3, "mean"))
    assert len(ax.patches) == 4 and len(ax.texts) == 5  # four values and the reference's label
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["paper", "internet"]
    plt.close(fig)


def test_the_real_sample_has_the_files_every_notebook_checks():
    """Do the committed samples' files satisfy the environment check of every notebook of their challenge?"""
    if not (ROOT / "data_samples" / "sirene" / "manifest.json").exists():
        pytest.skip("no data_samples/ (make sample)")
    for name, path in NOTEBOOKS:
        tree = ast.parse(code_cells(read(path))[1].source)
        call = next((n for n in ast.walk(tree) if isinstance(n, ast.Call)
                     and getattr(n.func, "id", getattr(n.func, "attr", "")) == "check_environment"), None)
        if call is None:
            continue
        given = [k.value for k in call.keywords if k.arg == "required"] + call.args[1:2]
        try:
            required = ast.literal_eval(given[0]) if given else course.DEFAULT_REQUIRED
        except ValueError:  # computed in the notebook: the slow run checks it
            continue
        challenge = Path(name).parts[1]  # course/<challenge>/…, solutions/<challenge>/…
        report = course.environment_report(ROOT / "data_samples" / challenge, required)
        assert report.problems() == [], f"{name}: {report.problems()}"
