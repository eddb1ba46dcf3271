"""The event-driven digital SNN core (design.md §3), cycle-approximate.

Mapping (output-stationary): output channels across the ``pe_cols`` PE columns, output
positions (row-major over D, H, W) across the ``pe_rows`` PE rows, in tiles; a linear layer's
outputs spread over all R x C PEs. Per sample and time step:

* a tile takes ``max_{PE} ceil(load / lanes) + U`` cycles, U = ``neuron_update_cycles``;
  load = input spikes in the PE's receptive field (events, from :mod:`pimsim.activity`);
  conv: cycles = ceil(C_out / C) x (sum_tiles ceil(max load / L) + tiles x U);
  linear: cycles = ceil(F_out / (R C)) x (ceil(spikes / L) + U);
* synaptic_ops = C_out x events (one AC per input spike per output neuron whose receptive
  field holds it); each AC reads one ``weight_bits`` weight from the weight SRAM;
* neuron_updates = out_size x T x N; each reads and writes ``membrane_bits`` of membrane SRAM;
* spike SRAM: the input spike map (in_size bits) is scanned once per channel tile and step,
  the output spike map (out_size bits) written once per step (hidden layers);
* dense (analog-input) layers broadcast each weight read down a PE column: one read serves the
  R positions of a tile, weight reads = MACs / min(R, positions); spiking layers read one weight
  per AC (each PE's spikes sit at different kernel offsets, so no read is shared);
* DRAM: a layer's weights are loaded once per ``memory.weight_load_inferences`` inferences
  (default 1; time steps run innermost over a weight block, so weights that do not fit the
  SRAM are still streamed once per inference); membranes spill (read + write per step) when out_size x
  membrane_bits exceeds the membrane SRAM; spike maps spill when in + out bits exceed the
  spike SRAM; memory cycles = DRAM bits / (bandwidth x 8 / f_clk);
* layer cycles = max(compute, memory) per inference; delay = cycles / f_clk;
* energy = ACs x E_add(membrane_bits) + updates x E_update + SRAM bits x E_bit(size)
  + DRAM bits x E_dram + P_leak x delay.

The analog first layer on this core is dense: every in-bounds tap is a MAC of
``input_bits x weight_bits`` into ``membrane_bits``, at every step, or once when
``digital.first_layer_reuse`` keeps the constant input current.
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
from pimsim.trace import LayerSpec


def out_tiles(spec: LayerSpec, cfg: HardwareConfig) -> int:
    """Channel tiles (conv) or output tiles over the whole array (linear)."""
    d = cfg.digital
    if spec.kind == "linear":
        return ceil_div(spec.out_size, d.pe_rows * d.pe_cols)
    return ceil_div(spec.out_channels, d.pe_cols)


def neuron_memory(spec: LayerSpec, cfg: HardwareConfig, *, n: int, t: int, last: bool
                  ) -> tuple[dict[str, int], float]:
    """Ops and energy (total over the trace, J) of neuron updates, membrane and output spikes."""
    ops = empty_ops()
    updates = spec.out_size * t * n
    ops["neuron_updates"] = updates
    mb = cfg.digital.membrane_bits
    mem = cfg.memory
    membrane_bits = spec.out_size * mb
    spill = membrane_bits > 8 * mem.membrane_sram_bytes
    ops["sram_read_bits"] = updates * mb
    ops["sram_write_bits"] = updates * mb + (0 if last else updates)
    if spill:
        ops["dram_bits"] = 2 * updates * mb
    energy = 0.0
    if cfg.accounting.neuron_updates:
        energy += updates * tech.neuron_update_energy_j(cfg)
    return ops, energy


def sram_energy(cfg: HardwareConfig, read_bits: dict[str, int], write_bits: dict[str, int]
                ) -> float:
    """Energy of SRAM traffic, J: bits x E_bit(buffer or bank size); weight/membrane/spike."""
    if not cfg.accounting.memory:
        return 0.0
    mem = cfg.memory
    size = {"weight": mem.weight_sram_bytes / mem.weight_sram_banks,
            "membrane": mem.membrane_sram_bytes,
            "spike": mem.spike_sram_bytes}
    e = 0.0
    for buf, bits in read_bits.items():
        e += bits * tech.sram_energy_per_bit_j(mem, size[buf])
    for buf, bits in write_bits.items():
        e += bits * tech.sram_energy_per_bit_j(mem, size[buf], write=True)
    return e


def cost_digital_layer(spec: LayerSpec, act: LayerActivity, cfg: HardwareConfig, *, n: int,
                       t: int, input_bits: int, last: bool, with_pim: bool) -> LayerCost:
    """Cost of one layer on the digital SNN core (spiking or analog-input)."""
    d, mem = cfg.digital, cfg.memory
    analog = spec.input == "analog"
    tiles = out_tiles(spec, cfg)
    passes = 1 if (analog and d.first_layer_reuse) else t
    ops = empty_ops()
    if analog:
        # dense: act holds one sample-step; repeat for every sample and pass
        ops["macs"] = spec.out_channels * act.events * n * passes
        accum_cycles = tiles * act.tile_cycles(d.mac_lanes) * n * passes
        events = ops["macs"]
        e_compute = events * tech.int_mac_energy_j(cfg.ops, input_bits, spec.weight_bits,
                                                   d.membrane_bits)
        in_read = spec.in_size * input_bits * tiles * n * passes
    else:
        per_out = spec.out_size if spec.kind == "linear" else spec.out_channels
        ops["synaptic_ops"] = per_out * act.events
        accum_cycles = tiles * act.tile_cycles(d.lanes)
        events = ops["synaptic_ops"]
        e_compute = events * tech.add_energy_j(cfg.ops, d.membrane_bits)
        in_read = spec.in_size * tiles * t * n
    update_cycles = tiles * act.tiles_per_step * d.neuron_update_cycles * t * n
    compute_cycles = accum_cycles + update_cycles

    nops, e_neuron = neuron_memory(spec, cfg, n=n, t=t, last=last)
    share = min(d.pe_rows, spec.out_positions) if (analog and spec.kind != "linear") else 1
    weight_read = events * spec.weight_bits // share
    reads = {"weight": weight_read, "spike": in_read,
             "membrane": nops["sram_read_bits"]}
    writes = {"membrane": nops["sram_write_bits"]}
    if analog and d.first_layer_reuse:
        cur = spec.out_size * d.membrane_bits
        reads["membrane"] += cur * t * n
        writes["membrane"] += cur * n
    ops["neuron_updates"] = nops["neuron_updates"]
    ops["sram_read_bits"] = sum(reads.values())
    ops["sram_write_bits"] = sum(writes.values())

    w_bits = prod(spec.weight_shape) * spec.weight_bits
    fits = w_bits <= 8 * mem.weight_sram_bytes
    dram = w_bits * n // mem.weight_load_inferences
    dram += nops["dram_bits"]
    spike_bits = spec.in_size * (input_bits if analog else 1) + spec.out_size
    if spike_bits > 8 * mem.spike_sram_bytes:
        dram += spike_bits * t * n
    ops["dram_bits"] = dram

    mem_cycles = dram / dram_bits_per_cycle(cfg) if cfg.accounting.memory else 0.0
    cycles = max(compute_cycles, mem_cycles) / n
    delay = cycles / cfg.tech.clock_hz
    breakdown = {
        "compute": e_compute / n,
        "neuron_update": e_neuron / n,
        "sram": sram_energy(cfg, reads, writes) / n,
        "dram": (dram * mem.dram_j_per_bit / n) if cfg.accounting.memory else 0.0,
        "leakage": static_power_w(cfg, with_pim=with_pim) * delay,
    }
    return LayerCost(
        name=spec.name, engine="digital", cycles=cycles, delay_s=delay, ops=ops,
        energy_breakdown_j=breakdown,
        detail={"compute_cycles": compute_cycles / n, "memory_cycles": mem_cycles / n,
                "weights_fit_sram": float(fits)},
    )
