"""The vectorized cost path: the metric vectors of a whole batch of points with numpy.

The per-point cost models (:mod:`pimsim.models.digital`, :mod:`pimsim.models.pim`) combine
two kinds of quantities:

* sub-models of a few config keys: per-operation and per-bit energies
  (:mod:`pimsim.models.tech`), ADC energy and conversion time (:mod:`pimsim.models.adc`),
  static power, the PIM mapping (:func:`pimsim.models.pim.pim_geometry`), neuron/membrane
  traffic (:func:`pimsim.models.digital.neuron_memory`), trace statistics per geometry, the
  area (:mod:`pimsim.models.area`). These are evaluated by the model functions themselves,
  once per distinct combination of the swept keys they read (:class:`pimsim.sweep.points.
  Grouped`), and scattered to the points;
* the layer equations that combine them. These are written here once more over numpy arrays
  of points, in the models' operation order, so that every float is the one the scalar model
  computes (IEEE-754 +, -, x, / are the same on numpy arrays; integers stay int64, exact
  below 2^53, which :meth:`VectorEvaluator.evaluate_batch` checks).

Digital layer (cost_digital_layer): per inference,
    cycles = max(C_acc + C_upd, dram / (B x 8 / f)) / N,  delay = cycles / f,
    E = E_ac(or MAC) x events / N + E_neuron / N + sum_buf bits x e_bit(buf) / N
        + dram x e_dram / N + P_leak x delay.
PIM layer (cost_pim_layer):
    conversions = positions x N x passes x P x sum_i G_i x C_conv,
    t_read = t_read_s | (2^g - 1) t_pulse + t_conv | max(t_bitline, t_conv),
    delay = ceil(positions / copies) x passes x ceil(A / arrays) x max G x P x t_read
            + updates / f,
    E = (e_wl fired A_col + e_cell fired C S + e_dac driven A_col + conv (e_adc + e_sa)
        + E_neuron + SRAM + DRAM) / N + P_leak x delay.

Points the path does not cover go to the exact scalar evaluator: points whose constants are
rescaled on load (a swept node or supply with a reference), points where a sub-model raises
(e.g. a layer the macro cannot hold: the scalar path reports the reason), and whole batches
when anything unexpected happens. :meth:`VectorEvaluator.disagreement` is the start-up check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pimsim.config import HardwareConfig
from pimsim.errors import PimsimError
from pimsim.models import adc, tech
from pimsim.models.base import dram_bits_per_cycle, static_power_w
from pimsim.models.digital import neuron_memory, out_tiles, sram_energy
from pimsim.models.pim import check_fits, input_phases, pim_geometry
from pimsim.stats_cache import PrecomputedCache
from pimsim.sweep.evaluate import (
    ENGINES,
    BatchResult,
    EvalContext,
    Evaluator,
    scalar_batch,
    total_area,
)
from pimsim.sweep.points import Grouped, PointTable
from pimsim.sweep.recorder import dependencies, recorded
from pimsim.sweep.space import flatten
from pimsim.trace import LayerSpec

#: integers above this lose exactness as float64; a batch reaching it goes the scalar path
EXACT_INT = 2**53
#: PIM energy components computed as totals over the trace (divided by N), in the model's order
PIM_PER_TRACE = ("pim_wordline", "pim_cell", "pim_dac", "pim_adc", "pim_shift_add",
                 "neuron_update", "sram")


def _ceil_div(a: Any, b: Any) -> Any:
    return -(-a // b)


class VectorEvaluator:
    """Metric vectors of batches of points (see module doc); falls back to :class:`Evaluator`."""

    def __init__(self, ctx: EvalContext):
        self.ctx = ctx
        self.scalar = Evaluator(ctx)
        self.builder = self.scalar.builder
        self.cache: PrecomputedCache = self.scalar.cache
        self.view = ctx.bundle.view
        self.width = self.scalar.width
        self.comp_index = self.scalar.comp_index
        self.key_index = {k: i for i, k in enumerate(ctx.keys)}
        self.base_flat = flatten(ctx.base.model_dump())
        self.helpers: dict[str, Grouped] = {}
        #: per layer (and the area, last): swept keys read by the vectorized formulas
        self.reads: list[set[str]] = [set() for _ in range(len(self.view.layers) + 1)]
        self._layer = 0
        self._bad = np.zeros(0, bool)
        self._idx = np.zeros(0, np.int64)

    # ------------------------------------------------------------------ columns and helpers

    def _col(self, tb: PointTable, key: str) -> np.ndarray:
        """Validated values of ``key`` at every point of ``tb`` (the base value if unswept)."""
        k = self.key_index.get(key)
        if k is None:
            return np.full(tb.n, self.base_flat[key])
        self.reads[self._layer].add(key)
        hit = tb.memo.get(key)
        if hit is None:
            codes = tb.codes[:, k]
            first = np.unique(codes, return_index=True)[1]
            uniq = np.empty(int(codes.max()) + 1, dtype=object)
            for r in first:
                uniq[codes[r]] = self.builder.validated(key, tb.rows[r][k])
            hit = np.array(uniq.tolist())[codes]
            tb.memo[key] = hit
        return hit

    def _opt(self, tb: PointTable, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(value or NaN, is None) of an optional float key."""
        raw = self._col(tb, key)
        none = np.array([v is None for v in raw.tolist()], bool)
        vals = np.array([np.nan if v is None else v for v in raw.tolist()], float)
        return vals, none

    def _group(self, name: str, fn: Callable[[Any], Any]) -> Grouped:
        g = self.helpers.get(name)
        if g is None:
            g = self.helpers[name] = Grouped(fn, self.key_index, self.builder.build)
        return g

    def _many(self, tb: PointTable, name: str, fn: Callable[[Any], Any],
              parts: dict[str, Callable[[Any], Any]]) -> dict[str, np.ndarray]:
        """Grouped ``fn`` and arrays of ``part(result)``; points where it raised are marked."""
        g = self._group(name, fn)
        out, inverse = g.evaluate(tb)
        self.reads[self._layer].update(self.ctx.keys[i] for i in (g.deps or ()))
        errs = np.array([isinstance(r, PimsimError) for r in out], bool)
        if errs.any():
            self._bad[self._idx[errs[inverse]]] = True
        res = {}
        for pname, part in parts.items():
            vals = [0 if isinstance(r, PimsimError) else part(r) for r in out]
            res[pname] = np.array(vals)[inverse]
        return res

    def _one(self, tb: PointTable, name: str, fn: Callable[[Any], Any]) -> np.ndarray:
        return self._many(tb, name, fn, {"v": lambda r: r})["v"]

    # ---------------------------------------------------------------------------- layers

    def _digital(self, tb: PointTable, i: int, spec: LayerSpec
                 ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """cost_digital_layer over the points of ``tb``: (energy breakdown, delay)."""
        v, cache = self.view, self.cache
        n, t, in_bits = v.num_samples, v.timesteps, v.input_bits
        last = i == len(v.layers) - 1
        analog = spec.input == "analog"
        c = lambda key: self._col(tb, key)
        h = lambda name, fn: self._one(tb, f"{i}:{name}", fn)
        tiles = h("tiles", lambda cf: out_tiles(spec, cf))
        act = self._many(tb, f"{i}:act", lambda cf: cache.layer(spec, cf.digital.pe_rows),
                         {"events": lambda a: a.events, "tps": lambda a: a.tiles_per_step})
        reuse = c("digital.first_layer_reuse") if analog else np.zeros(tb.n, bool)
        passes = np.where(reuse, 1, t)
        if analog:
            events = spec.out_channels * act["events"] * n * passes
            tcyc = h("tcyc_mac", lambda cf: cache.layer(spec, cf.digital.pe_rows).tile_cycles(
                cf.digital.mac_lanes))
            accum_cycles = tiles * tcyc * n * passes
            e_op = h("e_mac", lambda cf: tech.int_mac_energy_j(
                cf.ops, in_bits, spec.weight_bits, cf.digital.membrane_bits))
            in_read = spec.in_size * in_bits * tiles * n * passes
        else:
            per_out = spec.out_size if spec.kind == "linear" else spec.out_channels
            events = per_out * act["events"]
            tcyc = h("tcyc", lambda cf: cache.layer(spec, cf.digital.pe_rows).tile_cycles(
                cf.digital.lanes))
            accum_cycles = tiles * tcyc
            e_op = self._one(tb, "e_add", lambda cf: tech.add_energy_j(
                cf.ops, cf.digital.membrane_bits))
            in_read = spec.in_size * tiles * t * n
        e_compute = events * e_op
        update_cycles = tiles * act["tps"] * c("digital.neuron_update_cycles") * t * n
        compute_cycles = accum_cycles + update_cycles
        nm = self._neuron(tb, i, spec, last)
        if analog and spec.kind != "linear":
            share = np.minimum(c("digital.pe_rows"), spec.out_positions)
        else:
            share = np.ones(tb.n, np.int64)
        weight_read = events * spec.weight_bits // share
        mem_read, mem_write = nm["read"], nm["write"]
        if analog:
            cur = spec.out_size * c("digital.membrane_bits")
            mem_read = mem_read + np.where(reuse, cur * t * n, 0)
            mem_write = mem_write + np.where(reuse, cur * n, 0)
        w_bits = int(np.prod(spec.weight_shape)) * spec.weight_bits
        dram = w_bits * n // c("memory.weight_load_inferences")
        dram = dram + nm["dram"]
        spike_bits = spec.in_size * (in_bits if analog else 1) + spec.out_size
        dram = np.where(spike_bits > 8 * c("memory.spike_sram_bytes"),
                        dram + spike_bits * t * n, dram)
        acct_mem = c("accounting.memory")
        bpc = self._one(tb, "bits_per_cycle", dram_bits_per_cycle)
        mem_cycles = np.where(acct_mem, dram / bpc, 0.0)
        cycles = np.maximum(compute_cycles, mem_cycles) / n
        delay = cycles / c("tech.clock_hz")
        sram = (weight_read * self._bit(tb, "weight") + in_read * self._bit(tb, "spike")
                + mem_read * self._bit(tb, "membrane")
                + mem_write * self._bit(tb, "membrane", write=True))
        leak = self._one(tb, "p_leak", lambda cf: static_power_w(cf, with_pim=cf.pim.enabled))
        self._check_ints(events, accum_cycles, update_cycles, weight_read, in_read, mem_read,
                         mem_write, dram)
        breakdown = {
            "compute": e_compute / n,
            "neuron_update": nm["energy"] / n,
            "sram": sram / n,
            "dram": np.where(acct_mem, dram * c("memory.dram_j_per_bit") / n, 0.0),
            "leakage": leak * delay,
        }
        return breakdown, delay

    def _pim(self, tb: PointTable, i: int, spec: LayerSpec
             ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """cost_pim_layer over the points of ``tb``: (energy breakdown, delay)."""
        v, cache = self.view, self.cache
        n, t, in_bits = v.num_samples, v.timesteps, v.input_bits
        c = lambda key: self._col(tb, key)
        self._one(tb, f"{i}:fits", lambda cf: check_fits(
            spec, cf, input_bits=in_bits, trace_file=v.path or "<trace>"))
        geo = self._many(tb, f"{i}:geo", lambda cf: pim_geometry(spec, cf), {
            k: (lambda g, k=k: g[k]) for k in ("slices", "cols_used", "col_arrays", "arrays",
                                               "row_groups", "max_groups")})
        phases = self._one(tb, "phases", lambda cf: input_phases(cf, in_bits)[0])
        passes = np.where(c("digital.first_layer_reuse"), 1, t)
        positions = spec.out_positions
        driven = self._one(tb, f"{i}:driven", lambda cf: int(cache.pim(
            spec, input_phases(cf, in_bits)[1]).driven_rows.sum()))
        awc = c("pim.analog_weight_combine")
        conv_cols = np.where(awc, spec.out_channels, geo["cols_used"])
        conversions = positions * n * passes * phases * geo["row_groups"] * conv_cols
        e_adc = self._one(tb, "e_adc", adc.conversion_energy_j)
        dac = c("pim.input_mode") == "dac"
        pulse = dac & (c("pim.dac_kind") == "pulse_count")

        def fired_rows(cf: Any) -> int:
            p = cf.pim
            if p.input_mode == "dac" and p.dac_kind == "pulse_count":
                planes = cache.pim(spec, 1).driven_rows
                return int(sum((1 << k) * int(x) for k, x in enumerate(planes)))
            return int(cache.pim(spec, input_phases(cf, in_bits)[1]).driven_rows.sum())

        fired = self._one(tb, f"{i}:fired", fired_rows)
        e_wl = fired * passes * geo["col_arrays"] * c("pim.e_wordline_j")
        e_cell = fired * passes * geo["cols_used"] * c("pim.e_cell_j")
        e_dac = np.where(dac, driven * passes * geo["col_arrays"] * c("pim.e_dac_j"), 0.0)
        e_conv = conversions * e_adc
        e_sa = conversions * c("pim.e_shift_add_j")
        cpa = c("pim.cols_per_adc")
        seq = np.where(awc, _ceil_div(cpa, geo["slices"]), cpa)
        t_conv = self._one(tb, "t_conv", adc.conversion_time_s) * seq
        t_read_s, no_tread = self._opt(tb, "pim.t_read_s")
        period, no_period = self._opt(tb, "pim.pulse_period_s")
        pulse_read = ((1 << c("pim.dac_bits")) - 1) * period + t_conv
        t_read = np.where(~no_tread, t_read_s, np.where(
            pulse & ~no_period, pulse_read, np.maximum(c("pim.t_bitline_s"), t_conv)))
        num_arrays = c("pim.num_arrays")
        copies = np.maximum(1, num_arrays // geo["arrays"])
        t_pos = _ceil_div(geo["arrays"], num_arrays) * geo["max_groups"] * phases * t_read
        t_pim = _ceil_div(positions, copies) * passes * t_pos
        nm = self._neuron(tb, i, spec, False)
        tiles = _ceil_div(spec.out_channels, c("digital.pe_cols"))
        tps = self._one(tb, f"{i}:tps", lambda cf: cache.layer(
            spec, cf.digital.pe_rows).tiles_per_step)
        update_cycles = tiles * tps * c("digital.neuron_update_cycles") * t
        in_read = spec.in_size * in_bits * n * passes
        delay = t_pim + update_cycles / c("tech.clock_hz")
        sram = (in_read * self._bit(tb, "spike") + nm["read"] * self._bit(tb, "membrane")
                + nm["write"] * self._bit(tb, "membrane", write=True))
        leak = self._one(tb, "p_leak_pim", lambda cf: static_power_w(cf, with_pim=True))
        self._check_ints(conversions, fired * passes * geo["cols_used"], update_cycles,
                         in_read, nm["dram"])
        totals = (e_wl, e_cell, e_dac, e_conv, e_sa, nm["energy"], sram)  # J over the trace
        breakdown = {k: e / n for k, e in zip(PIM_PER_TRACE, totals)}
        breakdown.update({
            "dram": np.where(c("accounting.memory"), nm["dram"] * c("memory.dram_j_per_bit")
                             / n, 0.0),
            "leakage": leak * delay,
        })
        return breakdown, delay

    def _neuron(self, tb: PointTable, i: int, spec: LayerSpec, last: bool
                ) -> dict[str, np.ndarray]:
        """neuron_memory per point: SRAM read/write bits, DRAM bits and energy (J, total)."""
        v = self.view
        return self._many(
            tb, f"{i}:neuron{int(last)}",
            lambda cf: neuron_memory(spec, cf, n=v.num_samples, t=v.timesteps, last=last),
            {"read": lambda r: r[0]["sram_read_bits"], "write": lambda r: r[0]["sram_write_bits"],
             "dram": lambda r: r[0]["dram_bits"], "energy": lambda r: float(r[1])})

    def _bit(self, tb: PointTable, buf: str, *, write: bool = False) -> np.ndarray:
        """SRAM energy per bit of ``buf`` (0 when memory is not counted), J: the model's
        sram_energy of one bit, 0.0 + 1 x e_bit = e_bit exactly."""
        if write:
            return self._one(tb, f"bit_w_{buf}", lambda cf: sram_energy(cf, {}, {buf: 1}))
        return self._one(tb, f"bit_r_{buf}", lambda cf: sram_energy(cf, {buf: 1}, {}))

    def _check_ints(self, *arrays: Any) -> None:
        for a in arrays:
            a = np.asarray(a)
            if a.dtype.kind in "iu" and a.size and int(np.abs(a).max()) >= EXACT_INT:
                raise OverflowError("integer beyond float64 exactness")

    # ------------------------------------------------------------------------------ batch

    def _metrics(self, tb: PointTable) -> np.ndarray:
        """The (points x width) metric matrix of ``tb``, summed as Evaluator.evaluate does."""
        self._bad = np.zeros(tb.n, bool)
        self._idx = np.arange(tb.n)
        total = np.zeros((tb.n, self.width))
        enabled = self._col(tb, "pim.enabled").astype(bool)
        for i, spec in enumerate(self.view.layers):
            self._layer = i
            vec = np.zeros((tb.n, self.width))
            on_pim = enabled if spec.input == "analog" else np.zeros(tb.n, bool)
            for engine, mask in (("digital", ~on_pim), ("pim", on_pim)):
                if not mask.any():
                    continue
                idx = np.nonzero(mask)[0]
                sub = tb if len(idx) == tb.n else tb.take(idx)
                self._idx = idx
                fn = self._pim if engine == "pim" else self._digital
                breakdown, delay = fn(sub, i, spec)
                parts = list(breakdown.values())
                energy = parts[0]
                for part in parts[1:]:
                    energy = energy + part
                e = ENGINES.index(engine)
                vec[idx, 0] = energy
                vec[idx, 1] = delay
                vec[idx, 3 + 2 * e] = energy
                vec[idx, 4 + 2 * e] = delay
                for k, val in breakdown.items():
                    j = self.comp_index.get(k, self.width - 2)
                    vec[idx, j] = vec[idx, j] + val
            total += vec
        self._layer = len(self.view.layers)
        self._idx = np.arange(tb.n)
        area = np.zeros((tb.n, self.width))
        area[:, -1] = self._one(tb, "area", total_area)
        total += area
        total[:, 2] = total[:, 0] * total[:, 1]
        return total

    def evaluate_batch(self, batch: list[tuple[int, tuple[Any, ...]]]) -> BatchResult:
        """Metric rows of a batch; uncovered points (and failing batches) go the scalar way."""
        if not batch:
            return scalar_batch(self.scalar, batch)
        table = PointTable([values for _, values in batch], len(self.ctx.keys))
        exact = self._unscaled(table)
        if not exact.any():
            return scalar_batch(self.scalar, batch)
        idx = np.nonzero(exact)[0]
        tb = table if len(idx) == table.n else table.take(idx)
        try:
            metrics = self._metrics(tb)
        except (PimsimError, KeyError, OverflowError, ValueError, TypeError):
            return scalar_batch(self.scalar, batch)
        good = np.zeros(table.n, bool)
        good[idx[~self._bad]] = True
        full = np.zeros((table.n, self.width))
        full[idx] = metrics
        rest = [batch[j] for j in np.nonzero(~good)[0]]
        if not rest:
            return BatchResult(np.array([p for p, _ in batch], np.int64), full)
        back = scalar_batch(self.scalar, rest)
        back_rows = dict(zip(back.pids.tolist(), back.metrics))
        pids, rows = [], []
        for j, (pid, _) in enumerate(batch):
            if good[j]:
                pids.append(pid)
                rows.append(full[j])
            elif pid in back_rows:
                pids.append(pid)
                rows.append(back_rows[pid])
        metrics_out = np.array(rows) if rows else np.zeros((0, self.width))
        return BatchResult(np.array(pids, np.int64), metrics_out, back.skipped)

    def _unscaled(self, table: PointTable) -> np.ndarray:
        """Points whose config is the base plus their values (no constants rescaled on load)."""
        b = self.builder
        if b.raw is None or not b._tech_idx:
            return np.ones(table.n, bool)
        first, inverse = table.groups(tuple(sorted(b._tech_idx.values())))
        flags = np.array([not b._scaled(table.rows[r]) for r in first], bool)
        return flags[inverse]

    # ---------------------------------------------------------------------------- the check

    def disagreement(self, checked: list[tuple[int, tuple[Any, ...], np.ndarray]],
                     build: Callable[[tuple[Any, ...]], HardwareConfig]) -> str | None:
        """Why this path cannot be trusted on these points (None when it agrees).

        ``checked`` holds (point id, values, scalar metric vector) of points already checked
        against api.simulate. The vectorized vectors must equal them bit for bit, and for
        every layer the swept keys the scalar model reads must be among those read here.
        """
        from pimsim.api import layer_cost

        res = self.evaluate_batch([(pid, values) for pid, values, _ in checked])
        got = dict(zip(res.pids.tolist(), res.metrics))
        for pid, values, ref in checked:
            if pid not in got:
                continue
            if not np.array_equal(got[pid], ref[:self.width]):
                bad = int(np.nonzero(got[pid] != ref[:self.width])[0][0])
                return (f"it gives {got[pid][bad]!r} instead of {ref[bad]!r} in column {bad} "
                        f"at {values}")
            cfg = build(values)
            for i in range(len(self.view.layers)):
                log: set[str] = set()
                try:
                    layer_cost(recorded(cfg, log), self.view, i,  # type: ignore[arg-type]
                               self.cache)
                except PimsimError:
                    continue
                need = {self.ctx.keys[k] for k in dependencies(log, self.key_index)}
                missing = need - self.reads[i]
                if missing:
                    return (f"layer {i} of the model reads {sorted(missing)}, which the "
                            "vectorized formulas do not")
        return None
