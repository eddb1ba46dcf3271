"""Non-dominated sets over two or three objectives of a sweep's results, and the EDP plot.

An objective is a column name, minimised, or ``max:COLUMN`` to maximise (``min:COLUMN`` is
explicit minimisation); columns whose name contains ``accuracy`` or ``agreement`` are maximised
unless prefixed. A row is on the front when no other row is at least as good in every objective
and strictly better in one (rows with a missing objective are ignored; exact duplicates of a
front row are all on the front).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pimsim.errors import PimsimError

#: Columns that are results, not swept parameters.
RESULT_PREFIXES = ("energy_", "delay_", "edp_", "area_")
META_COLUMNS = ("point", "trace", "config_hash", "is_base", "pim.enabled", "accuracy")


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


def read_results(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A sweep results file (.csv or .parquet) as a DataFrame."""
    file = str(path)
    if not os.path.isfile(file):
        raise PimsimError("file not found", file=file)
    try:
        if file.lower().endswith(".parquet"):
            return pd.read_parquet(file)
        return pd.read_csv(file)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise PimsimError(f"cannot read results: {exc}", file=file) from None


def check_columns(df: pd.DataFrame, names: Sequence[str], *, file: str) -> None:
    """Every name must be a column (error lists the numeric columns)."""
    for name in names:
        if name not in df.columns:
            numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
            raise PimsimError(f"no column {name!r} (numeric columns: {', '.join(numeric)})",
                              file=file, key=name)


def swept_keys(df: pd.DataFrame) -> list[str]:
    """The swept parameter columns (dotted names between config_hash and the results)."""
    return [c for c in df.columns if "." in c and c not in META_COLUMNS
            and not c.startswith(RESULT_PREFIXES)]


def pareto_front(df: pd.DataFrame, objectives: Sequence[Objective]) -> pd.DataFrame:
    """The non-dominated rows, sorted by the first objective."""
    vals = df[[o.column for o in objectives]].to_numpy(dtype=float)
    mask = pareto_mask(vals, [o.maximize for o in objectives])
    front = df[mask]
    return front.sort_values(objectives[0].column, ascending=not objectives[0].maximize)


def _short(key: str) -> str:
    return key.split(".")[-1]


def point_label(row: pd.Series, keys: Sequence[str], limit: int = 4) -> str:
    """``adc_bits=6 rows_per_read=64`` from a row's swept values (``digital-only`` when the
    PIM macro is off, whose keys then do not matter)."""
    if "pim.enabled" in row.index and str(row["pim.enabled"]).lower() in ("false", "0", "0.0"):
        keys = [k for k in keys if not k.startswith("pim.")]
        return " ".join(["digital-only", *(f"{_short(k)}={row[k]}" for k in keys[:limit])])
    parts = []
    for k in list(keys)[:limit]:
        v = row[k]
        if isinstance(v, float):
            v = f"{v:.3g}"
        parts.append(f"{_short(k)}={v}")
    return " ".join(parts)


_UNITS = (("_js", "J·s"), ("_m2", "m²"), ("_j", "J"), ("_s", "s"))


def _axis_units(ax, axis: str, column: str) -> None:  # type: ignore[no-untyped-def]
    """Human units on an axis of an SI column: engineering prefixes (µJ, ns, ...)."""
    from matplotlib.ticker import EngFormatter

    for suffix, unit in _UNITS:
        if column.endswith(suffix):
            getattr(ax, f"{axis}axis").set_major_formatter(EngFormatter(unit=unit))
            return


def _wants_log(x: np.ndarray) -> bool:
    x = x[np.isfinite(x)]
    return bool(x.size) and float(x.min()) > 0 and float(x.max()) / float(x.min()) > 30


def plot_front(df: pd.DataFrame, front: pd.DataFrame, objectives: Sequence[Objective],
               out: str | os.PathLike[str], *, color_by: str | None = None,
               title: str | None = None) -> list[str]:
    """Scatter of all rows (faint), the front (bold, labelled), iso-EDP curves, base points.

    Writes ``out`` (PNG unless its suffix says SVG) and the other of PNG/SVG beside it; returns
    the written paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xo, yo = objectives[0], objectives[1]
    x, y = xo.column, yo.column
    fig, ax = plt.subplots(figsize=(8.0, 5.8), dpi=120)
    xs, ys = df[x].to_numpy(float), df[y].to_numpy(float)
    if color_by:
        c = df[color_by]
        if pd.api.types.is_numeric_dtype(c):
            sc = ax.scatter(xs, ys, c=c.to_numpy(float), s=12, alpha=0.45, cmap="viridis",
                            linewidths=0)
            fig.colorbar(sc, ax=ax, label=color_by)
        else:
            for val, grp in df.groupby(color_by):
                ax.scatter(grp[x], grp[y], s=12, alpha=0.45, label=f"{color_by}={val}")
    else:
        ax.scatter(xs, ys, s=10, alpha=0.25, color="0.55", linewidths=0, label="all points")
    fx, fy = front[x].to_numpy(float), front[y].to_numpy(float)
    order = np.argsort(fx)
    ax.plot(fx[order], fy[order], "-o", color="C3", lw=2.0, ms=5, label="Pareto front",
            zorder=5)
    if len(objectives) > 2:
        z = objectives[2].column
        sc = ax.scatter(fx, fy, c=front[z].to_numpy(float), s=50, cmap="plasma", zorder=6,
                        edgecolors="k", linewidths=0.6)
        fig.colorbar(sc, ax=ax, label=f"front: {objectives[2].label}")
    log_x, log_y = _wants_log(xs), _wants_log(ys)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    pair = {x, y}
    if pair == {"energy_j", "delay_s"} and np.all(xs > 0) and np.all(ys > 0):
        edp = xs * ys
        lo, hi = math.log10(np.nanmin(edp)), math.log10(np.nanmax(edp))
        levels = np.logspace(lo, hi, 4) if hi > lo else [10**lo]
        xline = np.geomspace(np.nanmin(xs), np.nanmax(xs), 100)
        for lv in levels:
            ax.plot(xline, lv / xline, ls=":", lw=0.9, color="0.35", zorder=1)
            ax.annotate(f"EDP {lv:.2g} J s", (xline[-1], lv / xline[-1]), fontsize=7,
                        color="0.3", ha="right", va="bottom")
        ax.set_ylim(np.nanmin(ys) / 1.3, np.nanmax(ys) * 1.3)
        ax.set_xlim(np.nanmin(xs) / 1.3, np.nanmax(xs) * 1.3)
    keys = swept_keys(df)
    distinct = front.drop_duplicates(subset=[x, y])  # one label per position on the plot
    step = max(1, math.ceil(len(distinct) / 10))
    for i, (_, row) in enumerate(distinct.iterrows()):
        if i % step == 0 or i == len(distinct) - 1:
            ax.annotate(point_label(row, keys), (row[x], row[y]), fontsize=7,
                        xytext=(6, 6 + 9 * (i // step % 3)), textcoords="offset points",
                        color="C3")
    if "is_base" in df.columns:
        base = df[df["is_base"] == 1]
        for _, row in base.drop_duplicates(subset=[x, y]).iterrows():
            en = row.get("pim.enabled")
            kind = "PIM" if str(en).lower() in ("true", "1", "1.0") else "digital-only"
            ax.scatter([row[x]], [row[y]], marker="*", s=220, color="gold", edgecolors="k",
                       zorder=7)
            ax.annotate(f"base ({kind})", (row[x], row[y]), fontsize=8, fontweight="bold",
                        xytext=(6, -12), textcoords="offset points")
    ax.set_xlabel(xo.label)
    ax.set_ylabel(yo.label)
    _axis_units(ax, "x", x)
    _axis_units(ax, "y", y)
    n_distinct = len(front.drop_duplicates(subset=[o.column for o in objectives]))
    ax.set_title(title or f"Pareto front: {n_distinct} distinct points ({len(front)} of "
                 f"{len(df)} configurations)")
    ax.grid(True, which="both", alpha=0.2)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    outp = Path(out)
    outp.parent.mkdir(parents=True, exist_ok=True)
    other = outp.with_suffix(".svg" if outp.suffix.lower() != ".svg" else ".png")
    written = []
    for path in (outp, other):
        tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
        fig.savefig(tmp, format=path.suffix.lstrip(".").lower() or "png")
        os.replace(tmp, path)
        written.append(str(path))
    plt.close(fig)
    return written
