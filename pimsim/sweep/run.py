"""The sweep itself: plan the points, gather statistics, evaluate in batches, write results.

Phases of :func:`run_sweep`:

1. plan: constraints and validation once per distinct value (:mod:`pimsim.sweep.points`);
   the results file is checked for resumption (fingerprint and code versions) before
   anything is computed;
2. statistics: once per (trace, layer, geometry), from the disk cache or computed on the
   executor's workers (:mod:`pimsim.sweep.runners`);
3. evaluation in batches, each grouped by discrete values and costed by the one cost path
   (:mod:`pimsim.sweep.evaluate`), rows appended to the journal in bulk
   (:mod:`pimsim.sweep.results`), then the file is finalised sorted by point.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from pimsim.atomic import check_output_path
from pimsim.config import load_config, read_yaml
from pimsim.result import plain
from pimsim.shipped import resolve_config, resolve_space
from pimsim.simulate import file_sha256, needed_stats
from pimsim.stats_cache import DiskStatsCache, StatKey, StatsBundle, TraceView
from pimsim.sweep.errors import FORMAT_VERSION, SweepError
from pimsim.sweep.evaluate import Columns, EvalContext, discrete_keys, evaluate_batch
from pimsim.sweep.points import Grouped, PointBuilder, plan_points
from pimsim.sweep.results import Journal, RowFormatter, sweep_files
from pimsim.sweep.runners import (
    check_scheduler_address,
    gather_stats,
    open_executor,
    shared_traces,
)
from pimsim.sweep.space import flatten, load_space


def code_versions() -> dict[str, Any]:
    """Versions of the code whose numbers a results file holds (part of the fingerprint):
    ``pimsim.__version__``, :data:`pimsim.models.COST_MODEL_VERSION` and
    :data:`pimsim.activity.STATS_VERSION`."""
    import pimsim
    import pimsim.models
    from pimsim import activity

    return {"pimsim": pimsim.__version__, "cost_model": pimsim.models.COST_MODEL_VERSION,
            "stats": activity.STATS_VERSION}


@dataclass
class SweepSummary:
    """What a sweep did: rows written, points skipped (with reasons), timing."""

    out: str
    rows: int
    evaluated: int
    resumed: int
    skipped: list[tuple[int, str, str]]
    seconds: float
    stats_seconds: float
    stats_computed: int
    stats_from_disk: int
    workers: int
    #: seconds spent in the evaluation phase (batches, rows and appends)
    eval_seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Configurations evaluated per second (wall clock, whole sweep)."""
        return self.evaluated / self.seconds if self.seconds > 0 else float("inf")


class SweepProgress:
    """The one progress bar of a sweep, on stderr, in two phases: ``statistics`` (one step per
    statistic, read from the disk cache or computed by the kernels) then ``cost`` (one step per
    configuration). Outside a terminal it redraws at most every 30 s, so a CI log gets a few
    lines; ``enabled=False`` makes every call a no-op."""

    def __init__(self, stats_total: int, *, enabled: bool):
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
            self.bar = tqdm(total=stats_total, desc="statistics", unit="stat", file=sys.stderr,
                            dynamic_ncols=tty, mininterval=0.1 if tty else 30.0)

    def update(self, n: int) -> None:
        """Advance the current phase by ``n`` steps."""
        if self.bar is not None:
            self.bar.update(n)

    def phase(self, desc: str, total: int, *, unit: str) -> None:
        """Start the next phase: show the last one complete, then count ``total`` ``unit``."""
        if self.bar is not None:
            self.bar.refresh()
            self.bar.unit = unit
            self.bar.set_description_str(desc, refresh=False)
            self.bar.reset(total=total)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def _trace_label(paths: list[str]) -> list[str]:
    names = [Path(p).name for p in paths]
    return names if len(set(names)) == len(names) else list(paths)


def run_sweep(hw: str, traces: Sequence[str], space_file: str, out: str, *, jobs: int = 1,
              scheduler: str | None = None, overwrite: bool = False, accuracy: bool = False,
              read_noise_lsb: float = 0.0, noise_seed: int = 0, batch_size: int | None = None,
              cache_dir: str | None = None, disk_cache: bool = True, progress: bool = True,
              max_points: int | None = None,
              connect_timeout_s: float = 10.0, log: Callable[[str], None] | None = None
              ) -> SweepSummary:
    """Evaluate every point of a space on every trace into ``out`` (CSV or Parquet).

    Resumable (see :mod:`pimsim.sweep.results`); invalid points are skipped with their reason
    and listed in ``<out>.skipped.csv``. Returns a :class:`SweepSummary`.
    """
    from pimsim.api import load_trace

    t_start = time.perf_counter()
    say = log or (lambda s: print(s, file=sys.stderr))
    hw, space_file = resolve_config(hw), resolve_space(space_file)
    if jobs < 1:
        raise SweepError("--jobs must be >= 1", key="--jobs")
    if scheduler and jobs > 1:
        raise SweepError("give either --jobs or --scheduler, not both", key="--scheduler")
    if scheduler:
        check_scheduler_address(scheduler)
    for path in sweep_files(Path(out)):  # before any work: every file it may write
        check_output_path(path, key="--out", special=False)
    base = load_config(hw)
    raw = read_yaml(hw)
    space = load_space(space_file, base, max_points=max_points)
    trace_paths = list(traces) + space.traces
    if not trace_paths:
        raise SweepError("no trace: give --trace or a trace dimension in the space",
                         file=space_file, key="parameters.trace")
    loaded = [load_trace(p) for p in trace_paths]
    hashes = [t.content_hash() for t in loaded]
    labels = _trace_label(trace_paths)
    keys = space.keys
    key_index = {k: i for i, k in enumerate(keys)}

    # points: constraints, then validation (reasons kept)
    flat = flatten(base.model_dump())
    builder = PointBuilder(base, keys, file=space_file, raw=raw)
    plan = plan_points(space, base, builder)
    combos = plan.combos
    ntr = len(loaded)
    skipped: list[tuple[int, str, str]] = [
        (ci * ntr + ti, labels[ti], reason) for ci, reason in sorted(plan.reasons.items())
        for ti in range(ntr)]
    valid = [(ci, combos[ci]) for ci in plan.valid]
    if not valid:
        first = skipped[0][2] if skipped else "the space has no points"
        raise SweepError(f"no valid point in the space ({len(combos)} rejected; first: "
                         f"{first})", file=space_file, key="constraints" if space.constraints
                         else "parameters")
    enabled = plan.enabled(keys, builder)

    base_vals = tuple(flat[k] for k in keys)
    show_enabled = "pim.enabled" not in keys
    acc_opts = {"read_noise_lsb": read_noise_lsb, "seed": noise_seed} if accuracy else None
    base_hash = hashlib.sha256(json.dumps(base.model_dump(), sort_keys=True,
                                          default=str).encode()).hexdigest()
    columns = Columns(accuracy=accuracy)
    header = (["point", "trace", "config_hash", *keys]
              + (["pim.enabled"] if show_enabled else []) + ["is_base", *columns.metrics])
    versions = code_versions()
    fp_data = {"version": FORMAT_VERSION, "base": base_hash, "space": space.canonical(),
               "traces": hashes, "accuracy": acc_opts, "keys": keys, "header": header,
               "code": versions}
    fingerprint = hashlib.sha256(json.dumps(fp_data, sort_keys=True,
                                            default=str).encode()).hexdigest()
    meta = {"hw": hw, "space": space_file, "traces": trace_paths,
            "trace_sha256": [file_sha256(p) for p in trace_paths], "format": FORMAT_VERSION,
            "pimsim_version": versions["pimsim"], "versions": versions, "header": header,
            "config": plain(base.model_dump()), "rows_planned": len(valid) * ntr}
    outp = Path(out)
    journal = Journal(outp, header, fingerprint, meta, overwrite=overwrite)
    done = journal.done
    if journal.complete:
        side = Journal.read_sidecar(outp) or {}
        say(f"{out}: sweep already complete")
        return SweepSummary(out, int(side.get("rows", 0)), 0, int(side.get("rows", 0)),
                            skipped, time.perf_counter() - t_start, 0.0, 0, 0, 0)
    # tasks load traces by absolute path: a Dask worker may run in another folder
    task_paths = [str(Path(p).resolve()) for p in trace_paths]

    # statistics: once per (trace, geometry), from disk when cached
    disk = DiskStatsCache(cache_dir) if disk_cache else None
    views = [TraceView.of(t, h) for t, h in zip(loaded, hashes)]
    bundles = [StatsBundle(v) for v in views]
    need: list[set[StatKey]] = [set() for _ in loaded]
    pending: list[list[tuple[int, tuple[Any, ...]]]] = [[] for _ in loaded]
    valid_table = plan.table.take(plan.valid) if len(plan.valid) != plan.table.n else plan.table
    for ti, view in enumerate(views):
        stats_of = Grouped(lambda cfg, view=view: tuple(needed_stats(cfg, view)), key_index,
                           builder.build)
        per_group, inverse = stats_of.evaluate(valid_table)
        groups: set[int] = set()
        for j, (ci, values) in enumerate(valid):
            pid = ci * ntr + ti
            if pid not in done:
                pending[ti].append((pid, values))
                groups.add(int(inverse[j]))
        for g in groups:
            if isinstance(per_group[g], tuple):
                need[ti].update(per_group[g])
    n_pending = sum(len(p) for p in pending)
    t_stats = time.perf_counter()
    evaluated = 0
    new_skips: list[tuple[int, str, str]] = []
    bar = SweepProgress(sum(len(k) for k in need), enabled=progress)
    with bar, shared_traces(loaded, hashes), open_executor(
            jobs, scheduler, connect_timeout_s=connect_timeout_s) as (ex, workers):
        computed, from_disk = gather_stats(ex, bundles, need, task_paths, hashes, disk,
                                           done=bar.update)
        stats_s = time.perf_counter() - t_stats
        group_by = discrete_keys(keys, [v for _, v in valid])
        ctxs = [EvalContext(key=f"{fingerprint}:{ti}", base=base, keys=keys, file=space_file,
                            bundle=bundles[ti], columns=columns, group_by=group_by,
                            trace_path=task_paths[ti], accuracy=acc_opts, raw=raw)
                for ti in range(ntr)]
        if batch_size is None:
            batch_size = int(min(5000, max(50, n_pending // max(1, workers * 8))))
        t_eval = time.perf_counter()
        bar.phase("cost", n_pending, unit="cfg")
        rows_of = RowFormatter(combos, labels, base_hash, base_vals,
                               enabled if show_enabled else None)
        batches = iter([(ti, pending[ti][b0:b0 + batch_size]) for ti in range(ntr)
                        for b0 in range(0, len(pending[ti]), batch_size)])
        inflight: set[cf.Future[Any]] = set()
        notes: set[str] = set()

        def submit() -> None:  # a bounded window: rows reach the journal as batches finish
            for ti, items in batches:
                inflight.add(ex.submit(evaluate_batch, ctxs[ti], items))
                if len(inflight) >= 2 * workers:
                    return

        submit()
        while inflight:
            finished, _ = cf.wait(inflight, return_when=cf.FIRST_COMPLETED)
            failure: BaseException | None = None
            for fut in finished:  # every finished batch is journaled before a failure is raised
                inflight.discard(fut)
                try:
                    res = fut.result()
                except BaseException as exc:  # noqa: BLE001 - raised below
                    failure = failure or exc
                    continue
                for pid, reason in res.skipped:
                    new_skips.append((pid, labels[pid % ntr], reason or "invalid"))
                for note in res.notes:
                    if note not in notes:
                        notes.add(note)
                        say(f"note: {note}")
                lines = rows_of.lines(res.pids, res.metrics)
                journal.append(lines)
                evaluated += len(lines)
                bar.update(len(lines) + len(res.skipped))
            if failure is not None:
                raise failure
            submit()
    skipped += new_skips
    rows = journal.finalize({**meta, "skipped": len(skipped)}, skipped)
    now = time.perf_counter()
    return SweepSummary(out=out, rows=rows, evaluated=evaluated,
                        resumed=len(journal.done), skipped=skipped,
                        seconds=now - t_start, stats_seconds=stats_s,
                        stats_computed=computed, stats_from_disk=from_disk, workers=workers,
                        eval_seconds=now - t_eval)
