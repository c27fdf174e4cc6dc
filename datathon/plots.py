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
