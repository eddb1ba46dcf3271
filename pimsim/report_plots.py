"""The report's plots other than the front: per-layer energy bars and EDP sensitivity (SVG text).

Energy bars are on a linear scale (a 2 mJ bar is ten times a 0.2 mJ one), stacked by the
component groups of :data:`pimsim.report.COMPONENT_GROUPS`, one bar for the best point and one
for the base config per layer, each labelled with its energy and its share of that point's
total.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pimsim.pareto import eng, fmt_value, pim_off, relevant
from pimsim.pareto_plot import svg_text

#: Colour of each component group (fixed, so every plot of every report agrees).
GROUP_COLORS = {"compute": "#4e79a7", "SRAM": "#f28e2b", "NoC": "#59a14f", "DRAM": "#e15759",
                "PIM": "#b07aa1", "leak": "#9c9c9c", "other": "#d4a373"}
#: A numeric key with more distinct values than this is binned (quantiles) for sensitivity.
MAX_VALUES = 12
BINS = 8


def group_energy(breakdown: dict[str, float]) -> dict[str, float]:
    """Energy per component group (J) of a component breakdown; unknown components: other."""
    from pimsim.report import COMPONENT_GROUPS

    out = {g: float(sum(breakdown.get(k, 0.0) for k in keys)) for g, keys in COMPONENT_GROUPS}
    known = {k for _, keys in COMPONENT_GROUPS for k in keys}
    out["other"] = float(sum(v for k, v in breakdown.items() if k not in known))
    return out


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def layer_bars_svg(points: Sequence[tuple[str, Any]], *, salt: str) -> str:
    """Horizontal stacked bars of each layer's energy by component group, one bar per
    ``(name, Result)`` in ``points`` (e.g. best point, base config; the second and later
    lighter), linear scale, each labelled with its energy and share of its point's total."""
    from matplotlib.ticker import EngFormatter

    plt = _plt()
    layers = [layer.name for layer in points[0][1].layers]
    engines = {layer.name: layer.engine for layer in points[0][1].layers}
    per = [{layer.name: group_energy(layer.energy_breakdown_j) for layer in r.layers}
           for _, r in points]
    groups = [g for g in GROUP_COLORS if any(p[n][g] > 0 for p in per for n in p)]
    n, k = len(layers), len(points)
    height = 0.8 / k
    fig, ax = plt.subplots(figsize=(10.5, 0.42 * n * k + 1.6), dpi=100)
    top = max(sum(p[name].values()) for p in per for name in p)
    for j, ((label, result), p) in enumerate(zip(points, per)):
        total = result.energy_j
        ys = np.arange(n) + (j - (k - 1) / 2) * height
        left = np.zeros(n)
        for g in groups:
            vals = np.array([p.get(name, {}).get(g, 0.0) for name in layers])
            ax.barh(ys, vals, height * 0.92, left=left, color=GROUP_COLORS[g],
                    alpha=1.0 if j == 0 else 0.45, edgecolor="white", linewidth=0.4,
                    label=g if j == 0 else None)
            left += vals
        for y, e in zip(ys, left):
            share = 100 * e / total if total else 0.0
            ax.text(e + top * 0.005, y, f"{label}: {eng(e, 'J')} ({share:.1f} %)",
                    va="center", fontsize=7.5)
    ax.set_yticks(np.arange(n), [f"{name} ({engines[name]})" for name in layers])
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.32)
    ax.xaxis.set_major_formatter(EngFormatter(unit="J", sep=" "))
    ax.set_xlabel("energy per inference (linear scale)")
    ax.grid(True, axis="x", alpha=0.25)
    ax.legend(ncol=len(groups), fontsize=8, loc="lower right", frameon=False,
              bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return svg_text(fig, salt=salt)


def key_groups(df: pd.DataFrame, key: str, metric: str = "edp_js") -> Any:
    """``metric`` grouped by the value of ``key`` over the rows where the key matters
    (:func:`pimsim.pareto.relevant`); a numeric key with more than :data:`MAX_VALUES` values
    (a random or Latin sweep) is grouped in :data:`BINS` quantile bins, each named by its
    median value."""
    use = df[relevant(key, pim_off(df))]
    col = use[key]
    if (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
            and col.nunique() > MAX_VALUES):
        bins = pd.qcut(col, BINS, duplicates="drop")
        col = col.groupby(bins, observed=True).transform("median")
    return use[metric].groupby(col)


def sensitivity_curves(df: pd.DataFrame, key: str, metric: str = "edp_js"
                       ) -> dict[str, pd.DataFrame]:
    """Per trace: for each value of ``key`` (:func:`key_groups`), the median and minimum
    ``metric`` divided by the trace's best ``metric``."""
    from pimsim.pareto import trace_groups

    out = {}
    for label, rows in trace_groups(df):
        best = float(rows[metric].min())
        g = key_groups(rows, key, metric)
        if best > 0 and g.ngroups:
            out[label] = pd.DataFrame({"median": g.median() / best, "min": g.min() / best})
    return out


def sensitivity_svg(df: pd.DataFrame, key: str, *, salt: str, metric: str = "edp_js") -> str:
    """Median (line) and minimum (dashed) ``metric`` over the rows with each value of ``key``,
    relative to the trace's best, one colour per trace."""
    plt = _plt()
    curves = sensitivity_curves(df, key, metric)
    fig, ax = plt.subplots(figsize=(4.4, 3.0), dpi=100)
    values = sorted({v for c in curves.values() for v in c.index},
                    key=lambda v: (str(type(v)), v))
    numeric = all(isinstance(v, (int, float, np.integer, np.floating))
                  and not isinstance(v, (bool, np.bool_)) for v in values)
    pos = {v: (float(v) if numeric else i) for i, v in enumerate(values)}
    for i, (label, c) in enumerate(curves.items()):
        xs = [pos[v] for v in c.index]
        ax.plot(xs, c["median"], "-o", ms=3.5, color=f"C{i}", label=f"{label} median")
        ax.plot(xs, c["min"], "--", color=f"C{i}", lw=1.0, label=f"{label} min")
    if numeric and values and min(values) > 0 and max(values) / min(values) > 30:
        ax.set_xscale("log")
    if not numeric or len(values) <= 8:
        ax.set_xticks([pos[v] for v in values], [fmt_value(key, v) for v in values],
                      fontsize=7, rotation=30 if len(values) > 4 else 0)
    else:
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        if ax.get_xscale() == "linear":
            ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_value(key, float(v))))
        ax.tick_params(axis="x", labelsize=7, labelrotation=30)
    peak = max((float(c["median"].max()) for c in curves.values()), default=1.0)
    if peak > 30:
        ax.set_yscale("log")
    ax.set_xlabel(key)
    name = "EDP" if metric == "edp_js" else metric
    ax.set_ylabel(f"{name} / best {name} of the trace", fontsize=8)
    ax.legend(fontsize=6.5)
    ax.grid(True, alpha=0.25)
    fig.tight_layout()
    return svg_text(fig, salt=salt)
