"""Design-space sweeps: spaces, strategies, a lean evaluator, resumable CSV, local/Dask runners.

Space file (YAML)::

    strategy: grid              # grid | random | latin
    count: 200                  # points for random / latin
    seed: 0
    parameters:                 # dotted config keys (design.md §3 schema)
      pim.adc_bits: [4, 5, 6, 7, 8]                          # a list
      pim.rows_per_read: {start: 16, stop: 128, step: 2, scale: log}   # 16, 32, 64, 128
      tech.clock_hz: {start: 2.0e+8, stop: 1.0e+9, num: 5}  # linear, both ends included
      memory.dram_j_per_bit: {distribution: loguniform, low: 5.0e-12, high: 4.0e-11}
      trace: [a.npz, b.npz]     # optional trace dimension (paths relative to this file)
    constraints:                # restricted expressions over any config key
      - pim.rows_per_read <= pim.rows

Ranges include ``stop`` when a step lands on it; ``num`` points are spaced linearly or
geometrically (``scale: log``) with both ends included; ``type: int`` rounds. Distributions
(``uniform``, ``loguniform``, ``normal``, ``choice``) need ``random`` or ``latin``.

Speed. Points are validated section by section (one pydantic validation per distinct value
tuple of a config section, memoised) and never through a whole-config re-validation. Each
layer's cost is memoised on the swept keys it actually reads: a recording proxy notes which
config leaves the cost model touched, so a point that agrees with an earlier one on those keys
reuses its layer cost exactly (sound for any model code, because the model reads nothing else).
Activity statistics are computed once per (trace, geometry) by the Numba kernels, cached on
disk by trace content hash (:mod:`pimsim.stats_cache`), and shipped to workers without spikes.

Results are appended to the CSV in batches (one ``os.write`` + ``fsync`` each); a restarted
sweep skips the points already present and drops a torn last line. A sidecar
``<out>.sweep.json`` holds the sweep fingerprint (base config, space, trace contents, columns),
so a results file from another sweep is never extended.
"""

from __future__ import annotations

import ast
import concurrent.futures as cf
import contextlib
import hashlib
import itertools
import json
import math
import operator
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ValidationError

from pimsim.api import layer_cost as api_layer_cost
from pimsim.config import HardwareConfig, check_consistency, load_config, read_yaml
from pimsim.errors import ConfigError, PimsimError
from pimsim.models.area import area_breakdown_m2
from pimsim.models.base import LayerCost
from pimsim.models.pim import input_phases
from pimsim.stats_cache import (
    DiskStatsCache,
    PrecomputedCache,
    StatKey,
    StatsBundle,
    TraceView,
    compute_stat,
    layer_key,
    pim_key,
)

STRATEGIES = ("grid", "random", "latin")
DISTRIBUTIONS = ("uniform", "loguniform", "normal", "choice")
ENGINES = ("digital", "pim")
FORMAT_VERSION = 1


class SweepError(PimsimError):
    """A sweep cannot run or resume (bad results file, unreachable scheduler...)."""


# ----------------------------------------------------------------------------------- values


def _plain(v: Any) -> Any:
    """numpy scalars -> Python scalars (for pydantic, YAML, JSON and CSV)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def _fmt(v: Any) -> str:
    """One CSV field: floats round-trip exactly (repr), booleans as true/false."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    s = str(v)
    if any(c in s for c in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s


@dataclass(frozen=True)
class Dimension:
    """One swept key: finite ``values`` (list or range) or a ``dist`` to sample from."""

    key: str
    values: tuple[Any, ...] | None = None
    dist: dict[str, Any] | None = None
    as_int: bool = False

    def draw(self, u: np.ndarray, rng: np.random.Generator) -> list[Any]:
        """Map uniforms ``u`` in [0, 1) to values (inverse CDF for distributions)."""
        if self.values is not None:
            idx = np.minimum((u * len(self.values)).astype(np.int64), len(self.values) - 1)
            return [self.values[i] for i in idx]
        assert self.dist is not None
        d = self.dist
        kind = d["distribution"]
        if kind == "choice":
            vals = d["values"]
            idx = np.minimum((u * len(vals)).astype(np.int64), len(vals) - 1)
            return [_plain(vals[i]) for i in idx]
        if kind == "uniform":
            x = d["low"] + u * (d["high"] - d["low"])
        elif kind == "loguniform":
            lo, hi = math.log(d["low"]), math.log(d["high"])
            x = np.exp(lo + u * (hi - lo))
        else:  # normal, by inverse CDF through the error function's inverse approximation
            from statistics import NormalDist

            nd = NormalDist(d["mean"], d["std"])
            x = np.array([nd.inv_cdf(min(max(float(v), 1e-12), 1 - 1e-12)) for v in u])
        if self.as_int:
            return [round(float(v)) for v in x]
        return [float(v) for v in x]


def _num(v: Any, file: str, key: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"expected a number, got {v!r}", file=file, key=key)
    return v


def parse_dimension(key: str, spec: Any, *, file: str) -> Dimension:
    """A dimension from its YAML value: a list, a range mapping or a distribution mapping."""
    where = f"parameters.{key}"
    if isinstance(spec, list):
        if not spec:
            raise ConfigError("empty list of values", file=file, key=where)
        return Dimension(key, values=tuple(_plain(v) for v in spec))
    if not isinstance(spec, dict):
        return Dimension(key, values=(_plain(spec),))
    as_int = spec.get("type") == "int"
    if spec.get("type") not in (None, "int", "float"):
        raise ConfigError("type must be int or float", file=file, key=f"{where}.type")
    if "distribution" in spec:
        kind = spec["distribution"]
        if kind not in DISTRIBUTIONS:
            raise ConfigError(f"unknown distribution {kind!r} (expected one of "
                              f"{', '.join(DISTRIBUTIONS)})", file=file, key=where)
        need = {"uniform": ("low", "high"), "loguniform": ("low", "high"),
                "normal": ("mean", "std"), "choice": ("values",)}[kind]
        for k in need:
            if k not in spec:
                raise ConfigError(f"{kind} distribution needs {k!r}", file=file, key=where)
        if kind == "choice":
            if not isinstance(spec["values"], list) or not spec["values"]:
                raise ConfigError("choice needs a non-empty list of values", file=file,
                                  key=where)
        elif kind == "normal":
            if _num(spec["std"], file, where) <= 0:
                raise ConfigError("std must be > 0", file=file, key=where)
        else:
            lo, hi = _num(spec["low"], file, where), _num(spec["high"], file, where)
            if not hi > lo:
                raise ConfigError(f"empty range: low {lo} >= high {hi}", file=file, key=where)
            if kind == "loguniform" and lo <= 0:
                raise ConfigError("loguniform needs low > 0", file=file, key=where)
        extra = set(spec) - {"distribution", "type", *need}
        if extra:
            raise ConfigError(f"unknown field(s) {sorted(extra)}", file=file, key=where)
        return Dimension(key, dist=dict(spec), as_int=as_int)
    if "start" not in spec or "stop" not in spec:
        raise ConfigError("a range needs start and stop (and step or num), or give a list or "
                          "a distribution", file=file, key=where)
    extra = set(spec) - {"start", "stop", "step", "num", "scale", "type"}
    if extra:
        raise ConfigError(f"unknown field(s) {sorted(extra)}", file=file, key=where)
    start, stop = _num(spec["start"], file, where), _num(spec["stop"], file, where)
    scale = spec.get("scale", "linear")
    if scale not in ("linear", "log"):
        raise ConfigError("scale must be linear or log", file=file, key=f"{where}.scale")
    if ("step" in spec) == ("num" in spec):
        raise ConfigError("a range needs exactly one of step or num", file=file, key=where)
    if scale == "log" and (start <= 0 or stop <= 0):
        raise ConfigError("a log range needs start and stop > 0", file=file, key=where)
    if "num" in spec:
        num = spec["num"]
        if not isinstance(num, int) or isinstance(num, bool) or num < 1:
            raise ConfigError(f"empty range: num must be an integer >= 1, got {num!r}",
                              file=file, key=where)
        xs = (np.geomspace(start, stop, num) if scale == "log"
              else np.linspace(start, stop, num))
        if num == 1:
            xs = np.array([start])
    else:
        step = _num(spec["step"], file, where)
        if scale == "log":
            if step <= 0 or step == 1 or (step > 1) != (stop >= start):
                raise ConfigError(f"empty range: factor {step} never goes from {start} to "
                                  f"{stop}", file=file, key=where)
            n = math.floor(math.log(stop / start) / math.log(step) + 1e-9) + 1
            xs = start * np.power(float(step), np.arange(n))
        else:
            if step == 0 or (stop - start) / step < 0:
                raise ConfigError(f"empty range: step {step} never goes from {start} to "
                                  f"{stop}", file=file, key=where)
            n = math.floor((stop - start) / step + 1e-9) + 1
            xs = start + step * np.arange(n)
    ints = as_int or (spec.get("type") is None and "step" in spec and all(
        isinstance(spec[k], int) and not isinstance(spec[k], bool)
        for k in ("start", "stop", "step")))
    if ints:
        vals = list(dict.fromkeys(round(float(x)) for x in xs))
    else:
        vals = [float(x) for x in xs]
    if not vals:
        raise ConfigError("empty range", file=file, key=where)
    return Dimension(key, values=tuple(vals))


# ------------------------------------------------------------------------------ constraints

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_FUNCS: dict[str, Callable[..., Any]] = {
    "min": min, "max": max, "abs": abs, "log2": math.log2, "log10": math.log10,
    "sqrt": math.sqrt, "ceil": math.ceil, "floor": math.floor,
}


_LITERALS = {"true": True, "false": False, "True": True, "False": False}


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name) and node.id in _LITERALS:
        return None
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


class Constraint:
    """A boolean expression over dotted config keys, evaluated by a restricted AST walker.

    Allowed: numbers, strings, booleans, dotted keys, + - * / // % ** (exponent |e| <= 64),
    comparisons (chains too), and/or/not, ``x if c else y``, ``in`` over a literal tuple/list,
    and min, max, abs, log2, log10, sqrt, ceil, floor. Anything else is rejected when parsed.
    """

    def __init__(self, text: str, *, file: str, where: str):
        self.text, self.file, self.where = text, file, where
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as exc:
            raise ConfigError(f"invalid constraint {text!r}: {exc.msg}", file=file,
                              key=where) from None
        self.names: set[str] = set()
        self._check(tree.body)
        self.tree = tree.body

    def _check(self, node: ast.AST) -> None:
        name = _dotted(node)
        if name is not None:
            self.names.add(name)
            return
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
            return
        if isinstance(node, ast.Name) and node.id in _LITERALS:
            return
        if isinstance(node, ast.BoolOp):
            for v in node.values:
                self._check(v)
            return
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)):
            self._check(node.operand)
            return
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            self._check(node.left)
            self._check(node.right)
            return
        if isinstance(node, ast.Compare) and all(type(o) in _CMPOPS for o in node.ops):
            self._check(node.left)
            for c in node.comparators:
                self._check(c)
            return
        if isinstance(node, ast.IfExp):
            for c in (node.test, node.body, node.orelse):
                self._check(c)
            return
        if isinstance(node, (ast.Tuple, ast.List)):
            for c in node.elts:
                self._check(c)
            return
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in _FUNCS and not node.keywords):
            for a in node.args:
                self._check(a)
            return
        raise ConfigError(f"constraint {self.text!r}: {type(node).__name__} is not allowed "
                          "(only arithmetic, comparisons, and/or/not and min/max/abs/log2/"
                          "log10/sqrt/ceil/floor over config keys)", file=self.file,
                          key=self.where)

    def check_names(self, known: set[str]) -> None:
        """Every name must be a config key (or a function)."""
        for n in sorted(self.names):
            if n not in known:
                raise ConfigError(f"constraint {self.text!r} names {n!r}, which is not a config "
                                  "key", file=self.file, key=self.where)

    def __call__(self, lookup: Callable[[str], Any]) -> bool:
        return bool(self._eval(self.tree, lookup))

    def _eval(self, node: ast.AST, lk: Callable[[str], Any]) -> Any:
        name = _dotted(node)
        if name is not None:
            return lk(name)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return _LITERALS[node.id]
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                return all(self._eval(v, lk) for v in node.values)
            return any(self._eval(v, lk) for v in node.values)
        if isinstance(node, ast.UnaryOp):
            x = self._eval(node.operand, lk)
            return (not x) if isinstance(node.op, ast.Not) else (-x if isinstance(
                node.op, ast.USub) else +x)
        if isinstance(node, ast.BinOp):
            a, b = self._eval(node.left, lk), self._eval(node.right, lk)
            if isinstance(node.op, ast.Pow) and abs(b) > 64:
                raise ConfigError(f"constraint {self.text!r}: exponent too large", file=self.file,
                                  key=self.where)
            return _BINOPS[type(node.op)](a, b)
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, lk)
            for op, comp in zip(node.ops, node.comparators):
                right = self._eval(comp, lk)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self._eval(node.body if self._eval(node.test, lk) else node.orelse, lk)
        if isinstance(node, (ast.Tuple, ast.List)):
            return tuple(self._eval(e, lk) for e in node.elts)
        if isinstance(node, ast.Call):
            return _FUNCS[node.func.id](*(self._eval(a, lk) for a in node.args))  # type: ignore[attr-defined]
        raise AssertionError(type(node))  # pragma: no cover - rejected by _check


# ------------------------------------------------------------------------------------ space


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted leaf keys of a nested mapping (lists are leaves)."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict) and k != "sources":
            out.update(flatten(v, f"{prefix}{k}."))
        elif k != "sources":
            out[f"{prefix}{k}"] = v
    return out


@dataclass
class Space:
    """A parsed sweep space: dimensions, strategy, constraints and optional trace list."""

    file: str
    strategy: str
    dims: list[Dimension]
    constraints: list[Constraint]
    count: int | None = None
    seed: int = 0
    traces: list[str] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        """Swept config keys in file order."""
        return [d.key for d in self.dims]

    def canonical(self) -> dict[str, Any]:
        """What defines the points (for the sweep fingerprint)."""
        return {"strategy": self.strategy, "count": self.count, "seed": self.seed,
                "dims": [[d.key, list(d.values) if d.values is not None else None, d.dist,
                          d.as_int] for d in self.dims],
                "constraints": [c.text for c in self.constraints]}

    def combos(self) -> list[tuple[Any, ...]]:
        """Value tuples (aligned with :attr:`keys`), before constraints and validation."""
        if not self.dims:
            return [()]
        if self.strategy == "grid":
            return [tuple(c) for c in itertools.product(*(d.values or () for d in self.dims))]
        rng = np.random.default_rng(self.seed)
        n = int(self.count or 0)
        cols = []
        for d in self.dims:
            if self.strategy == "random":
                u = rng.random(n)
            else:  # latin hypercube: one draw per stratum, strata shuffled per dimension
                u = (rng.permutation(n) + rng.random(n)) / n
            cols.append(d.draw(u, rng))
        out = list(dict.fromkeys(zip(*cols)))  # drop repeated configurations, keep order
        return out


def load_space(path: str | os.PathLike[str], base: HardwareConfig) -> Space:
    """Read and check a space YAML against the base config's keys."""
    file = str(path)
    if not os.path.isfile(file):
        raise ConfigError("file not found", file=file)
    try:
        with open(file, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', exc)}", file=file) from None
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping with parameters:", file=file)
    extra = set(data) - {"strategy", "count", "seed", "parameters", "constraints", "traces",
                         "description", "name"}
    if extra:
        raise ConfigError(f"unknown top-level key(s) {sorted(extra)} (expected strategy, count, "
                          "seed, parameters, constraints, traces)", file=file,
                          key=min(extra))
    strategy = data.get("strategy", "grid")
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r} (expected grid, random or latin)",
                          file=file, key="strategy")
    count = data.get("count")
    if strategy != "grid" and (not isinstance(count, int) or isinstance(count, bool)
                               or count < 1):
            raise ConfigError(f"{strategy} needs count: an integer >= 1", file=file,
                              key="count")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError("seed must be an integer", file=file, key="seed")
    params = data.get("parameters") or {}
    if not isinstance(params, dict):
        raise ConfigError("expected a mapping of dotted keys", file=file, key="parameters")
    flat = flatten(base.model_dump())
    dims: list[Dimension] = []
    traces: list[str] = []
    for key, spec in params.items():
        key = str(key)
        if key == "trace":
            items = spec if isinstance(spec, list) else [spec]
            if not items:
                raise ConfigError("empty list of traces", file=file, key="parameters.trace")
            traces.extend(str(Path(file).parent / str(t)) if not os.path.isabs(str(t))
                          else str(t) for t in items)
            continue
        if key not in flat:
            close = [k for k in flat if k.split(".")[-1] == key.split(".")[-1]]
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"unknown config key{hint}", file=file, key=f"parameters.{key}")
        if key.count(".") != 1:
            raise ConfigError("only section.field keys can be swept", file=file,
                              key=f"parameters.{key}")
        dim = parse_dimension(key, spec, file=file)
        if strategy == "grid" and dim.values is None:
            raise ConfigError("a distribution needs strategy random or latin (grid needs a "
                              "list or range)", file=file, key=f"parameters.{key}")
        dims.append(dim)
    for t in data.get("traces") or []:
        traces.append(str(Path(file).parent / str(t)) if not os.path.isabs(str(t)) else str(t))
    cons_raw = data.get("constraints") or []
    if not isinstance(cons_raw, list):
        cons_raw = [cons_raw]
    constraints = [Constraint(str(c), file=file, where=f"constraints[{i}]")
                   for i, c in enumerate(cons_raw)]
    for c in constraints:
        c.check_names(set(flat))
    return Space(file=file, strategy=strategy, dims=dims, constraints=constraints,
                 count=count if strategy != "grid" else None, seed=seed, traces=traces)


# ------------------------------------------------------------------------ lean config build


def _validation_reason(exc: ValidationError, section: str) -> tuple[str, str]:
    err = exc.errors()[0]
    key = ".".join([section, *(str(p) for p in err["loc"])])
    return key, f"{err['msg']} (got {err.get('input')!r})"


class PointBuilder:
    """Builds a validated :class:`HardwareConfig` for a value tuple, section by section.

    A section is validated once per distinct tuple of its swept values (pydantic, memoised);
    the config is a ``model_copy`` of the base with the validated sections; cross-key checks
    (:func:`pimsim.config.check_consistency`) run per point. Equivalent to
    ``config_with(base, overrides)`` for section.field keys, at a fraction of the cost.
    """

    def __init__(self, base: HardwareConfig, keys: Sequence[str], *, file: str,
                 raw: dict[str, Any] | None = None):
        self.base, self.keys, self.file, self.raw = base, list(keys), file, raw
        tech = (raw or {}).get("tech", {}) if isinstance(raw, dict) else {}
        self._tech = {f"tech.{k}": v for k, v in tech.items()}
        self._tech_idx = {k: i for i, k in enumerate(self.keys) if k.startswith("tech.")}
        sections: dict[str, list[int]] = {}
        for i, k in enumerate(self.keys):
            sections.setdefault(k.split(".")[0], []).append(i)
        self.sections = [(s, idx, [self.keys[i].split(".")[1] for i in idx],
                          operator.itemgetter(*idx)) for s, idx in sections.items()]
        self._memo: dict[tuple[str, Any], Any] = {}

    def _field(self, section: str, name: str, value: Any) -> Any:
        """The validated value of one field (pydantic, once per distinct value)."""
        memo_key = (section, name, value)
        hit = self._memo.get(memo_key, _MISSING)
        if hit is _MISSING:
            current = getattr(self.base, section)
            data = current.model_dump()
            data[name] = value
            try:
                hit = getattr(type(current).model_validate(data), name)
            except ValidationError as exc:
                hit = _Invalid(*_validation_reason(exc, section))
            self._memo[memo_key] = hit
        if isinstance(hit, _Invalid):
            raise ConfigError(hit.message, file=self.file, key=hit.key)
        return hit

    def _scaled(self, values: tuple[Any, ...]) -> bool:
        """Whether loading this point rescales constants (reference node/supply != own)."""
        if self.raw is None:
            return False
        t = dict(self._tech)
        for k, i in self._tech_idx.items():
            t[k] = values[i]
        rn, rv = t.get("tech.reference_node_nm"), t.get("tech.reference_vdd_v")
        return ((rn is not None and rn != t.get("tech.node_nm"))
                or (rv is not None and rv != t.get("tech.vdd_v")))

    def build(self, values: tuple[Any, ...]) -> HardwareConfig:
        """The config of one point; raises ConfigError with the reason when it is invalid.

        A point whose constants are rescaled on load (a reference node or supply that differs
        from the point's own) goes through the full loader on the raw YAML data, exactly like
        ``pimsim run --set``.
        """
        if self.raw is not None and self._scaled(values):
            from pimsim.config import apply_overrides, config_from_dict

            data = apply_overrides(self.raw, dict(zip(self.keys, values)), file=self.file)
            return config_from_dict(data, file=self.file)
        if not self.sections:
            return self.base
        update = {}
        for name, idx, fields, _get in self.sections:
            upd = {f: self._field(name, f, values[i]) for f, i in zip(fields, idx)}
            update[name] = getattr(self.base, name).model_copy(update=upd)
        cfg = self.base.model_copy(update=update)
        check_consistency(cfg, file=self.file)
        return cfg


_MISSING = object()


@dataclass(frozen=True)
class _Invalid:
    key: str
    message: str


# ------------------------------------------------------------------- memoised cost evaluator


_REC_CLASSES: dict[tuple[type, str], type] = {}


def _recorder_class(cls: type[BaseModel], prefix: str = "") -> type:
    """A read-only proxy class for ``cls`` whose field properties log their dotted key.

    Reading a leaf field logs ``prefix + name``; a sub-model field returns a proxy of the same
    kind (created once per proxy); reading anything else (a method such as ``model_dump``)
    logs the whole object (``prefix`` without its dot, or ``*`` at the top).
    """
    hit = _REC_CLASSES.get((cls, prefix))
    if hit is not None:
        return hit
    attrs: dict[str, Any] = {"__slots__": ("_c", "_l", "_o")}
    whole = prefix[:-1] if prefix else "*"
    for name, info in cls.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            sub = _recorder_class(ann, f"{prefix}{name}.")

            def get_sub(self: Any, name: str = name, sub: type = sub) -> Any:
                r = self._c.get(name)
                if r is None:
                    r = self._c[name] = sub(getattr(self._o, name), self._l)
                return r

            attrs[name] = property(get_sub)
        else:
            def get_leaf(self: Any, name: str = name, full: str = prefix + name) -> Any:
                self._l.add(full)
                return getattr(self._o, name)

            attrs[name] = property(get_leaf)

    def __init__(self: Any, obj: BaseModel, log: set[str]) -> None:
        self._o, self._l, self._c = obj, log, {}

    def __getattr__(self: Any, name: str) -> Any:
        self._l.add(whole)
        return getattr(self._o, name)

    attrs["__init__"] = __init__
    attrs["__getattr__"] = __getattr__
    rc = type(f"Recorded{cls.__name__}", (), attrs)
    _REC_CLASSES[(cls, prefix)] = rc
    return rc


def recorded(cfg: HardwareConfig, log: set[str]) -> Any:
    """A proxy of ``cfg`` that adds every dotted key read through it to ``log``."""
    return _recorder_class(type(cfg))(cfg, log)


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


class Evaluator:
    """Evaluates value tuples to metric vectors with per-layer memoisation (see module doc)."""

    def __init__(self, ctx: EvalContext):
        self.ctx = ctx
        self.builder = PointBuilder(ctx.base, ctx.keys, file=ctx.file, raw=ctx.raw)
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
        v[-1] = sum(sum(d.values()) for d in area_breakdown_m2(cfg).values())
        return v

    def _deps(self, log: set[str]) -> Callable[[Any], Any]:
        idx: set[int] = set()
        for name in log:
            if name == "*":
                idx.update(range(len(self.ctx.keys)))
            elif name in self.key_index:
                idx.add(self.key_index[name])
            else:  # a whole section (or sub-object) was read
                idx.update(i for k, i in self.key_index.items() if k.startswith(name + "."))
        order = sorted(idx)
        if not order:
            return lambda values: ()
        getter = operator.itemgetter(*order)
        if len(order) == 1:
            return lambda values: (getter(values),)
        return getter

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
                    getter, table = self._deps(log), {}
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


# worker-side state: evaluators and loaded traces, kept across batches of one process
_EVALUATORS: dict[str, Evaluator] = {}
_TRACES: dict[str, Any] = {}


def evaluate_batch(ctx: EvalContext, batch: list[tuple[int, tuple[Any, ...]]]
                   ) -> list[tuple[int, list[float] | None, str | None]]:
    """Worker task: (point id, metrics or None, reason or None) for each point of a batch."""
    ev = _EVALUATORS.get(ctx.key)
    if ev is None:
        while len(_EVALUATORS) >= 8:  # long-lived workers: keep the latest sweeps only
            _EVALUATORS.pop(next(iter(_EVALUATORS)))
        ev = _EVALUATORS[ctx.key] = Evaluator(ctx)
    out: list[tuple[int, list[float] | None, str | None]] = []
    for pid, values in batch:
        try:
            out.append((pid, ev.evaluate(values).tolist(), None))
        except PimsimError as exc:
            out.append((pid, None, exc.one_line()))
    return out


def compute_stats_task(path: str, content_hash: str, key: StatKey) -> tuple[StatKey, Any]:
    """Worker task: one statistic, loading the trace (once per process) from ``path``."""
    from pimsim.trace import load_trace

    tr = _TRACES.get(content_hash)
    if tr is None:
        tr = _TRACES[content_hash] = load_trace(path)
    return key, compute_stat(tr, key)


# ---------------------------------------------------------------------------- results file


def _sidecar(out: Path) -> Path:
    return out.with_name(out.name + ".sweep.json")


def _journal_path(out: Path) -> Path:
    return out if out.suffix.lower() != ".parquet" else out.with_name(out.name + ".partial.csv")


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class Journal:
    """The results CSV as an append-only journal keyed by the ``point`` column."""

    def __init__(self, out: Path, header: list[str], fingerprint: str, meta: dict[str, Any],
                 *, overwrite: bool):
        self.out, self.header, self.fingerprint = out, header, fingerprint
        self.path = _journal_path(out)
        self.sidecar = _sidecar(out)
        side = self.read_sidecar(out)
        if (self.path.exists() or out.exists()) and not overwrite:
            self.check_resumable(out, side, fingerprint)
            if not self.path.exists():
                _atomic_write(self.path, (",".join(header) + "\n").encode())
            self.done = self.done_points(out, header)
            return
        self.done = set()
        out.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.sidecar, json.dumps({**meta, "fingerprint": fingerprint,
                                                "complete": False}, indent=1).encode())
        _atomic_write(self.path, (",".join(header) + "\n").encode())
        if self.path != out and out.exists():
            os.unlink(out)

    @staticmethod
    def read_sidecar(out: Path) -> dict[str, Any] | None:
        """The sidecar JSON of a results file, or None."""
        try:
            return json.loads(_sidecar(out).read_text(encoding="utf-8"))  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return None

    @staticmethod
    def check_resumable(out: Path, side: dict[str, Any] | None, fingerprint: str) -> None:
        """Raise SweepError unless the existing results belong to this very sweep."""
        if side is None or side.get("fingerprint") != fingerprint:
            why = (f"it has no sweep sidecar {_sidecar(out).name}" if side is None else
                   "it was written by a different sweep (space, base config, traces or options "
                   "differ)")
            raise SweepError(f"refusing to resume: {why}; use --overwrite to replace it or "
                             "choose another --out", file=str(out), key="--out")

    @staticmethod
    def done_points(out: Path, header: list[str] | None) -> set[int]:
        """Point ids already in the journal; a torn last line is cut off first."""
        path = _journal_path(out)
        if header is None or not path.exists():
            return set()
        data = path.read_bytes()
        if not data.endswith(b"\n"):  # a torn last line: drop it
            cut = data.rfind(b"\n") + 1
            with open(path, "r+b") as fh:
                fh.truncate(cut)
                os.fsync(fh.fileno())
            data = data[:cut]
        lines = data.decode("utf-8").splitlines()
        if not lines or lines[0] != ",".join(header):
            raise SweepError("refusing to resume: its header differs from this sweep's columns; "
                             "use --overwrite", file=str(path), key="--out")
        width = len(header)
        done = set()
        for line in lines[1:]:
            head = line.split(",", 1)[0]
            if head.isdigit() and _field_count(line) == width:
                done.add(int(head))
        return done

    def append(self, lines: list[str]) -> None:
        """Append whole lines with one write + fsync (a kill leaves at most a torn tail)."""
        if not lines:
            return
        data = ("\n".join(lines) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)

    def finalize(self, meta: dict[str, Any]) -> int:
        """Rewrite the results sorted by point, one row each (atomic); mark complete."""
        import pandas as pd

        text = self.path.read_text(encoding="utf-8")
        lines = text.splitlines()
        rows: dict[int, str] = {}
        width = len(self.header)
        for line in lines[1:]:
            head = line.split(",", 1)[0]
            if head.isdigit() and _field_count(line) == width:
                rows.setdefault(int(head), line)
        body = [rows[k] for k in sorted(rows)]
        csv_text = "\n".join([lines[0], *body]) + "\n"
        if self.path == self.out:
            _atomic_write(self.out, csv_text.encode())
        else:
            import io

            df = pd.read_csv(io.StringIO(csv_text))
            fd, tmp = tempfile.mkstemp(dir=self.out.parent, suffix=".parquet.tmp")
            os.close(fd)
            try:
                df.to_parquet(tmp, index=False)
                os.replace(tmp, self.out)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        _atomic_write(self.sidecar, json.dumps({**meta, "header": self.header,
                                                "fingerprint": self.fingerprint,
                                                "complete": True, "rows": len(body)},
                                               indent=1).encode())
        if self.path != self.out:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        return len(body)


def _field_count(line: str) -> int:
    if '"' not in line:
        return line.count(",") + 1
    import csv

    return len(next(csv.reader([line])))


# --------------------------------------------------------------------------------- runners


class InlineExecutor(cf.Executor):
    """Runs tasks synchronously in this process (``--jobs 1``): same interface as a pool."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        fut: cf.Future[Any] = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future
            fut.set_exception(exc)
        return fut


@contextlib.contextmanager
def open_executor(jobs: int, scheduler: str | None, *, connect_timeout_s: float = 10.0
                  ) -> Iterator[tuple[cf.Executor, int]]:
    """(executor, worker count): inline, a local process pool, or a Dask cluster's executor."""
    if scheduler:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - core dependency
            raise SweepError(f"dask.distributed is not installed ({exc})", key="--scheduler")
        try:
            client = Client(scheduler, timeout=f"{connect_timeout_s}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SweepError(f"cannot reach the Dask scheduler ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'no answer'}); start "
                             "one with `dask scheduler` and workers with `dask worker ADDRESS`",
                             file=scheduler, key="--scheduler") from None
        try:
            workers = max(1, sum(client.nthreads().values()))
            ex = client.get_executor(pure=False)
            yield ex, workers
        finally:
            client.close()
        return
    if jobs > 1:
        import multiprocessing as mp

        ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            yield pool, jobs
        return
    yield InlineExecutor(), 1


# -------------------------------------------------------------------------------- the sweep


@dataclass
class SweepSummary:
    """What a sweep did: rows written, points skipped (with reasons), timing."""

    out: str
    rows: int
    evaluated: int
    resumed: int
    skipped: list[tuple[int, str, str]]
    seconds: float
    stats_seconds: float
    stats_computed: int
    stats_from_disk: int
    workers: int

    @property
    def rate(self) -> float:
        """Configurations evaluated per second (wall clock, whole sweep)."""
        return self.evaluated / self.seconds if self.seconds > 0 else float("inf")


def _trace_label(paths: list[str]) -> list[str]:
    names = [Path(p).name for p in paths]
    return names if len(set(names)) == len(names) else list(paths)


def _probe_components(valid: list[tuple[int, tuple[Any, ...], HardwareConfig]],
                      view: TraceView, bundle: StatsBundle) -> list[str]:
    """Energy components of the first valid points (one with the PIM, one without)."""
    from pimsim.api import simulate

    comps: list[str] = []
    seen: set[bool] = set()
    for _, _, cfg in valid:
        if cfg.pim.enabled in seen:
            continue
        seen.add(cfg.pim.enabled)
        try:
            res = simulate(cfg, view, cache=PrecomputedCache(bundle))  # type: ignore[arg-type]
        except PimsimError:
            continue
        for k in res.by_component():
            if k not in comps:
                comps.append(k)
        if len(seen) == 2:
            break
    return comps


def run_sweep(hw: str, traces: Sequence[str], space_file: str, out: str, *, jobs: int = 1,
              scheduler: str | None = None, overwrite: bool = False, accuracy: bool = False,
              read_noise_lsb: float = 0.0, noise_seed: int = 0, batch_size: int | None = None,
              cache_dir: str | None = None, disk_cache: bool = True, progress: bool = True,
              connect_timeout_s: float = 10.0, log: Callable[[str], None] | None = None
              ) -> SweepSummary:
    """Evaluate every point of a space on every trace into ``out`` (CSV or Parquet).

    Resumable (see module doc); invalid points are skipped with their reason and listed in
    ``<out>.skipped.csv``. Returns a :class:`SweepSummary`.
    """
    from pimsim.api import load_trace

    t_start = time.perf_counter()
    say = log or (lambda s: print(s, file=sys.stderr))
    if jobs < 1:
        raise SweepError("--jobs must be >= 1", key="--jobs")
    if scheduler and jobs > 1:
        raise SweepError("give either --jobs or --scheduler, not both", key="--scheduler")
    base = load_config(hw)
    raw = read_yaml(hw)
    space = load_space(space_file, base)
    trace_paths = list(traces) + space.traces
    if not trace_paths:
        raise SweepError("no trace: give --trace or a trace dimension in the space",
                         file=space_file, key="parameters.trace")
    loaded = [load_trace(p) for p in trace_paths]
    hashes = [t.content_hash() for t in loaded]
    labels = _trace_label(trace_paths)
    keys = space.keys

    # points: constraints, then validation (reasons kept)
    flat = flatten(base.model_dump())
    combos = space.combos()
    ntr = len(loaded)
    skipped: list[tuple[int, str, str]] = []
    builder = PointBuilder(base, keys, file=space_file, raw=raw)
    valid: list[tuple[int, tuple[Any, ...], HardwareConfig]] = []
    for ci, values in enumerate(combos):
        lookup_vals = dict(zip(keys, values))

        def lookup(name: str, lv: dict[str, Any] = lookup_vals) -> Any:
            return lv[name] if name in lv else flat[name]

        reason = None
        for c in space.constraints:
            try:
                ok = c(lookup)
            except (TypeError, ValueError, ZeroDivisionError, ArithmeticError) as exc:
                ok, reason = False, f"constraint {c.text!r} failed: {exc}"
            if not ok:
                reason = reason or f"rejected by constraint {c.text!r}"
                break
        if reason is None:
            try:
                cfg = builder.build(values)
            except PimsimError as exc:
                reason = exc.one_line()
        if reason is not None:
            for ti in range(ntr):
                skipped.append((ci * ntr + ti, labels[ti], reason))
            continue
        valid.append((ci, values, cfg))
    if not valid:
        first = skipped[0][2] if skipped else "the space has no points"
        raise SweepError(f"no valid point in the space ({len(combos)} rejected; first: "
                         f"{first})", file=space_file, key="constraints" if space.constraints
                         else "parameters")

    base_vals = tuple(flat[k] for k in keys)
    show_enabled = "pim.enabled" not in keys
    acc_opts = {"read_noise_lsb": read_noise_lsb, "seed": noise_seed} if accuracy else None
    base_hash = hashlib.sha256(json.dumps(base.model_dump(), sort_keys=True,
                                          default=str).encode()).hexdigest()
    fp_data = {"version": FORMAT_VERSION, "base": base_hash, "space": space.canonical(),
               "traces": hashes, "accuracy": acc_opts, "keys": keys}
    fingerprint = hashlib.sha256(json.dumps(fp_data, sort_keys=True,
                                            default=str).encode()).hexdigest()
    meta = {"hw": hw, "space": space_file, "traces": trace_paths, "format": FORMAT_VERSION}
    outp = Path(out)
    side = Journal.read_sidecar(outp)
    header: list[str] | None = None
    if (outp.exists() or _journal_path(outp).exists()) and not overwrite:
        Journal.check_resumable(outp, side, fingerprint)
        header = side.get("header") if side else None
    resuming = header is not None
    done = Journal.done_points(outp, header) if resuming else set()
    if resuming and side and side.get("complete") and outp.exists():
        say(f"{out}: sweep already complete")
        return SweepSummary(out, int(side.get("rows", 0)), 0, int(side.get("rows", 0)),
                            skipped, time.perf_counter() - t_start, 0.0, 0, 0, 0)

    # statistics: once per (trace, geometry), from disk when cached
    disk = DiskStatsCache(cache_dir) if disk_cache else None
    views = [TraceView.of(t, h) for t, h in zip(loaded, hashes)]
    bundles = [StatsBundle(v) for v in views]
    need: list[set[StatKey]] = [set() for _ in loaded]
    pending: list[list[tuple[int, tuple[Any, ...]]]] = [[] for _ in loaded]
    for ci, values, cfg in valid:
        for ti, view in enumerate(views):
            pid = ci * ntr + ti
            if pid not in done:
                need[ti].update(needed_stats(cfg, view))
                pending[ti].append((pid, values))
    if not resuming:  # the probe below needs trace 0's statistics of its first points
        need[0].update(needed_stats(valid[0][2], views[0]))
    n_pending = sum(len(p) for p in pending)
    t_stats = time.perf_counter()
    computed = from_disk = 0
    evaluated = 0
    new_skips: list[tuple[int, str, str]] = []
    with open_executor(jobs, scheduler, connect_timeout_s=connect_timeout_s) as (ex, workers):
        futs = []
        for ti, keyset in enumerate(need):
            for key in sorted(keyset):
                hit = disk.get(hashes[ti], key) if disk else None
                if hit is not None:
                    bundles[ti].stats[key] = hit
                    from_disk += 1
                else:
                    futs.append((ti, ex.submit(compute_stats_task, trace_paths[ti], hashes[ti],
                                               key)))
        for ti, fut in futs:
            key, value = fut.result()
            bundles[ti].stats[key] = value
            computed += 1
            if disk:
                disk.put(hashes[ti], key, value)
        stats_s = time.perf_counter() - t_stats
        if header is None:
            columns = Columns(components=_probe_components(valid, views[0], bundles[0]),
                              accuracy=accuracy)
            header = (["point", "trace", "config_hash", *keys]
                      + (["pim.enabled"] if show_enabled else []) + ["is_base",
                                                                      *columns.metrics])
        else:
            comps = [h[len("energy_"):-2] for h in header[header.index("delay_pim_s") + 1:]
                     if h.startswith("energy_") and h != "energy_other_j"]
            columns = Columns(components=comps, accuracy=accuracy)
        journal = Journal(outp, header, fingerprint, {**meta, "header": header},
                          overwrite=overwrite)
        ctxs = [EvalContext(key=f"{fingerprint}:{ti}", base=base, keys=keys, file=space_file,
                            bundle=bundles[ti], columns=columns, trace_path=trace_paths[ti],
                            accuracy=acc_opts, raw=raw) for ti in range(ntr)]
        _guard(ctxs, valid)
        if batch_size is None:
            batch_size = int(min(5000, max(50, n_pending // max(1, workers * 8))))
        from tqdm import tqdm

        bar = tqdm(total=n_pending, unit="cfg", disable=not progress, dynamic_ncols=True,
                   desc="sweep", file=sys.stderr)
        base_is = {ci: values == base_vals for ci, values, _ in valid}
        enabled_of = {ci: cfg.pim.enabled for ci, _, cfg in valid}
        try:
            tasks = []
            for ti in range(ntr):
                items = pending[ti]
                for b0 in range(0, len(items), batch_size):
                    tasks.append(ex.submit(evaluate_batch, ctxs[ti], items[b0:b0 + batch_size]))
            for fut in cf.as_completed(tasks):
                lines = []
                for pid, metrics, reason in fut.result():
                    ci, ti = divmod(pid, ntr)
                    values = combos[ci]
                    if metrics is None:
                        new_skips.append((pid, labels[ti], reason or "invalid"))
                        continue
                    chash = hashlib.sha256(
                        (base_hash + json.dumps(list(values), default=str)).encode()
                    ).hexdigest()[:16]
                    fields = [str(pid), _fmt(labels[ti]), chash, *(_fmt(v) for v in values)]
                    if show_enabled:
                        fields.append(_fmt(enabled_of[ci]))
                    fields.append("1" if base_is[ci] else "0")
                    fields += [repr(float(m)) for m in metrics]
                    lines.append(",".join(fields))
                journal.append(lines)
                evaluated += len(lines)
                bar.update(len(lines) + sum(1 for r in fut.result() if r[1] is None))
        finally:
            bar.close()
    skipped += new_skips
    rows = journal.finalize({**meta, "skipped": len(skipped)})
    if skipped:
        sk = Path(str(outp) + ".skipped.csv")
        txt = "point,trace,reason\n" + "".join(
            f"{p},{_fmt(t)},{_fmt(r)}\n" for p, t, r in sorted(skipped))
        _atomic_write(sk, txt.encode())
    return SweepSummary(out=out, rows=rows, evaluated=evaluated,
                        resumed=len(journal.done), skipped=skipped,
                        seconds=time.perf_counter() - t_start, stats_seconds=stats_s,
                        stats_computed=computed, stats_from_disk=from_disk, workers=workers)


def _guard(ctxs: list[EvalContext], valid: list[tuple[int, tuple[Any, ...], HardwareConfig]]
           ) -> None:
    """Check the memoised evaluator against :func:`pimsim.api.simulate` on a few points."""
    from pimsim.api import simulate

    picks = sorted({0, len(valid) - 1, len(valid) // 2})
    for ctx in ctxs:
        ev = Evaluator(EvalContext(**{**ctx.__dict__, "key": "guard", "columns": Columns(
            ctx.columns.components, accuracy=False)}))
        cache = PrecomputedCache(ctx.bundle)
        for i in picks:
            _, values, cfg = valid[i]
            try:
                got = ev.evaluate(values)
                ref = simulate(cfg, ctx.bundle.view, cache=cache)  # type: ignore[arg-type]
            except (PimsimError, KeyError):
                continue
            if (got[0], got[1], got[-1]) != (ref.energy_j, ref.delay_s, ref.area_m2):
                raise PimsimError(
                    f"internal: the sweep evaluator disagrees with api.simulate at {values} "
                    f"({got[0]!r} vs {ref.energy_j!r} J); please report", key="pimsim.sweep")
