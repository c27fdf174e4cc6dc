"""Scores over time per team, with the challenge's reference entry as a line.

Two consumers share :func:`series`:

- the projected page draws it itself in plain JavaScript/SVG (``static/leaderboard.js``): no
  image to regenerate every 10 seconds, crisp at any projector resolution, nothing from a CDN;
- :func:`figure` draws the same series with matplotlib, for the instructor's notebook or the
  after-event report (``figure(service.board(EV)).savefig("scores.svg")``).

A team's line is its *counted* score after each submission (the running best public score under
rule ``best``, best in the ranking score's direction; the latest under ``last``); each submission is also a dot at its own score, so a
team that submits a worse file shows a dot below its line. Team names are drawn as typed: ``$``
is escaped, so that matplotlib does not read them as mathematics.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from datathon.challenge import Direction
from datathon.leaderboard import display_score

#: Twelve colours that stay distinct on a projector, none pale on white (static/leaderboard.js
#: has the same); beyond twelve teams the page also varies the dash pattern, and every line
#: carries its team's name at its end.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#7f7f7f", "#b8860b", "#1a237e", "#6b8e23",
)  # fmt: skip


def counted_submission(
    subs: Sequence[Mapping[str, Any]], rule: str, direction: Direction
) -> Mapping[str, Any] | None:
    """Which of a team's submissions (in submission order) counts under ``rule``; None if none.

    ``best``: the best public score in ``direction`` (the highest, or the lowest for an error),
    the earliest of equals. ``last``: the latest. The choice never looks at private scores.
    """
    if not subs:
        return None
    if rule == "last":
        return subs[-1]
    best = subs[0]
    for s in subs[1:]:
        if direction.better(s["public_score"], best["public_score"]):
            best = s
    return best


def series(
    teams: Iterable[Any], subs: Sequence[Mapping[str, Any]], rule: str, *, revealed: bool, reference: Mapping,
    direction: Direction,
) -> dict[str, Any]:
    """Per-team points ``{id, t, score, counted}`` on the part that ranks (public, or private after
    the reveal), plus the reference's score on that part.

    ``counted`` after each submission uses :func:`counted_submission` on the submissions so far,
    so the line is exactly what the ranking table showed at that moment.
    """
    part = "private_score" if revealed else "public_score"
    by_team: dict[int, list] = {}
    for s in subs:
        by_team.setdefault(s["team_id"], []).append(s)
    out = []
    for team in teams:
        own = by_team.get(team.id, [])
        points = []
        best = None
        for s in own:
            if rule == "last" or best is None or direction.better(s["public_score"], best["public_score"]):
                best = s
            points.append({"id": s["id"], "t": s["submitted_at"], "score": s[part], "counted": best[part]})
        out.append({"team_id": team.id, "team": team.name, "points": points})
    return {
        "part": "private" if revealed else "public",
        "reference": reference.get(part),
        "teams": out,
    }


def figure(board: Mapping[str, Any], *, ax: Any = None) -> Any:
    """A matplotlib figure of ``board["plot"]`` (as returned by ``service.board``).

    Matplotlib is imported here only: the server and the CLI never need it. Pass ``ax`` to draw
into an existing axes.
    """
    import datetime as dt

    # A bare Figure, not pyplot: no GUI backend is touched, so this works in the server, in CI
    # and in a notebook (where Jupyter displays the returned figure) alike.
    from matplotlib.figure import Figure

    data = board["plot"]
    metric = board["event"]["metric"]
    scale = 100 if metric["format"] == "percent" else 1
    if ax is None:
        fig = Figure(figsize=(11, 6), dpi=100, layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    ranked = {r["team_id"]: r["rank"] for r in board.get("teams", [])}
    for i, team in enumerate(data["teams"]):
        if not team["points"]:
            continue
        times = [dt.datetime.fromisoformat(p["t"]) for p in team["points"]]
        color = PALETTE[(team["team_id"] - 1) % len(PALETTE)]
        dashes = (None, (6, 1.5, 1.5, 1.5), (1.5, 1.5))[((team["team_id"] - 1) // len(PALETTE)) % 3]
        name = _literal(team["team"])
        label = name if ranked.get(team["team_id"]) is None else f"{ranked[team['team_id']]}. {name}"
        (line,) = ax.step(
            times, [scale * p["counted"] for p in team["points"]], where="post", color=color, lw=2.2, label=label
        )
        if dashes:
            line.set_dashes(dashes)
        ax.plot(times, [scale * p["score"] for p in team["points"]], "o", color=color, ms=3.5, alpha=0.7)
    if data.get("reference") is not None:
        ax.axhline(scale * data["reference"], color="#333333", ls="--", lw=1.5)
        ax.annotate(
            f"{_literal(board['reference']['name'])} {display_score(metric, data['reference'])}",
            xy=(1, data["reference"] * scale), xycoords=("axes fraction", "data"),
            xytext=(-4, 4), textcoords="offset points", ha="right", va="bottom", fontsize=10,
        )  # fmt: skip
    better = "higher" if metric["direction"] == "higher" else "lower"
    unit = " (%)" if metric["format"] == "percent" else ""
    ax.set_ylabel(f"{metric['label']}, {data['part']} part{unit}; {better} is better")
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        order = sorted(range(len(labels)), key=lambda k: (not labels[k][:1].isdigit(), _rank_of(labels[k])))
        ax.legend([handles[k] for k in order], [labels[k] for k in order], loc="center left",
                  bbox_to_anchor=(1.01, 0.5), frameon=False)  # fmt: skip
    fig.autofmt_xdate()
    return fig


def better(metric: Mapping[str, Any], a: float | None, b: float | None) -> bool:
    """Is score ``a`` strictly better than ``b`` in the direction of the board's ``event.metric``?
    No score is worse than any score."""
    if a is None:
        return False
    if b is None:
        return True
    return Direction(metric["direction"]).better(a, b)


def _rank_of(label: str) -> int:
    head = label.split(".", 1)[0]
    return int(head) if head.isdigit() else 10**6


def _literal(text: str) -> str:
    """Text that matplotlib draws as typed: an unescaped ``$`` starts mathtext (a pair garbles the
    label, a lone one makes the drawing fail)."""
    return text.replace("$", r"\$")
