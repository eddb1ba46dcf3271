"""Sweep spaces: dimensions (lists, ranges, distributions), strategies and the space YAML.

Space file (YAML)::

    strategy: grid              # grid | random | latin
    count: 200                  # points for random / latin
    seed: 0
    parameters:                 # dotted config keys (the hardware config schema)
      pim.adc_bits: [4, 5, 6, 7, 8]                          # a list
      pim.rows_per_read: {start: 16, stop: 128, step: 2, scale: log}   # 16, 32, 64, 128
      tech.clock_hz: {start: 2.0e+8, stop: 1.0e+9, num: 5}  # linear, both ends included
      memory.dram_j_per_bit: {distribution: loguniform, low: 5.0e-12, high: 4.0e-11}
      trace: [a.npz, b.npz]     # optional trace dimension (paths relative to this file)
    constraints:                # restricted expressions over any config key
      - pim.rows_per_read <= pim.rows

Ranges include ``stop`` when a step lands on it; ``num`` points are spaced linearly or
geometrically (``scale: log``) with both ends included; ``type: int`` rounds. Distributions
(``uniform``, ``loguniform``, ``normal``, ``choice``) need ``random`` or ``latin``; a random
draw maps uniforms u in [0, 1) through the inverse CDF, a Latin hypercube draws
u = (perm(n) + U(0, 1)) / n per dimension (one point per stratum).
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pimsim.config import HardwareConfig
from pimsim.errors import ConfigError
from pimsim.sweep.constraints import Constraint

STRATEGIES = ("grid", "random", "latin")
DISTRIBUTIONS = ("uniform", "loguniform", "normal", "choice")
# ----------------------------------------------------------------------------------- values


def _plain(v: Any) -> Any:
    """numpy scalars -> Python scalars (for pydantic, YAML, JSON and CSV)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


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

