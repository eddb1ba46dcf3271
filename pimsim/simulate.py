"""The one place that wires engines, schedule and memory into a network's cost.

:func:`layer_costs` is the single equation path: with a :class:`~pimsim.config.
HardwareConfig` it costs one design point (``pimsim run``); with a
:class:`~pimsim.models.params.ConfigColumns` every number is an array over the points of a
sweep. :func:`simulate`, :func:`simulate_cnn` and :func:`compare` wrap it for scalar runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pimsim.errors import SimulationError
from pimsim.models.base import LayerCost
from pimsim.models.engine import ENGINES, StatKey, engine_for
from pimsim.models.layer import LayerContext
from pimsim.models.schedule import place_network

SNN = "snn"


def engines_of(cfg: Any, view: Any, system: str = SNN) -> list[str]:
    """Engine name of every layer: SNN layers by :func:`engine_for`; ``cnn_fp32`` or
    ``cnn_int`` for the dense baselines."""
    if system != SNN:
        return [system] * len(view.layers)
    return [engine_for(spec, cfg) for spec in view.layers]


def needed_stats(cfg: Any, view: Any, system: str = SNN) -> list[StatKey]:
    """Statistics keys that costing ``view`` on ``cfg`` reads."""
    keys: list[StatKey] = []
    for spec, name in zip(view.layers, engines_of(cfg, view, system), strict=True):
        keys += ENGINES[name].stats(spec, cfg, view.input_bits)
    return keys


def layer_costs(cfg: Any, view: Any, stats: Any, system: str = SNN) -> list[LayerCost]:
    """Cost of every layer of ``view`` (a Trace or TraceView) on ``cfg``; ``stats`` answers
    ``layer``/``dense``/``pim`` statistics (an ActivityCache)."""
    engines = engines_of(cfg, view, system)
    cnn_bits = None
    t = view.timesteps
    if system != SNN:
        cnn_bits = 32 if system == "cnn_fp32" else int(cfg.cnn.int_bits)
        t = 1
    places = place_network(cfg, view.layers, engines, t=t, input_bits=view.input_bits,
                           act_bits=cnn_bits)
    with_pim = bool(cfg.pim.enabled) and system == SNN
    out = []
    last = len(view.layers) - 1
    for i, (spec, name) in enumerate(zip(view.layers, engines, strict=True)):
        ctx = LayerContext(index=i, last=i == last, n=view.num_samples, t=t,
                           input_bits=view.input_bits if cnn_bits is None else cnn_bits,
                           placement=places[i], with_pim=with_pim)
        out.append(ENGINES[name].cost(spec, stats, cfg, ctx))
    return out


def check_valid(costs: list[LayerCost], file: str) -> None:
    """Raise SimulationError for the first layer an engine could not map (scalar runs)."""
    for c in costs:
        if np.any(c.invalid):
            raise SimulationError(c.reason, file=file, key=c.reason_key or c.engine)


def activity_cache(trace: Any) -> Any:
    """The in-memory statistics cache attached to ``trace`` (created once per trace)."""
    from pimsim.activity import ActivityCache

    cache = getattr(trace, "_pimsim_activity_cache", None)
    if cache is None:
        cache = ActivityCache(trace)
        try:
            trace._pimsim_activity_cache = cache
        except AttributeError:  # a frozen view: no attachment
            pass
    return cache


def simulate(cfg: Any, trace: Any, *, cache: Any | None = None) -> Any:
    """Energy, delay and EDP of ``trace`` on the hardware ``cfg`` (a :class:`Result`)."""
    from pimsim.models.area import area_breakdown_m2
    from pimsim.result import Result

    cache = cache or activity_cache(trace)
    costs = layer_costs(cfg, trace, cache)
    check_valid(costs, trace.path or "<trace>")
    return Result(hw=cfg.name, trace=trace.path or "<trace>", layers=costs,
                  num_samples=trace.num_samples, timesteps=trace.timesteps,
                  synthetic=trace.is_synthetic, area_breakdown_m2=area_breakdown_m2(cfg),
                  config=cfg, trace_sha256=file_sha256(trace.path), origin=trace.origin)


def file_sha256(path: str | None) -> str | None:
    """SHA-256 of a trace file's bytes (None without a readable file)."""
    import hashlib
    import os

    if not path or not os.path.isfile(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def simulate_cnn(cfg: Any, trace: Any, precision: str, *, cache: Any | None = None) -> Any:
    """The iso-architecture dense CNN (``fp32`` or ``int``) on the same digital hardware."""
    from pimsim.result import Result

    cache = cache or activity_cache(trace)
    system = "cnn_fp32" if precision == "fp32" else "cnn_int"
    costs = layer_costs(cfg, trace, cache, system=system)
    name = "cnn_fp32" if precision == "fp32" else f"cnn_int{cfg.cnn.int_bits}"
    return Result(hw=f"{cfg.name}:{name}", trace=trace.path or "<trace>", layers=costs,
                  num_samples=trace.num_samples, timesteps=1, synthetic=trace.is_synthetic,
                  config=cfg, origin=trace.origin)


def compare(cfg: Any, trace: Any) -> Any:
    """The four systems of the paper's comparison on the same hardware and trace."""
    from pimsim.config import config_with
    from pimsim.result import Comparison

    cache = activity_cache(trace)
    digital = config_with(cfg, {"pim.enabled": False})
    with_pim = config_with(cfg, {"pim.enabled": True})
    rows = {
        "cnn_fp32": simulate_cnn(digital, trace, "fp32", cache=cache),
        f"cnn_int{cfg.cnn.int_bits}": simulate_cnn(digital, trace, "int", cache=cache),
        "snn_digital": simulate(digital, trace, cache=cache),
        "snn_pim": simulate(with_pim, trace, cache=cache),
    }
    return Comparison(rows=rows, config=cfg)
