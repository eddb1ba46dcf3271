"""Trace format v1 (docs/trace-format.md): read, validate and write spike traces.

A trace is a ``np.savez_compressed`` archive holding the network (integer weights, thresholds,
leaks, scales), the first layer's quantized analog input, the bit-packed input spikes of every
spiking layer, labels and predictions. It is always loaded with ``allow_pickle=False``. The
reader collects every problem it finds and reports the first one as a one-line
:class:`~pimsim.errors.TraceError` naming the file and key.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pimsim.atomic import atomic_open
from pimsim.errors import TraceError
from pimsim.provenance import DATA_KINDS, Origin, trace_origin

FORMAT_NAME = "pimsim-trace"
FORMAT_VERSION = 1
LAYER_KINDS = ("conv3d", "conv2d", "linear")
SPATIAL_DIMS = {"conv3d": 3, "conv2d": 2, "linear": 0}
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
    "threshold": (int, float),
    "leak": (int, float),
    "weight_scale": (int, float),
    "weight_bits": int,
}


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a trace, in execution order.

    Shapes are per sample, channels first: (C, D, H, W) for conv3d, (C, H, W) for conv2d,
    (F,) for linear. ``kernel``, ``stride`` and ``padding`` hold one entry per spatial dim
    and are empty for linear layers.
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
    threshold: float
    leak: float
    weight_scale: float
    weight_bits: int

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
        """Output positions per channel (1 for linear layers)."""
        return math.prod(self.out_shape[1:]) if self.kind != "linear" else 1

    @property
    def fan_in(self) -> int:
        """Synapses per output neuron ignoring borders: C_in x prod(kernel), or F_in."""
        if self.kind == "linear":
            return self.in_shape[0]
        return self.in_shape[0] * math.prod(self.kernel)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        if self.kind == "linear":
            return (self.out_shape[0], self.in_shape[0])
        return (self.out_shape[0], self.in_shape[0], *self.kernel)

    def to_meta(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "in_shape": list(self.in_shape),
            "out_shape": list(self.out_shape),
        }
        if self.kind != "linear":
            d.update(kernel=list(self.kernel), stride=list(self.stride), padding=list(self.padding))
        d.update(
            input=self.input,
            neuron=self.neuron,
            threshold=float(self.threshold),
            leak=float(self.leak),
            weight_scale=float(self.weight_scale),
            weight_bits=int(self.weight_bits),
        )
        return d


def conv_out_size(n_in: int, k: int, s: int, p: int) -> int:
    """Output length of a convolution along one dim: floor((n + 2p - k) / s) + 1."""
    return (n_in + 2 * p - k) // s + 1


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
        return h.hexdigest()


# ----------------------------------------------------------------------------- validation


class Problems:
    """Collects validation problems; raises the first as a TraceError (all listed in .all)."""

    def __init__(self, file: str):
        self.file = file
        self.items: list[tuple[str, str]] = []

    def add(self, key: str, message: str) -> None:
        self.items.append((key, message))

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


def parse_layers(meta: dict[str, Any], problems: Problems) -> list[LayerSpec]:
    """Check the ``layers`` list of ``meta`` and build LayerSpecs (problems collected)."""
    layers: list[LayerSpec] = []
    raw_layers = meta.get("layers")
    if not isinstance(raw_layers, list) or not raw_layers:
        problems.add("meta.layers", "expected a non-empty list of layer objects")
        return layers
    names: set[str] = set()
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
        name, kind = raw["name"], raw["kind"]
        where = f"meta.layers[{i}] ({name})"
        if name in names or not name or "/" in name:
            problems.add(f"{where}.name", "expected a unique non-empty name without '/'")
        names.add(name)
        if kind not in LAYER_KINDS:
            problems.add(f"{where}.kind", f"expected one of {', '.join(LAYER_KINDS)}, got {kind!r}")
            continue
        nsp = SPATIAL_DIMS[kind]
        in_shape, out_shape = raw["in_shape"], raw["out_shape"]
        if not _is_int_list(in_shape) or len(in_shape) != nsp + 1 or min(in_shape) <= 0:
            problems.add(f"{where}.in_shape", f"expected {nsp + 1} positive integers for {kind}")
            continue
        if not _is_int_list(out_shape) or len(out_shape) != nsp + 1 or min(out_shape) <= 0:
            problems.add(f"{where}.out_shape", f"expected {nsp + 1} positive integers for {kind}")
            continue
        kernel: list[int] = []
        stride: list[int] = []
        padding: list[int] = []
        if nsp:
            geo_ok = True
            for key, minimum in (("kernel", 1), ("stride", 1), ("padding", 0)):
                val = raw.get(key)
                if not _is_int_list(val) or len(val) != nsp or min(val) < minimum:
                    problems.add(
                        f"{where}.{key}", f"expected {nsp} integers >= {minimum} for {kind}"
                    )
                    geo_ok = False
            if not geo_ok:
                continue
            kernel, stride, padding = raw["kernel"], raw["stride"], raw["padding"]
            expect = [
                conv_out_size(n, k, s, p)
                for n, k, s, p in zip(in_shape[1:], kernel, stride, padding, strict=True)
            ]
            if expect != out_shape[1:]:
                problems.add(
                    f"{where}.out_shape",
                    f"spatial dims {out_shape[1:]} do not follow from in_shape, kernel, stride "
                    f"and padding (expected {expect})",
                )
        if raw["input"] not in ("analog", "spikes"):
            problems.add(f"{where}.input", "expected 'analog' or 'spikes'")
        if raw["neuron"] not in ("lif", "integrator"):
            problems.add(f"{where}.neuron", "expected 'lif' or 'integrator'")
        if not raw["weight_bits"] >= 2:
            problems.add(f"{where}.weight_bits", "expected an integer >= 2")
        if not raw["weight_scale"] > 0:
            problems.add(f"{where}.weight_scale", "expected a positive number")
        layers.append(
            LayerSpec(
                name=name,
                kind=kind,
                in_shape=tuple(in_shape),
                out_shape=tuple(out_shape),
                kernel=tuple(kernel),
                stride=tuple(stride),
                padding=tuple(padding),
                input=raw["input"],
                neuron=raw["neuron"],
                threshold=float(raw["threshold"]),
                leak=float(raw["leak"]),
                weight_scale=float(raw["weight_scale"]),
                weight_bits=int(raw["weight_bits"]),
            )
        )
    # chain: first layer analog, others spikes; consecutive element counts equal
    for i, spec in enumerate(layers):
        if i == 0 and spec.input != "analog":
            problems.add(f"meta.layers[0] ({spec.name}).input", "the first layer must be 'analog'")
        if i > 0 and spec.input != "spikes":
            problems.add(f"meta.layers[{i}] ({spec.name}).input", "expected 'spikes' after layer 0")
        if i > 0 and layers[i - 1].out_size != spec.in_size:
            problems.add(
                f"meta.layers[{i}] ({spec.name}).in_shape",
                f"{list(spec.in_shape)} has {spec.in_size} elements but the previous layer "
                f"{layers[i - 1].name} outputs {list(layers[i - 1].out_shape)} = "
                f"{layers[i - 1].out_size} (layer chain inconsistent)",
            )
        if i < len(layers) - 1 and spec.neuron != "lif":
            problems.add(f"meta.layers[{i}] ({spec.name}).neuron", "hidden layers must be 'lif'")
    return layers


def validate_arrays(
    meta: dict[str, Any],
    layers: list[LayerSpec],
    arrays: dict[str, np.ndarray],
    problems: Problems,
) -> None:
    """Check dtypes, shapes, value ranges and packed-bit lengths of every array."""
    n, t = meta.get("num_samples"), meta.get("timesteps")
    if not (isinstance(n, int) and n > 0):
        problems.add("meta.num_samples", "expected a positive integer")
        return
    if not (isinstance(t, int) and t > 0):
        problems.add("meta.timesteps", "expected a positive integer")
        return
    expected_keys = {"meta", "input", "labels", "predictions"}
    expected_keys |= {f"weights/{s.name}" for s in layers}
    expected_keys |= {f"spikes/{s.name}" for s in layers if s.input == "spikes"}
    for key in sorted(expected_keys - set(arrays)):
        problems.add(key, "missing array")
    for key in sorted(set(arrays) - expected_keys):
        problems.add(key, "unexpected array (not in trace format v1 for these layers)")

    bits = meta.get("input_bits")
    if "input" in arrays and layers:
        x = arrays["input"]
        if x.dtype not in (np.uint8, np.uint16):
            problems.add("input", f"expected dtype uint8 or uint16, got {x.dtype}")
        elif x.shape != (n, *layers[0].in_shape):
            problems.add("input", f"expected shape {(n, *layers[0].in_shape)}, got {x.shape}")
        elif isinstance(bits, int) and x.size and int(x.max()) >= 2**bits:
            problems.add("input", f"values up to {int(x.max())} exceed input_bits={bits}")
    for key in ("labels", "predictions"):
        if key in arrays:
            a = arrays[key]
            if a.dtype != np.int64 or a.shape != (n,):
                problems.add(key, f"expected int64 of shape ({n},), got {a.dtype} {a.shape}")
    for spec in layers:
        wkey = f"weights/{spec.name}"
        if wkey in arrays:
            w = arrays[wkey]
            if w.dtype not in (np.int8, np.int16):
                problems.add(wkey, f"expected dtype int8 or int16, got {w.dtype}")
            elif w.shape != spec.weight_shape:
                problems.add(wkey, f"expected shape {spec.weight_shape}, got {w.shape}")
            elif w.size:
                lim = 2 ** (spec.weight_bits - 1)
                if int(w.min()) < -lim or int(w.max()) > lim - 1:
                    problems.add(
                        wkey,
                        f"values [{int(w.min())}, {int(w.max())}] exceed the signed "
                        f"{spec.weight_bits}-bit range [{-lim}, {lim - 1}]",
                    )
        skey = f"spikes/{spec.name}"
        if spec.input == "spikes" and skey in arrays:
            s = arrays[skey]
            want = math.ceil(n * t * spec.in_size / 8)
            if s.dtype != np.uint8 or s.ndim != 1:
                problems.add(skey, f"expected 1-D uint8 (bit-packed), got {s.dtype} {s.shape}")
            elif s.size != want:
                problems.add(
                    skey,
                    f"packed length {s.size} bytes, expected ceil(N*T*prod(in_shape)/8) = {want}",
                )


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
        problems.add("meta.format", f"expected {FORMAT_NAME!r}, got {meta.get('format')!r}")
    if meta.get("version") != FORMAT_VERSION:
        problems.add(
            "meta.version", f"expected {FORMAT_VERSION} (this pimsim reads trace format v1)"
        )
    for key in ("input_bits", "weight_bits"):
        v = meta.get(key)
        if isinstance(v, int) and not 1 <= v <= 16:
            problems.add(f"meta.{key}", "expected an integer in [1, 16]")
    prov = meta.get("provenance")
    if isinstance(prov, dict):
        if "trained" in prov and not isinstance(prov["trained"], bool):
            problems.add("meta.provenance.trained", "expected true or false")
        if "trained" in prov and prov.get("data") not in DATA_KINDS:
            problems.add("meta.provenance.data",
                         f"expected one of {', '.join(DATA_KINDS)} (with trained)")
    return meta


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


def load_trace(path: str | os.PathLike[str]) -> Trace:
    """Load and fully validate a v1 trace (``allow_pickle=False``).

    Raises :class:`TraceError` naming the file and key on the first problem found.
    """
    file = str(path)
    if not os.path.exists(file):
        raise TraceError("file not found", file=file)
    if os.path.isdir(file):
        raise TraceError("expected a .npz file, got a directory", file=file)
    _sniff(file)
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(file, allow_pickle=False) as npz:
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise TraceError("expected a .npz archive (zip), got a bare .npy array", file=file)
            for key in npz.files:
                try:
                    arrays[key] = npz[key]
                except ValueError as exc:
                    raise TraceError(
                        "holds a pickled object array; traces must be plain arrays "
                        f"(refused with allow_pickle=False: {exc})",
                        file=file,
                        key=key,
                    ) from None
    except TraceError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise TraceError(
            f"not a readable .npz archive (truncated or not a zip file): {exc}", file=file
        ) from None
    problems = Problems(file)
    if "meta" not in arrays:
        raise TraceError("missing array (UTF-8 JSON metadata expected)", file=file, key="meta")
    raw = arrays["meta"]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise TraceError(f"expected 1-D uint8 UTF-8 JSON, got {raw.dtype}", file=file, key="meta")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TraceError(f"not valid UTF-8 JSON: {exc}", file=file, key="meta") from None
    meta = check_meta(meta, problems)
    problems.raise_if_any()
    layers = parse_layers(meta, problems)
    problems.raise_if_any()
    if meta.get("weight_bits") is not None and any(
        s.weight_bits > meta["weight_bits"] for s in layers
    ):
        problems.add("meta.weight_bits", "a layer's weight_bits exceeds the trace's weight_bits")
    validate_arrays(meta, layers, arrays, problems)
    problems.raise_if_any()
    return Trace(
        meta=meta,
        layers=layers,
        input=arrays["input"],
        weights={s.name: arrays[f"weights/{s.name}"] for s in layers},
        packed_spikes={s.name: arrays[f"spikes/{s.name}"] for s in layers if s.input == "spikes"},
        labels=arrays["labels"],
        predictions=arrays["predictions"],
        path=file,
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
    """Assemble the ``meta`` object of a v1 trace."""
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
) -> Path:
    """Validate and write a v1 trace atomically (temp file + rename).

    ``spikes`` maps each spiking layer's name to its bool input spikes (N, T, *in_shape) or to
    an already packed uint8 vector.
    """
    file = str(path)
    arrays: dict[str, np.ndarray] = {
        "meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
        "input": np.asarray(input),
        "labels": np.asarray(labels, dtype=np.int64),
        "predictions": np.asarray(predictions, dtype=np.int64),
    }
    for name, w in weights.items():
        arrays[f"weights/{name}"] = np.asarray(w)
    for name, s in spikes.items():
        s = np.asarray(s)
        arrays[f"spikes/{name}"] = s if s.dtype == np.uint8 and s.ndim == 1 else pack_spikes(s)
    problems = Problems(file)
    check_meta(meta, problems)
    problems.raise_if_any()
    layers = parse_layers(meta, problems)
    problems.raise_if_any()
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
