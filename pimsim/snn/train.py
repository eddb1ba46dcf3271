"""Training pipeline: CNN -> 6-bit QAT CNN -> SNN conversion -> SNN surrogate-gradient training.

Stages (each checkpointed at every epoch end into ``<run_dir>/checkpoint.pt``, so an
interrupted run resumes from its last finished epoch with the same result):

1. ``cnn``: the iso-architecture ReLU CNN, Adam (lr 1e-3, as HybridSN), cross-entropy, batch
   256, dropout 0.4 on the hidden linear layers; evaluated on the test set -> ``cnn_fp32``.
2. ``qat``: the same CNN fine-tuned with ``weight_bits`` fake-quantized weights (STE) ->
   ``cnn_int<b>``.
3. ``convert``: thresholds set layer by layer at the 99.7th percentile of each layer's
   pre-activation (its input current over all T steps, with the thresholds of the layers
   before it already set), on a stratified calibration subset of the training set; leaks 1.0.
4. ``snn``: surrogate-gradient training through time (BPTT, T steps, direct analog input every
   step, soft reset, non-spiking output accumulator), weights fake-quantized, one trainable
   leak and threshold per layer; evaluated on the test set -> ``snn`` plus per-layer spike
   rates.

Metrics: overall accuracy (OA), average (per-class recall) accuracy (AA) and Cohen's kappa, as
fractions in [0, 1].
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from pimsim.errors import PimsimError
from pimsim.snn.data import HSIData, load_scene, preprocess, stratified_subset
from pimsim.snn.models import SpikingNet, build_layers

STAGES = ("cnn", "qat", "convert", "snn", "done")


class TrainError(PimsimError):
    """A training run cannot start or resume."""


@dataclass
class TrainConfig:
    """Everything that determines a training run (stored in its checkpoint)."""

    dataset: str
    data_dir: str
    model: str = "hybrid"
    components: int | None = None
    window: int = 25
    input_bits: int = 8
    weight_bits: int = 6
    timesteps: int = 5
    cnn_epochs: int = 15
    qat_epochs: int = 3
    snn_epochs: int = 2
    batch_size: int = 256
    snn_batch_size: int = 32
    lr: float = 1e-3
    qat_lr: float = 1e-4
    snn_lr: float = 1e-4
    train_fraction: float = 1.0
    eval_fraction: float = 1.0
    percentile: float = 99.7
    calib_samples: int = 256
    seed: int = 0
    #: weight initialisation: "default" (PyTorch's uniform +-1/sqrt(fan_in)) or "lsuv"
    #: (zero-mean first-layer kernels, unit-variance pre-activations on a training batch)
    init: str = "default"

    #: fields that must match for a checkpoint to resume
    def identity(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("data_dir")
        return d


def metrics_from(y: np.ndarray, p: np.ndarray, classes: int) -> dict[str, float]:
    """OA = mean(p == y); AA = mean over classes present of per-class recall; Cohen's kappa
    ``(p_o - p_e) / (1 - p_e)`` (sklearn.metrics.cohen_kappa_score)."""
    from sklearn.metrics import cohen_kappa_score

    oa = float(np.mean(p == y))
    rec = [float(np.mean(p[y == c] == c)) for c in range(classes) if np.any(y == c)]
    kappa = float(cohen_kappa_score(y, p)) if len(np.unique(np.concatenate([y, p]))) > 1 else 0.0
    return {"oa": oa, "aa": float(np.mean(rec)), "kappa": kappa, "samples": int(y.size)}


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def batch_tensor(data: HSIData, idx: np.ndarray, device: torch.device,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Analog network input of labelled pixels ``idx``: quantized windows x input_scale."""
    q = torch.from_numpy(data.windows(idx).astype(np.float32))
    return (q.to(device=device, dtype=dtype) * data.input_scale).contiguous()


_DATA_CACHE: dict[tuple[Any, ...], HSIData] = {}


def cached_data(cfg: TrainConfig) -> HSIData:
    """Preprocessed scene for a config, memoised per process (keyed on the scene files' paths,
    sizes and mtimes and the preprocessing parameters)."""
    from pimsim.snn.data import get_spec

    spec = get_spec(cfg.dataset)
    files = ([Path(cfg.data_dir) / f"{cfg.dataset}.npz"] if cfg.dataset.endswith("_surrogate")
             else [Path(cfg.data_dir) / spec.cube.name])
    stamp = tuple((str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns)
                  for f in files if f.is_file())
    key = (cfg.dataset, stamp, cfg.components, cfg.window, cfg.input_bits)
    if not stamp or key not in _DATA_CACHE:
        scene = load_scene(cfg.dataset, cfg.data_dir)
        _DATA_CACHE.clear()
        _DATA_CACHE[key] = preprocess(scene, components=cfg.components, window=cfg.window,
                                      input_bits=cfg.input_bits)
    return _DATA_CACHE[key]


class Trainer:
    """Runs (or resumes) the staged pipeline of a :class:`TrainConfig` in ``run_dir``."""

    def __init__(self, cfg: TrainConfig, run_dir: str | os.PathLike[str], *,
                 device: str = "auto", threads: int = 2, progress: bool = True,
                 log=print):
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.ckpt_path = self.run_dir / "checkpoint.pt"
        self.device = pick_device(device)
        self.progress = progress
        self.log = log
        torch.set_num_threads(max(1, threads))
        self.data = cached_data(cfg)
        d = self.data
        self.train_idx = (d.train_idx if cfg.train_fraction >= 1.0 else
                          stratified_subset(d.train_idx, d.labels, fraction=cfg.train_fraction,
                                            seed=cfg.seed))
        self.eval_idx = (d.test_idx if cfg.eval_fraction >= 1.0 else
                         stratified_subset(d.test_idx, d.labels, fraction=cfg.eval_fraction,
                                           seed=cfg.seed + 1))
        self.layers = build_layers(cfg.model, d.components, d.classes, window=cfg.window,
                                   weight_bits=cfg.weight_bits)
        torch.manual_seed(cfg.seed)
        self.net = SpikingNet(self.layers, seed=cfg.seed).to(self.device)
        self.state: dict[str, Any] = {"stage": "cnn", "epoch": 0, "metrics": {}, "history": [],
                                      "epoch_seconds": {}}
        self.opt: torch.optim.Optimizer | None = None
        if cfg.init not in ("default", "lsuv"):
            raise TrainError(f"expected 'default' or 'lsuv', got {cfg.init!r}", key="init")
        if cfg.init == "lsuv":
            n0 = min(256, self.train_idx.size)
            init_idx = stratified_subset(self.train_idx, d.labels, count=n0, seed=cfg.seed + 3)
            self.net.data_init(batch_tensor(d, init_idx, self.device))
        self._resume()

    # ------------------------------------------------------------ checkpoints
    def _new_optimizer(self, stage: str) -> torch.optim.Optimizer:
        if stage == "snn":
            return torch.optim.Adam(self.net.parameters(), lr=self.cfg.snn_lr)
        params = list(self.net.weights.parameters())
        return torch.optim.Adam(params, lr=self.cfg.lr if stage == "cnn" else self.cfg.qat_lr)

    def _resume(self) -> None:
        if not self.ckpt_path.exists():
            return
        try:
            ck = torch.load(self.ckpt_path, map_location=self.device, weights_only=False)
        except Exception as exc:  # noqa: BLE001 - torch.load raises many types
            raise TrainError(f"unreadable checkpoint ({type(exc).__name__}: {exc}); remove it "
                             "to start over", file=str(self.ckpt_path)) from None
        defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
        stored = {**defaults, **ck.get("config_identity", {})}  # older checkpoints lack new keys
        stored.pop("data_dir", None)
        epochs = ("cnn_epochs", "qat_epochs", "snn_epochs")
        mine = self.cfg.identity()
        diff = sorted(k for k, v in mine.items() if stored.get(k) != v and k not in epochs)
        if diff:
            raise TrainError(f"holds a different run (differs in {', '.join(diff)}); use another "
                             "--run-dir or --fresh", file=str(self.ckpt_path), key="config")
        state = ck["state"]
        done = STAGES.index(state["stage"])
        extend_snn = False
        for k, stage in zip(epochs, ("cnn", "qat", "snn"), strict=True):
            if mine[k] == stored[k]:
                continue
            finished = STAGES.index(stage) < done or (stage == state["stage"]
                                                      and state["epoch"] > mine[k])
            if stage == "snn" and state["stage"] == "done" and mine[k] > stored[k]:
                extend_snn = True  # more SNN epochs on a finished run
            elif finished:
                raise TrainError(f"holds a different run (differs in {k}; its {stage} stage has "
                                 "finished); use another --run-dir or --fresh",
                                 file=str(self.ckpt_path), key="config")
        self.net.load_state_dict(ck["model"])
        self.net.weight_bits = ck["weight_bits"]
        self.state = state
        if extend_snn:
            # continue SNN training from the finished model (a fresh Adam: its moments were not
            # kept at the end of the stage); the SNN metrics are recomputed at the end
            self.state["stage"] = "snn"
            self.state["epoch"] = len(self.state["epoch_seconds"].get("snn", []))
            self.state["metrics"].pop("snn", None)
            self.opt = self._new_optimizer("snn")
        elif ck.get("optimizer") is not None and self.state["stage"] in ("cnn", "qat", "snn"):
            self.opt = self._new_optimizer(self.state["stage"])
            self.opt.load_state_dict(ck["optimizer"])
        self.log(f"resumed {self.ckpt_path}: stage {self.state['stage']}, "
                 f"{self.state['epoch']} epoch(s) done")

    def save(self) -> None:
        """Write the checkpoint atomically (temp file + rename)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        ck = {
            "config": dataclasses.asdict(self.cfg),
            "config_identity": self.cfg.identity(),
            "model": self.net.state_dict(),
            "weight_bits": self.net.weight_bits,
            "optimizer": self.opt.state_dict() if self.opt is not None else None,
            "state": self.state,
            "layers": [s.to_meta() for s in self.layers],
        }
        tmp = self.ckpt_path.with_name(self.ckpt_path.name + ".tmp")
        torch.save(ck, tmp)
        os.replace(tmp, self.ckpt_path)
        summary = {k: v for k, v in self.state.items() if k != "history"}
        (self.run_dir / "summary.json.tmp").write_text(json.dumps(summary, indent=1))
        os.replace(self.run_dir / "summary.json.tmp", self.run_dir / "summary.json")

    # ------------------------------------------------------------ loops
    def _epoch(self, stage: str, epoch: int) -> dict[str, float]:
        from tqdm import tqdm

        cfg = self.cfg
        snn = stage == "snn"
        bs = cfg.snn_batch_size if snn else cfg.batch_size
        stage_id = STAGES.index(stage)
        rng = np.random.default_rng([cfg.seed, stage_id, epoch])
        torch.manual_seed(cfg.seed * 1000 + stage_id * 100 + epoch)
        order = rng.permutation(self.train_idx)
        self.net.train()
        tot, correct, loss_sum = 0, 0, 0.0
        t0 = time.time()
        bar = tqdm(range(0, order.size, bs), desc=f"{stage} epoch {epoch + 1}",
                   disable=not self.progress, file=sys.stderr, leave=False)
        for start in bar:
            idx = order[start:start + bs]
            x = batch_tensor(self.data, idx, self.device)
            y = torch.from_numpy(self.data.labels[idx]).to(self.device)
            out = self.net.forward_snn(x, cfg.timesteps)[0] if snn else self.net.forward_cnn(x)
            loss = F.cross_entropy(out, y)
            assert self.opt is not None
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            with torch.no_grad():
                if snn:  # keep leak in [0, 1] and thresholds positive
                    self.net.leak.clamp_(0.0, 1.0)
                    self.net.threshold.clamp_(min=1e-3)
            n = idx.size
            tot += n
            correct += int((out.argmax(1) == y).sum())
            loss_sum += float(loss.detach()) * n
            bar.set_postfix(loss=f"{loss_sum / tot:.4f}", acc=f"{correct / tot:.4f}")
        bar.close()
        return {"loss": loss_sum / tot, "acc": correct / tot, "seconds": time.time() - t0,
                "samples": int(tot)}

    @torch.no_grad()
    def evaluate(self, mode: str, idx: np.ndarray | None = None) -> dict[str, Any]:
        """Test-set metrics of the CNN (``mode='cnn'``) or the SNN (``'snn'``, + spike rates:
        per spiking layer, mean of its output spikes over samples, steps and neurons)."""
        from tqdm import tqdm

        idx = self.eval_idx if idx is None else idx
        self.net.eval()
        snn = mode == "snn"
        bs = self.cfg.snn_batch_size * 4 if snn else self.cfg.batch_size
        preds = []
        spikes = np.zeros(len(self.layers) - 1)
        t0 = time.time()
        for start in tqdm(range(0, idx.size, bs), desc=f"eval {mode}", disable=not self.progress,
                          file=sys.stderr, leave=False):
            b = idx[start:start + bs]
            x = batch_tensor(self.data, b, self.device)
            if snn:
                out, rec = self.net.forward_snn(x, self.cfg.timesteps, record=True)
                for i, s in enumerate(rec):
                    spikes[i] += float(s.mean()) * b.size
            else:
                out = self.net.forward_cnn(x)
            preds.append(out.argmax(1).cpu().numpy())
        p = np.concatenate(preds)
        m = metrics_from(self.data.labels[idx], p, self.data.classes)
        m["seconds"] = time.time() - t0
        if snn:
            m["spike_rates"] = {s.name: float(r / idx.size)
                                for s, r in zip(self.layers[:-1], spikes, strict=True)}
        return m

    @torch.no_grad()
    def convert(self) -> dict[str, float]:
        """Set thresholds layer by layer at the ``percentile`` of each layer's input current
        (all T steps, calibration subset), leaks at 1.0."""
        cfg = self.cfg
        net = self.net
        net.eval()
        n_cal = min(cfg.calib_samples, self.train_idx.size)
        cal = stratified_subset(self.train_idx, self.data.labels, count=n_cal, seed=cfg.seed + 2)
        x = batch_tensor(self.data, cal, self.device)
        net.leak.fill_(1.0)
        T = cfg.timesteps
        s = None
        out = {}
        for i, spec in enumerate(self.layers[:-1]):
            cur = net.layer_current(i, x) if i == 0 else net.layer_current(i, s)
            v = float(np.percentile(cur.float().cpu().numpy().reshape(-1), cfg.percentile))
            v = max(v, 1e-3)
            net.threshold[i] = v
            out[spec.name] = v
            s = net.lif(cur, i, T, constant=(i == 0))
        net.threshold[len(self.layers) - 1] = 1.0
        return out

    def run(self) -> dict[str, Any]:
        """Run every remaining stage; returns the metrics dict."""
        cfg, st = self.cfg, self.state
        plan = {"cnn": cfg.cnn_epochs, "qat": cfg.qat_epochs, "snn": cfg.snn_epochs}
        while st["stage"] != "done":
            stage = st["stage"]
            if stage == "convert":
                self.net.weight_bits = cfg.weight_bits
                st["thresholds_init"] = self.convert()
                self.log(f"converted: thresholds {fmt_dict(st['thresholds_init'])}")
                st["stage"], st["epoch"] = "snn", 0
                self.opt = self._new_optimizer("snn")
                self.save()
                continue
            self.net.weight_bits = None if stage == "cnn" else cfg.weight_bits
            if self.opt is None:
                self.opt = self._new_optimizer(stage)
            while st["epoch"] < plan[stage]:
                r = self._epoch(stage, st["epoch"])
                st["epoch"] += 1
                r.update(stage=stage, epoch=st["epoch"])
                st["history"].append(r)
                st["epoch_seconds"].setdefault(stage, []).append(r["seconds"])
                self.save()
                self.log(f"{self.data.name}: {stage} epoch {st['epoch']}/{plan[stage]}: "
                         f"loss {r['loss']:.4f} train acc {r['acc']:.4f} ({r['seconds']:.0f} s)")
            key = {"cnn": "cnn_fp32", "qat": f"cnn_int{cfg.weight_bits}", "snn": "snn"}[stage]
            if key not in st["metrics"]:
                m = self.evaluate("snn" if stage == "snn" else "cnn")
                st["metrics"][key] = m
                self.log(f"{self.data.name}: {key}: {fmt_metrics(m)}")
            nxt = {"cnn": "qat", "qat": "convert", "snn": "done"}[stage]
            st["stage"], st["epoch"] = nxt, 0
            self.opt = None
            self.save()
        return st["metrics"]


def train_command(cfg: TrainConfig, run_dir: str | os.PathLike[str] | None = None) -> str:
    """The ``pimsim train`` command line that reproduces ``cfg`` (every option explicit)."""
    parts = ["pimsim train", f"--dataset {cfg.dataset}", f"--data-dir {cfg.data_dir}",
             f"--model {cfg.model}"]
    if run_dir is not None:
        parts.append(f"--run-dir {run_dir}")
    if cfg.components is not None:
        parts.append(f"--components {cfg.components}")
    for name in ("window", "timesteps", "weight_bits", "input_bits", "cnn_epochs", "qat_epochs",
                 "snn_epochs", "batch_size", "snn_batch_size", "lr", "qat_lr", "snn_lr",
                 "train_fraction", "eval_fraction", "seed", "init"):
        parts.append(f"--{name.replace('_', '-')} {getattr(cfg, name)}")
    return " ".join(parts)


def fmt_dict(d: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in d.items())


def fmt_metrics(m: dict[str, Any]) -> str:
    """``OA xx.xx % AA xx.xx % kappa xx.xx % (n samples)`` (+ spike rates)."""
    s = (f"OA {100 * m['oa']:.2f} % AA {100 * m['aa']:.2f} % kappa {100 * m['kappa']:.2f} % "
         f"on {m['samples']} test samples")
    if "spike_rates" in m:
        s += "; spike rates " + ", ".join(f"{k} {v:.3f}" for k, v in m["spike_rates"].items())
    return s


def report_lines(data_name: str, synthetic: bool, metrics: dict[str, Any]) -> list[str]:
    """The printed report: one line per model, with SURROGATE marked where it applies."""
    tag = " [SURROGATE/synthetic data]" if synthetic else ""
    return [f"{data_name}{tag} {k}: {fmt_metrics(m)}" for k, m in metrics.items()
            if isinstance(m, dict) and "oa" in m]


def load_checkpoint(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``<run_dir>/checkpoint.pt`` (one-line error if absent or unreadable)."""
    path = Path(run_dir) / "checkpoint.pt"
    if not path.is_file():
        raise TrainError("no checkpoint; run 'pimsim train' first", file=str(path))
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - torch.load raises many types
        raise TrainError(f"unreadable checkpoint: {type(exc).__name__}: {exc}",
                         file=str(path)) from None

