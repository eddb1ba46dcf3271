"""Plots of the Pareto fronts of a sweep: one panel per trace, front points numbered.

Each panel shows every row of its trace (faint, or coloured by a column), the front's distinct
points (:func:`pimsim.pareto.merge_identical`) joined and numbered, iso-EDP curves when the
axes are energy and delay, and the base configuration as a star. The numbers are explained
beside the plot (key values in human units: ``clock 146 MHz``), so no label sits on the data.
The axes fit the data with a small margin; SI columns get human units (µJ, µs, mm²). In the
SVG every front point and base star has a ``<title>`` (hover text in a browser).
"""

from __future__ import annotations

import html
import io
import os
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pimsim.atomic import atomic_open
from pimsim.pareto import (
    PIM_ENABLED,
    Objective,
    fmt_metric,
    fmt_value,
    key_names,
    merge_identical,
    pareto_front,
    pim_off,
    point_label,
    swept_keys,
    trace_groups,
)

#: Fraction of the data span added on each side of an axis.
MARGIN = 0.06
#: Above this many rows, the SVG draws the faint points as one embedded image.
RASTER_ABOVE = 2000
#: Front points listed beside a panel (the rest: in the report or --front-csv).
MAX_LISTED = 18
_AXIS_NAMES = {"energy_j": "energy per inference", "delay_s": "delay per inference",
               "edp_js": "EDP per inference", "area_m2": "area"}
_UNITS = (("_js", "J·s"), ("_m2", "m²"), ("_j", "J"), ("_s", "s"), ("_hz", "Hz"))


@dataclass
class Panel:
    """One trace's rows, front and merged front."""

    label: str
    rows: pd.DataFrame
    front: pd.DataFrame
    merged: pd.DataFrame
    titles: dict[str, str] = field(default_factory=dict)


def panels(df: pd.DataFrame, objectives: Sequence[Objective],
           keys: Sequence[str] | None = None) -> list[Panel]:
    """One :class:`Panel` per trace with a non-empty front (merged over ``keys``, default
    the swept keys of ``df``)."""
    keys = list(keys) if keys is not None else swept_keys(df)
    out = []
    for label, rows in trace_groups(df):
        front = pareto_front(rows, objectives)
        if len(front):
            out.append(Panel(label, rows, front, merge_identical(front, keys, objectives)))
    return out


def axis_title(column: str, objective: Objective | None = None) -> str:
    """``delay per inference`` for ``delay_s``; the column name otherwise (``max`` noted)."""
    name = _AXIS_NAMES.get(column, column)
    return f"{name} (maximised)" if objective is not None and objective.maximize else name


def _formatter(column: str) -> Any:
    """A tick formatter in human units for an SI column (mm² for areas), or None."""
    from matplotlib.ticker import EngFormatter, FuncFormatter

    if column.endswith("_m2"):
        return FuncFormatter(lambda v, _: f"{v * 1e6:.3g} mm²")
    for suffix, unit in _UNITS:
        if column.endswith(suffix):
            return EngFormatter(unit=unit, places=None, sep=" ")
    return None


def fit_limits(values: np.ndarray, log: bool, margin: float = MARGIN) -> tuple[float, float]:
    """Axis limits that hold every finite value with ``margin`` of the span on each side
    (in log space on a log axis; +-``margin`` of the value when all values are equal)."""
    v = values[np.isfinite(values)]
    if log:
        v = np.log10(v[v > 0])
    if v.size == 0:
        return (0.0, 1.0)
    lo, hi = float(v.min()), float(v.max())
    pad = (hi - lo) * margin if hi > lo else (abs(lo) * margin if not log else 0.02) or 1.0
    lo, hi = lo - pad, hi + pad
    return (10**lo, 10**hi) if log else (lo, hi)


def _wants_log(x: np.ndarray) -> bool:
    x = x[np.isfinite(x)]
    return bool(x.size) and float(x.min()) > 0 and float(x.max()) / float(x.min()) > 30


def _color_values(column: str, values: pd.Series) -> tuple[np.ndarray, str]:
    """Colour-bar values and label: areas in mm², other SI columns as they are."""
    v = values.to_numpy(float)
    if column.endswith("_m2"):
        return v * 1e6, f"{column} (mm²)"
    return v, column


def _iso_edp(ax: Any, best_edp: float) -> None:
    """Dotted curves of constant EDP (1x, 1.25x, 1.5x, 2x, 3x the best), each labelled where
    it leaves the axes at the top (or the right), away from the front; a label that would
    touch the previous one is left out."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    xs = np.geomspace(max(x0, 1e-30), x1, 400)
    last = -1e9
    for f in (1.0, 1.25, 1.5, 2.0, 3.0):
        lv = best_edp * f
        ys = lv / xs
        if not np.any((ys >= y0) & (ys <= y1)):
            continue
        ax.plot(xs, ys, ls=":", lw=0.9, color="0.45", zorder=1)
        at_top = lv / y1
        where = (at_top, y1) if x0 <= at_top <= x1 else (x1, lv / x1)
        px = ax.transData.transform([where])[0]
        if abs(px[0] - last) < 60 and where[1] == y1:
            continue
        last = px[0]
        ax.annotate("best EDP" if f == 1 else f"{f:g}x EDP", where, fontsize=7, color="0.3",
                    ha="left" if where[1] == y1 else "right", va="top",
                    xytext=(2, -2), textcoords="offset points", clip_on=True)


def _place_numbers(ax: Any, xs: np.ndarray, ys: np.ndarray, color: str,
                   avoid: np.ndarray | None = None) -> None:
    """Number the points 1..n next to them, each at the first nearby offset that overlaps no
    earlier number, no point and nothing in ``avoid`` (data coordinates, (m, 2))."""
    pts = np.column_stack([xs, ys])
    if avoid is not None and len(avoid):
        pts = np.vstack([pts, avoid])
    pix = ax.transData.transform(pts)
    pt = ax.figure.dpi / 72.0  # pixels per point
    taken: list[tuple[float, float, float, float]] = []
    offsets = [(4, 3), (4, -11), (-11, 3), (-11, -11), (6, 11), (-13, 11), (4, -19),
               (-13, -19), (10, -4), (-17, -4)]

    def hits(box: tuple[float, float, float, float]) -> bool:
        a0, b0, a1, b1 = box
        if any(a0 < c1 and c0 < a1 and b0 < d1 and d0 < b1 for c0, d0, c1, d1 in taken):
            return True
        r = 4 * pt
        return bool(np.any((pix[:, 0] > a0 - r) & (pix[:, 0] < a1 + r)
                           & (pix[:, 1] > b0 - r) & (pix[:, 1] < b1 + r)))

    for i in range(len(xs)):
        px, py = pix[i]
        w, h = (4.6 * len(str(i + 1)) + 1) * pt, 8 * pt
        chosen = offsets[0]
        for dx, dy in offsets:
            if not hits((px + dx * pt, py + dy * pt, px + dx * pt + w, py + dy * pt + h)):
                chosen = (dx, dy)
                break
        taken.append((px + chosen[0] * pt, py + chosen[1] * pt, px + chosen[0] * pt + w,
                      py + chosen[1] * pt + h))
        ax.annotate(str(i + 1), (xs[i], ys[i]), xytext=chosen, textcoords="offset points",
                    fontsize=7.5, color=color, fontweight="bold", va="bottom", ha="left")


def hover_text(head: str, row: pd.Series, keys: Sequence[str], metrics: Sequence[str]) -> str:
    """Hover text of a point: ``head``, then its key values and metrics in human units."""
    lines = [head, *(f"{k} = {fmt_value(k, row[k])}" for k in keys)]
    lines += [f"{m} = {fmt_metric(m, row[m])}" for m in metrics]
    return "\n".join(lines)


def side_lines(merged: pd.DataFrame, keys: Sequence[str], limit: int = MAX_LISTED,
               width: int = 58) -> list[str]:
    """The legend of the numbers: keys equal on the whole front once, then one wrapped line
    per point with the keys that vary along the front."""
    many = len(merged) > 1
    same = [k for k in keys if many and merged[k].map(repr).nunique() == 1]
    vary = [k for k in keys if k not in same]
    out = []
    if same:
        out += textwrap.wrap("whole front: " + point_label(merged.iloc[0], same), width,
                             subsequent_indent="  ")
        out.append("")
    for i, (_, row) in enumerate(merged.head(limit).iterrows()):
        text = point_label(row, vary) or "(no swept key varies)"
        extra = (f" [{int(row['count'])} configs]" if row["count"] > 1 else "") + (
            " [base]" if row.get("is_base") else "")
        out += textwrap.wrap(f"{i + 1:>2} {text}{extra}", width, subsequent_indent="   ")
    if len(merged) > limit:
        out.append(f"   ... {len(merged) - limit} more points")
    return out


def draw_panel(fig: Any, ax: Any, side: Any, panel: Panel, objectives: Sequence[Objective],
               keys: Sequence[str], *, color_by: str | None = None,
               gid_prefix: str = "pt") -> None:
    """Draw one trace's panel into ``ax`` (and the numbers' legend into ``side`` if given);
    record the hover text of each front point in ``panel.titles`` by SVG id."""
    x, y = objectives[0].column, objectives[1].column
    rows, merged = panel.rows, panel.merged
    xs, ys = rows[x].to_numpy(float), rows[y].to_numpy(float)
    log_x, log_y = _wants_log(xs), _wants_log(ys)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlim(*fit_limits(xs, log_x))
    ax.set_ylim(*fit_limits(ys, log_y))
    dots = {"linewidths": 0, "zorder": 2, "rasterized": len(rows) > RASTER_ABOVE}
    if color_by and pd.api.types.is_numeric_dtype(rows[color_by]) \
            and rows[color_by].dtype != bool:
        cv, clabel = _color_values(color_by, rows[color_by])
        sc = ax.scatter(xs, ys, c=cv, s=14, alpha=0.6, cmap="viridis", **dots)
        fig.colorbar(sc, ax=ax, label=clabel, pad=0.01, fraction=0.05)
    elif color_by:
        for val, grp in rows.groupby(color_by, sort=True):
            ax.scatter(grp[x], grp[y], s=14, alpha=0.6, **dots,
                       label=f"{key_names([color_by])[color_by]} {fmt_value(color_by, val)}")
    else:
        off = pim_off(rows).to_numpy()
        kinds = ((~off, "o", "PIM"), (off, "s", "digital-only")) \
            if PIM_ENABLED in rows.columns else ((~off, "o", "all"),)
        for sel, marker, what in kinds:
            if sel.any():
                ax.scatter(xs[sel], ys[sel], s=12, alpha=0.35, color="0.5", marker=marker,
                           **dots, label=f"{what}: {int(sel.sum())} configurations")
    fx, fy = merged[x].to_numpy(float), merged[y].to_numpy(float)
    order = np.argsort(fx, kind="stable")
    what = f"Pareto front ({len(merged)} point{'s' if len(merged) > 1 else ''})"
    colors = ["C3"] * len(merged)
    if len(objectives) > 2:  # a 3-D front: no line through it; the third objective as colour
        import matplotlib as mpl

        z = objectives[2].column
        zv, zlabel = _color_values(z, merged[z])
        norm = mpl.colors.Normalize(float(np.nanmin(zv)), float(np.nanmax(zv)))
        colors = [mpl.colormaps["plasma"](norm(v)) for v in zv]
        bar = fig.colorbar(mpl.cm.ScalarMappable(norm, "plasma"), ax=ax, pad=0.01,
                           fraction=0.05, label=f"front: {axis_title(zlabel, objectives[2])}")
        if _formatter(z) is not None and not z.endswith("_m2"):
            bar.ax.yaxis.set_major_formatter(_formatter(z))
        ax.plot([], [], "o", color="C3", mec="k", label=what)
    else:
        ax.plot(fx[order], fy[order], "-", color="C3", lw=1.6, zorder=4, label=what)
    metrics = [o.column for o in objectives] + (
        ["edp_js"] if "edp_js" in merged and "edp_js" not in [o.column for o in objectives]
        else [])
    for i, (_, row) in enumerate(merged.iterrows()):
        gid = f"{gid_prefix}-{i + 1}"
        ax.plot([row[x]], [row[y]], "o", ms=6, color=colors[i], mec="k", mew=0.6, zorder=6,
                gid=gid)
        head = (f"#{i + 1} ({panel.label}): {int(row['count'])} configuration(s)"
                + (", the base config among them" if row["is_base"] else ""))
        panel.titles[gid] = hover_text(head, row, keys, metrics)
    base = rows.iloc[:0]
    if "is_base" in rows.columns:
        base = rows[rows["is_base"] == 1].drop_duplicates(subset=[x, y])
        for j, (_, row) in enumerate(base.iterrows()):
            gid = f"{gid_prefix}-base-{j}"
            ax.plot([row[x]], [row[y]], "*", ms=15, color="gold", mec="k", mew=0.7,
                    zorder=7, gid=gid, label="base config" if j == 0 else None)
            panel.titles[gid] = hover_text(f"base config ({panel.label})", row, keys,
                                           metrics)
    if {x, y} == {"energy_j", "delay_s"} and "edp_js" in rows and np.all(xs > 0):
        _iso_edp(ax, float(np.nanmin(xs * ys)))
    _place_numbers(ax, fx, fy, "C3", base[[x, y]].to_numpy(float))
    ax.set_xlabel(axis_title(x, objectives[0]))
    ax.set_ylabel(axis_title(y, objectives[1]))
    for axis, col in (("x", x), ("y", y)):
        fmt = _formatter(col)
        if fmt is not None:
            getattr(ax, f"{axis}axis").set_major_formatter(fmt)
            if (log_x if axis == "x" else log_y):
                getattr(ax, f"{axis}axis").set_minor_formatter(fmt)
    ax.grid(True, which="major", alpha=0.25)
    n_cfg = int(merged["count"].sum())
    ax.set_title(f"{panel.label}: {len(merged)} distinct front points "
                 f"({n_cfg} of {len(rows)} configurations)", fontsize=10)
    if side is None:
        ax.legend(loc="best", fontsize=7.5, framealpha=0.85)
        return
    side.axis("off")
    side.text(0.0, 1.0, "\n".join(side_lines(merged, keys)), va="top", ha="left",
              family="monospace", fontsize=7.2, transform=side.transAxes)
    handles, labels = ax.get_legend_handles_labels()
    side.legend(handles, labels, loc="lower left", fontsize=7.5, frameon=False)


def front_figure(df: pd.DataFrame, objectives: Sequence[Objective], *,
                 color_by: str | None = None, title: str | None = None, side: bool = True,
                 gid_prefix: str = "pt", keys: Sequence[str] | None = None
                 ) -> tuple[Any, list[Panel]]:
    """A figure with one row per trace: the panel and (``side``) the legend of its numbers;
    ``keys``: the swept keys (default: those of ``df``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(keys) if keys is not None else swept_keys(df)
    ps = panels(df, objectives, keys)
    n = max(1, len(ps))
    width, head = (12.5, 0.75) if side else (7.2, 0.3)
    height = 4.9 * n + head
    fig = plt.figure(figsize=(width, height), dpi=110)
    grid = fig.add_gridspec(n, 2 if side else 1, width_ratios=[1.75, 1] if side else None,
                            left=0.08 if side else 0.12, right=0.99 if side else 0.96,
                            top=1 - head / height, bottom=0.5 / height, hspace=0.32,
                            wspace=0.05)
    for i, p in enumerate(ps):
        ax = fig.add_subplot(grid[i, 0])
        sax = fig.add_subplot(grid[i, 1]) if side else None
        draw_panel(fig, ax, sax, p, objectives, keys, color_by=color_by,
                   gid_prefix=f"{gid_prefix}{i}")
    if side or title:
        fig.suptitle(title or f"Pareto front per trace: {axis_title(objectives[1].column)} "
                     f"vs {axis_title(objectives[0].column)}", fontsize=12)
    return fig, ps


def svg_text(fig: Any, titles: dict[str, str] | None = None, *, salt: str = "fig") -> str:
    """The figure as SVG text (from ``<svg``, text kept as text), with a ``<title>`` in each
    element whose id is in ``titles``; ``salt`` makes its generated ids unique in a page."""
    import matplotlib.pyplot as plt

    titles = titles or {}
    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg")
    plt.close(fig)
    text = buf.getvalue()
    # keep runs of spaces (the monospace legend of the numbers is aligned with them)
    text = text[text.find("<svg"):].replace("<svg ", '<svg xml:space="preserve" ', 1)

    def add(m: re.Match[str]) -> str:
        t = titles.get(m.group(1))
        return m.group(0) if t is None else f"{m.group(0)}<title>{html.escape(t)}</title>"

    return re.sub(r'<g id="([^"]+)">', add, text)


def plot_fronts(df: pd.DataFrame, objectives: Sequence[Objective],
                out: str | os.PathLike[str], *, color_by: str | None = None,
                title: str | None = None) -> tuple[list[str], list[Panel]]:
    """Write the front figure to ``out`` (PNG unless its suffix says SVG) and the other of
    PNG/SVG beside it (the SVG with hover text), atomically; return the paths and panels."""
    fig, ps = front_figure(df, objectives, color_by=color_by, title=title)
    outp = Path(out)
    other = outp.with_suffix(".svg" if outp.suffix.lower() != ".svg" else ".png")
    titles = {k: v for p in ps for k, v in p.titles.items()}
    svg, raster = (outp, other) if outp.suffix.lower() == ".svg" else (other, outp)
    with atomic_open(raster, "wb", suffix=raster.suffix) as fh:
        fig.savefig(fh, format=raster.suffix.lstrip(".").lower() or "png")
    with atomic_open(svg, "w", suffix=".svg") as fh:  # last: svg_text closes the figure
        fh.write('<?xml version="1.0" encoding="utf-8" standalone="no"?>\n'
                 + svg_text(fig, titles, salt=svg.name))
    written = [str(outp), str(other)]
    return written, ps

