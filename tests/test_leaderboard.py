"""The leaderboard's Python API and its commands: events, teams, submissions, quotas, the reveal.

Most tests go through the Python API (fast); the bad-input corpus and the command outputs go
through ``python -m datathon`` in a subprocess, as an instructor or a team would type them.
"""
from __future__ import annotations

import datetime as dt
import json
import random
import re
import sqlite3
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import pandas as pd
import pytest

from leaderboard_fixtures import (
    cli_env,
    json_keys,
    make_event,
    predictions,
    snapshot,
    truth_of,
    world,  # noqa: F401 (a pytest fixture)
    write_csv,
)

import datathon
from datathon import evaluate
from datathon.errors import UserError
from datathon.leaderboard import SubmissionRefused, plot, service, split, store

XSS = "<script>alert(1)</script>"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m datathon ARGS`` as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "datathon", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=cli_env(), timeout=120,
    )  # fmt: skip


def assert_one_line_error(proc: subprocess.CompletedProcess, command: str = "submit") -> str:
    """Exit 2, nothing on stdout, one line on stderr, no traceback: the user error contract."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"datathon {command}: error: "), lines[0]
    assert proc.stdout == ""
    return lines[0]


@pytest.fixture
def event(tmp_path, world):
    """A fresh event with two teams (quota 3, rule best): ``(path, {team: token})``."""
    ev = tmp_path / "ev"
    return ev, make_event(ev, world, ["Alpha", "Beta"], quota=3)


# ---------------------------------------------------------------------------------------------
# init


def test_init_writes_a_complete_event(tmp_path, world):
    """Does init write event.json, a private salt, the truth with its split, and a WAL database?"""
    proc = run_cli("leaderboard", "init", "--event", tmp_path / "ev", "--data", world, "--quota", "4",
                   "--public-share", "0.3", "--rule", "last")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "MCA public success rate" in proc.stdout
    ev = tmp_path / "ev"
    assert sorted(p.name for p in ev.iterdir()) == ["event.json", "leaderboard.sqlite", "salt", "truth.parquet"]
    config = json.loads((ev / "event.json").read_text())
    assert config["quota"] == 4 and config["public_share"] == 0.3 and config["rule"] == "last"
    assert config["data"] == str(world.resolve())
    assert (ev / "salt").stat().st_mode & 0o077 == 0, "the salt must be readable by its owner only"
    truth = truth_of(ev)
    assert len(truth) == 400 == config["n_bulletins"]
    assert 0.2 < truth["PUBLIC"].mean() < 0.4
    with sqlite3.connect(ev / "leaderboard.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # nothing left beside the event: no staging directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ev"]


def test_split_is_the_salted_hash_of_cabbi(tmp_path, world):
    """Is the public part exactly what the salt in the event directory gives, and does another
    salt give another split?"""
    ev = tmp_path / "ev"
    make_event(ev, world, [])
    truth = truth_of(ev)
    salt = (ev / "salt").read_text().strip()
    mask = split.public_mask(truth["CABBI"], salt, 0.5)
    assert (mask == truth["PUBLIC"].to_numpy()).all()
    assert (split.public_mask(truth["CABBI"], salt, 0.5) == mask).all(), "deterministic"
    other = split.public_mask(truth["CABBI"], split.make_salt(), 0.5)
    assert (other != mask).any()
    with pytest.raises(ValueError):
        split.public_mask(truth["CABBI"], salt, 1.0)


def test_mca_reference_is_a_submission_of_siretc(tmp_path, world):
    """Is MCA's reference score the score of a submission of SIRETC on the public part?"""
    ev = tmp_path / "ev"
    make_event(ev, world, [])
    truth = truth_of(ev)
    full = evaluate.load_truth(world)
    public = full[full["CABBI"].isin(truth.loc[truth["PUBLIC"], "CABBI"])].reset_index(drop=True)
    sub = evaluate.Submission(frame=public[["CABBI", "SIRETC"]].rename(columns={"SIRETC": "siret"}))
    expected = evaluate.score(sub, public)["success_rate"]
    assert service.standings(ev)["reference"]["public_score"] == pytest.approx(expected)


def test_init_refuses_an_existing_event_without_force(tmp_path, world):
    """Is an existing event refused without --force, kept intact, and replaced with it?"""
    ev = tmp_path / "ev"
    make_event(ev, world, ["Alpha"])
    before = snapshot(ev)
    proc = run_cli("leaderboard", "init", "--event", ev, "--data", world)
    message = assert_one_line_error(proc, "leaderboard")
    assert "--force" in message
    assert snapshot(ev) == before
    proc = run_cli("leaderboard", "init", "--event", ev, "--data", world, "--force")
    assert proc.returncode == 0, proc.stderr
    assert service.standings(ev)["teams"] == [], "the old event's teams are gone"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ev"]


def test_init_never_replaces_a_directory_that_is_not_an_event(tmp_path, world):
    """Is a non-empty directory without event.json left alone, even with --force?"""
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("...")
    proc = run_cli("leaderboard", "init", "--event", precious, "--data", world, "--force")
    assert_one_line_error(proc, "leaderboard")
    assert [p.name for p in precious.iterdir()] == ["chapter1.tex"]


def test_init_accepts_an_empty_directory(tmp_path, world):
    """Can the event directory be made beforehand (mkdir), empty?"""
    ev = tmp_path / "ev"
    ev.mkdir()
    service.init_event(ev, world)
    assert (ev / "event.json").is_file()


@pytest.mark.parametrize(
    "options, words",
    [
        (["--quota", "0"], "--quota"),
        (["--public-share", "1"], "--public-share"),
        (["--public-share", "0"], "--public-share"),
    ],
)
def test_init_refuses_bad_options(tmp_path, world, options, words):
    """Are a zero quota and a public share outside (0, 1) refused before anything is written?"""
    proc = run_cli("leaderboard", "init", "--event", tmp_path / "ev", "--data", world, *options)
    assert words in assert_one_line_error(proc, "leaderboard")
    assert list(tmp_path.iterdir()) == []


def test_init_with_a_bad_data_directory_leaves_nothing(tmp_path):
    """Does init from a missing or incomplete data directory fail in one line and leave nothing?"""
    empty = tmp_path / "empty"
    empty.mkdir()
    for data in (tmp_path / "missing", empty):
        proc = run_cli("leaderboard", "init", "--event", tmp_path / "ev", "--data", data)
        assert_one_line_error(proc, "leaderboard")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_init_failing_midway_leaves_nothing_and_keeps_the_old_event(tmp_path, world, monkeypatch):
    """When init fails after it started writing, is there no half-made event, and does a
    --force re-init that fails keep the old event as it was?"""
    ev = tmp_path / "ev"

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store.Store, "create", boom)
    with pytest.raises(OSError):
        service.init_event(ev, world)
    assert list(tmp_path.iterdir()) == []

    monkeypatch.undo()
    make_event(ev, world, ["Alpha"])
    before = snapshot(ev)
    monkeypatch.setattr(store.Store, "create", boom)
    with pytest.raises(OSError):
        service.init_event(ev, world, force=True)
    assert snapshot(ev) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ev"]


# ---------------------------------------------------------------------------------------------
# teams and tokens


def test_add_team_prints_the_token_last_and_stores_only_its_hash(tmp_path, world):
    """Is the token the last word of add-team's output, and is only its hash in the database?"""
    ev = tmp_path / "ev"
    make_event(ev, world, [])
    proc = run_cli("leaderboard", "add-team", "Les Sirènes", "--event", ev)
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.split()[-1]
    assert len(token) >= 20
    raw = (ev / "leaderboard.sqlite").read_bytes()
    assert token.encode() not in raw
    with sqlite3.connect(ev / "leaderboard.sqlite") as conn:
        (stored,) = conn.execute("SELECT token_sha256 FROM teams").fetchone()
    assert stored == store.hash_token(token)
    # the token works
    result = service.submit_frame(ev, predictions(truth_of(ev), 0.5), team="Les Sirènes", token=token)
    assert result["submission"] == 1


def test_team_names_are_unique_regardless_of_case(event):
    """Is a second team 'alpha' refused when 'Alpha' exists?"""
    ev, _ = event
    proc = run_cli("leaderboard", "add-team", "  alpha ", "--event", ev)
    assert "already exists" in assert_one_line_error(proc, "leaderboard")


@pytest.mark.parametrize("name", ["", "   ", "a\x1bb", "x" * 61, "MCA", "mca (reference)"])
def test_bad_team_names_are_refused(event, name):
    """Are empty, control-character, over-long and reference-system names refused?"""
    ev, _ = event
    with pytest.raises(UserError):
        service.add_team(ev, name)


def test_reset_token_replaces_the_old_one(event):
    """Does --reset-token give a working new token and disable the old one?"""
    ev, tokens = event
    proc = run_cli("leaderboard", "add-team", "Alpha", "--event", ev, "--reset-token")
    assert proc.returncode == 0, proc.stderr
    new = proc.stdout.split()[-1]
    frame = predictions(truth_of(ev), 0.5)
    with pytest.raises(SubmissionRefused) as err:
        service.submit_frame(ev, frame, team="Alpha", token=tokens["Alpha"])
    assert err.value.reason == "bad_token"
    assert service.submit_frame(ev, frame, team="Alpha", token=new)["submission"] == 1


@pytest.mark.parametrize("case", ["wrong token", "other team's token", "unknown team", "empty token"])
def test_wrong_tokens_are_refused(event, case):
    """Is a wrong token, another team's token, an unknown team or an empty token refused, with
    nothing written?"""
    ev, tokens = event
    team, token = {
        "wrong token": ("Alpha", "not-the-token"),
        "other team's token": ("Beta", tokens["Alpha"]),
        "unknown team": ("Gamma", tokens["Alpha"]),
        "empty token": ("Alpha", ""),
    }[case]
    before = snapshot(ev)
    with pytest.raises(SubmissionRefused) as err:
        service.submit_frame(ev, predictions(truth_of(ev), 0.5), team=team, token=token)
    assert err.value.reason == "bad_token"
    assert "\n" not in str(err.value)
    assert snapshot(ev) == before


# ---------------------------------------------------------------------------------------------
# the bad-input corpus, through the command line


def _corpus(tmp: Path, truth: pd.DataFrame) -> dict[str, Path]:
    """One file per kind of bad submission (DESIGN §6 and the issue's validation list)."""
    cabbi = truth["CABBI"].tolist()
    sirets = truth["SIRET_DEC"].dropna().tolist()
    good = sirets[0]
    bad_key = good[:-1] + str((int(good[-1]) + 1) % 10)
    files = {
        "empty": b"",
        "header only": b"CABBI;siret\n",
        "binary (NUL bytes)": b"CABBI;siret\n\x00\x00\x01\x02" * 50,
        "a PNG image": b"\x89PNG\r\n\x1a\n" + bytes(200),
        "an xlsx (zip)": b"PK\x03\x04" + bytes(200),
        "JSON": b'[{"CABBI": "1", "siret": "2"}]',
        "HTML": b"<html><body>oops</body></html>",
        "wrong delimiter (tab)": f"CABBI\tsiret\n{cabbi[0]}\t{good}\n".encode(),
        "missing column": f"CABBI;score\n{cabbi[0]};0.5\n".encode(),
        "no header": f"{cabbi[0]};{good}\n{cabbi[1]};{good}\n".encode(),
        "SIRET not 14 digits": f"CABBI;siret\n{cabbi[0]};{good[1:]}\n".encode(),
        "SIRET failing its Luhn key": f"CABBI;siret\n{cabbi[0]};{bad_key}\n".encode(),
        "duplicate CABBI without rank": f"CABBI;siret\n{cabbi[0]};{good}\n{cabbi[0]};{good}\n".encode(),
        "unknown CABBI": f"CABBI;siret\n0000000001;{good}\n".encode(),
        "NaN score": f"CABBI;siret;score\n{cabbi[0]};{good};NaN\n".encode(),
        "non-numeric score": f"CABBI;siret;score\n{cabbi[0]};{good};high\n".encode(),
        "non-integer rank": f"CABBI;siret;rank\n{cabbi[0]};{good};1.5\n".encode(),
        "field over the size limit": f"CABBI;siret\n{cabbi[0]};{'9' * 20_000}\n".encode(),
        "UTF-16 text": "CABBI;siret\n".encode("utf-16"),
    }
    paths = {}
    for i, (name, data) in enumerate(files.items()):
        paths[name] = tmp / f"bad{i}.csv"
        paths[name].write_bytes(data)
    # A file beyond the 200 MB limit: sparse, so it costs no disk; refused before being read.
    huge = tmp / "huge.csv"
    with open(huge, "wb") as fh:
        fh.write(b"CABBI;siret\n")
        fh.truncate(200_000_001)
    paths["file over the size limit"] = huge
    paths["missing file"] = tmp / "does-not-exist.csv"
    paths["a directory"] = tmp
    return paths


@pytest.fixture(scope="module")
def corpus_event(tmp_path_factory, world):
    """An event whose team 'Full' has used its quota, one revealed event, and the bad files."""
    root = tmp_path_factory.mktemp("corpus")
    ev = root / "ev"
    tokens = make_event(ev, world, ["Alpha", "Beta", "Full"], quota=2)
    truth = truth_of(ev)
    for seed in range(2):
        service.submit_frame(ev, predictions(truth, 0.5, seed=seed), team="Full", token=tokens["Full"])
    closed = root / "closed"
    closed_tokens = make_event(closed, world, ["Alpha"])
    service.reveal(closed)
    files = root / "files"
    files.mkdir()
    good = write_csv(predictions(truth, 0.7), root / "good.csv")
    return {"ev": ev, "tokens": tokens, "closed": closed, "closed_tokens": closed_tokens,
            "files": _corpus(files, truth), "good": good, "root": root}  # fmt: skip


CORPUS = [
    "empty", "header only", "binary (NUL bytes)", "a PNG image", "an xlsx (zip)", "JSON", "HTML",
    "wrong delimiter (tab)", "missing column", "no header", "SIRET not 14 digits",
    "SIRET failing its Luhn key", "duplicate CABBI without rank", "unknown CABBI", "NaN score",
    "non-numeric score", "non-integer rank", "field over the size limit", "UTF-16 text",
    "file over the size limit", "missing file", "a directory",
]  # fmt: skip


@pytest.mark.parametrize("case", CORPUS)
def test_bad_files_are_refused_in_one_line_and_change_nothing(corpus_event, case):
    """Is each bad file refused with exit 2 and one line, without a traceback, leaving every
    event file (bytes and mtime) as it was?"""
    ev, tokens = corpus_event["ev"], corpus_event["tokens"]
    path = corpus_event["files"][case]
    before = snapshot(ev)
    proc = run_cli("submit", path, "--event", ev, "--team", "Alpha", "--token", tokens["Alpha"])
    assert_one_line_error(proc)
    assert snapshot(ev) == before


@pytest.mark.parametrize(
    "case", ["wrong token", "other team's token", "unknown team", "quota used up", "event revealed", "not an event"]
)
def test_refused_submitters_change_nothing(corpus_event, case):
    """Is a good file from a wrong token, another team's token, an unknown team, a team over its
    quota, a revealed event or a directory that is not an event refused in one line (exit 2),
    every event file keeping its bytes and mtime?"""
    ev, tokens, good = corpus_event["ev"], corpus_event["tokens"], corpus_event["good"]
    args = {
        "wrong token": (ev, "Alpha", "x" * 24),
        "other team's token": (ev, "Beta", tokens["Alpha"]),
        "unknown team": (ev, "Omega", tokens["Alpha"]),
        "quota used up": (ev, "Full", tokens["Full"]),
        "event revealed": (corpus_event["closed"], "Alpha", corpus_event["closed_tokens"]["Alpha"]),
        "not an event": (corpus_event["files"]["a directory"], "Alpha", tokens["Alpha"]),
    }[case]
    target = args[0]
    before = snapshot(target)
    proc = run_cli("submit", good, "--event", target, "--team", args[1], "--token", args[2])
    message = assert_one_line_error(proc)
    assert snapshot(target) == before
    if case == "quota used up":
        assert "quota" in message and "resets at midnight" in message
    if case == "event revealed":
        assert "over" in message


def test_missing_token_or_team_options_are_one_line_errors(corpus_event):
    """Does `datathon submit` without --token (and no $DATATHON_TOKEN) say so in one line?"""
    proc = run_cli("submit", corpus_event["good"], "--event", corpus_event["ev"], "--team", "Alpha")
    assert "token" in assert_one_line_error(proc)
    proc = run_cli("submit", corpus_event["good"], "--event", corpus_event["ev"], "--token", "t")
    assert "team" in assert_one_line_error(proc)


def test_other_commands_fail_in_one_line_on_a_missing_event(tmp_path):
    """Do show, add-team and reveal on a directory that is not an event fail in one line?"""
    for args in (["show"], ["add-team", "A"], ["reveal"]):
        proc = run_cli("leaderboard", *args, "--event", tmp_path / "nowhere")
        assert "no event directory" in assert_one_line_error(proc, "leaderboard")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# accepted submissions


def test_submit_prints_public_metrics_and_rank(event, tmp_path):
    """Does `datathon submit` record the file and print its public metrics, rank and quota?"""
    ev, tokens = event
    path = write_csv(predictions(truth_of(ev), 0.8), tmp_path / "preds.csv")
    proc = run_cli("submit", path, "--event", ev, "--team", "Alpha", "--token", tokens["Alpha"])
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "submission 1 recorded for team 'Alpha' (preds.csv)" in out
    assert "success rate" in out and "MCA" in out and "coding rate" in out and "precision" in out
    assert "rank: 1 of 1" in out
    assert "quota: 2 of 3 submissions left today" in out
    assert "by_noise" not in out and "enseigne" not in out, "the noise breakdown is for the instructor"


def test_submit_json_has_public_metrics_only(event, tmp_path):
    """Does `datathon submit --json` hold the public metrics and nothing private or instructor-only?"""
    ev, tokens = event
    path = write_csv(predictions(truth_of(ev), 0.8), tmp_path / "preds.csv")
    proc = run_cli("submit", path, "--event", ev, "--team", "Alpha", "--token", tokens["Alpha"], "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["public"]["success_rate"] == result["public_score"]
    assert {"coding_rate", "precision", "mca_concordance", "only_team_right", "only_mca_right",
            "topk_accuracy", "coverage_at_precision", "by_typcol"} <= set(result["public"])  # fmt: skip
    assert not any("private" in k for k in json_keys(result))  # not even n_private
    assert "by_noise" not in json_keys(result)


def test_the_same_file_twice_is_flagged_as_a_duplicate(event, tmp_path):
    """Is a file submitted twice recorded twice, the second time with duplicate_of the first,
    and its sha256 stored?"""
    ev, tokens = event
    path = write_csv(predictions(truth_of(ev), 0.6), tmp_path / "p.csv")
    first = service.submit_file(ev, path, team="Alpha", token=tokens["Alpha"])
    second = service.submit_file(ev, path, team="Alpha", token=tokens["Alpha"])
    assert first["duplicate_of"] is None
    assert second["duplicate_of"] == first["submission"]
    assert first["sha256"] == second["sha256"] == __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    proc = run_cli("submit", path, "--event", ev, "--team", "Alpha", "--token", tokens["Alpha"])
    assert f"identical to your submission {first['submission']}" in proc.stdout
    # another team's identical file is not "your" duplicate
    other = service.submit_file(ev, path, team="Beta", token=tokens["Beta"])
    assert other["duplicate_of"] is None
    with sqlite3.connect(ev / "leaderboard.sqlite") as conn:
        assert {r[0] for r in conn.execute("SELECT sha256 FROM submissions")} == {first["sha256"]}


def test_frames_and_files_score_alike(event, tmp_path):
    """Does a DataFrame score exactly as the same predictions written to a CSV file?"""
    ev, tokens = event
    frame = predictions(truth_of(ev), 0.7, seed=3)
    a = service.submit_frame(ev, frame, team="Alpha", token=tokens["Alpha"])
    b = service.submit_file(ev, write_csv(frame, tmp_path / "f.csv"), team="Beta", token=tokens["Beta"])
    assert a["public"] == b["public"]
    assert len(a["sha256"]) == 64


def test_quota_is_per_team_and_per_day(event):
    """Is the fourth submission of a day refused (quota 3), another team unaffected, and the
    quota back the next day?"""
    ev, tokens = event
    frame = predictions(truth_of(ev), 0.5)
    day1 = dt.datetime(2018, 1, 18, 10, 0).astimezone()
    for i in range(3):
        r = service.submit_frame(ev, frame, team="Alpha", token=tokens["Alpha"], now=day1 + dt.timedelta(hours=i))
        assert r["remaining_today"] == 2 - i
    with pytest.raises(SubmissionRefused) as err:
        service.submit_frame(ev, frame, team="Alpha", token=tokens["Alpha"], now=day1 + dt.timedelta(hours=5))
    assert err.value.reason == "quota"
    service.submit_frame(ev, frame, team="Beta", token=tokens["Beta"], now=day1 + dt.timedelta(hours=5))
    day2 = day1 + dt.timedelta(days=1)
    assert service.submit_frame(ev, frame, team="Alpha", token=tokens["Alpha"], now=day2)["remaining_today"] == 2


def test_rule_best_counts_the_best_public_submission(event):
    """Under rule best, does a worse later submission leave the team's score and rank alone?"""
    ev, tokens = event
    truth = truth_of(ev)
    good = service.submit_frame(ev, predictions(truth, 0.9), team="Alpha", token=tokens["Alpha"])
    worse = service.submit_frame(ev, predictions(truth, 0.2), team="Alpha", token=tokens["Alpha"])
    assert worse["public_score"] < good["public_score"]
    assert worse["team_score"] == good["public_score"]
    row = service.standings(ev)["teams"][0]
    assert row["team"] == "Alpha" and row["counted_submission"] == good["submission"]


def test_rule_last_counts_the_last_submission(tmp_path, world):
    """Under rule last, does the latest submission count even when it is worse?"""
    ev = tmp_path / "ev"
    tokens = make_event(ev, world, ["Alpha"], rule="last")
    truth = truth_of(ev)
    service.submit_frame(ev, predictions(truth, 0.9), team="Alpha", token=tokens["Alpha"])
    worse = service.submit_frame(ev, predictions(truth, 0.2), team="Alpha", token=tokens["Alpha"])
    assert worse["team_score"] == worse["public_score"]
    assert service.standings(ev)["teams"][0]["counted_submission"] == worse["submission"]


def test_ranking_orders_teams_and_lists_teams_without_submissions(tmp_path, world):
    """Are teams ranked by public score (ties: whoever got there first), with teams that have not
    submitted listed unranked at the end?"""
    ev = tmp_path / "ev"
    tokens = make_event(ev, world, ["A", "B", "C", "D"])
    truth = truth_of(ev)
    same = predictions(truth, 0.5, seed=1)
    service.submit_frame(ev, predictions(truth, 0.9), team="C", token=tokens["C"])
    service.submit_frame(ev, same, team="B", token=tokens["B"])
    service.submit_frame(ev, same, team="A", token=tokens["A"])
    rows = service.standings(ev)["teams"]
    assert [(r["team"], r["rank"]) for r in rows] == [("C", 1), ("B", 2), ("A", 3), ("D", None)]


# ---------------------------------------------------------------------------------------------
# private scores and the reveal


def _public_private_event(tmp_path: Path, world: Path) -> tuple[Path, dict[str, str], list[dict]]:
    """An event where each team's public and private scores differ widely, in both orders."""
    ev = tmp_path / "ev"
    tokens = make_event(ev, world, ["Overfit", "Steady", XSS])
    truth = truth_of(ev)
    results = [
        service.submit_frame(ev, predictions(truth, 0.2, public_quality=0.95), team="Overfit", token=tokens["Overfit"]),
        service.submit_frame(ev, predictions(truth, 0.8, public_quality=0.6), team="Steady", token=tokens["Steady"]),
        service.submit_frame(ev, predictions(truth, 0.4, public_quality=0.3), team=XSS, token=tokens[XSS]),
    ]
    return ev, tokens, results


def _private_strings(ev: Path) -> list[str]:
    """Every form in which a private score could show: raw floats, percentages, MCA's too."""
    with sqlite3.connect(ev / "leaderboard.sqlite") as conn:
        scores = [r[0] for r in conn.execute("SELECT private_score FROM submissions")]
        (ref,) = conn.execute("SELECT value FROM meta WHERE key = 'reference'").fetchone()
    scores.append(json.loads(ref)["private_score"])
    publics = set()
    with sqlite3.connect(ev / "leaderboard.sqlite") as conn:
        publics = {r[0] for r in conn.execute("SELECT public_score FROM submissions")}
    forms = []
    for s in scores:
        assert s not in publics, "the test needs private scores that differ from public ones"
        forms += [repr(s), json.dumps(s), f"{100 * s:.2f} %", f"{100 * s:.1f} %"]
    return forms


def test_private_scores_appear_nowhere_before_the_reveal(tmp_path, world):
    """Before the reveal, do show, show --json and the Python API hold no private score at all,
    under no key and in no format?"""
    ev, tokens, results = _public_private_event(tmp_path, world)
    forbidden = _private_strings(ev)
    shown = run_cli("leaderboard", "show", "--event", ev)
    as_json = run_cli("leaderboard", "show", "--event", ev, "--json")
    assert shown.returncode == 0 and as_json.returncode == 0
    for text in (shown.stdout, as_json.stdout, json.dumps(results), json.dumps(service.board(ev))):
        for form in forbidden:
            # As a whole number only: a private 0.2 is not leaked by a public 0.215.
            assert not re.search(rf"(?<![\d.]){re.escape(form)}(?!\d)", text), form
    for obj in (json.loads(as_json.stdout), service.board(ev), *results):
        # n_private, the size of the private part, is public knowledge; nothing else may be.
        assert not any("private" in k for k in json_keys(obj) - {"n_private"})
    assert "private_score" not in shown.stdout


def test_reveal_ranks_on_the_private_part_and_closes_submissions(tmp_path, world):
    """Does the reveal rank on the private part (the counted submission's private score), show
    private scores with each team's public rank, and refuse later submissions?"""
    ev, tokens, _ = _public_private_event(tmp_path, world)
    before = [r["team"] for r in service.standings(ev)["teams"]]
    assert before == ["Overfit", "Steady", XSS]
    proc = run_cli("leaderboard", "reveal", "--event", ev)
    assert proc.returncode == 0, proc.stderr
    assert "private" in proc.stdout
    board = service.standings(ev)
    assert board["event"]["revealed"] and board["event"]["part"] == "private"
    assert [r["team"] for r in board["teams"]] == ["Steady", XSS, "Overfit"]
    assert [r["public_rank"] for r in board["teams"]] == [2, 3, 1]
    assert all(r["private_score"] is not None for r in board["teams"])
    assert board["reference"]["private_score"] is not None
    shown = run_cli("leaderboard", "show", "--event", ev, "--json")
    assert json.loads(shown.stdout)["teams"][0]["private_score"] == board["teams"][0]["private_score"]
    text = run_cli("leaderboard", "show", "--event", ev).stdout
    assert "private_score" in text and "final ranking" in text
    # closed: refused, nothing written
    before_files = snapshot(ev)
    with pytest.raises(SubmissionRefused) as err:
        service.submit_frame(ev, predictions(truth_of(ev), 0.9), team="Steady", token=tokens["Steady"])
    assert err.value.reason == "closed"
    assert snapshot(ev) == before_files
    # idempotent
    again = run_cli("leaderboard", "reveal", "--event", ev)
    assert again.returncode == 0 and "already revealed" in again.stdout


def test_show_lists_the_required_columns_and_the_mca_row(event):
    """Does `show` list team, public_score, submissions and last_submission, with MCA's row?"""
    ev, tokens = event
    service.submit_frame(ev, predictions(truth_of(ev), 0.95), team="Alpha", token=tokens["Alpha"])
    text = run_cli("leaderboard", "show", "--event", ev).stdout
    header = text.splitlines()[1].split()
    assert header == ["rank", "team", "public_score", "submissions", "last_submission"]
    assert "MCA (reference)" in text
    rows = json.loads(run_cli("leaderboard", "show", "--event", ev, "--json").stdout)["teams"]
    assert {"team", "public_score", "submissions", "last_submission"} <= set(rows[0])
    assert rows[0]["team"] == "Alpha" and rows[0]["submissions"] == 1


# ---------------------------------------------------------------------------------------------
# concurrency


def _submit_one(event: str, path: str, team: str, token: str) -> tuple[str, int | None, str | None]:
    """One submission from a worker process: ``(team, submission id or None, refusal reason)``."""
    try:
        return team, service.submit_file(event, path, team=team, token=token)["submission"], None
    except SubmissionRefused as err:
        return team, None, err.reason


@pytest.mark.slow
def test_twelve_teams_submitting_at_once_get_exact_quotas(tmp_path, world):
    """With 12 teams x 10 submissions from parallel processes and a quota of 8, is every team
    granted exactly 8, each recorded exactly once, and every other one refused for the quota?"""
    ev = tmp_path / "ev"
    teams = [f"team {i:02d}" for i in range(12)]
    tokens = make_event(ev, world, teams, quota=8)
    truth = truth_of(ev)
    paths = {}
    for i, team in enumerate(teams):
        for k in range(10):
            paths[team, k] = str(write_csv(predictions(truth, 0.3 + 0.05 * k, seed=100 * i + k), tmp_path / f"{i}-{k}.csv"))
    jobs = [(team, k) for team in teams for k in range(10)]
    random.Random(0).shuffle(jobs)  # a team's submissions race each other, not only other teams'
    results = []
    # 8 processes: enough for a team's submissions to race each other, light enough for CI.
    with ProcessPoolExecutor(max_workers=8, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_submit_one, str(ev), paths[job], job[0], tokens[job[0]]) for job in jobs]
        results = [f.result() for f in as_completed(futures)]
    accepted = [r for r in results if r[1] is not None]
    refused = [r for r in results if r[1] is None]
    assert len(accepted) == 96 and len(refused) == 24
    assert all(reason == "quota" for _, _, reason in refused)
    for team in teams:
        assert sum(1 for t, _, _ in accepted if t == team) == 8
    ids = [i for _, i, _ in accepted]
    assert len(set(ids)) == len(ids) == 96
    with sqlite3.connect(ev / "leaderboard.sqlite") as conn:
        rows = conn.execute("SELECT s.id, t.name FROM submissions s JOIN teams t ON t.id = s.team_id").fetchall()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert sorted(rows) == sorted((i, t) for t, i, _ in accepted)
    assert all(r["submissions"] == 8 for r in service.standings(ev)["teams"])


# ---------------------------------------------------------------------------------------------
# the notebook helper


def test_helper_submits_a_frame_or_a_path_locally(event, tmp_path):
    """Does datathon.submit(frame or path, event=EV) return the metrics and the rank?"""
    ev, tokens = event
    frame = predictions(truth_of(ev), 0.7)
    result = datathon.submit(frame, team="Alpha", token=tokens["Alpha"], event=ev)
    assert result["rank"] == 1 and result["public"]["success_rate"] == result["public_score"]
    assert "rank 1 of 1" in result.summary()
    assert "<table>" in result._repr_html_()
    path = write_csv(frame, tmp_path / "p.csv")
    again = datathon.submit(str(path), team="Beta", token=tokens["Beta"], event=ev)
    assert again["public_score"] == result["public_score"]


@pytest.mark.parametrize("case", ["bad frame", "bad token", "quota", "not a frame", "both targets"])
def test_helper_refusals_are_one_readable_line(event, case):
    """Does the helper raise SubmissionRefused with one line, and render without a traceback?"""
    ev, tokens = event
    frame = predictions(truth_of(ev), 0.7)
    if case == "quota":
        for _ in range(3):
            datathon.submit(frame, team="Alpha", token=tokens["Alpha"], event=ev)
    kwargs = {"team": "Alpha", "token": tokens["Alpha"], "event": ev}
    arg = frame
    if case == "bad frame":
        arg = frame.rename(columns={"siret": "SIRET_CODE"})
    elif case == "bad token":
        kwargs["token"] = "nope"
    elif case == "not a frame":
        arg = [1, 2, 3]
    elif case == "both targets":
        kwargs["server"] = "http://127.0.0.1:1"
    with pytest.raises(SubmissionRefused) as err:
        datathon.submit(arg, **kwargs)
    message = str(err.value)
    assert message and "\n" not in message
    rendered = err.value._render_traceback_()
    assert len(rendered) == 1 and message in rendered[0]
    assert isinstance(err.value, UserError) and err.value.exit_code == 2


# ---------------------------------------------------------------------------------------------
# plot


def test_plot_series_follow_the_rule_and_hide_private_scores(tmp_path, world):
    """Is each team's line its running best public score, with no private score before the
    reveal, and does the matplotlib figure draw every team and the MCA line?"""
    ev, tokens, _ = _public_private_event(tmp_path, world)
    truth = truth_of(ev)
    worse = service.submit_frame(ev, predictions(truth, 0.1, seed=9), team="Steady", token=tokens["Steady"])
    board = service.board(ev)
    steady = next(t for t in board["plot"]["teams"] if t["team"] == "Steady")
    assert [p["id"] for p in steady["points"]][-1] == worse["submission"]
    assert steady["points"][-1]["score"] == worse["public_score"]
    assert steady["points"][-1]["counted"] == steady["points"][0]["score"] > worse["public_score"]
    assert board["plot"]["reference"] == board["reference"]["public_score"]
    fig = plot.figure(board)
    out = tmp_path / "scores.svg"
    fig.savefig(out)
    svg = out.read_text()
    assert "MCA" in svg and "&lt;script&gt;" in svg and "<script>alert" not in svg


# ---------------------------------------------------------------------------------------------
# the register


def test_scores_match_the_scorer_with_the_whole_register(tmp_path, world):
    """When the register lacks a true SIRET, do the leaderboard's fast public scores (its right
    codings) equal the scorer's with the whole register, and is coding that SIRET wrong, with a
    warning?"""
    import shutil

    import worlds

    data = tmp_path / "data"
    shutil.copytree(world, data)
    register = worlds.read(data, "etablissements.parquet")
    truth_full = evaluate.load_truth(data)
    # The most declared employer, and a public part of 95 %: some of its bulletins are then public
    # whatever the random split (with 5 bulletins and half public, all were private 1 time in 32).
    gone = truth_full["SIRET_DEC"].dropna().value_counts().index[0]
    worlds.rewrite(data, "etablissements.parquet", register[register["siret"] != gone].reset_index(drop=True))
    ev = tmp_path / "ev"
    tokens = make_event(ev, data, ["Alpha"], public_share=0.95)
    truth = truth_of(ev)
    frame = predictions(truth, 1.0)  # every codable bulletin right, `gone` included
    result = service.submit_frame(ev, frame, team="Alpha", token=tokens["Alpha"])

    public = truth_full[truth_full["CABBI"].isin(truth.loc[truth["PUBLIC"], "CABBI"])].reset_index(drop=True)
    sub = evaluate.read_submission(frame[frame["CABBI"].isin(public["CABBI"])].reset_index(drop=True))
    expected = evaluate.score(sub, public, register_sirets=evaluate._register_sirets(data))
    expected = json.loads(json.dumps(expected))
    # What counts right codings is the public part's; what counts codings is the whole file's.
    for key in ("n_bulletins", "n_correct", "success_rate", "only_team_right", "only_mca_right", "topk_accuracy"):
        assert result["public"][key] == expected[key], key
    assert result["public"]["n_coded"] == evaluate.score(evaluate.read_submission(frame), truth_full)["n_coded"]
    assert any("not in the register" in w and gone in w for w in result["warnings"])
    gone_public = int(((frame["siret"] == gone) & frame["CABBI"].isin(public["CABBI"])).sum())
    assert gone_public and expected["n_coded"] - result["public"]["n_correct"] == gone_public


def test_tokens_never_start_with_a_dash(monkeypatch):
    """Is a token that would start with "-" (read as an option by `--token`) never handed out?"""
    from datathon.leaderboard import service

    drawn = iter(["-starts-with-dash", "abc-def"])
    monkeypatch.setattr(service.secrets, "token_urlsafe", lambda n: next(drawn))
    assert service.new_token() == "abc-def"
