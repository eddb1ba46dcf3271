"""ADC models: survey table, flash, node/voltage scaling, range errors."""

import pytest

from pimsim.config import load_config
from pimsim.errors import ConfigError
from pimsim.models import adc, scaling


def test_sar_reproduces_survey_fit_at_45nm():
    # hwcomponents-adc 1.0.21 at 45 nm (docs/sources.md 6a): 6 b 2.02 pJ, 8 b 3.25 pJ
    assert adc.survey_energy_j("sar", 6) == pytest.approx(2.02e-12)
    assert adc.survey_energy_j("sar", 8) == pytest.approx(3.25e-12)
    e9 = adc.survey_energy_j("sar", 9)
    assert 3.25e-12 < e9 < 6.28e-12
    assert adc.survey_energy_j("sar", 2) == adc.survey_energy_j("sar", 4)


def test_flash_grows_with_comparators_and_node_scaling():
    assert adc.survey_energy_j("flash", 4) == pytest.approx(1.75e-12)
    assert adc.survey_energy_j("flash", 6) == pytest.approx(1.75e-12 * 63 / 15)
    f = scaling.energy_factor(45, 1.0, 7, 0.8)
    assert adc.survey_energy_j("sar", 8, 7, 0.8) == pytest.approx(3.25e-12 * f)
    assert adc.survey_area_m2("sar", 8, 7) == pytest.approx(6694e-12 * 0.059)


@pytest.mark.parametrize("over", [{"pim.adc_model": "sar", "pim.adc_bits": 11},
                                  {"pim.adc_model": "flash", "pim.adc_bits": 9}])
def test_resolution_above_model_is_config_error(over):
    with pytest.raises(ConfigError) as exc:
        load_config("hw_configs/45nm_pim.yaml", over)
    assert "pim.adc_bits" in str(exc.value) and "45nm_pim.yaml" in str(exc.value)


def test_sample_rate_above_model_is_config_error():
    with pytest.raises(ConfigError, match="pim.adc_sample_rate_hz"):
        load_config("hw_configs/45nm_pim.yaml",
                    {"pim.adc_model": "sar", "pim.adc_sample_rate_hz": 5e9})


def test_conversion_time_sar_flash_and_sample_rate():
    c = load_config("hw_configs/45nm_pim.yaml", {"pim.adc_model": "sar"})
    assert adc.conversion_time_s(c) == pytest.approx(6 * c.pim.adc_t_per_bit_s)
    c = load_config("hw_configs/45nm_pim.yaml", {"pim.adc_model": "flash"})
    assert adc.conversion_time_s(c) == pytest.approx(c.pim.adc_t_per_bit_s)
    c = load_config("hw_configs/45nm_pim.yaml", {"pim.adc_model": "sar",
                                                 "pim.adc_sample_rate_hz": 2e8})
    assert adc.conversion_time_s(c) == pytest.approx(5e-9)


def test_sar_macro_energy_area_and_range():
    """sar_macro: (k1 b + k2 4^b) V^2 with the shared periphery constants, no node term;
    the ZigZag-IMC area fit, node-free; 1-11 bits."""
    c = load_config("hw_configs/45nm_pim.yaml")  # adc_model sar_macro, 6 b, 0.9 V
    q = c.periphery
    assert c.pim.adc_model == "sar_macro"
    # (301.5 fF x 6 + 0.001 fF x 4096) x 0.81 V^2 = (1809 + 4.096) x 0.81 fJ = 1468.6 fJ
    assert adc.conversion_energy_j(c) == pytest.approx((1809e-15 + 4.096e-15) * 0.81)
    assert q.sar_k1_f == pytest.approx(301.5e-15)
    c7 = load_config("hw_configs/7nm_pim.yaml")  # 0.7 V: the same capacitance, V^2 only
    assert adc.conversion_energy_j(c7) == pytest.approx(adc.conversion_energy_j(c)
                                                        * (0.7 / 0.9) ** 2)
    assert adc.adc_area_m2(c7) == pytest.approx(adc.adc_area_m2(c))
    assert adc.adc_area_m2(c) == pytest.approx(10 ** (-0.0369 * 6 + 1.206) * 64e-12)
    assert adc.conversion_time_s(c) == pytest.approx(6 * c.pim.adc_t_per_bit_s)
    with pytest.raises(ConfigError, match="pim.adc_bits"):
        load_config("hw_configs/45nm_pim.yaml", {"pim.adc_bits": 12})
    assert load_config("hw_configs/45nm_pim.yaml", {"pim.adc_bits": 11}).pim.adc_bits == 11
