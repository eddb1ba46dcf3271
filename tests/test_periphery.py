"""pimsim.models.periphery: hand-derived tiny cases for every equation, and properties
(energy linear in each per-op constant and in the event counts, supply scaling V^2,
monotone in rows/columns where it must be, numpy broadcasting).

Every expected number below is worked out by hand in the comment next to it, from the
equation in the function's docstring, not by calling the code. The module has no constants
of its own: the shared ones are the config's ``periphery`` section (``Q`` below)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimsim.config import DEFAULT_SOURCES, Periphery
from pimsim.models import periphery as pp

QUICK = settings(max_examples=40, deadline=None)
fF = 1e-15
um = 1e-6
REL = 1e-12
Q = Periphery()
CW, KWL, KBL, KFF, KFA = Q.c_wire_f_per_m, Q.k_cell_wl, Q.k_cell_bl, Q.k_ff, Q.k_fa
K1, K2 = 100 * fF, 0.001 * fF  # ZigZag-IMC's own SAR coefficients (hand cases)
AREA = (Q.sar_area_log10_um2_per_bit, Q.sar_area_log10_um2_offset)


def close(a, b, rel=REL):
    return a == pytest.approx(b, rel=rel, abs=0.0)


# ------------------------------------------------------------------ shared constants

def test_shared_constants_are_the_sourced_values():
    # 0.2 fF/um (NeuroSim via CiMLoop), 0.7 fF at 28 nm, FF 3, FA 2 x 1.5 + 3 = 6,
    # bitline 1/2, wordline 1/4 (assumption), SAR k2 0.001 fF, DAC k0 50 fF (ZigZag-IMC)
    assert close(Q.c_wire_f_per_m, 0.2 * fF / um)
    assert close(Q.c_gate_f, 0.7 * fF) and Q.gate_ref_node_nm == 28.0
    assert (Q.k_ff, Q.k_fa, Q.k_cell_bl, Q.k_cell_wl, Q.k_mux) == (3.0, 6.0, 0.5, 0.25, 1.0)
    for got, want in ((Q.sar_k2_f, 0.001 * fF), (Q.dac_k0_f, 50 * fF),
                      (Q.unit_cap_f, 1 * fF)):
        assert close(got, want)
    assert AREA == (-0.0369, 1.206)
    # every constant cites its source
    for key in Q.model_dump():
        assert len(DEFAULT_SOURCES[f"periphery.{key}"]) > 30, key


def test_macro_derived_constants():
    # k1 = (1.79 pJ / 0.85^2 - 0.001 fF x 65536) / 8 = (2477.509 - 65.536) fF / 8 = 301.497 fF,
    # stored rounded to 301.5 fF
    assert close(Q.sar_k1_f, 301.4966e-15, rel=2e-5)
    # and it gives back 1.79 pJ for one 8-b conversion at 0.85 V
    assert close(pp.sar_adc_energy_j(1, 8, 0.85, Q.sar_k1_f, Q.sar_k2_f), 1.79e-12, rel=2e-5)
    assert close(Q.cd_cell_f, 5.33e-15)


# ------------------------------------------------------------------ hand-derived cases

def test_gate_cap_linear_in_node():
    # 0.7 fF x 56 / 28 = 1.4 fF; x 7 / 28 = 0.175 fF
    assert close(pp.gate_cap_f(56, Q.c_gate_f, 28.0), 1.4 * fF)
    assert close(pp.gate_cap_f(7, Q.c_gate_f, 28.0), 0.175 * fF)
    out = pp.gate_cap_f(np.array([28.0, 14.0]), 0.7 * fF, 28.0)
    assert np.allclose(out, [0.7 * fF, 0.35 * fF], rtol=REL, atol=0)


def test_cell_pitch():
    # A = 4 um^2, square: 2 um x 2 um; aspect (w/h) 4: w = sqrt(16) = 4 um, h = sqrt(1) = 1 um
    assert np.allclose(pp.cell_pitch_m(4e-12), (2 * um, 2 * um), rtol=REL, atol=0)
    assert np.allclose(pp.cell_pitch_m(4e-12, 4.0), (4 * um, 1 * um), rtol=REL, atol=0)


def test_line_cap_and_switch_energy():
    # 100 cells x (0.2 fF/um x 1 um + 0.1 fF) = 100 x 0.3 fF = 30 fF
    assert close(pp.line_cap_f(100, 1 * um, 0.1 * fF, CW), 30 * fF)
    # full swing: 10 fF x 1 V x 1 V = 10 fJ; 4 events of a 0.5 V swing at 1 V: 4 x 10 x 0.5
    assert close(pp.switch_energy_j(10 * fF, 1.0), 10 * fF)
    assert close(pp.switch_energy_j(10 * fF, 1.0, 0.5, 4), 20 * fF)


def test_wordline_energy():
    # per cell 0.2 fF/um x 1 um + 0.25 x 0.4 fF = 0.3 fF; 100 cells = 30 fF; 1 V^2; 10 drives
    # -> 300 fJ
    assert close(pp.wordline_energy_j(10, 100, 1 * um, 0.4 * fF, 1.0, KWL, CW), 300 * fF)
    # same at 0.5 V: x 0.25 -> 75 fJ
    assert close(pp.wordline_energy_j(10, 100, 1 * um, 0.4 * fF, 0.5, KWL, CW), 75 * fF)


def test_bitline_energy():
    # per cell 0.2 fF + 0.5 x 0.4 fF = 0.4 fF; 10 rows = 4 fF per bitline;
    # 2 reads x 4 bitlines x 4 fF x 1 V x 0.5 V = 16 fJ
    assert close(pp.bitline_energy_j(2, 4, 10, 1 * um, 0.4 * fF, 1.0, 0.5, KBL, CW), 16 * fF)


def test_compute_cap_energy():
    # 15 unit caps of 1 fF charged full swing at 0.8 V: 15 x 1 fF x 0.64 V^2 = 9.6 fJ
    assert close(pp.compute_cap_energy_j(15, 1 * fF, 0.8), 9.6 * fF)
    # to 0.2 V from 0.8 V: 15 x 1 fF x 0.8 x 0.2 = 2.4 fJ
    assert close(pp.compute_cap_energy_j(15, 1 * fF, 0.8, 0.2), 2.4 * fF)


def test_charge_domain_cells_energy():
    # 2304 cells x 5.33 fF x 0.85^2 V^2 = 2304 x 5.33 x 0.7225 fJ = 8872.7 fJ
    assert close(pp.charge_domain_cells_energy_j(2304, 0.85, 5.33 * fF), 2304 * 5.33 * 0.7225 * fF)
    # explicit capacitance: 10 cells x 2 fF x 1 V^2 = 20 fJ
    assert close(pp.charge_domain_cells_energy_j(10, 1.0, 2 * fF), 20 * fF)


def test_sense_amp_energy():
    # 10 decisions x 3 unit caps x 1 fF x 1 V^2 = 30 fJ
    assert close(pp.sense_amp_energy_j(10, 1 * fF, 1.0, KFF), 30 * fF)


def test_sar_adc_energy():
    # 8 b at 1 V: 100 fF x 8 + 0.001 fF x 4^8 = 800 + 65.536 = 865.536 fJ
    assert close(pp.sar_adc_energy_j(1, 8, 1.0, K1, K2), 865.536 * fF)
    # 4 b at 0.5 V, 3 conversions: 3 x (400 + 0.256) fF x 0.25 = 300.192 fJ
    assert close(pp.sar_adc_energy_j(3, 4, 0.5, K1, K2), 300.192 * fF)


def test_flash_adc_energy():
    # 4 b: 15 comparators x (3 + 1) unit caps x 1 fF x 1 V^2 = 60 fJ; 2 conversions: 120 fJ
    assert close(pp.flash_adc_energy_j(1, 4, 1 * fF, 1.0, KFF, 1.0), 60 * fF)
    assert close(pp.flash_adc_energy_j(2, 4, 1 * fF, 1.0, KFF, 1.0), 120 * fF)


def test_reference_ladder_energy():
    # (1 V)^2 / 10 kohm x 5 ns / 16 ADCs = 1e-4 W x 5e-9 s / 16 = 3.125e-14 J
    assert close(pp.reference_ladder_energy_j(1.0, 10e3, 5e-9, 16), 3.125e-14)


def test_adc_clock_energy():
    # SAR 8 b: 8 x 8 = 64 flip-flop clocks x 3 fF x 1 V^2 = 192 fJ; flash 4 b: 4 x 3 = 12 fJ
    assert close(pp.adc_clock_energy_j(1, 8, 1 * fF, 1.0, "sar", KFF), 192 * fF)
    assert close(pp.adc_clock_energy_j(1, 4, 1 * fF, 1.0, "flash", KFF), 12 * fF)


def test_sar_adc_area():
    # 8 b: 10^(-0.0369 x 8 + 1.206) x 256 = 10^0.9108 x 256 = 8.143 x 256 = 2085 um^2
    assert close(pp.sar_adc_area_m2(8, *AREA), 10 ** 0.9108 * 256 * 1e-12, rel=1e-9)
    # 6 b: 10^(1.206 - 0.2214) x 64 = 10^0.9846 x 64 um^2
    assert close(pp.sar_adc_area_m2(6, *AREA), 10 ** 0.9846 * 64 * 1e-12, rel=1e-9)
    # a flat fit (slope 0, offset 0): 1 um^2 per step, 2^4 = 16 um^2
    assert close(pp.sar_adc_area_m2(4, 0.0, 0.0), 16e-12)


def test_adc_strip_and_mux_ratio():
    # 16 ADCs of 1000 um^2 under a 100 um wide array: 16 x 1e-9 m^2 / 1e-4 m = 160 um
    assert close(pp.adc_strip_height_m(16, 1000e-12, 100 * um), 160 * um)
    # 2000 um^2 ADC, 1 um columns, 500 um strip: 2000 / (1 x 500) = 4 columns exactly
    assert pp.min_cols_per_adc(2000e-12, 1 * um, 500 * um) == 4.0
    # a little more area needs a fifth column; a tiny ADC still serves at least one
    assert pp.min_cols_per_adc(2001e-12, 1 * um, 500 * um) == 5.0
    assert pp.min_cols_per_adc(1e-15, 1 * um, 500 * um) == 1.0


def test_pulse_generator_energy():
    # 64 rows x 4-bit counter x 15 slots x 3 fF x 1 V^2 = 64 x 60 x 3 fF = 11.52 pJ
    assert close(pp.pulse_generator_energy_j(64, 4, 1 * fF, 1.0, 1, KFF), 11520 * fF)
    # two phases double it
    assert close(pp.pulse_generator_energy_j(64, 4, 1 * fF, 1.0, 2, KFF), 23040 * fF)


def test_voltage_dac_energy():
    # 2 conversions x 50 fF x 8 b x 1 V^2 = 800 fJ
    assert close(pp.voltage_dac_energy_j(2, 8, 1.0, Q.dac_k0_f), 800 * fF)


def test_column_mux_energy():
    # 10 conversions x 2 select lines x 1 fF x 1 V^2 = 20 fJ; a 1:1 column has no mux
    assert close(pp.column_mux_energy_j(10, 4, 1 * fF, 1.0, 1.0), 20 * fF)
    assert pp.column_mux_energy_j(10, 1, 1 * fF, 1.0, 1.0) == 0.0


def test_adder_and_shift_add_and_register_energy():
    # 3 adds x 16 b x 6 fF = 288 fJ
    assert close(pp.adder_energy_j(3, 16, 1 * fF, 1.0, KFA), 288 * fF)
    # 10 accumulates x 16 b x (6 + 3) fF = 1440 fJ
    assert close(pp.shift_add_energy_j(10, 16, 1 * fF, 1.0, KFA, KFF), 1440 * fF)
    # 100 bit-clocks x 3 fF = 300 fJ
    assert close(pp.register_energy_j(100, 1 * fF, 1.0, KFF), 300 * fF)


def test_adder_tree_full_adders():
    # 4 x 8 b: level 1 two 8-b adders (16), level 2 one 9-b adder (9): 25
    assert pp.adder_tree_full_adders(4, 8) == 25
    # 3 x 4 b: level 1 one 4-b adder, the odd operand passes; level 2 one 5-b adder: 9
    assert pp.adder_tree_full_adders(3, 4) == 9
    # 8 x 1 b: 4 x 1 + 2 x 2 + 1 x 3 = 11; a single operand needs none
    assert pp.adder_tree_full_adders(8, 1) == 11
    assert pp.adder_tree_full_adders(1, 8) == 0
    assert np.array_equal(pp.adder_tree_full_adders(np.array([4, 8]), 1), [4.0, 11.0])
    # 2 trees x 25 full adders x 6 fF x 1 V^2 = 300 fJ
    assert close(pp.adder_tree_energy_j(2, 4, 8, 1 * fF, 1.0, KFA), 300 * fF)


def test_control_energy():
    # 2 reads x (64 + 64) lines x 3 fF x 1 V^2 = 768 fJ
    assert close(pp.control_energy_j(2, 64, 64, 1 * fF, 1.0, KFF), 768 * fF)


# ------------------------------------------------------------------ properties

pos = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)
count = st.integers(min_value=1, max_value=4096)
bits = st.integers(min_value=1, max_value=10)


@QUICK
@given(pos, pos, count, count)
def test_wordline_linear_in_each_constant(cw, cg, n, cols):
    """E(c_wire, C_g) = E(c_wire, 0) + E(0, C_g), and doubling either part doubles it."""
    cw, cg = cw * 1e-12, cg * 1e-18

    def e(w, g):
        return pp.wordline_energy_j(n, cols, 1 * um, g, 1.0, KWL, w)
    assert close(e(cw, cg), e(cw, 0.0) + e(0.0, cg), rel=1e-9)
    assert close(e(2 * cw, 0.0), 2 * e(cw, 0.0), rel=1e-9)
    assert close(e(0.0, 2 * cg), 2 * e(0.0, cg), rel=1e-9)


@QUICK
@given(pos, pos, bits, count)
def test_sar_linear_in_k1_k2_and_counts(k1, k2, b, n):
    k1, k2 = k1 * fF, k2 * fF

    def e(a, c, m=n):
        return pp.sar_adc_energy_j(m, b, 1.0, a, c)
    assert close(e(k1, k2), e(k1, 0.0) + e(0.0, k2), rel=1e-9)
    assert close(e(3 * k1, 3 * k2), 3 * e(k1, k2), rel=1e-9)
    assert close(e(k1, k2, 2 * n), 2 * e(k1, k2, n), rel=1e-9)


@QUICK
@given(pos, count, bits)
def test_gate_based_terms_linear_in_unit_cap(cg, n, b):
    """Every C_g-based energy doubles when the unit gate capacitance doubles."""
    cg = cg * 1e-18
    fns = [lambda g: pp.sense_amp_energy_j(n, g, 0.9, KFF),
           lambda g: pp.flash_adc_energy_j(n, min(b, 8), g, 0.9, KFF, 1.0),
           lambda g: pp.pulse_generator_energy_j(n, b, g, 0.9, 1, KFF),
           lambda g: pp.adder_energy_j(n, b, g, 0.9, KFA),
           lambda g: pp.adder_tree_energy_j(1, n, b, g, 0.9, KFA),
           lambda g: pp.shift_add_energy_j(n, b, g, 0.9, KFA, KFF),
           lambda g: pp.register_energy_j(n, g, 0.9, KFF),
           lambda g: pp.control_energy_j(1, n, n, g, 0.9, KFF),
           lambda g: pp.column_mux_energy_j(n, 4, g, 0.9, 1.0),
           lambda g: pp.adc_clock_energy_j(n, b, g, 0.9, "sar", KFF)]
    for f in fns:
        assert close(f(2 * cg), 2 * f(cg), rel=1e-9)


@QUICK
@given(st.floats(min_value=0.3, max_value=1.5), bits, count)
def test_full_swing_terms_scale_with_supply_squared(v, b, n):
    """Doubling V quadruples every full-swing energy."""
    fns = [lambda x: pp.sar_adc_energy_j(n, b, x, K1, K2),
           lambda x: pp.voltage_dac_energy_j(n, b, x, Q.dac_k0_f),
           lambda x: pp.wordline_energy_j(n, 64, 1 * um, 1 * fF, x, KWL, CW),
           lambda x: pp.compute_cap_energy_j(n, 1 * fF, x),
           lambda x: pp.charge_domain_cells_energy_j(n, x, Q.cd_cell_f),
           lambda x: pp.pulse_generator_energy_j(n, b, 1 * fF, x, 1, KFF)]
    for f in fns:
        assert close(f(2 * v), 4 * f(v), rel=1e-9)


@QUICK
@given(count, count, count)
def test_monotone_in_rows_and_cols(r, c, extra):
    e_wl = pp.wordline_energy_j(10, c, 1 * um, 1 * fF, 1.0, KWL, CW)
    assert pp.wordline_energy_j(10, c + extra, 1 * um, 1 * fF, 1.0, KWL, CW) > e_wl
    e_bl = pp.bitline_energy_j(1, c, r, 1 * um, 1 * fF, 1.0, 0.3, KBL, CW)
    assert pp.bitline_energy_j(1, c, r + extra, 1 * um, 1 * fF, 1.0, 0.3, KBL, CW) > e_bl
    assert pp.bitline_energy_j(1, c + extra, r, 1 * um, 1 * fF, 1.0, 0.3, KBL, CW) > e_bl
    e_ct = pp.control_energy_j(1, r, c, 1 * fF, 1.0, KFF)
    assert pp.control_energy_j(1, r + extra, c, 1 * fF, 1.0, KFF) > e_ct
    assert pp.pulse_generator_energy_j(r + extra, 4, 1 * fF, 1.0, 1, KFF) > \
        pp.pulse_generator_energy_j(r, 4, 1 * fF, 1.0, 1, KFF)


@QUICK
@given(st.integers(min_value=1, max_value=512), st.integers(min_value=1, max_value=64),
       st.integers(min_value=1, max_value=16))
def test_adder_tree_monotone_and_power_of_two_formula(n, extra, b):
    assert pp.adder_tree_full_adders(n + extra, b) >= pp.adder_tree_full_adders(n, b)
    assert pp.adder_tree_full_adders(n, b + 1) >= pp.adder_tree_full_adders(n, b)
    level = int(np.log2(n)) if n > 1 else 0
    if n == 2 ** level and level > 0:   # sum_l 2^(L-l) (b + l - 1)
        expect = sum(2 ** (level - k) * (b + k - 1) for k in range(1, level + 1))
        assert pp.adder_tree_full_adders(n, b) == expect


@QUICK
@given(pos, pos, pos)
def test_mux_ratio_monotone(a, pitch, h):
    a, pitch, h = a * 1e-12, pitch * um, h * um
    m = pp.min_cols_per_adc(a, pitch, h)
    assert m >= 1 and m == int(m)
    assert pp.min_cols_per_adc(2 * a, pitch, h) >= m      # bigger ADC: more columns
    assert pp.min_cols_per_adc(a, 2 * pitch, h) <= m      # wider columns: fewer
    assert pp.min_cols_per_adc(a, pitch, 2 * h) <= m      # taller strip allowed: fewer
    assert m * pitch * h >= a * (1 - 1e-9)                # the ADC fits under m columns


def test_broadcasting_returns_arrays():
    v = np.array([0.6, 0.8, 1.0])
    out = pp.sar_adc_energy_j(1, 8, v, K1, K2)
    assert out.shape == (3,)
    # (800 + 65.536) fF x V^2
    assert np.allclose(out, 865.536 * fF * v ** 2, rtol=REL, atol=0)
    grid = pp.wordline_energy_j(1, np.array([[64], [128]]), 1 * um, 1 * fF, v, KWL, CW)
    assert grid.shape == (2, 3)
    assert isinstance(pp.sar_adc_energy_j(1, 8, 1.0, K1, K2), float)


# ------------------------------------------------------------------ the macro (pim.py)

def _macro_layer(tmp_path, over):
    """One analog linear layer of 8 inputs x 2 outputs with 2-bit weights on the tiny config
    (16 x 16 array, 8 rows per read, 1 bit per cell, 2 columns per ADC) at 28 nm, 1.0 V (so
    C_g = 0.7 fF exactly), 1 um^2 cells (1 um pitch); one sample, one step, 2-bit inputs
    x = [3, 1, 0, 2, 0, 0, 1, 3]: sum of codes 10, 5 non-zero."""
    from helpers import TINY_HW

    from pimsim.api import load_config, load_trace, simulate
    from pimsim.trace import LayerSpec, build_meta, save_trace

    spec = LayerSpec("fc0", "linear", (8,), (2,), (), (), (), "analog", "integrator", 1.0,
                     1.0, 0.1, 2)
    x = np.array([[3, 1, 0, 2, 0, 0, 1, 3]], np.uint8)
    meta = build_meta(dataset="test", model="test", layers=[spec], timesteps=1,
                      num_samples=1, input_bits=2, input_scale=1 / 3, weight_bits=2,
                      provenance={"data": "synthetic", "command": "test"})
    path = tmp_path / "m.npz"
    save_trace(path, meta=meta, input=x, weights={"fc0": np.ones((2, 8), np.int8)},
               spikes={}, labels=np.zeros(1, np.int64), predictions=np.zeros(1, np.int64))
    cfg = load_config(TINY_HW, {
        "tech.node_nm": 28, "tech.vdd_v": 1.0, "pim.enabled": True,
        "pim.macro_model": "periphery", "pim.adc_model": "sar_macro", "pim.adc_bits": 4,
        "pim.bits_per_cell": 1, "pim.cell_area_m2": 1e-12, "pim.input_mode": "dac",
        "pim.dac_bits": 2, "pim.pulse_period_s": 1e-9, **over})
    return simulate(cfg, load_trace(path)).layers[0]


def test_macro_pulse_count_current_readout_by_hand(tmp_path):
    c0 = _macro_layer(tmp_path, {"pim.dac_kind": "pulse_count",
                                 "pim.analog_weight_combine": True})
    parts, e = c0.detail["pim_parts_j"], c0.energy_breakdown_j
    # one read (G = 1 row group, 1 array, 1 phase); S = 2 slices, 4 columns, 2 conversions
    assert c0.ops["adc_conversions"] == 2
    # wordline: 10 pulses x 16 cells x (0.2 fF/um x 1 um + 0.25 x 0.7 fF) x 1 V^2 = 60 fJ
    assert close(parts["wordline"], 60 * fF, 1e-9)
    # control: 1 read x (8 + 16) lines x 3 x 0.7 fF = 50.4 fJ
    assert close(parts["control"], 50.4 * fF, 1e-9)
    # row counters: 8 rows x 2 bits x 3 slots x 3 x 0.7 fF = 100.8 fJ
    assert close(parts["pulse_generator"], 100.8 * fF, 1e-9)
    # bitlines: sum of MAC / full scale = (10 / 3) x 4 columns x 1/2 / 8 rows = 0.8333;
    # a bitline of 16 cells x (0.2 + 0.5 x 0.7) fF = 8.8 fF, at 1 V x 0.5 V: 3.667 fJ
    assert close(parts["bitline"], 10 / 3 * 4 * 0.5 / 8 * 8.8 * 0.5 * fF, 1e-9)
    # binary caps: 1 + 2 = 3 units x 2 outputs x (10 / 3) x 1/2 / 8 x 1 fF x 0.5 V = 0.625 fJ
    assert close(parts["compute_caps"], 0.625 * fF, 1e-9)
    # ADC: 2 x (301.5 fF x 4 + 0.001 fF x 256) x 1 V^2 = 2412.512 fJ; no mux (2 cols / 2)
    assert close(parts["adc"], 2412.512 * fF, 1e-9) and parts["column_mux"] == 0
    # shift-add: 2 x 16 b x (6 + 3) x 0.7 fF = 201.6 fJ; correction: 2 x 16 x 6 x 0.7 =
    # 134.4 fJ + an adder tree over 8 two-bit codes, 4 x 2 + 2 x 3 + 1 x 4 = 18 full adders
    # x 6 x 0.7 fF = 75.6 fJ
    assert close(parts["shift_add"], 201.6 * fF, 1e-9)
    assert close(parts["correction"], 210.0 * fF, 1e-9)
    # folded into the components (docs/model.md §6)
    assert close(e["pim_wordline"], 110.4 * fF, 1e-9)
    assert close(e["pim_dac"], 100.8 * fF, 1e-9)
    assert close(e["pim_cell"], (10 / 3 * 4 * 0.5 / 8 * 8.8 * 0.5 + 0.625) * fF, 1e-9)
    assert close(e["pim_adc"], 2412.512 * fF, 1e-9)
    assert close(e["pim_shift_add"], 411.6 * fF, 1e-9)


def test_macro_level_dac_charge_readout_every_read_by_hand(tmp_path):
    c0 = _macro_layer(tmp_path, {"pim.dac_kind": "level", "pim.readout": "charge",
                                 "pim.precharge": "every_read",
                                 "pim.analog_weight_combine": False, "pim.cols_per_adc": 4})
    parts = c0.detail["pim_parts_j"]
    # 4 conversions (one per column); mux 4 columns per ADC
    assert c0.ops["adc_conversions"] == 4
    # wordline: levels code / 3 of the supply: 10 / 3 x 6 fF x 1 V^2 = 20 fJ
    assert close(parts["wordline"], 20 * fF, 1e-9)
    # DAC: 5 non-zero rows x 2 bits x 50 fF x 1 V^2 = 500 fJ; no pulse generator
    assert close(parts["dac"], 500 * fF, 1e-9) and "pulse_generator" not in parts
    # every read precharges all 16 bitlines of 8.8 fF by 0.5 V: 70.4 fJ
    assert close(parts["precharge"], 70.4 * fF, 1e-9) and "bitline" not in parts
    # charge-domain cells: 8 rows x 4 columns x 5.33 fF x 1 V^2 = 170.56 fJ; no binary caps
    assert close(parts["cd_cells"], 170.56 * fF, 1e-9) and "compute_caps" not in parts
    # mux: 4 conversions x 2 select lines x 1 x 0.7 fF = 5.6 fJ; no correction
    assert close(parts["column_mux"], 5.6 * fF, 1e-9) and "correction" not in parts


def test_macro_constants_model_is_unchanged_and_has_no_parts(tmp_path):
    c0 = _macro_layer(tmp_path, {"pim.macro_model": "constants", "pim.dac_kind": "level",
                                 "pim.e_dac_j": 1e-15})
    assert "pim_parts_j" not in c0.detail
    # tiny's e_wordline_j 10 fJ per 128 columns: 5 driven rows x 10 fJ x 16 / 128
    assert close(c0.energy_breakdown_j["pim_wordline"], 5 * 10 * fF * 16 / 128, 1e-9)
