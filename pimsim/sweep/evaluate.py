"""Point evaluation: batches of points through the one cost path, grouped by discrete values.

Every cost of a sweep comes from :func:`pimsim.simulate.layer_costs`, the function behind
``pimsim run``. Its model functions broadcast over numpy arrays (:mod:`pimsim.models.params`),
so a batch of points is costed in a few calls:

1. points are grouped by their **discrete** swept values (:func:`discrete_keys`): keys whose
   values are not plain numbers (booleans, strings, None, lists), keys that select statistics
   or a geometry the statistics need (:data:`STATISTICS_KEYS`) and keys the models read as
   Python scalars (:data:`SCALAR_KEYS`: the technology node, supply and device, which enter the
   Stillmaker & Baas factors, and the area reference node);
2. each group gets one validated config (the builder validates per distinct value) with its
   remaining numeric swept keys as columns (:class:`~pimsim.models.params.ConfigColumns`) and
   one call of ``layer_costs`` (and of :func:`pimsim.models.area.area_breakdown_m2`). Points
   whose constants are rescaled on load (a reference node or supply in the YAML that differs
   from the point's own) are each built through the full loader
   (:meth:`pimsim.sweep.points.PointBuilder.build`), exactly as ``pimsim run --set`` builds
   them, and the numeric fields in which the loaded configs of a group differ are stacked as
   columns (:meth:`BatchEvaluator._loaded`; the node and supply are discrete, so all points of
   a group are rescaled by the same factors);
3. the metric matrix of the group, per point and per inference::

       [E, D, E x D, E_digital, D_digital, E_pim, D_pim, E_<component>..., E_other, area]

   with E = sum over layers of ``LayerCost.energy_j``, D = sum of ``delay_s`` (layer order),
   components in :data:`pimsim.models.base.COMPONENTS` order (anything else in E_other) and
   area = sum over engines and components of the area breakdown: the sums of
   :class:`pimsim.result.Result`, term for term.

Points an engine cannot map (``LayerCost.invalid``) are skipped with the reason scalar
:func:`pimsim.simulate.simulate` raises: a group's ``LayerCost.reason`` is one text for all
its points, so each invalid point of a larger group is costed once more alone
(:meth:`BatchEvaluator.point`) for its own reason. A group whose costing raises a
:class:`~pimsim.errors.PimsimError` is costed point by point to find the points at fault; so
is a group on which a model function fails because it does not broadcast over a column
(a model bug: the sweep says where, once, and the results stay exact).
With ``--accuracy`` the costs come from the same path and the accuracy column is added per
point (memoised on :func:`pimsim.nonideal.accuracy_key`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from pimsim.config import HardwareConfig
from pimsim.errors import PimsimError
from pimsim.models.area import area_breakdown_m2
from pimsim.models.base import COMPONENTS, LayerCost
from pimsim.models.params import ConfigColumns
from pimsim.simulate import check_valid, layer_costs
from pimsim.stats_cache import PrecomputedCache, StatsBundle
from pimsim.sweep.points import PointBuilder
from pimsim.sweep.recorder import getter_of

#: Engines with their own energy and delay columns (others are counted as digital).
ENGINES = ("digital", "pim")
#: Swept keys that select statistics, or a geometry the statistics need: never columns.
STATISTICS_KEYS = frozenset({"digital.pe_rows", "pim.dac_bits", "pim.input_mode",
                             "pim.enabled", "pim.dac_kind"})
#: Numeric keys the models read as Python scalars: the technology point (Stillmaker & Baas
#: factors, rescaling on load) and the node of the area constants.
SCALAR_KEYS = frozenset({"tech.node_nm", "tech.vdd_v", "tech.reference_node_nm",
                         "tech.reference_vdd_v", "tech.device", "area.reference_node_nm"})


def discrete_keys(keys: Sequence[str], combos: Sequence[tuple[Any, ...]]) -> tuple[int, ...]:
    """Indices of the swept keys points are grouped by (module doc); the others are columns
    (every value a plain int or float: not a bool, None, string or list)."""
    out = []
    for k, key in enumerate(keys):
        if key in STATISTICS_KEYS or key in SCALAR_KEYS or not {
                type(c[k]) for c in combos} <= {int, float}:
            out.append(k)
    return tuple(out)


@dataclass
class Columns:
    """Result columns after the swept keys: totals, per engine, per energy component."""

    components: list[str] = field(default_factory=lambda: list(COMPONENTS))
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
    """Everything a worker needs to evaluate points of one trace (picklable, no spikes).

    ``group_by``: indices of the discrete keys (:func:`discrete_keys`); every other swept key
    is a column.
    """

    key: str
    base: HardwareConfig
    keys: list[str]
    file: str
    bundle: StatsBundle
    columns: Columns
    group_by: tuple[int, ...]
    trace_path: str | None = None
    accuracy: dict[str, Any] | None = None
    raw: dict[str, Any] | None = None


@dataclass
class BatchResult:
    """What a worker returns for a batch: metric rows of the valid points, reasons of the rest.

    ``pids[j]`` is the point of ``metrics[j]``; ``skipped`` holds (point id, reason) of the
    points found invalid while evaluating.
    """

    pids: np.ndarray
    metrics: np.ndarray
    skipped: list[tuple[int, str]] = field(default_factory=list)
    #: why groups were costed one point at a time (:func:`unbroadcast_note`)
    notes: list[str] = field(default_factory=list)


def unbroadcast_note(exc: BaseException, keys: Sequence[str], columns: Sequence[int]) -> str:
    """One line: a model function failed on columns (it does not broadcast), where."""
    import traceback

    frame = traceback.extract_tb(exc.__traceback__)[-1]
    where = f"{Path(frame.filename).name}:{frame.lineno} ({frame.name})"
    return (f"the cost model does not broadcast over columns of "
            f"{', '.join(keys[k] for k in columns)}: {type(exc).__name__} at {where}; those "
            "points were costed one at a time (same equations, slower)")


def _per_point(x: Any, n: int) -> np.ndarray:
    """A scalar or a column as n floats."""
    return np.broadcast_to(np.asarray(x, dtype=float), (n,))


def metric_matrix(costs: list[LayerCost], area: dict[str, dict[str, Any]], n: int,
                  columns: Columns) -> np.ndarray:
    """The metric rows (module doc) of n points from their layer costs and area breakdown."""
    comps = columns.components
    comp_index = {c: 7 + i for i, c in enumerate(comps)}
    width = 7 + len(comps) + 2
    m = np.zeros((n, width))
    energy: Any = 0.0
    delay: Any = 0.0
    for c in costs:
        e, d = c.energy_j, c.delay_s
        energy = energy + e
        delay = delay + d
        j = 3 + 2 * (ENGINES.index(c.engine) if c.engine in ENGINES else 0)
        m[:, j] += _per_point(e, n)
        m[:, j + 1] += _per_point(d, n)
        for k, v in c.energy_breakdown_j.items():
            m[:, comp_index.get(k, width - 2)] += _per_point(v, n)
    m[:, 0] = _per_point(energy, n)
    m[:, 1] = _per_point(delay, n)
    m[:, 2] = m[:, 0] * m[:, 1]
    m[:, -1] = _per_point(sum(sum(v.values()) for v in area.values()), n)
    return m


def invalid_mask(costs: list[LayerCost], n: int) -> np.ndarray:
    """Points some engine cannot map (``LayerCost.invalid`` of any layer)."""
    bad = np.zeros(n, bool)
    for c in costs:
        bad |= np.broadcast_to(np.asarray(c.invalid, dtype=bool), (n,))
    return bad


class BatchEvaluator:
    """Metric rows of batches of points of one trace (module doc)."""

    def __init__(self, ctx: EvalContext):
        self.ctx = ctx
        self.builder = PointBuilder(ctx.base, ctx.keys, file=ctx.file, raw=ctx.raw)
        self.cache = PrecomputedCache(ctx.bundle, loader=self._load_trace)
        self.view = ctx.bundle.view
        self.file = self.view.path or "<trace>"
        self.group_of = getter_of(ctx.group_by)
        self.column_keys = [k for k in range(len(ctx.keys)) if k not in ctx.group_by]
        self.width = len(ctx.columns.metrics)
        self.tech_of = getter_of(tuple(i for i, k in enumerate(ctx.keys)
                                       if k.startswith("tech.")))
        self._scaled: dict[tuple[Any, ...], bool] = {}
        self._configs: dict[tuple[Any, ...], HardwareConfig | PimsimError] = {}
        self._valid: list[dict[Any, Any]] = [{} for _ in ctx.keys]
        self._acc: dict[Any, float] = {}
        self._trace: Any = None

    # -------------------------------------------------------------------------- groups

    def is_scaled(self, values: tuple[Any, ...]) -> bool:
        """Whether loading this point rescales its constants (memoised on its tech values,
        which are discrete: the same for every point of a group)."""
        if self.ctx.raw is None:
            return False
        t = self.tech_of(values)
        hit = self._scaled.get(t)
        if hit is None:
            hit = self._scaled[t] = self.builder._scaled(values)
        return hit

    def groups(self, rows: Sequence[tuple[Any, ...]]) -> dict[tuple[Any, ...], list[int]]:
        """Positions of ``rows`` by their discrete values."""
        out: dict[tuple[Any, ...], list[int]] = {}
        for j, values in enumerate(rows):
            out.setdefault(self.group_of(values), []).append(j)
        return out

    def _config(self, g: tuple[Any, ...], values: tuple[Any, ...]) -> HardwareConfig:
        """The validated config of a group (its first point; raises its PimsimError)."""
        hit = self._configs.get(g)
        if hit is None:
            try:
                hit = self.builder.build(values)
            except PimsimError as exc:
                hit = exc
            self._configs[g] = hit
        if isinstance(hit, PimsimError):
            raise hit
        return hit

    def _loaded(self, rows: list[tuple[Any, ...]]) -> ConfigColumns | None:
        """Rescaled points: each config through the full loader (``pimsim run --set``), every
        numeric field in which the loaded configs differ stacked as a column. None when they
        differ in anything else (the points are then costed one at a time)."""
        configs = [self.builder.build(r) for r in rows]
        first = configs[0]
        differ: set[tuple[str, str]] = set()
        for cfg in configs[1:]:
            for section in type(first).model_fields:
                if section == "sources":  # citations (an override's source quotes its value)
                    continue
                a, b = getattr(first, section), getattr(cfg, section)
                if a == b:
                    continue
                if not isinstance(a, BaseModel):
                    return None
                differ.update((section, f) for f in type(a).model_fields
                              if getattr(a, f) != getattr(b, f))
        cols = {}
        for section, name in sorted(differ):
            values = [getattr(getattr(c, section), name) for c in configs]
            dotted = f"{section}.{name}"
            if (dotted in STATISTICS_KEYS or dotted in SCALAR_KEYS
                    or not {type(v) for v in values} <= {int, float}):
                return None
            cols[dotted] = np.array(values)
        return ConfigColumns(first, cols)

    def _column(self, k: int, values: list[Any]) -> np.ndarray:
        """Validated values of swept key ``k`` (validated once per distinct value)."""
        memo = self._valid[k]
        key = self.ctx.keys[k]
        out = []
        for v in values:
            hit = memo.get(v, memo)
            if hit is memo:
                hit = memo[v] = self.builder.validated(key, v)
            out.append(hit)
        return np.array(out)

    # ------------------------------------------------------------------------ evaluation

    def cost(self, cfg: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(metric rows, invalid mask) of the n points of ``cfg`` (a config or ConfigColumns):
        one call of the shared cost path."""
        costs = layer_costs(cfg, self.view, self.cache)
        return (metric_matrix(costs, area_breakdown_m2(cfg), n, self.ctx.columns),
                invalid_mask(costs, n))

    def point(self, values: tuple[Any, ...]) -> np.ndarray | str:
        """The metric row of one point costed alone, or the one-line reason it is skipped
        (as ``pimsim run`` reports it)."""
        try:
            cfg = self.builder.build(values)
            costs = layer_costs(cfg, self.view, self.cache)
            check_valid(costs, self.file)
        except PimsimError as exc:
            return exc.one_line()
        return metric_matrix(costs, area_breakdown_m2(cfg), 1, self.ctx.columns)[0]

    def _group(self, g: tuple[Any, ...], rows: list[tuple[Any, ...]]
               ) -> tuple[np.ndarray, np.ndarray] | None:
        """(metric rows, invalid mask) of a group, or None to cost its points alone."""
        if self.is_scaled(rows[0]):
            loaded = self._loaded(rows) if len(rows) > 1 else self.builder.build(rows[0])
            return None if loaded is None else self.cost(loaded, len(rows))
        cfg = self._config(g, rows[0])
        cols = {self.ctx.keys[k]: self._column(k, [r[k] for r in rows])
                for k in self.column_keys}
        return self.cost(ConfigColumns(cfg, cols) if cols else cfg, len(rows))

    def evaluate_batch(self, batch: list[tuple[int, tuple[Any, ...]]]) -> BatchResult:
        """Metric rows of a batch of (point id, values); invalid points become skips."""
        rows = [v for _, v in batch]
        pids = np.array([p for p, _ in batch], np.int64)
        out = np.zeros((len(batch), self.width))
        ok = np.zeros(len(batch), bool)
        skipped: list[tuple[int, str]] = []
        alone: list[int] = []  # positions costed one at a time
        notes: set[str] = set()
        for g, members in self.groups(rows).items():
            try:
                res = self._group(g, [rows[j] for j in members])
            except PimsimError:  # find the points at fault
                alone += members
                continue
            except (TypeError, ValueError, IndexError) as exc:
                if len(members) == 1:
                    raise
                notes.add(unbroadcast_note(exc, self.ctx.keys, self.column_keys))
                alone += members
                continue
            if res is None:
                notes.add("rescaled points of one node and supply loaded with different "
                          "discrete values; they were costed one at a time (same equations, "
                          "slower)")
                alone += members
                continue
            m, bad = res
            good = np.flatnonzero(~bad)
            idx = np.array(members)
            out[idx[good], :m.shape[1]] = m[good]
            ok[idx[good]] = True
            alone += idx[bad].tolist()
        for j in alone:
            row = self.point(rows[j])
            if isinstance(row, str):
                skipped.append((int(pids[j]), row))
            else:
                out[j, :row.shape[0]] = row
                ok[j] = True
        if self.ctx.columns.accuracy:
            for j in np.flatnonzero(ok):
                out[j, -1] = self._accuracy(self.builder.build(rows[j]))
        return BatchResult(pids[ok], out[ok], sorted(skipped), sorted(notes))

    # -------------------------------------------------------------------------- accuracy

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
        if key not in self._acc:
            self._acc[key] = nonideal.hardware_accuracy(
                self._load_trace(), cfg, read_noise_lsb=opts.get("read_noise_lsb", 0.0),
                seed=opts.get("seed", 0))
        return self._acc[key]


# worker-side state: evaluators and loaded traces, kept across batches of one process
_EVALUATORS: dict[str, BatchEvaluator] = {}
_TRACES: dict[str, Any] = {}
_LOCK = threading.Lock()


def evaluator_for(ctx: EvalContext) -> BatchEvaluator:
    """The process's evaluator of ``ctx``, created once per thread (Dask workers may be
    threads; an evaluator keeps memo tables)."""
    key = f"{ctx.key}:{threading.get_ident()}"
    with _LOCK:
        ev = _EVALUATORS.get(key)
        if ev is None:
            while len(_EVALUATORS) >= 16:  # long-lived workers: keep the latest sweeps only
                _EVALUATORS.pop(next(iter(_EVALUATORS)))
            ev = _EVALUATORS[key] = BatchEvaluator(ctx)
    return ev


def evaluate_batch(ctx: EvalContext, batch: list[tuple[int, tuple[Any, ...]]]) -> BatchResult:
    """Worker task: the metric rows of a batch of (point id, values)."""
    return evaluator_for(ctx).evaluate_batch(batch)
