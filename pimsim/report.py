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


def _util(layer: Any) -> str:
    m = layer.mapping
    u = m.get("array_utilisation", m.get("pe_utilisation"))
    return "-" if u is None else f"{100 * float(u):.0f}%"


def run_table(result: Result) -> str:
    """Per-layer table (ops per inference, cycles, bound, utilisation, delay, energy by
    component group) and per-inference totals; one warning line per spilled tensor."""
    groups = [(g, keys) for g, keys in COMPONENT_GROUPS
              if any(layer.energy_breakdown_j.get(k, 0.0) for layer in result.layers
                     for k in keys)]
    headers = ["layer", "engine", "syn. ops", "MACs", "ADC conv", "cycles", "bound", "util",
               "delay", "energy", *groups_names(groups)]
    rows = []
    n = result.num_samples

    def group_e(bd: dict[str, float], keys: tuple[str, ...]) -> str:
        return fmt_or_dash(sum(bd.get(k, 0.0) for k in keys), fmt_energy)

    for layer in result.layers:
        rows.append([
            layer.name, layer.engine,
            fmt_or_dash(layer.ops["synaptic_ops"] / n, fmt_count),
            fmt_or_dash(layer.ops["macs"] / n, fmt_count),
            fmt_or_dash(layer.ops["adc_conversions"] / n, fmt_count),
            fmt_count(layer.cycles), str(layer.bound), _util(layer), fmt_time(layer.delay_s),
            fmt_energy(layer.energy_j),
            *(group_e(layer.energy_breakdown_j, keys) for _, keys in groups),
        ])
    tot = result.by_component()
    rows.append(["total", "",
                 fmt_or_dash(sum(x.ops["synaptic_ops"] for x in result.layers) / n, fmt_count),
                 fmt_or_dash(sum(x.ops["macs"] for x in result.layers) / n, fmt_count),
                 fmt_or_dash(sum(x.ops["adc_conversions"] for x in result.layers) / n,
                             fmt_count),
                 fmt_count(sum(x.cycles for x in result.layers)), "", "",
                 fmt_time(result.delay_s), fmt_energy(result.energy_j),
                 *(group_e(tot, keys) for _, keys in groups)])
    note = " [SYNTHETIC trace: not from a trained network]" if result.synthetic else ""
    head = (f"hw: {result.hw}   trace: {result.trace}{note}\n"
            f"per inference (mean of {n} samples, T = {result.timesteps}): ops, cycles, "
            "delay and energy; bound = the resource that sets the cycles; util = PE (or PIM "
            "array) utilisation\n")
    warn = "".join(f"warning: {w}\n" for w in result.warnings)
    head = warn + head
    pi = result.per_inference
    foot = (f"\nper inference: energy {fmt_energy(pi['energy_j'])}, delay "
            f"{fmt_time(pi['delay_s'])}, EDP {pi['edp_js']:.4g} J·s")
    if result.area_m2 > 0:
        parts = ", ".join(f"{k} {v * 1e6:.3g} mm²" for k, v in result.area_by_engine().items())
        foot += f"\narea: {result.area_m2 * 1e6:.3g} mm² ({parts})"
    return head + _table(headers, rows) + foot


def groups_names(groups: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """Column headers of the energy groups."""
    return [f"E {g}" for g, _ in groups]


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
