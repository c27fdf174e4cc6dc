"""What Sirene's participants' bundle keeps of the instructor's manifest, and when it gets a data dictionary.

The engine's :func:`datathon.event.bundle` copies the public files and writes a public manifest
from :data:`PUBLIC_KEYS`; the reasons for each key are here, next to the generator that writes them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable


def _same(value, files):
    return value


# What the public manifest keeps, key by key: how each value is published, given the names of the
# bundle's files. A key not named here is left out: what nobody argued public stays hidden (a newer
# generator's key, a hand-written manifest's).
PUBLIC_KEYS: dict[str, Callable[[Any, set[str]], Any]] = {
    # What wrote the data and how big they are: the files show as much.
    "generator": _same, "version": _same, "kind": _same, "scale": _same, "departements": _same,
    # (seed: left out. With it, `datathon generate` rebuilds truth_test.parquet byte for byte.)
    # Bulletins drawn on a real register: the name and sha256 of INSEE's open stock file it came from.
    "register": _same,
    # The public files' counts only: the truth's is a hidden file's, even when it equals the test's.
    "rows": lambda rows, files: {name: n for name, n in rows.items() if name in files},
    # The rate of each mechanism as the generator was told (world/noise.py, the data dictionary's
    # table): parameters acting alike on both splits, not measured on the test split.
    "noise": _same,
    # MCA's figures on the train split, which participants can measure themselves (its truth is
    # theirs); the test split's precision and success rate were measured against the hidden truth.
    "mca": lambda mca, files: {"train": mca["train"]} if "train" in mca else None,
    # When the data were written: nothing can be rebuilt from it.
    "generated_at": _same,
    # (checksums: the engine writes those of the bundle's own files; a hidden file's checksum would
    # tell a guessed seed from a wrong one offline.)
}


def describable(directory: Path, manifest: dict) -> bool:
    """Whether the data dictionary can describe a directory: data `datathon generate` wrote, with its
    noise mechanisms as they are today (real data, or rates overridden, have no dictionary)."""
    from datathon.challenges.sirene.world.noise import manifest_rates
    from datathon.dictionary import DATA_FILES, TRUTH_FILE

    return (manifest.get("generator") == "datathon" and manifest.get("noise") == manifest_rates()
            and all((Path(directory) / name).is_file() for name in DATA_FILES if name != TRUTH_FILE))
