"""The engine's checks of a challenge plug-in, for our tests and for a third party's (docs/challenges.md, §2).

As RAMP ships one ``assert_submission`` that its kits run, the engine ships these checks: the kit's
own suite runs each over every installed challenge (``tests/test_challenges.py``), and a package that
adds a challenge runs them in its suite::

    def test_kit(tmp_path):
        datathon.testing.assert_challenge("wind", tmp_path)

Each check raises :class:`AssertionError` with a message that names the challenge and what broke.
They need pytest no more than the standard library's ``assert`` does.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

from datathon.challenge import API, Challenge

#: The seed of the worlds the checks generate (the kit's suite uses the same for its own world).
SEED = 11


def _get(challenge: Challenge | str) -> Challenge:
    from datathon.challenges import get

    return get(challenge) if isinstance(challenge, str) else challenge


def file_digests(directory: Path) -> dict[str, str]:
    """sha256 of every file of a data directory; the manifest's without ``generated_at`` (its one moving part)."""
    digests = {}
    for path in sorted(p for p in Path(directory).iterdir() if p.is_file()):
        data = path.read_bytes()
        if path.name == "manifest.json":
            manifest = json.loads(data)
            manifest.pop("generated_at", None)
            data = json.dumps(manifest, sort_keys=True).encode()
        digests[path.name] = hashlib.sha256(data).hexdigest()
    return digests


def check_contract(challenge: Challenge | str) -> None:
    """Item 1: names and texts filled, the API version and scales declared, a ranking score type first and
    on the board, score keys unique, the split kind known, the id column first in the submission and in
    every truth file, hidden columns only in truth files, every column of every file with a meaning,
    performance cells naming this challenge's keys."""
    c = _get(challenge)
    who = f"challenge {c.name!r}"
    assert c.api == API, f"{who}: written for contract version {c.api}, not {API}"
    assert c.title and c.version and c.scales, f"{who}: title, version and scales must be declared"
    assert c.reference_name and c.split_kind in ("hash", "time"), f"{who}: reference_name and split_kind"
    assert c.ranking is c.score_types[0] and c.ranking.on_board, f"{who}: the ranking score type is shown on the board"
    keys = [t.key for t in c.score_types]
    assert len(keys) == len(set(keys)), f"{who}: score type keys repeat: {keys}"
    assert c.submission.required[0] == c.schema.id_column, f"{who}: the submission starts with {c.schema.id_column}"
    truth_files = [f for f in c.schema.files if f.role == "truth"]
    assert truth_files, f"{who}: no truth file in the schema"
    assert all(c.schema.id_column in {col.name for col in f.columns} for f in truth_files), \
        f"{who}: a truth file lacks the id column {c.schema.id_column}"
    assert not [col for f in c.schema.files if f.role != "truth" for col in f.columns if col.hidden], \
        f"{who}: a hidden column in a file participants get"
    unexplained = [(f.name, col.name) for f in c.schema.files for col in f.columns if not col.meaning.strip()]
    assert not unexplained, f"{who}: columns without a meaning: {unexplained}"
    from datathon import bands

    for perf in bands.PERFORMANCE:
        if perf.challenge == c.name:
            assert perf.split in c.schema.splits, f"{who}: performance cell {perf.cell} on unknown split {perf.split}"


def check_generate(challenge: Challenge | str, workdir: Path, seed: int | str = SEED) -> Path:
    """Item 2: the smallest scale generated twice gives the same bytes, with ``"challenge"`` in its manifest
    (Sirene's has none: a manifest without it is Sirene's), and the challenge's check finds no error.
    Returns the directory (``workdir/world``)."""
    c = _get(challenge)
    first, second = Path(workdir) / "world", Path(workdir) / "again"
    for out in (first, second):
        c.generate(seed, c.scales[0], out, force=True, progress=False)
    assert file_digests(first) == file_digests(second), f"challenge {c.name!r}: the same seed wrote other bytes"
    manifest = json.loads((first / "manifest.json").read_text(encoding="utf-8"))
    assert manifest.get("challenge", "sirene") == c.name, f"challenge {c.name!r}: its manifest names another"
    check_clean(c, first)
    return first


def check_clean(challenge: Challenge | str, data: Path) -> None:
    """Item 2 (check): the challenge's own check finds no error in ``data``."""
    c = _get(challenge)
    errors = [p for p in c.check(data) if p.level == "error"]
    assert not errors, f"challenge {c.name!r}: check finds errors in generated data: {errors[:3]}"


def check_reference(challenge: Challenge | str, data: Path, workdir: Path) -> None:
    """Item 3: on every split, the reference written as a CSV and read back as a team's file scores with
    every score type's key present, nothing non-finite, and a finite ranking value."""
    c = _get(challenge)
    for split in c.schema.splits:
        path = Path(workdir) / f"reference-{split}.csv"
        c.reference(data, split).to_csv(path, sep=";", index=False)
        truth = c.load_truth(data, split)
        submission = c.read_submission(path, known_ids=truth[c.schema.id_column])
        metrics = c.score(submission, truth, context=c.context(data, truth))
        json.dumps(metrics, allow_nan=False)  # raises on NaN or infinity
        for score_type in c.score_types:
            score_type.value(metrics)  # KeyError when absent
        assert math.isfinite(c.ranking.value(metrics)), f"challenge {c.name!r}: the reference has no rank on {split}"


def check_split(challenge: Challenge | str, data: Path) -> None:
    """Item 4: the same truth, salt and share give the same public mask; both parts are non-empty."""
    c = _get(challenge)
    truth = c.load_truth(data, "test")
    mask = c.split(truth, "a salt", c.default_public_share)
    assert mask.dtype == bool and len(mask) == len(truth), f"challenge {c.name!r}: split() is not a row mask"
    assert np.array_equal(mask, c.split(truth, "a salt", c.default_public_share)), \
        f"challenge {c.name!r}: split() is not deterministic"
    assert 0 < mask.sum() < len(mask), f"challenge {c.name!r}: a part of the split is empty"


def degraded(challenge: Challenge | str, frame):
    """A valid but worse submission than ``frame``: every answer column emptied (text) or set to 0 (numbers)."""
    import pandas as pd

    c = _get(challenge)
    out = frame.copy()
    for column in out.columns:
        if column != c.schema.id_column:
            out[column] = 0 if pd.api.types.is_numeric_dtype(out[column]) else ""
    return out


def check_leaderboard(challenge: Challenge | str, data: Path, workdir: Path) -> None:
    """Item 5: an event on ``data`` ranks, whatever the direction, a team that submits the reference above a
    team that submits a degraded file; under rule ``best`` a team's counted submission is its better one, and
    the reference's own line carries the ranking score."""
    from datathon.leaderboard import service

    c = _get(challenge)
    event = Path(workdir) / "event"
    service.init_event(event, data, quota=10, name=f"kit check of {c.name}", rule="best")
    good, poor = Path(workdir) / "good.csv", Path(workdir) / "poor.csv"
    reference = c.reference(data, "test")
    reference.to_csv(good, sep=";", index=False)
    degraded(c, reference).to_csv(poor, sep=";", index=False)
    tokens = {team: service.add_team(event, team) for team in ("Careful", "Hasty")}
    service.submit_source(event, good, team="Careful", token=tokens["Careful"])
    service.submit_source(event, poor, team="Hasty", token=tokens["Hasty"])
    second = service.submit_source(event, good, team="Hasty", token=tokens["Hasty"])
    board = service.standings(event)
    rows = {row["team"]: row for row in board["teams"]}
    ranking = c.ranking
    assert rows["Careful"]["rank"] == 1, f"challenge {c.name!r}: the reference's team is not first ({board['teams']})"
    assert rows["Hasty"]["counted_submission"] == second["submission"], \
        f"challenge {c.name!r}: rule best did not count the better submission"
    assert board["reference"]["public_score"] is not None and math.isfinite(board["reference"]["public_score"])
    assert not ranking.direction.better(board["teams"][-1]["public_score"], board["teams"][0]["public_score"]), \
        f"challenge {c.name!r}: a later row scores better than the first"


def check_cli(challenge: Challenge | str, data: Path, workdir: Path) -> None:
    """Item 8: `generate --challenge` writes what the API writes; `data check` passes; `reference` writes a
    file that `score --json` scores with every score type's key."""
    import contextlib
    import io

    from datathon.cli import main

    c = _get(challenge)
    out, ref = Path(workdir) / "cli-data", Path(workdir) / "cli-ref.csv"
    assert main(["generate", "--challenge", c.name, "--scale", c.scales[0], "--seed", str(SEED), "--out", str(out),
                 "--quiet", "--force"]) == 0
    assert file_digests(out) == file_digests(data), f"challenge {c.name!r}: the CLI wrote other bytes than the API"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["data", "check", str(out)]) == 0, f"challenge {c.name!r}: `data check` fails on its own data"
        assert main(["reference", "--data", str(out), "--out", str(ref)]) == 0
        start = printed.tell()
        assert main(["score", str(ref), "--data", str(out), "--json"]) == 0
    metrics = json.loads(printed.getvalue()[start:])
    for score_type in c.score_types:
        score_type.value(metrics)


def assert_challenge(name: str, workdir: str | Path) -> None:
    """Every check above on challenge ``name``, in ``workdir`` (an empty temporary directory)."""
    workdir = Path(workdir)
    check_contract(name)
    data = check_generate(name, workdir)
    check_reference(name, data, workdir)
    check_split(name, data)
    check_leaderboard(name, data, workdir)
    check_cli(name, data, workdir)
