"""Running the event's hub: ``start`` (JupyterHub in the foreground), ``check``, ``grade`` and ``remove``."""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from datathon.errors import UserError
from datathon.hub import INSTRUCTORS_GROUP, Layout, load_settings, require_root
from datathon.hub.participants import check_login

ASSIGNMENT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: An account no participant uses: what "every account can use the kit" is checked as.
OTHER_ACCOUNT = "nobody"


def start(layout: Layout, port: int | None = None) -> None:
    """Replace this process with JupyterHub on the event's configuration (Ctrl-C stops it and every server)."""
    require_root("starting the hub (it starts each participant's server as that participant)")
    settings = load_settings(layout)
    jupyterhub = layout.bin / "jupyterhub"
    if not jupyterhub.exists():
        raise UserError(f"{jupyterhub} is missing: run `datathon hub setup` again")
    if not Path(settings["proxy"]).exists():
        raise UserError(f"the proxy {settings['proxy']} is missing: run `datathon hub setup` again")
    argv = [str(jupyterhub), "-f", str(layout.jupyterhub_config)]
    if port is not None:
        if not 1 <= port <= 65535:
            raise UserError(f"--port must be a TCP port (1-65535), not {port}")
        argv.append(f"--JupyterHub.bind_url=http://:{port}")
    env = dict(os.environ, PATH=os.pathsep.join([str(layout.bin), os.environ.get("PATH", "/usr/bin:/bin")]))
    os.chdir(layout.hub)  # JupyterHub writes nothing else than what its configuration names, but starts here
    os.execve(argv[0], argv, env)


@dataclass
class Check:
    """What ``datathon hub check`` found: one line per thing checked."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def good(self, line: str) -> None:
        self.lines.append(f"ok: {line}")

    def bad(self, line: str) -> None:
        self.problems.append(line)
        self.lines.append(f"problem: {line}")

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        return "\n".join(self.lines)


def _as_other_account(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", f"--reuid={OTHER_ACCOUNT}", "--regid=nogroup", "--clear-groups", "--", *argv],
                          capture_output=True, text=True, cwd="/")


def check(layout: Layout) -> Check:
    """Whether the hub set up under ``layout.root`` is ready: kit, proxy, exchange, data, accounts, limits, grading."""
    from datathon import sandbox
    from datathon.hub import accounts
    from datathon.hub.install import exchange_problems

    require_root("checking the hub")
    result = Check()
    settings = load_settings(layout)
    python = layout.bin / "python"
    ran = _as_other_account([str(python), "-c", "import datathon, jupyterhub, nbgrader"])
    if ran.returncode == 0:
        result.good(f"the kit in {layout.venv} runs for any account (tried as {OTHER_ACCOUNT})")
    else:
        result.bad(f"the kit in {layout.venv} does not run as {OTHER_ACCOUNT}: "
                   f"{(ran.stderr.strip().splitlines() or ['?'])[-1]}")
    for tool in (layout.bin / "jupyterhub-singleuser", Path(settings["proxy"])):
        (result.good if os.access(tool, os.X_OK) else result.bad)(f"{tool} {'is there' if tool.exists() else 'is missing'}")
    problems = exchange_problems(layout, settings["course_id"])
    if problems:
        for p in problems:
            result.bad(f"exchange: {p}")
    else:
        result.good(f"exchange {layout.exchange}: root-owned, 1777 with the sticky bit; inbound 3773, outbound 2775, "
                    f"feedback 2771 (group {INSTRUCTORS_GROUP})")
    (result.good if layout.nbgrader_config.is_file() else result.bad)(f"nbgrader's system-wide configuration "
                                                                       f"{layout.nbgrader_config}")
    writable = [p for p in [layout.data, *layout.data.rglob("*")] if p.lstat().st_uid != 0
                or p.lstat().st_mode & 0o022] if layout.data.is_dir() else [layout.data]
    if writable:
        result.bad(f"the public data {layout.data} is missing or writable by others ({writable[0]})")
    else:
        result.good(f"the public data {layout.data}: read-only, DATATHON_DATA in every server")
    for login in settings["students"] + settings["instructors"]:
        if not accounts.ours(login):
            result.bad(f"account {login} is missing or not the hub's: run `datathon hub setup` again")
    result.good(f"{len(settings['students'])} student and {len(settings['instructors'])} instructor accounts listed")
    version = sandbox._cgroup_version()
    if version:
        result.good(f"memory per user: {settings['memory_gib']:g} GiB, enforced by a cgroup ({version}) per server")
    else:
        result.bad(f"no writable memory cgroup: the {settings['memory_gib']:g} GiB per user are shown, not enforced")
    grading = sandbox.status()
    if grading.ok:
        result.good("sandboxed grading: bubblewrap and sandbox accounts ready (`sudo datathon hub grade ASSIGNMENT`)")
    else:
        result.bad(f"sandboxed grading: {grading.problems[0]}")
    if settings.get("event"):
        result.good(f"leaderboard: {settings['event']} served at /services/leaderboard/ "
                    f"(port {settings['leaderboard_port']} on loopback)")
    else:
        result.lines.append("note: no event directory given: the leaderboard is not served through the hub")
    return result


def grade(layout: Layout, assignment: str, *, jobs: int = 2, students: list[str] | None = None,
          force: bool = False, progress: bool = True):
    """``datathon grade`` on the instructors' course root, sandboxed (as root, through sudo for instructors).

    The course root stays the instructors' group's afterwards (root grades, instructors give feedback).
    """
    from datathon.grading import grade as grade_course
    from datathon.hub import accounts
    from datathon.hub.install import _own_tree

    require_root("grading in the sandbox (`sudo datathon hub grade ...`)")
    if not ASSIGNMENT_PATTERN.fullmatch(assignment or ""):
        raise UserError(f"{assignment!r} is not an assignment id (letters, digits, _ and -)")
    for student in students or []:
        check_login(student, "--student")
    settings = load_settings(layout)
    # sudo resets PATH; nbgrader runs the gradebook's migrations with the `alembic` script beside its Python.
    os.environ["PATH"] = os.pathsep.join([str(layout.bin), os.environ.get("PATH", "/usr/bin:/bin")])
    try:
        run = grade_course(assignment, course=layout.course_root(settings["challenge"]), jobs=jobs, students=students,
                           force=force, progress=progress, data=Path(settings["grading_data"]),
                           challenge=settings["challenge"])
    finally:
        _own_tree(layout.instructor, 0, accounts.ensure_group(INSTRUCTORS_GROUP), group_writable=True)
        os.chmod(layout.instructor, 0o2770)
    return run


def remove(layout: Layout, logins: list[str]) -> list[str]:
    """Remove participants' accounts (with their homes) after the event; the logins removed."""
    from datathon.hub import accounts

    require_root("removing accounts")
    for login in logins:
        check_login(login, "remove")
    removed = accounts.remove_accounts(logins)
    from datathon.hub.jupyterhub import cgroup_name
    from datathon.sandbox import CGROUP_ROOT

    for login in removed:
        for parent in (CGROUP_ROOT / "memory", CGROUP_ROOT / "pids", CGROUP_ROOT):  # v1, then v2
            group = parent / cgroup_name(login)
            if group.is_dir():
                try:
                    group.rmdir()
                except OSError:
                    pass  # still has processes: the kernel removes nothing in use
    return removed


