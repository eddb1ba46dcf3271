"""The Numba box-sum kernel against a pure-Python reference on random geometries."""

from __future__ import annotations

import math

import numpy as np
from helpers import brute_box_counts, conv3d
from hypothesis import given, settings
from hypothesis import strategies as st

from pimsim.activity import box_activity, dense_activity


@st.composite
def geometries(draw):
    c = draw(st.integers(1, 3))
    dims = [draw(st.integers(1, 6)) for _ in range(3)]
    kernel = [draw(st.integers(1, d + 2)) for d in dims]
    stride = [draw(st.integers(1, 3)) for _ in range(3)]
    padding = [draw(st.integers(0, k - 1)) for k in kernel]
    out = [(n + 2 * p - k) // s + 1 for n, k, s, p in zip(dims, kernel, stride, padding)]
    if min(out) < 1:
        padding = [k - 1 for k in kernel]
    return c, dims, kernel, stride, padding


@settings(max_examples=60, deadline=None)
@given(geo=geometries(), rows=st.integers(1, 7), seed=st.integers(0, 2**16),
       rate=st.floats(0.0, 1.0))
def test_kernel_matches_brute_force(geo, rows, seed, rate):
    c, dims, kernel, stride, padding = geo
    spec = conv3d("l", (c, *dims), 2, kernel, stride, padding)
    rng = np.random.default_rng(seed)
    t = 2
    spk = rng.random((1, t, c, *dims)) < rate
    hist, box_t, spk_t = box_activity(spk, spec, rows)
    out_sp = spec.out_shape[1:]
    exp_hist = np.zeros_like(hist)
    for step in range(t):
        ref = brute_box_counts(spk[0, step], kernel, stride, padding, out_sp).reshape(-1)
        assert box_t[step] == ref.sum()
        assert spk_t[step] == spk[0, step].sum()
        for i in range(0, len(ref), rows):
            exp_hist[ref[i:i + rows].max()] += 1
    np.testing.assert_array_equal(hist, exp_hist)


def _valid_taps(n, k, s, p, o):
    """In-bounds taps of output o along one dim."""
    return sum(1 for j in range(k) if 0 <= o * s - p + j < n)


@settings(max_examples=40, deadline=None)
@given(geo=geometries(), out_ch=st.integers(1, 5))
def test_dense_fan_in_matches_analytic(geo, out_ch):
    c, dims, kernel, stride, padding = geo
    spec = conv3d("l", (c, *dims), out_ch, kernel, stride, padding, first=True)
    act = dense_activity(spec, 4)
    # separable: total taps = C_in x prod over dims of sum_o valid taps(o)
    per_dim = [sum(_valid_taps(n, k, s, p, o) for o in range(m))
               for n, k, s, p, m in zip(dims, kernel, stride, padding, spec.out_shape[1:])]
    assert act.events == c * math.prod(per_dim)


@settings(max_examples=15, deadline=None)
@given(geo=geometries(), rows=st.integers(1, 5), seed=st.integers(0, 2**16),
       n=st.integers(1, 3), t=st.integers(1, 3))
def test_packed_kernel_matches_unpacked(tmp_path_factory, geo, rows, seed, n, t):
    from helpers import write_trace

    from pimsim.activity import spiking_activity
    from pimsim.trace import load_trace

    c, dims, kernel, stride, padding = geo
    first = conv3d("c0", (1, *dims), c, (1, 1, 1), first=True)
    spec = conv3d("l", (c, *dims), 2, kernel, stride, padding)
    rng = np.random.default_rng(seed)
    spk = rng.random((n, t, c, *dims)) < 0.3  # sizes rarely a multiple of 8 bits
    path = tmp_path_factory.mktemp("pk") / "p.npz"
    tr = load_trace(write_trace(path, [first, spec], {"l": spk}, n=n, t=t))
    act = spiking_activity(tr, spec, rows)
    hist, box_t, spk_t = box_activity(spk, spec, rows)
    assert act.events == box_t.sum()
    np.testing.assert_array_equal(act.spikes_per_step, spk_t)
    nz = np.nonzero(hist)[0]
    np.testing.assert_array_equal(act.tile_max_values, nz)
    np.testing.assert_array_equal(act.tile_max_counts, hist[nz])
