"""``datathon hub setup|start|check|grade|remove``: the thin command line of :mod:`datathon.hub`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from datathon.hub import DEFAULT_LEADERBOARD_PORT, DEFAULT_PORT, DEFAULT_ROOT, Layout


def add_hub(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hub", help="the event's JupyterHub: set it up (as root), start it, check it",
        description="One JupyterHub for the whole event on this machine (docs/hub.md): `setup` (as root) installs "
        "the kit for every account, creates the participants' accounts with printed passwords, places the course, "
        "the public data, nbgrader's exchange and configuration; `start` runs the hub; `check` says what is ready; "
        "`grade` is the sandboxed `datathon grade` instructors run through sudo; `remove` deletes accounts after.")
    p.add_argument("--root", type=Path, default=DEFAULT_ROOT, help=f"where the hub lives (default: {DEFAULT_ROOT})")
    verbs = p.add_subparsers(dest="hub_command", metavar="VERB", required=True)

    s = verbs.add_parser("setup", help="set up or update the hub (as root; safe to run again)")
    s.add_argument("--participants", required=True, type=Path, metavar="CSV",
                   help="participants.csv: login,name,email,team (or lead)")
    s.add_argument("--data", required=True, type=Path, metavar="DIR",
                   help="the event's data directory or its public bundle: only the public files are placed")
    s.add_argument("--instructors", metavar="LOGIN,...", help="instructor logins (in the file or not)")
    s.add_argument("--event", type=Path, metavar="EV", help="the leaderboard's event directory, served through "
                   "the hub at /services/leaderboard/")
    s.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"the hub's port (default: {DEFAULT_PORT})")
    s.add_argument("--leaderboard-port", type=int, default=DEFAULT_LEADERBOARD_PORT,
                   help=f"the leaderboard's loopback port (default: {DEFAULT_LEADERBOARD_PORT})")
    s.add_argument("--memory", type=float, default=4.0, metavar="GiB", help="memory per user (default: 4)")
    s.add_argument("--address", metavar="URL", help="the hub's address as participants type it, for the slips")
    s.add_argument("--title", default="Datathon", help="the event's name on the slips")
    s.add_argument("--grading-data", type=Path, metavar="DIR", help="the event's data, truth included, that "
                   "`datathon hub grade` scores performance cells on (default: the public sample, for practice)")
    s.add_argument("--challenge", metavar="NAME", help="the challenge whose course is placed (default: sirene)")
    s.add_argument("--reset-passwords", action="store_true",
                   help="give every listed account a new password (new accounts always get one)")

    st = verbs.add_parser("start", help="run JupyterHub in the foreground (as root)")
    st.add_argument("--port", type=int, help="port (default: the set-up's, 8000)")
    verbs.add_parser("check", help="say what is ready and what is not (as root)")
    g = verbs.add_parser("grade", help="grade an assignment in the sandbox (instructors: `sudo datathon hub grade`)")
    g.add_argument("assignment", metavar="ASSIGNMENT")
    g.add_argument("--jobs", type=int, default=2, metavar="N")
    g.add_argument("--student", dest="students", nargs="+", metavar="LOGIN")
    g.add_argument("--force", action="store_true", help="grade again submissions already graded")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    r = verbs.add_parser("remove", help="remove participants' accounts and homes (after the event)")
    r.add_argument("logins", nargs="+", metavar="LOGIN")
    p.set_defaults(func=_cmd_hub)


def _cmd_hub(args: argparse.Namespace) -> int:
    from datathon.hub import operate

    layout = Layout(args.root)
    if args.hub_command == "setup":
        from datathon.hub.install import setup

        report = setup(args.participants, args.data, root=args.root, instructors=args.instructors, event=args.event,
                       port=args.port, leaderboard_port=args.leaderboard_port, memory_gib=args.memory,
                       address=args.address, reset_passwords=args.reset_passwords, title=args.title,
                       grading_data=args.grading_data, challenge=args.challenge)
        print(report.format())
        result = operate.check(layout)
        print(result.format())
        return 0 if result.ok else 1
    if args.hub_command == "start":
        operate.start(layout, args.port)
        return 0
    if args.hub_command == "check":
        result = operate.check(layout)
        print(result.format())
        return 0 if result.ok else 1
    if args.hub_command == "grade":
        from datathon.grading import format_summary

        run = operate.grade(layout, args.assignment, jobs=args.jobs, students=args.students, force=args.force,
                            progress=not args.quiet)
        print(format_summary(run))
        for failure in run.failures:
            print(f"datathon hub grade: failed: {failure.student}: {failure.reason}", file=sys.stderr)
        return 0 if run.ok else 1
    removed = operate.remove(layout, args.logins)
    print(f"removed: {', '.join(removed) or 'nobody (no such account)'}")
    return 0
