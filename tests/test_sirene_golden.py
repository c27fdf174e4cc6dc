"""Sirene's golden figures stay what they were when recorded (docs/challenges.md, §4 step 0).

``tests/golden/sirene.json`` was written once by ``tests/golden/record.py`` from the code before
Sirene moved under the challenge contract; every step of that move must leave these figures alone.
``tests/golden/sirene_leaderboard.json`` holds the standings of a scripted event, recorded before
the leaderboard went through the contract (step 2a).
"""
from __future__ import annotations

import json

import pytest
from golden.record import GOLDEN, LEADERBOARD_GOLDEN, SAMPLE, SEED, figures, leaderboard_figures


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def current(sample_world) -> dict:
    return figures(sample_world(SEED), SAMPLE)


def test_generate_writes_the_same_bytes(golden, current):
    """`datathon generate --scale sample --seed 11` writes the same files, byte for byte (manifest
    compared without its timestamp)."""
    assert current["generate"] == golden["generate"]


def test_data_check_finds_the_same_problems(golden, current):
    """`datathon data check` on that world reports what it reported (nothing)."""
    assert current["data_check"] == golden["data_check"]


@pytest.mark.parametrize("where", ["world_scores", "sample_scores"])
def test_mca_scores_are_unchanged(golden, current, where):
    """The MCA's recorded codings and its re-run score the same on the seed-11 world and on the
    committed sample, on both splits: every metric, down to the last digit."""
    assert current[where] == golden[where]


@pytest.fixture(scope="module")
def leaderboard_golden() -> dict:
    return json.loads(LEADERBOARD_GOLDEN.read_text(encoding="utf-8"))


def test_leaderboard_standings_are_unchanged(leaderboard_golden, sample_world, tmp_path):
    """A scripted event on the seed-11 world (MCA's codings, top-2 candidates, a one-line probe, a
    blank file, an unregistered SIRET, a duplicate), under rules best and last: every answer's
    public metrics, rank and warnings, every stored private metric, the reference, and the
    standings before and after the reveal are what they were before the leaderboard went through
    the challenge contract, down to the last digit."""
    current = leaderboard_figures(sample_world(SEED), tmp_path)
    for rule in ("best", "last"):
        for part in ("answers", "stored", "reference", "public_board", "private_board"):
            assert current[rule][part] == leaderboard_golden[rule][part], (rule, part)
