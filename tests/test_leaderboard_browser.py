"""The projected page in a real browser: Playwright drives Debian's Chromium against
``datathon serve`` on loopback, with 13 teams and 300 submissions spread over an event's two days.

Screenshots are kept under ``test-artifacts/`` (git-ignored): ``leaderboard.png`` (the page as
projected, 1920x1080), ``leaderboard-720p.png`` (the same on a 1280x720 projector),
``leaderboard-after-submit.png`` (after a team's submission moved it to the top, seen through the
page's own refresh) and ``leaderboard-revealed.png`` (after the reveal).

Without Chromium the test is skipped on a workstation but fails under CI (``$CI`` set): CI must
run it (``make browser`` installs Chromium).
"""
from __future__ import annotations

import datetime as dt
import shutil
import signal
import subprocess
import sys
import urllib.parse

import numpy as np
import pytest

import browser as chromium
from browser import artifacts  # noqa: F401  (a fixture the tests below take)

from leaderboard_fixtures import (
    cli_env,
    free_port,
    http,
    loads,
    make_event,
    predictions,
    start_serve,
    truth_of,
    write_event_world,
)

from datathon.leaderboard import service

XSS = "<script>alert(1)</script>"
TEAMS = [
    "Les Sirènes", "SIRETrouvé", "Mairie de Rennes", "Team Luhn", "Les Géocodeurs", "TF-IDF Squad",
    "Enseigne & Cie", "NAF NAF", "Ille-et-Vilaine Data", "Les Intérimaires", "Random Forest Gump", XSS,
    "Bulletin Board",
]  # fmt: skip
N_SUBMISSIONS = 300
TITLE = "Les champs de Sirene · Rennes 2018"
REFRESH_WAIT_MS = 25_000  # the page polls every 10 s; leave room for a loaded CI machine

#: Does the ranking table fit its box, vertically and horizontally (nothing to scroll)?
FITS = (
    "() => { const s = document.getElementById('ranking');"
    " return [s.scrollHeight <= s.clientHeight + 1, s.scrollWidth <= s.clientWidth + 1]; }"
)


@pytest.fixture(scope="module")
def busy_event(tmp_path_factory):
    """An event after two days: 13 teams, 300 submissions at their times, scores improving."""
    root = tmp_path_factory.mktemp("browser")
    data = write_event_world(root / "data", n_test=800, seed=11)
    ev = root / "ev"
    tokens = make_event(ev, data, TEAMS, quota=40, name=TITLE)
    truth = truth_of(ev)
    rng = np.random.default_rng(2018)
    now = dt.datetime.now().astimezone()
    start = now - dt.timedelta(hours=30)
    # Submissions come during working hours of both days, more of them towards the end.
    times = sorted(start + dt.timedelta(hours=30 * float(x)) for x in rng.beta(1.3, 1.0, N_SUBMISSIONS))
    skill = {t: (rng.uniform(0.25, 0.45), rng.uniform(0.15, 0.45)) for t in TEAMS}
    who = list(TEAMS) + list(rng.choice(TEAMS[:-1], N_SUBMISSIONS - len(TEAMS)))  # everyone submits
    rng.shuffle(who)
    for k, (when, team) in enumerate(zip(times, who)):
        base, growth = skill[team]
        progress = (when - start) / (now - start)
        quality = float(np.clip(base + growth * progress + rng.normal(0, 0.04), 0.05, 0.92))
        service.submit_frame(ev, predictions(truth, quality, seed=k), team=team, token=tokens[team], now=when)
    return ev, tokens


def _launch(playwright):
    return playwright.chromium.launch(executable_path=chromium.chromium_path(), args=chromium.CHROMIUM_ARGS)


@pytest.mark.browser
@pytest.mark.slow
def test_the_page_in_a_browser(busy_event, artifacts):
    """Does Chromium show the ranking table (13 teams and MCA, fitting the screen) and the plot
    (a line per team, 300 dots, MCA's line), keep a script-named team as text, and show a team's
    new submission through its own refresh, then the reveal?"""
    from playwright.sync_api import sync_playwright

    chromium.chromium_path()
    ev, tokens = busy_event
    port = free_port()
    proc = start_serve(ev, port)
    url = f"http://127.0.0.1:{port}/"
    try:
        with sync_playwright() as p:
            browser = _launch(p)
            try:
                page = browser.new_page(viewport={"width": 1920, "height": 1080})
                dialogs, errors = [], []
                page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.goto(url)
                chromium.wait_until(page, "Number(document.body.dataset.loaded) >= 1", timeout_ms=REFRESH_WAIT_MS)

                assert page.locator("#title").text_content() == TITLE
                # the table: every team, MCA's row, the names as text
                rows = page.locator("#rows tr.team")
                assert rows.count() == len(TEAMS)
                assert page.locator("#rows tr.reference").count() == 1
                names = rows.locator(".name").all_text_contents()
                assert sorted(names) == sorted(TEAMS)
                assert page.locator("script").count() == 1, "the team name did not become a script"
                ranks = [int(r) for r in rows.locator("td.rank").all_text_contents()]
                assert ranks == list(range(1, len(TEAMS) + 1))
                # readable when projected: no scrolling, large enough type
                assert page.evaluate(FITS) == [True, True], "13 teams and every column must fit without scrolling"
                assert all(page.locator("#head-row th").evaluate_all("hs => hs.map(h => h.offsetWidth > 0)"))
                size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#rows td.team')).fontSize)")
                assert size >= 18, size

                # the plot: one line per team, every submission a dot, MCA's reference line
                assert page.locator("#plot g.team").count() == len(TEAMS)
                assert page.locator("#plot circle.dot").count() == N_SUBMISSIONS
                assert page.locator("#plot line.reference").count() == 1
                assert "MCA" in page.locator("#plot .reference-label").text_content()
                titles = page.locator("#plot g.team > title").all_text_contents()
                assert XSS in titles
                page.screenshot(path=str(artifacts / "leaderboard.png"))

                # a modest projector (1280x720): still every row and column, and the plot redrawn
                page.set_viewport_size({"width": 1280, "height": 720})
                chromium.wait_until(page, "document.getElementById('plot').getAttribute('width') < 700")
                assert page.evaluate(FITS) == [True, True], "13 teams must fit at 1280x720 too"
                page.screenshot(path=str(artifacts / "leaderboard-720p.png"))
                page.set_viewport_size({"width": 1920, "height": 1080})

                # a team submits through the API; the page's own refresh shows it on top
                board = loads(http(url + "api/leaderboard")[2])
                last = board["teams"][-1]["team"]
                body = predictions(truth_of(ev), 0.98, seed=999).to_csv(sep=";", index=False).encode()
                status, _, raw = http(
                    url + "api/submit?" + urllib.parse.urlencode({"team": last, "filename": "final.csv"}),
                    data=body, headers={"Authorization": f"Bearer {tokens[last]}"}, method="POST",
                )  # fmt: skip
                assert status == 200, raw
                assert loads(raw)["rank"] == 1
                chromium.wait_until(
                    page, "(name) => document.querySelector('#rows tr.team .name').textContent === name",
                    arg=last, timeout_ms=REFRESH_WAIT_MS,
                )
                assert page.locator("#rows tr.team").first.get_attribute("class").split().count("changed") == 1
                assert page.locator("#plot circle.dot").count() == N_SUBMISSIONS + 1
                page.screenshot(path=str(artifacts / "leaderboard-after-submit.png"))

                # the reveal: the page switches to the private ranking by itself
                reveal = subprocess.run(
                    [sys.executable, "-m", "datathon", "leaderboard", "reveal", "--event", str(ev)],
                    capture_output=True, text=True, env=cli_env(), timeout=60,
                )  # fmt: skip
                assert reveal.returncode == 0, reveal.stderr
                chromium.wait_until(
                    page, "() => document.getElementById('badge').textContent === 'Final ranking'",
                    timeout_ms=REFRESH_WAIT_MS,
                )
                headers = page.locator("#head-row th").all_text_contents()
                assert [h.lower() for h in headers[:5]] == ["#", "team", "private", "public", "move"]
                page.screenshot(path=str(artifacts / "leaderboard-revealed.png"))

                assert dialogs == [], dialogs
                assert errors == [], errors
            finally:
                browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for name in ("leaderboard.png", "leaderboard-720p.png", "leaderboard-after-submit.png", "leaderboard-revealed.png"):
        assert (artifacts / name).stat().st_size > 20_000, name


def test_a_missing_chromium_fails_under_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    """Without Chromium, does the browser test fail when $CI is set, and only skip otherwise?"""
    monkeypatch.setattr(chromium, "CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="chromium"):
        chromium.chromium_path()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        chromium.chromium_path()
