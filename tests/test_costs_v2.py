"""Hand-derived costs of the trace format v2 parts (docs/model.md §5.8): a bias, a pool of the
synaptic current (conv -> pool -> LIF) and a max-pool layer of spikes.

Every expected number is worked out by hand in the comments from docs/model.md; nothing here
asks the code under test for an expected value. The spikes are random or placed by hand: costs
do not need them to follow from the weights.

Hardware: tests/data/hand_hw.yaml (2 x 2 PEs, 1 lane, 1 MAC lane, 8-bit membranes, 1 cycle per
neuron update, 1 GHz; 0.1 pJ/bit SRAM reads and 0.2 pJ/bit writes whatever the capacity; DRAM
20 pJ/bit at 8 bits/cycle; PE pitch 0.1 mm, wires 1 pJ/bit/mm) with 8 KB buffers, so that no
tensor spills.

Network H (N = 1, T = 2):

* c0  conv2d analog (1,4,4) -> (2,4,4), 3x3 kernel, padding 1 (not under test);
* c1  conv2d spiking (2,4,4) -> conv (2,4,4), 3x3, padding 1 -> max pool 2x2 stride 2 ->
      (2,2,2), with a bias;
* p2  maxpool2d of spikes (2,2,2) -> (2,1,1), 2x2 window, stride 2;
* fc  linear 2 -> 3 (integrator), with a bias.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import numpy as np
import pytest
from helpers import REPO

from pimsim.api import load_config, load_trace, simulate, simulate_cnn
from pimsim.models.base import OP_KEYS
from pimsim.models.schedule import place_network
from pimsim.trace import LayerSpec, PoolSpec, build_meta, save_trace

HAND = REPO / "tests" / "data" / "hand_hw.yaml"
PJ, FJ = 1e-12, 1e-15
E_R, E_W = 0.1 * PJ, 0.2 * PJ
E_DRAM = 20 * PJ
E_ADD8 = 0.03 * PJ  # E_add(8): the membrane width m = 8
E_ADD1 = E_ADD8 / 8  # E_add(1) by the proportional rule below 8 bits: 3.75 fJ
E_ADD32 = 0.1 * PJ  # the CNN's accumulator (cnn.accumulator_bits = 32)
E_UPD = 3.1 * PJ * 64 / 1024 + 2 * E_ADD8  # E_mult(8, 8) + 2 E_add(8)
E_MAC0 = 3.1 * PJ * 48 / 1024 + E_ADD8  # E_mult(8-bit input, 6-bit weight) + E_add(8)
E_MAC_INT6 = 3.1 * PJ * 36 / 1024 + E_ADD32  # cnn_int: E_mult(6, 6) + E_add(32)
L_BCAST, L_UNI, L_COL = 0.6, 0.2, 0.2  # mm: p R (C + 1), p (R + C) / 2, p R with p = 0.1 mm
BIG = {"memory__weight_sram_bytes": 8192, "memory__membrane_sram_bytes": 8192,
       "memory__spike_sram_bytes": 8192}
# static power: 8 x 3 x 8192 SRAM bits x 1 nW + 4 PEs x 1 uW
P_LEAK = 8 * 3 * 8192 * 1e-9 + 4 * 1e-6


def cfg_of(**over):
    return load_config(HAND, {k.replace("__", "."): v for k, v in {**BIG, **over}.items()})


# ------------------------------------------------------------------------------ layers


def out_dims(spatial, kernel, stride, padding):
    """floor((n + 2p - k) / s) + 1 per spatial dim."""
    return [(n + 2 * p - k) // s + 1 for n, k, s, p in zip(spatial, kernel, stride, padding,
                                                           strict=True)]


def conv(name, in_shape, out_ch, kernel, stride=None, padding=None, *, first=False,
         neuron="lif", bias=None, pool=None):
    """A conv2d (2-entry kernel) or conv3d (3 entries) layer; ``pool`` pools its current."""
    stride = stride or (1,) * len(kernel)
    padding = padding or (0,) * len(kernel)
    out = out_dims(in_shape[1:], kernel, stride, padding)
    if pool is not None:
        out = out_dims(out, pool.kernel, pool.stride, pool.padding)
    return LayerSpec(name, "conv2d" if len(kernel) == 2 else "conv3d", tuple(in_shape),
                     (out_ch, *out), tuple(kernel), tuple(stride), tuple(padding),
                     "analog" if first else "spikes", neuron, 1.0, 1.0, 0.1, 6,
                     bias_scale=bias, pool=pool)


def maxpool(name, in_shape, kernel, stride, padding=None):
    padding = padding or (0,) * len(kernel)
    out = out_dims(in_shape[1:], kernel, stride, padding)
    kind = "maxpool2d" if len(kernel) == 2 else "maxpool3d"
    return LayerSpec(name, kind, tuple(in_shape), (in_shape[0], *out), tuple(kernel),
                     tuple(stride), tuple(padding), "spikes", "none", 1.0, 1.0, 1.0, 6)


def linear(name, f_in, f_out, *, bias=None, neuron="integrator"):
    return LayerSpec(name, "linear", (f_in,), (f_out,), (), (), (), "spikes", neuron, 1.0, 1.0,
                     0.1, 6, bias_scale=bias)


def max2(k=(2, 2), s=None, p=None):
    return PoolSpec("max", tuple(k), tuple(s or k), tuple(p or (0,) * len(k)))


def save(path, layers, spikes, *, n=1, t=2, x=None, seed=0, version=None):
    """Write a trace with save_trace/build_meta (random weights and biases) and load it."""
    rng = np.random.default_rng(seed)
    if x is None:
        x = rng.integers(0, 256, size=(n, *layers[0].in_shape)).astype(np.uint8)
    weights = {s.name: rng.integers(-32, 32, size=s.weight_shape).astype(np.int8)
               for s in layers if s.weighted}
    biases = {s.name: rng.integers(-100, 100, size=s.out_channels).astype(np.int32)
              for s in layers if s.has_bias}
    meta = build_meta(dataset="test", model="test", layers=layers, timesteps=t, num_samples=n,
                      input_bits=8, input_scale=1 / 255, weight_bits=6,
                      provenance={"data": "synthetic", "command": "test"})
    if version is not None:
        meta["version"] = version
    save_trace(path, meta=meta, input=x, weights=weights, spikes=spikes,
               labels=np.zeros(n, np.int64), predictions=np.zeros(n, np.int64),
               **({"biases": biases} if biases else {}))
    return load_trace(path)


def random_spikes(layers, rng, *, n, t, rate=0.3):
    return {s.name: rng.random((n, t, *s.in_shape)) < rate
            for s in layers if s.input == "spikes"}


# ------------------------------------------------------------------------------ network H


def layers_h(bias_c1=0.5, bias_fc=0.25, pool_c1=True):
    return [conv("c0", (1, 4, 4), 2, (3, 3), padding=(1, 1), first=True),
            conv("c1", (2, 4, 4), 2, (3, 3), padding=(1, 1), bias=bias_c1,
                   pool=max2() if pool_c1 else None),
            maxpool("p2", (2, 2, 2), (2, 2), (2, 2)),
            linear("fc", 2, 3, bias=bias_fc)]


def spikes_h(n=1):
    s1 = np.zeros((n, 2, 2, 4, 4), bool)
    s1[:, 0, 0, 0, 0] = True  # corner: read by conv positions (0..1, 0..1), 4 of them
    s1[:, 0, 1, 1, 1] = True  # interior: read by (0..2, 0..2), 9
    s1[:, 1, 0, 3, 3] = True  # opposite corner: (2..3, 2..3), 4
    s2 = np.zeros((n, 2, 2, 2, 2), bool)
    s2[:, 0, 0, 0, 1] = True
    s2[:, 1, 1, 1, 0] = True
    s3 = np.zeros((n, 2, 2), bool)
    s3[:, 0, :] = True  # 2 spikes at t0
    s3[:, 1, 1] = True  # 1 at t1
    return {"c1": s1, "p2": s2, "fc": s3}


@pytest.fixture(scope="module")
def trace_h(tmp_path_factory):
    return save(tmp_path_factory.mktemp("h") / "h.npz", layers_h(), spikes_h())


# c1 by hand (docs/model.md §2 at the conv geometry, §5.2, §5.8):
#   conv positions (oh, ow) in 4 x 4 read input rows oh-1..oh+1 and columns ow-1..ow+1.
#   Events: t0 4 + 9 = 13, t1 4 -> E = 17, ACs = C_out 2 x 17 = 34 (at the pooled 2 x 2 output
#   positions it would be far fewer).
#   Tiles of R = 2 consecutive conv positions (row-major): PT = 16 / 2 = 8, CT = ceil(2/2) = 1.
#   t0 box counts by row: [2,2,1,0], [2,2,1,0], [1,1,1,0], [0,0,0,0] -> tile maxima
#   2,1,2,1,1,1,0,0 (sum 8); t1: 1 in tiles (2,2)(2,3) and (3,2)(3,3) (sum 2): 10 AC cycles.
#   Updates (post-pool) 8 x T 2 = 16 = bias adds; pool ops 8 x (4 - 1) x 2 = 48.
#   Compute = 10 + CT PT U T N (16) + bias CT PT T N (16) + pool CT PT 3 T N (48) = 90.
#   Weights 2 x 2 x 3 x 3 = 36 x 6 bits = 216 + bias table 2 x 8 bits = 232 (DRAM load, SRAM
#   write). Weight SRAM reads: ACs x 6 = 204 + biases C_out x PT x T x N x m = 2 x 8 x 2 x 8
#   = 256 -> 460 (bias delivery: column, 256).
#   Windows (tiles (oh, {0,1}) and (oh, {2,3})): 3 columns each, rows [2,3,3,2] -> sum 60;
#   window reads CT x T x N x C_in x 60 = 240. Output spikes 8 x 2 = 16 (write, unicast).
#   Window events: multiplicity m_h = [2,3,3,2], m_w = [1,2,2,1]: (0,0) 2, (1,1) 6, (3,3) 2
#   = 10; broadcast CT x 10 x ceil(log2 32) = 50. Unicast ACs x 6 + 16 = 220.
#   Levels: weight SRAM (460 + 232) / 64 = 10.8125, spike SRAM 256 / 64 = 4, DRAM 232 / 8 =
#   29 cycles; compute 90 -> bound compute.
# p2: pool ops = out 2 x (4 - 1) x T 2 = 12 ORs at E_add(1). CT = PT = 1: one tile, window
#   = the 4 input positions x C_in 2 = 8 bits per step -> 16 read (column), 2 x 2 = 4
#   written (unicast); compute CT PT x 1 x T x N = 2 cycles.
# fc: E = 2 + 1 = 3 spikes, ACs 3 x 3 = 9; updates 3 x 2 = 6 = bias adds; weights 6 x 6 = 36
#   + bias 3 x 8 = 24 -> 60; weight SRAM reads 9 x 6 = 54 + biases F_out x T x N x 8 = 48 ->
#   102 (all unicast); window 2 per step -> 4 bits read; logits 3 x 8 = 24 to DRAM;
#   compute Σceil(spikes / 1) 3 + updates 2 + bias 2 = 7; broadcast 3 x ceil(log2 2) = 3;
#   DRAM (60 + 24) / 8 = 10.5 cycles -> bound dram.
WANT_H = {
    "c1": {"ops": {"synaptic_ops": 34, "neuron_updates": 16, "bias_adds": 16, "pool_ops": 48,
                   "macs": 0},
           "compute": 90, "weight_sram": (460, 232), "spike_sram": (240, 16), "dram": 232,
           "noc": {"broadcast": 50, "unicast": 220, "column": 256},
           "e_compute": (34 + 16 + 48) * E_ADD8, "updates": 16, "bound": "compute"},
    "p2": {"ops": {"synaptic_ops": 0, "neuron_updates": 0, "bias_adds": 0, "pool_ops": 12,
                   "macs": 0},
           "compute": 2, "weight_sram": (0, 0), "spike_sram": (16, 4), "dram": 0,
           "noc": {"column": 16, "unicast": 4},
           "e_compute": 12 * E_ADD1, "updates": 0, "bound": "compute"},
    "fc": {"ops": {"synaptic_ops": 9, "neuron_updates": 6, "bias_adds": 6, "pool_ops": 0,
                   "macs": 0},
           "compute": 7, "weight_sram": (102, 60), "spike_sram": (4, 0), "dram": 60 + 24,
           "noc": {"broadcast": 3, "unicast": 102},
           "e_compute": (9 + 6) * E_ADD8, "updates": 6, "bound": "dram"},
}
LENGTH = {"broadcast": L_BCAST, "unicast": L_UNI, "column": L_COL}


@pytest.mark.parametrize("name", ["c1", "p2", "fc"])
def test_layer_by_hand(trace_h, name):
    res = simulate(cfg_of(), trace_h)
    layer = next(x for x in res.layers if x.name == name)
    want = WANT_H[name]
    for k, v in want["ops"].items():
        assert layer.ops[k] == v, k
    assert layer.detail["compute_cycles"] == want["compute"]
    assert layer.ops["sram_read_bits"] == want["weight_sram"][0] + want["spike_sram"][0]
    assert layer.ops["sram_write_bits"] == want["weight_sram"][1] + want["spike_sram"][1]
    assert layer.ops["dram_bits"] == want["dram"]
    cyc = {"compute": want["compute"], "weight_sram": sum(want["weight_sram"]) / 64,
           "membrane_sram": 0, "spike_sram": sum(want["spike_sram"]) / 64,
           "dram": want["dram"] / 8}
    assert {k: pytest.approx(v) for k, v in layer.cycles_by_level.items()} == cyc
    assert layer.bound == want["bound"]
    e = layer.energy_breakdown_j
    assert e["compute"] == pytest.approx(want["e_compute"])
    assert e["neuron_update"] == pytest.approx(want["updates"] * E_UPD)
    assert e["weight_sram"] == pytest.approx(want["weight_sram"][0] * E_R
                                             + want["weight_sram"][1] * E_W, abs=1e-20)
    assert e["spike_sram"] == pytest.approx(want["spike_sram"][0] * E_R
                                            + want["spike_sram"][1] * E_W, abs=1e-20)
    assert e["membrane_sram"] == 0
    assert e["dram"] == pytest.approx(want["dram"] * E_DRAM, abs=1e-20)
    assert e["noc"] == pytest.approx(sum(b * LENGTH[p] for p, b in want["noc"].items()) * PJ)
    assert e["leakage"] == pytest.approx(P_LEAK * max(cyc.values()) * 1e-9)
    assert layer.energy_j == pytest.approx(sum(e.values()))


def test_mapping_of_a_pooled_layer(trace_h):
    c1 = simulate(cfg_of(), trace_h).layers[1].mapping
    # the PE array computes the 16 pre-pool positions: PT = 8; spatial = 32 / (1 x 8 x 4)
    assert (c1["channel_tiles"], c1["position_tiles"]) == (1, 8)
    assert c1["spatial_utilisation"] == pytest.approx(1.0)


def test_bias_is_stored_with_the_weights(trace_h):
    # weight tensor = weights + bias table at m bits: c1 216 + 16, fc 36 + 24; p2 nothing
    places = place_network(cfg_of(), trace_h.layers, ["digital"] * 4, t=2, input_bits=8)
    assert [int(p.weights_total) for p in places] == [108, 232, 0, 60]
    # a 16-bit membrane: c1 216 + 2 x 16, fc 36 + 3 x 16
    wide = place_network(cfg_of(digital__membrane_bits=16), trace_h.layers, ["digital"] * 4,
                         t=2, input_bits=8)
    assert [int(p.weights_total) for p in wide] == [108, 248, 0, 84]


def test_bias_streams_as_the_weights_do(trace_h):
    # weight SRAM of 4 words (256 bits), smallest first: fc 60 (1 word), c0 108 (2), c1 232
    # needs 4 words but 1 is left: 64 resident, 168 streamed (the bias table inside the
    # tensor) -> c1's DRAM weights: 64 loaded + 168 fetched per inference = 232.
    # step_major fetches the streamed part at every step: 64 + 168 x 2 = 400.
    cfg = cfg_of(memory__weight_sram_bytes=32)
    pl = place_network(cfg, trace_h.layers, ["digital"] * 4, t=2, input_bits=8)[1]
    assert (int(pl.weights_resident), int(pl.weights_streamed)) == (64, 168)
    assert simulate(cfg, trace_h).layers[1].dram_bits_by_tensor["weights"] == 232
    step = simulate(cfg_of(memory__weight_sram_bytes=32, digital__schedule="step_major"),
                    trace_h)
    assert step.layers[1].dram_bits_by_tensor["weights"] == 64 + 168 * 2


def test_pool_layer_under_step_major_has_no_membranes(trace_h):
    # step_major: membranes live in the membrane SRAM for the weighted layers only
    # (c0 32 x 8, c1 8 x 8, fc 3 x 8); the max-pool layer has no state.
    cfg = cfg_of(digital__schedule="step_major")
    places = place_network(cfg, trace_h.layers, ["digital"] * 4, t=2, input_bits=8)
    assert [int(p.membranes_total) for p in places] == [256, 64, 0, 24]
    p2 = simulate(cfg, trace_h).layers[2]
    assert p2.energy_breakdown_j["membrane_sram"] == 0
    assert p2.ops["pool_ops"] == 12
    # one step of spikes live: p2 reads 8 + writes 2 bits per step, both resident
    assert p2.ops["sram_read_bits"] == 16 and p2.ops["sram_write_bits"] == 4


def test_json_has_the_new_ops_keys(trace_h, tmp_path):
    assert "bias_adds" in OP_KEYS and "pool_ops" in OP_KEYS
    out = simulate(cfg_of(), trace_h).to_json()
    ops = {layer["name"]: layer["ops"] for layer in out["layers"]}
    assert [ops[k]["bias_adds"] for k in ("c0", "c1", "p2", "fc")] == [0, 16, 0, 6]
    assert [ops[k]["pool_ops"] for k in ("c0", "c1", "p2", "fc")] == [0, 48, 12, 0]
    json.dumps(out)


# ----------------------------------------------------------------- the analog first layer

# Network F: c0 conv2d analog (1,4,4) -> conv (2,4,4), 3x3, padding 1 -> max pool 2x2 ->
# (2,2,2), with a bias; fc linear 8 -> 2.
#   Dense: in-bounds taps per conv position t_h t_w, t = [2,3,3,2]: E_dense = 10 x 10 = 100,
#   MACs = 2 x 100 x N x passes (T = 2) = 400. Bias adds: out 8 x passes 2 = 16; pool ops
#   8 x 3 x 2 = 48; updates 8 x T = 16.
#   Core (digital engine): CT 1, PT 8 conv tiles; tile max fan-in 3 t_h (both tiles of a row)
#   -> Σ = 6 x 10 = 60 per pass: compute = 60 x 2 + 16 (updates) + 16 (bias) + 48 (pool) =
#   200 cycles. With first_layer_reuse (passes = 1): MACs 200, bias 8, pool 24, updates 16,
#   compute 60 + 16 + 8 + 24 = 108.
#   PIM (the hand test's macro: K = 9 rows, S = 3 slices, 1 array, G = 2 row groups, D = 4
#   copies, bit-serial 8 phases, no weight combine -> 6 columns converted): conversions =
#   16 conv positions x N x 2 passes x 8 x 2 x 6 = 3072. The bias and the pool run on the
#   core after the readout: compute energy (16 + 48) E_add(8), core cycles 16 + 16 + 48 = 80.
#   The bias table (16 bits) is the PIM layer's only tensor in the weight SRAM: DRAM weights
#   = the array weights 2 x 9 x 6 = 108 + 16; bias reads 2 x PT 8 x passes 2 x 8 = 256.


def layers_f():
    return [conv("c0", (1, 4, 4), 2, (3, 3), padding=(1, 1), first=True, bias=0.5,
                   pool=max2()),
            linear("fc", 8, 2)]


@pytest.fixture(scope="module")
def trace_f(tmp_path_factory):
    rng = np.random.default_rng(3)
    return save(tmp_path_factory.mktemp("f") / "f.npz", layers_f(),
                random_spikes(layers_f(), rng, n=1, t=2))


def _pim(**over):
    base = {"pim__enabled": True, "pim__num_arrays": 4, "pim__rows": 16, "pim__cols": 16,
            "pim__rows_per_read": 8, "pim__bits_per_cell": 2, "pim__cols_per_adc": 2,
            "pim__adc_bits": 4}
    return cfg_of(**{**base, **over})


def test_first_layer_on_the_core(trace_f):
    c0 = simulate(cfg_of(), trace_f).layers[0]
    assert (c0.ops["macs"], c0.ops["bias_adds"], c0.ops["pool_ops"],
            c0.ops["neuron_updates"]) == (400, 16, 48, 16)
    assert c0.detail["compute_cycles"] == 200
    assert c0.energy_breakdown_j["compute"] == pytest.approx(400 * E_MAC0 + 64 * E_ADD8)
    reuse = simulate(cfg_of(digital__first_layer_reuse=True), trace_f).layers[0]
    assert (reuse.ops["macs"], reuse.ops["bias_adds"], reuse.ops["pool_ops"],
            reuse.ops["neuron_updates"]) == (200, 8, 24, 16)
    assert reuse.detail["compute_cycles"] == 108


def test_first_layer_on_the_pim_macro(trace_f):
    c0 = simulate(_pim(), trace_f).layers[0]
    assert c0.engine == "pim"
    assert c0.ops["adc_conversions"] == 3072
    assert (c0.ops["macs"], c0.ops["bias_adds"], c0.ops["pool_ops"],
            c0.ops["neuron_updates"]) == (400, 16, 48, 16)
    assert c0.cycles_by_level["compute"] == 80
    e = c0.energy_breakdown_j
    assert e["compute"] == pytest.approx(64 * E_ADD8)
    assert e["neuron_update"] == pytest.approx(16 * E_UPD)
    assert c0.dram_bits_by_tensor["weights"] == 108 + 16
    # weight SRAM: the bias table written once (16), read 256 times its bits over the trace
    assert e["weight_sram"] == pytest.approx(256 * E_R + 16 * E_W)


def test_pim_without_v2_parts_has_no_core_compute_energy(tmp_path):
    layers = [conv("c0", (1, 4, 4), 2, (3, 3), padding=(1, 1), first=True),
              linear("fc", 32, 2)]
    tr = save(tmp_path / "p.npz", layers, random_spikes(layers, np.random.default_rng(0), n=1,
                                                        t=2))
    c0 = simulate(_pim(), tr).layers[0]
    assert c0.energy_breakdown_j["compute"] == 0
    assert (c0.ops["bias_adds"], c0.ops["pool_ops"]) == (0, 0)


# ------------------------------------------------------------------------ the CNN baseline

# cnn_int (k = 6, accumulator 32 bits) on network H, one pass (N = 1):
#   c1: MACs = C_out 2 x dense taps (C_in 2 x 100) = 400 at E_mult(6,6) + E_add(32); bias
#   adds 8 outputs, pool ops 8 x 3 = 24, both at E_add(32); ReLU 8 x E_add(32).
#   p2: pool ops 2 x 3 = 6 at E_add(32), no ReLU; CT = PT = 1, 3 compares per window: 3
#   cycles; reads 2 channels x 4 positions x 6 bits = 48, writes 2 x 6 = 12.
#   fc: MACs 2 x 3 = 6, bias adds 3.


def test_cnn_baseline_by_hand(trace_h):
    res = simulate_cnn(cfg_of(), trace_h, "int")
    c1, p2, fc = res.layers[1:]
    assert (c1.ops["macs"], c1.ops["bias_adds"], c1.ops["pool_ops"]) == (400, 8, 24)
    assert c1.energy_breakdown_j["compute"] == pytest.approx(400 * E_MAC_INT6 + 32 * E_ADD32)
    assert c1.energy_breakdown_j["neuron_update"] == pytest.approx(8 * E_ADD32)
    assert (p2.ops["macs"], p2.ops["pool_ops"]) == (0, 6)
    assert p2.detail["compute_cycles"] == 3
    assert p2.energy_breakdown_j["compute"] == pytest.approx(6 * E_ADD32)
    assert p2.energy_breakdown_j["neuron_update"] == 0
    assert (p2.ops["sram_read_bits"], p2.ops["sram_write_bits"]) == (48, 12)
    assert (fc.ops["macs"], fc.ops["bias_adds"]) == (6, 3)
    fp32 = simulate_cnn(cfg_of(), trace_h, "fp32").layers[2]
    assert fp32.energy_breakdown_j["compute"] == pytest.approx(6 * 0.9 * PJ)  # E_fadd


# ----------------------------------------------- synaptic ops against an independent counter


def ref_synaptic_ops(spec, spikes):
    """ACs of a layer with plain loops over the stored input spikes (N, T, *in_shape):
    C_out x the in-bounds input spikes (over channels) in the receptive field of every
    pre-pool conv position (linear: F_out x spikes; a max-pool layer: 0)."""
    if spec.kind.startswith("maxpool"):
        return 0
    if spec.kind == "linear":
        return spec.out_shape[0] * int(spikes.sum())
    sp_in = spec.in_shape[1:]
    positions = out_dims(sp_in, spec.kernel, spec.stride, spec.padding)  # the pre-pool conv
    total = 0
    for n in range(spikes.shape[0]):
        for t in range(spikes.shape[1]):
            count = spikes[n, t].sum(axis=0)  # over input channels
            for o in itertools.product(*(range(c) for c in positions)):
                for tap in itertools.product(*(range(k) for k in spec.kernel)):
                    idx = tuple(oo * s - p + k for oo, s, p, k in
                                zip(o, spec.stride, spec.padding, tap, strict=True))
                    if all(0 <= i < m for i, m in zip(idx, sp_in, strict=True)):
                        total += int(count[idx])
    return spec.out_shape[0] * total


def pooled_2d(bias_c1=1.0, bias_fc=0.5):
    c1 = conv("c1", (3, 6, 7), 4, (3, 2), stride=(1, 2), padding=(1, 0), bias=bias_c1,
                pool=PoolSpec("max", (2, 2), (2, 1), (0, 0)))  # conv (4,6,3) -> (4,3,2)
    return [conv("c0", (1, 6, 7), 3, (3, 3), padding=(1, 1), first=True),
            c1,
            maxpool("p2", c1.out_shape, (2, 2), (1, 1), (1, 1)),  # -> (4,4,3)
            linear("fc", 48, 5, bias=bias_fc)]


def pooled_3d():
    c1 = conv("c1", (2, 4, 5, 5), 3, (2, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1),
                pool=PoolSpec("avg", (1, 2, 2), (1, 1, 1), (0, 0, 0)))  # (3,3,3,3) -> (3,3,2,2)
    return [conv("c0", (1, 4, 5, 5), 2, (1, 3, 3), padding=(0, 1, 1), first=True),
            c1,
            maxpool("p2", c1.out_shape, (3, 2, 2), (1, 1, 1)),  # -> (3,1,1,1)
            linear("fc", 3, 2)]


@pytest.mark.parametrize("net", [pooled_2d, pooled_3d])
@pytest.mark.parametrize("seed", [0, 1])
def test_synaptic_ops_match_an_independent_counter(tmp_path, net, seed):
    layers = net()
    rng = np.random.default_rng(seed)
    spikes = random_spikes(layers, rng, n=2, t=3, rate=0.25 + 0.2 * seed)
    tr = save(tmp_path / "net.npz", layers, spikes, n=2, t=3, seed=seed)
    for system in ("snn", "pim"):
        cfg = cfg_of(pim__enabled=system == "pim", digital__pe_rows=3, digital__pe_cols=2)
        res = simulate(cfg, tr)
        got = [x.ops["synaptic_ops"] for x in res.layers]
        want = [0] + [ref_synaptic_ops(s, spikes[s.name]) for s in layers[1:]]
        assert got == want
        assert sum(got) == sum(want) > 0


# ------------------------------------------------------------------------------ properties


@pytest.mark.parametrize("over", [
    {}, {"digital__schedule": "step_major"}, {"digital__first_layer_reuse": True},
    {"pim__enabled": True, "pim__num_arrays": 4, "pim__rows": 16, "pim__cols": 16,
     "pim__rows_per_read": 8, "pim__bits_per_cell": 2},
    {"digital__lanes": 3, "digital__pe_rows": 3, "memory__fetch_active_weights_only": True},
])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_bias_never_lowers_energy(tmp_path, over, seed):
    # with the weights on chip (8 KB weight SRAM), a bias on any one layer adds its adds,
    # its table's loads and reads, their delivery and cycles: no layer gets cheaper
    rng = np.random.default_rng(seed)
    plain = pooled_2d(bias_c1=None, bias_fc=None)
    spikes = random_spikes(plain, rng, n=2, t=2)
    cfg = cfg_of(**over)
    e0 = simulate(cfg, save(tmp_path / "a.npz", plain, spikes, n=2, seed=seed))
    for i, spec in enumerate(plain):
        if not spec.weighted:
            continue
        layers = [*plain[:i], dataclasses.replace(spec, bias_scale=0.5), *plain[i + 1:]]
        e1 = simulate(cfg, save(tmp_path / f"b{i}.npz", layers, spikes, n=2, seed=seed))
        assert e1.energy_j > e0.energy_j
        currents = (1 if spec.input == "analog" and cfg.digital.first_layer_reuse else 2) * 2
        assert e1.layers[i].ops["bias_adds"] == spec.out_size * currents
        for a, b in zip(e0.layers, e1.layers, strict=True):
            assert b.energy_j >= a.energy_j, (spec.name, a.name)
            assert b.delay_s >= a.delay_s, (spec.name, a.name)


@pytest.mark.parametrize("kind", ["2d", "3d"])
@pytest.mark.parametrize("kernel", [(2, 2), (1, 3), (3, 1), (2, 3)])
def test_pooling_the_current_divides_neuron_updates_by_the_window(tmp_path, kind, kernel):
    # a non-overlapping pool (stride = kernel) whose window tiles the conv output: the
    # neuron updates fall by prod(kernel); the ACs (at the conv positions) do not change
    k = kernel if kind == "2d" else (2, *kernel)
    conv_sp = tuple(2 * kk for kk in k)  # conv output of 2 windows per dim (padding 1, 3x3)
    ker = (3,) * len(k)
    pad = (1,) * len(k)
    in_shape = (2, *conv_sp)
    nets = {}
    for pooled in (False, True):
        c1 = conv("c1", in_shape, 3, ker, padding=pad, pool=max2(k) if pooled else None)
        c0 = conv("c0", (1, *conv_sp), 2, ker, padding=pad, first=True)
        fc = linear("fc", c1.out_size, 2)
        layers = [c0, c1, fc]
        rng = np.random.default_rng(7)
        spikes = random_spikes(layers, rng, n=2, t=3)
        spikes["c1"] = np.random.default_rng(8).random((2, 3, *in_shape)) < 0.3
        nets[pooled] = simulate(cfg_of(), save(tmp_path / f"{pooled}.npz", layers, spikes,
                                               n=2, t=3)).layers[1]
    window = math.prod(k)
    assert nets[False].ops["neuron_updates"] == window * nets[True].ops["neuron_updates"]
    assert nets[True].ops["synaptic_ops"] == nets[False].ops["synaptic_ops"]
    assert nets[True].ops["pool_ops"] == (window - 1) * nets[True].ops["neuron_updates"]
    assert nets[True].energy_breakdown_j["neuron_update"] == pytest.approx(
        nets[False].energy_breakdown_j["neuron_update"] / window)


# --------------------------------------------------------------------- v1 traces unchanged


def _figures(res):
    """Everything a run reports except where the trace came from."""
    out = res.to_json()
    for key in ("trace", "trace_sha256"):
        out.pop(key)
    return out


@pytest.mark.parametrize("over", [{}, {"digital.schedule": "step_major"},
                                  {"pim.enabled": False}])
def test_v1_trace_saved_as_v2_costs_the_same(tmp_path, over):
    # the shipped v1 trace, written again as version 2 without any v2 feature
    v1 = load_trace(REPO / "traces" / "indian_pines.npz")
    assert v1.version == 1
    path = tmp_path / "ip_v2.npz"
    save_trace(path, meta={**v1.meta, "version": 2}, input=v1.input, weights=v1.weights,
               spikes=v1.packed_spikes, labels=v1.labels, predictions=v1.predictions)
    v2 = load_trace(path)
    assert v2.version == 2 and v2.layers == v1.layers
    cfg = load_config("45nm_pim", over)
    assert _figures(simulate(cfg, v2)) == _figures(simulate(cfg, v1))
    for precision in ("fp32", "int"):
        assert (simulate_cnn(cfg, v2, precision).to_json()["layers"]
                == simulate_cnn(cfg, v1, precision).to_json()["layers"])
