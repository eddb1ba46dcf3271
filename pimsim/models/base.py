"""The result of costing one layer, shared by every engine."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pimsim.config import HardwareConfig

#: Keys of ``ops`` in the JSON contract (design.md §5), totals over the trace's samples.
OP_KEYS = ("synaptic_ops", "macs", "neuron_updates", "adc_conversions", "sram_read_bits",
           "sram_write_bits", "dram_bits")


@dataclass
class LayerCost:
    """Cost of one layer.

    ``cycles``, ``delay_s`` and ``energy_breakdown_j`` are per inference (averages over the
    trace's samples); ``ops`` are totals over all samples and time steps of the trace.
    """

    name: str
    engine: str
    cycles: float
    delay_s: float
    ops: dict[str, int]
    energy_breakdown_j: dict[str, float]
    detail: dict[str, float] = field(default_factory=dict)

    @property
    def energy_j(self) -> float:
        return float(sum(self.energy_breakdown_j.values()))


def empty_ops() -> dict[str, int]:
    return {k: 0 for k in OP_KEYS}


def static_power_w(cfg: HardwareConfig, *, with_pim: bool) -> float:
    """Leakage power of the accelerator: SRAM bits x P_bit + PEs x P_PE (+ PIM arrays x P_array).

    Counted only when ``accounting.leakage`` is true.
    """
    if not cfg.accounting.leakage:
        return 0.0
    m, lk = cfg.memory, cfg.leakage
    bits = 8 * (m.weight_sram_bytes + m.membrane_sram_bytes + m.spike_sram_bytes)
    p = bits * lk.sram_w_per_bit + cfg.digital.pe_rows * cfg.digital.pe_cols * lk.pe_w
    if with_pim:
        p += cfg.pim.num_arrays * lk.pim_w_per_array
    return p


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def dram_bits_per_cycle(cfg: HardwareConfig) -> float:
    """DRAM bandwidth in bits per core clock cycle: B x 8 / f_clk."""
    return cfg.memory.dram_bandwidth_bytes_per_s * 8.0 / cfg.tech.clock_hz


def prod(xs) -> int:  # type: ignore[no-untyped-def]
    return int(math.prod(xs))
