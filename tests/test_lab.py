"""`make lab` starts JupyterLab with the nbgrader extension on the course.

The test starts the very command the Makefile runs (``python -m datathon.lab --port ... --root
...``, see datathon/lab.py), on loopback and a free port, with a known token and throw-away Jupyter
directories so that nothing in $HOME is read or written.
"""
from __future__ import annotations

import html
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from datathon.lab import DEFAULT_URL, IP, lab_command

STARTUP_TIMEOUT = 60  # seconds


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: D102 - keep 30x responses as they are
        return None


class Lab:
    """A running server: its base URL and token, and a small GET helper."""

    def __init__(self, url: str, token: str, log: Path) -> None:
        self.url, self.token, self.log = url, token, log

    def get(self, path: str, follow: bool = True) -> tuple[int, dict[str, str], str]:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"token {self.token}"})
        opener = urllib.request.build_opener() if follow else urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(req, timeout=10) as resp:
                return resp.status, dict(resp.headers), resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:  # 30x without following, 4xx, 5xx
            return err.code, dict(err.headers), err.read().decode("utf-8", "replace")


@pytest.fixture
def lab(tmp_path, free_port, repo_root):
    """JupyterLab started as ``make lab`` starts it; always stopped afterwards."""
    token = secrets.token_hex(16)
    home = tmp_path / "home"
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        PYTHONUNBUFFERED="1",
    )
    env.pop("JUPYTER_TOKEN", None)
    cmd = [
        sys.executable, "-m", "datathon.lab", "--port", str(free_port), "--root", str(repo_root),
        f"--IdentityProvider.token={token}",
        "--ServerApp.port_retries=0",  # a taken port fails loudly instead of moving elsewhere
    ]
    log = tmp_path / "lab.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=repo_root, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Lab(f"http://{IP}:{free_port}", token, log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if server.get("/api/status")[0] == 200:
                    break
            except OSError:  # not listening yet
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {STARTUP_TIMEOUT} s:\n{log.read_text()}")
            time.sleep(0.25)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def page_config(page: str) -> dict:
    """The JSON JupyterLab embeds in its page as ``<script id="jupyter-config-data">``."""
    m = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S)
    assert m, "no jupyter-config-data in the page"
    return json.loads(html.unescape(m[1]))


def test_lab_command_is_the_makefile_one(repo_root):
    """Does the Makefile's ``lab`` target run datathon.lab, the command this module tests?"""
    out = subprocess.run(
        ["make", "-s", "-n", "lab", "PORT=12345"], cwd=repo_root, capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"python -m datathon\.lab --port 12345 --root \S+", out), out
    cmd = lab_command(12345, repo_root)
    assert cmd[1:3] == ["-m", "jupyterlab"]
    assert "--no-browser" in cmd and f"--ServerApp.ip={IP}" in cmd and "--ServerApp.port=12345" in cmd
    assert f"--ServerApp.root_dir={repo_root}" in cmd


@pytest.mark.slow
def test_lab_serves_the_jupyterlab_page(lab):
    """Does the server started like `make lab` answer /lab with the JupyterLab page?"""
    status, _, page = lab.get("/lab")
    assert status == 200
    config = page_config(page)
    assert config["appName"] == "JupyterLab"
    assert config["appVersion"].startswith("4.")


@pytest.mark.slow
def test_nbgrader_lab_extension_is_enabled(lab):
    """Is nbgrader's JupyterLab extension loaded, and its server extension answering?"""
    config = page_config(lab.get("/lab")[2])
    names = {ext["name"] for ext in config.get("federated_extensions", [])}
    assert "@jupyter/nbgrader" in names, sorted(names)
    disabled = config.get("disabledExtensions", [])
    assert not any(d == "@jupyter/nbgrader" or d.startswith("@jupyter/nbgrader:") for d in disabled), disabled
    status, _, body = lab.get("/formgrader/api/status")  # nbgrader.server_extensions.formgrader
    assert status == 200, body
    assert json.loads(body).get("status") is True, body


@pytest.mark.slow
def test_lab_opens_on_the_course(lab):
    """Does the server's default URL (what `/` redirects to) open the course directory?"""
    status, headers, _ = lab.get("/", follow=False)
    assert status in (301, 302, 303, 307), status
    assert urllib.parse.urlsplit(headers["Location"]).path == DEFAULT_URL, headers["Location"]
    assert DEFAULT_URL == "/lab/tree/course"
    status, _, page = lab.get(DEFAULT_URL)
    assert status == 200
    assert page_config(page)["treePath"] == "course"
