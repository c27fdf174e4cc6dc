"""The leaderboard's commands for ``datathon`` (wired in :mod:`datathon.cli`): parse, forward to
:mod:`datathon.leaderboard.service`, print.

``datathon leaderboard init|add-team|teams|slips|set|show|reveal|export``, ``datathon submit``,
``datathon handin``, ``datathon serve``.
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
        help="run an event's leaderboard (init, add-team, teams, slips, set, show, reveal, export)",
        description="An event directory holds the leaderboard of one event: its configuration, "
        "the secret of the public/private split, a copy of the test truth and an SQLite database "
        "of teams and submissions.",
    )
    verbs = p.add_subparsers(dest="leaderboard_command", metavar="VERB")
    verbs.required = True

    i = verbs.add_parser(
        "init",
        help="create an event directory from a data directory",
        description="Create the event directory: copy the test truth, draw the challenge's public/private "
        "split (a salted hash of the ids, or a cut in time), score the challenge's reference as a team, "
        "create the database. Nothing is left behind on failure.",
    )
    i.add_argument("--event", required=True, type=Path, metavar="EV", help="event directory to create")
    i.add_argument("--data", required=True, type=Path, metavar="DIR", help="data directory with the test truth")
    i.add_argument("--challenge", metavar="NAME",
                   help="the event's challenge (default: the one the data directory's manifest names, else sirene)")  # fmt: skip
    i.add_argument("--quota", type=int, default=None, metavar="N",
                   help="submissions per team and per day, or for the whole event with --quota-per event (default: 5)")  # fmt: skip
    i.add_argument("--quota-per", choices=["day", "event"], default=None,
                   help="what the quota counts: submissions per calendar day, or in all (default: day)")  # fmt: skip
    i.add_argument("--timezone", default=None, metavar="TZ",
                   help="the time zone quota days are counted in, e.g. Europe/Paris (default: the machine's)")  # fmt: skip
    i.add_argument("--public-share", type=float, default=None, metavar="SHARE",
                   help="share of the test rows scored live, the rest at the reveal (default: the challenge's, "
                   "0.5 for sirene; a challenge that splits by time takes none)")  # fmt: skip
    i.add_argument("--rule", choices=["best", "last"], default=None,
                   help="which submission counts for a team: its best public score, or its last (default: best)")  # fmt: skip
    i.add_argument("--name", help="the event's title on the page (default: the directory's name)")
    i.add_argument("--mode", choices=["competitive", "cooperative"], default=None,
                   help="competitive: teams ranked; cooperative: every team's figures side by side, "
                   "no ranks (default: competitive)")  # fmt: skip
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

    _add_teams(verbs)

    sl = verbs.add_parser(
        "slips",
        help="print every team's token on a slip: RE-ISSUES the tokens (every previous token stops working)",
        description="Write one printable HTML page (A4, cut lines) with a slip per team: the event, the "
        "team, its token and the submit command. Tokens are stored hashed, so they can only be printed "
        "when issued: this RE-ISSUES the tokens of every team (or of --teams), and EVERY PREVIOUS TOKEN "
        "OF THOSE TEAMS STOPS WORKING. The page holds secrets: it is written with mode 0600.",
    )
    sl.add_argument("--event", required=True, type=Path, metavar="EV")
    sl.add_argument("--out", required=True, type=Path, metavar="FILE", help="the HTML page to write (e.g. slips.html)")
    sl.add_argument("--server", metavar="URL", help="the leaderboard's address, printed on each slip")
    sl.add_argument("--teams", nargs="+", metavar="NAME", help="only these teams (default: every team)")
    sl.add_argument("--force", action="store_true", help="replace an existing --out file")
    sl.set_defaults(func=_cmd_slips)

    st = verbs.add_parser(
        "set",
        help="change the quota or the board's mode during the event",
        description="Change the quota (and what it counts): the next submission is counted under the new value; "
        "or the board's mode: the page shows it at its next refresh.",
    )
    st.add_argument("--event", required=True, type=Path, metavar="EV")
    st.add_argument("--quota", type=int, default=None, metavar="N", help="submissions per team and per day, or in all")
    st.add_argument("--quota-per", choices=["day", "event"], default=None, help="per calendar day, or for the whole event")
    st.add_argument("--mode", choices=["competitive", "cooperative"], default=None,
                    help="competitive: teams ranked; cooperative: every team's figures, no ranks")  # fmt: skip
    st.set_defaults(func=_cmd_set)

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

    x = verbs.add_parser(
        "export",
        help="write the final results (CSV) and the closing page (HTML) to a directory",
        description="Write results.csv (each team's ranks and every metric, public and, after the reveal, "
        "private), history.csv (every submission) and closing.html (one self-contained page to project: the "
        "ranking or the cooperative table, each team's curve, and what each team handed in with `datathon "
        "handin`, its notebook rendered without running it, sanitised). The files hold participants' names and "
        "work: --out must be outside the kit's repository.",
    )
    x.add_argument("--event", required=True, type=Path, metavar="EV")
    x.add_argument("--out", required=True, type=Path, metavar="DIR", help="the directory to write (created)")
    x.add_argument("--force", action="store_true", help="replace an existing --out directory")
    x.set_defaults(func=_cmd_export)


def _add_teams(verbs: argparse._SubParsersAction) -> None:
    """``datathon leaderboard teams list|rename|remove|reissue|import``."""
    t = verbs.add_parser("teams", help="list, rename, remove or import teams; give one a new token",
                         description="Manage the event's teams (every change is one transaction: all or nothing).")  # fmt: skip
    tv = t.add_subparsers(dest="teams_command", metavar="VERB")
    tv.required = True

    def verb(name: str, func, help: str, description: str | None = None) -> argparse.ArgumentParser:
        p = tv.add_parser(name, help=help, description=description or help)
        p.add_argument("--event", required=True, type=Path, metavar="EV")
        p.set_defaults(func=func)
        return p

    verb("list", _cmd_teams_list, "each team's name, creation time, submissions and last submission (no token)")
    p = verb("rename", _cmd_teams_rename, "rename a team (its token and submissions stay)")
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    p = verb("remove", _cmd_teams_remove, "take a team out of the event",
             "Take a team out of the event: its token stops working and it leaves the standings. Nothing is "
             "deleted: its submissions stay recorded, counted nowhere, and its name stays taken.")  # fmt: skip
    p.add_argument("name", metavar="NAME")
    p.add_argument("--force", action="store_true", help="remove it even though it has submissions")
    p = verb("reissue", _cmd_teams_reissue, "give a team a new token (the old one stops working); printed once")
    p.add_argument("name", metavar="NAME")
    p = verb("import", _cmd_teams_import, "create the teams of a participants CSV (a 'team' column)",
             "Create each team named in the 'team' column of a participants CSV (login,name,email,team is "
             "fine), once. One bad or look-alike name refuses the whole file, with nothing written. Tokens "
             "are not printed: print them with `datathon leaderboard slips`.")  # fmt: skip
    p.add_argument("file", type=Path, metavar="FILE")


def _cmd_teams_list(args: argparse.Namespace) -> int:
    from datathon.leaderboard import service

    teams = service.list_teams(args.event)
    rows = [[t["team"], _when(t["created_at"]), str(t["submissions"]), _when(t["last_submission"]),
             f"removed {_when(t['removed_at'])}" if t["removed_at"] else ""] for t in teams]  # fmt: skip
    header = ["team", "created", "submissions", "last_submission", ""]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    for row in [header, *rows]:
        print("  ".join(v.rjust(w) if i == 2 else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths))).rstrip())
    if not teams:
        print("(no team yet: datathon leaderboard add-team NAME --event EV, or teams import FILE)")
    return 0


def _cmd_teams_rename(args: argparse.Namespace) -> int:
    from datathon.leaderboard import service

    new = service.rename_team(args.event, args.old, args.new)
    print(f"renamed team {args.old!r} to {new!r}; its token is unchanged: it now submits as --team {new!r}")
    return 0


def _cmd_teams_remove(args: argparse.Namespace) -> int:
    from datathon.leaderboard import service

    done = service.remove_team(args.event, args.name, force=args.force)
    kept = f"; its {done['submissions']} submission(s) stay recorded, out of the standings" if done["submissions"] else ""
    print(f"removed team {done['team']!r}: its token no longer works{kept}")
    return 0


def _cmd_teams_reissue(args: argparse.Namespace) -> int:
    from datathon.leaderboard import service

    [(name, token)] = service.reissue_tokens(args.event, [args.name]).items()
    # The token must stay the last word, as with add-team.
    print(f"new token for team {name!r} (the old one no longer works; shown only now): {token}")
    return 0


def _cmd_teams_import(args: argparse.Namespace) -> int:
    from datathon.leaderboard import service

    done = service.import_teams(args.event, args.file)
    created, existing = list(done["created"]), done["existing"]
    print(f"created {len(created)} team(s): {', '.join(map(repr, created)) or '–'}")
    print(f"already in the event, unchanged: {len(existing)}: {', '.join(map(repr, existing)) or '–'}")
    if created:
        print(f"next: print their tokens with datathon leaderboard slips --event {args.event} --out slips.html")
    return 0


def _cmd_slips(args: argparse.Namespace) -> int:
    from datathon.leaderboard import service

    done = service.write_slips(args.event, args.out, server=args.server, teams=args.teams, force=args.force)
    print(f"wrote {len(done['teams'])} slip(s) to {done['out']} (mode 0600: it holds the tokens)")
    print(f"NEW TOKENS ISSUED: every previous token of {', '.join(map(repr, done['teams']))} stops working now; "
          "hand out these slips")  # fmt: skip
    return 0


def _cmd_set(args: argparse.Namespace) -> int:
    from datathon.leaderboard import service

    if args.quota is None and args.quota_per is None and args.mode is None:
        raise UserError("nothing to change: give --quota N, --quota-per day|event and/or --mode competitive|cooperative")
    config = service.set_quota(args.event, quota=args.quota, quota_per=args.quota_per, mode=args.mode)
    if args.quota is not None or args.quota_per is not None:
        print(f"quota of {config.name!r}: {config.quota} submissions per team {_per(config.quota_per)}, "
              "from the next submission")  # fmt: skip
    if args.mode is not None:
        shown = "every team's figures, no ranks" if config.mode == "cooperative" else "teams ranked"
        print(f"mode of {config.name!r}: {config.mode} ({shown}), on the page at its next refresh")
    return 0


def _per(quota_per: str | None) -> str:
    return "for the whole event" if quota_per == "event" else "per day"


def _cmd_init(args: argparse.Namespace) -> int:
    from datathon.leaderboard import service

    from datathon import challenges

    options = {k: v for k, v in (("quota", args.quota), ("public_share", args.public_share), ("rule", args.rule),
                                 ("quota_per", args.quota_per), ("timezone", args.timezone), ("mode", args.mode))
               if v is not None}  # fmt: skip
    summary = service.init_event(args.event, args.data, name=args.name, force=args.force, challenge=args.challenge,
                                 **options)  # fmt: skip
    ranking = challenges.get(summary["challenge"]).ranking
    print(
        f"created event {summary['name']!r} ({summary['challenge']}) in {summary['event']}: "
        f"{summary['n_rows']:,} {summary['unit']}, {summary['n_public']:,} public / {summary['n_private']:,} private; "
        f"quota {summary['quota']} per team {_per(summary['quota_per'])}; rule: {summary['rule']}; {summary['mode']}; "
        f"{summary['reference_name']} public {ranking.label} {ranking.display(summary['reference_public_score'])}"
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


def _cmd_export(args: argparse.Namespace) -> int:
    from datathon.leaderboard.closing import export

    done = export(args.event, args.out, force=args.force)
    state = "final" if done["revealed"] else "public only (not revealed yet)"
    print(f"wrote {', '.join(done['files'])} to {done['out']} ({state}: {done['teams']} teams, "
          f"{done['submissions']} submissions, {done['handins']} hand-ins); mode 0600: they hold participants' work")
    return 0


def format_standings(board: dict[str, Any]) -> str:
    """The standings as an aligned table, with the reference's row where its score falls; in
    cooperative mode, every team's score types side by side and no rank (:func:`format_cooperative`)."""
    from datathon.leaderboard import display_score as display
    from datathon.leaderboard.plot import better

    ev = board["event"]
    if ev.get("mode") == "cooperative":
        return format_cooperative(board)
    metric = ev["metric"]
    revealed = ev["revealed"]
    key = "private_score" if revealed else "public_score"
    total = ev["n_public"] + ev["n_private"]
    measure = f"{metric['label']}, {'higher' if metric['direction'] == 'higher' else 'lower'} is better"
    if revealed:
        title = (f"final ranking of {ev['name']!r} on the private part ({ev['n_private']:,} of {total:,} {ev['unit']}), "
                 f"{measure}, rule: {ev['rule']}")  # fmt: skip
        header = ["rank", "team", "private_score", "public_score", "public_rank", "submissions", "last_submission"]
    else:
        title = (f"public leaderboard of {ev['name']!r} ({ev['n_public']:,} of {total:,} {ev['unit']}), {measure}, "
                 f"rule: {ev['rule']}, quota: {ev['quota']} {_per(ev.get('quota_per'))}")  # fmt: skip
        header = ["rank", "team", "public_score", "submissions", "last_submission"]

    def cells(row: dict[str, Any], reference: bool = False) -> list[str]:
        out = {
            "rank": "" if reference else ("–" if row.get("rank") is None else str(row["rank"])),
            "team": f"{row['team']} (reference)" if reference else row["team"],
            "private_score": display(metric, row.get("private_score")),
            "public_score": display(metric, row.get("public_score")),
            "public_rank": "" if row.get("public_rank") is None else str(row["public_rank"]),
            "submissions": "" if reference else str(row["submissions"]),
            "last_submission": "" if reference else _when(row.get("last_submission")),
        }
        return [out[h] for h in header]

    ref = board["reference"]
    rows, placed = [], False
    for team in board["teams"]:
        if not placed and ref.get(key) is not None and better(metric, ref[key], team[key]):
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


def format_cooperative(board: dict[str, Any]) -> str:
    """The cooperative table: each team (by name) and the reference with every score type of the
    part shown, no rank."""
    from datathon.leaderboard import display_score

    ev = board["event"]
    part = "private" if ev["revealed"] else "public"
    n = ev["n_private"] if ev["revealed"] else ev["n_public"]
    title = (f"{'final ' if ev['revealed'] else ''}cooperative board of {ev['name']!r} on the {part} part "
             f"({n:,} of {ev['n_public'] + ev['n_private']:,} {ev['unit']}), no ranking")  # fmt: skip
    types = ev["score_types"]
    header = ["team", *(t["label"] for t in types), "submissions", "last_submission"]

    def cells(row: dict[str, Any], reference: bool = False) -> list[str]:
        values = row.get("metrics") or {}
        return [f"{row['team']} (reference)" if reference else row["team"],
                *(display_score(t, values.get(t["key"])) for t in types),
                "" if reference else str(row["submissions"]), "" if reference else _when(row.get("last_submission"))]  # fmt: skip

    rows = [cells(team) for team in board["teams"]] + [cells(board["reference"], reference=True)]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda values: "  ".join(v.ljust(w) if i == 0 or i == len(header) - 1 else v.rjust(w)  # noqa: E731
                                    for i, (v, w) in enumerate(zip(values, widths))).rstrip()
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
    p.add_argument("file", type=Path, metavar="FILE", help="the predictions CSV, with the columns the event's challenge asks for")
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
    """A submission's answer as the CLI prints it: the public metrics (as the event's challenge
    words them), the rank, the quota."""
    from datathon.leaderboard import PLAIN_METRIC
    from datathon.leaderboard import display_score as display

    public = result.get("public", {})
    dup = result.get("duplicate_of")
    metric = result.get("metric") or PLAIN_METRIC
    lines = [
        f"submission {result['submission']} recorded for team {result['team']!r}"
        + (f" ({result['filename']})" if result.get("filename") else "")
        + (f"; identical to your submission {dup}" if dup else ""),
        f"public part ({result.get('n_public', 0):,} {result.get('unit', 'rows')}):",
    ]
    reference = result.get("reference_name")
    rows = []
    for label, value, note in _metric_rows(result.get("challenge"), public):
        if label == metric["label"] and not note and reference:
            note = f"({reference} {display(metric, result.get('reference_public_score'))})"
        rows.append((label, value, note))
    width = max((len(label) for label, _, _ in rows), default=0)
    lines += [f"  {label:<{width}}  {value:>8}  {note}".rstrip() for label, value, note in rows]
    counted = "best public submission" if result.get("rule") == "best" else "last submission"
    rank = result.get("rank")
    team_score = display(metric, result.get("team_score"))
    if result.get("mode") == "cooperative":
        lines.append(f"cooperative board, no ranking: team score {team_score} (your {counted} counts)")
    elif rank is not None:
        lines.append(f"rank: {rank} of {result.get('n_ranked')} (team score {team_score}, your {counted} counts)")
    else:
        lines.append("rank: –")
    period = "for the event" if result.get("quota_per") == "event" else "today"
    lines.append(f"quota: {result.get('remaining_today')} of {result.get('quota')} submissions left {period}")
    lines.append(f"request id: {result.get('request_id')}"
                 + (" (already recorded: this retry counted nothing)" if result.get("replay") else ""))  # fmt: skip
    lines += [f"warning: {w}" for w in result.get("warnings", [])]
    return "\n".join(lines)


def _metric_rows(challenge_name: str | None, metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The challenge's rows for ``metrics``; a challenge not installed here (the server's may be a
    third party's) gets its plain numbers."""
    from datathon import challenges

    try:
        return challenges.get(challenge_name or challenges.DEFAULT).format_metrics(metrics)
    except UserError:
        return [(k, f"{v:.4g}", "") for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]


# ---------------------------------------------------------------------------------------------
# datathon handin


def add_handin(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "handin",
        help="hand in the team's notebook for the closing presentations",
        description="Hand in the team's notebook (the .ipynb file, saved) and a short description; they are "
        "shown at the closing presentations (`datathon leaderboard export`). A later hand-in replaces the "
        f"team's previous one. Give the token with --token-file or ${TOKEN_ENV}.",
    )
    p.add_argument("notebook", type=Path, metavar="NOTEBOOK", help="the team's notebook (.ipynb)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--event", type=Path, metavar="EV", help="the event directory (on this machine)")
    where.add_argument("--server", metavar="URL", help="the leaderboard server, e.g. http://10.0.0.5:8765")
    p.add_argument("--team", default=os.environ.get(TEAM_ENV), metavar="NAME", help=f"the team's name (default: ${TEAM_ENV})")
    secret = p.add_mutually_exclusive_group()
    secret.add_argument("--token-file", type=Path, metavar="PATH", help="a file whose first line is the team's token")
    secret.add_argument("--token", default=None, metavar="TOKEN", help=f"the team's token (default: ${TOKEN_ENV})")
    p.add_argument("--description", default="", metavar="TEXT", help="what the team did, in a few sentences")
    p.set_defaults(func=_cmd_handin)


def _cmd_handin(args: argparse.Namespace) -> int:
    from datathon.leaderboard.client import hand_in, read_token_file

    if not args.team:
        raise UserError(f"say which team hands in: --team NAME (or set ${TEAM_ENV})")
    token = read_token_file(args.token_file) if args.token_file is not None else args.token or os.environ.get(TOKEN_ENV)
    if not token:
        raise UserError(f"the team's token is missing: --token-file PATH (or set ${TOKEN_ENV})")
    record = hand_in(args.notebook, team=args.team, token=token, server=args.server, event=args.event,
                     description=args.description)  # fmt: skip
    print(f"handed in {record.get('filename') or args.notebook.name} for team {record['team']!r} at "
          f"{record['handed_in_at']} ({record['bytes']:,} bytes); a later hand-in replaces it")
    return 0


# ---------------------------------------------------------------------------------------------
# datathon serve


def add_serve(sub: argparse._SubParsersAction) -> None:
    from datathon.leaderboard import DEFAULT_HOST, DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT

    p = sub.add_parser(
        "serve",
        help="serve the leaderboard page, its JSON API and the submission endpoint",
        description="Serve the event's leaderboard: the page to project (refreshes itself), "
        "GET /api/leaderboard, POST /api/submit (Authorization: Bearer TOKEN, ?team=NAME) and POST /api/handin "
        "(a team's notebook for the closing, the same authorisation). "
        "Loopback by default; use --host 0.0.0.0 to let the room's machines submit (tokens then "
        "travel in clear over plain HTTP: keep it to the room's network).",
    )
    p.add_argument("--event", required=True, type=Path, metavar="EV")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N", help=f"port (default: {DEFAULT_PORT})")
    p.add_argument("--base-url", default=os.environ.get("JUPYTERHUB_SERVICE_PREFIX") or "/", metavar="PATH",
                   help="the path the page, its API and its files answer under, e.g. /services/leaderboard/ behind "
                   "JupyterHub (default: $JUPYTERHUB_SERVICE_PREFIX when set, else /)")  # fmt: skip
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

    serve(args.event, host=args.host, port=args.port, max_body_bytes=limit, ready=ready, base_url=args.base_url)
    return 0


# ---------------------------------------------------------------------------------------------


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
