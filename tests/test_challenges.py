"""The challenge contract, the registry and the commands around them (docs/challenges.md).

Items 1-4 and 8 of the engine checks of docs/challenges.md §2 run over every installed
challenge (only Sirene today) on the suite's seed-11 sample world; the registry's rules run on
fake entry points. Sirene's own figures are held by tests/test_sirene_golden.py.
"""
from __future__ import annotations

import json
import math
from importlib.metadata import EntryPoint

import numpy as np
import pandas as pd
import pytest

import datathon.challenges as registry
from datathon.challenge import API, Challenge, Column, Direction, FileSpec, Schema, ScoreType
from datathon.cli import main
from datathon.errors import UserError
from worlds import pristine, world  # noqa: F401 (fixtures)

NAMES = list(registry.available())


@pytest.fixture(params=NAMES)
def challenge(request) -> Challenge:
    return registry.get(request.param)


def _lines(frame: pd.DataFrame) -> list[str]:
    """A submission frame as the lines of the CSV file written from it."""
    return frame.to_csv(sep=";", index=False).splitlines()


def _errors(problems) -> list:
    return [p for p in problems if p.level == "error"]


# --------------------------------------------------------------------------- the contract's types


def test_direction_says_which_is_better_and_sorts_best_first():
    """HIGHER prefers the larger value, LOWER the smaller; sorting by sort_key puts the best first;
    equal values are never strictly better."""
    values = [0.2, 0.9, 0.5]
    assert Direction.HIGHER.better(0.9, 0.5) and not Direction.HIGHER.better(0.5, 0.9)
    assert Direction.LOWER.better(0.2, 0.5) and not Direction.LOWER.better(0.5, 0.2)
    assert not Direction.HIGHER.better(0.5, 0.5) and not Direction.LOWER.better(0.5, 0.5)
    assert sorted(values, key=Direction.HIGHER.sort_key)[0] == 0.9
    assert sorted(values, key=Direction.LOWER.sort_key)[0] == 0.2


def test_score_type_reads_nested_keys_and_formats_values():
    """A dotted key reaches into nested results; percent and number formats follow `digits`; None
    shows as n/a; a missing key is a KeyError; an unknown format is refused when declared."""
    t = ScoreType("coverage.p95", "coverage", Direction.HIGHER, digits=2)
    assert t.value({"coverage": {"p95": 0.4567}}) == 0.4567
    assert t.display(0.4567) == "45.67 %"
    assert ScoreType("mase", "MASE", Direction.LOWER, format="number", digits=3).display(0.81234) == "0.812"
    assert t.display(None) == "n/a"
    with pytest.raises(KeyError):
        t.value({"coverage": {}})
    with pytest.raises(ValueError, match="format"):
        ScoreType("x", "x", Direction.LOWER, format="ratio")


def test_schema_finds_files_and_refuses_unknown_roles():
    """Schema.file returns a file's spec by name (KeyError otherwise); a FileSpec role other than
    public, truth or aux is refused."""
    spec = FileSpec("a.csv", (Column("id", "string", "the row"),))
    assert Schema((spec,), id_column="id").file("a.csv") is spec
    with pytest.raises(KeyError):
        Schema((spec,), id_column="id").file("b.csv")
    with pytest.raises(ValueError, match="role"):
        FileSpec("a.csv", (), role="secret")


def test_a_challenge_must_implement_every_method():
    """A subclass that leaves out part of the contract cannot be instantiated."""
    class Half(Challenge):
        def generate(self, seed, scale, out, **options):
            return {}

    with pytest.raises(TypeError, match="abstract"):
        Half()


# --------------------------------------------------------------------------- 1. contract


def test_contract_is_filled(challenge):
    """Item 1: names and texts filled, API version and scales declared, a ranking score type first
    and on the board, score keys unique, the split kind known, the id column first in the submission and present in
    the truth files, hidden columns only in truth files, and every column of every file with a meaning."""
    assert challenge.api == API and challenge.title and challenge.version and challenge.scales
    assert challenge.reference_name and challenge.split_kind in ("hash", "time")
    assert challenge.ranking is challenge.score_types[0] and challenge.ranking.on_board
    keys = [t.key for t in challenge.score_types]
    assert len(keys) == len(set(keys))
    assert challenge.submission.required[0] == challenge.schema.id_column
    truth_files = [f for f in challenge.schema.files if f.role == "truth"]
    assert truth_files and all(challenge.schema.id_column in {c.name for c in f.columns} for f in truth_files)
    assert not [c for f in challenge.schema.files if f.role != "truth" for c in f.columns if c.hidden]
    unexplained = [(f.name, c.name) for f in challenge.schema.files for c in f.columns if not c.meaning.strip()]
    assert unexplained == []


def test_sirene_declares_what_the_engine_does_today():
    """Sirene's truth files and hidden columns are those `datathon event bundle` keeps out today, and
    its submission format is what `datathon score` reads (columns, lines per bulletin)."""
    from datathon import evaluate, event

    fmt = registry.get("sirene").submission
    assert (fmt.required, fmt.optional) == (evaluate.REQUIRED_COLUMNS, evaluate.OPTIONAL_COLUMNS)
    assert fmt.max_lines_per_row == evaluate.MAX_LINES_PER_BULLETIN

    sirene = registry.get("sirene").schema
    assert {f.name for f in sirene.files if f.role == "truth"} <= set(event.TRUTH_FILES)
    hidden = {c.name for f in sirene.files for c in f.columns if c.hidden}
    assert hidden == set(event.HIDDEN_TEST_COLUMNS)


# --------------------------------------------------------------------------- 2. generate and check


def test_check_finds_no_error_in_generated_data(challenge, world_dir):
    """Item 2 (check): the challenge's check finds no error in a freshly generated world."""
    assert _errors(challenge.check(world_dir)) == []


# --------------------------------------------------------------------------- 3. reference


@pytest.mark.parametrize("split", ["test", "train"])
def test_reference_scores_like_a_team(challenge, world_dir, tmp_path, split):
    """Item 3: the reference, written as CSV and read back as a team's file, scores with every
    score type's key present and a finite ranking value."""
    path = tmp_path / "reference.csv"
    challenge.reference(world_dir, split).to_csv(path, sep=";", index=False)
    truth = challenge.load_truth(world_dir, split)
    submission = challenge.read_submission(path, known_ids=truth[challenge.schema.id_column])
    metrics = challenge.score(submission, truth, context=challenge.context(world_dir, truth))
    json.dumps(metrics, allow_nan=False)  # JSON-able, nothing non-finite
    for score_type in challenge.score_types:
        score_type.value(metrics)  # KeyError when absent
    assert math.isfinite(challenge.ranking.value(metrics))


@pytest.mark.parametrize("split", ["test", "train"])
def test_sirene_reference_is_the_mca_rerun(world_dir, split):
    """Sirene's reference (the recorded MCA codings, SIRETC) equals the replica's re-run line for line,
    and a directory without SIRETC gets the re-run."""
    from datathon.mca import run_mca_on_directory

    rerun = run_mca_on_directory(world_dir, split)
    assert _lines(registry.get("sirene").reference(world_dir, split)) == _lines(rerun)


def test_sirene_reference_without_recorded_codings_reruns_the_mca(world_dir, monkeypatch):
    """On a directory whose bulletins lack SIRETC, Sirene's reference is the MCA replica's output."""
    import datathon.data
    from datathon.mca import run_mca_on_directory

    real = datathon.data.load_bulletins
    monkeypatch.setattr(datathon.data, "load_bulletins",
                        lambda directory, split, **kw: real(directory, split, **kw).drop(columns="SIRETC"))
    expected = run_mca_on_directory(world_dir, "test")
    assert _lines(registry.get("sirene").reference(world_dir, "test")) == _lines(expected)


# --------------------------------------------------------------------------- 4. split


def test_split_is_deterministic_with_both_parts(challenge, world_dir):
    """Item 4: the same truth, salt and share give the same mask; both parts are non-empty."""
    truth = challenge.load_truth(world_dir, "test")
    mask = challenge.split(truth, "a salt", challenge.default_public_share)
    assert mask.dtype == bool and len(mask) == len(truth)
    assert np.array_equal(mask, challenge.split(truth, "a salt", challenge.default_public_share))
    assert 0 < mask.sum() < len(mask)


# --------------------------------------------------------------------------- registry


def _entry_points(monkeypatch, *pairs: tuple[str, str]) -> None:
    eps = [EntryPoint(name, value, registry.GROUP) for name, value in pairs]
    monkeypatch.setattr(registry, "entry_points", lambda group: [e for e in eps if e.group == group])
    monkeypatch.setattr(registry, "_loaded", {})


class _Renamed(type(registry.get("sirene"))):
    name = "wind"


class _OldApi(type(registry.get("sirene"))):
    name = "old"
    api = API + 1


WIND = _Renamed()
OLD = _OldApi()
NOT_A_CHALLENGE = object()


def test_registry_merges_built_ins_with_entry_points(monkeypatch):
    """A package's entry point adds its challenge beside the built-ins; our own pyproject's
    declaration of a built-in with the same source is no clash; get() caches what it loads."""
    _entry_points(monkeypatch, ("sirene", registry.BUILTINS["sirene"]), ("wind", f"{__name__}:WIND"))
    assert list(registry.available()) == ["sirene", "wind"]
    assert registry.get("wind") is WIND is registry.get("wind")
    assert [c.name for c in registry.installed()] == ["sirene", "wind"]


def test_the_built_ins_survive_stale_metadata(monkeypatch):
    """With no entry point at all (an old egg-info), the built-in table still lists Sirene."""
    _entry_points(monkeypatch)
    assert registry.get("sirene").name == "sirene"


@pytest.mark.parametrize("pairs, message", [
    ((("sirene", "elsewhere:CHALLENGE"),), "two challenges are named 'sirene': datathon.challenges.sirene:CHALLENGE "
                                           "and elsewhere:CHALLENGE"),
    ((("wind", "a:CHALLENGE"), ("wind", "b:CHALLENGE")), "two challenges are named 'wind': a:CHALLENGE and b:CHALLENGE"),
])
def test_a_name_clash_is_one_line_naming_both(monkeypatch, pairs, message):
    """Two sources for one name, built-in or not, are refused in one line that names both."""
    _entry_points(monkeypatch, *pairs)
    with pytest.raises(UserError, match=message) as err:
        registry.available()
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("source, name, message", [
    ("no_such_module_here:CHALLENGE", "gone", "cannot load no_such_module_here:CHALLENGE"),
    (f"{__name__}:NOT_A_CHALLENGE", "thing", "is a object, not a Challenge"),
    (f"{__name__}:OLD", "old", "written for contract version 2"),
    (f"{__name__}:WIND", "breeze", "calls itself 'wind'"),
])
def test_a_broken_plug_in_is_one_line(monkeypatch, source, name, message):
    """A source that does not import, is no Challenge, has another API version or another name is
    refused in one line naming the challenge."""
    _entry_points(monkeypatch, (name, source))
    with pytest.raises(UserError, match=message) as err:
        registry.get(name)
    assert str(err.value).startswith(f"challenge {name!r}") and "\n" not in str(err.value)


def test_resolve_follows_option_manifest_environment(world, tmp_path, monkeypatch):
    """--challenge wins; else the manifest's `challenge` (none: sirene); else $DATATHON_CHALLENGE;
    an unknown name or one contradicting the manifest is one line."""
    monkeypatch.setenv(registry.ENVIRONMENT, "sirene")
    assert registry.resolve().name == registry.resolve("sirene", data=world).name == "sirene"
    manifest = json.loads((world / "manifest.json").read_text())
    (world / "manifest.json").write_text(json.dumps({**manifest, "challenge": "wind"}))
    with pytest.raises(UserError, match=r"^--challenge sirene, but .*manifest.json says wind$"):
        registry.resolve("sirene", data=world)
    with pytest.raises(UserError, match=r"^unknown challenge 'wind' \(installed: sirene\)"):
        registry.resolve(data=world)
    monkeypatch.setenv(registry.ENVIRONMENT, "energy")
    with pytest.raises(UserError, match="unknown challenge 'energy'"):
        registry.resolve(data=tmp_path)  # no manifest there: the environment decides


# --------------------------------------------------------------------------- 8. CLI


def test_challenges_lists_what_is_installed(capsys):
    """`datathon challenges` names each challenge with its title, score types and their direction,
    and its reference; --json gives the same as data."""
    assert main(["challenges"]) == 0
    out = capsys.readouterr().out
    assert "sirene: Who is the employer?" in out
    assert "success rate (higher is better; ranks)" in out and "reference: MCA" in out
    assert main(["challenges", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in listed] == NAMES
    assert listed[0]["score_types"][0] == {"key": "success_rate", "label": "success rate", "direction": "higher"}


def test_cli_generate_check_reference_score(challenge, world_dir, tmp_path, capsys):
    """Item 8 (and item 2's bytes): `generate --challenge` writes the same files as the suite's world
    of the same seed; `data check` passes; `reference` writes a file that `score --json` scores with
    every score type's key."""
    from golden.record import SEED, file_digests

    out = tmp_path / "data"
    scale = challenge.scales[0]
    assert main(["generate", "--challenge", challenge.name, "--scale", scale, "--seed", str(SEED),
                 "--out", str(out), "--quiet"]) == 0
    assert file_digests(out) == file_digests(world_dir)
    assert main(["data", "check", str(out), "--challenge", challenge.name]) == 0
    assert main(["reference", "--data", str(out), "--out", str(tmp_path / "ref.csv")]) == 0
    capsys.readouterr()
    assert main(["score", str(tmp_path / "ref.csv"), "--data", str(out), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    for score_type in challenge.score_types:
        score_type.value(metrics)


def test_reference_writes_the_same_bytes_as_mca(world_dir, tmp_path):
    """`datathon reference` for Sirene writes exactly the file `datathon mca` writes (the train split's
    lines are compared by test_sirene_reference_is_the_mca_rerun)."""
    ref, mca = tmp_path / "ref.csv", tmp_path / "mca.csv"
    assert main(["reference", "--data", str(world_dir), "--out", str(ref)]) == 0
    assert main(["mca", "--data", str(world_dir), "--out", str(mca)]) == 0
    assert ref.read_bytes() == mca.read_bytes()


@pytest.mark.parametrize("command", [
    ["generate", "--scale", "sample", "--seed", "1", "--out", "{tmp}/out"],
    ["data", "check", "{data}"],
    ["reference", "--data", "{data}", "--out", "{tmp}/ref.csv"],
    ["score", "{tmp}/sub.csv", "--data", "{data}"],
    ["material", "run", "--data", "{data}", "--out", "{tmp}/material"],
    ["grade", "a1_names", "--data", "{data}"],
], ids=lambda c: " ".join(c[:2]))
def test_unknown_challenge_is_one_line(world, tmp_path, capsys, command):
    """Every command taking --challenge refuses an unknown name in one line, exit 2, before any work."""
    argv = [a.format(tmp=tmp_path, data=world) for a in command] + ["--challenge", "energy"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"datathon {command[0]}: error: unknown challenge 'energy' (installed: ")
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "material").exists()


def test_reference_refuses_an_unknown_split(world, tmp_path, capsys):
    """`datathon reference --split` accepts only the challenge's splits, in one line."""
    assert main(["reference", "--data", str(world), "--split", "dev", "--out", str(tmp_path / "r.csv")]) == 2
    assert capsys.readouterr().err == "datathon reference: error: unknown split 'dev': choose train or test\n"
