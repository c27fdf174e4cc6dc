"""The leaderboard server: the page, the JSON API, the submission endpoint, and ``datathon serve``.

Most tests run the Tornado app on 127.0.0.1 and a free port in a background thread and talk to it
with urllib; one test starts ``python -m datathon serve`` itself and submits with
``datathon submit --server``.
"""
from __future__ import annotations

import http.client as httpclient
import json
import re
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

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
    truth_of,
    write_csv,
    write_event_world,
)

import datathon
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
    conn = httpclient.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/api/submit?team=Alpha")
    conn.putheader("Authorization", f"Bearer {tokens['Alpha']}")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    try:
        for start in range(0, len(big), 8192):
            chunk = big[start : start + 8192]
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        assert response.status == 413 and loads(response.read())["reason"] == "too_large"
    except (ConnectionError, httpclient.HTTPException):
        pass  # the server may also cut a body off once it has answered: never a 200
    finally:
        conn.close()

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
        for form in forms:
            assert form not in text, form
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
