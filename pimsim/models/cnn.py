"""Dense CNN baselines on the same digital hardware (design.md §3).

The iso-architecture CNN runs every layer once per inference (no time steps) with every MAC at
full density: macs = C_out x sum_p fan_in_in_bounds(p) (linear: F_in x F_out). Precision is
FP32 (E_MAC = E_fmul + E_fadd, 32-bit weights and activations) or INT-k (E_MAC =
E_mult(k, k) + E_add(accumulator_bits), k-bit weights and activations). Activations are read
(in_size x bits per channel tile) and written (out_size x bits) as multi-bit values through
the spike/activation SRAM; a weight read is broadcast down a PE column to the R positions of a
tile (reads = MACs / min(R, positions); linear layers: one read per MAC) and loaded from
DRAM once per ``memory.weight_load_inferences`` inferences; activation maps spill to DRAM when they exceed the activation SRAM.
Cycles: the same output-stationary tiling with ``mac_lanes`` MACs per PE per cycle, plus U
cycles per tile for the activation function. Each output costs one add-width compare (ReLU)
when neuron updates are counted.
"""

from __future__ import annotations

from pimsim.activity import LayerActivity
from pimsim.config import HardwareConfig
from pimsim.models import tech
from pimsim.models.base import (
    LayerCost,
    ceil_div,
    dram_bits_per_cycle,
    empty_ops,
    prod,
    static_power_w,
)
from pimsim.models.digital import sram_energy
from pimsim.trace import LayerSpec


def cnn_mac_energy_j(cfg: HardwareConfig, precision: str) -> tuple[float, int]:
    """(energy per MAC in J, operand bits) for ``fp32`` or ``int``."""
    if precision == "fp32":
        return tech.fp32_mac_energy_j(cfg.ops), 32
    k = cfg.cnn.int_bits
    return tech.int_mac_energy_j(cfg.ops, k, k, cfg.cnn.accumulator_bits), k


def cost_cnn_layer(spec: LayerSpec, dense: LayerActivity, cfg: HardwareConfig, *,
                   precision: str, n: int) -> LayerCost:
    """Cost of one dense CNN layer, per inference; ops are totals over ``n`` inferences."""
    d, mem = cfg.digital, cfg.memory
    e_mac, bits = cnn_mac_energy_j(cfg, precision)
    if spec.kind == "linear":
        tiles = ceil_div(spec.out_size, d.pe_rows * d.pe_cols)
        macs_per = spec.out_size * spec.in_size
    else:
        tiles = ceil_div(spec.out_channels, d.pe_cols)
        macs_per = spec.out_channels * dense.events
    cycles_compute = tiles * (dense.tile_cycles(d.mac_lanes)
                              + dense.tiles_per_step * d.neuron_update_cycles)
    ops = empty_ops()
    ops["macs"] = macs_per * n
    share = min(d.pe_rows, spec.out_positions) if spec.kind != "linear" else 1
    reads = {"weight": macs_per * bits // share, "spike": spec.in_size * bits * tiles}
    writes = {"spike": spec.out_size * bits}
    ops["sram_read_bits"] = sum(reads.values()) * n
    ops["sram_write_bits"] = sum(writes.values()) * n
    dram = prod(spec.weight_shape) * bits / mem.weight_load_inferences
    act_bits = (spec.in_size + spec.out_size) * bits
    if act_bits > 8 * mem.spike_sram_bytes:
        dram += act_bits
    ops["dram_bits"] = round(dram * n)
    mem_cycles = dram / dram_bits_per_cycle(cfg) if cfg.accounting.memory else 0.0
    cycles = max(cycles_compute, mem_cycles)
    delay = cycles / cfg.tech.clock_hz
    e_act = (spec.out_size * tech.add_energy_j(cfg.ops, cfg.cnn.accumulator_bits)
             if cfg.accounting.neuron_updates else 0.0)
    breakdown = {
        "compute": macs_per * e_mac,
        "activation": e_act,
        "sram": sram_energy(cfg, reads, writes),
        "dram": dram * mem.dram_j_per_bit if cfg.accounting.memory else 0.0,
        "leakage": static_power_w(cfg, with_pim=False) * delay,
    }
    return LayerCost(name=spec.name, engine="digital", cycles=cycles, delay_s=delay, ops=ops,
                     energy_breakdown_j=breakdown,
                     detail={"compute_cycles": cycles_compute, "memory_cycles": mem_cycles})
