"""Properties of cost model v2 (hypothesis), on small synthetic traces.

* more capacity at any SRAM level never raises DRAM traffic (total and per tensor);
* more banks or ports never raise cycles;
* tile_major and step_major do the same work (ops) and, with every tensor on chip, move the
  same weight and spike SRAM bits;
* energy is affine in each per-op constant, and scaling every ``ops`` constant by k scales the
  compute part (compute + neuron_update) by k and leaves every other component;
* PIM pulse-count energy depends only on the per-phase codes of the inputs;
* EDP = energy x delay; totals are sums of layers;
* more spikes never fewer synaptic ops; the dense CNN MAC count is analytic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import TINY_HW, conv2d, conv3d, linear, write_trace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pimsim.api import load_config, load_trace, simulate, simulate_cnn

QUICK = settings(max_examples=30, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
TENSORS = ("weights", "membranes", "spikes", "input")
PIM_KEYS = ("pim_wordline", "pim_cell", "pim_dac")


def _layers():
    return [conv3d("c0", (1, 5, 6, 6), 4, (3, 3, 3), padding=(1, 1, 1), first=True),
            conv3d("c1", (4, 5, 6, 6), 4, (3, 3, 3), stride=(1, 2, 2), padding=(1, 1, 1)),
            conv2d("c2", (20, 3, 3), 3, (3, 3), padding=(1, 1)),
            linear("fc", 27, 5)]


def _spikes(seed, rate, n=2, t=3):
    rng = np.random.default_rng(seed)
    return {s.name: rng.random((n, t, *s.in_shape)) < rate for s in _layers()[1:]}


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    p = tmp_path_factory.mktemp("prop") / "t.npz"
    return load_trace(write_trace(p, _layers(), _spikes(1, 0.2), n=2, t=3))


def _cfg(over):
    return load_config(TINY_HW, over)


def _run(cfg, trace, system):
    return simulate(cfg, trace) if system == "snn" else simulate_cnn(cfg, trace, system)


# ------------------------------------------------------------------------------ capacity

SIZES = st.integers(1, 1200)  # bytes: from no word at all to every tensor on chip
LEVELS = ("weight", "membrane", "spike")


@QUICK
@given(level=st.sampled_from(LEVELS), size=SIZES, extra=st.integers(1, 400),
       others=st.tuples(SIZES, SIZES), schedule=st.sampled_from(["tile_major", "step_major"]),
       pim=st.booleans(), sparse=st.booleans(), loads=st.integers(1, 3),
       system=st.sampled_from(["snn", "snn", "int"]))
def test_more_capacity_never_raises_dram_traffic(trace, level, size, extra, others, schedule,
                                                 pim, sparse, loads, system):
    rest = [lv for lv in LEVELS if lv != level]
    over = {f"memory.{rest[0]}_sram_bytes": others[0], f"memory.{rest[1]}_sram_bytes": others[1],
            "digital.schedule": schedule, "pim.enabled": pim,
            "memory.fetch_active_weights_only": sparse, "memory.weight_load_inferences": loads}
    small = _run(_cfg({**over, f"memory.{level}_sram_bytes": size}), trace, system)
    large = _run(_cfg({**over, f"memory.{level}_sram_bytes": size + extra}), trace, system)
    for a, b in zip(small.layers, large.layers, strict=True):
        assert b.ops["dram_bits"] <= a.ops["dram_bits"], a.name
        for t in TENSORS:
            assert b.dram_bits_by_tensor[t] <= a.dram_bits_by_tensor[t], (a.name, t)
    assert (sum(x.ops["dram_bits"] for x in large.layers)
            <= sum(x.ops["dram_bits"] for x in small.layers))


# ------------------------------------------------------------------------- banks and ports


@QUICK
@given(banks=st.tuples(st.integers(1, 8), st.integers(1, 8), st.integers(1, 8)),
       more=st.tuples(st.integers(0, 8), st.integers(0, 8), st.integers(0, 8)),
       ports=st.integers(1, 3), more_ports=st.integers(0, 2), pim=st.booleans(),
       schedule=st.sampled_from(["tile_major", "step_major"]))
def test_more_banks_or_ports_never_raise_cycles(trace, banks, more, ports, more_ports, pim,
                                               schedule):
    def over(b, p):
        return {"memory.weight_sram_banks": b[0], "memory.membrane_sram_banks": b[1],
                "memory.spike_sram_banks": b[2], "memory.sram_ports": p, "pim.enabled": pim,
                "digital.schedule": schedule, "memory.dram_bandwidth_bytes_per_s": 1e11}
    bigger = tuple(b + m for b, m in zip(banks, more, strict=True))
    a = simulate(_cfg(over(banks, ports)), trace)
    b = simulate(_cfg(over(bigger, ports + more_ports)), trace)
    for x, y in zip(a.layers, b.layers, strict=True):
        assert y.cycles <= x.cycles * (1 + 1e-12)
        for lv, c in x.cycles_by_level.items():
            assert y.cycles_by_level[lv] <= c * (1 + 1e-12), (x.name, lv)
        # the traffic itself does not depend on banks or ports
        assert y.ops == x.ops
    assert b.delay_s <= a.delay_s * (1 + 1e-12)


# ------------------------------------------------------------------------------- schedules

WORK = ("synaptic_ops", "macs", "neuron_updates", "adc_conversions")
BIG = {"memory.weight_sram_bytes": 1 << 20, "memory.membrane_sram_bytes": 1 << 20,
       "memory.spike_sram_bytes": 1 << 20}


@QUICK
@given(rows=st.integers(1, 9), cols=st.integers(1, 9), lanes=st.integers(1, 4),
       pim=st.booleans(), reuse=st.booleans(), mode=st.sampled_from(["bit_serial", "dac"]))
def test_schedules_do_the_same_work(trace, rows, cols, lanes, pim, reuse, mode):
    base = {**BIG, "digital.pe_rows": rows, "digital.pe_cols": cols, "digital.lanes": lanes,
            "pim.enabled": pim, "digital.first_layer_reuse": reuse, "pim.input_mode": mode,
            "pim.dac_bits": 2}
    tile = simulate(_cfg({**base, "digital.schedule": "tile_major"}), trace)
    step = simulate(_cfg({**base, "digital.schedule": "step_major"}), trace)
    for a, b in zip(tile.layers, step.layers, strict=True):
        for k in WORK:
            assert a.ops[k] == b.ops[k], (a.name, k)
        assert a.energy_breakdown_j["compute"] == pytest.approx(b.energy_breakdown_j["compute"])
        # schedule doc: both read the same input windows and weights from the buffers; with
        # every tensor on chip the weight and spike SRAMs move the same bits
        for lv in ("weight_sram", "spike_sram"):
            assert a.energy_breakdown_j[lv] == pytest.approx(b.energy_breakdown_j[lv]), (
                a.name, lv)
        # membranes: none in tile_major; a read and a write per neuron and step in step_major
        assert a.energy_breakdown_j["membrane_sram"] <= b.energy_breakdown_j["membrane_sram"]


# ------------------------------------------------------------------------ energy linearity

ENERGY_KEYS = ["ops.int_add_8b_j", "ops.int_add_32b_j", "ops.int_mult_32b_j", "ops.fp32_add_j",
               "ops.fp32_mult_j", "memory.dram_j_per_bit", "pim.e_wordline_j", "pim.e_cell_j",
               "pim.e_dac_j", "pim.e_shift_add_j", "pim.adc_fom_j_per_step",
               "leakage.sram_w_per_bit", "leakage.pe_w", "leakage.pim_w_per_array",
               "noc.wire_j_per_bit_mm"]
#: Shared constants of the PIM periphery model (pim.macro_model periphery): every energy is
#: linear in each (the two fractions start at 0.05 so that x10 stays within their bounds).
PERIPHERY_KEYS = ["periphery.c_wire_f_per_m", "periphery.c_gate_f", "periphery.k_ff",
                  "periphery.k_fa", "periphery.k_cell_bl", "periphery.k_cell_wl",
                  "periphery.k_mux", "periphery.sar_k1_f", "periphery.sar_k2_f",
                  "periphery.dac_k0_f", "periphery.cd_cell_f", "periphery.unit_cap_f",
                  "periphery.bl_swing_fraction", "periphery.weight_one_fraction"]
ENERGY_KEYS += PERIPHERY_KEYS
PERIPHERY_BASE = {"pim.macro_model": "periphery", "pim.adc_model": "sar_macro",
                  "periphery.bl_swing_fraction": 0.05, "periphery.weight_one_fraction": 0.05}
OPS_KEYS = ["ops.int_add_8b_j", "ops.int_add_32b_j", "ops.int_mult_8b_j", "ops.int_mult_32b_j",
            "ops.fp32_add_j", "ops.fp32_mult_j"]
COMPUTE = ("compute", "neuron_update")


def _value(cfg, key):
    section, name = key.split(".")
    return getattr(getattr(cfg, section), name)


@QUICK
@given(key=st.sampled_from(ENERGY_KEYS), a=st.floats(0.1, 10), b=st.floats(0.1, 10),
       pim=st.booleans(), system=st.sampled_from(["snn", "snn", "fp32", "int"]),
       circuit=st.sampled_from([("current", False, "level"), ("current", True, "pulse_count"),
                                ("charge", True, "level")]))
def test_energy_is_affine_in_each_per_op_energy(trace, key, a, b, pim, system, circuit):
    base = {"pim.enabled": pim, "pim.input_mode": "dac", "pim.dac_bits": 2, "pim.e_dac_j": 1e-15}
    if key.startswith("periphery."):
        readout, combine, kind = circuit
        base.update({**PERIPHERY_BASE, "pim.readout": readout, "pim.dac_kind": kind,
                     "pim.analog_weight_combine": combine, "pim.pulse_period_s": 1e-9})
    v0 = _value(_cfg(base), key)
    runs = [_run(_cfg({**base, key: v0 * m}), trace, system) for m in (1e-3, a, b)]
    e = [r.energy_j for r in runs]
    slope1 = (e[1] - e[0]) / (a - 1e-3)
    slope2 = (e[2] - e[0]) / (b - 1e-3)
    assert slope1 == pytest.approx(slope2, rel=1e-9, abs=1e-30)
    assert runs[1].delay_s == runs[2].delay_s  # energies never change delay


@QUICK
@given(k=st.floats(0.01, 100), pim=st.booleans(), combine=st.booleans(),
       schedule=st.sampled_from(["tile_major", "step_major"]),
       system=st.sampled_from(["snn", "snn", "fp32", "int"]))
def test_scaling_every_op_energy_scales_the_compute_part(trace, k, pim, combine, schedule,
                                                       system):
    base = {"pim.enabled": pim, "pim.analog_weight_combine": combine,
            "digital.schedule": schedule}
    cfg = _cfg(base)
    r1 = _run(cfg, trace, system)
    r2 = _run(_cfg({**base, **{key: _value(cfg, key) * k for key in OPS_KEYS}}), trace, system)
    for a, b in zip(r1.layers, r2.layers, strict=True):
        for comp, v in a.energy_breakdown_j.items():
            if comp in COMPUTE:
                assert b.energy_breakdown_j[comp] == pytest.approx(k * v, rel=1e-9), comp
            elif comp == "pim_shift_add" and combine:
                continue  # holds E_add(8) correction adds and e_shift_add_j terms
            else:
                assert b.energy_breakdown_j[comp] == pytest.approx(v, rel=1e-12), comp
        assert b.delay_s == a.delay_s


# ------------------------------------------------------------------------ PIM pulse codes


def _permute_chunks(x, rng, g, phases):
    """Each element's g-bit phase codes in a random order (same multiset per element)."""
    mask = (1 << g) - 1
    chunks = np.stack([(x.astype(np.int64) >> (k * g)) & mask for k in range(phases)], -1)
    order = np.argsort(rng.random(chunks.shape), axis=-1)
    chunks = np.take_along_axis(chunks, order, axis=-1)
    out = np.zeros(x.shape, np.int64)
    for k in range(phases):
        out |= chunks[..., k] << (k * g)
    return out.astype(x.dtype)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), g=st.sampled_from([1, 2, 4]),
       kind=st.sampled_from(["pulse_count", "level"]), density=st.floats(0.05, 1.0))
def test_pim_energy_depends_only_on_the_phase_codes(tmp_path, seed, g, kind, density):
    rng = np.random.default_rng(seed)
    layers = [conv2d("c0", (2, 5, 5), 3, (3, 3), padding=(1, 1), first=True),
              linear("fc", 75, 4)]
    x = rng.integers(0, 256, size=(2, 2, 5, 5)).astype(np.uint8)
    x[rng.random(x.shape) > density] = 0
    y = _permute_chunks(x, rng, g, 8 // g)
    spikes = {"fc": np.zeros((2, 2, 75), bool)}
    cfg = _cfg({"pim.enabled": True, "pim.input_mode": "dac", "pim.dac_bits": g,
                "pim.dac_kind": kind, "pim.pulse_period_s": 1e-9, "pim.e_dac_j": 1e-15})
    ra = simulate(cfg, load_trace(write_trace(tmp_path / "a.npz", layers, spikes, x=x, n=2)))
    rb = simulate(cfg, load_trace(write_trace(tmp_path / "b.npz", layers, spikes, x=y, n=2)))
    a, b = ra.layers[0], rb.layers[0]
    for comp in PIM_KEYS:
        assert b.energy_breakdown_j[comp] == pytest.approx(a.energy_breakdown_j[comp],
                                                           rel=1e-12), comp
    assert b.ops == a.ops
    assert b.energy_j == pytest.approx(a.energy_j, rel=1e-12)


# ------------------------------------------------------------------------------------ EDP


@QUICK
@given(rows=st.integers(1, 64), cols=st.integers(1, 64), lanes=st.integers(1, 8),
       pim=st.booleans(), schedule=st.sampled_from(["tile_major", "step_major"]),
       banks=st.integers(1, 16))
def test_edp_is_energy_times_delay(trace, rows, cols, lanes, pim, schedule, banks):
    cfg = _cfg({"digital.pe_rows": rows, "digital.pe_cols": cols, "digital.lanes": lanes,
                "pim.enabled": pim, "digital.schedule": schedule,
                "memory.weight_sram_banks": banks})
    r = simulate(cfg, trace)
    assert r.edp_js == pytest.approx(r.energy_j * r.delay_s, rel=1e-12)
    assert r.energy_j == pytest.approx(sum(x.energy_j for x in r.layers))
    assert r.delay_s == pytest.approx(sum(x.delay_s for x in r.layers))
    for x in r.layers:
        assert x.energy_j == pytest.approx(sum(x.energy_breakdown_j.values()))
        assert x.cycles == pytest.approx(max(x.cycles_by_level.values()))
        assert x.cycles_by_level[x.bound] == x.cycles
        assert x.delay_s == pytest.approx(x.cycles / cfg.tech.clock_hz)
        assert sum(x.dram_bits_by_tensor.values()) == pytest.approx(x.ops["dram_bits"], abs=4)


# ------------------------------------------------------------------------- spikes and MACs


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 1000), rate=st.floats(0, 0.5), extra_rate=st.floats(0, 0.5))
def test_more_spikes_never_fewer_synaptic_ops(tmp_path, seed, rate, extra_rate):
    rng = np.random.default_rng(seed + 7)
    layers = _layers()
    s1 = _spikes(seed, rate)
    s2 = {k: v | (rng.random(v.shape) < extra_rate) for k, v in s1.items()}
    cfg = _cfg({})
    r1 = simulate(cfg, load_trace(write_trace(tmp_path / "a.npz", layers, s1, n=2, t=3)))
    r2 = simulate(cfg, load_trace(write_trace(tmp_path / "b.npz", layers, s2, n=2, t=3)))
    for a, b in zip(r1.layers, r2.layers, strict=True):
        assert b.ops["synaptic_ops"] >= a.ops["synaptic_ops"]
        assert b.cycles_by_level["compute"] >= a.cycles_by_level["compute"]
        assert b.cycles >= a.cycles


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(c_in=st.integers(1, 4), c_out=st.integers(1, 6),
       n=st.lists(st.integers(2, 9), min_size=2, max_size=2), k=st.integers(1, 3),
       s=st.integers(1, 2), p=st.integers(0, 1), fc=st.integers(1, 7))
def test_cnn_mac_count_is_analytic(tmp_path, c_in, c_out, n, k, s, p, fc):
    l0 = conv2d("c0", (c_in, *n), c_out, (k, k), (s, s), (p, p), first=True)
    if min(l0.out_shape[1:]) < 1:
        return
    l1 = linear("fc", l0.out_size, fc)
    spikes = {"fc": np.zeros((1, 1, l0.out_size), bool)}
    tr = load_trace(write_trace(tmp_path / "m.npz", [l0, l1], spikes, n=1, t=1))
    r = simulate_cnn(_cfg({}), tr, "fp32")

    def taps(size, o):
        return sum(1 for j in range(k) if 0 <= o * s - p + j < size)

    per_dim = [sum(taps(sz, o) for o in range(m)) for sz, m in zip(n, l0.out_shape[1:])]
    assert r.layers[0].ops["macs"] == c_out * c_in * math.prod(per_dim)
    assert r.layers[1].ops["macs"] == l0.out_size * fc
