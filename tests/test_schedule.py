"""pimsim.models.schedule by hand: tiles, footprints and the placement of every tensor
(module doc: tile_major / step_major live tensors, the spike SRAM chain, smallest first)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import REPO, conv2d, conv3d, linear
from hypothesis import given, settings
from hypothesis import strategies as st

from pimsim.config import load_config
from pimsim.models.schedule import (
    channel_tiles,
    place_network,
    position_tiles,
    spike_footprint,
    weight_bits,
    weight_rows,
)

HAND = REPO / "tests" / "data" / "hand_hw.yaml"


def _cfg(**over):
    return load_config(HAND, {k.replace("__", "."): v for k, v in over.items()})


def test_tiles_by_hand():
    cfg = _cfg(digital__pe_rows=3, digital__pe_cols=2)
    conv = conv2d("c", (4, 5, 5), 5, (3, 3), stride=(2, 2))  # out (5, 2, 2): P = 4
    assert channel_tiles(conv, cfg) == 3  # ceil(5 / 2)
    assert position_tiles(conv, cfg) == 2  # ceil(4 / 3)
    fc = linear("fc", 10, 13)
    assert channel_tiles(fc, cfg) == 3  # ceil(13 / (3 x 2))
    assert position_tiles(fc, cfg) == 1
    c3 = conv3d("v", (2, 4, 4, 4), 7, (1, 1, 1))  # P = 64
    assert (channel_tiles(c3, cfg), position_tiles(c3, cfg)) == (4, 22)


def test_sizes_by_hand():
    conv = conv3d("v", (2, 3, 4, 4), 3, (2, 3, 3), weight_bits=6)
    assert weight_bits(conv) == 3 * 2 * 2 * 3 * 3 * 6
    assert weight_bits(conv, 32) == 108 * 32
    assert weight_rows(conv) == 2  # input channels
    assert weight_rows(linear("fc", 9, 4)) == 9  # inputs
    # tile_major keeps all T steps of both spike maps live, step_major one step
    assert spike_footprint(conv, "tile_major", 4) == (96 * 4, conv.out_size * 4)
    assert spike_footprint(conv, "step_major", 4) == (96, conv.out_size)


def _net():
    return [conv2d("a", (1, 4, 4), 2, (3, 3), padding=(1, 1), first=True),  # in 16, out 32
            conv2d("b", (2, 4, 4), 2, (3, 3), padding=(1, 1)),  # in 32, out 32, w 36
            linear("fc", 32, 3)]  # w 96, out 3


def _place(cfg, engines=("digital", "digital", "digital"), **kw):
    return place_network(cfg, _net(), list(engines), t=kw.pop("t", 3), input_bits=8, **kw)


def test_spike_chain_tile_major():
    # 8-bit words; spike SRAM 15 bytes = 15 words.
    # a: image 16 x 8 = 128 bits (16 words): 15 resident, 8 spilled; no word left for a's
    #    output (T 3 x 32 = 96 bits): all spilled.
    # b: input = a's resident output: 0; output 96 bits (12 words) in the 15 free words.
    # fc: input = b's 96 resident bits; no output (the last layer's logits go to DRAM).
    cfg = _cfg(memory__sram_word_bits=8, memory__spike_sram_bytes=15)
    a, b, fc = _place(cfg)
    assert (a.in_total, int(a.in_resident), a.out_total, int(a.out_resident)) == (128, 120,
                                                                                   96, 0)
    assert (b.in_total, int(b.in_resident), b.out_total, int(b.out_resident)) == (96, 0, 96, 96)
    assert (fc.in_total, int(fc.in_resident), fc.out_total, int(fc.out_resident)) == (96, 96,
                                                                                      0, 0)
    assert a.spills() == {"weights": 0, "membranes": 0, "input spikes": 8, "output spikes": 96}


def test_spike_chain_shares_the_level_between_input_and_output():
    # 15 words again but a 5-bit image (80 bits, 10 words): a's output gets the 5 words left:
    # 40 of 96 bits; b's input = those 40 bits (5 words), its output gets 10 words = 80 of 96.
    cfg = _cfg(memory__sram_word_bits=8, memory__spike_sram_bytes=15)
    a, b, fc = place_network(cfg, _net(), ["digital"] * 3, t=3, input_bits=5)
    assert (int(a.in_resident), int(a.out_resident)) == (80, 40)
    assert (int(b.in_resident), int(b.out_resident)) == (40, 80)
    assert int(fc.in_resident) == 80


def test_spike_chain_step_major_one_step():
    cfg = _cfg(memory__sram_word_bits=8, memory__spike_sram_bytes=15,
               digital__schedule="step_major")
    a, b, fc = _place(cfg)
    # a: image 128 (15 words resident = 120); output one step 32 bits: none left.
    # b: in 32 (0 resident), out 32 bits = 4 words resident. fc in 32 resident.
    assert (int(a.in_resident), a.out_total, int(a.out_resident)) == (120, 32, 0)
    assert (b.in_total, int(b.in_resident), b.out_total, int(b.out_resident)) == (32, 0, 32, 32)
    assert fc.in_total == 32 and int(fc.in_resident) == 32


def test_weights_smallest_first_and_pim_layers_hold_none():
    # weights: a 2 x 9 x 6 = 108 bits, b 2 x 2 x 9 x 6 = 216, fc 96 x 6 = 576; 64-bit words:
    # 2, 4 and 9 words. Weight SRAM 10 words (80 B): smallest first a (2), b (4), then fc gets
    # the 4 words left: 256 resident, 320 streamed.
    cfg = _cfg(memory__weight_sram_bytes=80)
    a, b, fc = _place(cfg)
    assert [a.weights_total, b.weights_total, fc.weights_total] == [108, 216, 576]
    assert [int(p.weights_resident) for p in (a, b, fc)] == [108, 216, 256]
    assert int(fc.weights_streamed) == 320
    # with the first layer on the PIM macro it keeps no weights here: b (4) + fc 6 words
    a, b, fc = _place(cfg, engines=("pim", "digital", "digital"))
    assert a.weights_total == 0
    assert [int(p.weights_resident) for p in (b, fc)] == [216, 384]


def test_membranes_only_under_step_major():
    # out_size x 8 bits: a 256, b 256, fc 24; 64-bit words 4, 4, 1; membrane SRAM 6 words
    # (48 B): fc (1) first, then a (4, ties in layer order), b gets 1 word = 64 of 256.
    tile = _place(_cfg(memory__membrane_sram_bytes=48))
    assert [p.membranes_total for p in tile] == [0, 0, 0]
    step = _place(_cfg(memory__membrane_sram_bytes=48, digital__schedule="step_major"))
    assert [p.membranes_total for p in step] == [256, 256, 24]
    assert [int(p.membranes_resident) for p in step] == [256, 64, 24]
    assert [int(p.membranes_spilled) for p in step] == [0, 192, 0]


def test_cnn_placement_uses_activation_bits_and_no_time_steps():
    # act_bits = 6: weights at 6 bits (a 108, b 216, fc 576), activations in x 6 once
    # (a's image 96, its output 192, b 192 / 192, fc input 192, no output), no membranes
    # even under step_major (the CNN runs tile_major).
    cfg = _cfg(digital__schedule="step_major", memory__spike_sram_bytes=4096)
    a, b, fc = _place(cfg, act_bits=6)
    assert (a.in_total, a.out_total, b.in_total, b.out_total, fc.in_total, fc.out_total) == (
        96, 192, 192, 192, 192, 0)
    assert [p.membranes_total for p in (a, b, fc)] == [0, 0, 0]
    a32, _, fc32 = _place(cfg, act_bits=32)
    assert (a32.weights_total, fc32.weights_total) == (18 * 32, 96 * 32)


@settings(max_examples=30, deadline=None)
@given(spike=st.integers(1, 80), weight=st.integers(1, 200), membrane=st.integers(1, 80),
       word=st.sampled_from([8, 16, 32, 64]), t=st.integers(1, 4),
       schedule=st.sampled_from(["tile_major", "step_major"]))
def test_placement_invariants(spike, weight, membrane, word, t, schedule):
    cfg = _cfg(memory__spike_sram_bytes=spike, memory__weight_sram_bytes=weight,
               memory__membrane_sram_bytes=membrane, memory__sram_word_bits=word,
               digital__schedule=schedule)
    places = _place(cfg, t=t)

    def words(bits):
        return -(-int(bits) // word)

    cap = {"w": weight * 8 // word, "m": membrane * 8 // word, "s": spike * 8 // word}
    assert sum(words(p.weights_resident) for p in places) <= cap["w"]
    assert sum(words(p.membranes_resident) for p in places) <= cap["m"]
    for i, p in enumerate(places):
        for res, tot in ((p.weights_resident, p.weights_total),
                         (p.membranes_resident, p.membranes_total),
                         (p.in_resident, p.in_total), (p.out_resident, p.out_total)):
            assert 0 <= int(res) <= int(tot)
        # a layer's live input and output share the spike SRAM
        assert words(p.in_resident) + words(p.out_resident) <= cap["s"]
        if i > 0:  # the chain: the input is what the previous layer left
            assert int(p.in_resident) == int(places[i - 1].out_resident)
    # resident bits are whole words except the tail of a whole tensor
    for p in places:
        r = int(p.weights_resident)
        assert r == p.weights_total or r % word == 0


def test_placement_broadcasts_over_capacity_columns():
    from pimsim.models.params import ConfigColumns

    base = _cfg()
    cols = ConfigColumns(base, {"memory.weight_sram_bytes": np.array([8, 80, 1000])})
    a, _, fc = _place(cols)
    # 1, 10 and 125 words: a (2 words) needs 2: 64 of 108; 10 words as above; all fit.
    assert list(np.asarray(a.weights_resident)) == [64, 108, 108]
    assert list(np.asarray(fc.weights_resident)) == [0, 256, 576]


@pytest.mark.parametrize("schedule", ["tile_major", "step_major"])
def test_first_layer_input_is_the_image(schedule):
    # in_size x input_bits whatever the schedule (read from DRAM once per inference)
    a = _place(_cfg(digital__schedule=schedule, memory__spike_sram_bytes=4096))[0]
    assert a.in_total == 16 * 8 and int(a.in_resident) == 128
