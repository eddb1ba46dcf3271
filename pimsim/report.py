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


def fmt_energy(value_j: float) -> str:
    scale, name = _unit(value_j, _ENERGY_UNITS)
    return f"{value_j / scale:.4g} {name}"


def fmt_time(value_s: float) -> str:
    scale, name = _unit(value_s, _TIME_UNITS)
    return f"{value_s / scale:.4g} {name}"


def fmt_count(n: float) -> str:
    return f"{n:,.0f}"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(headers, widths)))
    out = [line, "-" * len(line)]
    for r in rows:
        out.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


def run_table(result: Result) -> str:
    """Per-layer table (events, cycles, delay, energy by component) and per-inference totals."""
    comps = sorted({k for layer in result.layers for k, v in layer.energy_breakdown_j.items()
                    if v > 0}, key=lambda k: -result.by_component().get(k, 0.0))
    headers = ["layer", "engine", "syn. ops", "MACs", "ADC conv", "cycles", "delay",
               "energy", *comps]
    rows = []
    n = result.num_samples
    for layer in result.layers:
        rows.append([
            layer.name, layer.engine, fmt_count(layer.ops["synaptic_ops"] / n),
            fmt_count(layer.ops["macs"] / n), fmt_count(layer.ops["adc_conversions"] / n),
            fmt_count(layer.cycles), fmt_time(layer.delay_s), fmt_energy(layer.energy_j),
            *(fmt_energy(layer.energy_breakdown_j.get(c, 0.0)) for c in comps),
        ])
    tot = result.by_component()
    rows.append(["total", "", fmt_count(sum(x.ops["synaptic_ops"] for x in result.layers) / n),
                 fmt_count(sum(x.ops["macs"] for x in result.layers) / n),
                 fmt_count(sum(x.ops["adc_conversions"] for x in result.layers) / n),
                 fmt_count(sum(x.cycles for x in result.layers)), fmt_time(result.delay_s),
                 fmt_energy(result.energy_j), *(fmt_energy(tot.get(c, 0.0)) for c in comps)])
    note = " [SYNTHETIC trace: not from a trained network]" if result.synthetic else ""
    head = (f"hw: {result.hw}   trace: {result.trace}{note}\n"
            f"per inference (mean of {n} samples, T = {result.timesteps}); ops columns are per "
            f"inference\n")
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
    any_r = next(iter(comp.rows.values()))
    if any_r.synthetic:
        lines.append("[SYNTHETIC trace: not from a trained network]")
    return "\n".join(lines)


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


def write_csv(path: str | os.PathLike[str], result: Result) -> None:
    atomic_write_text(path, result.to_dataframe().to_csv(index=False))
