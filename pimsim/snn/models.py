"""The paper's networks in PyTorch, as CNNs and as SNNs, built from pimsim LayerSpecs.

Both networks are SNN-compatible: no biases, no batch norm, no max pooling. Their geometry comes
from :mod:`pimsim.networks` (HybridSN) or :func:`conv3d_layers` (3D-only), so a trained model's
layers are exactly those the trace and the simulator describe. Tensors are channels first:
conv3d (N, C, D, H, W) with D spectral; the 3D->2D fold reshapes (C, D, H, W) to (C*D, H, W) in
C order (2D channel = c * D + d), as ``torch.reshape``/``numpy.reshape`` do.

LIF neuron of every hidden layer l (docs/training.md)::

    u_l(t) = leak_l * u_l(t-1) + W_l * o_{l-1}(t)        (o_{-1}(t) = x, analog, every step)
    o_l(t) = [u_l(t) > v_l]                               (Heaviside)
    u_l(t) <- u_l(t) - v_l * o_l(t)                       (soft reset)

The output layer integrates without spiking: ``u_L(t) = leak_L u_L(t-1) + W_L o_{L-1}(t)``,
logits = ``u_L(T)`` (leak_L fixed at 1). Surrogate gradient:
``do/du = 0.3 max(0, 1 - |z|) / v``, ``z = u / v - 1``. Weights are fake-quantized with a
straight-through estimator: ``s = max|W| / (2^(b-1) - 1)``, ``W_q = s * clamp(round(W/s))``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from pimsim.errors import PimsimError
from pimsim.networks import hybridsn_layers
from pimsim.trace import LayerSpec, conv_out_size

MODELS = ("hybrid", "3d")


def conv3d_layers(bands: int, classes: int, *, window: int = 25,
                  weight_bits: int = 6) -> list[LayerSpec]:
    """The 3D-only network: HybridSN's three conv3d layers, a fourth conv3d 3x3x3/64 in place
    of the conv2d (kernel depth clipped to the remaining spectral depth), then linear 256, 128,
    classes. Valid padding, stride 1."""
    layers: list[LayerSpec] = []
    shape: tuple[int, ...] = (1, bands, window, window)
    for i, (ch, k) in enumerate([(8, (7, 3, 3)), (16, (5, 3, 3)), (32, (3, 3, 3)),
                                 (64, (3, 3, 3))]):
        k = (min(k[0], shape[1]), k[1], k[2])
        spatial = tuple(conv_out_size(n, kk, 1, 0) for n, kk in zip(shape[1:], k, strict=True))
        spec = LayerSpec(f"conv3d_{i + 1}", "conv3d", tuple(shape), (ch, *spatial), k, (1, 1, 1),
                         (0, 0, 0), "analog" if i == 0 else "spikes", "lif", 1.0, 1.0, 1.0,
                         weight_bits)
        layers.append(spec)
        shape = spec.out_shape
    features = math.prod(shape)
    for i, out in enumerate([256, 128, classes]):
        layers.append(LayerSpec(f"linear_{i + 1}", "linear", (features,), (out,), (), (), (),
                                "spikes", "integrator" if i == 2 else "lif", 1.0, 1.0, 1.0,
                                weight_bits))
        features = out
    return layers


def build_layers(model: str, bands: int, classes: int, *, window: int = 25,
                 weight_bits: int = 6) -> list[LayerSpec]:
    """LayerSpecs of a named model ('hybrid' = HybridSN, '3d' = 3D-only)."""
    if model not in MODELS:
        raise PimsimError(f"unknown model {model!r}; expected one of {', '.join(MODELS)}",
                          key="model")
    if window < 9 or bands < 13:
        raise PimsimError(f"the {model} network needs at least 13 spectral components and a "
                          f"9x9 window (three valid 7/5/3-deep convolutions and a 3x3 one); got "
                          f"{bands} components, window {window}", key="components")
    if model == "hybrid":
        return hybridsn_layers(bands, classes, window=window, weight_bits=weight_bits)
    return conv3d_layers(bands, classes, window=window, weight_bits=weight_bits)



def layer_conv(spec: LayerSpec, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``W * x`` for one layer (conv3d, conv2d or linear, no bias), with x reshaped to the
    layer's in_shape (batch first)."""
    x = x.reshape(x.shape[0], *spec.in_shape)
    if spec.kind == "conv3d":
        return F.conv3d(x, w, stride=spec.stride, padding=spec.padding)
    if spec.kind == "conv2d":
        return F.conv2d(x, w, stride=spec.stride, padding=spec.padding)
    return F.linear(x, w)

class SpikeFn(torch.autograd.Function):
    """Heaviside spike ``o = [u > v]`` with the surrogate ``0.3 max(0, 1 - |u/v - 1|)``."""

    @staticmethod
    def forward(ctx, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(u, v)
        return (u > v).to(u.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        u, v = ctx.saved_tensors
        z = u / v - 1.0
        sg = 0.3 * torch.clamp(1.0 - z.abs(), min=0.0) * grad
        gu = sg / v
        gv = (sg * (-u / (v * v))).sum().reshape(v.shape)
        return gu, gv


def fake_quant(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Uniform symmetric fake quantization with a straight-through estimator (per tensor)."""
    qmax = 2 ** (bits - 1) - 1
    s = w.detach().abs().max().clamp(min=1e-12) / qmax
    wq = torch.clamp(torch.round(w / s), -qmax, qmax) * s
    return w + (wq - w).detach()


def quantize_int(w: torch.Tensor, bits: int) -> tuple[torch.Tensor, float]:
    """Integer weights and their scale: ``w_int = clamp(round(W/s))``, ``s = max|W|/qmax``."""
    qmax = 2 ** (bits - 1) - 1
    s = float(w.detach().abs().max().clamp(min=1e-12)) / qmax
    wi = torch.clamp(torch.round(w.detach().double() / s), -qmax, qmax).to(torch.int16)
    return wi, s


class SpikingNet(nn.Module):
    """A chain of bias-free conv3d/conv2d/linear layers run as a ReLU CNN or as an LIF SNN.

    Parameters: one weight per layer (shape ``LayerSpec.weight_shape``), one threshold and one
    leak per layer (the output integrator's threshold is unused and its leak fixed at 1).
    """

    def __init__(self, layers: list[LayerSpec], *, dropout: float = 0.4, seed: int = 0):
        super().__init__()
        self.specs = list(layers)
        self.dropout = dropout
        g = torch.Generator().manual_seed(seed)
        ws = []
        for spec in self.specs:
            w = torch.empty(spec.weight_shape)
            fan_in = spec.fan_in
            bound = 1.0 / math.sqrt(fan_in)  # PyTorch's default conv/linear init
            w.uniform_(-bound, bound, generator=g)
            ws.append(nn.Parameter(w))
        self.weights = nn.ParameterList(ws)
        n = len(self.specs)
        self.threshold = nn.Parameter(torch.ones(n))
        self.leak = nn.Parameter(torch.ones(n))
        self.weight_bits: int | None = None  # None: full precision

    # -------------------------------------------------------------- helpers
    def weight(self, i: int) -> torch.Tensor:
        w = self.weights[i]
        return fake_quant(w, self.weight_bits) if self.weight_bits else w

    def layer_current(self, i: int, x: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """``W_i * x`` with x reshaped to the layer's in_shape (batch first)."""
        return layer_conv(self.specs[i], x, self.weight(i) if w is None else w)

    def _dropout_after(self, i: int) -> bool:
        s = self.specs
        return s[i].kind == "linear" and i < len(s) - 1

    @torch.no_grad()
    def data_init(self, x: torch.Tensor) -> None:
        """Data-dependent initialisation (LSUV-like, no biases needed): layer 0's kernels are
        made zero-mean (the shifted, all-positive input then adds no common offset), and every
        layer's weights are scaled so its pre-activation has unit standard deviation on ``x``.
        """
        w0 = self.weights[0]
        w0 -= w0.mean(dim=tuple(range(1, w0.dim())), keepdim=True)
        h = x
        for i in range(len(self.specs)):
            cur = self.layer_current(i, h)
            std = float(cur.std())
            if std > 0:
                self.weights[i] /= std
                cur = cur / std
            h = F.relu(cur)

    # -------------------------------------------------------------- CNN
    def forward_cnn(self, x: torch.Tensor) -> torch.Tensor:
        """Iso-architecture CNN: ReLU after every hidden layer, dropout 0.4 after hidden
        linear layers (as HybridSN). ``x``: analog input (N, *in_shape of layer 0)."""
        h = x
        for i in range(len(self.specs)):
            h = self.layer_current(i, h)
            if i < len(self.specs) - 1:
                h = F.relu(h)
                if self._dropout_after(i) and self.training and self.dropout > 0:
                    h = F.dropout(h, self.dropout, training=True)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # CNN by default
        return self.forward_cnn(x)

    # -------------------------------------------------------------- SNN
    def lif(self, current: torch.Tensor, i: int, timesteps: int,
            constant: bool = False) -> torch.Tensor:
        """Run layer i's LIF neurons over T steps. ``current`` is (T*N, ...) in time-major
        order, or (N, ...) when ``constant`` (same input every step). Returns spikes (T*N, ...).
        """
        v = self.threshold[i].clamp(min=1e-3)
        leak = self.leak[i].clamp(0.0, 1.0)
        cur = current if constant else current.reshape(timesteps, -1, *current.shape[1:])
        u = torch.zeros_like(cur if constant else cur[0])
        out = []
        for t in range(timesteps):
            u = leak * u + (cur if constant else cur[t])
            o = SpikeFn.apply(u, v)
            u = u - v * o.detach()
            out.append(o)
        return torch.cat(out, 0)

    def forward_snn(self, x: torch.Tensor, timesteps: int, *,
                    record: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """LIF SNN over ``timesteps`` with the analog input applied at every step.

        Layer by layer: a layer's currents at all T steps are one batched conv over (T*N) spike
        maps, then the LIF recurrence runs over T. Returns the logits (final output potential,
        (N, classes)) and, if ``record``, every spiking layer's output spikes (T*N, ...), t-major.
        """
        n = x.shape[0]
        last = len(self.specs) - 1
        rec: list[torch.Tensor] = []
        cur0 = self.layer_current(0, x)  # constant over time (direct input)
        s = self.lif(cur0, 0, timesteps, constant=True)
        if record:
            rec.append(s)
        masks = {}
        for i in range(1, last + 1):
            cur = self.layer_current(i, s)
            if i == last:
                leak = 1.0
                cur = cur.reshape(timesteps, n, -1)
                u = torch.zeros_like(cur[0])
                for t in range(timesteps):
                    u = leak * u + cur[t]
                return u, rec
            s = self.lif(cur, i, timesteps)
            if self._dropout_after(i) and self.training and self.dropout > 0:
                if i not in masks:  # one mask per sample, fixed across time steps
                    keep = torch.rand((n, *s.shape[1:]), device=s.device) >= self.dropout
                    masks[i] = keep.to(s.dtype) / (1.0 - self.dropout)
                s = (s.reshape(timesteps, n, *s.shape[1:]) * masks[i]).reshape(s.shape)
            if record:
                rec.append(s)
        raise AssertionError("unreachable")
