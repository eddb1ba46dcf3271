"""The engine interface and registry: which statistics an engine needs, and its layer cost.

An engine is a name, the statistics keys it reads for a layer (so a sweep can compute them
once and ship them to workers), and a cost function ``cost(spec, stats, cfg, ctx) ->
LayerCost`` whose config may hold columns (:mod:`pimsim.models.params`). A new engine (say a
ReRAM macro) is one module that calls :func:`register`.

Shipped engines: ``digital`` (the event-driven core; analog-input layers as dense MACs;
max-pool spike layers as their own layer, which read no statistics),
``pim`` (the SRAM PIM macro, for an analog-input layer when ``pim.enabled``), ``cnn_fp32``
and ``cnn_int`` (the dense CNN baselines on the digital core).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pimsim.models import cnn, digital, pim, tech
from pimsim.models.base import LayerCost
from pimsim.models.layer import LayerContext
from pimsim.trace import LayerSpec

#: A statistics key: ("layer" | "dense", layer name, pe_rows or 0 for linear) or
#: ("pim", name, bits per input phase).
StatKey = tuple[str, str, int]


def layer_key(spec: LayerSpec, pe_rows: int) -> StatKey:
    """Statistics key of a layer at a PE-row count (linear layers do not depend on it)."""
    return ("layer", spec.name, int(pe_rows) if spec.kind != "linear" else 0)


def dense_key(spec: LayerSpec, pe_rows: int) -> StatKey:
    """Key of the dense (every tap, one sample-step) statistics of a layer."""
    return ("dense", spec.name, int(pe_rows) if spec.kind != "linear" else 0)


def pim_key(spec: LayerSpec, chunk_bits: int) -> StatKey:
    """Key of the PIM first layer's statistics at a DAC chunk width (1 = bit-serial)."""
    return ("pim", spec.name, int(chunk_bits))


@dataclass(frozen=True)
class Engine:
    """One engine: its name (the ``engine`` of its layers), statistics keys and cost."""

    name: str
    label: str
    stats: Callable[[LayerSpec, Any, int], list[StatKey]]
    cost: Callable[[LayerSpec, Any, Any, LayerContext], LayerCost]


ENGINES: dict[str, Engine] = {}


def register(engine: Engine) -> Engine:
    """Add an engine to the registry (by name)."""
    ENGINES[engine.name] = engine
    return engine


def _digital_stats(spec: LayerSpec, cfg: Any, input_bits: int) -> list[StatKey]:
    # a max-pool spike layer's cost does not depend on its spikes: no statistics
    return [] if spec.is_pool else [layer_key(spec, cfg.digital.pe_rows)]


def _digital_cost(spec: LayerSpec, stats: Any, cfg: Any, ctx: LayerContext) -> LayerCost:
    if spec.is_pool:
        return digital.cost_pool_layer(spec, cfg, ctx, bits=1,
                                       e_op=tech.add_energy_j(cfg.ops, 1), cycles_per_window=1)
    act = stats.layer(spec, int(cfg.digital.pe_rows))
    if spec.input == "analog":
        return digital.cost_analog_layer(spec, act, cfg, ctx)
    return digital.cost_spiking_layer(spec, act, cfg, ctx)


def _pim_stats(spec: LayerSpec, cfg: Any, input_bits: int) -> list[StatKey]:
    return [layer_key(spec, cfg.digital.pe_rows),
            pim_key(spec, pim.input_phases(cfg, input_bits)[1])]


def _pim_cost(spec: LayerSpec, stats: Any, cfg: Any, ctx: LayerContext) -> LayerCost:
    dense = stats.layer(spec, int(cfg.digital.pe_rows))
    pact = stats.pim(spec, pim.input_phases(cfg, ctx.input_bits)[1])
    return pim.cost_pim_layer(spec, dense, pact, cfg, ctx)


def _cnn_stats(spec: LayerSpec, cfg: Any, input_bits: int) -> list[StatKey]:
    return [] if spec.is_pool else [dense_key(spec, cfg.digital.pe_rows)]


def _cnn_cost(precision: str) -> Callable[[LayerSpec, Any, Any, LayerContext], LayerCost]:
    def cost(spec: LayerSpec, stats: Any, cfg: Any, ctx: LayerContext) -> LayerCost:
        dense = None if spec.is_pool else stats.dense(spec, int(cfg.digital.pe_rows))
        return cnn.cost_cnn_layer(spec, dense, cfg, ctx, precision=precision)
    return cost


register(Engine("digital", "event-driven digital SNN core", _digital_stats, _digital_cost))
register(Engine("pim", "SRAM PIM macro (analog first layer)", _pim_stats, _pim_cost))
register(Engine("cnn_fp32", "dense FP32 CNN on the digital core", _cnn_stats,
                _cnn_cost("fp32")))
register(Engine("cnn_int", "dense INT-k CNN on the digital core", _cnn_stats,
                _cnn_cost("int")))


def engine_for(spec: LayerSpec, cfg: Any) -> str:
    """The engine of an SNN layer: the PIM macro for an analog-input layer when
    ``pim.enabled``, else the digital core."""
    return "pim" if spec.input == "analog" and cfg.pim.enabled else "digital"
