"""Helpers shared by tests: tiny traces and configs built by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pimsim.trace import LayerSpec, build_meta, save_trace

REPO = Path(__file__).resolve().parents[1]
TINY_HW = REPO / "tests" / "data" / "tiny_hw.yaml"


def conv3d(name: str, in_shape, out_ch, kernel, stride=(1, 1, 1), padding=(0, 0, 0),
           first=False, weight_bits=6) -> LayerSpec:
    out = [out_ch] + [(n + 2 * p - k) // s + 1
                      for n, k, s, p in zip(in_shape[1:], kernel, stride, padding)]
    return LayerSpec(name, "conv3d", tuple(in_shape), tuple(out), tuple(kernel), tuple(stride),
                     tuple(padding), "analog" if first else "spikes", "lif", 1.0, 1.0, 0.1,
                     weight_bits)


def conv2d(name: str, in_shape, out_ch, kernel, stride=(1, 1), padding=(0, 0), first=False,
           neuron="lif", weight_bits=6) -> LayerSpec:
    out = [out_ch] + [(n + 2 * p - k) // s + 1
                      for n, k, s, p in zip(in_shape[1:], kernel, stride, padding)]
    return LayerSpec(name, "conv2d", tuple(in_shape), tuple(out), tuple(kernel), tuple(stride),
                     tuple(padding), "analog" if first else "spikes", neuron, 1.0, 1.0, 0.1,
                     weight_bits)


def linear(name: str, f_in: int, f_out: int, neuron="integrator", weight_bits=6) -> LayerSpec:
    return LayerSpec(name, "linear", (f_in,), (f_out,), (), (), (), "spikes", neuron, 1.0, 1.0,
                     0.1, weight_bits)


def write_trace(path, layers, spikes, *, x=None, n=1, t=2, input_bits=8, seed=0,
                provenance=None) -> Path:
    """Write a v1 trace with the given spikes (dict name -> bool (n, t, *in_shape))."""
    rng = np.random.default_rng(seed)
    if x is None:
        x = rng.integers(0, 2**input_bits, size=(n, *layers[0].in_shape)).astype(np.uint8)
    weights = {}
    for s in layers:
        lim = 2 ** (s.weight_bits - 1)
        weights[s.name] = rng.integers(-lim, lim, size=s.weight_shape).astype(np.int8)
    meta = build_meta(dataset="test", model="test", layers=layers, timesteps=t, num_samples=n,
                      input_bits=input_bits, input_scale=1 / 255, weight_bits=6,
                      provenance=provenance or {"data": "synthetic", "command": "test"})
    classes = layers[-1].out_shape[0]
    save_trace(path, meta=meta, input=x, weights=weights, spikes=spikes,
               labels=np.zeros(n, np.int64), predictions=np.zeros(n, np.int64) % classes)
    return Path(path)


def brute_box_counts(spk: np.ndarray, kernel, stride, padding, out_spatial) -> np.ndarray:
    """Reference: count input spikes (all channels) inside each output's receptive field.

    spk: (C, D, H, W) bool for one sample and step. Returns (Do, Ho, Wo) ints.
    """
    _, d, h, w = spk.shape
    out = np.zeros(out_spatial, dtype=np.int64)
    for od in range(out_spatial[0]):
        for oh in range(out_spatial[1]):
            for ow in range(out_spatial[2]):
                total = 0
                for kd in range(kernel[0]):
                    for kh in range(kernel[1]):
                        for kw in range(kernel[2]):
                            z = od * stride[0] - padding[0] + kd
                            y = oh * stride[1] - padding[1] + kh
                            xx = ow * stride[2] - padding[2] + kw
                            if 0 <= z < d and 0 <= y < h and 0 <= xx < w:
                                total += int(spk[:, z, y, xx].sum())
                out[od, oh, ow] = total
    return out
