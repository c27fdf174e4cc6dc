"""The a1_names assignment in JupyterLab, in a real browser: Playwright drives Debian's Chromium.

JupyterLab is started as ``make lab`` starts it (``python -m datathon.lab --root ...``, its working
directory the root, where nbgrader's lab extension reads ``nbgrader_config.py``), on loopback and a
free port, over a throw-away copy of the course (the Validate button saves the notebook it checks,
and a student's fetch writes into the root): the two nbgrader configuration files, the source and
the starter of a1_names, and a link to ``data_samples/``. The assignment is released beforehand with
the real ``nbgrader generate_assignment`` and ``release_assignment`` into a throw-away exchange
(``DATATHON_EXCHANGE``).

In the browser: the starter runs (Run All Cells) up to its first graded test, with each check saying
"not attempted"; the toolbar's **Validate** lists every graded test cell as failing; the source
notebook validates with nbgrader's success message; **Nbgrader → Assignment List** shows a1_names
released in course datathon, and **Fetch** puts it in the student's directory. Screenshots go to
``test-artifacts/`` (git-ignored): ``a1-starter-run.png``, ``a1-validate-starter.png``,
``a1-validate-source.png``, ``a1-assignment-list.png``, ``a1-assignment-fetched.png``.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

import browser as chromium
from browser import artifacts  # noqa: F401  (a fixture the tests below take)

from datathon.lab import IP

STARTUP_TIMEOUT = 60  # seconds for JupyterLab to answer
RUN_TIMEOUT_MS = 90_000  # a kernel start and the notebook's cells up to its first failing test
VALIDATE_TIMEOUT_MS = 240_000  # nbgrader runs the whole notebook in a new kernel
ASSIGNMENT = "a1_names"


def _env(tmp: Path) -> dict:
    """The environment of every process here: throw-away Jupyter directories and exchange, the venv on PATH."""
    home = tmp / "home"
    env = dict(os.environ)
    env.update(HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), PYTHONUNBUFFERED="1",
               DATATHON_EXCHANGE=str(tmp / "exchange"),
               # nbgrader's gradebook migrations run the `alembic` script, next to this Python
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    env.pop("JUPYTER_TOKEN", None)
    return env


@pytest.fixture(scope="module")
def course(tmp_path_factory, repo_root):
    """A copy of the course with a1_names released into a throw-away exchange."""
    if not (repo_root / "starter_notebooks" / "sirene" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists():
        pytest.skip("no starter_notebooks/a1_names (make starters)")
    tmp = tmp_path_factory.mktemp("lab-assignments")
    root = tmp / "root"
    for relative in ("nbgrader_config.py", "grader/sirene/nbgrader_config.py",
                     f"solutions/sirene/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
                     f"starter_notebooks/sirene/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo_root / relative, root / relative)
    (root / "data_samples").symlink_to(repo_root / "data_samples", target_is_directory=True)
    env = _env(tmp)
    for step in (["generate_assignment", ASSIGNMENT, "--force"], ["release_assignment", ASSIGNMENT, "--force"]):
        run = subprocess.run([sys.executable, "-m", "nbgrader", *step], cwd=root / "grader" / "sirene", env=env,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, f"nbgrader {step[0]} failed:\n{run.stdout}\n{run.stderr}"
    assert (tmp / "exchange" / "datathon" / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()
    return root, env


@pytest.fixture
def lab(course, free_port, tmp_path):
    """JupyterLab on the course copy, started as `make lab` starts it; always stopped afterwards."""
    root, env = course
    token = secrets.token_hex(16)
    log = tmp_path / "lab.log"
    cmd = [sys.executable, "-m", "datathon.lab", "--port", str(free_port), "--root", str(root),
           f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://{IP}:{free_port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()}")
            try:
                request = urllib.request.Request(url + "/api/status", headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:  # not listening yet
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {STARTUP_TIMEOUT} s:\n{log.read_text()}")
            time.sleep(0.25)
        yield url, token, root, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _menu(page, menu: str, item: str) -> None:
    """Click ``item`` in the main menu bar's ``menu``."""
    page.locator("#jp-MainMenu").get_by_text(menu, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


#: The status bar says "Python 3 (ipykernel) | Idle" once the kernel has started and finished its work
#: (the toolbar's execution indicator says idle while the kernel is still initialising).
KERNEL_IDLE = ("() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]"
               ".some(e => / [|] Idle$/.test(e.textContent))")
#: Every code cell of the open notebook has run: its prompt shows an execution count.
EVERY_CELL_RAN = ("() => { const p = [...document.querySelectorAll("
                  "'.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]; "
                  "return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent)); }")
#: A cell's traceback (JupyterLab renders errors as stderr output).
TRACEBACK = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'


def _open(page, url: str, token: str, path: str) -> None:
    """Open a notebook and wait for its kernel to be idle."""
    page.goto(f"{url}/lab/tree/{path}?token={token}")
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").first.wait_for(timeout=60_000)
    page.wait_for_function(KERNEL_IDLE, timeout=90_000)
    news = page.get_by_role("button", name="No", exact=True)  # JupyterLab asks once about its news feed
    try:
        news.click(timeout=3_000)
    except Exception:  # noqa: BLE001 - the question did not come: nothing to dismiss
        pass


def _validate(page) -> tuple[str, str]:
    """Press the notebook toolbar's Validate button; return the results message's class and text."""
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .validate-button").first.click()
    message = page.locator("#validation-message")
    message.wait_for(timeout=VALIDATE_TIMEOUT_MS)
    dialog = page.locator(".jp-Dialog")
    assert dialog.locator(".jp-Dialog-header").inner_text().strip() == "Validation Results"
    return message.get_attribute("class"), message.inner_text()


@pytest.mark.browser
@pytest.mark.slow
def test_a1_names_in_jupyterlab(lab, artifacts, repo_root):
    """In Chromium: does the a1_names starter run to its end with 'not attempted' checks, does
    Validate list every graded test as failing (and pass the source), and does Nbgrader → Assignment List show
    a1_names released in course datathon and fetch it?"""
    from playwright.sync_api import sync_playwright

    url, token, root, log = lab
    starter = nbformat.read(root / "starter_notebooks" / "sirene" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    graded = [c for c in starter.cells if c.metadata.get("nbgrader", {}).get("grade")]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium.chromium_path(), args=chromium.CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))

            # The starter, as a student opens it: run everything.
            _open(page, url, token, f"starter_notebooks/sirene/{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
            _menu(page, "Run", "Run All Cells")
            page.wait_for_function(EVERY_CELL_RAN, timeout=RUN_TIMEOUT_MS)  # Run All goes to the end
            page.wait_for_function(KERNEL_IDLE, timeout=60_000)
            text = "\n".join(page.locator(".jp-OutputArea-output").all_text_contents())
            assert "✓ Python 3." in text and "4 needed files present" in text  # the environment check
            assert "○ q1 not attempted: clean() still raises NotImplementedError" in text
            assert "q2 not attempted" in text  # an unanswered question no longer stops the notebook
            # Only graded test cells fail (tagged raises-exception, so that Run All goes on), each naming its test.
            failures = page.locator(TRACEBACK)
            assert 1 <= failures.count() <= len(graded)
            failure = failures.first
            assert graded[0].source.splitlines()[0] in failure.locator("xpath=ancestor::div[contains(@class, "
                                                                        "'jp-CodeCell')]").text_content()
            failure.scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts / "a1-starter-run.png"))

            # Validate: every graded test cell fails, the first being question 1's.
            kind, message = _validate(page)
            assert "validation-failed" in kind.split()
            assert message.count("The following cell failed:") == len(graded) == 8
            assert graded[0].source.splitlines()[0] in message and "NotImplementedError" in message
            assert "BEGIN HIDDEN TESTS" not in message
            page.screenshot(path=str(artifacts / "a1-validate-starter.png"))
            page.keyboard.press("Escape")

            # The source notebook passes: the reference solution meets its own tests, hidden ones included.
            _open(page, url, token, f"solutions/sirene/{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
            kind, message = _validate(page)
            assert "validation-success" in kind.split(), message
            assert message.strip() == "Success! Your notebook passes all the tests."
            page.screenshot(path=str(artifacts / "a1-validate-source.png"))
            page.keyboard.press("Escape")

            # Nbgrader → Assignment List: a1_names released in course datathon; fetch it.
            _menu(page, "Nbgrader", "Assignment List")
            released = page.locator("#released_assignments_list")
            released.get_by_text(ASSIGNMENT, exact=True).wait_for(timeout=60_000)
            assert released.is_visible()
            assert "datathon" in released.inner_text()
            page.screenshot(path=str(artifacts / "a1-assignment-list.png"))
            released.get_by_role("button", name="Fetch").click()
            fetched = page.locator("#fetched_assignments_list")
            fetched.get_by_text(ASSIGNMENT).first.wait_for(timeout=60_000)
            page.screenshot(path=str(artifacts / "a1-assignment-fetched.png"))
            assert (root / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists(), log.read_text()
            assert errors == [], errors
        except BaseException:
            page.screenshot(path=str(artifacts / "a1-failure.png"))  # what the browser showed when it failed
            raise
        finally:
            browser.close()
    for name in ("a1-starter-run.png", "a1-validate-starter.png", "a1-validate-source.png",
                 "a1-assignment-list.png", "a1-assignment-fetched.png"):
        assert (artifacts / name).stat().st_size > 20_000, name
