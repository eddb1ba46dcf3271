"""ADC energy, conversion time and area as functions of resolution, sample rate, node and supply.

Three models, chosen by ``pim.adc_model``:

* ``walden`` (default, backward compatible): E = FOM_W x 2^b with the config's
  ``pim.adc_fom_j_per_step`` (Walden figure of merit, J per conversion step); conversion time
  b x ``adc_t_per_bit_s`` (one SAR comparison per bit).
* ``sar``: the best-of-survey SAR/generic ADC energy from the ADC model of CiMLoop
  (Andrulis et al., arXiv 2404.06553, package hwcomponents-adc 1.0.21), which is fitted to
  B. Murmann's ADC Performance Survey 1997-2023 (github.com/bmurmann/ADC-survey). Its output at
  45 nm for 10-100 MS/s (docs/sources.md §6a, reproduced by running the package) is tabulated in
  :data:`SAR_45NM_J`; between tabulated resolutions ln E is interpolated linearly in b. Below
  4 bits the fit is flat (4 -> 5 bits changes it by 1.7 %) and E(b < 4) = E(4). Resolutions
  above 10 bits are outside the model (ConfigError). Conversion time: b x ``adc_t_per_bit_s``,
  or 1 / ``adc_sample_rate_hz`` when given.
* ``flash``: 2^b - 1 comparators fire per conversion, E = (2^b - 1) x E_cmp with
  E_cmp = E_sar(4) / 15 (a 4-bit flash is taken to cost the survey's best 4-bit converter;
  assumption stated in docs/model.md); valid for 1-8 bits. Conversion time: one comparator
  decision, ``adc_t_per_bit_s``, or 1 / ``adc_sample_rate_hz``.

* ``sar_macro``: an SAR ADC inside a CIM macro, E = (k1 b + k2 4^b) V^2 per conversion
  (:func:`pimsim.models.periphery.sar_adc_energy_j`, the form of ZigZag-IMC's ADC model) with
  the shared ``periphery.sar_k1_f`` (from the measured in-macro 8-b ADC of Jia et al. JSSC
  2020) and ``periphery.sar_k2_f`` (ZigZag-IMC) at tech.vdd_v; no node term (in-macro SAR
  energy is node-flat: Jia's 65 nm and Wang et al.'s 22 nm 8-b ADCs cost 2.48 and 2.66 pJ at
  1 V, docs/validation.md). Valid for 1-11 bits (the area fit's range); conversion time as
  ``sar``. Area: the ZigZag-IMC fit 10^(slope b + offset) 2^b um^2, node-free
  (:func:`pimsim.models.periphery.sar_adc_area_m2`).

Node and supply: the 45 nm figures are taken at 1.0 V (the HP45 nominal supply; the fit has no
supply input: assumption) and carried to (tech.node_nm, tech.vdd_v) with the Stillmaker & Baas
energy factor (:mod:`pimsim.models.scaling`); for 65 nm this gives x1.95 where the survey fit's
own node term gives x2.0, and for 22 nm x0.25 vs x0.26 (docs/sources.md §6a, §7).

Sample rate: the survey fit is flat in sample rate below about 1 GS/s for resolutions up to
8 bits, so energy does not depend on fs in the range the model accepts; a sample rate above
:data:`MAX_SAMPLE_RATE_HZ` is outside the model (ConfigError). The sample rate enters the
delay through the conversion time.

Area (sar): :data:`SAR_AREA_45NM_M2` (same package, 100 MS/s), scaled by the Stillmaker & Baas
area factor; flash: (2^b - 1) / 15 x the 4-bit SAR area.
"""

from __future__ import annotations

import math

import numpy as np

from pimsim.errors import ConfigError
from pimsim.models import periphery, scaling

#: Energy per conversion at 45 nm, J (hwcomponents-adc 1.0.21, 10-100 MS/s; docs/sources.md §6a).
SAR_45NM_J: dict[int, float] = {4: 1.75e-12, 5: 1.78e-12, 6: 2.02e-12, 7: 2.49e-12,
                                8: 3.25e-12, 10: 6.28e-12}
#: ADC area at 45 nm, 100 MS/s, m^2 (same source).
SAR_AREA_45NM_M2: dict[int, float] = {4: 5565e-12, 5: 5587e-12, 6: 5807e-12, 7: 6181e-12,
                                      8: 6694e-12, 10: 8151e-12}
REF_NODE_NM, REF_VDD_V = 45.0, 1.0
MAX_BITS = {"sar": 10, "flash": 8, "walden": 12, "sar_macro": 11}
MAX_SAMPLE_RATE_HZ = 1.0e9


def _interp(table: dict[int, float], bits):  # type: ignore[no-untyped-def]
    """ln E linear in b between tabulated resolutions; flat below the first (broadcasts)."""
    keys = sorted(table)
    b = np.maximum(np.asarray(bits, dtype=float), keys[0])
    out = np.exp(np.interp(b, keys, [math.log(table[k]) for k in keys]))
    return float(out) if out.ndim == 0 else out


def check_adc(model: str, bits: int, sample_rate_hz: float | None, *, file: str = "<config>"
              ) -> None:
    """Raise ConfigError for a resolution or sample rate outside the ADC model."""
    top = MAX_BITS[model]
    if not np.all((np.asarray(bits) >= 1) & (np.asarray(bits) <= top)):
        raise ConfigError(f"{bits}-bit ADC is outside the {model} ADC model (1-{top} bits)",
                          file=file, key="pim.adc_bits")
    if sample_rate_hz is not None and model != "walden" and sample_rate_hz > MAX_SAMPLE_RATE_HZ:
        raise ConfigError(
            f"ADC sample rate {sample_rate_hz:.3g} Hz is above the survey model's range "
            f"(<= {MAX_SAMPLE_RATE_HZ:.0e} Hz)", file=file, key="pim.adc_sample_rate_hz")


def survey_energy_j(model: str, bits: int, node_nm: float = REF_NODE_NM,
                    vdd_v: float = REF_VDD_V, device: str = "hp") -> float:
    """Energy per conversion of the ``sar`` or ``flash`` model at (node, V), J."""
    check_adc(model, bits, None)
    f = scaling.factor("energy", REF_NODE_NM, REF_VDD_V, node_nm, vdd_v, device)
    if model == "sar":
        return _interp(SAR_45NM_J, bits) * f
    if model == "flash":
        return (2.0**np.asarray(bits) - 1) * SAR_45NM_J[4] / 15.0 * f
    raise ValueError(model)


def survey_area_m2(model: str, bits: int, node_nm: float = REF_NODE_NM) -> float:
    """Area of one ``sar`` or ``flash`` ADC at ``node_nm``, m^2."""
    a = scaling.area_factor(REF_NODE_NM, node_nm)
    if model == "flash":
        return (2.0**np.asarray(bits) - 1) / 15.0 * SAR_AREA_45NM_M2[4] * a
    return _interp(SAR_AREA_45NM_M2, bits) * a


def conversion_energy_j(cfg) -> float:  # type: ignore[no-untyped-def]
    """Energy of one conversion of the config's PIM ADC, J."""
    p = cfg.pim
    if p.adc_model == "walden":
        return p.adc_fom_j_per_step * (2.0**np.asarray(p.adc_bits))
    if p.adc_model == "sar_macro":
        q = cfg.periphery
        return periphery.sar_adc_energy_j(1.0, p.adc_bits, cfg.tech.vdd_v, q.sar_k1_f,
                                          q.sar_k2_f)
    return survey_energy_j(p.adc_model, p.adc_bits, cfg.tech.node_nm, cfg.tech.vdd_v,
                           cfg.tech.device)


def conversion_time_s(cfg) -> float:  # type: ignore[no-untyped-def]
    """Time of one conversion, s: 1/fs when a sample rate is given, else SAR b x t_bit,
    flash t_bit."""
    p = cfg.pim
    if p.adc_model != "walden" and p.adc_sample_rate_hz is not None:
        return 1.0 / p.adc_sample_rate_hz
    if p.adc_model == "flash":
        return p.adc_t_per_bit_s
    return p.adc_bits * p.adc_t_per_bit_s


def adc_area_m2(cfg) -> float:  # type: ignore[no-untyped-def]
    """Area of one of the config's PIM ADCs, m^2 (walden: the SAR survey area; sar_macro:
    the ZigZag-IMC in-macro fit)."""
    p = cfg.pim
    if p.adc_model == "sar_macro":
        q = cfg.periphery
        return periphery.sar_adc_area_m2(p.adc_bits, q.sar_area_log10_um2_per_bit,
                                         q.sar_area_log10_um2_offset)
    model = "flash" if p.adc_model == "flash" else "sar"
    return survey_area_m2(model, np.minimum(p.adc_bits, MAX_BITS[model]), cfg.tech.node_nm)
