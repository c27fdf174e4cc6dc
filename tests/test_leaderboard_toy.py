"""The leaderboard through the challenge contract, on a challenge unlike Sirene (tests/toy_challenge.py):
an error that ranks lower first, a split by time, a reference called "Naive"; and Sirene's
version-1 ``event.json`` still opening (docs/challenges.md, §4 step 2a).
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import toy_challenge
from leaderboard_fixtures import ServerThread, http, loads, truth_of
from toy_challenge import forecast

from datathon.errors import UserError
from datathon.leaderboard import commands, service

UTC = dt.timezone.utc
START = dt.datetime(2026, 3, 10, 9, tzinfo=UTC)


@pytest.fixture
def toy(monkeypatch, tmp_path):
    """The toy challenge installed, and a data directory of it."""
    toy_challenge.install(monkeypatch)
    data = tmp_path / "toy-data"
    toy_challenge.TOY.generate(3, "sample", data)
    return data


def _event(tmp_path, data, teams, **options):
    ev = tmp_path / "ev"
    service.init_event(ev, data, quota=20, name="Toy cup", **options)
    return ev, {team: service.add_team(ev, team) for team in teams}


def test_the_data_manifest_chooses_the_challenge_and_the_split_is_by_time(toy, tmp_path):
    """Does init take the challenge from the data's manifest, write event.json version 2 with the
    challenge and n_rows, split by time (the first half of the days public), and refuse a
    --public-share the challenge has no use for?"""
    ev, _ = _event(tmp_path, toy, [])
    config = json.loads((ev / service.EVENT_FILE).read_text())
    assert (config["version"], config["challenge"], config["n_rows"]) == (2, "toy", toy_challenge.TEST_DAYS)
    assert "n_bulletins" not in config and config["public_share"] is None
    truth = truth_of(ev)
    assert truth["PUBLIC"].tolist() == [True] * 10 + [False] * 10
    with pytest.raises(UserError, match="splits its forecast days by time"):
        service.init_event(tmp_path / "other", toy, public_share=0.5)
    with pytest.raises(UserError, match="--challenge sirene, but .* says toy"):
        service.init_event(tmp_path / "other", toy, challenge="sirene")


def test_lower_error_ranks_first_and_best_counts_the_minimum(toy, tmp_path):
    """With an error metric, is the team with the lower error ranked first (public and private
    parts), does rule `best` count a team's lowest error (not its highest), and does the reference
    row sit among the teams by its error?"""
    ev, tokens = _event(tmp_path, toy, ["Close", "Far", "Mixed"])
    truth = truth_of(ev)
    submit = lambda team, error, minute, seed=0: service.submit_frame(  # noqa: E731
        ev, forecast(truth, error, seed=seed), team=team, token=tokens[team], now=START + dt.timedelta(minutes=minute))
    submit("Far", 40.0, 0)
    close = submit("Close", 1.0, 1)
    mixed_good = submit("Mixed", 5.0, 2)
    submit("Mixed", 30.0, 3, seed=1)  # worse: the best rule keeps the earlier, lower error
    board = service.standings(ev)
    assert [r["team"] for r in board["teams"]] == ["Close", "Mixed", "Far"]
    assert board["teams"][0]["public_score"] == pytest.approx(1.0)
    mixed = board["teams"][1]
    assert mixed["counted_submission"] == mixed_good["submission"] and mixed["public_score"] == pytest.approx(5.0)
    assert close["rank"] == 1 and close["reference_public_score"] == board["reference"]["public_score"]
    assert "mca_public_score" not in close, "Sirene's legacy key belongs to Sirene"
    assert board["event"]["metric"] == {"key": "mae", "label": "mean absolute error", "direction": "lower",
                                        "format": "number", "digits": 2}  # fmt: skip
    assert board["reference"]["name"] == "Naive" and board["event"]["unit"] == "forecast days"
    text = commands.format_standings(board)
    assert "mean absolute error, lower is better" in text
    names = ["Naive" if "Naive (reference)" in line else line.split()[1] for line in text.splitlines()[2:]]
    ref_error = board["reference"]["public_score"]
    assert 5.0 < ref_error < 40.0, "the naive forecast sits between the teams"
    assert names == ["Close", "Mixed", "Naive", "Far"]
    service.reveal(ev)
    final = service.standings(ev)
    assert [r["team"] for r in final["teams"]] == ["Close", "Mixed", "Far"]
    assert final["teams"][0]["private_score"] == pytest.approx(1.0)


def test_rule_last_and_the_printed_answer_speak_the_challenge(toy, tmp_path):
    """Under rule `last`, does a later, worse forecast count; and does the CLI's answer print the
    challenge's label and its reference, never Sirene's words?"""
    ev, tokens = _event(tmp_path, toy, ["Solo"], rule="last")
    truth = truth_of(ev)
    service.submit_frame(ev, forecast(truth, 2.0), team="Solo", token=tokens["Solo"], now=START)
    result = service.submit_frame(ev, forecast(truth, 9.0), team="Solo", token=tokens["Solo"],
                                  now=START + dt.timedelta(minutes=5))  # fmt: skip
    assert result["team_score"] == pytest.approx(9.0)
    text = commands.format_result(result)
    assert "public part (10 forecast days):" in text
    assert "mean absolute error" in text and "(Naive " in text and "team score 9.00" in text
    assert "MCA" not in text and "bulletin" not in text and "success" not in text


def test_team_names_refuse_the_challenges_own_reference(toy, tmp_path):
    """Is a team called like the toy's reference (\"naive\", \"Naive (reference)\") refused, and
    is \"MCA\", Sirene's reference, an ordinary name in a toy event?"""
    ev, _ = _event(tmp_path, toy, [])
    for name in ("Naive", "naive (reference)"):
        with pytest.raises(UserError, match="reference system's name"):
            service.add_team(ev, name)
    assert service.add_team(ev, "MCA")


def test_the_page_and_the_api_speak_the_challenge(toy, tmp_path):
    """Do the served page and its JSON say the toy's label, unit, direction and "vs Naive", with the
    lower error first and no Sirene word?"""
    ev, tokens = _event(tmp_path, toy, ["Close", "Far"])
    truth = truth_of(ev)
    service.submit_frame(ev, forecast(truth, 30.0), team="Far", token=tokens["Far"], now=START)
    service.submit_frame(ev, forecast(truth, 1.0), team="Close", token=tokens["Close"], now=START)
    server = ServerThread(ev).start()
    try:
        status, _, page = http(server.url + "/")
        board = loads(http(server.url + "/api/leaderboard")[2])
    finally:
        server.stop()
    page = page.decode()
    assert status == 200
    assert "vs Naive" in page and "Naive (reference)" in page and "forecast days" in page
    assert "Mean absolute error on the public part" in page and "lower is better" in page
    assert "MCA" not in page and "bulletin" not in page and "Success" not in page
    assert page.index("Close") < page.index("Far")
    assert [t["team"] for t in board["teams"]] == ["Close", "Far"]


def test_a_version_1_event_file_opens_as_sirene(tmp_path, world):
    """Does an event.json written by the kit before challenges (version 1: no challenge,
    n_bulletins; tests/golden/event-v1.json) open as a Sirene event, with its counts, and
    take submissions?"""
    from leaderboard_fixtures import make_event, predictions

    ev = tmp_path / "ev"
    tokens = make_event(ev, world, ["Alpha"])
    written = json.loads((ev / service.EVENT_FILE).read_text())
    v1 = json.loads((Path(__file__).parent / "golden" / "event-v1.json").read_text())
    assert v1["version"] == 1 and "challenge" not in v1 and "n_rows" not in v1
    # The fixture's machine-specific fields are this event's (where its data is, its truth's hash).
    v1.update({k: written[k] for k in ("data", "created", "truth_sha256", "n_public", "n_private")})
    v1["n_bulletins"] = written["n_rows"]
    (ev / service.EVENT_FILE).write_text(json.dumps(v1))
    opened = service.Event(ev)
    assert (opened.config.challenge, opened.config.n_rows, opened.challenge.name) == ("sirene", 400, "sirene")
    result = service.submit_frame(opened, predictions(truth_of(ev), 0.8), team="Alpha", token=tokens["Alpha"])
    assert result["rank"] == 1 and result["mca_public_score"] == result["reference_public_score"] is not None
    assert service.standings(opened)["event"]["metric"]["key"] == "success_rate"
    service.set_quota(opened, quota=7)  # rewritten as version 2, Sirene's n_bulletins kept beside n_rows
    rewritten = json.loads((ev / service.EVENT_FILE).read_text())
    assert (rewritten["version"], rewritten["challenge"], rewritten["n_rows"], rewritten["n_bulletins"]) == (2, "sirene", 400, 400)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from leaderboard_fixtures import write_event_world

    return write_event_world(tmp_path_factory.mktemp("world") / "data")
