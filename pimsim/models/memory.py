"""The memory hierarchy: declared levels, where each tensor lives, and what moving it costs.

Levels (innermost first). PE registers hold what the schedule keeps inside the PEs (the
membranes of the current tile under ``tile_major``); they are part of the PE and cost no
access energy beyond the arithmetic. Then three named SRAM buffers and DRAM:

============== ============================================ ===================================
level          config keys                                  holds
============== ============================================ ===================================
weight_sram    memory.weight_sram_bytes / _banks            weights (resident and streamed)
membrane_sram  memory.membrane_sram_bytes / _banks          membranes (step_major), currents
spike_sram     memory.spike_sram_bytes / _banks             input spikes, output spikes, the
                                                            analog input image
dram           memory.dram_j_per_bit, _bandwidth_bytes_per_s what does not fit on chip
============== ============================================ ===================================

An SRAM level of capacity S bytes in B banks with P ports per bank and words of W bits moves
at most B x P x W bits per cycle; an access costs E_bit(S / B) per bit
(:func:`pimsim.models.tech.sram_energy_per_bit_j`: the energy of one bank). DRAM moves
bandwidth x 8 / f_clk bits per cycle at ``dram_j_per_bit``.

Placement. Tensors occupy whole words. :func:`resident_split` fills a level smallest tensor
first (ties in the order given), so that as many tensors as possible stay whole and the large
ones stream: a tensor whose words fit in what is left is resident; the first one that does not
fit keeps the words left and spills only its excess, and later ones spill whole.
A spilled bit lives in DRAM and is read from there at every use (:mod:`pimsim.models.schedule`
says how often each tensor is used).

Traffic. :class:`Traffic` records bits read and written per (level, tensor); from it come the
SRAM energy per level, the DRAM bits per tensor (``dram_bits_by_tensor``) and each level's
transfer cycles = bits / bits_per_cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pimsim.models import tech

Num = Any

SRAM_LEVELS = ("weight_sram", "membrane_sram", "spike_sram")
LEVELS = (*SRAM_LEVELS, "dram")
TENSORS = ("weights", "membranes", "spikes", "input")


@dataclass(frozen=True)
class Level:
    """One memory level: capacity, word width, bandwidth and per-bit access energies."""

    name: str
    capacity_bits: Num
    word_bits: Num
    bits_per_cycle: Num
    read_j_per_bit: Num
    write_j_per_bit: Num


def sram_level(cfg: Any, name: str) -> Level:
    """The SRAM level ``name`` (weight_sram, membrane_sram, spike_sram) of a config."""
    m = cfg.memory
    prefix = name.removesuffix("_sram")
    size = getattr(m, f"{prefix}_sram_bytes")
    banks = getattr(m, f"{prefix}_sram_banks")
    bank_bytes = size / banks
    return Level(name=name, capacity_bits=8 * size, word_bits=m.sram_word_bits,
                 bits_per_cycle=banks * m.sram_ports * m.sram_word_bits,
                 read_j_per_bit=tech.sram_energy_per_bit_j(m, bank_bytes),
                 write_j_per_bit=tech.sram_energy_per_bit_j(m, bank_bytes, write=True))


def dram_level(cfg: Any) -> Level:
    """Off-chip DRAM: unbounded capacity, bandwidth x 8 / f_clk bits per cycle."""
    m = cfg.memory
    return Level(name="dram", capacity_bits=np.inf, word_bits=1,
                 bits_per_cycle=m.dram_bandwidth_bytes_per_s * 8.0 / cfg.tech.clock_hz,
                 read_j_per_bit=m.dram_j_per_bit, write_j_per_bit=m.dram_j_per_bit)


def hierarchy(cfg: Any) -> dict[str, Level]:
    """Every level of the config, by name."""
    out = {name: sram_level(cfg, name) for name in SRAM_LEVELS}
    out["dram"] = dram_level(cfg)
    return out


def words(bits: Num, word_bits: Num) -> Num:
    """Words a tensor of ``bits`` occupies: ceil(bits / word_bits)."""
    return -(-np.asarray(bits) // word_bits)


def resident_split(sizes_bits: list[Num], capacity_bits: Num, word_bits: Num) -> list[Num]:
    """Resident bits of each tensor when a level of ``capacity_bits`` is filled smallest
    tensor first (sizes are per tensor and fixed; capacity may be a column).

    In that order: resident_i = min(size_i, W x min(words_i, free words)); free words shrink
    by the words taken. The excess size_i - resident_i spills to DRAM.
    """
    if not sizes_bits:
        return []
    scalar = all(np.ndim(x) == 0 for x in (*sizes_bits, capacity_bits, word_bits))
    shape = np.broadcast(*[np.asarray(x) for x in (*sizes_bits, capacity_bits, word_bits)]).shape
    sizes = np.stack([np.broadcast_to(np.asarray(x, dtype=np.int64), shape).reshape(-1)
                      for x in sizes_bits])                 # (tensors, points)
    points = sizes.shape[1]
    free = np.broadcast_to(np.asarray(capacity_bits) // word_bits, (points,)).astype(np.int64)
    w = np.broadcast_to(np.asarray(word_bits, dtype=np.int64), (points,))
    order = np.argsort(sizes, axis=0, kind="stable")        # smallest first, ties in order
    cols = np.arange(points)
    out = np.zeros_like(sizes)
    for rank in range(sizes.shape[0]):
        idx = order[rank]
        size = sizes[idx, cols]
        take = np.minimum(-(-size // w), free)
        free = free - take
        out[idx, cols] = np.minimum(size, take * w)
    if scalar:
        return [int(v) for v in out[:, 0]]
    return list(out)


@dataclass
class Traffic:
    """Bits read from and written to each (level, tensor), totals over the trace."""

    reads: dict[tuple[str, str], Num] = field(default_factory=dict)
    writes: dict[tuple[str, str], Num] = field(default_factory=dict)

    def read(self, level: str, tensor: str, bits: Num) -> None:
        """Add ``bits`` read from ``level`` for ``tensor``."""
        self.reads[(level, tensor)] = self.reads.get((level, tensor), 0) + bits

    def write(self, level: str, tensor: str, bits: Num) -> None:
        """Add ``bits`` written to ``level`` for ``tensor``."""
        self.writes[(level, tensor)] = self.writes.get((level, tensor), 0) + bits

    def bits(self, level: str, tensor: str | None = None, *, kind: str = "both") -> Num:
        """Bits moved at ``level`` (for one tensor or all): read, write or both."""
        total: Num = 0
        for table, k in ((self.reads, "read"), (self.writes, "write")):
            if kind not in ("both", k):
                continue
            for (lv, tn), v in table.items():
                if lv == level and (tensor is None or tn == tensor):
                    total = total + v
        return total

    def sram_bits(self, kind: str) -> Num:
        """Bits read (``kind='read'``) or written from all SRAM levels."""
        return sum((self.bits(lv, kind=kind) for lv in SRAM_LEVELS), 0)

    def dram_by_tensor(self) -> dict[str, Num]:
        """DRAM bits (read + written) per tensor."""
        return {t: self.bits("dram", t) for t in TENSORS}

    def energy_j(self, levels: dict[str, Level]) -> dict[str, Num]:
        """Access energy per level, J: reads x E_read + writes x E_write."""
        return {name: self.bits(name, kind="read") * lv.read_j_per_bit
                + self.bits(name, kind="write") * lv.write_j_per_bit
                for name, lv in levels.items()}

    def cycles(self, levels: dict[str, Level]) -> dict[str, Num]:
        """Transfer cycles per level: bits moved / bits per cycle."""
        return {name: self.bits(name) / lv.bits_per_cycle for name, lv in levels.items()}
