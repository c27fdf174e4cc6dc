"""The ``datathon`` command: a thin layer that parses options and forwards to the Python API.

Each command lives in one ``_cmd_*`` function that only converts arguments and calls the API;
user errors (:class:`datathon.errors.UserError`) print one readable line and exit non-zero.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from datathon.errors import UserError


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="generate a synthetic census × Sirene world",
        description="Write a data directory: register, geography, bulletins with the MCA replica's "
        "output, the test truth apart, naf.csv and manifest.json. Same seed, same bytes.",
    )
    p.add_argument("--scale", required=True, choices=["sample", "departement", "campaign"])
    p.add_argument("--seed", required=True, type=int, help="the world's seed (keep the event's secret)")
    p.add_argument("--out", required=True, type=Path, help="directory to write")
    p.add_argument("--register", type=Path, help="a real Sirene StockEtablissement CSV to use as the register")
    p.add_argument("--unites-legales", type=Path, help="the StockUniteLegale CSV to join on siren (with --register)")
    p.add_argument("--force", action="store_true", help="overwrite a non-empty directory")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_generate)


def _cmd_generate(args: argparse.Namespace) -> int:
    from datathon.world import generate

    manifest = generate(
        scale=args.scale,
        seed=args.seed,
        out=args.out,
        register=args.register,
        unites_legales=args.unites_legales,
        force=args.force,
        progress=not args.quiet,
    )
    counts = ", ".join(f"{k}: {v:,}" for k, v in manifest["rows"].items())
    print(f"wrote {args.out} ({counts})")
    return 0


def _add_mca(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mca",
        help="run the MCA replica and write its codings as a submission",
        description="Re-run the incumbent deterministic system on a split and write CABBI;siret.",
    )
    p.add_argument("--data", required=True, type=Path, help="data directory")
    p.add_argument("--split", choices=["train", "test"], default="test")
    p.add_argument("--out", required=True, type=Path, help="submission CSV to write")
    p.set_defaults(func=_cmd_mca)


def _cmd_mca(args: argparse.Namespace) -> int:
    from datathon.mca import run_mca_on_directory

    sub = run_mca_on_directory(args.data, split=args.split, out=args.out)
    coded = int(sub["siret"].notna().sum())
    print(f"wrote {args.out}: {coded:,} of {len(sub):,} bulletins coded by MCA")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="datathon",
        description="A teaching kit for a data hackathon: who is the employer on the census bulletin?",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in COMMANDS:
        add(sub)
    return parser


# One entry per command; each adds its parser and sets ``func``.
COMMANDS = [_add_generate, _add_mca]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"datathon {args.command}: error: {err.message}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def print_json(obj) -> None:
    """Print one JSON object (the ``--json`` output of several commands)."""
    print(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False))


if __name__ == "__main__":
    sys.exit(main())
