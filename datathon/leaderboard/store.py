"""The event's database: one SQLite file in WAL mode, ``leaderboard.sqlite``.

Why SQLite in WAL mode: one file the instructor can copy, no server to run, readers (the page,
``show``) never block the writer, and ``BEGIN IMMEDIATE`` gives the quota an atomic "count the
team's submissions (today's, or all), then insert" across processes (CLI submissions and the web
server can run at the same time).

Two rules keep refused submissions from touching any event file:

- a connection is opened with ``mode=rw``, so a missing database is an error instead of a new
  empty file;
- nothing is written before the submission has been validated and scored; a refusal inside the
  write transaction rolls back before any page is written. When the last connection closes,
  SQLite removes the ``-wal`` and ``-shm`` files it created, and the database file itself is left
  byte-identical. (Read-only ``mode=ro`` connections are avoided on purpose: they cannot remove
  those files on close, so they would leave new files behind.)

Team tokens are stored as their SHA-256, never in clear. A token is 144 random bits, so a plain
(fast, unsalted) hash is enough: there is no dictionary to attack.

A submission may carry the client's *request id* (one per ``datathon submit`` or
``datathon.submit`` call, reused by its retries): it is unique per team, so a retry after a lost
answer finds the recorded submission instead of inserting a second one. Databases made before
request ids existed get the column and its unique index when an event is opened
(:meth:`Store.migrate`).

A team is never deleted: removing it sets ``teams.removed_at``, which takes the team and its
submissions out of the standings and stops its token, and keeps every row for the record
(databases made before removals existed get the column on open, as for request ids).

When SQLite or the file system cannot do its job (disk full, read-only directory, permission
denied, I/O error, a lock held past :data:`BUSY_TIMEOUT`), every method raises
:class:`~datathon.leaderboard.StorageUnavailable`, one line, after the transaction has been
rolled back.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import json
import os
import sqlite3
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from datathon.leaderboard import StorageUnavailable

SCHEMA_VERSION = 3  # 2: submissions.request_id; 3: teams.removed_at

#: How long a connection waits for another process's write lock before giving up (seconds).
#: Scoring happens outside the transaction, so a lock is only ever held for a few milliseconds;
#: the generous value absorbs bursts (12 teams submitting in the last minute).
BUSY_TIMEOUT = 60.0

_SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL                        -- JSON
);
CREATE TABLE teams (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,        -- as typed by the instructor (escaped on display)
    name_key      TEXT NOT NULL UNIQUE,        -- casefolded: 'Alpha' and 'ALPHA' are one team
    token_sha256  TEXT NOT NULL,               -- hex SHA-256 of the secret token
    created_at    TEXT NOT NULL,               -- ISO 8601 with offset
    removed_at    TEXT                         -- ISO 8601 once removed (out of the standings), else NULL
);
CREATE TABLE submissions (
    id               INTEGER PRIMARY KEY,
    team_id          INTEGER NOT NULL REFERENCES teams(id),
    submitted_at     TEXT NOT NULL,            -- ISO 8601 with offset
    day              TEXT NOT NULL,            -- the quota day: the event machine's local date
    filename         TEXT,                     -- as given by the team (escaped on display)
    sha256           TEXT NOT NULL,            -- of the submitted bytes (or canonical CSV of a frame)
    n_rows           INTEGER NOT NULL,
    public_score     REAL NOT NULL,            -- the ranking score on the public part
    private_score    REAL NOT NULL,            -- the ranking score on the private part (hidden until reveal)
    public_metrics   TEXT NOT NULL,            -- JSON: every metric on the public part
    private_metrics  TEXT NOT NULL,            -- JSON: every metric on the private part
    warnings         TEXT NOT NULL,            -- JSON list of strings
    request_id       TEXT                      -- the client's id for this submission (retries reuse it)
);
CREATE INDEX submissions_team_day ON submissions (team_id, day);
CREATE INDEX submissions_sha256 ON submissions (sha256);
CREATE UNIQUE INDEX submissions_request ON submissions (team_id, request_id);
"""
#: What :meth:`Store.migrate` adds to an older database, per missing ``(table, column)`` (NULL ids
#: never collide: SQLite's unique indexes treat NULLs as distinct).
_MIGRATIONS = {
    ("submissions", "request_id"): (
        "ALTER TABLE submissions ADD COLUMN request_id TEXT",
        "CREATE UNIQUE INDEX IF NOT EXISTS submissions_request ON submissions (team_id, request_id)",
    ),
    ("teams", "removed_at"): ("ALTER TABLE teams ADD COLUMN removed_at TEXT",),
}

#: File-system errors that mean "this storage cannot be used now", not a bug.
_UNAVAILABLE_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "it is on a read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "disk I/O error",
}
#: SQLite's words for the same (its error names are checked first, these are the fallback).
_UNAVAILABLE_SQLITE = {
    "SQLITE_BUSY": "busy", "SQLITE_LOCKED": "busy", "SQLITE_FULL": "the disk is full",
    "SQLITE_READONLY": "it is read-only", "SQLITE_IOERR": "disk I/O error",
    "SQLITE_CANTOPEN": "the database file cannot be opened", "SQLITE_PERM": "permission denied",
}  # fmt: skip
_UNAVAILABLE_TEXT = {
    "database is locked": "busy", "database table is locked": "busy", "database or disk is full": "the disk is full",
    "readonly database": "it is read-only", "disk i/o error": "disk I/O error",
    "unable to open database file": "the database file cannot be opened",
}  # fmt: skip


def storage_problem(err: BaseException) -> str | None:
    """What keeps the storage from working, in a few words, if ``err`` is such a failure; else None."""
    if isinstance(err, sqlite3.Error):
        name = getattr(err, "sqlite_errorname", "") or ""
        for prefix, problem in _UNAVAILABLE_SQLITE.items():
            if name == prefix or name.startswith(prefix + "_"):
                return problem
        text = str(err).lower()
        return next((problem for words, problem in _UNAVAILABLE_TEXT.items() if words in text), None)
    if isinstance(err, OSError):
        return _UNAVAILABLE_ERRNOS.get(err.errno)
    return None


@contextlib.contextmanager
def storage_errors(where: Path) -> Iterator[None]:
    """Turn SQLite's and the file system's storage failures inside the block into one-line
    :class:`~datathon.leaderboard.StorageUnavailable` errors naming ``where``; anything else
    (a refusal, a bug) passes through unchanged."""
    try:
        yield
    except (sqlite3.Error, OSError) as err:
        problem = storage_problem(err)
        if problem is None:
            raise
        if problem == "busy":
            raise StorageUnavailable(
                f"the event database {where} is locked by another process (waited {BUSY_TIMEOUT:g} s); "
                "nothing was recorded: try again in a moment"
            ) from None
        problem = _diagnose(where) or problem  # SQLite often says only "disk I/O error" or "cannot open"
        remedy = "free some space" if "full" in problem or "quota" in problem else "make the event directory writable"
        raise StorageUnavailable(
            f"cannot use the event storage {where}: {problem}; nothing was written — {remedy}, then try again"
        ) from None


def hash_token(token: str) -> str:
    """The hex SHA-256 under which a team's token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_sha256: str) -> bool:
    """Does ``token`` hash to ``stored_sha256``? (Constant-time comparison.)"""
    return hmac.compare_digest(hash_token(token), stored_sha256)


@dataclass(frozen=True)
class Team:
    id: int
    name: str
    token_sha256: str
    created_at: str
    removed_at: str | None = None


_TEAM_COLUMNS = "id, name, token_sha256, created_at, removed_at"


class Store:
    """Access to one event's ``leaderboard.sqlite``; every method opens and closes its connection.

    Short-lived connections are deliberate: the web server runs submissions in worker threads
    (an ``sqlite3`` connection must stay in its thread), and closing the last connection lets
    SQLite fold the WAL back into the database file, so an idle event is a single file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # -- connections -------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, meta: dict[str, object]) -> Store:
        """Create a new database at ``path`` (which must not exist) with the schema and ``meta``."""
        path = Path(path)
        if path.exists():
            raise FileExistsError(path)
        with storage_errors(path.parent):
            conn = sqlite3.connect(path, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")  # persistent: recorded in the file itself
                conn.execute("BEGIN")
                # One statement at a time: executescript() would commit our transaction first.
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                rows = {"schema_version": SCHEMA_VERSION, **meta}
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [(k, json.dumps(v, ensure_ascii=False)) for k, v in rows.items()],
                )
                conn.execute("COMMIT")
            finally:
                conn.close()
        return cls(path)

    def migrate(self) -> None:
        """Bring a database made by an older kit to :data:`SCHEMA_VERSION` (adds the request id
        column and its unique index, the teams' removal time); does nothing, and writes nothing,
        when it is current."""
        with self.reading() as conn:
            if not _missing_columns(conn):
                return
        with self.writing() as conn:
            missing = _missing_columns(conn)  # another process may have migrated meanwhile
            for table_column in missing:
                for statement in _MIGRATIONS[table_column]:
                    conn.execute(statement)
            if missing:
                self.set_meta(conn, "schema_version", SCHEMA_VERSION)

    def _connect(self) -> sqlite3.Connection:
        if not self.path.is_file():
            # Checked first: even mode=rw would not create it, but this message is clearer.
            raise FileNotFoundError(self.path)
        conn = sqlite3.connect(
            self.path.resolve().as_uri() + "?mode=rw",
            uri=True,
            timeout=BUSY_TIMEOUT,
            isolation_level=None,  # we issue BEGIN / COMMIT ourselves
            check_same_thread=True,
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys=ON")  # per connection; writes nothing
        return conn

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection inside a read transaction: one consistent snapshot, nothing written."""
        with storage_errors(self.path):
            conn = self._connect()
            try:
                conn.execute("BEGIN DEFERRED")
                yield conn
            finally:
                _rollback(conn)
                conn.close()

    @contextlib.contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """A connection inside ``BEGIN IMMEDIATE``: the write lock is taken before any read.

        Taking the lock first is what makes check-then-insert atomic: no other process can insert
        between our count and our insert. Commits on success; rolls back on any exception (a
        refusal raised inside the block, or a write or commit that fails for a full disk), so a
        failure leaves the database file untouched.
        """
        with storage_errors(self.path):
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
            finally:
                conn.close()

    # -- meta --------------------------------------------------------------------------------

    @staticmethod
    def get_meta(conn: sqlite3.Connection, key: str, default: object = None) -> object:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row["value"])

    @staticmethod
    def set_meta(conn: sqlite3.Connection, key: str, value: object) -> None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value, ensure_ascii=False)),
        )

    # -- teams -------------------------------------------------------------------------------

    @staticmethod
    def team_by_name(conn: sqlite3.Connection, name: str) -> Team | None:
        """The team called ``name`` (case-insensitively), or None."""
        row = conn.execute(f"SELECT {_TEAM_COLUMNS} FROM teams WHERE name_key = ?", (team_key(name),)).fetchone()
        return None if row is None else Team(**dict(row))

    @staticmethod
    def teams(conn: sqlite3.Connection, *, removed: bool = False) -> list[Team]:
        """The event's teams in creation order; removed ones only with ``removed=True``."""
        where = "" if removed else " WHERE removed_at IS NULL"
        rows = conn.execute(f"SELECT {_TEAM_COLUMNS} FROM teams{where} ORDER BY id")
        return [Team(**dict(r)) for r in rows]

    @staticmethod
    def insert_team(conn: sqlite3.Connection, name: str, token_sha256: str, created_at: str) -> int:
        cur = conn.execute(
            "INSERT INTO teams (name, name_key, token_sha256, created_at) VALUES (?, ?, ?, ?)",
            (name, team_key(name), token_sha256, created_at),
        )
        return int(cur.lastrowid)

    @staticmethod
    def set_token(conn: sqlite3.Connection, team_id: int, token_sha256: str) -> None:
        conn.execute("UPDATE teams SET token_sha256 = ? WHERE id = ?", (token_sha256, team_id))

    @staticmethod
    def rename_team(conn: sqlite3.Connection, team_id: int, name: str) -> None:
        conn.execute("UPDATE teams SET name = ?, name_key = ? WHERE id = ?", (name, team_key(name), team_id))

    @staticmethod
    def remove_team(conn: sqlite3.Connection, team_id: int, removed_at: str) -> None:
        conn.execute("UPDATE teams SET removed_at = ? WHERE id = ?", (removed_at, team_id))

    @staticmethod
    def count_all(conn: sqlite3.Connection, team_id: int) -> int:
        """How many submissions the team has recorded over the whole event."""
        row = conn.execute("SELECT COUNT(*) AS n FROM submissions WHERE team_id = ?", (team_id,)).fetchone()
        return int(row["n"])

    # -- submissions -------------------------------------------------------------------------

    @staticmethod
    def count_day(conn: sqlite3.Connection, team_id: int, day: str) -> int:
        """How many submissions the team has recorded on quota day ``day``."""
        row = conn.execute(
            "SELECT COUNT(*) AS n FROM submissions WHERE team_id = ? AND day = ?", (team_id, day)
        ).fetchone()
        return int(row["n"])

    @staticmethod
    def first_with_sha256(conn: sqlite3.Connection, team_id: int, sha256: str, before: int | None = None) -> int | None:
        """The id of the team's earliest submission with these bytes (older than ``before``), or None."""
        row = conn.execute(
            "SELECT MIN(id) AS id FROM submissions WHERE team_id = ? AND sha256 = ? AND id < ?",
            (team_id, sha256, 2**63 - 1 if before is None else before),
        ).fetchone()
        return None if row["id"] is None else int(row["id"])

    @staticmethod
    def insert_submission(conn: sqlite3.Connection, **fields: object) -> int:
        fields = dict(fields)
        for key in ("public_metrics", "private_metrics", "warnings"):
            fields[key] = json.dumps(fields[key], ensure_ascii=False, allow_nan=False)
        columns = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        cur = conn.execute(f"INSERT INTO submissions ({columns}) VALUES ({marks})", tuple(fields.values()))
        return int(cur.lastrowid)

    @staticmethod
    def by_request_id(conn: sqlite3.Connection, team_id: int, request_id: str) -> sqlite3.Row | None:
        """The team's submission recorded under the client's ``request_id``, or None."""
        return conn.execute(
            "SELECT id, submitted_at, day, filename, sha256, n_rows, public_score, public_metrics, warnings "
            "FROM submissions WHERE team_id = ? AND request_id = ?",
            (team_id, request_id),
        ).fetchone()

    @staticmethod
    def submissions(conn: sqlite3.Connection) -> list[sqlite3.Row]:
        """Every recorded submission (without the metric JSON), in submission order."""
        return conn.execute(
            "SELECT s.id, s.team_id, t.name AS team, s.submitted_at, s.day, s.filename, s.sha256, "
            "s.n_rows, s.public_score, s.private_score "
            "FROM submissions AS s JOIN teams AS t ON t.id = s.team_id ORDER BY s.id"
        ).fetchall()

    @staticmethod
    def metrics_of(conn: sqlite3.Connection, ids: list[int]) -> dict[int, dict[str, object]]:
        """``{id: {"public_metrics": …, "private_metrics": …}}`` of the given submissions."""
        out: dict[int, dict[str, object]] = {}
        for start in range(0, len(ids), 500):  # SQLite bounds the number of parameters
            chunk = list(ids[start:start + 500])
            rows = conn.execute(
                f"SELECT id, public_metrics, private_metrics FROM submissions WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            out.update({row["id"]: {k: json.loads(row[k]) for k in ("public_metrics", "private_metrics")} for row in rows})
        return out

    @staticmethod
    def submission_metrics(conn: sqlite3.Connection, submission_id: int) -> dict[str, object]:
        row = conn.execute(
            "SELECT public_metrics, private_metrics, warnings FROM submissions WHERE id = ?",
            (submission_id,),
        ).fetchone()
        if row is None:
            raise KeyError(submission_id)
        return {k: json.loads(row[k]) for k in ("public_metrics", "private_metrics", "warnings")}


def team_key(name: str) -> str:
    """The key under which team names are unique: NFKC-normalised, casefolded, inner spaces
    collapsed (so 'ＡＬＰＨＡ', typed on a full-width keyboard, finds 'Alpha')."""
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


def _missing_columns(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """The ``(table, column)`` pairs of :data:`_MIGRATIONS` this database lacks."""
    columns = {table: {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
               for table in {table for table, _ in _MIGRATIONS}}  # fmt: skip
    return [(table, column) for table, column in _MIGRATIONS if column not in columns[table]]


def _diagnose(where: Path) -> str | None:
    """Why the directory of ``where`` (a file or a directory) cannot be written, if the file
    system says: read-only, not writable for this user, or full."""
    directory = where if where.is_dir() else where.parent
    try:
        fs = os.statvfs(directory)
    except OSError:
        return None
    if fs.f_flag & os.ST_RDONLY:
        return "it is on a read-only file system"
    if not os.access(directory, os.W_OK):
        return "its directory is not writable for this user"
    if fs.f_bavail == 0:
        return "the disk is full"
    return None


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back whatever is open; a connection with no transaction (or a broken one) is fine."""
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass
