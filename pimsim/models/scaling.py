"""Technology scaling of energy, delay, static power and area between CMOS nodes.

Model: A. Stillmaker and B. Baas, "Scaling equations for the accurate prediction of CMOS device
performance from 180 nm to 7 nm", *Integration, the VLSI Journal* 58 (2017) 74-81,
doi:10.1016/j.vlsi.2017.02.002. For every node the paper fits, from simulated circuits, three
polynomials of the supply voltage V:

* delay   D(n, V) = a V^3 + b V^2 + c V + d
* energy  E(n, V) = e V^2 + f V + g          (dynamic energy per operation)
* power   P(n, V) = h V^2 + i V + j          (used here for static/leakage power)

A quantity known at (n0, V0) is carried to (n1, V1) by the ratio F(n1, V1) / F(n0, V0) of the
matching polynomial. Coefficients below are those of the paper's tables as transcribed by UCLA
NanoCAD's ``nodeScale.py`` (wromaszkan/nodeScale, commit 0676b74, MIT licence) and repeated in
Accelergy ``hwcomponents`` ``techscaling.py`` (docs/sources.md §7); only the numbers are used.

Nodes: 180, 130, 90, 65 nm (bulk, one device set) and 45, 32, 20, 16, 14, 10, 7 nm with a
high-performance (``hp``) and a low-power (``lp``) device set. A node between two table nodes
(for example 55, 40, 28 or 22 nm) is interpolated: ln F is linear in ln(node) between the two
neighbours, each polynomial evaluated at the requested V. Area scales by the paper's area factors,
interpolated the same way.

Range of validity (what pimsim accepts; anything else is a ConfigError):

* node in [7, 180] nm (the paper's range);
* V in [0.5, 1.8] V, and within [0.55 x V_nom(node), 1.5 x V_nom(node)] with V_nom the nominal
  supply listed in ``NOMINAL_VDD`` (the paper fits each node over a range of supplies around its
  nominal one; this window is pimsim's guard, chosen so that every polynomial stays positive and
  monotonic in V; it is stated in docs/model.md);
* a ratio whose polynomial is not positive at either end is rejected.
"""

from __future__ import annotations

import math

from pimsim.errors import ConfigError

#: (a, b, c, d, e, f, g, h, i, j) per node key (Stillmaker & Baas 2017, via nodeScale).
COEFFS: dict[str, tuple[float, ...]] = {
    "180": (0, 97.09, -356.7, 406.5, 0, 24.64, -17.98, 0, 101000, -79720),
    "130": (-76.65, 334.9, -493.4, 275.8, 7.171, -6.709, 2.904, 27020, -15450, 5630),
    "90": (-60.34, 262.5, -384.2, 210.9, 4.762, -4.781, 2.092, 17320, -11230, 4328),
    "65": (-53.3, 230.4, -333.9, 178.6, 3.755, -4.398, 1.975, 12890, -10510, 4362),
    "HP45": (-501.6, 1567, -1619, 566.1, 1.018, -0.3107, 0.1539, 5462, -1760, 522.4),
    "LP45": (-285.7, 1239, -1795, 898.8, 1.103, -0.362, 0.2767, 6297, -3009, 1124),
    "HP32": (-1047, 2982, -2797, 873.5, 0.8367, -0.4341, 0.1701, 4001, -1733, 533.6),
    "LP32": (-325.9, 1374, -1922, 913.2, 0.9559, -0.7823, 0.471, 4557, -3037, 1323),
    "HP20": (0, 34.63, -66.37, 41.15, 0.373, -0.1582, 0.04104, 2922, -1286, 299.9),
    "HP16": (0, 24.8, -47.52, 28.87, 0.2958, -0.1241, 0.03024, 2133, -882.6, 197.7),
    "HP14": (-40.66, 109.2, -100.6, 35.92, 0.2363, -0.09675, 0.02239, 1675, -711, 159),
    "HP10": (-34.95, 93.65, -85.99, 30.4, 0.2068, -0.09311, 0.02375, 1456, -621.6, 143.8),
    "HP7": (-28.58, 76.6, -70.26, 24.69, 0.1776, -0.09097, 0.02447, 1179, -515.7, 123.4),
    "LP20": (-160.5, 514.1, -558.6, 217.5, 0.2632, -0.14, 0.06841, 2096, -962.4, 287.1),
    "LP16": (-114.6, 366.7, -397.4, 153.6, 0.2139, -0.1187, 0.05639, 1609, -715.5, 205.7),
    "LP14": (-85.37, 271.6, -292.2, 111.4, 0.1556, -0.06472, 0.03066, 1259, -554.1, 152.3),
    "LP10": (-71.76, 228.6, -246.3, 93.91, 0.1261, -0.0518, 0.02769, 1046, -422.7, 118.9),
    "LP7": (-61.79, 196.1, -210.3, 79.55, 0.09365, -0.03409, 0.02043, 815.2, -307.3, 87.54),
}

#: Table nodes, nm, ascending.
NODES: tuple[int, ...] = (7, 10, 14, 16, 20, 32, 45, 65, 90, 130, 180)

#: Area relative to 45 nm (area_node = area_45 x factor); Stillmaker & Baas area factors as
#: transcribed in nodeScale ``areaDict`` (docs/sources.md §7).
AREA_VS_45: dict[int, float] = {180: 19.0, 130: 6.4, 90: 2.8, 65: 1.5, 45: 1.0, 32: 0.46,
                                20: 0.21, 16: 0.19, 14: 0.17, 10: 0.10, 7: 0.059}

#: Nominal supply per node, V (pimsim's voltage guard, docs/sources.md §7; not a paper value).
NOMINAL_VDD: dict[int, float] = {180: 1.8, 130: 1.3, 90: 1.2, 65: 1.1, 45: 1.0, 32: 0.9,
                                 20: 0.9, 16: 0.85, 14: 0.8, 10: 0.75, 7: 0.7}

MIN_NODE_NM, MAX_NODE_NM = 7.0, 180.0
MIN_VDD_V, MAX_VDD_V = 0.5, 1.8
DEVICES = ("hp", "lp")


def _key(node: int, device: str) -> str:
    if node >= 65:
        return str(node)
    return f"{device.upper()}{node}"


def _poly(kind: str, key: str, v: float) -> float:
    a, b, c, d, e, f, g, h, i, j = COEFFS[key]
    if kind == "delay":
        return a * v**3 + b * v**2 + c * v + d
    if kind == "energy":
        return e * v**2 + f * v + g
    if kind == "power":
        return h * v**2 + i * v + j
    raise ValueError(kind)


def _neighbours(node: float) -> tuple[int, int]:
    lo = max(n for n in NODES if n <= node)
    hi = min(n for n in NODES if n >= node)
    return lo, hi


def _interp_nominal(node: float) -> float:
    lo, hi = _neighbours(node)
    if lo == hi:
        return NOMINAL_VDD[lo]
    w = math.log(node / lo) / math.log(hi / lo)
    return NOMINAL_VDD[lo] + w * (NOMINAL_VDD[hi] - NOMINAL_VDD[lo])


def check_point(node_nm: float, vdd_v: float, device: str = "hp", *, file: str = "<config>",
                key: str = "tech.node_nm") -> None:
    """Raise ConfigError when (node, V) is outside the scaling model's range of validity."""
    if device not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)} (got {device!r})",
                          file=file, key=key.rsplit(".", 1)[0] + ".device")
    if not MIN_NODE_NM <= node_nm <= MAX_NODE_NM:
        raise ConfigError(
            f"node {node_nm:g} nm is outside the Stillmaker & Baas 2017 scaling model "
            f"({MIN_NODE_NM:g}-{MAX_NODE_NM:g} nm)", file=file, key=key)
    vkey = key.replace("node_nm", "vdd_v")
    vnom = _interp_nominal(node_nm)
    lo, hi = max(MIN_VDD_V, 0.55 * vnom), min(MAX_VDD_V, 1.5 * vnom)
    if not lo - 1e-9 <= vdd_v <= hi + 1e-9:
        raise ConfigError(
            f"supply {vdd_v:g} V at {node_nm:g} nm is outside the scaling model's voltage range "
            f"({lo:.3g}-{hi:.3g} V)", file=file, key=vkey)


def raw_factor(kind: str, node_nm: float, vdd_v: float, device: str = "hp") -> float:
    """The interpolated polynomial F(node, V) of ``kind`` (delay, energy or power)."""
    lo, hi = _neighbours(node_nm)
    f_lo = _poly(kind, _key(lo, device), vdd_v)
    if lo == hi:
        return f_lo
    f_hi = _poly(kind, _key(hi, device), vdd_v)
    if f_lo <= 0 or f_hi <= 0:
        raise ConfigError(f"scaling polynomial not positive at {node_nm:g} nm, {vdd_v:g} V",
                          key="tech.vdd_v")
    w = math.log(node_nm / lo) / math.log(hi / lo)
    return math.exp((1 - w) * math.log(f_lo) + w * math.log(f_hi))


def factor(kind: str, src_nm: float, src_v: float, dst_nm: float, dst_v: float,
           device: str = "hp", *, file: str = "<config>") -> float:
    """F(dst) / F(src): multiply a ``kind`` quantity known at src to get it at dst.

    ``kind`` is ``energy`` (J per operation), ``delay`` (s) or ``power`` (static W).
    """
    check_point(src_nm, src_v, device, file=file, key="tech.reference_node_nm")
    check_point(dst_nm, dst_v, device, file=file, key="tech.node_nm")
    f0 = raw_factor(kind, src_nm, src_v, device)
    f1 = raw_factor(kind, dst_nm, dst_v, device)
    if f0 <= 0 or f1 <= 0:
        raise ConfigError(f"{kind} scaling polynomial not positive between {src_nm:g} nm "
                          f"{src_v:g} V and {dst_nm:g} nm {dst_v:g} V", file=file,
                          key="tech.vdd_v")
    return f1 / f0


def energy_factor(src_nm: float, src_v: float, dst_nm: float, dst_v: float,
                  device: str = "hp") -> float:
    """Dynamic energy ratio E(dst) / E(src)."""
    return factor("energy", src_nm, src_v, dst_nm, dst_v, device)


def delay_factor(src_nm: float, src_v: float, dst_nm: float, dst_v: float,
                 device: str = "hp") -> float:
    """Gate delay ratio D(dst) / D(src)."""
    return factor("delay", src_nm, src_v, dst_nm, dst_v, device)


def power_factor(src_nm: float, src_v: float, dst_nm: float, dst_v: float,
                 device: str = "hp") -> float:
    """Power ratio P(dst) / P(src), applied to static (leakage) power."""
    return factor("power", src_nm, src_v, dst_nm, dst_v, device)


def area_factor(src_nm: float, dst_nm: float, *, file: str = "<config>") -> float:
    """Area ratio A(dst) / A(src) (log-log interpolation between the paper's area factors)."""
    for n, k in ((src_nm, "tech.reference_node_nm"), (dst_nm, "tech.node_nm")):
        if not MIN_NODE_NM <= n <= MAX_NODE_NM:
            raise ConfigError(f"node {n:g} nm is outside the scaling model "
                              f"({MIN_NODE_NM:g}-{MAX_NODE_NM:g} nm)", file=file, key=k)

    def a45(n: float) -> float:
        lo, hi = _neighbours(n)
        if lo == hi:
            return AREA_VS_45[lo]
        w = math.log(n / lo) / math.log(hi / lo)
        return math.exp((1 - w) * math.log(AREA_VS_45[lo]) + w * math.log(AREA_VS_45[hi]))

    return a45(dst_nm) / a45(src_nm)


#: Constants scaled by ``scale_config``: (section, key) -> kind. DRAM energy is off-chip and
#: is not scaled; ``tech.clock_hz`` is a design choice; ``pim.t_read_s`` is a published access
#: time at the config's own node.
SCALED_KEYS: dict[tuple[str, str], str] = {
    **{("ops", k): "energy" for k in ("int_add_8b_j", "int_add_32b_j", "int_mult_8b_j",
                                      "int_mult_32b_j", "fp32_add_j", "fp32_mult_j")},
    ("memory", "sram_ref_read_j"): "energy",
    **{("pim", k): "energy" for k in ("e_wordline_j", "e_cell_j", "adc_fom_j_per_step",
                                      "e_dac_j", "e_shift_add_j")},
    ("noc", "wire_j_per_bit_mm"): "wire",
    ("pim", "adc_t_per_bit_s"): "delay",
    ("pim", "t_bitline_s"): "delay",
    **{("leakage", k): "power" for k in ("sram_w_per_bit", "pe_w", "pim_w_per_array")},
}


def scale_config(cfg, *, file: str = "<config>"):  # type: ignore[no-untyped-def]
    """Carry a config's constants from (reference_node_nm, reference_vdd_v) to (node_nm, vdd_v).

    Each key in :data:`SCALED_KEYS` is multiplied by the factor of its kind (``wire``:
    (V1 / V0)^2, the rest by the Stillmaker & Baas polynomials); the returned config
    has reference_node_nm = node_nm and reference_vdd_v = vdd_v. The PIM ADC of the survey
    model (adc_model sar/flash) is evaluated at the config's node and supply by
    :mod:`pimsim.models.adc` and needs no scaling here.
    """
    t = cfg.tech
    src_n = t.reference_node_nm if t.reference_node_nm is not None else t.node_nm
    src_v = t.reference_vdd_v if t.reference_vdd_v is not None else t.vdd_v
    check_point(t.node_nm, t.vdd_v, t.device, file=file, key="tech.node_nm")
    check_point(src_n, src_v, t.device, file=file, key="tech.reference_node_nm")
    facs = {k: factor(k, src_n, src_v, t.node_nm, t.vdd_v, t.device, file=file)
            for k in ("energy", "delay", "power")}
    # wire capacitance per mm barely changes with the node (about 0.2 fF/um from 45 to 7 nm);
    # the energy of a bit per mm scales with the square of the supply only (the length
    # scales with the floorplan: pimsim.models.noc)
    facs["wire"] = (t.vdd_v / src_v) ** 2
    data = cfg.model_dump()
    for (section, key), kind in SCALED_KEYS.items():
        v = data[section][key]
        if isinstance(v, list):
            data[section][key] = [x * facs[kind] for x in v]
        else:
            data[section][key] = v * facs[kind]
    data["tech"]["reference_node_nm"] = t.node_nm
    data["tech"]["reference_vdd_v"] = t.vdd_v
    return type(cfg).model_validate(data)
