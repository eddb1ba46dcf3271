"""One self-contained HTML page for a sweep: per trace, the best EDP point against the base
config (keys that differ, figures and ratios), its energy per layer and component and its area
(re-simulated, :mod:`pimsim.report_layers`), and the Pareto front (merged identical points,
hover text); then the sensitivity of EDP to each swept key.

Plots are inline SVG (matplotlib), tables plain HTML; the page needs no other file. Sensitivity
of EDP to a swept key, per trace: for each value of the key, the median and minimum EDP over
the rows with that value (for a ``pim.*`` key, the rows with the PIM macro on); the key's
spread is max/min of the per-value medians (1 = no effect), and keys are ranked by it.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pimsim.atomic import atomic_write_text
from pimsim.errors import PimsimError
from pimsim.pareto import (
    PIM_ENABLED,
    Objective,
    fixed_keys,
    fmt_metric,
    fmt_value,
    key_names,
    merge_identical,
    read_results,
    swept_keys,
    trace_groups,
)

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;
max-width:1180px;color:#222;padding:0 1rem;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.3rem}h2{font-size:1.3rem;margin-top:2.2rem;
border-bottom:2px solid #4e79a7;padding-bottom:.2rem}h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
table{border-collapse:collapse;font-size:.83rem;margin:.4rem 0}
td,th{border:1px solid #ddd;padding:.22rem .5rem;text-align:right;white-space:nowrap}
th{background:#f0f3f7}td:first-child,th:first-child{text-align:left}
tr:nth-child(even) td{background:#fafafa}td.l,th.l{text-align:left}
tr.base td{background:#fff7d6}tr.best td{background:#e6f2e6}tr.total td{font-weight:600;
border-top:2px solid #999}
.grid{display:flex;flex-wrap:wrap;gap:1.2rem;align-items:flex-start}.grid>div{flex:0 1 auto}
.grid>div.plot{flex:1 1 560px;max-width:720px}
.note{color:#666;font-size:.83rem}.warn{color:#a33;font-size:.85rem}
.sens{display:flex;flex-wrap:wrap;gap:.5rem}.sens>div{flex:0 0 440px}
svg{max-width:100%;height:auto}code{background:#f4f4f4;padding:0 .2rem}
nav a{margin-right:1rem}
"""
OBJECTIVES = (Objective("delay_s", False), Objective("energy_j", False))
FIGURES = ("energy_j", "delay_s", "edp_js", "area_m2", "accuracy")
FIGURE_NAMES = {"energy_j": "energy", "delay_s": "delay", "edp_js": "EDP", "area_m2": "area",
                "accuracy": "accuracy"}
MAX_FRONT_ROWS = 40


def _esc(v: Any) -> str:
    return html.escape(str(v))


def _cell(c: Any, tag: str = "td") -> str:
    """A cell: text (escaped), or ``(text, css class)``, or ``(text, class, title)``."""
    if isinstance(c, tuple):
        text, cls, *title = c
        t = f" title='{_esc(title[0])}'" if title else ""
        return f"<{tag} class='{cls}'{t}>{_esc(text)}</{tag}>"
    return f"<{tag}>{_esc(c)}</{tag}>"


def table(header: Sequence[Any], rows: Sequence[Sequence[Any]],
          row_classes: Sequence[str] | None = None) -> str:
    """An HTML table; every cell escaped (see :func:`_cell`)."""
    head = "".join(_cell(h, "th") for h in header)
    body = "".join(
        f"<tr class='{row_classes[i] if row_classes else ''}'>"
        + "".join(_cell(c) for c in r) + "</tr>" for i, r in enumerate(rows))
    return f"<table><tr>{head}</tr>{body}</table>"


def _ratio(best: float, base: float) -> str:
    if not base or not pd.notna(best) or not pd.notna(base):
        return "-"
    r = best / base
    return f"{r:.3g}x ({100 * (r - 1):+.1f} %)"


def _pct(part: float, total: float) -> str:
    return f"{100 * part / total:.1f} %" if total else "-"


def sensitivity(df: pd.DataFrame, keys: list[str], metric: str = "edp_js") -> pd.DataFrame:
    """Per key: number of values, spread of the per-value median ``metric``, best value (over
    the rows where the key matters: ``pim.*`` keys on rows with the PIM macro on; values of a
    key with many of them in quantile bins, :func:`pimsim.report_plots.key_groups`)."""
    from pimsim.report_plots import key_groups

    rows = []
    for k in keys:
        g = key_groups(df, k, metric)
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


def _values_text(df: pd.DataFrame, key: str) -> str:
    vals = sorted(pd.unique(df[key]), key=lambda v: (str(type(v)), v))
    return fmt_value(key, tuple(vals) if len(vals) > 1 else vals[0])


def _header(df: pd.DataFrame, results: str, keys: list[str], hw: str, title: str) -> str:
    traces = [label for label, _ in trace_groups(df)]
    n_cfg = df["config_hash"].nunique() if "config_hash" in df else len(df)
    fixed = fixed_keys(df)
    nav = "".join(f"<a href='#trace-{i}'>{_esc(t)}</a>" for i, t in enumerate(traces))
    parts = [f"<h1>{_esc(title)}</h1>",
             (f"<p><code>{_esc(results)}</code>: {len(df)} rows = {n_cfg} configurations x "
             f"{len(traces)} trace(s) ({_esc(', '.join(traces))}); base config "
             f"<code>{_esc(hw)}</code>. Energy and delay are per inference.</p>"),
             f"<nav>Workloads: {nav}<a href='#sensitivity'>Sensitivity</a></nav>",
             "<h3>Swept keys</h3>",
             table(["key", ("values in the results", "l")],
                   [[k, (_values_text(df, k), "l")] for k in keys])
             if keys else "<p>No key takes two or more values.</p>"]
    if PIM_ENABLED in keys and any(k.startswith("pim.") and k != PIM_ENABLED for k in keys):
        parts.append("<p class='note'>The pim.* keys matter only on rows with the PIM macro "
                     "on; on digital-only rows they show as -.</p>")
    if fixed:
        parts.append("<p class='note'>Same in every row: " + _esc(", ".join(
            f"{k} = {fmt_value(k, v)}" for k, v in fixed.items())) + ".</p>")
    return "\n".join(parts)


@dataclass
class Choice:
    """The best EDP point of a trace (a merged group of rows) and the base config's row."""

    merged: pd.Series  # merge_identical row: count, points, keys, metrics
    row: pd.Series  # one CSV row of the group
    base: pd.Series | None  # the base config's CSV row, if it was in the sweep


def choose(rows: pd.DataFrame, keys: list[str]) -> Choice:
    """The best EDP group of one trace's rows and the base row."""
    best_rows = rows[rows["edp_js"] == rows["edp_js"].min()]
    merged = merge_identical(best_rows, keys, list(OBJECTIVES)).iloc[0]
    row = rows[rows["point"] == merged["points"][0]].iloc[0] if "point" in rows \
        else best_rows.iloc[0]
    base = rows[rows["is_base"] == 1] if "is_base" in rows else rows.iloc[:0]
    return Choice(merged, row, base.iloc[0] if len(base) else None)


def _key_diff(ch: Choice, keys: list[str], base_cfg: Any) -> str:
    """The keys whose best value differs from the base config's (irrelevant ones left out)."""
    from pimsim.report_layers import config_value

    rows, skipped = [], []
    for k in keys:
        best = ch.merged[k]
        base = ch.base[k] if ch.base is not None else (
            config_value(base_cfg, k) if base_cfg is not None else None)
        base = base.item() if hasattr(base, "item") else base
        if best is None:
            skipped.append(k)
            continue
        same = base in best if isinstance(best, tuple) else best == base
        if not same:
            rows.append([k, fmt_value(k, base) if base is not None else "?",
                         fmt_value(k, best)])
    note = ""
    if skipped:
        note = (f"<p class='note'>Not shown: {_esc(', '.join(skipped))} (they do not matter "
                "with the PIM macro off).</p>")
    if ch.merged["count"] > 1:
        note += (f"<p class='note'>{int(ch.merged['count'])} configurations give these exact "
                 "results; a key with several values lists them all.</p>")
    if not rows:
        return "<p>The best EDP point has the base config's values.</p>" + note
    return table(["key", "base config", "best EDP"], rows) + note


def _figures(best: dict[str, float], base: dict[str, float] | None) -> str:
    rows = []
    for m in FIGURES:
        if m not in best or not pd.notna(best[m]):
            continue
        b = base.get(m) if base else None
        rows.append([FIGURE_NAMES[m], fmt_metric(m, b) if b is not None else "-",
                     fmt_metric(m, best[m]),
                     _ratio(best[m], b) if b is not None else "-"])
    return table(["figure", "base config", "best EDP", "best / base"], rows)


def _layer_table(best: Any) -> str:
    """Layers x component groups of one point: energy per inference, share, delay."""
    from pimsim.report_plots import GROUP_COLORS, group_energy

    per = {layer.name: group_energy(layer.energy_breakdown_j) for layer in best.layers}
    groups = [g for g in GROUP_COLORS if any(p[g] for p in per.values())]
    rows: list[list[Any]] = [
        [layer.name, (layer.engine, "l"), *(_energy(per[layer.name][g]) for g in groups),
         _energy(layer.energy_j), _pct(layer.energy_j, best.energy_j),
         fmt_metric("d_s", layer.delay_s)] for layer in best.layers]
    tot = group_energy(best.by_component())
    rows.append(["total", "", *(_energy(tot[g]) for g in groups), _energy(best.energy_j),
                 "100 %", fmt_metric("d_s", best.delay_s)])
    shares = ["share", "", *(_pct(tot[g], best.energy_j) for g in groups), "", "", ""]
    return table(["layer", ("engine", "l"), *groups, "energy", "share", "delay"],
                 [*rows, shares],
                 [""] * len(best.layers) + ["total", ""])


def _layer_compare(best: Any, base: Any) -> str:
    """Per layer: energy, share and delay of the best point and the base config, and ratios."""
    bl = {layer.name: layer for layer in base.layers}
    rows: list[list[Any]] = []
    for layer in [*best.layers, None]:
        a = best if layer is None else layer
        b = base if layer is None else bl.get(layer.name)
        if b is None:
            continue
        tb, ta = best.energy_j, base.energy_j
        rows.append(["total" if layer is None else a.name, _energy(a.energy_j),
                     _pct(a.energy_j, tb), _energy(b.energy_j), _pct(b.energy_j, ta),
                     _ratio(a.energy_j, b.energy_j), fmt_metric("d_s", a.delay_s),
                     fmt_metric("d_s", b.delay_s), _ratio(a.delay_s, b.delay_s)])
    return table(["layer", "best: energy", "share", "base: energy", "share",
                  "energy best / base", "best: delay", "base: delay", "delay best / base"],
                 rows, [""] * (len(rows) - 1) + ["total"])


def _energy(v: float) -> str:
    return fmt_metric("e_j", v) if v else "-"


def _component_table(best: Any, base: Any | None) -> str:
    """Energy per component (summed over layers) of the best point and the base config."""
    from pimsim.report import COMPONENT_GROUPS

    bc, ac = best.by_component(), base.by_component() if base is not None else {}
    rows = []
    for g, comps in COMPONENT_GROUPS:
        for c in comps:
            e, b = float(bc.get(c, 0.0)), float(ac.get(c, 0.0))
            if e == 0 and b == 0:
                continue
            r = [c, (g, "l"), fmt_metric("e_j", e), _pct(e, best.energy_j)]
            if base is not None:
                r += [fmt_metric("e_j", b), _pct(b, base.energy_j), _ratio(e, b)]
            rows.append(r)
    header = ["component", ("group", "l"), "best EDP", "share"]
    if base is not None:
        header += ["base config", "share", "best / base"]
    return table(header, rows)


def _area_table(best: Any, base: Any | None) -> str:
    """Area per engine and part (mm²) of the best point and the base config."""
    parts = [(eng, part) for eng, d in best.area_breakdown_m2.items() for part in d]
    if base is not None:
        parts += [(eng, part) for eng, d in base.area_breakdown_m2.items() for part in d
                  if (eng, part) not in parts]
    rows = []
    for eng, part in parts:
        a = best.area_breakdown_m2.get(eng, {}).get(part, 0.0)
        r = [part, (eng, "l"), fmt_metric("a_m2", a), _pct(a, best.area_m2)]
        if base is not None:
            b = base.area_breakdown_m2.get(eng, {}).get(part, 0.0)
            r += [fmt_metric("a_m2", b), _pct(b, base.area_m2)]
        rows.append(r)
    r = ["total", "", fmt_metric("a_m2", best.area_m2), "100 %"]
    if base is not None:
        r += [fmt_metric("a_m2", base.area_m2), "100 %"]
    rows.append(r)
    header = ["part", ("engine", "l"), "best EDP", "share"]
    if base is not None:
        header += ["base config", "share"]
    return table(header, rows, [""] * (len(rows) - 1) + ["total"])


def _front_table(merged: pd.DataFrame, keys: list[str], best_points: set[int]) -> str:
    names = key_names(keys)
    metrics = [m for m in FIGURES if m in merged.columns]
    header = ["#", "configs", *((names[k], "", k) for k in keys),
              *(FIGURE_NAMES[m] for m in metrics), ("note", "l")]
    rows, classes = [], []
    for i, (_, r) in enumerate(merged.head(MAX_FRONT_ROWS).iterrows()):
        best = bool(best_points & set(r["points"]))
        note = ", ".join(t for t, on in (("base config", r["is_base"]), ("best EDP", best))
                         if on)
        rows.append([str(i + 1), str(int(r["count"])), *(fmt_value(k, r[k]) for k in keys),
                     *(fmt_metric(m, r[m]) for m in metrics), (note, "l")])
        classes.append("best" if best else "base" if r["is_base"] else "")
    more = (f"<p class='note'>{len(merged) - MAX_FRONT_ROWS} more front points not shown "
            "(pimsim pareto --front-csv lists them).</p>" if len(merged) > MAX_FRONT_ROWS
            else "")
    return table(header, rows, classes) + more


def _layers_section(src: Any, label: str, ch: Choice, salt: str) -> tuple[str, Any]:
    """The per-layer section of one trace and the base config's re-run (or None)."""
    from pimsim.report_layers import Sources, resimulate, row_overrides
    from pimsim.report_plots import layer_bars_svg

    if not isinstance(src, Sources):
        return (f"<p class='warn'>Per-layer energy and area not shown: {_esc(src)}.</p>",
                None)
    try:
        best = resimulate(src, label, row_overrides(ch.row), ch.row)
        base = (resimulate(src, label, row_overrides(ch.base), ch.base) if ch.base is not None
                else resimulate(src, label, {}))
    except (PimsimError, OSError, ValueError) as exc:
        return ((f"<p class='warn'>Per-layer energy and area not shown: re-simulating failed "
                f"({_esc(' '.join(str(exc).split()))}).</p>"), None)
    same = ch.base is not None and bool(ch.merged["is_base"])
    notes = "".join(f"<p class='warn'>{_esc(r.note)}.</p>" for r in (best, base) if r.note)
    br, ar = best.result, None if same else base.result
    points = [("best", br)] + ([] if ar is None else [("base", ar)])
    legend = ("Dark bars: best EDP point; light bars: base config. " if ar is not None else
              "The base config is the best EDP point. ")
    parts = [notes, "<h3>Energy per layer</h3>",
             (f"<p class='note'>{legend}Each bar: the layer's energy and its share of that "
              "point's total energy per inference.</p>"),
             layer_bars_svg(points, salt=f"{salt}-layers"),
             "<p>Best EDP point, per layer and component group:</p>", _layer_table(br)]
    if ar is not None:
        parts += ["<p>Best EDP point against the base config, per layer:</p>",
                  _layer_compare(br, ar)]
    parts += ["<h3>Energy per component</h3>", _component_table(br, ar)]
    if br.area_m2 > 0:
        parts += ["<h3>Area</h3>", _area_table(br, ar)]
    return "\n".join(parts), base


def _trace_section(i: int, label: str, rows: pd.DataFrame, keys: list[str], src: Any) -> str:
    from pimsim.pareto_plot import front_figure, svg_text

    ch = choose(rows, keys)
    layers, base_run = _layers_section(src, label, ch, f"t{i}")
    base_fig = {m: float(ch.base[m]) for m in FIGURES if ch.base is not None and m in ch.base}
    if ch.base is None and base_run is not None:
        r = base_run.result
        base_fig = {**r.per_inference, "area_m2": r.area_m2}
    base_cfg = base_run.config if base_run is not None else None
    best_fig = {m: float(ch.row[m]) for m in FIGURES if m in ch.row}
    fig, ps = front_figure(rows, list(OBJECTIVES), side=False, gid_prefix=f"t{i}-", keys=keys)
    titles = {k: v for p in ps for k, v in p.titles.items()}
    merged = ps[0].merged if ps else rows.iloc[:0]
    where = "is the base config" if ch.merged["is_base"] else (
        "base config not in the sweep" if ch.base is None else "vs the base config")
    parts = [f"<h2 id='trace-{i}'>Workload: {_esc(label)}</h2>",
             f"<h3>Best EDP point ({_esc(where)})</h3>",
             "<div class='grid'><div>", _figures(best_fig, base_fig or None), "</div><div>",
             _key_diff(ch, keys, base_cfg), "</div></div>", layers,
             (f"<h3>Pareto front: energy vs delay ({len(merged)} distinct points, "
             f"{int(merged['count'].sum()) if len(merged) else 0} of {len(rows)} "
             "configurations)</h3>"),
             ("<p class='note'>Grey: every configuration (squares: PIM macro off); red: the "
             "front, numbered as in the table; star: base config; dotted: iso-EDP curves. "
             "Hover a point for its keys and figures. Configurations with identical results "
             "are one point (configs = how many).</p>"),
             "<div class='grid'><div class='plot'>", svg_text(fig, titles, salt=f"t{i}-front"),
             "</div><div>", _front_table(merged, keys, set(ch.merged["points"])),
             "</div></div>"]
    if "accuracy" in rows and rows["accuracy"].notna().any():
        objs = [Objective("accuracy", True), Objective("energy_j", False)]
        fig, ps = front_figure(rows, objs, side=False, gid_prefix=f"t{i}a-", keys=keys)
        parts += ["<h3>Accuracy vs energy</h3>",
                  svg_text(fig, {k: v for p in ps for k, v in p.titles.items()},
                           salt=f"t{i}-acc")]
    return "\n".join(parts)


def _sensitivity_section(df: pd.DataFrame, keys: list[str]) -> str:
    from pimsim.report_plots import BINS, MAX_VALUES, sensitivity_svg

    groups = trace_groups(df)
    per = {label: sensitivity(rows, keys).set_index("key") for label, rows in groups
           if not sensitivity(rows, keys).empty}
    parts = ["<h2 id='sensitivity'>Sensitivity of EDP to each swept key</h2>",
             ("<p class='note'>Spread: max/min over the key's values of the median EDP of the "
             "rows with that value (1 = no effect); pim.* keys over the rows with the PIM "
             "macro on.</p>")]
    if not per:
        return "\n".join(parts + ["<p>No key takes two or more values.</p>"])
    spread = "spread (max/min of medians)"
    ranked = sorted({k for s in per.values() for k in s.index},
                    key=lambda k: -max(float(s.loc[k, spread]) for s in per.values()
                                       if k in s.index))
    header = ["key", "values"]
    for label in per:
        header += [f"spread, {label}", f"best value, {label}"]
    rows = []
    for k in ranked:
        n = df[k].nunique()
        r: list[Any] = [k, f"{n} in {BINS} bins" if n > MAX_VALUES else str(n)]
        for s in per.values():
            r += ([f"{float(s.loc[k, spread]):.3g}",
                   fmt_value(k, s.loc[k, "best value (min median)"])]
                  if k in s.index else ["-", "-"])
        rows.append(r)
    parts.append(table(header, rows))
    parts.append("<div class='sens'>" + "".join(
        f"<div><p><b>{_esc(k)}</b></p>{sensitivity_svg(df, k, salt=f's{j}')}</div>"
        for j, k in enumerate(ranked)) + "</div>")
    return "\n".join(parts)


def write_report(results: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                 title: str | None = None, warn: Callable[[str], None] | None = None) -> Path:
    """Write ``out_dir/index.html`` (self-contained) and ``front.png``/``front.svg``; return
    the HTML path. Raises PimsimError (file, key) for a file that is not sweep results;
    ``warn`` gets one line when the sweep is not complete (:func:`read_results`)."""
    from pimsim.pareto_plot import plot_fronts
    from pimsim.report_layers import locate
    from pimsim.sweep.results import Journal

    df = read_results(results, warn=warn)
    for c in ("energy_j", "delay_s", "edp_js"):
        if c not in df.columns:
            raise PimsimError(f"not a sweep results file: no column {c!r}", file=str(results),
                              key=c)
    outd = Path(out_dir)
    outd.mkdir(parents=True, exist_ok=True)
    keys = swept_keys(df)
    plot_fronts(df, list(OBJECTIVES), outd / "front.png")
    groups = trace_groups(df)
    src = locate(results, [label for label, _ in groups]) if "trace" in df else \
        "the results have no trace column"
    side = Journal.read_sidecar(Path(results))
    hw = str(side.get("hw", "?")) if side else "? (no sweep sidecar)"
    name = title or "pimsim sweep report"
    parts = [_header(df, str(results), keys, hw, name)]
    parts += [_trace_section(i, label, rows, keys, src) for i, (label, rows) in
              enumerate(groups)]
    parts.append(_sensitivity_section(df, keys))
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>"
            f"{_esc(name)}</title><style>{CSS}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")
    path = outd / "index.html"
    atomic_write_text(path, page)
    return path
