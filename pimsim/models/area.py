"""Silicon area of the PIM macro and of the digital SNN core.

All constants live in the config's ``area`` section at ``area.reference_node_nm`` (45 nm by
default; sources in :data:`pimsim.config.DEFAULT_SOURCES`) and are multiplied by the Stillmaker &
Baas area factor s = A(tech.node_nm) / A(reference) (:func:`pimsim.models.scaling.area_factor`).

PIM macro (``num_arrays`` arrays of R x C cells; N_adc = ceil(C / cols_per_adc) ADCs each):

    A_pim = num_arrays x (R C A_cell + s (R a_wl + C a_col + N_adc a_shift_add)) + num_arrays
            x N_adc x A_adc(adc_bits, node)

with A_cell = ``pim.cell_area_m2`` (a published cell area at the macro's own node) or
s x a_cell, and A_adc from :func:`pimsim.models.adc.adc_area_m2` (already at the node;
``sar_macro``: the node-free ZigZag-IMC fit).

Digital core (R_pe x C_pe PEs; the weight, membrane and spike buffers):

    A_pe  = lanes x a_add32 x m/32 + mac_lanes x a_mul32 x 8 x 8 / 32^2 + m x a_reg
    A_dig = s x (R_pe C_pe A_pe + 8 x (weight + membrane + spike bytes) x a_sram_bit)

with m = membrane_bits (accumulator and membrane register), adders linear and multipliers
quadratic in width (the rules of pimsim.models.tech); the multiplier is sized for 8 x 8-bit
first-layer MACs. Wires, control and the DRAM interface are not counted.
"""

from __future__ import annotations

from pimsim.config import HardwareConfig
from pimsim.models import adc, scaling
from pimsim.models.base import ceil_div


def scale(cfg: HardwareConfig) -> float:
    """Area factor from area.reference_node_nm to tech.node_nm (Stillmaker & Baas)."""
    return _s(cfg)


def _s(cfg: HardwareConfig) -> float:
    return scaling.area_factor(cfg.area.reference_node_nm, cfg.tech.node_nm)


def pim_cell_area_m2(cfg: HardwareConfig) -> float:
    """Area of one PIM cell at the config's node, m^2: ``pim.cell_area_m2`` when given (never
    scaled), else ``area.pim_cell_m2`` x s."""
    p = cfg.pim
    return p.cell_area_m2 if p.cell_area_m2 is not None else cfg.area.pim_cell_m2 * _s(cfg)


def pim_area_m2(cfg: HardwareConfig) -> dict[str, float]:
    """Area of the PIM macro by component, m^2 (cells, adc, wordline, column, shift_add)."""
    p, a, s = cfg.pim, cfg.area, _s(cfg)
    n_adc = ceil_div(p.cols, p.cols_per_adc)
    k = p.num_arrays
    return {
        "pim_cells": k * p.rows * p.cols * pim_cell_area_m2(cfg),
        "pim_adc": k * n_adc * adc.adc_area_m2(cfg),
        "pim_wordline": k * s * p.rows * a.wordline_driver_m2,
        "pim_column": k * s * p.cols * a.column_periphery_m2,
        "pim_shift_add": k * s * n_adc * a.shift_add_m2,
    }


def pe_area_m2(cfg: HardwareConfig) -> float:
    """Area of one PE at the config's node, m^2 (A_pe x s, module doc)."""
    d, a = cfg.digital, cfg.area
    mb = d.membrane_bits
    return _s(cfg) * (d.lanes * a.adder_32b_m2 * mb / 32
                      + d.mac_lanes * a.multiplier_32b_m2 * 64 / 1024 + mb * a.register_bit_m2)


def digital_area_m2(cfg: HardwareConfig) -> dict[str, float]:
    """Area of the digital core by component, m^2 (pe_array, sram_buffers)."""
    d, m, a, s = cfg.digital, cfg.memory, cfg.area, _s(cfg)
    pe = pe_area_m2(cfg) / s
    sram_bits = 8 * (m.weight_sram_bytes + m.membrane_sram_bytes + m.spike_sram_bytes)
    return {
        "pe_array": s * d.pe_rows * d.pe_cols * pe,
        "sram_buffers": s * sram_bits * a.sram_m2_per_bit,
    }


def area_breakdown_m2(cfg: HardwareConfig) -> dict[str, dict[str, float]]:
    """Area per engine and component: {"digital": {...}, "pim": {...}} (pim only if enabled)."""
    out = {"digital": digital_area_m2(cfg)}
    if cfg.pim.enabled:
        out["pim"] = pim_area_m2(cfg)
    return out


def total_area_m2(cfg: HardwareConfig) -> float:
    """Total accelerator area, m^2."""
    return float(sum(sum(v.values()) for v in area_breakdown_m2(cfg).values()))
