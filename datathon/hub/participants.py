"""The participants file of an event: ``participants.csv`` with columns login, name, email, team (or lead).

It comes from a shared spreadsheet, so it is read as hostile input: every login must match a strict
pattern (it becomes a system account and a directory name), no login may appear twice, names and
e-mail addresses are checked for length and control characters, and the first problem stops the
whole file with one line naming its line number. Nothing is created from a file that has a problem.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from datathon.errors import UserError

#: A system login: lower-case ASCII letter first, then letters, digits or underscores, 2 to 32 in all.
LOGIN_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,31}")
#: Logins never given to a participant: the machine's own accounts and the kit's.
RESERVED_LOGINS = {"root", "admin", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp",
                   "proxy", "backup", "list", "irc", "nobody", "systemd", "messagebus", "sshd", "jupyterhub",
                   "jovyan", "www_data", "postgres", "ubuntu", "debian", "user", "guest", "staff", "users"}
RESERVED_PREFIXES = ("datathon",)  # the kit's own accounts and groups (sandbox, hub)
EMAIL_PATTERN = re.compile(r"[^@\s,;:<>\"']+@[^@\s,;:<>\"']+\.[^@\s,;:<>\"']+")
MAX_FILE_BYTES = 1_000_000
MAX_PARTICIPANTS = 2_000
MAX_NAME = 100
MAX_TEAM = 60
#: The columns read; ``lead`` stands for ``team`` when teams form at the briefing around declared leads.
REQUIRED_COLUMNS = ("login", "name")
TEAM_COLUMNS = ("team", "lead")


@dataclass(frozen=True)
class Participant:
    """One line of the participants file."""

    login: str
    name: str
    email: str = ""
    team: str = ""  # the team's name, or the preferred lead's login, as the file gives it
    line: int = 0  # where it came from, for messages

    @property
    def gecos(self) -> str:
        """The name as the system's account comment field holds it (no ``:``, ``,``, ``=`` nor control characters)."""
        return "".join(ch for ch in self.name if ch not in ":,=\\" and unicodedata.category(ch)[0] != "C")[:MAX_NAME]


def check_login(login: str, where: str) -> str:
    """``login`` if it can be a participant's system account, else :class:`UserError` naming ``where``."""
    if not LOGIN_PATTERN.fullmatch(login or ""):
        raise UserError(f"{where}: login {login!r} is not allowed: use 2 to 32 lower-case ASCII letters, digits "
                        "or underscores, starting with a letter")
    if login in RESERVED_LOGINS or login.startswith(RESERVED_PREFIXES):
        raise UserError(f"{where}: login {login!r} is reserved for the system or the kit: choose another")
    return login


def _clean_text(value: str, what: str, where: str, limit: int) -> str:
    value = unicodedata.normalize("NFC", (value or "").strip())
    if any(unicodedata.category(ch)[0] == "C" for ch in value):
        raise UserError(f"{where}: the {what} holds a control character (a line break, a tab, ...): remove it")
    if len(value) > limit:
        raise UserError(f"{where}: the {what} is longer than {limit} characters")
    return value


def parse_participants(text: str, source: str = "participants.csv") -> list[Participant]:
    """The participants of ``text`` (CSV, ``,`` or ``;`` separated, a header line first), in file order."""
    if text.startswith("\ufeff"):
        text = text[1:]  # a spreadsheet's byte-order mark
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        rows = list(reader)
    except csv.Error as err:
        raise UserError(f"{source}: line {reader.line_num}: not valid CSV ({err})") from None
    if not rows:
        raise UserError(f"{source} is empty: give a header line (login,name,email,team) and one line per participant")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise UserError(f"{source}: line 1: the header lacks {', '.join(missing)} (expected login,name,email,team; "
                        f"got {','.join(header)})")
    if len(set(header)) != len(header):
        raise UserError(f"{source}: line 1: a column is named twice ({','.join(header)})")
    team_column = next((c for c in TEAM_COLUMNS if c in header), None)
    participants: list[Participant] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank lines at the end of an exported sheet
        where = f"{source}: line {number}"
        if len(row) != len(header):
            raise UserError(f"{where}: {len(row)} fields where the header has {len(header)}")
        cells = dict(zip(header, row))
        login = check_login(cells["login"].strip(), where)
        if login in seen:
            raise UserError(f"{where}: login {login!r} is already on line {seen[login]}: each participant once")
        seen[login] = number
        name = _clean_text(cells["name"], "name", where, MAX_NAME)
        if not name:
            raise UserError(f"{where}: {login} has no name")
        email = _clean_text(cells.get("email", ""), "e-mail address", where, 254)
        if email and not EMAIL_PATTERN.fullmatch(email):
            raise UserError(f"{where}: {email!r} is not an e-mail address")
        team = _clean_text(cells.get(team_column, "") if team_column else "", team_column or "team", where, MAX_TEAM)
        participants.append(Participant(login, name, email, team, number))
        if len(participants) > MAX_PARTICIPANTS:
            raise UserError(f"{source}: more than {MAX_PARTICIPANTS} participants: is this the right file?")
    if not participants:
        raise UserError(f"{source} lists nobody: one line per participant after the header")
    return participants


def read_participants_text(path: str | Path) -> str:
    """The text of a participants file: a regular file (never through a link) of at most
    :data:`MAX_FILE_BYTES`, UTF-8 (a spreadsheet's byte-order mark dropped); one-line errors otherwise."""
    from datathon.files import open_regular_file

    with open_regular_file(path, "participants file") as f:
        raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise UserError(f"{path}: more than {MAX_FILE_BYTES:,} bytes, more than a participants file ever holds: "
                        "is this the right file?")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text: export the sheet as CSV UTF-8") from None


def read_participants(path: str | Path) -> list[Participant]:
    """:func:`parse_participants` of a file (:func:`read_participants_text`)."""
    return parse_participants(read_participants_text(path), str(path))


def parse_instructors(value: str | None) -> list[str]:
    """``--instructors a,b``: the logins, checked like the file's."""
    logins = [v.strip() for v in (value or "").split(",") if v.strip()]
    for login in logins:
        check_login(login, "--instructors")
    if len(set(logins)) != len(logins):
        raise UserError("--instructors names a login twice")
    return logins
