"""datathon.pipeline: partitions by département, the model file, and `datathon match` in this
process, on an embedded Dask cluster and on a Dask cluster started on loopback."""
from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datathon import data, pipeline
from datathon.cli import main
from datathon.errors import UserError
from datathon.evaluate import score_directory
from datathon.matcher import STAGES
from datathon.world.scales import Scale

pytestmark = pytest.mark.slow

# Three small départements: enough to make several partitions, small enough to train in seconds.
TINY = Scale("tiny", departements=3, communes_per_departement=30, establishments_per_departement=1_500,
             bulletins_per_departement=600)
SEED = 12


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from datathon.world import generate

    out = tmp_path_factory.mktemp("pipeline") / "world"
    generate(scale=TINY, seed=SEED, out=out, progress=False, workers=1)
    return out


@pytest.fixture(scope="module")
def model(world) -> pipeline.Model:
    return pipeline.train(world, departements=["35", "01"], progress=False)


@pytest.fixture(scope="module")
def model_file(model, tmp_path_factory) -> Path:
    return model.save(tmp_path_factory.mktemp("model") / "model.pkl")


@pytest.fixture(scope="module")
def local_report(world, model_file, tmp_path_factory) -> pipeline.MatchReport:
    out = tmp_path_factory.mktemp("local") / "submission.csv"
    return pipeline.match(world, model_file, out, workers=0, progress=False)


@pytest.fixture(scope="module")
def local_run(local_report) -> Path:
    return local_report.out


# ------------------------------------------------------------------------------------------------
# Partitions
# ------------------------------------------------------------------------------------------------


def test_partition_puts_each_bulletin_in_its_departement(world, tmp_path):
    """Every bulletin lands in exactly one partition, the one of the département it declares, and
    each partition is a data directory the loader reads."""
    parts = pipeline.partition(world, tmp_path / "parts", progress=False)
    assert [p.name for p in parts] == ["01", "02", "35"]
    ds = data.load(world, with_truth=False)
    for split in ("train", "test"):
        whole = getattr(ds, f"bulletins_{split}")
        seen = []
        for p in parts:
            part = data.load(p.directory, splits=(split,), with_truth=False)
            bulletins = getattr(part, f"bulletins_{split}")
            assert set(pipeline.departements_of(bulletins, ds.communes)) <= {p.name}
            seen.extend(bulletins["CABBI"].tolist())
        assert sorted(seen) == sorted(whole["CABBI"].tolist())


def test_partition_takes_the_departement_its_neighbours_and_mca_candidates(world, tmp_path):
    """A partition's register holds its département's establishments, those of communes adjacent
    across the border, and MCA's candidates; nothing else."""
    copy = tmp_path / "world"
    shutil.copytree(world, copy)
    communes = data.load_frame(copy, "communes.parquet")
    in_01 = communes.loc[communes["code_commune"].str.startswith("01"), "code_commune"].iloc[0]
    in_35 = communes.loc[communes["code_commune"].str.startswith("35"), "code_commune"].iloc[0]
    adjacency = data.load_frame(copy, "communes_adjacentes.csv")
    border = pd.DataFrame({"code_commune": [in_01, in_35], "code_commune_adjacente": [in_35, in_01]})
    pd.concat([adjacency, border]).to_csv(copy / "communes_adjacentes.csv", sep=";", index=False)

    parts = {p.name: p for p in pipeline.partition(copy, tmp_path / "parts", progress=False)}
    register = data.load_register(parts["01"].directory)
    communes_01 = set(register["codeCommuneEtablissement"].dropna())
    from_35 = {c for c in communes_01 if c.startswith("35")}
    assert from_35 and from_35 <= {in_35} | _mca_communes(parts["01"].directory)
    everything = data.load_register(copy)
    assert (everything["codeCommuneEtablissement"] == in_35).sum() <= (register["codeCommuneEtablissement"] == in_35).sum()
    assert not any(c.startswith("02") for c in communes_01 - _mca_communes(parts["01"].directory))


def _mca_communes(directory: Path) -> set[str]:
    register = data.load_register(directory)
    proposed = set()
    for split in ("train", "test"):
        proposed |= set(data.load_bulletins(directory, split)["SIRETC"].dropna())
    return set(register.loc[register["siret"].isin(proposed), "codeCommuneEtablissement"].dropna())


def test_bulletins_without_a_place_are_matched_on_mca_candidates(world, model, tmp_path):
    """Bulletins whose département cannot be read go to the ``unplaced`` partition, whose register
    is their MCA candidates; each still gets a rank-1 line, and only MCA's candidate can be coded."""
    copy = tmp_path / "world"
    shutil.copytree(world, copy)
    test = pd.read_parquet(copy / "bulletins_test.parquet")
    lost = test.index[:20]
    test.loc[lost, ["CLT_X", "DLT_X", "DEPCOM_CODE"]] = None
    test.to_parquet(copy / "bulletins_test.parquet", index=False)
    parts = {p.name: p for p in pipeline.partition(copy, tmp_path / "parts", splits=("test",), progress=False)}
    assert pipeline.UNPLACED in parts
    unplaced = data.load(parts[pipeline.UNPLACED].directory, splits=("test",), with_truth=False)
    assert sorted(unplaced.bulletins_test["CABBI"]) == sorted(test.loc[lost, "CABBI"])
    proposed = set(test.loc[lost, "SIRETC"].dropna())
    assert set(unplaced.etablissements["siret"]) == proposed

    out = tmp_path / "submission.csv"
    pipeline.match(copy, model, out, workers=0, progress=False)
    lines = pd.read_csv(out, sep=";", dtype=str)
    mine = lines[lines["CABBI"].isin(test.loc[lost, "CABBI"])]
    assert (mine["rank"] == "1").sum() == len(lost)
    assert set(mine["siret"].dropna()) <= proposed


def test_partition_refuses_an_existing_directory(world, tmp_path):
    """Partitions go to a new directory: an existing one is left alone, with a clear message."""
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="already exists"):
        pipeline.partition(world, tmp_path / "parts", progress=False)
    assert (tmp_path / "parts" / "keep.txt").read_text() == "mine"


# ------------------------------------------------------------------------------------------------
# The model file
# ------------------------------------------------------------------------------------------------


def test_model_records_what_it_was_trained_on(model, world):
    """The model names the training data's manifest, its départements and its held-out precision."""
    manifest = data.load_manifest(world)
    assert model.trained_on["manifest"]["checksums"] == manifest["checksums"]
    assert model.trained_on["manifest"]["seed"] == SEED
    assert model.departements == ["01", "35"]
    train = data.load_bulletins(world, "train")
    keys = pipeline.departements_of(train, data.load_frame(world, "communes.parquet"))
    assert model.bulletins == int(np.isin(keys, ["01", "35"]).sum())
    assert model.held_out["precision"] >= 0.9
    assert model.coder.reference is None and model.coder.held_out is None
    assert "seed 12" in model.describe()


def test_model_file_round_trip(model, model_file):
    """A saved model loads back with the same threshold, départements and manifest."""
    loaded = pipeline.Model.load(model_file)
    assert loaded.threshold == model.threshold
    assert loaded.departements == model.departements
    assert loaded.trained_on == model.trained_on
    assert loaded.versions["scikit-learn"]


def test_training_departements_take_the_fewest_that_give_enough(world):
    """By default, training takes whole départements, the most labelled first, until enough."""
    train = data.load_bulletins(world, "train")
    train = train[train["SIRET_DEC"].notna()]
    counts = pd.Series(pipeline.departements_of(train, data.load_frame(world, "communes.parquet"))).value_counts()
    most = min(counts.index, key=lambda dep: (-counts[dep], dep))
    assert pipeline.training_departements(world, bulletins=1) == [most]
    assert pipeline.training_departements(world, bulletins=10**9) == ["01", "02", "35"]


@pytest.mark.parametrize("content, message", [
    (None, "no model file"),
    (b"not a pickle at all", "not a datathon model file"),
    (pickle.dumps({"format": "something-else"}), "not a datathon model file"),
    (pickle.dumps({"format": pipeline.MODEL_FORMAT, "version": 1, "features": ["old"]}), "another version"),
])
def test_model_load_refuses_what_is_not_a_model(tmp_path, content, message):
    """A missing, foreign, corrupt or outdated model file is refused with what to do."""
    path = tmp_path / "model.pkl"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        pipeline.Model.load(path)


def test_save_refuses_a_directory(model, tmp_path):
    """Saving over a directory is refused: the model is a file."""
    with pytest.raises(UserError, match="is a directory"):
        model.save(tmp_path)


# ------------------------------------------------------------------------------------------------
# Coding
# ------------------------------------------------------------------------------------------------


def test_match_writes_a_ranked_submission_the_evaluation_accepts(world, local_run):
    """Every test bulletin has a rank-1 line; the evaluation module scores the file, and the
    pipeline codes more bulletins right than MCA."""
    lines = pd.read_csv(local_run, sep=";", dtype=str)
    test = data.load_bulletins(world, "test")
    first = lines[lines["rank"] == "1"]
    assert sorted(first["CABBI"]) == sorted(test["CABBI"])
    assert lines.groupby("CABBI").size().max() <= 5
    result = score_directory(local_run, world)
    mca = test["SIRETC"].notna().mean()
    assert result["precision"] >= 0.85
    assert result["success_rate"] > 0.4 and result["coding_rate"] > mca


def test_match_reports_the_seconds_of_each_stage(local_report):
    """The report sums over partitions the seconds of loading, building the reference and coding,
    and of each coding stage, which together make up the coding time."""
    spent = local_report.work_seconds
    assert set(spent) == {"load", "reference", "code", *STAGES}
    assert sum(spent[s] for s in STAGES) <= spent["code"] + 0.1 * len(STAGES)
    assert spent["code"] > 0 and local_report.partitions == 3


def test_match_on_a_local_dask_cluster_is_identical(world, model_file, local_run, tmp_path):
    """Two local Dask workers write the same bytes as the run in this process."""
    out = tmp_path / "dask.csv"
    report = pipeline.match(world, model_file, out, workers=2, progress=False)
    assert out.read_bytes() == local_run.read_bytes()
    assert report.partitions == 3 and "2 local Dask worker" in report.workers
    assert report.bulletins == len(data.load_bulletins(world, "test"))


def test_match_on_a_dask_cluster_on_loopback_is_identical(world, model_file, local_run, tmp_path, free_port):
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1: `datathon match --scheduler`
    writes the same submission as the local run."""
    dask = Path(sys.executable).parent / "dask"
    address = f"tcp://127.0.0.1:{free_port}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(free_port),
                                   "--no-dashboard"], stdout=subprocess.DEVNULL,
                                  stderr=open(logs / "scheduler.log", "w"), env=env)]
    try:
        for i in range(2):
            processes.append(subprocess.Popen([str(dask), "worker", address, "--nthreads", "1", "--nworkers", "1",
                                               "--no-dashboard", "--name", f"w{i}"], stdout=subprocess.DEVNULL,
                                              stderr=open(logs / f"worker{i}.log", "w"), env=env))
        _wait_for_workers(address, 2)
        out = tmp_path / "cluster.csv"
        code = main(["match", "--data", str(world), "--model", str(model_file), "--out", str(out),
                     "--scheduler", address, "--quiet"])
        assert code == 0
        assert out.read_bytes() == local_run.read_bytes()
    finally:
        for p in reversed(processes):
            p.terminate()
        for p in processes:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def _wait_for_workers(address: str, n: int, timeout: float = 90.0) -> None:
    from distributed import Client

    deadline = time.monotonic() + timeout
    while True:
        try:
            with Client(address, timeout="5s") as client:
                client.wait_for_workers(n, timeout=max(1.0, deadline - time.monotonic()))
                return
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise


def test_match_leaves_the_output_alone_on_error(world, tmp_path):
    """When the model cannot be read, the submission already there stays as it was."""
    out = tmp_path / "submission.csv"
    out.write_text("CABBI;siret\n")
    bad = tmp_path / "model.pkl"
    bad.write_bytes(b"garbage")
    assert main(["match", "--data", str(world), "--model", str(bad), "--out", str(out), "--quiet"]) == 2
    assert out.read_text() == "CABBI;siret\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pkl", "submission.csv"]


@pytest.mark.parametrize("arguments, message", [
    (["--workers", "-1"], "--workers must be 0"),
    (["--scheduler", "localhost:8786"], "not a Dask scheduler address"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "one or the other"),
    (["-k", "0"], "at least 1"),
])
def test_match_refuses_bad_options(world, model_file, tmp_path, capsys, arguments, message):
    """Bad options fail in one line naming the problem, and write nothing."""
    out = tmp_path / "submission.csv"
    code = main(["match", "--data", str(world), "--model", str(model_file), "--out", str(out), "--quiet",
                 *arguments])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_match_names_an_unreachable_scheduler(world, model_file, tmp_path, capsys, free_port, monkeypatch):
    """A scheduler nobody runs is named, with how to start one."""
    monkeypatch.setattr(pipeline, "SCHEDULER_TIMEOUT", "2s")
    out = tmp_path / "submission.csv"
    code = main(["match", "--data", str(world), "--model", str(model_file), "--out", str(out), "--quiet",
                 "--scheduler", f"tcp://127.0.0.1:{free_port}"])
    assert code == 2 and "dask scheduler" in capsys.readouterr().err
    assert not out.exists()


def test_train_cli_writes_a_model(world, tmp_path, capsys):
    """`datathon train` writes a model file that `datathon match` reads, and says what it learnt."""
    out = tmp_path / "model.pkl"
    assert main(["train", "--data", str(world), "--out", str(out), "--departements", "02", "--quiet"]) == 0
    said = capsys.readouterr().out
    assert "wrote" in said and "1 département" in said
    assert pipeline.Model.load(out).departements == ["02"]


def test_train_refuses_a_precision_out_of_range(world, tmp_path, capsys):
    """A target precision outside (0, 1) is refused before any work."""
    assert main(["train", "--data", str(world), "--out", str(tmp_path / "m.pkl"), "--precision", "95"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
    assert not (tmp_path / "m.pkl").exists()
