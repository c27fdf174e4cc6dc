"""Running an event: what participants receive (``datathon event bundle``).

The event's data directory (``datathon generate --seed "<passphrase>" --out event-data``) is the
instructor's: it holds the test truth, and its ``manifest.json`` holds the seed, with which anyone
rebuilds that truth byte for byte. :func:`bundle` writes the directory participants get instead:

- the public files of the data directory, copied byte for byte: the register, the geography, the
  train and test bulletins and ``naf.csv``. Only files the schema names are copied: the test truth
  and anything else the directory holds (notes, a leaderboard's files) stay behind;
- a public ``manifest.json``: :func:`public_manifest` keeps what describes those files and leaves
  out the seed and everything that was measured on, or belongs to, the test truth;
- the data dictionary (``README.md``, :mod:`datathon.dictionary`) of those files.

It refuses test bulletins that carry truth columns, writes the bundle completely or not at all,
and never writes inside the event's data (nor over it).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from datathon import schema
from datathon.errors import UserError
from datathon.files import replace_directory, sha256_file

TRUTH_FILES = ("truth_test.parquet", "truth_test.csv")  # the test truth, in either form data.py reads
# Columns that give a test bulletin's truth away: SIRET_DEC itself, and NOISE, whose mechanisms say
# whether it can be coded at all (household_employer, blank_answer) and where the employer really is.
HIDDEN_TEST_COLUMNS = (schema.TRUTH_COLUMN, schema.NOISE_COLUMN)
PUBLIC_FILES = [name for name in (*schema.FILES, schema.NAF_FILE) if name not in TRUTH_FILES]
OPTIONAL_FILES = {schema.NAF_FILE}  # the package ships the nomenclature: a directory may lack it


@dataclass
class Bundle:
    """What :func:`bundle` wrote: the files in ``out``, and what it left out of the event's data (name -> why)."""

    out: Path
    files: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)


def _same(value, files):
    return value


# What the public manifest keeps of the instructor's, key by key: how each value is published, given
# the names of the bundle's files. A key not named here is left out: what nobody argued public stays
# hidden (a newer generator's key, a hand-written manifest's).
PUBLIC_KEYS: dict[str, Callable[[Any, set[str]], Any]] = {
    # What wrote the data and how big they are: the files show as much.
    "generator": _same, "version": _same, "kind": _same, "scale": _same, "departements": _same,
    # (seed: left out. With it, `datathon generate` rebuilds truth_test.parquet byte for byte.)
    # Bulletins drawn on a real register: the name and sha256 of INSEE's open stock file it came from.
    "register": _same,
    # The public files' counts only: the truth's is a hidden file's, even when it equals the test's.
    "rows": lambda rows, files: {name: n for name, n in rows.items() if name in files},
    # The rate of each mechanism as the generator was told (datathon/world/noise.py, the data
    # dictionary's table): parameters acting alike on both splits, not measured on the test split.
    "noise": _same,
    # MCA's figures on the train split, which participants can measure themselves (its truth is
    # theirs); the test split's precision and success rate were measured against the hidden truth.
    "mca": lambda mca, files: {"train": mca["train"]} if "train" in mca else None,
    # When the data were written: nothing can be rebuilt from it.
    "generated_at": _same,
    # The checksums of the bundle's own files, written by public_manifest: a hidden file's checksum
    # would tell a guessed seed from a wrong one offline.
}


def public_manifest(manifest: dict, checksums: dict[str, str]) -> dict:
    """The manifest participants get, from the instructor's ``manifest`` (:data:`PUBLIC_KEYS`, in
    its order) and the ``checksums`` of the files the bundle holds."""
    files = set(checksums)
    public = {key: PUBLIC_KEYS[key](value, files) for key, value in manifest.items() if key in PUBLIC_KEYS}
    public = {key: value for key, value in public.items() if value is not None}
    public["checksums"] = dict(sorted(checksums.items()))
    return public


def bundle(data: str | Path, out: str | Path, force: bool = False) -> Bundle:
    """Write the participants' bundle of the event's data directory ``data`` to ``out``.

    ``out`` must be empty or absent (or ``force``), and neither the data directory, nor inside it,
    nor a directory that holds it. Raises :class:`UserError` before writing anything when a check
    fails; the bundle goes to a temporary directory beside ``out`` and replaces it at the end.
    """
    from datathon.data import data_directory, file_columns, find_file, load_manifest

    data, out = data_directory(data), Path(out)
    _check_out(data, out, force)
    sources = {name: find_file(data, name) for name in PUBLIC_FILES}
    missing = [name for name, path in sources.items() if path is None and name not in OPTIONAL_FILES]
    if missing:
        raise UserError(f"{data} lacks {', '.join(missing)}: give the event's data directory "
                        f"(`datathon data check {data}` lists every problem)")
    sources = {name: path for name, path in sources.items() if path is not None}
    test = sources["bulletins_test.parquet"]
    try:
        leaked = [c for c in file_columns(test) if c in HIDDEN_TEST_COLUMNS]
    except Exception as err:  # noqa: BLE001 - whatever the reader says, the file cannot be handed out
        reason = (str(err).strip() or type(err).__name__).splitlines()[0]
        raise UserError(f"cannot read {test}: {reason}; `datathon data check {data}` says more") from None
    if leaked:
        raise UserError(f"{test.name} in {data} carries {', '.join(leaked)}: the test truth belongs in "
                        "truth_test.parquet, never with the bulletins participants get")
    manifest = load_manifest(data)

    result = Bundle(out)
    copied = {path.name for path in sources.values()}
    for entry in sorted(data.iterdir(), key=lambda p: p.name):
        if entry.name not in copied:
            result.left_out[entry.name] = _why_left_out(entry.name)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would keep a bundle from those it is for
    try:
        _write(tmp, sources, manifest, result)
        replace_directory(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def _check_out(data: Path, out: Path, force: bool) -> None:
    from datathon.challenges.sirene.world import _check_out as check_empty_or_forced

    there, event = out.resolve(), data.resolve()
    if there == event or event in there.parents:
        raise UserError(f"--out {out} is, or is inside, the event's data {data}: write the bundle elsewhere, "
                        "so that what you hand out and what you keep never mix")
    if there in event.parents:  # --force would replace it, the event's data with it
        raise UserError(f"--out {out} holds the event's data {data}: choose a directory outside it")
    check_empty_or_forced(out, force)  # the same rule as `datathon generate --out`


def _why_left_out(name: str) -> str:
    if name in TRUTH_FILES:
        return "the test truth"
    if name == schema.MANIFEST:
        return "the instructor's, with the seed: the bundle has a public one"
    if name == "README.md":
        return "the instructor's: a data dictionary written there quotes the seed"
    return "not one of the public files a bundle copies"


def _write(tmp: Path, sources: dict[str, Path], manifest: dict | None, result: Bundle) -> None:
    """Copy the public files into ``tmp``, then write the public manifest and the data dictionary."""
    for path in sources.values():
        shutil.copyfile(path, tmp / path.name)
        result.files.append(path.name)
    checksums = {name: sha256_file(tmp / name) for name in result.files}
    public = public_manifest(manifest or {}, checksums)
    (tmp / schema.MANIFEST).write_text(json.dumps(public, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    result.files.append(schema.MANIFEST)
    if _describable(tmp, public):
        from datathon import dictionary

        dictionary.write(tmp)
        result.files.append(dictionary.README)


def _describable(directory: Path, manifest: dict) -> bool:
    """Whether the data dictionary can describe the bundle: data `datathon generate` wrote, with its
    noise mechanisms as they are today (real data, or rates overridden, have no dictionary)."""
    from datathon.dictionary import DATA_FILES, TRUTH_FILE
    from datathon.challenges.sirene.world.noise import manifest_rates

    return (manifest.get("generator") == "datathon" and manifest.get("noise") == manifest_rates()
            and all((directory / name).is_file() for name in DATA_FILES if name != TRUTH_FILE))


# ---------------------------------------------------------------------------------------------
# datathon event ...


def add_event_commands(sub: argparse._SubParsersAction) -> None:
    """``datathon event bundle --data EVENT_DATA --out BUNDLE [--force]``."""
    p = sub.add_parser(
        "event",
        help="prepare an event (event bundle: the data participants receive)",
        description="Verbs for the instructor of an event.",
    )
    verbs = p.add_subparsers(dest="event_command", metavar="VERB")
    verbs.required = True
    b = verbs.add_parser(
        "bundle",
        help="write what participants receive: the public files, a public manifest, the data dictionary",
        description="Copy the public files of the event's data directory (everything but the test truth) "
        "into BUNDLE, with a manifest that has neither the seed nor anything about the truth, and the data "
        "dictionary of those files. Hand out BUNDLE; keep EVENT_DATA (its truth and its seed) to yourself.",
    )
    b.add_argument("--data", required=True, type=Path, metavar="EVENT_DATA",
                   help="the event's data directory (`datathon generate` wrote it)")
    b.add_argument("--out", required=True, type=Path, metavar="BUNDLE", help="directory to write")
    b.add_argument("--force", action="store_true", help="replace a non-empty BUNDLE")
    b.set_defaults(func=_cmd_bundle)


def _cmd_bundle(args: argparse.Namespace) -> int:
    result = bundle(args.data, args.out, force=args.force)
    print(f"wrote {result.out}: {', '.join(result.files)}")
    if result.left_out:
        print("left out: " + ", ".join(f"{name} ({why})" for name, why in result.left_out.items()))
    print(f"keep {args.data} to yourself (its truth_test.parquet, and the seed in its manifest.json, give the "
          f"answers away); hand out {result.out} only")
    return 0
