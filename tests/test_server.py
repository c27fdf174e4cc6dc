"""The leaderboard server: the page, the JSON API, the submission endpoint, and ``datathon serve``.

Most tests run the Tornado app on 127.0.0.1 and a free port in a background thread and talk to it
with urllib; one test starts ``python -m datathon serve`` itself and submits with
``datathon submit --server``.
"""
from __future__ import annotations

import hashlib
import http.client as httpclient
import json
import logging
import re
import signal
import socket
import time
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from leaderboard_fixtures import (
    ServerThread,
    cli_env,
    free_port,
    http,
    json_keys,
    loads,
    make_event,
    predictions,
    snapshot,
    start_serve,
    stop_serve,
    truth_of,
    write_csv,
    write_event_world,
)

import datathon
from datathon import schema
from datathon.leaderboard import SubmissionRefused, service

XSS = "<script>alert(1)</script>"
LIMIT = 60_000  # bytes: a 400-bulletin submission is ~11 kB


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return write_event_world(tmp_path_factory.mktemp("world") / "data")


@pytest.fixture
def served(tmp_path, world):
    """An event (teams Alpha, Beta and a script-named one; quota 3) served on loopback."""
    ev = tmp_path / "ev"
    tokens = make_event(ev, world, ["Alpha", "Beta", XSS, "Les Sirènes"], quota=3)
    server = ServerThread(ev, max_body_bytes=LIMIT).start()
    try:
        yield server, ev, tokens
    finally:
        server.stop()


def csv_bytes(ev: Path, quality: float = 0.7, seed: int = 0, public_quality: float | None = None) -> bytes:
    return predictions(truth_of(ev), quality, seed=seed, public_quality=public_quality).to_csv(
        sep=";", index=False
    ).encode()


def post(server: ServerThread, body: bytes, team: str | None, token: str | None, **query: str):
    params = dict(query)
    if team is not None:
        params["team"] = team
    headers = {"Content-Type": "text/csv"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    url = f"{server.url}/api/submit?{urllib.parse.urlencode(params)}"
    return http(url, data=body, headers=headers, method="POST")


# ---------------------------------------------------------------------------------------------
# the page


def post_chunked(server: ServerThread, team: str, token: str, body: bytes, *, piece: int, timeout: float,
                 content_type: str | None = None) -> tuple[int, bytes]:
    """POST ``body`` to /api/submit in chunks of ``piece`` bytes (Transfer-Encoding: chunked, no length)."""
    conn = httpclient.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.putrequest("POST", f"/api/submit?team={team}")
        conn.putheader("Authorization", f"Bearer {token}")
        if content_type:
            conn.putheader("Content-Type", content_type)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for start in range(0, len(body), piece):
            chunk = body[start : start + piece]
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_page_renders_team_names_as_text(served):
    """Is a team named <script>alert(1)</script> escaped in the page, which loads no inline
    script and nothing from another site?"""
    server, ev, tokens = served
    service.submit_frame(ev, predictions(truth_of(ev), 0.6), team=XSS, token=tokens[XSS])
    status, headers, body = http(server.url + "/")
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert XSS not in page
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    scripts = re.findall(r"<script[^>]*>", page)
    assert len(scripts) == 1 and 'src="/static/leaderboard.js' in scripts[0]
    assert re.search(r"<script[^>]*>\s*[^<\s]", page) is None, "no inline script"
    assert page.startswith("<!doctype html>")
    assert "http://" not in page and "https://" not in page, "nothing from a CDN"
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', page):
        assert http(server.url + asset)[0] == 200, asset
    assert "MCA (reference)" in page


def test_page_script_writes_names_with_textcontent_only():
    """Does the page's script avoid innerHTML and friends, so that names stay text?"""
    from datathon.leaderboard import server

    script = (Path(server.__file__).parent / "static" / "leaderboard.js").read_text()
    script = re.sub(r"/\*.*?\*/|//[^\n]*", "", script, flags=re.S)  # code only, not comments
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    assert "textContent" in script


def test_api_leaderboard_is_json_for_the_page(served):
    """Does GET /api/leaderboard give standings, the MCA reference and the plot series as JSON?"""
    server, ev, tokens = served
    service.submit_frame(ev, predictions(truth_of(ev), 0.6), team="Alpha", token=tokens["Alpha"])
    status, headers, body = http(server.url + "/api/leaderboard")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert headers["X-Content-Type-Options"] == "nosniff"
    board = loads(body)
    assert board["teams"][0]["team"] == "Alpha" and board["teams"][0]["rank"] == 1
    assert board["reference"]["team"] == "MCA" and board["reference"]["public_score"] > 0
    assert board["plot"]["reference"] == board["reference"]["public_score"]
    names = {t["team"] for t in board["plot"]["teams"]}
    assert XSS in names, "JSON carries the name as data; the page escapes it"
    assert board["refresh_seconds"] == 10


# ---------------------------------------------------------------------------------------------
# the submission endpoint


def test_submit_endpoint_scores_records_and_ranks(served):
    """Does POST /api/submit with the team's token return the public metrics and the rank, and
    does the leaderboard then show the submission?"""
    server, ev, tokens = served
    status, _, body = post(server, csv_bytes(ev), "Alpha", tokens["Alpha"], filename="../../etc/my preds.csv")
    assert status == 200, body
    result = loads(body)
    assert result["team"] == "Alpha" and result["rank"] == 1 and result["submission"] == 1
    assert result["filename"] == "my preds.csv", "only the base name is kept"
    assert result["public"]["success_rate"] == result["public_score"]
    assert "by_noise" not in result["public"]
    board = loads(http(server.url + "/api/leaderboard")[2])
    assert board["teams"][0]["submissions"] == 1
    # the same body again: recorded, and flagged
    again = loads(post(server, csv_bytes(ev), "Alpha", tokens["Alpha"])[2])
    assert again["duplicate_of"] == 1


def test_submit_endpoint_takes_the_team_from_a_header(served):
    """Can the team come percent-encoded in the X-Datathon-Team header (non-ASCII names)?"""
    server, ev, tokens = served
    status, _, body = http(
        server.url + "/api/submit",
        data=csv_bytes(ev),
        headers={"Authorization": f"Bearer {tokens['Les Sirènes']}",
                 "X-Datathon-Team": urllib.parse.quote("Les Sirènes")},  # fmt: skip
        method="POST",
    )
    assert status == 200, body
    assert loads(body)["team"] == "Les Sirènes"


def test_submit_endpoint_accepts_a_multipart_upload(served):
    """Does a multipart form upload (`curl -F file=@preds.csv`) work like a raw body?"""
    server, ev, tokens = served
    boundary = "----datathon-test-boundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"preds.csv\"\r\n"
        "Content-Type: text/csv\r\n\r\n"
    ).encode() + csv_bytes(ev) + f"\r\n--{boundary}--\r\n".encode()
    status, _, raw = http(
        server.url + "/api/submit?team=Alpha",
        data=body,
        headers={"Authorization": f"Bearer {tokens['Alpha']}",
                 "Content-Type": f"multipart/form-data; boundary={boundary}"},  # fmt: skip
        method="POST",
    )
    assert status == 200, raw
    assert loads(raw)["filename"] == "preds.csv"


def test_a_running_server_follows_an_event_recreated_under_it(served, world):
    """After `init --force` re-creates the event, does the running server serve the new one
    (its teams, its truth) rather than its cached copy of the old one?"""
    server, ev, tokens = served
    assert post(server, csv_bytes(ev), "Alpha", tokens["Alpha"])[0] == 200
    new_tokens = {}
    service.init_event(ev, world, force=True, public_share=0.3)
    new_tokens["Omega"] = service.add_team(ev, "Omega")
    board = loads(http(server.url + "/api/leaderboard")[2])
    assert [t["team"] for t in board["teams"]] == ["Omega"]
    assert board["event"]["public_share"] == 0.3
    assert post(server, csv_bytes(ev), "Alpha", tokens["Alpha"])[0] == 401
    status, _, raw = post(server, csv_bytes(ev), "Omega", new_tokens["Omega"])
    assert status == 200, raw
    assert loads(raw)["public"]["n_bulletins"] == board["event"]["n_public"]


REFUSALS = {
    # case: (team, token key or literal, body kind, status, reason)
    "no Authorization header": ("Alpha", None, "good", 401, "bad_token"),
    "wrong token": ("Alpha", "literal:wrong-token-123", "good", 401, "bad_token"),
    "another team's token": ("Beta", "Alpha", "good", 401, "bad_token"),
    "unknown team": ("Zeta", "Alpha", "good", 401, "bad_token"),
    "no team": (None, "Alpha", "good", 400, "bad_request"),
    "bad file": ("Alpha", "Alpha", "bad", 400, "bad_file"),
    "empty body": ("Alpha", "Alpha", "empty", 400, "bad_file"),
    "quota used up": ("Beta", "Beta", "good", 429, "quota"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_submit_endpoint_refusals_are_json_and_write_nothing(served, case):
    """Is each refused request answered with its status and a one-line JSON error, leaving
    every event file (bytes and mtime) as it was?"""
    server, ev, tokens = served
    team, token_key, kind, status, reason = REFUSALS[case]
    if case == "quota used up":
        for seed in range(3):
            assert post(server, csv_bytes(ev, seed=seed), "Beta", tokens["Beta"])[0] == 200
    token = None if token_key is None else (token_key[8:] if token_key.startswith("literal:") else tokens[token_key])
    body = {"good": csv_bytes(ev), "bad": b"CABBI;siret\n123;456\n", "empty": b""}[kind]
    before = snapshot(ev)
    got, headers, raw = post(server, body, team, token)
    assert got == status, raw
    error = loads(raw)
    assert error["reason"] == reason
    assert error["error"] and "\n" not in error["error"]
    if status == 401:
        assert headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert snapshot(ev) == before


def test_an_oversized_body_gets_413_and_writes_nothing(served):
    """Is a body over the limit refused with 413 and a JSON error (announced by Content-Length,
    or sent in chunks), and does an absurd one not go through either?"""
    server, ev, tokens = served
    before = snapshot(ev)
    big = b"CABBI;siret\n" + b"0000000000;\n" * (LIMIT // 10)
    status, _, raw = post(server, big, "Alpha", tokens["Alpha"])
    assert status == 413 and loads(raw)["reason"] == "too_large"

    # chunked: no Content-Length, the server counts
    try:
        status, body = post_chunked(server, "Alpha", tokens["Alpha"], big, piece=8192, timeout=30)
        assert status == 413 and loads(body)["reason"] == "too_large"
    except (ConnectionError, httpclient.HTTPException):
        pass  # the server may also cut a body off once it has answered: never a 200

    # far beyond the limit: cut off without being read
    try:
        status, _, _ = post(server, big * 5, "Alpha", tokens["Alpha"])
        assert status in (400, 413)
    except (ConnectionError, OSError):
        pass
    assert snapshot(ev) == before
    assert post(server, csv_bytes(ev), "Alpha", tokens["Alpha"])[0] == 200, "still serving"


def test_unknown_api_paths_and_methods_answer_json(served):
    """Do an unknown /api/ path (404) and a GET on the submit endpoint (405) answer JSON errors?"""
    server, _, _ = served
    status, _, raw = http(server.url + "/api/nothing")
    assert status == 404 and loads(raw)["reason"] == "not_found"
    status, _, raw = http(server.url + "/api/submit")
    assert status == 405 and "error" in loads(raw)


# ---------------------------------------------------------------------------------------------
# private scores, the reveal


def test_private_scores_appear_nowhere_on_the_server_before_the_reveal(served):
    """Before the reveal, are private scores absent from the page, the leaderboard API and the
    submission answers; after it, are they in the API and the page?"""
    server, ev, tokens = served
    answers = [
        post(server, csv_bytes(ev, 0.2, public_quality=0.9), "Alpha", tokens["Alpha"])[2],
        post(server, csv_bytes(ev, 0.9, public_quality=0.4), "Beta", tokens["Beta"])[2],
    ]
    import sqlite3

    with sqlite3.connect(ev / "leaderboard.sqlite") as conn:
        private = [r[0] for r in conn.execute("SELECT private_score FROM submissions")]
        ref = json.loads(conn.execute("SELECT value FROM meta WHERE key='reference'").fetchone()[0])
    private.append(ref["private_score"])
    forms = [f for s in private for f in (repr(s), json.dumps(s), f"{100 * s:.2f} %", f"{100 * s:.2f}")]
    page = http(server.url + "/")[2].decode()
    api = http(server.url + "/api/leaderboard")[2].decode()
    for text in (page, api, *(a.decode() for a in answers)):
        for form in forms:  # as a whole number: a private 0.17 is not found inside a public 0.1725
            assert not re.search(rf"(?<![\d.]){re.escape(form)}(?![\d])", text), form
    for obj in (json.loads(api), *(loads(a) for a in answers)):
        assert not any("private" in k for k in json_keys(obj) - {"n_private"})
    assert "Private" not in page

    service.reveal(ev)
    board = loads(http(server.url + "/api/leaderboard")[2])
    assert board["event"]["revealed"] and board["teams"][0]["team"] == "Beta"
    assert board["teams"][0]["private_score"] == pytest.approx(max(private[:2]))
    page = http(server.url + "/")[2].decode()
    assert "Final ranking" in page and f"{100 * max(private[:2]):.2f} %" in page
    # closed
    status, _, raw = post(server, csv_bytes(ev), "Alpha", tokens["Alpha"])
    assert status == 409 and loads(raw)["reason"] == "closed"


# ---------------------------------------------------------------------------------------------
# the notebook helper against the server


def test_helper_submits_to_a_server(served):
    """Does datathon.submit(frame, server=URL) return metrics and rank, and a one-line refusal on
    a bad token, a bad frame or an unreachable server?"""
    server, ev, tokens = served
    frame = predictions(truth_of(ev), 0.8)
    result = datathon.submit(frame, team="Alpha", token=tokens["Alpha"], server=server.url)
    assert result["rank"] == 1 and result["filename"] == "dataframe.csv"
    with pytest.raises(SubmissionRefused) as err:
        datathon.submit(frame, team="Alpha", token="bad", server=server.url)
    assert err.value.reason == "bad_token" and "\n" not in str(err.value)
    with pytest.raises(SubmissionRefused) as err:
        datathon.submit(frame.rename(columns={"siret": "x"}), team="Alpha", token=tokens["Alpha"], server=server.url)
    assert err.value.reason == "bad_file" and "siret" in str(err.value)
    with pytest.raises(SubmissionRefused) as err:
        datathon.submit(frame, team="Alpha", token=tokens["Alpha"], server=f"127.0.0.1:{free_port()}")
    assert err.value.reason == "unreachable"


# ---------------------------------------------------------------------------------------------
# datathon serve, end to end


def test_datathon_serve_and_submit_over_http(tmp_path, world):
    """Does `datathon serve` serve the event, `datathon submit --server` submit to it (exit 0,
    rank printed; exit 2 and one line when refused), and Ctrl-C stop it without a traceback?"""
    ev = tmp_path / "ev"
    tokens = make_event(ev, world, ["Alpha"])
    path = write_csv(predictions(truth_of(ev), 0.7), tmp_path / "p.csv")
    port = free_port()
    proc = start_serve(ev, port)
    try:
        url = f"http://127.0.0.1:{port}"
        assert http(url + "/")[0] == 200
        cmd = [sys.executable, "-m", "datathon", "submit", str(path), "--server", url, "--team", "Alpha"]
        ok = subprocess.run([*cmd, "--token", tokens["Alpha"]], capture_output=True, text=True, env=cli_env())
        assert ok.returncode == 0, ok.stderr
        assert "rank: 1 of 1" in ok.stdout and "submission 1 recorded" in ok.stdout
        env = cli_env()
        env["DATATHON_TOKEN"] = "wrong"
        bad = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr
        assert bad.stderr.strip() == "datathon submit: error: wrong token for team 'Alpha'"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    err = proc.log.read_text()
    assert proc.returncode == 130, err
    assert "Traceback" not in err


PREFIX = "/services/leaderboard/"


def test_everything_answers_under_the_base_url_and_nothing_outside(tmp_path, world):
    """Behind JupyterHub's proxy (which keeps the prefix): do the page, its JSON, its static
    files and the submission endpoint answer under --base-url, with every link in the page
    under it, the bare prefix redirected to it, and every path outside it a 404?"""
    ev = tmp_path / "ev"
    tokens = make_event(ev, world, ["Alpha"])
    server = ServerThread(ev, base_url=PREFIX).start()
    try:
        base = server.url + PREFIX
        status, _, page = http(base)
        assert status == 200
        links = re.findall(r'(?:href|src)="([^"]+)"', page.decode())
        assert links and all(link.startswith(PREFIX + "static/") or link.startswith("data:") for link in links), links
        assert 'data-api="api/leaderboard"' in page.decode(), "the page fetches relative to its own address"
        for link in links:
            if not link.startswith("data:"):
                assert http(server.url + link)[0] == 200, link
        assert loads(http(base + "api/leaderboard")[2])["event"]["name"] == "ev"
        body = predictions(truth_of(ev), 0.7).to_csv(sep=";", index=False).encode()
        status, _, raw = http(base + "api/submit?team=Alpha", data=body, method="POST",
                              headers={"Authorization": f"Bearer {tokens['Alpha']}"})  # fmt: skip
        assert status == 200 and loads(raw)["rank"] == 1
        assert datathon.submit(predictions(truth_of(ev), 0.6), team="Alpha", token=tokens["Alpha"], server=base)["rank"] == 1
        status, headers, _ = http(server.url + PREFIX.rstrip("/"))  # urllib follows the redirect
        assert status == 200
        for outside in ("/", "/api/leaderboard", "/static/leaderboard.js", "/services/", "/services/leaderboardx/"):
            assert http(server.url + outside)[0] == 404, outside
        assert http(server.url + "/api/submit?team=Alpha", data=body, method="POST",
                    headers={"Authorization": f"Bearer {tokens['Alpha']}"})[0] == 404  # fmt: skip
    finally:
        server.stop()


@pytest.mark.parametrize("bad", ["services/../x", "/a b/", "http://x/", "/x?y=1"])
def test_a_bad_base_url_is_one_line(tmp_path, world, bad):
    """Is a base URL that is not plain path segments refused in one line, naming the option?"""
    from datathon.errors import UserError
    from datathon.leaderboard import server as lb_server

    with pytest.raises(UserError, match="--base-url must be a path"):
        lb_server.clean_base_url(bad)
    assert lb_server.clean_base_url("services/leaderboard") == PREFIX and lb_server.clean_base_url("") == "/"


def test_datathon_serve_takes_its_prefix_from_jupyterhub(tmp_path, world):
    """As a JupyterHub service (``$JUPYTERHUB_SERVICE_PREFIX`` set), does `datathon serve` print
    and serve its URL under the prefix, and `datathon submit --server URL/prefix/` submit to it?"""
    ev = tmp_path / "ev"
    tokens = make_event(ev, world, ["Alpha"])
    path = write_csv(predictions(truth_of(ev), 0.7), tmp_path / "p.csv")
    port = free_port()
    proc = start_serve(ev, port, env={"JUPYTERHUB_SERVICE_PREFIX": PREFIX})
    try:
        assert proc.url == f"http://127.0.0.1:{port}{PREFIX}"
        assert http(proc.url)[0] == 200 and http(f"http://127.0.0.1:{port}/")[0] == 404
        ok = subprocess.run([sys.executable, "-m", "datathon", "submit", str(path), "--server", proc.url, "--team",
                             "Alpha", "--token", tokens["Alpha"]], capture_output=True, text=True, env=cli_env())  # fmt: skip
        assert ok.returncode == 0 and "rank: 1 of 1" in ok.stdout, ok.stderr
    finally:
        stop_serve(proc)


def test_datathon_serve_reports_a_taken_port_in_one_line(tmp_path, world):
    """Does `datathon serve` on a port already in use fail with exit 2 and one line?"""
    import socket

    ev = tmp_path / "ev"
    make_event(ev, world, [])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "datathon", "serve", "--event", str(ev), "--port", str(port)],
            capture_output=True, text=True, env=cli_env(), timeout=60,
        )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("datathon serve: error: cannot listen on 127.0.0.1:")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_vanished_event_gives_a_readable_503(served):
    """If the event directory disappears under the server, do the page and the API answer 503
    with the reason in one line (and no traceback) instead of crashing?"""
    import shutil

    server, ev, _ = served
    shutil.rmtree(ev)
    status, _, raw = http(server.url + "/api/leaderboard")
    assert status == 503
    error = loads(raw)
    assert error["reason"] == "unavailable" and "no event directory" in error["error"]
    status, _, raw = http(server.url + "/")
    assert status == 503 and b"Traceback" not in raw and b"no event directory" in raw


# ---------------------------------------------------------------------------------------------
# issue 12: the HTTP layer under abuse (raw sockets where urllib would hide what is on the wire)


@pytest.fixture
def uploading(tmp_path, world):
    """``served``, with the bodies streamed into a directory the test watches: (server, event,
    tokens, that directory)."""
    ev = tmp_path / "ev"
    tokens = make_event(ev, world, ["Alpha", "Beta", XSS, "Les Sirènes"], quota=3)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    server = ServerThread(ev, max_body_bytes=LIMIT, upload_dir=uploads).start()
    try:
        yield server, ev, tokens, uploads
    finally:
        server.stop()


def open_upload(port: int, team: str | None, token: str | None, length: int, *, expect: bool = False,
                extra: dict[str, str] | None = None) -> Any:  # fmt: skip
    """A socket on which a POST /api/submit has sent its headers and no body byte yet."""
    headers = {"Host": "127.0.0.1", "Content-Type": "text/csv", "Content-Length": str(length), **(extra or {})}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if expect:
        headers["Expect"] = "100-continue"
    query = f"?team={urllib.parse.quote(team)}" if team is not None else ""
    head = f"POST /api/submit{query} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)  # a hang guard, not a deadline
    sock.sendall((head + "\r\n").encode("latin-1"))
    return sock


def read_response(sock: Any) -> tuple[int, dict[str, str], bytes]:
    """One response from a raw socket: (status, lower-cased headers, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a complete response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", 0))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body[:length]


def is_closed(sock: Any) -> bool:
    """Has the server closed this connection (end of stream, or reset)?"""
    try:
        return sock.recv(65536) == b""
    except ConnectionError:
        return True


def wait_until(condition, what: str, tries: int = 200, pause: float = 0.05) -> None:
    """Poll ``condition`` a bounded number of times (for what the server does after answering)."""
    import time

    for _ in range(tries):
        if condition():
            return
        time.sleep(pause)
    raise AssertionError(f"never happened: {what}")


def assert_no_traceback(caplog) -> None:
    assert "Traceback" not in caplog.text, caplog.text
    assert not [r for r in caplog.records if r.exc_info], caplog.text


def assert_one_line_error(raw: bytes, reason: str | tuple[str, ...]) -> dict:
    error = loads(raw)
    assert error["reason"] in ((reason,) if isinstance(reason, str) else reason), error
    assert error["error"] and "\n" not in error["error"] and "Traceback" not in error["error"]
    return error


def test_a_submission_without_a_valid_token_is_refused_before_its_body(tmp_path, world):
    """Is a POST without a token, with a wrong token, another team's token or an unknown team
    answered 401 (JSON, WWW-Authenticate) while the client has sent no body byte: at once to a
    client that waits for 100 Continue, and with the connection closed, unread, for a 190 MiB
    body? Is a request without a team, or with a bad request id, refused (400) the same way?"""
    ev = tmp_path / "ev"
    tokens = make_event(ev, world, ["Alpha", "Beta"])
    server = ServerThread(ev, max_body_bytes=400_000_000).start()  # the size limit is not what refuses
    try:
        before = snapshot(ev)
        cases = [("Alpha", None, 401), ("Alpha", "wrong-token-123", 401), ("Beta", tokens["Alpha"], 401),
                 ("Zeta", tokens["Alpha"], 401), (None, tokens["Alpha"], 400)]  # fmt: skip
        for team, token, status in cases:
            for expect in (True, False):
                sock = open_upload(server.port, team, token, 190 * 2**20, expect=expect)
                try:
                    got, headers, raw = read_response(sock)
                    assert got == status, (team, token, expect, got, raw)  # not 100 Continue
                    assert_one_line_error(raw, "bad_token" if status == 401 else "bad_request")
                    if status == 401:
                        assert headers["www-authenticate"].startswith("Bearer")
                    assert headers["connection"] == "close" and is_closed(sock), "the body is not waited for"
                finally:
                    sock.close()
        for bad_id in ("", "x" * 65, "two words", "a/b"):
            sock = open_upload(server.port, "Alpha", tokens["Alpha"], 1000, expect=True, extra={"X-Request-Id": bad_id})
            try:
                got, _, raw = read_response(sock)
                assert got == 400 and assert_one_line_error(raw, "bad_request")["error"].startswith("the request id")
            finally:
                sock.close()
        assert snapshot(ev) == before
        assert post(server, csv_bytes(ev), "Alpha", tokens["Alpha"])[0] == 200, "still serving"
    finally:
        server.stop()


SERVE_SNIPPET = """
import sys
from datathon.leaderboard.server import serve
serve(sys.argv[1], port=int(sys.argv[2]), max_body_bytes=int(sys.argv[3]), ready=lambda url: print(url, flush=True))
"""


def _rss(pid: int) -> int:
    """Resident memory of a process, in bytes."""
    try:
        import psutil
    except ImportError:
        status = Path(f"/proc/{pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024
    return psutil.Process(pid).memory_info().rss


def test_unauthenticated_190_mib_uploads_leave_the_server_memory_flat(tmp_path, world):
    """Four 190 MiB uploads at once without a token, then four with a wrong token, to a real
    server process whose size limit would let them in: does its resident memory grow by less
    than 50 MB (it used to buffer every body: +190 MB each), is each connection cut before its
    body is through, and does the server then still record a good submission?"""
    import threading
    import time

    ev = tmp_path / "ev"
    tokens = make_event(ev, world, ["Alpha"])
    port, size = free_port(), 190 * 2**20
    with open(tmp_path / "serve.log", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVE_SNIPPET, str(ev), str(port), str(400_000_000)],
            stdout=subprocess.PIPE, stderr=err, text=True, env=cli_env(),
        )  # fmt: skip
    try:
        assert f"127.0.0.1:{port}" in proc.stdout.readline(), (tmp_path / "serve.log").read_text()
        url = f"http://127.0.0.1:{port}"
        # Warm up: the page, the API and one refusal (imports, thread pools, first allocations).
        assert http(url + "/")[0] == 200 and http(url + "/api/leaderboard")[0] == 200
        assert http(url + "/api/submit?team=Alpha", data=b"CABBI;siret\n", method="POST",
                    headers={"Authorization": "Bearer nope"})[0] == 401  # fmt: skip
        before = snapshot(ev)
        baseline = _rss(proc.pid)
        peak, done = [baseline], threading.Event()

        def sample() -> None:
            while not done.wait(0.02):
                peak.append(_rss(proc.pid))

        def push(token: str | None, out: list) -> None:
            block, sent, answer = memoryview(bytes(2**20)), 0, b""
            sock = open_upload(port, "Alpha", token, size)
            deadline = time.monotonic() + 120  # a hang guard
            try:
                while sent < size and time.monotonic() < deadline:
                    sent += sock.send(block[: min(len(block), size - sent)])
            except OSError:
                pass  # cut off: what we want
            try:
                answer = sock.recv(65536)
            except OSError:
                pass
            sock.close()
            out.append((sent, answer))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        results: list = []
        try:
            for token in (None, "wrong-token-123"):
                pushers = [threading.Thread(target=push, args=(token, results)) for _ in range(4)]
                for t in pushers:
                    t.start()
                for t in pushers:
                    t.join(180)
        finally:
            done.set()
            sampler.join(10)
        growth = max(peak) - baseline
        assert growth < 50e6, f"the server grew by {growth / 1e6:.0f} MB"
        assert len(results) == 8
        for sent, answer in results:
            assert sent < size, "the server read a whole unauthenticated body"
            assert not answer or answer.startswith(b"HTTP/1.1 401"), answer[:200]
        assert snapshot(ev) == before
        status, _, raw = http(url + "/api/submit?team=Alpha", data=csv_bytes(ev), method="POST",
                              headers={"Authorization": f"Bearer {tokens['Alpha']}"})  # fmt: skip
        assert status == 200, raw
        assert proc.poll() is None
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def test_uploads_in_flight_are_bounded_and_one_more_is_told_to_retry(uploading):
    """With MAX_UPLOADS uploads accepted and not finished, is one more answered 503 JSON
    (reason busy, "retry in a few seconds", Retry-After) before its body, and do the slots come
    back both from clients that give up mid-body and from completed submissions?"""
    from datathon.leaderboard import server as server_module

    server, ev, tokens, uploads = uploading
    body = csv_bytes(ev)
    teams = ["Alpha", "Beta", XSS, "Les Sirènes"]
    assert server_module.MAX_UPLOADS == len(teams)
    held = []
    try:
        for team in teams:
            sock = open_upload(server.port, team, tokens[team], len(body), expect=True)
            held.append(sock)
            assert read_response(sock)[0] == 100, "accepted: authenticated, a slot taken"
        assert len(list(uploads.iterdir())) == len(teams), "one temporary file per upload in flight"
        sock = open_upload(server.port, "Alpha", tokens["Alpha"], len(body), expect=True)
        try:
            status, headers, raw = read_response(sock)
        finally:
            sock.close()
        assert status == 503
        assert assert_one_line_error(raw, "busy")["error"].endswith("busy, retry in a few seconds")
        assert int(headers["retry-after"]) > 0
        held[0].sendall(body[:100])  # gives up mid-body
        held[0].close()
        held[1].close()  # gives up before its body
        for sock in held[2:]:
            sock.sendall(body)
            status, _, raw = read_response(sock)
            assert status == 200, raw
    finally:
        for sock in held:
            sock.close()
    wait_until(lambda: not any(uploads.iterdir()), "every temporary file removed")
    for seed, team in enumerate(teams):  # all four slots are free again, one after another
        assert post(server, csv_bytes(ev, seed=seed + 1), team, tokens[team])[0] == 200


def test_uploads_go_to_a_temporary_file_that_is_always_removed(uploading, monkeypatch):
    """Is a body (raw or the file of a multipart form) handed to the service as the path of a
    file in the upload directory, holding exactly the uploaded bytes, and is that file gone after
    a success, a refused file, a 413 in the middle of a chunked body, a malformed form and a
    client that hangs up mid-body?"""
    server, ev, tokens, uploads = uploading
    real, seen = service.submit_source, []

    def spy(event, source, **options):
        seen.append((Path(source).parent.parent, Path(source).read_bytes()))
        return real(event, source, **options)

    monkeypatch.setattr(service, "submit_source", spy)
    body = csv_bytes(ev)
    assert post(server, body, "Alpha", tokens["Alpha"])[0] == 200
    assert seen[-1] == (uploads, body) and not any(uploads.iterdir())

    boundary = "b0undary"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.csv\"\r\n\r\n").encode() \
        + body + f"\r\n--{boundary}--\r\n".encode()  # fmt: skip
    multipart = {"Authorization": f"Bearer {tokens['Beta']}",
                 "Content-Type": f"multipart/form-data; boundary={boundary}"}  # fmt: skip
    status, _, raw = http(server.url + "/api/submit?team=Beta", data=form, headers=multipart, method="POST")
    assert status == 200, raw
    assert seen[-1] == (uploads, body) and not any(uploads.iterdir())

    assert post(server, b"CABBI;siret\n123;456\n", "Alpha", tokens["Alpha"])[0] == 400
    assert not any(uploads.iterdir())
    bad_form = form.replace(f"--{boundary}--".encode(), b"")[:-10]  # truncated
    assert http(server.url + "/api/submit?team=Beta", data=bad_form, headers=multipart, method="POST")[0] == 400
    assert not any(uploads.iterdir())

    conn = httpclient.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/api/submit?team=Alpha")
    conn.putheader("Authorization", f"Bearer {tokens['Alpha']}")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    try:
        for _ in range(LIMIT // 8192 + 2):
            conn.send(b"%x\r\n%s\r\n" % (8192, b"0" * 8192))
        conn.send(b"0\r\n\r\n")
        assert conn.getresponse().status == 413
    except (ConnectionError, httpclient.HTTPException):
        pass
    finally:
        conn.close()
    wait_until(lambda: not any(uploads.iterdir()), "the file of a 413 removed")

    sock = open_upload(server.port, "Alpha", tokens["Alpha"], len(body), expect=True)
    assert read_response(sock)[0] == 100
    sock.sendall(body[: len(body) // 2])
    wait_until(lambda: any(uploads.iterdir()), "the upload started")
    sock.close()
    wait_until(lambda: not any(uploads.iterdir()), "the file of an abandoned upload removed")
    assert len(seen) == 3, "refused before the service"


def test_the_default_size_limit_follows_the_event(tmp_path, world):
    """Without max_body_bytes, is the limit derived from the event's test bulletins: above the
    largest realistic file (ten candidates per bulletin, full-precision scores), within a small
    factor of it, far under the old fixed 200 MB, and enforced (413)? Does an explicit
    max_body_bytes still win?"""
    from datathon.leaderboard import DEFAULT_MAX_BODY_BYTES
    from datathon.leaderboard import server as server_module

    ev = tmp_path / "ev"
    tokens = make_event(ev, world, ["Alpha"])
    truth = truth_of(ev)
    sirets = list(truth[schema.TRUTH_COLUMN].dropna())
    lines = ["CABBI;siret;score;rank"]
    for i, cabbi in enumerate(truth["CABBI"]):
        for rank in range(1, 11):
            lines.append(f"{cabbi};{sirets[(i + rank) % len(sirets)]};{1 / (3 + i + rank)!r};{rank}")
    worst = len(("\r\n".join(lines) + "\r\n").encode())
    app = server_module.make_app(ev)
    limit = app.settings["max_body_bytes"]
    server_module.shutdown(app)
    assert worst <= limit < 3 * worst and limit < DEFAULT_MAX_BODY_BYTES / 100, (worst, limit)
    app = server_module.make_app(ev, max_body_bytes=123_456)
    assert app.settings["max_body_bytes"] == 123_456
    server_module.shutdown(app)

    server = ServerThread(ev).start()
    try:
        status, _, raw = post(server, b"CABBI;siret\n" + b"0" * limit, "Alpha", tokens["Alpha"])
        assert status == 413 and loads(raw)["reason"] == "too_large"
    finally:
        server.stop()


def test_a_request_id_is_checked_and_handed_to_the_service(served, monkeypatch):
    """Is a request id (X-Request-Id or ?request_id=) of 1-64 characters among A-Z a-z 0-9 . _ -
    passed to service.submit_source(request_id=...), and any other value refused with a 400 JSON
    error before anything is recorded?"""
    from datathon.leaderboard import server as server_module

    server, ev, tokens = served
    real, seen = service.submit_source, []

    def spy(event, source, *, team, token, filename=None, now=None, request_id=None):
        seen.append(request_id)
        extra = {"request_id": request_id} if server_module._takes(real, "request_id") else {}
        return real(event, source, team=team, token=token, filename=filename, now=now, **extra)

    monkeypatch.setattr(service, "submit_source", spy)
    before = snapshot(ev)
    for header, query in (({"X-Request-Id": "a" * 65}, {}), ({"X-Request-Id": "é"}, {}), ({}, {"request_id": "a b"}),
                          ({}, {"request_id": ""}), ({}, {"request_id": "../x"})):  # fmt: skip
        status, _, raw = http(server.url + "/api/submit?" + urllib.parse.urlencode({"team": "Alpha", **query}),
                              data=csv_bytes(ev), method="POST",
                              headers={"Authorization": f"Bearer {tokens['Alpha']}", **header})  # fmt: skip
        assert status == 400 and assert_one_line_error(raw, "bad_request")["error"].startswith("the request id")
    assert seen == [] and snapshot(ev) == before
    headers = {"Authorization": f"Bearer {tokens['Alpha']}", "X-Request-Id": "run-7.A_b"}
    status, _, raw = http(server.url + "/api/submit?team=Alpha", data=csv_bytes(ev), method="POST", headers=headers)
    assert status == 200, raw
    assert post(server, csv_bytes(ev, seed=1), "Alpha", tokens["Alpha"], request_id="x" * 64)[0] == 200
    assert post(server, csv_bytes(ev, seed=2), "Alpha", tokens["Alpha"])[0] == 200
    assert seen == ["run-7.A_b", "x" * 64, None]


def _form(boundary: str, *parts: tuple[str, bytes], preamble: bytes = b"", close: bool = True) -> bytes:
    body = preamble
    for headers, content in parts:
        body += f"--{boundary}\r\n{headers}\r\n\r\n".encode() + content + b"\r\n"
    return body + (f"--{boundary}--\r\n".encode() if close else b"")


def test_malformed_multipart_bodies_answer_400_json_without_traceback(served, caplog):
    """Does every malformed multipart body (no, empty or oversized boundary, a boundary absent
    from the body, a truncated body, no file, malformed part headers) get a 400 JSON error in one
    line, with no traceback in the log and nothing recorded? And does a valid form still work when
    it arrives in 7-byte chunks, with a preamble, a text field first and an RFC 2231 file name?"""
    caplog.set_level(logging.INFO)
    server, ev, tokens = served
    csv = csv_bytes(ev)
    file_part = ('Content-Disposition: form-data; name="file"; filename="p.csv"\r\nContent-Type: text/csv', csv)
    cases = {
        "no boundary": ("multipart/form-data", _form("xyz", file_part)),
        "empty boundary": ('multipart/form-data; boundary=""', _form("xyz", file_part)),
        "boundary of 71 characters": (f"multipart/form-data; boundary={'b' * 71}", _form("b" * 71, file_part)),
        "boundary with a control character": ('multipart/form-data; boundary="a\tb"', _form("a\tb", file_part)),
        "boundary absent from the body": ("multipart/form-data; boundary=abc", _form("xyz", file_part)),
        "truncated in the file": ("multipart/form-data; boundary=xyz", _form("xyz", file_part, close=False)[:-200]),
        "truncated in the headers": ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form-d"),
        "no file part": ("multipart/form-data; boundary=xyz",
                         _form("xyz", ('Content-Disposition: form-data; name="a"', b"1"))),
        "an empty file name": ("multipart/form-data; boundary=xyz",
                               _form("xyz", ('Content-Disposition: form-data; name="f"; filename=""', csv))),
        "no parts": ("multipart/form-data; boundary=xyz", b"--xyz--\r\n"),
        "part headers too long": ("multipart/form-data; boundary=xyz", b"--xyz\r\nX-Pad: " + b"a" * 40_000),
        "garbage after a boundary": ("multipart/form-data; boundary=xyz", b"--xyzGARBAGE\r\n\r\n" + csv),
        "a header line without a colon": ("multipart/form-data; boundary=xyz", _form("xyz", ("no colon here", csv))),
    }  # fmt: skip
    before = snapshot(ev)
    for case, (content_type, body) in cases.items():
        request = {"Authorization": f"Bearer {tokens['Alpha']}", "Content-Type": content_type}
        status, headers, raw = http(server.url + "/api/submit?team=Alpha", data=body, method="POST", headers=request)
        assert status == 400, (case, status, raw)
        assert headers["Content-Type"].startswith("application/json"), case
        assert_one_line_error(raw, ("bad_request", "bad_file"))
    assert snapshot(ev) == before
    assert_no_traceback(caplog)

    form = _form(
        "----a'b(c)+_,-./:=?",
        ('Content-Disposition: form-data; name="note"', b"--not the boundary\r\n"),
        ("Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''pr%C3%A9ds.csv", csv),
        ('Content-Disposition: form-data; name="later"; filename="ignored.csv"', b"ignored"),
        preamble=b"a preamble, to be ignored\r\n",
    )
    status, body = post_chunked(server, "Beta", tokens["Beta"], form, piece=7, timeout=60,
                                content_type='multipart/form-data; boundary="----a\'b(c)+_,-./:=?"')
    result = loads(body)
    assert status == 200, result
    assert result["filename"] == "préds.csv"
    assert result["sha256"] == hashlib.sha256(csv).hexdigest(), "exactly the file part's bytes"
    assert_no_traceback(caplog)


STATIC_ODDITIES = [
    "/static/x%00.css", "/static/leaderboard.js%00", "/static/..%2F..%2Fserver.py", "/static/..%2fserver.py",
    "/static/%2e%2e/%2e%2e/server.py", "/static/../server.py", "/static/..%5Cserver.py", "/static/nothing.css",
    "/static/", "/static/%ff.css", "/static/.hidden", "/static/leaderboard.js/", "/static//etc/passwd",
    "/static/leaderboard.js%0d%0aX-Injected:%201", "/static/" + "a" * 300 + ".css",
]  # fmt: skip


def test_static_oddities_answer_400_or_404_without_traceback(served, caplog):
    """Does every odd /static/ path (a NUL, .., encoded slashes and backslashes, absent files,
    a directory, bad UTF-8, CRLF) answer 400 or 404 with the security headers, never 500, with
    no traceback in the log, while the real files are still served?"""
    caplog.set_level(logging.INFO)
    server, _, _ = served
    for path in STATIC_ODDITIES:
        conn = httpclient.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            conn.putrequest("GET", path, skip_accept_encoding=True)  # sent as written, not normalised
            conn.endheaders()
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        assert response.status in (400, 404), (path, response.status, body)
        assert response.getheader("X-Injected") is None
        for name, value in SECURITY_HEADERS().items():
            assert response.getheader(name) == value, (path, name)
        assert b"Traceback" not in body and b"server.py" not in body
    for asset in ("/static/leaderboard.js", "/static/leaderboard.css"):
        assert http(server.url + asset)[0] == 200
    assert_no_traceback(caplog)


def SECURITY_HEADERS() -> dict[str, str]:
    from datathon.leaderboard import server as server_module

    return server_module._SECURITY_HEADERS


def test_every_response_carries_the_security_headers(served, monkeypatch):
    """Do static files, 404s (pages, API, static), 405s, 401s and 500s (page and API, Tornado's
    own error pages included) all carry the Content-Security-Policy, nosniff and Referrer-Policy
    headers, with no traceback in any body?"""
    server, ev, tokens = served
    requests = [("GET", "/static/leaderboard.js", 200), ("HEAD", "/static/leaderboard.css", 200),
                ("GET", "/static/missing.css", 404), ("GET", "/nothing/here", 404), ("GET", "/api/nothing", 404),
                ("DELETE", "/", 405), ("POST", "/api/leaderboard", 405), ("GET", "/api/submit", 405),
                ("PUT", "/static/leaderboard.js", 405), ("POST", "/api/submit?team=Alpha", 401),
                ("GET", "/", 200), ("GET", "/api/leaderboard", 200)]  # fmt: skip

    def check(method: str, path: str, status: int) -> None:
        got, headers, body = http(server.url + path, method=method, data=b"x" if method in ("POST", "PUT") else None)
        assert got == status, (method, path, got, body)
        for name, value in SECURITY_HEADERS().items():
            assert headers.get(name) == value, (method, path, name)
        assert b"Traceback" not in body

    for method, path, status in requests:
        check(method, path, status)

    def broken(event):
        raise RuntimeError("a bug")

    monkeypatch.setattr(service, "board", broken)
    check("GET", "/", 500)
    check("GET", "/api/leaderboard", 500)


def test_the_logs_never_hold_a_token(served, monkeypatch, caplog):
    """Are token-like query arguments (token, access_token, api_key, Api-Key, password, session,
    a percent-encoded name) and Authorization values absent from every log record: the access
    log, an uncaught exception's log and a malformed request's log, while the rest of the line
    (path, team) stays readable?"""
    caplog.set_level(logging.INFO)
    for name in ("tornado.access", "tornado.application", "tornado.general", "datathon.leaderboard"):
        # Another test of this worker may have configured these loggers (serve() does): make them reach caplog.
        caplog.set_level(logging.INFO, logger=name)
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
    server, ev, tokens = served
    secrets = [f"SECRET{i}x" for i in range(11)]
    http(server.url + f"/?token={secrets[0]}")
    http(server.url + f"/api/leaderboard?access_token={secrets[1]}&api_key={secrets[2]}")
    http(server.url + f"/static/leaderboard.css?Api-Key={secrets[3]}")
    http(server.url + f"/nothing?password={secrets[4]}&session={secrets[5]}&%74oken={secrets[6]}")
    status, _, _ = http(server.url + f"/api/submit?team=Alpha&token={secrets[7]}", data=csv_bytes(ev),
                        headers={"Authorization": f"Bearer {secrets[8]}"}, method="POST")  # fmt: skip
    assert status == 401
    assert post(server, csv_bytes(ev), "Alpha", tokens["Alpha"])[0] == 200
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:  # a control character makes Tornado log the malformed header
        sock.sendall(f"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {secrets[9]}\x01\r\n\r\n".encode())
        sock.recv(65536)
    except ConnectionError:
        pass
    finally:
        sock.close()

    def broken(event):
        raise RuntimeError("a bug")

    monkeypatch.setattr(service, "board", broken)
    assert http(server.url + f"/api/leaderboard?token={secrets[10]}")[0] == 500  # logged before answered
    assert "RuntimeError: a bug" in caplog.text
    text = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    for secret in (*secrets, tokens["Alpha"]):
        assert secret not in text, secret
    def access() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "tornado.access"]

    deadline = time.monotonic() + 15  # the server logs a request once it is finished: maybe after the client read it
    while not any("/api/submit?team=Alpha&token=[redacted]" in line for line in access()) and time.monotonic() < deadline:
        time.sleep(0.1)
    access = access()
    assert any("/api/submit?team=Alpha&token=[redacted]" in line for line in access), access
    assert any("/static/leaderboard.css" in line for line in access)


def test_storage_failures_answer_503_unavailable_in_one_line(served, monkeypatch, caplog):
    """When storage fails (StorageUnavailable from the service, a locked or full SQLite database,
    a full or read-only disk), do the API answer a JSON 503 {"error": one line, "reason":
    "unavailable"} and the page a short plain-text 503, never a 500, with no traceback in the log?"""
    import errno
    import sqlite3

    from datathon.leaderboard import StorageUnavailable
    from datathon.leaderboard import server as server_module

    caplog.set_level(logging.INFO)
    server, ev, tokens = served
    failures = [
        StorageUnavailable("the event directory is read-only: tell the instructor"),
        sqlite3.OperationalError("database is locked"),
        sqlite3.OperationalError("database or disk is full"),
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EROFS, "Read-only file system"),
    ]

    def failing(error):
        def fail(*args, **kwargs):
            raise error

        return fail

    def assert_unavailable(status: int, raw: bytes) -> None:
        assert status == 503, raw
        assert_one_line_error(raw, "unavailable")

    for error in failures:
        with monkeypatch.context() as patch:
            patch.setattr(service, "board", failing(error))
            assert_unavailable(*http(server.url + "/api/leaderboard")[::2])
            status, headers, raw = http(server.url + "/")
            assert status == 503 and headers["Content-Type"].startswith("text/plain")
            assert raw.startswith(b"503 ") and raw.count(b"\n") == 1 and len(raw) < 300
        with monkeypatch.context() as patch:
            patch.setattr(service, "submit_source", failing(error))
            assert_unavailable(*post(server, csv_bytes(ev), "Alpha", tokens["Alpha"])[::2])
        with monkeypatch.context() as patch:
            patch.setattr(service, "authenticate", failing(error))
            assert_unavailable(*post(server, csv_bytes(ev), "Alpha", tokens["Alpha"])[::2])
    with monkeypatch.context() as patch:  # the temporary file of the upload
        patch.setattr(server_module._Upload, "write", failing(OSError(errno.ENOSPC, "No space left on device")))
        assert_unavailable(*post(server, csv_bytes(ev), "Alpha", tokens["Alpha"])[::2])
    assert_no_traceback(caplog)
    assert post(server, csv_bytes(ev), "Alpha", tokens["Alpha"])[0] == 200, "back to normal"
