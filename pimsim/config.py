"""Hardware configuration: YAML files validated by a pydantic schema.

A config may ``extends:`` another YAML file (a path relative to the extending file, else a
shipped config's name, :mod:`pimsim.shipped`) and override
any key; ``--set a.b.c=value`` overrides are applied last. Unknown keys are rejected. Every
physical constant must carry a source: the ``sources`` table maps dotted keys (or a section
prefix such as ``ops``) to a citation; :func:`load_config` checks that every constant is
covered. Units are in key names: ``_j`` joules, ``_s`` seconds, ``_w`` watts, ``_hz`` hertz,
``_bytes``, ``_bits``.

Hostile or absurd input is a one-line ConfigError: YAML is read by :mod:`pimsim.safe_yaml`
(size, nesting, aliases, duplicate keys bounded), an ``extends:`` chain is at most
:data:`MAX_EXTENDS` files, every numeric key has finite bounds stated in its field's
``description``, and :func:`check_consistency` reports every cross-key problem at once.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from pimsim import safe_yaml
from pimsim.errors import ConfigError

# ------------------------------------------------------------------------ value types, bounds
#
# Every numeric key has finite physical bounds (stated in its field's ``description``): wide
# enough for any real design and for the stress settings of the tests, narrow enough that no
# product of the cost model overflows a float or an int64 (sizes <= 2^40 bytes, array sides
# <= 2^12, counts of arrays <= 2^20, energies <= 1 uJ per operation, times <= 1 ms per step,
# clocks 1 kHz-100 GHz). NaN and infinities are refused everywhere (``allow_inf_nan=False``).
# Integers refuse booleans and strings; floats refuse booleans but take a numeric string
# (YAML 1.1 reads ``1e-12`` without a dot as a string); booleans are only true/false; lists
# must be lists.

#: Bound rationales (shared by the fields of one kind).
_J = ("1 uJ per operation is 10^4 x the largest access energy of the shipped configs (a 1 MB "
      "SRAM read, 100 pJ)")
_S = "1 ms per step is 10^5 x the shipped 2-10 ns analog and ADC times"
_SIDE = ("2^12 per side is 4 x the largest published array (1,024) and 16.7 M PEs; it keeps "
         "the cost model's cycle x PE x lane products within int64")
_BYTES = "2^40 B (1 TiB) is 2 x 10^6 x the largest SRAM of the shipped configs (512 KiB)"
_NODE = "1 nm to 1 um brackets every CMOS node (scaling itself needs 7-180 nm)"
_W = "1 W of static power per bit, PE or macro is beyond any CMOS circuit"
_M2 = "1 mm^2 per cell, bit or adder is beyond any standard cell"


def _int_input(v: Any) -> Any:
    if isinstance(v, (bool, str)):
        kind = "a boolean" if isinstance(v, bool) else "text"
        raise PydanticCustomError("int_type", f"Input should be an integer, not {kind}")
    return v


def _float_input(v: Any) -> Any:
    if isinstance(v, bool):
        raise PydanticCustomError("float_type", "Input should be a number, not a boolean")
    return v


def _list_input(v: Any) -> Any:
    if not isinstance(v, list):
        raise PydanticCustomError("list_type", f"Input should be a list of numbers, not "
                                  f"{type(v).__name__}")
    return v


Int = Annotated[int, BeforeValidator(_int_input)]
Float = Annotated[float, BeforeValidator(_float_input)]
Bool = StrictBool


def _range_text(ge: Any, gt: Any, le: Any) -> str:
    def fmt(x: Any) -> str:
        return f"{x:,}" if isinstance(x, int) else f"{x:g}"
    low = f">= {fmt(ge)}" if ge is not None else (f"> {fmt(gt)}" if gt is not None else "")
    return f"{low}, <= {fmt(le)}" if low else f"<= {fmt(le)}"


def _f(desc: str, *, why: str, default: Any = ..., ge: Any = None, gt: Any = None,
       le: Any = None, model_limit: bool = False) -> Any:
    """A bounded field; ``why`` justifies the bounds in the description. ``model_limit``:
    the bounds are what the cost model supports (a swept value outside them is a skipped
    point, not an error of the space)."""
    text = f"{desc}; allowed {_range_text(ge, gt, le)} ({why})" if desc else (
        f"allowed {_range_text(ge, gt, le)} ({why})")
    return Field(default, ge=ge, gt=gt, le=le, description=text,
                 json_schema_extra={"model_limit": True} if model_limit else None)


def _energy(desc: str, *, default: Any = ..., zero: bool = True) -> Any:
    return _f(desc, why=_J, default=default, ge=0 if zero else None, gt=None if zero else 0,
              le=1e-6)


def _time(desc: str, *, default: Any = ..., zero: bool = True) -> Any:
    return _f(desc, why=_S, default=default, ge=0 if zero else None, gt=None if zero else 0,
              le=1e-3)


def _side(desc: str, *, default: Any = ...) -> Any:
    return _f(desc, why=_SIDE, default=default, gt=0, le=4096)


def _bytes(desc: str) -> Any:
    return _f(desc, why=_BYTES, gt=0, le=2**40)


def _bits(desc: str, lo: int, hi: int) -> Any:
    return _f(desc, why="what the cost model supports", ge=lo, le=hi, model_limit=True)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Tech(_Strict):
    """Process node, supply voltage and clock of the whole accelerator."""

    node_nm: Float = _f("technology node, nm", why=_NODE, ge=1, le=1000)
    vdd_v: Float = _f("supply voltage, V", why="10 V is above any CMOS supply", gt=0, le=10)
    clock_hz: Float = _f("clock of the digital core, Hz",
                         why="1 kHz (the slowest sensor node) to 100 GHz (beyond any CMOS "
                         "logic); a clock outside this only makes delays overflow",
                         ge=1e3, le=1e11)
    reference_node_nm: Float | None = _f(
        "node at which the energy, delay and leakage constants are given; when it "
        "(or reference_vdd_v) differs from node_nm/vdd_v they are scaled on load by the "
        "Stillmaker & Baas 2017 model (pimsim.models.scaling); None: constants are at node_nm",
        why=_NODE, default=None, ge=1, le=1000)
    reference_vdd_v: Float | None = _f(
        "supply at which the constants are given, V", why="10 V is above any CMOS supply",
        default=None, gt=0, le=10)
    device: Literal["hp", "lp"] = Field(
        default="hp", description="Stillmaker & Baas device set below 65 nm (hp or lp)")


class Ops(_Strict):
    """Energies of arithmetic at reference widths (Horowitz ISSCC 2014 style) and how they scale.

    Integer add energy is linear in bit width through the 8- and 32-bit points above 8 bits and
    proportional to the width below (``add_scaling: linear``; pimsim.models.tech); integer multiply energy scales with the product of the operand
    widths from the 32x32-bit point (``mult_scaling: quadratic``: E = E_32 * a * b / 32^2),
    or linearly in max(a, b) (``linear``), or not at all (``constant``).
    """

    int_add_8b_j: Float = _energy("energy of an 8-bit integer add, J", zero=False)
    int_add_32b_j: Float = _energy("energy of a 32-bit integer add, J", zero=False)
    int_mult_8b_j: Float = _energy("energy of an 8x8-bit integer multiply, J", zero=False)
    int_mult_32b_j: Float = _energy("energy of a 32x32-bit integer multiply, J", zero=False)
    fp32_add_j: Float = _energy("energy of an FP32 add, J", zero=False)
    fp32_mult_j: Float = _energy("energy of an FP32 multiply, J", zero=False)
    add_scaling: Literal["linear", "constant"] = "linear"
    mult_scaling: Literal["quadratic", "linear", "constant"] = "quadratic"


class Digital(_Strict):
    """The event-driven digital SNN core: PE array, widths, neuron update."""

    pe_rows: Int = _side("PE array rows (output positions map here)")
    pe_cols: Int = _side("PE array columns (output channels map here)")
    lanes: Int = _f("synaptic accumulates per PE per cycle",
                    why="1,024 is far above any published PE", gt=0, le=1024)
    mac_lanes: Int = _f("multiply-accumulates per PE per cycle",
                        why="1,024 is far above any published PE", gt=0, le=1024)
    membrane_bits: Int = _bits("membrane potential / accumulator width", 2, 32)
    leak_bits: Int = _bits("width of the leak factor multiplier", 1, 32)
    neuron_update_cycles: Int = _f("cycles per neuron update per step",
                                   why="10^4 cycles is beyond any neuron circuit", ge=0,
                                   le=10_000)
    first_layer_reuse: Bool = Field(
        description="compute the first layer's constant input current once and reuse it at "
        "every step (True) or recompute it at every step (False)"
    )
    schedule: Literal["tile_major", "step_major"] = Field(
        default="tile_major",
        description="loop order of the core (docs/model.md): tile_major = each output tile "
        "runs all T steps before the next (membranes stay in the PEs, input spikes of all T "
        "steps are buffered); step_major = T outermost over all layers (every layer's "
        "membranes live in the membrane SRAM across steps, one step of spikes is buffered)")


_BANKS = "2^16 banks is far above any SRAM macro"


def _increasing(v: list[float]) -> list[float]:
    for i in range(1, len(v)):
        if not v[i] > v[i - 1]:
            raise PydanticCustomError(
                "increasing", f"capacities must increase strictly (entry {i}, {v[i]:g}, is "
                f"not above entry {i - 1}, {v[i - 1]:g})")
    return v


_RefBytes = Annotated[list[Annotated[Float, Field(ge=1, le=2**40)]],
                      BeforeValidator(_list_input), AfterValidator(_increasing)]
_RefJ = Annotated[list[Annotated[Float, Field(gt=0, le=1e-6)]], BeforeValidator(_list_input)]


class Memory(_Strict):
    """On-chip SRAM buffers and off-chip DRAM.

    SRAM access energy for a ``sram_word_bits`` word is interpolated log-log in capacity
    through ``sram_ref_bytes`` -> ``sram_ref_read_j``; energy per bit = E_word / word bits.
    The weight SRAM is split into ``weight_sram_banks`` equal banks (e.g. one per PE column);
    an access costs the energy of one bank of weight_sram_bytes / banks.
    """

    weight_sram_bytes: Int = _bytes("weight SRAM capacity, bytes")
    weight_sram_banks: Int = _f("banks of the weight SRAM", why=_BANKS, default=1, gt=0,
                                le=65_536)
    weight_load_inferences: Int = _f(
        "inferences run back to back between two loads of the resident weights "
        "(weights that fit the weight SRAM stay on chip for this many inferences; weights that "
        "do not fit are streamed from DRAM at every use whatever this is)",
        why="10^12 inferences is a chip's lifetime", default=1, gt=0, le=10**12)
    fetch_active_weights_only: Bool = Field(
        default=False,
        description="streamed (non-resident) weights are fetched only for the input rows "
        "that spike (input channels of a conv, inputs of a linear layer), counted from the "
        "trace; false: a streamed layer fetches all its weights")
    membrane_sram_bytes: Int = _bytes("membrane SRAM capacity, bytes")
    membrane_sram_banks: Int = _f("banks of the membrane SRAM", why=_BANKS, default=1, gt=0,
                                  le=65_536)
    spike_sram_bytes: Int = _bytes("spike SRAM capacity, bytes")
    spike_sram_banks: Int = _f("banks of the spike SRAM", why=_BANKS, default=1, gt=0,
                               le=65_536)
    sram_ports: Int = _f("read/write ports per SRAM bank", why="64 ports is beyond any SRAM",
                         default=1, gt=0, le=64)
    sram_word_bits: Int = _f("SRAM word (access) width, bits", why="2^16 bits per access is "
                             "far above any SRAM", gt=0, le=65_536)
    sram_ref_word_bits: Int = _f(
        "width of the access whose energies sram_ref_read_j gives (Horowitz ISSCC 2014: "
        "64-bit accesses)", why="2^16 bits per access is far above any SRAM", default=64,
        gt=0, le=65_536)
    sram_ref_bytes: _RefBytes = Field(
        min_length=2, max_length=64,
        description="capacities of the reference SRAMs, bytes, strictly increasing; 2-64 "
        f"entries, each >= 1, <= 2^40 ({_BYTES}); a list, never a scalar")
    sram_ref_read_j: _RefJ = Field(
        min_length=2, max_length=64,
        description="read energy of a sram_ref_word_bits access to each reference SRAM, J; "
        f"one per capacity, each > 0, <= 1e-06 ({_J})")
    sram_write_factor: Float = _f("write energy / read energy",
                                  why="100 x is beyond any SRAM write", gt=0, le=100)
    dram_j_per_bit: Float = _energy("DRAM energy per bit moved, J")
    dram_bandwidth_bytes_per_s: Float = _f(
        "DRAM bandwidth, bytes/s", why="1 B/s to 1 PB/s (1,000 x an HBM3 stack); slower only "
        "makes delays overflow", ge=1, le=1e15)


class Leakage(_Strict):
    """Static power: per SRAM bit, per PE, and of the PIM macro."""

    sram_w_per_bit: Float = _f("static power per SRAM bit, W", why=_W, ge=0, le=1.0)
    pe_w: Float = _f("static power per PE, W", why=_W, ge=0, le=1.0)
    pim_w_per_array: Float = _f("static power per PIM array, W", why=_W, ge=0, le=1.0)


class Pim(_Strict):
    """SRAM processing-in-memory macro for the first layer (8T cells, decoupled read port).

    The equations (mapping, loop nest, energies per read, read time with pulse counts and
    pipelined readout, weight writes, input delivery) are stated in pimsim.models.pim and
    docs/model.md; each field's description says what it sets.
    """

    enabled: Bool
    rows: Int = _side("rows (wordlines) of one array")
    cols: Int = _side("columns (bitlines) of one array")
    bits_per_cell: Int = _bits("weight bits stored per cell", 1, 4)
    max_weight_bits: Int = _bits("widest weight the macro holds", 1, 16)
    max_input_bits: Int = _bits("widest input the macro takes", 1, 16)
    input_mode: Literal["bit_serial", "dac"]
    dac_bits: Int = _bits("input bits per phase (dac input mode)", 1, 8)
    rows_per_read: Int = _side("rows activated together in one read (<= rows)")
    adc_bits: Int = _bits("ADC resolution, bits", 1, 12)
    cols_per_adc: Int = _side("columns sharing one ADC (<= cols)")
    num_arrays: Int = _f("arrays available to run in parallel",
                         why="2^20 arrays of 2^12 x 2^12 cells is beyond any chip",
                         gt=0, le=2**20)
    e_wordline_j: Float = _energy("energy of one driven read wordline, J")
    e_cell_j: Float = _energy("energy of one active cell per read, J")
    adc_fom_j_per_step: Float = _energy("Walden figure of merit of the ADC, J per step")
    adc_t_per_bit_s: Float = _time("ADC conversion time per bit, s")
    e_dac_j: Float = _energy("energy of one DAC conversion per driven row, J")
    e_shift_add_j: Float = _energy("energy of one shift-add per conversion, J")
    t_bitline_s: Float = _time("bitline settle time of one read, s")
    adc_model: Literal["walden", "sar", "flash", "sar_macro"] = Field(
        default="walden",
        description="walden: FOM_W x 2^b with adc_fom_j_per_step; sar/flash: the survey-fit "
        "model of pimsim.models.adc at the config's node and supply; sar_macro: an in-macro "
        "SAR, (periphery.sar_k1_f b + periphery.sar_k2_f 4^b) V^2 per conversion and the "
        "ZigZag-IMC area fit (calibrated on in-macro ADCs, docs/model.md §5.4)")
    adc_sample_rate_hz: Float | None = _f(
        "ADC sample rate (sar/flash); conversion time 1/fs", why="1 Hz to 1 THz (the survey "
        "model itself stops lower)", default=None, ge=1, le=1e12)
    analog_weight_combine: Bool = Field(
        default=False,
        description="the weight-slice columns of one weight are summed in the analog domain "
        "(binary-weighted charge sharing) before one conversion per weight")
    dac_kind: Literal["level", "pulse_count"] = Field(
        default="level",
        description="DAC mode: level (one analog level per phase, energy per driven row) or "
        "pulse_count (a code k is k read-wordline pulses: wordline and cell energy per pulse, "
        "read time (2^dac_bits - 1) x pulse_period_s + ADC time)")
    pulse_period_s: Float | None = _time("RWL pulse period for dac_kind pulse_count, s",
                                         default=None, zero=False)
    t_read_s: Float | None = _time(
        "published access time of one macro read, s (replaces the computed read "
        "time; never technology-scaled)", default=None, zero=False)
    wordline_ref_cols: Int = _side(
        "columns spanned by the wordline whose energy is e_wordline_j; a "
        "wordline of pim.cols columns costs e_wordline_j x cols / wordline_ref_cols",
        default=128)
    pipelined_readout: Bool = Field(
        default=True,
        description="the bitline result is held (sample-and-hold / charge-sharing caps) while "
        "the ADC converts, so the analog phase of the next read overlaps the conversion: "
        "t_read = max(t_analog, t_conv); false: t_read = t_analog + t_conv")
    allow_multiplex: Bool = Field(
        default=True,
        description="time-multiplex the arrays when a layer needs more than num_arrays; "
        "false: such a layer is an error (a fixed macro)")
    # ---- PIM macro v2 (issue 12): the macro's own published properties for the periphery
    # model (pimsim.models.periphery); every shared model constant is in ``periphery``
    macro_model: Literal["constants", "periphery"] = Field(
        default="constants",
        description="constants: the per-event energies e_wordline_j, e_cell_j, e_dac_j and "
        "e_shift_add_j (cost model v2 as before issue 12); periphery: wordlines, bitline "
        "precharge, compute caps or charge-domain cells, DACs or pulse generators, column "
        "muxes, shift-add and control from the circuit equations of pimsim.models.periphery "
        "with the shared constants of the periphery section (those four e_* keys are then "
        "unused; docs/model.md §5.4)")
    cell_area_m2: Float | None = _f(
        "area of one macro cell at the macro's own node, m^2 (published bitcell area; sets "
        "the wire pitch of wordlines and bitlines and the cell area; never technology-scaled); "
        "None: area.pim_cell_m2 scaled to tech.node_nm", why=_M2, default=None, gt=0,
        le=1e-6)
    cell_aspect: Float = _f(
        "cell width / cell height (the wordline runs along the width, the bitline along the "
        "height); 1: square", why="a cell 100 x wider than tall is beyond any SRAM layout",
        default=1.0, ge=0.01, le=100)
    column_fold: Int = _f(
        "physical columns folded onto one logical column (Jia et al. JSSC 2020: 768 x 768 "
        "cells as 2304 logical rows x 256 columns, fold 3): the array is rows / fold cells "
        "tall and cols x fold cells wide (ADC strip geometry only)",
        why="a fold above 2^12 is beyond the array sides", default=1, gt=0, le=4096)
    readout: Literal["current", "charge"] = Field(
        default="current",
        description="periphery model: current (cells discharge the bitlines, data-dependent "
        "swing; with analog_weight_combine the slices are charge-shared on binary-weighted "
        "compute caps) or charge (every active cell's compute capacitor is switched at "
        "every read, periphery.cd_cell_f; the charge network itself combines the slices)")
    precharge: Literal["data", "every_read"] = Field(
        default="data",
        description="periphery model: data (a bitline is restored by the swing its MAC "
        "value caused) or every_read (every bitline of the array is precharged by the full "
        "designed swing at every read, input-independent)")
    pulse_generator: Literal["row_counter", "none"] = Field(
        default="row_counter",
        description="periphery model, dac_kind pulse_count: row_counter (one dac_bits-bit "
        "counter per row, clocked on every pulse slot: input-independent, in pim_dac) or "
        "none (pulses arrive from outside the macro)")
    compute_cap_f: Float | None = _f(
        "unit computation capacitor of the binary-weighted charge sharing, F (published "
        "value); None: periphery.unit_cap_f", why="1 pF per unit is beyond any CIM "
        "capacitor", default=None, gt=0, le=1e-12)
    adc_acc_bits: Int = _f("accumulator width of the shift-add after the ADC, bits (periphery "
                           "model)", why="what the cost model supports", default=16, ge=1,
                           le=64, model_limit=True)


_CAP = "1 pF is 10^3 x any unit capacitor or per-cell load of an SRAM macro"
_K = "100 unit gates per cell or event is beyond any of the circuits these multiples describe"


class Periphery(_Strict):
    """Shared constants of the PIM macro periphery model (``pim.macro_model: periphery``;
    equations in pimsim.models.periphery, docs/model.md §5.4). The same for every macro: a
    calibration config never sets them (tests/test_calibration.py). Node-free or given at
    ``gate_ref_node_nm``; the equations take the node and supply of ``tech``. Defaults carry
    their sources in ``DEFAULT_SOURCES``."""

    c_wire_f_per_m: Float = _f("on-chip wire capacitance, F/m (0.2e-9 = 0.2 fF/um)",
                               why="10 fF/um is 50 x any on-chip wire", default=0.2e-9, ge=0,
                               le=1e-8)
    c_gate_f: Float = _f("input capacitance of a unit (NAND2) gate at gate_ref_node_nm, F",
                         why=_CAP, default=0.7e-15, ge=0, le=1e-12)
    gate_ref_node_nm: Float = _f("node at which c_gate_f is given, nm (C_g is linear in the "
                                 "node)", why=_NODE, default=28.0, ge=1, le=1000)
    k_ff: Float = _f("unit gates switched by a D flip-flop per clock", why=_K, default=3.0,
                     ge=0, le=100)
    k_fa: Float = _f("unit gates switched by a one-bit full adder per add", why=_K,
                     default=6.0, ge=0, le=100)
    k_cell_bl: Float = _f("unit gates of one cell's load on a bitline", why=_K, default=0.5,
                          ge=0, le=100)
    k_cell_wl: Float = _f("unit gates of one cell's load on a wordline", why=_K,
                          default=0.25, ge=0, le=100)
    k_mux: Float = _f("unit gates per column-mux select line switched per conversion",
                      why=_K, default=1.0, ge=0, le=100)
    sar_k1_f: Float = _f("SAR ADC energy per bit (comparator, logic, reference switching): "
                         "E = (sar_k1_f b + sar_k2_f 4^b) V^2, F", why=_CAP + " per bit "
                         "cycle (10 pF)", default=301.5e-15, ge=0, le=1e-11)
    sar_k2_f: Float = _f("SAR ADC capacitive-DAC term per 4^b, F", why="1e-16 F x 4^12 x "
                         "(10 V)^2 keeps one conversion below 1 uJ", default=1e-18, ge=0,
                         le=1e-16)
    sar_area_log10_um2_per_bit: Float = _f(
        "SAR ADC area fit, slope: A = 10^(slope b + offset) 2^b um^2",
        why="|slope| > 1 decade per bit is beyond any ADC", default=-0.0369, ge=-1, le=1)
    sar_area_log10_um2_offset: Float = _f(
        "SAR ADC area fit, offset (log10 um^2)", why="10^6 um^2 per step is beyond any ADC",
        default=1.206, ge=-6, le=6)
    dac_k0_f: Float = _f("voltage DAC energy per bit per conversion: E = dac_k0_f b V^2, F",
                         why=_CAP + " per bit (10 pF)", default=50e-15, ge=0, le=1e-11)
    cd_cell_f: Float = _f("switched capacitance of one charge-domain compute cell per read "
                          "(its capacitor, local driver, share of the compute line), F",
                          why=_CAP, default=5.33e-15, ge=0, le=1e-12)
    unit_cap_f: Float = _f("unit computation capacitor of binary-weighted charge sharing when "
                           "the macro publishes none (pim.compute_cap_f), F", why=_CAP,
                           default=1e-15, ge=0, le=1e-12)
    bl_swing_fraction: Float = _f("designed full-scale analog swing of a bitline or compute "
                                  "cap, as a fraction of the supply", why="a fraction of "
                                  "the supply", default=0.5, ge=0, le=1)
    weight_one_fraction: Float = _f(
        "mean stored cell value over its maximum (the data-dependent swings use it; the "
        "trace's weights do not reach the PIM cost path)", why="a fraction",
        default=0.5, ge=0, le=1)


class Area(_Strict):
    """Area constants at ``reference_node_nm`` (scaled to tech.node_nm by the Stillmaker & Baas
    area factors; pimsim.models.area states the equations). Defaults carry their sources in
    ``DEFAULT_SOURCES``."""

    reference_node_nm: Float = _f("node of the area constants, nm", why=_NODE, default=45.0,
                                  ge=1, le=1000)
    sram_m2_per_bit: Float = _f("SRAM area per bit incl. periphery, m^2", why=_M2,
                                default=0.40e-12, ge=0, le=1e-6)
    pim_cell_m2: Float = _f("area of one PIM (8T) cell, m^2", why=_M2, default=0.385e-12,
                            ge=0, le=1e-6)
    wordline_driver_m2: Float = _f("area of one wordline driver, m^2", why=_M2,
                                   default=7.6e-12, ge=0, le=1e-6)
    column_periphery_m2: Float = _f("area of one column's periphery, m^2", why=_M2,
                                    default=7.6e-12, ge=0, le=1e-6)
    shift_add_m2: Float = _f("area of one shift-add, m^2", why=_M2, default=240e-12, ge=0,
                             le=1e-6)
    adder_32b_m2: Float = _f("area of a 32-bit adder, m^2", why=_M2, default=227e-12, ge=0,
                             le=1e-6)
    multiplier_32b_m2: Float = _f("area of a 32-bit multiplier, m^2", why=_M2,
                                  default=5840e-12, ge=0, le=1e-6)
    register_bit_m2: Float = _f("area of one register bit, m^2", why=_M2, default=7.6e-12,
                                ge=0, le=1e-6)


class Noc(_Strict):
    """On-chip delivery of inputs and weights from the buffers to the PEs and PIM arrays.

    Energy per bit moved over a wire of length L: E = wire_j_per_bit_mm x L (mm). Lengths
    follow from the floorplan of pimsim.models.area (PE pitch, macro side); the equations are
    in pimsim.models.noc. Defaults carry their sources in ``DEFAULT_SOURCES``."""

    wire_j_per_bit_mm: Float = _energy("energy per bit per mm of on-chip wire, J",
                                       default=0.041e-12)


class Cnn(_Strict):
    """Dense CNN baselines on the same digital hardware (docs/model.md)."""

    int_bits: Int = _bits("k of the INT-k CNN (weights/activations)", 2, 32)
    accumulator_bits: Int = _bits("accumulator width of the CNN baseline", 2, 32)


class Accounting(_Strict):
    """Which cost components are counted (the ACE-SNN paper counts compute only)."""

    memory: Bool
    leakage: Bool
    neuron_updates: Bool


class HardwareConfig(_Strict):
    """A whole hardware description (one YAML file after inheritance and overrides)."""

    name: str = Field(max_length=200, description="name of the config (at most 200 "
                      "characters)")
    description: str = Field(default="", max_length=10_000)
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
    periphery: Periphery = Field(default_factory=Periphery)
    sources: dict[str, str] = Field(default_factory=dict)


def model_limited(key: str) -> bool:
    """Whether the bounds of dotted ``section.field`` are the cost model's support limits (a
    swept value outside them is a skipped point) rather than physical bounds (an error)."""
    section, _, name = key.partition(".")
    model = HardwareConfig.model_fields.get(section)
    fields = getattr(getattr(model, "annotation", None), "model_fields", {})
    info = fields.get(name)
    extra = getattr(info, "json_schema_extra", None)
    return isinstance(extra, dict) and bool(extra.get("model_limit"))


#: Keys that are physical constants and therefore need a source (a dotted key or a prefix).
CONSTANT_SECTIONS = ("tech", "ops", "memory", "leakage", "pim", "area", "noc",
                     "periphery")

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
    # ---- PIM macro periphery (pimsim.models.periphery; docs/sources.md §6e)
    "periphery.c_wire_f_per_m": (
        "0.2 fF/um: NeuroSim's on-chip wire capacitance as used by CiMLoop's wire model "
        "(mit-emze/cimloop workspace/models/components/accelergy_plug_ins/misc.py, class Wire, "
        "'2e-10 from NeuroSim'); the figure behind noc.wire_j_per_bit_mm (docs/sources.md 9)."),
    "periphery.c_gate_f": (
        "ZigZag-IMC unit_cap, 0.7 fF: input capacitance of a NAND2 gate at 28 nm in the cost "
        "model of J. Sun, P. Houshmand, M. Verhelst, 'Analog or Digital In-Memory Computing? "
        "Benchmarking through Quantitative Modeling', ICCAD 2023 (arXiv 2305.18335; code "
        "KULeuven-MICAS/zigzag-imc), fitted on seven 22/28 nm SRAM IMC chips."),
    "periphery.gate_ref_node_nm": (
        "ZigZag-IMC gives unit_cap at 28 nm and scales it linearly in the feature size (28 -> "
        "22 nm); pimsim applies the same rule at every node."),
    "periphery.k_ff": "ZigZag-IMC UnitDff (dimc_cost_model.py): 3 unit caps per flip-flop clock.",
    "periphery.k_fa": (
        "ZigZag-IMC one-bit adder (dimc_cost_model.py): 2 XOR2 of 1.5 unit caps + 3 NAND2 = 6 "
        "unit caps per full adder."),
    "periphery.k_cell_bl": "ZigZag-IMC: unit_cap / 2 of bitline capacitance per cell.",
    "periphery.k_cell_wl": (
        "Assumption: a cell loads a read wordline with one minimum access gate, 1/4 of a NAND2 "
        "input (which drives a 2x NMOS and a 2x PMOS gate)."),
    "periphery.k_mux": (
        "Assumption: one unit gate (a transmission gate's select input) per column-mux select "
        "line; two select lines switch per conversion."),
    "periphery.sar_k1_f": (
        "Derived from H. Jia et al., 'A Programmable Heterogeneous Microprocessor Based on "
        "Bit-Scalable In-Memory Computing', IEEE JSSC 55(9) 2609-2621, 2020, "
        "doi:10.1109/JSSC.2020.2987714, Table I: 8-b column ADC 1.79 pJ per conversion at "
        "0.85 V, as transcribed in CiMLoop's jia_jssc_2020 tests (mit-emze/cimloop "
        "workspace/models/arch/1_macro/jia_jssc_2020/_tests.py); not checked in the original. "
        "k1 = (1.79 pJ / 0.85^2 - sar_k2_f 4^8) / 8 = 301.5 fF in ZigZag-IMC's SAR form "
        "(k1 b + k2 4^b) V^2 (ZigZag-IMC's own k1, 100 fF, is 65 % low on Jia's and Wang et "
        "al.'s measured in-macro 8-b ADCs; docs/validation.md)."),
    "periphery.sar_k2_f": (
        "ZigZag-IMC ADC model (aimc_cost_model.py; Sun et al. ICCAD 2023): k2 = 0.001 fF."),
    "periphery.sar_area_log10_um2_per_bit": (
        "ZigZag-IMC ADC.calculate_area: A = 10^(-0.0369 b + 1.206) 2^b um^2 for b < 12 "
        "(Sun et al. ICCAD 2023, fitted on in-macro ADCs)."),
    "periphery.sar_area_log10_um2_offset": "ZigZag-IMC ADC.calculate_area (as the slope).",
    "periphery.dac_k0_f": (
        "ZigZag-IMC dac_energy_k0 = 50 fF per bit (aimc_cost_model.py, 'from the TinyML "
        "paper'; Sun et al. ICCAD 2023)."),
    "periphery.cd_cell_f": (
        "Derived from Jia et al. JSSC 2020 (doi:10.1109/JSSC.2020.2987714) Table I: CiM "
        "energy (row drivers, cells, capacitors, column drivers) 9.7 pJ per column of 2304 "
        "cells at 0.85 V, as transcribed in CiMLoop's jia_jssc_2020 tests; not checked in the "
        "original. c_cd = (9.7 pJ - this model's wordline, bitline and control share of one "
        "column, 0.822 pJ) / (2304 x 0.85^2) = 5.33 fF (tests/test_calibration.py re-derives "
        "it)."),
    "periphery.unit_cap_f": (
        "1 fF: the unit computation capacitor of CiMLoop's model of Sinangil et al. JSSC 2021 "
        "(mit-emze/cimloop 1_macro/sinangil_jssc_2021); a model value, not a published one."),
    "periphery.bl_swing_fraction": (
        "Assumption: a designed full-scale analog swing of half the supply."),
    "periphery.weight_one_fraction": (
        "Assumption: stored bits are 1 with probability 1/2, the 50 % data assumption of "
        "CiMLoop and ZigZag-IMC."),
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
    "pim.cell_aspect", "pim.column_fold", "pim.adc_acc_bits",
}


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "sources":
            out[k] = _deep_merge(out[k], v)
        elif k == "sources" and isinstance(v, dict) and isinstance(out.get(k, {}), dict):
            out[k] = {**out.get(k, {}), **v}
        else:
            out[k] = copy.deepcopy(v)
    return out


#: Longest ``extends:`` chain (a config extending a config extending ...).
MAX_EXTENDS = 32


def _read_text(file: str) -> str:
    """A config file's text (at most 1 MiB); binary input (a trace, junk) is a one-line
    error."""
    return safe_yaml.decode(safe_yaml.read_bytes(file, what="a YAML hardware config"),
                            file=file)


def read_yaml(path: str | os.PathLike[str], _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read a config YAML, resolving ``extends:`` recursively (cycles are errors).

    ``path`` and each ``extends:`` resolve as a path first (``extends:`` relative to the
    extending file), then as a shipped config name (:mod:`pimsim.shipped`). The YAML is read
    by :mod:`pimsim.safe_yaml` (size, nesting, aliases and duplicate keys bounded); a chain
    of more than :data:`MAX_EXTENDS` files is an error."""
    from pimsim.shipped import resolve_config

    file = resolve_config(path) if not _seen else str(path)
    real = os.path.realpath(file)
    if real in _seen:
        raise ConfigError("circular extends", file=file, key="extends")
    if len(_seen) >= MAX_EXTENDS:
        raise ConfigError(f"chain of extends longer than {MAX_EXTENDS} files (a config may "
                          f"extend at most {MAX_EXTENDS} levels deep)", file=file,
                          key="extends")
    text = _read_text(file)
    if not text.strip():
        raise ConfigError("empty file (expected a YAML hardware config)", file=file)
    data = safe_yaml.load_text(text, file=file)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got "
                          f"{type(data).__name__}", file=file)
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ConfigError("expected text keys (a section or field name)", file=file,
                          key=short_repr(bad[0]))
    parent = data.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str):
            raise ConfigError("expected a path to another YAML file", file=file, key="extends")
        try:
            parent_path = resolve_config(parent, relative_to=Path(file).parent)
        except ConfigError:
            raise ConfigError(f"{short_repr(parent)} is neither a file beside this one nor a "
                              "shipped config (`pimsim configs` lists them)", file=file,
                              key="extends") from None
        data = _deep_merge(read_yaml(parent_path, (*_seen, real)), data)
    return data


def parse_value(text: str, *, file: str = "--set", key: str | None = None) -> Any:
    """Parse the value of a ``--set key=value`` with YAML rules (1e-12, true, [1, 2]).

    Text that is not YAML stays a string; YAML over the bounds of :mod:`pimsim.safe_yaml`
    (an alias bomb, deep nesting) is a ConfigError naming ``file`` and ``key``."""
    try:
        return safe_yaml.load_text(text, file=file)
    except safe_yaml.YamlRefused as exc:
        inner = exc.key if exc.key and not exc.key.startswith("line") else ""
        where = f"{key}{'' if inner.startswith('[') or not inner else '.'}{inner}"
        raise ConfigError(f"--set value: {exc.message}", file=file,
                          key=where if key else exc.key) from None
    except ConfigError:
        return text


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to about ``limit`` characters, cheap for any value (a huge int, a
    deeply nested list)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"<an integer of {value.bit_length()} bits>"
    if isinstance(value, str):
        text = repr(value[: limit + 1])
    elif isinstance(value, (list, tuple, dict, set)):
        import reprlib

        r = reprlib.Repr()
        r.maxlevel, r.maxlist, r.maxdict, r.maxstring, r.maxother = 3, 6, 6, 30, 30
        r.maxlong = 40
        text = r.repr(value)
    else:
        try:
            text = repr(value)
        except Exception:  # noqa: BLE001 - a repr that fails is still named
            text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        parts = str(dotted).split(".")
        node: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, dict) and part not in node and _schema_has(parts[:i + 1]):
                node[part] = {} if not last else None  # optional schema key with a default
            if not isinstance(node, dict) or part not in node:
                known = ", ".join(sorted(map(str, node))) if isinstance(node, dict) else "none"
                if len(known) > 300:
                    known = known[:297] + "..."
                raise ConfigError(
                    f"--set on a key that does not exist (known here: {known})",
                    file=file, key=str(dotted),
                )
            if last:
                node[part] = value
            else:
                node = node[part]
        srcs = out.get("sources")
        if (parts[0] in CONSTANT_SECTIONS and isinstance(srcs, dict) and dotted not in srcs
                and parts[0] not in srcs and value is not None):
            # the user's own value: its source is the override itself, recorded as such
            srcs[dotted] = ("override given by the user (--set or a sweep space): "
                            f"{short_repr(value, 200)}")
    return out


def parse_set_options(items: list[str] | tuple[str, ...], *, file: str) -> dict[str, Any]:
    """Turn ``["a.b=1", ...]`` into ``{"a.b": 1}``."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"expected KEY=VALUE in --set, got {short_repr(item)}",
                              file=file, key=short_repr(item, 80))
        key, value = item.split("=", 1)
        out[key.strip()] = parse_value(value, file=file, key=key.strip())
    return out


def _loc(loc: tuple[Any, ...]) -> str:
    text = ""
    for p in loc:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text


def _format_validation(exc: ValidationError) -> tuple[str, str]:
    errors = exc.errors()
    err = errors[0]
    key = _loc(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        msg = "unknown key (not in the hardware config schema)"
    elif kind == "missing":
        msg = "missing required key"
    else:
        msg = f"{err['msg']} (got {short_repr(err.get('input'))})"
    more = len(errors) - 1
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
    missing = [key for key in _constant_keys(data)
               if key not in cfg.sources and key.split(".")[0] not in cfg.sources]
    if missing:
        more = f" (and {len(missing) - 1} more problem(s))" if len(missing) > 1 else ""
        raise ConfigError(f"constant without a source (add it to the sources table){more}",
                          file=file, key=missing[0])


def _with_default_sources(data: dict[str, Any], *, file: str) -> dict[str, Any]:
    raw = data.get("sources")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"expected a mapping of dotted keys (or sections) to citations, got "
                          f"{type(raw).__name__} {short_repr(raw)}", file=file, key="sources")
    srcs = dict(raw)
    for key, text in DEFAULT_SOURCES.items():
        if key not in srcs and key.split(".")[0] not in srcs:
            srcs[key] = text
    return {**data, "sources": srcs}


def config_from_dict(data: dict[str, Any], *, file: str = "<config>") -> HardwareConfig:
    """Validate a merged config mapping.

    When ``tech.reference_node_nm``/``reference_vdd_v`` differ from ``tech.node_nm``/``vdd_v``,
    the energy, delay and leakage constants are scaled to the config's node and supply
    (:func:`pimsim.models.scaling.scale_config`) and the reference is set to the node, so a
    loaded config always holds constants at its own node (scaling again is a no-op). A
    constant that scaling carries outside its bounds is an error naming the key.
    """
    if isinstance(data, dict):
        data = _with_default_sources(data, file=file)
    try:
        cfg = HardwareConfig.model_validate(data)
    except ValidationError as exc:
        key, msg = _format_validation(exc)
        raise ConfigError(msg, file=file, key=key) from None
    check_sources(cfg, file=file)
    if cfg.tech.reference_node_nm is not None or cfg.tech.reference_vdd_v is not None:
        from pimsim.models.scaling import scale_config

        try:
            cfg = scale_config(cfg, file=file)
        except ValidationError as exc:
            key, msg = _format_validation(exc)
            raise ConfigError(f"after scaling from tech.reference_node_nm/reference_vdd_v to "
                              f"tech.node_nm/vdd_v: {msg}", file=file, key=key) from None
    check_consistency(cfg, file=file)
    return cfg


def consistency_problems(cfg: HardwareConfig) -> list[tuple[str, str]]:
    """(key, message) of every check across keys that the field-level schema cannot express."""
    out: list[tuple[str, str]] = []
    p = cfg.pim
    if p.rows_per_read > p.rows:
        out.append(("pim.rows_per_read",
                    f"rows_per_read ({p.rows_per_read}) exceeds rows ({p.rows})"))
    from pimsim.models.adc import check_adc

    try:
        check_adc(p.adc_model, p.adc_bits, p.adc_sample_rate_hz)
    except ConfigError as exc:
        out.append((exc.key or "pim.adc_bits", exc.message))
    if (p.input_mode == "dac" and p.dac_kind == "pulse_count"
            and p.pulse_period_s is None and p.t_read_s is None):
        out.append(("pim.pulse_period_s",
                    "dac_kind pulse_count needs pim.pulse_period_s (or pim.t_read_s)"))
    if p.cols_per_adc > p.cols:
        out.append(("pim.cols_per_adc", "cols_per_adc exceeds cols"))
    m = cfg.memory
    if len(m.sram_ref_bytes) != len(m.sram_ref_read_j):
        n_b, n_j = len(m.sram_ref_bytes), len(m.sram_ref_read_j)
        msg = (f"sram_ref_bytes and sram_ref_read_j must have the same length ({n_b} "
               f"capacities, {n_j} energies)")
        out.append(("memory.sram_ref_read_j", msg))
    return out


def check_consistency(cfg: HardwareConfig, *, file: str = "<config>") -> None:
    """Checks across keys that the field-level schema cannot express: a ConfigError naming
    the first problem and how many more there are."""
    problems = consistency_problems(cfg)
    if problems:
        key, msg = problems[0]
        if len(problems) > 1:
            msg += f" (and {len(problems) - 1} more problem(s))"
        raise ConfigError(msg, file=file, key=key)


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
