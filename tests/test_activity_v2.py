"""Tile windows, window events, active rows and PIM code sums against a brute-force reference.

The reference below is plain Python (sets and loops over output positions and their receptive
fields, no Numba, no prefix sums); it reads the geometry straight from the LayerSpec rather than
from pimsim.activity's 3-D padding of it.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from helpers import conv2d, conv3d, linear, write_trace
from hypothesis import given, settings
from hypothesis import strategies as st

from pimsim import __version__
from pimsim.activity import (
    STATS_VERSION,
    ActivityCache,
    LayerActivity,
    PimActivity,
    dense_activity,
    pim_activity,
    position_tiles,
    spiking_activity,
    tile_windows,
)
from pimsim.stats_cache import DiskStatsCache
from pimsim.trace import Trace, load_trace

# ------------------------------------------------------------------------------ reference


def _spatial(spec):
    """(input spatial shape, output spatial shape, kernel, stride, padding); all () if linear."""
    if spec.kind == "linear":
        return (), (), (), (), ()
    return spec.in_shape[1:], spec.out_shape[1:], spec.kernel, spec.stride, spec.padding


def ref_fields(spec):
    """In-bounds receptive field (set of flat input spatial indices) of every output position,
    row-major. A linear layer is one position reading its single (1x1x1) input position."""
    in_sp, out_sp, k, s, p = _spatial(spec)
    fields = []
    for out_pos in itertools.product(*(range(m) for m in out_sp)):
        field = set()
        for tap in itertools.product(*(range(kk) for kk in k)):
            idx = tuple(o * ss - pp + j for o, ss, pp, j in zip(out_pos, s, p, tap, strict=True))
            if all(0 <= i < n for i, n in zip(idx, in_sp, strict=True)):
                field.add(int(np.ravel_multi_index(idx, in_sp)) if in_sp else 0)
        fields.append(field)
    return fields


def ref_windows(spec, rows):
    """Union of the fields of each tile of ``rows`` consecutive positions (last may be short)."""
    fields = ref_fields(spec)
    return [set().union(*fields[i:i + rows]) for i in range(0, len(fields), rows)]


def ref_multiplicity(spec, windows):
    in_sp = _spatial(spec)[0]
    mult = np.zeros(math.prod(in_sp), np.int64)  # prod(()) == 1 for linear
    for window in windows:
        for q in window:
            mult[q] += 1
    return mult


def ref_rows(spec, spk):
    """spk (n, T, *in_shape) -> (n, T, rows, spatial): rows are channels, or linear elements."""
    n, t = spk.shape[:2]
    return spk.reshape(n, t, spec.in_shape[0], -1)


def ref_spike_stats(spec, spk, rows):
    """(window_events, active_rows, active_rows_per_step) by brute force."""
    windows = ref_windows(spec, rows)
    flat = ref_rows(spec, spk)
    n, t, r, _ = flat.shape
    events = 0
    for i in range(n):
        for step in range(t):
            for window in windows:
                for q in window:
                    events += int(flat[i, step, :, q].sum())
    active = sum(1 for i in range(n) for c in range(r) if flat[i, :, c, :].any())
    per_step = sum(1 for i in range(n) for step in range(t) for c in range(r)
                   if flat[i, step, c, :].any())
    return events, active, per_step


def ref_pim(spec, x, chunk_bits, input_bits):
    """(driven_rows, code_sums) by brute force; x (n, *in_shape) codes."""
    phases = math.ceil(input_bits / chunk_bits)
    cover = np.zeros(math.prod(_spatial(spec)[0]), np.int64)
    for field in ref_fields(spec):
        for q in field:
            cover[q] += 1
    flat = x.reshape(x.shape[0], spec.in_shape[0], -1)
    driven = np.zeros(phases, np.int64)
    sums = np.zeros(phases, np.int64)
    for v, q in ((int(flat[i, c, q]), q) for i, c, q in np.ndindex(*flat.shape)):
        for k in range(phases):
            chunk = (v >> (k * chunk_bits)) % (1 << chunk_bits)
            driven[k] += cover[q] if chunk else 0
            sums[k] += chunk * cover[q]
    return driven, sums


def memory_trace(spec, spk, x=None, input_bits=8):
    """An in-memory trace holding ``spk`` (n, T, *in_shape) bit-packed as trace v1 stores it."""
    n, t = spk.shape[:2]
    meta = {"timesteps": t, "num_samples": n, "input_bits": input_bits}
    packed = {spec.name: np.packbits(spk.reshape(-1), bitorder="little")}
    inp = x if x is not None else np.zeros((n, *spec.in_shape), np.uint8)
    return Trace(meta=meta, layers=[spec], input=inp, weights={}, packed_spikes=packed,
                 labels=np.zeros(n, np.int64), predictions=np.zeros(n, np.int64))


# ------------------------------------------------------------------------------ checks


def check_windows(spec, rows):
    tw = tile_windows(spec, rows)
    windows = ref_windows(spec, rows)
    assert tw.window_positions.dtype == np.int64 and tw.multiplicity.dtype == np.int64
    assert tw.tiles == len(windows) == position_tiles(spec, rows)
    np.testing.assert_array_equal(tw.window_positions, [len(w) for w in windows])
    np.testing.assert_array_equal(tw.multiplicity, ref_multiplicity(spec, windows))
    assert tw.multiplicity.sum() == tw.window_positions.sum()
    return tw


def check_spiking(spec, spk, rows):
    act = spiking_activity(memory_trace(spec, spk), spec, rows)
    assert (act.window_events, act.active_rows, act.active_rows_per_step) == ref_spike_stats(
        spec, spk, rows)
    # the same pass still yields the old statistics
    assert act.spikes_per_step.sum() == spk.sum()
    return act


def check_dense(spec, rows):
    act = dense_activity(spec, rows)
    ones = np.ones((1, 1, *spec.in_shape), bool)
    assert (act.window_events, act.active_rows, act.active_rows_per_step) == ref_spike_stats(
        spec, ones, rows)


@st.composite
def layer_specs(draw):
    kind = draw(st.sampled_from(["conv3d", "conv2d", "linear"]))
    if kind == "linear":
        return linear("l", draw(st.integers(1, 40)), 3)
    c = draw(st.integers(1, 3))
    nd = 3 if kind == "conv3d" else 2
    dims = [draw(st.integers(1, 7)) for _ in range(nd)]
    stride = [draw(st.sampled_from([1, 2])) for _ in range(nd)]
    padding = [draw(st.sampled_from([0, 1])) for _ in range(nd)]
    kernel = [draw(st.integers(1, min(4, d + 2 * p))) for d, p in zip(dims, padding, strict=True)]
    make = conv3d if kind == "conv3d" else conv2d
    return make("l", (c, *dims), 2, kernel, stride, padding)


PE_ROWS = st.sampled_from([1, 3, 7, 32]) | st.integers(1, 40)


@settings(max_examples=80, deadline=None)
@given(spec=layer_specs(), rows=PE_ROWS, seed=st.integers(0, 2**16), rate=st.floats(0.0, 1.0),
       n=st.integers(1, 3), t=st.integers(1, 3))
def test_random_layers_match_reference(spec, rows, seed, rate, n, t):
    check_windows(spec, rows)
    spk = np.random.default_rng(seed).random((n, t, *spec.in_shape)) < rate
    check_spiking(spec, spk, rows)
    check_dense(spec, rows)


GRID = {
    "conv3d": lambda s, p: conv3d("l", (2, 5, 8, 7), 2, (3, 3, 2), (s,) * 3, (p,) * 3),
    "conv2d": lambda s, p: conv2d("l", (3, 7, 9), 2, (3, 2), (s,) * 2, (p,) * 2),
}


@pytest.mark.parametrize("kind", sorted(GRID))
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("rows", [1, 3, 7, 32])
def test_grid_matches_reference(kind, stride, padding, rows):
    spec = GRID[kind](stride, padding)
    check_windows(spec, rows)
    spk = np.random.default_rng(rows + 10 * stride + 100 * padding).random(
        (2, 3, *spec.in_shape)) < 0.2
    check_spiking(spec, spk, rows)
    check_dense(spec, rows)


@pytest.mark.parametrize("rows", [1, 3, 7, 32])
def test_linear_is_one_tile_over_every_input(rows):
    spec = linear("l", 23, 4)
    tw = check_windows(spec, rows)
    assert list(tw.window_positions) == [1] and list(tw.multiplicity) == [1]
    spk = np.random.default_rng(rows).random((3, 4, 23)) < 0.1
    act = check_spiking(spec, spk, rows)
    assert act.window_events == spk.sum()  # every spike is inside the single window
    dense = dense_activity(spec, rows)
    assert dense.window_events == dense.active_rows == dense.active_rows_per_step == 23


@settings(max_examples=25, deadline=None)
@given(spec=layer_specs(), seed=st.integers(0, 2**16), chunk_bits=st.integers(1, 8),
       input_bits=st.integers(1, 8), n=st.integers(1, 3))
def test_pim_code_sums_match_reference(spec, seed, chunk_bits, input_bits, n):
    x = np.random.default_rng(seed).integers(0, 2**input_bits, size=(n, *spec.in_shape))
    x = x.astype(np.uint8)
    pim = pim_activity(memory_trace(spec, np.zeros((n, 1, *spec.in_shape), bool), x=x,
                                    input_bits=input_bits), spec, chunk_bits)
    driven, sums = ref_pim(spec, x, chunk_bits, input_bits)
    assert pim.code_sums.dtype == np.int64 and pim.phases == len(sums)
    np.testing.assert_array_equal(pim.driven_rows, driven)
    np.testing.assert_array_equal(pim.code_sums, sums)


# ------------------------------------------------------------------------------ by hand


def test_hand_derived_1d_layers(tmp_path):
    """A 1-D-like network: c0 (analog) 1x1x5 -> 2 channels, kernel 1x3, padding (0, 1);
    l (spiking) 2x1x5 -> 1 channel, kernel 1x3, no padding. Positions are w = 0..4."""
    c0 = conv2d("c0", (1, 1, 5), 2, (1, 3), padding=(0, 1), first=True)
    l1 = conv2d("l", (2, 1, 5), 1, (1, 3))
    assert c0.out_shape == (2, 1, 5) and l1.out_shape == (1, 1, 3)

    # l, pe_rows 2. Receptive fields: o0 -> {0,1,2}, o1 -> {1,2,3}, o2 -> {2,3,4}.
    # Tiles: {o0, o1} -> window {0,1,2,3} (4 positions); {o2} (partial) -> {2,3,4} (3).
    # Multiplicity: w0, w1 only in tile 0 -> 1; w2, w3 in both -> 2; w4 only in tile 1 -> 1.
    tw = tile_windows(l1, 2)
    assert tw.window_positions.tolist() == [4, 3]
    assert tw.multiplicity.tolist() == [1, 1, 2, 2, 1]

    # c0, pe_rows 2. Fields (padding 1): o0 -> {0,1}, o1 -> {0,1,2}, o2 -> {1,2,3},
    # o3 -> {2,3,4}, o4 -> {3,4}. Tiles {o0,o1} -> {0,1,2} (3); {o2,o3} -> {1,2,3,4} (4);
    # {o4} -> {3,4} (2). Multiplicity: w0 tile 0 only -> 1; w1, w2 tiles 0,1 -> 2;
    # w3, w4 tiles 1,2 -> 2. Sum 9 = 3 + 4 + 2.
    tw0 = tile_windows(c0, 2)
    assert tw0.window_positions.tolist() == [3, 4, 2]
    assert tw0.multiplicity.tolist() == [1, 2, 2, 2, 2]
    # dense first layer: one sample-step of all ones, C_in = 1: 9 window events, 1 row
    d0 = dense_activity(c0, 2)
    assert (d0.window_events, d0.active_rows, d0.active_rows_per_step) == (9, 1, 1)

    # Spikes of l, (n=2, T=2, C=2, H=1, W=5):
    #   sample 0, t0: channel 0 at w2, channel 1 at w0; t1: none.
    #   sample 1, t0: channel 0 at w4;                  t1: channel 0 at w3 and w4.
    spk = np.zeros((2, 2, 2, 1, 5), bool)
    spk[0, 0, 0, 0, 2] = spk[0, 0, 1, 0, 0] = True
    spk[1, 0, 0, 0, 4] = True
    spk[1, 1, 0, 0, 3] = spk[1, 1, 0, 0, 4] = True
    # window events = sum of multiplicities of the spikes' positions:
    #   s0t0: m[2] + m[0] = 2 + 1 = 3 (tile 0 sees w2 and w0, tile 1 sees w2);
    #   s1t0: m[4] = 1; s1t1: m[3] + m[4] = 2 + 1 = 3. Total 7.
    # active rows: sample 0 -> channels 0, 1 (2); sample 1 -> channel 0 (1). Total 3.
    # per step: s0t0 2, s0t1 0, s1t0 1, s1t1 1. Total 4.
    # events (box sums): s0t0 o0 {0,1,2}: 2, o1: 1, o2: 1 -> 4; s1t0 o2: 1;
    #   s1t1 o1: 1, o2: 2 -> 3. Total 8.

    # Input codes of c0 (input_bits 4), sample 0: [3, 0, 5, 1, 2]; sample 1: [0, 0, 0, 0, 15].
    # Coverage (padding 1): w0 in o0, o1 -> 2; w1..w3 -> 3; w4 in o3, o4 -> 2.
    # DAC 2 bits: chunk 0 = v & 3: s0 [3,0,1,1,2], s1 [0,0,0,0,3];
    #             chunk 1 = v >> 2: s0 [0,0,1,0,0], s1 [0,0,0,0,3].
    #   code sums: phase 0: 3*2 + 1*3 + 1*3 + 2*2 + 3*2 = 22; phase 1: 1*3 + 3*2 = 9.
    #   driven rows: phase 0: 2 + 3 + 3 + 2 + 2 = 12; phase 1: 3 + 2 = 5.
    # Bit-serial: bit 0 set in 3, 5, 1 (w0, w2, w3) and 15: 2 + 3 + 3 + 2 = 10;
    #   bit 1 in 3, 2 (w0, w4) and 15: 2 + 2 + 2 = 6; bit 2 in 5 (w2) and 15: 3 + 2 = 5;
    #   bit 3 only in 15: 2. Pulses equal driven rows when each phase is one bit.
    x = np.array([[3, 0, 5, 1, 2], [0, 0, 0, 0, 15]], np.uint8).reshape(2, 1, 1, 5)
    path = write_trace(tmp_path / "hand.npz", [c0, l1], {"l": spk}, x=x, n=2, t=2,
                       input_bits=4)
    cache = ActivityCache(load_trace(path))
    act = cache.layer(l1, 2)
    assert (act.window_events, act.active_rows, act.active_rows_per_step) == (7, 3, 4)
    assert act.events == 8
    pim = cache.pim(c0, 2)
    assert pim.driven_rows.tolist() == [12, 5] and pim.code_sums.tolist() == [22, 9]
    bits = cache.pim(c0, 1)
    assert bits.driven_rows.tolist() == bits.code_sums.tolist() == [10, 6, 5, 2]


def test_tile_windows_cached_and_read_only():
    spec = conv3d("a", (1, 30, 25, 25), 8, (7, 3, 3), first=True)  # Indian Pines conv3d_1
    tw = tile_windows(spec, 32)
    assert tile_windows(conv3d("b", (1, 30, 25, 25), 4, (7, 3, 3)), 32) is tw  # by geometry
    assert tw.tiles == math.ceil(24 * 23 * 23 / 32)
    assert tw.multiplicity.shape == (30 * 25 * 25,)
    assert tw.multiplicity.sum() == tw.window_positions.sum()
    assert not tw.multiplicity.flags.writeable and not tw.window_positions.flags.writeable
    # one position per tile: the window is the receptive field (all in-bounds here)
    assert tile_windows(spec, 1).window_positions.tolist() == [63] * (24 * 23 * 23)
    with pytest.raises(ValueError):
        tile_windows(spec, 0)


# ------------------------------------------------------------------------------ disk cache


def test_disk_cache_versioned_round_trip(tmp_path):
    spec = conv2d("l", (2, 4, 5), 2, (3, 3), padding=(1, 1))
    spk = np.random.default_rng(0).random((2, 3, 2, 4, 5)) < 0.3
    x = np.random.default_rng(1).integers(0, 256, size=(2, 2, 4, 5)).astype(np.uint8)
    trace = memory_trace(spec, spk, x=x)
    layer = spiking_activity(trace, spec, 3)
    pim = pim_activity(trace, spec, 2)
    disk = DiskStatsCache(tmp_path)
    assert disk.version_dir == tmp_path / f"v{STATS_VERSION}-{__version__}"
    assert STATS_VERSION == 3
    for key, value in ((("layer", "l", 3), layer), (("dense", "l", 3), dense_activity(spec, 3)),
                       (("pim", "l", 2), pim)):
        assert disk.get("ab" * 32, key) is None
        disk.put("ab" * 32, key, value)
        back = disk.get("ab" * 32, key)
        assert type(back) is type(value)
        for f in value.__dataclass_fields__:
            np.testing.assert_array_equal(getattr(back, f), getattr(value, f))
    files = sorted(p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*.npz"))
    assert files == [disk.version_dir.name] * 3

    # a file of the previous format (no new fields) reads as absent, so it is recomputed
    old = disk._file("cd" * 32, ("layer", "l", 3))
    old.parent.mkdir(parents=True)
    np.savez(old, **{f: np.asarray(getattr(layer, f)) for f in (
        "pe_rows", "events", "events_per_step", "spikes_per_step", "tile_max_values",
        "tile_max_counts", "tiles_per_step")})
    assert disk.get("cd" * 32, ("layer", "l", 3)) is None
    old_pim = disk._file("cd" * 32, ("pim", "l", 2))
    np.savez(old_pim, phases=np.int64(pim.phases), driven_rows=pim.driven_rows)
    assert disk.get("cd" * 32, ("pim", "l", 2)) is None
    assert isinstance(layer, LayerActivity) and isinstance(pim, PimActivity)
