"""datathon/world/__init__.py: generate() and `datathon generate`, end to end."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import datathon
import datathon.world as world
from datathon.cli import main
from datathon.errors import UserError
from datathon.world import generate, noise
from datathon.world.scales import Scale
from datathon.world.seeds import is_short, parse_seed, seed_warning

DATA_FILES = ["etablissements.parquet", "communes.parquet", "communes_adjacentes.csv", "adresses.parquet",
              "bulletins_train.parquet", "bulletins_test.parquet", "truth_test.parquet", "naf.csv"]
ALL_FILES = sorted(DATA_FILES + ["manifest.json"])
PUBLIC_SEED = 20180118  # the committed data_samples' seed: used only to check them


def run_cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "datathon", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)


def manifest_of(directory: Path) -> dict:
    return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))


def tree(directory: Path) -> dict[str, bytes]:
    """Every file under a directory, by relative path, with its bytes."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def leftovers(out: Path) -> list[str]:
    """Temporary directories generate() may have left beside ``out``."""
    return [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


def assert_one_line_error(result_or_err: str, *words: str) -> None:
    lines = result_or_err.strip().splitlines()
    assert len(lines) == 1, result_or_err
    assert "Traceback" not in result_or_err
    for w in words:
        assert w in lines[0], (w, lines[0])


# -- determinism ----------------------------------------------------------------------------------------

GENERATE_IN_ANOTHER_PROCESS = """
import sys
import datathon.world as world
from datathon.world.scales import Scale
world.SCALES["sample"] = Scale(*sys.argv[2:3], *map(int, sys.argv[3:7]))
world.generate(scale="sample", seed=11, out=sys.argv[1], progress=False)
"""


def test_same_seed_same_bytes(tmp_path, tiny_scale):
    """Is the same seed written to the same bytes, file by file, even in another process with another
    string-hash seed (the manifest apart)?"""
    generate(scale="sample", seed=11, out=tmp_path / "here", progress=False)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    t = tiny_scale
    result = subprocess.run([sys.executable, "-c", GENERATE_IN_ANOTHER_PROCESS, str(tmp_path / "there"), t.name,
                             *map(str, (t.departements, t.communes_per_departement,
                                        t.establishments_per_departement, t.bulletins_per_departement))],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "there").iterdir()) == ALL_FILES
    for name in DATA_FILES:
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes(), name
    a, b = manifest_of(tmp_path / "here"), manifest_of(tmp_path / "there")
    assert set(a) == set(b)
    assert {k for k in a if a[k] != b[k]} <= {"generated_at"}


def test_different_seeds_differ(tmp_path, tiny_scale):
    """Do two seeds give different registers, geography and bulletins (only naf.csv alike)?"""
    generate(scale="sample", seed=11, out=tmp_path / "a", progress=False)
    generate(scale="sample", seed=12, out=tmp_path / "b", progress=False)
    for name in DATA_FILES:
        same = (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert same == (name == "naf.csv"), name
    assert manifest_of(tmp_path / "a")["seed"] == 11 and manifest_of(tmp_path / "b")["seed"] == 12


def test_workers_do_not_change_the_bytes(tmp_path, monkeypatch):
    """Does a two-département world come out the same whether generated on one core or two?"""
    monkeypatch.setitem(world.SCALES, "sample", Scale("sample", 2, 15, 800, 300))
    generate(scale="sample", seed=11, out=tmp_path / "one", progress=False, workers=1)
    generate(scale="sample", seed=11, out=tmp_path / "two", progress=False, workers=2)
    for name in DATA_FILES:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    assert manifest_of(tmp_path / "one")["departements"] == ["35", "01"]


def test_fewer_departements_are_the_first_ones_of_more(tmp_path, monkeypatch):
    """Is a world of one département (``--departements 1``) the first département of the same seed's
    two-département world, row for row?"""
    monkeypatch.setitem(world.SCALES, "sample", Scale("sample", 2, 15, 800, 300))
    generate(scale="sample", seed=11, out=tmp_path / "two", progress=False, workers=1)
    assert main(["generate", "--scale", "sample", "--seed", "11", "--departements", "1", "--quiet",
                 "--out", str(tmp_path / "one")]) == 0
    assert manifest_of(tmp_path / "one")["departements"] == ["35"]
    one = pd.read_parquet(tmp_path / "one" / "etablissements.parquet")
    two = pd.read_parquet(tmp_path / "two" / "etablissements.parquet")
    first = two[two["codeCommuneEtablissement"].str.startswith("35")].reset_index(drop=True)
    pd.testing.assert_frame_equal(one, first)


def test_committed_sample_is_the_public_seed(sample_world, repo_root):
    """Is data_samples/ byte for byte what the generator writes today for the public seed (the same seed
    gives the same bytes at sample scale, in another process, and the committed sample is not stale)?"""
    committed = repo_root / "data_samples" / "sirene"
    fresh = sample_world(PUBLIC_SEED)
    again = f"stale: `datathon generate --scale sample --seed {PUBLIC_SEED} --out data_samples --force`"
    for name in DATA_FILES:
        assert (committed / name).read_bytes() == (fresh / name).read_bytes(), f"{name} is {again}"
    a, b = manifest_of(committed), manifest_of(fresh)
    assert {k for k in set(a) | set(b) if a.get(k) != b.get(k)} <= {"generated_at"}


def test_generate_departement_returns_every_file(tiny_scale):
    """Does generate_departement give one frame per file, in the schema's columns, train and test apart?"""
    from datathon.schema import FILES
    from datathon.world.geography import make_departements
    from datathon.world.register import make_national_units

    dep = make_departements(1)[0]
    frames = world.generate_departement(11, dep, tiny_scale, make_national_units(np.random.default_rng([11, 10_000])))
    assert set(frames) == set(FILES)
    for name, frame in frames.items():
        assert list(frame.columns) == list(FILES[name]), name
        assert len(frame) > 0, name
    n = len(frames["bulletins_train.parquet"]) + len(frames["bulletins_test.parquet"])
    assert n == tiny_scale.bulletins_per_departement
    assert frames["truth_test.parquet"]["CABBI"].tolist() == frames["bulletins_test.parquet"]["CABBI"].tolist()
    assert not set(frames["bulletins_train.parquet"]["CABBI"]) & set(frames["bulletins_test.parquet"]["CABBI"])


# -- seeds and passphrases ---------------------------------------------------------------------------

PASSPHRASE = "copper lantern drifts over a quiet meadow"


def test_digits_are_the_integer_they_write(tmp_path, tiny_scale):
    """Is `--seed 11` the integer 11 (the world of generate(seed=11) and of seed="11", byte for byte, the
    manifest's seed 11), and is the committed sample's seed still its own number?"""
    generate(scale="sample", seed=11, out=tmp_path / "int", progress=False)
    generate(scale="sample", seed="11", out=tmp_path / "str", progress=False)
    assert main(["generate", "--scale", "sample", "--seed", "11", "--out", str(tmp_path / "cli"), "--quiet"]) == 0
    for other in ("str", "cli"):
        for name in DATA_FILES:
            assert (tmp_path / "int" / name).read_bytes() == (tmp_path / other / name).read_bytes(), (other, name)
        a, b = manifest_of(tmp_path / "int"), manifest_of(tmp_path / other)
        assert {k for k in a if a[k] != b[k]} <= {"generated_at"} and b["seed"] == 11
    assert parse_seed(str(PUBLIC_SEED)) == PUBLIC_SEED
    assert parse_seed("007") == 7 and parse_seed(str(2**200)) == 2**200 and parse_seed(np.int64(5)) == 5


def test_a_passphrase_is_the_first_128_bits_of_its_sha256():
    """Is a passphrase's seed the first 16 bytes of the SHA-256 of its UTF-8 (NFC) bytes, read big-endian,
    so that the same words always give the same world and an accent typed either way is the same?"""
    expected = int.from_bytes(hashlib.sha256(PASSPHRASE.encode("utf-8")).digest()[:16], "big")
    assert parse_seed(PASSPHRASE) == expected and 2**64 < expected < 2**128
    decomposed = "cafe\u0301 cre\u0300me bru\u0302le\u0301e au four"  # accents as combining characters
    assert parse_seed("café crème brûlée au four") == parse_seed(decomposed)
    assert parse_seed("eleven") != parse_seed("Eleven") != parse_seed("eleven ")


def test_a_passphrase_world_records_the_integer_not_the_passphrase(tmp_path, tiny_scale):
    """Does a passphrase world's manifest record the derived integer, which regenerates the same bytes,
    while no file holds the passphrase?"""
    generate(scale="sample", seed=PASSPHRASE, out=tmp_path / "words", progress=False)
    seed = manifest_of(tmp_path / "words")["seed"]
    assert seed == parse_seed(PASSPHRASE)
    assert not [p.name for p in (tmp_path / "words").iterdir() if PASSPHRASE.encode() in p.read_bytes()]
    assert main(["generate", "--scale", "sample", "--seed", str(seed), "--out", str(tmp_path / "int"), "--quiet"]) == 0
    for name in DATA_FILES:
        assert (tmp_path / "words" / name).read_bytes() == (tmp_path / "int" / name).read_bytes(), name


@pytest.mark.parametrize("seed", ["", "   ", "-3", "+3", " 11", "11 ", "1_000", 1.5, True, -1, None])
def test_seeds_that_are_neither_are_refused(seed):
    """Are an empty seed, text that looks like a number but is not plain digits, and other types refused
    with a UserError naming --seed (rather than hashed as a passphrase by mistake)?"""
    with pytest.raises(UserError, match="--seed"):
        parse_seed(seed)


@pytest.mark.parametrize("seed, short", [
    ("11", True), (str(PUBLIC_SEED), True), (str(2**64 - 1), True), (str(2**64), False),
    ("eleven", True), ("my secret seed 2026", True), ("correct horse battery", True),
    (PASSPHRASE, False), ("maple orbit quietly fennel", False), ("3f9a1c0e7b2d4a6f8e1c3b5d7a9f0e2c", False),
])
def test_short_seeds_are_told_apart(seed, short):
    """Is a seed short (guessable) when it is a number below 2**64, or a passphrase of fewer than 20
    characters or, below 32, fewer than four words?"""
    assert is_short(seed) is short


def test_a_short_seed_draws_one_warning_line(tmp_path, tiny_scale, capsys):
    """Does `datathon generate` with a short seed still write the world, then warn on one stderr line that
    a guessed seed rebuilds the truth and an event wants a long passphrase; and a long one not?"""
    assert main(["generate", "--scale", "sample", "--seed", "11", "--out", str(tmp_path / "a"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"wrote {tmp_path / 'a'}")
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("datathon generate: warning: "), captured.err
    assert "anyone who guesses the seed rebuilds the truth" in lines[0] and "five random words" in lines[0]
    assert main(["generate", "--scale", "sample", "--seed", PASSPHRASE, "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_the_committed_sample_draws_no_warning(repo_root, tmp_path):
    """Is the public seed written to the kit's own data_samples/ (`make sample`) free of the warning, and
    the same seed anywhere else not?"""
    assert seed_warning(str(PUBLIC_SEED), repo_root / "data_samples" / "sirene") is None
    assert seed_warning(str(PUBLIC_SEED), tmp_path / "event-data") is not None


# -- the manifest --------------------------------------------------------------------------------------

def test_manifest_describes_the_world(world_dir):
    """Has the manifest the seed, scale, version, département list and a timezone-aware timestamp?"""
    m = manifest_of(world_dir)
    assert m["seed"] == 11 and m["scale"] == "sample" and m["kind"] == "synthetic"
    assert m["version"] == datathon.__version__
    assert m["departements"] == ["35"]
    assert datetime.fromisoformat(m["generated_at"]).tzinfo is not None


def test_manifest_rows_are_the_real_row_counts(world_dir):
    """Are the manifest's row counts those of the files?"""
    rows = manifest_of(world_dir)["rows"]
    actual = {name: pq.ParquetFile(world_dir / name).metadata.num_rows
              for name in DATA_FILES if name.endswith(".parquet")}
    with open(world_dir / "communes_adjacentes.csv", encoding="utf-8") as f:
        actual["communes_adjacentes.csv"] = sum(1 for _ in f) - 1
    assert rows == actual
    assert rows["bulletins_train.parquet"] + rows["bulletins_test.parquet"] == 15_000
    assert rows["truth_test.parquet"] == rows["bulletins_test.parquet"]


def test_manifest_noise_rates(world_dir):
    """Does the manifest record every mechanism with its level, internet and paper rates?"""
    recorded = manifest_of(world_dir)["noise"]
    assert set(recorded) == {m.name for m in noise.MECHANISMS}
    for m in noise.MECHANISMS:
        assert recorded[m.name]["internet"] == m.internet and recorded[m.name]["paper"] == m.paper
        assert recorded[m.name]["level"] == m.level and recorded[m.name]["description"]


def test_manifest_checksums_match(world_dir):
    """Does the manifest hold a sha256 for every other file, each matching the file's bytes?"""
    checksums = manifest_of(world_dir)["checksums"]
    assert sorted(checksums) == sorted(DATA_FILES)
    for name, digest in checksums.items():
        assert hashlib.sha256((world_dir / name).read_bytes()).hexdigest() == digest, name


def test_manifest_mca_summary_matches_the_files(world_frames, world_dir):
    """Are the manifest's MCA figures those of the bulletins' SIRETC against the truth?"""
    summary = manifest_of(world_dir)["mca"]
    train = world_frames["bulletins_train"]
    test = world_frames["bulletins_test"].merge(world_frames["truth_test"], on="CABBI")
    for split, b in (("train", train), ("test", test)):
        coded = b["SIRETC"].notna()
        right = (b["SIRETC"] == b["SIRET_DEC"]).fillna(False)
        assert summary[split]["bulletins"] == len(b)
        assert summary[split]["coding_rate"] == pytest.approx(coded.mean(), abs=1e-4)
        assert summary[split]["precision"] == pytest.approx(right.sum() / coded.sum(), abs=1e-4)


def test_generate_returns_the_written_manifest(tmp_path, tiny_scale):
    """Does generate() return the manifest it wrote (version, checksums and all)?"""
    returned = generate(scale="sample", seed=11, out=tmp_path / "w", progress=False)
    assert returned == manifest_of(tmp_path / "w")


# -- the output directory ---------------------------------------------------------------------------

def test_non_empty_directory_is_refused(tmp_path):
    """Is a non-empty --out refused without --force, its content untouched, nothing left behind?"""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="--force"):
        generate(scale="sample", seed=11, out=out, progress=False)
    assert tree(out) == {"notes.txt": b"mine"}
    assert not leftovers(out)


def test_non_empty_directory_is_refused_by_the_command(tmp_path):
    """Does `datathon generate` into a non-empty directory exit 2 with one line and no traceback?"""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = run_cli("generate", "--scale", "sample", "--seed", 11, "--out", out, "--quiet")
    assert result.returncode == 2
    assert_one_line_error(result.stderr, "--force", "not empty")
    assert result.stdout == ""
    assert tree(out) == {"notes.txt": b"mine"}


def test_force_replaces_a_previous_world(tmp_path, tiny_scale, capsys):
    """Does --force write the world over a previous one, every file and checksum new, nothing left behind?"""
    out = tmp_path / "out"
    out.mkdir()
    (out / "etablissements.parquet").write_bytes(b"an old register")
    (out / "manifest.json").write_text('{"seed": 1}')
    assert main(["generate", "--scale", "sample", "--seed", "11", "--out", str(out), "--force", "--quiet"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ALL_FILES
    manifest = manifest_of(out)
    assert manifest["seed"] == 11
    for name, digest in manifest["checksums"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    assert not leftovers(out)


def test_empty_directory_and_new_parents_are_accepted(tmp_path, tiny_scale):
    """Are an existing empty directory, and a path whose parents do not exist yet, accepted?"""
    empty = tmp_path / "empty"
    empty.mkdir()
    generate(scale="sample", seed=11, out=empty, progress=False)
    deep = tmp_path / "a" / "b" / "world"
    generate(scale="sample", seed=11, out=deep, progress=False)
    assert sorted(p.name for p in empty.iterdir()) == ALL_FILES == sorted(p.name for p in deep.iterdir())


def test_a_file_as_out_is_refused(tmp_path):
    """Is an --out that is a file refused, the file untouched?"""
    out = tmp_path / "world"
    out.write_text("a file")
    with pytest.raises(UserError, match="not a directory"):
        generate(scale="sample", seed=11, out=out, progress=False, force=True)
    assert out.read_text() == "a file"


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failure_midway_leaves_the_previous_directory(tmp_path, monkeypatch, error):
    """Does a failure midway (an error, or Ctrl-C) leave the previous --out untouched and no temp dir?"""
    out = tmp_path / "out"
    (out / "old").mkdir(parents=True)
    (out / "manifest.json").write_text('{"seed": 1}')
    (out / "old" / "bulletins.csv").write_bytes(b"CABBI;siret\n1;2\n")
    before = tree(out)
    seen = []

    def fail(*args, **kwargs):
        seen.extend(leftovers(out))  # the temporary directory exists when the work fails
        raise error

    monkeypatch.setattr(world, "generate_departement", fail)
    with pytest.raises(type(error)):
        generate(scale="sample", seed=11, out=out, progress=False, force=True)
    assert seen, "the failure should happen after the temporary directory is made"
    assert tree(out) == before
    assert not leftovers(out)


def test_a_failure_on_a_new_directory_leaves_nothing(tmp_path, monkeypatch):
    """Does a failure when writing to a new --out leave neither --out nor a temp dir?"""
    out = tmp_path / "new"
    monkeypatch.setattr(world, "generate_departement", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        generate(scale="sample", seed=11, out=out, progress=False)
    assert not out.exists()
    assert not leftovers(out)


def test_a_failure_while_swapping_keeps_the_previous_directory(tmp_path, tiny_scale, monkeypatch):
    """If moving the new world into place fails, is the previous --out still there, whole?"""
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text('{"seed": 1}')
    before = tree(out)
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(src).name.startswith(f".{out.name}."):
            raise OSError("simulated failure of the final rename")
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(world.os, "replace", replace)
    with pytest.raises(OSError):
        generate(scale="sample", seed=11, out=out, progress=False, force=True)
    monkeypatch.undo()
    assert out.is_dir() and tree(out) == before
    assert not leftovers(out)


# -- arguments --------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["--scale", "galaxy", "--seed", "1"], ["unknown scale 'galaxy'", "sample, departement, campaign"]),
    (["--scale", "sample"], ["give --seed"]),
])
def test_bad_arguments_are_usage_errors(tmp_path, capsys, args, words):
    """Are an unknown scale (the challenge's scales named) and a missing seed refused in one line, exit 2,
    no traceback, nothing written?"""
    out = tmp_path / "w"
    assert main(["generate", *args, "--out", str(out)]) == 2
    assert_one_line_error(capsys.readouterr().err, "datathon generate: error:", *words)
    assert not out.exists()


@pytest.mark.parametrize("args, words", [
    (["--seed", "-3"], ["--seed", "non-negative"]),
    (["--seed", " 11"], ["--seed", "digits"]),
    (["--seed", ""], ["--seed", "empty"]),
    (["--seed", "1", "--unites-legales", "ul.csv"], ["--unites-legales", "--register"]),
])
def test_bad_values_are_one_line_errors(tmp_path, capsys, args, words):
    """Are a negative seed, a number with a space, an empty seed and --unites-legales without --register
    one-line errors, exit 2, nothing written (and no short-seed warning beside the error)?"""
    out = tmp_path / "w"
    assert main(["generate", "--scale", "sample", *args, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert_one_line_error(captured.err, "datathon generate: error:", *words)
    assert not out.exists() and not leftovers(out)


@pytest.mark.parametrize("kwargs, match", [
    ({"scale": "galaxy", "seed": 1}, "scale"),
    ({"scale": "sample", "seed": -1}, "seed"),
    ({"scale": "sample", "seed": 1.5}, "seed"),
    ({"scale": "sample", "seed": ""}, "seed"),
    ({"scale": "sample", "seed": True}, "seed"),
    ({"scale": "sample", "seed": 1, "departements": 0}, "--departements"),
    ({"scale": "campaign", "seed": 1, "departements": 500}, "--departements"),
])
def test_bad_api_arguments_raise_user_errors(tmp_path, kwargs, match):
    """Does generate() refuse an unknown scale and a seed that is neither a non-negative integer nor a passphrase?"""
    with pytest.raises(UserError, match=match):
        generate(out=tmp_path / "w", progress=False, **kwargs)
    assert not (tmp_path / "w").exists()


# -- progress and rates ------------------------------------------------------------------------------

def test_progress_bar_runs(tmp_path, tiny_scale, capsys):
    """Does generation with progress=True show a bar on stderr and still write the world?"""
    generate(scale="sample", seed=11, out=tmp_path / "w", progress=True)
    assert "generating sample" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ALL_FILES


def test_quiet_means_no_bar(tmp_path, tiny_scale, capsys):
    """Does --quiet keep the progress bar off stderr?"""
    assert main(["generate", "--scale", "sample", "--seed", "11", "--out", str(tmp_path / "w"), "--quiet"]) == 0
    assert "generating" not in capsys.readouterr().err


def test_overridden_rates_are_applied_and_recorded(tmp_path, tiny_scale):
    """Does a rate override change the world, and does the manifest record the rate actually used?"""
    out = tmp_path / "w"
    generate(scale="sample", seed=11, out=out, progress=False, rates={"closed_distractor": 0.0})
    states = pq.read_table(out / "etablissements.parquet", columns=["etatAdministratifEtablissement"]).column(0)
    assert set(states.to_pylist()) == {"A"}
    recorded = manifest_of(out)["noise"]["closed_distractor"]
    assert (recorded["internet"], recorded["paper"]) == (0.0, 0.0)


def test_a_bulletin_rate_override_is_applied_or_refused(tmp_path, tiny_scale):
    """Is an override of a declaration mechanism (typos) either applied or refused, never ignored?"""
    out = tmp_path / "w"
    try:
        generate(scale="sample", seed=11, out=out, progress=False, rates={"typos": 0.0})
    except UserError:
        return
    bulletins = pq.read_table(out / "bulletins_train.parquet", columns=["NOISE"]).column(0).to_pylist()
    assert not any("typos" in (n or "").split("|") for n in bulletins)


def test_an_unknown_rate_is_refused(tmp_path, tiny_scale):
    """Is a rate for a mechanism that does not exist (a typo in its name) refused?"""
    with pytest.raises(UserError, match="homonym_nearbyy"):
        generate(scale="sample", seed=11, out=tmp_path / "w", progress=False, rates={"homonym_nearbyy": 0.5})
