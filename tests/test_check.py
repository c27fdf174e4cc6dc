"""Tests of datathon.check and ``datathon data check``: every kind of problem, on broken copies
of the tiny world (tests/worlds.py)."""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datathon import check, schema
from datathon.check import KINDS, check_directory, run_check
from datathon.errors import UserError
from datathon.luhn import luhn_valid, with_luhn_key
from worlds import pristine, read, refresh_manifest, rewrite, world  # noqa: F401 (pristine and world are fixtures)

REPO_ROOT = Path(__file__).resolve().parents[1]


def kinds(problems: list[check.Problem]) -> set[str]:
    return {p.kind for p in problems}


def only(problems: list[check.Problem], kind: str) -> check.Problem:
    """The one problem of that kind (fails with the whole list when there is not exactly one)."""
    found = [p for p in problems if p.kind == kind]
    assert len(found) == 1, problems
    return found[0]


def unreferenced_row(directory: Path) -> int:
    """A register row whose siret no bulletin, truth or MCA coding refers to (safe to alter)."""
    register = read(directory, "etablissements.parquet")
    used = set()
    for name, columns in [("bulletins_train.parquet", ["SIRET_DEC", "SIRETC"]),
                          ("bulletins_test.parquet", ["SIRETC"]), ("truth_test.parquet", ["SIRET_DEC"])]:
        frame = read(directory, name)
        for column in columns:
            used |= set(frame[column].dropna())
    free = np.flatnonzero(~register["siret"].isin(used).to_numpy())
    assert len(free), "the tiny world should have establishments nobody refers to"
    return int(free[0])


def edit(directory: Path, name: str, change: Callable[[pd.DataFrame], pd.DataFrame | None]) -> None:
    """Read a file, change it, write it back (refreshing the manifest's checksum)."""
    frame = read(directory, name)
    changed = change(frame)
    rewrite(directory, name, frame if changed is None else changed)


def edit_manifest(directory: Path, change: Callable[[dict], None]) -> None:
    path = directory / schema.MANIFEST
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "datathon", *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=120)


# --------------------------------------------------------------------------------------------
# A sound directory
# --------------------------------------------------------------------------------------------


def test_tiny_world_checks_clean(world):
    """Does the tiny world check without any problem, and are its row counts reported?"""
    report = run_check(world)
    assert report.problems == []
    assert report.rows["etablissements.parquet"] == 30
    assert report.rows["bulletins_train.parquet"] == 40
    assert report.rows["bulletins_test.parquet"] == 20
    assert report.format().startswith(f"{world}: no problem found (etablissements 30, ")


def test_participants_copy_checks_clean(world):
    """Is a participants' copy (no truth, no naf.csv, no manifest) free of problems?"""
    for name in ("truth_test.parquet", "naf.csv", "manifest.json"):
        (world / name).unlink()
    assert check_directory(world) == []


def test_csv_register_checks_clean(world):
    """Is a register given as a ';' CSV (the Sirene stock's form) checked like the parquet?"""
    register = read(world, "etablissements.parquet")
    (world / "etablissements.parquet").unlink()
    register.to_csv(world / "etablissements.csv", sep=";", index=False)
    report = run_check(world)
    assert report.problems == []
    assert report.rows["etablissements.csv"] == 30


def test_la_poste_sirets_are_valid(world):
    """Is a La Poste SIRET (digits summing to a multiple of 5, not a Luhn key) accepted?"""
    def add_la_poste(frame):
        row = frame.iloc[[0]].copy()
        # 3+5+6+5+6 = 25: a multiple of 5, though not a valid Luhn number.
        row["siren"], row["nic"], row["siret"] = "356000000", "00056", "35600000000056"
        return pd.concat([frame, row], ignore_index=True)

    assert sum(int(c) for c in "35600000000056") % 5 == 0
    assert not luhn_valid("35600000000056")
    edit(world, "etablissements.parquet", add_la_poste)
    assert check_directory(world) == []


def test_older_nomenclatures_are_not_reported(world):
    """Is an old NAF code accepted when the stock's nomenclature column says it is not NAFRev2?"""
    def old_code(frame):
        frame["nomenclatureActivitePrincipaleEtablissement"] = "NAFRev2"
        frame.loc[0, "nomenclatureActivitePrincipaleEtablissement"] = "NAFRev1"
        frame.loc[0, "activitePrincipaleEtablissement"] = "52.1D"
        frame.loc[1, "activitePrincipaleEtablissement"] = "52.1D"

    edit(world, "etablissements.parquet", old_code)
    problem = only(check_directory(world), "unknown-naf")
    assert problem.count == 1 and problem.examples == ("row 1: '52.1D'",)


# --------------------------------------------------------------------------------------------
# Each kind of problem, on its own
# --------------------------------------------------------------------------------------------


def _delete(name):
    return lambda d: (d / name).unlink()


def _garbage(name, text="this is not a parquet file\n"):
    def breaker(d):
        (d / name).write_text(text)
        refresh_manifest(d)
    return breaker


def _truncate(name):
    def breaker(d):
        (d / name).write_bytes((d / name).read_bytes()[:-30])
        refresh_manifest(d)
    return breaker


def _set(name, column, row, value):
    def breaker(d):
        def change(frame):
            frame.loc[row, column] = value
        edit(d, name, change)
    return breaker


def _invalid_siren(d):
    """Give an unreferenced establishment a SIREN with a wrong key, keeping its SIRET valid."""
    row = unreferenced_row(d)

    def change(frame):
        siren = frame.loc[row, "siren"]
        bad = siren[:8] + str((int(siren[8]) + 1) % 10)
        siret = f"{with_luhn_key(np.array([int(bad + frame.loc[row, 'nic'][:4])]), 14)[0]:014d}"
        frame.loc[row, ["siren", "nic", "siret"]] = [bad, siret[9:], siret]
    edit(d, "etablissements.parquet", change)


def _invalid_siret_key(d):
    """Give an unreferenced establishment a wrong SIRET key, nic and siret kept consistent."""
    row = unreferenced_row(d)

    def change(frame):
        siret = frame.loc[row, "siret"]
        bad = siret[:13] + str((int(siret[13]) + 1) % 10)
        frame.loc[row, ["nic", "siret"]] = [bad[9:], bad]
    edit(d, "etablissements.parquet", change)


def _siret_mismatch(d):
    row = unreferenced_row(d)
    edit(d, "etablissements.parquet", lambda f: f.__setitem__("nic", f["nic"].where(f.index != row, "99999")))


def _duplicate_row(name, row=0):
    return lambda d: edit(d, name, lambda f: pd.concat([f, f.iloc[[row]]], ignore_index=True))


def _duplicate_cabbi_across(d):
    """Give a test bulletin (and its truth) the CABBI of a training bulletin."""
    cabbi = read(d, "bulletins_train.parquet")["CABBI"].iat[0]
    for name in ("bulletins_test.parquet", "truth_test.parquet"):
        _set(name, "CABBI", 0, cabbi)(d)


def _unknown_adjacency(d):
    """Add a pair, in both directions, with a commune absent from communes.parquet."""
    def change(frame):
        extra = pd.DataFrame({"code_commune": ["35238", "35999"], "code_commune_adjacente": ["35999", "35238"]})
        return pd.concat([frame, extra], ignore_index=True)
    edit(d, "communes_adjacentes.csv", change)


def _absent_siret(d):
    """A valid SIRET that is not in the register."""
    register = set(read(d, "etablissements.parquet")["siret"])
    candidate = next(s for s in (f"{v:014d}" for v in with_luhn_key(np.arange(1, 100) + 4_000_000_000_000, 14))
                     if s not in register)
    return candidate


def _text_as_numbers(d):
    """adresses.numero stored as int64 instead of text."""
    edit(d, "adresses.parquet", lambda f: f.__setitem__("numero", f["numero"].astype("int64")))


def _manifest_checksum(d):
    edit_manifest(d, lambda m: m["checksums"].__setitem__("communes.parquet", "0" * 64))


def _manifest_rows(d):
    edit_manifest(d, lambda m: m["rows"].__setitem__("communes.parquet", 7))


# kind -> (label, breaker, file where the problem is reported)
BREAKAGES: list[tuple[str, str, Callable[[Path], None], str]] = [
    ("missing-file", "register absent", _delete("etablissements.parquet"), "etablissements.parquet"),
    ("missing-file", "communes absent", _delete("communes.parquet"), "communes.parquet"),
    ("unreadable-file", "not parquet", _garbage("adresses.parquet"), "adresses.parquet"),
    ("unreadable-file", "truncated parquet", _truncate("communes.parquet"), "communes.parquet"),
    ("unreadable-file", "malformed CSV", _garbage("communes_adjacentes.csv",
     "code_commune;code_commune_adjacente\n35238;35051;extra\n"), "communes_adjacentes.csv"),
    ("unreadable-file", "manifest not JSON", lambda d: (d / "manifest.json").write_text("{oops"), "manifest.json"),
    ("empty-file", "no address", lambda d: edit(d, "adresses.parquet", lambda f: f.iloc[:0]), "adresses.parquet"),
    ("missing-columns", "communes without x", lambda d: edit(d, "communes.parquet", lambda f: f.drop(columns="x")),
     "communes.parquet"),
    ("extra-columns", "communes with surface", lambda d: edit(d, "communes.parquet",
     lambda f: f.assign(surface=1.0)), "communes.parquet"),
    ("truth-in-test", "SIRET_DEC in test", lambda d: edit(d, "bulletins_test.parquet",
     lambda f: f.assign(SIRET_DEC=pd.NA)), "bulletins_test.parquet"),
    ("wrong-type", "non-numeric coordinate", lambda d: edit(d, "etablissements.parquet", lambda f: f.assign(
        coordonneeLambertAbscisseEtablissement=["abc"] + ["1.5"] * (len(f) - 1))), "etablissements.parquet"),
    ("wrong-type", "fractional population", lambda d: edit(d, "communes.parquet", lambda f: f.assign(
        population=[1.5] + [1.0] * (len(f) - 1))), "communes.parquet"),
    ("wrong-type", "missing population", _set("communes.parquet", "population", 0, None), "communes.parquet"),
    ("wrong-type", "text stored as numbers", _text_as_numbers, "adresses.parquet"),
    ("invalid-value", "TYPCOL 2", _set("bulletins_train.parquet", "TYPCOL", 0, 2), "bulletins_train.parquet"),
    ("invalid-value", "MCA class 12", _set("bulletins_test.parquet", "I_MCA_C", 0, 12), "bulletins_test.parquet"),
    ("invalid-value", "state X", _set("etablissements.parquet", "etatAdministratifEtablissement", 0, "X"),
     "etablissements.parquet"),
    ("missing-value", "CABBI empty", _set("bulletins_train.parquet", "CABBI", 3, None), "bulletins_train.parquet"),
    ("invalid-siren", "wrong SIREN key", _invalid_siren, "etablissements.parquet"),
    ("invalid-siret", "wrong SIRET key", _invalid_siret_key, "etablissements.parquet"),
    ("siret-mismatch", "nic not in siret", _siret_mismatch, "etablissements.parquet"),
    ("duplicate-siret", "register row twice", _duplicate_row("etablissements.parquet"), "etablissements.parquet"),
    ("duplicate-cabbi", "within train", _set("bulletins_train.parquet", "CABBI", 1,
     "3500000000"), "bulletins_train.parquet"),
    ("duplicate-cabbi", "across train and test", _duplicate_cabbi_across, "bulletins_test.parquet"),
    ("duplicate-commune", "commune twice", _duplicate_row("communes.parquet"), "communes.parquet"),
    ("unknown-commune", "register commune", _set("etablissements.parquet", "codeCommuneEtablissement", 0, "35999"),
     "etablissements.parquet"),
    ("unknown-commune", "home commune", _set("bulletins_test.parquet", "DEPCOM_CODE", 0, "75056"),
     "bulletins_test.parquet"),
    ("unknown-commune", "adjacency", _unknown_adjacency, "communes_adjacentes.csv"),
    ("unknown-commune", "address commune", _set("adresses.parquet", "code_insee", 0, "35999"), "adresses.parquet"),
    ("unknown-siret", "train truth", lambda d: _set("bulletins_train.parquet", "SIRET_DEC", 0, _absent_siret(d))(d),
     "bulletins_train.parquet"),
    ("unknown-siret", "test truth", lambda d: _set("truth_test.parquet", "SIRET_DEC", 0, _absent_siret(d))(d),
     "truth_test.parquet"),
    ("unknown-siret", "MCA coding", lambda d: _set("bulletins_test.parquet", "SIRETC", 0, _absent_siret(d))(d),
     "bulletins_test.parquet"),
    ("truth-mismatch", "truth row missing", lambda d: edit(d, "truth_test.parquet", lambda f: f.iloc[1:]),
     "bulletins_test.parquet"),
    ("unknown-naf", "register activity", _set("etablissements.parquet", "activitePrincipaleEtablissement", 0,
     "99.99Z"), "etablissements.parquet"),
    ("unknown-naf", "legal unit activity", _set("etablissements.parquet", "activitePrincipaleUniteLegale", 2,
     "5610A"), "etablissements.parquet"),
    ("unknown-naf", "naf.csv code", _set("naf.csv", "code", 0, "00.00Z"), "naf.csv"),
    ("asymmetric-adjacency", "one direction dropped", lambda d: edit(d, "communes_adjacentes.csv",
     lambda f: f.iloc[1:]), "communes_adjacentes.csv"),
    ("checksum-mismatch", "manifest checksum", _manifest_checksum, "communes.parquet"),
    ("row-count-mismatch", "manifest rows", _manifest_rows, "communes.parquet"),
]


@pytest.mark.parametrize("kind, label, breaker, file", BREAKAGES, ids=[f"{k}: {lab}" for k, lab, *_ in BREAKAGES])
def test_broken_world_reports_that_kind_only(world, kind, label, breaker, file):
    """Is each breakage reported under its own kind, in the right file, and nothing else?"""
    breaker(world)
    problems = check_directory(world)
    assert kinds(problems) == {kind}, "\n".join(map(str, problems))
    assert {p.file for p in problems} == {file}
    for p in problems:
        assert p.count >= 1 and len(p.examples) <= check.MAX_EXAMPLES
        assert p.level == (check.WARNING if kind in ("extra-columns", "asymmetric-adjacency") else check.ERROR)


def test_every_kind_has_a_breakage():
    """Does every kind of problem the checker knows have a test breaking a world that way?"""
    assert {kind for kind, *_ in BREAKAGES} == set(KINDS)


def test_short_siret_is_invalid(world):
    """Is a SIRET of the wrong length reported as an invalid SIRET?"""
    _set("etablissements.parquet", "siret", unreferenced_row(world), "1234")(world)
    problem = only(check_directory(world), "invalid-siret")
    assert problem.examples[0].endswith("'1234'")


def test_truth_cabbi_unknown_to_test(world):
    """Is a truth CABBI absent from the test bulletins reported on both sides?"""
    _set("truth_test.parquet", "CABBI", 0, "9999999999")(world)
    problems = [p for p in check_directory(world) if p.kind == "truth-mismatch"]
    assert {p.file for p in problems} == {"truth_test.parquet", "bulletins_test.parquet"}


def test_compact_naf_code_gets_a_hint(world):
    """Does a compact NAF code (5610A) get the hint to write it dotted?"""
    _set("etablissements.parquet", "activitePrincipaleEtablissement", 0, "5610A")(world)
    assert "56.10A" in only(check_directory(world), "unknown-naf").message


def test_checksum_with_prefix_is_accepted(world):
    """Are manifest checksums written 'sha256:<hex>' understood?"""
    edit_manifest(world, lambda m: m.__setitem__(
        "checksums", {k: f"sha256:{v}" for k, v in m["checksums"].items()}))
    assert check_directory(world) == []
    _manifest_checksum(world)
    assert kinds(check_directory(world)) == {"checksum-mismatch"}


def test_counts_and_examples_are_bounded(world):
    """Does a problem count every bad value but show at most five examples, located by row?"""
    def break_eight(frame):
        frame.loc[:7, "TYPCOL"] = 7
    edit(world, "bulletins_train.parquet", break_eight)
    problem = only(check_directory(world), "invalid-value")
    assert problem.count == 8
    assert problem.examples == tuple(f"row {i}: 7" for i in range(5))
    assert problem.message == "8 values of TYPCOL are not 0 (paper) or 1 (internet)"


def test_csv_examples_are_located_by_line(world):
    """Are values of a CSV file located by their line in the file (header = line 1)?"""
    _unknown_adjacency(world)
    problems = check_directory(world)
    assert kinds(problems) == {"unknown-commune"} and len(problems) == 2  # one per column
    lines = (world / "communes_adjacentes.csv").read_text().splitlines()
    for problem in problems:
        (example,) = problem.examples
        assert example.startswith("line ") and example.endswith(": '35999'")
        number = int(example.split(":")[0].removeprefix("line "))
        assert "35999" in lines[number - 1].split(";")


def test_every_problem_is_reported_together(world):
    """Are the problems of several broken files all reported in one pass?"""
    _invalid_siret_key(world)
    _duplicate_cabbi_across(world)
    _set("bulletins_train.parquet", "TYPCOL", 0, 2)(world)
    _set("naf.csv", "code", 0, "00.00Z")(world)
    (world / "adresses.parquet").write_text("garbage")  # its checksum is not refreshed either
    _manifest_rows(world)
    problems = check_directory(world)
    assert kinds(problems) >= {"invalid-siret", "duplicate-cabbi", "invalid-value", "unreadable-file",
                               "unknown-naf", "row-count-mismatch", "checksum-mismatch"}
    assert {p.file for p in problems} >= {"etablissements.parquet", "bulletins_test.parquet",
                                          "bulletins_train.parquet", "adresses.parquet", "naf.csv",
                                          "communes.parquet"}


def test_a_directory_of_garbage_is_reported_not_raised(world):
    """Does a directory whose every file is garbage give problems rather than an exception?"""
    for path in world.iterdir():
        path.write_bytes(b"\x00\xff garbage")
    problems = check_directory(world)
    assert kinds(problems) == {"unreadable-file"}
    assert len(problems) == len(list(world.iterdir()))


def test_missing_directory_is_a_user_error(tmp_path):
    """Is checking a directory that does not exist a UserError (not a list of problems)?"""
    with pytest.raises(UserError, match="datathon generate"):
        check_directory(tmp_path / "nowhere")


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def test_cli_clean_directory_exits_0(world):
    """Does `datathon data check` print 'no problem found' with row counts and exit 0?"""
    result = run_cli("data", "check", str(world))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(f"{world}: no problem found (")
    assert "bulletins_train 40" in result.stdout


def test_cli_lists_problems_grouped_and_exits_1(world):
    """Does the command list every problem under its file, with examples, and exit 1?"""
    _invalid_siret_key(world)
    _set("bulletins_train.parquet", "TYPCOL", 0, 2)(world)
    (world / "adresses.parquet").write_text("garbage")
    result = run_cli("data", "check", str(world))
    assert result.returncode == 1
    out = result.stdout
    assert "Traceback" not in out + result.stderr
    lines = out.splitlines()
    assert "etablissements.parquet" in lines and "bulletins_train.parquet" in lines
    assert lines.index("etablissements.parquet") < lines.index("bulletins_train.parquet")
    assert "  error    invalid-siret: 1 siret value is not 14 digits with a valid Luhn key" in lines
    assert any(line.strip().startswith("row 0: 2") for line in lines)
    assert f"{world}: 4 errors, 0 warnings in 3 files" in out  # + the checksum of adresses


def test_cli_warnings_alone_exit_0_unless_strict(world):
    """Do warnings alone let the command succeed, and fail it with --strict?"""
    edit(world, "communes.parquet", lambda f: f.assign(surface=1.0))
    result = run_cli("data", "check", str(world))
    assert result.returncode == 0
    assert "extra-columns" in result.stdout and "no error found, 1 warning" in result.stdout
    assert run_cli("data", "check", "--strict", str(world)).returncode == 1


def test_cli_json_output(world):
    """Does --json print the problems as a JSON object?"""
    _manifest_rows(world)
    result = run_cli("data", "check", "--json", str(world))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [p["kind"] for p in report["problems"]] == ["row-count-mismatch"]


def test_cli_missing_directory_exits_2(tmp_path):
    """Does a missing directory give one error line on stderr, exit 2 and no traceback?"""
    result = run_cli("data", "check", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "no data directory" in result.stderr and "Traceback" not in result.stderr


def test_cli_garbage_directory_never_tracebacks(world):
    """Does a directory full of garbage still give a readable report and no traceback?"""
    for path in world.iterdir():
        path.write_bytes(b"PAR1\x00garbagePAR1")
    result = run_cli("data", "check", str(world))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "unreadable-file" in result.stdout


def test_committed_sample_checks_clean():
    """Does the committed sample (data_samples/) check without any problem?"""
    sample = REPO_ROOT / "data_samples" / "sirene"
    if not (sample / schema.MANIFEST).is_file():
        pytest.skip("data_samples/ has not been generated yet")
    problems = check_directory(sample)
    assert problems == [], "\n".join(map(str, problems))
