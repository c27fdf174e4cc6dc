"""A public/private split of the truth's rows by a salted hash of their ids (challenges that split
this way call :func:`public_mask` from their ``split``).

A row is *public* (scored on the live leaderboard) when the first 8 bytes of
``sha256(salt || 0x00 || id)``, read as an unsigned integer, fall below ``public_share`` of
the 64-bit range. Why a salted hash rather than a random draw:

- it is a pure function of the row's id and the event's secret, so the split never has to be
  stored to be reproduced, and re-running it gives the same answer on any machine;
- without the salt, which stays in the event directory, participants cannot tell which of their
  rows count for the public score, so they cannot tune against the public part alone.

The realised share is ``public_share`` up to sampling noise (a binomial draw per row).
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

import numpy as np

#: Length in bytes of a fresh salt (256 bits: guessing it is out of the question).
SALT_BYTES = 32


def make_salt() -> str:
    """A fresh secret salt, as hex text (it is written to the event directory's ``salt`` file)."""
    return secrets.token_hex(SALT_BYTES)


def public_mask(ids: Iterable[str], salt: str, public_share: float) -> np.ndarray:
    """Which rows are public: a boolean array aligned with ``ids``.

    ``salt`` is the event's secret (hex text, used as bytes as written); ``public_share`` is in
    (0, 1). Deterministic: the same ids, salt and share always give the same mask.
    """
    if not 0.0 < public_share < 1.0:
        raise ValueError(f"public_share must be strictly between 0 and 1, not {public_share!r}")
    values = [str(c) for c in ids]
    # Hash the salt once and copy the state per id: ~2x faster than re-hashing the salt each time,
    # which matters at scale (1.7 M ids for a Sirene campaign).
    base = hashlib.sha256(salt.encode("utf-8") + b"\0")
    keys = np.empty(len(values), dtype=np.uint64)
    for i, value in enumerate(values):
        h = base.copy()
        h.update(value.encode("utf-8"))
        keys[i] = int.from_bytes(h.digest()[:8], "big")
    # Compare in integers: a float threshold near 2**64 would round.
    threshold = np.uint64(min(int(public_share * 2**64), 2**64 - 1))
    return keys < threshold
