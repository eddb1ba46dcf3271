"""PIM first-layer non-idealities and the accuracy column of a sweep."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pimsim.api import load_config, load_trace
from pimsim.networks import scene_layers
from pimsim.nonideal import pim_layer_output, row_groups
from pimsim.sweep import run_sweep
from pimsim.synth import synth_trace

HW = str(Path(__file__).resolve().parents[1] / "hw_configs" / "45nm_pim.yaml")
BITSERIAL = {"pim.input_mode": "bit_serial", "pim.analog_weight_combine": False}


@pytest.fixture(scope="module")
def trace_path(tmp_path_factory) -> str:
    p = tmp_path_factory.mktemp("acc") / "s.npz"
    synth_trace(str(p), scene_layers("salinas"), num_samples=2, timesteps=2, seed=3)
    return str(p)


def _exact(trace):
    spec = trace.layers[0]
    from pimsim.nonideal import patches

    cols = patches(trace.input.astype(np.int64), spec)
    w = trace.weights[spec.name].reshape(spec.out_channels, -1).astype(np.int64)
    return np.moveaxis(cols @ w.T, -1, 1).astype(float)


def test_row_groups():
    assert row_groups(10, 4, 3) == [slice(0, 3), slice(3, 4), slice(4, 7), slice(7, 8),
                                    slice(8, 10)]


def test_lossless_adc_is_exact_and_fewer_bits_err_more(trace_path):
    tr = load_trace(trace_path)
    spec, w = tr.layers[0], tr.weights[tr.layers[0].name]
    ref = _exact(tr)
    errs = []
    for bits, rpr in ((7, 64), (6, 16), (4, 16), (2, 16)):
        cfg = load_config(HW, {"pim.adc_bits": bits, "pim.rows_per_read": rpr, **BITSERIAL})
        y = pim_layer_output(tr.input, w, spec, cfg, input_bits=tr.input_bits)
        assert y.shape == (tr.num_samples, *spec.out_shape)
        errs.append(float(np.abs(y - ref).mean()))
    assert errs[0] == 0.0 and errs[1] == 0.0  # 64 rows x 1 x 1 <= 127; 16 <= 63
    assert 0 < errs[2] < errs[3]
    cfg = load_config(HW, {"pim.adc_bits": 6, "pim.rows_per_read": 16, **BITSERIAL})
    a = pim_layer_output(tr.input, w, spec, cfg, input_bits=8, read_noise_lsb=0.5, seed=1)
    b = pim_layer_output(tr.input, w, spec, cfg, input_bits=8, read_noise_lsb=0.5, seed=1)
    assert np.array_equal(a, b) and not np.array_equal(a, ref)


def test_sweep_accuracy_column(tmp_path, trace_path, monkeypatch):
    calls = []

    def replay_trace(trace, first_layer_current=None):
        # accuracy falls with the first layer's error against the exact current
        if first_layer_current is None:
            return {"accuracy": 1.0, "spike_agreement": 1.0, "prediction_agreement": 1.0}
        ref = _exact(trace) * trace.input_scale * trace.layers[0].weight_scale
        err = float(np.abs(first_layer_current - ref).mean())
        calls.append(err)
        return {"accuracy": 1.0 / (1.0 + 1e3 * err), "spike_agreement": 1.0,
                "prediction_agreement": 1.0}

    monkeypatch.setitem(sys.modules, "pimsim.replay",
                        types.SimpleNamespace(replay_trace=replay_trace))
    space = tmp_path / "s.yaml"
    space.write_text("parameters:\n  pim.adc_bits: [2, 4, 7]\n  pim.rows_per_read: [16, 64]\n"
                     "  pim.e_cell_j: [1.0e-16, 2.0e-16]\n  pim.input_mode: [bit_serial]\n"
                     "  pim.analog_weight_combine: [false]\n")
    run_sweep(HW, [trace_path], str(space), str(tmp_path / "r.csv"), accuracy=True,
              progress=False, cache_dir=str(tmp_path / "c"), log=lambda m: None)
    df = pd.read_csv(tmp_path / "r.csv")
    assert len(df) == 12 and "accuracy" in df.columns
    # memoised on the keys that matter: e_cell_j does not trigger another replay
    assert len(calls) == 6
    acc = df.groupby(["pim.adc_bits", "pim.rows_per_read"])["accuracy"].first()
    assert acc[(7, 16)] == 1.0 and acc[(7, 64)] == 1.0 and acc[(2, 16)] < acc[(4, 16)] < 1.0
