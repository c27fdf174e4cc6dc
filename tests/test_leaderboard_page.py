"""The projected page (issue 13, "The projected page") in Chromium, for Sirene and for a challenge
unlike it (tests/toy_challenge.py: an error, lower is better, a reference called "Naive"), the
latter served behind a JupyterHub-style prefix.

An event of 12 teams and 300 submissions over two working days is shown at 1920x1080 and at
1280x720; the test checks what a room needs to see, and keeps the screenshots under
``test-artifacts/`` (``leaderboard-page-<challenge>-<size>.png``, ``…-revealed.png``): the table
fills the height with large type and nothing to scroll, the value axis fits the teams' scores
with the reference line inside it, each line carries its team's name at its end with no two
names overlapping, the night between the days is a narrow break, and after the reveal the footer
says submissions are closed and what ranks.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import browser as chromium
import toy_challenge
from browser import artifacts  # noqa: F401  (a fixture the tests below take)
from leaderboard_fixtures import ServerThread, browser_page, predictions, truth_of, write_event_world

from datathon.leaderboard import service

TEAMS = ["Les Sirènes", "SIRETrouvé", "Mairie de Rennes", "Team Luhn", "Les Géocodeurs", "TF-IDF Squad",
         "Enseigne & Cie", "NAF NAF", "Ille-et-Vilaine Data", "Les Intérimaires", "Random Forest Gump",
         "Bulletin Board"]  # fmt: skip
N_SUBMISSIONS = 300
SIZES = [(1920, 1080), (1280, 720)]
PREFIX = "/services/leaderboard/"

#: Geometry of the page, measured in the browser.
MEASURE = """() => {
  const section = document.getElementById('ranking'), table = document.getElementById('standings');
  const plot = document.getElementById('plot').getBoundingClientRect();
  const labels = [...document.querySelectorAll('#plot text.team-label')].map(t => {
    const r = t.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, text: t.textContent}; });
  const dots = [...document.querySelectorAll('#plot circle.dot')].map(c => c.getBoundingClientRect().right);
  const ref = document.querySelector('#plot line.reference').getBoundingClientRect();
  const axis = [...document.querySelectorAll('#plot line.axis')].map(l => l.getBoundingClientRect());
  const ticks = [...document.querySelectorAll('#plot text.tick[text-anchor=end]')].map(t => t.textContent);
  return {
    fits: [section.scrollHeight <= section.clientHeight + 1, section.scrollWidth <= section.clientWidth + 1],
    filled: table.getBoundingClientRect().height / section.clientHeight,
    font: parseFloat(getComputedStyle(document.querySelector('#rows td.team')).fontSize),
    labels, maxDot: Math.max(...dots), ref: {top: ref.top, bottom: ref.bottom},
    plot: {top: plot.top, bottom: plot.bottom, left: plot.left, right: plot.right},
    breaks: [...document.querySelectorAll('#plot rect.break')].map(r => r.getBoundingClientRect().width),
    ticks, footer: document.getElementById('rule').textContent,
    header: [...document.querySelectorAll('#head-row th')].map(h => h.textContent),
    first: document.querySelector('#rows tr.team .name').textContent,
  };
}"""


def _working_times(rng, now: dt.datetime) -> list[dt.datetime]:
    """300 times over two working days ending now: nine hours from 31 hours ago, then the last
    seven hours (a night of fifteen hours between, whatever the time of day the test runs)."""
    day1 = [now - dt.timedelta(hours=31 - 9 * float(u)) for u in rng.random(N_SUBMISSIONS // 2)]
    day2 = [now - dt.timedelta(hours=7 * float(u), minutes=2) for u in rng.random(N_SUBMISSIONS // 2)]
    return sorted(day1 + day2)


def _busy_event(root, challenge: str):
    """An event of 12 teams and 300 submissions, each team improving over the two days."""
    rng = np.random.default_rng(13)
    if challenge == "toy":
        data = root / "data"
        toy_challenge.TOY.generate(5, "sample", data)
    else:
        data = write_event_world(root / "data", n_test=600, seed=11)
    ev = root / "ev"
    service.init_event(ev, data, quota=60, name=f"Page test · {challenge}", timezone=None)
    tokens = {team: service.add_team(ev, team) for team in TEAMS}
    truth = truth_of(ev)
    now = dt.datetime.now().astimezone()
    times = _working_times(rng, now)
    start = times[0]
    skill = {t: (rng.uniform(0.45, 0.6), rng.uniform(0.05, 0.3)) for t in TEAMS}
    who = list(TEAMS) + list(rng.choice(TEAMS, N_SUBMISSIONS - len(TEAMS)))
    rng.shuffle(who)
    for k, (when, team) in enumerate(zip(times, who)):
        base, growth = skill[team]
        progress = (when - start) / (now - start)
        quality = float(np.clip(base + growth * progress + rng.normal(0, 0.05), 0.05, 0.99))
        if challenge == "toy":
            frame = toy_challenge.forecast(truth, 40 * (1 - quality), seed=k)
        else:
            frame = predictions(truth, quality, seed=k)
        service.submit_frame(ev, frame, team=team, token=tokens[team], now=when)
    return ev


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("challenge, base_url", [("sirene", "/"), ("toy", PREFIX)], ids=["sirene", "toy"])
def test_the_projected_page_fits_and_reads(challenge, base_url, tmp_path, artifacts, monkeypatch):  # noqa: F811
    """At 1920x1080 and 1280x720, with 12 teams and 300 submissions: does the table fill the height
    with readable type and nothing to scroll, the value axis fit the scores with the reference line
    inside it, each team's line end in its name with no two names overlapping, the night shrink to
    a narrow break; does the page speak the challenge ("vs Naive", lower first for the toy), and
    after the reveal, does the footer say that submissions are closed and what ranks?"""
    chromium.chromium_path()
    if challenge == "toy":
        toy_challenge.install(monkeypatch)
    ev = _busy_event(tmp_path, challenge)
    board = service.board(ev)
    reference_name = board["reference"]["name"]
    server = ServerThread(ev, base_url=base_url, refresh_seconds=2).start()
    try:
        with browser_page(server.url + base_url) as (page, errors):
            for width, height in SIZES:
                page.set_viewport_size({"width": width, "height": height})
                chromium.wait_until(page, f"document.getElementById('plot').getAttribute('width') < {width / 2}")
                shown = page.evaluate(MEASURE)
                page.screenshot(path=str(artifacts / f"leaderboard-page-{challenge}-{width}x{height}.png"))
                _check_layout(shown, width, height)
                assert f"vs {reference_name}" in shown["header"]
            assert shown["first"] == board["teams"][0]["team"]
            if challenge == "toy":
                errors_by_team = {r["team"]: r["public_score"] for r in board["teams"]}
                assert shown["first"] == min(errors_by_team, key=errors_by_team.get), "the lowest error ranks first"
                assert "Mean absolute error" in page.locator("#subtitle").text_content()
                assert "lower is better" in page.locator("#subtitle").text_content()
            service.reveal(ev)
            chromium.wait_until(page, "document.getElementById('badge').textContent === 'Final ranking'",
                                timeout_ms=20_000)  # fmt: skip
            shown = page.evaluate(MEASURE)
            page.screenshot(path=str(artifacts / f"leaderboard-page-{challenge}-revealed.png"))
            assert shown["footer"].startswith("submissions closed at ") and "private score" in shown["footer"]
            assert "quota" not in shown["footer"]
            assert errors == [], errors
    finally:
        server.stop()


def _check_layout(shown: dict, width: int, height: int) -> None:
    assert shown["fits"] == [True, True], f"{width}x{height}: the table must fit without scrolling"
    assert shown["filled"] > 0.93, f"{width}x{height}: the table fills {shown['filled']:.0%} of the height"
    assert shown["font"] >= (26 if height >= 1080 else 17), f"{width}x{height}: type of {shown['font']} px"
    plot = shown["plot"]
    assert plot["top"] < shown["ref"]["top"] and shown["ref"]["bottom"] < plot["bottom"], "the reference line is inside"
    labels = sorted(shown["labels"], key=lambda l: l["top"])
    assert len(labels) == len(TEAMS)
    for above, below in zip(labels, labels[1:]):
        assert above["bottom"] <= below["top"] + 1, f"{width}x{height}: {above['text']!r} overlaps {below['text']!r}"
    assert all(l["left"] >= shown["maxDot"] for l in labels), "the names are at the lines' ends, right of every dot"
    assert all(plot["left"] <= l["left"] and l["bottom"] <= plot["bottom"] + 1 for l in labels)
    assert len(shown["breaks"]) == 1, "one night between the two days, drawn as one break"
    assert shown["breaks"][0] < 0.05 * (plot["right"] - plot["left"]), "the night is a narrow break"
