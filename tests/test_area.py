"""Area model and its presence in results."""

import pytest

from pimsim import api
from pimsim.config import load_config
from pimsim.models import area, scaling
from pimsim.networks import scene_layers
from pimsim.synth import synth_trace


def test_pim_area_equation():
    c = load_config("hw_configs/45nm_pim.yaml")
    a = area.pim_area_m2(c)
    p = c.pim
    assert a["pim_cells"] == pytest.approx(p.num_arrays * p.rows * p.cols * 0.385e-12)
    assert a["pim_adc"] == pytest.approx(p.num_arrays * (p.cols // p.cols_per_adc) * 5807e-12)


def test_area_scales_with_node_and_digital_has_no_pim():
    c45 = load_config("hw_configs/45nm_pim.yaml")
    c7 = load_config("hw_configs/7nm_pim.yaml")
    assert area.total_area_m2(c7) == pytest.approx(area.total_area_m2(c45)
                                                   * scaling.area_factor(45, 7), rel=1e-6)
    assert "pim" not in area.area_breakdown_m2(load_config("hw_configs/45nm_digital.yaml"))


def test_result_reports_area(tmp_path):
    path = tmp_path / "t.npz"
    synth_trace(str(path), scene_layers("salinas"), num_samples=1, timesteps=2, rates=0.1)
    cfg = load_config("hw_configs/45nm_pim.yaml")
    res = api.simulate(cfg, api.load_trace(path))
    js = res.to_json()
    assert js["area_m2"] == pytest.approx(area.total_area_m2(cfg)) and js["area_m2"] > 0
    assert set(res.area_by_engine()) == {"digital", "pim"}
