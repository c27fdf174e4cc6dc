"""The closing presentations: teams hand in their notebook; the instructor exports the results.

Hand-ins (``datathon handin``, ``POST api/handin``, :func:`datathon.leaderboard.client.hand_in`):
a team, authenticated by its token, hands in one notebook and a short description; the latest
hand-in replaces the team's previous one. They are kept in the event directory::

    EV/handins/<team id>.ipynb     the notebook, as handed in (mode 0600)
    EV/handins/<team id>.json      team, time, description, size and sha256 (mode 0600)

each written atomically. A hand-in is accepted after the reveal too: the presentations follow it.

The notebook is **untrusted**: it is parsed and validated with nbformat (a file that is not a
notebook is refused in one line) and, at export, rendered to HTML without executing anything
(nbconvert's basic template), its script outputs dropped, then cleaned by bleach, the sanitiser
nbconvert's own ``sanitize_html`` uses, with an allow-list of document tags (no script, no
iframe, no style, no event handler; links only to http(s)/mailto/anchors, images only as
``data:image``). nbconvert's ``sanitize_html`` itself was not enough for a readable page: its
list lacks headings, paragraphs and images, which it shows as escaped tags. Each rendering is
then shown in a sandboxed ``<iframe srcdoc>`` that may run no script, on a page whose
Content-Security-Policy allows none either.

Export (``datathon leaderboard export --event EV --out DIR``) writes, atomically as a directory:

- ``results.csv``: per team, its rank(s), counted submission and every metric of it, public and
  (after the reveal) private, the instructor-only breakdowns included, flattened to columns;
- ``history.csv``: every submission of every team (time, file, scores);
- ``closing.html``: one self-contained page to project: the ranking (or the cooperative table),
  every team's curve, and a gallery of what each team handed in.

It holds participants' names and work: ``--out`` is refused inside the kit's own checkout.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import json
import shutil
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from datathon.errors import UserError
from datathon.files import replace_directory, written_atomically
from datathon.leaderboard import SubmissionRefused, display_score
from datathon.leaderboard import plot as _plot
from datathon.leaderboard.store import Store, storage_errors

HANDINS = "handins"
#: The largest notebook a team may hand in (outputs with a few plots take a few MB).
MAX_NOTEBOOK_BYTES = 16_000_000
MAX_DESCRIPTION = 1000


# ---------------------------------------------------------------------------------------------
# hand-ins


def hand_in(event, notebook: bytes, *, team: str, token: str, description: str = "",
            filename: str | None = None, now: dt.datetime | None = None) -> dict[str, Any]:  # fmt: skip
    """Record ``team``'s notebook (its bytes) and description; returns what was recorded.

    Refused with :class:`SubmissionRefused` (one line): a bad token (``bad_token``), a file too
    large (``too_large``), a file that is not a valid notebook or a description that is not
    short printable text (``bad_file``). Nothing is written when refused.
    """
    from datathon.leaderboard import service

    ev = service._event(event)
    with ev.store.reading() as conn:
        found = service._authenticate(conn, team, token)
    if len(notebook) > MAX_NOTEBOOK_BYTES:
        raise SubmissionRefused(f"a notebook handed in has at most {MAX_NOTEBOOK_BYTES // 1_000_000} MB "
                                f"({len(notebook):,} bytes given): clear large outputs first", reason="too_large")  # fmt: skip
    _read_notebook(notebook)
    description = _clean_description(description)
    now = (now or dt.datetime.now()).astimezone()
    record = {"team": found.name, "team_id": found.id, "handed_in_at": now.isoformat(timespec="seconds"),
              "description": description, "filename": service._clean_filename(filename),
              "bytes": len(notebook), "sha256": hashlib.sha256(notebook).hexdigest()}  # fmt: skip
    folder = ev.path / HANDINS
    with storage_errors(ev.path):
        folder.mkdir(mode=0o700, exist_ok=True)
        for suffix, data in ((".ipynb", notebook), (".json", json.dumps(record, ensure_ascii=False).encode())):
            with written_atomically(folder / f"{found.id}{suffix}") as tmp:
                tmp.write_bytes(data)
                tmp.chmod(0o600)
    return record


def _read_notebook(data: bytes):
    """The notebook node of ``data``; a one-line refusal when it is not a valid notebook."""
    import nbformat

    try:
        text = data.decode("utf-8")
        node = nbformat.reads(text, as_version=4)
        nbformat.validate(node)
    except UnicodeDecodeError:
        raise SubmissionRefused("the file handed in is not UTF-8 text: hand in the .ipynb file", reason="bad_file") from None
    except Exception as err:  # nbformat raises JSON, validation and version errors of many kinds
        first = " ".join(str(err).split())[:160]
        raise SubmissionRefused(f"the file handed in is not a valid Jupyter notebook ({first}): hand in the .ipynb "
                                "file", reason="bad_file") from None  # fmt: skip
    return node


def _clean_description(text: Any) -> str:
    if not isinstance(text, str):
        raise SubmissionRefused("the description must be text", reason="bad_request")
    cleaned = " ".join(unicodedata.normalize("NFKC", text).split())
    if len(cleaned) > MAX_DESCRIPTION:
        raise SubmissionRefused(f"a description has at most {MAX_DESCRIPTION} characters ({len(cleaned)} given)",
                                reason="bad_request")  # fmt: skip
    if any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") for c in cleaned):
        raise SubmissionRefused("a description cannot contain control or invisible characters", reason="bad_request")
    return cleaned


def handins(event) -> dict[int, dict[str, Any]]:
    """Every team's latest hand-in: ``{team id: record + "notebook" (the bytes)}``."""
    from datathon.leaderboard import service

    ev = service._event(event)
    out = {}
    folder = ev.path / HANDINS
    for meta in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        record = json.loads(meta.read_text(encoding="utf-8"))
        record["notebook"] = meta.with_suffix(".ipynb").read_bytes()
        out[int(record["team_id"])] = record
    return out


#: What a rendered notebook may keep: document structure, code, tables, images.
_TAGS = frozenset({"a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt", "em",
                   "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span",
                   "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul"})  # fmt: skip
_IMAGE = ("data:image/png;", "data:image/jpeg;", "data:image/gif;", "data:image/webp;", "data:image/svg+xml;")


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name in ("class", "id", "title", "alt"):
        return True
    if tag == "a" and name == "href":
        return value.startswith(("http://", "https://", "mailto:", "#"))
    if tag == "img" and name == "src":
        return value.startswith(_IMAGE)  # an SVG in an <img> runs no script
    return tag in ("td", "th") and name in ("colspan", "rowspan")


def render_notebook(data: bytes) -> str:
    """The notebook as clean HTML (a page body), never executed; a notebook that cannot be
    rendered becomes a one-line note. See the module's docstring for what is kept."""
    import bleach
    from nbconvert import HTMLExporter

    try:
        node = _read_notebook(data)
    except SubmissionRefused as err:
        return f"<p><em>{html.escape(err.message)}</em></p>"
    for cell in node.cells:
        for output in cell.get("outputs", []):
            for mime in [m for m in output.get("data", {}) if "javascript" in m or "widget" in m]:
                del output["data"][mime]  # code meant to run in the page: never shown, never run
    body, _ = HTMLExporter(template_name="basic").from_notebook_node(node)
    return bleach.clean(body, tags=_TAGS, attributes=_allowed_attribute, protocols=["http", "https", "mailto", "data"],
                        strip=True, strip_comments=True)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# export


def export(event, out: str | Path, *, force: bool = False) -> dict[str, Any]:
    """Write the final results of ``event`` to the directory ``out`` (see the module's docstring).

    Built in a hidden sibling and renamed into place: ``out`` is whole or untouched. An existing
    ``out`` is replaced only with ``force``. Returns the paths written and the counts.
    """
    from datathon.leaderboard import service

    ev = service._event(event)
    out = Path(out).expanduser().resolve()
    _refuse_inside_the_kit(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise UserError(f"--out: {out} already exists; add --force to replace it (or choose another path)")
    board = service.board(ev)
    revealed = board["event"]["revealed"]
    with ev.store.reading() as conn:
        subs = [dict(s) for s in Store.submissions(conn)]
        metrics = Store.metrics_of(conn, [s["id"] for s in subs])
    handed = handins(ev)
    with storage_errors(out.parent):
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
        try:
            _write_csv(staging / "results.csv", _result_rows(board, metrics, revealed))
            _write_csv(staging / "history.csv", _history_rows(ev.challenge, subs, metrics, board, revealed))
            (staging / "closing.html").write_text(closing_page(board, handed, metrics), encoding="utf-8")
            for path in staging.iterdir():
                path.chmod(0o600)
            replace_directory(staging, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return {"out": str(out), "files": ["results.csv", "history.csv", "closing.html"], "teams": len(board["teams"]),
            "submissions": len(subs), "handins": len(handed), "revealed": revealed}  # fmt: skip


def _refuse_inside_the_kit(out: Path) -> None:
    """Student data never lands in the kit's git checkout (where a `git add .` would take it)."""
    import datathon

    kit = Path(datathon.__file__).resolve().parents[1]
    if (kit / ".git").exists() and (out == kit or kit in out.parents):
        raise UserError(f"--out: {out} is inside the kit's repository {kit}; the export holds participants' names "
                        "and work: write it outside (e.g. beside the event directory)")  # fmt: skip


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, into)
    elif isinstance(value, list):
        into[prefix] = "; ".join(map(str, value))
    else:
        into[prefix] = value


def _result_rows(board: dict, metrics: dict[int, dict], revealed: bool) -> list[dict[str, Any]]:
    rows = []
    for team in board["teams"]:
        row = {k: team.get(k) for k in ("rank", "team", "public_score", "private_score", "public_rank", "submissions",
                                        "last_submission", "counted_submission")}  # fmt: skip
        counted = metrics.get(team["counted_submission"], {})
        _flatten("public", counted.get("public_metrics", {}), row)
        if revealed:
            _flatten("private", counted.get("private_metrics", {}), row)
        rows.append(row)
    ref = board["reference"]
    rows.append({"team": f"{ref['name']} (reference)", "public_score": ref.get("public_score"),
                 "private_score": ref.get("private_score")})  # fmt: skip
    return rows


def _history_rows(challenge, subs: list[dict], metrics: dict[int, dict], board: dict, revealed: bool) -> list[dict]:
    direction = challenge.ranking.direction
    rule = board["event"]["rule"]
    rows, own = [], {}
    for sub in subs:
        own.setdefault(sub["team_id"], []).append(sub)
        counted = _plot.counted_submission(own[sub["team_id"]], rule, direction)
        row = {"submission": sub["id"], "team": sub["team"], "submitted_at": sub["submitted_at"],
               "filename": sub["filename"], "sha256": sub["sha256"], "n_rows": sub["n_rows"],
               "public_score": sub["public_score"], "team_score_after": counted["public_score"]}  # fmt: skip
        if revealed:
            row["private_score"] = sub["private_score"]
        _flatten("public", metrics.get(sub["id"], {}).get("public_metrics", {}), row)
        rows.append(row)
    return rows


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})


# ---------------------------------------------------------------------------------------------
# the closing page

#: No script at all: the page is static, and each notebook's frame may run none either.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self' about:"
_STYLE = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:0;color:#1b1f24}
header{padding:1rem 2rem;border-bottom:4px solid #1f5fa8}h1{margin:0;font-size:2.2rem}
header p{margin:.3rem 0 0;color:#5b6470;font-size:1.1rem}main{padding:1rem 2rem}
table{border-collapse:collapse;font-size:1.25rem;font-variant-numeric:tabular-nums;margin:1rem 0}
th,td{padding:.35rem .8rem;border-bottom:1px solid #d8dde3;text-align:right}th{color:#5b6470;font-size:.9rem;
text-transform:uppercase}td.team,th.team{text-align:left;font-weight:600}tr.reference td{font-style:italic;
color:#5b6470;background:#f6f8fa}section.team{border-top:3px solid #d8dde3;margin-top:2rem;padding-top:1rem}
section.team h3{font-size:1.6rem;margin:.2rem 0}.description{font-size:1.15rem;max-width:60rem}
iframe{width:100%;height:38rem;border:1px solid #d8dde3}.note{color:#5b6470;font-style:italic}
svg text{font-family:inherit}
"""


def closing_page(board: dict, handed: dict[int, dict], metrics: dict[int, dict]) -> str:
    """The self-contained closing page (no script, no external file)."""
    ev = board["event"]
    e = html.escape
    part = ev["part"]
    cooperative = ev.get("mode") == "cooperative"
    title = "Results" if cooperative else ("Final ranking" if ev["revealed"] else "Public ranking (not revealed yet)")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">",
        f"<title>{e(ev['name'])} · closing</title><style>{_STYLE}</style></head><body>",
        f"<header><h1>{e(ev['name'])}</h1><p>{e(title)}: {e(ev['metric']['label'])} on the {part} part "
        f"({ev['n_private' if ev['revealed'] else 'n_public']:,} {e(ev['unit'])}), "
        f"{'lower' if ev['metric']['direction'] == 'lower' else 'higher'} is better</p></header><main>",
        "<h2>Results</h2>", _results_table(board, cooperative),
        "<h2>Scores over time</h2>", curves_svg(board),
        "<h2>What each team handed in</h2>",
    ]
    for team in sorted(board["teams"], key=lambda t: (t["rank"] is None, t["rank"] or 0, t["team"].casefold())):
        parts.append(_gallery_entry(board, team, handed.get(team["team_id"])))
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _results_table(board: dict, cooperative: bool) -> str:
    e = html.escape
    ev = board["event"]
    types = ev["score_types"]
    head = ([] if cooperative else ["#"]) + ["Team"] + [t["label"] for t in types] + ["Submissions"]
    rows = []
    for row, reference in [*((t, False) for t in board["teams"]), (board["reference"], True)]:
        values = row.get("metrics") or {}
        cells = [] if cooperative else [f"<td>{'' if reference else e(str(row.get('rank') or '–'))}</td>"]
        cells.append(f"<td class='team'>{e(row['name'] + ' (reference)' if reference else row['team'])}</td>")
        cells += [f"<td>{e(display_score(t, values.get(t['key'])))}</td>" for t in types]
        cells.append(f"<td>{'' if reference else row['submissions']}</td>")
        rows.append(f"<tr class='{'reference' if reference else 'team'}'>{''.join(cells)}</tr>")
    header = "".join(f"<th class='{'team' if h == 'Team' else ''}'>{e(h)}</th>" for h in head)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _gallery_entry(board: dict, team: dict, handin: dict | None) -> str:
    e = html.escape
    ev = board["event"]
    values = team.get("metrics") or {}
    scores = " · ".join(f"{e(t['label'])} {e(display_score(t, values.get(t['key'])))}" for t in ev["score_types"])
    rank = "" if team.get("rank") is None else f"{team['rank']}. "
    out = [f"<section class='team'><h3>{e(rank + team['team'])}</h3>",
           f"<p>{scores or 'no submission'} ({team['submissions']} submission(s))</p>",
           curves_svg(board, only=team["team_id"], width=700, height=220)]  # fmt: skip
    if handin is None:
        out.append("<p class='note'>Nothing handed in.</p>")
    else:
        out.append(f"<p class='description'>{e(handin['description']) or '<em>no description</em>'}</p>")
        out.append(f"<p class='note'>notebook {e(handin.get('filename') or '')} handed in at "
                   f"{e(handin['handed_in_at'])}</p>")  # fmt: skip
        page = ("<!doctype html><html><head><meta charset='utf-8'>"
                f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">"
                "<style>body{font-family:sans-serif;margin:1rem}pre{white-space:pre-wrap;background:#f6f8fa;"
                "padding:.5rem}img{max-width:100%}</style></head><body>"
                f"{render_notebook(handin['notebook'])}</body></html>")  # fmt: skip
        # sandbox without allow-scripts: the frame runs nothing, whatever its content
        out.append(f"<iframe sandbox='' referrerpolicy='no-referrer' title='{e(team['team'])}: notebook' "
                   f"srcdoc=\"{e(page, quote=True)}\"></iframe>")
    out.append("</section>")
    return "\n".join(out)


def curves_svg(board: dict, *, only: int | None = None, width: int = 1100, height: int = 420) -> str:
    """Each team's counted score over time (step lines) and the reference line, as inline SVG,
    time compressed to the working periods as on the projected page (breaks of 2 % for pauses
    of more than three hours)."""
    e = html.escape
    data = board["plot"]
    metric = board["event"]["metric"]
    series = [t for t in data["teams"] if t["points"] and (only is None or t["team_id"] == only)]
    if not series:
        return "<p class='note'>No submission.</p>"
    m = {"left": 70, "right": 190 if only is None else 20, "top": 15, "bottom": 30}
    parse = lambda iso: dt.datetime.fromisoformat(iso).timestamp()  # noqa: E731
    times = sorted(parse(p["t"]) for t in data["teams"] for p in t["points"])
    periods = []
    for t in times:
        if periods and t - periods[-1][1] <= 3 * 3600:
            periods[-1][1] = t
        else:
            periods.append([t, t])
    periods = [(a - 600, b + 600) for a, b in periods]
    inner = width - m["left"] - m["right"]
    gap = 0.02 * inner if len(periods) > 1 else 0
    per = (inner - gap * (len(periods) - 1)) / sum(b - a for a, b in periods)
    starts, x0 = [], m["left"]
    for a, b in periods:
        starts.append(x0)
        x0 += (b - a) * per + gap

    def x(t: float) -> float:
        for (a, b), s in zip(reversed(periods), reversed(starts)):
            if t >= a:
                return s + (min(t, b) - a) * per
        return m["left"]

    values = [p["counted"] for t in series for p in t["points"]]
    if data.get("reference") is not None:
        values.append(data["reference"])
    lo, hi = min(values), max(values)
    pad = max((hi - lo) * 0.08, abs(hi) * 0.02, 1e-6)
    lo, hi = lo - pad, hi + pad
    y = lambda v: m["top"] + (hi - v) / (hi - lo) * (height - m["top"] - m["bottom"])  # noqa: E731
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
           f"role='img' aria-label='{e(metric['label'])} over time'>"]  # fmt: skip
    for v in _nice_ticks(lo, hi, 5):
        out.append(f"<line x1='{m['left']}' x2='{width - m['right']}' y1='{y(v):.1f}' y2='{y(v):.1f}' stroke='#e6e9ed'/>"
                   f"<text x='{m['left'] - 6}' y='{y(v) + 4:.1f}' text-anchor='end' font-size='12' fill='#5b6470'>"
                   f"{e(display_score(metric, v))}</text>")  # fmt: skip
    for s in starts[1:]:
        out.append(f"<rect x='{s - gap:.1f}' y='{m['top']}' width='{gap:.1f}' height='{height - m['top'] - m['bottom']}' "
                   "fill='#f1f3f5'/>")  # fmt: skip
    for (a, _), s in zip(periods, starts):
        out.append(f"<text x='{s + 2:.1f}' y='{height - 10}' font-size='12' fill='#5b6470'>"
                   f"{e(dt.datetime.fromtimestamp(a + 600).strftime('%a %H:%M'))}</text>")  # fmt: skip
    if data.get("reference") is not None:
        ry = y(data["reference"])
        out.append(f"<line x1='{m['left']}' x2='{width - m['right']}' y1='{ry:.1f}' y2='{ry:.1f}' stroke='#222' "
                   f"stroke-dasharray='8 5' stroke-width='2'/><text x='{m['left'] + 6}' y='{ry - 5:.1f}' font-size='13' "
                   f"font-weight='700'>{e(board['reference']['name'])} {e(display_score(metric, data['reference']))}</text>")  # fmt: skip
    end = x(times[-1])
    label_y, previous = {}, -1e9  # names at the lines' ends, pushed apart so that none overlaps
    for t in sorted(series, key=lambda t: y(t["points"][-1]["counted"])):
        previous = label_y[t["team_id"]] = max(y(t["points"][-1]["counted"]) + 4, previous + 14)
    for t in series:
        colour = _plot.PALETTE[(t["team_id"] - 1) % len(_plot.PALETTE)]
        d = ""
        for i, p in enumerate(t["points"]):
            px, py = x(parse(p["t"])), y(p["counted"])
            d += f"M{px:.1f},{py:.1f}" if i == 0 else f"H{px:.1f}V{py:.1f}"
        d += f"H{end:.1f}"
        out.append(f"<path d='{d}' fill='none' stroke='{colour}' stroke-width='2.5'><title>{e(t['team'])}</title></path>")
        if only is None:
            out.append(f"<text x='{end + 6:.1f}' y='{label_y[t['team_id']]:.1f}' font-size='12' "
                       f"fill='{colour}' font-weight='700'>{e(t['team'][:22])}</text>")  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def _nice_ticks(lo: float, hi: float, target: int) -> list[float]:
    """Round values between ``lo`` and ``hi``, about ``target`` of them (1, 2, 2.5 or 5 times a power of ten apart)."""
    import math

    raw = (hi - lo) / max(1, target)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step) * step
    return [first + k * step for k in range(int((hi - first) / step) + 1)]


def read_notebook_file(path: str | Path) -> bytes:
    """A notebook's bytes from a path, refusing links, pipes and oversized files (one line)."""
    from datathon.files import open_regular_file

    with open_regular_file(path, "notebook") as f:
        data = f.read(MAX_NOTEBOOK_BYTES + 1)
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise UserError(f"{path}: a notebook handed in has at most {MAX_NOTEBOOK_BYTES // 1_000_000} MB: clear large "
                        "outputs first")  # fmt: skip
    return data


