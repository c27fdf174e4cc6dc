"""The world's seed: a whole number, or a passphrase turned into one.

Whoever knows a world's seed rebuilds it byte for byte, its test truth included, so an event's
seed must be one nobody can guess. ``--seed`` (and ``generate(seed=...)``) takes:

- **decimal digits** (``20180118``): that integer, as it always did, so every world generated
  before passphrases existed keeps its bytes;
- **any other text**, a passphrase: its UTF-8 bytes, after Unicode NFC normalisation (so that
  ``é`` typed as one character or as ``e`` plus an accent is the same passphrase), are hashed with
  SHA-256, and the first 16 bytes of the digest, read as a big-endian unsigned integer, are the
  seed (a 128-bit integer)::

      int.from_bytes(hashlib.sha256(unicodedata.normalize("NFC", text).encode()).digest()[:16], "big")

numpy's ``SeedSequence`` takes integers of any size, so the generator uses the result as it uses
a small seed. The manifest of a passphrase world records that integer, never the passphrase: the
integer regenerates the same world, and a passphrase (which people reuse) stays out of every file.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

import numpy as np

from datathon.errors import UserError

# Below these, a seed can be found by trying candidates: a small integer by counting, a short or
# few-word passphrase from a dictionary. The generator's first draws take milliseconds to compare
# with the public files, so every guess is cheap to test.
STRONG_INTEGER = 2**64
STRONG_CHARACTERS = 20
STRONG_WORDS = 4
STRONG_TOKEN = 32  # one long random token (`openssl rand -hex 16`) is as good as many words

_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_NUMBER_LIKE = re.compile(r"\s*[-+]?[0-9][0-9_]*\s*", re.ASCII)

SHORT_SEED_WARNING = ("this seed is short: anyone who guesses the seed rebuilds the truth (truth_test.parquet); "
                      "for an event use a long passphrase, e.g. five random words: --seed \"<five random words>\"")


def parse_seed(seed: int | str) -> int:
    """The integer seed the generator uses for ``seed`` (see the module docstring).

    Raises :class:`UserError` for a negative integer, an empty passphrase, text that looks like a
    number but is not plain digits (``-3``, `` 11``: surely a mistake, not a passphrase), and any
    other type.
    """
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        if seed < 0:
            raise UserError(f"--seed must be a non-negative integer or a passphrase, not {seed!r}")
        return int(seed)
    if not isinstance(seed, str):
        raise UserError(f"--seed must be a non-negative integer or a passphrase, not {seed!r}")
    if _DIGITS.fullmatch(seed):
        return int(seed)
    if _NUMBER_LIKE.fullmatch(seed):
        raise UserError(f"--seed {seed!r} looks like a number but is not plain digits: a seed is a "
                        "non-negative integer written with digits only, or a passphrase")
    if not seed.strip():
        raise UserError("--seed is empty: give a non-negative integer or a passphrase")
    digest = hashlib.sha256(unicodedata.normalize("NFC", seed).encode("utf-8")).digest()
    return int.from_bytes(digest[:16], "big")


def is_short(seed: int | str) -> bool:
    """Whether ``seed`` (valid for :func:`parse_seed`) could be guessed by trying candidates."""
    if not isinstance(seed, str) or _DIGITS.fullmatch(seed):
        return parse_seed(seed) < STRONG_INTEGER
    text = unicodedata.normalize("NFC", seed).strip()
    return len(text) < STRONG_CHARACTERS or (len(text.split()) < STRONG_WORDS and len(text) < STRONG_TOKEN)


def seed_warning(seed: int | str, out: str | Path) -> str | None:
    """The warning ``datathon generate`` prints for a short seed, or None.

    The kit's own samples (``data_samples/`` and a challenge's folder in it) are public on purpose
    (``make sample`` regenerates them from published seeds), so writing them draws no warning.
    """
    samples = Path(__file__).resolve().parents[1] / "data_samples"
    target = Path(out).resolve()
    if not is_short(seed) or target == samples or target.parent == samples:
        return None
    return SHORT_SEED_WARNING
