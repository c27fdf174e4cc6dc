"""datathon/luhn.py: the Luhn keys of SIREN and SIRET, scalar and vectorised."""
from __future__ import annotations

import numpy as np
import pytest

from datathon.luhn import (LA_POSTE_SIREN, luhn_check_digit, luhn_valid, siren_valid, siret_valid,
                           vectorised_valid, with_luhn_key)


def textbook_luhn(digits: str) -> bool:
    """The Luhn check written independently of the package: double every second digit from the right."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


@pytest.mark.parametrize("siren", ["732829320", "552100554", "542065479", "356000000"])
def test_known_sirens_are_valid(siren):
    """Are real SIRENs (INSEE's example 732 829 320, La Poste's 356 000 000, ...) accepted?"""
    assert siren_valid(siren)


@pytest.mark.parametrize("siren", ["732829321", "732829330", "73282932", "7328293200", "73282932A", "", None,
                                   732829320, " 732829320"])
def test_invalid_sirens_are_refused(siren):
    """Are a wrong key, a wrong length, a non-digit, an empty value and a non-string refused?"""
    assert not siren_valid(siren)


@pytest.mark.parametrize("siret", ["73282932000074", "44306184100047"])
def test_known_sirets_are_valid(siret):
    """Are real SIRETs (INSEE's example 732 829 320 00074) accepted?"""
    assert siret_valid(siret)


@pytest.mark.parametrize("siret", ["73282932000075", "73282932000047", "7328293200007", "732829320000740",
                                   "7328293200007A", "", None, 73282932000074])
def test_invalid_sirets_are_refused(siret):
    """Are a wrong key, swapped digits, a wrong length, a non-digit and a non-string refused?"""
    assert not siret_valid(siret)


def test_la_poste_head_office_follows_luhn():
    """Is La Poste's head office, SIRET 356 000 000 00048, valid (it follows the ordinary Luhn key)?"""
    assert textbook_luhn("35600000000048")
    assert siret_valid("35600000000048")


@pytest.mark.parametrize("siret", ["35600000000001", "35600000049837"])
def test_la_poste_establishments_follow_the_sum_of_digits_rule(siret):
    """Is a La Poste establishment valid when its digits sum to a multiple of 5, Luhn or not?"""
    assert siret.startswith(LA_POSTE_SIREN) and not textbook_luhn(siret)
    assert siret_valid(siret)


@pytest.mark.parametrize("siret", ["35600000000002", "35600000049838"])
def test_la_poste_establishments_breaking_the_rule_are_refused(siret):
    """Is a La Poste SIRET whose digits do not sum to a multiple of 5 refused?"""
    assert sum(map(int, siret)) % 5 != 0
    assert not siret_valid(siret)


def test_check_digit_completes_a_valid_number():
    """Does luhn_check_digit give INSEE's key for 73282932 and make every body valid?"""
    assert luhn_check_digit("73282932") == "0"
    assert luhn_check_digit("7328293200007") == "4"
    rng = np.random.default_rng(11)
    for body in rng.integers(0, 10**8, 200):
        assert luhn_valid(f"{body:08d}" + luhn_check_digit(f"{body:08d}"))


@pytest.mark.parametrize("width", [9, 14])
def test_vectorised_validity_agrees_with_the_scalar_check(width):
    """Does vectorised_valid say what luhn_valid says, on random numbers with and without leading zeros?"""
    rng = np.random.default_rng(11)
    numbers = np.concatenate([rng.integers(0, 10**width, 3000, dtype=np.int64),
                              rng.integers(0, 10**(width - 3), 1000, dtype=np.int64)])
    vector = vectorised_valid(numbers, width)
    scalar = np.array([luhn_valid(f"{x:0{width}d}") for x in numbers])
    textbook = np.array([textbook_luhn(f"{x:0{width}d}") for x in numbers])
    assert (vector == scalar).all()
    assert (scalar == textbook).all()
    assert 0.05 < scalar.mean() < 0.15  # about one number in ten is valid: the sample is not degenerate


@pytest.mark.parametrize("width", [9, 14])
def test_with_luhn_key_is_always_valid(width):
    """Does with_luhn_key append one digit that makes every body valid, body kept?"""
    rng = np.random.default_rng(12)
    edges = np.array([0, 1, 10**(width - 1) - 1])
    bodies = np.concatenate([rng.integers(0, 10**(width - 1), 3000, dtype=np.int64), edges])
    full = with_luhn_key(bodies, width)
    assert full.dtype == np.int64
    assert (full // 10 == bodies).all()
    assert vectorised_valid(full, width).all()
    assert all(textbook_luhn(f"{x:0{width}d}") for x in full)
    assert [str(x % 10) for x in full[:50]] == [luhn_check_digit(f"{b:0{width - 1}d}") for b in bodies[:50]]


def test_with_luhn_key_gives_insee_example():
    """Does with_luhn_key turn 73282932 into 732829320 and 7328293200007 into 73282932000074?"""
    assert with_luhn_key(np.array([73282932]), 9)[0] == 732829320
    assert with_luhn_key(np.array([7328293200007]), 14)[0] == 73282932000074
