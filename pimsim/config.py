"""Hardware configuration: YAML files validated by a pydantic schema.

A config may ``extends:`` another YAML file (a path relative to the extending file, else a
shipped config's name, :mod:`pimsim.shipped`) and override
any key; ``--set a.b.c=value`` overrides are applied last. Unknown keys are rejected. Every
physical constant must carry a source: the ``sources`` table maps dotted keys (or a section
prefix such as ``ops``) to a citation; :func:`load_config` checks that every constant is
covered. Units are in key names: ``_j`` joules, ``_s`` seconds, ``_w`` watts, ``_hz`` hertz,
``_bytes``, ``_bits``.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pimsim.errors import ConfigError

Pos = Field(gt=0)
NonNeg = Field(ge=0)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tech(_Strict):
    """Process node, supply voltage and clock of the whole accelerator."""

    node_nm: float = Field(gt=0, description="technology node, nm")
    vdd_v: float = Field(gt=0, description="supply voltage, V")
    clock_hz: float = Field(gt=0, description="clock of the digital core, Hz")
    reference_node_nm: float | None = Field(
        default=None, gt=0,
        description="node at which the energy, delay and leakage constants are given; when it "
        "(or reference_vdd_v) differs from node_nm/vdd_v they are scaled on load by the "
        "Stillmaker & Baas 2017 model (pimsim.models.scaling); None: constants are at node_nm")
    reference_vdd_v: float | None = Field(
        default=None, gt=0, description="supply at which the constants are given, V")
    device: Literal["hp", "lp"] = Field(
        default="hp", description="Stillmaker & Baas device set below 65 nm (hp or lp)")


class Ops(_Strict):
    """Energies of arithmetic at reference widths (Horowitz ISSCC 2014 style) and how they scale.

    Integer add energy is linear in bit width through the 8- and 32-bit points above 8 bits and
    proportional to the width below (``add_scaling: linear``; pimsim.models.tech); integer multiply energy scales with the product of the operand
    widths from the 32x32-bit point (``mult_scaling: quadratic``: E = E_32 * a * b / 32^2),
    or linearly in max(a, b) (``linear``), or not at all (``constant``).
    """

    int_add_8b_j: float = Pos
    int_add_32b_j: float = Pos
    int_mult_8b_j: float = Pos
    int_mult_32b_j: float = Pos
    fp32_add_j: float = Pos
    fp32_mult_j: float = Pos
    add_scaling: Literal["linear", "constant"] = "linear"
    mult_scaling: Literal["quadratic", "linear", "constant"] = "quadratic"


class Digital(_Strict):
    """The event-driven digital SNN core: PE array, widths, neuron update."""

    pe_rows: int = Field(gt=0, description="PE array rows (output positions map here)")
    pe_cols: int = Field(gt=0, description="PE array columns (output channels map here)")
    lanes: int = Field(gt=0, description="synaptic accumulates per PE per cycle")
    mac_lanes: int = Field(gt=0, description="multiply-accumulates per PE per cycle")
    membrane_bits: int = Field(gt=1, le=32, description="membrane potential / accumulator width")
    leak_bits: int = Field(gt=0, le=32, description="width of the leak factor multiplier")
    neuron_update_cycles: int = Field(ge=0, description="cycles per neuron update per step")
    first_layer_reuse: bool = Field(
        description="compute the first layer's constant input current once and reuse it at "
        "every step (True) or recompute it at every step (False)"
    )
    schedule: Literal["tile_major", "step_major"] = Field(
        default="tile_major",
        description="loop order of the core (docs/model.md): tile_major = each output tile "
        "runs all T steps before the next (membranes stay in the PEs, input spikes of all T "
        "steps are buffered); step_major = T outermost over all layers (every layer's "
        "membranes live in the membrane SRAM across steps, one step of spikes is buffered)")


class Memory(_Strict):
    """On-chip SRAM buffers and off-chip DRAM.

    SRAM access energy for a ``sram_word_bits`` word is interpolated log-log in capacity
    through ``sram_ref_bytes`` -> ``sram_ref_read_j``; energy per bit = E_word / word bits.
    The weight SRAM is split into ``weight_sram_banks`` equal banks (e.g. one per PE column);
    an access costs the energy of one bank of weight_sram_bytes / banks.
    """

    weight_sram_bytes: int = Pos
    weight_sram_banks: int = Field(default=1, gt=0)
    weight_load_inferences: int = Field(
        default=1, gt=0,
        description="inferences run back to back between two loads of the resident weights "
        "(weights that fit the weight SRAM stay on chip for this many inferences; weights that "
        "do not fit are streamed from DRAM at every use whatever this is)")
    fetch_active_weights_only: bool = Field(
        default=False,
        description="streamed (non-resident) weights are fetched only for the input rows "
        "that spike (input channels of a conv, inputs of a linear layer), counted from the "
        "trace; false: a streamed layer fetches all its weights")
    membrane_sram_bytes: int = Pos
    membrane_sram_banks: int = Field(default=1, gt=0)
    spike_sram_bytes: int = Pos
    spike_sram_banks: int = Field(default=1, gt=0)
    sram_ports: int = Field(default=1, gt=0, description="read/write ports per SRAM bank")
    sram_word_bits: int = Pos
    sram_ref_word_bits: int = Field(
        default=64, gt=0, description="width of the access whose energies sram_ref_read_j "
        "gives (Horowitz ISSCC 2014: 64-bit accesses)")
    sram_ref_bytes: list[float] = Field(min_length=2)
    sram_ref_read_j: list[float] = Field(min_length=2)
    sram_write_factor: float = Pos
    dram_j_per_bit: float = NonNeg
    dram_bandwidth_bytes_per_s: float = Pos


class Leakage(_Strict):
    """Static power: per SRAM bit, per PE, and of the PIM macro."""

    sram_w_per_bit: float = NonNeg
    pe_w: float = NonNeg
    pim_w_per_array: float = NonNeg


class Pim(_Strict):
    """SRAM processing-in-memory macro for the first layer (8T cells, decoupled read port).

    The equations (mapping, loop nest, energies per read, read time with pulse counts and
    pipelined readout, weight writes, input delivery) are stated in pimsim.models.pim and
    docs/model.md; each field's description says what it sets.
    """

    enabled: bool
    rows: int = Pos
    cols: int = Pos
    bits_per_cell: int = Field(gt=0, le=4)
    max_weight_bits: int = Field(gt=0, le=16)
    max_input_bits: int = Field(gt=0, le=16)
    input_mode: Literal["bit_serial", "dac"]
    dac_bits: int = Field(gt=0, le=8)
    rows_per_read: int = Pos
    adc_bits: int = Field(gt=0, le=12)
    cols_per_adc: int = Pos
    num_arrays: int = Field(gt=0, description="arrays available to run in parallel")
    e_wordline_j: float = NonNeg
    e_cell_j: float = NonNeg
    adc_fom_j_per_step: float = NonNeg
    adc_t_per_bit_s: float = NonNeg
    e_dac_j: float = NonNeg
    e_shift_add_j: float = NonNeg
    t_bitline_s: float = NonNeg
    adc_model: Literal["walden", "sar", "flash"] = Field(
        default="walden",
        description="walden: FOM_W x 2^b with adc_fom_j_per_step; sar/flash: the survey-fit "
        "model of pimsim.models.adc at the config's node and supply")
    adc_sample_rate_hz: float | None = Field(
        default=None, gt=0, description="ADC sample rate (sar/flash); conversion time 1/fs")
    analog_weight_combine: bool = Field(
        default=False,
        description="the weight-slice columns of one weight are summed in the analog domain "
        "(binary-weighted charge sharing) before one conversion per weight")
    dac_kind: Literal["level", "pulse_count"] = Field(
        default="level",
        description="DAC mode: level (one analog level per phase, energy per driven row) or "
        "pulse_count (a code k is k read-wordline pulses: wordline and cell energy per pulse, "
        "read time (2^dac_bits - 1) x pulse_period_s + ADC time)")
    pulse_period_s: float | None = Field(
        default=None, gt=0, description="RWL pulse period for dac_kind pulse_count, s")
    t_read_s: float | None = Field(
        default=None, gt=0,
        description="published access time of one macro read, s (replaces the computed read "
        "time; never technology-scaled)")
    wordline_ref_cols: int = Field(
        default=128, gt=0,
        description="columns spanned by the wordline whose energy is e_wordline_j; a "
        "wordline of pim.cols columns costs e_wordline_j x cols / wordline_ref_cols")
    pipelined_readout: bool = Field(
        default=True,
        description="the bitline result is held (sample-and-hold / charge-sharing caps) while "
        "the ADC converts, so the analog phase of the next read overlaps the conversion: "
        "t_read = max(t_analog, t_conv); false: t_read = t_analog + t_conv")
    allow_multiplex: bool = Field(
        default=True,
        description="time-multiplex the arrays when a layer needs more than num_arrays; "
        "false: such a layer is an error (a fixed macro)")


class Area(_Strict):
    """Area constants at ``reference_node_nm`` (scaled to tech.node_nm by the Stillmaker & Baas
    area factors; pimsim.models.area states the equations). Defaults carry their sources in
    ``DEFAULT_SOURCES``."""

    reference_node_nm: float = Field(default=45.0, gt=0)
    sram_m2_per_bit: float = Field(default=0.40e-12, ge=0)
    pim_cell_m2: float = Field(default=0.385e-12, ge=0)
    wordline_driver_m2: float = Field(default=7.6e-12, ge=0)
    column_periphery_m2: float = Field(default=7.6e-12, ge=0)
    shift_add_m2: float = Field(default=240e-12, ge=0)
    adder_32b_m2: float = Field(default=227e-12, ge=0)
    multiplier_32b_m2: float = Field(default=5840e-12, ge=0)
    register_bit_m2: float = Field(default=7.6e-12, ge=0)


class Noc(_Strict):
    """On-chip delivery of inputs and weights from the buffers to the PEs and PIM arrays.

    Energy per bit moved over a wire of length L: E = wire_j_per_bit_mm x L (mm). Lengths
    follow from the floorplan of pimsim.models.area (PE pitch, macro side); the equations are
    in pimsim.models.noc. Defaults carry their sources in ``DEFAULT_SOURCES``."""

    wire_j_per_bit_mm: float = Field(default=0.041e-12, ge=0)


class Cnn(_Strict):
    """Dense CNN baselines on the same digital hardware (docs/model.md)."""

    int_bits: int = Field(gt=1, le=32, description="k of the INT-k CNN (weights/activations)")
    accumulator_bits: int = Field(gt=1, le=32)


class Accounting(_Strict):
    """Which cost components are counted (the ACE-SNN paper counts compute only)."""

    memory: bool
    leakage: bool
    neuron_updates: bool


class HardwareConfig(_Strict):
    """A whole hardware description (one YAML file after inheritance and overrides)."""

    name: str
    description: str = ""
    tech: Tech
    ops: Ops
    digital: Digital
    memory: Memory
    leakage: Leakage
    pim: Pim
    cnn: Cnn
    accounting: Accounting
    area: Area = Field(default_factory=Area)
    noc: Noc = Field(default_factory=Noc)
    sources: dict[str, str] = Field(default_factory=dict)


#: Keys that are physical constants and therefore need a source (a dotted key or a prefix).
CONSTANT_SECTIONS = ("tech", "ops", "memory", "leakage", "pim", "area", "noc")

#: Sources of the default ``area`` constants (added to a config's table unless it overrides
#: them). Values at 45 nm; 40 nm Aladdin figures are carried to 45 nm by the Stillmaker & Baas
#: area factor (x1.27, pimsim.models.scaling.area_factor(40, 45)).
DEFAULT_SOURCES: dict[str, str] = {
    "area.reference_node_nm": "The area constants below are given at 45 nm.",
    "area.sram_m2_per_bit": (
        "CACTI 7, 45 nm, 8 KB SRAM incl. periphery: 0.40 um^2/bit (docs/sources.md 1b, "
        "hwcomponents-cacti run)."),
    "area.pim_cell_m2": (
        "8T cell = 1.3 x CACTI 45 nm 6T cell of 146 F^2 (tech_params/45nm.dat) = 190 F^2 = "
        "0.385 um^2; the 8T/6T ratio 1.3 is a commonly quoted figure (docs/sources.md 8, "
        "unverified)."),
    "area.wordline_driver_m2": (
        "One Aladdin register bit (5.98 um^2 at 40 nm, Shao et al. ISCA 2014 tables) x 1.27 "
        "(40->45 nm) as the footprint of one wordline driver (assumption: a driver is a few "
        "gate equivalents, like a flip-flop)."),
    "area.column_periphery_m2": (
        "Precharge + read buffer per column: one Aladdin register bit equivalent, as "
        "wordline_driver_m2 (assumption)."),
    "area.shift_add_m2": (
        "Shift-add per ADC: 16-bit adder (Aladdin 32-bit adder 179 um^2 at 40 nm, linear in "
        "width) + nothing else = 89.5 um^2, plus a 16-bit register 16 x 5.98 um^2, x 1.27 "
        "(40->45 nm) = 240 um^2."),
    "area.adder_32b_m2": "Aladdin 32-bit adder 179 um^2 at 40 nm x 1.27 (40->45 nm).",
    "area.multiplier_32b_m2": "Aladdin 32-bit multiplier 4600 um^2 at 40 nm x 1.27.",
    "area.register_bit_m2": "Aladdin register 5.98 um^2/bit at 40 nm x 1.27.",
    "noc.wire_j_per_bit_mm": (
        "On-chip wire at 45 nm, 0.9 V: 0.2 fF/um (the CiMLoop wire model used for "
        "pim.e_wordline_j) x 1000 um x (0.9 V)^2 x 1/4 (the supply delivers C V^2 on a 0->1 "
        "transition, which random data makes with probability 1/4) = 0.041 pJ per bit per mm; "
        "repeaters and drivers are not included (Dally's 0.1-0.2 pJ/bit/mm for long wires, "
        "unverified here, would be 2.5-5x more; docs/sources.md 9)."),
}
_NOT_CONSTANT = {
    "ops.add_scaling", "ops.mult_scaling", "pim.enabled", "pim.input_mode",
    "pim.rows", "pim.cols", "pim.bits_per_cell", "pim.max_weight_bits", "pim.max_input_bits",
    "pim.dac_bits", "pim.rows_per_read", "pim.adc_bits", "pim.cols_per_adc", "pim.num_arrays",
    "memory.weight_sram_bytes", "memory.weight_sram_banks", "memory.membrane_sram_bytes",
    "memory.spike_sram_bytes", "memory.weight_load_inferences",
    "memory.membrane_sram_banks", "memory.spike_sram_banks", "memory.sram_ports",
    "pim.wordline_ref_cols",
    "memory.sram_word_bits", "memory.sram_ref_word_bits", "tech.clock_hz", "tech.node_nm", "tech.vdd_v",
    "pim.adc_sample_rate_hz", "pim.pulse_period_s",
}


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "sources":
            out[k] = _deep_merge(out[k], v)
        elif k == "sources" and isinstance(v, dict):
            out[k] = {**out.get(k, {}), **v}
        else:
            out[k] = copy.deepcopy(v)
    return out


def _read_text(file: str) -> str:
    """A config file's text; binary input (a trace, junk) is a one-line error."""
    try:
        with open(file, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=file) from None
    if raw[:4] == b"PK\x03\x04":
        raise ConfigError("expected a YAML hardware config, got a zip/npz archive (a trace? "
                          "give it to --trace)", file=file)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"expected a UTF-8 YAML text file, got binary data (byte "
                          f"{exc.start} is not UTF-8)", file=file) from None


def read_yaml(path: str | os.PathLike[str], _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read a config YAML, resolving ``extends:`` recursively (cycles are errors).

    ``path`` and each ``extends:`` resolve as a path first (``extends:`` relative to the
    extending file), then as a shipped config name (:mod:`pimsim.shipped`)."""
    from pimsim.shipped import resolve_config

    file = resolve_config(path) if not _seen else str(path)
    real = os.path.realpath(file)
    if real in _seen:
        raise ConfigError("circular extends", file=file, key="extends")
    text = _read_text(file)
    if not text.strip():
        raise ConfigError("empty file (expected a YAML hardware config)", file=file)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "yaml"
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', exc)}", file=file,
                          key=where) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", file=file)
    parent = data.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str):
            raise ConfigError("expected a path to another YAML file", file=file, key="extends")
        try:
            parent_path = resolve_config(parent, relative_to=Path(file).parent)
        except ConfigError:
            raise ConfigError(f"{parent!r} is neither a file beside this one nor a shipped "
                              "config (`pimsim configs` lists them)", file=file,
                              key="extends") from None
        data = _deep_merge(read_yaml(parent_path, (*_seen, real)), data)
    return data


def parse_value(text: str) -> Any:
    """Parse the value of a ``--set key=value`` with YAML rules (1e-12, true, [1, 2])."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _schema_has(parts: list[str]) -> bool:
    """Whether a dotted path names a field of the schema (optional keys absent from a file)."""
    model: Any = HardwareConfig
    for part in parts:
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return False
        model = fields[part].annotation
    return True


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any], *, file: str) -> dict[str, Any]:
    """Set dotted keys; each key must already exist (typos are errors, not new keys).

    An overridden constant that had no source (e.g. an optional ``pim.t_read_s``) gets one that
    says it was the user's override."""
    out = copy.deepcopy(data)
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, dict) and part not in node and _schema_has(parts[:i + 1]):
                node[part] = {} if not last else None  # optional schema key with a default
            if not isinstance(node, dict) or part not in node:
                known = ", ".join(sorted(node)) if isinstance(node, dict) else "none"
                raise ConfigError(
                    f"--set on a key that does not exist (known here: {known})",
                    file=file, key=dotted,
                )
            if last:
                node[part] = value
            else:
                node = node[part]
        srcs = out.get("sources")
        if (parts[0] in CONSTANT_SECTIONS and isinstance(srcs, dict) and dotted not in srcs
                and parts[0] not in srcs and value is not None):
            # the user's own value: its source is the override itself, recorded as such
            srcs[dotted] = f"override given by the user (--set or a sweep space): {value!r}"
    return out


def parse_set_options(items: list[str] | tuple[str, ...], *, file: str) -> dict[str, Any]:
    """Turn ``["a.b=1", ...]`` into ``{"a.b": 1}``."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"expected KEY=VALUE in --set, got {item!r}", file=file,
                              key=item)
        key, value = item.split("=", 1)
        out[key.strip()] = parse_value(value)
    return out


def _format_validation(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        msg = "unknown key (not in the hardware config schema)"
    elif kind == "missing":
        msg = "missing required key"
    else:
        msg = f"{err['msg']} (got {err.get('input')!r})"
    more = len(exc.errors()) - 1
    if more:
        msg += f" (and {more} more problem(s))"
    return key, msg


def _constant_keys(data: dict[str, Any]) -> list[str]:
    keys: list[str] = []
    for section in CONSTANT_SECTIONS:
        for k, v in data.get(section, {}).items():
            dotted = f"{section}.{k}"
            if dotted in _NOT_CONSTANT or isinstance(v, bool):
                continue
            if isinstance(v, (int, float, list)):
                keys.append(dotted)
    return keys


def check_sources(cfg: HardwareConfig, *, file: str) -> None:
    """Every physical constant needs a ``sources`` entry for its key or a section prefix."""
    data = cfg.model_dump()
    for key in _constant_keys(data):
        section = key.split(".")[0]
        if key not in cfg.sources and section not in cfg.sources:
            raise ConfigError("constant without a source (add it to the sources table)",
                              file=file, key=key)


def _with_default_sources(data: dict[str, Any]) -> dict[str, Any]:
    srcs = dict(data.get("sources") or {})
    for key, text in DEFAULT_SOURCES.items():
        if key not in srcs and key.split(".")[0] not in srcs:
            srcs[key] = text
    return {**data, "sources": srcs}


def config_from_dict(data: dict[str, Any], *, file: str = "<config>") -> HardwareConfig:
    """Validate a merged config mapping.

    When ``tech.reference_node_nm``/``reference_vdd_v`` differ from ``tech.node_nm``/``vdd_v``,
    the energy, delay and leakage constants are scaled to the config's node and supply
    (:func:`pimsim.models.scaling.scale_config`) and the reference is set to the node, so a
    loaded config always holds constants at its own node (scaling again is a no-op).
    """
    if isinstance(data, dict):
        data = _with_default_sources(data)
    try:
        cfg = HardwareConfig.model_validate(data)
    except ValidationError as exc:
        key, msg = _format_validation(exc)
        raise ConfigError(msg, file=file, key=key) from None
    check_sources(cfg, file=file)
    if cfg.tech.reference_node_nm is not None or cfg.tech.reference_vdd_v is not None:
        from pimsim.models.scaling import scale_config

        cfg = scale_config(cfg, file=file)
    check_consistency(cfg, file=file)
    return cfg


def check_consistency(cfg: HardwareConfig, *, file: str = "<config>") -> None:
    """Checks across keys that the field-level schema cannot express (raise ConfigError)."""
    if cfg.pim.rows_per_read > cfg.pim.rows:
        raise ConfigError(f"rows_per_read ({cfg.pim.rows_per_read}) exceeds rows "
                          f"({cfg.pim.rows})", file=file, key="pim.rows_per_read")
    from pimsim.models.adc import check_adc

    check_adc(cfg.pim.adc_model, cfg.pim.adc_bits, cfg.pim.adc_sample_rate_hz, file=file)
    if (cfg.pim.input_mode == "dac" and cfg.pim.dac_kind == "pulse_count"
            and cfg.pim.pulse_period_s is None and cfg.pim.t_read_s is None):
        raise ConfigError("dac_kind pulse_count needs pim.pulse_period_s (or pim.t_read_s)",
                          file=file, key="pim.pulse_period_s")
    if cfg.pim.cols_per_adc > cfg.pim.cols:
        raise ConfigError("cols_per_adc exceeds cols", file=file, key="pim.cols_per_adc")
    if len(cfg.memory.sram_ref_bytes) != len(cfg.memory.sram_ref_read_j):
        raise ConfigError("sram_ref_bytes and sram_ref_read_j must have the same length",
                          file=file, key="memory.sram_ref_read_j")


def load_config(
    path: str | os.PathLike[str], overrides: dict[str, Any] | None = None
) -> HardwareConfig:
    """Load a hardware YAML (with ``extends:``), apply dotted overrides, validate."""
    from pimsim.shipped import resolve_config

    file = resolve_config(path)
    data = read_yaml(file)
    if overrides:
        data = apply_overrides(data, overrides, file=file)
    return config_from_dict(data, file=file)


def config_with(cfg: HardwareConfig, overrides: dict[str, Any]) -> HardwareConfig:
    """A copy of ``cfg`` with dotted overrides applied and validated."""
    data = apply_overrides(cfg.model_dump(), overrides, file=cfg.name)
    return config_from_dict(data, file=cfg.name)
