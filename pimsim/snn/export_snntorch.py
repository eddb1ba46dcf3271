"""Export an snnTorch network (``nn.Sequential`` with ``snntorch.Leaky``) as a trace (format v2),
checked spike for spike against snnTorch (docs/own-network.md).

What the exporter does, in order:

1. **Reads the chain** (``net`` and nested ``nn.Sequential`` in order): each weighted module
   (``Conv2d``, ``Conv3d``, ``Linear``, bias allowed) with an optional ``BatchNorm`` right after
   it (folded into its weights and bias with the running statistics:
   ``W' = W * g``, ``b' = (b - mean) * g + beta``, ``g = gamma / sqrt(var + eps)``), an optional
   ``AvgPool``/``MaxPool`` of its current (the layer's ``pool``) and the ``Leaky`` that follows
   is one pimsim layer. A ``MaxPool`` after a ``Leaky`` is a maxpool layer of spikes.
   ``Flatten``/``Unflatten`` are C-order reshapes; ``Dropout`` and ``Identity`` are dropped.
2. **Quantizes**: the analog input to ``input_bits`` unsigned codes (floats: ``x >= 0``
   required, ``input_scale = max(x) / (2^bits - 1)`` unless given, ``x_int = clamp(rint(x /
   input_scale))``; integers are taken as the codes, ``input_scale`` default 1); each layer's
   weights symmetrically per layer (``s = max|W| / (2^(b-1) - 1)``, ``w_int = clamp(round(W /
   s))``); each bias to int32 in units of the layer's accumulator: ``bias_scale = s x`` the
   layer's input scale (``input_scale`` for the first layer, 1 for spikes), ``b_int =
   round(b / bias_scale)``, so a bias adds to the integer sum exactly.
3. **Runs the quantized network twice**: pimsim's own forward pass (float64, integer synaptic
   sums, docs/trace-format.md §6's operation order: these are the spikes and predictions
   stored) and snnTorch (a copy of ``net`` in float64, the quantized weights and biases written
   back, BatchNorm folded, eval mode, the input ``x_int * input_scale`` at every step).
4. **Compares** every spiking layer's output spikes (N x T x neurons) and refuses
   (:class:`ExportAgreementError`, no file written) when a layer agrees on less than
   ``tolerance``; writes the trace to a temporary file, replays it with
   :func:`pimsim.replay.replay_trace` (it must reproduce every bit) and only then moves it
   into place.

The output layer: pimsim's last layer is an integrator (no threshold, no reset), prediction =
``argmax u(T)``. If the net ends in a weighted layer, it integrates its current with leak 1 and
the source model's prediction is ``argmax sum_t out(t)``; if it ends in a ``Leaky``, the
integrator uses its ``beta`` and the source's prediction is the spike count's argmax (reset
subtract/zero) or the final membrane's (reset ``"none"``); ``prediction=`` overrides it.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pimsim.provenance import with_origin
from pimsim.snn.export import ExportError, code_version
from pimsim.snn.models import layer_conv, quantize_int
from pimsim.trace import LayerSpec, PoolSpec, build_meta, conv_out_size, save_trace

RESETS = {0: "subtract", 1: "zero", 2: "none"}
PREDICTION_RULES = ("auto", "spike_count", "membrane")
_WEIGHTED = {nn.Conv2d: "conv2d", nn.Conv3d: "conv3d", nn.Linear: "linear"}
_BATCHNORM = {nn.BatchNorm1d: "linear", nn.BatchNorm2d: "conv2d", nn.BatchNorm3d: "conv3d"}
_POOLS = {nn.MaxPool2d: ("max", 2), nn.MaxPool3d: ("max", 3), nn.AvgPool2d: ("avg", 2),
          nn.AvgPool3d: ("avg", 3)}
_DROPPED = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity)
_SUPPORTED = ("Conv2d, Conv3d, Linear, BatchNorm1d/2d/3d, AvgPool2d/3d, MaxPool2d/3d, Flatten, "
              "Unflatten, Dropout, Identity and snntorch.Leaky")


class ExportAgreementError(ExportError):
    """pimsim's spikes and snnTorch's disagree beyond the tolerance; ``info`` holds the figures."""

    def __init__(self, message: str, *, info: dict[str, Any], key: str | None = None):
        self.info = info
        super().__init__(message, key=key)


@dataclass
class _Layer:
    """One pimsim layer being read from the chain."""

    kind: str
    in_shape: tuple[int, ...]
    sources: list[str]
    module: nn.Module | None = None          # the weighted module of the float64 copy
    weight: torch.Tensor | None = None       # float64, BatchNorm folded
    bias: torch.Tensor | None = None
    kernel: tuple[int, ...] = ()
    stride: tuple[int, ...] = ()
    padding: tuple[int, ...] = ()
    conv_shape: tuple[int, ...] = ()
    pool: PoolSpec | None = None
    out_shape: tuple[int, ...] = ()
    leaky: nn.Module | None = None
    leaky_label: str = ""
    neuron: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return " + ".join(self.sources)


def _label(path: str, m: nn.Module) -> str:
    return f"{path} ({type(m).__name__})"


def _copy(net: nn.Module) -> nn.Module:
    """A deep copy of ``net`` on the CPU. Hidden states left by training (snnTorch keeps each
    neuron's last membrane, still in the autograd graph, which deepcopy refuses) are copied
    detached; ``net`` itself is not changed."""
    memo: dict[int, Any] = {}
    for m in net.modules():
        for v in (*vars(m).values(), *m._buffers.values()):
            if isinstance(v, torch.Tensor) and v.grad_fn is not None:
                memo[id(v)] = v.detach().clone()
    return copy.deepcopy(net, memo).cpu()


def _chain(net: nn.Sequential, path: str = "net") -> list[tuple[str, nn.Module]]:
    """The modules of ``net`` in execution order, nested Sequentials unrolled."""
    out: list[tuple[str, nn.Module]] = []
    for i, m in enumerate(net):
        if isinstance(m, nn.Sequential):
            out.extend(_chain(m, f"{path}[{i}]"))
        else:
            out.append((f"{path}[{i}]", m))
    return out


def _tuple(v: Any, n: int) -> tuple[int, ...]:
    return tuple(int(a) for a in v) if isinstance(v, (tuple, list)) else (int(v),) * n


def _refuse(label: str, message: str) -> ExportError:
    return ExportError(message, key=label)


def _weighted(label: str, m: nn.Module, kind: str, shape: tuple[int, ...]) -> _Layer:
    """A new layer for a Conv2d/Conv3d/Linear module whose input has ``shape``."""
    w = m.weight.detach().double().clone()
    b = None if m.bias is None else m.bias.detach().double().clone()
    if kind == "linear":
        if len(shape) != 1:
            raise _refuse(label, f"its input has shape {shape}: put nn.Flatten() before a "
                          "Linear that follows a convolution")
        if shape[0] != m.in_features:
            raise _refuse(label, f"its input has {shape[0]} features, in_features is "
                          f"{m.in_features}")
        return _Layer(kind, shape, [label], m, w, b, conv_shape=(m.out_features,),
                      out_shape=(m.out_features,))
    nd = 3 if kind == "conv3d" else 2
    if len(shape) != nd + 1 or shape[0] != m.in_channels:
        hint = (" (fold a conv3d output into conv2d channels with nn.Flatten(1, 2))"
                if kind == "conv2d" and len(shape) == 4 else "")
        raise _refuse(label, f"its input has shape {shape}, expected ({m.in_channels}, "
                      f"{', '.join(['...'] * nd)}){hint}")
    if m.groups != 1 or any(d != 1 for d in m.dilation):
        raise _refuse(label, "groups and dilation other than 1 are not in the trace format")
    if m.padding_mode != "zeros":
        raise _refuse(label, f"padding_mode {m.padding_mode!r}: only zero padding is in the "
                      "trace format")
    k, s = _tuple(m.kernel_size, nd), _tuple(m.stride, nd)
    if isinstance(m.padding, str):
        if m.padding == "valid":
            p = (0,) * nd
        elif all(kk % 2 for kk in k) and all(ss == 1 for ss in s):
            p = tuple((kk - 1) // 2 for kk in k)
        else:
            raise _refuse(label, "padding='same' with an even kernel is asymmetric; give the "
                          "padding as numbers")
    else:
        p = _tuple(m.padding, nd)
    spatial = tuple(conv_out_size(n, kk, ss, pp) for n, kk, ss, pp in
                    zip(shape[1:], k, s, p, strict=True))
    if min(spatial) < 1:
        raise _refuse(label, f"its output would be empty (input {shape}, kernel {k})")
    conv = (m.out_channels, *spatial)
    return _Layer(kind, shape, [label], m, w, b, k, s, p, conv, out_shape=conv)


def _fold_batchnorm(label: str, m: nn.Module, layer: _Layer | None, kind: str) -> None:
    if layer is None or layer.leaky is not None:
        raise _refuse(label, "BatchNorm is exported only right after a Conv or Linear (folded "
                      "into its weights and bias); here it would scale spikes")
    if layer.pool is not None:
        raise _refuse(label, "BatchNorm after a pooling layer cannot be folded; put it right "
                      "after the Conv (before the pool)")
    if any("BatchNorm" in s for s in layer.sources):
        raise _refuse(label, "a second BatchNorm on the same layer")
    if kind != layer.kind:
        raise _refuse(label, f"does not match the {layer.kind} layer before it")
    if m.running_mean is None or m.running_var is None:
        raise _refuse(label, "has no running statistics (track_running_stats=False): it "
                      "normalizes with batch statistics, which a trace cannot hold")
    if m.num_features != layer.conv_shape[0]:
        raise _refuse(label, f"{m.num_features} features, the layer has {layer.conv_shape[0]}")
    g = 1.0 / torch.sqrt(m.running_var.detach().double() + float(m.eps))
    shift = torch.zeros_like(g)
    if m.weight is not None:
        g = g * m.weight.detach().double()
    if m.bias is not None:
        shift = m.bias.detach().double()
    b = layer.bias if layer.bias is not None else torch.zeros_like(g)
    layer.weight = layer.weight * g.reshape(-1, *([1] * (layer.weight.dim() - 1)))
    layer.bias = (b - m.running_mean.detach().double()) * g + shift
    layer.sources.append(label)


def _pool(label: str, m: nn.Module, shape: tuple[int, ...]) -> PoolSpec:
    mode, nd = _POOLS[type(m)]
    if len(shape) != nd + 1:
        raise _refuse(label, f"its input has shape {shape}; a {nd}-D pool needs (C, "
                      f"{', '.join(['...'] * nd)})")
    if m.ceil_mode:
        raise _refuse(label, "ceil_mode=True is not in the trace format (floor only)")
    k = _tuple(m.kernel_size, nd)
    s = _tuple(m.stride if m.stride is not None else m.kernel_size, nd)
    p = _tuple(m.padding, nd)
    if mode == "max":
        if any(d != 1 for d in _tuple(m.dilation, nd)) or m.return_indices:
            raise _refuse(label, "dilation and return_indices are not in the trace format")
    else:
        if any(p) and not m.count_include_pad:
            raise _refuse(label, "count_include_pad=False with padding is not in the trace "
                          "format (an average divides by prod(kernel))")
        if m.divisor_override not in (None, math.prod(k)):
            raise _refuse(label, "divisor_override is not in the trace format")
    spec = PoolSpec(mode, k, s, p)
    if min(spec.out_spatial(shape[1:])) < 1:
        raise _refuse(label, f"its output would be empty (input {shape}, kernel {k})")
    return spec


def _flatten(label: str, m: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    full = (0, *shape)  # with the batch dim
    if isinstance(m, nn.Flatten):
        a, b = m.start_dim % len(full), m.end_dim % len(full)
        if a == 0:
            raise _refuse(label, "flattens the batch dimension; use start_dim >= 1")
        return (*shape[:a - 1], math.prod(shape[a - 1:b]), *shape[b:])
    dim = m.dim % len(full) if isinstance(m.dim, int) else -1
    if dim < 1:
        raise _refuse(label, "unflattens the batch dimension")
    sizes = tuple(int(v) for v in m.unflattened_size)
    if math.prod(sizes) != shape[dim - 1]:
        raise _refuse(label, f"sizes {sizes} do not hold {shape[dim - 1]} elements")
    return (*shape[:dim - 1], *sizes, *shape[dim:])


def _channel_values(label: str, what: str, value: torch.Tensor,
                    shape: tuple[int, ...]) -> float | tuple[float, ...]:
    """A Leaky's beta or threshold as one float or one per channel of ``shape``."""
    v = value.detach().double().cpu()
    try:
        full = torch.broadcast_to(v, (1, *shape))[0]
    except RuntimeError:
        raise _refuse(label, f"{what} of shape {tuple(v.shape)} does not broadcast over the "
                      f"layer's neurons {shape}") from None
    per = full.reshape(shape[0], -1)
    if bool((per == per.reshape(-1)[0]).all()):
        return float(per.reshape(-1)[0])
    if not bool((per == per[:, :1]).all()):
        hint = (f" (a ({shape[0]},) tensor broadcasts over the last dim; use shape "
                f"({shape[0]}, {', '.join(['1'] * (len(shape) - 1))}) for one value per "
                "channel)" if v.dim() == 1 and len(shape) > 1 else "")
        raise _refuse(label, f"{what} varies within a channel; the trace format has one value "
                      f"per layer or per output channel{hint}")
    return tuple(float(a) for a in per[:, 0])


def _leaky(label: str, m: nn.Module, layer: _Layer | None) -> None:
    if layer is None or layer.leaky is not None:
        raise _refuse(label, "a Leaky must follow a Conv/Linear (with at most a BatchNorm and a "
                      "pool between them); two Leaky in a row or a Leaky on the input cannot "
                      "be exported")
    if getattr(m, "inhibition", False):
        raise _refuse(label, "inhibition=True is not in the trace format")
    if getattr(m, "state_quant", False):
        raise _refuse(label, "state_quant is not in the trace format")
    gsf = torch.as_tensor(m.graded_spikes_factor).detach()
    if not bool((gsf == 1).all()):
        raise _refuse(label, "graded_spikes_factor other than 1 (graded spikes) is not in the "
                      "trace format")
    reset = RESETS.get(int(m.reset_mechanism_val))
    if reset is None:
        raise _refuse(label, f"unknown reset_mechanism_val {int(m.reset_mechanism_val)}")
    shape = layer.out_shape
    beta = _channel_values(label, "beta", m.beta.detach().clamp(0, 1), shape)
    threshold = _channel_values(label, "threshold", m.threshold, shape)
    for t in (threshold if isinstance(threshold, tuple) else (threshold,)):
        if not (math.isfinite(t) and t > 0):
            raise _refuse(label, f"threshold {t!r}: the trace format needs thresholds > 0")
    layer.leaky = m
    layer.leaky_label = label
    layer.sources.append(label)
    layer.neuron = {"leak": beta, "threshold": threshold, "reset": reset,
                    "reset_delay": bool(m.reset_delay)}


def _read_chain(net: nn.Sequential, in_shape: tuple[int, ...]) -> list[_Layer]:
    """The pimsim layers of an snnTorch ``nn.Sequential`` whose input is (N, *in_shape);
    one-line :class:`ExportError` naming the module for anything the format cannot hold."""
    import snntorch

    layers: list[_Layer] = []
    cur: _Layer | None = None   # a weighted layer still waiting for its Leaky
    shape = tuple(int(s) for s in in_shape)
    for label, m in _chain(net):
        lab = _label(label, m)
        t = type(m)
        if isinstance(m, _DROPPED):
            continue
        if t in _WEIGHTED:
            if cur is not None:
                raise _refuse(lab, f"follows {cur.label} without a Leaky between them; pimsim "
                              "layers are Conv/Linear -> [BatchNorm] -> [pool] -> Leaky")
            cur = _weighted(lab, m, _WEIGHTED[t], shape)
            layers.append(cur)
        elif t in _BATCHNORM:
            _fold_batchnorm(lab, m, cur, _BATCHNORM[t])
        elif t in _POOLS:
            mode = _POOLS[t][0]
            if cur is not None:
                if cur.kind == "linear":
                    raise _refuse(lab, "pooling of a Linear layer's output is not in the trace "
                                  "format (pool a convolution's output)")
                if cur.pool is not None:
                    raise _refuse(lab, f"a second pool on {cur.label}; one pool per layer")
                if cur.kind != {2: "conv2d", 3: "conv3d"}[_POOLS[t][1]]:
                    raise _refuse(lab, f"does not match the {cur.kind} layer before it")
                cur.pool = _pool(lab, m, cur.conv_shape)
                cur.out_shape = (cur.conv_shape[0], *cur.pool.out_spatial(cur.conv_shape[1:]))
                cur.sources.append(lab)
            elif not layers:
                raise _refuse(lab, "pooling of the analog input is not in the trace format; "
                              "pool the data before exporting")
            elif mode == "avg":
                raise _refuse(lab, "average pooling of spikes (after a Leaky) gives "
                              "multi-valued inputs, which the trace format does not hold; "
                              "pool the current before the Leaky (Conv -> AvgPool -> Leaky) "
                              "or use MaxPool")
            else:
                spec = _pool(lab, m, shape)
                pooled = (shape[0], *spec.out_spatial(shape[1:]))
                layers.append(_Layer(f"maxpool{_POOLS[t][1]}d", shape, [lab],
                                     kernel=spec.kernel, stride=spec.stride,
                                     padding=spec.padding, conv_shape=pooled, out_shape=pooled))
            shape = cur.out_shape if cur is not None else layers[-1].out_shape
        elif isinstance(m, (nn.Flatten, nn.Unflatten)):
            if cur is not None:
                raise _refuse(lab, f"between {cur.label} and its Leaky; put Flatten after the "
                              "Leaky")
            shape = _flatten(lab, m, shape)
        elif isinstance(m, snntorch.Leaky):
            _leaky(lab, m, cur)
            cur = None
        elif isinstance(m, snntorch.SpikingNeuron):
            raise _refuse(lab, f"snnTorch {t.__name__} neurons are not in the trace format; "
                          "only snntorch.Leaky (one membrane per neuron, no recurrence)")
        else:
            raise _refuse(lab, f"not supported by export_snntorch (supported: {_SUPPORTED})")
        if cur is not None:
            shape = cur.out_shape
    if not layers:
        raise ExportError("no Conv/Linear layer", key="net")
    if len(layers) < 2:
        raise _refuse(layers[0].label, "the network needs at least two layers (a spiking "
                      "layer and the output layer)")
    if layers[-1].module is None:
        raise _refuse(layers[-1].label, "the network cannot end in a pool of spikes: its last "
                      "layer predicts (add a Linear)")
    for lay in layers[:-1]:
        if lay.module is not None and lay.neuron.get("reset") == "none":
            raise _refuse(lay.leaky_label, "reset_mechanism='none' on a hidden layer is not in "
                          "the trace format (only the last layer integrates without reset)")
    return layers


# ----------------------------------------------------------------------------- quantization


def quantize_input(x: Any, input_bits: int, input_scale: float | None
                   ) -> tuple[np.ndarray, float, np.ndarray | None]:
    """(x_int, input_scale, x as floats or None): the unsigned ``input_bits`` codes of ``x``."""
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    top = 2 ** input_bits - 1
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        a = arr.astype(np.int64)
        if a.size and (a.min() < 0 or a.max() > top):
            raise ExportError(f"integer input codes in [{a.min()}, {a.max()}], expected "
                              f"[0, {top}] for input_bits={input_bits}", key="x")
        return a, float(1.0 if input_scale is None else input_scale), None
    if not np.issubdtype(arr.dtype, np.floating):
        raise ExportError(f"expected a float or integer tensor, got {arr.dtype}", key="x")
    xf = arr.astype(np.float64)
    if not np.isfinite(xf).all():
        raise ExportError("has NaN or infinite values", key="x")
    if xf.size and xf.min() < 0:
        raise ExportError(f"has negative values (min {xf.min():.4g}); the trace's analog input "
                          "is unsigned: shift the data to >= 0 (e.g. x - x.min()) and train on "
                          "the shifted input, or pass integer codes", key="x")
    if input_scale is None:
        mx = float(xf.max()) if xf.size else 0.0
        input_scale = mx / top if mx > 0 else 1.0
    if not (math.isfinite(input_scale) and input_scale > 0):
        raise ExportError(f"input_scale {input_scale!r}: expected a finite number > 0",
                          key="input_scale")
    return np.clip(np.rint(xf / input_scale), 0, top).astype(np.int64), float(input_scale), xf


def _quantize_layer(lay: _Layer, bits: int, in_scale: float
                    ) -> tuple[np.ndarray, float, np.ndarray | None, float | None]:
    """(w_int, weight_scale, b_int or None, bias_scale or None); writes the quantized weights
    and bias back into ``lay.module`` (the float64 copy)."""
    wi, ws = quantize_int(lay.weight, bits)
    dtype = np.int8 if bits <= 8 else np.int16
    w_int = wi.numpy().astype(dtype)
    m = lay.module
    m.weight.data = torch.from_numpy(w_int.astype(np.float64) * ws).reshape(m.weight.shape)
    if lay.bias is None:
        return w_int, ws, None, None
    bias_scale = ws * in_scale
    q = torch.round(lay.bias / bias_scale)
    if bool((q.abs() > 2**31 - 1).any()):
        raise ExportError(f"a bias of {float(lay.bias.abs().max()):.4g} is beyond int32 times "
                          f"bias_scale {bias_scale:.4g}", key=f"{lay.label}")
    b_int = q.numpy().astype(np.int32)
    real = torch.from_numpy(b_int.astype(np.float64) * bias_scale)
    if m.bias is None:
        m.bias = nn.Parameter(real)
    else:
        m.bias.data = real
    return w_int, ws, b_int, bias_scale


# ----------------------------------------------------------------------------- forward passes


def _current(spec: LayerSpec, s: torch.Tensor, w: np.ndarray, scale: float,
             bias: np.ndarray | None) -> np.ndarray:
    """The neurons' input (M, *out_shape): ``float64(sum w_int * s) * scale``, then ``+
    float64(bias) * bias_scale`` and the pool, in :mod:`pimsim.replay`'s order."""
    from pimsim.replay import bias_current, neuron_input

    acc = layer_conv(spec, s, torch.from_numpy(w.astype(np.float64)))  # exact integers
    return neuron_input(spec, acc.numpy() * scale, bias_current(spec, bias))


@torch.no_grad()
def pimsim_forward(specs: list[LayerSpec], weights: dict[str, np.ndarray],
                   biases: dict[str, np.ndarray], x_int: np.ndarray, input_scale: float,
                   timesteps: int, *, batch: int = 64) -> tuple[list[np.ndarray | None],
                                                                np.ndarray]:
    """The trace's network as pimsim replays it (:mod:`pimsim.replay`'s pooling and LIF, the
    integer sums by PyTorch in float64, exact): every layer's output spikes (bool (N, T,
    *out_shape); None for the output layer) and the output layer's final membrane (N, K)."""
    from pimsim.replay import integrate, lif, neuron_params, pool_spikes

    n = x_int.shape[0]
    outs: list[list[np.ndarray]] = [[] for _ in specs[:-1]]
    final = []
    for start in range(0, n, batch):
        xb = torch.from_numpy(x_int[start:start + batch].astype(np.float64))
        nb = xb.shape[0]
        s0 = specs[0]
        cur = _current(s0, xb, weights[s0.name],
                       float(s0.weight_scale) * float(input_scale), biases.get(s0.name))
        s = lif(cur, timesteps, *neuron_params(s0), True, s0.reset, s0.reset_delay)
        outs[0].append(s)
        for i, spec in enumerate(specs[1:], start=1):
            flat = s.reshape(nb * timesteps, *spec.in_shape)
            if spec.is_pool:
                s = pool_spikes(flat, spec).reshape(nb, timesteps, *spec.out_shape)
                outs[i].append(s)
                continue
            cur = _current(spec, torch.from_numpy(flat.astype(np.float64)),
                           weights[spec.name], float(spec.weight_scale), biases.get(spec.name))
            cur = cur.reshape(nb, timesteps, *spec.out_shape)
            leak, threshold = neuron_params(spec)
            if i < len(specs) - 1:
                s = lif(cur, timesteps, leak, threshold, False, spec.reset, spec.reset_delay)
                outs[i].append(s)
            else:  # the integrator
                final.append(integrate(cur, timesteps, leak).reshape(nb, -1))
    return [np.concatenate(o, 0) for o in outs] + [None], np.concatenate(final, 0)


@torch.no_grad()
def snntorch_forward(steps: list[tuple[str, nn.Module]], x: torch.Tensor, timesteps: int,
                     record: set[int], *, batch: int = 64
                     ) -> tuple[dict[int, np.ndarray], np.ndarray, np.ndarray | None]:
    """Run the chain ``steps`` (modules in order; Leaky driven step by step from a zero
    membrane) with the constant input ``x`` for ``timesteps`` steps.

    Returns the outputs of the modules at the positions in ``record`` (N, T, ...), the last
    module's output (N, T, ...) and, when it is a Leaky, its final membrane (N, ...)."""
    import snntorch

    dtype = x.dtype
    rec: dict[int, list[np.ndarray]] = {i: [] for i in record}
    last_out, last_mem = [], []
    leakies = [m for _, m in steps if isinstance(m, snntorch.Leaky)]
    for start in range(0, x.shape[0], batch):
        xb = x[start:start + batch]
        for m in leakies:
            m.mem = torch.zeros(0, dtype=dtype)
        per: dict[int, list[torch.Tensor]] = {i: [] for i in record}
        lasts: list[torch.Tensor] = []
        for _ in range(timesteps):
            h = xb
            for j, (_, m) in enumerate(steps):
                out = m(h)
                if isinstance(m, snntorch.Leaky):
                    out = out[0] if isinstance(out, tuple) else out
                    out = out.to(dtype)
                h = out
                if j in per:
                    per[j].append(h.detach().clone())
            lasts.append(h.detach().clone())
        for j, v in per.items():
            rec[j].append(torch.stack(v, 1).numpy())
        last_out.append(torch.stack(lasts, 1).numpy())
        if steps and isinstance(steps[-1][1], snntorch.Leaky):
            last_mem.append(steps[-1][1].mem.detach().clone().numpy())
    return ({j: np.concatenate(v, 0) for j, v in rec.items()}, np.concatenate(last_out, 0),
            np.concatenate(last_mem, 0) if last_mem else None)


def _steps(net: nn.Sequential, *, skip_batchnorm: bool) -> list[tuple[str, nn.Module]]:
    """The modules the forward pass calls, in order (Dropout and Identity left out; BatchNorm
    too when folded)."""
    out = []
    for label, m in _chain(net):
        if isinstance(m, _DROPPED) or (skip_batchnorm and type(m) in _BATCHNORM):
            continue
        out.append((label, m))
    return out


def _near_ties(u: np.ndarray) -> int:
    """Samples whose two largest final membranes are equal up to float rounding (1e-9
    relative): their argmax can flip between two correct computations."""
    if u.shape[1] < 2:
        return 0
    top = np.sort(u, axis=1)[:, -2:]
    return int(np.sum(top[:, 1] - top[:, 0] <= 1e-9 * np.maximum(1.0, np.abs(top[:, 1]))))


def _predict(rule: str, outputs: np.ndarray, mem: np.ndarray | None) -> np.ndarray:
    n = outputs.shape[0]
    if rule == "spike_count":
        return outputs.reshape(n, outputs.shape[1], -1).sum(1).argmax(1)
    if rule == "membrane":
        return mem.reshape(n, -1).argmax(1)
    return outputs.reshape(n, outputs.shape[1], -1).sum(1).argmax(1)  # output_sum


# ----------------------------------------------------------------------------- export


def export_snntorch(out: str | os.PathLike[str], net: nn.Sequential, x: Any, *, timesteps: int,
                    labels: Any, weight_bits: int = 6, input_bits: int = 8,
                    input_scale: float | None = None, dataset: str = "custom",
                    model: str = "snntorch", provenance: dict[str, Any] | None = None,
                    tolerance: float = 0.999, prediction: str = "auto",
                    metrics: dict[str, Any] | None = None, batch: int = 64
                    ) -> tuple[Path, dict[str, Any]]:
    """Export an snnTorch ``nn.Sequential`` as a trace (format v2), checked against snnTorch.

    ``x``: the analog input (N, *in_shape), applied at every one of ``timesteps`` steps
    (direct encoding): floats >= 0 (quantized to ``input_bits``, ``input_scale`` =
    ``max(x) / (2^bits - 1)`` unless given) or integer codes (real input = ``x *
    input_scale``, default 1). ``labels``: (N,) classes. Weights are quantized to
    ``weight_bits`` per layer, biases to int32 with ``bias_scale = weight_scale x`` the
    layer's input scale. The quantized network runs in snnTorch (float64) and in pimsim;
    each spiking layer's agreement (fraction of its N x T x neurons output bits that are
    equal) goes into ``meta.metrics.export_agreement`` and ``info['agreement']``, and an
    agreement below ``tolerance`` in any layer raises :class:`ExportAgreementError` with no
    file written. ``prediction``: the source model's prediction rule when the net ends in a
    Leaky (``auto``: spike count, or membrane for ``reset_mechanism='none'``), compared with
    pimsim's (``argmax`` of the integrator's final membrane) in ``info['prediction_agreement']``.
    ``provenance['data']``: ``real``, ``surrogate``, ``synthetic`` or ``unspecified``
    (default; free text is kept as ``data_source``).

    Returns the path and ``info`` (agreement per layer, worst layer, prediction agreement,
    accuracies, spike rates, layer -> modules map, the replay check, bytes).
    """
    try:
        import snntorch
    except ImportError:
        raise ExportError("snntorch is not installed (pip install 'pimsim[train]')",
                          key="net") from None
    _check_request(net, timesteps, weight_bits, input_bits, tolerance, prediction)
    x_codes, input_scale, x_float = quantize_input(x, input_bits, input_scale)
    if x_codes.ndim < 2 or x_codes.shape[0] < 1:
        raise ExportError(f"expected (N, *in_shape) with N >= 1, got {x_codes.shape}", key="x")
    n = x_codes.shape[0]
    labels = np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ExportError(f"expected {n} integer labels, got {labels.dtype} {labels.shape}",
                          key="labels")

    ref = _copy(net).double().eval()
    chain = _read_chain(ref, x_codes.shape[1:])
    specs, weights, biases = _layer_specs(chain, weight_bits, input_scale)
    x_int = x_codes.reshape(n, *specs[0].in_shape)

    # pimsim's forward pass (stored) and snnTorch's (the reference)
    p_outs, p_final = pimsim_forward(specs, weights, biases, x_int, input_scale, timesteps,
                                     batch=batch)
    preds = p_final.argmax(1).astype(np.int64)
    steps = _steps(ref, skip_batchnorm=True)
    ends = _ends(chain, steps)
    x_ref = torch.from_numpy(x_codes.astype(np.float64) * input_scale)
    s_rec, s_last, s_mem = snntorch_forward(steps, x_ref, timesteps, set(ends[:-1]),
                                            batch=batch)
    rule = ("output_sum" if chain[-1].leaky is None else prediction if prediction != "auto"
            else "membrane" if chain[-1].neuron["reset"] == "none" else "spike_count")
    s_preds = _predict(rule, s_last, s_mem)
    agreement = {spec.name: float(np.mean(
        (s_rec[ends[j]].reshape(n, timesteps, *spec.out_shape) > 0.5) == p_outs[j]))
        for j, spec in enumerate(specs[:-1])}
    worst = min(agreement, key=agreement.get)
    info: dict[str, Any] = {
        "samples": int(n),
        "agreement": agreement,
        "worst_layer": worst,
        "min_agreement": agreement[worst],
        "tolerance": float(tolerance),
        "prediction_rule": rule,
        "prediction_agreement": float(np.mean(preds == s_preds)),
        "prediction_near_ties": _near_ties(p_final),
        "trace_accuracy": float(np.mean(preds == labels)),
        "snntorch_accuracy": float(np.mean(s_preds == labels)),
        # the user's own model (unquantized, BatchNorm as trained), for information
        "float_model": _float_model(net, x_float if x_float is not None else x_ref.numpy(),
                                    chain, specs, p_outs, preds, rule, timesteps, batch),
        "spike_rates": {s.name: float(o.mean()) for s, o in zip(specs, p_outs) if o is not None},
        "layers": {s.name: lay.label for s, lay in zip(specs, chain, strict=True)},
        "input_scale": input_scale,
    }
    if x_float is not None:
        info["input_max_abs_error"] = float(np.abs(x_float - x_codes * input_scale).max())
    if rule in ("membrane", "output_sum"):
        ref_u = s_mem if rule == "membrane" else s_last.sum(1)
        info["output_max_abs_diff"] = float(np.abs(ref_u.reshape(n, -1) - p_final).max())
    if agreement[worst] < tolerance:
        raise _disagreement(info, specs[list(agreement).index(worst)])

    versions = f"snntorch {snntorch.__version__} (torch {torch.__version__})"
    meta_metrics = dict(metrics or {})
    meta_metrics.update(
        export_agreement=agreement,
        export_check={"reference": f"{versions}, the quantized network in float64",
                      "agreement": agreement, "tolerance": float(tolerance),
                      "worst_layer": worst, "prediction_rule": rule,
                      "prediction_agreement": info["prediction_agreement"]},
        trace_accuracy=info["trace_accuracy"], spike_rates=info["spike_rates"])
    prov = {
        "data": "unspecified",
        "command": "pimsim.snn.export.export_snntorch",
        "code": code_version(),
        "framework": f"snntorch {snntorch.__version__}",
        "torch": torch.__version__,
        "source_modules": info["layers"],
        "quantization": (f"input: {input_bits}-bit unsigned, input_scale {input_scale!r}; "
                         f"weights: {weight_bits}-bit symmetric per layer; biases: int32, "
                         "bias_scale = weight_scale x the layer's input scale; BatchNorm "
                         "folded (running statistics)"),
        "prediction": f"pimsim: argmax of the integrator's final membrane; snnTorch: {rule}",
        **(provenance or {}),
    }
    meta = build_meta(dataset=dataset, model=model, layers=specs, timesteps=timesteps,
                      num_samples=n, input_bits=input_bits, input_scale=input_scale,
                      weight_bits=weight_bits, provenance=with_origin(prov, data=None,
                                                                      trained=True),
                      metrics=meta_metrics)
    spikes = {specs[j + 1].name: p_outs[j].reshape(n, timesteps, *specs[j + 1].in_shape)
              for j in range(len(specs) - 1)}
    info["replay"] = _write_checked(
        Path(out), meta=meta, input=x_int.astype(np.uint8 if input_bits <= 8 else np.uint16),
        weights=weights, biases=biases, spikes=spikes, labels=labels.astype(np.int64),
        predictions=preds)
    info["bytes"] = Path(out).stat().st_size
    return Path(out), info


def _check_request(net: Any, timesteps: Any, weight_bits: Any, input_bits: Any,
                   tolerance: Any, prediction: Any) -> None:
    if not isinstance(net, nn.Sequential):
        raise ExportError(f"expected an nn.Sequential, got {type(net).__name__} (its forward "
                          "cannot be read: put the layers in nn.Sequential, Leaky with "
                          "init_hidden=True)", key="net")
    if not (isinstance(timesteps, int) and timesteps >= 1):
        raise ExportError(f"timesteps {timesteps!r}: expected an integer >= 1", key="timesteps")
    if not (isinstance(weight_bits, int) and 2 <= weight_bits <= 16):
        raise ExportError(f"weight_bits {weight_bits!r}: expected 2..16", key="weight_bits")
    if not (isinstance(input_bits, int) and 1 <= input_bits <= 16):
        raise ExportError(f"input_bits {input_bits!r}: expected 1..16", key="input_bits")
    if not (isinstance(tolerance, (int, float)) and 0.0 < tolerance <= 1.0):
        raise ExportError(f"tolerance {tolerance!r}: expected a fraction in (0, 1]",
                          key="tolerance")
    if prediction not in PREDICTION_RULES:
        raise ExportError(f"prediction {prediction!r}: expected one of "
                          f"{', '.join(PREDICTION_RULES)}", key="prediction")


def _layer_specs(chain: list[_Layer], weight_bits: int, input_scale: float
                 ) -> tuple[list[LayerSpec], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Names, quantized weights and biases (written back into the float64 copy) and the
    LayerSpecs of the chain; the last layer is the integrator."""
    specs: list[LayerSpec] = []
    weights: dict[str, np.ndarray] = {}
    biases: dict[str, np.ndarray] = {}
    for j, lay in enumerate(chain):
        name = f"layer{j}_{lay.kind}"
        io = "analog" if j == 0 else "spikes"
        if lay.module is None:
            specs.append(LayerSpec(name, lay.kind, lay.in_shape, lay.out_shape, lay.kernel,
                                   lay.stride, lay.padding, io, "none", 1.0, 1.0, 1.0,
                                   weight_bits))
            continue
        w_int, ws, b_int, bias_scale = _quantize_layer(
            lay, weight_bits, input_scale if j == 0 else 1.0)
        weights[name] = w_int
        if b_int is not None:
            biases[name] = b_int
        nrn = lay.neuron
        if j == len(chain) - 1:
            neuron = {"neuron": "integrator", "threshold": nrn.get("threshold", 1.0),
                      "leak": nrn.get("leak", 1.0)}
        else:
            neuron = {"neuron": "lif", "threshold": nrn["threshold"], "leak": nrn["leak"],
                      "reset": nrn["reset"], "reset_delay": nrn["reset_delay"]}
        specs.append(LayerSpec(
            name=name, kind=lay.kind, in_shape=lay.in_shape, out_shape=lay.out_shape,
            kernel=lay.kernel, stride=lay.stride, padding=lay.padding, input=io,
            weight_scale=float(ws), weight_bits=weight_bits, bias_scale=bias_scale,
            pool=lay.pool, **neuron))
    return specs, weights, biases


def _disagreement(info: dict[str, Any], spec: LayerSpec) -> ExportAgreementError:
    worst = info["worst_layer"]
    hint = (" (snnTorch's reset_delay=False with reset 'subtract' does not fire while the "
            "membrane left after the previous reset is above threshold, pimsim's LIF does: "
            "use reset_delay=True, snnTorch's default)"
            if spec.weighted and spec.reset == "subtract" and not spec.reset_delay else "")
    return ExportAgreementError(
        f"layer {worst} ({info['layers'][worst]}) agrees with snnTorch on "
        f"{100 * info['min_agreement']:.3f} % of its spikes, below the tolerance "
        f"{100 * info['tolerance']:.3f} %{hint}; no trace written (the exception's info has "
        "every layer's agreement)", info=info, key="export_snntorch")


def _ends(chain: list[_Layer], steps: list[tuple[str, nn.Module]]) -> list[int]:
    """For each pimsim layer, the position in ``steps`` of the module whose output is the
    layer's output (its Leaky, its pool, or its weighted module)."""
    pos = {label: j for j, (label, _) in enumerate(steps)}
    return [max(pos[p] for p in (s.rsplit(" (", 1)[0] for s in lay.sources) if p in pos)
            for lay in chain]


def _float_model(net: nn.Sequential, x: np.ndarray, chain: list[_Layer],
                 specs: list[LayerSpec], p_outs: list[np.ndarray | None], preds: np.ndarray,
                 rule: str, timesteps: int, batch: int) -> dict[str, Any]:
    """The user's unquantized model (its own dtype, BatchNorm as is) against the trace."""
    orig = _copy(net).eval()
    steps = _steps(orig, skip_batchnorm=False)
    dtype = next((p.dtype for p in orig.parameters()), torch.float32)
    ends = _ends(chain, steps)
    rec, last, mem = snntorch_forward(steps, torch.from_numpy(x).to(dtype), timesteps,
                                      set(ends[:-1]), batch=batch)
    n = x.shape[0]
    agree = {}
    for j, spec in enumerate(specs[:-1]):
        s = rec[ends[j]].reshape(n, timesteps, *spec.out_shape) > 0.5
        agree[spec.name] = float(np.mean(s == p_outs[j]))
    fp = _predict(rule, last, mem)
    return {"spike_agreement": agree, "prediction_agreement": float(np.mean(fp == preds)),
            "predictions": fp.astype(np.int64).tolist()}


def _write_checked(out: Path, **arrays: Any) -> dict[str, Any]:
    """Write the trace to a temporary file beside ``out``, replay it (every bit and every
    prediction must be reproduced), then move it to ``out``. Returns the replay's figures."""
    from pimsim.replay import replay_trace

    tmp = out.with_name(f".{out.name}.export-{os.getpid()}.npz")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        save_trace(tmp, **arrays)
        rep = replay_trace(str(tmp))
        if rep["spike_agreement"] != 1.0 or rep["prediction_agreement"] != 1.0:
            bad = [k for k, v in rep["layers"].items() if v["mismatches"]]
            raise ExportError(
                f"pimsim's replay of the written trace differs from the exporter's forward "
                f"pass (spike agreement {rep['spike_agreement']:.6f}, predictions "
                f"{rep['prediction_agreement']:.4f}, layers {bad}); this is a pimsim bug: "
                "please report it", key="export_snntorch")
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return {"spike_agreement": rep["spike_agreement"],
            "prediction_agreement": rep["prediction_agreement"]}
