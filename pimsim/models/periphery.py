"""Periphery of an SRAM compute-in-memory macro: equations for the energy real macros spend
around the cell array (issue 12, "PIM macro v2"; used by :mod:`pimsim.models.pim` with
``pim.macro_model: periphery``, docs/model.md §5.4).

Every function is a pure function of explicit arguments (SI units: J, F, V, m, s, ohm) and
broadcasts with numpy, so a sweep passes arrays. Nothing is read from a config and there are
no module constants: the caller passes the macro's published properties (node, supply,
rows, columns, cell area, precisions, ADC kind) and the shared model constants of the
config's ``periphery`` section (:class:`pimsim.config.Periphery`), each of which cites its
source in :data:`pimsim.config.DEFAULT_SOURCES` and docs/sources.md §6e. In the docstrings
below those constants are named by their config key, e.g. ``c_gate_f``.

Energy convention. Charging a capacitance C from 0 to a swing dV out of a supply V draws the
charge C dV from the supply, i.e. E = C V dV from the supply; a full-swing node that is
charged and discharged once (one pulse, one toggle pair) costs E = C V^2. Every function
below returns energy drawn from the supply.

Unit gate. C_g(node) = ``c_gate_f`` x node / ``gate_ref_node_nm`` (:func:`gate_cap_f`): the
input capacitance of a NAND2 gate (ZigZag-IMC's ``unit_cap``, 0.7 fF at 28 nm), carried to
another node linearly in the feature size, the rule ZigZag-IMC applies between 28 and 22 nm.
Digital cells are multiples of it: a flip-flop ``k_ff`` = 3 unit caps per clock, a full adder
``k_fa`` = 6 per bit, a bitline's share of one cell ``k_cell_bl`` = 1/2, a wordline's share
``k_cell_wl`` = 1/4 (an assumption: one minimum access gate).
"""

from __future__ import annotations

from typing import Any

import numpy as np

Num = Any  # float or numpy array (broadcasting)


def _a(x: Num) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _out(x: np.ndarray) -> Num:
    return float(x) if np.ndim(x) == 0 else x


# --------------------------------------------------------------------------- devices, wires

def gate_cap_f(node_nm: Num, c_ref_f: Num, ref_node_nm: Num) -> Num:
    """Unit (NAND2) gate input capacitance at ``node_nm``, F.

    C_g(node) = c_ref x node / ref_node (linear in the feature size, the rule ZigZag-IMC
    applies from 28 to 22 nm). c_ref, ref_node: ``periphery.c_gate_f``
    (ZigZag-IMC unit_cap, 0.7 fF) and ``periphery.gate_ref_node_nm`` (28 nm).
    """
    return _out(_a(c_ref_f) * _a(node_nm) / ref_node_nm)


def cell_pitch_m(cell_area_m2: Num, aspect: Num = 1.0) -> tuple[Num, Num]:
    """(pitch along a row = cell width, pitch along a column = cell height), m.

    width = sqrt(A x aspect), height = sqrt(A / aspect), aspect = width / height; A is the
    published bitcell area (m^2) where the paper gives it.
    """
    a, r = _a(cell_area_m2), _a(aspect)
    return _out(np.sqrt(a * r)), _out(np.sqrt(a / r))


def line_cap_f(n_cells: Num, pitch_m: Num, c_cell_f: Num, c_wire_f_per_m: Num) -> Num:
    """Capacitance of a line (wordline or bitline) across ``n_cells`` cells, F.

    C_line = n_cells x (c_wire x pitch + c_cell): the wire over the cells plus each cell's
    device load (gate for a wordline, drain for a bitline).
    """
    n = _a(n_cells)
    return _out(n * (c_wire_f_per_m * _a(pitch_m) + _a(c_cell_f)))


def switch_energy_j(c_f: Num, vdd_v: Num, swing_v: Num | None = None,
                    events: Num = 1.0) -> Num:
    """Supply energy of ``events`` charge events of a capacitance, J.

    E = events x C x V x dV (dV = V when ``swing_v`` is None: a full-swing node costs C V^2
    per charge/discharge pair). Charge drawn from the supply is C dV at voltage V.
    """
    v = _a(vdd_v)
    dv = v if swing_v is None else _a(swing_v)
    return _out(_a(events) * _a(c_f) * v * dv)


# --------------------------------------------------------------------------- array lines

def wordline_energy_j(n_drives: Num, cols: Num, pitch_m: Num, c_gate_unit_f: Num,
                      vdd_v: Num, k_cell: Num, c_wire_f_per_m: Num) -> Num:
    """Read-wordline energy, J: ``n_drives`` full-swing pulses of a wordline of ``cols`` cells.

    E = n_drives x cols x (c_wire x pitch + k_cell x C_g) x V^2.

    n_drives: rows driven x pulses per row (a pulse-count input code k is k pulses; a level
    or bit-serial input is one drive per driven row). pitch: cell width (m, published cell
    area via :func:`cell_pitch_m`). Shared constants: c_wire (NeuroSim), k_cell x C_g
    (ZigZag-IMC unit cap, ``k_cell_wl`` assumption).
    """
    c = line_cap_f(cols, pitch_m, k_cell * _a(c_gate_unit_f), c_wire_f_per_m)
    return switch_energy_j(c, vdd_v, None, n_drives)


def bitline_energy_j(n_reads: Num, cols: Num, rows: Num, pitch_m: Num, c_gate_unit_f: Num,
                     vdd_v: Num, swing_v: Num, k_cell: Num, c_wire_f_per_m: Num) -> Num:
    """Bitline precharge energy, J: restoring ``cols`` bitlines of ``rows`` cells per read.

    E = n_reads x cols x rows x (c_wire x pitch + k_cell x C_g) x V x dV.

    dV (``swing_v``, V) is the mean bitline swing per read: input-independent when the
    bitlines are precharged (or the compute lines reset) at every read whatever the data
    (dV = the designed swing), data-dependent in current-domain readout (dV proportional to
    the MAC value). pitch: cell height (m). Shared constants: c_wire (NeuroSim), ``k_cell_bl`` x
    C_g (ZigZag-IMC: unit_cap / 2 per cell).
    """
    c = line_cap_f(rows, pitch_m, k_cell * _a(c_gate_unit_f), c_wire_f_per_m)
    return _out(_a(n_reads) * _a(cols) * _a(switch_energy_j(c, vdd_v, swing_v)))


def compute_cap_energy_j(n_charged: Num, c_unit_f: Num, vdd_v: Num,
                         swing_v: Num | None = None) -> Num:
    """Computation (charge-sharing) capacitor energy, J.

    E = n_charged x C_unit x V x dV: each unit capacitor charged to dV (V when None) from the
    supply, then shared (charge sharing itself draws nothing from the supply; the reset
    discharges to ground). n_charged: unit caps charged per read summed over reads, e.g.
    cells x P(product = 1) for one-cap-per-cell designs, or the binary-weighted caps
    (2^w - 1 units per weight) when the weight columns are combined by charge sharing.
    C_unit is a macro property (the published capacitor) or the caller's shared default.
    """
    return switch_energy_j(c_unit_f, vdd_v, swing_v, n_charged)


def charge_domain_cells_energy_j(n_cell_reads: Num, vdd_v: Num, c_cd_f: Num) -> Num:
    """Charge-domain compute energy of the cells themselves, J.

    E = n_cell_reads x c_cd x V^2: each active cell's compute node (capacitor, local
    driver, its share of the compute line) switched once per read whatever the data
    (reset and evaluate). n_cell_reads: active cells x reads (x input phases for bit-serial
    inputs). c_cd: ``periphery.cd_cell_f`` (from Jia et al. JSSC 2020 Table I).
    """
    return _out(_a(n_cell_reads) * c_cd_f * _a(vdd_v) ** 2)


# --------------------------------------------------------------------------- sensing, ADCs

def sense_amp_energy_j(n_decisions: Num, c_gate_unit_f: Num, vdd_v: Num, k_sa: Num) -> Num:
    """Latch-type sense amplifier / comparator energy, J.

    E = n_decisions x k_sa x C_g x V^2 (a clocked latch switches about a flip-flop's
    capacitance: k_sa = ``k_ff`` = 3 unit caps, ZigZag-IMC UnitDff; a kT/C-limited input pair at
    the 4-8 b LSBs of CIM readouts is far below this and is not a separate term).
    """
    return _out(_a(n_decisions) * k_sa * _a(c_gate_unit_f) * _a(vdd_v) ** 2)


def sar_adc_energy_j(n_conversions: Num, bits: Num, vdd_v: Num, k1_f: Num, k2_f: Num) -> Num:
    """SAR ADC energy, J: E = n_conversions x (k1 b + k2 4^b) x V^2.

    k1 b: b comparator decisions with their SAR logic and reference switching; k2 4^b: the
    capacitive DAC, whose unit capacitor grows with the matching a b-bit DAC needs
    (ZigZag-IMC ADC model, fitted at 22/28 nm on in-macro ADCs; node-free in that model).
    """
    b = _a(bits)
    return _out(_a(n_conversions) * (k1_f * b + k2_f * 4.0 ** b) * _a(vdd_v) ** 2)


def flash_adc_energy_j(n_conversions: Num, bits: Num, c_gate_unit_f: Num, vdd_v: Num,
                       k_cmp: Num, k_enc: Num) -> Num:
    """Flash ADC energy (comparators + thermometer encoder), J; the reference ladder is
    :func:`reference_ladder_energy_j`.

    E = n_conversions x (2^b - 1) x (k_cmp + k_enc) x C_g x V^2: 2^b - 1 latch comparators
    (k_cmp unit caps each, as :func:`sense_amp_energy_j`) and one encoder gate per
    thermometer bit (k_enc = 1 unit cap).
    """
    m = 2.0 ** _a(bits) - 1.0
    return _out(_a(n_conversions) * m * (k_cmp + k_enc) * _a(c_gate_unit_f) * _a(vdd_v) ** 2)


def reference_ladder_energy_j(vdd_v: Num, r_ladder_ohm: Num, t_on_s: Num,
                              n_sharing: Num = 1.0) -> Num:
    """Static energy of a resistor reference ladder per conversion, J.

    E = V^2 / R x t_on / n_sharing: the ladder (total resistance R across the supply)
    conducts for t_on (the conversion window) and serves n_sharing ADCs at once.
    """
    return _out(_a(vdd_v) ** 2 / _a(r_ladder_ohm) * _a(t_on_s) / _a(n_sharing))


def adc_clock_energy_j(n_conversions: Num, bits: Num, c_gate_unit_f: Num, vdd_v: Num,
                       kind: str, k_ff: Num) -> Num:
    """Clock/sequencing energy of an ADC's digital state per conversion, J.

    SAR: b register bits clocked b times (b^2 flip-flop clocks); flash: one output register
    of b bits clocked once. E = n_conversions x clocks x k_ff x C_g x V^2 (ZigZag-IMC UnitDff).
    Use it when the ADC energy model in use does not already contain its logic (the
    ZigZag-IMC SAR coefficients already do; a comparator-only flash model does not).
    """
    b = _a(bits)
    clocks = b * b if kind == "sar" else b
    return _out(_a(n_conversions) * clocks * k_ff * _a(c_gate_unit_f) * _a(vdd_v) ** 2)


def sar_adc_area_m2(bits: Num, log10_um2_per_bit: Num, log10_um2_offset: Num) -> Num:
    """Area of one SAR ADC fitted on in-macro ADCs, m^2 (ZigZag-IMC ADC.calculate_area).

    A = 10^(slope x b + offset) x 2^b um^2 (ZigZag-IMC: slope -0.0369, offset 1.206, fitted
    for b < 12; ``periphery.sar_area_log10_um2_per_bit`` and ``..._offset``). Node-free, as
    in ZigZag-IMC: the capacitive DAC's area is set by matching, not by the feature size.
    """
    b = _a(bits)
    um2 = 10.0 ** (_a(log10_um2_per_bit) * b + _a(log10_um2_offset)) * 2.0 ** b
    return _out(um2 * 1e-12)


def adc_strip_height_m(n_adc: Num, adc_area_m2: Num, width_m: Num) -> Num:
    """Height of the strip that ``n_adc`` ADCs of ``adc_area_m2`` need under an array of
    width ``width_m`` (cols x cell width), m: h = n_adc x A_adc / width."""
    return _out(_a(n_adc) * _a(adc_area_m2) / _a(width_m))


def min_cols_per_adc(adc_area_m2: Num, col_pitch_m: Num, max_height_m: Num) -> Num:
    """Smallest column-mux ratio that lets one ADC fit the pitch of the columns it serves.

    An ADC under m columns has the width m x col_pitch; with a strip no taller than
    max_height, m >= A_adc / (col_pitch x max_height): m = ceil(A_adc / (pitch x h_max))
    (at least 1).
    """
    m = np.ceil(_a(adc_area_m2) / (_a(col_pitch_m) * _a(max_height_m)) - 1e-9)
    return _out(np.maximum(1.0, m))


# --------------------------------------------------------------------------- input side

def pulse_generator_energy_j(n_rows: Num, bits: Num, c_gate_unit_f: Num, vdd_v: Num,
                             n_phases: Num, k_ff: Num) -> Num:
    """Row pulse generators (a b-bit down-counter per row), J.

    E = n_phases x n_rows x b x (2^b - 1) x k_ff x C_g x V^2: each row's b-bit counter is
    clocked on the 2^b - 1 pulse slots of a phase whatever its code (input-independent; the
    pulses themselves are wordline energy, :func:`wordline_energy_j`).
    """
    b = _a(bits)
    clocks = b * (2.0 ** b - 1.0)
    return _out(_a(n_phases) * _a(n_rows) * clocks * k_ff * _a(c_gate_unit_f)
                * _a(vdd_v) ** 2)


def voltage_dac_energy_j(n_conversions: Num, bits: Num, vdd_v: Num, k0_f: Num) -> Num:
    """Voltage-level input DAC energy, J: E = n_conversions x k0 x b x V^2 (ZigZag-IMC
    dac_energy_k0 = 50 fF)."""
    return _out(_a(n_conversions) * k0_f * _a(bits) * _a(vdd_v) ** 2)


# --------------------------------------------------------------------------- digital side

def column_mux_energy_j(n_conversions: Num, mux_ratio: Num, c_gate_unit_f: Num,
                        vdd_v: Num, k_mux: Num) -> Num:
    """Column multiplexer select energy, J.

    E = n_conversions x [mux_ratio > 1] x 2 x k_mux x C_g x V^2: each conversion switches
    one transmission gate on and the previous one off (two select lines of one unit cap
    each); a 1:1 connection has no mux.
    """
    sel = np.where(_a(mux_ratio) > 1, 2.0, 0.0)
    return _out(_a(n_conversions) * sel * k_mux * _a(c_gate_unit_f) * _a(vdd_v) ** 2)


def adder_energy_j(n_adds: Num, bits: Num, c_gate_unit_f: Num, vdd_v: Num, k_fa: Num) -> Num:
    """Ripple-carry adder energy, J: E = n_adds x bits x k_fa x C_g x V^2 (ZigZag-IMC Adder:
    6 unit caps per full adder)."""
    return _out(_a(n_adds) * _a(bits) * k_fa * _a(c_gate_unit_f) * _a(vdd_v) ** 2)


def adder_tree_full_adders(n_inputs: Num, in_bits: Num) -> Num:
    """One-bit full adders in a binary adder tree summing ``n_inputs`` operands of ``in_bits``.

    Level l (1-based) has floor(n / 2^l) adders of (in_bits + l - 1) bits (an odd operand
    passes to the next level); summed over levels up to ceil(log2 n). Exact for powers of
    two: n = 2^L gives sum_l 2^(L-l) (b + l - 1).
    """
    n = np.atleast_1d(_a(n_inputs)).astype(int)
    b = np.broadcast_to(_a(in_bits), n.shape).astype(float)
    out = np.zeros(n.shape)
    for i in np.ndindex(n.shape):
        k, level, total = int(n[i]), 1, 0.0
        while k > 1:
            total += (k // 2) * (b[i] + level - 1)
            k = k // 2 + k % 2
            level += 1
        out[i] = total
    return _out(out.reshape(np.shape(n_inputs)))


def adder_tree_energy_j(n_trees: Num, n_inputs: Num, in_bits: Num, c_gate_unit_f: Num,
                        vdd_v: Num, k_fa: Num) -> Num:
    """Adder-tree energy, J: E = n_trees x N_FA(n_inputs, in_bits) x k_fa x C_g x V^2
    (:func:`adder_tree_full_adders`; ZigZag-IMC AdderTree: 1-bit adders x adder energy)."""
    fa = _a(adder_tree_full_adders(n_inputs, in_bits))
    return _out(_a(n_trees) * fa * k_fa * _a(c_gate_unit_f) * _a(vdd_v) ** 2)


def shift_add_energy_j(n_accumulates: Num, acc_bits: Num, c_gate_unit_f: Num, vdd_v: Num,
                       k_fa: Num, k_ff: Num) -> Num:
    """Shift-and-add accumulator energy, J: one acc_bits add plus one acc_bits register
    update per accumulate. E = n x acc_bits x (k_fa + k_ff) x C_g x V^2 (the shift is
    wiring)."""
    return _out(_a(n_accumulates) * _a(acc_bits) * (k_fa + k_ff) * _a(c_gate_unit_f)
                * _a(vdd_v) ** 2)


def register_energy_j(n_bit_clocks: Num, c_gate_unit_f: Num, vdd_v: Num, k_ff: Num) -> Num:
    """Flip-flop energy, J: E = n_bit_clocks x k_ff x C_g x V^2 (ZigZag-IMC UnitDff)."""
    return _out(_a(n_bit_clocks) * k_ff * _a(c_gate_unit_f) * _a(vdd_v) ** 2)


def control_energy_j(n_reads: Num, rows: Num, cols: Num, c_gate_unit_f: Num, vdd_v: Num,
                     k_ctrl: Num) -> Num:
    """Control and timing per read, J: one clocked state bit per row driver and per column
    readout enable (the timing chain that sequences precharge, evaluation and sampling).

    E = n_reads x (rows + cols) x k_ctrl x C_g x V^2 (k_ctrl = ``k_ff``: one flip-flop per line;
    an assumption on the structure, with the ZigZag-IMC flip-flop cost).
    """
    return _out(_a(n_reads) * (_a(rows) + _a(cols)) * k_ctrl * _a(c_gate_unit_f)
                * _a(vdd_v) ** 2)
