"""A config whose numeric fields may be columns: one equation path for runs and sweeps.

Every cost equation in :mod:`pimsim.models` reads the config as ``cfg.section.field`` and is
written with numpy operations that broadcast. Given a :class:`~pimsim.config.HardwareConfig`
it computes one design point (``pimsim run``); given a :class:`ConfigColumns` whose swept
numeric fields are arrays of n points, the same code computes n points at once (a sweep).
Discrete fields (strings, booleans, lists, optional values) are never columns: a sweep groups
its points by them (:mod:`pimsim.sweep.evaluate`), so ``if`` on them is allowed in a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pimsim.config import HardwareConfig


class _SectionView:
    """One config section with some fields replaced by columns."""

    __slots__ = ("_base", "_over")

    def __init__(self, base: Any, over: dict[str, np.ndarray]):
        object.__setattr__(self, "_base", base)
        object.__setattr__(self, "_over", over)

    def __getattr__(self, name: str) -> Any:
        over = object.__getattribute__(self, "_over")
        if name in over:
            return over[name]
        return getattr(object.__getattribute__(self, "_base"), name)


class ConfigColumns:
    """``cfg`` with dotted numeric keys replaced by equal-length arrays (one entry per point).

    >>> cols = ConfigColumns(cfg, {"pim.adc_bits": np.array([4, 5, 6])})
    >>> cols.pim.adc_bits, cols.pim.rows   # (array([4, 5, 6]), 128)
    """

    def __init__(self, cfg: HardwareConfig, columns: Mapping[str, np.ndarray]):
        by_section: dict[str, dict[str, np.ndarray]] = {}
        lengths = set()
        for dotted, col in columns.items():
            section, field = dotted.split(".", 1)
            arr = np.asarray(col)
            by_section.setdefault(section, {})[field] = arr
            lengths.add(arr.shape[0] if arr.ndim else 1)
        if len(lengths) > 1:
            raise ValueError(f"columns of unequal length: {sorted(lengths)}")
        self._cfg = cfg
        self._views = {s: _SectionView(getattr(cfg, s), over) for s, over in by_section.items()}
        self.n = lengths.pop() if lengths else 1

    def __getattr__(self, name: str) -> Any:
        views = self.__dict__.get("_views", {})
        if name in views:
            return views[name]
        return getattr(self.__dict__["_cfg"], name)


def size_of(cfg: Any) -> int:
    """Points a config stands for: 1 for a HardwareConfig, n for ConfigColumns."""
    return int(getattr(cfg, "n", 1))
