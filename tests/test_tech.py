"""pimsim.models.tech by hand: the Horowitz points and the rules that carry them to other
widths and capacities (module doc)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import TINY_HW
from hypothesis import given, settings
from hypothesis import strategies as st

from pimsim.config import load_config
from pimsim.models import tech

PJ = 1e-12


@pytest.fixture(scope="module")
def cfg():
    return load_config(TINY_HW)


def test_horowitz_add_points(cfg):
    ops = cfg.ops  # 8-bit 0.03 pJ, 32-bit 0.1 pJ
    assert float(tech.add_energy_j(ops, 8)) == 0.03 * PJ
    assert float(tech.add_energy_j(ops, 32)) == 0.1 * PJ
    # the line through both points: 0.03 + 0.07 x (16 - 8) / 24 = 0.03 + 0.07/3
    assert float(tech.add_energy_j(ops, 16)) == pytest.approx((0.03 + 0.07 / 3) * PJ,
                                                              rel=1e-14)
    assert float(tech.add_energy_j(ops, 24)) == pytest.approx((0.03 + 0.07 * 2 / 3) * PJ,
                                                              rel=1e-14)
    # below 8 bits: proportional to the width, E8 b / 8
    assert float(tech.add_energy_j(ops, 4)) == pytest.approx(0.015 * PJ, rel=1e-14)
    assert float(tech.add_energy_j(ops, 1)) == pytest.approx(0.03 / 8 * PJ, rel=1e-14)
    # continuous at 8 from both sides
    lo, hi = (float(tech.add_energy_j(ops, b)) for b in (8 - 1e-9, 8 + 1e-9))
    assert lo == pytest.approx(hi, rel=1e-8)


def test_add_broadcasts_and_constant_rule(cfg):
    ops = cfg.ops
    got = tech.add_energy_j(ops, np.array([4, 8, 16, 32]))
    assert got == pytest.approx(np.array([0.015, 0.03, 0.03 + 0.07 / 3, 0.1]) * PJ, rel=1e-14)
    const = SimpleNamespace(**{**ops.model_dump(), "add_scaling": "constant"})
    assert np.all(tech.add_energy_j(const, np.array([4, 8, 16])) == 0.1 * PJ)


def test_horowitz_mult_points(cfg):
    ops = cfg.ops  # 32 x 32 = 3.1 pJ
    assert float(tech.mult_energy_j(ops, 32, 32)) == pytest.approx(3.1 * PJ, rel=1e-15)
    # quadratic: 3.1 x 8 x 8 / 1024 = 0.19375 pJ (Horowitz 0.2 pJ, within 3 %)
    assert float(tech.mult_energy_j(ops, 8, 8)) == pytest.approx(0.19375 * PJ, rel=1e-14)
    assert abs(float(tech.mult_energy_j(ops, 8, 8)) / (0.2 * PJ) - 1) < 0.035
    assert float(tech.mult_energy_j(ops, 8, 6)) == pytest.approx(3.1 * 48 / 1024 * PJ,
                                                                 rel=1e-14)
    lin = SimpleNamespace(**{**ops.model_dump(), "mult_scaling": "linear"})
    assert float(tech.mult_energy_j(lin, 8, 16)) == pytest.approx(3.1 * 16 / 32 * PJ, rel=1e-14)
    const = SimpleNamespace(**{**ops.model_dump(), "mult_scaling": "constant"})
    assert float(tech.mult_energy_j(const, 4, 4)) == 3.1 * PJ


def test_macs_and_neuron_update(cfg):
    # FP32: E_fmul + E_fadd = 3.7 + 0.9 = 4.6 pJ
    assert tech.fp32_mac_energy_j(cfg.ops) == pytest.approx(4.6 * PJ, rel=1e-14)
    # INT: E_mult(6, 6) + E_add(32) = 3.1 x 36 / 1024 + 0.1 pJ
    assert float(tech.int_mac_energy_j(cfg.ops, 6, 6, 32)) == pytest.approx(
        (3.1 * 36 / 1024 + 0.1) * PJ, rel=1e-14)
    # LIF: E_mult(8, 8) + 2 E_add(8) = 0.19375 + 0.06 pJ
    assert float(tech.neuron_update_energy_j(cfg)) == pytest.approx(0.25375 * PJ, rel=1e-14)


def test_sram_energy_log_log(cfg):
    m = cfg.memory  # 8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ per 64-bit word
    e = [float(tech.sram_energy_per_bit_j(m, b)) * 64 for b in (8192, 32768, 1048576)]
    assert e == pytest.approx([10 * PJ, 20 * PJ, 100 * PJ], rel=1e-13)
    # between 8 and 32 KB the slope is ln 2 / ln 4 = 1/2: 16 KB -> 10 sqrt(2) pJ
    assert float(tech.sram_energy_per_bit_j(m, 16384)) * 64 == pytest.approx(
        10 * math.sqrt(2) * PJ, rel=1e-12)
    # between 32 KB and 1 MB: slope ln 5 / ln 32; 64 KB -> 20 x 5^(1/5) pJ
    assert float(tech.sram_energy_per_bit_j(m, 65536)) * 64 == pytest.approx(
        20 * 5 ** 0.2 * PJ, rel=1e-12)
    # extrapolated with the end slopes: 2 KB -> 5 pJ; 4 MB -> 100 x 5^(2/5) pJ
    assert float(tech.sram_energy_per_bit_j(m, 2048)) * 64 == pytest.approx(5 * PJ, rel=1e-12)
    assert float(tech.sram_energy_per_bit_j(m, 4 << 20)) * 64 == pytest.approx(
        100 * 5 ** 0.4 * PJ, rel=1e-12)
    # write: x sram_write_factor
    w = SimpleNamespace(**{**m.model_dump(), "sram_write_factor": 1.5})
    assert float(tech.sram_energy_per_bit_j(w, 8192, write=True)) * 64 == pytest.approx(
        15 * PJ, rel=1e-13)
    # broadcasting over capacities
    got = tech.sram_energy_per_bit_j(m, np.array([2048.0, 8192.0])) * 64
    assert got == pytest.approx(np.array([5, 10]) * PJ, rel=1e-12)


def test_sram_reference_points_exact(cfg):
    m = cfg.memory
    for size, e_word in zip(m.sram_ref_bytes, m.sram_ref_read_j, strict=True):
        assert float(tech.sram_energy_per_bit_j(m, size)) == e_word / m.sram_word_bits


@settings(max_examples=50, deadline=None)
@given(e8=st.floats(1e-15, 1e-12), e32=st.floats(1e-15, 1e-11))
def test_add_points_exact_for_any_reference(cfg, e8, e32):
    ops = SimpleNamespace(**{**cfg.ops.model_dump(), "int_add_8b_j": e8, "int_add_32b_j": e32})
    assert float(tech.add_energy_j(ops, 8)) == e8
    assert float(tech.add_energy_j(ops, 32)) == e32


@settings(max_examples=30, deadline=None)
@given(a=st.integers(1, 32), b=st.integers(1, 32), k=st.floats(0.1, 10))
def test_rules_are_linear_in_the_reference_energies(cfg, a, b, k):
    ops = cfg.ops
    scaled = SimpleNamespace(**{**ops.model_dump(),
                                **{f: getattr(ops, f) * k for f in (
                                    "int_add_8b_j", "int_add_32b_j", "int_mult_32b_j")}})
    assert float(tech.add_energy_j(scaled, a)) == pytest.approx(
        k * float(tech.add_energy_j(ops, a)), rel=1e-12)
    assert float(tech.mult_energy_j(scaled, a, b)) == pytest.approx(
        k * float(tech.mult_energy_j(ops, a, b)), rel=1e-12)
    # wider is never cheaper
    assert tech.add_energy_j(ops, a + 1) > tech.add_energy_j(ops, a)
    assert tech.mult_energy_j(ops, a + 1, b) > tech.mult_energy_j(ops, a, b)
