"""The cooperative mode (issue 13): every team's figures side by side and its concordance with the
reference, no ranks, as the 2018 event did ("not a competition: help each other"); the
competitive mode stays the default, and `leaderboard set --mode` switches during the event.
"""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from leaderboard_fixtures import (
    ServerThread,
    browser_page,
    http,
    loads,
    make_event,
    predictions,
    truth_of,
    write_event_world,
)
from test_leaderboard import assert_one_line_error, run_cli

import browser as chromium
from browser import artifacts  # noqa: F401  (a fixture the browser test takes)
from datathon.errors import UserError
from datathon.leaderboard import commands, service

START = dt.datetime(2026, 3, 10, 9, tzinfo=dt.timezone.utc)
TEAMS = ["Zèbres", "Alpha", "Mairie de Rennes", "Bêta"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return write_event_world(tmp_path_factory.mktemp("world") / "data")


@pytest.fixture
def cooperative(tmp_path, world):
    """A cooperative Sirene event where each team has submitted once (Bêta twice, worse then better)."""
    ev = tmp_path / "ev"
    service.init_event(ev, world, quota=5, name="Rennes 2018", mode="cooperative")
    tokens = {team: service.add_team(ev, team) for team in TEAMS}
    truth = truth_of(ev)
    answers = {}
    for k, (team, quality) in enumerate([("Zèbres", 0.9), ("Alpha", 0.4), ("Mairie de Rennes", 0.7), ("Bêta", 0.2),
                                         ("Bêta", 0.6)]):  # fmt: skip
        answers[team] = service.submit_frame(ev, predictions(truth, quality, seed=k), team=team, token=tokens[team],
                                             now=START + dt.timedelta(minutes=k))  # fmt: skip
    return ev, tokens, answers


def test_cooperative_standings_have_figures_and_no_rank(cooperative):
    """Does a cooperative board list every team by name, none ranked (not in answers either),
    each with every score type of its counted submission (the concordance with MCA among them)
    and the reference's own figures?"""
    ev, _, answers = cooperative
    board = service.board(ev)
    assert board["event"]["mode"] == "cooperative"
    assert [r["team"] for r in board["teams"]] == sorted(TEAMS, key=str.casefold)
    assert all(r["rank"] is None for r in board["teams"])
    assert all(a["rank"] is None and a["n_ranked"] == 0 for a in answers.values())
    printed = commands.format_result(answers["Alpha"])
    assert "cooperative board, no ranking: team score" in printed and "rank:" not in printed
    for row in board["teams"]:
        assert set(row["metrics"]) == {"success_rate", "precision", "coding_rate", "mca_concordance"}
        assert row["metrics"]["success_rate"] == row["public_score"]
        assert 0 < row["metrics"]["mca_concordance"] <= 1
    beta = next(r for r in board["teams"] if r["team"] == "Bêta")
    assert beta["metrics"]["success_rate"] == answers["Bêta"]["public_score"], "its better, later submission counts"
    assert board["reference"]["metrics"]["mca_concordance"] == 1.0, "MCA agrees with itself"
    assert [t["key"] for t in board["event"]["score_types"]] == list(beta["metrics"])


def test_cooperative_table_on_the_command_line_and_switching_modes(cooperative):
    """Does `show` print the cooperative table (every figure, no rank column), does `set --mode
    competitive` bring ranks back at once, and is a bad mode one line?"""
    ev, _, _ = cooperative
    text = run_cli("leaderboard", "show", "--event", ev).stdout
    assert "cooperative board of 'Rennes 2018'" in text and "no ranking" in text
    header = text.splitlines()[1]
    assert header.split()[0] == "team" and "concordance with MCA" in header and "rank" not in header
    assert "MCA (reference)" in text and "100.00 %" in text
    assert text.index("Alpha") < text.index("Bêta") < text.index("Mairie") < text.index("Zèbres")
    proc = run_cli("leaderboard", "set", "--event", ev, "--mode", "competitive")
    assert proc.returncode == 0 and "mode of 'Rennes 2018': competitive" in proc.stdout, proc.stderr
    ranked = service.standings(ev)
    assert [r["rank"] for r in ranked["teams"]] == [1, 2, 3, 4] and ranked["teams"][0]["team"] == "Zèbres"
    assert json.loads((ev / service.EVENT_FILE).read_text())["mode"] == "competitive"
    assert "rank" in commands.format_standings(ranked).splitlines()[1]
    bad = run_cli("leaderboard", "set", "--event", ev, "--mode", "friendly")
    assert bad.returncode == 2 and "invalid choice: 'friendly'" in bad.stderr and "Traceback" not in bad.stderr
    assert_one_line_error(run_cli("leaderboard", "set", "--event", ev), "leaderboard")
    with pytest.raises(UserError, match="--mode must be one of competitive, cooperative"):
        service.set_quota(ev, mode="friendly")
    with pytest.raises(UserError, match="--mode must be one of"):
        service.init_event(ev.parent / "other", ev.parent, mode="friendly")


def test_the_competitive_mode_stays_the_default(tmp_path, world):
    """Is an event made without --mode competitive, and an event.json without `mode` read so?"""
    ev = tmp_path / "ev"
    make_event(ev, world, [])
    config = json.loads((ev / service.EVENT_FILE).read_text())
    assert config["mode"] == "competitive"
    del config["mode"]
    (ev / service.EVENT_FILE).write_text(json.dumps(config))
    assert service.Event(ev).config.mode == "competitive"


def test_the_cooperative_page_and_its_reveal(cooperative):
    """Does the served page say "Cooperative board", show each figure's column (concordance with
    MCA included) and no rank or "vs MCA" column; and after the reveal, "Final results" with the
    private figures and a footer saying submissions are closed?"""
    ev, _, _ = cooperative
    server = ServerThread(ev).start()
    try:
        page = http(server.url + "/")[2].decode()
        assert "Cooperative board" in page and "Concordance with MCA" in page and "no ranking" in page
        assert "vs MCA" not in page and '<th class="rank">' not in page
        assert re.search(r'<td class="team">Alpha</td>', page)
        service.reveal(ev)
        page = http(server.url + "/")[2].decode()
        board = loads(http(server.url + "/api/leaderboard")[2])
    finally:
        server.stop()
    assert "Final results" in page and "submissions closed at" in page and "with its private figures" in page
    zebres = next(r for r in board["teams"] if r["team"] == "Zèbres")
    assert zebres["metrics"]["success_rate"] == zebres["private_score"] and zebres["rank"] is None


@pytest.mark.browser
def test_the_cooperative_page_in_a_browser(cooperative, artifacts):  # noqa: F811
    """In Chromium, does the script draw the cooperative table (every team by name, each figure,
    the reference's row, no rank) and lines labelled without ranks? Screenshot:
    ``test-artifacts/leaderboard-cooperative.png``."""
    chromium.chromium_path()
    ev, _, _ = cooperative
    server = ServerThread(ev).start()
    try:
        with browser_page(server.url + "/") as (page, errors):
            headers = page.locator("#head-row th").all_text_contents()
            assert headers == ["Team", "Success rate", "Precision", "Coding rate", "Concordance with MCA", "Subs"]
            assert page.locator("#rows tr.team .name").all_text_contents() == sorted(TEAMS, key=str.casefold)
            assert page.locator("#rows tr.reference").count() == 1
            labels = page.locator("#plot text.team-label").all_text_contents()
            # long names are cut with "…" at the line's end; none starts with a rank
            assert sorted(label.rstrip("…") for label in labels) == sorted(
                next(t[:len(label.rstrip("…"))] for t in TEAMS if t.startswith(label.rstrip("…"))) for label in labels)
            assert len(labels) == len(TEAMS) and not any(label[0].isdigit() for label in labels)
            assert page.locator("#badge").text_content() == "Cooperative board"
            page.screenshot(path=str(artifacts / "leaderboard-cooperative.png"))
            assert errors == [], errors
    finally:
        server.stop()
