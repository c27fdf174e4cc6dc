"""The leaderboard's commands for ``datathon`` (wired in :mod:`datathon.cli`): parse, forward to
:mod:`datathon.leaderboard.service`, print.

``datathon leaderboard init|add-team|show|reveal``, ``datathon submit``, ``datathon serve``.
Argument parsing only needs the standard library, so ``datathon --help`` stays fast; the
service (pandas) is imported when a command runs.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

from datathon.errors import UserError
from datathon.leaderboard.client import TOKEN_ENV  # standard library only: --help stays fast

TEAM_ENV = "DATATHON_TEAM"


# ---------------------------------------------------------------------------------------------
# datathon leaderboard ...


def add_leaderboard(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "leaderboard",
        help="run an event's leaderboard (init, add-team, show, reveal)",
        description="An event directory holds the leaderboard of one event: its configuration, "
        "the secret of the public/private split, a copy of the test truth and an SQLite database "
        "of teams and submissions.",
    )
    verbs = p.add_subparsers(dest="leaderboard_command", metavar="VERB")
    verbs.required = True

    i = verbs.add_parser(
        "init",
        help="create an event directory from a data directory",
        description="Create the event directory: copy the test truth, draw the public/private "
        "split (a salted hash of CABBI), score MCA as the reference, create the database. "
        "Nothing is left behind on failure.",
    )
    i.add_argument("--event", required=True, type=Path, metavar="EV", help="event directory to create")
    i.add_argument("--data", required=True, type=Path, metavar="DIR", help="data directory with the test truth")
    i.add_argument("--quota", type=int, default=None, metavar="N",
                   help="submissions per team and per day (default: 5)")  # fmt: skip
    i.add_argument("--public-share", type=float, default=None, metavar="SHARE",
                   help="share of the test bulletins scored live, the rest at the reveal (default: 0.5)")  # fmt: skip
    i.add_argument("--rule", choices=["best", "last"], default=None,
                   help="which submission counts for a team: its best public score, or its last (default: best)")  # fmt: skip
    i.add_argument("--name", help="the event's title on the page (default: the directory's name)")
    i.add_argument("--force", action="store_true", help="replace an existing event (its teams and submissions are lost)")
    i.set_defaults(func=_cmd_init)

    a = verbs.add_parser(
        "add-team",
        help="register a team and print its secret token",
        description="Register a team; its secret token is printed once, as the last word of the "
        "output (only a hash of it is stored).",
    )
    a.add_argument("name", metavar="NAME", help="the team's name, as shown on the leaderboard")
    a.add_argument("--event", required=True, type=Path, metavar="EV")
    a.add_argument("--reset-token", action="store_true", help="give an existing team a new token (the old one stops working)")
    a.set_defaults(func=_cmd_add_team)

    s = verbs.add_parser(
        "show",
        help="print the current ranking",
        description="Each team's rank, public score, number of submissions and last submission; "
        "private scores appear only after the reveal.",
    )
    s.add_argument("--event", required=True, type=Path, metavar="EV")
    s.add_argument("--json", action="store_true", help="print the standings as one JSON object")
    s.set_defaults(func=_cmd_show)

    r = verbs.add_parser(
        "reveal",
        help="switch the ranking to the private part and close submissions",
        description="Rank teams on the private part (each team's counted submission stays the one "
        "chosen on the public part) and refuse further submissions.",
    )
    r.add_argument("--event", required=True, type=Path, metavar="EV")
    r.add_argument("--json", action="store_true", help="print the final standings as one JSON object")
    r.set_defaults(func=_cmd_reveal)


def _cmd_init(args: argparse.Namespace) -> int:
    from datathon.leaderboard import service

    options = {k: v for k, v in (("quota", args.quota), ("public_share", args.public_share), ("rule", args.rule))
               if v is not None}  # fmt: skip
    summary = service.init_event(args.event, args.data, name=args.name, force=args.force, **options)
    print(
        f"created event {summary['name']!r} in {summary['event']}: {summary['n_bulletins']:,} test bulletins, "
        f"{summary['n_public']:,} public / {summary['n_private']:,} private; quota {summary['quota']} per team "
        f"and per day; rule: {summary['rule']}; MCA public success rate {_pct(summary['mca_public_score'])}"
    )
    print(f"next: datathon leaderboard add-team NAME --event {summary['event']}")
    return 0


def _cmd_add_team(args: argparse.Namespace) -> int:
    from datathon.leaderboard import service

    token = service.add_team(args.event, args.name, reset_token=args.reset_token)
    name = service.clean_team_name(args.name)
    what = "new token for team" if args.reset_token else "added team"
    # The token must stay the last word: scripts take it with `| awk '{print $NF}'`.
    print(f"{what} {name!r}; its secret token (shown only now, hand it to the team): {token}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from datathon.leaderboard import service

    board = service.standings(args.event)
    if args.json:
        _print_json(board)
    else:
        print(format_standings(board))
    return 0


def _cmd_reveal(args: argparse.Namespace) -> int:
    from datathon.leaderboard import service

    board = service.reveal(args.event)
    if args.json:
        _print_json(board)
        return 0
    when = _when(board["event"]["revealed_at"])
    if board["already_revealed"]:
        print(f"already revealed at {when}; the final ranking:")
    else:
        print(f"revealed at {when}: submissions are closed; the final ranking on the private part:")
    print(format_standings(board))
    return 0


def format_standings(board: dict[str, Any]) -> str:
    """The standings as an aligned table, with MCA's reference row where its score falls."""
    ev = board["event"]
    revealed = ev["revealed"]
    key = "private_score" if revealed else "public_score"
    total = ev["n_public"] + ev["n_private"]
    if revealed:
        title = (f"final ranking of {ev['name']!r} on the private part ({ev['n_private']:,} of {total:,} bulletins), "
                 f"rule: {ev['rule']}")  # fmt: skip
        header = ["rank", "team", "private_score", "public_score", "public_rank", "submissions", "last_submission"]
    else:
        title = (f"public leaderboard of {ev['name']!r} ({ev['n_public']:,} of {total:,} bulletins), "
                 f"rule: {ev['rule']}, quota: {ev['quota']} per day")  # fmt: skip
        header = ["rank", "team", "public_score", "submissions", "last_submission"]

    def cells(row: dict[str, Any], reference: bool = False) -> list[str]:
        out = {
            "rank": "" if reference else ("–" if row.get("rank") is None else str(row["rank"])),
            "team": f"{row['team']} (reference)" if reference else row["team"],
            "private_score": _pct(row.get("private_score")),
            "public_score": _pct(row.get("public_score")),
            "public_rank": "" if row.get("public_rank") is None else str(row["public_rank"]),
            "submissions": "" if reference else str(row["submissions"]),
            "last_submission": "" if reference else _when(row.get("last_submission")),
        }
        return [out[h] for h in header]

    ref = board["reference"]
    rows, placed = [], False
    for team in board["teams"]:
        if not placed and ref.get(key) is not None and (team[key] is None or team[key] < ref[key]):
            rows.append(cells(ref, reference=True))
            placed = True
        rows.append(cells(team))
    if not placed:
        rows.append(cells(ref, reference=True))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    right = {"rank", "private_score", "public_score", "public_rank", "submissions"}

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if h in right else v.ljust(w) for v, w, h in zip(values, widths, header)).rstrip()

    lines = [title, line(header)] + [line(r) for r in rows]
    if not board["teams"]:
        lines.append("(no team yet: datathon leaderboard add-team NAME --event EV)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# datathon submit


def add_submit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "submit",
        help="submit predictions to the leaderboard",
        description="Validate, score and record a predictions file for a team, then print its "
        "public metrics and the team's current rank. Exit 2, with one line, when the file, the "
        f"token or the quota refuses it. Give the token with --token-file or ${TOKEN_ENV}: other "
        "users of the machine can read a --token in the process list (ps). Each run draws a request "
        "id, reuses it when it retries a lost answer, and prints it; a script that retries a run "
        "(after a crash, say) passes the same --request-id ID to every attempt (an id it drew, such as "
        "$(uuidgen), or the one printed), and the submission is not counted twice.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="the predictions CSV (CABBI;siret[;score][;rank])")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--event", type=Path, metavar="EV", help="the event directory (on this machine)")
    where.add_argument("--server", metavar="URL", help="the leaderboard server, e.g. http://10.0.0.5:8765")
    p.add_argument("--team", default=os.environ.get(TEAM_ENV), metavar="NAME",
                   help=f"the team's name (default: ${TEAM_ENV})")  # fmt: skip
    secret = p.add_mutually_exclusive_group()
    secret.add_argument("--token-file", type=Path, metavar="PATH",
                        help="a file whose first line is the team's secret token")  # fmt: skip
    secret.add_argument("--token", default=None, metavar="TOKEN",
                        help=f"the team's secret token (default: ${TOKEN_ENV}); visible to every user of the "
                        "machine in the process list (ps): prefer --token-file or the variable")  # fmt: skip
    p.add_argument("--request-id", metavar="ID",
                   help="this submission's id (default: a new UUID, printed): the same ID on a retry of a "
                   "submission whose answer was lost returns it instead of counting it twice")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=_cmd_submit)


def _cmd_submit(args: argparse.Namespace) -> int:
    import uuid

    from datathon.leaderboard import SubmissionRefused
    from datathon.leaderboard.client import RETRYABLE, read_token_file, submit

    team = args.team
    if not team:
        raise UserError(f"say which team submits: --team NAME (or set ${TEAM_ENV})")
    if args.token_file is not None:
        token = read_token_file(args.token_file)
    else:
        token = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        raise UserError(f"the team's token is missing: --token-file PATH (or set ${TOKEN_ENV})")
    request_id = args.request_id or str(uuid.uuid4())
    try:
        result = submit(args.file, team=team, token=token, event=args.event, server=args.server, request_id=request_id)
    except SubmissionRefused as err:
        if err.reason in RETRYABLE:  # the submission may have been recorded: say how to retry safely
            raise SubmissionRefused(f"{err.message} — to retry without counting it twice, add --request-id "
                                    f"{request_id}", reason=err.reason) from None  # fmt: skip
        raise
    if args.json:
        _print_json(dict(result))
    else:
        print(format_result(result))
    return 0


def format_result(result: dict[str, Any]) -> str:
    """A submission's answer as the CLI prints it: the public metrics, the rank, the quota."""
    public = result.get("public", {})
    dup = result.get("duplicate_of")
    lines = [
        f"submission {result['submission']} recorded for team {result['team']!r}"
        + (f" ({result['filename']})" if result.get("filename") else "")
        + (f"; identical to your submission {dup}" if dup else ""),
        f"public part ({public.get('n_bulletins', 0):,} bulletins):",
    ]
    rows = [
        ("success rate", _pct(public.get("success_rate")), f"(MCA {_pct(result.get('mca_public_score'))})"),
        ("coding rate", _pct(public.get("coding_rate")), ""),
        ("precision", _pct(public.get("precision")), ""),
        ("MCA concordance", _pct(public.get("mca_concordance")), "(where both coded)"),
        ("only team right", _pct(public.get("only_team_right")), ""),
        ("only MCA right", _pct(public.get("only_mca_right")), ""),
    ]
    for k, v in (public.get("topk_accuracy") or {}).items():
        rows.append((f"top-{k} accuracy", _pct(v), ""))
    for k, v in (public.get("coverage_at_precision") or {}).items():
        rows.append((f"coverage at precision {k}", _pct(v), ""))
    for group, m in (public.get("by_typcol") or {}).items():
        rows.append((f"success rate, {group}", _pct(m.get("success_rate")), f"(n = {m.get('n', 0):,})"))
    width = max(len(label) for label, _, _ in rows)
    lines += [f"  {label:<{width}}  {value:>8}  {note}".rstrip() for label, value, note in rows]
    counted = "best public submission" if result.get("rule") == "best" else "last submission"
    rank = result.get("rank")
    lines.append(
        f"rank: {rank} of {result.get('n_ranked')} (team score {_pct(result.get('team_score'))}, "
        f"your {counted} counts)"
        if rank is not None
        else "rank: –"
    )
    lines.append(f"quota: {result.get('remaining_today')} of {result.get('quota')} submissions left today")
    lines.append(f"request id: {result.get('request_id')}"
                 + (" (already recorded: this retry counted nothing)" if result.get("replay") else ""))  # fmt: skip
    lines += [f"warning: {w}" for w in result.get("warnings", [])]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# datathon serve


def add_serve(sub: argparse._SubParsersAction) -> None:
    from datathon.leaderboard import DEFAULT_HOST, DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT

    p = sub.add_parser(
        "serve",
        help="serve the leaderboard page, its JSON API and the submission endpoint",
        description="Serve the event's leaderboard: the page to project (refreshes itself), "
        "GET /api/leaderboard, and POST /api/submit (Authorization: Bearer TOKEN, ?team=NAME). "
        "Loopback by default; use --host 0.0.0.0 to let the room's machines submit (tokens then "
        "travel in clear over plain HTTP: keep it to the room's network).",
    )
    p.add_argument("--event", required=True, type=Path, metavar="EV")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N", help=f"port (default: {DEFAULT_PORT})")
    p.add_argument("--max-body-mb", type=float, default=None, metavar="MB",
                   help="largest submission accepted, in MB (default: what a file of the event's size needs, "
                   f"at most {DEFAULT_MAX_BODY_BYTES / 1e6:.0f})")  # fmt: skip
    p.set_defaults(func=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    from datathon.leaderboard.server import serve

    if args.max_body_mb is not None and args.max_body_mb <= 0:
        raise UserError(f"--max-body-mb must be positive (got {args.max_body_mb})")
    limit = None if args.max_body_mb is None else int(args.max_body_mb * 1e6)  # None: sized from the event

    def ready(url: str) -> None:
        print(f"leaderboard of {args.event} at {url} (Ctrl-C to stop)", flush=True)

    serve(args.event, host=args.host, port=args.port, max_body_bytes=limit, ready=ready)
    return 0


# ---------------------------------------------------------------------------------------------


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * float(x):.2f} %"


def _when(iso: str | None) -> str:
    if not iso:
        return "–"
    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(iso)


def _print_json(obj: Any) -> None:
    import json

    print(json.dumps(obj, ensure_ascii=False, indent=2))
    sys.stdout.flush()
