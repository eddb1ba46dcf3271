"""End-to-end training -> export -> trace -> replay, resume, bad input (needs PyTorch).

CI-sized: a surrogate Indian Pines scene, 15 PCA components, 9x9 windows, a few percent of the
training split, one or two epochs per stage. Full-size runs are marked heavy.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from click.testing import CliRunner

from pimsim.errors import PimsimError
from pimsim.replay import replay_trace
from pimsim.snn import cli as snn_cli
from pimsim.snn.data import DataError, synth_scene
from pimsim.snn.export import ExportError, export_run, export_torch_snn
from pimsim.snn.train import TrainConfig, Trainer, TrainError
from pimsim.trace import load_trace

SHARED = Path(os.environ.get("PIMSIM_SHARED_DATA",
                             Path(__file__).resolve().parents[1].parent / "shared/data/hsi"))
needs_shared = pytest.mark.skipif(not (SHARED / "Indian_pines_gt.mat").is_file(),
                                  reason="shared ground-truth maps absent")
heavy = pytest.mark.skipif(os.environ.get("PIMSIM_HEAVY") != "1",
                           reason="heavy: set PIMSIM_HEAVY=1")

TINY = ["--components", "15", "--window", "9", "--cnn-epochs", "3", "--qat-epochs", "1",
        "--snn-epochs", "1", "--train-fraction", "0.12", "--eval-fraction", "0.03",
        "--batch-size", "16", "--snn-batch-size", "16", "--threads", "1", "--quiet",
        "--init", "lsuv"]


def _tiny_cfg(data_dir: Path, **kw) -> TrainConfig:
    base = {"dataset": "indian_pines_surrogate", "data_dir": str(data_dir), "components": 15,
                "window": 9, "cnn_epochs": 2, "qat_epochs": 1, "snn_epochs": 1, "batch_size": 32,
                "snn_batch_size": 16, "train_fraction": 0.04, "eval_fraction": 0.02, "calib_samples": 64,
                "init": "lsuv"}
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def scene_dir(tmp_path_factory):
    if not (SHARED / "Indian_pines_gt.mat").is_file():
        pytest.skip("shared ground-truth maps absent")
    d = tmp_path_factory.mktemp("scene")
    synth_scene("indian_pines", d, gt_dir=str(SHARED), seed=0)
    return d


@needs_shared
def test_end_to_end_surrogate_train_export_replay(scene_dir, tmp_path):
    out = tmp_path / "t_surrogate.npz"
    run = tmp_path / "run"
    res = CliRunner().invoke(snn_cli.train_cmd, [
        "--dataset", "indian_pines_surrogate", "--data-dir", str(scene_dir), "--run-dir",
        str(run), *TINY, "--out", str(out), "--samples", "24"])
    assert res.exit_code == 0, res.output
    assert "SURROGATE" in res.output and "snn: OA" in res.output
    trace = load_trace(out)  # validates format v1
    assert trace.num_samples == 24 and trace.timesteps == 5
    prov = trace.provenance  # explicit origin fields written by the exporter
    assert (prov["data"], prov["trained"], trace.is_synthetic) == ("surrogate", True, False)
    assert "surrogate" in prov["data_source"] and not trace.origin.inferred
    assert "--train-fraction 0.12" in trace.provenance["train_command"]
    assert [s.name for s in trace.layers] == ["conv3d_1", "conv3d_2", "conv3d_3", "conv2d_1",
                                               "linear_1", "linear_2", "linear_3"]
    assert trace.layers[3].in_shape == (32 * 3, 3, 3)  # the 3D->2D fold of (32, 3, 3, 3)
    assert all(w.dtype == np.int8 and np.abs(w).max() <= 31 for w in trace.weights.values())
    m = trace.meta["metrics"]
    for key in ("cnn_fp32", "cnn_int6", "snn"):
        assert 0.0 <= m[key]["oa"] <= 1.0 and "kappa" in m[key] and "aa" in m[key]
    assert set(m["snn"]["spike_rates"]) == {s.name for s in trace.layers[:-1]}
    assert m["oa"] == m["snn"]["oa"]
    # a few epochs on a few percent of the pixels learn something (16 classes: chance ~ 6 %)
    assert m["cnn_fp32"]["oa"] > 0.3
    rep = replay_trace(trace)
    assert rep["spike_agreement"] >= 0.999
    assert rep["prediction_agreement"] == 1.0
    assert rep["accuracy"] == pytest.approx(float(np.mean(trace.predictions == trace.labels)))
    # the simulator, where it exists
    api = pytest.importorskip("pimsim.api")
    config = pytest.importorskip("pimsim.config")
    hw = Path(__file__).resolve().parents[1] / "hw_configs" / "45nm_digital.yaml"
    if not hasattr(api, "simulate") or not hw.is_file():
        pytest.skip("pimsim.api.simulate or hw_configs/45nm_digital.yaml absent")
    result = api.simulate(config.load_config(hw), trace)
    assert result.energy_j > 0 and result.delay_s > 0


@needs_shared
def test_interrupted_training_resumes_to_the_same_result(scene_dir, tmp_path):
    cfg = _tiny_cfg(scene_dir, snn_epochs=1, qat_epochs=1, cnn_epochs=2)

    class Stop(Exception):
        pass

    def stop_after_first_epoch(msg: str) -> None:
        if "cnn epoch 1/2" in msg:
            raise Stop

    with pytest.raises(Stop):
        Trainer(cfg, tmp_path / "a", threads=1, progress=False, log=stop_after_first_epoch).run()
    logs: list[str] = []
    tr = Trainer(cfg, tmp_path / "a", threads=1, progress=False, log=logs.append)
    assert logs[0].startswith("resumed") and tr.state["epoch"] == 1
    tr.run()
    assert not any("cnn epoch 1/2" in m for m in logs)  # epoch 1 not redone
    ref = Trainer(cfg, tmp_path / "b", threads=1, progress=False, log=lambda m: None)
    ref.run()
    for a, b in zip(tr.net.parameters(), ref.net.parameters(), strict=True):
        assert torch.equal(a, b)
    assert tr.state["metrics"]["snn"]["oa"] == ref.state["metrics"]["snn"]["oa"]
    # a finished run resumes as done and trains nothing more
    again = Trainer(cfg, tmp_path / "a", threads=1, progress=False, log=lambda m: None)
    assert again.state["stage"] == "done"
    # a different configuration does not silently resume
    with pytest.raises(TrainError, match="holds a different run .*cnn_epochs"):
        Trainer(_tiny_cfg(scene_dir, cnn_epochs=3), tmp_path / "a", threads=1, progress=False)
    with pytest.raises(TrainError, match="holds a different run .*seed"):
        Trainer(_tiny_cfg(scene_dir, seed=5), tmp_path / "a", threads=1, progress=False)
    # ... but a finished run can be given more SNN epochs
    more = Trainer(_tiny_cfg(scene_dir, snn_epochs=2), tmp_path / "a", threads=1,
                   progress=False, log=lambda m: None)
    assert more.state["stage"] == "snn" and more.state["epoch"] == 1
    more.run()
    assert [h["stage"] for h in more.state["history"]].count("snn") == 2
    assert "snn" in more.state["metrics"] and more.state["stage"] == "done"
    # export: --samples larger than the test set is a one-line error
    with pytest.raises(ExportError, match="asked for 999999 samples but the test set has"):
        export_run(tr, tmp_path / "x.npz", samples=999999)


@needs_shared
def test_cli_bad_input_is_one_line_exit_2(scene_dir, tmp_path):
    r = CliRunner()
    res = r.invoke(snn_cli.train_cmd, ["--dataset", "moon", "--data-dir", str(tmp_path)])
    assert res.exit_code == 2 and "unknown dataset 'moon'" in res.output
    assert len(res.output.strip().splitlines()) == 1
    res = r.invoke(snn_cli.train_cmd, ["--dataset", "salinas", "--data-dir", str(tmp_path),
                                       "--run-dir", str(tmp_path / "r")])
    assert res.exit_code == 2 and "Salinas_corrected.mat: file not found" in res.output
    res = r.invoke(snn_cli.train_cmd, ["--dataset", "indian_pines_surrogate", "--data-dir",
                                       str(scene_dir), "--run-dir", str(tmp_path / "r"), *TINY,
                                       "--out", str(tmp_path / "t.npz"), "--samples", "8000"])
    assert res.exit_code == 2 and "samples: asked for 8000 samples but the test set has 7175" \
        in res.output
    assert not (tmp_path / "r" / "checkpoint.pt").exists()  # refused before any training
    res = r.invoke(snn_cli.export_cmd, ["--run-dir", str(tmp_path / "none"), "--out",
                                        str(tmp_path / "x.npz")])
    assert res.exit_code == 2 and "no checkpoint" in res.output
    res = r.invoke(snn_cli.data_group, ["synth", "--like", "salinas", "--dir", str(tmp_path),
                                        "--gt-dir", str(tmp_path / "nowhere")])
    # falls back to the shared ground truth, and says SURROGATE
    assert res.exit_code == 0 and "SURROGATE" in res.output, res.output
    res = r.invoke(snn_cli.data_group, ["info", "--dataset", "salinas_surrogate",
                                        "--data-dir", str(tmp_path)])
    assert res.exit_code == 0 and "16238/37891" in res.output and "SURROGATE" in res.output
    res = r.invoke(snn_cli.data_group, ["fetch", "--dataset", "nope", "--dir", str(tmp_path)])
    assert res.exit_code == 2 and "unknown dataset 'nope'" in res.output
    with pytest.raises(DataError):
        Trainer(_tiny_cfg(tmp_path / "empty"), tmp_path / "r2", threads=1, progress=False)


def test_export_your_own_torch_snn(tmp_path):
    nn = torch.nn
    g = torch.Generator().manual_seed(0)
    mods = [nn.Conv3d(1, 4, (3, 3, 3), bias=False), nn.Conv2d(4 * 4, 6, 3, padding=1, bias=False),
            nn.Linear(6 * 3 * 3, 10, bias=False), nn.Linear(10, 3, bias=False)]
    with torch.no_grad():
        for m in mods:
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) - 0.48)
    x = np.random.default_rng(0).integers(0, 256, size=(10, 1, 6, 5, 5)).astype(np.uint8)
    path, info = export_torch_snn(tmp_path / "own.npz", mods, thresholds=[1.0, 0.5, 0.5, 1.0],
                                  leaks=[0.9, 1.0, 0.95, 1.0], x_int=x, input_scale=0.01,
                                  labels=np.zeros(10, dtype=np.int64),
                                  provenance={"data": "synthetic random inputs (test)"})
    trace = load_trace(path)
    assert trace.layers[1].in_shape == (16, 3, 3) and trace.layers[1].padding == (1, 1)
    assert all(0 < r < 1 for r in info["input_spike_rates"].values()), info
    rep = replay_trace(trace)
    assert rep["spike_agreement"] == 1.0 and rep["prediction_agreement"] == 1.0
    with pytest.raises(ExportError, match="has a bias"):
        export_torch_snn(tmp_path / "b.npz", [nn.Linear(4, 2)], thresholds=[1.0], leaks=[1.0],
                         x_int=np.zeros((1, 4), np.uint8), input_scale=1.0,
                         labels=np.zeros(1, dtype=np.int64))


def test_lif_surrogate_and_fake_quant():
    from pimsim.snn.models import SpikeFn, fake_quant

    u = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.5], requires_grad=True)
    v = torch.tensor(1.0, requires_grad=True)
    o = SpikeFn.apply(u, v)
    assert o.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]  # u > v, strictly
    o.sum().backward()
    # 0.3 max(0, 1 - |u/v - 1|) / v
    assert torch.allclose(u.grad, torch.tensor([0.0, 0.15, 0.3, 0.15, 0.0]))
    w = torch.tensor([-1.0, -0.2, 0.01, 0.5, 0.97], requires_grad=True)
    q = fake_quant(w, 6)
    s = 1.0 / 31
    assert torch.allclose(q, torch.round(w.detach() / s) * s)
    q.sum().backward()
    assert torch.equal(w.grad, torch.ones(5))  # straight-through


@heavy
@needs_shared
def test_full_size_surrogate_salinas_epoch(tmp_path):
    synth_scene("salinas", tmp_path, gt_dir=str(SHARED))
    cfg = TrainConfig("salinas_surrogate", str(tmp_path), cnn_epochs=1, qat_epochs=1,
                      snn_epochs=1, train_fraction=0.2, eval_fraction=0.05, batch_size=64)
    tr = Trainer(cfg, tmp_path / "run", threads=1, progress=False, log=lambda m: None)
    m = tr.run()
    assert m["cnn_fp32"]["oa"] > 0.5
    path, _ = export_run(tr, tmp_path / "sa.npz", samples=32)
    assert replay_trace(load_trace(path))["spike_agreement"] >= 0.999


def test_models_match_simulator_geometry_and_3d_variant_replays(tmp_path):
    import math

    from pimsim.networks import scene_layers
    from pimsim.snn.export import export_snn
    from pimsim.snn.models import SpikingNet, build_layers

    ip = build_layers("hybrid", 30, 16)
    assert ip == scene_layers("indian_pines")
    # HybridSN (Roy et al. 2020): IP has 5,122,176 parameters (with biases; ours are bias-free) and 247,683,392 MACs
    biases = sum(s.out_shape[0] for s in ip)
    assert sum(math.prod(s.weight_shape) for s in ip) + biases == 5_122_176
    assert sum(s.out_size * s.fan_in for s in ip) == 247_683_392
    net = SpikingNet(ip)
    x = torch.rand(2, 1, 30, 25, 25)
    assert net.forward_cnn(x).shape == (2, 16)
    assert net.forward_snn(x, 5)[0].shape == (2, 16)
    d3 = build_layers("3d", 15, 9, window=9)
    assert [s.kind for s in d3] == ["conv3d"] * 4 + ["linear"] * 3
    assert d3[3].out_shape == (64, 1, 1, 1) and d3[4].in_shape == (64,)
    net3 = SpikingNet(d3, seed=1)
    with torch.no_grad():
        net3.weights[0].sub_(net3.weights[0].mean())
    xi = np.random.default_rng(2).integers(0, 256, size=(6, 1, 15, 9, 9)).astype(np.uint8)
    layers = [s.__class__(**{**s.__dict__, "threshold": 0.05, "leak": 0.9}) for s in d3]
    path, info = export_snn(tmp_path / "d3.npz", layers=layers, weights=list(net3.weights),
                            x_int=xi, input_scale=0.01, input_bits=8,
                            labels=np.zeros(6, dtype=np.int64), timesteps=5,
                            dataset="synthetic_test", model="snn3d",
                            provenance={"data": "synthetic random inputs (test)"})
    assert 0 < info["input_spike_rates"]["conv3d_2"] < 1
    rep = replay_trace(load_trace(path))
    assert rep["spike_agreement"] == 1.0 and rep["prediction_agreement"] == 1.0
    with pytest.raises(PimsimError, match="at least 13 spectral components"):
        build_layers("hybrid", 8, 16)
