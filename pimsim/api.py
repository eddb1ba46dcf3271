"""Python API: load a config and a trace, simulate, get results (the CLI is a thin layer over it).

>>> from pimsim import api
>>> cfg = api.load_config("hw_configs/45nm_pim.yaml", {"pim.adc_bits": 5})
>>> trace = api.load_trace("traces/indian_pines.npz")
>>> result = api.simulate(cfg, trace)
>>> result.per_inference["edp_js"], result.to_dataframe()
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pimsim.activity import ActivityCache
from pimsim.config import HardwareConfig, config_with, load_config
from pimsim.models.area import area_breakdown_m2
from pimsim.models.base import OP_KEYS, LayerCost
from pimsim.models.cnn import cost_cnn_layer
from pimsim.models.digital import cost_digital_layer
from pimsim.models.pim import check_fits, cost_pim_layer, input_phases
from pimsim.trace import Trace, load_trace

__all__ = [
    "Comparison",
    "Result",
    "activity_cache",
    "compare",
    "layer_cost",
    "load_config",
    "load_trace",
    "simulate",
]

_CACHES: weakref.WeakKeyDictionary[Trace, ActivityCache] = weakref.WeakKeyDictionary()


def activity_cache(trace: Trace) -> ActivityCache:
    """The in-memory activity statistics cache attached to ``trace``."""
    cache = _CACHES.get(trace)
    if cache is None:
        cache = ActivityCache(trace)
        _CACHES[trace] = cache
    return cache


@dataclass
class Result:
    """Per-layer costs and per-inference totals of one (config, trace) simulation."""

    hw: str
    trace: str
    layers: list[LayerCost]
    num_samples: int
    timesteps: int
    synthetic: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    area_breakdown_m2: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def area_m2(self) -> float:
        """Silicon area of the accelerator, m^2 (pimsim.models.area; 0 when not computed)."""
        return float(sum(sum(v.values()) for v in self.area_breakdown_m2.values()))

    def area_by_engine(self) -> dict[str, float]:
        """Area per engine (digital, pim), m^2."""
        return {k: float(sum(v.values())) for k, v in self.area_breakdown_m2.items()}

    @property
    def energy_j(self) -> float:
        """Energy per inference, J (average over the trace's samples)."""
        return float(sum(layer.energy_j for layer in self.layers))

    @property
    def delay_s(self) -> float:
        """Delay per inference, s: layers run one after the other."""
        return float(sum(layer.delay_s for layer in self.layers))

    @property
    def edp_js(self) -> float:
        """Energy-delay product per inference, J s = energy_j x delay_s."""
        return self.energy_j * self.delay_s

    @property
    def per_inference(self) -> dict[str, float]:
        return {"energy_j": self.energy_j, "delay_s": self.delay_s, "edp_js": self.edp_js}

    def by_engine(self) -> dict[str, dict[str, float]]:
        """Energy and delay per engine (digital, pim), per inference."""
        out: dict[str, dict[str, float]] = {}
        for layer in self.layers:
            e = out.setdefault(layer.engine, {"energy_j": 0.0, "delay_s": 0.0})
            e["energy_j"] += layer.energy_j
            e["delay_s"] += layer.delay_s
        return out

    def by_component(self) -> dict[str, float]:
        """Energy per component summed over layers, per inference, J."""
        out: dict[str, float] = {}
        for layer in self.layers:
            for k, v in layer.energy_breakdown_j.items():
                out[k] = out.get(k, 0.0) + v
        return out

    def to_json(self) -> dict[str, Any]:
        """The JSON object of design.md §5."""
        return {
            "hw": self.hw,
            "trace": self.trace,
            "per_inference": self.per_inference,
            "layers": [
                {
                    "name": layer.name,
                    "engine": layer.engine,
                    "energy_j": layer.energy_j,
                    "delay_s": layer.delay_s,
                    "cycles": layer.cycles,
                    "ops": {k: int(layer.ops[k]) for k in OP_KEYS},
                    "energy_breakdown_j": dict(layer.energy_breakdown_j),
                }
                for layer in self.layers
            ],
            "num_samples": self.num_samples,
            "timesteps": self.timesteps,
            "synthetic_trace": self.synthetic,
            "area_m2": self.area_m2,
            "area_breakdown_m2": {k: dict(v) for k, v in self.area_breakdown_m2.items()},
        }

    def to_dataframe(self) -> pd.DataFrame:
        """One row per layer: engine, cycles, delay, energy, ops and energy by component."""
        rows = []
        for layer in self.layers:
            row: dict[str, Any] = {"layer": layer.name, "engine": layer.engine,
                                   "cycles": layer.cycles, "delay_s": layer.delay_s,
                                   "energy_j": layer.energy_j}
            row.update({k: layer.ops[k] for k in OP_KEYS})
            row.update({f"energy_{k}_j": v for k, v in layer.energy_breakdown_j.items()})
            rows.append(row)
        return pd.DataFrame(rows).fillna(0.0)


def layer_cost(cfg: HardwareConfig, trace: Trace, i: int, cache: ActivityCache) -> LayerCost:
    """Cost of layer ``i`` of ``trace`` on ``cfg`` (what :func:`simulate` sums).

    The first layer runs on the PIM macro when ``cfg.pim.enabled``, else on the digital core;
    every other layer runs on the digital core. ``trace`` may be any object with the
    attributes read here (``layers``, ``num_samples``, ``timesteps``, ``input_bits``,
    ``path``), e.g. :class:`pimsim.stats_cache.TraceView`.
    """
    spec = trace.layers[i]
    n, t, in_bits = trace.num_samples, trace.timesteps, trace.input_bits
    last = i == len(trace.layers) - 1
    act = cache.layer(spec, cfg.digital.pe_rows)
    if spec.input == "analog" and cfg.pim.enabled:
        check_fits(spec, cfg, input_bits=in_bits, trace_file=trace.path or "<trace>")
        _, chunk_bits = input_phases(cfg, in_bits)
        pact = cache.pim(spec, chunk_bits)
        planes = (cache.pim(spec, 1) if cfg.pim.input_mode == "dac"
                  and cfg.pim.dac_kind == "pulse_count" else None)
        return cost_pim_layer(spec, act, pact, cfg, n=n, t=t, input_bits=in_bits,
                              bit_planes=planes)
    return cost_digital_layer(spec, act, cfg, n=n, t=t, input_bits=in_bits, last=last,
                              with_pim=cfg.pim.enabled)


def simulate(cfg: HardwareConfig, trace: Trace, *, cache: ActivityCache | None = None
             ) -> Result:
    """Energy, delay and EDP of ``trace`` on the hardware ``cfg``.

    The first layer runs on the PIM macro when ``cfg.pim.enabled``, else on the digital core;
    every other layer runs on the digital core.
    """
    cache = cache or activity_cache(trace)
    n, t = trace.num_samples, trace.timesteps
    costs = [layer_cost(cfg, trace, i, cache) for i in range(len(trace.layers))]
    return Result(hw=cfg.name, trace=trace.path or "<trace>", layers=costs, num_samples=n,
                  timesteps=t, synthetic=trace.is_synthetic,
                  area_breakdown_m2=area_breakdown_m2(cfg))


def simulate_cnn(cfg: HardwareConfig, trace: Trace, precision: str, *,
                 cache: ActivityCache | None = None) -> Result:
    """The iso-architecture dense CNN (``fp32`` or ``int``) on the same digital hardware."""
    cache = cache or activity_cache(trace)
    costs = []
    for spec in trace.layers:
        dense = cache.dense(spec, cfg.digital.pe_rows)
        costs.append(cost_cnn_layer(spec, dense, cfg, precision=precision,
                                    n=trace.num_samples))
    name = "cnn_fp32" if precision == "fp32" else f"cnn_int{cfg.cnn.int_bits}"
    return Result(hw=f"{cfg.name}:{name}", trace=trace.path or "<trace>", layers=costs,
                  num_samples=trace.num_samples, timesteps=1, synthetic=trace.is_synthetic)


@dataclass
class Comparison:
    """The paper's table: CNN FP32, CNN INT-k, SNN digital, SNN with PIM first layer."""

    rows: dict[str, Result]

    def ratios(self) -> dict[str, float]:
        """SNN-vs-CNN energy ratios and PIM-vs-digital improvements (1 - pim / digital)."""
        snn, pim = self.rows["snn_digital"], self.rows["snn_pim"]
        cnn_int = next(k for k in self.rows if k.startswith("cnn_int"))
        out = {
            "cnn_fp32_over_snn_digital_energy": self.rows["cnn_fp32"].energy_j / snn.energy_j,
            f"{cnn_int}_over_snn_digital_energy": self.rows[cnn_int].energy_j / snn.energy_j,
            "cnn_fp32_over_snn_pim_energy": self.rows["cnn_fp32"].energy_j / pim.energy_j,
            f"{cnn_int}_over_snn_pim_energy": self.rows[cnn_int].energy_j / pim.energy_j,
        }
        for key in ("energy_j", "delay_s", "edp_js"):
            name = key.split("_")[0]
            d, p = getattr(snn, key), getattr(pim, key)
            out[f"pim_over_digital_{name}"] = p / d
            out[f"pim_improvement_{name}"] = 1.0 - p / d
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": [{"system": k, **r.per_inference} for k, r in self.rows.items()],
            "ratios": self.ratios(),
        }


def compare(cfg: HardwareConfig, trace: Trace) -> Comparison:
    """Run the four systems of the paper's comparison on the same hardware and trace."""
    cache = activity_cache(trace)
    digital = config_with(cfg, {"pim.enabled": False})
    with_pim = config_with(cfg, {"pim.enabled": True})
    int_name = f"cnn_int{cfg.cnn.int_bits}"
    rows = {
        "cnn_fp32": simulate_cnn(digital, trace, "fp32", cache=cache),
        int_name: simulate_cnn(digital, trace, "int", cache=cache),
        "snn_digital": simulate(digital, trace, cache=cache),
        "snn_pim": simulate(with_pim, trace, cache=cache),
    }
    return Comparison(rows=rows)
