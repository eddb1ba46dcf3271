"""SRAM processing-in-memory macro for the analog first layer (docs/model.md).

Mapping. The unrolled kernel (K = C_in x kd x kh x kw rows) maps to array rows, output channels
x weight slices to columns; a ``weight_bits`` weight spans S = ceil(weight_bits / bits_per_cell)
columns. Arrays needed A = ceil(K / rows) x ceil(C_out S / cols); row groups (at most
``rows_per_read`` rows active per read) G = floor(K / rows) ceil(rows / rpr) + ceil((K mod
rows) / rpr), the largest array needing G_max = ceil(min(rows, K) / rpr) reads. When
A <= num_arrays the weights are written into D = floor(num_arrays / A) copies that compute D
output positions at once and stay there (loaded once per ``memory.weight_load_inferences``
inferences); beyond, the arrays are reprogrammed ceil(A / num_arrays) times per pass
(``allow_multiplex``; else the layer is refused).

Loop nest (one sample)::

    for group of D output positions:          # the D copies
      for pass in range(passes):              # T, or 1 with digital.first_layer_reuse
        for phase in range(P):                # bit-serial: P = input_bits; DAC: ceil(b / g)
          for row group: read (wordlines driven by the phase's codes), convert the columns
      LIF updates of the D x C_out neurons on the core, all T steps (tile_major: in the PEs)

Counts (totals over the trace; ``driven`` = rows with a non-zero phase code, ``pulses`` = the
sum of the phase codes, both over every output position, from :mod:`pimsim.activity`):

* conversions = positions x N x passes x P x G x C_conv (C_conv = C_out with
  ``analog_weight_combine``, else C_out S);
* wordline energy = fired x passes x A_col x e_wordline_j x cols / wordline_ref_cols, with
  fired = pulses (``dac_kind: pulse_count``: a code k is k read-wordline pulses) or driven;
* cell energy = fired x passes x C_out S x e_cell_j; DAC (``input_mode: dac``) = driven x
  passes x A_col x e_dac_j;
* ADC = conversions x E_adc(adc_bits) (:mod:`pimsim.models.adc`); shift-add = conversions x
  e_shift_add_j; with ``analog_weight_combine`` the slices are combined as offset-binary
  weights, corrected digitally: one more add per conversion (at e_shift_add_j) and K
  input-code adds per position and phase (the input sum, E_add(8) each);
* weight writes: D x K x C_out S x bits_per_cell bits at the write energy of an array-sized
  SRAM, plus the DRAM read of the weights, per load;
* bias and pool (trace format v2): done on the core after the ADC readout, as on the
  dense first layer (:func:`pimsim.models.digital.bias_and_pool`, in the ``compute``
  component; the bias table in the weight SRAM); a pool of the current only changes the
  positions the macro computes (the pre-pool ``conv_shape`` ones);
* inputs: the image is read from DRAM once per inference into the spike SRAM; every group
  of D positions reads its input window once per pass (C_in x |window| x input_bits bits, the
  windows of :func:`pimsim.activity.tile_windows` for groups of D consecutive positions: the
  halo between groups is read twice) and multicasts it to the D copies (noc pattern ``pim``).

Time per read: t_analog = (2^g - 1) x pulse_period_s (pulse_count) or t_bitline_s;
t_conv = t_adc x ceil(cols_per_adc / S) (combined) or t_adc x cols_per_adc (one ADC is shared
by its columns); t_read = max(t_analog, t_conv) with ``pipelined_readout`` (the analog result
is held while the ADC converts), else their sum; ``pim.t_read_s`` replaces it when given.
t_pim = ceil(positions / D) x passes x ceil(A / num_arrays) x G_max x P x t_read. The core's
LIF updates run concurrently (pipelined over position groups): cycles = max(t_pim f,
updates, memory levels).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pimsim.activity import LayerActivity, PimActivity
from pimsim.models import adc, area, periphery, tech
from pimsim.models.base import ceil_div
from pimsim.models.digital import (
    bias_and_pool,
    image_load,
    neuron_energy,
    output_and_membranes,
    reused_current,
    weight_fetch,
    window_bits,
)
from pimsim.models.layer import LayerContext, assemble, share, split_read
from pimsim.models.memory import Traffic
from pimsim.models.schedule import bias_outputs, channel_tiles, position_tiles
from pimsim.trace import LayerSpec

Num = Any


def pim_geometry(spec: LayerSpec, cfg: Any) -> dict[str, Num]:
    """Rows, slices, arrays, copies and row groups of a layer mapped onto the macro."""
    p = cfg.pim
    k_rows = spec.fan_in
    slices = ceil_div(spec.weight_bits, p.bits_per_cell)
    cols_used = spec.out_channels * slices
    row_arrays = ceil_div(k_rows, p.rows)
    col_arrays = ceil_div(cols_used, p.cols)
    arrays = row_arrays * col_arrays
    groups = (k_rows // p.rows) * ceil_div(p.rows, p.rows_per_read) + ceil_div(
        k_rows % p.rows, p.rows_per_read)
    return {"k_rows": k_rows, "slices": slices, "cols_used": cols_used,
            "row_arrays": row_arrays, "col_arrays": col_arrays, "arrays": arrays,
            "row_groups": groups,
            "max_groups": ceil_div(np.minimum(p.rows, k_rows), p.rows_per_read),
            "copies": np.maximum(1, p.num_arrays // arrays),
            "swaps": ceil_div(arrays, p.num_arrays)}


def input_phases(cfg: Any, input_bits: int) -> tuple[int, int]:
    """(phases per input, bits per phase): bit-serial -> (input_bits, 1), DAC -> (ceil(b/g), g)."""
    if cfg.pim.input_mode == "bit_serial":
        return input_bits, 1
    g = int(cfg.pim.dac_bits)
    return math.ceil(input_bits / g), g


def unmappable(spec: LayerSpec, cfg: Any, geo: dict[str, Num], input_bits: int
               ) -> tuple[Num, str, str]:
    """(points the macro cannot hold, reason, key): precisions above its limits, or more
    arrays than a fixed macro (``allow_multiplex: false``) has."""
    p = cfg.pim
    checks = [
        (spec.weight_bits > np.asarray(p.max_weight_bits),
         (f"layer {spec.name} has {spec.weight_bits}-bit weights but the PIM macro supports "
          f"at most pim.max_weight_bits={p.max_weight_bits}"),
         f"meta.layers[0].weight_bits ({spec.name})"),
        (input_bits > np.asarray(p.max_input_bits),
         f"the trace's {input_bits}-bit input exceeds pim.max_input_bits={p.max_input_bits}",
         "meta.input_bits"),
    ]
    if not p.allow_multiplex:
        checks.append((np.asarray(geo["arrays"]) > p.num_arrays,
                       (f"layer {spec.name} needs {geo['arrays']} arrays of {p.rows}x{p.cols} "
                        f"({geo['k_rows']} rows x {geo['cols_used']} columns) but the macro has "
                        f"pim.num_arrays={p.num_arrays} and pim.allow_multiplex is false"),
                       "pim.num_arrays"))
    bad = np.zeros(np.shape(geo["arrays"]), bool)
    for mask, _, _ in checks:
        bad = bad | mask
    hit = [(msg, key) for mask, msg, key in checks if np.any(mask)]
    reason, key = hit[0] if hit else ("", "pim")
    return bad, reason, key


def read_time_s(cfg: Any, slices: Num) -> Num:
    """Time of one macro read, s (module doc)."""
    p = cfg.pim
    if p.t_read_s is not None:
        return p.t_read_s + 0.0 * np.asarray(slices)
    seq = ceil_div(p.cols_per_adc, slices) if p.analog_weight_combine else p.cols_per_adc
    t_conv = adc.conversion_time_s(cfg) * seq
    pulse = p.input_mode == "dac" and p.dac_kind == "pulse_count"
    if pulse and p.pulse_period_s is not None:
        t_analog = ((2 ** np.asarray(p.dac_bits)) - 1) * p.pulse_period_s
    else:
        t_analog = p.t_bitline_s
    return np.maximum(t_analog, t_conv) if p.pipelined_readout else t_analog + t_conv


def cell_geometry(cfg: Any) -> tuple[Num, Num, Num]:
    """(cell area m^2, cell width m, cell height m): ``pim.cell_area_m2`` at the macro's own
    node when given, else ``area.pim_cell_m2`` scaled to tech.node_nm; width = sqrt(A x
    aspect), height = sqrt(A / aspect) (:func:`pimsim.models.periphery.cell_pitch_m`)."""
    a_cell = area.pim_cell_area_m2(cfg)
    w, h = periphery.cell_pitch_m(a_cell, cfg.pim.cell_aspect)
    return a_cell, w, h


def adc_fit(cfg: Any) -> tuple[Num, Num]:
    """(height of the ADC strip under one array, the array's own height), m: the
    ceil(cols / cols_per_adc) ADCs of one array share its width cols x fold x cell width
    (:func:`pimsim.models.periphery.adc_strip_height_m`); the array is rows / fold cells
    tall."""
    p = cfg.pim
    a_cell, w, h = cell_geometry(cfg)
    n_adc = ceil_div(p.cols, p.cols_per_adc)
    width = np.where(a_cell > 0, p.cols * p.column_fold * w, np.inf)  # no cell area: no fit
    strip = periphery.adc_strip_height_m(n_adc, adc.adc_area_m2(cfg), width)
    return strip, p.rows / p.column_fold * h


#: Periphery parts (``detail["pim_parts_j"]``) that do not depend on the data, for macros that
#: publish an input-independent / data-dependent split (Sinangil et al. JSSC 2021).
INPUT_INDEPENDENT = ("pulse_generator", "precharge", "cd_cells", "adc", "column_mux",
                     "control")
#: Which energy component each periphery part is folded into (docs/model.md §5.4, §6).
PART_COMPONENT = {"wordline": "pim_wordline", "control": "pim_wordline",
                  "dac": "pim_dac", "pulse_generator": "pim_dac",
                  "bitline": "pim_cell", "precharge": "pim_cell", "compute_caps": "pim_cell",
                  "cd_cells": "pim_cell", "adc": "pim_adc", "column_mux": "pim_adc",
                  "shift_add": "pim_shift_add", "correction": "pim_shift_add"}


def periphery_parts(spec: LayerSpec, pact: PimActivity, cfg: Any, geo: dict[str, Num], *,
                    n: int, passes: int, phases: int, g: int, conversions: Num
                    ) -> dict[str, Num]:
    """Energy of the macro by periphery part, J, totals over the trace
    (``pim.macro_model: periphery``; equations of :mod:`pimsim.models.periphery`, counts in
    the module doc and docs/model.md §5.4)."""
    p, q = cfg.pim, cfg.periphery
    v = cfg.tech.vdd_v
    cg = periphery.gate_cap_f(cfg.tech.node_nm, q.c_gate_f, q.gate_ref_node_nm)
    _, w_cell, h_cell = cell_geometry(cfg)
    pulse = p.input_mode == "dac" and p.dac_kind == "pulse_count"
    full = 2 ** g - 1  # largest phase code
    codes = float(pact.code_sums.sum())  # sum of phase codes over rows, positions, samples
    driven = float(pact.driven_rows.sum())
    x_frac = codes * passes / full  # sum over rows and reads of code / largest code
    positions = spec.conv_positions
    k_rows, a_col = geo["k_rows"], geo["col_arrays"]
    per_phase = positions * n * passes * phases  # (position, sample, pass, phase) evaluations
    reads = per_phase * geo["row_groups"] * a_col
    # data-dependent swings: sum over reads and columns of MAC / full-scale MAC (full scale:
    # rows_per_read rows at the largest code, every stored value at its maximum)
    col_frac = x_frac * geo["cols_used"] * q.weight_one_fraction / p.rows_per_read
    swing = q.bl_swing_fraction * v
    parts: dict[str, Num] = {}
    # read wordlines: a pulse-count code k is k full-swing pulses; a bit-serial bit or a DAC
    # level charges the line to code / largest code of the supply
    drives = (codes * passes if pulse else x_frac) * a_col
    parts["wordline"] = periphery.wordline_energy_j(drives, p.cols, w_cell, cg, v, q.k_cell_wl,
                                                    q.c_wire_f_per_m)
    parts["control"] = periphery.control_energy_j(reads, p.rows_per_read, p.cols, cg, v,
                                                  q.k_ff)
    if pulse:
        if p.pulse_generator == "row_counter":
            parts["pulse_generator"] = periphery.pulse_generator_energy_j(
                per_phase * k_rows * a_col, g, cg, v, 1.0, q.k_ff)
    elif p.input_mode == "dac":
        parts["dac"] = periphery.voltage_dac_energy_j(driven * passes * a_col, g, v,
                                                      q.dac_k0_f)
    # bitlines (current domain: discharged by the cells; charge domain: the compute lines)
    if p.precharge == "every_read":
        parts["precharge"] = periphery.bitline_energy_j(reads, p.cols, p.rows, h_cell, cg, v,
                                                        swing, q.k_cell_bl, q.c_wire_f_per_m)
    else:
        parts["bitline"] = periphery.bitline_energy_j(col_frac, 1.0, p.rows, h_cell, cg, v,
                                                      swing, q.k_cell_bl, q.c_wire_f_per_m)
    if p.readout == "charge":
        parts["cd_cells"] = periphery.charge_domain_cells_energy_j(
            per_phase * k_rows * geo["cols_used"], v, q.cd_cell_f)
    elif p.analog_weight_combine:
        # slice j of a weight charges 2^(j bpc) unit caps to the swing of its column
        units = (2.0 ** (p.bits_per_cell * geo["slices"]) - 1) / (2.0 ** p.bits_per_cell - 1)
        c_u = p.compute_cap_f if p.compute_cap_f is not None else q.unit_cap_f
        parts["compute_caps"] = periphery.compute_cap_energy_j(
            units * spec.out_channels * x_frac * q.weight_one_fraction / p.rows_per_read,
            c_u, v, swing)
    parts["adc"] = conversions * adc.conversion_energy_j(cfg)
    mux = (ceil_div(p.cols_per_adc, geo["slices"]) if p.analog_weight_combine
           else p.cols_per_adc)
    parts["column_mux"] = periphery.column_mux_energy_j(conversions, mux, cg, v, q.k_mux)
    parts["shift_add"] = periphery.shift_add_energy_j(conversions, p.adc_acc_bits, cg, v,
                                                      q.k_fa, q.k_ff)
    if p.analog_weight_combine:
        # offset-binary weights: one correction add per conversion and the input-code sum
        # (an adder tree over the K codes of a phase) per position and phase
        parts["correction"] = (
            periphery.adder_energy_j(conversions, p.adc_acc_bits, cg, v, q.k_fa)
            + periphery.adder_tree_energy_j(per_phase, k_rows, g, cg, v, q.k_fa))
    return parts


def cost_pim_layer(spec: LayerSpec, dense: LayerActivity, pact: PimActivity, cfg: Any,
                   ctx: LayerContext):  # type: ignore[no-untyped-def]
    """Cost of the analog first layer on the PIM macro plus its LIF updates on the core."""
    p, d = cfg.pim, cfg.digital
    n, t, pl = ctx.n, ctx.t, ctx.placement
    geo = pim_geometry(spec, cfg)
    phases, g = input_phases(cfg, ctx.input_bits)
    passes = 1 if d.first_layer_reuse else t
    positions = spec.conv_positions  # the pre-pool positions when the current is pooled
    pulse = p.input_mode == "dac" and p.dac_kind == "pulse_count"
    driven = int(pact.driven_rows.sum())
    fired = int(pact.code_sums.sum()) if pulse else driven
    conv_cols = spec.out_channels if p.analog_weight_combine else geo["cols_used"]
    conversions = positions * n * passes * phases * geo["row_groups"] * conv_cols
    e_sa = conversions * p.e_shift_add_j
    if p.analog_weight_combine:
        e_sa = e_sa + conversions * p.e_shift_add_j + (
            positions * n * passes * phases * geo["k_rows"] * tech.add_energy_j(cfg.ops, 8))
    multiplexed = np.asarray(geo["arrays"]) > p.num_arrays
    cells = geo["k_rows"] * geo["cols_used"] * p.bits_per_cell
    loads = np.where(multiplexed, passes * n, n / cfg.memory.weight_load_inferences)
    written = np.where(multiplexed, cells, cells * geo["copies"]) * loads
    array_bytes = p.rows * p.cols * p.bits_per_cell / 8.0
    energy = {
        "pim_wordline": fired * passes * geo["col_arrays"] * p.e_wordline_j * p.cols
        / p.wordline_ref_cols,
        "pim_cell": fired * passes * geo["cols_used"] * p.e_cell_j,
        "pim_dac": driven * passes * geo["col_arrays"] * p.e_dac_j if p.input_mode == "dac"
        else 0.0,
        "pim_adc": conversions * adc.conversion_energy_j(cfg),
        "pim_shift_add": e_sa,
        "pim_weight_write": written * tech.sram_energy_per_bit_j(cfg.memory, array_bytes,
                                                                 write=True),
        "neuron_update": neuron_energy(cfg, spec.out_size * t * n),
    }
    detail: dict[str, Any] = {}
    if p.macro_model == "periphery":
        parts = periphery_parts(spec, pact, cfg, geo, n=n, passes=passes, phases=phases, g=g,
                                conversions=conversions)
        for comp in ("pim_wordline", "pim_cell", "pim_dac", "pim_adc", "pim_shift_add"):
            energy[comp] = sum((v for k, v in parts.items() if PART_COMPONENT[k] == comp), 0.0)
        detail["pim_parts_j"] = {k: v / n for k, v in parts.items()}
    tr = Traffic()
    tr.read("dram", "weights", spec.out_channels * spec.fan_in * spec.weight_bits * loads)
    image_load(tr, ctx)
    in_reads = window_bits(spec, geo["copies"]) * ctx.input_bits * n * passes
    split_read(tr, "spike_sram", "input", in_reads, share(pl.in_spilled, pl.in_total))
    delivery: dict[str, Num] = {"pim": in_reads}
    reused_current(tr, spec, cfg, ctx)
    output_and_membranes(tr, spec, cfg, ctx, spec.out_size, delivery)
    # bias and pool after the ADC readout, on the core (docs/model.md §5.8); the bias table
    # lives in the weight SRAM (resident or streamed as placed)
    v2_ops, v2_energy, v2_cycles = bias_and_pool(
        spec, cfg, ctx, tr, delivery, currents=passes * n, bias_bits=d.membrane_bits,
        e_add=tech.add_energy_j(cfg.ops, d.membrane_bits))
    if bias_outputs(spec):
        weight_fetch(tr, spec, cfg, ctx, active_rows=None,
                     uses=passes if (d.schedule == "step_major" and t > 1) else 1)
    if v2_ops:
        energy["compute"] = v2_energy
    t_read = read_time_s(cfg, geo["slices"])
    t_pim = (ceil_div(positions, geo["copies"]) * passes * geo["swaps"] * geo["max_groups"]
             * phases * t_read)
    ct, pt = channel_tiles(spec, cfg), position_tiles(spec, cfg)
    updates_cycles = ct * pt * d.neuron_update_cycles * t * n + v2_cycles
    bad, reason, reason_key = unmappable(spec, cfg, geo, ctx.input_bits)
    mapping = {"schedule": d.schedule, "arrays": geo["arrays"], "copies": geo["copies"],
               "swaps": geo["swaps"], "row_groups": geo["row_groups"], "phases": phases,
               "t_read_s": t_read,
               "array_utilisation": cells * geo["copies"]
               / (geo["swaps"] * p.num_arrays * p.rows * p.cols * p.bits_per_cell)}
    strip, height = adc_fit(cfg)
    mapping["adc_strip_height_m"] = strip
    mapping["adc_strip_over_array_height"] = strip / np.where(height > 0, height, np.inf)
    notes = []
    if np.ndim(strip) == 0 and np.ndim(height) == 0 and height > 0 and strip > height:
        _, w_cell, _ = cell_geometry(cfg)
        fit = periphery.min_cols_per_adc(adc.adc_area_m2(cfg), p.column_fold * w_cell, height)
        notes.append(f"{spec.name}: the {ceil_div(p.cols, p.cols_per_adc)} ADCs of an array "
                     f"need a {strip * 1e6:.0f} um strip under its {height * 1e6:.0f} um: "
                     "the ADC area model does not fit the column pitch (a strip no taller "
                     f"than the array needs {fit:.0f} columns per ADC)")
    return assemble(name=spec.name, engine="pim", cfg=cfg, ctx=ctx, traffic=tr,
                    delivery_bits=delivery, compute_cycles=updates_cycles,
                    extra_cycles={"pim": t_pim * cfg.tech.clock_hz},
                    ops={"adc_conversions": conversions,
                         "macs": spec.out_channels * dense.events * n * passes,
                         "neuron_updates": spec.out_size * t * n, **v2_ops},
                    energy=energy, mapping=mapping,
                    detail={"pim_time_s": t_pim, "t_read_s": t_read, **detail},
                    invalid=bad, reason=reason, reason_key=reason_key, warnings=notes)
