"""Trace format v2 (issue 11): bias, pooling of the current, max-pooling of spikes, per-channel
thresholds and leaks, reset modes and reset delay; v1 traces unchanged; the reader's refusals.

The expected spikes are built here with plain NumPy loops that follow the step-by-step
equations of docs/trace-format.md §6, independently of pimsim.replay; the trace written from
them with save_trace must replay exactly.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO

from pimsim.errors import TraceError
from pimsim.replay import replay_trace
from pimsim.trace import (
    FORMAT_VERSION,
    LayerSpec,
    PoolSpec,
    build_meta,
    load_trace,
    save_trace,
)

# ----------------------------------------------------------------------------- the reference


def ref_conv(x: np.ndarray, w: np.ndarray, stride, padding) -> np.ndarray:
    """Integer cross-correlation of one map x (C, *S) with w (O, C, *K): (O, *out), int64,
    by a loop over the output positions (zero padding)."""
    nd = len(stride)
    xp = np.pad(x.astype(np.int64), [(0, 0)] + [(p, p) for p in padding])
    k = w.shape[2:]
    out_sz = [(xp.shape[1 + i] - k[i]) // stride[i] + 1 for i in range(nd)]
    out = np.zeros((w.shape[0], *out_sz), dtype=np.int64)
    w64 = w.astype(np.int64)
    for pos in itertools.product(*(range(n) for n in out_sz)):
        window = xp[(slice(None), *(slice(pos[i] * stride[i], pos[i] * stride[i] + k[i])
                                    for i in range(nd)))]
        for o in range(w.shape[0]):
            out[(o, *pos)] = int((window * w64[o]).sum())
    return out


def ref_linear(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.array([sum(int(w[o, f]) * int(x[f]) for f in range(x.shape[0]))
                     for o in range(w.shape[0])], dtype=np.int64)


def ref_pool(x: np.ndarray, kind: str, kernel, stride, padding) -> np.ndarray:
    """Pool one map x (C, *S) per channel with a loop over windows: max ignores padding, sum
    adds the real elements from 0.0 in the window's C order, avg is that sum / prod(kernel),
    "or" is the logical OR (padding False)."""
    nd = len(kernel)
    size = x.shape[1:]
    out_sz = [(size[i] + 2 * padding[i] - kernel[i]) // stride[i] + 1 for i in range(nd)]
    out = np.zeros((x.shape[0], *out_sz), dtype=bool if kind == "or" else np.float64)
    for c in range(x.shape[0]):
        for pos in itertools.product(*(range(n) for n in out_sz)):
            vals = []
            for off in itertools.product(*(range(k) for k in kernel)):
                at = tuple(pos[i] * stride[i] - padding[i] + off[i] for i in range(nd))
                if all(0 <= at[i] < size[i] for i in range(nd)):
                    vals.append(x[(c, *at)])
            if kind == "max":
                out[(c, *pos)] = max(vals)
            elif kind == "or":
                out[(c, *pos)] = any(vals)
            else:
                acc = 0.0
                for v in vals:
                    acc = acc + float(v)
                out[(c, *pos)] = acc / math.prod(kernel) if kind == "avg" else acc
    return out


def per_channel(value, spec: LayerSpec) -> np.ndarray:
    """The value of every output neuron of one sample (shape out_shape)."""
    v = np.asarray(value, dtype=np.float64)
    if v.ndim == 0:
        return np.full(spec.out_shape, float(v))
    return np.broadcast_to(v.reshape((-1,) + (1,) * (len(spec.out_shape) - 1)),
                           spec.out_shape).copy()


def reference(layers, weights, biases, x, input_scale, timesteps):
    """Every layer's input spikes (N, T, *in_shape) and the predictions, by the equations of
    docs/trace-format.md §6, one sample, one step and one layer at a time."""
    n = x.shape[0]
    spikes = {s.name: np.zeros((n, timesteps, *s.in_shape), dtype=bool) for s in layers[1:]}
    preds = np.zeros(n, dtype=np.int64)
    for k in range(n):
        u = [np.zeros(s.out_shape) for s in layers]
        for t in range(timesteps):
            o = np.zeros(0, dtype=bool)  # the output spikes of the layer before
            for i, spec in enumerate(layers):
                src = x[k]
                if i > 0:
                    src = o.reshape(spec.in_shape)
                    spikes[spec.name][k, t] = src
                if spec.is_pool:
                    o = ref_pool(src, "or", spec.kernel, spec.stride, spec.padding)
                    continue
                w = weights[spec.name]
                s_int = (ref_linear(src, w) if spec.kind == "linear"
                         else ref_conv(src, w, spec.stride, spec.padding))
                scale = spec.weight_scale * input_scale if i == 0 else spec.weight_scale
                cur = s_int.astype(np.float64) * scale
                if spec.bias_scale is not None:
                    b = biases[spec.name].astype(np.float64) * spec.bias_scale
                    cur = cur + b.reshape((-1,) + (1,) * (cur.ndim - 1))
                if spec.pool is not None:
                    p = spec.pool
                    cur = ref_pool(cur, p.kind, p.kernel, p.stride, p.padding)
                lam, th = per_channel(spec.leak, spec), per_channel(spec.threshold, spec)
                v = u[i]
                if spec.neuron == "integrator":
                    v = lam * v
                    v = v + cur
                    u[i] = v
                    continue
                if not spec.reset_delay:
                    v = lam * v
                    v = v + cur
                    o = v > th
                    v = v - th * o if spec.reset == "subtract" else v * (1 - o)
                else:
                    r = v > th
                    if spec.reset == "subtract":
                        v = (lam * v + cur) - r * th
                    else:
                        v = (1 - r) * v
                        v = lam * v + cur
                    o = v > th
                u[i] = v
        preds[k] = int(np.argmax(u[-1].reshape(-1)))
    return spikes, preds


# ----------------------------------------------------------------------------- networks


def _conv(name, kind, in_shape, out_ch, kernel, stride, padding, *, pool=None, first=False,
          neuron="lif", threshold=1.0, leak=1.0, weight_scale=0.05, bias_scale=None,
          reset="subtract", reset_delay=False) -> LayerSpec:
    conv = [(n + 2 * p - k) // s + 1 for n, k, s, p in zip(in_shape[1:], kernel, stride,
                                                           padding, strict=True)]
    out = pool.out_spatial(tuple(conv)) if pool is not None else tuple(conv)
    return LayerSpec(name, kind, tuple(in_shape), (out_ch, *out), tuple(kernel), tuple(stride),
                     tuple(padding), "analog" if first else "spikes", neuron, threshold, leak,
                     weight_scale, 6, bias_scale, pool, reset, reset_delay)


def _maxpool(name, kind, in_shape, kernel, stride, padding) -> LayerSpec:
    out = [(n + 2 * p - k) // s + 1 for n, k, s, p in zip(in_shape[1:], kernel, stride,
                                                          padding, strict=True)]
    return LayerSpec(name, kind, tuple(in_shape), (in_shape[0], *out), tuple(kernel),
                     tuple(stride), tuple(padding), "spikes", "none", 1.0, 1.0, 1.0, 6)


def _linear(name, f_in, f_out, *, neuron="lif", threshold=1.0, leak=1.0, weight_scale=0.05,
            bias_scale=None, reset="subtract", reset_delay=False) -> LayerSpec:
    return LayerSpec(name, "linear", (f_in,), (f_out,), (), (), (), "spikes", neuron,
                     threshold, leak, weight_scale, 6, bias_scale, None, reset, reset_delay)


def net_2d() -> list[LayerSpec]:
    """conv->maxpool->LIF (bias, per-channel thresholds, subtract), conv->avgpool->LIF (bias,
    per-channel leaks, zero + delay), a maxpool2d spike layer, conv->sumpool->LIF (subtract +
    delay), linear LIF with bias (zero), linear integrator with bias and per-channel leaks."""
    return [
        _conv("c0", "conv2d", (2, 8, 8), 4, (3, 3), (1, 1), (1, 1), first=True,
              pool=PoolSpec("max", (2, 2), (2, 2), (0, 0)), bias_scale=0.01,
              threshold=(0.6, 0.9, 1.2, 0.75), leak=0.9, weight_scale=0.004),
        _conv("c1", "conv2d", (4, 4, 4), 6, (3, 3), (1, 1), (1, 1),
              pool=PoolSpec("avg", (3, 3), (1, 1), (1, 1)), bias_scale=0.002,
              threshold=0.25, leak=(1.0, 0.8, 0.5, 0.95, 0.0, 0.7), weight_scale=0.03,
              reset="zero", reset_delay=True),
        _maxpool("mp", "maxpool2d", (6, 4, 4), (3, 3), (2, 2), (1, 1)),
        _conv("c2", "conv2d", (6, 2, 2), 5, (2, 2), (1, 1), (1, 1),
              pool=PoolSpec("sum", (2, 2), (1, 1), (0, 0)), threshold=(0.8, 1.0, 0.6, 1.4, 0.9),
              leak=(0.9, 1.0, 0.7, 0.85, 0.95), weight_scale=0.04, reset_delay=True),
        _linear("fc1", 20, 8, bias_scale=0.005, threshold=0.5, leak=0.8, weight_scale=0.04,
                reset="zero"),
        _linear("fc2", 8, 3, neuron="integrator", bias_scale=0.002, leak=(1.0, 0.9, 0.8),
                weight_scale=0.03),
    ]


def net_3d() -> list[LayerSpec]:
    """conv3d->avgpool3d->LIF (padding), a maxpool3d spike layer (padding), conv3d->maxpool3d
    ->LIF (padding), linear integrator."""
    return [
        _conv("a0", "conv3d", (1, 5, 6, 6), 3, (3, 3, 3), (1, 1, 1), (1, 1, 1), first=True,
              pool=PoolSpec("avg", (2, 2, 2), (2, 2, 2), (1, 0, 1)), bias_scale=0.005,
              threshold=(0.25, 0.35, 0.2), weight_scale=0.003, reset="zero"),
        _maxpool("mp3", "maxpool3d", (3, 3, 3, 4), (2, 2, 2), (1, 2, 2), (1, 1, 1)),
        _conv("a1", "conv3d", (3, 4, 2, 3), 4, (2, 1, 1), (1, 1, 1), (0, 0, 0),
              pool=PoolSpec("max", (1, 2, 2), (1, 1, 1), (0, 1, 1)), threshold=0.3,
              leak=(0.9, 0.6, 1.0, 0.8), weight_scale=0.05, reset_delay=True),
        _linear("out", 4 * 3 * 3 * 4, 3, neuron="integrator", weight_scale=0.02),
    ]


def _write(path: Path, layers, *, n=6, t=6, seed=2):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, *layers[0].in_shape)).astype(np.uint8)
    weights = {s.name: rng.integers(-31, 32, size=s.weight_shape).astype(np.int8)
               for s in layers if s.weighted}
    biases = {s.name: rng.integers(-40, 41, size=s.out_channels).astype(np.int32)
              for s in layers if s.bias_scale is not None}
    scale = 1 / 255
    spikes, preds = reference(layers, weights, biases, x, scale, t)
    meta = build_meta(dataset="toy", model="toy_v2", layers=layers, timesteps=t, num_samples=n,
                      input_bits=8, input_scale=scale, weight_bits=6,
                      provenance={"data": "synthetic", "trained": False, "command": "test"})
    save_trace(path, meta=meta, input=x, weights=weights, spikes=spikes, biases=biases,
               labels=rng.integers(0, 3, size=n), predictions=preds)
    return spikes, preds


@pytest.fixture(scope="module")
def v2_2d(tmp_path_factory):
    path = tmp_path_factory.mktemp("v2") / "net2d.npz"
    spikes, preds = _write(path, net_2d())
    return path, spikes, preds


# ----------------------------------------------------------------------------- replay


@pytest.mark.parametrize("make,seed", [(net_2d, 2), (net_3d, 1)], ids=["2d", "3d"])
def test_v2_network_replays_exactly(tmp_path, make, seed):
    layers = make()
    spikes, preds = _write(tmp_path / "t.npz", layers, seed=seed)
    tr = load_trace(tmp_path / "t.npz")
    assert tr.version == FORMAT_VERSION == 2 and tr.layers == layers
    for name, s in spikes.items():  # what was written is what is read
        np.testing.assert_array_equal(tr.spikes(name), s)
    rates = {name: float(s.mean()) for name, s in spikes.items()}
    assert all(0.02 < r < 0.98 for r in rates.values()), rates  # no silent or saturated layer
    assert len(set(preds.tolist())) > 1  # the output depends on the sample
    r = replay_trace(tr, return_predictions=True, batch=4)
    assert r["spike_agreement"] == 1.0 and r["spike_mismatches"] == 0
    assert set(r["layers"]) == {s.name for s in layers[1:]}  # maxpool layers by name
    assert all(v["agreement"] == 1.0 for v in r["layers"].values())
    assert r["predictions"] == preds.tolist() and r["prediction_agreement"] == 1.0


def test_each_v2_feature_changes_the_spikes(v2_2d, tmp_path):
    """The reference is sensitive to each feature: a trace that drops one no longer replays
    exactly (so the exact agreement above is not vacuous)."""
    tr = load_trace(v2_2d[0])
    variants = {
        "bias": lambda m: m["layers"][0].pop("bias_scale"),
        "pool kind": lambda m: m["layers"][1]["pool"].update(kind="sum"),
        "per-channel threshold": lambda m: m["layers"][0].update(threshold=0.75),
        "reset": lambda m: m["layers"][1].update(reset="subtract"),
        "reset_delay": lambda m: m["layers"][3].update(reset_delay=False),
    }
    for what, change in variants.items():
        meta = json.loads(json.dumps(tr.meta))
        change(meta)
        biases = {k: v for k, v in tr.biases.items()
                  if meta["layers"][[s.name for s in tr.layers].index(k)].get("bias_scale")}
        p = save_trace(tmp_path / "x.npz", meta=meta, input=tr.input, weights=tr.weights,
                       spikes=tr.packed_spikes, biases=biases, labels=tr.labels,
                       predictions=tr.predictions)
        assert replay_trace(load_trace(p))["spike_mismatches"] > 0, what


def test_v2_meta_without_v2_features_is_v1_plus_version(tmp_path):
    """A shipped v1 trace: every layer written back by to_meta is its stored JSON, so build_meta
    writes the v1 meta with version 2; its LayerSpecs have the v1 defaults."""
    tr = load_trace(REPO / "traces" / "salinas_surrogate.npz")
    assert tr.version == 1 and not tr.biases
    assert [s.to_meta() for s in tr.layers] == tr.meta["layers"]
    assert all(not s.v2_fields and s.weighted and s.conv_shape == s.out_shape for s in tr.layers)
    meta = build_meta(dataset="d", model="m", layers=tr.layers, timesteps=5, num_samples=1,
                      input_bits=8, input_scale=0.1, weight_bits=6, provenance={})
    assert meta["version"] == 2 and meta["layers"] == tr.meta["layers"]


def test_layerspec_helpers():
    c0, c1, mp = net_2d()[:3]
    assert c0.conv_shape == (4, 8, 8) and c0.out_shape == (4, 4, 4)
    assert c0.threshold_array().shape == (4, 1, 1) and c0.leak_array().ravel().tolist() == [0.9] * 4
    assert c1.leak_array().ravel().tolist() == [1.0, 0.8, 0.5, 0.95, 0.0, 0.7]
    assert mp.is_pool and not mp.weighted and c0.weighted and not c0.is_pool
    assert mp.conv_shape == mp.out_shape == (6, 2, 2) and mp.weight_shape == (0,)
    fc = net_2d()[4]
    assert fc.threshold_array().shape == (8,) and fc.conv_shape == fc.out_shape
    # positional construction with the 13 v1 fields keeps working, with v1 defaults
    v1 = LayerSpec("l", "linear", (4,), (2,), (), (), (), "spikes", "integrator", 1.0, 1.0, 0.1, 6)
    assert (v1.bias_scale, v1.pool, v1.reset, v1.reset_delay) == (None, None, "subtract", False)
    assert v1.to_meta() == {"name": "l", "kind": "linear", "in_shape": [4], "out_shape": [2],
                            "input": "spikes", "neuron": "integrator", "threshold": 1.0,
                            "leak": 1.0, "weight_scale": 0.1, "weight_bits": 6}
    assert mp.to_meta() == {"name": "mp", "kind": "maxpool2d", "in_shape": [6, 4, 4],
                            "out_shape": [6, 2, 2], "kernel": [3, 3], "stride": [2, 2],
                            "padding": [1, 1], "input": "spikes", "neuron": "none"}


def test_pool_layer_neutral_fields_and_biases(v2_2d):
    tr = load_trace(v2_2d[0])
    mp = tr.layer("mp")
    assert (mp.threshold, mp.leak, mp.weight_scale, mp.weight_bits) == (1.0, 1.0, 1.0, 6)
    assert "mp" not in tr.weights and "mp" in tr.packed_spikes
    assert set(tr.biases) == {"c0", "c1", "fc1", "fc2"} and tr.bias("c2") is None
    assert tr.bias("c0").dtype == np.int32 and tr.bias("c0").shape == (4,)
    assert tr.content_hash() == load_trace(v2_2d[0]).content_hash()


# ----------------------------------------------------------------------------- refusals


def _rewrite(src: Path, dst: Path, change=None, drop=(), **arrays) -> Path:
    """``src`` with ``change(meta)`` applied, members in ``drop`` removed and arrays replaced
    (``__`` for ``/`` in keys), written with np.savez_compressed (not save_trace's checks)."""
    with np.load(src, allow_pickle=False) as z:
        out = {k: z[k] for k in z.files if k not in drop}
    meta = json.loads(out["meta"].tobytes())
    if change is not None:
        change(meta)
    out.update({k.replace("__", "/"): v for k, v in arrays.items()})
    text = json.dumps(meta)
    out["meta"] = np.frombuffer(text.replace('"@@"', "NaN").encode(), np.uint8)
    np.savez_compressed(dst, **out)
    return dst


def _set(i, **fields):
    def change(meta):
        meta["layers"][i].update(fields)
    return change


def _v1(change=None):
    def wrapped(meta):
        meta["version"] = 1
        if change is not None:
            change(meta)
    return wrapped


REFUSALS = [
    # (case, change, arrays, drop, key, needles)
    ("bias_shape", None, {"bias__c0": np.zeros(5, np.int32)}, (), "bias/c0",
     ("int32 of shape (4,)",)),
    ("bias_dtype", None, {"bias__c0": np.zeros(4, np.int64)}, (), "bias/c0", ("int64",)),
    ("bias_missing", None, {}, ("bias/c0",), "bias/c0", ("missing array",)),
    ("bias_without_scale", None, {"bias__c2": np.zeros(5, np.int32)}, (), "bias/c2",
     ("has no bias_scale",)),
    ("bias_scale_zero", _set(0, bias_scale=0), {}, (), "meta.layers[0] (c0).bias_scale",
     ("finite number > 0",)),
    ("bias_scale_negative", _set(4, bias_scale=-0.5), {}, (), "meta.layers[4] (fc1).bias_scale",
     ("finite number > 0",)),
    ("bias_scale_string", _set(0, bias_scale="1"), {}, (), "meta.layers[0] (c0).bias_scale",
     ("finite number > 0",)),
    ("pool_on_linear", _set(4, pool={"kind": "max", "kernel": [2], "stride": [2],
                                     "padding": [0]}), {}, (), "meta.layers[4] (fc1).pool",
     ("conv layers only",)),
    ("pool_out_shape", _set(0, out_shape=[4, 8, 8]), {}, (), "meta.layers[0] (c0).out_shape",
     ("convolution's [8, 8]", "expected [4, 4]")),
    ("pool_kernel_rank", lambda m: m["layers"][1]["pool"].update(kernel=[3, 3, 3]), {}, (),
     "meta.layers[1] (c1).pool.kernel", ("2 integers",)),
    ("pool_padding_over_half", lambda m: m["layers"][3]["pool"].update(padding=[2, 2]), {}, (),
     "meta.layers[3] (c2).pool.padding", ("half the kernel",)),
    ("pool_kind", lambda m: m["layers"][1]["pool"].update(kind="median"), {}, (),
     "meta.layers[1] (c1).pool.kind", ("max, avg, sum",)),
    ("pool_not_object", _set(1, pool=[3, 3]), {}, (), "meta.layers[1] (c1).pool",
     ("expected an object",)),
    ("pool_kernel_over_map", lambda m: m["layers"][1]["pool"].update(kernel=[5, 5],
                                                                     padding=[2, 2]), {}, (),
     "meta.layers[1] (c1).pool.kernel", ("exceeds the pooled map's spatial dims [4, 4]",)),
    ("pool_conv_empty", _set(3, kernel=[4, 4], padding=[0, 0]), {}, (),
     "meta.layers[3] (c2).kernel", ("is empty",)),
    ("pre_pool_map_too_large", lambda m: (m["layers"][0].update(padding=[2**20, 2**20]),
                                          m["layers"][0]["pool"].update(stride=[2**19 + 2] * 2)),
     {}, (), "meta", ("pre-pool conv shape of c0, [4, 2097158, 2097158]", "at most")),
    ("threshold_list_length", _set(0, threshold=[1.0, 1.0]), {}, (),
     "meta.layers[0] (c0).threshold", ("2 numbers", "4 output channels")),
    ("leak_list_length", _set(1, leak=[1.0] * 7), {}, (), "meta.layers[1] (c1).leak",
     ("7 numbers", "6 output channels")),
    ("threshold_list_nan", _set(0, threshold=[1.0, "@@", 1.0, 1.0]), {}, (),
     "meta.layers[0].threshold[1]", ("NaN is not a JSON number",)),
    ("threshold_list_negative", _set(0, threshold=[1.0, 1.0, -2.0, 1.0]), {}, (),
     "meta.layers[0] (c0).threshold[2]", ("finite number > 0", "-2.0")),
    ("leak_list_above_1", _set(3, leak=[1.0, 1.0, 1.0, 1.0, 1.5]), {}, (),
     "meta.layers[3] (c2).leak[4]", ("[0, 1]",)),
    ("threshold_list_string", _set(0, threshold=[1.0, "a", 1.0, 1.0]), {}, (),
     "meta.layers[0] (c0).threshold[1]", ("expected a number",)),
    ("reset_unknown", _set(1, reset="hard"), {}, (), "meta.layers[1] (c1).reset",
     ("subtract, zero", "'hard'")),
    ("reset_delay_not_bool", _set(1, reset_delay=1), {}, (), "meta.layers[1] (c1).reset_delay",
     ("true or false",)),
    ("maxpool_channels", _set(2, out_shape=[5, 2, 2]), {}, (), "meta.layers[2] (mp).out_shape",
     ("keeps its input's 6",)),
    ("maxpool_neuron", _set(2, neuron="lif"), {}, (), "meta.layers[2] (mp).neuron",
     ("expected 'none'",)),
    ("maxpool_geometry", _set(2, stride=[1, 1]), {}, (), "meta.layers[2] (mp).out_shape",
     ("do not follow",)),
    ("maxpool_padding", _set(2, padding=[2, 2]), {}, (), "meta.layers[2] (mp).padding",
     ("half the kernel",)),
    ("maxpool_kernel_over_map", _set(2, kernel=[5, 5], padding=[2, 2]), {}, (),
     "meta.layers[2] (mp).kernel", ("exceeds the pooled map",)),
    ("maxpool_with_bias", _set(2, bias_scale=0.1), {}, (), "meta.layers[2] (mp).bias_scale",
     ("no weights",)),
    ("maxpool_last", lambda m: m["layers"].__setitem__(slice(3, None), []), {}, (),
     "meta.layers[2] (mp).kind", ("cannot end the network",)),
    ("version_3", lambda m: m.update(version=3), {}, (), "meta.version", ("expected 1 or 2",)),
]

V1_REFUSALS = [
    # (case, change, arrays, key, needles): the small v1 trace below with one v2 field
    ("v1_bias_scale", _set(0, bias_scale=0.1), {}, "meta.layers[0] (c0).bias_scale",
     ("is trace format v2", "version is 1")),
    ("v1_reset", _set(0, reset="subtract"), {}, "meta.layers[0] (c0).reset", ("format v2",)),
    ("v1_reset_delay", _set(0, reset_delay=False), {}, "meta.layers[0] (c0).reset_delay",
     ("format v2",)),
    ("v1_pool", _set(0, pool=None), {}, "meta.layers[0] (c0).pool", ("format v2",)),
    ("v1_threshold_list", _set(0, threshold=[1.0, 1.0]), {}, "meta.layers[0] (c0).threshold",
     ("per-channel list is trace format v2",)),
    ("v1_maxpool", _set(1, kind="maxpool2d"), {}, "meta.layers[1] (fc).kind",
     ("maxpool2d is trace format v2",)),
    ("v1_bias_array", None, {"bias__c0": np.zeros(2, np.int32)}, "bias/c0",
     ("a bias array is trace format v2",)),
]


def assert_one_line(exc: pytest.ExceptionInfo, path: Path, key: str, needles) -> None:
    line = str(exc.value)
    assert "\n" not in line and line.startswith(f"{path}: {key}"), line
    assert exc.value.key.startswith(key.split(": ")[0]), (exc.value.key, key)
    for needle in needles:
        assert needle in line, line


@pytest.mark.parametrize("case,change,arrays,drop,key,needles", REFUSALS,
                         ids=[c[0] for c in REFUSALS])
def test_reader_refuses(v2_2d, tmp_path, case, change, arrays, drop, key, needles):
    p = _rewrite(v2_2d[0], tmp_path / f"{case}.npz", change, drop, **arrays)
    with pytest.raises(TraceError) as exc:
        load_trace(p)
    assert_one_line(exc, p, key, needles)


@pytest.fixture(scope="module")
def v1_small(tmp_path_factory):
    """A small v1 trace (conv2d -> linear), written as a v1 writer would."""
    path = tmp_path_factory.mktemp("v1") / "v1.npz"
    layers = [_conv("c0", "conv2d", (1, 4, 4), 2, (3, 3), (1, 1), (0, 0), first=True),
              _linear("fc", 8, 3, neuron="integrator")]
    _write(path, layers, n=2, t=2)
    return _rewrite(path, path.with_name("v1_only.npz"), _v1())


def test_v1_trace_still_loads_and_replays(v1_small):
    tr = load_trace(v1_small)
    assert tr.version == 1 and not tr.biases
    assert replay_trace(tr)["spike_agreement"] == 1.0


@pytest.mark.parametrize("case,change,arrays,key,needles", V1_REFUSALS,
                         ids=[c[0] for c in V1_REFUSALS])
def test_v1_trace_with_a_v2_field_is_refused(v1_small, tmp_path, case, change, arrays, key,
                                             needles):
    p = _rewrite(v1_small, tmp_path / f"{case}.npz", change, (), **arrays)
    with pytest.raises(TraceError) as exc:
        load_trace(p)
    assert_one_line(exc, p, key, needles)


def test_writer_refuses_what_the_reader_refuses(v2_2d, tmp_path):
    tr = load_trace(v2_2d[0])
    kwargs = {"input": tr.input, "weights": tr.weights, "spikes": tr.packed_spikes,
              "labels": tr.labels, "predictions": tr.predictions}
    bad_nan = [net_2d()[0].__class__(**{**net_2d()[0].__dict__,
                                        "threshold": (1.0, math.nan, 1.0, 1.0)}),
               *net_2d()[1:]]
    meta = build_meta(dataset="d", model="m", layers=bad_nan, timesteps=tr.timesteps,
                      num_samples=tr.num_samples, input_bits=8, input_scale=tr.input_scale,
                      weight_bits=6, provenance={})
    with pytest.raises(TraceError, match=r"layers\[0\] \(c0\)\.threshold\[1\]: expected a finite"):
        save_trace(tmp_path / "x.npz", meta=meta, biases=tr.biases, **kwargs)
    with pytest.raises(TraceError, match="bias/c0: expected int32"):
        save_trace(tmp_path / "x.npz", meta=tr.meta, biases={**tr.biases,
                                                              "c0": tr.bias("c0").astype(float)},
                   **kwargs)
    with pytest.raises(TraceError, match="bias/c1: missing array"):
        save_trace(tmp_path / "x.npz", meta=tr.meta,
                   biases={k: v for k, v in tr.biases.items() if k != "c1"}, **kwargs)
    assert not (tmp_path / "x.npz").exists()


def test_first_layer_hook_takes_the_pre_pool_current(v2_2d):
    """The hook replaces layer 0's synaptic current (N, *conv_shape); bias and pool follow."""
    from pimsim.replay import integer_current

    tr = load_trace(v2_2d[0])
    c0 = tr.layers[0]
    exact = integer_current(c0, tr.input, tr.weights["c0"], events=False)
    assert exact.shape == (tr.num_samples, *c0.conv_shape)
    cur = exact.astype(np.float64) * (c0.weight_scale * tr.input_scale)
    assert replay_trace(tr, first_layer_current=cur)["spike_agreement"] == 1.0
    tv = np.repeat(cur[:, None], tr.timesteps, axis=1)
    assert replay_trace(tr, first_layer_current=tv)["spike_agreement"] == 1.0
    with pytest.raises(TraceError, match=r"expected \(N, 4, 8, 8\)"):
        replay_trace(tr, first_layer_current=cur[:, :, :4, :4])


def test_trace_info_prints_v2_fields(v2_2d, monkeypatch, capsys):
    import sys

    from pimsim import cli

    monkeypatch.setattr(sys, "argv", ["pimsim", "trace", "info", str(v2_2d[0])])
    cli.main()
    out = capsys.readouterr().out
    assert "th=[0.6..1.2] (4 ch) leak=0.9 bias(scale 0.01) pool=max k[2, 2]" in out
    assert "of [4, 8, 8]" in out and "leak=[0..1] (6 ch)" in out
    assert "reset=zero delayed" in out and "reset=subtract delayed" in out
    assert "mp         maxpool2d [6, 4, 4] -> [6, 2, 2] k[3, 3] s[2, 2] p[1, 1] in=spikes OR" in out
