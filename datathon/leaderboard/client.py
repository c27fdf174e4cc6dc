"""``datathon.submit``: submit predictions from a notebook, to a local event or to a server.

::

    import datathon
    result = datathon.submit(predictions, team="Les Sirènes", token=TOKEN, server="http://10.0.0.5:8765")
    result["public_score"], result["rank"]

``predictions`` is a DataFrame with the columns of the event's challenge's submissions, or the
path of a CSV file. With ``event=DIR`` the submission is scored and recorded in that event directory
(the embedded mode: one machine, no server); with ``server=URL`` it is posted to
``datathon serve``. Exactly one of the two.

Anything that stops a submission (a bad frame, a wrong token, the quota, the server being
unreachable) raises :class:`~datathon.leaderboard.SubmissionRefused`, whose message is one line
and which a notebook shows without a traceback.

``token=None`` reads the token from ``$DATATHON_TOKEN``, so that it appears neither in a
notebook nor in a command line. Each call draws one *request id* (a UUID) and sends it with each
of its attempts (header ``X-Request-Id``): when an answer is lost (the connection dropped after
the server recorded the submission) the call tries again, and the leaderboard answers the retry
with the submission it already recorded, marked ``replay``, instead of counting it twice.

This module imports only the standard library at load time (pandas comes with the event mode), so
``import datathon`` stays fast.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from datathon.errors import UserError
from datathon.files import open_regular_file
from datathon.leaderboard import REASONS, StorageUnavailable, SubmissionRefused, display_score

#: Seconds to wait for the server's answer: scoring a campaign-scale file takes a few seconds,
#: uploading 200 MB on a room's Wi-Fi takes longer.
DEFAULT_TIMEOUT = 600
#: Where the token is read from when none is given (never from the command line: ``ps`` shows it).
TOKEN_ENV = "DATATHON_TOKEN"
#: Seconds to wait before each retry of a submission whose answer did not come (the same request
#: id each time, so that a retry never counts twice); then the call gives up.
RETRY_WAITS = (0.5, 1.5)
#: Refusals worth a retry: the server could not be reached, or answered that it is busy or that
#: its storage is unavailable for now.
RETRYABLE = ("unreachable", "busy", "unavailable")
_TOKEN_FILE_BYTES = 4096  # a token is a short line; a larger file is not a token file


class SubmissionResult(dict):
    """The answer to a submission: a dict (``result["rank"]``) that reads well in a notebook."""

    def summary(self) -> str:
        """One line: submission id, public score, team score and rank, the reference's score, quota left."""
        metric = self.get("metric")
        label = metric["label"] if metric else "score"
        parts = [f"submission {self.get('submission')} for team {self.get('team')!r}:",
                 f"public {label} {display_score(metric, self.get('public_score'))}"]  # fmt: skip
        if self.get("team_score") is not None and self.get("team_score") != self.get("public_score"):
            parts.append(f"(team score {display_score(metric, self.get('team_score'))})")
        if self.get("rank") is not None:
            parts.append(f"· rank {self['rank']} of {self.get('n_ranked')}")
        if self.get("reference_public_score") is not None:
            parts.append(f"· {self.get('reference_name', 'reference')} "
                         f"{display_score(metric, self['reference_public_score'])}")  # fmt: skip
        if self.get("remaining_today") is not None:
            period = "for the event" if self.get("quota_per") == "event" else "today"
            parts.append(f"· {self['remaining_today']} submission(s) left {period}")
        return " ".join(parts)

    def __str__(self) -> str:
        lines = [self.summary()]
        if self.get("replay"):
            lines.append(f"note: already recorded under request id {self['request_id']}: this retry counted nothing")
        if self.get("duplicate_of"):
            lines.append(f"note: same file as your submission {self['duplicate_of']}")
        lines += [f"warning: {w}" for w in self.get("warnings", [])]
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython's plain-text display
        p.text(str(self) if not cycle else "SubmissionResult(...)")

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>"
            for k, v in self.get("public", {}).items()
            if not isinstance(v, dict)
        )
        notes = "".join(f"<li>{html.escape(w)}</li>" for w in self.get("warnings", []))
        if self.get("duplicate_of"):
            notes += f"<li>same file as your submission {int(self['duplicate_of'])}</li>"
        return (
            f"<p><b>{html.escape(self.summary())}</b></p>"
            f"<table><caption style='text-align:left'>public part</caption>{rows}</table>"
            + (f"<ul>{notes}</ul>" if notes else "")
        )


def submit(
    predictions: Any,
    *,
    team: str,
    token: str | None = None,
    event: str | os.PathLike | None = None,
    server: str | None = None,
    filename: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    request_id: str | None = None,
) -> SubmissionResult:
    """Submit ``predictions`` for ``team``; return the public metrics and the current rank.

    ``predictions``: a pandas DataFrame or the path of a CSV file. ``event``: an event directory
    (local mode) or ``server``: the leaderboard's URL, e.g. ``http://127.0.0.1:8765`` (exactly one).
    ``token``: the team's token; None reads ``$DATATHON_TOKEN``. ``filename``: the name shown for
    a DataFrame (a file shows its own name). ``request_id``: this submission's id, the same on
    every retry (default: a new UUID for this call); the result says it, and ``replay`` tells
    whether the leaderboard had already recorded the submission under it.

    Raises :class:`~datathon.leaderboard.SubmissionRefused` with a one-line reason otherwise.
    """
    if (event is None) == (server is None):
        raise SubmissionRefused("give exactly one of event=DIR (local) or server=URL", reason="bad_request")
    if token is None:
        token = os.environ.get(TOKEN_ENV)
    if not isinstance(token, str) or not token.strip():
        raise SubmissionRefused(
            f"no token given for team {team!r}: pass token=..., or set ${TOKEN_ENV}", reason="bad_token"
        )
    request_id = request_id or str(uuid.uuid4())
    if event is not None:
        result = _submit_local(predictions, team=team, token=token, event=event, request_id=request_id)
    else:
        result = _submit_http(predictions, team=team, token=token, server=str(server), filename=filename,
                              timeout=timeout, request_id=request_id)  # fmt: skip
    # The id this call sent, even from a server too old to echo it.
    return SubmissionResult({**result, "request_id": result.get("request_id") or request_id})


def hand_in(
    notebook: str | os.PathLike, *, team: str | None = None, token: str | None = None, server: str | None = None,
    event: Any = None, description: str = "",
) -> dict[str, Any]:
    """Hand in the team's notebook (a path to its ``.ipynb``) and a short description for the
    closing presentations, to ``server`` (a URL) or a local ``event`` directory; the latest hand-in
    replaces the team's previous one. Returns what was recorded; a refusal is one line
    (:class:`~datathon.leaderboard.SubmissionRefused`). In a notebook, save it first: what is
    handed in is the file on disk.
    """
    from datathon.leaderboard.closing import hand_in as record, read_notebook_file

    team = team or os.environ.get("DATATHON_TEAM")
    token = token or os.environ.get(TOKEN_ENV)
    if not team or not token:
        raise UserError(f"say which team hands in, and its token: team=..., token=... (or ${TOKEN_ENV})")
    if (server is None) == (event is None):
        raise UserError("give exactly one of server=URL or event=DIR")
    data = read_notebook_file(notebook)
    name = Path(notebook).name
    if event is not None:
        return record(event, data, team=team, token=token, description=description, filename=name)
    import urllib.parse

    query = urllib.parse.urlencode({"team": team, "description": description, "filename": name})
    return _send(server, "api/handin?" + query, data, token=token, content_type="application/x-ipynb+json",
                 timeout=DEFAULT_TIMEOUT)  # fmt: skip


def read_token_file(path: str | os.PathLike) -> str:
    """The token in the first line of ``path``, which must be a regular file (not a link, a pipe...)."""
    with open_regular_file(path, "token file") as fh:
        head = fh.read(_TOKEN_FILE_BYTES + 1)
    if len(head) > _TOKEN_FILE_BYTES and not any(end in head for end in (b"\n", b"\r")):
        raise UserError(f"{path} is not a token file: its first {_TOKEN_FILE_BYTES} bytes hold no line break")
    token = head.decode("utf-8", errors="replace").splitlines()[0].strip() if head.strip() else ""
    if not token:
        raise UserError(f"the token file {path} is empty: write the team's token on its first line")
    return token


def _submit_local(predictions: Any, *, team: str, token: str, event: Any, request_id: str) -> dict[str, Any]:
    from datathon.leaderboard import service

    try:
        if _is_frame(predictions):
            return service.submit_frame(event, predictions, team=team, token=token, request_id=request_id)
        if isinstance(predictions, (str, os.PathLike)):
            return service.submit_file(event, predictions, team=team, token=token, request_id=request_id)
    except SubmissionRefused:
        raise
    except StorageUnavailable as err:  # disk full, read-only, locked: the same reason as the server's 503
        raise SubmissionRefused(err.message, reason=err.reason) from None
    except UserError as err:  # e.g. not an event directory: still one line
        raise SubmissionRefused(err.message, reason="bad_request") from None
    raise SubmissionRefused(_what_is_it(predictions), reason="bad_file")


def _submit_http(
    predictions: Any, *, team: str, token: str, server: str, filename: str | None, timeout: float, request_id: str
) -> dict[str, Any]:
    if _is_frame(predictions):
        body = predictions.to_csv(sep=";", index=False).encode("utf-8")
        filename = filename or "dataframe.csv"
    elif isinstance(predictions, (str, os.PathLike)):
        path = Path(predictions)
        try:
            with open_regular_file(path, "submission file") as fh:  # never a link, a pipe or a device
                body = fh.read()
        except UserError as err:
            raise SubmissionRefused(err.message, reason="bad_file") from None
        filename = filename or path.name
    else:
        raise SubmissionRefused(_what_is_it(predictions), reason="bad_file")
    waits = iter(RETRY_WAITS)
    while True:
        try:
            return _post(body, team=team, token=token, server=server, filename=filename, timeout=timeout,
                         request_id=request_id)  # fmt: skip
        except SubmissionRefused as err:
            wait = next(waits, None)
            if wait is None or err.reason not in RETRYABLE:
                raise
        time.sleep(wait)


def _post(
    body: bytes, *, team: str, token: str, server: str, filename: str, timeout: float, request_id: str
) -> dict[str, Any]:
    """One attempt: POST the body to the server's submission endpoint, with the request id."""
    import urllib.parse

    query = urllib.parse.urlencode({"team": team, "filename": filename})
    return _send(server, "api/submit?" + query, body, token=token, content_type="text/csv; charset=utf-8",
                 timeout=timeout, headers={"X-Request-Id": request_id})  # fmt: skip


def _base_url(server: str) -> str:
    return server if "://" in server else f"http://{server}"


def _send(
    server: str, path: str, body: bytes, *, token: str, content_type: str, timeout: float,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """POST ``body`` to ``path`` under the server's address (its base URL kept); the JSON answer,
    or a one-line refusal."""
    # Imported here: urllib.request pulls in ssl and http.client, which `import datathon` skips.
    import http.client
    import socket
    import urllib.error
    import urllib.request

    base = _base_url(server)
    request = urllib.request.Request(
        base.rstrip("/") + "/" + path,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token.strip()}", "Content-Type": content_type,
                 "Accept": "application/json", **(headers or {})},  # fmt: skip
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as err:
        raise _refusal_from_http(err) from None
    except (urllib.error.URLError, socket.timeout, ConnectionError, http.client.HTTPException, OSError) as err:
        # A connection dropped after the request was sent lands here too: the retry is safe.
        reason = getattr(err, "reason", None) or err
        raise SubmissionRefused(f"cannot reach the leaderboard at {base}: {reason}", reason="unreachable") from None
    except ValueError as err:  # not JSON: not our server
        raise SubmissionRefused(f"{base} did not answer like a datathon leaderboard ({err})", reason="server_error") from None


def _refusal_from_http(err: Any) -> SubmissionRefused:
    """The server's JSON error as a refusal (or, for a non-JSON answer, its HTTP status)."""
    try:
        payload = json.loads(err.read().decode("utf-8"))
        message, reason = str(payload["error"]), str(payload.get("reason", "bad_file"))
    except Exception:
        message = f"the leaderboard answered HTTP {err.code} {err.reason}"
        reason = next((k for k, v in REASONS.items() if v == err.code), "server_error")
    return SubmissionRefused(message, reason=reason)


def _is_frame(obj: Any) -> bool:
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "to_csv")


def _what_is_it(obj: Any) -> str:
    return f"predictions must be a pandas DataFrame or the path of a CSV file, not {type(obj).__name__}"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return "–" if v is None else str(v)
