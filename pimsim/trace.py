"""Trace format v2 (docs/trace-format.md): read, validate and write spike traces.

A trace is a ``np.savez_compressed`` archive holding the network (integer weights and biases,
thresholds, leaks, scales, pooling, reset modes), the first layer's quantized analog input,
the bit-packed input spikes of every spiking layer, labels and predictions. The reader reads
versions 1 and 2 (v1 is v2 without biases, pooling, per-channel values and reset options);
the writers write version 2. The reader opens the zip itself, never unpickles, and
reads in bounded memory: the metadata first (at most :data:`MAX_META_BYTES`), then every
member's ``.npy`` header, which must declare exactly the dtype and shape the metadata implies
(at most :data:`MAX_TRACE_BYTES` in all), before any array data is inflated. It collects every
problem it finds and reports the first one as a one-line :class:`~pimsim.errors.TraceError`
naming the file and key.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tokenize
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pimsim.atomic import atomic_open
from pimsim.errors import TraceError
from pimsim.provenance import DATA_KINDS, Origin, trace_origin

FORMAT_NAME = "pimsim-trace"
#: The version pimsim's writers write; the reader reads every version in READ_VERSIONS.
FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)
#: Layers with weights and a neuron.
WEIGHTED_KINDS = ("conv3d", "conv2d", "linear")
#: Max-pooling layers of spikes (format v2): no weights, no neuron.
POOL_KINDS = ("maxpool2d", "maxpool3d")
LAYER_KINDS = WEIGHTED_KINDS + POOL_KINDS
SPATIAL_DIMS = {"conv3d": 3, "conv2d": 2, "linear": 0, "maxpool3d": 3, "maxpool2d": 2}
#: Pooling of a conv layer's synaptic current (format v2, ``LayerSpec.pool``).
POOL_MODES = ("max", "avg", "sum")
#: LIF reset mechanisms (format v2, ``LayerSpec.reset``).
RESET_MODES = ("subtract", "zero")

# Limits of the reader (docs/trace-format.md §7.1). Each is checked, in Python integers, before
# anything it bounds is read or allocated.
#: Bytes of the ``meta`` member's JSON text.
MAX_META_BYTES = 16 * 2**20
#: Bytes of all the arrays the metadata declares (input, weights, spikes, labels, predictions).
MAX_TRACE_BYTES = 8 * 2**30
#: ``num_samples``, ``timesteps`` and every entry of a shape, kernel, stride or padding.
MAX_COUNT = 2**31 - 1
#: Members of the zip archive, and bytes of its central directory.
MAX_MEMBERS = 4096
MAX_DIRECTORY_BYTES = 2**20
#: Nesting of JSON arrays and objects in ``meta``; digits of a JSON integer; characters of a
#: JSON real (NaN and Infinity, which are not JSON, are refused).
MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 30
MAX_REAL_CHARS = 100
#: numpy's own bound on a ``.npy`` header (``numpy.lib.format`` ``max_header_size``).
_NPY_HEADER_MAX = 10000
#: Bytes inflated per read while filling an array.
_CHUNK = 2**20
#: What reading a corrupt zip or ``.npy`` member can raise (zipfile, zlib, numpy's header
#: parser, which falls back on tokenize and ast); the reader turns each into a TraceError.
READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, TypeError, KeyError,
    IndexError, NotImplementedError, RuntimeError, struct.error, OverflowError, SyntaxError,
    tokenize.TokenError)
_META_REQUIRED = {
    "format": str,
    "version": int,
    "dataset": str,
    "model": str,
    "timesteps": int,
    "num_samples": int,
    "input_bits": int,
    "input_scale": (int, float),
    "weight_bits": int,
    "provenance": dict,
    "layers": list,
}
_LAYER_REQUIRED = {
    "name": str,
    "kind": str,
    "in_shape": list,
    "out_shape": list,
    "input": str,
    "neuron": str,
}
#: The fields of a weighted layer (conv, linear) beyond _LAYER_REQUIRED; threshold and leak,
#: a number or a per-channel list, are checked by _channel_values.
_NEURON_REQUIRED = {
    "threshold": None,
    "leak": None,
    "weight_scale": (int, float),
    "weight_bits": int,
}


def conv_out_size(n_in: int, k: int, s: int, p: int) -> int:
    """Output length of a convolution along one dim: floor((n + 2p - k) / s) + 1."""
    return (n_in + 2 * p - k) // s + 1


@dataclass(frozen=True)
class PoolSpec:
    """Pooling of a conv layer's synaptic current before its neuron (trace format v2).

    ``kind``: ``"max"`` (padding ignored), ``"sum"`` (padding counts 0) or ``"avg"`` (the sum
    divided by ``prod(kernel)``, PyTorch's ``count_include_pad=True``). ``kernel``, ``stride``
    and ``padding`` hold one entry per spatial dim of the layer (2 for conv2d, 3 for conv3d).
    """

    kind: str
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]

    @property
    def window(self) -> int:
        """Elements of one pooling window: prod(kernel)."""
        return math.prod(self.kernel)

    def out_spatial(self, spatial: tuple[int, ...]) -> tuple[int, ...]:
        """Pooled spatial dims of a map with spatial dims ``spatial``."""
        return tuple(conv_out_size(n, k, s, p) for n, k, s, p in
                     zip(spatial, self.kernel, self.stride, self.padding, strict=True))

    def to_meta(self) -> dict[str, Any]:
        return {"kind": self.kind, "kernel": list(self.kernel), "stride": list(self.stride),
                "padding": list(self.padding)}


def _per_channel(value: float | tuple[float, ...], spec: LayerSpec) -> np.ndarray:
    """A scalar or per-channel value as float64 (out_channels, 1, ...) over out_shape."""
    c = spec.out_channels
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (c,)).copy()
    return arr.reshape((c,) + (1,) * (len(spec.out_shape) - 1))


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a trace, in execution order.

    Shapes are per sample, channels first: (C, D, H, W) for conv3d and maxpool3d, (C, H, W)
    for conv2d and maxpool2d, (F,) for linear. ``kernel``, ``stride`` and ``padding`` hold
    one entry per spatial dim and are empty for linear layers; for a maxpool layer they are
    its pooling window's.

    Trace format v2 fields (each default is v1's behaviour): ``bias_scale`` (the layer has a
    bias ``bias/<name>`` iff not None; real bias = ``bias * bias_scale``), ``pool`` (pooling
    of the synaptic current before the neuron, conv layers only: then ``out_shape`` is the
    pooled shape and :attr:`conv_shape` the convolution's), ``reset`` (``"subtract"`` or
    ``"zero"``) and ``reset_delay`` (reset with the previous step's spike, snnTorch's
    default). ``threshold`` and ``leak`` are a float or a tuple of one float per output
    channel. A maxpool layer (:attr:`is_pool`) has no weights and no neuron (``neuron``
    ``"none"``); its threshold, leak and weight_scale are the neutral 1.0.
    """

    name: str
    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    input: str
    neuron: str
    threshold: float | tuple[float, ...]
    leak: float | tuple[float, ...]
    weight_scale: float
    weight_bits: int
    bias_scale: float | None = None
    pool: PoolSpec | None = None
    reset: str = "subtract"
    reset_delay: bool = False

    @property
    def in_channels(self) -> int:
        return self.in_shape[0]

    @property
    def out_channels(self) -> int:
        return self.out_shape[0]

    @property
    def in_size(self) -> int:
        return math.prod(self.in_shape)

    @property
    def out_size(self) -> int:
        return math.prod(self.out_shape)

    @property
    def out_positions(self) -> int:
        """Output positions per channel after pooling (1 for linear layers)."""
        return math.prod(self.out_shape[1:]) if self.kind != "linear" else 1

    @property
    def is_pool(self) -> bool:
        """True for a max-pooling layer of spikes (``maxpool2d``, ``maxpool3d``)."""
        return self.kind in POOL_KINDS

    @property
    def weighted(self) -> bool:
        """True for a layer with weights and a neuron (conv3d, conv2d, linear)."""
        return not self.is_pool

    @property
    def has_bias(self) -> bool:
        return self.bias_scale is not None

    @property
    def conv_shape(self) -> tuple[int, ...]:
        """The synaptic output shape before pooling, (out_channels, *conv spatial dims), from
        in_shape, kernel, stride and padding; ``out_shape`` when the layer has no ``pool``
        (for a maxpool layer, its output shape; for linear, out_shape)."""
        if self.pool is None or self.kind == "linear":
            return self.out_shape
        return (self.out_shape[0], *(conv_out_size(n, k, s, p) for n, k, s, p in zip(
            self.in_shape[1:], self.kernel, self.stride, self.padding, strict=True)))

    @property
    def conv_positions(self) -> int:
        """Synaptic output positions per channel before pooling (1 for linear layers)."""
        return math.prod(self.conv_shape[1:]) if self.kind != "linear" else 1

    @property
    def fan_in(self) -> int:
        """Synapses per output neuron ignoring borders: C_in x prod(kernel), or F_in (for a
        maxpool layer, the inputs of one window: prod(kernel))."""
        if self.kind == "linear":
            return self.in_shape[0]
        if self.is_pool:
            return math.prod(self.kernel)
        return self.in_shape[0] * math.prod(self.kernel)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """(out, in, *kernel) or (out, in); ``(0,)`` for a maxpool layer (no weights)."""
        if self.is_pool:
            return (0,)
        if self.kind == "linear":
            return (self.out_shape[0], self.in_shape[0])
        return (self.out_shape[0], self.in_shape[0], *self.kernel)

    @property
    def per_channel(self) -> bool:
        """True when threshold or leak is a per-channel tuple."""
        return isinstance(self.threshold, tuple) or isinstance(self.leak, tuple)

    def threshold_array(self) -> np.ndarray:
        """Thresholds as float64 (out_channels, 1, ...), broadcastable over out_shape."""
        return _per_channel(self.threshold, self)

    def leak_array(self) -> np.ndarray:
        """Leaks as float64 (out_channels, 1, ...), broadcastable over out_shape."""
        return _per_channel(self.leak, self)

    @property
    def v2_fields(self) -> tuple[str, ...]:
        """The trace format v2 features this layer uses (empty: a v1 layer)."""
        used = []
        if self.is_pool:
            used.append("kind")
        if self.bias_scale is not None:
            used.append("bias_scale")
        if self.pool is not None:
            used.append("pool")
        if self.reset != "subtract":
            used.append("reset")
        if self.reset_delay:
            used.append("reset_delay")
        for key in ("threshold", "leak"):
            if isinstance(getattr(self, key), tuple):
                used.append(key)
        return tuple(used)

    def to_meta(self) -> dict[str, Any]:
        """The layer's object in ``meta.layers``: the v1 fields, and each v2 field only where
        it differs from its default (so a layer without v2 features is a v1 layer)."""
        d: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "in_shape": list(self.in_shape),
            "out_shape": list(self.out_shape),
        }
        if self.kind != "linear":
            d.update(kernel=list(self.kernel), stride=list(self.stride), padding=list(self.padding))
        d.update(input=self.input, neuron=self.neuron)
        if self.is_pool:
            return d
        d.update(
            threshold=_meta_number(self.threshold),
            leak=_meta_number(self.leak),
            weight_scale=float(self.weight_scale),
            weight_bits=int(self.weight_bits),
        )
        if self.bias_scale is not None:
            d["bias_scale"] = float(self.bias_scale)
        if self.pool is not None:
            d["pool"] = self.pool.to_meta()
        if self.reset != "subtract":
            d["reset"] = self.reset
        if self.reset_delay:
            d["reset_delay"] = bool(self.reset_delay)
        return d


def _meta_number(value: float | tuple[float, ...]) -> float | list[float]:
    if isinstance(value, tuple):
        return [float(v) for v in value]
    return float(value)


@dataclass(eq=False)
class Trace:
    """An in-memory trace: metadata, layers and arrays (spikes kept bit-packed)."""

    meta: dict[str, Any]
    layers: list[LayerSpec]
    input: np.ndarray
    weights: dict[str, np.ndarray]
    packed_spikes: dict[str, np.ndarray]
    labels: np.ndarray
    predictions: np.ndarray
    path: str | None = None
    _unpacked: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    #: ``bias/<layer>`` arrays (int32, (out_channels,)) of the layers with a bias (format v2).
    biases: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def version(self) -> int:
        """The trace format version the trace declares (1 or 2)."""
        return int(self.meta.get("version", FORMAT_VERSION))

    def bias(self, name: str) -> np.ndarray | None:
        """The integer bias of layer ``name`` (int32, (out_channels,)), None without one."""
        return self.biases.get(name)

    @property
    def timesteps(self) -> int:
        return int(self.meta["timesteps"])

    @property
    def num_samples(self) -> int:
        return int(self.meta["num_samples"])

    @property
    def input_bits(self) -> int:
        return int(self.meta["input_bits"])

    @property
    def input_scale(self) -> float:
        return float(self.meta["input_scale"])

    @property
    def provenance(self) -> dict[str, Any]:
        return self.meta.get("provenance", {})

    @property
    def origin(self) -> Origin:
        """What the spikes come from (``provenance.data`` / ``trained``; pimsim.provenance)."""
        return trace_origin(self.meta)

    @property
    def is_synthetic(self) -> bool:
        """True when the spikes are not produced by a trained network (random spikes)."""
        return not self.origin.trained

    def layer(self, name: str) -> LayerSpec:
        for spec in self.layers:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def spikes(self, name: str, cache: bool = True) -> np.ndarray:
        """Unpacked input spikes of a spiking layer: bool array (N, T, *in_shape)."""
        if name in self._unpacked:
            return self._unpacked[name]
        spec = self.layer(name)
        shape = (self.num_samples, self.timesteps, *spec.in_shape)
        count = math.prod(shape)
        bits = np.unpackbits(self.packed_spikes[name], count=count, bitorder="little")
        arr = bits.view(bool).reshape(shape)
        if cache:
            self._unpacked[name] = arr
        return arr

    def content_hash(self) -> str:
        """SHA-256 over the meta and every array, for cache keys."""
        import hashlib

        h = hashlib.sha256()
        h.update(json.dumps(self.meta, sort_keys=True).encode())
        for arr in (self.input, self.labels, self.predictions):
            h.update(np.ascontiguousarray(arr).tobytes())
        for key in sorted(self.weights):
            h.update(key.encode())
            h.update(np.ascontiguousarray(self.weights[key]).tobytes())
        for key in sorted(self.packed_spikes):
            h.update(key.encode())
            h.update(np.ascontiguousarray(self.packed_spikes[key]).tobytes())
        for key in sorted(self.biases):  # none in a v1 trace: its hash is unchanged
            h.update(f"bias/{key}".encode())
            h.update(np.ascontiguousarray(self.biases[key]).tobytes())
        return h.hexdigest()


# ----------------------------------------------------------------------------- validation


def _printable(text: str, limit: int = 200) -> str:
    """``text`` with control characters escaped and cut to ``limit`` characters (for keys)."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: limit + 1])
    return out if len(out) <= limit else out[: limit - 3] + "..."


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (for values quoted in a message)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Problems:
    """Collects validation problems; raises the first as a TraceError (all listed in .all)."""

    def __init__(self, file: str):
        self.file = file
        self.items: list[tuple[str, str]] = []

    def add(self, key: str, message: str) -> None:
        self.items.append((_printable(key), message))

    def raise_if_any(self) -> None:
        if self.items:
            key, message = self.items[0]
            more = f" (and {len(self.items) - 1} more problem(s))" if len(self.items) > 1 else ""
            err = TraceError(message + more, file=self.file, key=key)
            err.all = list(self.items)  # type: ignore[attr-defined]
            raise err


def _is_int_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)


def _check_type(value: Any, expected: Any) -> bool:
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(expected, tuple) and int in expected:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, expected)


def _as_float(value: float) -> float:
    """``float(value)``; an integer too large for a float is infinite."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _counts_ok(v: list[int], minimum: int) -> bool:
    """Every entry in [minimum, MAX_COUNT]."""
    return all(minimum <= x <= MAX_COUNT for x in v)


def _v2_only(version: Any) -> str:
    return (f"is trace format v2, but meta.version is {_short(version)} (a v2 field needs "
            "version 2)")


def _channel_values(raw: dict[str, Any], key: str, where: str, channels: int, version: Any,
                    problems: Problems) -> list[float] | None:
    """A threshold or leak: a number, or (format v2) a list of one number per output channel.
    Returns the values as floats (one for a number), None after a problem."""
    value = raw[key]
    if _check_type(value, (int, float)):
        return [_as_float(value)]
    if not isinstance(value, list):
        problems.add(f"{where}.{key}", "expected a number, or a list of one number per output "
                     "channel")
        return None
    if version == 1:
        problems.add(f"{where}.{key}", f"a per-channel list {_v2_only(version)}")
        return None
    if len(value) != channels:
        problems.add(f"{where}.{key}", f"a per-channel list of {len(value)} numbers; the layer "
                     f"has {channels} output channels")
        return None
    out: list[float] = []
    for j, v in enumerate(value):
        if not _check_type(v, (int, float)):
            problems.add(f"{where}.{key}[{j}]", f"expected a number, got {_short(v)}")
            return None
        out.append(_as_float(v))
    return out


def _check_values_of(raw: dict[str, Any], where: str, thresholds: list[float],
                     leaks: list[float], problems: Problems) -> None:
    """The value rules of a layer's numbers (docs/trace-format.md §4); ``thresholds`` and
    ``leaks`` hold one value (a number) or one per channel (a list, keys ``[j]``)."""
    listed = isinstance(raw["threshold"], list)
    for j, threshold in enumerate(thresholds):
        if not (math.isfinite(threshold) and threshold > 0):
            key, value = ((f"threshold[{j}]", raw["threshold"][j]) if listed
                          else ("threshold", raw["threshold"]))
            problems.add(f"{where}.{key}", f"expected a finite number > 0, got {_short(value)}")
            break
    listed = isinstance(raw["leak"], list)
    for j, leak in enumerate(leaks):
        if not (math.isfinite(leak) and 0 <= leak <= 1):
            key, value = (f"leak[{j}]", raw["leak"][j]) if listed else ("leak", raw["leak"])
            problems.add(f"{where}.{key}",
                         f"expected a finite number in [0, 1], got {_short(value)} (the membrane "
                         "is multiplied by the leak at every step: above 1 it would grow)")
            break
    scale = _as_float(raw["weight_scale"])
    if not (math.isfinite(scale) and scale > 0):
        problems.add(f"{where}.weight_scale",
                     f"expected a finite number > 0, got {_short(raw['weight_scale'])}")
    if not 2 <= raw["weight_bits"] <= 16:
        problems.add(f"{where}.weight_bits", "expected an integer in [2, 16]")


def _geometry(raw: dict[str, Any], where: str, nsp: int, what: str, problems: Problems, *,
              pooled: list[int] | None = None) -> tuple[list[int], list[int], list[int]] | None:
    """``kernel``, ``stride``, ``padding`` of ``raw`` (a conv or pool window): ``nsp`` integers
    each, kernel and stride >= 1, padding >= 0; for a pool of the map of spatial dims
    ``pooled``, padding at most half the kernel and the kernel at most the map."""
    ok = True
    for key, minimum in (("kernel", 1), ("stride", 1), ("padding", 0)):
        val = raw.get(key)
        if not _is_int_list(val) or len(val) != nsp or not _counts_ok(val, minimum):
            problems.add(f"{where}.{key}",
                         f"expected {nsp} integers in [{minimum}, {MAX_COUNT}] for {what}")
            ok = False
    if not ok:
        return None
    kernel, stride, padding = raw["kernel"], raw["stride"], raw["padding"]
    if pooled is not None and any(2 * p > k for k, p in zip(kernel, padding, strict=True)):
        problems.add(f"{where}.padding", f"{padding} exceeds half the kernel {kernel} (a pooling "
                     "window must hold at least one input, as PyTorch requires)")
        return None
    if pooled is not None and any(k > n for k, n in zip(kernel, pooled, strict=True)):
        problems.add(f"{where}.kernel", f"{kernel} exceeds the pooled map's spatial dims "
                     f"{pooled} (a pooling window fits in its input)")
        return None
    return kernel, stride, padding


def _out_spatial(n: list[int], kernel: list[int], stride: list[int],
                 padding: list[int]) -> list[int]:
    return [conv_out_size(a, k, s, p) for a, k, s, p in zip(n, kernel, stride, padding,
                                                           strict=True)]


def _parse_pool(raw: dict[str, Any], where: str, kind: str, version: Any, conv: list[int],
                problems: Problems) -> PoolSpec | None:
    """The ``pool`` object of a weighted layer (None when absent or after a problem)."""
    value = raw.get("pool")
    if "pool" not in raw or (value is None and version != 1):
        return None
    key = f"{where}.pool"
    if version == 1:
        problems.add(key, _v2_only(version))
        return None
    if kind == "linear":
        problems.add(key, "pooling applies to conv layers only (conv2d: 2-D, conv3d: 3-D), not "
                     "to a linear layer")
        return None
    if not isinstance(value, dict):
        problems.add(key, "expected an object with kind, kernel, stride and padding")
        return None
    if value.get("kind") not in POOL_MODES:
        problems.add(f"{key}.kind", f"expected one of {', '.join(POOL_MODES)}, got "
                     f"{_short(value.get('kind'))}")
        return None
    geo = _geometry(value, key, SPATIAL_DIMS[kind], f"the pool of a {kind} layer", problems,
                    pooled=conv)
    if geo is None:
        return None
    return PoolSpec(value["kind"], *(tuple(g) for g in geo))


def _parse_neuron_v2(raw: dict[str, Any], where: str, version: Any,
                     problems: Problems) -> tuple[float | None, str, bool]:
    """``bias_scale``, ``reset`` and ``reset_delay`` of a weighted layer (their defaults when
    absent)."""
    present = [key for key in ("bias_scale", "reset", "reset_delay") if key in raw]
    if version == 1:
        for key in present:
            problems.add(f"{where}.{key}", _v2_only(version))
        return None, "subtract", False
    bias_scale = raw.get("bias_scale")
    if bias_scale is not None:
        value = _as_float(bias_scale) if _check_type(bias_scale, (int, float)) else math.nan
        if not (math.isfinite(value) and value > 0):
            problems.add(f"{where}.bias_scale", f"expected a finite number > 0 (or null: no "
                         f"bias), got {_short(bias_scale)}")
        bias_scale = value
    reset = raw.get("reset", "subtract")
    if reset not in RESET_MODES:
        problems.add(f"{where}.reset", f"expected one of {', '.join(RESET_MODES)}, got "
                     f"{_short(reset)}")
    delay = raw.get("reset_delay", False)
    if not isinstance(delay, bool):
        problems.add(f"{where}.reset_delay", f"expected true or false, got {_short(delay)}")
    return bias_scale, reset, delay is True


def _parse_layer(raw: dict[str, Any], where: str, version: Any, weight_bits: int,
                 problems: Problems) -> LayerSpec | None:
    """One layer object whose common fields have their types (None after a problem)."""
    name, kind = raw["name"], raw["kind"]
    if kind not in LAYER_KINDS:
        problems.add(f"{where}.kind", f"expected one of {', '.join(LAYER_KINDS)}, got "
                     f"{_short(kind)}")
        return None
    is_pool = kind in POOL_KINDS
    if is_pool and version == 1:
        problems.add(f"{where}.kind", f"{kind} {_v2_only(version)}")
        return None
    if not is_pool:
        ok = True
        for key, typ in _NEURON_REQUIRED.items():
            if key not in raw:
                problems.add(f"{where}.{key}", "missing")
                ok = False
            elif typ is not None and not _check_type(raw[key], typ):
                problems.add(f"{where}.{key}", f"expected {getattr(typ, '__name__', 'a number')}")
                ok = False
        if not ok:
            return None
    nsp = SPATIAL_DIMS[kind]
    in_shape, out_shape = raw["in_shape"], raw["out_shape"]
    shape_ok = True
    for key, shape in (("in_shape", in_shape), ("out_shape", out_shape)):
        if not _is_int_list(shape) or len(shape) != nsp + 1 or not _counts_ok(shape, 1):
            problems.add(f"{where}.{key}", f"expected {nsp + 1} integers in [1, {MAX_COUNT}] "
                         f"for {kind}")
            shape_ok = False
    if not shape_ok:
        return None
    kernel: list[int] = []
    stride: list[int] = []
    padding: list[int] = []
    pool = None
    if nsp:
        geo = _geometry(raw, where, nsp, kind, problems,
                        pooled=in_shape[1:] if is_pool else None)
        if geo is None:
            return None
        kernel, stride, padding = geo
        expect = _out_spatial(in_shape[1:], kernel, stride, padding)
        if not is_pool and raw.get("pool") is not None and min(expect) < 1:
            problems.add(f"{where}.kernel", f"the convolution's output {expect} is empty "
                         "(kernel larger than the padded input)")
            return None
        pool = None if is_pool else _parse_pool(raw, where, kind, version, expect, problems)
        if pool is not None:
            conv = expect
            expect = list(pool.out_spatial(tuple(conv)))
            if expect != out_shape[1:]:
                problems.add(f"{where}.out_shape", f"spatial dims {out_shape[1:]} do not follow "
                             f"from the convolution's {conv} and the pool's kernel, stride and "
                             f"padding (expected {expect})")
        elif expect != out_shape[1:]:
            problems.add(f"{where}.out_shape", f"spatial dims {out_shape[1:]} do not follow from "
                         f"in_shape, kernel, stride and padding (expected {expect})")
    elif "pool" in raw:
        _parse_pool(raw, where, kind, version, [], problems)
    if is_pool:
        return _pool_layer(raw, where, weight_bits, problems)
    if raw["input"] not in ("analog", "spikes"):
        problems.add(f"{where}.input", "expected 'analog' or 'spikes'")
    if raw["neuron"] not in ("lif", "integrator"):
        problems.add(f"{where}.neuron", "expected 'lif' or 'integrator'")
    thresholds = _channel_values(raw, "threshold", where, out_shape[0], version, problems)
    leaks = _channel_values(raw, "leak", where, out_shape[0], version, problems)
    if thresholds is None or leaks is None:
        return None
    _check_values_of(raw, where, thresholds, leaks, problems)
    bias_scale, reset, reset_delay = _parse_neuron_v2(raw, where, version, problems)
    return LayerSpec(
        name=name, kind=kind, in_shape=tuple(in_shape), out_shape=tuple(out_shape),
        kernel=tuple(kernel), stride=tuple(stride), padding=tuple(padding),
        input=raw["input"], neuron=raw["neuron"],
        threshold=tuple(thresholds) if isinstance(raw["threshold"], list) else thresholds[0],
        leak=tuple(leaks) if isinstance(raw["leak"], list) else leaks[0],
        weight_scale=_as_float(raw["weight_scale"]), weight_bits=int(raw["weight_bits"]),
        bias_scale=bias_scale, pool=pool, reset=reset, reset_delay=reset_delay)


def _pool_layer(raw: dict[str, Any], where: str, weight_bits: int,
                problems: Problems) -> LayerSpec | None:
    """A maxpool layer of spikes whose geometry passed; its neutral neuron fields filled."""
    kind = raw["kind"]
    if raw["in_shape"][0] != raw["out_shape"][0]:
        problems.add(f"{where}.out_shape", f"{raw['out_shape'][0]} channels, but a {kind} "
                     f"layer keeps its input's {raw['in_shape'][0]} (it pools each channel)")
    if raw["input"] != "spikes":
        problems.add(f"{where}.input", f"a {kind} layer pools spikes: expected 'spikes'")
    if raw["neuron"] != "none":
        problems.add(f"{where}.neuron", f"a {kind} layer has no neuron: expected 'none'")
    for key in ("bias_scale", "pool"):
        if raw.get(key) is not None:
            problems.add(f"{where}.{key}", f"a {kind} layer has no weights, bias or current to "
                         f"pool; {key} applies to conv and linear layers")
    return LayerSpec(
        name=raw["name"], kind=kind, in_shape=tuple(raw["in_shape"]),
        out_shape=tuple(raw["out_shape"]), kernel=tuple(raw["kernel"]),
        stride=tuple(raw["stride"]), padding=tuple(raw["padding"]), input=raw["input"],
        neuron=raw["neuron"], threshold=1.0, leak=1.0, weight_scale=1.0, weight_bits=weight_bits)


def parse_layers(meta: dict[str, Any], problems: Problems) -> list[LayerSpec]:
    """Check the ``layers`` list of ``meta`` and build LayerSpecs (problems collected).

    The trace format version is ``meta.version`` (a layer list without one, like the
    ``--layers`` file of ``pimsim trace synth``, is read as the current version).
    """
    layers: list[LayerSpec] = []
    raw_layers = meta.get("layers")
    if not isinstance(raw_layers, list) or not raw_layers:
        problems.add("meta.layers", "expected a non-empty list of layer objects")
        return layers
    version = meta.get("version", FORMAT_VERSION)
    bits = meta.get("weight_bits")
    names: set[str] = set()
    parsed: list[tuple[int, dict[str, Any], str]] = []
    for i, raw in enumerate(raw_layers):
        where = f"meta.layers[{i}]"
        if not isinstance(raw, dict):
            problems.add(where, "expected an object")
            continue
        ok = True
        for key, typ in _LAYER_REQUIRED.items():
            if key not in raw:
                problems.add(f"{where}.{key}", "missing")
                ok = False
            elif not _check_type(raw[key], typ):
                problems.add(f"{where}.{key}", f"expected {getattr(typ, '__name__', 'a number')}")
                ok = False
        if not ok:
            continue
        name = raw["name"]
        where = f"meta.layers[{i}] ({name})"
        if name in names or not name or "/" in name:
            problems.add(f"{where}.name", "expected a unique non-empty name without '/'")
        names.add(name)
        parsed.append((i, raw, where))
    if not _check_type(bits, int):  # a layer list without a trace: the layers' widest
        bits = max((r["weight_bits"] for _, r, _ in parsed
                    if _check_type(r.get("weight_bits"), int)), default=8)
    index: list[int] = []
    for i, raw, where in parsed:
        spec = _parse_layer(raw, where, version, bits, problems)
        if spec is not None:
            layers.append(spec)
            index.append(i)
    # chain: first layer analog, others spikes; consecutive element counts equal
    last = len(raw_layers) - 1
    for j, (i, spec) in enumerate(zip(index, layers, strict=True)):
        where = f"meta.layers[{i}] ({spec.name})"
        if i == 0 and spec.input != "analog":
            problems.add(f"{where}.input", "the first layer must be 'analog'")
        if i > 0 and spec.input != "spikes":
            problems.add(f"{where}.input", "expected 'spikes' after layer 0")
        prev = layers[j - 1] if j > 0 and index[j - 1] == i - 1 else None
        if prev is not None and prev.out_size != spec.in_size:
            problems.add(
                f"{where}.in_shape",
                f"{list(spec.in_shape)} has {spec.in_size} elements but the previous layer "
                f"{prev.name} outputs {list(prev.out_shape)} = {prev.out_size} (layer chain "
                "inconsistent)",
            )
        if i < last and spec.weighted and spec.neuron != "lif":
            problems.add(f"{where}.neuron", "hidden layers must be 'lif'")
        if i == last and spec.is_pool:
            problems.add(f"{where}.kind", f"the last layer must have a neuron (it predicts); a "
                         f"{spec.kind} layer cannot end the network")
    return layers


#: The dtypes each array may have (by key prefix), the smallest first.
_DTYPES: dict[str, tuple[type, ...]] = {
    "input": (np.uint8, np.uint16),
    "weights": (np.int8, np.int16),
    "bias": (np.int32,),
    "spikes": (np.uint8,),
    "labels": (np.int64,),
    "predictions": (np.int64,),
}


def _gib(nbytes: int) -> str:
    return f"{nbytes / 2**30:.3g} GiB"


def _implied_bytes(meta: dict[str, Any], layers: list[LayerSpec],
                   arrays: dict[str, Any]) -> dict[str, int]:
    """Bytes of each array the metadata implies, in Python integers: with the dtype an array
    declares when it is one it may have, else the smallest it may have."""
    n, t = meta["num_samples"], meta["timesteps"]
    counts: dict[str, int] = {"input": n * layers[0].in_size, "labels": n, "predictions": n}
    for spec in layers:
        if spec.weighted:
            counts[f"weights/{spec.name}"] = math.prod(spec.weight_shape)
        if spec.bias_scale is not None:
            counts[f"bias/{spec.name}"] = spec.out_channels
        if spec.input == "spikes":
            counts[f"spikes/{spec.name}"] = -(-n * t * spec.in_size // 8)
    out: dict[str, int] = {}
    for key, count in counts.items():
        allowed = _DTYPES[key.split("/")[0]]
        dtype = getattr(arrays.get(key), "dtype", None)
        itemsize = dtype.itemsize if dtype in allowed else np.dtype(allowed[0]).itemsize
        out[key] = count * itemsize
    return out


def check_declared(
    meta: dict[str, Any],
    layers: list[LayerSpec],
    arrays: dict[str, Any],
    problems: Problems,
) -> bool:
    """Check the set of keys, the total size, the dtypes, shapes and packed-bit lengths.

    ``arrays`` maps keys to arrays or to anything with ``dtype`` and ``shape`` (the reader
    passes the ``.npy`` headers, before reading any data). True when nothing was found.
    """
    before = len(problems.items)
    if not layers:
        problems.add("meta.layers", "expected a non-empty list of layer objects")
        return False
    n, t = meta.get("num_samples"), meta.get("timesteps")
    if not (isinstance(n, int) and 0 < n <= MAX_COUNT):
        problems.add("meta.num_samples", f"expected an integer in [1, {MAX_COUNT}]")
        return False
    if not (isinstance(t, int) and 0 < t <= MAX_COUNT):
        problems.add("meta.timesteps", f"expected an integer in [1, {MAX_COUNT}]")
        return False
    sizes = _implied_bytes(meta, layers, arrays)
    total = sum(sizes.values())
    if total > MAX_TRACE_BYTES:
        big = max(sizes, key=lambda k: sizes[k])
        problems.add(
            "meta",
            f"num_samples = {n}, timesteps = {t} and the layer shapes declare {total} bytes "
            f"({_gib(total)}) of arrays, the largest {big} with {sizes[big]} bytes; a trace "
            f"holds at most {MAX_TRACE_BYTES} bytes ({_gib(MAX_TRACE_BYTES)})",
        )
        return False
    # A pooled layer's pre-pool map is stored nowhere; it counts as if its spikes were (one bit
    # per element, step and sample), so that it is bounded as a v1 layer's output map is.
    hidden = {spec.name: -(-n * t * math.prod(spec.conv_shape) // 8)
              for spec in layers if spec.pool is not None}
    if hidden and total + sum(hidden.values()) > MAX_TRACE_BYTES:
        big = max(hidden, key=lambda k: hidden[k])
        problems.add(
            "meta",
            f"num_samples = {n}, timesteps = {t} and the pre-pool conv shape of "
            f"{big}, {list(layers[[s.name for s in layers].index(big)].conv_shape)}, declare "
            f"{total + sum(hidden.values())} bytes ({_gib(total + sum(hidden.values()))}) of "
            f"arrays and pre-pool maps at one bit per element; a trace holds at most "
            f"{MAX_TRACE_BYTES} bytes ({_gib(MAX_TRACE_BYTES)})",
        )
        return False
    expected_keys = {"meta", *sizes}
    for key in sorted(expected_keys - set(arrays)):
        problems.add(key, "missing array")
    version = meta.get("version", FORMAT_VERSION)
    for key in sorted(set(arrays) - expected_keys):
        if key.startswith("bias/") and version == 1:
            problems.add(key, f"a bias array {_v2_only(version)}")
        elif key.startswith("bias/") and key[5:] in {s.name for s in layers}:
            problems.add(key, "unexpected array (the layer has no bias_scale, so no bias)")
        else:
            problems.add(key, f"unexpected array (not in trace format v{_short(version)} for "
                         "these layers)")

    if "input" in arrays:
        x = arrays["input"]
        if x.dtype not in _DTYPES["input"]:
            problems.add("input", f"expected dtype uint8 or uint16, got {x.dtype}")
        elif x.shape != (n, *layers[0].in_shape):
            problems.add("input", f"expected shape {(n, *layers[0].in_shape)}, got {x.shape}")
    for key in ("labels", "predictions"):
        if key in arrays:
            a = arrays[key]
            if a.dtype != np.int64 or a.shape != (n,):
                problems.add(key, f"expected int64 of shape ({n},), got {a.dtype} {a.shape}")
    for spec in layers:
        wkey = f"weights/{spec.name}"
        if spec.weighted and wkey in arrays:
            w = arrays[wkey]
            if w.dtype not in _DTYPES["weights"]:
                problems.add(wkey, f"expected dtype int8 or int16, got {w.dtype}")
            elif w.shape != spec.weight_shape:
                problems.add(wkey, f"expected shape {spec.weight_shape}, got {w.shape}")
        bkey = f"bias/{spec.name}"
        if spec.bias_scale is not None and bkey in arrays:
            b = arrays[bkey]
            if b.dtype != np.int32 or b.shape != (spec.out_channels,):
                problems.add(bkey, f"expected int32 of shape ({spec.out_channels},) (one integer "
                             f"per output channel), got {b.dtype} {b.shape}")
        skey = f"spikes/{spec.name}"
        if spec.input == "spikes" and skey in arrays:
            s = arrays[skey]
            want = sizes[skey]
            if s.dtype != np.uint8 or len(s.shape) != 1:
                problems.add(skey, f"expected 1-D uint8 (bit-packed), got {s.dtype} {s.shape}")
            elif s.shape[0] != want:
                problems.add(
                    skey,
                    f"packed length {s.shape[0]} bytes, expected ceil(N*T*prod(in_shape)/8) = "
                    f"{want}",
                )
    return len(problems.items) == before


def check_values(
    meta: dict[str, Any],
    layers: list[LayerSpec],
    arrays: dict[str, np.ndarray],
    problems: Problems,
) -> None:
    """Check the value ranges of arrays that passed :func:`check_declared`."""
    bits = meta.get("input_bits")
    x = arrays.get("input")
    if x is not None and isinstance(bits, int) and x.size and int(x.max()) >= 2**bits:
        problems.add("input", f"values up to {int(x.max())} exceed input_bits={bits}")
    classes, last = layers[-1].out_size, layers[-1].name
    for key in ("labels", "predictions"):
        a = arrays.get(key)
        if a is not None and a.size and (int(a.min()) < 0 or int(a.max()) >= classes):
            problems.add(key, f"values [{int(a.min())}, {int(a.max())}] outside the class range "
                         f"[0, {classes}) (the {classes} outputs of the last layer, {last})")
    for spec in layers:
        b = arrays.get(f"bias/{spec.name}")
        if b is not None and b.size and spec.bias_scale is not None:
            top = int(np.abs(b.astype(np.int64)).max())
            if not math.isfinite(top * spec.bias_scale):
                problems.add(f"bias/{spec.name}", f"a bias of {top} times bias_scale "
                             f"{spec.bias_scale!r} is beyond the float range")
        wkey = f"weights/{spec.name}"
        w = arrays.get(wkey) if spec.weighted else None
        if w is not None and w.size:
            lim = 2 ** (spec.weight_bits - 1)
            if int(w.min()) < -lim or int(w.max()) > lim - 1:
                problems.add(
                    wkey,
                    f"values [{int(w.min())}, {int(w.max())}] exceed the signed "
                    f"{spec.weight_bits}-bit range [{-lim}, {lim - 1}]",
                )


def validate_arrays(
    meta: dict[str, Any],
    layers: list[LayerSpec],
    arrays: dict[str, np.ndarray],
    problems: Problems,
) -> None:
    """Check keys, total size, dtypes, shapes, packed-bit lengths and value ranges."""
    if check_declared(meta, layers, arrays, problems):
        check_values(meta, layers, arrays, problems)


def check_meta(meta: Any, problems: Problems) -> dict[str, Any]:
    if not isinstance(meta, dict):
        problems.add("meta", "expected a JSON object")
        return {}
    for key, typ in _META_REQUIRED.items():
        if key not in meta:
            problems.add(f"meta.{key}", "missing")
        elif not _check_type(meta[key], typ):
            problems.add(f"meta.{key}", f"expected {getattr(typ, '__name__', 'a number')}")
    if meta.get("format") != FORMAT_NAME:
        problems.add("meta.format", f"expected {FORMAT_NAME!r}, got {_short(meta.get('format'))}")
    version = meta.get("version")
    if not (_check_type(version, int) and version in READ_VERSIONS):
        problems.add("meta.version", f"expected 1 or 2 (this pimsim reads trace formats v1 and "
                     f"v2), got {_short(version)}")
    for key in ("num_samples", "timesteps"):
        v = meta.get(key)
        if _check_type(v, int) and not 1 <= v <= MAX_COUNT:
            problems.add(f"meta.{key}", f"expected an integer in [1, {MAX_COUNT}]")
    for key in ("input_bits", "weight_bits"):
        v = meta.get(key)
        if _check_type(v, int) and not 1 <= v <= 16:
            problems.add(f"meta.{key}", "expected an integer in [1, 16]")
    scale = meta.get("input_scale")
    if _check_type(scale, (int, float)) and not (
        math.isfinite(_as_float(scale)) and _as_float(scale) > 0
    ):
        problems.add("meta.input_scale", f"expected a finite number > 0, got {_short(scale)}")
    prov = meta.get("provenance")
    if isinstance(prov, dict):
        if "trained" in prov and not isinstance(prov["trained"], bool):
            problems.add("meta.provenance.trained", "expected true or false")
        if "trained" in prov and prov.get("data") not in DATA_KINDS:
            problems.add("meta.provenance.data",
                         f"expected one of {', '.join(DATA_KINDS)} (with trained)")
    return meta


# ----------------------------------------------------------------------------- JSON


class _Refused:
    """A JSON number the reader refuses, left in place by json.loads' hooks so that
    :func:`parse_meta_json` can name where it is."""

    def __init__(self, why: str):
        self.why = why


def _json_int(text: str) -> int | _Refused:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        return _Refused(f"an integer of {digits} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _json_real(text: str) -> float | _Refused:
    if len(text) > MAX_REAL_CHARS:
        return _Refused(f"a number of {len(text)} characters (at most {MAX_REAL_CHARS})")
    value = float(text)
    if not math.isfinite(value):
        return _Refused(f"{text} is beyond the float range (numbers must be finite)")
    return value


def _json_constant(text: str) -> _Refused:
    return _Refused(f"{text} is not a JSON number (numbers must be finite)")


def _json_path(keys: list[Any]) -> str:
    return "meta" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys)


def _scan_json(value: Any, file: str) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH and the numbers the hooks left refused, naming
    the first one's place (depth-first, in document order; memory O(depth))."""
    path: list[Any] = []
    stack: list[Iterator[tuple[Any, Any]]] = [iter([(None, value)])]
    while stack:
        try:
            key, item = next(stack[-1])
        except StopIteration:
            stack.pop()
            if path:
                path.pop()
            continue
        if isinstance(item, _Refused):
            here = [*path[1:], key] if len(stack) > 1 else []
            raise TraceError(item.why, file=file, key=_printable(_json_path(here)))
        if isinstance(item, (dict, list)):
            if len(stack) > MAX_JSON_DEPTH:  # named by its first two levels
                raise TraceError(f"nested deeper than {MAX_JSON_DEPTH} levels of arrays and "
                                 "objects", file=file, key=_printable(_json_path(path[1:3])))
            path.append(key)
            stack.append(iter(item.items()) if isinstance(item, dict) else iter(enumerate(item)))


def _check_meta_size(nbytes: int, file: str) -> None:
    if nbytes > MAX_META_BYTES:
        raise TraceError(f"holds {nbytes} bytes of JSON; a trace's metadata takes at most "
                         f"{MAX_META_BYTES} ({MAX_META_BYTES >> 20} MiB)", file=file, key="meta")


def parse_meta_json(data: bytes, file: str) -> Any:
    """The JSON value of a ``meta`` member within the limits of §7.1 (TraceError otherwise)."""
    try:
        value = json.loads(data.decode("utf-8"), parse_int=_json_int, parse_float=_json_real,
                           parse_constant=_json_constant)
    except RecursionError:
        raise TraceError(f"nested deeper than {MAX_JSON_DEPTH} levels of arrays and objects",
                         file=file, key="meta") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TraceError(f"not valid UTF-8 JSON: {exc}", file=file, key="meta") from None
    _scan_json(value, file)
    return value


# ----------------------------------------------------------------------------- I/O


def _sniff(file: str) -> None:
    """Refuse a file that is not a zip archive, saying what it looks like instead."""
    try:
        with open(file, "rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        raise TraceError(f"cannot read: {exc.strerror}", file=file) from None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return
    if not head:
        raise TraceError("empty file (expected a .npz trace archive)", file=file)
    if head.startswith(b"\x93NUMPY"):
        raise TraceError("expected a .npz archive (zip), got a bare .npy array", file=file)
    try:
        head.decode("utf-8")
        looks = "a text file (a YAML hardware config? give it to --hw)"
    except UnicodeDecodeError:
        looks = "binary data that is not a zip archive"
    raise TraceError(f"expected a .npz trace (a zip archive), got {looks}", file=file)


_NOT_ARCHIVE = "not a readable .npz archive (truncated or not a zip file)"


@contextmanager
def _reading(file: str, key: str | None = None) -> Iterator[None]:
    """Turn what a corrupt archive (key None) or member raises into a one-line TraceError."""
    try:
        yield
    except READ_ERRORS as exc:
        if key is None:
            raise TraceError(f"{_NOT_ARCHIVE}: {exc}", file=file) from None
        raise TraceError(f"cannot be read (corrupt or truncated member): {exc}", file=file,
                         key=_printable(key)) from None


def _directory_size(fh: Any) -> tuple[int, int]:
    """(members, bytes) of the zip central directory, from the end-of-directory record the way
    zipfile finds it; (0, 0) when there is none (zipfile then refuses the file)."""
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    tail_len = min(size, 22 + 65535)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    at = len(tail) - 22 if tail[-22:-18] == b"PK\x05\x06" else tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return 0, 0
    entries, cd_bytes = struct.unpack("<10xHL6x", tail[at : at + 22])
    zip64 = entries == 0xFFFF or cd_bytes == 0xFFFFFFFF
    if zip64 and at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
        (record_at,) = struct.unpack("<8xQ4x", tail[at - 20 : at])
        fh.seek(record_at)
        record = fh.read(56)
        if len(record) == 56 and record[:4] == b"PK\x06\x06":
            entries, cd_bytes = struct.unpack("<32xQQ8x", record)
    return entries, cd_bytes


def _members(zf: zipfile.ZipFile, file: str) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by key (name without ``.npy``); refuses what np.savez never writes:
    duplicate names, encryption, compression other than none or deflate."""
    out: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = info.filename
        key = name.removesuffix(".npy")
        if key in out:
            raise TraceError("appears twice in the zip archive", file=file, key=_printable(key))
        if info.flag_bits & 0x1:
            raise TraceError("is an encrypted zip member; trace members are plain (np.savez)",
                             file=file, key=_printable(key))
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise TraceError(f"uses zip compression method {info.compress_type}; trace members "
                             "are stored or deflate-compressed (np.savez_compressed)",
                             file=file, key=_printable(key))
        out[key] = info
    return out


class _Inflater:
    """One zip member's data, inflated from its raw bytes in the archive and never past the
    size its zip entry declares; :meth:`finish` refuses a stream that holds more than that,
    ends early or fails its CRC-32."""

    def __init__(self, fh: Any, info: zipfile.ZipInfo):
        fh.seek(info.header_offset)
        head = fh.read(30)
        if len(head) < 30 or head[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile("bad local file header")
        name_len, extra_len = struct.unpack("<26xHH", head)
        self._fh = fh
        self._info = info
        self._pos = info.header_offset + 30 + name_len + extra_len
        self._raw_left = info.compress_size
        self._left = info.file_size
        self._crc = 0
        self._zlib = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
        if self._zlib is None and info.compress_size != info.file_size:
            raise zipfile.BadZipFile(f"a stored member of {info.compress_size} bytes declares "
                                     f"{info.file_size}")

    def _raw(self, n: int) -> bytes:
        n = min(n, self._raw_left)
        self._fh.seek(self._pos)
        data = self._fh.read(n)
        if len(data) < n:
            raise EOFError("the archive ends inside this member")
        self._pos += n
        self._raw_left -= n
        return data

    def _inflate(self, n: int) -> bytes:
        """Up to n bytes of output (b'' at the end of the member's data)."""
        if self._zlib is None:
            return self._raw(n)
        while not self._zlib.eof:
            data = self._zlib.unconsumed_tail or self._raw(_CHUNK)
            out = self._zlib.decompress(data, n)
            if out or not data:
                return out
            if self._zlib.unconsumed_tail == data:
                raise zlib.error("the compressed stream makes no progress")
        return b""

    def read(self, n: int) -> bytes:
        """Up to n bytes, fewer only where the data ends (a file object for numpy.lib.format)."""
        parts: list[bytes] = []
        want = min(n, self._left)
        while want > 0:
            out = self._inflate(want)
            if not out:
                break
            parts.append(out)
            want -= len(out)
        data = b"".join(parts)
        self._left -= len(data)
        self._crc = zlib.crc32(data, self._crc)
        return data

    def tell(self) -> int:
        """Bytes inflated so far."""
        return self._info.file_size - self._left

    def readinto(self, view: memoryview) -> int:
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def finish(self) -> None:
        """After the declared bytes: nothing more may inflate, and the CRC-32 must match."""
        if self._left:
            raise EOFError(f"its data ends {self._left} bytes short of its zip entry's "
                           f"{self._info.file_size}")
        while self._zlib is not None and not self._zlib.eof:
            data = self._zlib.unconsumed_tail or self._raw(_CHUNK)
            if not data:
                raise EOFError("its compressed stream ends without its final block")
            if self._zlib.decompress(data, 1):
                raise zipfile.BadZipFile(f"inflates past the {self._info.file_size} bytes its "
                                         "zip entry declares")
        if self._crc != self._info.CRC:
            raise zipfile.BadZipFile("CRC-32 mismatch (the data is corrupt)")


@dataclass(frozen=True)
class _Member:
    """A member's ``.npy`` header, read before its data (what :func:`check_declared` checks)."""

    info: zipfile.ZipInfo
    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    fortran_order: bool
    offset: int  #: bytes before the data (magic, version, header)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize


def _read_header(fh: Any, info: zipfile.ZipInfo, file: str, key: str) -> _Member:
    """Read and check one member's ``.npy`` header (a few hundred bytes inflated)."""
    fmt = np.lib.format
    with _reading(file, key), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a garbled header's SyntaxWarning is not for the user
        stream = _Inflater(fh, info)
        version = fmt.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(stream, _NPY_HEADER_MAX)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(stream, _NPY_HEADER_MAX)
        else:
            raise TraceError(f".npy format version {version[0]}.{version[1]} is not read "
                             "(1.0 or 2.0, as np.savez writes)", file=file, key=_printable(key))
        offset = stream.tell()
    if dtype.hasobject:
        raise TraceError("holds a pickled object array; traces must be plain arrays (refused "
                         "with allow_pickle=False: object arrays cannot be loaded)",
                         file=file, key=_printable(key))
    if any(d < 0 for d in shape):
        raise TraceError(f"its .npy header declares the shape {_short(shape)}", file=file,
                         key=_printable(key))
    member = _Member(info, dtype, tuple(int(d) for d in shape), bool(fortran), offset)
    if info.file_size != offset + member.nbytes:
        raise TraceError(
            f"its zip entry inflates to {info.file_size} bytes but its .npy header declares "
            f"{offset} + {member.nbytes} ({dtype} {_short(member.shape)})",
            file=file, key=_printable(key))
    return member


def _read_data(fh: Any, m: _Member, file: str, key: str) -> np.ndarray:
    """Inflate one member's data into a new array: its declared size and no more."""
    try:
        flat = np.empty(m.size, dtype=m.dtype)
    except MemoryError:
        raise TraceError(f"needs {m.nbytes} bytes of memory ({m.dtype} {m.shape}), more than "
                         "can be allocated", file=file, key=_printable(key)) from None
    view = memoryview(flat.view(np.uint8)) if m.nbytes else memoryview(bytearray())
    with _reading(file, key):
        stream = _Inflater(fh, m.info)
        stream.read(m.offset)
        pos = 0
        while pos < m.nbytes:
            got = stream.readinto(view[pos : pos + _CHUNK])
            if not got:
                break
            pos += got
        stream.finish()
    if m.fortran_order and m.ndim > 1:
        return flat.reshape(m.shape[::-1]).transpose()
    return flat.reshape(m.shape)


def load_trace(path: str | os.PathLike[str]) -> Trace:
    """Load and fully validate a v1 or v2 trace, in bounded memory and without pickles.

    Raises :class:`TraceError` naming the file and key on the first problem found.
    """
    file = str(path)
    if not os.path.exists(file):
        raise TraceError("file not found", file=file)
    if os.path.isdir(file):
        raise TraceError("expected a .npz file, got a directory", file=file)
    _sniff(file)
    with _reading(file):
        fh = open(file, "rb")  # noqa: SIM115 - closed by the with below
    with fh:
        with _reading(file):
            entries, cd_bytes = _directory_size(fh)
            if entries > MAX_MEMBERS or cd_bytes > MAX_DIRECTORY_BYTES:
                raise TraceError(f"its zip directory lists {entries} members in {cd_bytes} "
                                 f"bytes; a trace has at most {MAX_MEMBERS} members and "
                                 f"{MAX_DIRECTORY_BYTES} bytes of directory", file=file)
            zf = zipfile.ZipFile(fh)
        with zf:
            return _load_archive(zf, fh, file)


def _load_archive(zf: zipfile.ZipFile, fh: Any, file: str) -> Trace:
    """Stages 1 to 4 of docs/trace-format.md §7 on an open archive."""
    infos = _members(zf, file)
    headers = {key: _read_header(fh, info, file, key) for key, info in infos.items()}
    if "meta" not in headers:
        raise TraceError("missing array (UTF-8 JSON metadata expected)", file=file, key="meta")
    raw = headers["meta"]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise TraceError(f"expected 1-D uint8 UTF-8 JSON, got {raw.dtype}", file=file, key="meta")
    _check_meta_size(raw.nbytes, file)
    meta = parse_meta_json(_read_data(fh, raw, file, "meta").tobytes(), file)
    problems = Problems(file)
    meta = check_meta(meta, problems)
    problems.raise_if_any()
    layers = parse_layers(meta, problems)
    problems.raise_if_any()
    if any(s.weight_bits > meta["weight_bits"] for s in layers):
        problems.add("meta.weight_bits", "a layer's weight_bits exceeds the trace's weight_bits")
    check_declared(meta, layers, headers, problems)
    problems.raise_if_any()
    arrays = {key: _read_data(fh, m, file, key) for key, m in headers.items() if key != "meta"}
    check_values(meta, layers, arrays, problems)
    problems.raise_if_any()
    return Trace(
        meta=meta,
        layers=layers,
        input=arrays["input"],
        weights={s.name: arrays[f"weights/{s.name}"] for s in layers if s.weighted},
        packed_spikes={s.name: arrays[f"spikes/{s.name}"] for s in layers if s.input == "spikes"},
        labels=arrays["labels"],
        predictions=arrays["predictions"],
        path=file,
        biases={s.name: arrays[f"bias/{s.name}"] for s in layers if s.bias_scale is not None},
    )


def pack_spikes(spikes: np.ndarray) -> np.ndarray:
    """Bit-pack a bool spike array: ``np.packbits(a.reshape(-1), bitorder='little')``."""
    return np.packbits(np.asarray(spikes, dtype=bool).reshape(-1), bitorder="little")


def build_meta(
    *,
    dataset: str,
    model: str,
    layers: list[LayerSpec],
    timesteps: int,
    num_samples: int,
    input_bits: int,
    input_scale: float,
    weight_bits: int,
    provenance: dict[str, Any],
    metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the ``meta`` object of a trace: version 2, each layer's v2 fields only where
    they differ from their defaults (a network without v2 features gets the v1 meta with
    version 2)."""
    meta: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "dataset": dataset,
        "model": model,
        "timesteps": int(timesteps),
        "num_samples": int(num_samples),
        "input_bits": int(input_bits),
        "input_scale": float(input_scale),
        "weight_bits": int(weight_bits),
        "provenance": provenance,
        "layers": [s.to_meta() for s in layers],
    }
    if metrics is not None:
        meta["metrics"] = metrics
    return meta


def save_trace(
    path: str | os.PathLike[str],
    *,
    meta: dict[str, Any],
    input: np.ndarray,
    weights: dict[str, np.ndarray],
    spikes: dict[str, np.ndarray],
    labels: np.ndarray,
    predictions: np.ndarray,
    biases: dict[str, np.ndarray] | None = None,
) -> Path:
    """Validate and write a trace atomically (temp file + rename), of the version ``meta``
    declares (``build_meta`` writes 2).

    ``spikes`` maps each spiking layer's name (maxpool layers included) to its bool input
    spikes (N, T, *in_shape) or to an already packed uint8 vector; ``weights`` each weighted
    layer's name to its integer weights; ``biases`` each layer with a ``bias_scale`` to its
    int32 (out_channels,) integer bias (written as ``bias/<name>``; arrays are written as
    given and refused when of another dtype or shape).
    """
    file = str(path)
    problems = Problems(file)
    check_meta(meta, problems)
    problems.raise_if_any()
    layers = parse_layers(meta, problems)
    problems.raise_if_any()
    try:
        text = json.dumps(meta, allow_nan=False).encode("utf-8")
    except ValueError as exc:
        raise TraceError(f"cannot be written as JSON: {exc}", file=file, key="meta") from None
    _check_meta_size(len(text), file)
    parse_meta_json(text, file)  # within the reader's limits: what is written can be read
    arrays: dict[str, np.ndarray] = {
        "meta": np.frombuffer(text, dtype=np.uint8),
        "input": np.asarray(input),
        "labels": np.asarray(labels, dtype=np.int64),
        "predictions": np.asarray(predictions, dtype=np.int64),
    }
    for name, w in weights.items():
        arrays[f"weights/{name}"] = np.asarray(w)
    for name, b in (biases or {}).items():
        arrays[f"bias/{name}"] = np.asarray(b)
    for name, s in spikes.items():
        s = np.asarray(s)
        arrays[f"spikes/{name}"] = s if s.dtype == np.uint8 and s.ndim == 1 else pack_spikes(s)
    validate_arrays(meta, layers, arrays, problems)
    problems.raise_if_any()
    target = Path(file)
    with atomic_open(target, "wb", suffix=".npz") as fh:
        np.savez_compressed(fh, **arrays)
    return target


def spike_rates(trace: Trace) -> dict[str, np.ndarray]:
    """Per spiking layer, the fraction of input neurons spiking at each time step, shape (T,)."""
    out: dict[str, np.ndarray] = {}
    for spec in trace.layers:
        if spec.input == "spikes":
            s = trace.spikes(spec.name, cache=False)
            out[spec.name] = s.reshape(s.shape[0], s.shape[1], -1).mean(axis=(0, 2))
    return out
