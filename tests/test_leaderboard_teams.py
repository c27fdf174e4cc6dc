"""Managing an event's teams and quota (issue 13): list, rename, remove, reissue, import, token
slips, and a quota per day (in the event's time zone) or for the whole event, changeable.

Most tests go through the Python API; the commands' outputs and one-line errors through
``python -m datathon``, as the instructor types them.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
import stat
from html.parser import HTMLParser
from pathlib import Path

import pytest

from leaderboard_fixtures import make_event, predictions, snapshot, truth_of, world  # noqa: F401 (world: a fixture)
from test_leaderboard import XSS, assert_one_line_error, run_cli

from datathon.errors import UserError
from datathon.leaderboard import SubmissionRefused, service, store

UTC = dt.timezone.utc


@pytest.fixture
def event(tmp_path, world):
    """A fresh event with two teams (quota 3 per day): ``(path, {team: token})``."""
    ev = tmp_path / "ev"
    return ev, make_event(ev, world, ["Alpha", "Beta"], quota=3)


def submit(ev: Path | service.Event, team: str, token: str, *, now: dt.datetime | None = None, seed: int = 0) -> dict:
    truth = truth_of(ev.path if isinstance(ev, service.Event) else ev)
    return service.submit_frame(ev, predictions(truth, 0.6, seed=seed), team=team, token=token, now=now)


# ---------------------------------------------------------------------------------------------
# teams


def test_list_teams_counts_submissions_and_shows_no_token(event):
    """Does `teams list` give each team's submissions and last submission, and never a token or
    its hash (API and command)?"""
    ev, tokens = event
    submit(ev, "Alpha", tokens["Alpha"])
    teams = {t["team"]: t for t in service.list_teams(ev)}
    assert teams["Alpha"]["submissions"] == 1 and teams["Alpha"]["last_submission"]
    assert teams["Beta"]["submissions"] == 0 and teams["Beta"]["last_submission"] is None
    proc = run_cli("leaderboard", "teams", "list", "--event", ev)
    assert proc.returncode == 0, proc.stderr
    assert "Alpha" in proc.stdout and "Beta" in proc.stdout
    with sqlite3.connect(ev / service.DB_FILE) as conn:
        hashes = [h for (h,) in conn.execute("SELECT token_sha256 FROM teams")]
    for secret in [*tokens.values(), *hashes]:
        assert secret not in proc.stdout and secret not in json.dumps(teams)


def test_rename_keeps_token_and_submissions(event):
    """Does a renamed team keep its token and its submissions, under the new name only?"""
    ev, tokens = event
    submit(ev, "Alpha", tokens["Alpha"])
    assert service.rename_team(ev, "alpha", "  Les   Mouettes ") == "Les Mouettes"
    row = next(r for r in service.standings(ev)["teams"] if r["team"] == "Les Mouettes")
    assert row["submissions"] == 1
    service.authenticate(ev, "Les Mouettes", tokens["Alpha"])
    with pytest.raises(SubmissionRefused, match="no team named"):
        service.authenticate(ev, "Alpha", tokens["Alpha"])
    assert service.rename_team(ev, "Les Mouettes", "LES MOUETTES") == "LES MOUETTES"  # its own name, recased


@pytest.mark.parametrize(
    ("new", "message"),
    [("Beta", "already exists"), ("BETA", "already exists"), ("AIpha", "looks like the existing team 'Alpha'"),
     ("MCA", "reference system"), ("Аlpha", "mixes"), ("", "cannot be empty")],
)  # fmt: skip
def test_rename_refuses_what_add_team_refuses(event, new, message):
    """Does a rename go through add-team's cleaning and look-alike checks (against the other
    teams), writing nothing when refused?"""
    ev, _ = event
    before = snapshot(ev)
    with pytest.raises(UserError, match=message):
        service.rename_team(ev, "Beta" if new == "AIpha" else "Alpha", new)
    assert snapshot(ev) == before


def test_remove_refuses_a_team_with_submissions_unless_forced(event):
    """Is a team with submissions removed only with --force (one-line refusal, nothing written),
    and then out of the standings, its token refused, its rows kept?"""
    ev, tokens = event
    submit(ev, "Alpha", tokens["Alpha"])
    before = snapshot(ev)
    proc = run_cli("leaderboard", "teams", "remove", "Alpha", "--event", ev)
    assert "--force" in assert_one_line_error(proc, "leaderboard")
    assert snapshot(ev) == before
    proc = run_cli("leaderboard", "teams", "remove", "Alpha", "--event", ev, "--force")
    assert proc.returncode == 0, proc.stderr
    assert "stay recorded" in proc.stdout
    assert [r["team"] for r in service.standings(ev)["teams"]] == ["Beta"]
    assert next(t for t in service.list_teams(ev) if t["team"] == "Alpha")["removed_at"]
    with pytest.raises(SubmissionRefused, match="removed") as refused:
        submit(ev, "Alpha", tokens["Alpha"])
    assert refused.value.reason == "bad_token"
    with sqlite3.connect(ev / service.DB_FILE) as conn:
        assert conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 1
    with pytest.raises(UserError, match="already exists"):  # the name stays taken
        service.add_team(ev, "Alpha")


def test_remove_a_team_without_submissions_and_standings_still_rank(event):
    """Does removing a team without submissions need no --force, and do the others still rank?"""
    ev, tokens = event
    submit(ev, "Alpha", tokens["Alpha"])
    assert service.remove_team(ev, "Beta") == {"team": "Beta", "submissions": 0}
    board = service.standings(ev)
    assert [(r["team"], r["rank"]) for r in board["teams"]] == [("Alpha", 1)]
    with pytest.raises(UserError, match="was removed"):
        service.remove_team(ev, "Beta")


def test_reissue_gives_a_new_token_and_stops_the_old(event):
    """Does `teams reissue` print a working token as its last word, and refuse the old one?"""
    ev, tokens = event
    proc = run_cli("leaderboard", "teams", "reissue", "Beta", "--event", ev)
    assert proc.returncode == 0, proc.stderr
    new = proc.stdout.split()[-1]
    service.authenticate(ev, "Beta", new)
    with pytest.raises(SubmissionRefused, match="wrong token"):
        service.authenticate(ev, "Beta", tokens["Beta"])
    service.authenticate(ev, "Alpha", tokens["Alpha"])  # other teams untouched


def participants(path: Path, teams: list[str], per_team: int = 5, header: str = "login,name,email,team") -> Path:
    """A participants CSV: ``per_team`` people in each team."""
    lines = [header]
    for t, team in enumerate(teams):
        for p in range(per_team):
            cells = {"login": f"u{t}{p}", "name": f"Person {t}-{p}", "email": f"u{t}{p}@example.org", "team": team}
            sep = ";" if ";" in header else ","
            lines.append(sep.join(cells[c] for c in header.split(sep)))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_creates_each_team_once(event, tmp_path):
    """Does importing 60 participants in 12 teams create 12 teams (Alpha already there), and a
    second import create nothing?"""
    ev, _ = event
    names = ["Alpha"] + [f"Team {i}" for i in range(1, 12)]
    csv_file = participants(tmp_path / "people.csv", names)
    proc = run_cli("leaderboard", "teams", "import", csv_file, "--event", ev)
    assert proc.returncode == 0, proc.stderr
    assert "created 11 team(s)" in proc.stdout and "unchanged: 1" in proc.stdout
    assert "slips" in proc.stdout
    assert len(service.list_teams(ev)) == 13
    again = service.import_teams(ev, csv_file)
    assert again["created"] == {} and sorted(again["existing"]) == sorted(names)


def test_import_reads_a_team_column_alone_with_semicolons(event, tmp_path):
    """Is a semicolon-separated file with only a `team` column (and a blank line) read, and its
    tokens returned by the API valid?"""
    ev, _ = event
    csv_file = tmp_path / "teams.csv"
    csv_file.write_text("Team\nGamma\n\nDelta\ngamma\n", encoding="utf-8")
    done = service.import_teams(ev, csv_file)
    assert list(done["created"]) == ["Gamma", "Delta"]
    for name, token in done["created"].items():
        service.authenticate(ev, name, token)


@pytest.mark.parametrize(
    ("rows", "message"),
    [(["Gamma", "Bêta"], None), (["Gamma", "AIpha"], "line 3: 'AIpha' looks like the existing team 'Alpha'"),
     (["Gamma", "Delta", "De1ta"], "line 4: 'De1ta' looks like the existing team 'Delta'"),
     (["Gamma", ""], "line 3: a team name cannot be empty"), (["Gamma", "MCA"], "line 3")],
)  # fmt: skip
def test_import_refuses_the_whole_file_on_a_bad_name(event, tmp_path, rows, message):
    """Does one bad or look-alike name (against the event or the file itself) refuse the whole
    file, in one line naming its line, with nothing written?"""
    ev, _ = event
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("login,team\n" + "".join(f"u{i},{r}\n" for i, r in enumerate(rows)), encoding="utf-8")
    if message is None:  # 'Bêta' reads differently from 'Beta': accepted
        assert list(service.import_teams(ev, csv_file)["created"]) == rows
        return
    before = snapshot(ev)
    proc = run_cli("leaderboard", "teams", "import", csv_file, "--event", ev)
    line = assert_one_line_error(proc, "leaderboard")
    assert message in line and "nothing was imported" in line
    assert snapshot(ev) == before


def test_import_refuses_a_file_without_team_column(event, tmp_path):
    """Is a CSV without a `team` column refused in one line?"""
    ev, _ = event
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("login,name\nu1,A\n", encoding="utf-8")
    with pytest.raises(UserError, match="no 'team' column"):
        service.import_teams(ev, csv_file)


def test_old_database_and_config_are_migrated_on_open(event):
    """Does an event made before removals and quota periods (no teams.removed_at, no quota_per or
    timezone in event.json) open, gain the column, and count per local day?"""
    ev, tokens = event
    with sqlite3.connect(ev / service.DB_FILE) as conn:
        conn.execute("ALTER TABLE teams DROP COLUMN removed_at")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    config = json.loads((ev / service.EVENT_FILE).read_text())
    del config["quota_per"], config["timezone"]
    (ev / service.EVENT_FILE).write_text(json.dumps(config))
    opened = service.Event(ev)
    assert opened.config.quota_per == "day" and opened.config.timezone is None
    with sqlite3.connect(ev / service.DB_FILE) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(teams)")}
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    assert "removed_at" in columns and json.loads(version) == store.SCHEMA_VERSION
    service.remove_team(opened, "Beta")
    assert [r["team"] for r in service.standings(opened)["teams"]] == ["Alpha"]


# ---------------------------------------------------------------------------------------------
# token slips


class _Slips(HTMLParser):
    """Collects each slip's texts by class, and every attribute that could load something."""

    def __init__(self) -> None:
        super().__init__()
        self.slips: list[dict[str, str]] = []
        self.loads: list[str] = []
        self._class: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.loads += [f"{tag} {k}={v}" for k, v in attrs.items() if k in ("src", "href", "srcset", "data")]
        if attrs.get("class") == "slip":
            self.slips.append({})
        elif self.slips and attrs.get("class") in ("event", "team", "token"):
            self._class = attrs["class"]

    def handle_endtag(self, tag):
        self._class = None

    def handle_data(self, data):
        if self._class:
            self.slips[-1][self._class] = self.slips[-1].get(self._class, "") + data


def test_slips_reissue_every_token_and_print_them(tmp_path, world):
    """Does `slips` write one self-contained page (mode 0600) with a slip per team, each token
    valid and every old token refused, the names escaped, and say loudly that old tokens stop?"""
    ev = tmp_path / "ev"
    teams = ["Alpha", XSS, "Les Mouettes"]
    old = make_event(ev, world, teams, name="Datathon 2026")
    out = tmp_path / "slips.html"
    proc = run_cli("leaderboard", "slips", "--event", ev, "--out", out, "--server", "http://10.0.0.5:8765")
    assert proc.returncode == 0, proc.stderr
    assert "every previous token" in proc.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    html = out.read_text(encoding="utf-8")
    assert XSS not in html and "&lt;script&gt;" in html
    parsed = _Slips()
    parsed.feed(html)
    assert parsed.loads == [] and "url(" not in html and "@import" not in html
    assert [s["team"] for s in parsed.slips] == teams
    for slip in parsed.slips:
        assert slip["event"] == "Datathon 2026"
        service.authenticate(ev, slip["team"], slip["token"].strip())
        with pytest.raises(SubmissionRefused, match="wrong token"):
            service.authenticate(ev, slip["team"], old[slip["team"]])
    assert html.count("--token-file token.txt") == 3 and html.count("http://10.0.0.5:8765") >= 3


def test_slips_for_some_teams_and_never_over_a_file(event, tmp_path):
    """Does `--teams` re-issue only those teams, and is an existing --out refused without
    --force, in one line, with every token still working?"""
    ev, tokens = event
    out = tmp_path / "slips.html"
    done = service.write_slips(ev, out, teams=["beta"])
    assert done["teams"] == ["Beta"]
    service.authenticate(ev, "Alpha", tokens["Alpha"])
    with pytest.raises(SubmissionRefused):
        service.authenticate(ev, "Beta", tokens["Beta"])
    page = out.read_bytes()
    before = snapshot(ev)
    proc = run_cli("leaderboard", "slips", "--event", ev, "--out", out)
    assert "--force" in assert_one_line_error(proc, "leaderboard")
    assert snapshot(ev) == before and out.read_bytes() == page
    with pytest.raises(UserError, match="no team named 'Nobody'"):  # refused before anything changes
        service.write_slips(ev, tmp_path / "other.html", teams=["Alpha", "Nobody"])
    assert not (tmp_path / "other.html").exists()
    service.authenticate(ev, "Alpha", tokens["Alpha"])
    service.write_slips(ev, out, force=True)
    assert out.read_bytes() != page


def test_slips_fit_an_a4_page_in_chromium(tmp_path):
    """Rendered by Chromium for print on A4 (12 teams, the longest name allowed), does every slip
    fit the page's width, its token inside its box, with 4 or more slips to a page?"""
    from browser import CHROMIUM_ARGS, chromium_path

    from datathon.leaderboard.slips import render_slips

    executable = chromium_path()  # skips with the reason when Chromium or playwright is missing
    from playwright.sync_api import sync_playwright

    tokens = {("W" * service.MAX_TEAM_NAME if i == 0 else f"Team {i}"): service.new_token() for i in range(12)}
    page_file = tmp_path / "slips.html"
    page_file.write_text(render_slips("Datathon 2026", tokens, server="http://10.0.0.5:8765"), encoding="utf-8")
    a4_width = round(190 / 25.4 * 96)  # 210 mm less the 10 mm margins, in CSS pixels
    a4_height = round(277 / 25.4 * 96)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": a4_width, "height": a4_height})
            page.emulate_media(media="print")
            page.goto(page_file.as_uri())
            sizes = page.evaluate(
                """() => [...document.querySelectorAll('.slip')].map(s => ({
                    right: s.getBoundingClientRect().right, height: s.getBoundingClientRect().height,
                    tokenFits: s.querySelector('.token').scrollWidth <= s.querySelector('.token').clientWidth}))"""
            )
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            pdf = page.pdf(format="A4", margin={"top": "10mm", "bottom": "10mm", "left": "10mm", "right": "10mm"})
        finally:
            browser.close()
    assert len(sizes) == 12
    assert scroll_width <= a4_width
    assert all(s["right"] <= a4_width and s["tokenFits"] for s in sizes), sizes
    assert all(s["height"] <= a4_height / 4 for s in sizes), sizes
    assert 1 <= pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") <= 3  # 12 slips, 4 or more to a page


# ---------------------------------------------------------------------------------------------
# quotas


def test_event_quota_holds_across_days(tmp_path, world):
    """With --quota-per event, does a team stop at the quota whatever the day, and is the
    refusal about the event, not midnight?"""
    ev = tmp_path / "ev"
    service.init_event(ev, world, quota=2, quota_per="event", timezone="Europe/Paris")
    token = service.add_team(ev, "Alpha")
    first = submit(ev, "Alpha", token, now=dt.datetime(2026, 3, 10, 9, tzinfo=UTC))
    assert first["quota_per"] == "event" and first["remaining_today"] == 1
    submit(ev, "Alpha", token, now=dt.datetime(2026, 3, 11, 9, tzinfo=UTC), seed=1)
    before = snapshot(ev)
    with pytest.raises(SubmissionRefused, match="all 2 submissions of the event") as refused:
        submit(ev, "Alpha", token, now=dt.datetime(2026, 3, 12, 9, tzinfo=UTC), seed=2)
    assert refused.value.reason == "quota" and "midnight" not in refused.value.message
    assert snapshot(ev) == before


def test_a_changed_quota_counts_from_the_next_submission(event):
    """Does `leaderboard set` change the quota (and its period) for the very next submission,
    through the same opened Event (as the server holds one), written atomically to event.json?"""
    ev, tokens = event
    opened = service.Event(ev)
    now = dt.datetime(2026, 3, 10, 9, tzinfo=UTC)
    proc = run_cli("leaderboard", "set", "--event", ev, "--quota", "1")
    assert proc.returncode == 0, proc.stderr
    assert "1 submissions per team per day" in proc.stdout
    submit(opened, "Alpha", tokens["Alpha"], now=now)
    with pytest.raises(SubmissionRefused, match="its 1 submissions for today"):
        submit(opened, "Alpha", tokens["Alpha"], now=now, seed=1)
    service.set_quota(ev, quota=3, quota_per="event")
    assert submit(opened, "Alpha", tokens["Alpha"], now=now + dt.timedelta(days=1), seed=1)["remaining_today"] == 1
    config = json.loads((ev / service.EVENT_FILE).read_text())
    assert (config["quota"], config["quota_per"]) == (3, "event")
    assert sorted(p.name for p in ev.iterdir()) == ["event.json", "leaderboard.sqlite", "salt", "truth.parquet"]
    assert service.standings(opened)["event"]["quota"] == 3
    with pytest.raises(UserError, match="at least 1"):
        service.set_quota(ev, quota=0)
    assert_one_line_error(run_cli("leaderboard", "set", "--event", ev), "leaderboard")


def test_days_are_counted_in_the_event_time_zone(tmp_path, world):
    """With --timezone Europe/Paris and a quota of 1 a day, do submissions just before and just
    after Paris midnight (the same UTC day) fall on two days, and two before it on one?"""
    ev = tmp_path / "ev"
    service.init_event(ev, world, quota=1, timezone="Europe/Paris")
    token = service.add_team(ev, "Alpha")
    # 10 March 2026: Paris is UTC+1, so its midnight is 23:00 UTC.
    submit(ev, "Alpha", token, now=dt.datetime(2026, 3, 10, 22, 30, tzinfo=UTC))  # 23:30 in Paris
    with pytest.raises(SubmissionRefused, match="midnight Europe/Paris \\(in 0 h 20 min\\)"):
        submit(ev, "Alpha", token, now=dt.datetime(2026, 3, 10, 22, 40, tzinfo=UTC), seed=1)
    submit(ev, "Alpha", token, now=dt.datetime(2026, 3, 10, 23, 10, tzinfo=UTC), seed=1)  # 00:10 in Paris
    with sqlite3.connect(ev / service.DB_FILE) as conn:
        days = [d for (d,) in conn.execute("SELECT day FROM submissions ORDER BY id")]
    assert days == ["2026-03-10", "2026-03-11"]


def test_init_refuses_an_unknown_time_zone_or_period(tmp_path, world):
    """Are an unknown --timezone and a bad --quota-per refused in one line, with no event made?"""
    proc = run_cli("leaderboard", "init", "--event", tmp_path / "ev", "--data", world, "--timezone", "Mars/Olympus")
    assert "unknown time zone" in assert_one_line_error(proc, "leaderboard")
    with pytest.raises(UserError, match="--quota-per"):
        service.init_event(tmp_path / "ev", world, quota_per="week")
    assert not (tmp_path / "ev").exists() and not any(p.name.startswith(".ev") for p in tmp_path.iterdir())
