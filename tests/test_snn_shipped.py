"""The trained traces shipped in traces/: valid v1, honest provenance, replayable, small."""

from __future__ import annotations

from pathlib import Path

import pytest

from pimsim.replay import replay_trace
from pimsim.trace import load_trace

TRACES = Path(__file__).resolve().parents[1] / "traces"
SHIPPED = {
    # name: (data kind, dataset); every one is a trained network
    "indian_pines.npz": ("real", "indian_pines_uint8"),
    "salinas_surrogate.npz": ("surrogate", "salinas_surrogate"),
    "pavia_university_surrogate.npz": ("surrogate", "pavia_university_surrogate"),
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_trace(name):
    path = TRACES / name
    if not path.is_file():
        pytest.skip(f"{name} not shipped yet")
    kind, dataset = SHIPPED[name]
    assert path.stat().st_size <= 10 * 1024 * 1024
    trace = load_trace(path)
    assert trace.meta["dataset"] == dataset and trace.timesteps == 5
    assert trace.meta["weight_bits"] == 6 and trace.input_bits == 8
    data = trace.provenance["data"].lower()
    # these traces predate the explicit fields: the origin is inferred from the text
    assert (trace.origin.data, trace.origin.trained, trace.origin.inferred) == (kind, True, True)
    assert not trace.is_synthetic  # trained spikes, never labelled synthetic
    if kind == "real":
        assert "lossy" in data and "ssga" in data  # the 8-bit third-party copy, said plainly
    assert trace.provenance["train_command"].startswith("pimsim train")
    m = trace.meta["metrics"]
    for key in ("cnn_fp32", "cnn_int6", "snn"):
        assert {"oa", "aa", "kappa"} <= set(m[key])
    assert len(m["snn"]["spike_rates"]) == len(trace.layers) - 1
    rep = replay_trace(trace)
    assert rep["spike_agreement"] >= 0.999
    assert rep["prediction_agreement"] >= 0.99
