"""Where sweep tasks run: inline (``--jobs 1``), a local process pool, or a Dask cluster.

Also the statistics phase: the activity statistics a sweep needs, one task per
(trace, layer, geometry), read from the on-disk cache when present, else computed by the
Numba kernels on the executor's workers (local processes inherit the loaded traces by fork).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pimsim.stats_cache import DiskStatsCache, StatKey, StatsBundle, compute_stat
from pimsim.sweep.errors import SweepError
from pimsim.sweep.evaluate import _TRACES


def compute_stats_task(path: str, content_hash: str, key: StatKey) -> tuple[StatKey, Any]:
    """Worker task: one statistic, loading the trace (once per process) from ``path``."""
    from pimsim.trace import load_trace

    tr = _TRACES.get(content_hash)
    if tr is None:
        tr = _TRACES[content_hash] = load_trace(path)
    return key, compute_stat(tr, key)


@contextlib.contextmanager
def shared_traces(traces: Sequence[Any], hashes: Sequence[str]) -> Iterator[None]:
    """Make loaded traces visible to the tasks of this process and of workers forked inside
    the block (no worker reloads a trace this process holds); forgotten afterwards."""
    added = [h for h in hashes if h not in _TRACES]
    for tr, h in zip(traces, hashes):
        _TRACES.setdefault(h, tr)
    try:
        yield
    finally:
        for h in added:
            _TRACES.pop(h, None)


def _cost_rank(bundle: StatsBundle, key: StatKey) -> tuple[int, Any]:
    """Larger kernels first (input size x positions), for a balanced pool."""
    kind, name, _ = key
    spec = bundle.view.layer(name)
    work = spec.in_size * max(1, spec.out_positions) if kind == "layer" else spec.in_size
    return (-work, key)


def gather_stats(ex: cf.Executor, bundles: list[StatsBundle], need: list[set[StatKey]],
                 paths: Sequence[str], hashes: Sequence[str], disk: DiskStatsCache | None,
                 done: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Fill ``bundles`` with the ``need``-ed statistics; returns (computed, from disk).

    ``done(n)`` is called as statistics arrive (``n`` of them), for a progress bar. On a local
    process pool, the smallest task of each kernel family (statistics kind x layer input) runs
    here first, before the workers are forked: the kernels are compiled or loaded from Numba's
    cache once, in this process, and every worker inherits them (and the compile notice,
    :mod:`pimsim.jit`, is printed once).
    """
    computed = from_disk = 0
    tasks: list[tuple[int, StatKey]] = []
    for ti, keyset in enumerate(need):
        for key in sorted(keyset, key=lambda k, b=bundles[ti]: _cost_rank(b, k)):
            hit = disk.get(hashes[ti], key) if disk else None
            if hit is not None:
                bundles[ti].stats[key] = hit
                from_disk += 1
            else:
                tasks.append((ti, key))
    if from_disk and done:
        done(from_disk)

    def store(ti: int, key: StatKey, value: Any) -> None:
        nonlocal computed
        bundles[ti].stats[key] = value
        computed += 1
        if disk:
            disk.put(hashes[ti], key, value)
        if done:
            done(1)

    if isinstance(ex, cf.ProcessPoolExecutor) and len(tasks) > 1:
        first: dict[tuple[str, str], tuple[int, StatKey]] = {}
        for ti, key in tasks:  # biggest first, so the last one seen is the smallest
            first[(key[0], bundles[ti].view.layer(key[1]).input)] = (ti, key)
        for ti, key in first.values():
            store(ti, key, compute_stats_task(paths[ti], hashes[ti], key)[1])
        here = set(first.values())
        tasks = [t for t in tasks if t not in here]
    futs = {ex.submit(compute_stats_task, paths[ti], hashes[ti], key): ti for ti, key in tasks}
    for fut in cf.as_completed(futs):
        key, value = fut.result()
        store(futs[fut], key, value)
    return computed, from_disk


class InlineExecutor(cf.Executor):
    """Runs tasks synchronously in this process (``--jobs 1``): same interface as a pool."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        fut: cf.Future[Any] = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future
            fut.set_exception(exc)
        return fut


@contextlib.contextmanager
def open_executor(jobs: int, scheduler: str | None, *, connect_timeout_s: float = 10.0
                  ) -> Iterator[tuple[cf.Executor, int]]:
    """(executor, worker count): inline, a local process pool, or a Dask cluster's executor."""
    if scheduler:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - core dependency
            raise SweepError(f"dask.distributed is not installed ({exc})", key="--scheduler")
        try:
            client = Client(scheduler, timeout=f"{connect_timeout_s}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SweepError(f"cannot reach the Dask scheduler ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'no answer'}); start "
                             "one with `dask scheduler` and workers with `dask worker ADDRESS`",
                             file=scheduler, key="--scheduler") from None
        try:
            workers = max(1, sum(client.nthreads().values()))
            ex = client.get_executor(pure=False)
            yield ex, workers
        finally:
            client.close()
        return
    if jobs > 1:
        import multiprocessing as mp

        ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            yield pool, jobs
        return
    yield InlineExecutor(), 1

