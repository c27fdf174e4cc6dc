"""``datathon serve``: the page to project in the room, its JSON API, the submission endpoint.

Routes:

=========================  ===================================================================
``GET /``                  the leaderboard page (table + scores over time), refreshes itself
``GET /api/leaderboard``   standings + plot series as JSON (what the page polls every 10 s)
``POST /api/submit``       a submission: body = the CSV bytes (or a multipart form with one
                           file); ``Authorization: Bearer TOKEN``; the team in ``?team=`` (or
                           the header ``X-Datathon-Team``, percent-encoded); optional
                           ``?filename=`` for display
``GET /static/...``        the page's own script and style sheet (no CDN, works offline)
=========================  ===================================================================

Errors from the API are JSON ``{"error": "<one line>", "reason": "<key>"}`` with the status of
:data:`datathon.leaderboard.REASONS` (401 bad token, 413 too large, 429 quota, ...).

Safety choices, because 12 teams hammer it and a room of 60 looks at it:

- scoring runs in a small thread pool, so the page keeps answering while a file is scored;
- the submission body is streamed and counted: over ``max_body_bytes`` it is refused with 413
  before anything is parsed, and a body announced far beyond the limit is cut off unread;
- everything a user typed reaches the page through Tornado's autoescaping or ``textContent``,
  and a Content-Security-Policy forbids inline scripts, so a team called
  ``<script>...</script>`` is just a name;
- private scores are never in any response before the reveal (they are not in
  :func:`~datathon.leaderboard.service.board`'s output).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import tornado.httpserver
import tornado.httputil
import tornado.web

from datathon.errors import UserError
from datathon.leaderboard import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_PORT,
    REASONS,
    SubmissionRefused,
    service,
)

HERE = Path(__file__).parent
#: How often the page polls ``/api/leaderboard`` (seconds).
REFRESH_SECONDS = 10
#: Scoring threads: enough to overlap two submissions. Reads (the page, the API) have their own
#: pool, so that a queue of campaign-size files never delays the projected page's refresh.
WORKERS = 2
READERS = 2
#: A body announced beyond this multiple of the limit is not even read: the connection is cut.
DISCARD_FACTOR = 2

log = logging.getLogger("datathon.leaderboard")

_SECURITY_HEADERS = {
    # Only our own script and styles; no inline script, no framing, no external requests.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class _Base(tornado.web.RequestHandler):
    """Common headers, and JSON errors for the API."""

    @property
    def event(self) -> service.Event:
        return self.application.settings["event"]

    def set_default_headers(self) -> None:
        for name, value in _SECURITY_HEADERS.items():
            self.set_header(name, value)

    def write_json(self, obj: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        # ensure_ascii keeps '<' etc. as they are, but JSON is never parsed as HTML here:
        # the content type and nosniff make sure of that.
        self.finish(json.dumps(obj, ensure_ascii=False, allow_nan=False))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Never a traceback, not even in a 500 page; the log has it.
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "message", None) or self._reason or "error"
        if self.request.path.startswith("/api/"):
            reason = {413: "too_large", 404: "not_found", 405: "bad_request", 503: "unavailable"}.get(
                status_code, "server_error"
            )
            self.write_json({"error": message, "reason": reason}, status=status_code)
        else:
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(f"{status_code} {message}\n")


class PageHandler(_Base):
    """The projected page: rendered once with the current table, then kept fresh by the script."""

    async def get(self) -> None:
        board = await _board(self)
        self.set_header("Cache-Control", "no-store")
        self.render("leaderboard.html", board=board, refresh=self.settings["refresh_seconds"], **page_context(board))


class LeaderboardAPI(_Base):
    """``GET /api/leaderboard``: :func:`service.board` as JSON."""

    async def get(self) -> None:
        board = await _board(self)
        board["refresh_seconds"] = self.settings["refresh_seconds"]
        self.write_json(board)


@tornado.web.stream_request_body
class SubmitAPI(_Base):
    """``POST /api/submit``: authenticated by the team's token, body = the predictions CSV."""

    def prepare(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._refused = False
        limit = self.settings["max_body_bytes"]
        length = self.request.headers.get("Content-Length")
        announced = int(length) if length and length.isdigit() else None
        if announced is not None and announced > limit:
            self._refused = True
            if announced <= DISCARD_FACTOR * limit:
                # Read (and drop) the rest, so that a simple client that sends its whole body
                # before reading the answer still gets our 413 rather than a reset connection.
                self.request.connection.set_max_body_size(announced)
            self._refuse_too_large(limit)
            return
        # Chunked bodies have no length: data_received() counts them and answers 413 itself
        # (the HTTP layer's own limit, DISCARD_FACTOR x ours, only cuts off the absurd ones).

    def data_received(self, chunk: bytes) -> None:
        if self._refused:
            return
        self._size += len(chunk)
        if self._size > self.settings["max_body_bytes"]:
            self._refused = True
            self._chunks = []
            self._refuse_too_large(self.settings["max_body_bytes"])
            return
        self._chunks.append(chunk)

    def _refuse_too_large(self, limit: int) -> None:
        self.write_json(
            {
                "error": f"the submission is larger than this server accepts ({_human_bytes(limit)})",
                "reason": "too_large",
            },
            status=413,
        )

    async def post(self) -> None:
        if self._refused or self._finished:
            return
        team = self.get_query_argument("team", None)
        if not team and "X-Datathon-Team" in self.request.headers:
            # Headers are ASCII: the helper sends the name percent-encoded (UTF-8).
            team = urllib.parse.unquote(self.request.headers["X-Datathon-Team"])
        token = _bearer(self.request.headers.get("Authorization", ""))
        if not team:
            return self._refuse(SubmissionRefused("no team given: add ?team=NAME to the URL", reason="bad_request"))
        if token is None:
            return self._refuse(
                SubmissionRefused("no token given: send the header 'Authorization: Bearer TOKEN'", reason="bad_token")
            )
        body = b"".join(self._chunks)
        self._chunks = []
        filename = self.get_query_argument("filename", None)
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            # `curl -F file=@preds.csv` and HTML forms: take the (first) uploaded file.
            files: dict[str, list] = {}
            tornado.httputil.parse_body_arguments(content_type, body, {}, files)
            uploads = [f for group in files.values() for f in group]
            if not uploads:
                return self._refuse(SubmissionRefused("the multipart form holds no file", reason="bad_file"))
            body, filename = uploads[0]["body"], filename or uploads[0]["filename"]
        try:
            result = await _in_pool(
                self.application,
                "scorers",
                lambda: service.submit_source(self.event, body, team=team, token=token, filename=filename),
            )
        except SubmissionRefused as err:
            return self._refuse(err)
        except UserError as err:  # any other user-facing problem: still one line, still JSON
            return self._refuse(SubmissionRefused(err.message, reason="bad_file"))
        log.info("submission %s by %r: public %.4f, rank %s", result["submission"], result["team"],
                 result["public_score"], result["rank"])  # fmt: skip
        self.write_json(result)

    def _refuse(self, err: SubmissionRefused) -> None:
        status = REASONS.get(err.reason, 400)
        if status == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="datathon"')
        self.write_json({"error": err.message, "reason": err.reason}, status=status)


class NotFoundAPI(_Base):
    def prepare(self) -> None:
        raise tornado.web.HTTPError(404, reason="no such API endpoint")


def page_context(board: dict[str, Any]) -> dict[str, Any]:
    """What the template shows before the script takes over (the same layout as the script's).

    Values are plain text here; the template escapes them.
    """
    ev = board["event"]
    revealed = ev["revealed"]
    ref = board["reference"]
    n_total = ev["n_public"] + ev["n_private"]
    if revealed:
        columns = [("#", "rank"), ("Team", "team"), ("Private", "score"), ("Public", "score2"),
                   ("Move", "move"), ("Subs", "count")]  # fmt: skip
        subtitle = f"Final ranking: success rate on the private part ({ev['n_private']:,} of {n_total:,} test bulletins)"
        chart_title = "Success rate on the private part, over time"
    else:
        columns = [("#", "rank"), ("Team", "team"), ("Success", "score"), ("vs MCA", "delta"),
                   ("Subs", "count"), ("Last", "time")]  # fmt: skip
        subtitle = f"Success rate on the public part ({ev['n_public']:,} of {n_total:,} test bulletins)"
        chart_title = "Success rate on the public part, over time"
    key = "private_score" if revealed else "public_score"
    ref_score = ref.get(key)
    rows: list[dict[str, Any]] = []
    placed = False
    for team in board["teams"]:
        score = team.get(key)
        if not placed and ref_score is not None and (score is None or score < ref_score):
            rows.append(_reference_row(ref, revealed))
            placed = True
        if revealed:
            move = "" if team["rank"] is None or team.get("public_rank") is None else _move(team["public_rank"] - team["rank"])
            cells = [(team["rank"] or "–", "rank"), (team["team"], "team"), (_fmt_pct(score), "score"),
                     (_fmt_pct(team["public_score"]), "score2"), (move, "move"), (team["submissions"], "count")]  # fmt: skip
        else:
            delta = "" if score is None or ref_score is None else f"{100 * (score - ref_score):+.2f}"
            cells = [(team["rank"] or "–", "rank"), (team["team"], "team"), (_fmt_pct(score), "score"),
                     (delta, "delta"), (team["submissions"], "count"),
                     (_when(team["last_submission"], board["generated_at"]), "time")]  # fmt: skip
        rows.append({"kind": "team", "team_id": team["team_id"], "cells": cells})
    if not placed and ref_score is not None:
        rows.append(_reference_row(ref, revealed))
    rule = "best public submission" if ev["rule"] == "best" else "last submission"
    return {
        "subtitle": subtitle,
        "chart_title": chart_title,
        "columns": columns,
        "rows": rows,
        "updated": _hhmm(board["generated_at"], seconds=True),
        "rule_text": f"each team's {rule} counts · quota {ev['quota']} per day",
    }


def _reference_row(ref: dict[str, Any], revealed: bool) -> dict[str, Any]:
    if revealed:
        cells = [("", "rank"), ("MCA (reference)", "team"), (_fmt_pct(ref.get("private_score")), "score"),
                 (_fmt_pct(ref.get("public_score")), "score2"), ("", "move"), ("", "count")]  # fmt: skip
    else:
        cells = [("", "rank"), ("MCA (reference)", "team"), (_fmt_pct(ref.get("public_score")), "score"),
                 ("", "delta"), ("", "count"), ("", "time")]  # fmt: skip
    return {"kind": "reference", "team_id": "", "cells": cells}


def _move(places: int) -> str:
    return "=" if places == 0 else (f"▲ {places}" if places > 0 else f"▼ {-places}")


def _hhmm(iso: str | None, seconds: bool = False) -> str:
    if not iso:
        return ""
    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%H:%M:%S" if seconds else "%H:%M")
    except ValueError:
        return str(iso)


def _when(iso: str | None, now_iso: str) -> str:
    """14:03 for today, "Sat 14:03" for another day (the script does the same)."""
    if not iso:
        return ""
    try:
        t, now = dt.datetime.fromisoformat(iso).astimezone(), dt.datetime.fromisoformat(now_iso).astimezone()
    except ValueError:
        return str(iso)
    return t.strftime("%H:%M") if t.date() == now.date() else t.strftime("%a %H:%M")


def _bearer(header: str) -> str | None:
    m = re.fullmatch(r"\s*Bearer\s+(\S+)\s*", header, flags=re.IGNORECASE)
    return m.group(1) if m else None


def _human_bytes(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{n / 1e3:,.0f} kB" if n >= 1e3 else f"{n} bytes"


def _fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f} %"


async def _board(handler: _Base) -> dict[str, Any]:
    """The board, or a 503 with the one-line reason (say, the event directory was removed)."""
    try:
        return await _in_pool(handler.application, "readers", service.board, handler.event)
    except UserError as err:
        raise _Unavailable(err.message) from None


class _Unavailable(tornado.web.HTTPError):
    """503 carrying a user-readable message (kept out of the status line, which must be ASCII)."""

    def __init__(self, message: str) -> None:
        super().__init__(503)
        self.message = " ".join(message.split())


async def _in_pool(app: tornado.web.Application, pool: str, fn, *args):
    """Run ``fn(*args)`` in the app's ``pool`` ("scorers" or "readers") without blocking the loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(app.settings[pool], lambda: fn(*args))


def shutdown(app: tornado.web.Application, wait: bool = False) -> None:
    """Stop the app's thread pools (after the HTTP server has stopped)."""
    for pool in ("scorers", "readers"):
        app.settings[pool].shutdown(wait=wait, cancel_futures=not wait)


def make_app(
    event: str | Path | service.Event,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    refresh_seconds: int = REFRESH_SECONDS,
) -> tornado.web.Application:
    """The Tornado application for ``event`` (opened and preloaded here, so errors show at start)."""
    ev = event if isinstance(event, service.Event) else service.Event(event)
    ev.preload()
    if max_body_bytes < 1:
        raise UserError(f"the body size limit must be positive (got {max_body_bytes})")
    return tornado.web.Application(
        [
            (r"/", PageHandler),
            (r"/api/leaderboard", LeaderboardAPI),
            (r"/api/submit", SubmitAPI),
            (r"/api/.*", NotFoundAPI),
        ],
        template_path=str(HERE / "templates"),
        static_path=str(HERE / "static"),
        autoescape="xhtml_escape",  # the default, stated: every {{ }} in the page is escaped
        compress_response=True,
        event=ev,
        max_body_bytes=int(max_body_bytes),
        refresh_seconds=int(refresh_seconds),
        scorers=ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="datathon-score"),
        readers=ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="datathon-read"),
    )


def serve(
    event: str | Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    refresh_seconds: int = REFRESH_SECONDS,
    ready: Any = None,
) -> None:
    """Serve the leaderboard of ``event`` until interrupted (Ctrl-C).

    ``ready`` (optional) is called with the URL once the server listens.
    """
    from tornado.log import enable_pretty_logging

    enable_pretty_logging()
    log.setLevel(logging.INFO)
    app = make_app(event, max_body_bytes=max_body_bytes, refresh_seconds=refresh_seconds)

    async def main() -> None:
        # The HTTP layer's own limit sits above ours, so that SubmitAPI can answer 413 itself;
        # bodies far beyond it are cut off by Tornado (400 and close) without being read.
        server = tornado.httpserver.HTTPServer(
            app,
            max_body_size=DISCARD_FACTOR * int(max_body_bytes),
            idle_connection_timeout=300,
            body_timeout=600,
        )
        try:
            server.listen(port, address=host)
        except OSError as err:
            raise UserError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
        url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
        if ready is not None:
            ready(url)
        try:
            await asyncio.Event().wait()  # until Ctrl-C (asyncio.run cancels us) or the process ends
        finally:
            server.stop()

    try:
        asyncio.run(main())
    finally:
        shutdown(app)
