"""Sirene's own commands: ``datathon export --format insee2018`` (the 2018 INSEE files).

A thin layer: it parses the options and forwards to :func:`datathon.challenges.sirene.insee2018.export`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

FORMATS = ("insee2018",)


def add_export(sub: argparse._SubParsersAction) -> None:
    """``datathon export --format insee2018 --data DIR --out OUT [--year 2017] [--truth-out TRUTHDIR] [--force]``."""
    p = sub.add_parser(
        "export",
        help="write a data directory in another format (insee2018: the files of the 2018 hackathon)",
        description="Write a data directory as the files the 2018 participants received: rp_final_<year>.csv "
        "(the training bulletins, 46 columns) and rp_final_<year>_test.csv (the test bulletins, their truth "
        "blank), sirus_<year>.csv (the register, 45 columns), communes_adjacentes_<year>.csv; ';'-separated "
        "Latin-1 (the adjacency comma-separated UTF-8). The test truth goes apart, to --truth-out. Both "
        "directories are written whole or not at all. `datathon data check OUT` checks the result; every "
        "command reads such a directory as it reads the kit's own (see docs/real-data.md).",
    )
    p.add_argument("--format", required=True, choices=FORMATS, help="the format to write")
    p.add_argument("--data", required=True, type=Path, help="the data directory to export")
    p.add_argument("--out", required=True, type=Path, help="directory to write the participants' files to")
    p.add_argument("--year", type=int, default=2017, help="the campaign year in the file names (default: 2017)")
    p.add_argument("--truth-out", type=Path, metavar="TRUTHDIR",
                   help="directory for the test truth, kept by the instructor (default: OUT-truth beside OUT)")
    p.add_argument("--force", action="store_true", help="replace non-empty output directories")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from datathon.challenges.sirene import insee2018

    report = insee2018.export(args.data, args.out, year=args.year, truth_out=args.truth_out, force=args.force)
    print(report.describe())
    print(insee2018.not_generated_note())
    return 0
