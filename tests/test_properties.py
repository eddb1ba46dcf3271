"""Properties of the cost model (hypothesis): linearity in per-op energies, monotonicity in
spikes, EDP = energy x delay, and the dense CNN MAC count."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import TINY_HW, conv2d, conv3d, linear, write_trace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pimsim.api import load_config, load_trace, simulate, simulate_cnn

ENERGY_KEYS = ["ops.int_add_32b_j", "ops.int_mult_32b_j",
               "memory.dram_j_per_bit", "pim.e_wordline_j", "pim.e_cell_j",
               "pim.e_shift_add_j", "pim.adc_fom_j_per_step", "leakage.sram_w_per_bit",
               "leakage.pe_w"]


def _layers():
    return [conv3d("c0", (1, 5, 6, 6), 4, (3, 3, 3), padding=(1, 1, 1), first=True),
            conv3d("c1", (4, 5, 6, 6), 4, (3, 3, 3), stride=(1, 2, 2), padding=(1, 1, 1)),
            conv2d("c2", (20, 3, 3), 3, (3, 3), padding=(1, 1)),
            linear("fc", 27, 5)]


def _trace(tmp_path, seed, rate, extra=None):
    rng = np.random.default_rng(seed)
    layers = _layers()
    spikes = {s.name: rng.random((2, 3, *s.in_shape)) < rate for s in layers[1:]}
    if extra is not None:
        spikes = {k: v | extra[k] for k, v in spikes.items()}
    return spikes, layers


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    p = tmp_path_factory.mktemp("prop") / "t.npz"
    spikes, layers = _trace(None, 1, 0.2)
    return load_trace(write_trace(p, layers, spikes, n=2, t=3))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(ENERGY_KEYS), a=st.floats(0.1, 10), b=st.floats(0.1, 10),
       pim=st.booleans())
def test_energy_is_linear_in_each_per_op_energy(trace, key, a, b, pim):
    base = load_config(TINY_HW, {"pim.enabled": pim})
    v0 = getattr(getattr(base, key.split(".")[0]), key.split(".")[1])
    e = [simulate(load_config(TINY_HW, {"pim.enabled": pim, key: v0 * m}), trace).energy_j
         for m in (1e-3, a, b)]
    m0 = 1e-3
    # affine in the constant: the slope between any two points is the same
    slope1 = (e[1] - e[0]) / (a - m0)
    slope2 = (e[2] - e[0]) / (b - m0)
    assert slope1 == pytest.approx(slope2, rel=1e-9, abs=1e-30)
    d = [simulate(load_config(TINY_HW, {"pim.enabled": pim, key: v0 * m}), trace).delay_s
         for m in (a, b)]
    assert d[0] == d[1]  # energies never change delay


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 1000), rate=st.floats(0, 0.5), extra_rate=st.floats(0, 0.5))
def test_more_spikes_never_fewer_synaptic_ops(tmp_path, seed, rate, extra_rate):
    rng = np.random.default_rng(seed + 7)
    layers = _layers()
    extra = {s.name: rng.random((2, 3, *s.in_shape)) < extra_rate for s in layers[1:]}
    s1, _ = _trace(None, seed, rate)
    s2, _ = _trace(None, seed, rate, extra)
    cfg = load_config(TINY_HW)
    r1 = simulate(cfg, load_trace(write_trace(tmp_path / "a.npz", layers, s1, n=2, t=3)))
    r2 = simulate(cfg, load_trace(write_trace(tmp_path / "b.npz", layers, s2, n=2, t=3)))
    for a, b in zip(r1.layers, r2.layers):
        assert b.ops["synaptic_ops"] >= a.ops["synaptic_ops"]
        assert b.cycles >= a.cycles


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(1, 64), cols=st.integers(1, 64), lanes=st.integers(1, 8),
       pim=st.booleans())
def test_edp_is_energy_times_delay(trace, rows, cols, lanes, pim):
    cfg = load_config(TINY_HW, {"digital.pe_rows": rows, "digital.pe_cols": cols,
                                "digital.lanes": lanes, "pim.enabled": pim})
    r = simulate(cfg, trace)
    assert r.edp_js == pytest.approx(r.energy_j * r.delay_s, rel=1e-12)
    assert r.energy_j == pytest.approx(sum(x.energy_j for x in r.layers))
    assert r.delay_s == pytest.approx(sum(x.delay_s for x in r.layers))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(c_in=st.integers(1, 4), c_out=st.integers(1, 6), n=st.lists(st.integers(2, 9), min_size=2, max_size=2),
       k=st.integers(1, 3), s=st.integers(1, 2), p=st.integers(0, 1), fc=st.integers(1, 7))
def test_cnn_mac_count_is_analytic(tmp_path, c_in, c_out, n, k, s, p, fc):
    l0 = conv2d("c0", (c_in, *n), c_out, (k, k), (s, s), (p, p), first=True)
    if min(l0.out_shape[1:]) < 1:
        return
    l1 = linear("fc", l0.out_size, fc)
    spikes = {"fc": np.zeros((1, 1, l0.out_size), bool)}
    tr = load_trace(write_trace(tmp_path / "m.npz", [l0, l1], spikes, n=1, t=1))
    r = simulate_cnn(load_config(TINY_HW), tr, "fp32")

    def taps(size, o):
        return sum(1 for j in range(k) if 0 <= o * s - p + j < size)

    per_dim = [sum(taps(sz, o) for o in range(m)) for sz, m in zip(n, l0.out_shape[1:])]
    assert r.layers[0].ops["macs"] == c_out * c_in * math.prod(per_dim)
    assert r.layers[1].ops["macs"] == l0.out_size * fc
