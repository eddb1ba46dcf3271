"""Synthetic traces for tests and benchmarks (``pimsim trace synth``).

Spikes are drawn from a thresholded Gaussian field with controllable spatial clustering:
``z = sqrt(c) * U + sqrt(1 - c) * E`` where ``U`` is white noise on a grid coarser by
``cluster_size`` in every spatial dim (nearest-neighbour upsampled) and ``E`` is per-element
white noise; a neuron spikes when ``z > Phi^-1(1 - rate)``, so the expected spike rate is
``rate`` for every clustering ``c`` in [0, 1]. Spikes are *not* produced by the weights: a
synthetic trace is for cost models, not for functional replay, and its provenance says
``"data": "synthetic"``.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

from pimsim import __version__
from pimsim.trace import LayerSpec, build_meta, save_trace


def _field(rng: np.random.Generator, shape: tuple[int, ...], clustering: float,
           cluster_size: int) -> np.ndarray:
    """Standard-normal field of ``shape`` (leading dims batch, channel; rest spatial)."""
    white = rng.standard_normal(shape, dtype=np.float32)
    if clustering <= 0 or len(shape) <= 2:
        return white
    lead, spatial = shape[:2], shape[2:]
    coarse_shape = (*lead, *(math.ceil(s / cluster_size) for s in spatial))
    coarse = rng.standard_normal(coarse_shape, dtype=np.float32)
    for axis in range(2, len(shape)):
        coarse = np.repeat(coarse, cluster_size, axis=axis)
    coarse = coarse[(slice(None), slice(None), *(slice(0, s) for s in spatial))]
    return np.sqrt(clustering) * coarse + np.sqrt(1.0 - clustering) * white


def synth_spikes(rng: np.random.Generator, n: int, t: int, shape: tuple[int, ...], rate: float,
                 clustering: float, cluster_size: int) -> np.ndarray:
    """Bool spikes (n, t, *shape) with expected rate ``rate``."""
    if rate <= 0:
        return np.zeros((n, t, *shape), dtype=bool)
    if rate >= 1:
        return np.ones((n, t, *shape), dtype=bool)
    z = NormalDist().inv_cdf(1.0 - rate)
    flat = (n * t, *shape)
    field = _field(rng, flat, clustering, cluster_size)
    return (field > z).reshape(n, t, *shape)


def synth_trace(
    path: str,
    layers: list[LayerSpec],
    *,
    num_samples: int,
    timesteps: int = 5,
    rates: list[float] | float = 0.1,
    clustering: float = 0.5,
    cluster_size: int = 3,
    input_bits: int = 8,
    num_classes: int | None = None,
    seed: int = 0,
    dataset: str = "synthetic",
    model: str = "synthetic",
    command: str = "",
) -> dict[str, Any]:
    """Write a synthetic v1 trace for ``layers`` and return its meta.

    ``rates`` is one spike rate for every spiking layer input or a list with one per spiking
    layer (in order). Weights are uniform over the signed ``weight_bits`` range.
    """
    rng = np.random.default_rng(seed)
    spiking = [s for s in layers if s.input == "spikes"]
    rate_list = [float(rates)] * len(spiking) if np.isscalar(rates) else [float(r) for r in rates]  # type: ignore[arg-type]
    if len(rate_list) != len(spiking):
        raise ValueError(f"expected {len(spiking)} rates (one per spiking layer), got {len(rate_list)}")
    first = layers[0]
    # analog input: smooth non-negative field quantized to input_bits
    f = _field(rng, (num_samples, *first.in_shape[:1], *first.in_shape[1:]), clustering,
               cluster_size)
    u = 0.5 * (1 + np.tanh(f / 2))
    top = 2**input_bits - 1
    x = np.clip(np.rint(u * top), 0, top).astype(np.uint8 if input_bits <= 8 else np.uint16)
    weights = {}
    for spec in layers:
        lim = 2 ** (spec.weight_bits - 1)
        weights[spec.name] = rng.integers(-lim, lim, size=spec.weight_shape,
                                          dtype=np.int8 if spec.weight_bits <= 8 else np.int16)
    spikes = {}
    for spec, rate in zip(spiking, rate_list, strict=True):
        shape = spec.in_shape
        if len(shape) == 1:  # linear: no spatial structure
            spikes[spec.name] = synth_spikes(rng, num_samples, timesteps, shape, rate, 0.0, 1)
        else:
            spikes[spec.name] = synth_spikes(rng, num_samples, timesteps, shape, rate,
                                             clustering, cluster_size)
    classes = num_classes or layers[-1].out_shape[0]
    labels = rng.integers(0, classes, size=num_samples).astype(np.int64)
    predictions = rng.integers(0, classes, size=num_samples).astype(np.int64)
    provenance = {
        "data": "synthetic",
        "trained": False,
        "generator": "pimsim.synth.synth_trace",
        "rates": rate_list,
        "clustering": clustering,
        "cluster_size": cluster_size,
        "seed": seed,
        "command": command,
        "pimsim_version": __version__,
        "note": "spikes are random, not produced by the weights; for cost models only",
    }
    meta = build_meta(
        dataset=dataset, model=model, layers=layers, timesteps=timesteps,
        num_samples=num_samples, input_bits=input_bits, input_scale=1.0 / top,
        weight_bits=max(s.weight_bits for s in layers), provenance=provenance,
    )
    save_trace(path, meta=meta, input=x, weights=weights, spikes=spikes, labels=labels,
               predictions=predictions)
    return meta


def layers_from_file(path: str) -> list[LayerSpec]:
    """Read a layer list (YAML or JSON: a list of objects with the keys of a trace's
    ``meta.layers``) for a synthetic trace. ``out_shape`` may be left out for conv layers
    (computed from kernel, stride and padding); ``input`` defaults to analog for the first
    layer and spikes after; ``neuron`` to lif, and integrator for the last layer;
    ``threshold``/``leak``/``weight_scale`` to 1 and ``weight_bits`` to 6."""
    import yaml

    from pimsim.errors import TraceError
    from pimsim.trace import Problems, conv_out_size, parse_layers

    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except OSError as exc:
        raise TraceError(f"cannot read layer list: {exc.strerror}", file=path) from None
    except yaml.YAMLError as exc:
        raise TraceError(f"invalid YAML/JSON: {exc}", file=path) from None
    if not isinstance(raw, list) or not raw:
        raise TraceError("expected a non-empty list of layer objects", file=path)
    filled = []
    for i, layer in enumerate(raw):
        if not isinstance(layer, dict):
            raise TraceError("expected an object", file=path, key=f"[{i}]")
        d = dict(layer)
        d.setdefault("input", "analog" if i == 0 else "spikes")
        d.setdefault("neuron", "integrator" if i == len(raw) - 1 else "lif")
        for key, default in (("threshold", 1.0), ("leak", 1.0), ("weight_scale", 1.0),
                             ("weight_bits", 6)):
            d.setdefault(key, default)
        if d.get("kind") in ("conv3d", "conv2d") and "out_shape" not in d:
            nsp = 3 if d["kind"] == "conv3d" else 2
            d.setdefault("stride", [1] * nsp)
            d.setdefault("padding", [0] * nsp)
            try:
                d["out_shape"] = [d["out_channels"]] + [
                    conv_out_size(n, k, s, p) for n, k, s, p in
                    zip(d["in_shape"][1:], d["kernel"], d["stride"], d["padding"], strict=True)]
            except (KeyError, TypeError, ValueError):
                raise TraceError("conv layer without out_shape needs in_shape, kernel and "
                                 "out_channels", file=path, key=f"[{i}]") from None
        d.pop("out_channels", None)
        filled.append(d)
    problems = Problems(path)
    layers = parse_layers({"layers": filled}, problems)
    problems.raise_if_any()
    return layers
