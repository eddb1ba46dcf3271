"""Trace statistics without the trace: a light view for workers and an on-disk cache.

A sweep separates what depends on the trace (activity statistics, :mod:`pimsim.activity`) from
the cost arithmetic. The statistics a sweep needs are computed once per (trace, layer, geometry)
— geometry is ``digital.pe_rows`` for a layer and the DAC chunk width (bits per input phase)
for the PIM first layer — and shipped to workers as a :class:`StatsBundle`: a :class:`TraceView`
(layer specs, sample/step counts, input bits) plus the statistics, a few KB, never the spikes.
The keys (:data:`~pimsim.models.engine.StatKey`, :func:`~pimsim.models.engine.layer_key`,
``dense_key``, ``pim_key``) are the engines' own (:func:`pimsim.simulate.needed_stats`).

On disk the statistics live under
``<cache dir>/v<STATS_VERSION>-<pimsim version>/<trace content hash>/<kind>_<layer>_<geom>.npz``
(``PIMSIM_CACHE_DIR``, default ``~/.cache/pimsim/stats``), written atomically, so a repeated
sweep over the same trace (by content, not by path) runs no Numba kernel at all, while a new
statistics definition (:data:`~pimsim.activity.STATS_VERSION`) or release starts a fresh cache.
Every file stores a SHA-256 ``digest`` of its key, its trace's content hash and every field
(name, dtype, shape, bytes); a file that cannot be read, lacks a field or whose digest does not
match is treated as absent, so it is recomputed and overwritten, never used.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pimsim import __version__
from pimsim.activity import STATS_VERSION, ActivityCache, LayerActivity, PimActivity
from pimsim.models.engine import StatKey, dense_key, layer_key, pim_key
from pimsim.trace import READ_ERRORS, LayerSpec, Trace

__all__ = ["DiskStatsCache", "PrecomputedCache", "StatKey", "StatsBundle", "TraceView",
           "compute_stat", "default_cache_dir", "dense_key", "layer_key", "pim_key"]


@dataclass(frozen=True)
class TraceView:
    """What the cost models read from a trace, without its arrays (picklable, small)."""

    layers: list[LayerSpec]
    num_samples: int
    timesteps: int
    input_bits: int
    path: str | None
    is_synthetic: bool
    content_hash: str

    @classmethod
    def of(cls, trace: Trace, content_hash: str | None = None) -> TraceView:
        """The view of a loaded trace (hashing it when ``content_hash`` is not given)."""
        return cls(layers=list(trace.layers), num_samples=trace.num_samples,
                   timesteps=trace.timesteps, input_bits=trace.input_bits, path=trace.path,
                   is_synthetic=trace.is_synthetic,
                   content_hash=content_hash or trace.content_hash())

    def layer(self, name: str) -> LayerSpec:
        """The spec of layer ``name``."""
        for spec in self.layers:
            if spec.name == name:
                return spec
        raise KeyError(name)


@dataclass
class StatsBundle:
    """A trace view and the statistics of every (layer, geometry) a sweep needs."""

    view: TraceView
    stats: dict[StatKey, Any] = field(default_factory=dict)


class PrecomputedCache(ActivityCache):
    """An :class:`~pimsim.activity.ActivityCache` answered from a :class:`StatsBundle`.

    A statistic the bundle lacks is computed from the trace returned by ``loader`` (and kept in
    the bundle); without a loader it raises ``KeyError`` naming the statistic.
    """

    def __init__(self, bundle: StatsBundle, loader: Callable[[], Trace] | None = None):
        super().__init__(bundle.view)  # type: ignore[arg-type]
        self.bundle = bundle
        self.loader = loader

    def _get(self, key: StatKey) -> Any:
        hit = self.bundle.stats.get(key)
        if hit is None:
            if self.loader is None:
                raise KeyError(key)
            hit = self.bundle.stats[key] = compute_stat(self.loader(), key)
        return hit

    def layer(self, spec: LayerSpec, pe_rows: int) -> LayerActivity:
        return self._get(layer_key(spec, pe_rows))  # type: ignore[no-any-return]

    def pim(self, spec: LayerSpec, chunk_bits: int) -> PimActivity:
        return self._get(pim_key(spec, chunk_bits))  # type: ignore[no-any-return]

    def dense(self, spec: LayerSpec, pe_rows: int) -> LayerActivity:
        return self._get(dense_key(spec, pe_rows))  # type: ignore[no-any-return]


def compute_stat(trace: Trace, key: StatKey) -> Any:
    """Run the Numba kernel(s) for one statistics key on a loaded trace."""
    kind, name, geom = key
    spec = trace.layer(name)
    cache = ActivityCache(trace)
    if kind == "layer":
        return cache.layer(spec, geom if geom else 1)
    if kind == "pim":
        return cache.pim(spec, geom)
    if kind == "dense":
        return cache.dense(spec, geom)
    raise ValueError(f"unknown statistics kind {kind!r}")


def default_cache_dir() -> Path:
    """``$PIMSIM_CACHE_DIR`` or ``~/.cache/pimsim/stats``."""
    env = os.environ.get("PIMSIM_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "pimsim" / "stats"


def _safe(text: str, keep: str = "-_") -> str:
    """``text`` with every character but letters, digits and ``keep`` replaced by ``_``."""
    return "".join(c if (c.isalnum() or c in keep) else "_" for c in text)


#: Integer fields of a stored :class:`LayerActivity` (the others are arrays).
_LAYER_INTS = ("pe_rows", "events", "tiles_per_step", "window_events", "active_rows",
               "active_rows_per_step")
_LAYER_ARRAYS = ("events_per_step", "spikes_per_step", "tile_max_values", "tile_max_counts")
#: Fields of a stored :class:`PimActivity`; the integer fields of both (stored as int64).
_PIM_FIELDS = ("phases", "driven_rows", "code_sums")
_INTS = (*_LAYER_INTS, "phases")


class DiskStatsCache:
    """Statistics on disk keyed by statistics version, pimsim version, trace content hash and
    statistics key (atomic writes)."""

    def __init__(self, root: str | os.PathLike[str] | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    @property
    def version_dir(self) -> Path:
        """``<root>/v<STATS_VERSION>-<pimsim version>``: the part of the cache this code uses."""
        return self.root / f"v{STATS_VERSION}-{_safe(__version__, keep='-_.+')}"

    def _file(self, content_hash: str, key: StatKey) -> Path:
        kind, name, geom = key
        return self.version_dir / content_hash[:32] / f"{kind}_{_safe(name)}_{int(geom)}.npz"

    def get(self, content_hash: str, key: StatKey) -> Any | None:
        """The cached statistic, or None when absent, unreadable, lacking a field or not
        matching its digest (it is then recomputed)."""
        path = self._file(content_hash, key)
        if not path.is_file():
            return None
        fields = _LAYER_INTS + _LAYER_ARRAYS if key[0] in ("layer", "dense") else _PIM_FIELDS
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {f: z[f] for f in fields}
                digest = z["digest"]
            if digest.tobytes() != _digest(content_hash, key, arrays):
                return None
            if key[0] in ("layer", "dense"):
                return LayerActivity(name=key[1], **{f: int(arrays[f]) for f in _LAYER_INTS},
                                     **{f: arrays[f] for f in _LAYER_ARRAYS})
            return PimActivity(phases=int(arrays["phases"]), driven_rows=arrays["driven_rows"],
                               code_sums=arrays["code_sums"])
        except (*READ_ERRORS, MemoryError):
            return None

    def put(self, content_hash: str, key: StatKey, value: Any) -> None:
        """Store a statistic atomically (temporary file + rename); errors are ignored."""
        path = self._file(content_hash, key)
        fields = _LAYER_INTS + _LAYER_ARRAYS if isinstance(value, LayerActivity) else _PIM_FIELDS
        arrays = {f: np.asarray(getattr(value, f)) for f in fields}
        arrays = {f: a.astype(np.int64) if f in _INTS else a for f, a in arrays.items()}
        digest = np.frombuffer(_digest(content_hash, key, arrays), dtype=np.uint8)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, digest=digest, **arrays)
            os.replace(tmp, path)
        except OSError:
            return


def _digest(content_hash: str, key: StatKey, arrays: dict[str, np.ndarray]) -> bytes:
    """SHA-256 of an entry: its key, its trace's content hash and every field's name, dtype,
    shape and bytes."""
    kind, name, geom = key
    h = hashlib.sha256(repr((content_hash, str(kind), str(name), int(geom))).encode())
    for field_name in sorted(arrays):
        a = np.ascontiguousarray(arrays[field_name])
        h.update(repr((field_name, a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.digest()
