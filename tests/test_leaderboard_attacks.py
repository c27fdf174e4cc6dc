"""The leaderboard against the holes of issue 12: split probes, retried submissions, storage
failures, look-alike team names, mathtext in names, files that are not files, tokens in ``ps``.

Each test was written to fail on the code before the fix. The storage tests need a read-only file
system and a tiny full one: as root (CI) they mount them (a read-only bind mount, a small tmpfs);
otherwise the read-only case falls back to ``chmod`` and the full disk is skipped, saying why.
"""
from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from leaderboard_fixtures import (
    SECRET_LINE,
    cli_env,
    make_event,
    odd_paths,
    predictions,
    snapshot,
    truth_of,
    world,  # noqa: F401 (a pytest fixture)
    write_csv,
)

import datathon
from datathon.errors import UserError
from datathon.leaderboard import StorageUnavailable, SubmissionRefused, client, plot, service, store


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m datathon ARGS`` as a user would run it."""
    return subprocess.run([sys.executable, "-m", "datathon", *map(str, args)], capture_output=True, text=True,
                          env=env or cli_env(), timeout=timeout)  # fmt: skip


def one_line_error(proc: subprocess.CompletedProcess, command: str) -> str:
    """Exit 2, nothing on stdout, one line on stderr, no traceback: the user error contract."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"datathon {command}: error: "), proc.stderr
    return lines[0]


def rows(ev: Path) -> int:
    with contextlib.closing(sqlite3.connect(ev / "leaderboard.sqlite")) as conn:
        return conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]


@pytest.fixture
def event(tmp_path, world):
    """A fresh event with two teams (quota 10, rule best): ``(path, {team: token})``."""
    ev = tmp_path / "ev"
    return ev, make_event(ev, world, ["Alpha", "Beta"], quota=10)


# ---------------------------------------------------------------------------------------------
# 2. the split must not leak


def _probe(truth: pd.DataFrame, public: bool, right: bool) -> pd.DataFrame:
    """A one-line submission coding a bulletin of the public (or private) part with its true
    SIRET or with a wrong one (valid, in the register). The public and the private bulletin are
    alike in all a team can see (MCA does not code them, same collection mode), so that only the
    split could tell their answers apart."""
    alike = truth[truth["SIRET_DEC"].notna() & truth["SIRETC"].isna() & truth["TYPCOL"].eq(0)]
    pair = {part: alike[alike["PUBLIC"].eq(part)].iloc[0] for part in (True, False)}
    wrong = next(s for s in truth["SIRET_DEC"].dropna() if s not in {r["SIRET_DEC"] for r in pair.values()})
    row = pair[public]
    return pd.DataFrame({"CABBI": [row["CABBI"]], "siret": [row["SIRET_DEC"] if right else wrong]})


IDENTITY = {"submission", "submitted_at", "sha256", "request_id", "used_today", "remaining_today"}


def test_a_one_line_probe_does_not_tell_whether_its_bulletin_is_public(event):
    """Do a one-line submission of a public bulletin and one of a private bulletin (a wrong SIRET,
    or a blank one) get the same answer, field for field (n_coded, coding rate, precision, warnings,
    ...), and does a right SIRET change only what counts right codings? Do the page's board and
    the standings still work?"""
    ev, tokens = event
    truth = truth_of(ev)
    answers = {}
    for kind in ("wrong", "blank", "right"):  # the right ones last: they raise the team's score
        for public in (True, False):
            probe = _probe(truth, public, right=kind == "right")
            if kind == "blank":
                probe["siret"] = pd.array([None], dtype="string")
            answer = service.submit_frame(ev, probe, team="Alpha", token=tokens["Alpha"])
            answers[public, kind] = {k: v for k, v in answer.items() if k not in IDENTITY}
    for kind in ("wrong", "blank"):
        public, private = answers[True, kind], answers[False, kind]
        assert public == private, {k: (public["public"][k], private["public"][k]) for k in public["public"]
                                   if public["public"][k] != private["public"][k]}  # fmt: skip
    assert answers[True, "wrong"]["public"]["n_coded"] == 1 and answers[True, "blank"]["public"]["n_coded"] == 0
    public, private = answers[True, "right"]["public"], answers[False, "right"]["public"]
    differing = {k for k in public if public[k] != private[k]}
    assert differing <= {"n_correct", "success_rate", "precision", "only_team_right", "coverage_at_precision",
                         "by_typcol", "topk_accuracy"}, differing  # fmt: skip
    assert public["n_coded"] == private["n_coded"] == 1 and public["coding_rate"] == private["coding_rate"]
    board = service.board(ev)
    assert board["teams"][0]["submissions"] == 6 and service.standings(ev)["teams"][0]["rank"] == 1


def test_public_metrics_of_a_real_submission_stay_close_to_the_public_part(event):
    """On a whole submission, are the public metrics taken over the whole file (coding rate) or
    from the public part (success rate) consistent, precision being success / coding rate?"""
    ev, tokens = event
    truth = truth_of(ev)
    frame = predictions(truth, 0.8)
    frame["score"] = 1.0
    answer = service.submit_frame(ev, frame, team="Alpha", token=tokens["Alpha"])["public"]
    coded = frame["siret"].notna()
    assert answer["n_coded"] == int(coded.sum()) and answer["coding_rate"] == coded.mean()
    assert answer["precision"] == pytest.approx(min(1.0, answer["success_rate"] / answer["coding_rate"]))
    assert answer["coverage_at_precision"]["0.90"] in (0.0, answer["coding_rate"])


# ---------------------------------------------------------------------------------------------
# 3. a retried submission is recorded once


def test_a_retry_with_the_same_request_id_is_recorded_once(event):
    """When the first attempt was committed but its answer lost, does a retry with the same
    request id return that submission (replay, no quota used) instead of a second row, while
    another id, or another team's same id, records anew?"""
    ev, tokens = event
    frame = predictions(truth_of(ev), 0.6)
    service.submit_frame(ev, frame, team="Alpha", token=tokens["Alpha"], request_id="req-1")  # answer lost
    retry = service.submit_frame(ev, frame, team="Alpha", token=tokens["Alpha"], request_id="req-1")
    assert retry["replay"] is True and retry["submission"] == 1 and retry["used_today"] == 1
    assert rows(ev) == 1
    assert service.submit_frame(ev, frame, team="Alpha", token=tokens["Alpha"], request_id="req-2")["submission"] == 2
    assert service.submit_frame(ev, frame, team="Beta", token=tokens["Beta"], request_id="req-1")["replay"] is False
    assert rows(ev) == 3
    with pytest.raises(SubmissionRefused) as err:
        service.submit_frame(ev, frame, team="Alpha", token=tokens["Alpha"], request_id="two words")
    assert err.value.reason == "bad_request"


class _ForgetfulServer(http.server.ThreadingHTTPServer):
    """A leaderboard endpoint that records each submission (with the X-Request-Id header) but
    drops the connection without answering the first time, as a server killed after its commit."""

    def __init__(self, ev: Path) -> None:
        self.ev, self.requests = ev, []
        super().__init__(("127.0.0.1", 0), _ForgetfulHandler)


class _ForgetfulHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (the http.server API)
        from urllib.parse import parse_qs, urlparse

        body = self.rfile.read(int(self.headers["Content-Length"]))
        request_id = self.headers.get("X-Request-Id")
        self.server.requests.append(request_id)
        team = parse_qs(urlparse(self.path).query)["team"][0]
        token = self.headers["Authorization"].split()[-1]
        result = service.submit_source(self.server.ev, body, team=team, token=token, request_id=request_id)
        if len(self.server.requests) == 1:
            self.close_connection = True  # committed, and no answer: the connection just closes
            return
        payload = json.dumps(result).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


def test_the_client_retries_a_lost_answer_with_its_request_id(event, monkeypatch):
    """When the server commits and the answer never comes, does datathon.submit(server=...)
    retry with the same X-Request-Id and get the recorded submission back, one row in all?"""
    ev, tokens = event
    monkeypatch.setattr(client, "RETRY_WAITS", (0.0,))
    server = _ForgetfulServer(ev)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = datathon.submit(predictions(truth_of(ev), 0.7), team="Alpha", token=tokens["Alpha"], server=url)
    finally:
        server.shutdown()
        server.server_close()
    assert len(server.requests) == 2 and server.requests[0] == server.requests[1] == result["request_id"]
    assert result["replay"] is True and result["submission"] == 1
    assert rows(ev) == 1


#: Loaded at start-up by a `python -m datathon` whose PYTHONPATH holds it: when asked, the process
#: kills itself (SIGKILL) once the submission is committed, before printing the answer.
_DIE_AFTER_COMMIT = """
import os, signal
if os.environ.get("DIE_AFTER_COMMIT"):
    from datathon.leaderboard import commands
    commands.format_result = lambda result: os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_submit_retried_with_its_request_id_counts_once(event, tmp_path):
    """When `datathon submit --request-id ID` is killed (kill -9) after the commit and before its
    answer, does a retry with the same ID record nothing new and say so; and does a run without
    --request-id print the id it drew?"""
    ev, tokens = event
    path = write_csv(predictions(truth_of(ev), 0.7), tmp_path / "p.csv")
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(_DIE_AFTER_COMMIT)
    env = {**cli_env(), "DATATHON_TOKEN": tokens["Alpha"], "PYTHONPATH": str(hooks)}
    args = ("submit", path, "--event", ev, "--team", "Alpha", "--request-id", "retry-me")
    killed = run_cli(*args, env={**env, "DIE_AFTER_COMMIT": "1"})
    assert killed.returncode == -9 and killed.stdout == "" and rows(ev) == 1
    again = run_cli(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert "submission 1 recorded" in again.stdout
    assert "request id: retry-me (already recorded: this retry counted nothing)" in again.stdout
    assert rows(ev) == 1
    fresh = run_cli("submit", path, "--event", ev, "--team", "Alpha", env=env)
    assert fresh.returncode == 0 and rows(ev) == 2
    assert re.search(r"^request id: [0-9a-f-]{36}$", fresh.stdout, re.MULTILINE), fresh.stdout


def test_an_old_event_database_gets_the_request_id_column_on_open(event):
    """Is a database made before request ids (no column, no index) migrated when the event is
    opened, with a unique index per team?"""
    ev, tokens = event
    service.submit_frame(ev, predictions(truth_of(ev), 0.5), team="Alpha", token=tokens["Alpha"])
    with contextlib.closing(sqlite3.connect(ev / "leaderboard.sqlite")) as conn:
        conn.execute("DROP INDEX submissions_request")
        conn.execute("ALTER TABLE submissions DROP COLUMN request_id")
        conn.commit()
    result = service.submit_frame(ev, predictions(truth_of(ev), 0.6), team="Alpha", token=tokens["Alpha"], request_id="r")
    assert result["submission"] == 2
    with contextlib.closing(sqlite3.connect(ev / "leaderboard.sqlite")) as conn:
        indexes = {r[1]: r[2] for r in conn.execute("PRAGMA index_list(submissions)")}
        assert indexes.get("submissions_request") == 1, indexes
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE submissions SET request_id = 'r' WHERE id = 1")


# ---------------------------------------------------------------------------------------------
# 4. storage failures are one line, and write nothing


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@contextlib.contextmanager
def read_only(directory: Path):
    """``directory`` made read-only: a read-only bind mount as root (chmod does not stop root),
    ``chmod a-w`` otherwise."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    try:
        _mount("--bind", str(directory), str(directory))
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"root cannot bind-mount here ({err}): no read-only directory to test")
    try:
        _mount("-o", "remount,ro,bind", str(directory))
        yield
    finally:
        subprocess.run(["umount", str(directory)], check=False)


@contextlib.contextmanager
def tiny_disk(directory: Path, size: str = "2m"):
    """A small tmpfs at ``directory`` (root only: skipped otherwise, with the reason)."""
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a small tmpfs, which only root can mount")
    directory.mkdir(parents=True, exist_ok=True)
    try:
        _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory))
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"cannot mount a tmpfs here ({err})")
    try:
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], check=False)


def _fill(directory: Path) -> None:
    """Fill the file system of ``directory`` to the last byte."""
    with open(directory / "filler", "wb", buffering=0) as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 4096)


def test_a_read_only_event_directory_is_one_line_and_changes_nothing(event, tmp_path):
    """Do submit and add-team on a read-only event directory fail in one line (no traceback)
    that says so, leaving every file as it was?"""
    ev, tokens = event
    path = write_csv(predictions(truth_of(ev), 0.7), tmp_path / "p.csv")
    before = snapshot(ev)
    with read_only(ev):
        proc = run_cli("submit", path, "--event", ev, "--team", "Alpha", "--token", tokens["Alpha"])
        assert re.search("read-only|not writable", one_line_error(proc, "submit"))
        proc = run_cli("leaderboard", "add-team", "Gamma", "--event", ev)
        assert re.search("read-only|not writable", one_line_error(proc, "leaderboard"))
    assert snapshot(ev) == before


def test_a_locked_database_is_one_line_and_changes_nothing(event, monkeypatch):
    """While another connection holds BEGIN EXCLUSIVE, is a submission refused with
    StorageUnavailable (one line, reason unavailable; the helper: SubmissionRefused), and does it
    go through once the lock is gone?"""
    ev, tokens = event
    monkeypatch.setattr(store, "BUSY_TIMEOUT", 0.2)
    frame = predictions(truth_of(ev), 0.6)
    holder = sqlite3.connect(ev / "leaderboard.sqlite", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StorageUnavailable) as err:
            service.submit_frame(ev, frame, team="Alpha", token=tokens["Alpha"])
        assert "locked" in str(err.value) and "\n" not in str(err.value) and err.value.reason == "unavailable"
        with pytest.raises(SubmissionRefused) as refused:
            datathon.submit(frame, team="Alpha", token=tokens["Alpha"], event=ev)
        assert refused.value.reason == "unavailable"
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    assert rows(ev) == 0
    assert service.submit_frame(ev, frame, team="Alpha", token=tokens["Alpha"])["submission"] == 1


def test_a_full_disk_is_one_line_and_half_writes_nothing(tmp_path, world):
    """On a full disk, do init (nothing left behind), add-team and submit fail in one line that
    says the disk is full, the database keeping its rows and passing its integrity check?"""
    with tiny_disk(tmp_path / "disk", "3m") as disk:
        full = disk / "ev"
        tokens = make_event(full, world, ["Alpha"])
        service.submit_frame(full, predictions(truth_of(full), 0.5), team="Alpha", token=tokens["Alpha"])
        path = write_csv(predictions(truth_of(full), 0.7), tmp_path / "p.csv")
        _fill(disk)
        proc = run_cli("submit", path, "--event", full, "--team", "Alpha", "--token", tokens["Alpha"])
        assert "disk is full" in one_line_error(proc, "submit")
        proc = run_cli("leaderboard", "init", "--event", disk / "other", "--data", world)
        assert "disk is full" in one_line_error(proc, "leaderboard")
        assert sorted(p.name for p in disk.iterdir()) == ["ev", "filler"], "no staging directory left"
        (disk / "filler").unlink()
        assert rows(full) == 1
        with contextlib.closing(sqlite3.connect(full / "leaderboard.sqlite")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---------------------------------------------------------------------------------------------
# 5. team names


@pytest.mark.parametrize(
    "name, words",
    [
        ("ＭＣＡ", "reference"),  # full width: NFKC makes it MCA
        ("MCA\u200b", "invisible"),  # zero-width space
        ("\u200bAlpha", "invisible"),
        ("МСА", "reference"),  # Cyrillic capitals
        ("alph\u0430", "mixes Cyrillic and Latin"),  # a Cyrillic а in a Latin word
        ("Аlpha Team", "mixes Cyrillic and Latin"),
        ("\u202eahplA", "invisible"),  # right-to-left override
        ("Alpha\u2066x", "invisible"),  # bidi isolate
        ("Alphonse", None),  # similar, not confusable
    ],
)
def test_look_alike_and_invisible_team_names_are_refused(event, name, words):
    """Are names confusable with MCA or with a team (full width, Cyrillic, zero-width, bidi,
    mixed scripts) refused in one line, and a merely similar one accepted?"""
    ev, _ = event
    if words is None:
        assert service.add_team(ev, name)
        return
    with pytest.raises(UserError) as err:
        service.add_team(ev, name)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_a_name_that_looks_like_another_team_is_refused(event):
    """Is 'ＡＬＰＨＡ' the existing team Alpha (NFKC), and are look-alikes of 'Beta' in Greek
    and of 'Storm' with 'rn' for 'm' refused, naming the team they look like; does the CLI say it
    in one line?"""
    ev, tokens = event
    with pytest.raises(UserError, match="already exists"):
        service.add_team(ev, "ＡＬＰＨＡ")
    service.add_team(ev, "Storm")
    for twin in ("ΒΕΤΑ", "βετα", "Storrn"):  # Greek capitals, Greek small letters, 'rn' for 'm'
        with pytest.raises(UserError, match="looks like the existing team"):
            service.add_team(ev, twin)
    proc = run_cli("leaderboard", "add-team", "ΒΕΤΑ", "--event", ev)
    assert "looks like the existing team 'Beta'" in one_line_error(proc, "leaderboard")
    # the full-width name finds the team when submitting too
    frame = predictions(truth_of(ev), 0.5)
    assert service.submit_frame(ev, frame, team="ＡＬＰＨＡ", token=tokens["Alpha"])["team"] == "Alpha"


# ---------------------------------------------------------------------------------------------
# 6. plot labels


def test_dollar_signs_in_team_names_are_drawn_as_typed(event, tmp_path):
    """Does the figure draw teams named with '$' (a pair that is bad mathtext, a lone one) as
    typed, without matplotlib reading them as mathematics?"""
    from matplotlib import cbook

    ev, _ = event
    names = ["Les $\\oops$", "100 $ prize"]
    tokens = {name: service.add_team(ev, name) for name in names}
    for name in names:
        service.submit_frame(ev, predictions(truth_of(ev), 0.5), team=name, token=tokens[name])
    fig = plot.figure(service.board(ev))
    fig.savefig(tmp_path / "scores.png")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert not any(cbook.is_math_text(label) for label in labels)
    assert sorted(label.split(". ", 1)[1].replace("\\$", "$") for label in labels) == sorted(names)


# ---------------------------------------------------------------------------------------------
# 7. files by type


def test_submit_refuses_links_pipes_and_directories_without_quoting_them(event, tmp_path):
    """Do `datathon submit` (local and to a server) and the helper refuse a symbolic link to a
    secret, a named pipe (without blocking) and a directory, in one line that quotes nothing of
    the secret?"""
    ev, tokens = event
    paths = odd_paths(tmp_path)
    for path, kind in paths.items():
        for where in (["--event", ev], ["--server", "http://127.0.0.1:9"]):
            proc = run_cli("submit", path, *where, "--team", "Alpha", "--token", tokens["Alpha"], timeout=60)
            message = one_line_error(proc, "submit")
            assert kind in message and SECRET_LINE[:9] not in message
    with pytest.raises(SubmissionRefused, match="symbolic link"):
        datathon.submit(str(tmp_path / "link.csv"), team="Alpha", token=tokens["Alpha"], server="http://127.0.0.1:9")
    assert rows(ev) == 0


# ---------------------------------------------------------------------------------------------
# 8. tokens never on the command line


def test_the_token_can_come_from_a_file_or_the_environment(event, tmp_path, monkeypatch):
    """Does `datathon submit` take the token from --token-file (a regular file only) or from
    $DATATHON_TOKEN, does its help say that --token shows in ps, and does datathon.submit read
    $DATATHON_TOKEN when token is None?"""
    ev, tokens = event
    path = write_csv(predictions(truth_of(ev), 0.7), tmp_path / "p.csv")
    token_file = tmp_path / "token"
    token_file.write_text(tokens["Alpha"] + "\n")
    ok = run_cli("submit", path, "--event", ev, "--team", "Alpha", "--token-file", token_file)
    assert ok.returncode == 0, ok.stderr
    env = {**cli_env(), "DATATHON_TOKEN": tokens["Alpha"]}
    assert run_cli("submit", path, "--event", ev, "--team", "Alpha", env=env).returncode == 0
    link = tmp_path / "token-link"
    link.symlink_to(token_file)
    assert "symbolic link" in one_line_error(run_cli("submit", path, "--event", ev, "--team", "Alpha",
                                                     "--token-file", link), "submit")  # fmt: skip
    (tmp_path / "empty").write_text("\n")
    assert "empty" in one_line_error(run_cli("submit", path, "--event", ev, "--team", "Alpha",
                                             "--token-file", tmp_path / "empty"), "submit")  # fmt: skip
    both = run_cli("submit", path, "--event", ev, "--team", "Alpha", "--token", "t", "--token-file", token_file)
    assert both.returncode == 2 and "not allowed with" in both.stderr
    assert "ps" in " ".join(run_cli("submit", "--help").stdout.split())
    monkeypatch.setenv("DATATHON_TOKEN", tokens["Beta"])
    assert datathon.submit(predictions(truth_of(ev), 0.6), team="Beta", event=ev)["team"] == "Beta"
    assert rows(ev) == 3
