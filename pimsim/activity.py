"""Activity statistics of a trace: what depends on the spikes, not on the costs.

For every layer, the Numba kernels compute, over all samples and time steps,

* ``events``: the number of synaptic events per output channel, E = sum_{n,t,p} B[n,t,p],
  where B[n,t,p] is the count of input spikes (over all input channels) inside the receptive
  field of output position p (exact at borders: padded taps hold no input). Every output
  channel sees the same inputs, so synaptic_ops = C_out x E. B is a box sum over the
  channel-summed spike map, taken from a 3-D prefix sum in O(positions) per step.
* a histogram of the **tile maxima**: output positions (row-major over D, H, W) are grouped
  into tiles of ``pe_rows`` consecutive positions (one position per PE row); the histogram
  counts, over (n, t, tile), how often the busiest PE of a tile had load b. The cost model turns
  it into cycles for any lane count L as sum_b count[b] * ceil(b / L) without rerunning the
  kernel.

* **tile windows** (:func:`tile_windows`, trace-independent): the input positions inside the
  union of the receptive fields of each position tile, and how many tiles read each input
  position (its multiplicity). In the same pass over the spikes the kernel counts the
  ``window_events`` (input spikes inside each tile's window, summed over tiles) and the
  ``active_rows`` (input channels, or linear input elements, that spiked at least once per
  sample, and per step).

A layer that pools its synaptic current (conv -> pool -> LIF, trace format v2) has its events
at the pre-pool geometry: the box sums, tile maxima and tile windows use the conv's kernel,
stride and padding and its ``conv_shape`` output, not the pooled ``out_shape``. A layer fed by a
max-pool spike layer reads its own stored input spikes, which are the pooled spikes.

For the analog first layer the same kernel runs on an all-ones map, giving the dense in-bounds
fan-in per position, and on the bit planes (or DAC chunks) of the quantized input, giving the
number of driven PIM wordlines and the wordline pulses of each phase. Statistics depend on
(trace, pe_rows) and, for the PIM, on (input mode, DAC bits); they are cached in memory per
trace object and, for sweeps, on disk under :data:`STATS_VERSION` (:mod:`pimsim.stats_cache`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pimsim.jit import kernel
from pimsim.trace import LayerSpec, Trace

#: Version of the statistics' definitions and fields: bump it whenever a kernel's result or a
#: stored field changes, so that on-disk caches (:mod:`pimsim.stats_cache`) are not reused.
STATS_VERSION = 3  # 3: pooled layers count events at their pre-pool (conv) geometry


@kernel
def _boxes_of_step(cnt, pref, kd, kh, kw, sd, sh, sw, pd, ph, pw, od_n, oh_n, ow_n, rows,
                   hist, box_t, t):  # pragma: no cover - compiled
    """Prefix-sum the count map ``cnt`` (D, H, W) of one step, then add every output
    position's box sum to ``box_t[t]`` and each tile's maximum to ``hist``."""
    dd, hh, ww = cnt.shape
    npos = od_n * oh_n * ow_n
    for d in range(dd):
        for h in range(hh):
            for w in range(ww):
                pref[d + 1, h + 1, w + 1] = (
                    cnt[d, h, w]
                    + pref[d, h + 1, w + 1] + pref[d + 1, h, w + 1] + pref[d + 1, h + 1, w]
                    - pref[d, h, w + 1] - pref[d, h + 1, w] - pref[d + 1, h, w]
                    + pref[d, h, w]
                )
    p = 0
    tmax = 0
    for od in range(od_n):
        d0 = od * sd - pd
        d1 = min(d0 + kd, dd)
        d0 = max(d0, 0)
        for oh in range(oh_n):
            h0 = oh * sh - ph
            h1 = min(h0 + kh, hh)
            h0 = max(h0, 0)
            for ow in range(ow_n):
                w0 = ow * sw - pw
                w1 = min(w0 + kw, ww)
                w0 = max(w0, 0)
                b = 0
                if d1 > d0 and h1 > h0 and w1 > w0:
                    b = (pref[d1, h1, w1] - pref[d0, h1, w1] - pref[d1, h0, w1]
                         - pref[d1, h1, w0] + pref[d0, h0, w1] + pref[d0, h1, w0]
                         + pref[d1, h0, w0] - pref[d0, h0, w0])
                box_t[t] += b
                tmax = max(tmax, b)
                p += 1
                if p % rows == 0 or p == npos:
                    hist[tmax] += 1
                    tmax = 0


@kernel
def _box_activity(spk, kd, kh, kw, sd, sh, sw, pd, ph, pw, od_n, oh_n, ow_n, rows,
                  hist, box_t, spk_t):  # pragma: no cover - compiled
    """Accumulate box-sum events per step, spikes per step and the tile-max histogram.

    spk: bool (n, T, C, D, H, W). hist: int64 (max_box + 1,). box_t, spk_t: int64 (T,).
    """
    n, tt, cc, dd, hh, ww = spk.shape
    pref = np.zeros((dd + 1, hh + 1, ww + 1), dtype=np.int64)
    cnt = np.zeros((dd, hh, ww), dtype=np.int64)
    for i in range(n):
        for t in range(tt):
            cnt[:, :, :] = 0
            total = 0
            for c in range(cc):
                for d in range(dd):
                    for h in range(hh):
                        for w in range(ww):
                            if spk[i, t, c, d, h, w]:
                                cnt[d, h, w] += 1
                                total += 1
            spk_t[t] += total
            _boxes_of_step(cnt, pref, kd, kh, kw, sd, sh, sw, pd, ph, pw, od_n, oh_n, ow_n,
                           rows, hist, box_t, t)


@kernel
def _box_activity_packed(packed, n, tt, cc, dd, hh, ww, kd, kh, kw, sd, sh, sw, pd, ph, pw,
                         od_n, oh_n, ow_n, rows, mult, hist, box_t, spk_t,
                         extra):  # pragma: no cover - compiled
    """As :func:`_box_activity`, reading the bit-packed spikes directly (little bit order).

    Only non-zero bytes are expanded, so the cost is O(bytes + spikes + positions) per step
    instead of O(bits): no unpacked copy of the trace is ever made. Per spike it also adds
    ``mult[q]`` (position tiles whose window holds input position q) to ``extra[0]``, and
    counts the input channels (rows) with a spike in the sample (``extra[1]``) and in the step
    (``extra[2]``), using per-channel stamps instead of clearing a mask.
    """
    plane = dd * hh * ww
    size = cc * plane
    pref = np.zeros((dd + 1, hh + 1, ww + 1), dtype=np.int64)
    cnt = np.zeros(plane, dtype=np.int64)
    seen_sample = np.full(cc, -1, dtype=np.int64)
    seen_step = np.full(cc, -1, dtype=np.int64)
    window = 0
    rows_sample = 0
    rows_step = 0
    for i in range(n):
        for t in range(tt):
            cnt[:] = 0
            total = 0
            stamp = i * tt + t
            b0 = stamp * size
            b1 = b0 + size
            for byte in range(b0 // 8, (b1 + 7) // 8):
                v = packed[byte]
                if v == 0:
                    continue
                for bit in range(8):
                    if (v >> bit) & 1:
                        g = byte * 8 + bit
                        if g >= b0 and g < b1:
                            r = (g - b0) // plane
                            q = (g - b0) - r * plane
                            cnt[q] += 1
                            total += 1
                            window += mult[q]
                            if seen_step[r] != stamp:
                                seen_step[r] = stamp
                                rows_step += 1
                                if seen_sample[r] != i:
                                    seen_sample[r] = i
                                    rows_sample += 1
            spk_t[t] += total
            _boxes_of_step(cnt.reshape((dd, hh, ww)), pref, kd, kh, kw, sd, sh, sw, pd, ph, pw,
                           od_n, oh_n, ow_n, rows, hist, box_t, t)
    extra[0] += window
    extra[1] += rows_sample
    extra[2] += rows_step


@kernel
def _tile_windows(dd, hh, ww, kd, kh, kw, sd, sh, sw, pd, ph, pw, od_n, oh_n, ow_n, rows,
                  win, mult):  # pragma: no cover - compiled
    """Stamp the in-bounds receptive field of every output position with its tile index:
    a first stamp of input position q by tile j adds 1 to ``win[j]`` and to ``mult[q]``.

    O(positions x kernel volume), independent of ``rows``.
    """
    stamp = np.full(dd * hh * ww, -1, dtype=np.int64)
    p = 0
    for od in range(od_n):
        d0 = max(od * sd - pd, 0)
        d1 = min(od * sd - pd + kd, dd)
        for oh in range(oh_n):
            h0 = max(oh * sh - ph, 0)
            h1 = min(oh * sh - ph + kh, hh)
            for ow in range(ow_n):
                w0 = max(ow * sw - pw, 0)
                w1 = min(ow * sw - pw + kw, ww)
                tile = p // rows
                for d in range(d0, d1):
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            q = (d * hh + h) * ww + w
                            if stamp[q] != tile:
                                stamp[q] = tile
                                win[tile] += 1
                                mult[q] += 1
                p += 1


@dataclass(frozen=True)
class LayerActivity:
    """Trace statistics of one layer, summed over all samples and time steps.

    ``events``: synaptic events per output channel (sum of receptive-field input counts);
    ``spikes_per_step``: input spikes per time step, summed over samples, shape (T,);
    ``tile_max_values``/``tile_max_counts``: histogram of the busiest-PE load over
    (sample, step, position tile); ``tiles_per_step``: position tiles per sample and step.
    ``window_events``: input spikes (all channels) inside each position tile's window (the
    union of its positions' receptive fields, :func:`tile_windows`), summed over (sample, step,
    tile); ``active_rows``: input rows (channels of a conv layer, elements of a linear one) with
    at least one spike during a sample, summed over samples; ``active_rows_per_step``: rows with
    a spike at a step, summed over (sample, step).
    For the analog first layer, the figures are per sample and step of dense computation
    (every input is 1: every row active, every window full).
    """

    name: str
    pe_rows: int
    events: int
    events_per_step: np.ndarray
    spikes_per_step: np.ndarray
    tile_max_values: np.ndarray
    tile_max_counts: np.ndarray
    tiles_per_step: int
    window_events: int
    active_rows: int
    active_rows_per_step: int

    def tile_cycles(self, lanes: Any) -> Any:
        """sum over (n, t, tile) of ceil(max load / lanes), for a lane count (int) or a
        column of them (an array of one sum per point)."""
        lanes = np.asarray(lanes)
        vals, counts = self.tile_max_values, self.tile_max_counts
        if lanes.ndim == 0:
            return int(np.sum(counts * -(-vals // int(lanes))))
        return np.sum(counts[:, None] * -(-vals[:, None] // lanes[None, :]), axis=0)


def _geometry(spec: LayerSpec) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...],
                                         tuple[int, ...], tuple[int, ...]]:
    """(in spatial DHW, kernel, stride, padding, out DHW) padded to 3-D for the kernel.

    The output is where the synaptic events land: the pre-pool ``conv_shape`` of a layer that
    pools its current (conv -> pool -> LIF), the pooled map of a max-pool spike layer (its
    own kernel, stride and padding), ``out_shape`` otherwise (equal to conv_shape)."""
    out = spec.conv_shape
    if spec.kind in ("conv3d", "maxpool3d"):
        return (spec.in_shape[1:], spec.kernel, spec.stride, spec.padding, out[1:])
    if spec.kind in ("conv2d", "maxpool2d"):
        return ((1, *spec.in_shape[1:]), (1, *spec.kernel), (1, *spec.stride),
                (0, *spec.padding), (1, *out[1:]))
    return ((1, 1, 1), (1, 1, 1), (1, 1, 1), (0, 0, 0), (1, 1, 1))


def box_activity(spikes: np.ndarray, spec: LayerSpec, pe_rows: int,
                 accum: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the box-sum kernel on bool ``spikes`` (n, T, *in_shape); returns (hist, box_t, spk_t).

    Linear layers are treated as one position whose receptive field is every input.
    """
    in_dhw, k, s, p, out_dhw = _geometry(spec)
    n, t = spikes.shape[:2]
    c = spec.in_shape[0]
    arr = spikes.reshape(n, t, c, *in_dhw) if spec.kind != "linear" else spikes.reshape(
        n, t, c, 1, 1, 1)
    max_box = c * math.prod(k)
    if accum is None:
        accum = (np.zeros(max_box + 1, np.int64), np.zeros(t, np.int64), np.zeros(t, np.int64))
    hist, box_t, spk_t = accum
    _box_activity(np.ascontiguousarray(arr), *k, *s, *p, *out_dhw, pe_rows, hist, box_t, spk_t)
    return hist, box_t, spk_t


def _to_activity(name: str, pe_rows: int, hist: np.ndarray, box_t: np.ndarray,
                 spk_t: np.ndarray, tiles: int, extra: np.ndarray) -> LayerActivity:
    """Wrap kernel accumulators; ``extra`` = (window events, active rows, per-step rows)."""
    nz = np.nonzero(hist)[0]
    return LayerActivity(
        name=name, pe_rows=pe_rows, events=int(box_t.sum()), events_per_step=box_t.copy(),
        spikes_per_step=spk_t.copy(), tile_max_values=nz.astype(np.int64),
        tile_max_counts=hist[nz].astype(np.int64), tiles_per_step=tiles,
        window_events=int(extra[0]), active_rows=int(extra[1]),
        active_rows_per_step=int(extra[2]),
    )


@dataclass(frozen=True)
class TileWindows:
    """Input footprint of every position tile of a layer (trace-independent, read-only arrays).

    ``window_positions[j]``: distinct in-bounds input spatial positions (D*H*W, channels not
    counted) in the union of the receptive fields of position tile j's output positions, shape
    (tiles,); ``multiplicity[q]``: position tiles whose window holds input position q, over the
    flattened input D*H*W. sum(multiplicity) == sum(window_positions). A linear layer is one
    tile over a 1x1x1 input whose channels are its elements: both arrays are [1].
    """

    window_positions: np.ndarray
    multiplicity: np.ndarray

    @property
    def tiles(self) -> int:
        return len(self.window_positions)


@functools.lru_cache(maxsize=512)
def _tile_windows_of(geometry: tuple[tuple[int, ...], ...], pe_rows: int) -> TileWindows:
    in_dhw, k, s, p, out_dhw = geometry
    win = np.zeros(math.ceil(math.prod(out_dhw) / pe_rows), np.int64)
    mult = np.zeros(math.prod(in_dhw), np.int64)
    _tile_windows(*in_dhw, *k, *s, *p, *out_dhw, pe_rows, win, mult)
    win.setflags(write=False)
    mult.setflags(write=False)
    return TileWindows(window_positions=win, multiplicity=mult)


def tile_windows(spec: LayerSpec, pe_rows: int) -> TileWindows:
    """Windows of the position tiles of ``spec`` at ``pe_rows`` positions per tile (cached on
    the geometry; tiles group output positions row-major as in the tile-max histogram)."""
    if pe_rows < 1:
        raise ValueError(f"pe_rows must be >= 1, got {pe_rows}")
    geometry = _geometry(spec)
    positions = math.prod(geometry[4])
    return _tile_windows_of(geometry, min(pe_rows, positions))


def position_tiles(spec: LayerSpec, pe_rows: int) -> int:
    """Position tiles per step: ceil(positions / pe_rows) (1 for linear layers); the
    positions are the pre-pool ones of a layer that pools its current."""
    if spec.kind == "linear":
        return 1
    return math.ceil(spec.conv_positions / pe_rows)


def iter_spike_chunks(trace: Trace, name: str, chunk: int):  # type: ignore[no-untyped-def]
    """Yield bool spike chunks (n_chunk, T, *in_shape) unpacked from the packed bits."""
    spec = trace.layer(name)
    per = trace.timesteps * spec.in_size
    packed = trace.packed_spikes[name]
    for n0 in range(0, trace.num_samples, chunk):
        n1 = min(trace.num_samples, n0 + chunk)
        b0, b1 = n0 * per, n1 * per
        byte0, off = divmod(b0, 8)
        byte1 = math.ceil(b1 / 8)
        bits = np.unpackbits(packed[byte0:byte1], bitorder="little")[off:off + (b1 - b0)]
        yield bits.view(bool).reshape(n1 - n0, trace.timesteps, *spec.in_shape)


def spiking_activity(trace: Trace, spec: LayerSpec, pe_rows: int) -> LayerActivity:
    """Activity of a spiking layer, read straight from the trace's packed bits."""
    in_dhw, k, s, p, out_dhw = _geometry(spec)
    c = spec.in_shape[0]
    t = trace.timesteps
    hist = np.zeros(c * math.prod(k) + 1, np.int64)
    box_t = np.zeros(t, np.int64)
    spk_t = np.zeros(t, np.int64)
    extra = np.zeros(3, np.int64)
    mult = tile_windows(spec, pe_rows).multiplicity
    _box_activity_packed(trace.packed_spikes[spec.name], trace.num_samples, t, c, *in_dhw,
                         *k, *s, *p, *out_dhw, pe_rows, mult, hist, box_t, spk_t, extra)
    return _to_activity(spec.name, pe_rows, hist, box_t, spk_t,
                        tiles=position_tiles(spec, pe_rows), extra=extra)


def dense_activity(spec: LayerSpec, pe_rows: int) -> LayerActivity:
    """Dense computation of one sample at one step: every in-bounds tap is an event, every
    input row is active and every tile window is full (C_in x window positions)."""
    ones = np.ones((1, 1, *spec.in_shape), dtype=bool)
    hist, box_t, spk_t = box_activity(ones, spec, pe_rows)
    c = spec.in_shape[0]
    window = int(tile_windows(spec, pe_rows).multiplicity.sum()) * c
    extra = np.array([window, c, c], np.int64)
    return _to_activity(spec.name, pe_rows, hist, box_t, spk_t, position_tiles(spec, pe_rows),
                        extra)


@dataclass(frozen=True)
class PimActivity:
    """Driven PIM wordlines of the first layer, summed over samples and output positions.

    ``driven_rows[k]``: rows driven in input phase k (bit k, or DAC chunk k), over all samples
    and output positions, for one pass over the input (the input is the same at every step).
    ``code_sums[k]``: the sum of the phase-k chunk values over the same (sample, channel,
    position, reading output position), i.e. the read-wordline pulses of phase k when a chunk
    is applied as that many pulses (equal to ``driven_rows`` for bit-serial input).
    """

    phases: int
    driven_rows: np.ndarray
    code_sums: np.ndarray


@kernel
def _driven_rows(x, cover, phases, chunk_bits, out, sums):  # pragma: no cover - compiled
    """out[k] += sum over (n, c, pos) of [chunk k of x != 0] x cover[pos];
    sums[k] += sum over (n, c, pos) of (chunk k of x) x cover[pos].

    x: (n, C, P) unsigned input codes; cover: (P,) output positions reading each input
    position; chunk k of a code v is (v >> k*g) & (2^g - 1).
    """
    mask = (1 << chunk_bits) - 1
    n, cc, npos = x.shape
    for i in range(n):
        for c in range(cc):
            for q in range(npos):
                v = np.int64(x[i, c, q])
                if v == 0 or cover[q] == 0:
                    continue
                for k in range(phases):
                    chunk = (v >> (k * chunk_bits)) & mask
                    if chunk:
                        out[k] += cover[q]
                        sums[k] += chunk * cover[q]


def coverage(spec: LayerSpec) -> np.ndarray:
    """Output positions whose receptive field holds each input position, flattened (D*H*W).

    Separable: cover[d, h, w] = c_d[d] c_h[h] c_w[w], c_x[i] = #{o : 0 <= i - (o s - p) < k}.
    """
    in_dhw, k, s, p, out_dhw = _geometry(spec)
    per_dim = []
    for n_in, kk, ss, pp, n_out in zip(in_dhw, k, s, p, out_dhw, strict=True):
        c = np.zeros(n_in, np.int64)
        for o in range(n_out):
            lo, hi = max(o * ss - pp, 0), min(o * ss - pp + kk, n_in)
            c[lo:hi] += 1
        per_dim.append(c)
    return np.einsum("i,j,k->ijk", *per_dim).reshape(-1)


def pim_activity(trace: Trace, spec: LayerSpec, chunk_bits: int) -> PimActivity:
    """Count driven wordlines and wordline pulses per input phase: every input element with a
    non-zero chunk drives its row (for as many pulses as the chunk's value) once for every
    output position whose receptive field holds it."""
    phases = math.ceil(trace.input_bits / chunk_bits)
    driven = np.zeros(phases, dtype=np.int64)
    sums = np.zeros(phases, dtype=np.int64)
    x = trace.input.reshape(trace.num_samples, spec.in_shape[0], -1)
    _driven_rows(x, coverage(spec), phases, chunk_bits, driven, sums)
    return PimActivity(phases=phases, driven_rows=driven, code_sums=sums)


class ActivityCache:
    """In-memory cache of statistics per (layer, geometry) for one trace."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self._store: dict[tuple, object] = {}

    def layer(self, spec: LayerSpec, pe_rows: int) -> LayerActivity:
        key = ("layer", spec.name, pe_rows if spec.kind != "linear" else 0)
        if key not in self._store:
            if spec.input == "analog":
                self._store[key] = dense_activity(spec, pe_rows)
            else:
                self._store[key] = spiking_activity(self.trace, spec, pe_rows)
        return self._store[key]  # type: ignore[return-value]

    def pim(self, spec: LayerSpec, chunk_bits: int) -> PimActivity:
        key = ("pim", spec.name, chunk_bits)
        if key not in self._store:
            self._store[key] = pim_activity(self.trace, spec, chunk_bits)
        return self._store[key]  # type: ignore[return-value]

    def dense(self, spec: LayerSpec, pe_rows: int) -> LayerActivity:
        """Dense (every tap) statistics of one sample-step, for CNN baselines."""
        key = ("dense", spec.name, pe_rows if spec.kind != "linear" else 0)
        if key not in self._store:
            self._store[key] = dense_activity(spec, pe_rows)
        return self._store[key]  # type: ignore[return-value]
