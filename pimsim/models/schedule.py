"""The schedule: the loop nest of the digital core, and what it keeps live where.

Per layer l with C_out output channels over P output positions (a linear layer: F_out outputs
over all R x C PEs, P = 1), an R x C PE array (output positions on rows, channels on
columns), CT = ceil(C_out / C) channel tiles (linear: ceil(F_out / (R C))) and
PT = ceil(P / R) position tiles, one sample:

``tile_major`` (default)::

    for l in layers:                          # layer by layer
      for ct in range(CT):                    # weights of ct: fetched once per inference
        for pt in range(PT):
          for t in range(T):                  # membranes of the R x C tile stay in the PEs
            read the input window of (pt, t)  # union of the tile's receptive fields, C_in planes
            broadcast its spikes to the PEs; every PE accumulates those in its field (ACs)
            update the R x C neurons; write R x C output spikes

  Live tensors: the weights of one channel tile, the membranes of one tile (PE registers), the
  input spikes of all T steps (T x in_size bits) and the output spikes of all T steps
  (T x out_size bits: the next layer reads them all).

``step_major``::

    for t in range(T):                        # T outermost, over the whole network
      for l in layers:
        for ct in range(CT):                  # weights visited once per step
          for pt in range(PT):
            read the tile's membranes; read the input window of (pt, t); ACs
            update; write back membranes; write output spikes

  Live tensors: the membranes of every layer across the steps (sum_l out_size_l x m bits,
  plus out_size x m for the first layer's current with ``digital.first_layer_reuse``), one
  step of input and output spikes (in_size + out_size bits).

Both schedules do the same ACs, MACs, neuron updates and conversions, and read the same input
windows and weights from the buffers; they differ in what must stay live (above), in the
membrane traffic (none in tile_major; a read and a write per neuron and step in step_major)
and in how often streamed weights are fetched (once per inference vs once per step).

:func:`place_network` fills each level smallest tensor first (:func:`pimsim.models.memory.
resident_split`): the weights of the digital layers in the weight SRAM (resident weights are
loaded once per ``memory.weight_load_inferences`` inferences; the excess is streamed at every
use), the membranes in the membrane SRAM (step_major), and the spike maps in the spike SRAM as
a chain: layer l's input is what layer l-1 left there (its output's resident part); its own
output gets what the input leaves free. The first layer's input is the analog image
(in_size x input_bits, read from DRAM once per inference).

Trace format v2 (docs/model.md §5.8): a layer that pools its current is tiled over its pre-pool
positions (``spec.conv_positions``); a bias table (C_out x m bits, CNN x k) is part of its
layer's weight tensor (a PIM layer's only one in the weight SRAM); a max-pool spike layer has
no weights and no membranes, only its input and output spikes in the chain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pimsim.models.base import ceil_div
from pimsim.models.memory import resident_split, sram_level
from pimsim.trace import LayerSpec

Num = Any
SCHEDULES = ("tile_major", "step_major")


def pool_taps(spec: LayerSpec) -> int:
    """Window elements prod(kernel) of a layer's pool (of its current, or a max-pool spike
    layer's own window); 1 without a pool."""
    if spec.is_pool:
        return math.prod(spec.kernel)
    return spec.pool.window if spec.pool is not None else 1


def bias_outputs(spec: LayerSpec) -> int:
    """Bias values of a layer: its output channels (conv) or outputs (linear); 0 without a
    bias (and for a max-pool spike layer)."""
    if spec.is_pool or not spec.has_bias:
        return 0
    return spec.out_channels


def bias_footprint(spec: LayerSpec, bits: Num) -> Num:
    """Bits of a layer's bias table, stored with its weights: bias_outputs x ``bits`` (the
    membrane width m on the SNN core, the operand width k in the CNN baselines)."""
    count = bias_outputs(spec)
    return count * bits if count else 0


def channel_tiles(spec: LayerSpec, cfg: Any) -> Num:
    """CT: channel tiles (conv) or output tiles over the whole array (linear)."""
    d = cfg.digital
    if spec.kind == "linear":
        return ceil_div(spec.out_size, d.pe_rows * d.pe_cols)
    return ceil_div(spec.out_channels, d.pe_cols)


def position_tiles(spec: LayerSpec, cfg: Any) -> Num:
    """PT: position tiles, ceil(P / R) (1 for a linear layer); P counts the pre-pool
    positions of a layer that pools its current (``spec.conv_positions``)."""
    if spec.kind == "linear":
        return 1
    return ceil_div(spec.conv_positions, cfg.digital.pe_rows)


def weight_bits(spec: LayerSpec, bits: int | None = None) -> int:
    """Bits of a layer's weights: elements x weight_bits (or ``bits``); 0 for a max-pool
    spike layer (no weights). The bias is :func:`bias_footprint`."""
    return math.prod(spec.weight_shape) * (spec.weight_bits if bits is None else bits)


def weight_rows(spec: LayerSpec) -> int:
    """Rows of the weights that one input selects: input channels (conv), inputs (linear)."""
    return spec.in_channels if spec.kind != "linear" else spec.in_size


def spike_footprint(spec: LayerSpec, schedule: str, t: int) -> tuple[int, int]:
    """(input, output) spike bits live during the layer: x T under tile_major."""
    steps = t if schedule == "tile_major" else 1
    return spec.in_size * steps, spec.out_size * steps


@dataclass
class Placement:
    """Where one layer's tensors live (sizes in bits, per inference; arrays in a sweep).

    weights_resident/weights_streamed: of the layer's weights in the weight SRAM;
    membranes_resident/membranes_spilled: step_major membranes (tile_major: 0, in the PEs);
    in_size/in_resident, out_size/out_resident: the spike (or image) tensors of the chain.
    """

    weights_total: Num
    weights_resident: Num
    membranes_total: Num
    membranes_resident: Num
    in_total: Num
    in_resident: Num
    out_total: Num
    out_resident: Num

    @property
    def weights_streamed(self) -> Num:
        return self.weights_total - self.weights_resident

    @property
    def membranes_spilled(self) -> Num:
        return self.membranes_total - self.membranes_resident

    @property
    def in_spilled(self) -> Num:
        return self.in_total - self.in_resident

    @property
    def out_spilled(self) -> Num:
        return self.out_total - self.out_resident

    def spills(self) -> dict[str, Num]:
        """Bits of each tensor that do not fit on chip."""
        return {"weights": self.weights_streamed, "membranes": self.membranes_spilled,
                "input spikes": self.in_spilled, "output spikes": self.out_spilled}


def place_network(cfg: Any, layers: list[LayerSpec], engines: list[str], *, t: int,
                  input_bits: int, act_bits: int | None = None) -> list[Placement]:
    """Placement of every layer's tensors under the config's schedule (module doc).

    ``engines[i]`` is the engine of layer i; only ``digital`` layers keep weights in the
    weight SRAM (PIM weights live in the arrays). ``act_bits`` (dense CNN baselines): layers
    exchange multi-bit activations of that width once (no time steps) instead of spikes.
    """
    d = cfg.digital
    schedule = d.schedule if act_bits is None else "tile_major"
    wl, ml, sl = (sram_level(cfg, n) for n in ("weight_sram", "membrane_sram", "spike_sram"))
    # the weights of the digital layers (PIM weights live in the arrays), plus every bias
    # table (added on the core, so stored in the weight SRAM even for a PIM layer)
    bias_w = d.membrane_bits if act_bits is None else act_bits
    w_sizes = [(weight_bits(s, act_bits) if e != "pim" else 0)
               + bias_footprint(s, bias_w)
               for s, e in zip(layers, engines)]
    w_res = resident_split(w_sizes, wl.capacity_bits, wl.word_bits)
    if schedule == "step_major" and act_bits is None:
        # every layer's membranes, plus the first layer's reused input current
        # (a max-pool spike layer has no state)
        m_sizes = [0 if s.is_pool else
                   s.out_size * d.membrane_bits * (2 if (i == 0 and s.input == "analog"
                                                         and d.first_layer_reuse) else 1)
                   for i, s in enumerate(layers)]
    else:
        m_sizes = [0] * len(layers)
    m_res = resident_split(m_sizes, ml.capacity_bits, ml.word_bits)
    out: list[Placement] = []
    prev_out_res: Num = None
    for i, spec in enumerate(layers):
        last = i == len(layers) - 1
        if act_bits is not None:
            in_tot, out_tot = spec.in_size * act_bits, (0 if last else spec.out_size * act_bits)
        else:
            in_tot, out_tot = spike_footprint(spec, schedule, t)
            if i == 0:
                in_tot = spec.in_size * input_bits
            if last:
                out_tot = 0
        if prev_out_res is None:
            in_res = resident_split([in_tot], sl.capacity_bits, sl.word_bits)[0]
        else:
            in_res = prev_out_res
        free = np.maximum(sl.capacity_bits - -(-np.asarray(in_res) // sl.word_bits)
                          * sl.word_bits, 0)
        out_res = resident_split([out_tot], free, sl.word_bits)[0]
        out.append(Placement(weights_total=w_sizes[i], weights_resident=w_res[i],
                             membranes_total=m_sizes[i], membranes_resident=m_res[i],
                             in_total=in_tot, in_resident=in_res, out_total=out_tot,
                             out_resident=out_res))
        prev_out_res = out_res
    return out
