"""The challenge contract, the registry and the commands around them (docs/challenges.md).

Items 1-4 and 8 of the engine checks (datathon/testing.py, docs/challenges.md §2) run over every
installed challenge on its smallest world of the suite's seed 11; the registry's rules run on fake
entry points. Sirene's own figures are held by tests/test_sirene_golden.py.
"""
from __future__ import annotations

import dataclasses
import json
from importlib.metadata import EntryPoint

import numpy as np
import pandas as pd
import pytest

import datathon.challenges as registry
from datathon.challenge import API, Challenge, Column, Direction, FileSpec, Schema, ScoreType
from datathon import testing
from datathon.cli import main
from datathon.errors import UserError
from worlds import pristine, world  # noqa: F401 (fixtures)

NAMES = list(registry.available())


@pytest.fixture(params=NAMES)
def challenge(request) -> Challenge:
    return registry.get(request.param)


_WORLDS: dict[str, object] = {}


@pytest.fixture
def challenge_world_energy(tmp_path_factory):
    """The energy challenge's world of the suite's seed (for the tests of the checks themselves)."""
    if "energy" not in _WORLDS:
        out = tmp_path_factory.mktemp("world-energy") / "data"
        registry.get("energy").generate(testing.SEED, "sample", out, progress=False)
        _WORLDS["energy"] = out
    return _WORLDS["energy"]


@pytest.fixture
def challenge_world(challenge, world_dir, tmp_path_factory):
    """The challenge's smallest scale generated with the suite's seed, once per worker (Sirene's is the
    session's seed-11 world)."""
    SEED = testing.SEED

    if challenge.name == "sirene":
        return world_dir
    if challenge.name not in _WORLDS:
        out = tmp_path_factory.mktemp(f"world-{challenge.name}") / "data"
        challenge.generate(SEED, challenge.scales[0], out, progress=False)
        _WORLDS[challenge.name] = out
    return _WORLDS[challenge.name]


def _lines(frame: pd.DataFrame) -> list[str]:
    """A submission frame as the lines of the CSV file written from it."""
    return frame.to_csv(sep=";", index=False).splitlines()


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
    """Item 1 (datathon.testing.check_contract): names, texts, scales, a ranking score type first and on
    the board, unique keys, the id column first, hidden columns only in truth files, every column explained."""
    testing.check_contract(challenge)


def test_sirene_declares_what_the_engine_does_today():
    """Sirene declares its truth file, the hidden columns `datathon event bundle` keeps out of the test bulletins,
    its submission format is what `datathon score` reads (columns, lines per bulletin)."""
    from datathon import evaluate, schema

    fmt = registry.get("sirene").submission
    assert (fmt.required, fmt.optional) == (evaluate.REQUIRED_COLUMNS, evaluate.OPTIONAL_COLUMNS)
    assert fmt.max_lines_per_row == evaluate.MAX_LINES_PER_BULLETIN

    sirene = registry.get("sirene").schema
    assert {f.name for f in sirene.files if f.role == "truth"} == {"truth_test.parquet"}
    hidden = {c.name for f in sirene.files for c in f.columns if c.hidden}
    assert hidden == {schema.TRUTH_COLUMN, schema.NOISE_COLUMN}
    assert sirene.file("bulletins_test.parquet").split == "test"  # so a bundle refuses them with the truth


# --------------------------------------------------------------------------- 2. generate and check


def test_check_finds_no_error_in_generated_data(challenge, challenge_world):
    """Item 2 (check): the challenge's check finds no error in a freshly generated world."""
    testing.check_clean(challenge, challenge_world)


# --------------------------------------------------------------------------- 3. reference


def test_reference_scores_like_a_team(challenge, challenge_world, tmp_path):
    """Item 3: the reference, written as CSV and read back as a team's file, scores on every split with
    every score type's key present and a finite ranking value."""
    testing.check_reference(challenge, challenge_world, tmp_path)


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


def test_split_is_deterministic_with_both_parts(challenge, challenge_world):
    """Item 4: the same truth, salt and share give the same mask; both parts are non-empty."""
    testing.check_split(challenge, challenge_world)


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
    assert list(registry.available()) == [*registry.BUILTINS, "wind"]
    assert registry.get("wind") is WIND is registry.get("wind")
    assert [c.name for c in registry.installed()] == [*registry.BUILTINS, "wind"]


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
    with pytest.raises(UserError, match=r"^unknown challenge 'wind' \(installed: sirene, "):
        registry.resolve(data=world)
    monkeypatch.setenv(registry.ENVIRONMENT, "no-such-challenge")
    with pytest.raises(UserError, match="unknown challenge 'no-such-challenge'"):
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


def test_cli_generate_check_reference_score(challenge, challenge_world, tmp_path):
    """Item 8 (and item 2's bytes): `generate --challenge` writes the same files as the suite's world
    of the same seed; `data check` passes; `reference` writes a file that `score --json` scores with
    every score type's key."""
    testing.check_cli(challenge, challenge_world, tmp_path)


def test_a_leaderboard_ranks_the_reference_above_a_degraded_file(challenge, challenge_world, tmp_path):
    """Item 5: whatever the direction of its ranking score, an event ranks the team that submits the
    reference first, and counts a team's better submission under rule best."""
    testing.check_leaderboard(challenge, challenge_world, tmp_path)


def test_assert_challenge_runs_every_check(tmp_path):
    """Does datathon.testing.assert_challenge, what a third party calls, run through on a whole challenge
    (energy: quick to generate), generating twice and scoring through the CLI?"""
    testing.assert_challenge("energy", tmp_path)
    assert (tmp_path / "world" / "manifest.json").is_file() and (tmp_path / "cli-ref.csv").is_file()


class _Leaky(type(registry.get("energy"))):
    """Energy with a public file that declares a column giving the truth away."""

    @property
    def schema(self):
        files = tuple(dataclasses.replace(f, columns=(*f.columns, Column("answer", "float64", "the truth", hidden=True)))
                      if f.role == "public" else f for f in super().schema.files)
        return dataclasses.replace(super().schema, files=files)


class _Flat(type(registry.get("energy"))):
    """Energy whose split puts every row in the public part."""

    def split(self, truth, salt, share):
        return np.ones(len(truth), dtype=bool)


class _Backwards(type(registry.get("energy"))):
    """Energy declaring its errors higher-is-better: the leaderboard would crown the worst forecast."""

    score_types = tuple(dataclasses.replace(t, direction=Direction.HIGHER)
                        for t in type(registry.get("energy")).score_types)


def test_the_checks_fail_on_a_broken_challenge(challenge_world_energy, tmp_path, monkeypatch):
    """Do the kit checks catch a challenge that breaks the contract: a hidden column in a public file, a
    split with an empty part, an error ranked as if higher were better? (A check that cannot fail would let
    any plug-in pass.)"""
    monkeypatch.setitem(registry._loaded, "energy", _Backwards())
    with pytest.raises(AssertionError, match="the reference's team is not first"):
        testing.check_leaderboard("energy", challenge_world_energy, tmp_path)
    monkeypatch.undo()
    with pytest.raises(AssertionError, match="hidden column in a file participants get"):
        testing.check_contract(_Leaky())
    with pytest.raises(AssertionError, match="a part of the split is empty"):
        testing.check_split(_Flat(), challenge_world_energy)


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
    argv = [a.format(tmp=tmp_path, data=world) for a in command] + ["--challenge", "no-such-challenge"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"datathon {command[0]}: error: unknown challenge 'no-such-challenge' (installed: ")
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "material").exists()


def test_reference_refuses_an_unknown_split(world, tmp_path, capsys):
    """`datathon reference --split` accepts only the challenge's splits, in one line."""
    assert main(["reference", "--data", str(world), "--split", "dev", "--out", str(tmp_path / "r.csv")]) == 2
    assert capsys.readouterr().err == "datathon reference: error: unknown split 'dev': choose train or test\n"


def test_cli_data_dictionary_writes_the_challenges_readme(challenge, challenge_world, tmp_path, capsys):
    """`datathon data dictionary DIR` writes DIR/README.md, the challenge's own dictionary of those files; a
    directory it cannot describe, or none at all, is one line, exit 2, nothing written."""
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(challenge_world, copy)
    (copy / "README.md").unlink(missing_ok=True)
    assert main(["data", "dictionary", str(copy)]) == 0
    assert (copy / "README.md").read_text(encoding="utf-8") == challenge.dictionary(copy)
    assert main(["data", "dictionary", str(tmp_path / "nowhere"), "--challenge", challenge.name]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_generate_sample_is_the_committed_sample(tmp_path, capsys):
    """Does `datathon generate --sample` refuse a scale, seed or directory given with it, and does every
    challenge that ships a sample declare its seed and smallest scale, as `make sample` uses them?"""
    assert main(["generate", "--sample", "--seed", "1"]) == 2
    assert "--sample sets the scale, the seed and the directory" in capsys.readouterr().err
    assert main(["generate", "--challenge", "sirene"]) == 2
    assert "give --scale, --seed, --out (or --sample" in capsys.readouterr().err
    for challenge in registry.installed():
        sample = challenge.material("data_samples")
        if sample is not None and sample.is_dir():
            manifest = json.loads((sample / "manifest.json").read_text(encoding="utf-8"))
            assert (manifest["seed"], manifest["scale"]) == (challenge.sample_seed, challenge.scales[0])
