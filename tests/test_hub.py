"""The event's hub (datathon/hub/): the participants file, the slips, the exchange's check, and the whole event.

The fast tests check the parts one by one. The event test (``slow``, ``browser``, root only) sets up the
hub from this tree for three students and one instructor (real system users ``dtst1..3`` and ``dtin1``,
removed at the end) under ``/srv/datathon-ci``, starts it, and plays the event in Debian's Chromium:
the instructor releases a1_names, two students sign in, fetch it from the Assignments panel, edit it and
submit it; the exchange's permissions hold (a student can neither list nor move another's submission);
the instructor collects, grades in the sandbox through sudo, and releases feedback that a student
fetches from the panel; a team submits to the leaderboard through the hub's proxy. Screenshots go to
``test-artifacts/hub/``. The kit's environment under ``/srv/datathon-ci/venv`` is kept between runs
(installing it takes minutes; a later set-up only checks it, or reinstalls the package alone).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser import artifacts  # noqa: F401  (a fixture the browser test takes)

from datathon.errors import UserError
from datathon.hub import INSTRUCTORS_GROUP, Layout
from datathon.hub.install import exchange_problems, make_exchange, render_password_slips, sudoers_file
from datathon.hub.participants import Participant, parse_instructors, parse_participants

HEADER = "login,name,email,team\n"


# --------------------------------------------------------------------------------------------
# The participants file
# --------------------------------------------------------------------------------------------


def test_participants_are_read_with_their_team_or_lead():
    """Are logins, names, e-mails and the team (or the `lead` column) read in file order, blank lines skipped?"""
    people = parse_participants(HEADER + "ana,Ana Lima,ana@example.org,alpha\n\nbo_2,Bo Chen,,\n")
    assert [(p.login, p.name, p.email, p.team, p.line) for p in people] == [
        ("ana", "Ana Lima", "ana@example.org", "alpha", 2), ("bo_2", "Bo Chen", "", "", 4)]
    leads = parse_participants("login;name;email;lead\r\ncy;Cy D;cy@example.org;ana\r\n")
    assert leads[0].team == "ana"


@pytest.mark.parametrize("text,message", [
    (HEADER + "Ana,Ana,,\n", "line 2: login 'Ana' is not allowed"),
    (HEADER + "ana;rm -rf,Ana,,\n", "line 2: login 'ana;rm -rf' is not allowed"),
    (HEADER + "../etc,Ana,,\n", "line 2: login '../etc' is not allowed"),
    (HEADER + "root,Root,,\n", "line 2: login 'root' is reserved"),
    (HEADER + "datathon-sandbox1,X,,\n", "line 2: login 'datathon-sandbox1' is not allowed"),
    (HEADER + "datathon_x,X,,\n", "line 2: login 'datathon_x' is reserved"),
    (HEADER + "ana,Ana,,\nbob,Bob,,\nana,Ana again,,\n", "line 4: login 'ana' is already on line 2"),
    (HEADER + "ana,,,\n", "line 2: ana has no name"),
    (HEADER + "ana,\"Ana\nLima\",,\n", "line 2: the name holds a control character"),
    (HEADER + "ana,Ana,not-an-address,\n", "line 2: 'not-an-address' is not an e-mail address"),
    (HEADER + "ana,Ana,,alpha,extra\n", "line 2: 5 fields where the header has 4"),
    ("name,email\nAna,a@b.org\n", "line 1: the header lacks login"),
    (HEADER, "lists nobody"),
    ("", "is empty"),
])
def test_hostile_participants_files_are_refused_with_the_line(text, message):
    """Does each bad line (a login that is no safe account name, a reserved or duplicate login, a control
    character, a ragged row, a missing header) refuse the whole file with one line naming where?"""
    with pytest.raises(UserError) as caught:
        parse_participants(text, "participants.csv")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_instructor_logins_are_checked_like_the_file():
    """Are --instructors logins split on commas and checked (pattern, duplicates)?"""
    assert parse_instructors("ana, bo") == ["ana", "bo"]
    with pytest.raises(UserError, match="--instructors: login 'Bad!' is not allowed"):
        parse_instructors("ana,Bad!")
    with pytest.raises(UserError, match="twice"):
        parse_instructors("ana,ana")


def test_account_comment_drops_what_the_password_file_cannot_hold():
    """Is a participant's name stripped of ':' ',' '=' before it goes into the account's comment field?"""
    assert Participant("ana", "Lima, Ana: chef=1").gecos == "Lima Ana chef1"


def test_password_slips_escape_what_the_file_gave():
    """Does the slips page show each login and password, and escape a name that holds markup?"""
    page = render_password_slips("Event <1>", [(Participant("ana", "<script>x</script>"), "abcd-efgh")],
                                 "http://10.0.0.5:8000/")
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "login: ana" in page and "abcd-efgh" in page and "http://10.0.0.5:8000/" in page
    assert page.count("class=\"slip\"") == 1 and "Event &lt;1&gt;" in page


# --------------------------------------------------------------------------------------------
# The exchange's permissions
# --------------------------------------------------------------------------------------------


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="creating root-owned directories and accounts needs root")


@needs_root
def test_exchange_is_created_as_nbgrader_documents_and_checked(tmp_path):
    """Is the exchange made root-owned 1777 (sticky) with inbound 3773, and does the check name a changed mode
    or owner (a participant who owned it could move the course's exchange away)?"""
    import grp

    try:
        gid = grp.getgrnam(INSTRUCTORS_GROUP).gr_gid
    except KeyError:
        pytest.skip(f"no {INSTRUCTORS_GROUP} group yet (made by `datathon hub setup`)")
    layout = Layout(tmp_path / "srv")
    (tmp_path / "srv").mkdir()
    make_exchange(layout, "datathon", gid)
    assert exchange_problems(layout, "datathon") == []
    assert stat.S_IMODE(layout.exchange.stat().st_mode) == 0o1777
    assert stat.S_IMODE((layout.exchange / "datathon" / "inbound").stat().st_mode) == 0o3773
    layout.exchange.chmod(0o777)  # what nbgrader itself makes: no sticky bit
    os.chown(layout.exchange / "datathon" / "outbound", 65534, gid)
    problems = exchange_problems(layout, "datathon")
    assert f"{layout.exchange} has mode 0777, not 1777" in problems
    assert any("outbound belongs to nobody, not root" in p for p in problems), problems


def test_a_sealed_submission_is_closed_to_other_accounts(tmp_path):
    """Does sealing a submission (what the hub's nbgrader submit does after nbgrader's own, which leaves it 0777)
    close its directory to everyone but the owner and the group (0770)?"""
    from datathon.hub.exchange import seal

    submission = tmp_path / "dtst1+a1_names+2026-12-08 10:00:00 UTC+abc"
    submission.mkdir()
    (submission / "a1_names.ipynb").write_text("{}")
    submission.chmod(0o777)
    seal(str(submission))
    assert stat.S_IMODE(submission.stat().st_mode) == 0o770


def test_setup_refuses_to_run_as_another_user(tmp_path, monkeypatch, capsys):
    """Does `datathon hub setup` say in one line that it needs root (exit 2, no traceback), writing nothing?"""
    from datathon import cli

    csv = tmp_path / "participants.csv"
    csv.write_text(HEADER + "ana,Ana,,\n")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code = cli.main(["hub", "--root", str(tmp_path / "srv"), "setup", "--participants", str(csv), "--data",
                     str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err.strip() == ("datathon hub: error: setting up the hub (system accounts, /srv, "
                                               "the exchange) needs root: run it with sudo (as root)")
    assert not (tmp_path / "srv").exists()


# --------------------------------------------------------------------------------------------
# The whole event, as root, in Chromium
# --------------------------------------------------------------------------------------------

CI_ROOT = Path("/srv/datathon-ci")
STUDENTS = ["dtst1", "dtst2", "dtst3"]
INSTRUCTOR = "dtin1"
ASSIGNMENT = "a1_names"
TEAM = "alpha"
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
SETUP_TIMEOUT = 1200  # the first set-up installs the kit and JupyterHub
HUB_TIMEOUT = 60


def _datathon(repo_root: Path | None) -> str:
    return str(Path(sys.executable).parent / "datathon")


def _run(cmd: list[str], *, user: str | None = None, timeout: float = 600, cwd: str | Path | None = None,
         check: bool = True, layout: Layout | None = None) -> subprocess.CompletedProcess:
    """Run ``cmd`` (as ``user`` through runuser, in their home, with the hub's kit first on PATH)."""
    env = dict(os.environ)
    if user:
        home = f"/home/{user}"
        env = {"HOME": home, "USER": user, "LANG": "C.UTF-8",
               "PATH": os.pathsep.join([str(layout.bin), "/usr/local/bin", "/usr/bin", "/bin"])}
        cmd = [RUNUSER, "-u", user, "--", *cmd]
        cwd = cwd or home
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    if check:
        assert run.returncode == 0, f"{' '.join(cmd)} exited {run.returncode}:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run


def _passwords(slips: Path) -> dict[str, str]:
    """login -> password, read back from the slips page setup printed."""
    html = slips.read_text(encoding="utf-8")
    return dict(re.findall(r"login: ([a-z0-9_]+)</p><p class=\"token\">([^<]+)</p>", html))


def _wait_for(url: str, timeout: float, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the hub exited with {proc.returncode}:\n{log.read_text()[-5000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the hub did not answer within {timeout} s:\n{log.read_text()[-5000:]}")
        time.sleep(0.5)


def _remove_accounts(repo_root: Path) -> None:
    subprocess.run([_datathon(repo_root), "hub", "--root", str(CI_ROOT), "remove", *STUDENTS, INSTRUCTOR],
                   capture_output=True, text=True)


@pytest.fixture
def event_hub(tmp_path_factory, repo_root):
    """The hub of a 3-student, 1-instructor event, set up from this tree and started; removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("the hub's set-up creates system accounts: run as root")
    if not (shutil.which("npm") or shutil.which("configurable-http-proxy")):
        pytest.skip("neither npm nor configurable-http-proxy: `apt-get install npm`")
    sample = repo_root / "data_samples" / "sirene"
    tmp = tmp_path_factory.mktemp("hub")
    os.chmod(tmp, 0o755)
    participants = tmp / "participants.csv"
    participants.write_text(HEADER + "".join(f"{s},Student {s[-1]},{s}@example.org,{TEAM}\n" for s in STUDENTS)
                            + f"{INSTRUCTOR},Instructor One,{INSTRUCTOR}@example.org,\n")
    event = tmp / "event"
    _run([_datathon(repo_root), "leaderboard", "init", "--event", str(event), "--data", str(sample),
          "--name", "Hub CI", "--quota", "50"])
    token = _run([_datathon(repo_root), "leaderboard", "add-team", TEAM, "--event", str(event)]).stdout.split()[-1]
    _run([_datathon(repo_root), "sandbox", "setup"], check=False)  # the accounts `datathon grade` runs notebooks as
    _remove_accounts(repo_root)  # what an interrupted earlier run may have left
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        board_port = s.getsockname()[1]
    setup_cmd = [_datathon(repo_root), "hub", "--root", str(CI_ROOT), "setup", "--participants", str(participants),
                 "--data", str(sample), "--instructors", INSTRUCTOR, "--event", str(event), "--port", str(port),
                 "--leaderboard-port", str(board_port), "--memory", "2", "--title", "Hub CI"]
    started = time.monotonic()
    setup = _run(setup_cmd + ["--reset-passwords"], timeout=SETUP_TIMEOUT, check=False)
    setup_seconds = time.monotonic() - started
    log = tmp / "hub.log"
    hub = None
    try:
        assert setup.returncode == 0, f"setup failed:\n{setup.stdout}\n{setup.stderr}"
        slips = Path(re.search(r"password slips .*: (\S+)", setup.stdout)[1])
        again = _run(setup_cmd, timeout=SETUP_TIMEOUT)  # idempotent: nothing new
        with open(log, "wb") as out:
            hub = subprocess.Popen([_datathon(repo_root), "hub", "--root", str(CI_ROOT), "start"], stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        _wait_for(url + "/hub/api", HUB_TIMEOUT, hub, log)
        yield {"url": url, "layout": Layout(CI_ROOT), "passwords": _passwords(slips), "slips": slips,
               "setup": setup.stdout, "again": again.stdout, "setup_seconds": setup_seconds, "event": event,
               "token": token, "log": log, "tmp": tmp, "sample": sample}
    finally:
        if hub is not None and hub.poll() is None:
            os.killpg(hub.pid, signal.SIGTERM)  # the hub stops every server it started
            try:
                hub.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(hub.pid, signal.SIGKILL)
                hub.wait(timeout=30)
        _remove_accounts(repo_root)
        for name in ("exchange", "instructor", "hub", "slips", "data"):  # the venv stays: minutes to rebuild
            shutil.rmtree(CI_ROOT / name, ignore_errors=True)
        sudoers_file(Layout(CI_ROOT)).unlink(missing_ok=True)


def _check_setup(event_hub) -> None:
    """Did setup create the four accounts with slips (0600), the kit runnable by any account, the exchange
    checked, the public data read-only, and did a second run create nothing and pass `hub check`?"""
    layout = event_hub["layout"]
    assert "accounts created: dtst1, dtst2, dtst3, dtin1" in event_hub["setup"]
    assert "accounts created: none" in event_hub["again"] and "problem:" not in event_hub["again"]
    assert sorted(event_hub["passwords"]) == sorted(STUDENTS + [INSTRUCTOR])
    assert stat.S_IMODE(event_hub["slips"].stat().st_mode) == 0o600
    for line in ("ok: the kit in /srv/datathon-ci/venv runs for any account", "ok: exchange /srv/datathon-ci/exchange",
                 "ok: the public data /srv/datathon-ci/data: read-only"):
        assert line in event_hub["again"], event_hub["again"]
    import grp
    import pwd

    assert set(grp.getgrnam(INSTRUCTORS_GROUP).gr_mem) >= {INSTRUCTOR}
    for login in STUDENTS:
        home = Path(pwd.getpwnam(login).pw_dir)
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        assert (home / "course").is_dir() and (home / "course").stat().st_uid == pwd.getpwnam(login).pw_uid
    assert not (layout.data / "truth_test.parquet").exists()  # the public files only
    denied = _run(["touch", str(layout.data / "x")], user="dtst1", layout=layout, check=False)
    assert denied.returncode != 0
    settings = json.loads(layout.settings.read_text())
    assert settings["students"] == STUDENTS and settings["instructors"] == [INSTRUCTOR]


def _shot(page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"))


def _sign_in(browser, url: str, login: str, password: str):
    """A new browser context signed in as ``login``, on their JupyterLab (the server is spawned on the way)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/hub/login")
    page.fill("#username_input", login)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf".*/user/{login}/lab.*"), timeout=180_000)
    page.locator("#jp-MainMenu").wait_for(timeout=120_000)
    news = page.get_by_role("button", name="No", exact=True)  # JupyterLab asks once about its news feed
    try:
        news.click(timeout=3_000)
    except Exception:  # noqa: BLE001 - the question did not come
        pass
    return context, page


def _assignment_list(page):
    page.locator("#jp-MainMenu").get_by_text("Nbgrader", exact=True).click()
    page.get_by_role("menuitem", name="Assignment List", exact=True).click()
    page.locator("#released_assignments_list").wait_for(timeout=60_000)


def _fetch_edit_submit(page, url: str, login: str, artifacts: Path) -> None:
    """In the Assignments panel: fetch a1_names, edit the notebook in JupyterLab, save, submit."""
    _assignment_list(page)
    released = page.locator("#released_assignments_list")
    released.get_by_text(ASSIGNMENT, exact=True).wait_for(timeout=60_000)
    _shot(page, artifacts, f"{login}-1-released")
    released.get_by_role("button", name="Fetch").click()
    page.locator("#fetched_assignments_list").get_by_text(ASSIGNMENT).first.wait_for(timeout=60_000)
    # Edit: a cell of the student's own at the top of the notebook, saved.
    page.goto(f"{url}/user/{login}/lab/tree/{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").first
    notebook.wait_for(timeout=60_000)
    notebook.locator(".jp-Cell").first.click()
    page.keyboard.press("Escape")
    page.keyboard.press("a")  # a new cell above, in command mode
    page.keyboard.press("Enter")
    page.keyboard.type(f"# edited by {login}")
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1500)
    _shot(page, artifacts, f"{login}-2-edited")
    _assignment_list(page)
    fetched = page.locator("#fetched_assignments_list")
    fetched.get_by_text(ASSIGNMENT).first.wait_for(timeout=60_000)
    fetched.get_by_role("button", name="Submit").first.click()
    page.locator("#submitted_assignments_list").get_by_text(ASSIGNMENT).first.wait_for(timeout=60_000)
    _shot(page, artifacts, f"{login}-3-submitted")


@needs_root
@pytest.mark.slow
@pytest.mark.browser
def test_event_in_chromium(event_hub, artifacts):
    """The event end to end, from this tree: setup (twice: nothing new the second time) and check; release; two
    students sign in, fetch, edit and submit a1_names in the Assignments panel; neither can find, read, change or
    move the other's submission; the instructor signs in, collects, grades in the sandbox (sudo), releases
    feedback a student fetches in the panel; a team submits to the leaderboard through the hub's proxy.

    One test, not several: its fixture creates system accounts under one fixed root, which two pytest-xdist
    workers must never do at once.
    """
    import browser as chromium
    from playwright.sync_api import sync_playwright

    _check_setup(event_hub)
    url, layout, passwords = event_hub["url"], event_hub["layout"], event_hub["passwords"]
    shots = artifacts / "hub"
    shots.mkdir(exist_ok=True)
    exchange = layout.exchange / "datathon"
    nbgrader = ["nbgrader"]

    # The instructor releases a1_names (nbgrader with no option: the system-wide configuration).
    _run(nbgrader + ["generate_assignment", ASSIGNMENT, "--force"], user=INSTRUCTOR, layout=layout)
    _run(nbgrader + ["release_assignment", ASSIGNMENT, "--force"], user=INSTRUCTOR, layout=layout)
    assert (exchange / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium.chromium_path(), args=chromium.CHROMIUM_ARGS)
        try:
            pages = {}
            for login in ("dtst1", "dtst2"):
                context, page = _sign_in(browser, url, login, passwords[login])
                assert page.url.startswith(f"{url}/user/{login}/lab/tree/course"), page.url
                _shot(page, shots, f"{login}-0-course")
                _fetch_edit_submit(page, url, login, shots)
                pages[login] = page

            # Each server runs in its user's memory cgroup, capped at setup's --memory (2 GiB here).
            from datathon.sandbox import CGROUP_ROOT, _cgroup_version

            if _cgroup_version() == "v1":
                group = CGROUP_ROOT / "memory" / "datathon-hub-dtst1"
                assert int((group / "memory.limit_in_bytes").read_text()) == 2 * 1024**3
                server = [int(pid) for pid in (group / "cgroup.procs").read_text().split()]
                assert any("jupyterhub-singleuser" in Path(f"/proc/{pid}/cmdline").read_text() for pid in server)

            # The submissions are in the exchange; students cannot list them, nor move another's.
            inbound = sorted(exchange.joinpath("inbound").iterdir())
            assert sorted(p.name.split("+")[0] for p in inbound) == ["dtst1", "dtst2"]
            first = next(p for p in inbound if p.name.startswith("dtst1+"))
            notebook = json.loads((first / f"{ASSIGNMENT}.ipynb").read_text())
            assert "".join(notebook["cells"][0]["source"]) == "# edited by dtst1"
            listing = _run(["ls", str(exchange / "inbound")], user="dtst2", layout=layout, check=False)
            assert listing.returncode != 0 and "Permission denied" in listing.stderr
            guess = _run(["sh", "-c", f"cat '{exchange}/inbound/'dtst1+*/{ASSIGNMENT}.ipynb"], user="dtst2",
                         layout=layout, check=False)
            assert guess.returncode != 0  # no listing: another's submission cannot even be found
            assert stat.S_IMODE(first.stat().st_mode) == 0o770  # sealed (datathon/hub/exchange.py)
            for attempt in (["cat", str(first / f"{ASSIGNMENT}.ipynb")], ["ls", str(first)],
                            ["rm", "-rf", str(first)], ["touch", str(first / "extra.txt")],
                            ["mv", str(first), str(exchange / "inbound" / "stolen")]):
                tried = _run(attempt, user="dtst2", layout=layout, check=False)  # knowing the exact name
                assert tried.returncode != 0, f"dtst2 could {' '.join(attempt)}"
            assert (first / f"{ASSIGNMENT}.ipynb").is_file() and not (first / "extra.txt").exists()
            home = _run(["cat", f"/home/dtst1/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"], user="dtst2", layout=layout,
                        check=False)
            assert home.returncode != 0 and "Permission denied" in home.stderr
            course_moved = _run(["mv", str(exchange), str(layout.exchange / "gone")], user="dtst2", layout=layout,
                                check=False)
            assert course_moved.returncode != 0 and exchange.is_dir()

            # The instructor: signs in, collects, grades in the sandbox through sudo, gives feedback, exports.
            context, teacher = _sign_in(browser, url, INSTRUCTOR, passwords[INSTRUCTOR])
            _shot(teacher, shots, "dtin1-0-course")
            _run(nbgrader + ["collect", ASSIGNMENT], user=INSTRUCTOR, layout=layout)
            graded = _run(["sudo", "-n", str(layout.bin / "datathon"), "hub", "--root", str(layout.root), "grade",
                           ASSIGNMENT, "--quiet"], user=INSTRUCTOR, layout=layout, timeout=900, check=False)
            assert graded.returncode == 0, graded.stdout + graded.stderr
            assert "sandbox" in graded.stdout, graded.stdout
            _run(nbgrader + ["generate_feedback", ASSIGNMENT], user=INSTRUCTOR, layout=layout, timeout=300)
            _run(nbgrader + ["release_feedback", ASSIGNMENT], user=INSTRUCTOR, layout=layout)
            _run(nbgrader + ["export"], user=INSTRUCTOR, layout=layout)
            import csv

            grades = list(csv.DictReader((layout.instructor / "grades.csv").open()))
            assert sorted(row["student_id"] for row in grades) == ["dtst1", "dtst2"], grades
            _assignment_list(teacher)  # the instructor's panel: the course, a1_names released
            teacher.locator("#released_assignments_list").get_by_text(ASSIGNMENT, exact=True).wait_for(timeout=60_000)
            _shot(teacher, shots, "dtin1-1-assignments")
            # The formgrader works for the instructor (it needs the course root below the server's root).
            teacher.goto(f"{url}/user/{INSTRUCTOR}/formgrader/manage_submissions/{ASSIGNMENT}")
            teacher.get_by_text("dtst1").first.wait_for(timeout=60_000)
            assert "encountered an error" not in teacher.content()
            _shot(teacher, shots, "dtin1-2-formgrader")
            student_sees = _run(["ls", str(layout.instructor)], user="dtst1", layout=layout, check=False)
            assert student_sees.returncode != 0  # gradebook, sources and grades are the instructors' only

            # A student fetches the feedback from the Assignments panel.
            page = pages["dtst1"]
            _assignment_list(page)
            submitted = page.locator("#submitted_assignments_list")
            submitted.get_by_role("button", name="Fetch Feedback").first.click()
            page.wait_for_timeout(3000)
            feedback = list(Path("/home/dtst1", ASSIGNMENT, "feedback").glob(f"*/{ASSIGNMENT}.html"))
            assert feedback, "no feedback fetched"
            _shot(page, shots, "dtst1-4-feedback")
        except BaseException:
            for number, pg in enumerate(pg for ctx in browser.contexts for pg in ctx.pages):
                pg.screenshot(path=str(shots / f"failure-{number}.png"))  # what each browser showed
            raise
        finally:
            browser.close()

    # The leaderboard through the hub: the page, then a team's submission with its token.
    with urllib.request.urlopen(f"{url}/services/leaderboard/", timeout=30) as response:
        assert response.status == 200 and "Hub CI" in response.read().decode()
    predictions = event_hub["tmp"] / "predictions.csv"
    _run([_datathon(None), "reference", "--data", str(event_hub["sample"]), "--out", str(predictions)])
    token_file = event_hub["tmp"] / "token.txt"
    token_file.write_text(event_hub["token"] + "\n")
    submitted = _run([_datathon(None), "submit", str(predictions), "--server", f"{url}/services/leaderboard/",
                      "--team", TEAM, "--token-file", str(token_file)])
    assert TEAM in submitted.stdout, submitted.stdout
    for name in ("dtst1-0-course", "dtst1-3-submitted", "dtst2-3-submitted", "dtin1-1-assignments",
                 "dtst1-4-feedback"):
        assert (shots / f"{name}.png").stat().st_size > 10_000, name
