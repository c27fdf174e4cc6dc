"""The participants' system accounts: a group for students, one for instructors, one user each.

An account is *ours* when it belongs to one of the two groups; any other existing account with a
participant's login is a clash and refuses the set-up (the kit never takes over somebody else's
account). Passwords are generated for new accounts only (or when asked), set with ``chpasswd`` (the
password travels on its standard input, never on a command line) and printed on slips.
"""
from __future__ import annotations

import grp
import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from datathon.errors import UserError
from datathon.hub import INSTRUCTORS_GROUP, STUDENTS_GROUP
from datathon.hub.participants import Participant

#: Letters and digits that cannot be mistaken for one another on paper (no 0/O, 1/l/I).
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
PASSWORD_GROUPS = 4  # four groups of four: ~80 bits, typed from a slip in a few seconds


@dataclass(frozen=True)
class Role:
    login: str
    instructor: bool
    participant: Participant


def new_password() -> str:
    return "-".join("".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(4)) for _ in range(PASSWORD_GROUPS))


def _run(argv: list[str], what: str, stdin: str | None = None) -> None:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise UserError(f"{what} failed: {reason}")


def require_tools() -> None:
    for tool in ("useradd", "groupadd", "usermod", "userdel", "chpasswd", "gpasswd"):
        if not shutil.which(tool):
            raise UserError(f"{tool} is missing: as root, `apt-get install passwd`")


def ensure_group(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        _run(["groupadd", "--system", name], f"groupadd {name}")
        return grp.getgrnam(name).gr_gid


def _members(group: str) -> set[str]:
    try:
        return set(grp.getgrnam(group).gr_mem)
    except KeyError:
        return set()


def ours(login: str) -> bool:
    """Whether ``login`` is an account the hub created (a member of its students' or instructors' group)."""
    return login in _members(STUDENTS_GROUP) | _members(INSTRUCTORS_GROUP)


def check_clashes(roles: list[Role]) -> None:
    """:class:`UserError` for the first login that is an existing account the hub did not create."""
    taken_groups = {g.gr_name for g in grp.getgrall()}
    for role in roles:
        try:
            pwd.getpwnam(role.login)
        except KeyError:
            if role.login in taken_groups:
                raise UserError(f"line {role.participant.line}: {role.login!r} is already a group on this "
                                "machine: choose another login") from None
            continue
        if not ours(role.login):
            where = f"line {role.participant.line}" if role.participant.line else "--instructors"
            raise UserError(f"{where}: {role.login!r} is an existing account of this machine that the hub did not "
                            "create: choose another login (the kit never takes over an account)")


def ensure_account(role: Role, home_root: Path = Path("/home")) -> bool:
    """Create the account, or put an existing one of ours in the right group; True when it was created."""
    wanted, other = ((INSTRUCTORS_GROUP, STUDENTS_GROUP) if role.instructor else (STUDENTS_GROUP, INSTRUCTORS_GROUP))
    created = False
    try:
        pwd.getpwnam(role.login)
    except KeyError:
        home = home_root / role.login
        _run(["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash", "--user-group",
              "--groups", wanted, "--comment", role.participant.gecos, role.login], f"useradd {role.login}")
        created = True
    if role.login not in _members(wanted):
        _run(["gpasswd", "--add", role.login, wanted], f"adding {role.login} to {wanted}")
    if role.login in _members(other):
        _run(["gpasswd", "--delete", role.login, other], f"removing {role.login} from {other}")
    home = Path(pwd.getpwnam(role.login).pw_dir)
    if home.is_dir():
        home.chmod(0o700)  # other participants must not read a home: notebooks, tokens, nbgrader's cache
    return created


def set_passwords(passwords: dict[str, str]) -> None:
    """Set each login's password in one ``chpasswd`` run (through its standard input)."""
    if passwords:
        _run(["chpasswd"], "chpasswd", stdin="".join(f"{login}:{pw}\n" for login, pw in passwords.items()))


def remove_accounts(logins: list[str]) -> list[str]:
    """Remove the hub's accounts among ``logins`` with their homes and processes; the logins removed.

    An account the hub did not create is refused, never removed.
    """
    from datathon.sandbox import Account, kill_leftovers

    removed = []
    for login in logins:
        try:
            pw = pwd.getpwnam(login)
        except KeyError:
            continue
        if not ours(login):
            raise UserError(f"{login!r} is not an account the hub created: not removing it")
        kill_leftovers(Account(0, login, pw.pw_uid, pw.pw_gid))  # userdel refuses a user with processes
        _run(["userdel", "--remove", login], f"userdel {login}")
        removed.append(login)
    return removed
