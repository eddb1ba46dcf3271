"""Delivery of inputs, weights and spikes between the buffers and the compute units.

Energy per bit over a wire of length L mm: E = ``noc.wire_j_per_bit_mm`` x L. Lengths come
from the floorplan (:mod:`pimsim.models.area`): a PE of area A_pe has pitch
p = sqrt(A_pe); the R x C array is R p tall and C p wide.

* ``broadcast``: one bit to every PE (a spine along the R rows with a branch across the C
  columns of each row): L = p R (C + 1). Input spike events of the digital core.
* ``column``: one bit to the R PEs of a column, L = p R (dense weights broadcast down a
  column). Dense inputs are read once per window and use ``broadcast`` (every PE row takes its
  taps).
* ``unicast``: one bit between the array edge and one PE, on average L = p (R + C) / 2
  (a weight for one AC, a spike or membrane between a PE and a buffer).
* ``pim``: one bit from the input buffer to an array of the PIM macro: L = sqrt(A_macro).

Bandwidth: every PE row and column has its own bus, so delivery adds no cycles (stated in
docs/model.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pimsim.models import area

Num = Any


def lengths_mm(cfg: Any) -> dict[str, Num]:
    """Wire length per delivered bit for each delivery pattern, mm."""
    d = cfg.digital
    pitch = np.sqrt(area.pe_area_m2(cfg)) * 1e3
    r, c = d.pe_rows, d.pe_cols
    out = {"broadcast": pitch * r * (c + 1), "column": pitch * r,
           "unicast": pitch * (r + c) / 2.0}
    if cfg.pim.enabled:
        out["pim"] = np.sqrt(sum(area.pim_area_m2(cfg).values())) * 1e3
    else:
        out["pim"] = 0.0
    return out


def energy_j(cfg: Any, bits_by_pattern: dict[str, Num]) -> Num:
    """Delivery energy, J: sum over patterns of bits x wire_j_per_bit_mm x L."""
    lengths = lengths_mm(cfg)
    total: Num = 0.0
    for pattern, bits in bits_by_pattern.items():
        total = total + bits * lengths[pattern]
    return total * cfg.noc.wire_j_per_bit_mm
