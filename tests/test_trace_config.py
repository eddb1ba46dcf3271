"""Trace round trip, synthetic traces, config inheritance and overrides."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import REPO, TINY_HW, conv3d, linear, write_trace

from pimsim.activity import iter_spike_chunks
from pimsim.api import compare, load_config, load_trace
from pimsim.errors import ConfigError
from pimsim.networks import scene_layers
from pimsim.synth import synth_trace
from pimsim.trace import spike_rates


def test_round_trip_and_chunked_unpack(tmp_path):
    layers = [conv3d("c0", (1, 3, 3, 3), 3, (1, 1, 1), first=True), linear("fc", 81, 2)]
    rng = np.random.default_rng(3)
    s = rng.random((5, 3, 81)) < 0.3  # 3*81 = 243 bits per sample: chunks are not byte-aligned
    tr = load_trace(write_trace(tmp_path / "r.npz", layers, {"fc": s}, n=5, t=3))
    np.testing.assert_array_equal(tr.spikes("fc"), s)
    chunks = list(iter_spike_chunks(tr, "fc", 2))
    assert [c.shape[0] for c in chunks] == [2, 2, 1]
    np.testing.assert_array_equal(np.concatenate(chunks), s)
    assert tr.layers[0].out_shape == (3, 3, 3, 3)
    assert tr.content_hash() == load_trace(tmp_path / "r.npz").content_hash()


def test_synth_rates_and_provenance(tmp_path):
    layers = scene_layers("salinas")
    meta = synth_trace(str(tmp_path / "s.npz"), layers, num_samples=6, rates=0.2, seed=1)
    assert meta["provenance"]["data"] == "synthetic"
    tr = load_trace(tmp_path / "s.npz")
    assert tr.is_synthetic
    for name, r in spike_rates(tr).items():
        assert abs(r.mean() - 0.2) < 0.03, name


def test_extends_and_overrides():
    cfg = load_config(REPO / "hw_configs" / "45nm_pim.yaml")
    base = load_config(REPO / "hw_configs" / "45nm_digital.yaml")
    assert cfg.pim.enabled and not base.pim.enabled
    assert cfg.ops == base.ops
    ace = load_config(REPO / "hw_configs" / "ace_snn_compute.yaml", {"pim.adc_bits": 3})
    assert ace.pim.adc_bits == 3 and not ace.accounting.memory
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(TINY_HW, {"pim.nothing": 1})


def test_circular_extends(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    with pytest.raises(ConfigError, match="circular"):
        load_config(tmp_path / "a.yaml")


def test_compare_rows_and_ratios(tmp_path):
    layers = scene_layers("salinas")
    synth_trace(str(tmp_path / "s.npz"), layers, num_samples=2, rates=0.1, seed=2)
    tr = load_trace(tmp_path / "s.npz")
    comp = compare(load_config(REPO / "hw_configs" / "ace_snn_compute.yaml"), tr)
    js = comp.to_json()
    assert [r["system"] for r in js["rows"]] == ["cnn_fp32", "cnn_int6", "snn_digital", "snn_pim"]
    rows = {r["system"]: r for r in js["rows"]}
    assert js["ratios"]["cnn_fp32_over_snn_digital_energy"] == pytest.approx(
        rows["cnn_fp32"]["energy_j"] / rows["snn_digital"]["energy_j"])
    # compute-only FP32 CNN: every MAC at 3.7 + 0.9 pJ, nothing else
    assert rows["cnn_fp32"]["energy_j"] == pytest.approx(50_822_072 * 4.6e-12)
    assert js["ratios"]["pim_improvement_edp"] == pytest.approx(
        1 - rows["snn_pim"]["edp_js"] / rows["snn_digital"]["edp_js"])


def test_synth_cli_custom_layer_list(tmp_path, monkeypatch, capsys):
    import sys

    from pimsim import cli

    layers = tmp_path / "layers.yaml"
    layers.write_text(
        "- {name: c0, kind: conv2d, in_shape: [3, 8, 8], kernel: [3, 3], padding: [1, 1],"
        " out_channels: 4}\n"
        "- {name: c1, kind: conv2d, in_shape: [4, 8, 8], kernel: [3, 3], stride: [2, 2],"
        " out_channels: 8}\n"
        "- {name: fc, kind: linear, in_shape: [72], out_shape: [10]}\n")
    out = tmp_path / "c.npz"
    monkeypatch.setattr(sys, "argv", ["pimsim", "trace", "synth", "--layers", str(layers),
                                      "--samples", "3", "--out", str(out), "--rate", "0.2"])
    cli.main()
    tr = load_trace(out)
    assert [s.out_shape for s in tr.layers] == [(4, 8, 8), (8, 3, 3), (10,)]
    assert tr.layers[-1].neuron == "integrator" and tr.is_synthetic
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {name: c0, kind: conv2d, in_shape: [3, 8, 8], kernel: [3, 3]}\n")
    monkeypatch.setattr(sys, "argv", ["pimsim", "trace", "synth", "--layers", str(bad),
                                      "--out", str(tmp_path / "x.npz")])
    import pytest as _pytest
    with _pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 2
    assert "bad.yaml" in capsys.readouterr().err
