"""Hand-derived costs of a tiny network under cost model v2.

Every expected number below is worked out by hand from the module docstrings of
pimsim.models (schedule, memory, digital, pim, cnn, noc, layer, tech, base); the comments show
the derivation. Nothing here asks the code under test for an expected value.

Hardware: tests/data/hand_hw.yaml (2 x 2 PEs, 1 lane, 1 MAC lane, 8-bit membranes, 1 cycle per
neuron update, 1 GHz; 64-bit SRAM words at 0.1 pJ/bit read and 0.2 pJ/bit write whatever the
capacity; weight SRAM 26 words, membrane SRAM 16 words, spike SRAM 5 words; DRAM 20 pJ/bit at
8 bits/cycle; PE pitch 0.1 mm, wires 1 pJ/bit/mm).

Network (N = 1 sample, T = 2 steps, 8-bit image, 6-bit weights):

* c0  conv3d analog (1,3,4,4) -> (2,3,4,4), kernel (1,3,3), padding (0,1,1): 48 positions;
* c1  conv3d spiking (2,3,4,4) -> (3,2,2,2), kernel (2,3,3), stride (1,2,2), padding (0,1,1);
* c2  conv2d spiking (6,2,2) -> (2,2,2), kernel 3x3, padding 1;
* fc  linear 8 -> 4 (the integrator output layer).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import REPO, conv2d, conv3d, linear, write_trace

from pimsim.api import load_config, load_trace, simulate, simulate_cnn
from pimsim.models import tech
from pimsim.models.schedule import place_network

HAND = REPO / "tests" / "data" / "hand_hw.yaml"
PJ, FJ, NS = 1e-12, 1e-15, 1e-9
E_R, E_W = 0.1 * PJ, 0.2 * PJ  # SRAM read / write per bit (6.4 pJ per 64-bit word, x2)
E_DRAM = 20 * PJ
E_ADD8 = 0.03 * PJ  # Horowitz INT8 add (8-bit membrane accumulate)
# LIF update: E_mult(8, 8) + 2 E_add(8) = 3.1 pJ x 64/1024 + 0.06 pJ = 0.25375 pJ
E_UPD = 3.1 * PJ * 64 / 1024 + 2 * E_ADD8
# first-layer MAC: E_mult(8-bit input, 6-bit weight) + E_add(8) = 3.1 x 48/1024 + 0.03 pJ
E_MAC0 = 3.1 * PJ * 48 / 1024 + E_ADD8
# wire lengths (noc doc), PE pitch p = sqrt(1e-8 m^2) = 0.1 mm, R = C = 2:
L_BCAST = 0.1 * 2 * (2 + 1)  # p R (C + 1) = 0.6 mm
L_UNI = 0.1 * (2 + 2) / 2  # p (R + C) / 2 = 0.2 mm
L_COL = 0.1 * 2  # p R = 0.2 mm
WIRE = 1 * PJ  # per bit per mm
SAR_AREA_4B = 5565e-12  # the 4-bit SAR survey ADC area at 45 nm (pimsim.models.adc table)
# static power: SRAM bits x 1 nW + 4 PEs x 1 uW; SRAM bits = 8 x (208 + 128 + 40) = 3008
P_LEAK = 8 * (208 + 128 + 40) * 1e-9 + 4 * 1e-6


def _layers():
    return [conv3d("c0", (1, 3, 4, 4), 2, (1, 3, 3), padding=(0, 1, 1), first=True),
            conv3d("c1", (2, 3, 4, 4), 3, (2, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            conv2d("c2", (6, 2, 2), 2, (3, 3), padding=(1, 1)),
            linear("fc", 8, 4)]


def _image():
    """8-bit image (1, 1, 3, 4, 4) with four non-zero pixels (coverage by the 3x3/pad-1
    kernel: c_h = c_w = [2, 3, 3, 2], so a corner is read by 4 positions, an edge by 6, an
    interior pixel by 9)."""
    x = np.zeros((1, 1, 3, 4, 4), np.uint8)
    x[0, 0, 0, 0, 0] = 5  # corner, cover 4, bits 0b101
    x[0, 0, 1, 1, 1] = 255  # interior, cover 9, bits 0xff
    x[0, 0, 2, 0, 2] = 128  # edge, cover 2 x 3 = 6, bit 7
    x[0, 0, 2, 3, 3] = 3  # corner, cover 4, bits 0b11
    return x


def _spikes(n=1):
    s1 = np.zeros((n, 2, 2, 3, 4, 4), bool)
    s1[:, 0, 0, 0, 0, 0] = True  # corner: only p0 reads it
    s1[:, 0, 1, 2, 3, 3] = True  # opposite corner: only p7
    s1[:, 0, 0, 1, 0, 2] = True  # p1 and p5
    s1[:, 0, 1, 1, 2, 2] = True  # p3 and p7
    s1[:, 1, 0, 1, 1, 1] = True  # in every one of the 8 receptive fields
    s2 = np.zeros((n, 2, 6, 2, 2), bool)
    s2[:, 0, 5, 1, 1] = True
    s2[:, 1, 0, 0, 0] = True
    s2[:, 1, 3, 0, 1] = True
    s3 = np.zeros((n, 2, 8), bool)
    s3[:, 0, [1, 4, 6]] = True
    s3[:, 1, 2] = True
    return {"c1": s1, "c2": s2, "fc": s3}


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("hand") / "hand.npz"
    return load_trace(write_trace(path, _layers(), _spikes(), x=_image(), n=1, t=2))


@pytest.fixture(scope="module")
def trace2(tmp_path_factory):
    """The same sample twice (N = 2)."""
    path = tmp_path_factory.mktemp("hand2") / "hand2.npz"
    x = np.concatenate([_image(), _image()])
    return load_trace(write_trace(path, _layers(), _spikes(2), x=x, n=2, t=2))


def cfg_of(**over):
    return load_config(HAND, {k.replace("__", "."): v for k, v in over.items()})


# ------------------------------------------------------------------------------------------
# Activity by hand (pimsim.activity definitions), used below.
#
# c1: outputs (od, oh, ow) read d in {od, od+1}, h (and w) in {0,1} for oh = 0, {1,2,3} for
#   oh = 1. Positions row-major p0..p7; tiles of R = 2 rows: {p0,p1} {p2,p3} {p4,p5} {p6,p7}.
#   Tile windows: 2 (d) x 2 (h) x 4 (w) = 16, 2 x 3 x 4 = 24, 16, 24 -> sum 80.
#   Multiplicity m(d, h) = m_d[d] m_h[h], m_d = [1, 2, 1], m_h = [1, 2, 1, 1].
#   t0 spikes: (c0,0,0,0) -> p0, m 1; (c1,2,3,3) -> p7, m 1; (c0,1,0,2) -> p1, p5, m 2;
#   (c1,1,2,2) -> p3, p7, m 2. Box counts 1,1,0,1,0,1,0,2 = 6; tile maxima 1,1,1,2.
#   t1: (c0,1,1,1) -> all 8 positions, m 4; box counts all 1 = 8, tile maxima 1,1,1,1.
#   E = 14, ACs = 3 x 14 = 42, tile cycles = 5 + 4 = 9, window events = 1+1+2+2+4 = 10,
#   active rows: 2 channels per sample; per step 2 + 1 = 3.
# c2: 2x2 input, 3x3 kernel, pad 1: every output reads all 4 inputs. Tiles {p0,p1} {p2,p3},
#   each window all 4 positions -> sum 8, multiplicity 2 everywhere.
#   t0: one spike (ch 5) -> 4 events; t1: two (ch 0, 3) -> 8. E = 12, ACs = 2 x 12 = 24,
#   tile maxima t0 1,1, t1 2,2 -> 6 cycles; window events 3 x 2 = 6; active rows 3; per step
#   1 + 2 = 3.
# fc: one position, window = the 8 inputs. t0: 3 spikes, t1: 1 -> E = 4, ACs = 4 x 4 = 16,
#   tile cycles 3 + 1 = 4, window events 4; active rows 4, per step 3 + 1 = 4.
# c0 (dense): in-bounds taps per position t_h[h] t_w[w], t = [2,3,3,2]: 10 x 10 x 3 planes =
#   300 = E_dense. Tiles of 2 positions (w in {0,1} or {2,3}): max fan-in 3 t_h[h] -> per
#   plane 2 x 3 x 10 = 60 -> 180 tile cycles (12 tiles of 6, 12 of 9). Tile windows: w-union
#   {0,1,2} or {1,2,3} = 3 columns x t_h[h] rows -> per plane 2 x 3 x 10 = 60 -> 180.
# ------------------------------------------------------------------------------------------


def test_activity_by_hand(trace):
    from pimsim.activity import tile_windows
    from pimsim.simulate import activity_cache

    cache = activity_cache(trace)
    c0, c1, c2, fc = trace.layers
    # (events, window events, active rows, active rows per step, tile cycles at 1 lane)
    want = {"c1": (14, 10, 2, 3, 9), "c2": (12, 6, 3, 3, 6), "fc": (4, 4, 4, 4, 4)}
    for spec in (c1, c2, fc):
        a = cache.layer(spec, 2)
        assert (a.events, a.window_events, a.active_rows, a.active_rows_per_step,
                a.tile_cycles(1)) == want[spec.name], spec.name
    assert list(tile_windows(c1, 2).window_positions) == [16, 24, 16, 24]
    assert list(tile_windows(c2, 2).window_positions) == [4, 4]
    d0 = cache.layer(c0, 2)
    assert (d0.events, d0.window_events, d0.tile_cycles(1)) == (300, 180, 180)
    # PIM statistics of the image: bit-serial driven rows per bit k (cover x [bit k set]):
    # bit 0: 5 (4), 255 (9), 3 (4) -> 17; bit 1: 255, 3 -> 13; bit 2: 5, 255 -> 13;
    # bits 3..6: 255 -> 9; bit 7: 255 (9) + 128 (6) -> 15. Sum 94.
    bs = cache.pim(c0, 1)
    assert list(bs.driven_rows) == [17, 13, 13, 9, 9, 9, 9, 15]
    assert list(bs.code_sums) == list(bs.driven_rows)
    # 2-bit chunks: k0: 5 (1), 255 (3), 3 (3) -> driven 4 + 9 + 4 = 17, pulses 4 + 27 + 12 = 43
    # k1: 5 (1), 255 (3) -> 13, 4 + 27 = 31; k2: 255 -> 9, 27; k3: 255 (3), 128 (2) -> 15,
    # 27 + 12 = 39. Sums 54 and 140.
    dac = cache.pim(c0, 2)
    assert list(dac.driven_rows) == [17, 13, 9, 15]
    assert list(dac.code_sums) == [43, 31, 27, 39]


def test_mapping_by_hand(trace):
    res = simulate(cfg_of(), trace)
    c1 = res.layers[1].mapping
    # spatial = 24 outputs / (CT 2 x PT 4 x 4 PEs); PE = 42 ACs / (34 cycles x 4 PEs x 1 lane)
    assert (c1["channel_tiles"], c1["position_tiles"]) == (2, 4)
    assert c1["spatial_utilisation"] == pytest.approx(24 / 32)
    assert c1["pe_utilisation"] == pytest.approx(42 / (34 * 4))
    # fc: CT = ceil(4 / (2 x 2)) = 1, PT = 1
    assert (res.layers[3].mapping["channel_tiles"], res.layers[3].mapping["position_tiles"]) \
        == (1, 1)


# Placement (schedule doc; memory doc: smallest tensor first, whole words):
#
# weight SRAM, 26 words: c0 108 bits (2 words), fc 192 (3), c1 648 (11), c2 648 (11). Smallest
#   first: c0 2, fc 3, c1 11 -> 10 words left; c2 needs 11: 640 resident, 8 streamed (it
#   misses by one word). Same under both schedules.
# spike SRAM, 5 words = 320 bits (a chain): tile_major: c0's image 48 x 8 = 384 bits (6 words)
#   -> 320 resident, 64 spilled (misses by one word); nothing left for c0's output (T x 96 =
#   192 bits): all spilled; c1's input = that: 0 resident; c1's output 48 bits resident (the
#   level is free again); c2 in 48 / out 16 resident; fc in 16 resident, no output.
#   step_major: one step of spikes: c0 out 96 (spilled), c1 in 96 (0 res), out 24, c2 in 24,
#   out 8, fc in 8.
# membrane SRAM, 16 words (step_major only; out_size x 8 bits): fc 32 (1 word), c2 64 (1),
#   c1 192 (3), c0 768 (12): smallest first fc, c2, c1 take 5 -> 11 words for c0: 704
#   resident, 64 spilled (misses by one word).
PLACEMENT = {
    "tile_major": [
        # (w_res, w_str, m_res, m_spill, in_res, in_spill, out_res, out_spill)
        (108, 0, 0, 0, 320, 64, 0, 192),
        (648, 0, 0, 0, 0, 192, 48, 0),
        (640, 8, 0, 0, 48, 0, 16, 0),
        (192, 0, 0, 0, 16, 0, 0, 0),
    ],
    "step_major": [
        (108, 0, 704, 64, 320, 64, 0, 96),
        (648, 0, 192, 0, 0, 96, 24, 0),
        (640, 8, 64, 0, 24, 0, 8, 0),
        (192, 0, 32, 0, 8, 0, 0, 0),
    ],
}


@pytest.mark.parametrize("schedule", ["tile_major", "step_major"])
def test_placement_by_hand(trace, schedule):
    cfg = cfg_of(digital__schedule=schedule)
    places = place_network(cfg, trace.layers, ["digital"] * 4, t=2, input_bits=8)
    for pl, want in zip(places, PLACEMENT[schedule], strict=True):
        got = (pl.weights_resident, pl.weights_streamed, pl.membranes_resident,
               pl.membranes_spilled, pl.in_resident, pl.in_spilled, pl.out_resident,
               pl.out_spilled)
        assert tuple(int(v) for v in got) == want


# Per layer and schedule: traffic (bits) by level, DRAM bits by tensor, compute cycles,
# delivery bits by wire pattern. Derivations (digital doc):
#
# c0, dense at passes = T = 2 (no reuse), CT = 1, PT = 24:
#   weight_sram reads = 18 weights x PT 24 x 6 bits x N x 2 passes = 5184; resident load
#   108 (DRAM read + weight_sram write); no streamed part.
#   input reads = CT x passes x N x C_in x sum window x 8 = 2 x 180 x 8 = 2880, spilled share
#   64/384 = 1/6 -> 2400 from the spike SRAM, 480 from DRAM; image load: its resident 320 bits read from DRAM, its
#   resident 320 bits written to the spike SRAM. Output spikes 96 x T = 192, all spilled ->
#   DRAM writes. step_major: membranes 96 x 8 x 2 = 1536 read and written, spilled share
#   64/768 = 1/12 -> 128 of each to DRAM, 1408 of each in the membrane SRAM.
#   compute = 180 x N x 2 passes + CT PT x 1 x T = 360 + 48 = 408.
#   delivery: broadcast (inputs) 2880, column (weights) 5184, unicast 192 (+ 2 x 1536).
# c1, CT = 2, PT = 4: weight_sram reads 42 x 6 = 252; resident load 648. Window reads
#   CT x T x C_in x 80 = 2 x 2 x 2 x 80 = 640, input wholly spilled -> DRAM. Output 48 bits ->
#   spike SRAM. step_major membranes 24 x 8 x 2 = 384 each way (resident).
#   compute = 2 x 9 + 2 x 4 x 1 x 2 = 34. Broadcast = CT x window events x ceil(log2 96) =
#   2 x 10 x 7 = 140; unicast = ACs x 6 = 252, + output 48 (+ 2 x 384).
# c2, CT = 1, PT = 2: weight reads 24 x 6 = 144; load 640 + streamed 8 per inference
#   (tile_major) or per step (step_major: 16). Window 1 x 2 x 6 x 8 = 96 (resident); output
#   16. step_major membranes 8 x 8 x 2 = 128. compute = 6 + 1 x 2 x 1 x 2 = 10.
#   Broadcast 6 x ceil(log2 24) = 30; unicast 144 + 16 (+ 256).
# fc, CT = PT = 1: weight reads 16 x 6 = 96; load 192. Window 2 steps x 8 = 16. Last layer:
#   logits 4 x 8 bits to DRAM (membranes). step_major membranes 4 x 8 x 2 = 64.
#   compute = 4 + 2 = 6. Broadcast 4 x 3 = 12; unicast 96 (+ 128).
# Dict: level -> (read bits, write bits); "dram" -> by tensor.
TRAFFIC = {
    "tile_major": [
        {"weight_sram": (5184, 108), "membrane_sram": (0, 0), "spike_sram": (2400, 320),
         "dram": {"weights": 108, "membranes": 0, "spikes": 192, "input": 320 + 480},
         "compute": 408, "noc": {"broadcast": 2880, "column": 5184, "unicast": 192},
         "e_compute": 1200 * E_MAC0, "updates": 192},
        {"weight_sram": (252, 648), "membrane_sram": (0, 0), "spike_sram": (0, 48),
         "dram": {"weights": 648, "membranes": 0, "spikes": 640, "input": 0},
         "compute": 34, "noc": {"broadcast": 140, "unicast": 252 + 48},
         "e_compute": 42 * E_ADD8, "updates": 48},
        {"weight_sram": (144, 648), "membrane_sram": (0, 0), "spike_sram": (96, 16),
         "dram": {"weights": 648, "membranes": 0, "spikes": 0, "input": 0},
         "compute": 10, "noc": {"broadcast": 30, "unicast": 144 + 16},
         "e_compute": 24 * E_ADD8, "updates": 16},
        {"weight_sram": (96, 192), "membrane_sram": (0, 0), "spike_sram": (16, 0),
         "dram": {"weights": 192, "membranes": 32, "spikes": 0, "input": 0},
         "compute": 6, "noc": {"broadcast": 12, "unicast": 96},
         "e_compute": 16 * E_ADD8, "updates": 8},
    ],
    "step_major": [
        {"weight_sram": (5184, 108), "membrane_sram": (1408, 1408), "spike_sram": (2400, 320),
         "dram": {"weights": 108, "membranes": 256, "spikes": 192, "input": 800},
         "compute": 408, "noc": {"broadcast": 2880, "column": 5184, "unicast": 192 + 3072},
         "e_compute": 1200 * E_MAC0, "updates": 192},
        {"weight_sram": (252, 648), "membrane_sram": (384, 384), "spike_sram": (0, 48),
         "dram": {"weights": 648, "membranes": 0, "spikes": 640, "input": 0},
         "compute": 34, "noc": {"broadcast": 140, "unicast": 252 + 48 + 768},
         "e_compute": 42 * E_ADD8, "updates": 48},
        {"weight_sram": (144, 656), "membrane_sram": (128, 128), "spike_sram": (96, 16),
         "dram": {"weights": 656, "membranes": 0, "spikes": 0, "input": 0},
         "compute": 10, "noc": {"broadcast": 30, "unicast": 144 + 16 + 256},
         "e_compute": 24 * E_ADD8, "updates": 16},
        {"weight_sram": (96, 192), "membrane_sram": (64, 64), "spike_sram": (16, 0),
         "dram": {"weights": 192, "membranes": 32, "spikes": 0, "input": 0},
         "compute": 6, "noc": {"broadcast": 12, "unicast": 96 + 128},
         "e_compute": 16 * E_ADD8, "updates": 8},
    ],
}
LENGTH = {"broadcast": L_BCAST, "unicast": L_UNI, "column": L_COL}
SRAMS = ("weight_sram", "membrane_sram", "spike_sram")


def _expected_cycles(want, bits_per_cycle_sram=64):
    """Cycles per level (memory doc): bits moved / bits per cycle (N = 1)."""
    cyc = {"compute": want["compute"]}
    for lv in SRAMS:
        cyc[lv] = sum(want[lv]) / bits_per_cycle_sram
    cyc["dram"] = sum(want["dram"].values()) / 8  # 1 GB/s x 8 / 1 GHz
    return cyc


@pytest.mark.parametrize("schedule", ["tile_major", "step_major"])
@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_layer_by_hand(trace, schedule, index):
    layer = simulate(cfg_of(digital__schedule=schedule), trace).layers[index]
    want = TRAFFIC[schedule][index]
    assert layer.engine == "digital"
    assert layer.ops["sram_read_bits"] == sum(want[lv][0] for lv in SRAMS)
    assert layer.ops["sram_write_bits"] == sum(want[lv][1] for lv in SRAMS)
    assert layer.dram_bits_by_tensor == want["dram"]
    assert layer.ops["dram_bits"] == sum(want["dram"].values())
    assert layer.ops["neuron_updates"] == want["updates"]
    cyc = _expected_cycles(want)
    assert {k: pytest.approx(v) for k, v in layer.cycles_by_level.items()} == cyc
    bound = max(cyc, key=cyc.get)
    assert layer.bound == bound
    assert layer.cycles == pytest.approx(cyc[bound])
    assert layer.delay_s == pytest.approx(cyc[bound] * NS)
    e = layer.energy_breakdown_j
    for lv in SRAMS:
        r, w = want[lv]
        assert e[lv] == pytest.approx(r * E_R + w * E_W, abs=1e-18), lv
    assert e["dram"] == pytest.approx(sum(want["dram"].values()) * E_DRAM)
    assert e["compute"] == pytest.approx(want["e_compute"])
    assert e["neuron_update"] == pytest.approx(want["updates"] * E_UPD)
    noc = sum(bits * LENGTH[p] for p, bits in want["noc"].items()) * WIRE
    assert e["noc"] == pytest.approx(noc)
    assert e["leakage"] == pytest.approx(P_LEAK * cyc[bound] * NS)
    for k in ("pim_wordline", "pim_cell", "pim_dac", "pim_adc", "pim_shift_add",
              "pim_weight_write"):
        assert e[k] == 0
    assert layer.energy_j == pytest.approx(sum(e.values()))


def test_bounds_by_hand(trace):
    # c0 (compute 408) is compute-bound; c1 (DRAM 1288 bits / 8 = 161 > 34), c2 and fc are
    # DRAM-bound under tile_major.
    res = simulate(cfg_of(), trace)
    assert [x.bound for x in res.layers] == ["compute", "dram", "dram", "dram"]
    assert [x.cycles for x in res.layers] == pytest.approx([408, 161, 81, 28])


def test_ops_of_every_layer_by_hand(trace):
    res = simulate(cfg_of(), trace)
    assert [x.ops["synaptic_ops"] for x in res.layers] == [0, 42, 24, 16]
    assert [x.ops["macs"] for x in res.layers] == [1200, 0, 0, 0]  # 2 ch x 300 x 2 passes
    assert [x.ops["adc_conversions"] for x in res.layers] == [0, 0, 0, 0]
    assert [x.detail["compute_cycles"] for x in res.layers] == [408, 34, 10, 6]


def test_many_banks_and_ports_divide_sram_cycles(trace):
    # 4 banks x 2 ports x 64 bits = 512 bits per cycle at every SRAM level; the bank energy
    # E_bit(S / B) is flat in this config, so energies do not move.
    base = simulate(cfg_of(), trace)
    many = simulate(cfg_of(memory__weight_sram_banks=4, memory__membrane_sram_banks=4,
                           memory__spike_sram_banks=4, memory__sram_ports=2,
                           digital__schedule="tile_major"), trace)
    for index, layer in enumerate(many.layers):
        want = _expected_cycles(TRAFFIC["tile_major"][index], bits_per_cycle_sram=512)
        assert {k: pytest.approx(v) for k, v in layer.cycles_by_level.items()} == want
        assert layer.energy_breakdown_j["weight_sram"] == pytest.approx(
            base.layers[index].energy_breakdown_j["weight_sram"])
    # c0's weight SRAM: 5292 bits / 512 = 10.3359375 cycles
    assert many.layers[0].cycles_by_level["weight_sram"] == pytest.approx(5292 / 512)


def test_bound_moves_from_weight_sram_to_compute_with_banks(trace):
    # 8 MAC lanes, no update cycles, fast DRAM (1e12 B/s -> 8000 bits/cycle): c0 compute =
    # (12 tiles x ceil(6/8) + 12 x ceil(9/8)) x 2 passes = 36 x 2 = 72 cycles; weight SRAM
    # (5184 + 108) / 64 = 82.6875 > 72 -> bound weight_sram. With 4 weight banks: 20.671875,
    # spike SRAM (2400 + 320) / 64 = 42.5 -> bound compute.
    over = {"digital__mac_lanes": 8, "digital__neuron_update_cycles": 0,
            "memory__dram_bandwidth_bytes_per_s": 1e12}
    one = simulate(cfg_of(**over), trace).layers[0]
    assert one.cycles_by_level["compute"] == 72
    assert one.bound == "weight_sram"
    assert one.cycles == pytest.approx(82.6875)
    assert one.cycles_by_level["dram"] == pytest.approx(1100 / 8000)
    many = simulate(cfg_of(memory__weight_sram_banks=4, **over), trace).layers[0]
    assert many.cycles_by_level["weight_sram"] == pytest.approx(5292 / 256)
    assert many.bound == "compute"
    assert many.cycles == 72


# --------------------------------------------------------------------- fits / one word short


def test_tensors_that_just_fit(trace):
    # weight SRAM 27 words (216 B): c0 2 + fc 3 + c1 11 + c2 11 = 27, c2 exactly fits;
    # membrane SRAM 17 words (136 B): 1 + 1 + 3 + 12, c0 exactly fits;
    # spike SRAM 6 words (48 B): the image (384 bits) exactly fits, c0's output spills whole.
    cfg = cfg_of(memory__weight_sram_bytes=216, memory__membrane_sram_bytes=136,
                 memory__spike_sram_bytes=48, digital__schedule="step_major")
    places = place_network(cfg, trace.layers, ["digital"] * 4, t=2, input_bits=8)
    assert [int(p.weights_streamed) for p in places] == [0, 0, 0, 0]
    assert [int(p.membranes_spilled) for p in places] == [0, 0, 0, 0]
    assert int(places[0].in_spilled) == 0 and int(places[0].out_resident) == 0
    res = simulate(cfg, trace)
    # c0: no image re-reads from DRAM (only the 384-bit load), no membrane spill
    assert res.layers[0].dram_bits_by_tensor == {"weights": 108, "membranes": 0,
                                                 "spikes": 192, "input": 384}
    # c2: no streamed weights: 648 loaded once
    assert res.layers[2].dram_bits_by_tensor["weights"] == 648
    assert res.layers[2].warnings == []
    # c0's one warning line names its spilled output (the image fits)
    assert len(res.layers[0].warnings) == 1 and "output spikes" in res.layers[0].warnings[0]


def test_tensors_that_miss_by_one_word(trace):
    # the default hand config: c2's weights, c0's membranes and the image miss one word each
    res = simulate(cfg_of(digital__schedule="step_major"), trace)
    assert res.layers[2].dram_bits_by_tensor["weights"] == 640 + 8 * 2  # 8 bits x T
    assert "weights 8 bits" in res.layers[2].warnings[0]
    assert res.layers[0].dram_bits_by_tensor["membranes"] == 2 * 1536 // 12  # 1/12 each way
    assert res.layers[0].dram_bits_by_tensor["input"] == 320 + 2880 // 6
    assert "membranes 64 bits" in res.layers[0].warnings[0]


# ----------------------------------------------------------------------- weight options


def test_weight_load_inferences_and_n(trace, trace2):
    # N = 2 copies of the sample: ops double; with weight_load_inferences B = 2 the resident
    # loads are W_res x N / B = W_res (half the per-inference DRAM weight traffic).
    one = simulate(cfg_of(), trace)
    two = simulate(cfg_of(memory__weight_load_inferences=2), trace2)
    for a, b in zip(one.layers, two.layers, strict=True):
        assert b.ops["synaptic_ops"] == 2 * a.ops["synaptic_ops"]
        assert b.ops["macs"] == 2 * a.ops["macs"]
        assert b.energy_breakdown_j["compute"] == pytest.approx(a.energy_breakdown_j["compute"])
    # c1: 648 resident, loaded 648 x 2 / 2; c2: 640 x 2 / 2 + streamed 8 x N = 656
    assert two.layers[1].dram_bits_by_tensor["weights"] == 648
    assert two.layers[2].dram_bits_by_tensor["weights"] == 640 + 16
    # spikes: c1's window re-read from DRAM for both samples, 2 x 640
    assert two.layers[1].dram_bits_by_tensor["spikes"] == 1280


@pytest.mark.parametrize("schedule", ["tile_major", "step_major"])
def test_fetch_active_weights_only(trace, schedule):
    # digital doc: streamed W_str / rows x active rows; resident rows cost
    # min(W_res x N / B, W_res / rows x active rows).
    # c1: rows = 2 channels, active 2 per sample (tile) / 3 per step (step):
    #   min(648, 648 / 2 x 2 = 648) = 648; step: min(648, 972) = 648.
    # c2: rows 6, active 3 (both): streamed 8 / 6 x 3 = 4; resident min(640, 640/6 x 3 = 320)
    #   = 320 -> 324.
    # fc: rows 8 inputs, active 4 (both): min(192, 192 / 8 x 4 = 96) = 96.
    # c0 is dense: all 108 loaded.
    res = simulate(cfg_of(memory__fetch_active_weights_only=True,
                          digital__schedule=schedule), trace)
    assert [x.dram_bits_by_tensor["weights"] for x in res.layers] == [108, 648, 324, 96]
    # the weight SRAM is written with what is fetched
    assert res.layers[3].energy_breakdown_j["weight_sram"] == pytest.approx(
        96 * E_R + 96 * E_W)


def test_first_layer_reuse(trace):
    # passes = 1: MACs 2 x 300 = 600; weights read 18 x 24 x 6 = 2592 bits; inputs
    # 1 x 180 x 8 = 1440 bits (1/6 from DRAM: 240); compute 180 + 48 = 228.
    # tile_major: the current stays in the PEs, no membrane traffic.
    tile = simulate(cfg_of(digital__first_layer_reuse=True), trace).layers[0]
    assert tile.ops["macs"] == 600
    assert tile.detail["compute_cycles"] == 228
    assert tile.ops["sram_read_bits"] == 2592 + 1200
    assert tile.dram_bits_by_tensor["input"] == 320 + 240
    assert tile.energy_breakdown_j["membrane_sram"] == 0


def test_first_layer_reuse_step_major_current_with_the_membranes(trace):
    # step_major (schedule doc): c0's membranes plus its current, 2 x 96 x 8 = 1536 bits =
    # 24 words, live in the membrane SRAM. 28 words (224 B): fc 1, c2 1, c1 3, c0 gets the 23
    # left: 1472 resident, 64 spilled (misses by one word), spilled share 1/24.
    # current: 768 written once, read at each of T = 2 steps (1536); membranes 1536 each way.
    cfg = cfg_of(digital__first_layer_reuse=True, digital__schedule="step_major",
                 memory__membrane_sram_bytes=224)
    pl = place_network(cfg, trace.layers, ["digital"] * 4, t=2, input_bits=8)[0]
    assert (pl.membranes_total, int(pl.membranes_resident)) == (1536, 1472)
    step = simulate(cfg, trace).layers[0]
    assert step.ops["macs"] == 600
    # reads: weights 2592 + inputs 1200 + current 1536 x 23/24 + membranes 1536 x 23/24
    assert step.ops["sram_read_bits"] == 2592 + 1200 + 1472 + 1472
    # writes: weight load 108 + image 320 + current 768 x 23/24 + membranes 1472
    assert step.ops["sram_write_bits"] == 108 + 320 + 736 + 1472
    # DRAM: 1/24 of 768 + 1536 (current) + 2 x 1536 (membranes)
    assert step.dram_bits_by_tensor["membranes"] == 32 + 64 + 2 * 64
    assert step.energy_breakdown_j["membrane_sram"] == pytest.approx(
        (1472 + 1472) * E_R + (736 + 1472) * E_W)


def test_reuse_current_spills_when_the_membrane_sram_is_full(trace):
    # memory doc: a spilled bit lives in DRAM. A membrane SRAM of 1 byte holds no word: the
    # current (768 written + 1536 read) and the membranes (1536 each way) all move to DRAM.
    cfg = cfg_of(digital__first_layer_reuse=True, digital__schedule="step_major",
                 memory__membrane_sram_bytes=1)
    c0 = simulate(cfg, trace).layers[0]
    assert c0.energy_breakdown_j["membrane_sram"] == 0
    assert c0.dram_bits_by_tensor["membranes"] == 768 + 1536 + 2 * 1536


# ---------------------------------------------------------------------------- PIM layer


def _pim_cfg(**over):
    base = {"pim__enabled": True, "pim__num_arrays": 4, "pim__rows": 16, "pim__cols": 16,
            "pim__rows_per_read": 8, "pim__bits_per_cell": 2, "pim__cols_per_adc": 2,
            "pim__adc_bits": 4}
    return cfg_of(**{**base, **over})


def l_pim(arrays, rows, cols, cols_per_adc):
    """sqrt of the macro area, mm (noc doc; area doc with cells of 1 um^2 and only ADCs)."""
    n_adc = math.ceil(cols / cols_per_adc)
    return math.sqrt(arrays * (rows * cols * 1e-12 + n_adc * SAR_AREA_4B)) * 1e3


def test_pim_bit_serial_by_hand(trace):
    c0 = simulate(_pim_cfg(), trace).layers[0]
    assert c0.engine == "pim"
    # geometry: K = 9 rows, S = ceil(6/2) = 3 slices, 2 x 3 = 6 columns, A = 1 x 1 = 1 array,
    # G = 0 x 2 + ceil(9/8) = 2 row groups, G_max = ceil(9/8) = 2, D = 4 copies, 1 swap.
    assert (c0.mapping["arrays"], c0.mapping["copies"], c0.mapping["row_groups"]) == (1, 4, 2)
    # conversions = 48 positions x N x 2 passes x 8 phases x 2 groups x 6 columns
    conv = 48 * 2 * 8 * 2 * 6
    assert conv == 9216 and c0.ops["adc_conversions"] == conv
    assert c0.ops["macs"] == 2 * 300 * 2
    # driven rows (bit-serial, one pass): popcount x cover: 2 x 4 + 8 x 9 + 1 x 6 + 2 x 4 = 94
    driven = 94
    e = c0.energy_breakdown_j
    assert e["pim_wordline"] == pytest.approx(driven * 2 * 1 * 10 * FJ * 16 / 128)  # 235 fJ
    assert e["pim_cell"] == pytest.approx(driven * 2 * 6 * 1 * FJ)  # 1128 fJ
    assert e["pim_dac"] == 0
    assert e["pim_adc"] == pytest.approx(conv * 100 * FJ * 2**4)
    assert e["pim_shift_add"] == pytest.approx(conv * 50 * FJ)
    # weights: K x C_out S x bits/cell = 9 x 6 x 2 = 108 bits, x D = 4 copies, once per
    # inference, at the write energy of a 16 x 16 x 2 / 8 = 64-byte SRAM (flat: 0.2 pJ/bit)
    assert e["pim_weight_write"] == pytest.approx(108 * 4 * E_W)
    assert c0.dram_bits_by_tensor["weights"] == 108
    # inputs: groups of D = 4 positions (one (d, h) row of w): window 4 x t_h[h] -> per plane
    # 4 x 10, x 3 planes = 120; x 8 bits x 2 passes = 1920, 1/6 spilled: 320 from DRAM, 1600
    # from the spike SRAM; the image load: 320 DRAM reads (its resident part), 320 bits written.
    assert c0.dram_bits_by_tensor == {"weights": 108, "membranes": 0, "spikes": 192,
                                      "input": 320 + 320}
    assert e["spike_sram"] == pytest.approx(1600 * E_R + 320 * E_W)
    assert e["weight_sram"] == 0
    noc = (1920 * l_pim(4, 16, 16, 2) + 192 * L_UNI) * WIRE
    assert e["noc"] == pytest.approx(noc)
    # time: t_conv = 4 bits x 1 ns x 2 columns/ADC = 8 ns > t_bitline 2 ns -> t_read 8 ns;
    # t_pim = ceil(48/4) x 2 passes x 1 swap x G_max 2 x 8 phases x 8 ns = 3072 ns.
    assert c0.detail["t_read_s"] == pytest.approx(8 * NS)
    assert c0.cycles_by_level["pim"] == pytest.approx(3072)
    assert c0.cycles_by_level["compute"] == 48  # 24 position tiles x T = 2 update cycles
    assert c0.cycles_by_level["spike_sram"] == pytest.approx((1600 + 320) / 64)
    assert c0.cycles_by_level["dram"] == pytest.approx((108 + 640 + 192) / 8)
    assert c0.bound == "pim"
    assert e["neuron_update"] == pytest.approx(192 * E_UPD)
    assert e["compute"] == 0
    assert e["leakage"] == pytest.approx((P_LEAK + 4 * 1e-6) * 3072 * NS)


def test_pim_dac_pulse_count_multiplexed_by_hand(trace):
    over = {"pim__input_mode": "dac", "pim__dac_bits": 2, "pim__dac_kind": "pulse_count",
            "pim__pulse_period_s": 1e-9, "pim__e_dac_j": 5e-15, "pim__rows": 4,
            "pim__cols": 4, "pim__rows_per_read": 4}
    c0 = simulate(_pim_cfg(**over), trace).layers[0]
    # geometry: row arrays ceil(9/4) = 3, column arrays ceil(6/4) = 2, A = 6 > 4 arrays:
    # multiplexed, D = 1, swaps ceil(6/4) = 2; G = 2 x 1 + ceil(1/4) = 3, G_max = 1.
    assert (c0.mapping["arrays"], c0.mapping["copies"], c0.mapping["swaps"]) == (6, 1, 2)
    # phases ceil(8/2) = 4; conversions = 48 x 2 passes x 4 x 3 x 6 = 6912
    conv = 48 * 2 * 4 * 3 * 6
    assert c0.ops["adc_conversions"] == conv
    # 2-bit chunks (k0..k3): 5 -> (1,1,0,0), 255 -> (3,3,3,3), 128 -> (0,0,0,2), 3 -> (3,0,0,0)
    # driven = 2 x 4 + 4 x 9 + 1 x 6 + 1 x 4 = 54; pulses = 2 x 4 + 12 x 9 + 2 x 6 + 3 x 4 = 140
    driven, pulses = 54, 140
    e = c0.energy_breakdown_j
    assert e["pim_wordline"] == pytest.approx(pulses * 2 * 2 * 10 * FJ * 4 / 128)  # 175 fJ
    assert e["pim_cell"] == pytest.approx(pulses * 2 * 6 * 1 * FJ)  # 1680 fJ
    assert e["pim_dac"] == pytest.approx(driven * 2 * 2 * 5 * FJ)  # 1080 fJ
    assert e["pim_adc"] == pytest.approx(conv * 1.6 * PJ)
    assert e["pim_shift_add"] == pytest.approx(conv * 50 * FJ)
    # multiplexed: every pass reloads the 108 cells (x 2 passes), 4 x 4 x 2 / 8 = 4-byte array
    assert e["pim_weight_write"] == pytest.approx(108 * 2 * E_W)
    # inputs: D = 1 -> each position reads its receptive field, 300 pixels x 8 bits x 2 = 4800;
    # 800 from DRAM
    assert c0.dram_bits_by_tensor == {"weights": 216, "membranes": 0, "spikes": 192,
                                      "input": 320 + 800}
    assert e["noc"] == pytest.approx((4800 * l_pim(4, 4, 4, 2) + 192 * L_UNI) * WIRE)
    # t_analog = (2^2 - 1) x 1 ns = 3 ns, t_conv = 8 ns -> 8 ns (pipelined), 11 ns (not);
    # t_pim = 48 x 2 passes x 2 swaps x 1 x 4 phases x t_read
    assert c0.cycles_by_level["pim"] == pytest.approx(48 * 2 * 2 * 4 * 8)
    serial = simulate(_pim_cfg(**over, pim__pipelined_readout=False), trace).layers[0]
    assert serial.cycles_by_level["pim"] == pytest.approx(48 * 2 * 2 * 4 * 11)
    # level DAC: a phase is one wordline activation per driven row
    level = simulate(_pim_cfg(**{**over, "pim__dac_kind": "level"}), trace).layers[0]
    assert level.energy_breakdown_j["pim_wordline"] == pytest.approx(
        driven * 2 * 2 * 10 * FJ * 4 / 128)
    assert level.energy_breakdown_j["pim_cell"] == pytest.approx(driven * 2 * 6 * FJ)
    assert level.detail["t_read_s"] == pytest.approx(8 * NS)  # max(t_bitline 2 ns, 8 ns)


def test_pim_analog_weight_combine_conversions(trace):
    # combined: C_conv = C_out = 2: 48 x 2 x 8 x 2 x 2 = 3072 conversions; t_conv = 4 ns x
    # ceil(2 / 3) = 4 ns -> t_read = max(2, 4) = 4 ns.
    c0 = simulate(_pim_cfg(pim__analog_weight_combine=True), trace).layers[0]
    assert c0.ops["adc_conversions"] == 3072
    assert c0.detail["t_read_s"] == pytest.approx(4 * NS)


def test_pim_analog_weight_combine_correction_energy(trace):
    # pim doc: shift-add per conversion, one more add per conversion (at e_shift_add_j) and
    # K = 9 input-code adds per position and phase (E_add(8) each)
    c0 = simulate(_pim_cfg(pim__analog_weight_combine=True), trace).layers[0]
    conv = 3072
    want = conv * 50 * FJ + conv * 50 * FJ + 48 * 2 * 8 * 9 * E_ADD8
    assert c0.energy_breakdown_j["pim_shift_add"] == pytest.approx(want)


def test_pim_read_time_override_and_reuse(trace):
    # pim.t_read_s replaces the computed 8 ns: t_pim = 12 x 2 x 1 x 2 x 8 x 5 ns = 1920 ns
    c0 = simulate(_pim_cfg(pim__t_read_s=5e-9), trace).layers[0]
    assert c0.cycles_by_level["pim"] == pytest.approx(1920)
    # first_layer_reuse: passes = 1 -> conversions, wordline/cell energy, inputs and t_pim halve
    r = simulate(_pim_cfg(digital__first_layer_reuse=True), trace).layers[0]
    assert r.ops["adc_conversions"] == 9216 // 2
    assert r.ops["macs"] == 600
    assert r.energy_breakdown_j["pim_wordline"] == pytest.approx(94 * 10 * FJ * 16 / 128)
    assert r.energy_breakdown_j["pim_cell"] == pytest.approx(94 * 6 * FJ)
    assert r.cycles_by_level["pim"] == pytest.approx(3072 / 2)
    # inputs 120 x 8 x 1 pass = 960, 1/6 = 160 from DRAM; weights still loaded once (D = 4)
    assert r.dram_bits_by_tensor["input"] == 320 + 160
    assert r.energy_breakdown_j["pim_weight_write"] == pytest.approx(108 * 4 * E_W)


def test_pim_weight_load_inferences(trace2):
    # N = 2, weight_load_inferences 2: the 4 copies (432 bits) are written 2 / 2 = 1 time in
    # all: 216 bits per inference; the DRAM read of 108 bits once in all.
    c0 = simulate(_pim_cfg(memory__weight_load_inferences=2), trace2).layers[0]
    assert c0.energy_breakdown_j["pim_weight_write"] == pytest.approx(432 / 2 * E_W)
    assert c0.dram_bits_by_tensor["weights"] == 108
    assert c0.ops["adc_conversions"] == 2 * 9216
    # multiplexed arrays are reprogrammed every pass whatever weight_load_inferences says:
    # 108 bits x 2 passes x 2 samples
    m = simulate(_pim_cfg(memory__weight_load_inferences=2, pim__rows=4, pim__cols=4,
                          pim__rows_per_read=4), trace2).layers[0]
    assert m.dram_bits_by_tensor["weights"] == 108 * 2 * 2


def test_pim_fixed_macro_refuses_a_layer_it_cannot_hold(trace):
    from pimsim.errors import SimulationError

    # 6 arrays of 4 x 4 needed, 4 available, no multiplexing
    cfg = _pim_cfg(pim__rows=4, pim__cols=4, pim__rows_per_read=4, pim__allow_multiplex=False)
    with pytest.raises(SimulationError, match="pim.num_arrays"):
        simulate(cfg, trace)
    with pytest.raises(SimulationError, match="max_weight_bits"):
        simulate(_pim_cfg(pim__max_weight_bits=4), trace)


def test_pim_dram_reads_the_weights_not_the_padded_cells(trace):
    # 4-bit cells, 6-bit weights: S = ceil(6/4) = 2 slices, cells 9 x 4 x 4 = 144 bits
    c0 = simulate(_pim_cfg(pim__bits_per_cell=4), trace).layers[0]
    assert c0.energy_breakdown_j["pim_weight_write"] == pytest.approx(144 * 4 * E_W)
    assert c0.dram_bits_by_tensor["weights"] == 9 * 2 * 6


def test_pim_zero_cell_area_is_harmless(trace):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c0 = simulate(_pim_cfg(area__pim_cell_m2=0.0), trace).layers[0]
    assert not any("ADC" in w for w in c0.warnings)


def test_accounting_switches(trace):
    # layer doc: without accounting.memory the level and delivery terms are zero and the
    # levels need no cycles: every layer is compute-bound at its compute cycles.
    cfg = cfg_of(accounting__memory=False, accounting__leakage=False,
                 accounting__neuron_updates=False)
    res = simulate(cfg, trace)
    for layer, want in zip(res.layers, TRAFFIC["tile_major"], strict=True):
        e = layer.energy_breakdown_j
        assert all(e[k] == 0 for k in (*SRAMS, "dram", "noc", "leakage", "neuron_update"))
        assert e["compute"] == pytest.approx(want["e_compute"])
        assert layer.bound == "compute" and layer.cycles == want["compute"]
        # the traffic is still reported
        assert layer.ops["sram_read_bits"] == sum(want[lv][0] for lv in SRAMS)
    cnn = simulate_cnn(cfg, trace, "int")
    assert all(x.energy_breakdown_j["neuron_update"] == 0 for x in cnn.layers)


def test_pim_frees_the_weight_sram_for_later_layers(trace):
    # the PIM layer keeps no weights in the weight SRAM: fc 3 + c1 11 + c2 11 = 25 <= 26 words
    res = simulate(_pim_cfg(), trace)
    assert res.layers[2].dram_bits_by_tensor["weights"] == 648  # loaded once, none streamed
    assert res.layers[2].warnings == []


# ---------------------------------------------------------------------------- CNN baseline


def test_cnn_int_layer_by_hand(trace):
    # INT-6 CNN (accumulator 32) on the same hardware, tile_major, one pass, 6-bit activations.
    # Spike/activation SRAM chain, 5 words: image 48 x 6 = 288 bits (5 words) resident; c0's
    # activations 96 x 6 = 576: nothing left, spilled; c1 reads them all from DRAM.
    # c1: E_dense = C_in 2 x sum over positions of 2 (d) x t_h x t_w = 2 x (2 + 2) x 5 x 5 =
    #   200, MACs = 3 x 200 = 600; weights 108 x PT 4 x 6 = 2592 bits read, load 648;
    #   inputs CT 2 x C_in 2 x 80 x 6 = 1920 bits, all from DRAM; 24 x 6 = 144 output bits to
    #   the SRAM. Tile fan-in maxima 2 x 2 x (t_h t_w): tiles (2x2, 2x3) -> 24, (3x2, 3x3) -> 36,
    #   twice -> 120; compute = CT 2 x 120 + 2 x 4 x 1 = 248 cycles.
    res = simulate_cnn(cfg_of(), trace, "int")
    c1 = res.layers[1]
    assert c1.ops["macs"] == 600
    assert c1.ops["synaptic_ops"] == 0
    assert c1.detail["compute_cycles"] == 248
    e_mac = 3.1 * PJ * 36 / 1024 + 0.1 * PJ  # E_mult(6, 6) + E_add(32)
    e = c1.energy_breakdown_j
    assert e["compute"] == pytest.approx(600 * e_mac)
    assert e["neuron_update"] == pytest.approx(24 * 0.1 * PJ)  # one E_add(32) per output
    assert c1.dram_bits_by_tensor == {"weights": 648, "membranes": 0, "spikes": 1920,
                                      "input": 0}
    assert e["weight_sram"] == pytest.approx(2592 * E_R + 648 * E_W)
    assert e["spike_sram"] == pytest.approx(144 * E_W)
    assert e["membrane_sram"] == 0
    assert e["noc"] == pytest.approx((1920 * L_BCAST + 2592 * L_COL + 144 * L_UNI) * WIRE)
    assert c1.cycles_by_level["dram"] == pytest.approx((648 + 1920) / 8)  # 321
    assert c1.bound == "dram"
    # c0 reads its image (288 bits at 6 bits a pixel) from DRAM once
    assert res.layers[0].dram_bits_by_tensor["input"] == 288
    assert res.layers[0].ops["macs"] == 2 * 300


def test_cnn_fp32_mac_energy(trace):
    c1 = simulate_cnn(cfg_of(), trace, "fp32").layers[1]
    assert c1.energy_breakdown_j["compute"] == pytest.approx(600 * (3.7 + 0.9) * PJ)


def test_cnn_last_layer_outputs_go_to_dram(trace):
    # cnn doc: hidden layers' activations go to the SRAM, the last layer's outputs (4 x 6
    # bits) to DRAM as ``spikes``
    res = simulate_cnn(cfg_of(), trace, "int")
    assert res.layers[3].dram_bits_by_tensor["spikes"] == 24
    assert res.layers[2].dram_bits_by_tensor["spikes"] == 0  # c2's 48 bits fit


# ------------------------------------------------------------------------ Horowitz points


def test_horowitz_points_exact():
    ops = cfg_of().ops
    assert tech.add_energy_j(ops, 8) == 0.03 * PJ
    assert tech.add_energy_j(ops, 32) == 0.1 * PJ
    assert tech.add_energy_j(ops, 16) == pytest.approx((0.03 + 0.07 / 3) * PJ, rel=1e-15)
    assert tech.add_energy_j(ops, 4) == pytest.approx(0.015 * PJ, rel=1e-15)
    assert tech.mult_energy_j(ops, 32, 32) == pytest.approx(3.1 * PJ, rel=1e-15)


def test_totals(trace):
    res = simulate(cfg_of(), trace)
    assert res.delay_s == pytest.approx((408 + 161 + 81 + 28) * NS)
    assert res.edp_js == pytest.approx(res.energy_j * res.delay_s)
