"""Point evaluation: the memoised scalar evaluator, the worker task, and the start-up guard.

Each layer's cost is memoised on the swept keys it actually reads: a recording proxy
(:mod:`pimsim.sweep.recorder`) notes which config leaves :func:`pimsim.api.layer_cost` touched,
so a later point that agrees on those keys reuses the layer cost exactly. The metric vector of
a point is, per inference,

    [E, D, E x D, E_digital, D_digital, E_pim, D_pim, E_<component>..., E_other, area]

with E = sum_layers E_l (each E_l = sum of its energy breakdown, in the model's order) and
D = sum_layers D_l, accumulated layer by layer in trace order, so that every figure equals
:func:`pimsim.api.simulate` bit for bit.

Cost-only batches go through the vectorized path (:mod:`pimsim.sweep.vectorized`), which
computes the same vectors for many points at once; points it does not cover fall back here.
:func:`guard` checks both paths against :func:`pimsim.api.simulate` before a sweep starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pimsim.api import layer_cost as api_layer_cost
from pimsim.config import HardwareConfig
from pimsim.errors import PimsimError
from pimsim.models.area import area_breakdown_m2
from pimsim.models.base import LayerCost
from pimsim.models.pim import input_phases
from pimsim.stats_cache import PrecomputedCache, StatKey, StatsBundle, TraceView, layer_key, pim_key
from pimsim.sweep.points import PointBuilder
from pimsim.sweep.recorder import dependencies, getter_of, recorded

ENGINES = ("digital", "pim")


def needed_stats(cfg: HardwareConfig, view: TraceView) -> list[StatKey]:
    """Statistics keys that simulating ``view`` on ``cfg`` reads."""
    keys: list[StatKey] = []
    for spec in view.layers:
        keys.append(layer_key(spec, cfg.digital.pe_rows))
        if spec.input == "analog" and cfg.pim.enabled:
            keys.append(pim_key(spec, input_phases(cfg, view.input_bits)[1]))
            if cfg.pim.input_mode == "dac" and getattr(cfg.pim, "dac_kind", "") == "pulse_count":
                keys.append(pim_key(spec, 1))
    return keys


@dataclass
class Columns:
    """Result columns after the swept keys: totals, per engine, per energy component."""

    components: list[str]
    accuracy: bool = False

    @property
    def metrics(self) -> list[str]:
        out = ["energy_j", "delay_s", "edp_js"]
        for e in ENGINES:
            out += [f"energy_{e}_j", f"delay_{e}_s"]
        out += [f"energy_{c}_j" for c in self.components] + ["energy_other_j", "area_m2"]
        if self.accuracy:
            out.append("accuracy")
        return out


@dataclass
class EvalContext:
    """Everything a worker needs to evaluate points of one trace (picklable, no spikes)."""

    key: str
    base: HardwareConfig
    keys: list[str]
    file: str
    bundle: StatsBundle
    columns: Columns
    trace_path: str | None = None
    accuracy: dict[str, Any] | None = None
    raw: dict[str, Any] | None = None
    #: evaluate cost-only batches with the vectorized path (switched off by the guard)
    vectorized: bool = True


class Evaluator:
    """Evaluates value tuples to metric vectors with per-layer memoisation (see module doc)."""

    def __init__(self, ctx: EvalContext, builder: PointBuilder | None = None):
        self.ctx = ctx
        self.builder = builder or PointBuilder(ctx.base, ctx.keys, file=ctx.file, raw=ctx.raw)
        self.cache = PrecomputedCache(ctx.bundle, loader=self._load_trace)
        self.view = ctx.bundle.view
        comps = ctx.columns.components
        self.comp_index = {c: 5 + 2 + i for i, c in enumerate(comps)}  # after 7 fixed
        self.width = 7 + len(comps) + 2  # ... energy_other_j, area_m2
        self.key_index = {k: i for i, k in enumerate(ctx.keys)}
        nl = len(self.view.layers)
        #: per layer: (keys read, getter of the swept values among them, memo table)
        self.memo: list[list[tuple[tuple[str, ...], Callable[[Any], Any], dict[Any, Any]]]] = [
            [] for _ in range(nl + 1)]  # the last slot is the area
        self.acc_memo: dict[Any, float] = {}
        self._trace: Any = None

    def _vector(self, cost: LayerCost) -> np.ndarray:
        v = np.zeros(self.width)
        v[0] = cost.energy_j
        v[1] = cost.delay_s
        e = ENGINES.index(cost.engine) if cost.engine in ENGINES else 0
        v[3 + 2 * e] = cost.energy_j
        v[4 + 2 * e] = cost.delay_s
        for k, val in cost.energy_breakdown_j.items():
            v[self.comp_index.get(k, self.width - 2)] += val
        return v

    def _area_vector(self, cfg: Any) -> np.ndarray:
        v = np.zeros(self.width)
        v[-1] = total_area(cfg)
        return v

    def evaluate(self, values: tuple[Any, ...]) -> np.ndarray:
        """Metric vector (energy, delay, edp, per engine, components, other) of one point.

        Raises PimsimError when the point is invalid (schema, cross-key check, mapping).
        """
        cfg = None  # built only on a memo miss (the planner validated every point)
        total = np.zeros(self.width)
        for i, entries in enumerate(self.memo):
            vec = None
            for _, getter, table in entries:
                vec = table.get(getter(values))
                if vec is not None:
                    break
            if vec is None:
                log: set[str] = set()
                if cfg is None:
                    cfg = self.builder.build(values)
                try:
                    if i == len(self.view.layers):
                        vec = self._area_vector(recorded(cfg, log))
                    else:
                        vec = self._vector(api_layer_cost(recorded(cfg, log), self.view, i,
                                                          self.cache))
                except PimsimError as exc:
                    vec = exc
                read = tuple(sorted(log))
                for keys_read, getter, table in entries:
                    if keys_read == read:
                        break
                else:
                    getter, table = getter_of(dependencies(log, self.key_index)), {}
                    entries.append((read, getter, table))
                table[getter(values)] = vec
            if isinstance(vec, Exception):
                raise vec
            total += vec
        total[2] = total[0] * total[1]
        if self.ctx.columns.accuracy:
            total = np.append(total, self._accuracy(cfg or self.builder.build(values)))
        return total

    def _load_trace(self) -> Any:
        if self._trace is None:
            from pimsim.trace import load_trace

            if self.ctx.trace_path is None:
                raise KeyError("statistics missing and no trace path to compute them")
            self._trace = _TRACES.get(self.ctx.bundle.view.content_hash)
            if self._trace is None:
                self._trace = load_trace(self.ctx.trace_path)
        return self._trace

    def _accuracy(self, cfg: HardwareConfig) -> float:
        from pimsim import nonideal

        opts = self.ctx.accuracy or {}
        key = nonideal.accuracy_key(cfg)
        if key not in self.acc_memo:
            self.acc_memo[key] = nonideal.hardware_accuracy(
                self._load_trace(), cfg, read_noise_lsb=opts.get("read_noise_lsb", 0.0),
                seed=opts.get("seed", 0))
        return self.acc_memo[key]


def total_area(cfg: Any) -> float:
    """Accelerator area, m^2: the sum over engines of the sum over components."""
    return sum(sum(d.values()) for d in area_breakdown_m2(cfg).values())


# worker-side state: evaluators and loaded traces, kept across batches of one process
_EVALUATORS: dict[str, Any] = {}
_TRACES: dict[str, Any] = {}
_LOCK = threading.Lock()


@dataclass
class BatchResult:
    """What a worker returns for a batch: metric rows of the valid points, reasons of the rest.

    ``pids[j]`` is the point of ``metrics[j]`` (batch order); ``skipped`` holds
    (point id, reason) of the points found invalid while evaluating.
    """

    pids: np.ndarray
    metrics: np.ndarray
    skipped: list[tuple[int, str]] = field(default_factory=list)


def evaluator_for(ctx: EvalContext) -> Any:
    """The process's evaluator of ``ctx`` (vectorized or scalar), created once."""
    vector = ctx.vectorized and not ctx.columns.accuracy
    # evaluators hold per-batch scratch state: one per thread (Dask workers may be threads)
    key = f"{ctx.key}:{'vector' if vector else 'scalar'}:{threading.get_ident()}"
    with _LOCK:
        ev = _EVALUATORS.get(key)
        if ev is None:
            while len(_EVALUATORS) >= 16:  # long-lived workers: keep the latest sweeps only
                _EVALUATORS.pop(next(iter(_EVALUATORS)))
            if vector:
                from pimsim.sweep.vectorized import VectorEvaluator

                ev = VectorEvaluator(ctx)
            else:
                ev = Evaluator(ctx)
            _EVALUATORS[key] = ev
    return ev


def scalar_batch(ev: Evaluator, batch: list[tuple[int, tuple[Any, ...]]]) -> BatchResult:
    """Evaluate a batch point by point with the memoised scalar evaluator."""
    pids: list[int] = []
    rows: list[np.ndarray] = []
    skipped: list[tuple[int, str]] = []
    for pid, values in batch:
        try:
            rows.append(ev.evaluate(values))
            pids.append(pid)
        except PimsimError as exc:
            skipped.append((pid, exc.one_line()))
    width = ev.width + (1 if ev.ctx.columns.accuracy else 0)
    metrics = np.array(rows) if rows else np.zeros((0, width))
    return BatchResult(np.array(pids, np.int64), metrics, skipped)


def evaluate_batch(ctx: EvalContext, batch: list[tuple[int, tuple[Any, ...]]]) -> BatchResult:
    """Worker task: the metric rows of a batch of (point id, values)."""
    ev = evaluator_for(ctx)
    if isinstance(ev, Evaluator):
        return scalar_batch(ev, batch)
    return ev.evaluate_batch(batch)  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------- the guard


def guard_points(keys: list[str], valid: list[tuple[int, tuple[Any, ...]]], cap: int = 24
                 ) -> list[int]:
    """Indices into ``valid`` of a covering sample: the first, middle and last point, then,
    for each swept key, the first point of each of its values (until ``cap`` points)."""
    n = len(valid)
    picks = dict.fromkeys(sorted({0, n - 1, n // 2}))
    for k in range(len(keys)):
        seen: set[Any] = set()
        for j, (_, values) in enumerate(valid):
            if len(picks) >= cap:
                break
            v = values[k]
            if v not in seen:
                seen.add(v)
                picks.setdefault(j)
    return sorted(picks)[:cap] if len(picks) > cap else sorted(picks)


def guard(ctxs: list[EvalContext], valid: list[tuple[int, tuple[Any, ...]]],
          build: Callable[[tuple[Any, ...]], HardwareConfig],
          say: Callable[[str], None]) -> bool:
    """Check the evaluators against :func:`pimsim.api.simulate` on a covering sample.

    The scalar evaluator must agree exactly (energy, delay, area), or PimsimError is raised.
    The vectorized path must give the scalar evaluator's vectors bit for bit, and must read
    every swept key that the scalar model reads for each layer; otherwise it is switched off
    for this sweep (returns False, with a message). Returns whether it may be used.
    """
    from pimsim.api import simulate

    picks = guard_points(ctxs[0].keys if ctxs else [], valid)
    use_vector = True
    for ctx in ctxs:
        gctx = EvalContext(**{**ctx.__dict__, "key": "guard", "columns": Columns(
            ctx.columns.components, accuracy=False)})
        ev = Evaluator(gctx)
        cache = PrecomputedCache(ctx.bundle)
        checked: list[tuple[int, tuple[Any, ...], np.ndarray]] = []
        for i in picks:
            pid, values = valid[i]
            try:
                cfg = build(values)
                got = ev.evaluate(values)
                ref = simulate(cfg, ctx.bundle.view, cache=cache)  # type: ignore[arg-type]
            except (PimsimError, KeyError):
                continue
            if (got[0], got[1], got[-1]) != (ref.energy_j, ref.delay_s, ref.area_m2):
                raise PimsimError(
                    f"internal: the sweep evaluator disagrees with api.simulate at {values} "
                    f"({got[0]!r} vs {ref.energy_j!r} J); please report", key="pimsim.sweep")
            checked.append((pid, values, got))
        if not use_vector or not ctx.vectorized or not checked:
            continue
        from pimsim.sweep.vectorized import VectorEvaluator

        vev = VectorEvaluator(gctx)
        why = vev.disagreement(checked, build)
        if why:
            say(f"warning: the vectorized cost path is off for this sweep ({why}); using the "
                "exact scalar path (slower); please report")
            use_vector = False
    return use_vector
