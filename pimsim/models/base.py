"""The result of costing one layer, shared by every engine, and the static power.

Every field may hold a numpy array (one entry per design point of a sweep); ``pimsim run``
sees scalars. Energies, cycles and delay are per inference (averages over the trace's
samples); ``ops`` and ``dram_bits_by_tensor`` are totals over all samples and time steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Keys of ``ops`` in the JSON contract (docs/model.md §6), totals over the trace's samples.
OP_KEYS = ("synaptic_ops", "macs", "neuron_updates", "bias_adds", "pool_ops",
           "adc_conversions", "sram_read_bits", "sram_write_bits", "dram_bits")
#: Energy components in the fixed order of tables and sweep columns: compute, SRAM, delivery,
#: DRAM, PIM macro, other.
COMPONENTS = ("compute", "neuron_update", "weight_sram", "membrane_sram", "spike_sram", "noc",
              "dram", "pim_wordline", "pim_cell", "pim_dac", "pim_adc", "pim_shift_add",
              "pim_weight_write", "leakage")

Num = Any


@dataclass
class LayerCost:
    """Cost of one layer (see the module doc for units and what is per inference).

    ``cycles_by_level``: cycles each resource needs per inference (``compute`` for the PEs,
    ``pim`` for the macro, one entry per memory level for its transfers); ``cycles`` is their
    maximum and ``bound`` names it. ``invalid``: points the engine cannot map (with
    ``reason``); :func:`pimsim.simulate.simulate` raises on them.
    """

    name: str
    engine: str
    cycles: Num
    delay_s: Num
    ops: dict[str, Num]
    energy_breakdown_j: dict[str, Num]
    dram_bits_by_tensor: dict[str, Num] = field(default_factory=dict)
    cycles_by_level: dict[str, Num] = field(default_factory=dict)
    bound: Num = "compute"
    mapping: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    detail: dict[str, Num] = field(default_factory=dict)
    invalid: Num = False
    reason: str = ""
    reason_key: str = ""

    @property
    def energy_j(self) -> Num:
        """Energy per inference, J: the sum of the breakdown."""
        total: Num = 0.0
        for v in self.energy_breakdown_j.values():
            total = total + v
        return total


def empty_ops() -> dict[str, Num]:
    return {k: 0 for k in OP_KEYS}


def static_power_w(cfg: Any, *, with_pim: bool) -> Num:
    """Leakage power of the accelerator, W: SRAM bits x P_bit + PEs x P_PE (+ PIM arrays x
    P_array). Zero unless ``accounting.leakage``."""
    if not cfg.accounting.leakage:
        return 0.0
    m, lk = cfg.memory, cfg.leakage
    bits = 8 * (m.weight_sram_bytes + m.membrane_sram_bytes + m.spike_sram_bytes)
    p = bits * lk.sram_w_per_bit + cfg.digital.pe_rows * cfg.digital.pe_cols * lk.pe_w
    if with_pim:
        p = p + cfg.pim.num_arrays * lk.pim_w_per_array
    return p


def ceil_div(a: Num, b: Num) -> Num:
    """ceil(a / b) for integers (or integer arrays)."""
    return -(-a // b)


def bound_of(cycles_by_level: dict[str, Num]) -> tuple[Num, Num]:
    """(max cycles, name of the resource that needs them); arrays give arrays of names."""
    names = list(cycles_by_level)
    stacked = np.stack(np.broadcast_arrays(*[np.asarray(v, dtype=float)
                                             for v in cycles_by_level.values()]))
    idx = np.argmax(stacked, axis=0)
    cycles = np.max(stacked, axis=0)
    if np.ndim(idx) == 0:
        return float(cycles), names[int(idx)]
    return cycles, np.array(names, dtype=object)[idx]

