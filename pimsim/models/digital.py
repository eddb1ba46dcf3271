"""The event-driven digital SNN core (docs/model.md) under the schedule of
:mod:`pimsim.models.schedule`: spiking layers, and dense layers (the analog first layer, the
CNN baselines).

Spiking layer, totals over the trace (N samples, T steps; CT, PT tiles; pl its placement):

* ACs = C_out x E (F_out x E for a linear layer; E = events from :mod:`pimsim.activity`);
  compute cycles = CT x sum_{n,t,pt} ceil(max_PE load / lanes) + CT x PT x U x T x N;
* weights: every AC reads its ``weight_bits`` weight from the weight SRAM (weight_sram reads
  = ACs x w). Resident weights are loaded (DRAM read + SRAM write) once per
  ``memory.weight_load_inferences`` inferences: W_res x N / B; streamed weights are fetched at
  every use, once per inference (tile_major) or per step (step_major): W_str x N (x T), or,
  with ``memory.fetch_active_weights_only``, only the rows of inputs that spiked:
  W_str / rows x active rows (per inference, resp. per step, from the trace); resident rows
  then cost min(W_res x N / B, W_res / rows x active rows), so that more capacity never costs
  more DRAM traffic;
* input spikes: every (ct, pt, t) reads its input window of C_in x |window(pt)| bits:
  CT x T x N x C_in x sum_pt |window(pt)| bits, from the spike SRAM (the spilled share of
  the input from DRAM); its spikes are broadcast to the array as events of
  ceil(log2 in_size) address bits: CT x (window events) events;
* output spikes: out_size x T x N bits written to the spike SRAM (spilled share to DRAM);
  the last (integrator) layer writes its out_size x m-bit potentials (the logits) to DRAM
  (counted as ``membranes``);
* membranes: in the PE registers under tile_major (no traffic); under step_major every neuron
  reads and writes its m-bit membrane at every step: out_size x m x T x N each way, in the
  membrane SRAM (the spilled share in DRAM);
* energy: ACs x E_add(m) + updates x E_update + levels + delivery (weights and spikes
  unicast, events broadcast) + leakage (:mod:`pimsim.models.layer`).

Dense layer (output-stationary MACs; the analog first layer at ``passes`` = T, or 1 with
``digital.first_layer_reuse``; CNN layers at passes = 1 with k-bit activations):

* MACs = C_out x E_dense x N x passes (E_dense = in-bounds taps of all positions);
  cycles = CT x sum_pt ceil(max fan-in / mac_lanes) x N x passes + updates;
* weights: each position tile reads the kernels of its channels once per pass and
  broadcasts each weight down a PE column: weights x PT x w x N x passes bits;
* inputs: each (ct, pt, pass) reads its input window once, C_in x |window(pt)| x b_in bits
  (as a spiking layer reads its window bitmap), and broadcasts it to the array, where every
  PE row takes its taps: CT x passes x N x C_in x sum_pt |window(pt)| x b_in bits read and
  broadcast; the first layer's image (in_size x b_in, the ``input`` tensor) is read from DRAM
  once per inference into the spike SRAM, its spilled part read from DRAM at every use;
* with reuse the constant current stays in the PEs (tile_major) or is written once and read
  at every step from the membrane SRAM (step_major).

Trace format v2 (docs/model.md §5.8): a layer that pools its current computes at its pre-pool
``conv_shape`` positions (PT counts those; the statistics are at the conv geometry) and then
reduces them (:func:`bias_and_pool`: prod(pool kernel) - 1 ops per pooled neuron and current);
a bias is one add per (post-pool) neuron and current plus its table's reads, the table stored
with the weights; a max-pool spike layer is :func:`cost_pool_layer` (ORs, spike reads and
writes, no weights, no neurons).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pimsim.activity import LayerActivity, tile_windows
from pimsim.models import tech
from pimsim.models.layer import LayerContext, assemble, share, split_read, split_write
from pimsim.models.memory import Traffic
from pimsim.models.schedule import (
    bias_outputs,
    channel_tiles,
    pool_taps,
    position_tiles,
    weight_rows,
)
from pimsim.trace import LayerSpec

Num = Any


def window_bits(spec: LayerSpec, group: Num) -> Num:
    """C_in x sum over position groups of |window| for groups of ``group`` consecutive output
    positions (:func:`pimsim.activity.tile_windows`); ``group`` may be a column."""
    c_in = spec.in_size if spec.kind == "linear" else spec.in_channels
    g = np.asarray(group)
    if g.ndim == 0:
        return c_in * int(tile_windows(spec, int(g)).window_positions.sum())
    uniq, inv = np.unique(g, return_inverse=True)
    sums = np.array([int(tile_windows(spec, int(u)).window_positions.sum()) for u in uniq])
    return c_in * sums[inv]


def weight_fetch(tr: Traffic, spec: LayerSpec, cfg: Any, ctx: LayerContext, *, uses: Num,
                 active_rows: Num | None) -> None:
    """DRAM -> weight SRAM traffic of a layer's weights (resident loads, streamed fetches)."""
    pl, n = ctx.placement, ctx.n
    m = cfg.memory
    load = pl.weights_resident * n / m.weight_load_inferences
    if m.fetch_active_weights_only and active_rows is not None:
        fetch = pl.weights_streamed / weight_rows(spec) * active_rows
        # a resident row is never dearer than a streamed one: below a batch of rows/active
        # inferences, fetching the active rows beats loading them all
        load = np.minimum(load, pl.weights_resident / weight_rows(spec) * active_rows)
    else:
        fetch = pl.weights_streamed * uses * n
    tr.read("dram", "weights", load + fetch)
    tr.write("weight_sram", "weights", load + fetch)


def output_and_membranes(tr: Traffic, spec: LayerSpec, cfg: Any, ctx: LayerContext,
                         out_bits_per_step: Num, delivery: dict[str, Num]) -> None:
    """Output spikes (or logits) and step_major membrane traffic of a spiking-output layer."""
    pl, n, t = ctx.placement, ctx.n, ctx.t
    mb = cfg.digital.membrane_bits
    if ctx.last:
        tr.write("dram", "membranes", spec.out_size * mb * n)
    else:
        bits = out_bits_per_step * t * n
        split_write(tr, "spike_sram", "spikes", bits, share(pl.out_spilled, pl.out_total))
        delivery["unicast"] = delivery.get("unicast", 0) + bits
    if cfg.digital.schedule == "step_major":
        bits = spec.out_size * mb * t * n
        f = share(pl.membranes_spilled, pl.membranes_total)
        split_read(tr, "membrane_sram", "membranes", bits, f)
        split_write(tr, "membrane_sram", "membranes", bits, f)
        delivery["unicast"] = delivery.get("unicast", 0) + 2 * bits


def reused_current(tr: Traffic, spec: LayerSpec, cfg: Any, ctx: LayerContext) -> None:
    """With ``first_layer_reuse`` under step_major the first layer's constant current is
    written once and read at every step (out_size x m bits), in the membrane SRAM with the
    layer's membranes (their spilled share in DRAM); under tile_major it stays in the PEs."""
    d = cfg.digital
    if not (d.first_layer_reuse and d.schedule == "step_major"):
        return
    pl = ctx.placement
    cur = spec.out_size * d.membrane_bits * ctx.n
    f = share(pl.membranes_spilled, pl.membranes_total)
    split_write(tr, "membrane_sram", "membranes", cur, f)
    split_read(tr, "membrane_sram", "membranes", cur * ctx.t, f)


def neuron_energy(cfg: Any, updates: Num) -> Num:
    """LIF updates x E_update, J (0 unless accounting.neuron_updates)."""
    if not cfg.accounting.neuron_updates:
        return 0.0
    return updates * tech.neuron_update_energy_j(cfg)


def bias_and_pool(spec: LayerSpec, cfg: Any, ctx: LayerContext, tr: Traffic,
                  delivery: dict[str, Num], *, currents: Num, bias_bits: Num,
                  e_add: Num) -> tuple[dict[str, Num], Num, Num]:
    """The bias and the pooled current of a weighted layer (docs/model.md §5.8); returns
    (ops, compute energy J, compute cycles), totals over the trace, and adds the bias reads to
    ``tr`` and ``delivery``. Nothing (empty, 0, 0) for a layer with neither.

    ``currents``: times each neuron's current is formed over the trace (T x N for a spiking
    layer, passes x N for the analog first layer, N in a CNN baseline). Per current:

    * bias: one add per output (post-pool) neuron at ``e_add``; the tile's biases are read from
      the weight SRAM (``bias_bits`` each: C_out x PT per current, linear F_out) and sent down
      the PE columns (linear: unicast to each PE); one cycle per tile;
    * pool of the current: prod(kernel) - 1 compares (max) or adds (avg, sum) per pooled neuron
      at ``e_add``; the tile's pre-pool currents are reduced in the array in prod(kernel) - 1
      cycles per tile (avg's 1 / prod(kernel) is folded into the threshold and bias: free).
    """
    ops: dict[str, Num] = {}
    if not spec.has_bias and spec.pool is None:
        return ops, 0.0, 0
    ct, pt = channel_tiles(spec, cfg), position_tiles(spec, cfg)
    energy: Num = 0.0
    cycles: Num = 0
    if spec.has_bias:
        ops["bias_adds"] = spec.out_size * currents
        energy = energy + ops["bias_adds"] * e_add
        reads = bias_outputs(spec) * (1 if spec.kind == "linear" else pt) * currents * bias_bits
        tr.read("weight_sram", "weights", reads)
        pattern = "unicast" if spec.kind == "linear" else "column"
        delivery[pattern] = delivery.get(pattern, 0) + reads
        cycles = cycles + ct * pt * currents
    if spec.pool is not None:
        taps = pool_taps(spec)
        ops["pool_ops"] = spec.out_size * (taps - 1) * currents
        energy = energy + ops["pool_ops"] * e_add
        cycles = cycles + ct * pt * (taps - 1) * currents
    return ops, energy, cycles


def mapping_of(spec: LayerSpec, cfg: Any, ct: Num, pt: Num, useful: Num, cycles: Num,
               lanes: Num) -> dict[str, Any]:
    """Schedule, tiles and utilisation: spatial = outputs / (CT PT R C) (the pre-pool outputs
    of a layer that pools its current); PE = useful ops / (compute cycles x R x C x lanes)."""
    d = cfg.digital
    pes = d.pe_rows * d.pe_cols
    spatial = math.prod(spec.conv_shape) / (ct * pt * pes)
    busy = useful / np.maximum(cycles * pes * lanes, 1)
    return {"schedule": d.schedule, "channel_tiles": ct, "position_tiles": pt,
            "spatial_utilisation": spatial, "pe_utilisation": busy}


def cost_spiking_layer(spec: LayerSpec, act: LayerActivity, cfg: Any, ctx: LayerContext):  # type: ignore[no-untyped-def]
    """Cost of a spiking-input layer on the digital core (module doc)."""
    d = cfg.digital
    n, t = ctx.n, ctx.t
    pl = ctx.placement
    ct, pt = channel_tiles(spec, cfg), position_tiles(spec, cfg)
    per_out = spec.out_size if spec.kind == "linear" else spec.out_channels
    acs = per_out * act.events
    tr = Traffic()
    tr.read("weight_sram", "weights", acs * spec.weight_bits)
    step_major = d.schedule == "step_major"
    weight_fetch(tr, spec, cfg, ctx, uses=t if step_major else 1,
                 active_rows=act.active_rows_per_step if step_major else act.active_rows)
    win_bits = ct * t * n * window_bits(spec, d.pe_rows)
    split_read(tr, "spike_sram", "spikes", win_bits, share(pl.in_spilled, pl.in_total))
    addr_bits = max(1, math.ceil(math.log2(max(spec.in_size, 2))))
    delivery: dict[str, Num] = {"broadcast": ct * act.window_events * addr_bits,
                                "unicast": acs * spec.weight_bits}
    output_and_membranes(tr, spec, cfg, ctx, spec.out_size, delivery)
    e_add = tech.add_energy_j(cfg.ops, d.membrane_bits)
    v2_ops, v2_energy, v2_cycles = bias_and_pool(spec, cfg, ctx, tr, delivery, currents=t * n,
                                                 bias_bits=d.membrane_bits, e_add=e_add)
    updates = spec.out_size * t * n
    compute = (ct * act.tile_cycles(d.lanes) + ct * pt * d.neuron_update_cycles * t * n
               + v2_cycles)
    energy = {"compute": acs * e_add + v2_energy,
              "neuron_update": neuron_energy(cfg, updates)}
    return assemble(name=spec.name, engine="digital", cfg=cfg, ctx=ctx, traffic=tr,
                    delivery_bits=delivery, compute_cycles=compute,
                    ops={"synaptic_ops": acs, "neuron_updates": updates, **v2_ops},
                    energy=energy,
                    mapping=mapping_of(spec, cfg, ct, pt, acs, compute, d.lanes),
                    detail={"compute_cycles": compute / n})


def dense_traffic(spec: LayerSpec, dense: LayerActivity, cfg: Any, ctx: LayerContext, *,
                  in_bits: int, w_bits: Num, passes: int) -> tuple[Traffic, dict[str, Num], Num]:
    """Weight and input traffic of a dense (MAC) layer; returns (traffic, delivery, MACs)."""
    n, pl = ctx.n, ctx.placement
    ct, pt = channel_tiles(spec, cfg), position_tiles(spec, cfg)
    per_out = spec.out_size if spec.kind == "linear" else spec.out_channels
    macs = per_out * dense.events * n * passes
    tr = Traffic()
    w_reads = math.prod(spec.weight_shape) * pt * w_bits * n * passes
    tr.read("weight_sram", "weights", w_reads)
    step_major = cfg.digital.schedule == "step_major" and ctx.t > 1
    weight_fetch(tr, spec, cfg, ctx, uses=passes if step_major else 1, active_rows=None)
    in_reads = ct * passes * n * window_bits(spec, cfg.digital.pe_rows) * in_bits
    tensor = "input" if ctx.index == 0 else "spikes"
    split_read(tr, "spike_sram", tensor, in_reads, share(pl.in_spilled, pl.in_total))
    if ctx.index == 0:
        image_load(tr, ctx)
    # conv: a weight serves the R positions of its PE column; linear: every PE its own weights
    return tr, {"broadcast": in_reads,
                ("unicast" if spec.kind == "linear" else "column"): w_reads}, macs


def image_load(tr: Traffic, ctx: LayerContext) -> None:
    """The first layer's image: its resident part is read from DRAM once per inference and
    written into the spike SRAM; the spilled part stays in DRAM and is read at every use."""
    pl = ctx.placement
    tr.read("dram", "input", pl.in_resident * ctx.n)
    tr.write("spike_sram", "input", pl.in_resident * ctx.n)


def cost_analog_layer(spec: LayerSpec, dense: LayerActivity, cfg: Any, ctx: LayerContext):  # type: ignore[no-untyped-def]
    """Cost of the analog-input first layer as dense MACs on the digital core (module doc)."""
    d = cfg.digital
    n, t = ctx.n, ctx.t
    passes = 1 if d.first_layer_reuse else t
    tr, delivery, macs = dense_traffic(spec, dense, cfg, ctx, in_bits=ctx.input_bits,
                                       w_bits=spec.weight_bits, passes=passes)
    reused_current(tr, spec, cfg, ctx)
    output_and_membranes(tr, spec, cfg, ctx, spec.out_size, delivery)
    v2_ops, v2_energy, v2_cycles = bias_and_pool(
        spec, cfg, ctx, tr, delivery, currents=passes * n, bias_bits=d.membrane_bits,
        e_add=tech.add_energy_j(cfg.ops, d.membrane_bits))
    ct, pt = channel_tiles(spec, cfg), position_tiles(spec, cfg)
    updates = spec.out_size * t * n
    compute = (ct * dense.tile_cycles(d.mac_lanes) * n * passes
               + ct * pt * d.neuron_update_cycles * t * n + v2_cycles)
    e_mac = tech.int_mac_energy_j(cfg.ops, ctx.input_bits, spec.weight_bits, d.membrane_bits)
    energy = {"compute": macs * e_mac + v2_energy, "neuron_update": neuron_energy(cfg, updates)}
    return assemble(name=spec.name, engine="digital", cfg=cfg, ctx=ctx, traffic=tr,
                    delivery_bits=delivery, compute_cycles=compute,
                    ops={"macs": macs, "neuron_updates": updates, **v2_ops}, energy=energy,
                    mapping=mapping_of(spec, cfg, ct, pt, macs, compute, d.mac_lanes),
                    detail={"compute_cycles": compute / n})


def cost_pool_layer(spec: LayerSpec, cfg: Any, ctx: LayerContext, *, bits: int, e_op: Num,
                    cycles_per_window: Num):  # type: ignore[no-untyped-def]
    """Cost of a max-pool layer between two spiking layers (``bits`` = 1: an OR of spikes)
    or, in a CNN baseline, of ``bits``-wide activations (docs/model.md §5.8).

    Channels on PE columns, R output positions on PE rows (CT x PT tiles, as a conv layer).
    No weights, no ACs, no neuron state. Per step every output ORs (compares) its window:
    out_size x (prod(kernel) - 1) ops at ``e_op`` (``pool_ops``); every PE computes one window
    in ``cycles_per_window`` cycles. Each tile reads the window of its own channels from the
    spike SRAM (C_in x sum_pt |window(pt)| x bits per step, the spilled share from DRAM) and
    sends each channel's bits down its PE column; outputs are written as a spiking layer's
    (out_size x bits per step, unicast).
    """
    d = cfg.digital
    n, t, pl = ctx.n, ctx.t, ctx.placement
    ct, pt = channel_tiles(spec, cfg), position_tiles(spec, cfg)
    windows = spec.out_size * t * n
    ops = windows * (pool_taps(spec) - 1)
    tr = Traffic()
    reads = window_bits(spec, d.pe_rows) * bits * t * n
    split_read(tr, "spike_sram", "spikes", reads, share(pl.in_spilled, pl.in_total))
    out_bits = windows * bits
    if ctx.last:
        tr.write("dram", "spikes", out_bits)
    else:
        split_write(tr, "spike_sram", "spikes", out_bits, share(pl.out_spilled, pl.out_total))
    compute = ct * pt * cycles_per_window * t * n
    return assemble(name=spec.name, engine="digital", cfg=cfg, ctx=ctx, traffic=tr,
                    delivery_bits={"column": reads, "unicast": out_bits},
                    compute_cycles=compute, ops={"pool_ops": ops},
                    energy={"compute": ops * e_op},
                    mapping=mapping_of(spec, cfg, ct, pt, windows * cycles_per_window,
                                       compute, 1),
                    detail={"compute_cycles": compute / n})
