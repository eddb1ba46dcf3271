"""First-layer PIM non-idealities for the accuracy axis (docs/training.md).

The analog first layer on the SRAM PIM macro (mapping of :mod:`pimsim.models.pim`) computes,
for every output position, input phase k (a bit, or a DAC chunk of g bits), weight slice s
(``bits_per_cell`` = c bits) and row group r (at most ``rows_per_read`` rows of one array),
the column partial sum

    ps = sum_{i in r} x_k[i] * w_s[i],     0 <= ps <= FS = |r| (2^g - 1)(2^c - 1),

which the ADC of ``adc_bits`` converts: q = clip(round((ps + noise) / step), 0, 2^b - 1) x step
with step = max(1, FS / (2^b - 1)) (lossless when FS <= 2^b - 1). Optional Gaussian read noise
has sigma = ``read_noise_lsb`` x step, drawn from a seeded generator. With
``pim.analog_weight_combine`` the slices of a weight are summed in the analog domain before one
conversion (c = weight bits). A pulse-count DAC is modelled like a level DAC: the partial sums
and their quantization are the same. The digital shift-add
combines q x 2^(k g) x 2^(s c) over phases, slices and groups.

Signed weights are stored in offset binary, w_u = w + 2^(B-1) in [0, 2^B), so every cell and
partial sum is non-negative; the offset term 2^(B-1) x sum_i x[i] is computed exactly in the
digital periphery and subtracted. The result times ``input_scale x weight_scale`` is the first
layer's input current, which :func:`pimsim.replay.replay_trace` takes as
``first_layer_current`` (shape (N, *out_shape)) to re-run the rest of the network.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from pimsim.config import HardwareConfig
from pimsim.errors import PimsimError
from pimsim.trace import LayerSpec, Trace


def patches(x: np.ndarray, spec: LayerSpec) -> np.ndarray:
    """Unrolled receptive fields: (N, *out_spatial, K) with K ordered as (C_in, *kernel)."""
    n = x.shape[0]
    if spec.kind == "linear":
        return x.reshape(n, -1)
    nd = len(spec.kernel)
    pad = [(0, 0), (0, 0), *[(p, p) for p in spec.padding]]
    xp = np.pad(x, pad)
    win = sliding_window_view(xp, spec.kernel, axis=tuple(range(2, 2 + nd)))
    sl = (slice(None), slice(None), *[slice(None, None, s) for s in spec.stride])
    win = win[sl]  # (N, C, *out, *kernel)
    out_sp = spec.out_shape[1:]
    win = win[(slice(None), slice(None), *[slice(0, o) for o in out_sp])]
    order = (0, *range(2, 2 + nd), 1, *range(2 + nd, 2 + 2 * nd))
    return win.transpose(order).reshape(n, *out_sp, -1)


def row_groups(k_rows: int, rows: int, rows_per_read: int) -> list[slice]:
    """Row ranges read together: arrays of ``rows`` rows, each split every ``rows_per_read``."""
    groups = []
    for a0 in range(0, k_rows, rows):
        a1 = min(k_rows, a0 + rows)
        for g0 in range(a0, a1, rows_per_read):
            groups.append(slice(g0, min(a1, g0 + rows_per_read)))
    return groups


def pim_layer_output(x: np.ndarray, w: np.ndarray, spec: LayerSpec, cfg: HardwareConfig, *,
                     input_bits: int, read_noise_lsb: float = 0.0, seed: int = 0
                     ) -> np.ndarray:
    """Integer-domain output of the first layer on the macro: (N, C_out, *out_spatial), float.

    Equals the exact integer convolution sum_i x[i] w[i] when every partial sum fits the ADC
    and there is no noise.
    """
    p = cfg.pim
    g = 1 if p.input_mode == "bit_serial" else p.dac_bits
    wb = spec.weight_bits
    # analog weight combining sums a weight's slice columns before one conversion: the ADC
    # sees whole weights (c = weight bits); otherwise one conversion per bit-sliced column
    c = wb if getattr(p, "analog_weight_combine", False) else p.bits_per_cell
    phases = math.ceil(input_bits / g)
    slices = math.ceil(wb / c)
    cols = patches(x.astype(np.int64), spec)
    lead = cols.shape[:-1]
    xm = cols.reshape(-1, cols.shape[-1])  # (M, K)
    wm = w.reshape(w.shape[0], -1).T.astype(np.int64)  # (K, C_out)
    wu = wm + (1 << (wb - 1))
    levels = (1 << p.adc_bits) - 1
    rng = np.random.default_rng(seed)
    acc = np.zeros((xm.shape[0], wm.shape[1]), dtype=np.float64)
    groups = row_groups(xm.shape[1], p.rows, p.rows_per_read)
    for k in range(phases):
        xk = ((xm >> (k * g)) & ((1 << g) - 1)).astype(np.float64)
        for s in range(slices):
            ws = ((wu >> (s * c)) & ((1 << c) - 1)).astype(np.float64)
            scale = float(1 << (k * g + s * c))
            for r in groups:
                ps = xk[:, r] @ ws[r, :]
                fs = (r.stop - r.start) * ((1 << g) - 1) * ((1 << c) - 1)
                step = max(1.0, fs / levels)
                if read_noise_lsb > 0:
                    ps = ps + rng.normal(0.0, read_noise_lsb * step, size=ps.shape)
                q = np.clip(np.rint(ps / step), 0, levels) * step
                acc += q * scale
    acc -= float(1 << (wb - 1)) * xm.sum(axis=1, dtype=np.int64)[:, None]
    out = acc.reshape(*lead, wm.shape[1])
    return np.moveaxis(out, -1, 1)


def first_layer_current(trace: Trace, cfg: HardwareConfig, *, read_noise_lsb: float = 0.0,
                        seed: int = 0) -> np.ndarray:
    """Real-valued first-layer input current with PIM non-idealities, (N, *out_shape)."""
    spec = trace.layers[0]
    w = trace.weights[spec.name]
    y = pim_layer_output(trace.input, w, spec, cfg, input_bits=trace.input_bits,
                         read_noise_lsb=read_noise_lsb, seed=seed)
    return y * trace.input_scale * spec.weight_scale


def accuracy_key(cfg: HardwareConfig) -> tuple[Any, ...]:
    """The config values the hardware accuracy depends on (for memoisation)."""
    p = cfg.pim
    if not p.enabled:
        return (False,)
    return (True, p.rows, p.rows_per_read, p.adc_bits, p.bits_per_cell, p.input_mode,
            p.dac_bits, getattr(p, "analog_weight_combine", False))


def hardware_accuracy(trace: Trace, cfg: HardwareConfig, *, read_noise_lsb: float = 0.0,
                      seed: int = 0) -> float:
    """Accuracy of the trace's SNN when its first layer runs on ``cfg``'s PIM macro.

    Digital first layer (``pim.enabled`` false): the ideal replay's accuracy.
    """
    try:
        from pimsim.replay import replay_trace
    except ImportError as exc:
        raise PimsimError(f"functional replay is not available ({exc})", file=trace.path,
                          key="--accuracy") from None
    if not cfg.pim.enabled:
        return float(replay_trace(trace)["accuracy"])
    current = first_layer_current(trace, cfg, read_noise_lsb=read_noise_lsb, seed=seed)
    return float(replay_trace(trace, first_layer_current=current)["accuracy"])
