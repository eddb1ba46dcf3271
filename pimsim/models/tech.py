"""Per-operation energies derived from a config's reference points (Horowitz-style tables).

The reference points are Horowitz (ISSCC 2014, 45 nm, 0.9 V) in the shipped configs; the rules
that carry them to other bit widths are stated here and selected in the config. Every function
broadcasts over numpy arrays of widths or energies (sweeps) and returns the published points
exactly:

* integer add, ``linear``: for b >= 8 the line through both points,
  E_add(b) = E8 + (E32 - E8) (b - 8) / 24 (E_add(8) = 0.03 pJ, E_add(16) = 0.0533 pJ,
  E_add(32) = 0.1 pJ exactly); below 8 bits a ripple-carry adder's energy is proportional to
  its width, E_add(b) = E8 b / 8 (continuous at 8). ``constant``: E32 at every width.
* integer multiply, ``quadratic``: E_mult(a, b) = E32x32 a b / 32^2 (an array multiplier has
  a b partial-product cells; Horowitz's 8-bit point follows it to 3 %: 0.194 vs 0.2 pJ);
  ``linear``: E32x32 max(a, b) / 32; ``constant``: E32x32.
* SRAM access: log-log interpolation in capacity between reference points (Horowitz: 8 KB
  10 pJ, 32 KB 20 pJ, 1 MB 100 pJ per 64-bit access), extrapolated with the end slopes; the
  energy per bit is E_ref / ``memory.sram_ref_word_bits`` (the width of the reference access,
  64 bits for Horowitz's points), whatever the buffer's own word width.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Num = Any  # a float or a numpy array of floats (one per design point)


def add_energy_j(ops: Any, bits: Num) -> Num:
    """Energy of one integer add of ``bits`` width, J (rule in the module doc)."""
    if ops.add_scaling == "constant":
        return ops.int_add_32b_j + 0.0 * np.asarray(bits)
    b = np.asarray(bits, dtype=float)
    # from the nearer point, so that both published points come out exactly
    span = ops.int_add_32b_j - ops.int_add_8b_j
    line = np.where(b <= 20, ops.int_add_8b_j + span * (b - 8.0) / 24.0,
                    ops.int_add_32b_j - span * (32.0 - b) / 24.0)
    return np.where(b >= 8, line, ops.int_add_8b_j * b / 8.0)


def mult_energy_j(ops: Any, a_bits: Num, b_bits: Num) -> Num:
    """Energy of one integer multiply of an ``a_bits`` x ``b_bits`` product, J."""
    if ops.mult_scaling == "constant":
        return ops.int_mult_32b_j + 0.0 * np.asarray(a_bits)
    if ops.mult_scaling == "linear":
        return ops.int_mult_32b_j * np.maximum(a_bits, b_bits) / 32.0
    return ops.int_mult_32b_j * np.asarray(a_bits) * b_bits / 1024.0


def fp32_mac_energy_j(ops: Any) -> Num:
    """FP32 multiply-accumulate: E_fmul + E_fadd, J (Horowitz: 3.7 + 0.9 = 4.6 pJ)."""
    return ops.fp32_mult_j + ops.fp32_add_j


def int_mac_energy_j(ops: Any, a_bits: Num, b_bits: Num, acc_bits: Num) -> Num:
    """Integer MAC: E_mult(a, b) + E_add(acc), J."""
    return mult_energy_j(ops, a_bits, b_bits) + add_energy_j(ops, acc_bits)


def neuron_update_energy_j(cfg: Any) -> Num:
    """One LIF update: leak multiply, threshold compare, reset, J.

    E = E_mult(membrane_bits, leak_bits) + 2 E_add(membrane_bits) (compare as a subtract,
    soft reset as a subtract; the synaptic input is already counted per AC).
    """
    d = cfg.digital
    return mult_energy_j(cfg.ops, d.membrane_bits, d.leak_bits) + 2 * add_energy_j(
        cfg.ops, d.membrane_bits)


def sram_energy_per_bit_j(mem: Any, capacity_bytes: Num, *, write: bool = False) -> Num:
    """Energy per bit of an access to an SRAM (bank) of ``capacity_bytes``, J/bit."""
    xs = np.log(np.asarray(mem.sram_ref_bytes, dtype=float))
    ys = np.log(np.asarray(mem.sram_ref_read_j, dtype=float))
    x = np.log(np.maximum(np.asarray(capacity_bytes, dtype=float), 1.0))
    i = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 2)
    slope = (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])
    # E_j x (S / S_j)^slope from the nearer end j of the segment: exact at every reference
    j = np.where(x - xs[i] <= xs[i + 1] - x, i, i + 1)
    e_word = np.asarray(mem.sram_ref_read_j, dtype=float)[j] * np.exp(slope * (x - xs[j]))
    e_bit = e_word / mem.sram_ref_word_bits
    return e_bit * (mem.sram_write_factor if write else 1.0)
