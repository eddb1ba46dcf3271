"""pimsim.models.memory by hand: levels (capacity, bandwidth, per-bank energy),
resident_split (whole words, smallest first, first misfit keeps the rest) and Traffic."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import TINY_HW
from hypothesis import given, settings
from hypothesis import strategies as st

from pimsim.config import load_config
from pimsim.models.memory import (
    LEVELS,
    Traffic,
    dram_level,
    hierarchy,
    resident_split,
    sram_level,
    words,
)

PJ = 1e-12


def _cfg(**over):
    return load_config(TINY_HW, {k.replace("__", "."): v for k, v in over.items()})


def test_sram_level_one_bank():
    # tiny: 8 KB, 1 bank, 1 port, 64-bit words; Horowitz 8 KB = 10 pJ per 64-bit access
    lv = sram_level(_cfg(), "weight_sram")
    assert lv.capacity_bits == 8192 * 8
    assert lv.word_bits == 64
    assert lv.bits_per_cycle == 64
    assert lv.read_j_per_bit == pytest.approx(10 * PJ / 64, rel=1e-12)
    assert lv.write_j_per_bit == pytest.approx(10 * PJ / 64, rel=1e-12)  # write factor 1


def test_sram_level_banks_ports_and_bank_energy():
    # 32 KB in 4 banks of 8 KB, 2 ports: 4 x 2 x 64 = 512 bits/cycle; an access costs the
    # energy of one 8 KB bank (10 pJ / 64 bits), not of the 32 KB array (20 pJ).
    cfg = _cfg(memory__spike_sram_bytes=32768, memory__spike_sram_banks=4,
               memory__sram_ports=2, memory__sram_write_factor=1.5)
    lv = sram_level(cfg, "spike_sram")
    assert lv.capacity_bits == 32768 * 8
    assert lv.bits_per_cycle == 512
    assert lv.read_j_per_bit == pytest.approx(10 * PJ / 64, rel=1e-12)
    assert lv.write_j_per_bit == pytest.approx(1.5 * 10 * PJ / 64, rel=1e-12)
    one = sram_level(_cfg(memory__spike_sram_bytes=32768), "spike_sram")
    assert one.read_j_per_bit == pytest.approx(20 * PJ / 64, rel=1e-12)
    # 8 KB in 4 banks of 2 KB: extrapolated with the first slope, ln 2 / ln 4 = 1/2:
    # 10 pJ x (2048 / 8192)^(1/2) = 5 pJ
    small = sram_level(_cfg(memory__membrane_sram_banks=4), "membrane_sram")
    assert small.read_j_per_bit == pytest.approx(5 * PJ / 64, rel=1e-12)


def test_dram_level():
    # 1 GB/s x 8 / 1 GHz = 8 bits per cycle; unbounded
    lv = dram_level(_cfg())
    assert lv.bits_per_cycle == 8
    assert lv.capacity_bits == np.inf
    assert lv.read_j_per_bit == lv.write_j_per_bit == 20 * PJ
    assert dram_level(_cfg(tech__clock_hz=2e9)).bits_per_cycle == 4


def test_hierarchy_names():
    assert tuple(hierarchy(_cfg())) == LEVELS == ("weight_sram", "membrane_sram",
                                                   "spike_sram", "dram")


def test_words():
    assert int(words(0, 64)) == 0
    assert int(words(1, 64)) == 1
    assert int(words(64, 64)) == 1
    assert int(words(65, 64)) == 2
    assert list(words(np.array([63, 128, 129]), 64)) == [1, 2, 3]


def test_resident_split_whole_words_smallest_first():
    # 64-bit words, 5 words free. Sizes 640, 64, 128, 200 bits = 10, 1, 2, 4 words.
    # Smallest first: 64 (1 word, 4 left), 128 (2, 2 left), then 200 needs 4: keeps the 2 left
    # = 128 bits and spills 72; 640 spills whole. Results in the order given.
    got = resident_split([640, 64, 128, 200], 5 * 64, 64)
    assert [int(x) for x in got] == [0, 64, 128, 128]


def test_resident_split_ties_in_order_given_and_tail_words():
    # three 128-bit tensors, 5 words: 2 + 2 + the 1 left
    assert [int(x) for x in resident_split([128, 128, 128], 320, 64)] == [128, 128, 64]
    # a 100-bit tensor takes 2 words but is resident with its 100 bits
    # 30 bits first (1 word), the 100-bit one keeps the 1 word left: 64 bits
    assert [int(x) for x in resident_split([100, 30], 128, 64)] == [64, 30]
    assert [int(x) for x in resident_split([100], 128, 64)] == [100]
    # capacity that is not a whole number of words: floor
    assert [int(x) for x in resident_split([128], 127, 64)] == [64]
    # nothing to place, nothing free
    assert [int(x) for x in resident_split([0, 64], 0, 64)] == [0, 0]


def test_resident_split_exact_fit_and_one_word_short():
    assert [int(x) for x in resident_split([192, 64], 256, 64)] == [192, 64]  # just fits
    assert [int(x) for x in resident_split([192, 64], 192, 64)] == [128, 64]  # one word short


def test_resident_split_capacity_column():
    got = resident_split([128, 64], np.array([0, 64, 128, 192]), 64)
    assert [list(np.asarray(g)) for g in got] == [[0, 0, 64, 128], [0, 64, 64, 64]]


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(0, 2000), min_size=1, max_size=6),
       cap=st.integers(0, 5000), more=st.integers(0, 2000),
       word=st.sampled_from([1, 8, 32, 64]))
def test_resident_split_invariants(sizes, cap, more, word):
    res = [int(x) for x in resident_split(sizes, cap, word)]
    assert all(0 <= r <= s for r, s in zip(res, sizes, strict=True))
    assert sum(math.ceil(r / word) for r in res) <= cap // word
    # at most one tensor is split (partly resident)
    assert sum(1 for r, s in zip(res, sizes, strict=True) if 0 < r < s) <= 1
    # more capacity never makes any tensor less resident
    bigger = [int(x) for x in resident_split(sizes, cap + more, word)]
    assert all(b >= r for b, r in zip(bigger, res, strict=True))


def test_traffic_by_hand():
    cfg = _cfg(memory__weight_sram_banks=2, memory__sram_write_factor=2.0)
    tr = Traffic()
    tr.read("weight_sram", "weights", 640)
    tr.read("weight_sram", "weights", 128)  # accumulates
    tr.write("weight_sram", "weights", 64)
    tr.read("spike_sram", "spikes", 100)
    tr.write("spike_sram", "input", 28)
    tr.read("dram", "weights", 16)
    tr.write("dram", "membranes", 8)
    tr.read("dram", "spikes", 40)
    assert tr.bits("weight_sram") == 832
    assert tr.bits("weight_sram", kind="read") == 768
    assert tr.bits("spike_sram", "spikes") == 100
    assert tr.sram_bits("read") == 868
    assert tr.sram_bits("write") == 92
    assert tr.dram_by_tensor() == {"weights": 16, "membranes": 8, "spikes": 40, "input": 0}
    levels = hierarchy(cfg)
    cyc = tr.cycles(levels)
    # weight SRAM 2 banks x 64 bits; others 64; DRAM 8 bits per cycle
    assert cyc == {"weight_sram": 832 / 128, "membrane_sram": 0, "spike_sram": 128 / 64,
                   "dram": 64 / 8}
    e = tr.energy_j(levels)
    # weight SRAM: 4 KB banks: 10 pJ x (1/2)^(1/2) per 64 bits; write x2
    e_bank = 10 * PJ * math.sqrt(0.5) / 64
    assert e["weight_sram"] == pytest.approx(768 * e_bank + 64 * 2 * e_bank, rel=1e-12)
    assert e["spike_sram"] == pytest.approx((100 + 2 * 28) * 10 * PJ / 64, rel=1e-12)
    assert e["membrane_sram"] == 0
    assert e["dram"] == pytest.approx(64 * 20 * PJ)


@settings(max_examples=30, deadline=None)
@given(size=st.integers(64, 1 << 22), banks=st.integers(1, 64), more=st.integers(1, 64))
def test_more_banks_never_dearer_per_bit(size, banks, more):
    # Horowitz reference energies rise with capacity, so smaller banks cost no more per bit
    a = sram_level(_cfg(memory__weight_sram_bytes=size, memory__weight_sram_banks=banks),
                   "weight_sram")
    b = sram_level(_cfg(memory__weight_sram_bytes=size,
                        memory__weight_sram_banks=banks + more), "weight_sram")
    assert b.read_j_per_bit <= a.read_j_per_bit * (1 + 1e-12)
    assert b.bits_per_cycle > a.bits_per_cycle
