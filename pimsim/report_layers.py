"""Per-layer results of chosen sweep rows, by re-simulating them (the sweep CSV has totals only).

The sweep sidecar ``<results>.sweep.json`` names the base hardware config (``hw``) and the
traces; a row's configuration is the base config with the row's dotted key values applied
(:func:`pimsim.config.load_config` with overrides: the same path as ``pimsim run --set``). A
relative path in the sidecar is tried from the working folder, then from the results file's
folder; the config may also be a shipped name. When something cannot be found or loaded,
:func:`locate` says why in one line and the report goes on without the per-layer section.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pimsim.errors import PimsimError
from pimsim.pareto import parameter_columns

#: Relative difference between the CSV's and the re-simulated totals that earns a warning.
MATCH_RTOL = 1e-6


@dataclass
class Sources:
    """Where a sweep's base config and traces are now."""

    hw: str
    traces: dict[str, str] = field(default_factory=dict)  # CSV trace label -> file
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False)

    def trace(self, label: str) -> Any:
        """The loaded trace of a CSV trace label (loaded once)."""
        if label not in self._loaded:
            from pimsim.api import load_trace

            self._loaded[label] = load_trace(self.traces[label])
        return self._loaded[label]


def _find(path: str, results: Path) -> str | None:
    for cand in (Path(path), results.parent / path):
        if cand.is_file():
            return str(cand)
    return None


def locate(results: str | os.PathLike[str], labels: list[str]) -> Sources | str:
    """The :class:`Sources` of a results file's sweep, or a one-line reason why not."""
    from pimsim.shipped import resolve_config
    from pimsim.sweep.results import Journal

    res = Path(results)
    side = Journal.read_sidecar(res)
    if side is None:
        return f"no readable sweep sidecar {res.name}.sweep.json beside the results file"
    hw = side.get("hw")
    if not hw:
        return f"the sidecar {res.name}.sweep.json names no base config (hw)"
    found = _find(str(hw), res)
    try:
        found = found or resolve_config(str(hw))
    except PimsimError:
        return f"the base config {hw!r} is neither a file (from here or beside the " \
               "results) nor a shipped config"
    traces: dict[str, str] = {}
    for p in side.get("traces") or []:
        f = _find(str(p), res)
        if f is not None:
            traces.setdefault(Path(p).name, f)
            traces.setdefault(str(p), f)
    missing = [t for t in labels if t not in traces]
    if missing:
        return (f"trace file(s) {', '.join(missing)} not found (the sidecar lists "
                f"{', '.join(map(str, side.get('traces') or [])) or 'none'})")
    return Sources(found, traces)


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, str):
        from pimsim.config import parse_value

        return parse_value(v)
    if isinstance(v, float) and np.isnan(v):
        return None
    return v


def row_overrides(row: pd.Series) -> dict[str, Any]:
    """The dotted key values of a CSV row, as config overrides."""
    return {k: _plain(row[k]) for k in parameter_columns(row.to_frame().T)}


@dataclass
class Rerun:
    """A re-simulated configuration: its Result, its config, and a note when its totals
    differ from the CSV row's."""

    result: Any
    config: Any
    note: str = ""


def resimulate(src: Sources, trace_label: str, overrides: dict[str, Any],
               expect: pd.Series | None = None) -> Rerun:
    """Simulate the base config with ``overrides`` on a trace; compare the totals with the
    CSV row ``expect`` (energy, delay, EDP) when given."""
    from pimsim.api import load_config, simulate

    cfg = load_config(src.hw, overrides)
    result = simulate(cfg, src.trace(trace_label))
    note = ""
    for col, got in result.per_inference.items():
        want = float(expect[col]) if expect is not None and col in expect.index else np.nan
        if np.isfinite(want) and abs(got - want) > MATCH_RTOL * max(abs(want), 1e-300):
            note = (f"re-simulated {col} {got:.6g} differs from the CSV's {want:.6g}: the "
                    "config, the trace or the model changed since the sweep; the per-layer "
                    "figures are the re-simulation's")
            break
    return Rerun(result, cfg, note)


def config_value(cfg: Any, dotted: str) -> Any:
    """A config's value of a dotted key (``pim.adc_bits``), or None when absent."""
    node = cfg
    for part in dotted.split("."):
        node = getattr(node, part, None)
        if node is None:
            return None
    return node
