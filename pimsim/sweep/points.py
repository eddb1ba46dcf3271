"""Points of a sweep: a lean config builder, per-key codes for grouping, and the point plan.

Validation is done once per distinct value, never once per point: a field is validated by
pydantic once per (section, field, value) (:class:`PointBuilder`); a function of the config
(a constraint, the cross-key checks of :func:`pimsim.config.check_consistency`, a cost
sub-model) is evaluated once per distinct combination of the swept keys it reads
(:class:`Grouped`, using :mod:`pimsim.sweep.recorder`). For N points whose keys take few
distinct values this costs O(N) numpy work plus a handful of Python calls.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from pimsim.config import HardwareConfig, check_consistency, short_repr
from pimsim.errors import ConfigError, PimsimError
from pimsim.sweep.recorder import dependencies, getter_of, recorded
from pimsim.sweep.space import Space, flatten


def _validation_reason(exc: ValidationError, section: str) -> tuple[str, str]:
    err = exc.errors()[0]
    key = ".".join([section, *(str(p) for p in err["loc"])])
    return key, f"{err['msg']} (got {short_repr(err.get('input'))})"


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
        cfg = self.compose(values)
        check_consistency(cfg, file=self.file)
        return cfg

    def compose(self, values: tuple[Any, ...]) -> HardwareConfig:
        """The base with the point's validated fields, before the cross-key checks."""
        update = {}
        for name, idx, fields, _get in self.sections:
            upd = {f: self._field(name, f, values[i]) for f, i in zip(fields, idx)}
            update[name] = getattr(self.base, name).model_copy(update=upd)
        return self.base.model_copy(update=update)

    def validated(self, key: str, value: Any) -> Any:
        """The validated value of swept ``key`` (raises ConfigError when invalid)."""
        section, name = key.split(".")
        return self._field(section, name, value)


_MISSING = object()


@dataclass(frozen=True)
class _Invalid:
    key: str
    message: str


class PointTable:
    """Value tuples of a set of points with an integer code per (point, swept key).

    ``codes[p, k]`` numbers the distinct values of key ``k`` (by Python equality) so that the
    points agreeing on any subset of keys can be grouped with numpy (:meth:`groups`).
    """

    def __init__(self, rows: Sequence[tuple[Any, ...]], nkeys: int):
        self.rows = list(rows)
        self.n = len(self.rows)
        self.codes = np.zeros((self.n, nkeys), np.int64)
        for k in range(nkeys):
            seen: dict[Any, int] = {}
            self.codes[:, k] = [seen.setdefault(r[k], len(seen)) for r in self.rows]
        self._groups: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}

    def take(self, idx: np.ndarray) -> PointTable:
        """The table of the points ``idx`` (codes kept)."""
        sub = object.__new__(PointTable)
        sub.rows = [self.rows[i] for i in idx]
        sub.n = len(sub.rows)
        sub.codes = self.codes[idx]
        sub._groups = {}
        return sub

    def groups(self, deps: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(first point of each group, group of each point) for the values at keys ``deps``."""
        hit = self._groups.get(deps)
        if hit is not None:
            return hit
        if not deps or self.n == 0:
            hit = (np.zeros(min(1, self.n), np.int64), np.zeros(self.n, np.int64))
        else:
            code = self.codes[:, deps[0]]
            for k in deps[1:]:
                code = np.unique(code * (int(self.codes[:, k].max()) + 1) + self.codes[:, k],
                                 return_inverse=True)[1]
            _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
            hit = (first, inverse.reshape(-1))
        self._groups[deps] = hit
        return hit


class Grouped:
    """``fn(cfg)`` over the points of a :class:`PointTable`, once per distinct combination of
    the swept keys ``fn`` reads.

    The first evaluation records which keys ``fn`` read; points are grouped on those keys and
    ``fn`` runs on one representative per group. When a representative reads a swept key
    outside the grouping (another branch), the grouping grows and the table is regrouped. Sound
    for any deterministic ``fn`` (see :mod:`pimsim.sweep.recorder`). Results (or the
    :class:`PimsimError` raised) are memoised across tables.
    """

    def __init__(self, fn: Callable[[Any], Any], key_index: dict[str, int],
                 build: Callable[[tuple[Any, ...]], HardwareConfig]):
        self.fn, self.key_index, self.build = fn, key_index, build
        self.deps: tuple[int, ...] | None = None
        self.memo: dict[tuple[Any, ...], Any] = {}

    def evaluate(self, table: PointTable) -> tuple[list[Any], np.ndarray]:
        """(result of each group, group of each point); a result may be a PimsimError."""
        while True:
            deps = self.deps or ()
            first, inverse = table.groups(deps)
            get = getter_of(deps)
            out: list[Any] = []
            for r in first:
                values = table.rows[r]
                hit = self.memo.get(get(values), _MISSING)
                if hit is _MISSING:
                    log: set[str] = set()
                    try:
                        hit = self.fn(recorded(self.build(values), log))
                    except PimsimError as exc:
                        hit = exc
                    read = dependencies(log, self.key_index)
                    if self.deps is None or not set(read) <= set(self.deps):
                        self.deps = tuple(sorted(set(read) | set(self.deps or ())))
                        self.memo = {getter_of(self.deps)(values): hit}
                        break  # regroup on the wider key set
                    self.memo[get(values)] = hit
                out.append(hit)
            else:
                return out, inverse

    def per_point(self, table: PointTable, dtype: Any = None) -> np.ndarray:
        """Results scattered to the points (numeric ``dtype`` or object)."""
        out, inverse = self.evaluate(table)
        arr = np.empty(len(out), dtype=object)
        arr[:] = out
        if dtype is not None:
            arr = arr.astype(dtype)
        return arr[inverse]


# -------------------------------------------------------------------------------- the plan


@dataclass
class Plan:
    """The points of a space: every combination, the valid ones, and the reasons of the rest."""

    combos: list[tuple[Any, ...]]
    valid: list[int]
    reasons: dict[int, str]
    table: PointTable

    def enabled(self, keys: Sequence[str], builder: PointBuilder) -> list[bool | None]:
        """Validated ``pim.enabled`` of each valid combination (None for invalid ones)."""
        out: list[bool | None] = [None] * len(self.combos)
        k = list(keys).index("pim.enabled") if "pim.enabled" in keys else None
        for ci in self.valid:
            out[ci] = (builder.validated("pim.enabled", self.combos[ci][k]) if k is not None
                       else builder.base.pim.enabled)
        return out


def plan_points(space: Space, base: HardwareConfig, builder: PointBuilder) -> Plan:
    """Apply the constraints, then validate every combination of ``space``.

    The reason of an invalid point is the first constraint it breaks (in file order), else
    the first invalid field (in section order), else the cross-key check that fails, exactly
    as a point-by-point ``PointBuilder.build`` would report it.
    """
    keys = space.keys
    key_index = {k: i for i, k in enumerate(keys)}
    flat = flatten(base.model_dump())
    combos = space.combos()
    table = PointTable(combos, len(keys))
    reason: list[str | None] = [None] * len(combos)
    for c in space.constraints:
        deps = tuple(sorted(key_index[n] for n in c.names if n in key_index))
        first, inverse = table.groups(deps)
        verdict: list[str | None] = []
        for r in first:
            lv = dict(zip(keys, combos[r]))
            why = None
            try:
                ok = c(lambda name, lv=lv: lv[name] if name in lv else flat[name])
            except (TypeError, ValueError, ZeroDivisionError, ArithmeticError) as exc:
                ok, why = False, f"constraint {c.text!r} failed: {exc}"
            verdict.append(None if ok else (why or f"rejected by constraint {c.text!r}"))
        for p, g in enumerate(inverse):
            if reason[p] is None and verdict[g] is not None:
                reason[p] = verdict[g]
    open_pts = [p for p, r in enumerate(reason) if r is None]
    scaled = np.zeros(len(combos), bool)
    if builder.raw is not None and open_pts:
        tdeps = tuple(sorted(builder._tech_idx.values()))
        sub = table.take(np.array(open_pts))
        first, inverse = sub.groups(tdeps)
        flags = np.array([builder._scaled(sub.rows[r]) for r in first], bool)
        scaled[np.array(open_pts)] = flags[inverse]
    # fields, in the order PointBuilder.build checks them
    for _, idx, fields, _ in builder.sections:
        for i, f in zip(idx, fields):
            section = builder.keys[i].split(".")[0]
            bad: dict[int, str] = {}
            for p in open_pts:
                if reason[p] is not None or scaled[p]:
                    continue
                code = int(table.codes[p, i])
                if code not in bad:
                    try:
                        builder._field(section, f, combos[p][i])
                        bad[code] = ""
                    except ConfigError as exc:
                        bad[code] = exc.one_line()
                if bad[code]:
                    reason[p] = bad[code]
    for p in open_pts:  # points whose constants are rescaled go through the full loader
        if scaled[p] and reason[p] is None:
            try:
                builder.build(combos[p])
            except PimsimError as exc:
                reason[p] = exc.one_line()
    rest = [p for p in open_pts if reason[p] is None and not scaled[p]]
    if rest and builder.sections:
        check = Grouped(lambda cfg: check_consistency(cfg, file=builder.file), key_index,
                        builder.compose)
        sub = table.take(np.array(rest))
        res = check.per_point(sub)
        for p, r in zip(rest, res):
            if isinstance(r, PimsimError):
                reason[p] = r.one_line()
    valid = [p for p, r in enumerate(reason) if r is None]
    return Plan(combos=combos, valid=valid,
                reasons={p: r for p, r in enumerate(reason) if r is not None}, table=table)
