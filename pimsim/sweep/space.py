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

Bounds (a hostile or mistaken space is a one-line error, in bounded memory): the file is read
by :mod:`pimsim.safe_yaml`; the number of points (the grid product, computed from
start/stop/step/num before any value is made, or ``count``) is at most
:data:`DEFAULT_MAX_POINTS` unless ``max_points: N`` raises it; every swept value is checked
against the hardware config schema first (its type, finiteness and physical bounds); a
list-valued key (``memory.sram_ref_bytes``) cannot be swept; a space with nothing to sweep is
an error.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from pimsim import safe_yaml
from pimsim.config import HardwareConfig, model_limited, short_repr
from pimsim.errors import ConfigError
from pimsim.sweep.constraints import Constraint

STRATEGIES = ("grid", "random", "latin")
DISTRIBUTIONS = ("uniform", "loguniform", "normal", "choice")
#: Most points a space may have (before constraints) unless raised: the grid product or
#: ``count``. A million points already hold some 100-200 MB of value tuples and codes before
#: any is evaluated (ten million: 1-2 GB). Raise it with ``max_points:`` in the space file
#: (or ``load_space(..., max_points=)``).
DEFAULT_MAX_POINTS = 1_000_000
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
        hint = (" (write 1.0e+9, not 1e9: YAML reads an exponent without a dot as text)"
                if isinstance(v, str) and "e" in v.lower() else "")
        raise ConfigError(f"expected a number, got {short_repr(v)}{hint}", file=file, key=key)
    try:
        finite = math.isfinite(float(v))
    except OverflowError:
        finite = False
    if not finite:
        raise ConfigError(f"expected a finite number, got {short_repr(v)}", file=file, key=key)
    return v


def _too_many(n: float, limit: int, what: str, *, file: str, key: str,
              noun: str = "values") -> ConfigError:
    count = f"{n:,.0f}" if math.isfinite(n) and n < 1e18 else f"{n:.3g}"
    return ConfigError(f"{what} has {count} {noun}, above the limit of {limit:,} points "
                       "(raise it with max_points: in the space file)", file=file, key=key)


def _range_size(spec: dict[str, Any], start: float, stop: float, scale: str, *, file: str,
                where: str) -> float:
    """How many values a range spec has (a float: it may be astronomically large)."""
    if "num" in spec:
        num = spec["num"]
        if not isinstance(num, int) or isinstance(num, bool) or num < 1:
            raise ConfigError(f"empty range: num must be an integer >= 1, got "
                              f"{short_repr(num)}", file=file, key=where)
        return float(num)
    step = _num(spec["step"], file, where)
    with np.errstate(all="ignore"):
        if scale == "log":
            if step <= 0 or step == 1 or (step > 1) != (stop >= start):
                raise ConfigError(f"empty range: factor {step} never goes from {start} to "
                                  f"{stop}", file=file, key=where)
            ratio = math.log(stop) - math.log(start)
            return math.floor(ratio / math.log(step) + 1e-9) + 1.0
        if step == 0 or (stop - start) / step < 0:
            raise ConfigError(f"empty range: step {step} never goes from {start} to {stop}",
                              file=file, key=where)
        n = (float(stop) - float(start)) / float(step)
        return math.floor(n + 1e-9) + 1.0 if math.isfinite(n) else math.inf


def _scalar(v: Any, *, file: str, key: str) -> Any:
    """A swept value: a number, text, true/false or null (nothing nested)."""
    v = _plain(v)
    if v is not None and not isinstance(v, (bool, int, float, str)):
        raise ConfigError(f"expected a number, text, true/false or null as a value, got "
                          f"{type(v).__name__} {short_repr(v)}", file=file, key=key)
    return v


def parse_dimension(key: str, spec: Any, *, file: str,
                    max_values: int = DEFAULT_MAX_POINTS) -> Dimension:
    """A dimension from its YAML value: a list, a range mapping or a distribution mapping.

    A range's size is computed from start/stop/step/num before any value is made: a range
    of more than ``max_values`` values is an error."""
    where = f"parameters.{key}"
    if isinstance(spec, list):
        if not spec:
            raise ConfigError("empty list of values", file=file, key=where)
        if len(spec) > max_values:
            raise _too_many(len(spec), max_values, "this list", file=file, key=where)
        return Dimension(key, values=tuple(_scalar(v, file=file, key=where) for v in spec))
    if not isinstance(spec, dict):
        return Dimension(key, values=(_scalar(spec, file=file, key=where),))
    bad = [k for k in spec if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"unknown field(s) {[short_repr(k) for k in bad]}", file=file,
                          key=where)
    as_int = spec.get("type") == "int"
    if spec.get("type") not in (None, "int", "float"):
        raise ConfigError("type must be int or float", file=file, key=f"{where}.type")
    if "distribution" in spec:
        kind = spec["distribution"]
        if not isinstance(kind, str) or kind not in DISTRIBUTIONS:
            raise ConfigError(f"unknown distribution {short_repr(kind)} (expected one of "
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
            if len(spec["values"]) > max_values:
                raise _too_many(len(spec["values"]), max_values, "this choice", file=file,
                                key=where)
            spec = {**spec, "values": [_scalar(v, file=file, key=where)
                                       for v in spec["values"]]}
        elif kind == "normal":
            _num(spec["mean"], file, where)
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
    size = _range_size(spec, start, stop, scale, file=file, where=where)
    if not size <= max_values:
        raise _too_many(size, max_values, "this range", file=file, key=where)
    n = int(size)
    if "num" in spec:
        xs = (np.geomspace(start, stop, n) if scale == "log" else np.linspace(start, stop, n))
        if n == 1:
            xs = np.array([start])
    elif scale == "log":
        xs = start * np.power(float(spec["step"]), np.arange(n))
    else:
        xs = start + spec["step"] * np.arange(n)
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


def _samples(dim: Dimension) -> list[Any]:
    """The values of ``dim`` that stand for all it can take, to validate before the sweep.

    Numbers: the smallest, the largest and the first non-integral one (every bound of the
    schema is an interval, and an integer key refuses a fraction); anything else: every
    distinct value. A distribution: its low and high (a normal: its mean), or its choices."""
    if dim.values is not None:
        vals = list(dim.values)
    else:
        d = dim.dist or {}
        kind = d.get("distribution")
        if kind == "choice":
            vals = list(d["values"])
        else:
            vals = [d["mean"]] if kind == "normal" else [d["low"], d["high"]]
            if dim.as_int:
                vals = [round(float(v)) for v in vals]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        frac = [v for v in vals if isinstance(v, float) and not v.is_integer()][:1]
        return [min(vals), max(vals), *frac]
    return list({(type(v), v): v for v in vals}.values())


def _value_problem(base: HardwareConfig, key: str, value: Any) -> str | None:
    """Why ``value`` can never be a value of ``key`` (None when it can, or when it is only
    outside the cost model's support limits of a ``model_limited`` key: that point is
    skipped with its reason, like a point that breaks a cross-key check)."""
    section, name = key.split(".")
    current = getattr(base, section)
    data = current.model_dump()
    data[name] = value
    try:
        type(current).model_validate(data)
    except ValidationError as exc:
        errs = [e for e in exc.errors() if e["loc"][:1] == (name,)] or exc.errors()
        err = errs[0]
        if err["type"] in _RANGE_ERRORS and model_limited(key):
            return None
        return f"{err['msg']}"
    return None


_RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


def _check_values(dim: Dimension, base: HardwareConfig, *, file: str) -> None:
    for v in _samples(dim):
        why = _value_problem(base, dim.key, v)
        if why is not None:
            raise ConfigError(f"value {short_repr(v)} is not a valid {dim.key}: {why}",
                              file=file, key=f"parameters.{dim.key}")

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

    @property
    def size(self) -> int:
        """Number of combinations before constraints (grid: the product of the dimension
        sizes; random/latin: ``count``), computed without making them."""
        if self.strategy != "grid":
            return int(self.count or 0)
        return math.prod(len(d.values or ()) for d in self.dims)

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


_TOP_KEYS = ("strategy", "count", "seed", "parameters", "constraints", "traces",
             "description", "name", "max_points")


def _int_key(data: dict[str, Any], key: str, *, file: str, lo: int, hi: int,
             what: str) -> int:
    v = data[key]
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ConfigError(f"{what}: an integer from {lo:,} to {hi:,}, got {short_repr(v)}",
                          file=file, key=key)
    return v


def _paths(items: Any, *, file: str, key: str) -> list[str]:
    items = items if isinstance(items, list) else [items]
    out = []
    for t in items:
        if not isinstance(t, str) or not t:
            raise ConfigError(f"expected a trace path, got {short_repr(t)}", file=file,
                              key=key)
        out.append(str(Path(file).parent / t) if not os.path.isabs(t) else t)
    return out


def load_space(path: str | os.PathLike[str], base: HardwareConfig, *,
               max_points: int | None = None) -> Space:
    """Read and check a space YAML against the base config's keys.

    The YAML is read by :mod:`pimsim.safe_yaml` (size, nesting, aliases, duplicate keys
    bounded). Every swept value is checked against the config schema before any point is
    made (a value no config can take is an error; one outside the cost model's support
    limits of a ``model_limited`` key is a skipped point). The number of points is computed
    without making them and must not exceed the limit: ``max_points`` if given (the caller's
    option), else the space's ``max_points:`` key, else :data:`DEFAULT_MAX_POINTS`."""
    file = str(path)
    if not os.path.isfile(file):
        raise ConfigError("file not found", file=file)
    data = safe_yaml.load_file(file, what="a YAML sweep space")
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping with parameters:", file=file)
    odd = [k for k in data if not isinstance(k, str)]
    if odd:
        raise ConfigError("expected text keys", file=file, key=short_repr(odd[0]))
    extra = set(data) - set(_TOP_KEYS)
    if extra:
        raise ConfigError(f"unknown top-level key(s) {sorted(extra)} (expected strategy, count, "
                          "seed, parameters, constraints, traces, max_points)", file=file,
                          key=min(extra))
    if max_points is None:
        max_points = (_int_key(data, "max_points", file=file, lo=1, hi=10**12,
                               what="max_points must be")
                      if "max_points" in data else DEFAULT_MAX_POINTS)
    elif isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
        raise ConfigError(f"the point limit must be an integer >= 1, got "
                          f"{short_repr(max_points)}", file=file, key="max_points")
    strategy = data.get("strategy", "grid")
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {short_repr(strategy)} (expected grid, random or "
                          "latin)", file=file, key="strategy")
    count = data.get("count")
    if strategy != "grid":
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ConfigError(f"{strategy} needs count: an integer >= 1", file=file,
                              key="count")
        if count > max_points:
            raise ConfigError(f"count {count:,} is above the limit of {max_points:,} points "
                              "(raise it with max_points: in the space file)", file=file,
                              key="count")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**64:
        raise ConfigError("seed must be an integer from 0 to 2^64 - 1", file=file, key="seed")
    params = data.get("parameters")
    if params is None:
        params = {}
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
            traces.extend(_paths(items, file=file, key="parameters.trace"))
            continue
        if key not in flat:
            close = [k for k in flat if k.split(".")[-1] == key.split(".")[-1]]
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"unknown config key{hint}", file=file,
                              key=f"parameters.{key[:80]}")
        if key.count(".") != 1:
            raise ConfigError("only section.field keys can be swept", file=file,
                              key=f"parameters.{key}")
        if isinstance(flat[key], list):
            raise ConfigError("a list-valued key cannot be swept (sweep a scalar, or write "
                              "one config per list)", file=file, key=f"parameters.{key}")
        dim = parse_dimension(key, spec, file=file, max_values=max_points)
        if strategy == "grid" and dim.values is None:
            raise ConfigError("a distribution needs strategy random or latin (grid needs a "
                              "list or range)", file=file, key=f"parameters.{key}")
        _check_values(dim, base, file=file)
        dims.append(dim)
    if "traces" in data and data["traces"] is not None:
        traces.extend(_paths(data["traces"], file=file, key="traces"))
    if not dims and not traces:
        raise ConfigError("nothing to sweep: give at least one dotted config key (or a trace "
                          "list) under parameters:", file=file, key="parameters")
    if strategy == "grid":
        size = math.prod(len(d.values or ()) for d in dims)
        if size > max_points:
            sizes = " x ".join(str(len(d.values or ())) for d in dims)
            raise _too_many(size, max_points, f"the grid ({sizes})", file=file,
                            key="parameters", noun="points")
    cons_raw = data.get("constraints")
    if cons_raw is None:
        cons_raw = []
    if not isinstance(cons_raw, list):
        cons_raw = [cons_raw]
    constraints = []
    for i, c in enumerate(cons_raw):
        if isinstance(c, (list, dict)) or c is None:
            raise ConfigError(f"expected an expression, got {short_repr(c)}", file=file,
                              key=f"constraints[{i}]")
        constraints.append(Constraint(str(c), file=file, where=f"constraints[{i}]"))
    for c in constraints:
        c.check_names(set(flat))
    return Space(file=file, strategy=strategy, dims=dims, constraints=constraints,
                 count=count if strategy != "grid" else None, seed=seed, traces=traces)
