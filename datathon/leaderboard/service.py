"""The leaderboard's Python API: what the CLI, the web server and ``datathon.submit`` call.

An *event directory* holds everything about one event::

    EV/
      event.json          the configuration (data directory, quota, public share, rule, ...)
      salt                the secret of the public/private split (never shown to participants)
      truth.parquet       a copy of the test truth, with the split precomputed (column PUBLIC)
      leaderboard.sqlite  teams (hashed tokens) and scored submissions, WAL mode
      handins/            each team's notebook and description for the closing (when handed in)

The event's challenge (``event.json`` ``challenge``; version-1 files are Sirene's) supplies the
truth, the split, the reference, the reading and the scoring of submissions, and the score type
that ranks, with its direction (:mod:`datathon.challenge`); nothing here knows a domain column.
The truth is *copied* so that an event's scores stay reproducible even if the data directory is
regenerated afterwards; the data directory is *referenced* (``data``): what scoring needs besides
the truth is read from it (the challenge's ``context``, such as a register every answer must
be in; if the directory has gone, scoring goes on without it).

Life cycle: :func:`init_event` → :func:`add_team` (one per team) or :func:`import_teams` (a
participants CSV) → :func:`reissue_tokens` (printable slips) → :func:`submit_file` /
:func:`submit_frame` (many) → :func:`standings` (any time) → :func:`reveal` (once, at the end)
→ hand-ins and the export for the closing presentations (:mod:`datathon.leaderboard.closing`).
During the event: :func:`list_teams`, :func:`rename_team`, :func:`remove_team`,
:func:`reissue_token`, :func:`set_quota` (the quota, and the mode: ``competitive`` ranks teams,
``cooperative`` shows every team's figures and ranks none).

Guarantees:

- a refused submission (bad file, bad token, quota, event over) writes nothing at all: every event
  file keeps its bytes and modification time (see :mod:`datathon.leaderboard.store`);
- the quota (per day, counted in the event's time zone, or for the whole event) is checked and
  the submission inserted in one ``BEGIN IMMEDIATE`` transaction, which reads the quota from
  ``event.json`` as it is then (``set`` changes it during the event, atomically);
- every change to the teams is one ``BEGIN IMMEDIATE`` transaction: a refused rename, removal or
  import writes nothing; a removed team keeps its rows (``removed_at``) but leaves the standings,
  and its token stops working;
- a retry carrying the request id of a recorded submission gets that submission back (``replay``)
  and is neither scored nor counted again;
- private scores are stored from the first submission but returned by nothing before the reveal,
  and no public figure tells which of a team's rows are public (the challenge's ``score_parts``;
  Sirene's is :func:`datathon.leaderboard._sirene.score_parts`);
- a storage failure (disk full, read-only, locked) is one line,
  :class:`~datathon.leaderboard.StorageUnavailable`, with nothing half-written;
- team names are NFKC-normalised and may not look like another team's or the reference's
  (:func:`clean_team_name`, :func:`_refuse_lookalike`), whether added, renamed or imported.
"""
from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import hashlib
import json
import math
import re
import secrets
import shutil
import tempfile
import threading
import unicodedata
import zoneinfo
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from datathon import challenges
from datathon.errors import UserError
from datathon.files import replace_directory, sha256_file, written_atomically
from datathon.leaderboard import SubmissionRefused
from datathon.leaderboard import plot as _plot
from datathon.leaderboard.split import make_salt
from datathon.leaderboard.store import Store, Team, hash_token, storage_errors, token_matches

EVENT_FILE = "event.json"
SALT_FILE = "salt"
TRUTH_FILE = "truth.parquet"
DB_FILE = "leaderboard.sqlite"
EVENT_FORMAT = "datathon-event"
EVENT_VERSION = 2  # 2: the challenge and n_rows (version 1 knew one challenge, the default, and its own word for n_rows)

RULES = ("best", "last")
DEFAULT_QUOTA = 5  # per team and per day, as on Kaggle: enough to iterate, too few to probe the public part
#: What the quota counts: submissions per calendar day (in the event's time zone), or in all.
QUOTA_PER = ("day", "event")
DEFAULT_QUOTA_PER = "day"
DEFAULT_RULE = "best"
#: How the board presents teams: ranked (competitive), or every team's figures side by side
#: without ranks, as the 2018 event did ("not a competition: help each other").
MODES = ("competitive", "cooperative")
DEFAULT_MODE = "competitive"
#: The column of the event's truth copy that says which rows are public.
PUBLIC = "PUBLIC"
MAX_TEAM_NAME = 60
MAX_FILENAME = 200


# ---------------------------------------------------------------------------------------------
# the event directory


@dataclass(frozen=True)
class EventConfig:
    """``event.json``: fixed at ``init`` except the quota (``set``); the reveal is recorded in
    the database, not here. ``timezone`` (an IANA name) is where quota days are counted; None,
    the machine's local time. Files written before ``quota_per`` and ``timezone`` existed read
    as ``day`` and None, without ``mode`` as competitive; version-1 files (no ``challenge``, and the default challenge's
    older name for ``n_rows``) are the default challenge's. ``public_share`` is None when the challenge's split decides alone (by time)."""

    name: str
    data: str  # absolute path of the data directory the truth was copied from
    split: str
    quota: int
    public_share: float | None
    rule: str
    created: str
    truth_sha256: str
    n_rows: int  # rows of the truth (the challenge's ``unit``)
    n_public: int
    n_private: int
    quota_per: str = DEFAULT_QUOTA_PER
    timezone: str | None = None
    challenge: str = challenges.DEFAULT
    mode: str = DEFAULT_MODE
    format: str = EVENT_FORMAT
    version: int = EVENT_VERSION


class Event:
    """An opened event directory, with its challenge. Caches the truth and the scoring context
    (what the challenge's ``context`` reads from the data directory) once loaded.

    The web server keeps one instance for its lifetime (so each submission is scored without
    re-reading the truth); the CLI opens one per command.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().resolve()
        self._lock = threading.Lock()  # the server's worker threads share the caches
        self._load()

    def _load(self) -> None:
        self.config = _read_config(self.path)
        self.challenge = _challenge_of(self.config, self.path)
        self._stamp = _stamp(self.path / EVENT_FILE)
        self.store = Store(self.path / DB_FILE)
        if not self.store.path.is_file():
            raise UserError(f"{self.path} is not a complete event directory: {DB_FILE} is missing")
        self.store.migrate()  # an event made by an older kit gets the request id column
        self._truth: pd.DataFrame | None = None
        self._context: Any = None
        self._context_loaded = False

    def refresh(self) -> Event:
        """Forget the caches if the event was re-created (``init --force``) since they were filled;
        only re-read the configuration if ``set`` changed its quota.

        A long-running server holds one Event; without this check it would go on scoring against
        the old event's truth and split. One ``stat`` per request: negligible.
        """
        with self._lock:
            stamp = _stamp(self.path / EVENT_FILE)
            if stamp != self._stamp:
                config = _read_config(self.path)
                if (config.created, config.truth_sha256) == (self.config.created, self.config.truth_sha256):
                    self.config, self._stamp = config, stamp  # the same event, another quota
                else:
                    self._load()
        return self

    def __repr__(self) -> str:
        return f"Event({str(self.path)!r})"

    @property
    def truth(self) -> pd.DataFrame:
        """The test truth with its ``PUBLIC`` column (read once)."""
        with self._lock:
            if self._truth is None:
                self._truth = pd.read_parquet(self.path / TRUTH_FILE)
            return self._truth

    @property
    def context(self) -> Any:
        """What the challenge's scoring needs from the data directory (read once)."""
        truth = self.truth.drop(columns=[PUBLIC])
        with self._lock:
            if not self._context_loaded:
                self._context = self.challenge.context(Path(self.config.data), truth)
                self._context_loaded = True
            return self._context

    def preload(self) -> None:
        """Load the truth and the scoring context now (the server does it before accepting requests)."""
        _ = self.truth, self.context


def _event(event: str | Path | Event) -> Event:
    return event.refresh() if isinstance(event, Event) else Event(event)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _read_config(path: Path) -> EventConfig:
    config_file = path / EVENT_FILE
    if not config_file.is_file():
        hint = f"create it with `datathon leaderboard init --event {path} --data DIR`"
        if not path.exists():
            raise UserError(f"no event directory at {path}: {hint}")
        raise UserError(f"{path} is not an event directory (no {EVENT_FILE}): {hint}")
    try:
        raw = json.loads(config_file.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or raw.get("format") != EVENT_FORMAT:
            raise ValueError(f"format is {raw.get('format') if isinstance(raw, dict) else None!r}")
        if raw.get("version") == 1:  # before challenges: the default challenge's, in its own words
            raw = {**raw, "version": EVENT_VERSION, "challenge": challenges.DEFAULT}
            for key, legacy in _legacy_names(challenges.DEFAULT).items():
                if legacy in raw:
                    raw[key] = raw.pop(legacy)
        elif raw.get("version") != EVENT_VERSION:
            raise ValueError(f"version {raw.get('version')!r}, this kit reads versions 1 and {EVENT_VERSION}")
        for legacy in _legacy_names(raw.get("challenge")).values():
            raw.pop(legacy, None)  # written for older readers; the engine's own name is there too
        return EventConfig(**raw)
    except (ValueError, TypeError) as err:
        raise UserError(f"{config_file} is not a valid event configuration: {err}") from None


def _challenge_of(config: EventConfig, path: Path):
    """The event's challenge; an uninstalled one is one line naming the event."""
    try:
        return challenges.get(config.challenge)
    except UserError as err:
        raise UserError(f"{path / EVENT_FILE}: {err.message}") from None


def _legacy_names(challenge_name: Any) -> dict[str, str]:
    """The challenge's older names of engine keys (``Challenge.legacy_names``)."""
    try:
        return dict(challenges.get(challenge_name).legacy_names) if isinstance(challenge_name, str) else {}
    except UserError:
        return {}


def _with_legacy_names(challenge, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with each key the challenge knows an older name for also under that name."""
    out = dict(record)
    for key, legacy in challenge.legacy_names.items():
        if key in out:
            out[legacy] = out[key]
    return out


# ---------------------------------------------------------------------------------------------
# scoring (through the challenge)


def _score_parts(challenge, sub: Any, ev_truth: pd.DataFrame, context: Any) -> tuple[dict, dict, list[str]]:
    """The challenge's public and private metrics of ``sub`` and its warnings, as plain JSON."""
    public, private, warnings = challenge.score_parts(
        sub, ev_truth.drop(columns=[PUBLIC]), ev_truth[PUBLIC].to_numpy(dtype=bool), context=context
    )
    return _jsonable(public), _jsonable(private), [str(w) for w in warnings]


def _ranking_value(challenge, metrics: dict) -> float:
    """The ranking score of a part's metrics; a submission the challenge cannot rank is refused."""
    try:
        value = challenge.ranking.value(metrics)
    except (KeyError, TypeError):
        value = None
    if value is None:
        raise SubmissionRefused(f"this submission has no {challenge.ranking.label}: it cannot be ranked",
                                reason="bad_file")  # fmt: skip
    return float(value)


def _jsonable(obj: Any) -> Any:
    """Metrics as plain JSON values: numpy scalars to Python, NaN to None, keys to str."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):  # numpy scalar
        try:
            obj = obj.item()
        except (ValueError, TypeError):
            pass
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is pd.NA or obj is pd.NaT:
        return None
    return obj


def _read(challenge, source: Any, known_ids: pd.Series) -> Any:
    try:
        return challenge.read_submission(source, known_ids=known_ids)
    except SubmissionRefused:
        raise
    except UserError as err:
        raise SubmissionRefused(err.message, reason="bad_file") from None


def _frame_sha256(frame: pd.DataFrame) -> str:
    """A hash of a DataFrame's content (for frames, which have no file bytes to hash)."""
    columns = sorted(frame.columns)
    canonical = frame[columns].sort_values(columns, kind="stable").to_csv(sep=";", index=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def team_view(metrics: dict, challenge) -> dict:
    """Metrics as a team may see them: without the challenge's instructor-only breakdowns."""
    return {k: v for k, v in metrics.items() if k not in challenge.instructor_only_metrics}


# ---------------------------------------------------------------------------------------------
# init


def init_event(
    event: str | Path,
    data: str | Path,
    *,
    quota: int = DEFAULT_QUOTA,
    public_share: float | None = None,
    rule: str = DEFAULT_RULE,
    name: str | None = None,
    split: str = "test",
    force: bool = False,
    quota_per: str = DEFAULT_QUOTA_PER,
    timezone: str | None = None,
    challenge: str | None = None,
    mode: str = DEFAULT_MODE,
) -> dict[str, Any]:
    """Create the event directory ``event`` from the data directory ``data``.

    ``mode``: ``competitive`` (teams ranked) or ``cooperative`` (every team's figures and none
    ranked); ``set_quota(mode=…)`` changes it later.

    ``challenge`` names the event's challenge; by default the data directory's manifest says it
    (docs/challenges.md, "Which challenge a command uses"). ``public_share`` defaults to the
    challenge's own; a challenge that splits by time (no default share) refuses one.

    Builds everything in a hidden sibling directory and renames it into place at the end, so a
    failure (bad data directory, full disk, Ctrl-C) never leaves a half-made event. An existing
    event is replaced only with ``force=True`` (its teams and submissions are then lost); a
    non-empty directory that is not an event is never replaced.

    Returns a summary: the configuration and the reference's public score (``reference_public_score``).
    """
    target = Path(event).expanduser().resolve()
    data = Path(data).expanduser().resolve()
    _check_quota(quota, quota_per)
    _check_mode(mode)
    _zone(timezone)  # refuses an unknown time zone
    if public_share is not None and (isinstance(public_share, bool) or not isinstance(public_share, (int, float))
                                     or not 0.0 < float(public_share) < 1.0):
        raise UserError(f"--public-share must be strictly between 0 and 1 (got {public_share!r})")
    if rule not in RULES:
        raise UserError(f"--rule must be one of {', '.join(RULES)} (got {rule!r})")
    title = _clean_event_name(name) if name is not None else target.name
    _check_target(target, force)  # refuses a non-event directory, or an event without --force
    if not data.is_dir():
        raise UserError(f"--data: no data directory at {data}")
    chosen = challenges.resolve(challenge, data=data)
    if public_share is None:
        public_share = chosen.default_public_share
    elif chosen.default_public_share is None:
        raise UserError(f"--public-share: challenge {chosen.name!r} splits its {chosen.unit} by time, "
                        "not by a share; leave the option out")  # fmt: skip

    truth = chosen.load_truth(data, split).reset_index(drop=True)
    if len(truth) == 0:
        raise UserError(f"the {split} truth in {data} has no {chosen.unit}")
    salt = make_salt()
    truth[PUBLIC] = np.asarray(chosen.split(truth.copy(), salt, public_share), dtype=bool)
    n_public = int(truth[PUBLIC].sum())
    n_private = len(truth) - n_public
    if n_public == 0 or n_private == 0:
        share = "" if public_share is None else f" with --public-share {public_share}"
        raise UserError(
            f"the {split} split has {len(truth)} {chosen.unit}: too few to draw both a public and a "
            f"private part{share}"
        )

    # The reference, scored like a team that submitted it: the line every team is measured against.
    # Not read_submission()'d: the reference's output is what it is (a malformed answer in it
    # simply counts as unanswered rather than stopping the event's creation).
    reference_sub = chosen.as_submission(chosen.reference(data, split))
    context = chosen.context(data, truth.drop(columns=[PUBLIC]))
    ref_public, ref_private, _ = _score_parts(chosen, reference_sub, truth, context)

    created = _now().isoformat(timespec="seconds")
    # A full disk or a read-only parent: one line (StorageUnavailable), with the staging removed.
    with storage_errors(target.parent):
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.init-", dir=target.parent))  # mode 0700
        try:
            salt_path = staging / SALT_FILE
            salt_path.write_text(salt + "\n", encoding="ascii")
            salt_path.chmod(0o600)
            truth.to_parquet(staging / TRUTH_FILE, index=False)
            (staging / TRUTH_FILE).chmod(0o600)  # the answers: the instructor's eyes only
            config = EventConfig(
                name=title,
                data=str(data),
                split=split,
                quota=int(quota),
                public_share=None if public_share is None else float(public_share),
                rule=rule,
                created=created,
                truth_sha256=sha256_file(staging / TRUTH_FILE),
                n_rows=len(truth),
                n_public=n_public,
                n_private=n_private,
                quota_per=quota_per,
                timezone=timezone,
                challenge=chosen.name,
                mode=mode,
            )
            reference = {
                "team": chosen.reference_name,
                "public_score": chosen.ranking.value(ref_public),
                "private_score": chosen.ranking.value(ref_private),
                "public_metrics": ref_public,
                "private_metrics": ref_private,
            }
            Store.create(staging / DB_FILE, {"reference": reference, "revealed_at": None})
            # event.json last: a directory without it is not an event, whatever else it holds.
            _write_config(staging, config)
            replace_directory(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    summary = {"event": str(target), **config.__dict__, "reference_name": chosen.reference_name,
               "unit": chosen.unit, "reference_public_score": reference["public_score"]}  # fmt: skip
    return _with_legacy_names(chosen, summary)


def _write_config(event_dir: Path, config: EventConfig) -> None:
    """Write ``event.json`` atomically (readers find the old file or the new one), mode 0644.

    Keys the challenge knew under an older name (``legacy_names``) are written under both, for
    the scripts that read version 1."""
    record = _with_legacy_names(challenges.get(config.challenge), config.__dict__)
    with written_atomically(event_dir / EVENT_FILE) as tmp:
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        tmp.chmod(0o644)


def _check_mode(mode: Any) -> None:
    if mode not in MODES:
        raise UserError(f"--mode must be one of {', '.join(MODES)} (got {mode!r})")


def _check_quota(quota: Any, quota_per: Any) -> None:
    if quota_per not in QUOTA_PER:
        raise UserError(f"--quota-per must be one of {', '.join(QUOTA_PER)} (got {quota_per!r})")
    if isinstance(quota, bool) or not isinstance(quota, int) or quota < 1:
        raise UserError(f"--quota must be a whole number of submissions per {quota_per}, at least 1 (got {quota!r})")


def _zone(timezone: str | None) -> zoneinfo.ZoneInfo | None:
    """The event's time zone (None: the machine's local time); an unknown name is one line."""
    if timezone is None:
        return None
    try:
        return zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise UserError(f"--timezone: unknown time zone {timezone!r} (an IANA name, such as Europe/Paris)") from None


def set_quota(
    event: str | Path | Event, *, quota: int | None = None, quota_per: str | None = None, mode: str | None = None
) -> EventConfig:
    """Change the quota or the board's mode during the event (``datathon leaderboard set``);
    returns the new configuration.

    ``event.json`` is replaced atomically; every submission reads the quota inside its write
    transaction, so the next one counts under the new value (submissions already recorded stay).
    The page shows the new mode at its next refresh.
    """
    ev = _event(event)
    config = ev.config
    changed = replace(config, quota=config.quota if quota is None else quota,
                      quota_per=config.quota_per if quota_per is None else quota_per,
                      mode=config.mode if mode is None else mode)  # fmt: skip
    _check_quota(changed.quota, changed.quota_per)
    _check_mode(changed.mode)
    with storage_errors(ev.path):
        _write_config(ev.path, changed)
    return ev.refresh().config


def _check_target(target: Path, force: bool) -> bool:
    """May ``init`` write ``target``? Returns whether an old event is there to be replaced."""
    if not target.exists():
        return False
    if not target.is_dir():
        raise UserError(f"--event: {target} exists and is not a directory")
    if not any(target.iterdir()):
        return False  # an empty directory (made beforehand with mkdir) is fine
    if not (target / EVENT_FILE).is_file():
        raise UserError(
            f"--event: {target} is a non-empty directory that is not an event; refusing to replace it "
            "(choose a new path)"
        )
    if not force:
        raise UserError(
            f"--event: an event already exists at {target}; add --force to replace it "
            "(its teams and submissions will be deleted)"
        )
    return True


# ---------------------------------------------------------------------------------------------
# teams


def new_token() -> str:
    """A team's secret: 144 random bits, URL- and shell-safe, never starting with "-" (which a
    command line would read as an option: ``--token -x…``)."""
    while True:
        token = secrets.token_urlsafe(18)
        if not token.startswith("-"):
            return token


def add_team(event: str | Path | Event, name: str, *, reset_token: bool = False) -> str:
    """Register team ``name`` and return its secret token (shown once: only its hash is kept).

    With ``reset_token=True`` the existing team gets a new token instead (the old one stops
    working), for the team that lost theirs.
    """
    ev = _event(event)
    name = clean_team_name(name, reference=ev.challenge.reference_name)
    with ev.store.writing() as conn:
        if reset_token:
            return next(iter(_reissue(conn, [name], hint=" (add it without --reset-token)").values()))
        token = new_token()
        existing = Store.team_by_name(conn, name)
        if existing is not None:
            raise UserError(f"a team named {existing.name!r} already exists; use --reset-token to give it a new token")
        _refuse_lookalike(conn, name)
        Store.insert_team(conn, name, hash_token(token), _now().isoformat(timespec="seconds"))
    return token


def _existing_team(conn, name: str, hint: str = "") -> Team:
    """The team called ``name``, which must exist and not be removed (one-line error otherwise)."""
    found = Store.team_by_name(conn, name) if isinstance(name, str) else None
    if found is None:
        raise UserError(f"no team named {name!r} in this event{hint}")
    if found.removed_at:
        raise UserError(f"team {found.name!r} was removed from this event at {_hhmm(found.removed_at)}")
    return found


def _refuse_lookalike(conn, name: str, *, other_than: int | None = None) -> None:
    """Refuse ``name`` if it looks like another team's (removed teams included: their names stay)."""
    twin = next((t for t in Store.teams(conn, removed=True) if t.id != other_than and looks_like(name, t.name)), None)
    if twin is not None:
        raise UserError(f"{name!r} looks like the existing team {twin.name!r}; choose a name that reads differently")


def _reissue(conn, names: list[str] | None, hint: str = "") -> dict[str, str]:
    """New tokens for the named teams (every team still in the event when None), inside the
    caller's write transaction; returns ``{team name: token}`` (the old tokens stop working)."""
    targets = Store.teams(conn) if names is None else [_existing_team(conn, n, hint) for n in names]
    tokens = {}
    for team in targets:
        token = new_token()
        Store.set_token(conn, team.id, hash_token(token))
        tokens[team.name] = token
    return tokens


def reissue_token(event: str | Path | Event, name: str) -> str:
    """A new token for team ``name`` (the old one stops working at once); shown once."""
    return next(iter(reissue_tokens(event, [name]).values()))


def reissue_tokens(event: str | Path | Event, names: list[str] | None = None) -> dict[str, str]:
    """New tokens for the named teams, or every team still in the event, in one transaction:
    ``{team name: token}``. Every previous token of these teams stops working."""
    ev = _event(event)
    with ev.store.writing() as conn:
        return _reissue(conn, names)


def list_teams(event: str | Path | Event) -> list[dict[str, Any]]:
    """Every team, in creation order, removed ones included: ``team``, ``created_at``,
    ``removed_at`` (None while in the event), ``submissions`` and ``last_submission``. Never a
    token nor its hash."""
    ev = _event(event)
    with ev.store.reading() as conn:
        teams, subs = Store.teams(conn, removed=True), Store.submissions(conn)
    own: dict[int, list] = {}
    for sub in subs:
        own.setdefault(sub["team_id"], []).append(sub)
    return [
        {"team": t.name, "created_at": t.created_at, "removed_at": t.removed_at, "submissions": len(own.get(t.id, [])),
         "last_submission": own[t.id][-1]["submitted_at"] if own.get(t.id) else None}
        for t in teams
    ]  # fmt: skip


def rename_team(event: str | Path | Event, old: str, new: str) -> str:
    """Rename team ``old`` to ``new`` (cleaned and checked as :func:`add_team` does); returns the
    name as stored. Its token and submissions stay; the team now submits under the new name."""
    ev = _event(event)
    new = clean_team_name(new, reference=ev.challenge.reference_name)
    with ev.store.writing() as conn:
        team = _existing_team(conn, old)
        other = Store.team_by_name(conn, new)
        if other is not None and other.id != team.id:
            raise UserError(f"a team named {other.name!r} already exists; choose another name")
        _refuse_lookalike(conn, new, other_than=team.id)
        Store.rename_team(conn, team.id, new)
    return new


def remove_team(event: str | Path | Event, name: str, *, force: bool = False) -> dict[str, Any]:
    """Take team ``name`` out of the event: its token stops working and it leaves the standings.

    Nothing is deleted: the team's row gets ``removed_at`` and its submissions stay recorded (but
    count nowhere); its name stays taken. A team with submissions is removed only with ``force``.
    Returns ``team`` and the number of its ``submissions``.
    """
    ev = _event(event)
    with ev.store.writing() as conn:
        team = _existing_team(conn, name)
        n = Store.count_all(conn, team.id)
        if n and not force:
            raise UserError(
                f"team {team.name!r} has {n} submission(s); add --force to remove it anyway "
                "(they stay recorded, out of the standings)"
            )
        Store.remove_team(conn, team.id, _now().isoformat(timespec="seconds"))
    return {"team": team.name, "submissions": n}


def write_slips(
    event: str | Path | Event, out: str | Path, *, server: str | None = None, teams: list[str] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Re-issue the tokens of ``teams`` (every team still in the event when None) and write their
    printable slips to ``out`` (one HTML page, see :mod:`datathon.leaderboard.slips`).

    Tokens are stored hashed, so a slip can only print a token at issue time: **every previous
    token of these teams stops working**. The page is written to a temporary file (mode 0600)
    inside the transaction that sets the new tokens and renamed into place once it has committed:
    either the new tokens and their page exist, or the old tokens still work and ``out`` is
    unchanged. An existing ``out`` is replaced only with ``force``. Returns ``out`` and ``teams``.
    """
    from datathon.leaderboard.slips import render_slips

    ev = _event(event)
    out = Path(out).expanduser().resolve()
    if out.is_dir():
        raise UserError(f"--out: {out} is a directory; give the path of the HTML file to write")
    if out.exists() and not force:
        raise UserError(f"--out: {out} already exists; add --force to replace it (or choose another path)")
    if not out.parent.is_dir():
        raise UserError(f"--out: no directory {out.parent}")
    with storage_errors(out.parent), written_atomically(out) as tmp:
        with ev.store.writing() as conn:
            tokens = _reissue(conn, None if teams is None else list(dict.fromkeys(teams)))
            if not tokens:
                raise UserError("no team in this event yet: add teams first (add-team or teams import)")
            tmp.write_text(render_slips(ev.config.name, tokens, server=server), encoding="utf-8")
    return {"out": str(out), "teams": list(tokens)}


def import_teams(event: str | Path | Event, path: str | Path) -> dict[str, Any]:
    """Create the teams of a participants CSV (a ``team`` column; ``login,name,email,team`` is
    fine; comma, semicolon or tab separated), each once, in one transaction.

    Returns ``created`` (``{team name: token}``, the tokens shown nowhere else) and ``existing``
    (names already in the event). A bad or look-alike name, a missing ``team`` column or a team
    removed from the event refuses the whole file, in one line naming the line, with nothing written.
    """
    from datathon.hub.participants import read_participants_text

    ev = _event(event)
    text = read_participants_text(path)
    header = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header.count)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = [c.strip().casefold() for c in next(rows, [])]
    if "team" not in columns:
        raise UserError(f"{path}: no 'team' column in the header (found: {', '.join(columns) or 'nothing'})")
    at = columns.index("team")
    created: dict[str, str] = {}
    existing: list[str] = []
    with ev.store.writing() as conn:
        for line, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            try:
                name = clean_team_name(row[at] if at < len(row) else "", reference=ev.challenge.reference_name)
                found = Store.team_by_name(conn, name)
                if found is not None:
                    known = _existing_team(conn, name).name
                    if known not in created and known not in existing:
                        existing.append(known)
                    continue
                _refuse_lookalike(conn, name)
            except UserError as err:
                raise UserError(f"{path}, line {line}: {err.message}; nothing was imported") from None
            token = new_token()
            Store.insert_team(conn, name, hash_token(token), _now().isoformat(timespec="seconds"))
            created[name] = token
    return {"created": created, "existing": existing}


def clean_team_name(name: str, *, reference: str | None = None) -> str:
    """A team name as stored: NFKC-normalised, trimmed, inner whitespace collapsed, 1-60 characters.

    Any printable text is allowed (HTML included: every display escapes it), but refused in one
    line: control characters, which would garble the terminal and the projected page; invisible
    formatting characters (zero-width spaces, bidirectional overrides), which make two names look
    alike or reorder a line; unassigned or private-use code points; a word that mixes scripts
    (a Cyrillic 'а' in a Latin 'alpha'; Japanese, Chinese and Korean combinations with Latin are
    fine); and a name that looks like the challenge's ``reference`` entry (see :func:`looks_like`).
    NFKC turns full-width letters into plain ones and a non-breaking space into a space.
    """
    if not isinstance(name, str):
        raise UserError("a team name must be text")
    cleaned = " ".join(unicodedata.normalize("NFKC", name).split())
    if not cleaned:
        raise UserError("a team name cannot be empty")
    if len(cleaned) > MAX_TEAM_NAME:
        raise UserError(f"a team name has at most {MAX_TEAM_NAME} characters ({len(cleaned)} given)")
    bad = next((c for c in cleaned if unicodedata.category(c) in ("Cc", "Cf", "Cn", "Co", "Cs")), None)
    if bad is not None:
        what = unicodedata.name(bad, "an unassigned or private code point")
        raise UserError(
            f"a team name cannot contain control, invisible or unassigned characters (found U+{ord(bad):04X} {what})"
        )
    for word in cleaned.split():
        scripts = _scripts(word)
        if len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPTS_THAT_MIX):
            raise UserError(
                f"the word {word!r} of the team name mixes {' and '.join(sorted(s.title() for s in scripts))} "
                "letters, which can look like another name: write each word in one script"
            )
    for shown in () if reference is None else (reference, f"{reference} (reference)"):
        if looks_like(cleaned, shown):
            raise UserError(
                f"{cleaned!r} is, or looks like, the reference system's name {shown!r}; choose another team name"
            )
    return cleaned


#: Scripts one word may combine (TR39's "highly restrictive" level): Latin with Japanese, with
#: Chinese and Bopomofo, with Korean. Any other mix in one word is refused.
_SCRIPTS_THAT_MIX = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


def _scripts(word: str) -> set[str]:
    """The scripts of a word's letters (digits, punctuation and combining marks belong to none)."""
    from confusable_homoglyphs import categories

    return categories.unique_aliases(word) - {"COMMON", "INHERITED"}


def looks_like(a: str, b: str) -> bool:
    """Can the names ``a`` and ``b`` be confused on screen? True when their TR39 skeletons agree,
    as typed, in lower case or in upper case (a Cyrillic 'М' looks like 'M', its lower case 'м'
    does not look like 'm')."""
    return any(_skeleton(fold(a)) == _skeleton(fold(b)) for fold in (str, str.casefold, str.upper))


def _skeleton(text: str) -> str:
    """Unicode TR39's skeleton: NFD, each character replaced by its prototype, NFD again."""
    table = _prototypes()
    mapped = "".join(table.get(c, c) for c in unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFD", mapped)


@functools.lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    """Unicode's confusables.txt as a table character → prototype, from confusable_homoglyphs.

    That package keeps each line ``source → prototype`` both ways round, and offers no skeleton
    function. The data is closed under the mapping (a prototype is never a source), so a character
    listed with one entry is a source when that entry is a sequence or a character listed with
    several (its sources). When two characters list only each other, either may be the
    prototype: both map to the smaller, which is all a comparison of skeletons needs.
    """
    from confusable_homoglyphs import confusables

    data = confusables.confusables_data
    table = {}
    for char, entries in data.items():
        if len(char) != 1 or len(entries) != 1:
            continue  # a sequence, or a prototype listing its sources: maps to itself
        target = entries[0]["c"]
        table[char] = target if len(target) > 1 or len(data.get(target, ())) > 1 else min(char, target)
    return table


def _clean_event_name(name: str) -> str:
    """The event's title: printable, trimmed, at most 100 characters (it heads the page)."""
    cleaned = " ".join(str(name).split())
    if not cleaned or len(cleaned) > 100 or any(unicodedata.category(c)[0] == "C" for c in cleaned):
        raise UserError("--name must be 1-100 printable characters")
    return cleaned


def _authenticate(conn, team: str, token: str) -> Team:
    """The team if ``token`` is its token; otherwise a ``bad_token`` refusal."""
    if not isinstance(team, str) or not team.strip():
        raise SubmissionRefused("no team given: say which team submits (team=...)", reason="bad_request")
    if not isinstance(token, str) or not token:
        raise SubmissionRefused(f"no token given for team {team!r}", reason="bad_token")
    found = Store.team_by_name(conn, team)
    if found is not None and found.removed_at:
        raise SubmissionRefused(
            f"team {found.name!r} was removed from this event; ask the instructor", reason="bad_token"
        )
    if found is None:
        raise SubmissionRefused(
            f"no team named {team!r} in this event; check the spelling, or ask the instructor",
            reason="bad_token",
        )
    if not token_matches(token.strip(), found.token_sha256):
        # Also what another team's token gets: tokens are per team.
        raise SubmissionRefused(f"wrong token for team {found.name!r}", reason="bad_token")
    return found


# ---------------------------------------------------------------------------------------------
# submissions


def submit_file(
    event: str | Path | Event,
    path: str | Path,
    *,
    team: str,
    token: str,
    now: dt.datetime | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Validate, score and record the predictions file ``path`` for ``team``.

    Returns the result (see :func:`submit_source`); raises :class:`SubmissionRefused` (one line)
    when the file, the token, the quota or the event's state refuses it.
    """
    path = Path(path)
    return submit_source(event, path, team=team, token=token, filename=path.name, now=now, request_id=request_id)


def submit_frame(
    event: str | Path | Event,
    frame: pd.DataFrame,
    *,
    team: str,
    token: str,
    now: dt.datetime | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Like :func:`submit_file`, for a DataFrame with the challenge's submission columns."""
    if not isinstance(frame, pd.DataFrame):
        raise SubmissionRefused(f"expected a pandas DataFrame, got {type(frame).__name__}", reason="bad_file")
    return submit_source(event, frame, team=team, token=token, filename=None, now=now, request_id=request_id)


def submit_source(
    event: str | Path | Event,
    source: Any,
    *,
    team: str,
    token: str,
    filename: str | None = None,
    now: dt.datetime | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Validate, score and record a submission given as a path, bytes or a DataFrame.

    Order of checks, cheapest and most fundamental first: the token, the event's state and the
    quota (a quick read, so that a refused team does not wait for scoring), then the file, then
    scoring, and finally the quota again inside the write transaction, where it is exact.

    ``request_id`` is the client's id for this submission, the same on each of its retries (the
    server passes the ``X-Request-Id`` header). When the team already has a submission recorded
    under it (the first attempt was committed, but its answer was lost), nothing is scored or
    written and that submission's result is returned, with ``replay`` true and no quota used.

    The result holds the submission's id, its public metrics (``public``), its public ranking score
    (``public_score``), the team's counted score under the event's rule (``team_score``), the
    team's ``rank`` and ``n_ranked``, the reference's public score (``reference_public_score``;
    Sirene's answers also say ``mca_public_score``), the quota left today, ``warnings``,
    ``duplicate_of`` (the team's earlier submission with identical bytes, if any), ``request_id``
    and ``replay``.
    """
    ev = _event(event)
    fixed_time = now is not None  # tests and imports give the time; live submissions take it at insert
    now = now.astimezone() if fixed_time else _now()
    config, store = ev.config, ev.store  # one consistent view, even if the event is re-created meanwhile
    request_id = _clean_request_id(request_id)

    with store.reading() as conn:
        found = _authenticate(conn, team, token)
        recorded = request_id and Store.by_request_id(conn, found.id, request_id)
        if recorded:
            return _replay(ev.challenge, config, conn, found, recorded, now, request_id)
        _refuse_if_closed(Store.get_meta(conn, "revealed_at"))
        _refuse_if_over_quota(found, _quota_used(conn, config, found, now), config, now)

    truth, challenge = ev.truth, ev.challenge
    sub = _read(challenge, source, truth[challenge.schema.id_column])
    frame = sub.frame
    sha256 = sub.sha256 or _frame_sha256(frame)
    public, private, score_warnings = _score_parts(challenge, sub, truth, ev.context)
    public_score, private_score = _ranking_value(challenge, public), _ranking_value(challenge, private)
    warnings = [str(w) for w in sub.warnings] + score_warnings
    filename = _clean_filename(filename)

    with store.writing() as conn:
        # Again, under the write lock: another process may have recorded a submission, reset the
        # team's token or revealed while we were scoring. Raising here rolls back: nothing written.
        # The time is taken here too, so that submission ids and times grow together; the quota is
        # read again from event.json, which `datathon leaderboard set` may have changed meanwhile.
        if not fixed_time:
            now = _now()
        config = _with_current_quota(ev, config)
        found = _authenticate(conn, team, token)
        recorded = request_id and Store.by_request_id(conn, found.id, request_id)
        if recorded:  # a retry that overtook its first attempt while it was being scored
            return _replay(challenge, config, conn, found, recorded, now, request_id)
        _refuse_if_closed(Store.get_meta(conn, "revealed_at"))
        used = _quota_used(conn, config, found, now)
        _refuse_if_over_quota(found, used, config, now)
        duplicate_of = Store.first_with_sha256(conn, found.id, sha256)
        submission_id = Store.insert_submission(
            conn,
            team_id=found.id,
            submitted_at=now.isoformat(timespec="milliseconds"),
            day=_quota_day(config, now),
            filename=filename,
            sha256=sha256,
            n_rows=int(len(frame)),
            public_score=public_score,
            private_score=private_score,
            public_metrics=public,
            private_metrics=private,
            warnings=warnings,
            request_id=request_id,
        )
        recorded = {"id": submission_id, "submitted_at": now.isoformat(timespec="milliseconds"),
                    "filename": filename, "sha256": sha256, "n_rows": int(len(frame)),
                    "public_score": challenge.ranking.value(public), "public_metrics": public, "warnings": warnings}  # fmt: skip
        return _answer(challenge, config, conn, found, recorded, duplicate_of, used + 1, request_id, replay=False)


#: A client's request id: a UUID, or any 1-64 letters, digits, '.', '_' and '-' (the server's rule).
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _clean_request_id(request_id: Any) -> str | None:
    """The request id as stored (None: the client sent none); anything odd is a bad request."""
    if request_id is None or request_id == "":
        return None
    if not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id):
        raise SubmissionRefused(
            "a request id is 1-64 characters among A-Z a-z 0-9 . _ - (a UUID, say)", reason="bad_request"
        )
    return request_id


def _replay(
    challenge, config: EventConfig, conn, team: Team, recorded, now: dt.datetime, request_id: str
) -> dict[str, Any]:
    """The result of the submission already recorded under ``request_id``: nothing new is written
    and no quota is used (``used_today`` is what the team has used so far)."""
    row = dict(recorded)
    row["public_metrics"] = json.loads(row["public_metrics"])
    row["warnings"] = json.loads(row["warnings"])
    duplicate_of = Store.first_with_sha256(conn, team.id, row["sha256"], before=row["id"])
    return _answer(challenge, config, conn, team, row, duplicate_of, _quota_used(conn, config, team, now), request_id,
                   replay=True)


def _answer(
    challenge, config: EventConfig, conn, team: Team, recorded: dict, duplicate_of: int | None, used: int,
    request_id: str | None, *, replay: bool,
) -> dict[str, Any]:  # fmt: skip
    """What a submission returns: the recorded submission, and the team's standing now.

    ``used_today`` and ``remaining_today`` count in the quota's period: today (in the event's
    time zone) or, with ``quota_per`` ``event``, the whole event."""
    board = _standings(challenge, config, Store.teams(conn), Store.submissions(conn), None,
                       Store.get_meta(conn, "reference"))  # fmt: skip
    row = next(r for r in board["teams"] if r["team_id"] == team.id)
    return _with_legacy_names(challenge, {
        "submission": recorded["id"],
        "team": team.name,
        "submitted_at": dt.datetime.fromisoformat(recorded["submitted_at"]).isoformat(timespec="seconds"),
        "filename": recorded["filename"],
        "sha256": recorded["sha256"],
        "duplicate_of": duplicate_of,
        "n_rows": recorded["n_rows"],
        "public_score": recorded["public_score"],
        "public": team_view(recorded["public_metrics"], challenge),
        "team_score": row["public_score"],
        "rule": config.rule,
        "mode": config.mode,
        "rank": row["rank"],
        "n_ranked": sum(1 for r in board["teams"] if r["rank"] is not None),
        "challenge": challenge.name,
        "metric": board["event"]["metric"],
        "reference_name": challenge.reference_name,
        "reference_public_score": board["reference"]["public_score"],
        "n_public": config.n_public,
        "unit": challenge.unit,
        "quota": config.quota,
        "quota_per": config.quota_per,
        "used_today": used,
        "remaining_today": max(config.quota - used, 0),
        "warnings": recorded["warnings"],
        "request_id": request_id,
        "replay": replay,
    })


def _refuse_if_closed(revealed_at: Any) -> None:
    if revealed_at:
        raise SubmissionRefused(
            f"the event is over: the final ranking was revealed at {_hhmm(revealed_at)}; "
            "no more submissions are recorded",
            reason="closed",
        )


def _with_current_quota(ev: Event, config: EventConfig) -> EventConfig:
    """``config`` with the quota ``event.json`` holds now (``set`` may have changed it)."""
    current = _read_config(ev.path)
    if (current.created, current.truth_sha256) != (config.created, config.truth_sha256):
        return config  # re-created meanwhile (init --force): keep this submission's own view
    return replace(config, quota=current.quota, quota_per=current.quota_per)


def _quota_day(config: EventConfig, now: dt.datetime) -> str:
    """The calendar day of ``now`` in the event's time zone (the ``day`` column)."""
    return now.astimezone(_zone(config.timezone)).date().isoformat()


def _quota_used(conn, config: EventConfig, team: Team, now: dt.datetime) -> int:
    """How many submissions count against the team's quota at ``now``."""
    if config.quota_per == "event":
        return Store.count_all(conn, team.id)
    return Store.count_day(conn, team.id, _quota_day(config, now))


def _refuse_if_over_quota(team: Team, used: int, config: EventConfig, now: dt.datetime) -> None:
    if used < config.quota:
        return
    if config.quota_per == "event":
        raise SubmissionRefused(
            f"team {team.name!r} has used all {config.quota} submissions of the event", reason="quota"
        )
    local = now.astimezone(_zone(config.timezone))
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=local.tzinfo)
    wait = midnight.astimezone(dt.timezone.utc) - now.astimezone(dt.timezone.utc)
    hours, minutes = divmod(int(wait.total_seconds()) // 60, 60)
    raise SubmissionRefused(
        f"team {team.name!r} has used its {config.quota} submissions for today; "
        f"the quota resets at midnight{'' if config.timezone is None else ' ' + config.timezone} "
        f"(in {hours} h {minutes:02d} min)",
        reason="quota",
    )


def _clean_filename(filename: str | None) -> str | None:
    """The display name of a submitted file: its base name, printable, at most 200 characters."""
    if not filename:
        return None
    base = str(filename).replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c if unicodedata.category(c)[0] != "C" else "?" for c in base).strip()
    return base[:MAX_FILENAME] or None


# ---------------------------------------------------------------------------------------------
# standings and reveal


def standings(event: str | Path | Event) -> dict[str, Any]:
    """The current ranking, as shown by ``leaderboard show``, the page and ``GET /api/leaderboard``.

    Before the reveal it ranks on the public part and holds no private score anywhere; after the
    reveal it ranks on the private part and adds ``private_score`` and ``public_rank``.
    """
    ev = _event(event)
    return _standings(ev.challenge, ev.config, *_read_board(ev, with_metrics=True))


def reveal(event: str | Path | Event) -> dict[str, Any]:
    """Switch the ranking to the private part and close submissions. Idempotent.

    Returns the final standings (``already_revealed`` tells whether it had been done before).
    """
    ev = _event(event)
    with ev.store.writing() as conn:
        revealed_at = Store.get_meta(conn, "revealed_at")
        already = bool(revealed_at)
        if not already:
            Store.set_meta(conn, "revealed_at", _now().isoformat(timespec="seconds"))
    board = standings(ev)
    board["already_revealed"] = already
    return board


def _standings(
    challenge, config: EventConfig, teams: list[Team], subs: list, revealed_at: str | None, reference: dict,
    metrics: dict[int, dict] | None = None,
) -> dict[str, Any]:
    """Rank teams from their submissions (pure: no I/O), hiding private scores before the reveal.

    Which submission counts for a team is decided on the *public* part, by the event's rule:
    ``best`` is the submission with the best public score in the ranking score's direction (the
    earliest of equals), ``last`` is the latest. At the reveal that same submission's private score ranks the team, as on
    Kaggle: choosing by private score would reward submitting many variants.

    Ties in score are broken by the counted submission's id: whoever got there first ranks first.

    ``metrics`` (``{submission id: its metrics on the part shown}``, from :func:`_read_board`)
    adds each team's ``metrics``: every score type of its counted submission. In cooperative mode
    no team has a rank (``rank`` None everywhere) and teams are listed by name.
    """
    revealed = bool(revealed_at)
    direction = challenge.ranking.direction
    by_team: dict[int, list] = {t.id: [] for t in teams}
    for s in subs:
        if s["team_id"] in by_team:  # a removed team's submissions stay recorded, out of the standings
            by_team[s["team_id"]].append(s)

    rows = []
    for t in teams:
        own = by_team[t.id]
        counted = _plot.counted_submission(own, config.rule, direction)
        row: dict[str, Any] = {
            "rank": None,
            "team": t.name,
            "team_id": t.id,
            "public_score": None if counted is None else counted["public_score"],
            "submissions": len(own),
            "last_submission": own[-1]["submitted_at"] if own else None,
            "counted_submission": None if counted is None else counted["id"],
        }
        if revealed:
            row["private_score"] = None if counted is None else counted["private_score"]
        rows.append(row)

    def ranked(key: str) -> list[dict]:
        scored = [r for r in rows if r[key] is not None]
        return sorted(scored, key=lambda r: (direction.sort_key(r[key]), r["counted_submission"]))

    for position, r in enumerate(ranked("public_score"), start=1):
        r["public_rank"] = position
    key = "private_score" if revealed else "public_score"
    order = ranked(key)
    for position, r in enumerate(order, start=1):
        r["rank"] = position
    unranked = sorted((r for r in rows if r["rank"] is None), key=lambda r: r["team"].casefold())
    cooperative = config.mode == "cooperative"
    out_rows = []
    for r in order + unranked:
        r = dict(r)
        if not revealed:
            r.pop("public_rank", None)  # same as rank before the reveal: only noise
        else:
            r.setdefault("public_rank", None)
        if cooperative:
            r["rank"] = None
            if revealed:
                r["public_rank"] = None
        if metrics is not None:
            r["metrics"] = _score_values(challenge, metrics.get(r["counted_submission"]))
        out_rows.append(r)
    if cooperative:
        out_rows.sort(key=lambda r: r["team"].casefold())

    ref = {"team": challenge.reference_name, "name": challenge.reference_name,
           "public_score": reference["public_score"]}  # fmt: skip
    if metrics is not None:
        ref["metrics"] = _score_values(challenge, reference["private_metrics" if revealed else "public_metrics"])
    if revealed:
        ref["private_score"] = reference["private_score"]
    return {
        "event": {
            "name": config.name,
            "rule": config.rule,
            "quota": config.quota,
            "quota_per": config.quota_per,
            "timezone": config.timezone,
            "public_share": config.public_share,
            "n_public": config.n_public,
            "n_private": config.n_private,
            "created": config.created,
            "revealed": revealed,
            "revealed_at": revealed_at if revealed else None,
            "part": "private" if revealed else "public",
            "challenge": challenge.name,
            "metric": _describe(challenge.ranking),
            "columns": [_describe(t) for t in challenge.score_types if t.on_board or t is challenge.ranking],
            "unit": challenge.unit,
            "split_kind": challenge.split_kind,
            "mode": config.mode,
            "score_types": [_describe(t) for t in challenge.score_types],
        },
        "reference": ref,
        "teams": out_rows,
        "generated_at": _now().isoformat(timespec="seconds"),
    }


def _describe(score_type) -> dict[str, Any]:
    """A score type as the board JSON says it (what the page and the plot draw from)."""
    return {"key": score_type.key, "label": score_type.label, "direction": score_type.direction.value,
            "format": score_type.format, "digits": score_type.digits}  # fmt: skip


def _score_values(challenge, metrics: dict | None) -> dict[str, Any]:
    """Every score type's value in ``metrics`` (None when absent): what a board row shows."""
    values = {}
    for score_type in challenge.score_types:
        try:
            values[score_type.key] = None if metrics is None else score_type.value(metrics)
        except (KeyError, TypeError):
            values[score_type.key] = None
    return values


def _read_board(ev: Event, *, with_metrics: bool = False) -> tuple:
    """Teams, submissions, reveal time and the reference's scores, read in one transaction; with
    ``with_metrics``, also the metrics of each team's counted submission on the part shown
    (public, or private once revealed): ``{submission id: metrics}``."""
    with ev.store.reading() as conn:
        teams, subs = Store.teams(conn), Store.submissions(conn)
        revealed_at, reference = Store.get_meta(conn, "revealed_at"), Store.get_meta(conn, "reference")
        out = (teams, subs, revealed_at, reference)
        if not with_metrics:
            return out
        own: dict[int, list] = {}
        for sub in subs:
            own.setdefault(sub["team_id"], []).append(sub)
        direction = ev.challenge.ranking.direction
        counted = [c["id"] for c in (_plot.counted_submission(own.get(t.id, []), ev.config.rule, direction)
                                     for t in teams) if c is not None]  # fmt: skip
        part = "private_metrics" if revealed_at else "public_metrics"
        return (*out, {i: m[part] for i, m in Store.metrics_of(conn, counted).items()})


def board(event: str | Path | Event) -> dict[str, Any]:
    """Everything the page needs in one read: :func:`standings` plus ``plot`` (scores over time)."""
    ev = _event(event)
    teams, subs, revealed_at, reference, metrics = _read_board(ev, with_metrics=True)
    out = _standings(ev.challenge, ev.config, teams, subs, revealed_at, reference, metrics)
    out["plot"] = _plot.series(teams, subs, ev.config.rule, revealed=bool(revealed_at), reference=out["reference"],
                               direction=ev.challenge.ranking.direction)  # fmt: skip
    return out


# ---------------------------------------------------------------------------------------------
# small helpers


def _now() -> dt.datetime:
    """Local time with its offset: quota days follow the event machine's clock."""
    return dt.datetime.now().astimezone()


def _hhmm(iso: str) -> str:
    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return str(iso)


def authenticate(event: str | Path | Event, team: str, token: str) -> None:
    """Check ``token`` for ``team`` and nothing else (no file, no quota, nothing written).

    What the web server asks before it reads the first byte of an upload, so that a request
    without a valid token costs one indexed read. Raises :class:`SubmissionRefused` (``bad_token``,
    or ``bad_request`` without a team), as :func:`submit_source` would.
    """
    ev = _event(event)
    with ev.store.reading() as conn:
        _authenticate(conn, team, token)
