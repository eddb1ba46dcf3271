"""Hand-derived costs of tiny layers: every expected number is computed here from first
principles (the receptive fields drawn out by hand, the equations of docs/model.md), not by
calling the code under test."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import TINY_HW, conv2d, conv3d, linear, write_trace

from pimsim.api import load_config, load_trace, simulate

PJ = 1e-12
E_ADD8 = 0.03 * PJ  # Horowitz INT8 add: the tiny config's membrane is 8 bits
E_UPD = 3.1 * PJ * 64 / 1024 + 2 * E_ADD8  # leak mult 8x8 (quadratic rule) + compare + reset
E_BIT = 10 * PJ / 64  # 8 KB SRAM: 10 pJ per 64-bit word
E_DRAM = 20 * PJ
P_LEAK = 3 * 8192 * 8 * 1e-9 + 4 * 1e-6  # SRAM bits x 1 nW + 4 PEs x 1 uW


def _layers():
    l0 = conv3d("c0", (1, 3, 4, 4), 2, (1, 1, 1), first=True)
    l1 = conv3d("c1", (2, 3, 4, 4), 3, (2, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
    l2 = conv2d("c2", (6, 2, 2), 2, (3, 3), padding=(1, 1))
    l3 = linear("fc", 8, 4)
    return [l0, l1, l2, l3]


@pytest.fixture()
def tiny_trace(tmp_path):
    layers = _layers()
    n, t = 1, 2
    s1 = np.zeros((n, t, 2, 3, 4, 4), bool)
    s1[0, 0, 0, 0, 0, 0] = True  # corner
    s1[0, 0, 1, 2, 3, 3] = True  # opposite corner
    s1[0, 0, 0, 1, 0, 2] = True  # edge
    s1[0, 0, 1, 1, 2, 2] = True  # centre
    s2 = np.zeros((n, t, 6, 2, 2), bool)
    s2[0, 0, 5, 1, 1] = True
    s2[0, 1, 0, 0, 0] = True
    s2[0, 1, 3, 0, 1] = True
    s3 = np.zeros((n, t, 8), bool)
    s3[0, 0, [1, 4, 6]] = True
    path = write_trace(tmp_path / "tiny.npz", layers, {"c1": s1, "c2": s2, "fc": s3}, n=n, t=t)
    return load_trace(path)


def test_conv3d_stride_padding_by_hand(tiny_trace):
    # Receptive fields (od, oh, ow): d in [od, od+1], h,w in [2o-1, 2o+1] clipped to [0, 3].
    # Box counts, positions row-major: p0=1 p1=1 p2=0 p3=1 p4=0 p5=1 p6=0 p7=2 -> 6 events.
    cfg = load_config(TINY_HW)
    c1 = simulate(cfg, tiny_trace).layers[1]
    assert c1.engine == "digital"
    assert c1.ops["synaptic_ops"] == 3 * 6
    assert c1.ops["neuron_updates"] == 24 * 2
    assert c1.ops["macs"] == 0
    # tiles of 2 positions: maxima 1,1,1,2 at t=0, 0 at t=1 -> 5 accumulate cycles;
    # 2 channel tiles x (5 + 2 steps x 4 tiles x 1 update cycle) = 26 compute cycles
    assert c1.detail["compute_cycles"] == 26
    # DRAM: 3*2*2*3*3 = 108 weights x 6 bits = 648 bits at 8 bits/cycle -> 81 cycles
    assert c1.ops["dram_bits"] == 648
    assert c1.cycles == 81
    assert c1.delay_s == pytest.approx(81e-9)
    reads = 18 * 6 + 96 * 2 * 2 + 48 * 8  # weights per AC, spike map per channel tile, membrane
    writes = 48 * 8 + 48  # membrane, output spikes
    assert c1.ops["sram_read_bits"] == reads
    assert c1.ops["sram_write_bits"] == writes
    e = c1.energy_breakdown_j
    assert e["compute"] == pytest.approx(18 * E_ADD8)
    assert e["neuron_update"] == pytest.approx(48 * E_UPD)
    assert e["sram"] == pytest.approx((reads + writes) * E_BIT)
    assert e["dram"] == pytest.approx(648 * E_DRAM)
    assert e["leakage"] == pytest.approx(P_LEAK * 81e-9)
    assert c1.energy_j == pytest.approx(sum(e.values()))


def test_compute_bound_when_dram_is_fast(tiny_trace):
    cfg = load_config(TINY_HW, {"memory.dram_bandwidth_bytes_per_s": 1e12})
    c1 = simulate(cfg, tiny_trace).layers[1]
    assert c1.cycles == 26


def test_conv2d_padding_all_inputs_in_every_field(tiny_trace):
    # 2x2 input, 3x3 kernel, padding 1: every output sees all 4 input positions.
    # t0: 1 spike -> 4 positions x 1; t1: 2 spikes -> 4 x 2; events 12, x 2 channels.
    cfg = load_config(TINY_HW, {"memory.dram_bandwidth_bytes_per_s": 1e12})
    c2 = simulate(cfg, tiny_trace).layers[2]
    assert c2.ops["synaptic_ops"] == 24
    # 2 tiles of 2 positions: t0 maxima 1,1; t1 maxima 2,2 -> 6; + 2 steps x 2 tiles
    assert c2.cycles == 10


def test_linear_layer(tiny_trace):
    cfg = load_config(TINY_HW, {"memory.dram_bandwidth_bytes_per_s": 1e12})
    fc = simulate(cfg, tiny_trace).layers[3]
    assert fc.ops["synaptic_ops"] == 4 * 3  # 3 spikes x 4 outputs
    # 4 outputs on 2x2 PEs: one tile; ceil(3/1) + 2 steps x 1 update cycle
    assert fc.cycles == 5
    assert fc.ops["sram_write_bits"] == 4 * 2 * 8  # last layer: membranes only, no spikes


def test_analog_first_layer_dense_macs_on_digital(tiny_trace):
    cfg = load_config(TINY_HW)
    c0 = simulate(cfg, tiny_trace).layers[0]
    # 1x1x1 kernel, 1 input channel: fan-in 1 at each of 48 positions, 2 channels, 2 steps
    assert c0.ops["macs"] == 2 * 48 * 2
    assert c0.ops["synaptic_ops"] == 0
    e_mac = 3.1 * PJ * 8 * 6 / 1024 + E_ADD8  # 8-bit input x 6-bit weight + 8-bit add
    assert c0.energy_breakdown_j["compute"] == pytest.approx(192 * e_mac)
    reuse = simulate(load_config(TINY_HW, {"digital.first_layer_reuse": True}), tiny_trace)
    assert reuse.layers[0].ops["macs"] == 2 * 48


def test_pim_first_layer_by_hand(tiny_trace):
    cfg = load_config(TINY_HW, {"pim.enabled": True})
    c0 = simulate(cfg, tiny_trace).layers[0]
    assert c0.engine == "pim"
    # 6-bit weights on 2-bit cells: 3 slices x 2 channels = 6 columns; K = 1 row, 1 array
    # bit-serial 8-bit input: 8 phases; one row group; 48 positions x 2 passes
    conversions = 48 * 2 * 8 * 1 * 6
    assert c0.ops["adc_conversions"] == conversions
    x = tiny_trace.input.astype(int)
    driven = sum(int(v).bit_count() for v in x.reshape(-1))  # wordlines driven, one pass
    e = c0.energy_breakdown_j
    assert e["pim_wordline"] == pytest.approx(driven * 2 * 10e-15)
    assert e["pim_cell"] == pytest.approx(driven * 2 * 6 * 1e-15)
    assert e["pim_adc"] == pytest.approx(conversions * 100e-15 * 2**4)
    assert e["pim_shift_add"] == pytest.approx(conversions * 50e-15)
    # t_read = max(2 ns, 4 bits x 1 ns x 2 cols/ADC) = 8 ns; 8 phases -> 64 ns per position;
    # 48 positions x 2 passes; + LIF updates 1 ch tile x 24 pos tiles x 2 steps x 1 ns
    assert c0.delay_s == pytest.approx(48 * 2 * 64e-9 + 48e-9)


def test_pim_rejects_wider_weights(tiny_trace):
    from pimsim.errors import SimulationError

    cfg = load_config(TINY_HW, {"pim.enabled": True, "pim.max_weight_bits": 4})
    with pytest.raises(SimulationError, match="max_weight_bits"):
        simulate(cfg, tiny_trace)


def test_zero_spike_trace_keeps_only_static_costs(tmp_path):
    layers = _layers()
    zeros = {s.name: np.zeros((1, 2, *s.in_shape), bool) for s in layers[1:]}
    tr = load_trace(write_trace(tmp_path / "z.npz", layers, zeros))
    res = simulate(load_config(TINY_HW), tr)
    for spec, layer in zip(layers[1:], res.layers[1:]):
        assert layer.ops["synaptic_ops"] == 0
        assert layer.energy_breakdown_j["compute"] == 0
        assert layer.energy_breakdown_j["neuron_update"] > 0
        assert layer.energy_breakdown_j["leakage"] > 0
        assert layer.ops["neuron_updates"] == spec.out_size * 2  # every neuron, both steps
    assert res.layers[1].ops["neuron_updates"] == 24 * 2
    # compute-only accounting of a zero-spike network leaves the first layer's MACs only
    cfg = load_config(TINY_HW, {"accounting.memory": False, "accounting.leakage": False,
                                "accounting.neuron_updates": False})
    res = simulate(cfg, tr)
    assert sum(x.energy_j for x in res.layers[1:]) == 0
    assert res.layers[0].energy_j > 0


def test_totals_and_json_contract(tiny_trace):
    res = simulate(load_config(TINY_HW), tiny_trace)
    js = res.to_json()
    assert set(js) >= {"hw", "trace", "per_inference", "layers"}
    assert js["per_inference"]["edp_js"] == pytest.approx(
        js["per_inference"]["energy_j"] * js["per_inference"]["delay_s"])
    assert js["per_inference"]["energy_j"] == pytest.approx(sum(x["energy_j"] for x in js["layers"]))
    for layer in js["layers"]:
        assert set(layer) >= {"name", "engine", "energy_j", "delay_s", "cycles", "ops",
                              "energy_breakdown_j"}
        assert set(layer["ops"]) == {"synaptic_ops", "macs", "neuron_updates",
                                     "adc_conversions", "sram_read_bits", "sram_write_bits",
                                     "dram_bits"}
