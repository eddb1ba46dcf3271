"""Functional replay (pimsim.replay) against an independent NumPy reference; no PyTorch."""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pytest

from pimsim.errors import TraceError
from pimsim.replay import integer_current, replay_trace
from pimsim.trace import LayerSpec, build_meta, load_trace, save_trace


def _conv_ref(x: np.ndarray, w: np.ndarray, stride, pad) -> np.ndarray:
    """Plain NumPy integer convolution (any spatial rank): x (N, C, *S), w (O, C, *K)."""
    nd = w.ndim - 2
    xp = np.pad(x.astype(np.int64), [(0, 0), (0, 0)] + [(p, p) for p in pad])
    out_sz = [(xp.shape[2 + i] - w.shape[2 + i]) // stride[i] + 1 for i in range(nd)]
    out = np.zeros((x.shape[0], w.shape[0], *out_sz), dtype=np.int64)
    for k in itertools.product(*[range(s) for s in w.shape[2:]]):
        sl = tuple(slice(k[i], k[i] + stride[i] * out_sz[i], stride[i]) for i in range(nd))
        patch = xp[(slice(None), slice(None), *sl)]
        out += np.einsum("nc...,oc->no...", patch, w[(slice(None), slice(None), *k)].astype(
            np.int64))
    return out


def _tiny_net(rng: np.random.Generator):
    """conv3d (stride 1/2, padding 1) -> fold -> conv2d -> linear -> linear (integrator)."""
    l0 = LayerSpec("c3", "conv3d", (1, 6, 7, 7), (4, 4, 4, 4), (3, 3, 3), (1, 2, 2), (0, 1, 1),
                   "analog", "lif", 0.9, 0.8, 0.05, 6)
    l1 = LayerSpec("c2", "conv2d", (16, 4, 4), (5, 2, 2), (3, 3), (1, 1), (0, 0),
                   "spikes", "lif", 0.35, 0.95, 0.04, 6)
    l2 = LayerSpec("fc1", "linear", (20,), (12,), (), (), (), "spikes", "lif", 0.3, 1.0, 0.05, 6)
    l3 = LayerSpec("fc2", "linear", (12,), (3,), (), (), (), "spikes", "integrator", 1.0, 1.0,
                   0.03, 6)
    layers = [l0, l1, l2, l3]
    weights = {s.name: rng.integers(-31, 32, size=s.weight_shape).astype(np.int8)
               for s in layers}
    return layers, weights


def _reference_run(layers, weights, x, input_scale, T):
    """Independent reference of the trace semantics (pimsim.replay module docstring)."""
    n = x.shape[0]
    spikes = {}
    cur = _conv_ref(x, weights[layers[0].name], layers[0].stride, layers[0].padding)
    cur = cur.astype(np.float64) * (layers[0].weight_scale * input_scale)
    u = np.zeros_like(cur)
    s_list = []
    for _ in range(T):
        u = layers[0].leak * u
        u = u + cur
        o = u > layers[0].threshold
        u = u - layers[0].threshold * o
        s_list.append(o)
    s = np.stack(s_list, 1)
    for i, spec in enumerate(layers[1:], start=1):
        s = s.reshape(n, T, *spec.in_shape)
        spikes[spec.name] = s.copy()
        u = np.zeros((n, *spec.out_shape))
        s_list = []
        for t in range(T):
            if spec.kind == "linear":
                c = s[:, t].astype(np.int64) @ weights[spec.name].astype(np.int64).T
            else:
                c = _conv_ref(s[:, t], weights[spec.name], spec.stride, spec.padding)
            u = spec.leak * u
            u = u + c.astype(np.float64) * spec.weight_scale
            if spec.neuron == "lif":
                o = u > spec.threshold
                u = u - spec.threshold * o
                s_list.append(o)
        if spec.neuron == "lif":
            s = np.stack(s_list, 1)
    return spikes, u.argmax(1)


@pytest.fixture()
def tiny_trace(tmp_path):
    rng = np.random.default_rng(7)
    layers, weights = _tiny_net(rng)
    n, T, scale = 12, 5, 0.02
    x = rng.integers(0, 256, size=(n, *layers[0].in_shape)).astype(np.uint8)
    spikes, preds = _reference_run(layers, weights, x, scale, T)
    labels = rng.integers(0, 3, size=n)
    meta = build_meta(dataset="synthetic_tiny", model="tiny", layers=layers, timesteps=T,
                      num_samples=n, input_bits=8, input_scale=scale, weight_bits=6,
                      provenance={"data": "synthetic random inputs (test)"})
    path = save_trace(tmp_path / "tiny.npz", meta=meta, input=x, weights=weights, spikes=spikes,
                      labels=labels, predictions=preds)
    return load_trace(path), spikes, preds, labels


def test_replay_reproduces_reference_exactly(tiny_trace):
    trace, _, preds, labels = tiny_trace
    r = replay_trace(trace, return_predictions=True)
    assert r["spike_agreement"] == 1.0 and r["spike_mismatches"] == 0
    assert r["predictions"] == preds.tolist()
    assert r["prediction_agreement"] == 1.0
    assert r["accuracy"] == pytest.approx(np.mean(preds == labels))
    assert set(r["layers"]) == {"c2", "fc1", "fc2"}
    # the network is not trivially silent or saturated
    rates = [v["stored_spike_rate"] for v in r["layers"].values()]
    assert all(0.0 < q < 1.0 for q in rates), rates


def test_replay_does_not_import_torch():
    import subprocess

    code = ("import sys, pimsim.replay; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_cli_modules_import_without_torch():
    import subprocess

    code = ("import sys, pimsim.snn.cli, pimsim.snn.data; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_mismatches_are_counted_per_layer(tiny_trace, tmp_path):
    trace, spikes, preds, labels = tiny_trace
    bad = {k: v.copy() for k, v in spikes.items()}
    flat = bad["fc1"].reshape(-1)
    flat[:7] = ~flat[:7]
    meta = dict(trace.meta)
    path = save_trace(tmp_path / "bad.npz", meta=meta, input=trace.input,
                      weights=trace.weights, spikes=bad, labels=labels,
                      predictions=(preds + 1) % 3)
    r = replay_trace(load_trace(path))
    assert r["layers"]["fc1"]["mismatches"] == 7
    assert r["layers"]["c2"]["mismatches"] == 0
    assert r["spike_mismatches"] == 7
    total = sum(v["bits"] for v in r["layers"].values())
    assert r["spike_agreement"] == pytest.approx(1 - 7 / total)
    assert r["prediction_agreement"] == 0.0


def test_first_layer_current_hook(tiny_trace):
    trace = tiny_trace[0]
    l0 = trace.layers[0]
    exact = integer_current(l0, trace.input, trace.weights[l0.name], events=False)
    cur = exact.astype(np.float64) * (l0.weight_scale * trace.input_scale)
    same = replay_trace(trace, first_layer_current=cur)
    assert same["spike_agreement"] == 1.0 and same["first_layer_hook"]
    # a time-varying current of the same value, and a callable, give the same result
    tv = np.repeat(cur[:, None], trace.timesteps, axis=1)
    assert replay_trace(trace, first_layer_current=tv)["spike_agreement"] == 1.0

    def adc(x, w, spec, scale):  # coarse quantization of the currents: a PIM non-ideality
        c = integer_current(spec, x, w, events=False) * (spec.weight_scale * scale)
        return np.round(c / 2.0) * 2.0

    noisy = replay_trace(trace, first_layer_current=adc)
    assert noisy["spike_mismatches"] > 0
    with pytest.raises(TraceError, match="first_layer_current has shape"):
        replay_trace(trace, first_layer_current=cur[:, :2])


def test_event_kernel_matches_dense_kernel_with_stride_and_padding():
    rng = np.random.default_rng(1)
    spec = LayerSpec("c", "conv3d", (3, 5, 6, 7), (4, 3, 3, 4), (3, 2, 3), (2, 2, 2), (1, 0, 1),
                     "spikes", "lif", 1.0, 1.0, 1.0, 6)
    s = rng.random((4, 3, 5, 6, 7)) < 0.3
    w = rng.integers(-31, 32, size=spec.weight_shape)
    ev = integer_current(spec, s, w, events=True)
    de = integer_current(spec, s.astype(np.int64), w, events=False)
    ref = _conv_ref(s.astype(np.int64), w, spec.stride, spec.padding)
    assert np.array_equal(ev, ref) and np.array_equal(de, ref)
