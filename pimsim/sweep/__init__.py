"""Design-space sweeps (docs/exploration.md): spaces, point evaluation, resumable results, runners.

Modules, each importing only those above it:

* :mod:`~pimsim.sweep.errors`: ``SweepError`` and the results format version;
* :mod:`~pimsim.sweep.constraints`: restricted boolean expressions over config keys;
* :mod:`~pimsim.sweep.space`: dimensions, ranges, distributions, strategies, the space YAML;
* :mod:`~pimsim.sweep.recorder`: a config proxy that records the keys a model reads;
* :mod:`~pimsim.sweep.points`: lean config builder, grouping of points, the point plan;
* :mod:`~pimsim.sweep.evaluate`: batches grouped by discrete values, each group costed by the
  one cost path (:func:`pimsim.simulate.layer_costs` over config columns); the worker task;
* :mod:`~pimsim.sweep.results`: resumable CSV/Parquet journal, sidecar, row formatting;
* :mod:`~pimsim.sweep.runners`: inline / process-pool / Dask executors, statistics phase;
* :mod:`~pimsim.sweep.run`: :func:`run_sweep`, which puts them together.
"""

from __future__ import annotations

from pimsim.sweep.constraints import Constraint
from pimsim.sweep.errors import FORMAT_VERSION, SweepError
from pimsim.sweep.evaluate import (
    ENGINES,
    SCALAR_KEYS,
    STATISTICS_KEYS,
    BatchEvaluator,
    BatchResult,
    Columns,
    EvalContext,
    discrete_keys,
    evaluate_batch,
    metric_matrix,
)
from pimsim.sweep.points import Grouped, Plan, PointBuilder, PointTable, plan_points
from pimsim.sweep.recorder import recorded
from pimsim.sweep.results import Journal, RowFormatter
from pimsim.sweep.run import SweepSummary, code_versions, run_sweep
from pimsim.sweep.runners import InlineExecutor, compute_stats_task, open_executor
from pimsim.sweep.space import (
    DISTRIBUTIONS,
    STRATEGIES,
    Dimension,
    Space,
    flatten,
    load_space,
    parse_dimension,
)

__all__ = [
    "DISTRIBUTIONS", "ENGINES", "FORMAT_VERSION", "SCALAR_KEYS", "STATISTICS_KEYS",
    "STRATEGIES", "BatchEvaluator", "BatchResult", "Columns", "Constraint", "Dimension",
    "EvalContext", "Grouped", "InlineExecutor", "Journal", "Plan", "PointBuilder", "PointTable",
    "RowFormatter", "Space", "SweepError", "SweepSummary", "code_versions",
    "compute_stats_task", "discrete_keys", "evaluate_batch", "flatten", "load_space",
    "metric_matrix", "open_executor", "parse_dimension", "plan_points", "recorded",
    "run_sweep",
]
