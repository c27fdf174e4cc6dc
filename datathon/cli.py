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


def _add_challenge_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--challenge", metavar="NAME",
                   help="the challenge (default: the data's manifest's, else $DATATHON_CHALLENGE, else sirene; "
                   "`datathon challenges` lists them)")


def _challenge(args: argparse.Namespace, data: Path | None = None):
    """The challenge of ``--challenge`` or of the data directory (datathon/challenges/__init__.py)."""
    from datathon.challenges import resolve

    return resolve(args.challenge, data=data)


def _add_challenges(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "challenges",
        help="list the installed challenges",
        description="List the installed challenges (built in, or added by other packages through the "
        "datathon.challenges entry point): name, title, score types with their direction (the first one "
        "ranks), and the reference entry.",
    )
    p.add_argument("--json", action="store_true", help="print them as JSON")

    def _cmd_challenges(args: argparse.Namespace) -> int:
        from datathon.challenge import MATERIAL_KINDS
        from datathon.challenges import available, get

        listed = []
        for name, source in available().items():
            c = get(name)
            listed.append({"name": c.name, "title": c.title, "version": c.version, "source": source,
                           "score_types": [{"key": t.key, "label": t.label, "direction": t.direction.value}
                                           for t in c.score_types],
                           "reference": c.reference_name, "scales": list(c.scales),
                           "material": {kind: str(path) if path and path.is_dir() else None
                                        for kind in MATERIAL_KINDS for path in [c.material(kind)]}})
        if args.json:
            print_json(listed)
            return 0
        for c in listed:
            scores = ", ".join(f"{t['label']} ({t['direction']} is better{'; ranks' if i == 0 else ''})"
                               for i, t in enumerate(c["score_types"]))
            shipped = ", ".join(kind for kind, path in c["material"].items() if path) or "not shipped"
            print(f"{c['name']}: {c['title']}\n  version {c['version']}, from {c['source']}\n"
                  f"  scores: {scores}\n  reference: {c['reference']}\n  scales: {', '.join(c['scales'])}\n"
                  f"  material: {shipped}")
        return 0

    p.set_defaults(func=_cmd_challenges)


def _add_reference(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reference",
        help="write the challenge's reference entry as a submission",
        description="Write the reference entry (what would be done without the event; Sirene: the MCA's "
        "codings, the same file as `datathon mca`) as a submission CSV that `datathon score` accepts.",
    )
    p.add_argument("--data", required=True, type=Path, help="data directory")
    p.add_argument("--split", default="test", help="the split to write it for (default: test)")
    p.add_argument("--out", required=True, type=Path, help="submission CSV to write")
    _add_challenge_option(p)

    def _cmd_reference(args: argparse.Namespace) -> int:
        challenge = _challenge(args, args.data)
        if args.split not in challenge.schema.splits:
            raise UserError(f"unknown split {args.split!r}: choose {' or '.join(challenge.schema.splits)}")
        frame = challenge.reference(args.data, args.split)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(args.out, sep=";", index=False)  # as `datathon mca` writes it
        print(f"wrote {args.out}: {challenge.reference_name} (reference of {challenge.name}), {len(frame):,} lines")
        return 0

    p.set_defaults(func=_cmd_reference)


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="generate a challenge's synthetic world (a data directory)",
        description="Write a data directory of the challenge (Sirene by default: register, geography, bulletins "
        "with the MCA replica's output, the test truth apart, naf.csv and manifest.json). Same seed, same bytes.",
    )
    p.add_argument("--scale", help="the challenge's scale (sirene: sample, departement, campaign; "
                   "`datathon challenges` lists each challenge's)")
    p.add_argument("--seed", help="the world's seed: digits, or a passphrase (an event's: five "
                   "random words, kept secret)")
    p.add_argument("--out", type=Path, help="directory to write")
    p.add_argument("--sample", action="store_true",
                   help="the challenge's committed public sample: its smallest scale and published seed, into "
                   "data_samples/<challenge> of the checkout (`make sample`)")
    p.add_argument("--register", type=Path, help="a real Sirene StockEtablissement CSV to use as the register")
    p.add_argument("--unites-legales", type=Path, help="the StockUniteLegale CSV to join on siren (with --register)")
    p.add_argument("--departements", type=int, metavar="N",
                   help="number of départements instead of the scale's (campaign with 10: a tenth of the campaign)")
    p.add_argument("--force", action="store_true", help="overwrite a non-empty directory")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_challenge_option(p)
    p.set_defaults(func=_cmd_generate)


def _cmd_generate(args: argparse.Namespace) -> int:
    from datathon.seeds import seed_warning

    challenge = _challenge(args)
    if args.sample:
        if args.scale or args.seed or args.out:
            raise UserError("--sample sets the scale, the seed and the directory: give none of them with it")
        if challenge.material("data_samples") is None or challenge.sample_seed is None:
            raise UserError(f"challenge {challenge.name} ships no sample here (no checkout, or no published seed)")
        args.scale, args.seed, args.out = challenge.scales[0], str(challenge.sample_seed), challenge.material("data_samples")
    missing = [flag for flag, value in (("--scale", args.scale), ("--seed", args.seed), ("--out", args.out))
               if value is None]
    if missing:
        raise UserError(f"give {', '.join(missing)} (or --sample for the challenge's public sample)")
    if args.scale not in challenge.scales:
        raise UserError(f"unknown scale {args.scale!r} for challenge {challenge.name}: choose "
                        f"{', '.join(challenge.scales)}")
    # Options another challenge does not take are passed only when given: it refuses them in one line.
    given = {name: value for name, value in (("register", args.register), ("unites_legales", args.unites_legales),
                                             ("departements", args.departements)) if value is not None}
    manifest = challenge.generate(args.seed, args.scale, args.out, force=args.force, progress=not args.quiet,
                                  **given)
    counts = ", ".join(f"{k}: {v:,}" for k, v in manifest["rows"].items())
    print(f"wrote {args.out} ({counts})")
    if warning := seed_warning(args.seed, args.out):  # after the work: an error stays the only line
        print(f"datathon generate: warning: {warning}", file=sys.stderr)
    return 0


def _add_event(sub: argparse._SubParsersAction) -> None:
    """``datathon event bundle --data EVENT_DATA --out BUNDLE``: what participants receive (datathon/event.py)."""
    from datathon.event import add_event_commands

    add_event_commands(sub)


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
    from datathon.challenges.sirene.mca import run_mca_on_directory

    sub = run_mca_on_directory(args.data, split=args.split, out=args.out)
    coded = int(sub["siret"].notna().sum())
    print(f"wrote {args.out}: {coded:,} of {len(sub):,} bulletins coded by MCA")
    return 0


def _add_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data",
        help="inspect a data directory (data check DIR, data dictionary DIR)",
        description="Verbs on a data directory, synthetic or real.",
    )
    verbs = p.add_subparsers(dest="data_command", metavar="VERB")
    verbs.required = True
    c = verbs.add_parser(
        "check",
        help="validate a data directory and list every problem",
        description="Check every file of a data directory against datathon/schema.py (files, "
        "columns, types, SIREN/SIRET keys, duplicates, commune and NAF codes, truth, checksums) "
        "and list every problem, grouped by file. Exit 0 when there is no error, 1 otherwise.",
    )
    c.add_argument("directory", type=Path, metavar="DIR", help="data directory to check")
    c.add_argument("--strict", action="store_true", help="fail on warnings too (extra columns, ...)")
    c.add_argument("--json", action="store_true", help="print the problems as JSON")
    _add_challenge_option(c)
    c.set_defaults(func=_cmd_data_check)
    d = verbs.add_parser(
        "dictionary",
        help="write the data dictionary (README.md) of a data directory",
        description="Write DIR/README.md, the challenge's data dictionary of the directory's files: every file "
        "and column, their meanings and examples, how the data were made.",
    )
    d.add_argument("directory", type=Path, metavar="DIR", help="data directory")
    _add_challenge_option(d)
    d.set_defaults(func=_cmd_data_dictionary)


def _cmd_data_dictionary(args: argparse.Namespace) -> int:
    from datathon.files import written_atomically

    challenge = _challenge(args, args.directory)
    if not args.directory.is_dir():
        raise UserError(f"no data directory {args.directory}")
    text = challenge.dictionary(args.directory)
    if text is None:
        raise UserError(f"{args.directory}: challenge {challenge.name} has no data dictionary for these data "
                        "(it describes the data its generator writes)")
    path = args.directory / "README.md"
    with written_atomically(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


def _cmd_data_check(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    report = _challenge(args, args.directory).check_report(args.directory)
    if args.json:
        print_json({"directory": str(report.directory), "rows": report.rows,
                    "problems": [asdict(p) for p in report.problems]})
    else:
        print(report.format())
    failing = report.problems if args.strict else report.errors
    return 1 if failing else 0


def _add_score(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="check a submission and score it against the truth",
        description="Check a submission CSV (CABBI;siret, optional score and rank columns) and "
        "print its coding rate, precision, success rate, concordance with MCA, top-k accuracy "
        "and coverage at a target precision. Exit 2, with one message, on an invalid file.",
    )
    p.add_argument("submission", type=Path, metavar="SUBMISSION", help="the submission CSV")
    p.add_argument("--data", required=True, type=Path, help="data directory holding the truth")
    p.add_argument("--split", default="test", help="the split scored (default: test; the challenge's splits)")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.add_argument("--max-bytes", type=int, default=200_000_000,
                   help="largest submission accepted, in bytes (default: 200 MB)")
    _add_challenge_option(p)
    p.set_defaults(func=_cmd_score)


def _cmd_score(args: argparse.Namespace) -> int:
    challenge = _challenge(args, args.data)
    if args.split not in challenge.schema.splits:
        raise UserError(f"unknown split {args.split!r}: choose {' or '.join(challenge.schema.splits)}")
    result = challenge.score_file(args.submission, args.data, args.split, max_bytes=args.max_bytes)
    if args.json:
        print_json(result)
    else:
        print(challenge.summary(result))  # its warnings first, where they are seen
    return 0


def _add_leaderboard(sub: argparse._SubParsersAction) -> None:
    """``datathon leaderboard init|add-team|show|reveal`` (datathon/leaderboard/commands.py)."""
    from datathon.leaderboard.commands import add_leaderboard

    add_leaderboard(sub)


def _add_submit(sub: argparse._SubParsersAction) -> None:
    """``datathon submit FILE --event EV | --server URL --team NAME --token TOKEN``."""
    from datathon.leaderboard.commands import add_submit

    add_submit(sub)


def _add_serve(sub: argparse._SubParsersAction) -> None:
    """``datathon serve --event EV [--host H] [--port N]``: the leaderboard page and API."""
    from datathon.leaderboard.commands import add_serve

    add_serve(sub)


def _add_material(sub: argparse._SubParsersAction) -> None:
    """``datathon material run``: execute every notebook of course/ and solutions/ (datathon/material.py)."""
    p = sub.add_parser(
        "material",
        help="execute the course and solution notebooks (material run)",
        description="Keep the material executable.",
    )
    verbs = p.add_subparsers(dest="material_command", metavar="VERB")
    verbs.required = True
    r = verbs.add_parser(
        "run",
        help="execute every notebook with papermill; write executed notebooks, HTML and a summary",
        description="Execute the notebooks of course/ and solutions/ (or those given) with papermill, "
        "in parallel, with data_dir and output_path injected; write the executed notebooks, their HTML "
        "renderings, the submissions (OUT/submissions/<notebook>.csv) and OUT/summary.json and "
        "OUT/summary.md. Exit 1 when a notebook fails, naming it and its failing cell.",
    )
    r.add_argument("notebooks", nargs="*", type=Path, metavar="PATH",
                   help="notebooks or directories of notebooks (default: the challenge's, course/<challenge> "
                   "and solutions/<challenge>)")
    r.add_argument("--data", type=Path,
                   help="data directory injected as data_dir (default: the challenge's sample, data_samples/<challenge>)")
    r.add_argument("--out", type=Path, default=Path("out/material"), help="output directory (default: out/material)")
    r.add_argument("--jobs", type=int, default=2, help="notebooks run at once, one process each (default: 2)")
    r.add_argument("-p", "--parameter", dest="parameters", action="append", default=[], metavar="KEY=VALUE",
                   help="another parameter to inject, repeatable (values read as Python literals when they are)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_challenge_option(r)
    r.set_defaults(func=_cmd_material)


def _cmd_material(args: argparse.Namespace) -> int:
    from datathon.material import format_summary, parse_parameters, run_material

    challenge = _challenge(args, args.data)
    run = run_material(
        args.notebooks or None,
        challenge=challenge.name,
        data_dir=args.data,
        out=args.out,
        jobs=args.jobs,
        parameters=parse_parameters(args.parameters),
        progress=not args.quiet,
    )
    print(format_summary(run).rstrip())
    print(f"\nwrote {run.out}/summary.md and summary.json")
    for failure in run.failures:
        print(f"datathon material: failed: {failure.describe_failure()}", file=sys.stderr)
    return 0 if run.ok else 1


def _add_grade(sub: argparse._SubParsersAction) -> None:
    """``datathon grade ASSIGNMENT``: nbgrader's autograde of every collected student, in parallel (datathon/grading.py)."""
    p = sub.add_parser(
        "grade",
        help="auto-grade every collected submission of an assignment, in parallel, with nbgrader",
        description="Run nbgrader's autograder on every collected submission (submitted/*/ASSIGNMENT) of "
        "the course, several students at once, each against a private copy of the gradebook; then merge "
        "the grades into the course gradebook in one transaction and move the autograded notebooks into "
        "place. The result is the gradebook a sequential `nbgrader autograde ASSIGNMENT` gives. Each notebook "
        "runs in a sandbox (another account, the event's public data only, limits; needs root and `datathon "
        "sandbox setup`), and performance points are scored outside it on the event's truth. Exit 1 "
        "when a submission could not be graded, 2 on invalid arguments (then nothing is written).",
    )
    p.add_argument("assignment", metavar="ASSIGNMENT", help="the assignment id (e.g. a1_names)")
    p.add_argument("--jobs", default="2", metavar="N", help="students graded at once, one process each (default: 2)")
    p.add_argument("--course", type=Path, metavar="DIR",
                   help="the course root, holding nbgrader_config.py (default: the working directory if it "
                   "holds one, else grader/<challenge>)")
    p.add_argument("--student", dest="students", nargs="+", metavar="ID", help="grade only these students")
    p.add_argument("--force", action="store_true", help="grade again submissions already autograded")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--data", type=Path, metavar="DIR",
                   help="the event's data directory, truth included: notebooks see its public files only, and "
                   "performance points are scored on its truth (default: the public sample, for practice)")
    p.add_argument("--memory", type=float, metavar="GiB", help="memory of one notebook's sandbox (default: 6)")
    p.add_argument("--trusted", action="store_true",
                   help="run notebooks as yourself, without the sandbox: only for notebooks you wrote")
    _add_challenge_option(p)

    def _cmd_grade(args: argparse.Namespace) -> int:
        from datathon.grading import format_summary, grade, parse_jobs
        from datathon.sandbox import Limits

        challenge = _challenge(args, args.data)
        limits = Limits()
        if args.memory is not None:
            if not 0.25 <= args.memory <= 1024:
                raise UserError(f"--memory must be between 0.25 and 1024 GiB (got {args.memory:g})")
            limits = Limits(memory=int(args.memory * 1024**3))
        run = grade(args.assignment, course=args.course, jobs=parse_jobs(args.jobs), students=args.students,
                    force=args.force, progress=not args.quiet, data=args.data, trusted=args.trusted, limits=limits,
                    challenge=challenge.name)
        print(format_summary(run))
        for failure in run.failures:
            print(f"datathon grade: failed: {failure.student}: {failure.reason}", file=sys.stderr)
        return 0 if run.ok else 1

    p.set_defaults(func=_cmd_grade)


def _add_sandbox(sub: argparse._SubParsersAction) -> None:
    """``datathon sandbox setup|check``: the accounts grading runs student notebooks as (datathon/sandbox.py)."""
    p = sub.add_parser("sandbox", help="set up or check the sandbox student notebooks are graded in",
                       description="`setup` (as root, once per machine) creates the unprivileged accounts "
                       "datathon-sandbox1..N that `datathon grade` runs notebooks as; `check` says what works.")
    verbs = p.add_subparsers(dest="sandbox_command", metavar="VERB", required=True)
    setup = verbs.add_parser("setup", help="create the sandbox accounts (as root)")
    setup.add_argument("--slots", type=int, default=None, metavar="N",
                       help="accounts to create: the most grading jobs at once (default: 4)")
    verbs.add_parser("check", help="say whether notebooks can be graded in a sandbox here")

    def _cmd_sandbox(args: argparse.Namespace) -> int:
        from datathon import sandbox

        if args.sandbox_command == "setup":
            made = sandbox.setup(args.slots or sandbox.DEFAULT_SLOTS)
            print(f"sandbox accounts: {', '.join(a.name for a in made)}")
        st = sandbox.status()
        print(st.format())
        return 0 if st.ok else 1

    p.set_defaults(func=_cmd_sandbox)


def _add_train(sub: argparse._SubParsersAction) -> None:
    """``datathon train``: the combined matcher learnt on labelled bulletins, saved to a model file (datathon/pipeline.py)."""
    p = sub.add_parser(
        "train",
        help="train the combined matcher on labelled bulletins and save it to a model file",
        description="Learn the combined matcher (datathon/matcher.py) on the labelled bulletins "
        "(bulletins_train) of a few départements, choose the threshold that reaches the target precision "
        "on held-out bulletins, and write the model file with the manifest of the data it learnt from.",
    )
    p.add_argument("--data", required=True, type=Path, help="data directory with labelled bulletins")
    p.add_argument("--out", required=True, type=Path, help="model file to write (e.g. model.pkl)")
    p.add_argument("--departements", nargs="+", metavar="DEP",
                   help="learn on these départements (default: the fewest that give --bulletins)")
    p.add_argument("--bulletins", type=int, default=25_000, metavar="N",
                   help="labelled bulletins to learn on by default (whole départements; default 25000)")
    p.add_argument("--precision", type=float, default=0.95, help="target precision of automatic coding (0.95)")
    p.add_argument("--seed", type=int, default=0, help="seed of the folds and the negatives' sampling")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    def _cmd_train(args: argparse.Namespace) -> int:
        from datathon.challenges.sirene.pipeline import train

        if args.out.is_dir():
            raise UserError(f"--out {args.out} is a directory: give the model file's name, say {args.out / 'model.pkl'}")
        model = train(args.data, departements=args.departements, bulletins=args.bulletins,
                      precision=args.precision, seed=args.seed, progress=not args.quiet)
        model.save(args.out)
        print(f"wrote {args.out}: {model.describe()}; {model.seconds:.0f} s")
        return 0

    p.set_defaults(func=_cmd_train)


def _add_match(sub: argparse._SubParsersAction) -> None:
    """``datathon match``: code a whole campaign with a model file, one Dask task per département."""
    p = sub.add_parser(
        "match",
        help="code the test bulletins of a data directory with a trained model (Dask, one task per département)",
        description="Split the data by département, code each part with the model (retrieve, pair "
        "features, score, decide) on Dask workers, and write a ranked submission CABBI;siret;rank;score "
        "that `datathon score` accepts: rank 1 coded when its confidence reaches the model's threshold, "
        "ranks 2 to k for manual review.",
    )
    p.add_argument("--data", required=True, type=Path, help="data directory (its bulletins_test are coded)")
    p.add_argument("--model", required=True, type=Path, help="model file written by `datathon train`")
    p.add_argument("--out", required=True, type=Path, help="submission CSV to write")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local Dask worker processes (default: one per core; 0 runs in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on an existing Dask cluster (tcp://host:8786); its workers must read --work")
    p.add_argument("--work", type=Path, metavar="DIR",
                   help="where the partitions are written (default: a temporary directory beside --out)")
    p.add_argument("-k", type=int, default=5, help="candidates listed per bulletin (default 5)")
    p.add_argument("--json", action="store_true", help="print what was done as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    def _cmd_match(args: argparse.Namespace) -> int:
        from datathon.challenges.sirene.pipeline import Model, match

        if args.workers is not None and args.scheduler is not None:
            raise UserError("--workers sizes the local cluster; with --scheduler the cluster's own workers run "
                            "the tasks: give one or the other")
        model = Model.load(args.model)
        if not args.quiet and not args.json:
            print(f"model {args.model}: {model.describe()}")
        report = match(args.data, model, args.out, workers=args.workers, scheduler=args.scheduler,
                       work=args.work, k=args.k, progress=not args.quiet)
        if args.json:
            from dataclasses import asdict

            print_json({**asdict(report), "out": str(report.out), "coding_rate": round(report.coding_rate, 4)})
        else:
            print(report.describe())
        return 0

    p.set_defaults(func=_cmd_match)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="datathon",
        description="A kit for running a data hackathon as a course; its challenges are plug-ins (`datathon challenges` lists them).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in COMMANDS:
        add(sub)
    return parser


# One entry per command; each adds its parser and sets ``func``.
def _add_handin(sub: argparse._SubParsersAction) -> None:
    """``datathon handin NOTEBOOK``: a team's notebook for the closing presentations (datathon/leaderboard/commands.py)."""
    from datathon.leaderboard.commands import add_handin

    add_handin(sub)


def _add_hub(sub: argparse._SubParsersAction) -> None:
    """``datathon hub setup|start|check|grade|remove``: the event's JupyterHub (datathon/hub/cli.py)."""
    from datathon.hub.cli import add_hub

    add_hub(sub)


def _add_export(sub: argparse._SubParsersAction) -> None:
    """``datathon export --format insee2018``: Sirene's data as INSEE's 2018 files (datathon/challenges/sirene/commands.py)."""
    from datathon.challenges.sirene.commands import add_export

    add_export(sub)


COMMANDS = [_add_challenges, _add_generate, _add_reference, _add_mca, _add_data, _add_score, _add_leaderboard, _add_submit,
            _add_serve, _add_handin, _add_material, _add_grade, _add_sandbox, _add_hub, _add_event, _add_train, _add_match,
            _add_export]


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
    except BrokenPipeError:  # `datathon … | head`: the reader left, nothing more to say
        sys.stderr.close()
        return 0


def print_json(obj) -> None:
    """Print one JSON object (the ``--json`` output of several commands)."""
    print(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False))


if __name__ == "__main__":
    sys.exit(main())
