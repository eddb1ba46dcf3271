"""One self-contained HTML page for a sweep: front, best EDP point, sensitivity of EDP.

Plots are inline SVG (matplotlib), tables are plain HTML; the page needs no other file.
Sensitivity of EDP to a swept key: for each value of the key, the median and the minimum EDP
over all rows with that value; the key's spread is max/min of the per-value medians (1 = no
effect), and keys are ranked by it.
"""

from __future__ import annotations

import html
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pimsim.pareto import (
    Objective,
    pareto_front,
    plot_front,
    read_results,
    swept_keys,
)
from pimsim.report import atomic_write_text

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:1rem}.grid>div{flex:1 1 330px}
.note{color:#666;font-size:.85rem}svg{max-width:100%;height:auto}
"""


def _fmt(v: Any, name: str = "") -> str:
    """A cell in human units: SI columns (``*_j``, ``*_s``, ``*_js``, ``*_m2``) get prefixes."""
    from pimsim.report import fmt_energy, fmt_time

    if isinstance(v, (float, np.floating, int, np.integer)) and not isinstance(v, bool):
        if name.endswith("_js"):
            return f"{float(v):.4g} J·s"
        if name.endswith("_j") and v:
            return fmt_energy(float(v))
        if name.endswith("_s") and v:
            return fmt_time(float(v))
        if name.endswith("_m2"):
            return f"{float(v) * 1e6:.4g} mm²"
        if isinstance(v, (float, np.floating)):
            return f"{v:.4g}"
    return html.escape(str(v))


def _table(df: pd.DataFrame, max_rows: int = 40) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    key_value = list(df.columns) == ["key", "value"]
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(v, str(row[0]) if key_value else str(c))}</td>"
                         for c, v in zip(df.columns, row)) + "</tr>"
        for row in df.head(max_rows).itertuples(index=False))
    more = (f"<p class='note'>{len(df) - max_rows} more rows not shown</p>"
            if len(df) > max_rows else "")
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.find("<svg"):]


def sensitivity(df: pd.DataFrame, keys: list[str], metric: str = "edp_js") -> pd.DataFrame:
    """Per key: number of values, spread of the per-value median ``metric``, best value."""
    rows = []
    for k in keys:
        g = df.groupby(k)[metric]
        med, mn = g.median(), g.min()
        if len(med) < 2:
            continue
        rows.append({"key": k, "values": len(med),
                     "spread (max/min of medians)": float(med.max() / med.min())
                     if med.min() > 0 else float("inf"),
                     "best value (min median)": med.idxmin(),
                     f"min {metric}": float(mn.min())})
    out = pd.DataFrame(rows)
    if not out.empty:
        out = out.sort_values("spread (max/min of medians)", ascending=False)
    return out


def _sensitivity_plot(df: pd.DataFrame, key: str, metric: str = "edp_js") -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = df.groupby(key)[metric]
    med, mn, mx = g.median(), g.min(), g.max()
    fig, ax = plt.subplots(figsize=(4.2, 3.0), dpi=100)
    xs = np.arange(len(med)) if not pd.api.types.is_numeric_dtype(med.index) else med.index
    ax.fill_between(xs, mn.values, mx.values, alpha=0.2, color="C0", label="min-max")
    ax.plot(xs, med.values, "-o", color="C0", label="median")
    ax.plot(xs, mn.values, "--", color="C3", label="min")
    if not pd.api.types.is_numeric_dtype(med.index):
        ax.set_xticks(xs, [str(v) for v in med.index])
    elif med.index.min() > 0 and med.index.max() / med.index.min() > 30:
        ax.set_xscale("log")
    if mn.min() > 0:
        ax.set_yscale("log")
    ax.set_xlabel(key)
    ax.set_ylabel(f"{metric}")
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.2)
    fig.tight_layout()
    return _svg(fig)


def _breakdown_plot(row: pd.Series) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    comps = {c[len("energy_"):-2]: float(row[c]) for c in row.index
             if c.startswith("energy_") and c.endswith("_j") and c not in (
                 "energy_j", "energy_digital_j", "energy_pim_j") and float(row[c]) > 0}
    fig, ax = plt.subplots(figsize=(5.0, 3.0), dpi=100)
    names = sorted(comps, key=comps.get, reverse=True)  # type: ignore[arg-type]
    ax.barh(names[::-1], [comps[n] for n in names[::-1]], color="C2")
    ax.set_xlabel("energy per inference, J")
    ax.set_xscale("log")
    ax.grid(True, axis="x", alpha=0.2)
    fig.tight_layout()
    return _svg(fig)


def write_report(results: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                 title: str | None = None) -> Path:
    """Write ``out_dir/index.html`` (self-contained) and ``front.png``/``front.svg``; return
    the HTML path."""
    df = read_results(results)
    for c in ("energy_j", "delay_s", "edp_js"):
        if c not in df.columns:
            from pimsim.errors import PimsimError

            raise PimsimError(f"not a sweep results file: no column {c!r}", file=str(results),
                              key=c)
    outd = Path(out_dir)
    outd.mkdir(parents=True, exist_ok=True)
    keys = swept_keys(df)
    objs = [Objective("delay_s", False), Objective("energy_j", False)]
    front = pareto_front(df, objs)
    written = plot_front(df, front, objs, outd / "front.svg")
    front_svg = Path(written[0]).read_text(encoding="utf-8")
    front_svg = front_svg[front_svg.find("<svg"):]
    best = df.loc[df["edp_js"].idxmin()]
    best_tab = pd.DataFrame({"key": list(best.index), "value": list(best.values)})
    parts = [f"<h1>{html.escape(title or 'pimsim sweep report')}</h1>",
             (f"<p>{len(df)} rows from <code>{html.escape(str(results))}</code>; traces: "
             f"{html.escape(', '.join(map(str, df['trace'].unique())) if 'trace' in df else '-')}"
             f"; swept keys: {html.escape(', '.join(keys) or 'none')}.</p>"),
             "<h2>Best EDP point</h2><div class='grid'><div>", _table(best_tab, 80),
             "</div><div><p>Energy per component (J per inference)</p>",
             _breakdown_plot(best), "</div></div>",
             "<h2>Energy-delay Pareto front</h2>",
             ("<p class='note'>All points faint, the front bold and labelled; dotted lines are "
             "iso-EDP curves; stars mark the base configuration.</p>"), front_svg,
             f"<p>{len(front)} non-dominated configurations:</p>",
             _table(front[["point", *keys, "energy_j", "delay_s", "edp_js"]
                          + (["accuracy"] if "accuracy" in front else [])])]
    if "accuracy" in df.columns and df["accuracy"].notna().any():
        objs_a = [Objective("accuracy", True), Objective("energy_j", False)]
        fa = pareto_front(df, objs_a)
        pa = plot_front(df, fa, objs_a, outd / "accuracy_front.svg",
                        title="Accuracy vs energy (co-design front)")
        svg = Path(pa[0]).read_text(encoding="utf-8")
        parts += ["<h2>Accuracy vs energy</h2>", svg[svg.find("<svg"):]]
    sens = sensitivity(df, keys)
    parts.append("<h2>Sensitivity of EDP to each swept key</h2>")
    if sens.empty:
        parts.append("<p>No key takes two or more values.</p>")
    else:
        parts.append(_table(sens))
        parts.append("<div class='grid'>")
        for k in sens["key"]:
            parts.append(f"<div><p><b>{html.escape(k)}</b></p>{_sensitivity_plot(df, k)}"
                         "</div>")
        parts.append("</div>")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>"
            f"{html.escape(title or 'pimsim sweep report')}</title><style>{CSS}</style>"
            "</head><body>" + "\n".join(parts) + "</body></html>\n")
    path = outd / "index.html"
    atomic_write_text(path, page)
    return path
