"""Export trained SNNs as traces (docs/trace-format.md).

``export_run`` and ``export_torch_snn`` write networks without trace format v2 features (as
below); :func:`export_snntorch` (in :mod:`pimsim.snn.export_snntorch`, re-exported here) writes
snnTorch networks with biases, BatchNorm, pooling and snnTorch's reset modes
(docs/own-network.md).

The exported network is the *quantized* SNN, evaluated once more in float64 with integer
arithmetic wherever the hardware has it, so that :func:`pimsim.replay.replay_trace` can
reproduce every spike bit for bit:

* weights: ``w_int = clamp(round(W / s), -(2^(b-1) - 1), 2^(b-1) - 1)``, ``s = max|W| / (2^(b-1)-1)``
  (per layer, stored as ``weight_scale``);
* layer 0 current (constant over time, direct input):
  ``I_0 = float64(sum w_int * x_int) * (weight_scale_0 * input_scale)``;
* layer l >= 1 current: ``I_l(t) = float64(sum w_int * o_{l-1}(t)) * weight_scale_l``
  (the integer sums are exact in float64, whatever the summation order);
* LIF, in this exact operation order: ``u = leak * u``; ``u = u + I``; ``o = u > v``;
  ``u = u - v * o``. The output layer: ``u = leak * u``; ``u = u + I``; prediction =
  ``argmax u(T)`` (first maximum).

The 3D->2D fold is ``reshape`` in C order: conv3d output (C, D, H, W) -> conv2d input
(C*D, H, W), channel ``c*D + d``; flatten is C-order too.
"""

from __future__ import annotations

import math
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import pimsim
from pimsim.errors import PimsimError
from pimsim.provenance import with_origin
from pimsim.snn.data import stratified_subset
from pimsim.snn.models import layer_conv, quantize_int
from pimsim.trace import LayerSpec, build_meta, conv_out_size, save_trace


class ExportError(PimsimError):
    """A model or request cannot be exported as a trace."""


def __getattr__(name: str) -> Any:
    """``export_snntorch`` and ``ExportAgreementError`` live in
    :mod:`pimsim.snn.export_snntorch` (imported on first use: it imports this module)."""
    if name in ("export_snntorch", "ExportAgreementError"):
        from pimsim.snn import export_snntorch as mod

        return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@torch.no_grad()
def reference_snn(layers: Sequence[LayerSpec], int_weights: Sequence[np.ndarray],
                  x_int: np.ndarray, input_scale: float, timesteps: int, *,
                  batch: int = 16) -> tuple[list[np.ndarray], np.ndarray]:
    """Run the quantized SNN exactly as the trace defines it (module docstring).

    Returns every layer's *input* spikes for layers 1.. (bool, (N, T, *in_shape)) and the
    final output potentials (N, classes), float64.
    """
    n = x_int.shape[0]
    ws = [torch.from_numpy(np.asarray(w, dtype=np.float64)) for w in int_weights]
    spikes: list[list[np.ndarray]] = [[] for _ in layers[1:]]
    logits = []
    last = len(layers) - 1
    for start in range(0, n, batch):
        xb = torch.from_numpy(np.asarray(x_int[start:start + batch], dtype=np.float64))
        nb = xb.shape[0]
        cur = layer_conv(layers[0], xb, ws[0]) * (float(layers[0].weight_scale) *
                                                 float(input_scale))
        u = torch.zeros_like(cur)
        v, leak = float(layers[0].threshold), float(layers[0].leak)
        outs = []
        for _ in range(timesteps):
            u = u * leak
            u = u + cur
            o = u > v
            u = u - v * o.double()
            outs.append(o)
        s = torch.stack(outs, 1)  # (nb, T, *out_shape)
        for i in range(1, last + 1):
            spec = layers[i]
            s = s.reshape(nb, timesteps, *spec.in_shape)
            spikes[i - 1].append(s.numpy().astype(bool))
            flat = s.reshape(nb * timesteps, *spec.in_shape).double()
            cur = layer_conv(spec, flat, ws[i]) * float(spec.weight_scale)
            cur = cur.reshape(nb, timesteps, *cur.shape[1:])
            u = torch.zeros_like(cur[:, 0])
            v, leak = float(spec.threshold), float(spec.leak)
            outs = []
            for t in range(timesteps):
                u = u * leak
                u = u + cur[:, t]
                if i < last:
                    o = u > v
                    u = u - v * o.double()
                    outs.append(o)
            if i < last:
                s = torch.stack(outs, 1)
        logits.append(u.numpy())
    return [np.concatenate(s, 0) for s in spikes], np.concatenate(logits, 0)


def export_snn(out: str | os.PathLike[str], *, layers: Sequence[LayerSpec],
               weights: Sequence[np.ndarray | torch.Tensor], x_int: np.ndarray,
               input_scale: float, input_bits: int, labels: np.ndarray, timesteps: int,
               dataset: str, model: str, provenance: dict[str, Any],
               metrics: dict[str, Any] | None = None, weight_bits: int | None = None
               ) -> tuple[Path, dict[str, Any]]:
    """Quantize real-valued ``weights`` to each layer's ``weight_bits`` and write a v1 trace.

    ``layers`` carry the geometry and each layer's threshold and leak (their weight_scale is
    replaced by the quantization scale). ``x_int``: the quantized analog input (N, *in_shape),
    real value ``x_int * input_scale``. Returns the path and a summary (predictions agreement
    with labels, spike rates, bytes).
    """
    if len(weights) != len(layers):
        raise ExportError(f"{len(weights)} weight tensors for {len(layers)} layers",
                          key="weights")
    qspecs: list[LayerSpec] = []
    iws: list[np.ndarray] = []
    for spec, w in zip(layers, weights, strict=True):
        wt = torch.as_tensor(w).detach().cpu().float()
        if tuple(wt.shape) != spec.weight_shape:
            raise ExportError(f"weight shape {tuple(wt.shape)}, expected {spec.weight_shape}",
                              key=f"weights/{spec.name}")
        wi, s = quantize_int(wt, spec.weight_bits)
        dtype = np.int8 if spec.weight_bits <= 8 else np.int16
        iws.append(wi.numpy().astype(dtype))
        qspecs.append(LayerSpec(**{**spec.__dict__, "weight_scale": float(s),
                                   "threshold": float(spec.threshold),
                                   "leak": float(spec.leak)}))
    x_int = np.ascontiguousarray(x_int)
    if x_int.shape[1:] != tuple(qspecs[0].in_shape):
        raise ExportError(f"input shape {x_int.shape[1:]}, expected {qspecs[0].in_shape}",
                          key="input")
    spikes, logits = reference_snn(qspecs, iws, x_int, input_scale, timesteps)
    preds = logits.argmax(1).astype(np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    meta = build_meta(dataset=dataset, model=model, layers=qspecs, timesteps=timesteps,
                      num_samples=int(x_int.shape[0]), input_bits=input_bits,
                      input_scale=float(input_scale),
                      weight_bits=weight_bits or max(s.weight_bits for s in qspecs),
                      provenance=provenance, metrics=metrics)
    idt = np.uint8 if input_bits <= 8 else np.uint16
    path = save_trace(out, meta=meta, input=x_int.astype(idt), weights={
        s.name: w for s, w in zip(qspecs, iws, strict=True)},
        spikes={s.name: sp for s, sp in zip(qspecs[1:], spikes, strict=True)},
        labels=labels, predictions=preds)
    info = {
        "samples": int(x_int.shape[0]),
        "trace_accuracy": float(np.mean(preds == labels)),
        "input_spike_rates": {s.name: float(sp.mean()) for s, sp in
                              zip(qspecs[1:], spikes, strict=True)},
        "bytes": path.stat().st_size,
    }
    return path, info


def modules_to_layers(modules: Sequence[nn.Module], in_shape: Sequence[int], *,
                      thresholds: Sequence[float], leaks: Sequence[float],
                      weight_bits: int = 6) -> list[LayerSpec]:
    """LayerSpecs for a chain of bias-free ``nn.Conv3d`` / ``nn.Conv2d`` / ``nn.Linear``.

    Between layers, tensors are reshaped in C order (the 3D->2D fold and the flatten). The last
    module is the non-spiking output integrator (its threshold is ignored).
    """
    specs: list[LayerSpec] = []
    shape = tuple(int(s) for s in in_shape)
    for i, m in enumerate(modules):
        name = f"layer{i}_{type(m).__name__.lower()}"
        if getattr(m, "bias", None) is not None:
            raise ExportError("has a bias; SNN layers here are bias-free", key=name)
        neuron = "integrator" if i == len(modules) - 1 else "lif"
        common: dict[str, Any] = {
            "input": "analog" if i == 0 else "spikes", "neuron": neuron,
            "threshold": float(thresholds[i]), "leak": float(leaks[i]), "weight_scale": 1.0,
            "weight_bits": weight_bits}
        if isinstance(m, (nn.Conv3d, nn.Conv2d)):
            kind = "conv3d" if isinstance(m, nn.Conv3d) else "conv2d"
            nd = 3 if kind == "conv3d" else 2
            if m.groups != 1 or any(d != 1 for d in m.dilation) or isinstance(m.padding, str):
                raise ExportError("groups, dilation and string padding are not supported",
                                  key=name)
            c_in = m.in_channels
            total = math.prod(shape)
            if total % c_in:
                raise ExportError(f"{total} inputs do not fold into {c_in} channels", key=name)
            if len(shape) != nd + 1 or shape[0] != c_in:
                raise ExportError(f"input shape {shape} does not match {kind} with {c_in} "
                                  "input channels (fold explicitly with a channel-first shape)",
                                  key=name)
            k, s, p = tuple(m.kernel_size), tuple(m.stride), tuple(m.padding)
            o = tuple(conv_out_size(n, kk, ss, pp) for n, kk, ss, pp in
                      zip(shape[1:], k, s, p, strict=True))
            spec = LayerSpec(name, kind, shape, (m.out_channels, *o), k, s, p, **common)
        elif isinstance(m, nn.Linear):
            if m.in_features != math.prod(shape):
                raise ExportError(f"in_features {m.in_features} != {math.prod(shape)} inputs",
                                  key=name)
            spec = LayerSpec(name, "linear", (m.in_features,), (m.out_features,), (), (), (),
                             **common)
        else:
            raise ExportError(f"unsupported module {type(m).__name__}; expected Conv3d, "
                              "Conv2d or Linear", key=name)
        specs.append(spec)
        shape = spec.out_shape
        if i + 1 < len(modules) and isinstance(modules[i + 1], nn.Conv2d) and len(shape) == 4:
            shape = (shape[0] * shape[1], shape[2], shape[3])  # the 3D->2D fold (C-order)
        if i + 1 < len(modules) and isinstance(modules[i + 1], nn.Linear):
            shape = (math.prod(shape),)
    return specs


def export_torch_snn(out: str | os.PathLike[str], modules: Sequence[nn.Module], *,
                     thresholds: Sequence[float], leaks: Sequence[float], x_int: np.ndarray,
                     input_scale: float, labels: np.ndarray, timesteps: int = 5,
                     weight_bits: int = 6, input_bits: int = 8, dataset: str = "custom",
                     model: str = "custom", provenance: dict[str, Any] | None = None,
                     metrics: dict[str, Any] | None = None) -> tuple[Path, dict[str, Any]]:
    """Export your own PyTorch SNN (a chain of bias-free Conv3d/Conv2d/Linear modules with
    one threshold and leak per layer, LIF hidden layers with soft reset, an integrating
    output layer, direct analog input) as a v1 trace.

    ``x_int`` is the quantized input (N, *in_shape of the first module); real input =
    ``x_int * input_scale``. Weights are quantized to ``weight_bits`` (symmetric, per layer).
    ``provenance['data']`` says what the network was trained on: ``real``, ``surrogate``,
    ``synthetic`` or ``unspecified`` (default); free text there is kept as ``data_source``
    and the kind inferred from it. ``provenance['trained']`` is set to true.
    """
    x_int = np.asarray(x_int)
    layers = modules_to_layers(modules, x_int.shape[1:], thresholds=thresholds, leaks=leaks,
                               weight_bits=weight_bits)
    prov = {"data": "unspecified", "command": "export_torch_snn", "code": code_version()}
    prov.update(provenance or {})
    prov = with_origin(prov, data=None, trained=True)
    return export_snn(out, layers=layers, weights=[m.weight for m in modules], x_int=x_int,
                      input_scale=input_scale, input_bits=input_bits, labels=labels,
                      timesteps=timesteps, dataset=dataset, model=model, provenance=prov,
                      metrics=metrics, weight_bits=weight_bits)


def code_version() -> str:
    """``pimsim <version>`` plus the git commit of the source tree when available."""
    v = f"pimsim {pimsim.__version__}"
    try:
        root = Path(__file__).resolve().parents[2]
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=False).stdout.strip()
        if sha:
            v += f" (git {sha})"
    except (OSError, subprocess.SubprocessError):
        pass
    return v


# ----------------------------------------------------------------------------- runs


def trainer_from_run(run_dir: str | os.PathLike[str], *, data_dir: str | None = None):
    """Rebuild a :class:`~pimsim.snn.train.Trainer` (data + network) from a run's checkpoint."""
    from pimsim.snn.train import TrainConfig, Trainer, load_checkpoint

    ck = load_checkpoint(run_dir)
    known = {f for f in TrainConfig.__dataclass_fields__}
    cfg = TrainConfig(**{k: v for k, v in ck["config"].items() if k in known})
    if data_dir:
        cfg.data_dir = data_dir
    tr = Trainer(cfg, run_dir, progress=False, log=lambda m: None)
    if tr.state["stage"] not in ("snn", "done"):
        raise ExportError(f"training stopped at stage {tr.state['stage']!r}; the SNN exists "
                          "only after conversion: resume 'pimsim train' first",
                          file=str(Path(run_dir) / "checkpoint.pt"), key="stage")
    return tr


def export_run(trainer, out: str | os.PathLike[str], *, samples: int = 64, seed: int = 0,
               command: str = "") -> tuple[Path, str]:
    """Export ``samples`` stratified test samples of a trained run as a trace.

    Metrics (test-set OA/AA/kappa of the FP32 CNN, the b-bit CNN and the SNN, spike rates) go
    into ``meta.metrics``; provenance says what data (real or surrogate) and which command.
    """
    from pimsim.snn.train import train_command

    data = trainer.data
    cfg = trainer.cfg
    net = trainer.net
    if samples < 1 or samples > data.test_idx.size:
        raise ExportError(f"asked for {samples} samples but the test set has "
                          f"{data.test_idx.size}", key="samples")
    idx = stratified_subset(data.test_idx, data.labels, count=samples, seed=seed)
    x_int = data.windows(idx)
    layers = []
    th = net.threshold.detach().cpu().double().numpy()
    lk = net.leak.detach().cpu().double().clamp(0.0, 1.0).numpy()
    for i, spec in enumerate(trainer.layers):
        last = i == len(trainer.layers) - 1
        layers.append(LayerSpec(**{**spec.__dict__, "threshold": 1.0 if last else float(th[i]),
                                   "leak": 1.0 if last else float(lk[i])}))
    st = trainer.state
    epochs = {k: len(v) for k, v in st.get("epoch_seconds", {}).items()}
    metrics: dict[str, Any] = {}
    for k, m in st.get("metrics", {}).items():
        metrics[k] = {kk: vv for kk, vv in m.items() if kk != "seconds"}
    snn = metrics.get("snn", {})
    if snn:
        metrics.update(oa=snn["oa"], aa=snn["aa"], kappa=snn["kappa"])
    metrics["test_samples_evaluated"] = int(trainer.eval_idx.size)
    metrics["test_set_size"] = int(data.test_idx.size)
    metrics["train_samples"] = int(trainer.train_idx.size)
    metrics["epochs"] = epochs
    metrics["epoch_seconds_mean"] = {k: float(np.mean(v))
                                     for k, v in st.get("epoch_seconds", {}).items()}
    metrics["stage"] = st["stage"]
    prov = {
        "data": data.provenance.get("data", data.name),
        "dataset": data.name,
        "command": command or "pimsim.snn.export.export_run",
        "train_command": train_command(cfg, trainer.run_dir),
        "code": code_version(),
        "training": {k: v for k, v in cfg.__dict__.items() if k != "data_dir"},
        "preprocessing": (f"whitened PCA ({data.components} components, "
                          f"{100 * data.pca_explained:.2f} % variance) on all pixels, "
                          f"{data.window}x{data.window} windows, zero padding in PCA space, "
                          "HybridSN split test_size=0.7 random_state=345; input = PCA - min "
                          f"clipped at 1e-4 quantiles, {data.input_bits}-bit"),
        "samples": f"{samples} test pixels, class-stratified, seed {seed}",
        "fold": "conv3d out (C,D,H,W) -> conv2d in (C*D,H,W), C-order; flatten C-order",
    }
    if data.synthetic and "surrogate" not in prov["data"].lower():
        prov["data"] = "synthetic surrogate: " + prov["data"]
    prov = with_origin(prov, data="surrogate" if data.synthetic else "real", trained=True)
    model_name = {"hybrid": "hybridsn_snn", "3d": "snn3d"}.get(cfg.model, cfg.model)
    path, info = export_snn(out, layers=layers, weights=[w for w in net.weights],
                            x_int=x_int, input_scale=data.input_scale,
                            input_bits=data.input_bits, labels=data.labels[idx],
                            timesteps=cfg.timesteps, dataset=data.name, model=model_name,
                            provenance=prov, metrics=metrics, weight_bits=cfg.weight_bits)
    tag = "SURROGATE data, " if data.synthetic else ""
    return path, (f"{tag}{info['samples']} samples, trace accuracy "
                  f"{100 * info['trace_accuracy']:.1f} %, {info['bytes'] / 1e6:.2f} MB")
