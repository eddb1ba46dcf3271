"""The HybridSN MAC totals of HybridSN (Roy et al., IEEE GRSL 2020, layer table) come out of the dense CNN baseline exactly."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import REPO, write_trace

from pimsim.api import load_config, load_trace, simulate_cnn
from pimsim.networks import scene_layers


@pytest.mark.parametrize("scene,total,first", [
    ("indian_pines", 247_683_392, 6_398_784),
    ("salinas", 50_822_072, 2_399_544),
    ("pavia_university", 50_821_176, 2_399_544),
])
def test_hybridsn_macs(tmp_path, scene, total, first):
    layers = scene_layers(scene)
    spikes = {s.name: np.zeros((1, 1, *s.in_shape), bool) for s in layers[1:]}
    tr = load_trace(write_trace(tmp_path / "h.npz", layers, spikes, n=1, t=1))
    cfg = load_config(REPO / "hw_configs" / "45nm_digital.yaml")
    for precision in ("fp32", "int"):
        r = simulate_cnn(cfg, tr, precision)
        assert sum(x.ops["macs"] for x in r.layers) == total
        assert r.layers[0].ops["macs"] == first
