"""The closing presentations (issue 13): teams hand in a notebook and a description (`datathon
handin`, `POST api/handin`, the notebook helper), and `datathon leaderboard export` writes the
final results as CSV and one self-contained HTML page, the untrusted notebooks rendered inert.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import re
import subprocess
import sys
import urllib.parse

import nbformat
import pytest
from leaderboard_fixtures import ServerThread, cli_env, http, loads, make_event, predictions, snapshot, truth_of
from leaderboard_fixtures import world  # noqa: F401  (the module's data directory)
from test_leaderboard import assert_one_line_error, run_cli

import datathon
from datathon.errors import UserError
from datathon.leaderboard import SubmissionRefused, closing, service

START = dt.datetime(2026, 3, 10, 9, tzinfo=dt.timezone.utc)
#: What must never run in the closing page: a script output, an event handler, javascript: links.
ATTACK_MARKDOWN = ("Our method. [Click me](javascript:alert('md')) <a href=\"javascript:alert('a')\">link</a> "
                   "<script>alert('md-script')</script> <img src=x onerror=\"alert('img')\">")  # fmt: skip
ATTACK_HTML = "<script>alert('output')</script><b onclick=\"alert('click')\">bold</b><iframe src='http://evil.example'>"


def _notebook(path, *, attack: bool = False, title: str = "Our approach"):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(f"# {title}\n\n" + (ATTACK_MARKDOWN if attack else "Names, then places.")))
    code = nbformat.v4.new_code_cell("print('success rate 0.71')")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="success rate 0.71\n")]
    if attack:
        code.outputs.append(nbformat.v4.new_output("display_data", data={"text/html": ATTACK_HTML,
                                                                         "application/javascript": "alert('js')"}))  # fmt: skip
    nb.cells.append(code)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def finished(tmp_path, world):  # noqa: F811
    """An event after two rounds of submissions, revealed, Alpha and Beta having handed in
    (Beta's notebook an attack); Gamma handed in nothing."""
    ev = tmp_path / "ev"
    tokens = make_event(ev, world, ["Alpha", "Beta", "Gamma"], quota=10, name="Rennes 2018")
    truth = truth_of(ev)
    for k, (team, quality) in enumerate([("Alpha", 0.5), ("Beta", 0.7), ("Gamma", 0.3), ("Alpha", 0.9)]):
        service.submit_frame(ev, predictions(truth, quality, seed=k), team=team, token=tokens[team],
                             now=START + dt.timedelta(minutes=10 * k))  # fmt: skip
    service.reveal(ev)
    for team, attack in (("Alpha", False), ("Beta", True)):
        nb = _notebook(tmp_path / f"{team}.ipynb", attack=attack, title=f"{team}'s approach")
        closing.hand_in(ev, nb.read_bytes(), team=team, token=tokens[team], filename=nb.name,
                        description=f"{team}: names first, then places <b>bold?</b>")  # fmt: skip
    return ev, tokens


def test_export_writes_the_results_history_and_a_closing_page(finished, tmp_path):
    """Does `leaderboard export` write results.csv (ranks, public and private metrics, the
    instructor-only breakdown), history.csv (every submission) and closing.html (ranking, curves,
    each team's hand-in), readable by their owner only, nothing else?"""
    ev, _ = finished
    out = tmp_path / "closing"
    proc = run_cli("leaderboard", "export", "--event", ev, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "3 teams, 4 submissions, 2 hand-ins" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == ["closing.html", "history.csv", "results.csv"]
    assert all(p.stat().st_mode & 0o077 == 0 for p in out.iterdir())
    results = list(csv.DictReader(open(out / "results.csv", encoding="utf-8")))
    assert [r["team"] for r in results] == [r["team"] for r in service.standings(ev)["teams"]] + ["MCA (reference)"]
    alpha = next(r for r in results if r["team"] == "Alpha")
    assert alpha["rank"] == "1" and float(alpha["public.success_rate"]) == pytest.approx(float(alpha["public_score"]))
    assert float(alpha["private.success_rate"]) == pytest.approx(float(alpha["private_score"]))
    assert any(k.startswith("private.by_noise.") for k in alpha), "every metric, the instructor's breakdowns too"
    history = list(csv.DictReader(open(out / "history.csv", encoding="utf-8")))
    assert [(h["submission"], h["team"]) for h in history] == [("1", "Alpha"), ("2", "Beta"), ("3", "Gamma"), ("4", "Alpha")]
    assert float(history[3]["team_score_after"]) == pytest.approx(float(history[3]["public_score"]))
    page = (out / "closing.html").read_text()
    assert "Final ranking" in page and page.count("<svg") == 1 + 3, "the curves of all, then of each team"
    # the notebook is in its frame's srcdoc attribute, escaped (its apostrophe as &#x27;)
    assert "Alpha&#x27;s approach" in page and "Nothing handed in." in page
    assert "names first, then places &lt;b&gt;bold?&lt;/b&gt;" in page, "the description is text"
    assert "<link" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", ""), "self-contained"
    before = snapshot(out)
    again = run_cli("leaderboard", "export", "--event", ev, "--out", out)
    assert "--force" in assert_one_line_error(again, "leaderboard") and snapshot(out) == before


def test_an_attacking_notebook_is_rendered_inert(finished, tmp_path):
    """A notebook with a <script> output, an onclick, an iframe, a javascript: link and a raw
    <script> in Markdown: is its rendering free of every script, handler and javascript: URL, shown
    in a frame that may run nothing, on a page whose policy allows no script?"""
    ev, _ = finished
    closing.export(ev, tmp_path / "out")
    page = (tmp_path / "out" / "closing.html").read_text()
    assert "default-src 'none'" in page and "script-src" not in page
    frames = re.findall(r"<iframe([^>]*)>", page)
    assert len(frames) == 2 and all("sandbox=''" in f and "allow-scripts" not in f for f in frames)
    beta = closing.render_notebook((ev / closing.HANDINS / "2.ipynb").read_bytes())
    assert "Beta's approach" in beta and "success rate 0.71" in beta
    lowered = beta.lower()
    assert "<script" not in lowered and "javascript:" not in lowered and "<iframe" not in lowered
    assert not re.search(r"<[^>]+\son\w+\s*=", lowered), "no event handler attribute"
    assert "alert('js')" not in beta, "an application/javascript output is dropped"
    # harmless tags stay (without their handlers), headings render as headings
    assert "<b>bold</b>" in beta and re.search(r"<h1[^>]*>Beta's approach", beta)
    unescaped_page = page.replace("&amp;", "&")
    assert "<script" not in page.lower() and "<script" not in re.sub(r"srcdoc=\"[^\"]*\"", "", unescaped_page).lower()


def test_handing_in_over_http_and_its_refusals(finished, tmp_path):
    """Does `datathon handin --server` record the notebook (a second hand-in replacing the first),
    and are a wrong token, a file that is not a notebook and an oversized one refused in one line
    with nothing written?"""
    ev, tokens = finished
    server = ServerThread(ev, base_url="/services/leaderboard/").start()
    url = server.url + "/services/leaderboard/"
    nb = _notebook(tmp_path / "gamma.ipynb", title="Gamma's late approach")
    cmd = [sys.executable, "-m", "datathon", "handin", str(nb), "--server", url, "--team", "Gamma",
           "--description", "a late one"]  # fmt: skip
    try:
        ok = subprocess.run([*cmd, "--token", tokens["Gamma"]], capture_output=True, text=True, env=cli_env(), timeout=120)
        assert ok.returncode == 0, ok.stderr
        assert "handed in gamma.ipynb for team 'Gamma'" in ok.stdout
        record = json.loads((ev / closing.HANDINS / "3.json").read_text())
        assert (record["team"], record["description"], record["filename"]) == ("Gamma", "a late one", "gamma.ipynb")
        before = snapshot(ev)
        bad = subprocess.run([*cmd, "--token", "wrong"], capture_output=True, text=True, env=cli_env(), timeout=120)
        assert bad.returncode == 2 and bad.stderr.strip() == "datathon handin: error: wrong token for team 'Gamma'"
        not_nb = tmp_path / "notes.ipynb"
        not_nb.write_text("{not json")
        bad = subprocess.run([sys.executable, "-m", "datathon", "handin", str(not_nb), "--server", url, "--team", "Gamma",
                              "--token", tokens["Gamma"]], capture_output=True, text=True, env=cli_env(), timeout=120)  # fmt: skip
        assert bad.returncode == 2 and "not a valid Jupyter notebook" in bad.stderr and len(bad.stderr.splitlines()) == 1
        status, _, raw = http(url + "api/handin?" + urllib.parse.urlencode({"team": "Gamma"}),
                              data=b"x" * (closing.MAX_NOTEBOOK_BYTES + 10), method="POST",
                              headers={"Authorization": f"Bearer {tokens['Gamma']}"})  # fmt: skip
        assert status == 413 and loads(raw)["reason"] == "too_large"
        assert snapshot(ev) == before
        # the notebook helper: the same, from Python
        again = datathon.leaderboard.client.hand_in(nb, team="Gamma", token=tokens["Gamma"], server=url,
                                                    description="replaced")  # fmt: skip
        assert again["description"] == "replaced"
        assert json.loads((ev / closing.HANDINS / "3.json").read_text())["description"] == "replaced"
    finally:
        server.stop()


def test_hand_in_refusals_in_the_service(finished, tmp_path):
    """Is a description with control characters or too long refused, a removed team's token
    refused, and a local hand-in (--event) recorded?"""
    ev, tokens = finished
    nb = _notebook(tmp_path / "a.ipynb").read_bytes()
    with pytest.raises(SubmissionRefused, match="control or invisible"):
        closing.hand_in(ev, nb, team="Alpha", token=tokens["Alpha"], description="a\x1b[31mred")
    with pytest.raises(SubmissionRefused, match="at most 1000 characters"):
        closing.hand_in(ev, nb, team="Alpha", token=tokens["Alpha"], description="x" * 1001)
    proc = run_cli("handin", tmp_path / "a.ipynb", "--event", ev, "--team", "Alpha", "--token", tokens["Alpha"],
                   "--description", "local")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads((ev / closing.HANDINS / "1.json").read_text())["description"] == "local"
    assert "--team" in assert_one_line_error(run_cli("handin", tmp_path / "a.ipynb", "--event", ev,
                                                     "--token", "x"), "handin")  # fmt: skip


def test_export_refuses_to_write_inside_the_kit(finished, repo_root):
    """Is an --out inside the kit's checkout refused (the export holds participants' names and work)?"""
    ev, _ = finished
    with pytest.raises(UserError, match="inside the kit's repository"):
        closing.export(ev, repo_root / "closing-export")
    assert not (repo_root / "closing-export").exists()
