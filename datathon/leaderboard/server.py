"""``datathon serve``: the page to project in the room, its JSON API, the submission endpoint.

Routes, under the base URL (``/`` by default; ``--base-url /services/leaderboard/`` behind
JupyterHub, whose proxy forwards the prefix as it is; any path outside it answers 404):

=========================  ===================================================================
``GET /``                  the leaderboard page (table + scores over time), refreshes itself
``GET /api/leaderboard``   standings + plot series as JSON (what the page polls every 10 s)
``POST /api/submit``       a submission: body = the CSV bytes (or a multipart form with one
                           file); ``Authorization: Bearer TOKEN``; the team in ``?team=`` (or
                           the header ``X-Datathon-Team``, percent-encoded); optional
                           ``?filename=`` for display and a request id (``X-Request-Id`` or
                           ``?request_id=``, 1-64 of ``A-Z a-z 0-9 . _ -``) that makes a retry
                           safe
``POST /api/handin``       a team hands in its notebook for the closing presentations: body =
                           the ``.ipynb`` bytes, at most 16 MB; the team and token as for a
                           submission; optional ``?description=`` and ``?filename=``
``GET /static/...``        the page's own script and style sheet (no CDN, works offline)
=========================  ===================================================================

Errors from the API are JSON ``{"error": "<one line>", "reason": "<key>"}`` with the status of
:data:`datathon.leaderboard.REASONS` (401 bad token, 413 too large, 429 quota, 503 busy or
storage unavailable, ...); the page and static files answer errors in short plain text.

Safety choices, because 12 teams hammer it and a room of 60 looks at it:

- a submission is checked before any byte of its body is read: the team, the token (one indexed
  read), the announced size and the number of uploads in flight (:data:`MAX_UPLOADS`); a refused
  request is answered at once and its connection closed unless its body is small
  (:data:`DRAIN_BYTES`), so an anonymous 190 MB upload costs nothing;
- an accepted body is streamed to a temporary file (a multipart form is parsed on the fly, with a
  few kilobytes of memory), counted, and refused with 413 past ``max_body_bytes``; the file is
  removed however the request ends;
- the size limit follows the event: its truth's rows times a generous bound per line
  (:func:`body_limit`), unless ``max_body_bytes`` is given;
- scoring runs in a small thread pool, so the page keeps answering while a file is scored;
- a storage failure (disk full, read-only or vanished event, locked database) is a 503 with the
  reason in one line, never a 500; every response, errors and static files included, carries
  the security headers, and no error page shows a traceback;
- the logs never hold a token: query arguments such as ``token`` and any ``Authorization`` value
  are redacted from the access log and Tornado's other messages;
- everything a user typed reaches the page through Tornado's autoescaping or ``textContent``,
  and a Content-Security-Policy forbids inline scripts, so a team called
  ``<script>...</script>`` is just a name;
- private scores are never in any response before the reveal (they are not in
  :func:`~datathon.leaderboard.service.board`'s output).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import email.message
import email.utils
import errno
import functools
import inspect
import json
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import tornado.httpserver
import tornado.iostream
import tornado.web

from datathon.errors import UserError
from datathon.leaderboard import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_PORT,
    REASONS,
    StorageUnavailable,
    SubmissionRefused,
    display_score,
    service,
)
from datathon.leaderboard import plot as _plot

HERE = Path(__file__).parent
#: How often the page polls ``/api/leaderboard`` (seconds).
REFRESH_SECONDS = 10
#: Scoring threads: enough to overlap two submissions. Reads (the page, the API, token checks)
#: have their own pool, so that a queue of campaign-size files never delays the page's refresh.
WORKERS = 2
READERS = 2
#: Uploads received or scored at once; one more is answered 503 "busy" before its body is read.
#: Two beyond the scorers keep the pool fed while bounding the temporary files on disk.
MAX_UPLOADS = WORKERS + 2
#: ``Retry-After`` (seconds) of a "busy" answer: a campaign-size file scores in a few seconds.
BUSY_RETRY_SECONDS = 5
#: A body announced beyond this multiple of the limit is not even read: the connection is cut.
DISCARD_FACTOR = 2
#: A request refused before its body (bad token, busy, ...) whose body is announced this small is
#: still read and dropped (64 kB at a time, never kept), so that a client that sends its whole
#: body before reading the answer (urllib, hence ``datathon.submit``) sees our answer; a larger
#: or chunked body is not read: the connection is closed once the answer is sent.
DRAIN_BYTES = 4 * 1024 * 1024

#: The size limit derived from an event (see :func:`body_limit`): bytes per submission line, a
#: generous bound. The longest realistic line is a 12-character id, a 14-digit answer, a score
#: printed with 17 significant digits and an exponent (22 characters), a rank, three separators,
#: CRLF and quotes around every field: about 65 bytes.
LINE_BYTES = 100
#: Lines per truth row, at least: a Sirene file may list top-k candidates (column ``rank``), and
#: top-k accuracy is scored up to k = 10 (``datathon.evaluate.TOPK``); a challenge that declares
#: more (``SubmissionFormat.max_lines_per_row``) gets more.
LINES_PER_ROW = 10
#: The CSV header, a byte-order mark and a multipart envelope with a long file name.
HEADER_BYTES = 16 * 1024

#: Query arguments whose values never reach a log (compared lower-cased, ``-`` read as ``_``);
#: any name containing "token", "secret" or "passw" is redacted too.
SECRET_ARGUMENTS = frozenset(
    {"token", "access_token", "api_key", "apikey", "key", "secret", "password", "passwd", "pwd",
     "auth", "authorization", "bearer", "session", "sessionid", "signature", "sig", "credential",
     "credentials"}
)  # fmt: skip
#: A client's request id: short, and safe to print anywhere.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

log = logging.getLogger("datathon.leaderboard")

_SECURITY_HEADERS = {
    # Only our own script and styles; no inline script, no framing, no external requests.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: ``reason`` of an API error by HTTP status, for the errors that carry none of their own.
_STATUS_REASONS = {400: "bad_request", 404: "not_found", 405: "bad_request", 413: "too_large", 503: "unavailable"}
#: OSError numbers that mean "the storage is unusable", not a bug: answered 503, not 500.
_STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EIO})


# ---------------------------------------------------------------------------------------------
# handlers


class _Safe:
    """What every handler shares, the static files' included: security headers on every answer
    (errors too), errors without a traceback, storage failures as 503, no token in any log."""

    def set_default_headers(self) -> None:
        for name, value in _SECURITY_HEADERS.items():
            self.set_header(name, value)

    def write_json(self, obj: Any, status: int = 200) -> asyncio.Future:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        # ensure_ascii keeps '<' etc. as they are, but JSON is never parsed as HTML here:
        # the content type and nosniff make sure of that.
        return self.finish(json.dumps(obj, ensure_ascii=False, allow_nan=False))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Never a traceback, not even in a 500 page; the log has it (except for storage failures,
        # which are the disk's state, not a bug: one line is all there is to say).
        exc = kwargs.get("exc_info", (None, None, None))[1]
        storage = storage_problem(exc)
        if storage is not None:
            status_code, message = 503, storage
            self.set_status(503)
        else:
            message = getattr(exc, "message", None) or self._reason or "error"
        message = " ".join(str(message).split())
        if self.request.path.startswith("/api/"):
            reason = getattr(exc, "reason", None) if isinstance(exc, UserError) else None
            if reason not in REASONS:
                reason = _STATUS_REASONS.get(status_code, "server_error")
            self.write_json({"error": message, "reason": reason}, status=status_code)
        else:
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.set_header("Cache-Control", "no-store")
            self.finish(f"{status_code} {message}\n")

    def log_exception(self, typ, value, tb) -> None:
        storage = storage_problem(value)
        if storage is not None:
            log.warning("%s: storage unavailable: %s", self._request_summary(), storage)
            return
        super().log_exception(typ, value, tb)

    def _request_summary(self) -> str:
        return _summary(self.request)


class _Base(_Safe, tornado.web.RequestHandler):
    """Common headers, and JSON errors for the API."""

    @property
    def event(self) -> service.Event:
        return self.application.settings["event"]


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
    """``POST /api/submit``: authenticated by the team's token, body = the predictions CSV.

    Everything that can refuse a request without its body is checked in :meth:`prepare`, which
    Tornado runs before it reads a body byte: the request's own fields, the announced size, the
    token, a free upload slot. Only then is the body streamed, to a temporary file.
    """

    SUPPORTED_METHODS = ("POST",)  # a GET is a 405 before prepare() asks for a token

    def initialize(self) -> None:
        # Set here rather than in prepare(): on_connection_close() may come first.
        self._upload: _Upload | None = None
        self._request_id: str | None = None
        self._slot = False
        self._scoring = False
        self._size = 0

    async def prepare(self) -> None:
        headers = self.request.headers
        length = headers.get("Content-Length", "")
        self._announced = int(length) if length.isdigit() else None
        limit = self.settings["max_body_bytes"]
        team = self.get_query_argument("team", None)
        if not team and "X-Datathon-Team" in headers:
            # Headers are ASCII: the helper sends the name percent-encoded (UTF-8).
            team = urllib.parse.unquote(headers["X-Datathon-Team"])
        token = _bearer(headers.get("Authorization", ""))
        try:
            self._request_id = _request_id(self)
            if not team:
                raise SubmissionRefused("no team given: add ?team=NAME to the URL", reason="bad_request")
            if token is None:
                raise SubmissionRefused(
                    "no token given: send the header 'Authorization: Bearer TOKEN'", reason="bad_token"
                )
            content_type = headers.get("Content-Type", "")
            # `curl -F file=@preds.csv` and HTML forms send a multipart form: take its first file.
            boundary = _boundary(content_type) if content_type.lower().startswith("multipart/form-data") else None
        except SubmissionRefused as err:
            return await self._answer_early(err)
        if self._announced is not None and self._announced > limit:
            # Up to DISCARD_FACTOR x the limit the body is read and dropped, so that a simple
            # client still gets our 413 rather than a reset connection; beyond, it is cut off.
            drain = DISCARD_FACTOR * limit
            if self._announced <= drain:
                self.request.connection.set_max_body_size(self._announced)
            return await self._answer_early(_too_large(limit), drain_up_to=drain)

        # The token check reads SQLite, whose busy timeout is a minute: it runs in the readers'
        # pool so that a locked or slow database can never freeze the loop (and the projected
        # page) for everyone. The thread hop costs far less than the read itself.
        try:
            await _in_pool(self.application, "readers", service.authenticate, self.event, team, token)
        except SubmissionRefused as err:
            return await self._answer_early(err)
        except Exception as err:
            problem = storage_problem(err)
            if problem is None and isinstance(err, UserError):
                problem = err.message  # e.g. the event directory was removed
            if problem is None:
                raise
            return await self._answer_early(SubmissionRefused(problem, reason="unavailable"))

        uploads = self.settings["uploads"]
        if uploads.used >= uploads.size:
            return await self._answer_early(
                SubmissionRefused(
                    f"{uploads.size} submissions are being received or scored: the leaderboard is busy, "
                    "retry in a few seconds",
                    reason="busy",
                ),
                retry_after=BUSY_RETRY_SECONDS,
            )
        uploads.used += 1  # the loop is single-threaded: no lock needed between check and take
        self._slot = True
        try:
            self._upload = _Upload(self.settings["upload_dir"], boundary)
        except OSError as err:
            problem = storage_problem(err) or f"cannot store the upload: {err.strerror or err}"
            return await self._answer_early(SubmissionRefused(problem, reason="unavailable"))
        self._team, self._token = team, token

    def data_received(self, chunk: bytes) -> None:
        if self._finished or self._upload is None:
            return
        self._size += len(chunk)
        if self._size > self.settings["max_body_bytes"]:
            # Chunked bodies have no length: counted here (the HTTP layer's own limit,
            # DISCARD_FACTOR x ours, cuts off the absurd ones after our answer).
            self._refuse(_too_large(self.settings["max_body_bytes"]))
            return
        # Written on the loop: 64 kB into the page cache is a memory copy, and a thread hop per
        # chunk would cost more than it saves.
        try:
            self._upload.write(chunk)
        except SubmissionRefused as err:  # a malformed multipart body
            self._refuse(err)
        except OSError as err:
            problem = storage_problem(err)
            if problem is None:
                raise
            self._refuse(SubmissionRefused(problem, reason="unavailable"))

    async def post(self) -> None:
        if self._finished or self._upload is None:
            return
        try:
            path, part_name = self._upload.complete()
        except SubmissionRefused as err:
            return self._refuse(err)
        filename = self.get_query_argument("filename", None) or part_name
        options: dict[str, Any] = {"team": self._team, "token": self._token, "filename": filename}
        # The request id makes a retry safe (the service records it once); passed only to a
        # service that takes it, so that this server runs against either version.
        if self._request_id is not None and _takes(service.submit_source, "request_id"):
            options["request_id"] = self._request_id
        self._scoring = True
        try:
            result = await _in_pool(
                self.application, "scorers", functools.partial(service.submit_source, self.event, path, **options)
            )
        except SubmissionRefused as err:
            return self._refuse(err)
        except Exception as err:
            problem = storage_problem(err)
            if problem is not None:
                return self._refuse(SubmissionRefused(problem, reason="unavailable"))
            if not isinstance(err, UserError):
                raise
            # any other user-facing problem: still one line, still JSON
            return self._refuse(SubmissionRefused(err.message, reason="bad_file"))
        finally:
            # The file and the slot stay taken while the scorer may read the file, even if the
            # client has gone (on_connection_close leaves them to us).
            self._scoring = False
            self._release()
        log.info("submission %s by %r: public %.4f, rank %s%s", result["submission"], result["team"],
                 result["public_score"], result["rank"],
                 f" (request {self._request_id})" if self._request_id else "")  # fmt: skip
        self.write_json(result)

    def on_finish(self) -> None:
        self._release()

    def on_connection_close(self) -> None:
        super().on_connection_close()
        if not self._scoring:
            self._release()

    def _release(self) -> None:
        """Remove the temporary file and give back the upload slot (idempotent)."""
        if self._upload is not None:
            self._upload.remove()
            self._upload = None
        if self._slot:
            self._slot = False
            self.settings["uploads"].used -= 1

    def _refuse(self, err: SubmissionRefused, retry_after: int | None = None) -> asyncio.Future:
        # Released before answering: once a client has its answer, its file is gone.
        self._release()
        status = REASONS.get(err.reason, 400)
        if status == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="datathon"')
        if retry_after is not None:
            self.set_header("Retry-After", str(retry_after))
        return self.write_json({"error": err.message, "reason": err.reason}, status=status)

    async def _answer_early(
        self, err: SubmissionRefused, retry_after: int | None = None, drain_up_to: int = DRAIN_BYTES
    ) -> None:
        """Answer before the body is read; then let a small body be read and dropped, or close.

        A client that waits for ``100 Continue`` (curl, for large files) gets the answer without
        sending its body, and a client that sends a small body before reading gets it too; one
        that pushes a large body without reading may see the connection reset: the price of not
        reading it.
        """
        headers = self.request.headers
        chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        waiting = headers.get("Expect", "").lower() == "100-continue"
        no_body = not chunked and not self._announced
        drain = not waiting and self._announced is not None and self._announced <= drain_up_to
        if no_body or drain:
            self._refuse(err, retry_after)
            return
        self.set_header("Connection", "close")
        try:
            await self._refuse(err, retry_after)  # sent to the socket before we close it
        except tornado.iostream.StreamClosedError:
            pass
        self.request.connection.close()


@tornado.web.stream_request_body
class HandinAPI(_Base):
    """``POST /api/handin``: a team's notebook for the closing presentations.

    The token is checked before the body is read; the body (a notebook, kept in memory) is bounded:
    past :data:`~datathon.leaderboard.closing.MAX_NOTEBOOK_BYTES` it is counted and dropped and the
    answer is 413, and past twice that Tornado cuts the connection.
    """

    async def prepare(self) -> None:
        from datathon.leaderboard.closing import MAX_NOTEBOOK_BYTES

        self._chunks: list[bytes] = []
        self._size = 0
        self._refusal: SubmissionRefused | None = None
        if self.request.method != "POST":
            return
        # A notebook may outgrow the submission limit the server was started with; twice the
        # largest notebook is still cut off by Tornado without being read.
        self.request.connection.set_max_body_size(DISCARD_FACTOR * MAX_NOTEBOOK_BYTES)
        self._team = self.get_query_argument("team", None) or urllib.parse.unquote(
            self.request.headers.get("X-Datathon-Team", ""))
        self._token = _bearer(self.request.headers.get("Authorization", "")) or ""
        try:
            await _in_pool(self.application, "readers", service.authenticate, self.event, self._team, self._token)
        except SubmissionRefused as err:
            self._refusal = err  # answered once the (bounded) body has been read and dropped

    def data_received(self, chunk: bytes) -> None:
        from datathon.leaderboard.closing import MAX_NOTEBOOK_BYTES

        self._size += len(chunk)
        if self._size > MAX_NOTEBOOK_BYTES and self._refusal is None:
            self._refusal = _too_large(MAX_NOTEBOOK_BYTES)
        if self._refusal is not None:
            self._chunks = []  # counted, never kept
        else:
            self._chunks.append(chunk)

    async def post(self) -> None:
        from datathon.leaderboard.closing import hand_in

        try:
            if self._refusal is not None:
                raise self._refusal
            record = await _in_pool(
                self.application, "scorers", lambda: hand_in(
                    self.event, b"".join(self._chunks), team=self._team, token=self._token,
                    description=self.get_query_argument("description", ""),
                    filename=self.get_query_argument("filename", None)))  # fmt: skip
        except SubmissionRefused as err:
            self.write_json({"error": err.message, "reason": err.reason}, REASONS.get(err.reason, 400))
            return
        except Exception as err:
            problem = storage_problem(err)
            if problem is None:
                raise
            self.write_json({"error": problem, "reason": "unavailable"}, 503)
            return
        self.write_json(record)


class ToBase(_Base):
    """The base URL without its final slash: redirected to it, so that the page's relative links
    (``api/leaderboard``, ``static/...``) resolve under the prefix."""

    def get(self) -> None:
        self.redirect(self.settings["base_url"], permanent=False)


class NotFoundAPI(_Base):
    def prepare(self) -> None:
        raise tornado.web.HTTPError(404, reason="no such API endpoint")


class NotFound(_Base):
    """Any other path (Tornado's own 404 page would lack the security headers)."""

    def prepare(self) -> None:
        raise tornado.web.HTTPError(404)


class StaticFiles(_Safe, tornado.web.StaticFileHandler):
    """The page's script and style sheet, with the security headers.

    The static directory is flat and its names are plain, so any other path (a NUL, ``..``,
    an encoded slash, a directory) is refused before it reaches the file system: a NUL byte
    used to make ``os.path`` raise, a 500 with a traceback.
    """

    _NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

    def parse_url_path(self, url_path: str) -> str:
        if any(ord(c) < 32 or ord(c) == 127 for c in url_path):
            raise tornado.web.HTTPError(400, reason="Bad Request")
        if not self._NAME.fullmatch(url_path):
            raise tornado.web.HTTPError(404)
        return url_path

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        try:
            return super().validate_absolute_path(root, absolute_path)
        except tornado.web.HTTPError as err:
            if err.status_code == 403:  # not a regular file of the directory: say "no such file"
                raise tornado.web.HTTPError(404) from None
            raise


# ---------------------------------------------------------------------------------------------
# uploads


class _Slots:
    """How many uploads are in flight (used and changed on the loop only)."""

    def __init__(self, size: int) -> None:
        self.size, self.used = size, 0


class _Upload:
    """One request's body on disk: a private temporary directory holding ``submission``.

    The name ``submission`` is what the scorer's messages call the file (as they did when the
    body was passed as bytes). A multipart body goes through :class:`_MultipartFile`, so that the
    file holds the uploaded file's bytes only.
    """

    def __init__(self, directory: str | None, boundary: bytes | None) -> None:
        self.directory = tempfile.mkdtemp(prefix="datathon-upload-", dir=directory)
        self.path = os.path.join(self.directory, "submission")
        try:
            self._file = open(self.path, "wb")
        except BaseException:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise
        self._multipart = None if boundary is None else _MultipartFile(boundary, self._file.write)

    def write(self, chunk: bytes) -> None:
        if self._multipart is None:
            self._file.write(chunk)
        else:
            self._multipart.feed(chunk)

    def complete(self) -> tuple[str, str | None]:
        """The file's path and, for a multipart form, the uploaded file's name."""
        name = None
        if self._multipart is not None:
            self._multipart.finish()
            name = self._multipart.filename
        self._file.close()
        return self.path, name

    def remove(self) -> None:
        try:
            self._file.close()
        except OSError:
            pass  # a failed flush (disk full) changes nothing: the file goes anyway
        shutil.rmtree(self.directory, ignore_errors=True)


class _MultipartFile:
    """Streams the first file of a ``multipart/form-data`` body to ``sink``.

    A small state machine over the chunks as they arrive, instead of Tornado's parser, which needs
    the whole body in memory. It holds at most a part's headers (:attr:`MAX_HEADERS`) or the few
    bytes that may start a boundary split across two chunks. Other parts are skipped; once the
    file's part has ended, the rest of the body is ignored. Problems raise a one-line
    :class:`SubmissionRefused` (400).
    """

    MAX_HEADERS = 16 * 1024

    def __init__(self, boundary: bytes, sink: Callable[[Any], Any]) -> None:
        self._delimiter = b"\r\n--" + boundary
        self._sink = sink
        # A body may begin with its first boundary line: with a CRLF put in front, that is the
        # same case as a boundary after a preamble.
        self._pending = b"\r\n"
        self._state = "preamble"  # preamble | boundary_line | headers | part | end
        self._in_file = False
        self._seen_boundary = False
        self.done = False  # the file's part is complete
        self.filename: str | None = None

    def feed(self, data: bytes) -> None:
        if self._state == "end":
            return
        buf = self._pending + data if self._pending else data
        self._pending = b""
        pos, n = 0, len(buf)
        while True:
            if self._state in ("preamble", "part"):
                at = buf.find(self._delimiter, pos)
                if at < 0:
                    # Keep what could be the beginning of a delimiter cut by the chunk's end.
                    keep = max(pos, n - len(self._delimiter) + 1)
                    self._emit(buf, pos, keep)
                    self._pending = buf[keep:]
                    return
                self._emit(buf, pos, at)
                if self._in_file:
                    self._in_file, self.done, self._state = False, True, "end"
                    return
                self._seen_boundary = True
                pos, self._state = at + len(self._delimiter), "boundary_line"
            elif self._state == "boundary_line":
                if n - pos < 2:
                    self._pending = buf[pos:]
                    return
                if buf.startswith(b"--", pos):  # the closing delimiter
                    self._state = "end"
                    return
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    if n - pos > 1024:
                        raise _bad_multipart("a boundary line of the multipart body is malformed")
                    self._pending = buf[pos:]
                    return
                if buf[pos:eol].strip(b" \t"):  # only transport padding may follow a boundary
                    raise _bad_multipart("a boundary line of the multipart body is malformed")
                pos, self._state = eol + 2, "headers"
            elif self._state == "headers":
                if buf.startswith(b"\r\n", pos):
                    end, raw = pos + 2, b""  # a part without headers
                else:
                    eoh = buf.find(b"\r\n\r\n", pos)
                    if eoh < 0:
                        if n - pos > self.MAX_HEADERS:
                            raise _bad_multipart("the headers of a part of the multipart body are too long")
                        self._pending = buf[pos:]
                        return
                    end, raw = eoh + 4, buf[pos:eoh]
                filename = _part_filename(raw)
                if filename:
                    self._in_file, self.filename = True, filename
                pos, self._state = end, "part"
            else:
                return

    def _emit(self, buf: bytes, start: int, end: int) -> None:
        if self._in_file and end > start:
            self._sink(memoryview(buf)[start:end])

    def finish(self) -> None:
        """Raise if the body ended without a complete file part."""
        if self.done:
            return
        if not self._seen_boundary:
            raise _bad_multipart("the multipart body does not contain the boundary its Content-Type announces")
        if self._state != "end":
            raise _bad_multipart("the multipart body is truncated: it ends before its closing boundary")
        raise SubmissionRefused("the multipart form holds no file", reason="bad_file")


def _bad_multipart(message: str) -> SubmissionRefused:
    return SubmissionRefused(message, reason="bad_request")


def _part_filename(raw: bytes) -> str | None:
    """The ``filename`` of a part's ``Content-Disposition`` (RFC 2231 forms included), or None."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    headers = email.message.Message()
    for line in text.split("\r\n") if text else []:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise _bad_multipart("a part of the multipart body has a malformed header line")
        headers[name] = value.strip()
    value = headers.get_param("filename", None, header="content-disposition")
    return None if value is None else email.utils.collapse_rfc2231_value(value)


def _boundary(content_type: str) -> bytes:
    """The boundary of a multipart Content-Type: 1-70 printable ASCII characters (RFC 2046)."""
    header = email.message.Message()
    header["Content-Type"] = content_type
    value = header.get_param("boundary")
    if isinstance(value, tuple):
        value = email.utils.collapse_rfc2231_value(value)
    if not value or len(value) > 70 or not all(32 <= ord(c) < 127 for c in value) or value.endswith(" "):
        raise _bad_multipart("the multipart Content-Type needs a boundary of 1-70 printable ASCII characters")
    return value.encode("ascii")


def _too_large(limit: int) -> SubmissionRefused:
    return SubmissionRefused(
        f"the submission is larger than this server accepts ({_human_bytes(limit)})", reason="too_large"
    )


def _request_id(handler: tornado.web.RequestHandler) -> str | None:
    value = handler.request.headers.get("X-Request-Id")
    if value is None:
        value = handler.get_query_argument("request_id", None)
    if value is None:
        return None
    if not REQUEST_ID.fullmatch(value):
        raise SubmissionRefused(
            "the request id (X-Request-Id or ?request_id=) must be 1-64 characters among A-Z a-z 0-9 . _ -",
            reason="bad_request",
        )
    return value


def _takes(fn: Callable, name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def body_limit(event: service.Event) -> int:
    """The default body size limit for ``event``: each truth row with its most lines (a full
    top-10 candidate list for Sirene) of generous length, plus a header, and never more than the
    scorer reads (:data:`~datathon.leaderboard.DEFAULT_MAX_BODY_BYTES`)."""
    lines = event.config.n_rows * max(LINES_PER_ROW, event.challenge.submission.max_lines_per_row)
    return min(DEFAULT_MAX_BODY_BYTES, HEADER_BYTES + lines * LINE_BYTES)


# ---------------------------------------------------------------------------------------------
# storage failures, logs


def storage_problem(exc: BaseException | None) -> str | None:
    """One line if ``exc`` says the event's storage cannot be used now, else None.

    That is ``StorageUnavailable`` from the service, an ``sqlite3.OperationalError`` that escaped
    it (locked, full, read-only, I/O error) or an ``OSError`` of a full or read-only disk.
    """
    if isinstance(exc, StorageUnavailable) or isinstance(exc, SubmissionRefused) and exc.reason == "unavailable":
        return " ".join(exc.message.split())
    if isinstance(exc, sqlite3.OperationalError):
        return f"the event's database cannot be used right now ({' '.join(str(exc).split())}); retry in a moment"
    if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
        return f"the server cannot store data ({exc.strerror or os.strerror(exc.errno)}); tell the instructor"
    return None


def _is_secret(name: str) -> bool:
    key = urllib.parse.unquote_plus(name).strip().lower().replace("-", "_")
    return key in SECRET_ARGUMENTS or any(word in key for word in ("token", "secret", "passw"))


_QUERY_ARGUMENT = re.compile(r"(?P<sep>[?&;])(?P<name>[^=&;#\s'\"]*)=(?P<value>[^&;#\s'\"]*)")
_CREDENTIALS = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/-]{6,}=*")
_AUTHORIZATION = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n,]+")


def redact(text: str) -> str:
    """``text`` without secrets: values of token-like query arguments, credentials."""
    text = _QUERY_ARGUMENT.sub(
        lambda m: f"{m['sep']}{m['name']}=[redacted]" if _is_secret(m["name"]) else m[0], text
    )
    text = _AUTHORIZATION.sub(r"\1[redacted]", text)
    return _CREDENTIALS.sub(r"\1\2[redacted]", text)


def _summary(request: Any) -> str:
    return f"{request.method} {redact(request.uri or '')} ({request.remote_ip})"


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """The access log line (Tornado's format), with the URI's secrets redacted."""
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    logging.getLogger("tornado.access").log(
        level, "%d %s %.2fms", status, _summary(handler.request), 1000.0 * handler.request.request_time()
    )


class _RedactFilter(logging.Filter):
    """Belt and braces for the messages we do not format: Tornado's exception and malformed-request
    logs quote the URI and may quote a header."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_REDACT_FILTER = _RedactFilter()


def _install_log_redaction() -> None:
    for name in ("tornado.access", "tornado.application", "tornado.general", log.name):
        logger = logging.getLogger(name)
        if _REDACT_FILTER not in logger.filters:
            logger.addFilter(_REDACT_FILTER)


def page_context(board: dict[str, Any]) -> dict[str, Any]:
    """What the template shows before the script takes over (the same layout as the script's).

    Every label comes from the board: the ranking score's label, format and direction
    (``event.metric``), what the rows are (``event.unit``) and the reference's name. Values are
    plain text here; the template escapes them.
    """
    ev = board["event"]
    if ev.get("mode") == "cooperative":
        return _cooperative_context(board)
    metric = ev["metric"]
    revealed = ev["revealed"]
    ref = board["reference"]
    n_total = ev["n_public"] + ev["n_private"]
    label = _capitalised(metric["label"])
    better = "higher" if metric["direction"] == "higher" else "lower"
    if revealed:
        columns = [("#", "rank"), ("Team", "team"), ("Private", "score"), ("Public", "score2"),
                   ("Move", "move"), ("Subs", "count")]  # fmt: skip
        subtitle = (f"Final ranking: {metric['label']} on the private part ({ev['n_private']:,} of {n_total:,} "
                    f"{ev['unit']}), {better} is better")  # fmt: skip
        chart_title = f"{label} on the private part, over time"
    else:
        columns = [("#", "rank"), ("Team", "team"), (_short(label), "score"), (f"vs {_clip(ref['name'], 12)}", "delta"),
                   ("Subs", "count"), ("Last", "time")]  # fmt: skip
        subtitle = (f"{label} on the public part ({ev['n_public']:,} of {n_total:,} {ev['unit']}), "
                    f"{better} is better")  # fmt: skip
        chart_title = f"{label} on the public part, over time"
    key = "private_score" if revealed else "public_score"
    ref_score = ref.get(key)
    rows: list[dict[str, Any]] = []
    placed = False
    for team in board["teams"]:
        score = team.get(key)
        if not placed and ref_score is not None and _plot.better(metric, ref_score, score):
            rows.append(_reference_row(ref, revealed, metric))
            placed = True
        if revealed:
            move = "" if team["rank"] is None or team.get("public_rank") is None else _move(team["public_rank"] - team["rank"])
            cells = [(team["rank"] or "–", "rank"), (team["team"], "team"), (display_score(metric, score), "score"),
                     (display_score(metric, team["public_score"]), "score2"), (move, "move"),
                     (team["submissions"], "count")]  # fmt: skip
        else:
            cells = [(team["rank"] or "–", "rank"), (team["team"], "team"), (display_score(metric, score), "score"),
                     (_delta(metric, score, ref_score), "delta"), (team["submissions"], "count"),
                     (_when(team["last_submission"], board["generated_at"]), "time")]  # fmt: skip
        rows.append({"kind": "team", "team_id": team["team_id"], "cells": cells})
    if not placed and ref_score is not None:
        rows.append(_reference_row(ref, revealed, metric))
    rule = "best public submission" if ev["rule"] == "best" else "last submission"
    return {
        "subtitle": subtitle,
        "chart_title": chart_title,
        "columns": columns,
        "rows": rows,
        "updated": _hhmm(board["generated_at"], seconds=True),
        "rule_text": (f"submissions closed at {_hhmm(ev['revealed_at'])} · ranked by the private score of each "
                      f"team's {rule} · the private part was hidden until the reveal") if revealed
        else f"each team's {rule} counts · {_quota_text(ev)}",
        "badge": "Final ranking" if revealed else "Public leaderboard",
    }


def _cooperative_context(board: dict[str, Any]) -> dict[str, Any]:
    """The cooperative board (the script draws the same): every team by name with every score
    type of the part shown, the reference's figures alongside, no rank."""
    ev, ref = board["event"], board["reference"]
    revealed = ev["revealed"]
    types = ev["score_types"]
    columns = [("Team", "team"), *((_capitalised(t["label"]), "metric") for t in types), ("Subs", "count")]

    def cells(row: dict[str, Any], reference: bool) -> list[tuple[Any, str]]:
        values = row.get("metrics") or {}
        return [(f"{row['name']} (reference)" if reference else row["team"], "team"),
                *((display_score(t, values.get(t["key"])), "metric") for t in types),
                ("" if reference else row["submissions"], "count")]  # fmt: skip

    rows = [{"kind": "team", "team_id": t["team_id"], "cells": cells(t, False)} for t in board["teams"]]
    rows.append({"kind": "reference", "team_id": "", "cells": cells(ref, True)})
    n_part = ev["n_private"] if revealed else ev["n_public"]
    rule = "best public submission" if ev["rule"] == "best" else "last submission"
    closed = f"with its private figures · submissions closed at {_hhmm(ev['revealed_at'])}" if revealed else f"· {_quota_text(ev)}"
    return {
        "subtitle": f"Every team's figures on the {ev['part']} part ({n_part:,} of {ev['n_public'] + ev['n_private']:,} "
                    f"{ev['unit']}): no ranking, help each other",
        "chart_title": f"{_capitalised(ev['metric']['label'])} on the {ev['part']} part, over time",
        "columns": columns,
        "rows": rows,
        "updated": _hhmm(board["generated_at"], seconds=True),
        "rule_text": f"cooperative: no ranking · each team's {rule} is shown {closed}",
        "badge": "Final results" if revealed else "Cooperative board",
    }


def _clip(text: str, n: int) -> str:
    """At most ``n`` characters, a cut marked with "…" (as the script's ``clip``)."""
    return text if len(text) <= n else text[: n - 1] + "…"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _quota_text(ev: dict[str, Any]) -> str:
    return f"quota {ev['quota']} " + ("for the event" if ev.get("quota_per") == "event" else "per day")


def _reference_row(ref: dict[str, Any], revealed: bool, metric: dict[str, Any]) -> dict[str, Any]:
    name = f"{ref['name']} (reference)"
    if revealed:
        cells = [("", "rank"), (name, "team"), (display_score(metric, ref.get("private_score")), "score"),
                 (display_score(metric, ref.get("public_score")), "score2"), ("", "move"), ("", "count")]  # fmt: skip
    else:
        cells = [("", "rank"), (name, "team"), (display_score(metric, ref.get("public_score")), "score"),
                 ("", "delta"), ("", "count"), ("", "time")]  # fmt: skip
    return {"kind": "reference", "team_id": "", "cells": cells}


def _short(label: str) -> str:
    """A column header: the label when short ("Success rate"), else its initials ("MAE" for
    "Mean absolute error"); the script does the same."""
    words = label.split()
    return label if len(label) <= 12 or len(words) < 2 else "".join(w[0].upper() for w in words)


def _delta(metric: dict[str, Any], score: float | None, ref_score: float | None) -> str:
    """Team minus reference, signed, in the score's unit (points of percentage for a rate)."""
    if score is None or ref_score is None:
        return ""
    if metric["format"] == "percent":
        return f"{100 * (score - ref_score):+.{metric['digits']}f}"
    return f"{score - ref_score:+.{metric['digits']}f}"


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


async def _board(handler: _Base) -> dict[str, Any]:
    """The board, or a 503 with the one-line reason (the event directory was removed, the
    database is locked, ...)."""
    try:
        return await _in_pool(handler.application, "readers", service.board, handler.event)
    except Exception as err:
        problem = storage_problem(err)
        if problem is None and isinstance(err, UserError):
            problem = err.message
        if problem is None:
            raise
        raise _Unavailable(problem) from None


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
    max_body_bytes: int | None = None,
    refresh_seconds: int = REFRESH_SECONDS,
    max_uploads: int = MAX_UPLOADS,
    upload_dir: str | Path | None = None,
    base_url: str = "/",
) -> tornado.web.Application:
    """The Tornado application for ``event`` (opened and preloaded here, so errors show at start).

    ``max_body_bytes``: the largest request body accepted (default: :func:`body_limit` of the
    event). ``max_uploads``: uploads received or scored at once. ``upload_dir``: where bodies are
    streamed while they are received and scored (default: the system's temporary directory).
    ``base_url``: the path every route answers under (see :func:`clean_base_url`).
    """
    base = clean_base_url(base_url)
    ev = event if isinstance(event, service.Event) else service.Event(event)
    ev.preload()
    if max_body_bytes is None:
        max_body_bytes = body_limit(ev)
    if max_body_bytes < 1:
        raise UserError(f"the body size limit must be positive (got {max_body_bytes})")
    if max_uploads < 1:
        raise UserError(f"the number of uploads at once must be positive (got {max_uploads})")
    if upload_dir is not None and not Path(upload_dir).is_dir():
        raise UserError(f"no directory for uploads at {upload_dir}")
    _install_log_redaction()
    under = re.escape(base)
    routes = [
        (under, PageHandler),
        (under + r"api/leaderboard", LeaderboardAPI),
        (under + r"api/submit", SubmitAPI),
        (under + r"api/handin", HandinAPI),
        (under + r"api/.*", NotFoundAPI),
    ]
    if base != "/":
        routes.append((re.escape(base[:-1]), ToBase))
    return tornado.web.Application(
        routes,
        template_path=str(HERE / "templates"),
        static_path=str(HERE / "static"),
        static_url_prefix=base + "static/",
        base_url=base,
        static_handler_class=StaticFiles,
        default_handler_class=NotFound,
        log_function=_log_request,
        autoescape="xhtml_escape",  # the default, stated: every {{ }} in the page is escaped
        compress_response=True,
        event=ev,
        max_body_bytes=int(max_body_bytes),
        refresh_seconds=int(refresh_seconds),
        uploads=_Slots(int(max_uploads)),
        upload_dir=None if upload_dir is None else str(upload_dir),
        scorers=ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="datathon-score"),
        readers=ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="datathon-read"),
    )


#: A base URL: "/" or slash-separated segments of unreserved URL characters, ending with "/".
_BASE_URL = re.compile(r"/(?:[A-Za-z0-9._~-]+/)*")


def clean_base_url(base_url: str | None) -> str:
    """``base_url`` as the app uses it: starting and ending with ``/`` (``/services/leaderboard/``).

    JupyterHub gives a service its prefix in ``$JUPYTERHUB_SERVICE_PREFIX`` and its proxy forwards
    requests with the prefix kept, so every route, link and static file lives under it. Anything
    but plain path segments (a query, ``..``, a scheme) is one line.
    """
    raw = "/" if base_url in (None, "") else str(base_url)
    cleaned = "/" + raw.strip("/") + "/" if raw.strip("/") else "/"
    if not _BASE_URL.fullmatch(cleaned) or any(part in (".", "..") for part in cleaned.split("/")):
        raise UserError(f"--base-url must be a path such as /services/leaderboard/ (letters, digits, . _ ~ -), "
                        f"not {raw!r}")  # fmt: skip
    return cleaned


def serve(
    event: str | Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    max_body_bytes: int | None = None,
    refresh_seconds: int = REFRESH_SECONDS,
    ready: Any = None,
    base_url: str = "/",
) -> None:
    """Serve the leaderboard of ``event`` until interrupted (Ctrl-C).

    ``max_body_bytes``: the largest submission accepted (default: derived from the event, see
    :func:`body_limit`). ``ready`` (optional) is called with the URL once the server listens.
    ``base_url``: the path the page and the API answer under (behind JupyterHub, its prefix).
    """
    from tornado.log import enable_pretty_logging

    enable_pretty_logging()
    log.setLevel(logging.INFO)
    app = make_app(event, max_body_bytes=max_body_bytes, refresh_seconds=refresh_seconds, base_url=base_url)
    limit = app.settings["max_body_bytes"]

    async def main() -> None:
        # The HTTP layer's own limit sits above ours, so that SubmitAPI can answer 413 itself;
        # bodies far beyond it are cut off by Tornado (400 and close) without being read.
        server = tornado.httpserver.HTTPServer(
            app,
            max_body_size=DISCARD_FACTOR * limit,
            idle_connection_timeout=300,
            body_timeout=600,
        )
        try:
            server.listen(port, address=host)
        except OSError as err:
            raise UserError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
        log.info("submissions of up to %s accepted", _human_bytes(limit))
        url = f"http://{host if ':' not in host else f'[{host}]'}:{port}{app.settings['base_url']}"
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
