"""Non-dominated sets over two or three objectives of a sweep's results, one per trace.

An objective is a column name, minimised, or ``max:COLUMN`` to maximise (``min:COLUMN`` is
explicit minimisation); columns whose name contains ``accuracy`` or ``agreement`` are maximised
unless prefixed. A row is on the front when no other row is at least as good in every objective
and strictly better in one (rows with a missing objective are ignored; exact duplicates of a
front row are all on the front).

A sweep over several traces has one front per trace (the ``trace`` column): workloads are not
compared with each other. Front rows with the same objective and metric values are one point
of the front; :func:`merge_identical` turns them into one row with a ``count`` of
configurations. A swept key is every parameter column (dotted name) that takes two or more
values in the file, ``pim.enabled`` included; the ``pim.*`` keys do not matter on a row with
``pim.enabled`` false and show as ``-`` (None) there.

Plots are in :mod:`pimsim.pareto_plot`.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pimsim.errors import PimsimError

#: Columns that are results, not swept parameters.
RESULT_PREFIXES = ("energy_", "delay_", "edp_", "area_")
#: Columns that are neither parameters nor results.
META_COLUMNS = ("point", "trace", "config_hash", "is_base")
#: Result columns without one of the prefixes.
EXTRA_METRICS = ("accuracy",)
PIM_ENABLED = "pim.enabled"
#: Significant digits of the values compared when merging identical front points.
MERGE_DIGITS = 12


@dataclass(frozen=True)
class Objective:
    """A column and its direction."""

    column: str
    maximize: bool

    @property
    def label(self) -> str:
        return f"{self.column} ({'max' if self.maximize else 'min'})"


def parse_objective(text: str) -> Objective:
    """``energy_j`` -> minimise, ``max:accuracy`` -> maximise; accuracy is maximised by default."""
    if text.startswith("max:"):
        return Objective(text[4:], True)
    if text.startswith("min:"):
        return Objective(text[4:], False)
    return Objective(text, "accuracy" in text or "agreement" in text)


def pareto_mask(values: np.ndarray, maximize: Sequence[bool] | None = None) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``values`` (n, k); minimised unless maximize.

    Rows are visited in lexicographic order, where no row can be dominated by a later one, and
    each is compared with the current front only: O(n x front) with numpy.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2:
        raise ValueError("values must be 2-D (rows x objectives)")
    n, k = v.shape
    if maximize is not None:
        v = v * np.where(np.asarray(maximize, dtype=bool), -1.0, 1.0)
    mask = np.zeros(n, dtype=bool)
    ok = np.all(np.isfinite(v), axis=1)
    idx = np.nonzero(ok)[0]
    if idx.size == 0:
        return mask
    sub = v[idx]
    order = np.lexsort(sub.T[::-1])
    front = np.empty((0, k))
    members: list[int] = []
    for j in order:
        p = sub[j]
        if front.shape[0]:
            le = np.all(front <= p, axis=1)
            lt = np.any(front < p, axis=1)
            if np.any(le & lt):
                continue
        front = np.vstack([front, p])
        members.append(int(idx[j]))
    mask[members] = True
    return mask


def read_results(path: str | os.PathLike[str], *, numeric: Sequence[str] = (),
                 warn: Callable[[str], None] | None = None) -> pd.DataFrame:
    """A sweep results file (.csv or .parquet) as a DataFrame; an empty file is an error.

    Every result column (:func:`is_metric`), and every column named in ``numeric`` that holds
    some numbers, must hold numbers or empty cells only: the first other cell is a one-line
    PimsimError naming the column and the row. When the sweep sidecar (``<file>.sweep.json``)
    says ``complete: false`` the file is a sweep still running or interrupted: its torn last
    line, if any, is dropped and ``warn`` gets one line saying so.
    """
    file = str(path)
    if not os.path.isfile(file):
        raise PimsimError("file not found", file=file)
    parquet = file.lower().endswith(".parquet")
    try:
        with open(file + ".sweep.json", encoding="utf-8") as fh:
            side = json.load(fh)
    except (OSError, ValueError):
        side = None
    partial = isinstance(side, dict) and side.get("complete") is False
    try:
        if parquet:
            df = pd.read_parquet(file)
        elif partial:  # a sweep killed inside a write leaves a torn last line: cut it off
            with open(file, "rb") as fh:
                data = fh.read()
            if data and not data.endswith(b"\n"):
                data = data[:data.rfind(b"\n") + 1]
            df = pd.read_csv(io.BytesIO(data))
        else:
            df = pd.read_csv(file)
    except pd.errors.EmptyDataError:
        raise PimsimError("empty results file (no header)", file=file) from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise PimsimError(f"cannot read results: {exc}", file=file) from None
    if df.empty:
        raise PimsimError("results file has no rows", file=file)
    metrics = metric_columns(df)
    for col in dict.fromkeys([*metrics, *(c for c in numeric if c in df.columns)]):
        if pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            continue
        values = pd.to_numeric(df[col], errors="coerce")
        bad = df[col].notna() & values.isna()
        if col not in metrics and not values.notna().any():
            continue  # a column of text given as an objective: the caller says so
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            where = f"row {i + 1}" + ("" if parquet else f" (line {i + 2} of the file)")
            raise PimsimError(f"{where}: {df[col].iloc[i]!r} is not a number; expected a "
                              "numeric value or an empty cell", file=file, key=col)
        df[col] = values
    if partial and warn is not None:
        planned = side.get("rows_planned") if isinstance(side, dict) else None
        count = f"{len(df)} of {planned} rows" if isinstance(planned, int) else \
            f"{len(df)} rows so far"
        warn(f"{file}: the sweep is not complete ({count}); resume it with the same "
             "`pimsim sweep` command")
    return df


def check_columns(df: pd.DataFrame, names: Sequence[str], *, file: str) -> None:
    """Every name must be a column (error lists the numeric columns)."""
    for name in names:
        if name not in df.columns:
            numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
            raise PimsimError(f"no column {name!r} (numeric columns: {', '.join(numeric)})",
                              file=file, key=name)


def is_metric(column: str) -> bool:
    """Whether a column is a result (energy, delay, EDP, area, accuracy)."""
    return column.startswith(RESULT_PREFIXES) or column in EXTRA_METRICS


def parameter_columns(df: pd.DataFrame) -> list[str]:
    """Every hardware-key column (dotted name), swept or not, ``pim.enabled`` included."""
    return [c for c in df.columns if "." in c and c not in META_COLUMNS and not is_metric(c)]


def swept_keys(df: pd.DataFrame) -> list[str]:
    """The parameter columns that take two or more values in ``df`` (``pim.enabled`` too)."""
    return [c for c in parameter_columns(df) if df[c].nunique(dropna=False) > 1]


def fixed_keys(df: pd.DataFrame) -> dict[str, Any]:
    """The parameter columns with one value in ``df``, and that value."""
    return {c: df[c].iloc[0] for c in parameter_columns(df)
            if df[c].nunique(dropna=False) == 1}


def metric_columns(df: pd.DataFrame) -> list[str]:
    """The result columns of ``df``, in file order."""
    return [c for c in df.columns if is_metric(c)]


def pim_off(df: pd.DataFrame) -> pd.Series:
    """True on rows whose PIM macro is disabled (False everywhere without the column)."""
    if PIM_ENABLED not in df.columns:
        return pd.Series(False, index=df.index)
    return df[PIM_ENABLED].map(lambda v: str(v).strip().lower() in ("false", "0", "0.0"))


def relevant(key: str, off: pd.Series) -> pd.Series:
    """Rows on which ``key`` matters: all, except the ``pim.*`` keys on PIM-off rows."""
    if key.startswith("pim.") and key != PIM_ENABLED:
        return ~off
    return pd.Series(True, index=off.index)


def trace_groups(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """``(trace label, rows)`` per trace in file order; ``("all rows", df)`` without traces."""
    if "trace" not in df.columns:
        return [("all rows", df)]
    return [(str(t), df[df["trace"] == t]) for t in pd.unique(df["trace"])]


def pareto_front(df: pd.DataFrame, objectives: Sequence[Objective]) -> pd.DataFrame:
    """The non-dominated rows of ``df`` (all traces together), sorted by the first objective."""
    vals = df[[o.column for o in objectives]].to_numpy(dtype=float)
    mask = pareto_mask(vals, [o.maximize for o in objectives])
    front = df[mask]
    return front.sort_values([o.column for o in objectives],
                             ascending=[not o.maximize for o in objectives], kind="stable")


def fronts_by_trace(df: pd.DataFrame, objectives: Sequence[Objective]
                    ) -> list[tuple[str, pd.DataFrame]]:
    """``(trace label, front rows)`` per trace (:func:`trace_groups`, :func:`pareto_front`)."""
    return [(label, pareto_front(rows, objectives)) for label, rows in trace_groups(df)]


def _rounded(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return float(f"{float(v):.{MERGE_DIGITS}g}") if np.isfinite(v) else repr(float(v))
    return v


def merged_value(values: pd.Series) -> Any:
    """One cell of a merged row: the value when the rows agree, a sorted tuple of the distinct
    values when not, None when no row has one (a ``pim.*`` key on PIM-off rows)."""
    vals = [v.item() if isinstance(v, np.generic) else v for v in values]
    uniq = sorted(set(vals), key=lambda v: (str(type(v)), v))
    if not uniq:
        return None
    return uniq[0] if len(uniq) == 1 else tuple(uniq)


def merge_identical(front: pd.DataFrame, keys: Sequence[str],
                    objectives: Sequence[Objective]) -> pd.DataFrame:
    """One row per distinct point of ``front``: rows with equal objective and metric values
    (to :data:`MERGE_DIGITS` digits) are merged.

    Columns: ``count`` (configurations merged), ``points`` (their ``point`` ids, a tuple),
    ``is_base`` (1 when one of them is the base config), each key (:func:`merged_value` over
    the rows where it matters; a key that is an objective is with the metrics), then the
    metric columns. Sorted by the objectives.
    """
    metrics = list(dict.fromkeys([o.column for o in objectives] + metric_columns(front)))
    keys = [k for k in keys if k not in metrics]  # a key used as an objective: a metric here
    off = pim_off(front)
    sig = front[metrics].map(_rounded)
    groups = sig.groupby(metrics, sort=False, dropna=False).indices
    rows = []
    for idx in groups.values():
        part = front.iloc[idx]
        row: dict[str, Any] = {"count": len(part)}
        row["points"] = tuple(int(p) for p in part["point"]) if "point" in part else ()
        row["is_base"] = int(part["is_base"].max()) if "is_base" in part else 0
        for k in keys:
            row[k] = merged_value(part[k][relevant(k, off.iloc[idx])])
        for m in metrics:
            row[m] = part[m].iloc[0]
        rows.append(row)
    out = pd.DataFrame(rows, columns=["count", "points", "is_base", *keys, *metrics])
    return out.sort_values([o.column for o in objectives],
                           ascending=[not o.maximize for o in objectives],
                           kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------- human-readable values

#: Key-name suffix -> (unit, scale to SI or None for plain numbers); longest suffix first.
_KEY_UNITS = (
    ("_j_per_bit_mm", "J/bit/mm"), ("_j_per_bit", "J/bit"), ("_j_per_step", "J/step"),
    ("_bytes_per_s", "B/s"), ("_w_per_bit", "W/bit"), ("_w_per_array", "W"),
    ("_m2_per_bit", "m²/bit"), ("_hz", "Hz"), ("_j", "J"), ("_s", "s"), ("_v", "V"),
    ("_w", "W"), ("_nm", "nm"), ("_m2", "m²"), ("_bytes", "B"),
)
_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"),
             (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"), (1e-18, "a"))


def eng(value: float, unit: str = "", digits: int = 3) -> str:
    """``146473830.6, "Hz"`` -> ``146 MHz``; ``digits`` significant digits."""
    v = float(value)
    if v == 0 or not np.isfinite(v):
        return f"{v:g} {unit}".strip()
    for scale, prefix in _PREFIXES:
        if abs(v) >= scale * 0.9995:
            break
    return f"{v / scale:.{digits}g} {prefix}{unit}".strip()


def _bytes(v: float) -> str:
    for scale, name in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {name}"
    return f"{v:.0f} B"


def short_key(key: str) -> str:
    """``tech.clock_hz`` -> ``clock``, ``pim.adc_bits`` -> ``adc_bits`` (unit suffix dropped),
    ``pim.enabled`` -> ``PIM``."""
    if key == PIM_ENABLED:
        return "PIM"
    name = key.split(".")[-1]
    for suffix, _ in _KEY_UNITS:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def fmt_value(key: str, value: Any) -> str:
    """A key's value in human units: ``146 MHz``, ``256 KiB``, ``0.85 V``, ``6``, ``on``;
    ``-`` for None, a merged tuple as ``4, 6, 8`` (or ``4 … 8 (5 values)``)."""
    if value is None:
        return "-"
    if isinstance(value, tuple):
        parts = [fmt_value(key, v) for v in value]
        return ", ".join(parts) if len(parts) <= 4 else f"{parts[0]} … {parts[-1]} " \
            f"({len(parts)} values)"
    if isinstance(value, (bool, np.bool_)):
        return "on" if value else "off"
    if isinstance(value, (int, float, np.integer, np.floating)):
        name = key.split(".")[-1]
        for suffix, unit in _KEY_UNITS:
            if name.endswith(suffix):
                v = float(value)
                if unit == "V" and 0.1 <= abs(v) < 100:
                    return f"{v:.3g} V"
                return _bytes(v) if unit == "B" else eng(v, unit)
        if isinstance(value, (float, np.floating)) and not float(value).is_integer():
            return f"{float(value):.3g}"
        return f"{int(value)}" if float(value).is_integer() else str(value)
    return str(value)


def fmt_metric(column: str, value: Any) -> str:
    """A result value in human units: ``287 µJ``, ``889 µs``, ``256 nJ·s``, ``5.2 mm²``,
    ``95.3 %`` (accuracy), ``-`` when missing."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "-" if value is None else str(value)
    if not np.isfinite(v):
        return "-"
    for suffix, unit in (("_js", "J·s"), ("_j", "J"), ("_s", "s")):
        if column.endswith(suffix):
            return eng(v, unit, 4)
    if column.endswith("_m2"):
        return f"{v * 1e6:.4g} mm²"
    if "accuracy" in column and 0 <= v <= 1:
        return f"{100 * v:.1f} %"
    return f"{v:.4g}"


def key_names(keys: Sequence[str]) -> dict[str, str]:
    """Short names of keys (:func:`short_key`), the full key where two short names clash."""
    short = {k: short_key(k) for k in keys}
    clash = {s for s in short.values() if list(short.values()).count(s) > 1}
    return {k: (k if s in clash else s) for k, s in short.items()}


def point_label(row: pd.Series | dict[str, Any], keys: Sequence[str]) -> str:
    """``adc_bits 6, clock 146 MHz`` from a (merged) row's key values; ``digital-only`` for a
    row with the PIM macro off, whose ``pim.*`` keys are then left out."""
    names = key_names(keys)
    parts = []
    for k in keys:
        v = row[k]
        if k == PIM_ENABLED and not isinstance(v, tuple) and v is not None:
            parts.append("PIM" if str(v).lower() in ("true", "1", "1.0") else "digital-only")
        elif v is not None:
            parts.append(f"{names[k]} {fmt_value(k, v)}")
    return ", ".join(parts)
