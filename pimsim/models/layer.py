"""Assembling a layer's cost from its traffic, delivery, compute events and cycles.

Shared by every engine, so that each equation below exists once:

* per level (:mod:`pimsim.models.memory`): transfer cycles = bits / bits_per_cycle, energy =
  reads x E_read + writes x E_write (DRAM: bits x dram_j_per_bit);
* delivery (:mod:`pimsim.models.noc`): bits x wire_j_per_bit_mm x L(pattern);
* cycles per inference = max(compute, [pim,] every level's transfer cycles) (double-buffered
  transfers overlap compute); ``bound`` names the maximum; delay = cycles / f_clk;
* leakage = P_static x delay.

Without ``accounting.memory`` the memory and delivery terms are zero (the paper's
compute-only accounting).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pimsim.models import noc
from pimsim.models.base import COMPONENTS, OP_KEYS, LayerCost, bound_of, static_power_w
from pimsim.models.memory import Traffic, hierarchy
from pimsim.models.schedule import Placement

Num = Any


@dataclass
class LayerContext:
    """What a layer's cost needs to know beyond its spec, stats and config."""

    index: int
    last: bool
    n: int
    t: int
    input_bits: int
    placement: Placement
    with_pim: bool


def as_int(x: Num) -> Num:
    """Round a count (float from a fractional share) to an integer or int64 array."""
    r = np.rint(np.asarray(x, dtype=float))
    return int(r) if r.ndim == 0 else r.astype(np.int64)


def share(part: Num, whole: Num) -> Num:
    """part / whole, 0 where whole is 0 (the fraction of a tensor that spills)."""
    whole = np.asarray(whole, dtype=float)
    return np.where(whole > 0, np.asarray(part, dtype=float) / np.where(whole > 0, whole, 1.0),
                    0.0)


def split_read(tr: Traffic, level: str, tensor: str, bits: Num, spilled_share: Num) -> None:
    """Read ``bits`` of a tensor: the spilled share from DRAM, the rest from ``level``."""
    tr.read(level, tensor, bits * (1.0 - spilled_share))
    tr.read("dram", tensor, bits * spilled_share)


def split_write(tr: Traffic, level: str, tensor: str, bits: Num, spilled_share: Num) -> None:
    """Write ``bits`` of a tensor: the spilled share to DRAM, the rest to ``level``."""
    tr.write(level, tensor, bits * (1.0 - spilled_share))
    tr.write("dram", tensor, bits * spilled_share)


def spill_warnings(name: str, pl: Placement) -> list[str]:
    """One line for a layer whose tensors spill to DRAM (scalar runs), naming each tensor."""
    parts = []
    for tensor, bits in pl.spills().items():
        b = np.asarray(bits)
        if b.ndim == 0 and b > 0:
            parts.append(f"{tensor} {int(b):,} bits")
    if not parts:
        return []
    return [f"{name}: spills to DRAM (does not fit on chip): " + ", ".join(parts)]


def assemble(*, name: str, engine: str, cfg: Any, ctx: LayerContext, traffic: Traffic,
             delivery_bits: dict[str, Num], compute_cycles: Num, ops: dict[str, Num],
             energy: dict[str, Num], extra_cycles: dict[str, Num] | None = None,
             mapping: dict[str, Any] | None = None, detail: dict[str, Num] | None = None,
             invalid: Num = False, reason: str = "", reason_key: str = "",
             warnings: list[str] | None = None) -> LayerCost:
    """The LayerCost of one layer (module doc). ``compute_cycles`` and ``energy`` entries are
    totals over the trace (``energy`` by component name); ``extra_cycles`` per inference."""
    n = ctx.n
    levels = hierarchy(cfg)
    counted = bool(cfg.accounting.memory)
    cycles_by_level: dict[str, Num] = {"compute": compute_cycles / n, **(extra_cycles or {})}
    for lv, c in traffic.cycles(levels).items():
        cycles_by_level[lv] = c / n if counted else 0.0
    cycles, bound = bound_of(cycles_by_level)
    delay = cycles / cfg.tech.clock_hz
    per_level = traffic.energy_j(levels)
    breakdown = {k: 0.0 for k in COMPONENTS}
    for k, v in energy.items():
        breakdown[k] = breakdown[k] + v / n
    if counted:
        for lv, e in per_level.items():
            breakdown[lv] = breakdown[lv] + e / n
        breakdown["noc"] = noc.energy_j(cfg, delivery_bits) / n
    breakdown["leakage"] = static_power_w(cfg, with_pim=ctx.with_pim) * delay
    all_ops = {k: as_int(ops.get(k, 0)) for k in OP_KEYS}
    all_ops["sram_read_bits"] = as_int(traffic.sram_bits("read"))
    all_ops["sram_write_bits"] = as_int(traffic.sram_bits("write"))
    all_ops["dram_bits"] = as_int(traffic.bits("dram"))
    by_tensor = {t: as_int(v) for t, v in traffic.dram_by_tensor().items()}
    return LayerCost(name=name, engine=engine, cycles=cycles, delay_s=delay, ops=all_ops,
                     energy_breakdown_j=breakdown, dram_bits_by_tensor=by_tensor,
                     cycles_by_level=cycles_by_level, bound=bound, mapping=mapping or {},
                     warnings=spill_warnings(name, ctx.placement) + (warnings or []),
                     detail=detail or {},
                     invalid=invalid, reason=reason, reason_key=reason_key)
