"""Python API: load a config and a trace, simulate, get results (the CLI is a thin layer over it).

>>> from pimsim import api
>>> cfg = api.load_config("hw_configs/45nm_pim.yaml", {"pim.adc_bits": 5})
>>> trace = api.load_trace("traces/indian_pines.npz")
>>> result = api.simulate(cfg, trace)
>>> result.per_inference["edp_js"], result.to_dataframe()
"""

from __future__ import annotations

from pimsim.config import load_config
from pimsim.result import Comparison, Result
from pimsim.simulate import activity_cache, compare, layer_costs, simulate, simulate_cnn
from pimsim.trace import load_trace

__all__ = [
    "Comparison",
    "Result",
    "activity_cache",
    "compare",
    "layer_costs",
    "load_config",
    "load_trace",
    "simulate",
    "simulate_cnn",
]
