"""Printed tables and machine outputs (JSON, CSV) of simulation results.

Machine outputs use SI base units (``energy_j``, ``delay_s``, ``edp_js``); printed tables use
human units (pJ, nJ, µJ, ns, µs) chosen per column.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pimsim.api import Comparison, Result
from pimsim.atomic import atomic_write_text

_ENERGY_UNITS = [(1e-3, "mJ"), (1e-6, "µJ"), (1e-9, "nJ"), (1e-12, "pJ"), (1e-15, "fJ")]
_TIME_UNITS = [(1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")]


def _unit(value: float, units: list[tuple[float, str]]) -> tuple[float, str]:
    for scale, name in units:
        if abs(value) >= scale:
            return scale, name
    return units[-1]


def fmt_energy(value_j: float, digits: int = 4) -> str:
    """Energy in the largest unit not above it (fJ ... mJ), ``digits`` significant."""
    scale, name = _unit(value_j, _ENERGY_UNITS)
    return f"{value_j / scale:.{digits}g} {name}"


def fmt_time(value_s: float, digits: int = 4) -> str:
    """Time in the largest unit not above it (ns ... s), ``digits`` significant."""
    scale, name = _unit(value_s, _TIME_UNITS)
    return f"{value_s / scale:.{digits}g} {name}"


def fmt_count(n: float) -> str:
    return f"{n:,.0f}"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(headers, widths)))
    out = [line, "-" * len(line)]
    for r in rows:
        out.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


#: Groups of energy components in the printed run table (fixed order, so runs can be diffed).
COMPONENT_GROUPS = (
    ("compute", ("compute", "neuron_update")),
    ("SRAM", ("weight_sram", "membrane_sram", "spike_sram")),
    ("NoC", ("noc",)),
    ("DRAM", ("dram",)),
    ("PIM", ("pim_wordline", "pim_cell", "pim_dac", "pim_adc", "pim_shift_add",
             "pim_weight_write")),
    ("leak", ("leakage",)),
)


def fmt_or_dash(value: float, fmt: Any) -> str:
    """A formatted value, or a dash for zero."""
    return "-" if value == 0 else fmt(value)


def _wrap(text: str, width: int = 110) -> str:
    """A prose line wrapped for a 120-column terminal (continuation lines indented)."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width, subsequent_indent="  ",
                                    break_on_hyphens=False)) + "\n"


def _engines_line(result: Result) -> str:
    """Which layers run on which engine (the narrow table has no engine column)."""
    by: dict[str, list[str]] = {}
    for layer in result.layers:
        by.setdefault(str(layer.engine), []).append(layer.name)
    return "engines: " + "; ".join(f"{eng}: {', '.join(names)}" for eng, names in by.items())


def _util(layer: Any) -> str:
    m = layer.mapping
    u = m.get("array_utilisation", m.get("pe_utilisation"))
    return "-" if u is None else f"{100 * float(u):.0f}%"


def _ops(layer: Any, n: int) -> str:
    """The layer's main operation count per inference: MACs on the PIM macro and dense
    engines, synaptic accumulates on the event-driven core."""
    key = "synaptic_ops" if layer.ops["synaptic_ops"] else "macs"
    return fmt_or_dash(layer.ops[key] / n, fmt_count)


def _columns(result: Result, wide: bool) -> list[tuple[str, tuple[str, ...]]]:
    """Energy columns: the fixed component groups (narrow) or every component (wide), always
    in the same order; a group no layer uses is left out."""
    from pimsim.models.base import COMPONENTS

    cols = ([(c, (c,)) for c in COMPONENTS] if wide
            else [(g, keys) for g, keys in COMPONENT_GROUPS])
    return [(g, keys) for g, keys in cols
            if any(layer.energy_breakdown_j.get(k, 0.0) for layer in result.layers
                   for k in keys)]


def run_table(result: Result, *, wide: bool = False) -> str:
    """Per-layer table and per-inference totals; one warning line per spilled tensor.

    Narrow (default, fits 120 columns on the shipped networks): ops, cycles, bound,
    utilisation, delay, energy and energy by component group (compute, SRAM, NoC, DRAM, PIM,
    leakage; fixed order). ``wide``: synaptic ops, MACs and ADC conversions apart, and every
    energy component. Every figure is per inference (the mean over the trace's samples); the
    JSON and CSV hold ops as totals over all samples."""
    groups = _columns(result, wide)
    digits = 4 if wide else 3  # three significant digits keep the narrow table in 120 columns
    def efmt(v: float) -> str:
        return fmt_energy(v, digits)

    def tfmt(v: float) -> str:
        return fmt_time(v, digits)

    n = result.num_samples
    ops_heads = ["syn. ops", "MACs", "ADC conv"] if wide else ["ops"]
    eng_heads = ["engine"] if wide else []
    headers = ["layer", *eng_heads, *ops_heads, "cycles", "bound", "util", "delay", "energy",
               *(g for g, _ in groups)]

    def group_e(bd: dict[str, float], keys: tuple[str, ...]) -> str:
        return fmt_or_dash(sum(bd.get(k, 0.0) for k in keys), efmt)

    def ops_cells(layers: list[Any]) -> list[str]:
        if not wide:  # the total of accumulates and MACs would add unlike things
            return [_ops(layers[0], n) if len(layers) == 1 else ""]
        return [fmt_or_dash(sum(x.ops[k] for x in layers) / n, fmt_count)
                for k in ("synaptic_ops", "macs", "adc_conversions")]

    rows = []
    for layer in result.layers:
        rows.append([
            layer.name, *([layer.engine] if wide else []), *ops_cells([layer]),
            fmt_count(layer.cycles), str(layer.bound), _util(layer), tfmt(layer.delay_s),
            efmt(layer.energy_j),
            *(group_e(layer.energy_breakdown_j, keys) for _, keys in groups),
        ])
    tot = result.by_component()
    rows.append(["total", *([""] if wide else []), *ops_cells(result.layers),
                 fmt_count(sum(x.cycles for x in result.layers)), "", "",
                 tfmt(result.delay_s), efmt(result.energy_j),
                 *(group_e(tot, keys) for _, keys in groups)])
    banner = result.banner
    prose = [f"hw: {result.hw}   trace: {result.trace}{' ' + banner if banner else ''}"]
    if not wide:
        prose.append(_engines_line(result))
    prose.append(
        f"Per inference (mean of {n} samples, T = {result.timesteps}; JSON/CSV ops are totals "
        f"over the {n} samples). "
        + ("ops = synaptic accumulates (event-driven layers) or MACs (PIM, dense). "
           if not wide else "")
        + "bound = what sets the cycles; util = PE (or PIM array) utilisation; energy by "
        + ("component." if wide else "component group (--wide: every component)."))
    head = "".join(_wrap(f"warning: {w}") for w in result.warnings)
    head += "".join(_wrap(p) for p in prose)
    pi = result.per_inference
    foot = (f"\nper inference: energy {fmt_energy(pi['energy_j'])}, delay "
            f"{fmt_time(pi['delay_s'])}, EDP {pi['edp_js']:.4g} J·s")
    if result.area_m2 > 0:
        parts = ", ".join(f"{k} {v * 1e6:.3g} mm²" for k, v in result.area_by_engine().items())
        foot += f"\narea: {result.area_m2 * 1e6:.3g} mm² ({parts})"
    return head + _table(headers, rows) + foot


def compare_table(comp: Comparison) -> str:
    """The paper's comparison table and its ratios."""
    rows = []
    for name, r in comp.rows.items():
        rows.append([name, fmt_energy(r.energy_j), fmt_time(r.delay_s), f"{r.edp_js:.4g}"])
    text = _table(["system", "energy", "delay", "EDP (J·s)"], rows)
    ratios = comp.ratios()
    lines = [text, ""]
    for k, v in ratios.items():
        if "improvement" in k:
            lines.append(f"{k:40s} {100 * v:8.1f} %")
        else:
            lines.append(f"{k:40s} {v:10.4g} x")
    banner = next(iter(comp.rows.values())).banner
    if banner:
        lines.append(banner)
    return "\n".join(lines)


def write_json(path: str | os.PathLike[str], obj: Any, *, key: str | None = None) -> None:
    """``obj`` as indented JSON, written by the rules of :mod:`pimsim.atomic` (a write error is
    a one-line PimsimError naming ``path`` and the option ``key``)."""
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n", key=key)


def write_csv(path: str | os.PathLike[str], result: Result, *, key: str | None = None) -> None:
    """The per-layer table as CSV, written like :func:`write_json`."""
    atomic_write_text(path, result.to_dataframe().to_csv(index=False), key=key)
