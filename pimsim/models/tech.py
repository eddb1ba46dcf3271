"""Per-operation energies derived from a config's reference points.

The reference points are Horowitz (ISSCC 2014, 45 nm, 0.9 V) in the shipped configs; the rules
that carry them to other bit widths are stated here and selected in the config:

* integer add, ``linear``:  E_add(b) = E8 + (E32 - E8) * (b - 8) / 24   (through both points;
  clamped below at E8 * b / 8 so narrow adders stay positive);
* integer multiply, ``quadratic``: E_mult(a, b) = E32x32 * a * b / 32^2 (an array multiplier has
  a*b partial-product cells; Horowitz's 8- and 32-bit points follow it to 3 %: 0.2 vs 0.194 pJ);
  ``linear``: E32x32 * max(a, b) / 32; ``constant``: E32x32.
* SRAM access: log-log interpolation in capacity between reference points (Horowitz: 8 KB
  10 pJ, 32 KB 20 pJ, 1 MB 100 pJ per 64-bit access), extrapolated with the end slopes.
"""

from __future__ import annotations

import math

from pimsim.config import HardwareConfig, Memory, Ops


def add_energy_j(ops: Ops, bits: int) -> float:
    """Energy of one integer add of ``bits`` width, J."""
    if ops.add_scaling == "constant":
        return ops.int_add_32b_j
    e = ops.int_add_8b_j + (ops.int_add_32b_j - ops.int_add_8b_j) * (bits - 8) / 24.0
    return max(e, ops.int_add_8b_j * bits / 8.0)


def mult_energy_j(ops: Ops, a_bits: int, b_bits: int) -> float:
    """Energy of one integer multiply of an ``a_bits`` x ``b_bits`` product, J."""
    if ops.mult_scaling == "constant":
        return ops.int_mult_32b_j
    if ops.mult_scaling == "linear":
        return ops.int_mult_32b_j * max(a_bits, b_bits) / 32.0
    return ops.int_mult_32b_j * a_bits * b_bits / 1024.0


def fp32_mac_energy_j(ops: Ops) -> float:
    """FP32 multiply-accumulate: E_fmul + E_fadd, J (Horowitz: 3.7 + 0.9 = 4.6 pJ)."""
    return ops.fp32_mult_j + ops.fp32_add_j


def int_mac_energy_j(ops: Ops, a_bits: int, b_bits: int, acc_bits: int) -> float:
    """Integer MAC: E_mult(a, b) + E_add(acc), J."""
    return mult_energy_j(ops, a_bits, b_bits) + add_energy_j(ops, acc_bits)


def neuron_update_energy_j(cfg: HardwareConfig) -> float:
    """One LIF update: leak multiply, add of the input current, threshold compare, reset.

    E = E_mult(membrane_bits, leak_bits) + 2 * E_add(membrane_bits) (compare as a subtract,
    soft reset as a subtract; the synaptic input is already counted per AC).
    """
    d = cfg.digital
    return mult_energy_j(cfg.ops, d.membrane_bits, d.leak_bits) + 2 * add_energy_j(
        cfg.ops, d.membrane_bits
    )


def sram_energy_per_bit_j(mem: Memory, capacity_bytes: float, *, write: bool = False) -> float:
    """Energy per bit of an SRAM access for a buffer of ``capacity_bytes``, J/bit."""
    xs = [math.log(x) for x in mem.sram_ref_bytes]
    ys = [math.log(y) for y in mem.sram_ref_read_j]
    x = math.log(max(capacity_bytes, 1.0))
    if x <= xs[0]:
        i = 0
    elif x >= xs[-1]:
        i = len(xs) - 2
    else:
        i = max(j for j in range(len(xs) - 1) if xs[j] <= x)
    slope = (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])
    e_word = math.exp(ys[i] + slope * (x - xs[i]))
    e_bit = e_word / mem.sram_word_bits
    return e_bit * (mem.sram_write_factor if write else 1.0)


def adc_energy_j(fom_j_per_step: float, bits: int) -> float:
    """Energy per conversion, Walden figure of merit: E = FOM_W x 2^bits, J."""
    return fom_j_per_step * (2**bits)
