"""Functional replay: re-run a trace's SNN from the trace alone (docs/trace-format.md), no PyTorch.

Semantics (trace format v2, docs/trace-format.md §6; a v1 trace is the case without bias,
pooling, per-channel values or reset options, the model of :mod:`pimsim.snn.export`):

* synaptic sums ``S = sum w_int * x`` over the layer's ``conv_shape`` (layer 0: the analog
  input codes, constant over time; layer l >= 1: its input spikes, reshaped in C order to the
  layer's in_shape: 3D->2D fold, flatten), exact in int64;
* current ``I = float64(S) * weight_scale`` (layer 0: ``* (weight_scale_0 * input_scale)``),
  then with a bias ``I = I + float64(bias[c]) * bias_scale`` per channel;
* with ``pool``, per channel over each window: max (padding ignored), sum (padding 0, summed
  from 0.0 in the window's C order) or avg (that sum / prod(kernel)); the result has out_shape;
* LIF (hidden layers), per-channel ``leak`` and ``threshold`` broadcast over the channels:
  without ``reset_delay`` ``u = leak * u``; ``u = u + I``; ``o = u > threshold``; subtract:
  ``u = u - threshold * o``, zero: ``u = u * (1 - o)``. With ``reset_delay`` (snnTorch):
  ``r = u > threshold`` (the previous step's u); subtract: ``u = (leak * u + I) - r *
  threshold``, zero: ``u = (1 - r) * u``; ``u = leak * u + I``; then ``o = u > threshold``;
* a maxpool layer of spikes: ``o = OR`` over each window (padding 0);
* integrator (output layer): ``u = leak * u``; ``u = u + I``; prediction = ``argmax u(T)``.

The synaptic sums are integers (int64 accumulators in Numba kernels) and so exact, whatever the
order; the per-step float64 operations are done in the order above, so a trace written by
pimsim's writers replays bit for bit. Traces from other tools may differ by float rounding at
the threshold; every mismatch is counted per layer.

Hook for hardware non-idealities in the first layer: ``first_layer_current`` replaces layer 0's
synaptic current ``float64(S) * (weight_scale_0 * input_scale)`` (shape (N, *conv_shape) or
(N, T, *conv_shape), real units; conv_shape is out_shape without pooling), or is a callable
``f(x_int, w_int, spec, input_scale) -> current`` (e.g. PIM ADC quantization of partial sums).
The layer's bias and pooling are applied to it as to the exact current.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numba as nb
import numpy as np

from pimsim.errors import TraceError
from pimsim.jit import kernel, parallel_kernel
from pimsim.trace import LayerSpec, PoolSpec, Trace, load_trace

FirstLayerHook = Callable[[np.ndarray, np.ndarray, LayerSpec, float], np.ndarray]


# ----------------------------------------------------------------------------- kernels
# Dense gather kernels (any integer input) and event-driven scatter kernels (0/1 spikes). All
# accumulate in int64. Shapes are 3D (C, D, H, W); conv2d uses D = 1 with kernel depth 1.


@parallel_kernel
def _conv3d_dense(x, w, sd, sh, sw, pd, ph, pw, od_, oh_, ow_):  # pragma: no cover - numba
    """x (N, C, D, H, W) int64, w (O, C, KD, KH, KW) int64 -> (N, O, OD, OH, OW) int64."""
    n_, c_, d_, h_, w_ = x.shape
    o_, _, kd_, kh_, kw_ = w.shape
    out = np.zeros((n_, o_, od_, oh_, ow_), dtype=np.int64)
    for n in nb.prange(n_):
        for o in range(o_):
            for od in range(od_):
                for oh in range(oh_):
                    for ow in range(ow_):
                        acc = 0
                        for c in range(c_):
                            for kd in range(kd_):
                                d = od * sd - pd + kd
                                if d < 0 or d >= d_:
                                    continue
                                for kh in range(kh_):
                                    h = oh * sh - ph + kh
                                    if h < 0 or h >= h_:
                                        continue
                                    for kw in range(kw_):
                                        ww = ow * sw - pw + kw
                                        if ww < 0 or ww >= w_:
                                            continue
                                        acc += x[n, c, d, h, ww] * w[o, c, kd, kh, kw]
                        out[n, o, od, oh, ow] = acc
    return out


@parallel_kernel
def _conv3d_events(s, wt, sd, sh, sw, pd, ph, pw, od_, oh_, ow_):  # pragma: no cover - numba
    """Event-driven conv: s (M, C, D, H, W) bool spikes, wt (C, KD, KH, KW, O) int64 ->
    (M, OD, OH, OW, O) int64; each spike adds its weights to every output that sees it."""
    m_, c_, d_, h_, w_ = s.shape
    _, kd_, kh_, kw_, o_ = wt.shape
    out = np.zeros((m_, od_, oh_, ow_, o_), dtype=np.int64)
    for m in nb.prange(m_):
        for c in range(c_):
            for d in range(d_):
                for h in range(h_):
                    for x in range(w_):
                        if not s[m, c, d, h, x]:
                            continue
                        for kd in range(kd_):
                            a = d + pd - kd
                            if a < 0 or a % sd != 0 or a // sd >= od_:
                                continue
                            od = a // sd
                            for kh in range(kh_):
                                b = h + ph - kh
                                if b < 0 or b % sh != 0 or b // sh >= oh_:
                                    continue
                                oh = b // sh
                                for kw in range(kw_):
                                    e = x + pw - kw
                                    if e < 0 or e % sw != 0 or e // sw >= ow_:
                                        continue
                                    ow = e // sw
                                    for o in range(o_):
                                        out[m, od, oh, ow, o] += wt[c, kd, kh, kw, o]
    return out


@parallel_kernel
def _linear_events(s, wt):  # pragma: no cover - numba
    """s (M, F) bool, wt (F, O) int64 -> (M, O) int64."""
    m_, f_ = s.shape
    o_ = wt.shape[1]
    out = np.zeros((m_, o_), dtype=np.int64)
    for m in nb.prange(m_):
        for f in range(f_):
            if s[m, f]:
                for o in range(o_):
                    out[m, o] += wt[f, o]
    return out


@kernel
def _linear_dense(x, w):  # pragma: no cover - numba
    """x (N, F) int64, w (O, F) int64 -> (N, O) int64."""
    n_, f_ = x.shape
    o_ = w.shape[0]
    out = np.zeros((n_, o_), dtype=np.int64)
    for n in range(n_):
        for o in range(o_):
            acc = 0
            for f in range(f_):
                acc += x[n, f] * w[o, f]
            out[n, o] = acc
    return out


def _as3d(spec: LayerSpec) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...],
                                    tuple[int, ...], tuple[int, ...]]:
    """(in_shape, conv_shape, kernel, stride, padding) as 3-D (conv2d gets D = 1)."""
    if spec.kind == "conv3d":
        return spec.in_shape, spec.conv_shape, spec.kernel, spec.stride, spec.padding
    c, h, w = spec.in_shape
    o, oh, ow = spec.conv_shape
    return ((c, 1, h, w), (o, 1, oh, ow), (1, *spec.kernel), (1, *spec.stride),
            (0, *spec.padding))


def integer_current(spec: LayerSpec, x: np.ndarray, w_int: np.ndarray, *,
                    events: bool) -> np.ndarray:
    """Exact integer synaptic sums ``sum w_int * x`` of one layer for a batch.

    ``x``: (M, *in_shape) integers (``events``: bool spikes, scatter kernel; else any integers,
    gather kernel). Returns int64 (M, *conv_shape): the sums before any pooling (conv_shape
    is out_shape for a layer without ``pool``).
    """
    m = x.shape[0]
    w64 = np.ascontiguousarray(w_int, dtype=np.int64)
    if spec.kind == "linear":
        x2 = x.reshape(m, -1)
        if events:
            return _linear_events(np.ascontiguousarray(x2, dtype=np.bool_),
                                  np.ascontiguousarray(w64.T))
        return _linear_dense(np.ascontiguousarray(x2, dtype=np.int64), w64)
    ins, outs, k, s, p = _as3d(spec)
    x5 = x.reshape(m, *ins)
    w5 = w64.reshape(outs[0], ins[0], *k)
    if events:
        r = _conv3d_events(np.ascontiguousarray(x5, dtype=np.bool_),
                           np.ascontiguousarray(w5.transpose(1, 2, 3, 4, 0)),
                           *s, *p, *outs[1:])
        r = r.transpose(0, 4, 1, 2, 3)
    else:
        r = _conv3d_dense(np.ascontiguousarray(x5, dtype=np.int64), w5, *s, *p, *outs[1:])
    return np.ascontiguousarray(r).reshape(m, *spec.conv_shape)


# ----------------------------------------------------------------------------- replay


def _pool(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...],
          padding: tuple[int, ...], mode: str) -> np.ndarray:
    """Pool x (M, C, *spatial) over each window, one window offset at a time in C order.

    ``mode``: ``"max"`` (padding -inf), ``"sum"`` (padding 0, ``acc = 0.0; acc = acc + x`` per
    offset), ``"avg"`` (the sum / prod(kernel)), ``"or"`` (bool, padding False).
    """
    spatial = x.shape[2:]
    out = [(n + 2 * p - k) // s + 1 for n, k, s, p in zip(spatial, kernel, stride, padding,
                                                         strict=True)]
    fill = {"max": -np.inf, "or": False}.get(mode, 0.0)
    if any(padding):
        x = np.pad(x, [(0, 0), (0, 0), *((p, p) for p in padding)], constant_values=fill)
    if mode == "or":
        acc = np.zeros((*x.shape[:2], *out), dtype=bool)
    elif mode == "max":
        acc = np.full((*x.shape[:2], *out), -np.inf)
    else:
        acc = np.zeros((*x.shape[:2], *out), dtype=np.float64)
    for offset in itertools.product(*(range(k) for k in kernel)):
        view = x[(slice(None), slice(None), *(
            slice(o, o + s * (n - 1) + 1, s) for o, s, n in zip(offset, stride, out,
                                                              strict=True)))]
        if mode == "or":
            acc |= view
        elif mode == "max":
            np.maximum(acc, view, out=acc)
        else:
            acc = acc + view
    if mode == "avg":
        acc = acc / float(math.prod(kernel))
    return acc


def pool_current(current: np.ndarray, pool: PoolSpec) -> np.ndarray:
    """A layer's pooled current: float64 (M, C, *conv spatial) -> (M, C, *out spatial)."""
    return _pool(current, pool.kernel, pool.stride, pool.padding, pool.kind)


def pool_spikes(spikes: np.ndarray, spec: LayerSpec) -> np.ndarray:
    """A maxpool layer's output: bool (M, *in_shape) -> (M, *out_shape), OR over windows."""
    return _pool(np.asarray(spikes, dtype=bool), spec.kernel, spec.stride, spec.padding, "or")


def bias_current(spec: LayerSpec, bias: np.ndarray | None) -> np.ndarray | None:
    """``float64(bias) * bias_scale`` shaped (C, 1, ...) over conv_shape; None without bias."""
    if spec.bias_scale is None or bias is None:
        return None
    real = np.asarray(bias).astype(np.float64) * float(spec.bias_scale)
    return real.reshape((spec.out_channels,) + (1,) * (len(spec.conv_shape) - 1))


def _bias_current(spec: LayerSpec, trace: Trace) -> np.ndarray | None:
    """:func:`bias_current` of a trace's layer (a bias_scale without its array is an error)."""
    b = trace.bias(spec.name)
    if spec.bias_scale is not None and b is None:
        raise TraceError("the layer has a bias_scale but the trace no bias array",
                         file=trace.path, key=f"bias/{spec.name}")
    return bias_current(spec, b)


def neuron_input(spec: LayerSpec, cur: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Synaptic current (M, *conv_shape) -> the neurons' input (M, *out_shape): bias, then
    pooling. A layer with neither gets ``cur`` itself."""
    if bias is not None:
        cur = cur + bias
    if spec.pool is not None:
        cur = pool_current(cur, spec.pool)
    return cur


def neuron_params(spec: LayerSpec) -> tuple[float | np.ndarray, float | np.ndarray]:
    """(leak, threshold): floats, or per-channel arrays broadcast over out_shape."""
    leak = spec.leak_array() if isinstance(spec.leak, tuple) else float(spec.leak)
    th = spec.threshold_array() if isinstance(spec.threshold, tuple) else float(spec.threshold)
    return leak, th


def lif(current: np.ndarray, timesteps: int, leak: float | np.ndarray,
         threshold: float | np.ndarray, constant: bool, reset: str = "subtract",
         reset_delay: bool = False) -> np.ndarray:
    """LIF over T steps; current (N, ...) if constant else (N, T, ...). Spikes (N, T, ...).

    ``leak`` and ``threshold``: floats or arrays broadcast over the trailing dims (per
    channel); ``reset``, ``reset_delay``: the reset of docs/trace-format.md §6.
    """
    n = current.shape[0]
    shape = current.shape[1:] if constant else current.shape[2:]
    u = np.zeros((n, *shape), dtype=np.float64)
    out = np.empty((n, timesteps, *shape), dtype=bool)
    subtract = reset == "subtract"
    for t in range(timesteps):
        i_t = current if constant else current[:, t]
        if not reset_delay:
            u = leak * u
            u = u + i_t
            o = u > threshold
            u = u - threshold * o if subtract else u * (1 - o)
        else:
            r = u > threshold
            if subtract:
                u = (leak * u + i_t) - r * threshold
            else:
                u = (1 - r) * u
                u = leak * u + i_t
            o = u > threshold
        out[:, t] = o
    return out


_lif = lif  # the name before format v2


def integrate(current: np.ndarray, timesteps: int, leak: float | np.ndarray) -> np.ndarray:
    """The output layer's integrator over T steps: ``u = leak * u; u = u + I(t)``, from
    ``u = 0``; current (N, T, ...) -> the final membrane (N, ...)."""
    u = np.zeros(current.shape[:1] + current.shape[2:], dtype=np.float64)
    for t in range(timesteps):
        u = leak * u
        u = u + current[:, t]
    return u


def replay_trace(trace: Trace | str, *, first_layer_current: np.ndarray | FirstLayerHook |
                 None = None, batch: int = 8, return_predictions: bool = False
                 ) -> dict[str, Any]:
    """Re-run the trace's SNN and compare with its stored spikes and predictions.

    Returns ``spike_agreement`` (fraction of all stored input-spike bits of all spiking layers,
    maxpool layers included, that the replay reproduces), ``prediction_agreement`` (fraction
    of samples whose replayed class equals the stored prediction), ``accuracy`` (replayed
    class vs labels), and details: ``layers`` (per spiking layer, by name: ``mismatches``,
    ``bits``, ``agreement``, stored and replayed ``spike_rate``), ``stored_accuracy``,
    ``num_samples``, ``predictions`` (list, only with ``return_predictions``),
    ``first_layer_hook`` (bool). The replay feeds each layer with its own replayed spikes
    (free-running), so an injected first-layer error propagates to the output.
    """
    if isinstance(trace, str):
        trace = load_trace(trace)
    layers = trace.layers
    n, t_steps = trace.num_samples, trace.timesteps
    last = len(layers) - 1
    if layers[-1].neuron != "integrator":
        raise TraceError("replay expects a non-spiking output layer ('integrator')",
                         file=trace.path, key=f"meta.layers[{last}].neuron")
    mism = np.zeros(len(layers), dtype=np.int64)
    ones_stored = np.zeros(len(layers), dtype=np.int64)
    ones_replayed = np.zeros(len(layers), dtype=np.int64)
    preds = np.empty(n, dtype=np.int64)
    spec0 = layers[0]
    w0 = trace.weights[spec0.name]
    stored = {s.name: trace.spikes(s.name, cache=False) for s in layers[1:]}
    biases = [_bias_current(s, trace) for s in layers]
    params = [neuron_params(s) for s in layers]
    for start in range(0, n, batch):
        sl = slice(start, min(n, start + batch))
        x = trace.input[sl]
        nb_ = x.shape[0]
        constant = True
        if first_layer_current is None:
            cur = integer_current(spec0, x, w0, events=False).astype(np.float64) * (
                float(spec0.weight_scale) * float(trace.input_scale))
        else:
            if callable(first_layer_current):
                cur = np.asarray(first_layer_current(x, w0, spec0, trace.input_scale),
                                 dtype=np.float64)
            else:
                cur = np.asarray(first_layer_current, dtype=np.float64)[sl]
            if cur.shape == (nb_, t_steps, *spec0.conv_shape):
                constant = False
            elif cur.shape != (nb_, *spec0.conv_shape):
                raise TraceError(f"first_layer_current has shape {cur.shape}, expected "
                                 f"(N, {', '.join(map(str, spec0.conv_shape))}) or with T",
                                 file=trace.path, key=f"weights/{spec0.name}")
        if constant:
            cur = neuron_input(spec0, cur, biases[0])
        else:
            cur = neuron_input(spec0, cur.reshape(nb_ * t_steps, *spec0.conv_shape), biases[0])
            cur = cur.reshape(nb_, t_steps, *spec0.out_shape)
        s = lif(cur, t_steps, *params[0], constant, spec0.reset, spec0.reset_delay)
        for i in range(1, last + 1):
            spec = layers[i]
            s = s.reshape(nb_, t_steps, *spec.in_shape)
            ref = stored[spec.name][sl]
            mism[i] += int(np.count_nonzero(s != ref))
            ones_stored[i] += int(np.count_nonzero(ref))
            ones_replayed[i] += int(np.count_nonzero(s))
            flat = s.reshape(nb_ * t_steps, *spec.in_shape)
            if spec.is_pool:
                s = pool_spikes(flat, spec).reshape(nb_, t_steps, *spec.out_shape)
                continue
            cur = integer_current(spec, flat, trace.weights[spec.name], events=True)
            cur = cur.astype(np.float64) * float(spec.weight_scale)
            cur = neuron_input(spec, cur, biases[i])
            cur = cur.reshape(nb_, t_steps, *spec.out_shape)
            leak, threshold = params[i]
            if i < last:
                s = lif(cur, t_steps, leak, threshold, False, spec.reset, spec.reset_delay)
            else:
                u = integrate(cur, t_steps, leak)
                preds[sl] = u.reshape(nb_, -1).argmax(1)
    per_layer = {}
    total_bits = 0
    total_mism = 0
    for i, spec in enumerate(layers[1:], start=1):
        bits = n * t_steps * spec.in_size
        total_bits += bits
        total_mism += int(mism[i])
        per_layer[spec.name] = {
            "mismatches": int(mism[i]),
            "bits": int(bits),
            "agreement": 1.0 - int(mism[i]) / bits,
            "stored_spike_rate": int(ones_stored[i]) / bits,
            "replayed_spike_rate": int(ones_replayed[i]) / bits,
        }
    out: dict[str, Any] = {
        "spike_agreement": 1.0 - total_mism / total_bits if total_bits else 1.0,
        "prediction_agreement": float(np.mean(preds == trace.predictions)),
        "accuracy": float(np.mean(preds == trace.labels)),
        "stored_accuracy": float(np.mean(trace.predictions == trace.labels)),
        "num_samples": int(n),
        "spike_mismatches": int(total_mism),
        "layers": per_layer,
        "first_layer_hook": first_layer_current is not None,
    }
    if return_predictions:
        out["predictions"] = preds.tolist()
    return out
