"""The live leaderboard: event directories, team tokens, quotas, public/private scores, a page.

Modules, one job each:

- :mod:`~datathon.leaderboard.service`: the Python API (``init_event``, ``add_team``,
  ``submit_file`` / ``submit_frame``, ``standings``, ``reveal``); the CLI and the server only
  forward to it;
- :mod:`~datathon.leaderboard.store`: the SQLite database (WAL, atomic quota, hashed tokens,
  request ids that make a retried submission count once, :class:`StorageUnavailable`);
- :mod:`~datathon.leaderboard.split`: the salted-hash public/private split;
- :mod:`~datathon.leaderboard.slips`: the printable page of token slips;
- :mod:`~datathon.leaderboard.plot`: score-over-time series (and a matplotlib figure);
- :mod:`~datathon.leaderboard.server`: the Tornado page, JSON API and submission endpoint;
- :mod:`~datathon.leaderboard.client`: ``datathon.submit(...)``, the notebook helper.

This module stays import-light (no pandas): ``datathon.submit`` is re-exported from it.
"""
from __future__ import annotations

from datathon.errors import UserError

#: Where ``datathon serve`` listens by default: loopback, so nothing is exposed by accident.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: Largest request body the server accepts; the same default as the scorer's file limit, so that
#: a campaign-scale submission (1.7 M rows) fits.
DEFAULT_MAX_BODY_BYTES = 200_000_000

#: Why a submission was refused; the server maps each reason to an HTTP status.
REASONS = {
    "bad_file": 400,  # the predictions do not validate
    "bad_request": 400,  # the request itself is malformed (no team, ...)
    "bad_token": 401,  # unknown team, wrong token, or another team's token
    "closed": 409,  # the event has been revealed: no more submissions
    "too_large": 413,  # the request body is over the server's limit
    "quota": 429,  # the team's quota (of the day, or of the event) is used up
    "unreachable": 503,  # (client side) the server could not be reached
    "server_error": 500,  # (client side) the server failed
    "busy": 503,  # the server is receiving or scoring as many uploads as it takes: retry soon
    "unavailable": 503,  # the event's storage cannot be used (disk full, read-only, locked)
}


class SubmissionRefused(UserError):
    """A submission the leaderboard did not record, with a one-line reason.

    ``reason`` is a key of :data:`REASONS`. In a notebook the error shows as its one line, without
    a traceback (IPython calls :meth:`_render_traceback_`), because the traceback of a refused
    file is noise to a participant: the message says what to fix.
    """

    def __init__(self, message: str, reason: str = "bad_file", exit_code: int = 2) -> None:
        # One line, always: the CLI, the page and the notebook all print it as such.
        message = " ".join(str(message).split())
        super().__init__(message, exit_code=exit_code)
        self.reason = reason

    def __reduce__(self):  # keep ``reason`` across processes (multiprocessing pickles errors)
        return (type(self), (self.message, self.reason, self.exit_code))

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31mSubmissionRefused\x1b[0m: {self.message}"]


class StorageUnavailable(UserError):
    """The event's files cannot be read or written: disk full, read-only directory, permission
    denied, I/O error, or a database locked by another process for longer than the wait.

    Raised by :mod:`~datathon.leaderboard.store` (and ``init``) instead of SQLite's or the file
    system's own error, after rolling back: nothing is half-written. The message is one line and
    says what to do; ``reason`` is ``"unavailable"`` (HTTP 503: the request may be retried once
    the storage is fixed).
    """

    reason = "unavailable"

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(" ".join(str(message).split()), exit_code=exit_code)

    def __reduce__(self):  # keep the class across processes (multiprocessing pickles errors)
        return (type(self), (self.message, self.exit_code))

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31mStorageUnavailable\x1b[0m: {self.message}"]


#: How a score shows when the board says nothing of it (an answer from an older server).
PLAIN_METRIC = {"key": "score", "label": "score", "direction": "higher", "format": "number", "digits": 4}


def display_score(metric: dict | None, value: float | None) -> str:
    """A score as the board's ``event.metric`` says to show it: ``41.20 %`` or ``0.137``; ``–``
    for None. (Standard library only: the notebook client uses it.)"""
    metric = metric or PLAIN_METRIC
    if value is None:
        return "–"
    if metric.get("format") == "percent":
        return f"{100 * float(value):.{metric.get('digits', 2)}f} %"
    return f"{float(value):.{metric.get('digits', 4)}f}"


__all__ = ["DEFAULT_HOST", "DEFAULT_MAX_BODY_BYTES", "DEFAULT_PORT", "REASONS", "StorageUnavailable",
           "SubmissionRefused", "display_score"]
