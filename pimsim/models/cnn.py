"""Dense CNN baselines on the same digital hardware (docs/model.md).

The iso-architecture CNN runs every layer once per inference (no time steps) with every MAC at
full density, as the dense layers of :mod:`pimsim.models.digital` with passes = 1: MACs =
C_out x E_dense (linear: F_in x F_out), weight and input traffic of
:func:`pimsim.models.digital.dense_traffic`, k-bit weights and activations (FP32: 32-bit).
Activations of every hidden layer are written (out_size x k bits) to the spike/activation
SRAM (its spilled share to DRAM); the last layer's outputs go to DRAM (counted as ``spikes``,
the activation tensor) and the first layer's image is read from DRAM. Weights are placed in
the weight SRAM at k bits per weight (:func:`pimsim.models.schedule.place_network` with
``act_bits``). Each output costs one add-width compare (ReLU) when neuron updates are
counted: out_size x E_add(accumulator_bits). E_MAC: FP32 E_fmul + E_fadd; INT-k
E_mult(k, k) + E_add(accumulator_bits).

Trace format v2 (docs/model.md §5.8): a bias is one accumulator add per output (E_fadd or
E_add(accumulator_bits)), its k-bit table stored and read with the weights; a pool of a
layer's output (conv -> pool -> ReLU) costs prod(kernel) - 1 accumulator-width compares or adds
per pooled output, the MACs being at the pre-pool positions; a max-pool layer between two
layers is a pool of k-bit activations (no weights, no ReLU, one compare per PE per cycle), as
:func:`pimsim.models.digital.cost_pool_layer`.
"""

from __future__ import annotations

from typing import Any

from pimsim.activity import LayerActivity
from pimsim.models import tech
from pimsim.models.digital import bias_and_pool, cost_pool_layer, dense_traffic, mapping_of
from pimsim.models.layer import LayerContext, assemble, share, split_write
from pimsim.models.schedule import channel_tiles, pool_taps, position_tiles
from pimsim.trace import LayerSpec

Num = Any


def cnn_mac_energy_j(cfg: Any, precision: str) -> tuple[Num, int]:
    """(energy per MAC in J, operand bits) for ``fp32`` or ``int``."""
    if precision == "fp32":
        return tech.fp32_mac_energy_j(cfg.ops), 32
    k = cfg.cnn.int_bits
    return tech.int_mac_energy_j(cfg.ops, k, k, cfg.cnn.accumulator_bits), k


def cnn_add_energy_j(cfg: Any, precision: str) -> Num:
    """One accumulator add of the CNN (a bias add, a pool compare or add), J: E_fadd (FP32)
    or E_add(cnn.accumulator_bits) (INT-k)."""
    if precision == "fp32":
        return cfg.ops.fp32_add_j
    return tech.add_energy_j(cfg.ops, cfg.cnn.accumulator_bits)


def cnn_bits(cfg: Any, precision: str) -> int:
    """Operand width of the CNN: 32 (FP32) or cnn.int_bits."""
    return 32 if precision == "fp32" else int(cfg.cnn.int_bits)


def cost_cnn_layer(spec: LayerSpec, dense: LayerActivity | None, cfg: Any, ctx: LayerContext, *,
                   precision: str):  # type: ignore[no-untyped-def]
    """Cost of one dense CNN layer (module doc)."""
    d = cfg.digital
    n = ctx.n
    e_mac, bits = cnn_mac_energy_j(cfg, precision)
    if spec.is_pool:
        return cost_pool_layer(spec, cfg, ctx, bits=bits, e_op=cnn_add_energy_j(cfg, precision),
                               cycles_per_window=max(pool_taps(spec) - 1, 1))
    tr, delivery, macs = dense_traffic(spec, dense, cfg, ctx, in_bits=bits, w_bits=bits,
                                       passes=1)
    out_bits = spec.out_size * bits * n
    if ctx.last:
        tr.write("dram", "spikes", out_bits)
    else:
        pl = ctx.placement
        split_write(tr, "spike_sram", "spikes", out_bits, share(pl.out_spilled, pl.out_total))
    delivery["unicast"] = out_bits
    v2_ops, v2_energy, v2_cycles = bias_and_pool(spec, cfg, ctx, tr, delivery, currents=n,
                                                 bias_bits=bits,
                                                 e_add=cnn_add_energy_j(cfg, precision))
    ct, pt = channel_tiles(spec, cfg), position_tiles(spec, cfg)
    compute = (ct * dense.tile_cycles(d.mac_lanes) * n + ct * pt * d.neuron_update_cycles * n
               + v2_cycles)
    e_act = (spec.out_size * n * tech.add_energy_j(cfg.ops, cfg.cnn.accumulator_bits)
             if cfg.accounting.neuron_updates else 0.0)
    return assemble(name=spec.name, engine="digital", cfg=cfg, ctx=ctx, traffic=tr,
                    delivery_bits=delivery, compute_cycles=compute,
                    ops={"macs": macs, **v2_ops},
                    energy={"compute": macs * e_mac + v2_energy, "neuron_update": e_act},
                    mapping=mapping_of(spec, cfg, ct, pt, macs, compute, d.mac_lanes),
                    detail={"compute_cycles": compute / n})
