"""``datathon hub setup``: everything the event's JupyterHub needs on this machine, as root, idempotent.

Each step checks what is there and does only what is missing, so running the set-up again (a late
participant added to the file, a new data bundle) is safe; whatever is written is written to a
temporary name first and renamed, so an interrupted run leaves the old state or the new one.
A participant's home and course are never overwritten: it holds their work.
"""
from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from datathon.course import SAMPLE_DIR
from datathon.errors import UserError
from datathon.files import remove_tree, written_atomically
from datathon.hub import (DEFAULT_LEADERBOARD_PORT, DEFAULT_PORT, INSTRUCTORS_GROUP, STUDENTS_GROUP,
                          Layout, require_root)
from datathon.hub import accounts
from datathon.hub.participants import Participant, parse_instructors, read_participants

#: The interpreter the kit is installed with: Debian's, executable by every account (never one under /root).
SYSTEM_PYTHON = "/usr/bin/python3"
#: JupyterHub's proxy, from the npm registry (JupyterHub's recommended proxy).
PROXY_PACKAGE = "configurable-http-proxy@5.3.0"
#: What the kit's package is built from: copied out of the repository so pip writes nothing into it.
PACKAGE_FILES = ("pyproject.toml", "README.md", "datathon")
KIT_STAMP = ".datathon-kit"
SUDOERS_DIR = Path("/etc/sudoers.d")


@dataclass
class SetupReport:
    """What a set-up did, for the command's summary."""

    layout: Layout
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    slips: Path | None = None
    kit_installed: bool = False
    proxy: str = ""
    notes: list[str] = field(default_factory=list)

    def format(self) -> str:
        lines = [f"hub root: {self.layout.root}",
                 f"kit: {'installed in' if self.kit_installed else 'up to date in'} {self.layout.venv}",
                 f"proxy: {self.proxy}",
                 f"accounts created: {', '.join(self.created) or 'none'}",
                 f"accounts already there: {', '.join(self.existing) or 'none'}"]
        if self.slips:
            lines.append(f"password slips (print, cut, hand out; then delete): {self.slips}")
        lines += [f"note: {n}" for n in self.notes]
        lines.append(f"start it: datathon hub start --root {self.layout.root}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Tools and the kit
# --------------------------------------------------------------------------------------------


def _apt_install(package: str, why: str) -> None:
    if not shutil.which("apt-get"):
        raise UserError(f"{why}: install Debian's {package} (no apt-get here)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["?"])[-1]
            raise UserError(f"{why}: `{' '.join(argv)}` failed: {reason}")


def repository_of_kit() -> Path:
    """The repository the running kit comes from (the course, the solutions and grader/ are there)."""
    import datathon

    repo = Path(datathon.__file__).resolve().parents[1]
    if not all((repo / d).exists() for d in ("course", "grader", "solutions", "pyproject.toml")):
        raise UserError(f"{repo} is not the kit's repository (course/, grader/, solutions/): run `datathon hub setup` "
                        "from the repository's .venv, or pass --repo")
    return repo


def _fingerprints(repo: Path) -> tuple[str, str]:
    """Digests of the kit's dependencies (pyproject.toml) and of its package: what the installed kit was built from."""
    package = hashlib.sha256()
    for path in [repo / "README.md", *sorted(p for p in (repo / "datathon").rglob("*")
                                            if p.is_file() and "__pycache__" not in p.parts)]:
        package.update(str(path.relative_to(repo)).encode() + b"\0" + path.read_bytes() + b"\0")
    return hashlib.sha256((repo / "pyproject.toml").read_bytes()).hexdigest(), package.hexdigest()


def _pip(layout: Layout, repo: Path, *options: str) -> None:
    """pip install the kit with its ``hub`` extra from a copy of its files (pip writes nothing into the repository)."""
    with tempfile.TemporaryDirectory(prefix="datathon-kit-") as tmp:
        source = Path(tmp) / "datathon-kit"
        source.mkdir()
        for name in PACKAGE_FILES:
            src = repo / name
            if src.is_dir():
                shutil.copytree(src, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(src, source / name)
        done = subprocess.run([str(layout.bin / "python"), "-m", "pip", "install", "--quiet",
                               "--disable-pip-version-check", *options, f"{source}[hub]"],
                              capture_output=True, text=True, env=dict(os.environ, PIP_NO_INPUT="1"))
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if "ERROR" in line] or done.stderr.strip().splitlines()
        raise UserError(f"installing the kit in {layout.venv} failed: {(errors or ['?'])[-1]}")


def install_kit(layout: Layout, repo: Path, *, log=print) -> bool:
    """The kit and JupyterHub in ``layout.venv``, from Debian's Python; True when (re)installed.

    The stamp records what was installed: unchanged pins and package do nothing, a changed package
    reinstalls the kit alone (seconds), changed pins or a half-built environment rebuild it (minutes).
    """
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        _apt_install("python3", f"{SYSTEM_PYTHON} is missing")
    if subprocess.run([SYSTEM_PYTHON, "-c", "import ensurepip, venv"], capture_output=True).returncode != 0:
        log("installing Debian's python3-venv")
        _apt_install("python3-venv", "the venv module of Debian's Python is missing")
    pins, package = _fingerprints(repo)
    stamp = layout.venv / KIT_STAMP
    installed = stamp.read_text().split() if stamp.is_file() else []
    complete = len(installed) == 2 and (layout.bin / "jupyterhub-singleuser").exists()
    if complete and installed == [pins, package]:
        return False
    if complete and installed[0] == pins:
        log(f"updating the kit in {layout.venv}")
        stamp.unlink()  # until the new package is in, the environment counts as half-built
        _pip(layout, repo, "--no-deps", "--force-reinstall")
    else:
        if layout.venv.exists():
            remove_tree(layout.venv)  # half-built, or other pins: venvs cannot be patched in place
        log(f"installing the kit and JupyterHub in {layout.venv} (a few minutes)")
        done = subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(layout.venv)], capture_output=True, text=True)
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["?"])[-1]
            raise UserError(f"{SYSTEM_PYTHON} -m venv {layout.venv} failed: {reason}")
        _pip(layout, repo)
    with written_atomically(stamp) as tmp_stamp:
        tmp_stamp.write_text(f"{pins}\n{package}\n")
        tmp_stamp.chmod(0o644)
    return True


def install_proxy(*, log=print) -> str:
    """configurable-http-proxy's path, installed from the npm registry when missing."""
    found = shutil.which("configurable-http-proxy")
    if found:
        return found
    if not shutil.which("npm"):
        raise UserError("configurable-http-proxy is missing and so is npm: as root, `apt-get install npm`, "
                        "then run the set-up again")
    log(f"installing {PROXY_PACKAGE} with npm")
    done = subprocess.run(["npm", "install", "--global", "--no-fund", "--no-audit", PROXY_PACKAGE],
                          capture_output=True, text=True)
    found = shutil.which("configurable-http-proxy")
    if done.returncode != 0 or not found:
        reason = (done.stderr.strip().splitlines() or ["not on PATH after installing"])[-1]
        raise UserError(f"npm install {PROXY_PACKAGE} failed: {reason}")
    return found


# --------------------------------------------------------------------------------------------
# Directories
# --------------------------------------------------------------------------------------------


def _directory(path: Path, mode: int, uid: int = 0, gid: int = 0) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, uid, gid)
    os.chmod(path, mode)  # chmod after chown: chown clears the setgid bit


def _own_tree(path: Path, uid: int, gid: int, *, group_writable: bool = False) -> None:
    """chown a tree (never through a link); with ``group_writable``, g+rw on files and g+rwxs on directories."""
    for entry in [path, *path.rglob("*")]:
        os.lchown(entry, uid, gid)
        if entry.is_symlink() or not group_writable:
            continue
        mode = stat.S_IMODE(entry.lstat().st_mode)
        os.chmod(entry, (mode | 0o2070) & ~0o007 if entry.is_dir() else (mode | 0o060) & ~0o007)


def _copy_once(src: Path, dest: Path, uid: int, gid: int, *, group_writable: bool = False) -> bool:
    """Copy ``src`` to ``dest`` unless it exists (it may hold someone's work); True when copied."""
    if dest.exists():
        return False
    tmp = dest.parent / f".{dest.name}.{os.getpid()}.tmp"
    remove_tree(tmp)
    shutil.copytree(src, tmp, symlinks=False, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    _own_tree(tmp, uid, gid, group_writable=group_writable)
    os.replace(tmp, dest)
    return True


def place_data(layout: Layout, data: Path) -> None:
    """The event's public files (never its truth: ``datathon event bundle``) in ``layout.data``, read-only for all."""
    from datathon.event import bundle

    staging = layout.root / ".data.new"
    remove_tree(staging)
    bundle(data, staging)
    for entry in [staging, *staging.rglob("*")]:
        os.lchown(entry, 0, 0)
        if not entry.is_symlink():
            os.chmod(entry, 0o755 if entry.is_dir() else 0o444)
    from datathon.files import replace_directory

    replace_directory(staging, layout.data)


def make_exchange(layout: Layout, course_id: str, instructors_gid: int) -> None:
    """nbgrader's exchange for several users, created as root so no participant owns (or can move) it.

    - the root: root-owned, ``1777`` as nbgrader documents (everyone writes, the sticky bit stops
      anyone but root from renaming or deleting what is not theirs);
    - the course's directories, root-owned with the instructors' group (nbgrader's ``groupshared``
      mode for several instructors): ``outbound`` 2775 (instructors release, everyone fetches),
      ``inbound`` 3773 (everyone may add a submission; only instructors list it; the sticky bit stops
      a student from moving or deleting a submission that is not theirs), ``feedback`` 2771
      (instructors write; a student reaches only the file named by their own submission's secret).
    """
    _directory(layout.exchange, 0o1777)
    course = layout.exchange / course_id
    _directory(course, 0o2775, 0, instructors_gid)
    for name, mode in EXCHANGE_MODES.items():
        _directory(course / name, mode, 0, instructors_gid)


EXCHANGE_MODES = {"outbound": 0o2775, "inbound": 0o3773, "feedback": 0o2771}


def exchange_problems(layout: Layout, course_id: str) -> list[str]:
    """What is wrong with the exchange's owners and modes (empty when it is as :func:`make_exchange` made it)."""
    problems = []
    expected = {layout.exchange: (0o1777, None), layout.exchange / course_id: (0o2775, INSTRUCTORS_GROUP),
                **{layout.exchange / course_id / n: (m, INSTRUCTORS_GROUP) for n, m in EXCHANGE_MODES.items()}}
    for path, (mode, group) in expected.items():
        try:
            st = path.lstat()
        except FileNotFoundError:
            problems.append(f"{path} is missing")
            continue
        if not stat.S_ISDIR(st.st_mode):
            problems.append(f"{path} is not a directory")
            continue
        actual = stat.S_IMODE(st.st_mode)
        if st.st_uid != 0:
            problems.append(f"{path} belongs to {_user_name(st.st_uid)}, not root: a participant could move it")
        if actual != mode:
            problems.append(f"{path} has mode {actual:04o}, not {mode:04o}")
        if group is not None and _group_name(st.st_gid) != group:
            problems.append(f"{path} has group {_group_name(st.st_gid)}, not {group}")
    return problems


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def place_instructor_course(layout: Layout, repo: Path, challenge: str, instructors_gid: int) -> None:
    """The instructors' course root: nbgrader's configuration, the assignments' sources, the sample to grade on.

    Laid out as in the checkout (grader/<challenge>, solutions/<challenge>, data_samples/<challenge>), which
    the course's nbgrader configuration expects; root-owned with the instructors' group, 2770: students
    see none of it (sources, gradebook, submissions, grades.csv), and it lies outside the repository.
    """
    for directory in (layout.instructor, layout.instructor / "grader", layout.course_root(challenge)):
        _directory(directory, 0o2770, 0, instructors_gid)
    config = layout.course_root(challenge) / "nbgrader_config.py"
    with written_atomically(config) as tmp:  # the kit's own settings: refreshed every time
        shutil.copyfile(repo / "grader" / challenge / "nbgrader_config.py", tmp)
        os.chown(tmp, 0, instructors_gid)
        tmp.chmod(0o640)
    for name in ("solutions", SAMPLE_DIR):
        _directory(layout.instructor / name, 0o2770, 0, instructors_gid)
        _copy_once(repo / name / challenge, layout.instructor / name / challenge, 0, instructors_gid,
                   group_writable=True)


NBGRADER_CONFIG = '''\
"""nbgrader's system-wide configuration for the event's hub: written by `datathon hub setup`, regenerate it.

Everyone: the course id and the exchange, so `nbgrader fetch_assignment a1_names` and the Assignments
panel need no option. Instructors (who alone can read the course root below): the course's own settings,
nbgrader's group-shared mode, and grades.csv written beside the gradebook, outside any repository.
"""
import os

c = get_config()  # noqa: F821 - defined by traitlets
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}
c.ExchangeFactory.submit = "datathon.hub.exchange.SealedSubmit"  # no other student can open a submission
_COURSE = {course_config!r}
if os.access(_COURSE, os.R_OK):  # only members of {group} reach it
    # nbgrader loads the course root's own nbgrader_config.py again after this file; it takes the exchange
    # from $DATATHON_EXCHANGE (datathon/nbgrader_course.py), which this process now carries.
    os.environ["DATATHON_EXCHANGE"] = {exchange!r}
    load_subconfig(os.path.basename(_COURSE), path=os.path.dirname(_COURSE))  # noqa: F821
    c.Exchange.root = {exchange!r}
    c.CourseDirectory.groupshared = True
    c.CsvExportPlugin.to = {grades!r}
'''


def write_nbgrader_config(layout: Layout, challenge: str, course_id: str) -> None:
    path = layout.nbgrader_config
    path.parent.mkdir(parents=True, exist_ok=True)
    text = NBGRADER_CONFIG.format(course_id=course_id, exchange=str(layout.exchange), group=INSTRUCTORS_GROUP,
                                  course_config=str(layout.course_root(challenge) / "nbgrader_config.py"),
                                  grades=str(layout.instructor / "grades.csv"))
    _write(path, text, 0o644)


JUPYTERHUB_CONFIG = '''\
# JupyterHub's configuration for the event: written by `datathon hub setup`; the settings are in settings.json
# beside it and the configuration itself is the kit's code (datathon/hub/jupyterhub.py).
from datathon.hub.jupyterhub import configure

configure(c, {root!r})  # noqa: F821 - c is defined by traitlets
'''


def _write(path: Path, text: str, mode: int, uid: int = 0, gid: int = 0) -> None:
    with written_atomically(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        os.chown(tmp, uid, gid)
        tmp.chmod(mode)


def grade_command(layout: Layout) -> str:
    """What instructors run, through sudo, to grade: the only command the sudoers rule allows them."""
    return f"{layout.bin / 'datathon'} hub --root {layout.root} grade"


def sudoers_file(layout: Layout) -> Path:
    """The hub's sudoers rule: one file per hub root (sudo skips names with a dot, so none here)."""
    return SUDOERS_DIR / ("datathon-hub" + str(layout.root).replace("/", "_").replace(".", "_"))


def write_sudoers(layout: Layout, *, log=print) -> None:
    """Let instructors grade in the sandbox (which needs root) through `datathon hub grade`, and nothing else."""
    if not shutil.which("sudo"):
        log("installing Debian's sudo (instructors run the sandboxed grading through it)")
        _apt_install("sudo", "sudo is missing")
    rule = (f"# Written by `datathon hub setup`: instructors grade submissions in the sandbox (root) and only that.\n"
            f"%{INSTRUCTORS_GROUP} ALL=(root) NOPASSWD: {grade_command(layout)} *\n")
    SUDOERS_DIR.mkdir(parents=True, exist_ok=True)
    with written_atomically(sudoers_file(layout)) as tmp:
        tmp.write_text(rule)
        tmp.chmod(0o440)
        visudo = shutil.which("visudo")
        if visudo:
            checked = subprocess.run([visudo, "-cf", str(tmp)], capture_output=True, text=True)
            if checked.returncode != 0:
                raise UserError(f"the sudoers rule was refused by visudo: {checked.stdout.strip() or checked.stderr.strip()}")


# --------------------------------------------------------------------------------------------
# Password slips
# --------------------------------------------------------------------------------------------


def render_password_slips(title: str, people: list[tuple[Participant, str]], address: str | None) -> str:
    """One HTML page of slips to cut, one per account: name, login, password, the hub's address."""
    from html import escape

    from datathon.leaderboard.slips import _CSS  # the token slips' page: same cut lines and fonts

    slips = []
    for person, password in people:
        where = f"<p class=\"how\">Open <code>{escape(address)}</code> and sign in.</p>" if address else ""
        slips.append(
            "<section class=\"slip\">"
            f"<p class=\"event\">{escape(title)} — {escape(person.name)}</p>"
            f"<p class=\"team\">login: {escape(person.login)}</p>"
            f"<p class=\"token\">{escape(password)}</p>"
            f"{where}<p class=\"how\">Keep this password to yourself; change it with <code>passwd</code> in a "
            "JupyterLab terminal.</p></section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Accounts: {escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
            + "\n".join(slips) + "\n</body></html>\n")


# --------------------------------------------------------------------------------------------
# The set-up
# --------------------------------------------------------------------------------------------


def setup(participants_file: Path, data: Path, *, root: Path = Layout().root, instructors: str | None = None,
          event: Path | None = None, port: int = DEFAULT_PORT, leaderboard_port: int = DEFAULT_LEADERBOARD_PORT,
          memory_gib: float = 4.0, address: str | None = None, reset_passwords: bool = False,
          title: str = "Datathon", challenge: str | None = None, grading_data: Path | None = None,
          repo: Path | None = None, log=print) -> SetupReport:
    """Set up (or bring up to date) the event's hub under ``root``; see the module docstring."""
    require_root("setting up the hub (system accounts, /srv, the exchange)")
    accounts.require_tools()
    root = Path(root).resolve()
    if not root.is_absolute() or root == Path("/"):
        raise UserError(f"--root {root}: give a directory of its own, such as /srv/datathon")
    for number, value in (("--port", port), ("--leaderboard-port", leaderboard_port)):
        if not 1 <= int(value) <= 65535:
            raise UserError(f"{number} must be a TCP port (1-65535), not {value}")
    if not 0.25 <= memory_gib <= 1024:
        raise UserError(f"--memory must be between 0.25 and 1024 GiB per user (got {memory_gib:g})")
    if grading_data is not None and not Path(grading_data).is_dir():
        raise UserError(f"--grading-data {grading_data}: no such directory (the event's data, truth included)")
    data = Path(data)
    if not data.is_dir():
        raise UserError(f"--data {data}: no such directory (the event's data, or the bundle of its public files)")
    if event is not None:
        event = Path(event).resolve()
        from datathon.leaderboard.service import DB_FILE, EVENT_FILE

        if not ((event / EVENT_FILE).is_file() and (event / DB_FILE).is_file()):
            raise UserError(f"--event {event} is not an event directory: create it with `datathon leaderboard init`")
    repo = Path(repo).resolve() if repo else repository_of_kit()
    from datathon.challenges import DEFAULT, get

    challenge = challenge or DEFAULT
    course_id = get(challenge).course_id
    if not (repo / "grader" / challenge / "nbgrader_config.py").is_file():
        raise UserError(f"{repo} has no course for challenge {challenge!r} (grader/{challenge}/nbgrader_config.py)")
    people = read_participants(participants_file)  # every check of the file before anything is created
    instructor_logins = parse_instructors(instructors)
    by_login = {p.login: p for p in people}
    roles = [accounts.Role(p.login, p.login in instructor_logins, p) for p in people]
    roles += [accounts.Role(login, True, Participant(login, login)) for login in instructor_logins
              if login not in by_login]
    if not any(r.instructor for r in roles):
        raise UserError("no instructor: name at least one with --instructors login[,login...]")
    accounts.check_clashes(roles)

    layout = Layout(root)
    report = SetupReport(layout)
    _directory(root, 0o755)
    _directory(layout.hub, 0o700)
    _directory(layout.slips, 0o700)
    report.kit_installed = install_kit(layout, repo, log=log)
    report.proxy = install_proxy(log=log)

    accounts.ensure_group(STUDENTS_GROUP)  # marks accounts as the hub's; nothing is shared with that group
    instructors_gid = accounts.ensure_group(INSTRUCTORS_GROUP)
    place_data(layout, data)
    make_exchange(layout, course_id, instructors_gid)
    problems = exchange_problems(layout, course_id)
    if problems:
        raise UserError(f"the exchange is not as nbgrader needs it: {problems[0]}")
    place_instructor_course(layout, repo, challenge, instructors_gid)
    write_nbgrader_config(layout, challenge, course_id)
    write_sudoers(layout, log=log)

    passwords: dict[str, str] = {}
    for role in roles:
        created = accounts.ensure_account(role)
        (report.created if created else report.existing).append(role.login)
        if created or reset_passwords:
            passwords[role.login] = accounts.new_password()
        pw = pwd.getpwnam(role.login)
        _copy_once(repo / "course", Path(pw.pw_dir) / "course", pw.pw_uid, pw.pw_gid)
    if passwords:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        report.slips = layout.slips / f"accounts-{stamp}.html"
        page = render_password_slips(title, [(r.participant, passwords[r.login]) for r in roles
                                             if r.login in passwords], address)
        with written_atomically(report.slips) as tmp:
            tmp.write_text(page, encoding="utf-8")
            tmp.chmod(0o600)
            accounts.set_passwords(passwords)  # only once the slips are written: no password is ever lost

    serves = event is not None and "--base-url" in subprocess.run(
        [str(layout.bin / "datathon"), "serve", "--help"], capture_output=True, text=True).stdout
    if event is None:
        report.notes.append("no --event: the leaderboard is not served through the hub")
    elif not serves:
        report.notes.append("this kit's `datathon serve` has no --base-url yet: the leaderboard is not served "
                            "through the hub")
    settings = {"root": str(root), "port": int(port), "leaderboard_port": int(leaderboard_port),
                "memory_gib": float(memory_gib), "proxy": report.proxy, "event": str(event) if serves else "",
                "students": sorted(r.login for r in roles if not r.instructor),
                "instructors": sorted(r.login for r in roles if r.instructor),
                "challenge": challenge, "course_id": course_id,
                "grading_data": str(Path(grading_data).resolve() if grading_data
                                    else layout.instructor / SAMPLE_DIR / challenge)}
    _write(layout.settings, json.dumps(settings, indent=2) + "\n", 0o600)
    _write(layout.jupyterhub_config, JUPYTERHUB_CONFIG.format(root=str(root)), 0o600)
    return report


