"""datathon/event.py: `datathon event bundle`, the data participants receive.

Issue 12: with the seed of the event's manifest, a participant rebuilt truth_test.parquet byte for
byte. Here the event's world is drawn from a passphrase, bundled, and then attacked as a
participant would: every integer and string of the bundle is tried as a seed.
"""
from __future__ import annotations

import functools
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import datathon.world as world
from datathon import schema
from datathon.check import run_check
from datathon.cli import main
from datathon.data import load
from datathon.errors import UserError
from datathon.event import bundle

#: The columns that give a test bulletin's truth away (SIRET_DEC, NOISE), as Sirene declares them.
HIDDEN_TEST_COLUMNS = (schema.TRUTH_COLUMN, schema.NOISE_COLUMN)
from datathon.world import generate
from datathon.world.geography import make_communes, make_departements
from datathon.world.scales import Scale
from datathon.world.seeds import parse_seed
from worlds import pristine, read, rewrite, world as tiny_world  # noqa: F401 (pristine and tiny_world are fixtures)

TINY = Scale("sample", 1, 20, 1_500, 800)  # conftest's tiny_scale, as a value a module fixture can use
PASSPHRASE = "copper lantern drifts over a quiet meadow"
PUBLIC = ["etablissements.parquet", "communes.parquet", "communes_adjacentes.csv", "adresses.parquet",
          "bulletins_train.parquet", "bulletins_test.parquet", "naf.csv"]


@pytest.fixture(scope="module")
def event(tmp_path_factory) -> Path:
    """The event's data directory, drawn from a passphrase (read-only)."""
    out = tmp_path_factory.mktemp("event") / "event-data"
    generate(scale=TINY, seed=PASSPHRASE, out=out, progress=False)
    return out


@pytest.fixture(scope="module")
def handed_out(event) -> Path:
    """The participants' bundle of the event (read-only)."""
    out = event.parent / "bundle"
    bundle(event, out)
    return out


def one_line_error(capsys, argv: list[str], *words: str) -> str:
    """Run the CLI, expecting exit 2 and one readable line on stderr that holds ``words``."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


# -- the attacker ----------------------------------------------------------------------------------

def tokens(text: str) -> set[str]:
    """What a seed could be written as in a text: its lines, words, fields between separators,
    backticked and quoted parts, runs of digits (``1,471`` as ``1471`` too)."""
    parts = set(text.splitlines()) | set(text.split()) | set(re.split(r"[;,|:=()\s]+", text))
    parts |= set(re.findall(r"`([^`]+)`", text)) | set(re.findall(r'"([^"]+)"', text))
    parts |= set(re.findall(r"\d+", text)) | {m.replace(",", "") for m in re.findall(r"\d[\d,]*\d", text)}
    return {p.strip() for p in parts if p.strip()}


def json_scalars(value) -> set:
    """Every key and scalar of a JSON value."""
    if isinstance(value, dict):
        return set(value) | {s for v in value.values() for s in json_scalars(v)}
    if isinstance(value, list):
        return {s for v in value for s in json_scalars(v)}
    return {value}


def candidate_seeds(directory: Path) -> set[int]:
    """Every seed a participant can make of what the directory's files hold: the integers, hex
    strings and texts of its text files and JSON, its parquet files' metadata and integer columns,
    each text as `datathon generate --seed TEXT` reads it."""
    texts: set[str] = set()
    seeds: set[int] = set()
    for path in sorted(directory.iterdir()):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            for key, value in (table.schema.metadata or {}).items():
                texts |= tokens(key.decode()) | tokens(value.decode())
            for name, column in zip(table.column_names, table.columns):
                if pd.api.types.is_integer_dtype(column.type.to_pandas_dtype()):
                    seeds |= {int(v) for v in column.to_pylist() if v is not None and v >= 0}
            continue
        text = path.read_text(encoding="utf-8")
        texts |= tokens(text)
        if path.suffix == ".json":
            scalars = json_scalars(json.loads(text))
            seeds |= {s for s in scalars if isinstance(s, int) and not isinstance(s, bool) and s >= 0}
            texts |= {str(s) for s in scalars}
    for text in list(texts):  # a hex digest, or its first 128 bits, read as a number
        for h in re.findall(r"[0-9a-f]{8,}", text):
            seeds |= {int(h, 16), int(h[:32], 16)}
    for text in texts:
        try:
            seeds.add(parse_seed(text))
        except UserError:  # `datathon generate` refuses it: not a seed anyone can use
            pass
    return seeds


def seeds_of_this_world(directory: Path) -> list[int]:
    """The candidate seeds whose world begins as the directory's does.

    A world's first draws are its first département's communes: a seed that does not give the
    directory's communes gives another world (another register, other bulletins, another truth), so
    only the seeds that do are worth a whole generation. Each costs a millisecond.
    """
    public = pd.read_parquet(directory / "communes.parquet")
    return [seed for seed in sorted(candidate_seeds(directory))
            if first_communes(seed)[list(public.columns)].reset_index(drop=True).equals(public)]


@functools.lru_cache(maxsize=None)  # the two attacks share most candidates
def first_communes(seed: int) -> pd.DataFrame:
    """The communes of the first département of a tiny world of that seed, as the generator draws them."""
    dep = make_departements(1)[0]
    return make_communes(world._seed(seed, dep, 1), dep, TINY.communes_per_departement,
                         TINY.population_per_departement)


def test_the_attack_works_on_the_instructors_data(event, tmp_path):
    """Control: does the attack find the seed in the event's own directory (its manifest), and does
    `datathon generate` with it rebuild truth_test.parquet byte for byte, as in issue 12? (Without
    this, an attack that finds nothing in the bundle would prove nothing.)"""
    found = seeds_of_this_world(event)
    assert found == [parse_seed(PASSPHRASE)]
    generate(scale=TINY, seed=found[0], out=tmp_path / "rebuilt", progress=False)
    assert (tmp_path / "rebuilt" / "truth_test.parquet").read_bytes() == (event / "truth_test.parquet").read_bytes()


def test_nothing_in_the_bundle_rebuilds_the_truth(handed_out, event, tmp_path, tiny_scale):
    """Does no integer or string of the bundle (manifest, data dictionary, CSV files, parquet metadata
    and integer columns), tried as a seed, begin the event's world? And does `datathon generate` with
    each integer of the public manifest write another truth than the event's?"""
    candidates = candidate_seeds(handed_out)
    assert len(candidates) > 1000  # the attacker did read the files
    assert seeds_of_this_world(handed_out) == []
    truth = (event / "truth_test.parquet").read_bytes()
    manifest = json.loads((handed_out / schema.MANIFEST).read_text(encoding="utf-8"))
    numbers = sorted({s for s in json_scalars(manifest) if type(s) is int})
    assert numbers, manifest
    for seed in numbers:
        out = tmp_path / str(seed)
        assert main(["generate", "--scale", "sample", "--seed", str(seed), "--out", str(out), "--quiet"]) == 0
        assert (out / "truth_test.parquet").read_bytes() != truth, seed
        shutil.rmtree(out)


# -- what the bundle holds --------------------------------------------------------------------------

def test_the_bundle_holds_the_public_files_as_they_are(handed_out, event):
    """Does the bundle hold the public files, byte for byte, a manifest and the data dictionary, and
    nothing else (no truth_test.parquet)?"""
    assert sorted(p.name for p in handed_out.iterdir()) == sorted([*PUBLIC, "manifest.json", "README.md"])
    for name in PUBLIC:
        assert (handed_out / name).read_bytes() == (event / name).read_bytes(), name


def test_the_public_manifest_keeps_no_secret(handed_out, event):
    """Has the public manifest no seed, no row count or checksum of the truth, MCA's train figures
    only, and otherwise the event manifest's values, in its order?"""
    secret = json.loads((event / schema.MANIFEST).read_text(encoding="utf-8"))
    public = json.loads((handed_out / schema.MANIFEST).read_text(encoding="utf-8"))
    assert list(public) == ["generator", "version", "kind", "scale", "departements", "rows", "noise", "mca",
                            "generated_at", "checksums"]
    assert list(public) == [k for k in secret if k in public]
    assert public["rows"] == {k: v for k, v in secret["rows"].items() if k != "truth_test.parquet"}
    assert public["checksums"] == {k: v for k, v in secret["checksums"].items() if k != "truth_test.parquet"}
    assert public["mca"] == {"train": secret["mca"]["train"]}
    for key in ("generator", "version", "kind", "scale", "departements", "noise", "generated_at"):
        assert public[key] == secret[key], key


def test_no_file_of_the_bundle_holds_a_secret(handed_out, event):
    """Does no file of the bundle, in its bytes or (parquet) its decoded values, hold the passphrase,
    the seed (in decimal or hex), the truth's checksum, or the way to regenerate the data?"""
    seed = parse_seed(PASSPHRASE)
    truth_sum = json.loads((event / schema.MANIFEST).read_text(encoding="utf-8"))["checksums"]["truth_test.parquet"]
    secrets = [PASSPHRASE, str(seed), f"{seed:x}", f"{seed:X}", truth_sum]
    for path in handed_out.iterdir():
        raw = path.read_bytes()
        assert not [s for s in secrets if s.encode() in raw], path.name
        if path.suffix == ".parquet":
            values = {str(v) for column in pq.read_table(path).columns for v in column.unique().to_pylist()}
            assert not values & set(secrets), path.name
    readme = (handed_out / "README.md").read_text(encoding="utf-8")
    assert "--seed" not in readme and "make sample" not in readme and "### `truth_test.parquet`" not in readme
    assert "truth is not here" in readme


def test_the_bundle_checks_clean_and_loads(handed_out):
    """Does `datathon data check` find no problem in a bundle, and does data.load read it, without a
    truth and with the public manifest?"""
    assert run_check(handed_out).problems == []
    assert main(["data", "check", str(handed_out)]) == 0
    ds = load(handed_out)
    assert ds.truth_test is None and "seed" not in ds.manifest
    assert not set(HIDDEN_TEST_COLUMNS) & set(ds.bulletins_test.columns)


def test_the_command_says_what_it_wrote_and_what_stays_secret(event, tmp_path, capsys):
    """Does `datathon event bundle` list the files it wrote, what it left out, and end with one line
    saying what the instructor keeps?"""
    out = tmp_path / "bundle"
    assert main(["event", "bundle", "--data", str(event), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"wrote {out}: ") and all(n in lines[0] for n in [*PUBLIC, "README.md"])
    assert lines[1].startswith("left out: ") and "truth_test.parquet (the test truth)" in lines[1]
    assert lines[2].startswith(f"keep {event} to yourself") and f"hand out {out} only" in lines[2]


def test_force_replaces_a_previous_bundle(event, tmp_path):
    """Does --force replace a non-empty directory's files with the bundle, whole?"""
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "old.txt").write_text("from before")
    bundle(event, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == sorted([*PUBLIC, "manifest.json", "README.md"])


# -- what it refuses --------------------------------------------------------------------------------

@pytest.mark.parametrize("case, words", [
    ("missing data", ["no data directory"]),
    ("out is the data", ["is, or is inside, the event's data"]),
    ("out inside the data", ["is, or is inside, the event's data"]),
    ("out holds the data", ["holds the event's data"]),
    ("out not empty", ["not empty", "--force"]),
    ("out is a file", ["not a directory"]),
])
def test_bad_directories_are_one_line_errors(event, tmp_path, capsys, case, words):
    """Are a missing data directory, an --out that is, is inside or holds the event's data, a
    non-empty --out and a file as --out refused with exit 2 and one line, nothing written?"""
    data, out = event, tmp_path / "bundle"
    if case == "missing data":
        data = tmp_path / "nowhere"
    elif case == "out is the data":
        out = event
    elif case == "out inside the data":
        out = event / "bundle"
    elif case == "out holds the data":
        out = event.parent
    elif case == "out not empty":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    else:
        out.write_text("a file")
    before = {p: p.read_bytes() for p in [*event.iterdir(), *tmp_path.rglob("*")] if p.is_file()}
    one_line_error(capsys, ["event", "bundle", "--data", str(data), "--out", str(out)], "datathon event: error:",
                   *words)
    after = {p: p.read_bytes() for p in [*event.iterdir(), *tmp_path.rglob("*")] if p.is_file()}
    assert after == before
    assert not [p for p in [*event.parent.iterdir(), *tmp_path.iterdir()] if p.name.startswith(".")]


@pytest.mark.parametrize("column", HIDDEN_TEST_COLUMNS)
def test_test_bulletins_with_their_truth_are_refused(tiny_world, tmp_path, column):
    """Are test bulletins that carry SIRET_DEC or NOISE (which says which bulletins cannot be coded)
    refused, nothing written?"""
    test = read(tiny_world, "bulletins_test.parquet")
    truth = read(tiny_world, "truth_test.parquet")
    rewrite(tiny_world, "bulletins_test.parquet", test.assign(**{column: truth[column]}))
    with pytest.raises(UserError, match=f"bulletins_test.parquet .* carries {column}"):
        bundle(tiny_world, tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()


def test_a_failure_leaves_the_previous_bundle(event, handed_out, tmp_path, monkeypatch):
    """Does a failure while writing (here, in the data dictionary) leave the previous bundle as it was
    and no temporary directory?"""
    out = tmp_path / "bundle"
    shutil.copytree(handed_out, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def fail(directory):
        raise OSError("disk full")

    monkeypatch.setattr("datathon.dictionary.render", fail)
    with pytest.raises(OSError, match="disk full"):
        bundle(event, out, force=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_a_directory_not_generated_is_bundled_without_a_dictionary(tiny_world, tmp_path):
    """Is a hand-made directory (the tests' tiny world, with a stray file) bundled with its public
    files and a seedless manifest, the stray file and the truth left out, no data dictionary (it
    describes generated worlds only), and does the bundle check clean?"""
    (tiny_world / "notes.txt").write_text("seed: 20180118")
    result = bundle(tiny_world, tmp_path / "bundle")
    assert result.files == [*PUBLIC, "manifest.json"]
    assert result.left_out == {"manifest.json": "the instructor's, with the seed: the bundle has a public one",
                               "notes.txt": "not one of the public files a bundle copies",
                               "truth_test.parquet": "the test truth"}
    public = json.loads((tmp_path / "bundle" / schema.MANIFEST).read_text(encoding="utf-8"))
    assert "seed" not in public and "truth_test.parquet" not in public["rows"]
    assert run_check(tmp_path / "bundle").problems == []


def test_an_energy_event_is_bundled_without_its_truth_seed_or_mechanisms(tmp_path):
    """Is another challenge's event bundled through its own declarations: its public files only (no
    truth_test), a manifest without the seed or the mechanisms (whose draws include the news shocks of
    the forecast days), and the participants' data dictionary, which names no mechanism parameter?"""
    from datathon.challenges import get

    event, out = tmp_path / "event", tmp_path / "bundle"
    manifest = get("energy").generate("an energy passphrase for this test", "sample", event, progress=False)
    assert "seed" in manifest and "mechanisms" in manifest
    result = bundle(event, out)
    names = sorted(p.name for p in out.iterdir())
    assert "truth_test.parquet" not in names and result.left_out["truth_test.parquet"] == "the test truth"
    assert {"manifest.json", "README.md", "daily.parquet"} <= set(names)
    public = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert public["challenge"] == "energy" and not {"seed", "mechanisms"} & set(public)
    assert set(public["checksums"]) == set(names) - {"manifest.json", "README.md"}
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert str(manifest["seed"]) not in readme and "social_lag" not in readme
    with_mechanisms = get("energy").dictionary(event)  # the instructor's copy does list them
    assert "social_lag" in with_mechanisms
