"""Functional replay: re-run a trace's SNN from the trace alone (docs/trace-format.md), no PyTorch.

Semantics (identical to :mod:`pimsim.snn.export`, which writes the traces):

* layer 0 (analog input, constant over time): ``I_0 = float64(sum w_int * x_int) *
  (weight_scale_0 * input_scale)``;
* layer l >= 1: ``I_l(t) = float64(sum w_int * o_{l-1}(t)) * weight_scale_l``, with the input
  spikes reshaped in C order to the layer's in_shape (3D->2D fold, flatten);
* LIF (hidden layers): ``u = leak * u``; ``u = u + I``; ``o = u > threshold``;
  ``u = u - threshold * o`` (soft reset);
* integrator (output layer): ``u = leak * u``; ``u = u + I``; prediction = ``argmax u(T)``.

The synaptic sums are integers (int64 accumulators in Numba kernels) and so exact, whatever the
order; the per-step float64 operations are done in the same order as the exporter, so a trace
written by pimsim replays bit for bit. Traces from other tools may differ by float rounding at
the threshold; every mismatch is counted per layer.

Hook for hardware non-idealities in the first layer: ``first_layer_current`` replaces layer 0's
current (shape (N, *out_shape) or (N, T, *out_shape), real units), or is a callable
``f(x_int, w_int, spec, input_scale) -> current`` (e.g. PIM ADC quantization of partial sums).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba as nb
import numpy as np

from pimsim.errors import TraceError
from pimsim.jit import kernel, parallel_kernel
from pimsim.trace import LayerSpec, Trace, load_trace

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
    """(in_shape, out_shape, kernel, stride, padding) as 3-D (conv2d gets D = 1)."""
    if spec.kind == "conv3d":
        return spec.in_shape, spec.out_shape, spec.kernel, spec.stride, spec.padding
    c, h, w = spec.in_shape
    o, oh, ow = spec.out_shape
    return ((c, 1, h, w), (o, 1, oh, ow), (1, *spec.kernel), (1, *spec.stride),
            (0, *spec.padding))


def integer_current(spec: LayerSpec, x: np.ndarray, w_int: np.ndarray, *,
                    events: bool) -> np.ndarray:
    """Exact integer synaptic sums ``sum w_int * x`` of one layer for a batch.

    ``x``: (M, *in_shape) integers (``events``: bool spikes, scatter kernel; else any integers,
    gather kernel). Returns int64 (M, *out_shape).
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
    return np.ascontiguousarray(r).reshape(m, *spec.out_shape)


# ----------------------------------------------------------------------------- replay


def _lif(current: np.ndarray, timesteps: int, leak: float, threshold: float,
         constant: bool) -> np.ndarray:
    """LIF over T steps; current (N, ...) if constant else (N, T, ...). Spikes (N, T, ...)."""
    n = current.shape[0]
    shape = current.shape[1:] if constant else current.shape[2:]
    u = np.zeros((n, *shape), dtype=np.float64)
    out = np.empty((n, timesteps, *shape), dtype=bool)
    for t in range(timesteps):
        u = leak * u
        u = u + (current if constant else current[:, t])
        o = u > threshold
        u = u - threshold * o
        out[:, t] = o
    return out


def replay_trace(trace: Trace | str, *, first_layer_current: np.ndarray | FirstLayerHook |
                 None = None, batch: int = 8, return_predictions: bool = False
                 ) -> dict[str, Any]:
    """Re-run the trace's SNN and compare with its stored spikes and predictions.

    Returns ``spike_agreement`` (fraction of all stored input-spike bits of all spiking layers
    that the replay reproduces), ``prediction_agreement`` (fraction of samples whose replayed
    class equals the stored prediction), ``accuracy`` (replayed class vs labels), and details:
    ``layers`` (per spiking layer: ``mismatches``, ``bits``, ``agreement``, stored and
    replayed ``spike_rate``), ``stored_accuracy``, ``num_samples``, ``predictions`` (list,
    only with ``return_predictions``),
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
            if cur.shape == (nb_, t_steps, *spec0.out_shape):
                constant = False
            elif cur.shape != (nb_, *spec0.out_shape):
                raise TraceError(f"first_layer_current has shape {cur.shape}, expected "
                                 f"(N, {', '.join(map(str, spec0.out_shape))}) or with T",
                                 file=trace.path, key=f"weights/{spec0.name}")
        s = _lif(cur, t_steps, float(spec0.leak), float(spec0.threshold), constant)
        for i in range(1, last + 1):
            spec = layers[i]
            s = s.reshape(nb_, t_steps, *spec.in_shape)
            ref = stored[spec.name][sl]
            mism[i] += int(np.count_nonzero(s != ref))
            ones_stored[i] += int(np.count_nonzero(ref))
            ones_replayed[i] += int(np.count_nonzero(s))
            flat = s.reshape(nb_ * t_steps, *spec.in_shape)
            cur = integer_current(spec, flat, trace.weights[spec.name], events=True)
            cur = cur.astype(np.float64) * float(spec.weight_scale)
            cur = cur.reshape(nb_, t_steps, *spec.out_shape)
            if i < last:
                s = _lif(cur, t_steps, float(spec.leak), float(spec.threshold), False)
            else:
                u = np.zeros((nb_, *spec.out_shape), dtype=np.float64)
                for t in range(t_steps):
                    u = float(spec.leak) * u
                    u = u + cur[:, t]
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
