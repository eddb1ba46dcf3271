"""Results of a simulation: per-layer costs, per-inference totals, JSON and DataFrame forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pimsim.models.base import OP_KEYS, LayerCost


def plain(x: Any) -> Any:
    """JSON-ready Python values from numpy scalars and arrays (recursively)."""
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return plain(x.tolist())
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


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
    config: Any = None
    trace_sha256: str | None = None
    origin: Any = None  #: pimsim.provenance.Origin of the trace (None: unknown)

    @property
    def banner(self) -> str:
        """What the trace's spikes come from, when not a network trained on real data."""
        if self.origin is not None:
            return self.origin.banner()
        return "[SYNTHETIC trace: random spikes, not from a trained network]" if self.synthetic else ""

    @property
    def warnings(self) -> list[str]:
        """One line per layer tensor that spills to DRAM."""
        return [w for layer in self.layers for w in layer.warnings]

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
        """The run JSON (docs/model.md §6) (SI units; ops totals over the trace)."""
        from pimsim import __version__

        return plain({
            "hw": self.hw,
            "trace": self.trace,
            "trace_sha256": self.trace_sha256,
            "pimsim_version": __version__,
            "per_inference": self.per_inference,
            "layers": [
                {
                    "name": layer.name,
                    "engine": layer.engine,
                    "energy_j": layer.energy_j,
                    "delay_s": layer.delay_s,
                    "cycles": layer.cycles,
                    "bound": layer.bound,
                    "cycles_by_level": dict(layer.cycles_by_level),
                    "ops": {k: int(layer.ops[k]) for k in OP_KEYS},
                    "dram_bits_by_tensor": {k: int(v)
                                            for k, v in layer.dram_bits_by_tensor.items()},
                    "mapping": dict(layer.mapping),
                    "energy_breakdown_j": dict(layer.energy_breakdown_j),
                }
                for layer in self.layers
            ],
            "warnings": self.warnings,
            "num_samples": self.num_samples,
            "timesteps": self.timesteps,
            "synthetic_trace": self.synthetic,
            "trace_origin": ({"data": self.origin.data, "trained": self.origin.trained}
                             if self.origin is not None else None),
            "area_m2": self.area_m2,
            "area_breakdown_m2": {k: dict(v) for k, v in self.area_breakdown_m2.items()},
            "config": self.config.model_dump() if self.config is not None else None,
        })

    def to_dataframe(self) -> Any:
        """One row per layer: engine, cycles, delay, energy, ops and energy by component."""
        rows = []
        for layer in self.layers:
            row: dict[str, Any] = {"layer": layer.name, "engine": layer.engine,
                                   "cycles": layer.cycles, "bound": layer.bound,
                                   "delay_s": layer.delay_s, "energy_j": layer.energy_j}
            row.update({k: layer.ops[k] for k in OP_KEYS})
            row.update({f"energy_{k}_j": v for k, v in layer.energy_breakdown_j.items()})
            rows.append(row)
        import pandas as pd

        return pd.DataFrame(rows).fillna(0.0)


@dataclass
class Comparison:
    """The paper's table: CNN FP32, CNN INT-k, SNN digital, SNN with PIM first layer."""

    rows: dict[str, Result]
    config: Any = None  #: the config as given (``--set`` applied); rows override pim.enabled

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
        from pimsim import __version__

        snn = self.rows["snn_pim"]
        return plain({
            "rows": [{"system": k, **r.per_inference} for k, r in self.rows.items()],
            "ratios": self.ratios(),
            "hw": self.config.name if self.config is not None else snn.hw,
            "trace": snn.trace,
            "trace_sha256": snn.trace_sha256,
            "pimsim_version": __version__,
            "config": self.config.model_dump() if self.config is not None else None,
        })


