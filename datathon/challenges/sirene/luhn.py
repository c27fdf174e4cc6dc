"""Luhn keys of SIREN (9 digits) and SIRET (14 digits).

Both identifiers end with a Luhn check digit; INSEE's one exception, La Poste (SIREN 356000000),
whose establishments' SIRET digits sum to a multiple of 5 (all but the head office,
35600000000048, which follows Luhn), is accepted too.
"""
from __future__ import annotations

import numpy as np

LA_POSTE_SIREN = "356000000"
LA_POSTE_HEAD_OFFICE = "35600000000048"  # follows the ordinary Luhn rule


def luhn_valid(number: str) -> bool:
    """Does a string of digits pass the Luhn check?"""
    if not number or not number.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def siren_valid(siren: str) -> bool:
    """Is this a 9-digit SIREN with a valid key?"""
    return isinstance(siren, str) and len(siren) == 9 and luhn_valid(siren)


def siret_valid(siret: str) -> bool:
    """Is this a 14-digit SIRET with a valid key (La Poste's rule included)?"""
    if not isinstance(siret, str) or len(siret) != 14 or not siret.isdigit():
        return False
    if siret.startswith(LA_POSTE_SIREN) and siret != LA_POSTE_HEAD_OFFICE:
        return sum(int(c) for c in siret) % 5 == 0
    return luhn_valid(siret)


def luhn_check_digit(body: str) -> str:
    """The digit to append to ``body`` so that the whole passes the Luhn check."""
    for d in "0123456789":
        if luhn_valid(body + d):
            return d
    raise AssertionError("unreachable: one digit always completes a Luhn number")


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Digits (most significant first) of non-negative integers, as an (n, width) array."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers[None, :]) % 10


def with_luhn_key(bodies: np.ndarray, width: int) -> np.ndarray:
    """Append a Luhn key to integer ``bodies`` of ``width - 1`` digits (vectorised).

    Returns the full numbers as int64, ``width`` digits each (leading zeros implied).
    """
    bodies = np.asarray(bodies, dtype=np.int64)
    digits = _digits(bodies, width - 1)
    # In the full number the key is the rightmost digit; body digits at odd distance from it double.
    doubled = np.zeros(width - 1, dtype=bool)
    doubled[::-1][0::2] = True
    d = digits.copy()
    dd = d[:, doubled] * 2
    d[:, doubled] = np.where(dd > 9, dd - 9, dd)
    key = (10 - d.sum(axis=1) % 10) % 10
    return bodies * 10 + key


def vectorised_valid(numbers: np.ndarray, width: int) -> np.ndarray:
    """Luhn validity of integer numbers of ``width`` digits (vectorised)."""
    digits = _digits(np.asarray(numbers, dtype=np.int64), width)
    doubled = np.zeros(width, dtype=bool)
    doubled[::-1][1::2] = True
    dd = digits[:, doubled] * 2
    digits[:, doubled] = np.where(dd > 9, dd - 9, dd)
    return digits.sum(axis=1) % 10 == 0
