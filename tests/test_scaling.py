"""Stillmaker & Baas 2017 scaling: table entries, derived factors, range errors, config scaling."""

import pytest

from pimsim.config import load_config
from pimsim.errors import ConfigError
from pimsim.models import scaling


def test_coefficients_reproduce_published_table_entries():
    # Stillmaker & Baas 2017 tables (via nodeScale): HP45 energy e, f, g; HP7 delay a..d
    assert scaling.COEFFS["HP45"][4:7] == (1.018, -0.3107, 0.1539)
    assert scaling.COEFFS["HP7"][0:4] == (-28.58, 76.6, -70.26, 24.69)
    assert scaling.COEFFS["65"][7:10] == (12890, -10510, 4362)
    # polynomial value at 1 V = sum of the energy coefficients
    assert scaling.raw_factor("energy", 45, 1.0) == pytest.approx(1.018 - 0.3107 + 0.1539)


@pytest.mark.parametrize("node,v,energy,delay,power", [
    (180, 1.8, 30.6, 6.32, 24.2), (65, 1.1, 1.95, 1.53, 1.99), (32, 0.9, 0.531, 0.669, 0.524),
    (7, 0.7, 0.056, 0.259, 0.081)])
def test_factors_match_sources_table(node, v, energy, delay, power):
    # docs/sources.md §7 factors vs HP45 at 1.0 V
    assert scaling.energy_factor(45, 1.0, node, v) == pytest.approx(energy, rel=0.01)
    assert scaling.delay_factor(45, 1.0, node, v) == pytest.approx(delay, rel=0.01)
    assert scaling.power_factor(45, 1.0, node, v) == pytest.approx(power, rel=0.01)


def test_interpolated_node_lies_between_neighbours_and_chains_compose():
    f28 = scaling.energy_factor(45, 0.9, 28, 0.9)
    assert scaling.energy_factor(45, 0.9, 20, 0.9) < f28 < scaling.energy_factor(45, 0.9, 32, 0.9)
    chain = scaling.energy_factor(45, 0.9, 28, 0.9) * scaling.energy_factor(28, 0.9, 7, 0.7)
    assert chain == pytest.approx(scaling.energy_factor(45, 0.9, 7, 0.7))
    assert scaling.area_factor(45, 7) == pytest.approx(0.059)


@pytest.mark.parametrize("node,v,key", [(5, 0.7, "tech.node_nm"), (250, 2.0, "tech.node_nm"),
                                        (7, 1.5, "tech.vdd_v"), (45, 0.3, "tech.vdd_v")])
def test_outside_the_model_is_a_config_error(node, v, key):
    with pytest.raises(ConfigError) as exc:
        scaling.energy_factor(45, 1.0, node, v)
    assert key in str(exc.value) and "\n" not in str(exc.value)


def test_config_node_outside_model_names_file_and_key(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("extends: %s\ntech: {node_nm: 5}\n" % (
        __import__("pathlib").Path(__file__).parents[1] / "hw_configs/7nm_pim.yaml"))
    with pytest.raises(ConfigError) as exc:
        load_config(f)
    assert str(f) in str(exc.value) and "tech.node_nm" in str(exc.value)


def test_shipped_scaled_configs():
    c45 = load_config("hw_configs/45nm_pim.yaml")
    c28 = load_config("hw_configs/28nm_pim.yaml")
    c7 = load_config("hw_configs/7nm_pim.yaml")
    f28 = scaling.energy_factor(45, 0.9, 28, 0.9)
    assert c28.ops.int_add_32b_j == pytest.approx(c45.ops.int_add_32b_j * f28)
    assert c28.pim.e_cell_j == pytest.approx(c45.pim.e_cell_j * f28)
    assert c7.pim.t_bitline_s == pytest.approx(
        c45.pim.t_bitline_s * scaling.delay_factor(45, 0.9, 7, 0.7))
    assert c7.leakage.pe_w == pytest.approx(
        c45.leakage.pe_w * scaling.power_factor(45, 0.9, 7, 0.7))
    assert c7.memory.dram_j_per_bit == c45.memory.dram_j_per_bit  # off-chip: not scaled
    assert c7.tech.reference_node_nm == 7  # scaling again is a no-op
