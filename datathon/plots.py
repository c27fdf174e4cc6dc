"""Plot helpers shared by the notebooks: labelled bar charts and percent axes, in one style.

Every chart of the course says what it shows in its title, names its axes with units, and writes
its values on the bars when they are few, so that a reader does not have to guess them from a grid::

    import matplotlib.pyplot as plt
    from datathon import plots
    fig, ax = plt.subplots()
    plots.barh(ax, shares, title="Share of bulletins per mechanism", xlabel="share of bulletins")

Only matplotlib is imported, lazily, so ``import datathon.plots`` is cheap.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

#: One colour per noise level (and for MCA's decisions), the same in every notebook.
LEVEL_COLORS = {
    "name": "#4C72B0",
    "address": "#55A868",
    "activity": "#C44E52",
    "bulletin": "#8172B2",
    "register": "#CCB974",
    "": "#7F7F7F",  # clean: no mechanism
}
DECISION_COLORS = {
    "validated": "#55A868",
    "activity check": "#DD8452",
    "rejected": "#C44E52",
    "no candidate": "#7F7F7F",
}
#: Paper and internet, the two collection modes.
MODE_COLORS = {"paper": "#937860", "internet": "#64B5CD"}


def percent_axis(ax, axis: str = "x", decimals: int = 0, xmax: float = 1.0) -> Any:
    """Format an axis whose values are shares (0–1) as percentages."""
    from matplotlib.ticker import PercentFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(PercentFormatter(xmax=xmax, decimals=decimals))
    return ax


def _fmt(value: float, fmt: str | None) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    if fmt is None:
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3g}"
    return fmt.format(value)


def barh(
    ax,
    values: pd.Series | pd.DataFrame | Mapping[str, float],
    *,
    fmt: str | None = "{:.0%}",
    colors: str | Sequence[str] | Mapping[str, str] | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    percent: bool | None = None,
    reference: tuple[float, str] | None = None,
    sort: bool = False,
    label_size: float = 8,
) -> Any:
    """Horizontal bars, first value on top, each labelled with its value.

    ``values``: a Series (or mapping) for one bar per label, or a DataFrame for grouped bars (one
    per column, with a legend). ``colors``: one colour, a sequence (one per bar, or per column for
    a DataFrame) or a mapping column → colour. ``fmt`` formats the value labels (None: plain
    numbers); ``percent`` formats the axis as percentages (default: when ``fmt`` has ``%``).
    ``reference`` = (value, label) draws a dashed vertical line, e.g. the average. ``sort``
    orders the bars by decreasing value (of the first column).
    """
    frame = values.to_frame() if isinstance(values, pd.Series) else (
        pd.Series(values).to_frame() if isinstance(values, Mapping) else values.copy())
    if sort:
        frame = frame.sort_values(frame.columns[0], ascending=False)
    n, k = frame.shape
    y = np.arange(n)[::-1]  # first value on top, without inverting a y axis another plot may share
    height = 0.8 / k
    grouped = k > 1
    for j, column in enumerate(frame.columns):
        if isinstance(colors, Mapping):
            color = colors.get(column) if grouped else [colors.get(str(i), None) for i in frame.index]
        elif isinstance(colors, str) or colors is None:
            color = colors
        else:
            color = colors[j] if grouped else list(colors)
        offset = (j - (k - 1) / 2) * height
        vals = frame[column].astype(float).to_numpy()
        bars = ax.barh(y + offset, np.nan_to_num(vals), height=height * 0.95, color=color,
                       label=str(column) if grouped else None)
        for bar, v in zip(bars, vals):
            ax.annotate(_fmt(v, fmt), (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                        xytext=(3, 0), textcoords="offset points", va="center", ha="left",
                        fontsize=label_size)
    ax.set_yticks(y, [str(i) for i in frame.index])
    top = np.nanmax(frame.astype(float).to_numpy()) if n else 1.0
    ax.set_xlim(0, (top if np.isfinite(top) and top > 0 else 1.0) * 1.18)
    if percent or (percent is None and fmt is not None and "%" in fmt):
        percent_axis(ax, "x")
    if reference is not None:
        value, label = reference
        ax.axvline(value, color="black", linestyle="--", linewidth=1)
        ax.annotate(label, (value, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -10),
                    textcoords="offset points", fontsize=label_size, ha="left")
    if grouped:
        ax.legend(loc="lower right", fontsize=label_size)
    if title:
        ax.set_title(title, loc="left")
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def legend_for(ax, colors: Mapping[str, str], *, title: str | None = None, loc: str = "lower right") -> Any:
    """A legend of coloured patches, one per entry of ``colors`` (label → colour)."""
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=label or "clean") for label, c in colors.items()]
    return ax.legend(handles=handles, title=title, loc=loc, fontsize=8, title_fontsize=8)


def precision_coverage_curve(scores, correct, n_bulletins: int) -> pd.DataFrame:
    """Every (coverage, precision) point a score threshold can reach, counted as the evaluation
    module counts them (:func:`datathon.evaluate.score`'s ``coverage_at_precision``).

    ``scores`` and ``correct`` describe the codings, one value each (the confidence, and whether
    the coding is right); ``n_bulletins`` is the number of bulletins, coded or not, the
    denominator of coverage. Codings are kept from the highest score down. A threshold cannot
    split equal scores, so there is one row per distinct score, from the highest: ``threshold``,
    ``coded``, ``right``, ``coverage`` (coded / n_bulletins) and ``precision`` (right / coded).
    """
    scores = np.asarray(scores, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if scores.shape != correct.shape:
        raise ValueError(f"scores and correct differ in length ({len(scores)} and {len(correct)})")
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    kept = np.arange(1, len(order) + 1)
    right = np.cumsum(correct[order])
    ends = np.ones(len(order), dtype=bool)
    ends[:-1] = ranked[:-1] != ranked[1:]
    return pd.DataFrame({
        "threshold": ranked[ends],
        "coded": kept[ends],
        "right": right[ends],
        "coverage": kept[ends] / max(int(n_bulletins), 1),
        "precision": right[ends] / kept[ends],
    })


def coverage_at(curve: pd.DataFrame, target: float) -> float:
    """The largest coverage of ``curve`` (from :func:`precision_coverage_curve`) whose precision
    reaches ``target``; 0.0 when no threshold does."""
    reach = curve.loc[curve["right"] >= target * curve["coded"] - 1e-9, "coverage"]
    return float(reach.max()) if len(reach) else 0.0


def precision_coverage(
    ax,
    scores,
    correct,
    n_bulletins: int,
    *,
    label: str | None = None,
    color: str | None = None,
    targets: Sequence[float] = (0.90, 0.95),
    label_size: float = 8,
) -> pd.DataFrame:
    """Draw the precision–coverage curve of scored codings; mark its coverage at each target.

    One point per threshold the score can set (:func:`precision_coverage_curve`), joined by a
    line: a long straight segment is a run of equal scores that no threshold can split. Each
    target precision gets a dotted horizontal line and, on the curve, a ring at the largest
    coverage that reaches it, labelled with that coverage. The legend entry (``label``) says
    nothing of the targets; the axes are labelled and formatted as percentages when they have
    no label yet. Returns the curve.
    """
    curve = precision_coverage_curve(scores, correct, n_bulletins)
    few = len(curve) <= 40
    (line,) = ax.plot(curve["coverage"], curve["precision"], marker="o" if few else None, markersize=3,
                      color=color, label=label)
    color = line.get_color()
    for target in targets:
        ax.axhline(target, color="grey", linestyle=":", linewidth=1)
        reach = curve[curve["right"] >= target * curve["coded"] - 1e-9]
        if len(reach):
            best = reach.loc[reach["coverage"].idxmax()]
            ax.scatter([best["coverage"]], [best["precision"]], s=60, facecolors="none", edgecolors=color,
                       linewidths=1.5, zorder=3)
            ax.annotate(f"{best['coverage']:.1%} at ≥ {target:.0%}", (best["coverage"], best["precision"]),
                        xytext=(5, 4), textcoords="offset points", fontsize=label_size, color=color)
    if not ax.get_xlabel():
        ax.set_xlabel("coverage: share of all bulletins coded at or above the threshold")
        percent_axis(ax, "x")
    if not ax.get_ylabel():
        ax.set_ylabel("precision of those codings")
        percent_axis(ax, "y")
    ax.spines[["top", "right"]].set_visible(False)
    return curve
