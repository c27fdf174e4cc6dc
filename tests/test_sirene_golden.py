"""Sirene's golden figures stay what they were when recorded (docs/challenges.md, §4 step 0).

``tests/golden/sirene.json`` was written once by ``tests/golden/record.py`` from the code before
Sirene moved under the challenge contract; every step of that move must leave these figures alone.
"""
from __future__ import annotations

import json

import pytest
from golden.record import GOLDEN, SEED, figures


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def current(sample_world, repo_root) -> dict:
    return figures(sample_world(SEED), repo_root / "data_samples")


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
