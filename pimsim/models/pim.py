"""SRAM processing-in-memory macro for the first layer (design.md §3).

Mapping. The unrolled kernel (K = C_in x kd x kh x kw rows) maps to array rows, output channels
x weight slices to columns; a ``weight_bits`` weight spans S = ceil(weight_bits / bits_per_cell)
columns (bit slicing; two's complement, the top slice weighted negatively in the shift-add).
Arrays needed: A = ceil(K / rows) x ceil(C_out S / cols). Within a row-array of r rows at most
``rows_per_read`` rows are active per read: G_i = ceil(r_i / rows_per_read) row groups.

Inputs are applied bit-serially (P = input_bits phases) or through a DAC of ``dac_bits``
(P = ceil(input_bits / dac_bits)). For every output position and phase, every row group of
every array is read, and every used column is converted:

    conversions = positions x N x passes x P x sum_i G_i x C_out S
    E = e_wl x driven x A_col + e_cell x driven x C_out S + e_dac x driven x A_col  (DAC mode)
        + conversions x (FOM_W x 2^adc_bits + e_shift_add)

with ``driven`` the wordlines whose input bit (or DAC code) is non-zero, counted from the
trace's quantized input over every output position (:func:`pimsim.activity.pim_activity`).
passes = 1 when ``digital.first_layer_reuse`` (the input is the same at every step), else T.

Delay per read t_read = max(t_bitline, t_conv x cols_per_adc) (one ADC shared by
``cols_per_adc`` columns; t_conv from :mod:`pimsim.models.adc`: SAR b x t_per_bit, flash
t_per_bit, or 1/fs), or the macro's published access time ``pim.t_read_s`` when given.
E_adc comes from :mod:`pimsim.models.adc` (``pim.adc_model``: walden FOM_W x 2^b, or the
survey-fit sar/flash models at the config's node and supply). With
``pim.analog_weight_combine`` the S slice columns of a weight are summed in the analog domain
(binary-weighted charge sharing, as in Sinangil et al. JSSC 2021) and converted once:
conversions count C_out instead of C_out S (the cells still count C_out S columns).
With ``pim.dac_kind: pulse_count`` (inputs as RWL pulse counts, Sinangil et al. 2021) the
wordline and cell terms count pulses, sum over rows of the input code, instead of driven rows,
and t_read = (2^dac_bits - 1) x pulse_period_s + t_conv (``bit_planes``: the bit-serial
activity of the same input). With ``pim.allow_multiplex: false`` a layer needing more than ``num_arrays`` arrays is a
SimulationError (a fixed macro cannot hold it). When the layer needs A <= num_arrays arrays, its weights are
duplicated into D = floor(num_arrays / A) copies that process D output positions at once;
beyond, arrays are time-multiplexed: t_layer = ceil(positions / D) x ceil(A / num_arrays)
x max_i G_i x P x t_read per pass. The layer's LIF updates run on
the digital core as for any layer.
"""

from __future__ import annotations

import math

from pimsim.activity import LayerActivity, PimActivity
from pimsim.config import HardwareConfig
from pimsim.errors import SimulationError
from pimsim.models import adc
from pimsim.models.base import LayerCost, ceil_div, empty_ops, static_power_w
from pimsim.models.digital import neuron_memory, sram_energy
from pimsim.trace import LayerSpec


def pim_geometry(spec: LayerSpec, cfg: HardwareConfig) -> dict[str, int]:
    """Rows, slices, arrays and row groups of a layer mapped onto the macro."""
    p = cfg.pim
    k_rows = spec.fan_in
    slices = ceil_div(spec.weight_bits, p.bits_per_cell)
    cols_used = spec.out_channels * slices
    row_arrays = ceil_div(k_rows, p.rows)
    col_arrays = ceil_div(cols_used, p.cols)
    groups = [ceil_div(min(p.rows, k_rows - i * p.rows), p.rows_per_read)
              for i in range(row_arrays)]
    return {"k_rows": k_rows, "slices": slices, "cols_used": cols_used,
            "row_arrays": row_arrays, "col_arrays": col_arrays,
            "arrays": row_arrays * col_arrays, "row_groups": sum(groups),
            "max_groups": max(groups)}


def input_phases(cfg: HardwareConfig, input_bits: int) -> tuple[int, int]:
    """(phases per input, bits per phase): bit-serial -> (input_bits, 1), DAC -> (ceil(b/g), g)."""
    if cfg.pim.input_mode == "bit_serial":
        return input_bits, 1
    g = cfg.pim.dac_bits
    return math.ceil(input_bits / g), g


def check_fits(spec: LayerSpec, cfg: HardwareConfig, *, input_bits: int, trace_file: str
               ) -> None:
    """Reject a layer whose precision (or, for a fixed macro, size) the macro cannot hold."""
    p = cfg.pim
    if not p.allow_multiplex:
        geo = pim_geometry(spec, cfg)
        if geo["arrays"] > p.num_arrays:
            raise SimulationError(
                f"layer {spec.name} needs {geo['arrays']} arrays of {p.rows}x{p.cols} "
                f"({geo['k_rows']} rows x {geo['cols_used']} columns) but the macro has "
                f"pim.num_arrays={p.num_arrays} and pim.allow_multiplex is false",
                file=trace_file, key="pim.num_arrays")
    if spec.weight_bits > p.max_weight_bits:
        raise SimulationError(
            f"layer {spec.name} has {spec.weight_bits}-bit weights but the PIM macro supports "
            f"at most pim.max_weight_bits={p.max_weight_bits}", file=trace_file,
            key=f"meta.layers[0].weight_bits ({spec.name})")
    if input_bits > p.max_input_bits:
        raise SimulationError(
            f"the trace's {input_bits}-bit input exceeds pim.max_input_bits={p.max_input_bits}",
            file=trace_file, key="meta.input_bits")


def cost_pim_layer(spec: LayerSpec, act: LayerActivity, pact: PimActivity,
                   cfg: HardwareConfig, *, n: int, t: int, input_bits: int,
                   bit_planes: PimActivity | None = None) -> LayerCost:
    """Cost of the analog first layer on the PIM macro plus its LIF updates on the core."""
    p, d = cfg.pim, cfg.digital
    geo = pim_geometry(spec, cfg)
    phases, _ = input_phases(cfg, input_bits)
    passes = 1 if d.first_layer_reuse else t
    positions = spec.out_positions
    driven = int(pact.driven_rows.sum())  # over samples and positions, one pass
    conv_cols = spec.out_channels if p.analog_weight_combine else geo["cols_used"]
    conversions = positions * n * passes * phases * geo["row_groups"] * conv_cols
    ops = empty_ops()
    ops["adc_conversions"] = conversions
    ops["macs"] = spec.out_channels * act.events * n * passes  # logical MACs done in memory

    e_adc = adc.conversion_energy_j(cfg)
    pulse = p.input_mode == "dac" and p.dac_kind == "pulse_count"
    # pulse_count: a code k fires k RWL pulses; total pulses = sum_k 2^k x (rows whose input
    # bit k is 1), from the bit-serial planes of the same input
    fired = int(sum((1 << k) * int(v) for k, v in enumerate(bit_planes.driven_rows))
                ) if pulse and bit_planes is not None else driven
    e_wl = fired * passes * geo["col_arrays"] * p.e_wordline_j
    e_cell = fired * passes * geo["cols_used"] * p.e_cell_j
    e_dac = driven * passes * geo["col_arrays"] * p.e_dac_j if p.input_mode == "dac" else 0.0
    e_conv = conversions * e_adc
    e_sa = conversions * p.e_shift_add_j

    # conversions one ADC makes in sequence per read: its columns, or its weights when the
    # slice columns of a weight are combined before the ADC
    seq = ceil_div(p.cols_per_adc, geo["slices"]) if p.analog_weight_combine else p.cols_per_adc
    t_conv = adc.conversion_time_s(cfg) * seq
    if p.t_read_s is not None:
        t_read = p.t_read_s
    elif pulse and p.pulse_period_s is not None:
        t_read = ((1 << p.dac_bits) - 1) * p.pulse_period_s + t_conv
    else:
        t_read = max(p.t_bitline_s, t_conv)
    copies = max(1, p.num_arrays // geo["arrays"])
    t_pos = ceil_div(geo["arrays"], p.num_arrays) * geo["max_groups"] * phases * t_read
    t_pim = ceil_div(positions, copies) * passes * t_pos  # per inference

    nops, e_neuron = neuron_memory(spec, cfg, n=n, t=t, last=False)
    tiles = ceil_div(spec.out_channels, d.pe_cols)
    pos_tiles = act.tiles_per_step
    update_cycles = tiles * pos_tiles * d.neuron_update_cycles * t  # per inference
    in_read = spec.in_size * input_bits * n * passes
    reads = {"spike": in_read, "membrane": nops["sram_read_bits"]}
    writes = {"membrane": nops["sram_write_bits"]}
    ops["neuron_updates"] = nops["neuron_updates"]
    # partial sums from row groups / slices are combined in the shift-add, not in SRAM
    ops["sram_read_bits"] = sum(reads.values())
    ops["sram_write_bits"] = sum(writes.values())
    ops["dram_bits"] = nops["dram_bits"]
    delay = t_pim + update_cycles / cfg.tech.clock_hz
    cycles = delay * cfg.tech.clock_hz
    mem = cfg.memory
    p_leak = static_power_w(cfg, with_pim=True)
    breakdown = {
        "pim_wordline": e_wl / n,
        "pim_cell": e_cell / n,
        "pim_dac": e_dac / n,
        "pim_adc": e_conv / n,
        "pim_shift_add": e_sa / n,
        "neuron_update": e_neuron / n,
        "sram": sram_energy(cfg, reads, writes) / n,
        "dram": (ops["dram_bits"] * mem.dram_j_per_bit / n) if cfg.accounting.memory else 0.0,
        "leakage": p_leak * delay,
    }
    return LayerCost(
        name=spec.name, engine="pim", cycles=cycles, delay_s=delay, ops=ops,
        energy_breakdown_j=breakdown,
        detail={"arrays": geo["arrays"], "copies": copies, "row_groups": geo["row_groups"], "phases": phases,
                "t_read_s": t_read, "pim_time_s": t_pim},
    )
