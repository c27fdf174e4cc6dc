"""Running an event: what participants receive (``datathon event bundle``).

The event's data directory (``datathon generate --seed "<passphrase>" --out event-data``) is the
instructor's: it holds the test truth, and its ``manifest.json`` holds the seed, with which anyone
rebuilds that truth byte for byte. :func:`bundle` writes the directory participants get instead,
from what the event's challenge declares (:mod:`datathon.challenge`):

- the public files of the data directory, copied byte for byte: the files of its schema whose role
  is not ``truth``. The truth and anything else the directory holds (notes, a leaderboard's files)
  stay behind;
- a public ``manifest.json``: :func:`public_manifest` keeps what the challenge's
  ``public_manifest_keys`` argue public, never the seed nor anything measured on the truth;
- the challenge's data dictionary (``README.md``) of those files, in its participants' version.

It refuses a public file of the test split that carries a hidden column (one that gives a test
row's truth away), writes the bundle completely or not at all, and never writes inside the event's
data (nor over it).
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

from datathon.errors import UserError
from datathon.files import check_out_directory, replace_directory, sha256_file

MANIFEST = "manifest.json"
README = "README.md"


@dataclass
class Bundle:
    """What :func:`bundle` wrote: the files in ``out``, and what it left out of the event's data (name -> why)."""

    out: Path
    files: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)


def public_manifest(manifest: dict, checksums: dict[str, str],
                    keys: dict[str, Callable[[Any, set[str]], Any]]) -> dict:
    """The manifest participants get, from the instructor's ``manifest`` (the ``keys`` it keeps, in
    its order, each published as its function says) and the ``checksums`` of the bundle's files.

    Only the bundle's own checksums: a hidden file's would tell a guessed seed from a wrong one offline.
    """
    files = set(checksums)
    public = {key: keys[key](value, files) for key, value in manifest.items() if key in keys}
    public = {key: value for key, value in public.items() if value is not None}
    public["checksums"] = dict(sorted(checksums.items()))
    return public


def _twins(name: str) -> set[str]:
    """A schema's file name and its CSV twin (data.py reads either)."""
    return {name, str(Path(name).with_suffix(".csv"))}


def bundle(data: str | Path, out: str | Path, force: bool = False, challenge: str | None = None) -> Bundle:
    """Write the participants' bundle of the event's data directory ``data`` to ``out``.

    ``out`` must be empty or absent (or ``force``), and neither the data directory, nor inside it,
    nor a directory that holds it. Raises :class:`UserError` before writing anything when a check
    fails; the bundle goes to a temporary directory beside ``out`` and replaces it at the end.
    """
    from datathon.challenges import resolve
    from datathon.data import data_directory, file_columns, find_file, load_manifest

    data, out = data_directory(data), Path(out)
    chosen = resolve(challenge, data=data)
    _check_out(data, out, force)
    public_specs = [spec for spec in chosen.schema.files if spec.role != "truth"]
    sources = {spec.name: find_file(data, spec.name) for spec in public_specs}
    missing = [spec.name for spec in public_specs if sources[spec.name] is None and spec.required]
    if missing:
        raise UserError(f"{data} lacks {', '.join(missing)}: give the event's data directory "
                        f"(`datathon data check {data}` lists every problem)")
    hidden = {column.name for spec in chosen.schema.files for column in spec.columns if column.hidden}
    truth_files = [spec.name for spec in chosen.schema.files if spec.role == "truth"]
    for spec in public_specs:
        path = sources[spec.name]
        if path is None or spec.split != "test" or not hidden:
            continue
        try:
            leaked = [c for c in file_columns(path) if c in hidden]
        except Exception as err:  # noqa: BLE001 - whatever the reader says, the file cannot be handed out
            reason = (str(err).strip() or type(err).__name__).splitlines()[0]
            raise UserError(f"cannot read {path}: {reason}; `datathon data check {data}` says more") from None
        if leaked:
            raise UserError(f"{path.name} in {data} carries {', '.join(leaked)}: the test truth belongs in "
                            f"{' or '.join(truth_files)}, never with the files participants get")
    sources = {name: path for name, path in sources.items() if path is not None}
    manifest = load_manifest(data)

    result = Bundle(out)
    copied = {path.name for path in sources.values()}
    truth_names = set().union(*(_twins(name) for name in truth_files))
    for entry in sorted(data.iterdir(), key=lambda p: p.name):
        if entry.name not in copied:
            result.left_out[entry.name] = _why_left_out(entry.name, truth_names)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would keep a bundle from those it is for
    try:
        _write(tmp, sources, manifest, result, chosen)
        replace_directory(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def _check_out(data: Path, out: Path, force: bool) -> None:
    there, event = out.resolve(), data.resolve()
    if there == event or event in there.parents:
        raise UserError(f"--out {out} is, or is inside, the event's data {data}: write the bundle elsewhere, "
                        "so that what you hand out and what you keep never mix")
    if there in event.parents:  # --force would replace it, the event's data with it
        raise UserError(f"--out {out} holds the event's data {data}: choose a directory outside it")
    check_out_directory(out, force)  # the same rule as `datathon generate --out`


def _why_left_out(name: str, truth_names: set[str]) -> str:
    if name in truth_names:
        return "the test truth"
    if name == MANIFEST:
        return "the instructor's, with the seed: the bundle has a public one"
    if name == README:
        return "the instructor's: a data dictionary written there quotes the seed"
    return "not one of the public files a bundle copies"


def _write(tmp: Path, sources: dict[str, Path], manifest: dict | None, result: Bundle, challenge) -> None:
    """Copy the public files into ``tmp``, then write the public manifest and the data dictionary."""
    for path in sources.values():
        shutil.copyfile(path, tmp / path.name)
        result.files.append(path.name)
    checksums = {name: sha256_file(tmp / name) for name in result.files}
    public = public_manifest(manifest or {}, checksums, challenge.public_manifest_keys())
    (tmp / MANIFEST).write_text(json.dumps(public, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    result.files.append(MANIFEST)
    text = challenge.dictionary(tmp, bundle=True)
    if text is not None:
        (tmp / README).write_text(text, encoding="utf-8")
        result.files.append(README)


# ---------------------------------------------------------------------------------------------
# datathon event ...


def add_event_commands(sub: argparse._SubParsersAction) -> None:
    """``datathon event bundle --data EVENT_DATA --out BUNDLE [--force]``, ``datathon event teams PARTICIPANTS --out F``."""
    p = sub.add_parser(
        "event",
        help="prepare an event (event bundle: the data participants receive; event teams: form teams)",
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
    b.add_argument("--challenge", metavar="NAME", help="the challenge (default: the data's manifest's)")
    b.set_defaults(func=_cmd_bundle)
    t = verbs.add_parser(
        "teams",
        help="form teams of 3-5 from the participants' preferred leads and skills",
        description="Read the participants sheet (login,name,email and a `lead` column: the lead each prefers, "
        "empty for none; an optional `skills` column, `;`-separated) and write it back with a `team` column: "
        "teams of --size people around the leads, each a mix of skills, the undecided where there is room. "
        "`datathon leaderboard teams import` and `datathon hub setup` read the result.",
    )
    t.add_argument("participants", type=Path, metavar="PARTICIPANTS_CSV")
    t.add_argument("--out", required=True, type=Path, help="the participants file with its team column")
    t.add_argument("--size", default="3-5", help="team size, MIN-MAX (default: 3-5)")
    t.add_argument("--seed", type=int, default=0, help="another seed deals the same people otherwise (default: 0)")
    t.set_defaults(func=_cmd_teams)


def _cmd_teams(args: argparse.Namespace) -> int:
    from datathon.teams import form_teams, parse_size, read_people, write_teams

    minimum, maximum = parse_size(args.size)
    if args.out.resolve() == args.participants.resolve():
        raise UserError("--out is the participants file itself: write the teams to another file")
    teams = form_teams(read_people(args.participants), minimum, maximum, seed=args.seed)
    write_teams(teams, args.out)
    for name, members in sorted(teams.items()):
        print(f"{name}: {', '.join(p.login for p in sorted(members, key=lambda p: p.login))}")
    print(f"wrote {args.out}: {sum(len(m) for m in teams.values())} participants in {len(teams)} teams")
    return 0


def _cmd_bundle(args: argparse.Namespace) -> int:
    result = bundle(args.data, args.out, force=args.force, challenge=args.challenge)
    print(f"wrote {result.out}: {', '.join(result.files)}")
    if result.left_out:
        print("left out: " + ", ".join(f"{name} ({why})" for name, why in result.left_out.items()))
    print(f"keep {args.data} to yourself (its truth, and the seed in its manifest.json, give the "
          f"answers away); hand out {result.out} only")
    return 0
