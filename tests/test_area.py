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
    # sar_macro, 6 b: the ZigZag-IMC fit 10^(-0.0369 x 6 + 1.206) x 2^6 = 10^0.9846 x 64 um^2
    assert a["pim_adc"] == pytest.approx(p.num_arrays * (p.cols // p.cols_per_adc)
                                         * 10**0.9846 * 64e-12)
    # the survey SAR (adc_model sar): 5807 um^2 at 45 nm
    s = area.pim_area_m2(load_config("hw_configs/45nm_pim.yaml", {"pim.adc_model": "sar"}))
    assert s["pim_adc"] == pytest.approx(p.num_arrays * (p.cols // p.cols_per_adc) * 5807e-12)


def test_published_cell_area_is_not_scaled():
    c = load_config("hw_configs/7nm_pim.yaml", {"pim.cell_area_m2": 0.05e-12})
    p = c.pim
    assert area.pim_area_m2(c)["pim_cells"] == pytest.approx(
        p.num_arrays * p.rows * p.cols * 0.05e-12)


def test_area_scales_with_node_and_digital_has_no_pim():
    """Everything but the sar_macro ADCs (a node-free fit) scales by the area factor."""
    c45 = load_config("hw_configs/45nm_pim.yaml")
    c7 = load_config("hw_configs/7nm_pim.yaml")
    adc45, adc7 = (area.pim_area_m2(c)["pim_adc"] for c in (c45, c7))
    assert adc7 == pytest.approx(adc45)
    assert area.total_area_m2(c7) - adc7 == pytest.approx(
        (area.total_area_m2(c45) - adc45) * scaling.area_factor(45, 7), rel=1e-6)
    s45, s7 = (load_config(f"hw_configs/{n}_pim.yaml", {"pim.adc_model": "sar"})
               for n in ("45nm", "7nm"))
    assert area.total_area_m2(s7) == pytest.approx(area.total_area_m2(s45)
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
