"""Helpers shared by the leaderboard tests (test_leaderboard, test_server, the browser test).

- :func:`write_event_world`: the tiny world of ``worlds.py`` with a larger test split (hundreds
  of bulletins), so that public and private scores differ and plots have real resolution;
- :func:`make_event`: an event directory with registered teams (through the Python API);
- :func:`predictions`: a submission of a chosen quality, as a DataFrame;
- :func:`snapshot`: every file of a directory with its bytes' hash, size and mtime, to prove
  that a refused submission wrote nothing;
- :class:`ServerThread`: the Tornado app on 127.0.0.1 and a free port, in a background thread;
- :func:`start_serve`, :func:`stop_serve`: ``python -m datathon serve`` itself, in a subprocess;
- :func:`browser_page`: Chromium on a served page, once it has drawn;
- :func:`http`: a tiny urllib client that returns ``(status, headers, body)`` for any status;
- :func:`world`: the module-scoped pytest fixture of a data directory with 400 test bulletins;
- :func:`odd_paths`: paths that are not regular files (a link to a secret, a pipe, a directory).
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import worlds
from datathon import schema
from datathon.leaderboard import service

NOISES = ["", "", "", "enseigne", "commune_voisine", "mairie", "interim", "enseigne|commune_voisine"]


def write_event_world(directory: Path, n_test: int = 400, seed: int = 7) -> Path:
    """The tiny world with ``n_test`` test bulletins drawn from its register.

    About one bulletin in eight cannot be coded (no truth); MCA codes about 45 % of bulletins and
    gets one in ten of those wrong, as the DESIGN's calibration says.
    """
    out = worlds.write_tiny_world(directory)
    rng = np.random.default_rng(seed)
    register = pd.read_parquet(out / "etablissements.parquet", columns=["siret"])["siret"].to_numpy(dtype=object)
    template = worlds.read(out, "bulletins_test.parquet")
    cabbi = [f"{3600000000 + 13 * i:010d}" for i in range(n_test)]
    codable = rng.random(n_test) >= 0.125
    truth = np.where(codable, rng.choice(register, n_test), None)
    mca_codes = codable & (rng.random(n_test) < 0.5)
    mca_wrong = mca_codes & (rng.random(n_test) < 0.1)
    siretc = np.where(mca_codes, np.where(mca_wrong, rng.choice(register, n_test), truth), None)
    rows = template.iloc[np.arange(n_test) % len(template)].reset_index(drop=True).copy()
    rows["CABBI"] = pd.array(cabbi, dtype="string")
    rows["SIRETC"] = pd.array(siretc, dtype="string")
    rows["TYPCOL"] = pd.array(rng.integers(0, 2, n_test), dtype="Int8")
    worlds.rewrite(out, "bulletins_test.parquet", rows)
    truth_frame = pd.DataFrame(
        {
            "CABBI": pd.array(cabbi, dtype="string"),
            schema.TRUTH_COLUMN: pd.array(truth, dtype="string"),
            schema.NOISE_COLUMN: pd.array(rng.choice(NOISES, n_test), dtype="string"),
        }
    )
    worlds.rewrite(out, "truth_test.parquet", truth_frame)
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A data directory with 400 test bulletins (read-only for every test of the module)."""
    return write_event_world(tmp_path_factory.mktemp("world") / "data")


def make_event(
    event: Path,
    data: Path,
    teams: list[str],
    *,
    quota: int = 5,
    rule: str = "best",
    public_share: float = 0.5,
    name: str | None = None,
) -> dict[str, str]:
    """Create ``event`` from ``data`` and register ``teams``; return ``{team: token}``."""
    service.init_event(event, data, quota=quota, rule=rule, public_share=public_share, name=name)
    return {name: service.add_team(event, name) for name in teams}


def truth_of(event: Path) -> pd.DataFrame:
    """The event's truth copy (with its PUBLIC column): what the tests build submissions from."""
    return pd.read_parquet(Path(event) / service.TRUTH_FILE)


def predictions(
    truth: pd.DataFrame, quality: float, *, seed: int = 0, public_quality: float | None = None
) -> pd.DataFrame:
    """A submission coding each codable bulletin right with probability ``quality``.

    ``public_quality``, when given, applies to public bulletins instead (to make a submission
    whose public and private scores differ). Wrong codings are another valid SIRET of the truth.
    """
    rng = np.random.default_rng(seed)
    q = np.full(len(truth), quality)
    if public_quality is not None:
        q[truth["PUBLIC"].to_numpy()] = public_quality
    true = truth[schema.TRUTH_COLUMN].astype(object).where(truth[schema.TRUTH_COLUMN].notna(), None).to_numpy()
    pool = [s for s in true if s is not None]
    right = rng.random(len(truth)) < q
    wrong = np.array(pool, dtype=object)[rng.integers(0, len(pool), len(truth))]
    coded = np.where(right, true, np.where(rng.random(len(truth)) < 0.5, wrong, None))
    return pd.DataFrame({"CABBI": truth["CABBI"].astype("string"), "siret": pd.array(coded, dtype="string")})


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, sep=";", index=False)
    return path


def snapshot(directory: Path) -> dict[str, tuple[str, int, int]]:
    """Every file under ``directory``: ``{relative path: (sha256, size, mtime_ns)}``."""
    out = {}
    for path in sorted(Path(directory).rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            st = path.stat()
            out[str(path.relative_to(directory))] = (hashlib.sha256(data).hexdigest(), st.st_size, st.st_mtime_ns)
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """``server.make_app(event)`` served on 127.0.0.1 from a background thread (own event loop)."""

    def __init__(self, event: Path, **options: Any) -> None:
        self.event, self.options = event, options
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import tornado.httpserver

        from datathon.leaderboard import server

        async def main() -> None:
            app = server.make_app(self.event, **self.options)
            limit = self.options.get("max_body_bytes", server.DEFAULT_MAX_BODY_BYTES)
            http_server = tornado.httpserver.HTTPServer(app, max_body_size=server.DISCARD_FACTOR * limit)
            http_server.listen(self.port, address="127.0.0.1")
            self._stop = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            self._ready.set()
            await self._stop.wait()
            http_server.stop()
            server.shutdown(app, wait=True)

        try:
            asyncio.run(main())
        except BaseException as err:  # surfaced by start()
            self._error = err
            self._ready.set()

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if hasattr(self, "_loop"):
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


def http(
    url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None, method: str | None = None
) -> tuple[int, Any, bytes]:
    """One request; returns ``(status, headers, body)`` whatever the status.

    ``headers`` is the response's message object: its lookups ignore case, as HTTP does.
    """
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def json_keys(obj: Any) -> set[str]:
    """Every key of every object nested in ``obj`` (to look for 'private' anywhere)."""
    keys: set[str] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            keys.add(str(k))
            keys |= json_keys(v)
    elif isinstance(obj, list):
        for v in obj:
            keys |= json_keys(v)
    return keys


def cli_env() -> dict[str, str]:
    """The environment for ``python -m datathon`` subprocesses (no inherited token or team)."""
    env = dict(os.environ)
    env.pop("DATATHON_TOKEN", None)
    env.pop("DATATHON_TEAM", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def loads(body: bytes) -> Any:
    return json.loads(body.decode("utf-8"))


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_serve(
    ev: Path, port: int, log: Path | None = None, *, args: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> subprocess.Popen:
    """``python -m datathon serve`` on loopback (with extra ``args``, and ``env`` added to its
    environment); returns once it has printed its URL (``proc.url``).

    Its log (stderr) goes to ``log`` (default: ``serve.log`` beside the event), not to a pipe
    nobody reads, which would fill up and block the server.
    """
    log = log or Path(ev).parent / "serve.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "datathon", "serve", "--event", str(ev), "--port", str(port), *args],
            stdout=subprocess.PIPE, stderr=err, text=True, env={**cli_env(), **(env or {})},
            # As from a terminal: pytest-xdist workers ignore SIGINT, and a child would inherit that.
            preexec_fn=_default_sigint,
        )  # fmt: skip
    proc.log = log
    line = proc.stdout.readline()
    if f"http://127.0.0.1:{port}/" not in line:
        proc.kill()
        proc.wait()
        raise AssertionError(f"serve did not start: {line!r} {log.read_text()}")
    proc.url = line.split(" at ", 1)[1].split()[0]
    return proc


def stop_serve(proc: subprocess.Popen) -> None:
    """Stop a :func:`start_serve` process as Ctrl-C would (killed if it does not stop in 30 s)."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


@contextlib.contextmanager
def browser_page(url: str, *, width: int = 1920, height: int = 1080):
    """Debian's Chromium (tests/browser.py) on ``url``, once the page has drawn its first board:
    yields ``(page, errors)``, ``errors`` collecting the page's script errors."""
    from playwright.sync_api import sync_playwright

    import browser as chromium

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium.chromium_path(), args=chromium.CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(url)
            chromium.wait_until(page, "Number(document.body.dataset.loaded) >= 1", timeout_ms=20_000)
            yield page, errors
        finally:
            browser.close()


#: The first line of the secret file :func:`odd_paths` links to: no message may quote it.
SECRET_LINE = "TOPSECRET:x:0:0:root:/root:/bin/bash"


def odd_paths(directory: Path) -> dict[Path, str]:
    """Paths under ``directory`` that are not regular files, with what a refusal calls them: a
    symbolic link to a secret file (as to /etc/passwd), a named pipe (reading it would block),
    and ``directory`` itself."""
    secret = directory / "secret"
    secret.write_text(SECRET_LINE + "\n")
    link = directory / "link.csv"
    link.symlink_to(secret)
    fifo = directory / "fifo.csv"
    os.mkfifo(fifo)
    return {link: "a symbolic link", fifo: "a named pipe", directory: "a directory"}
