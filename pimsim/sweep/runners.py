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


#: What a lost Dask scheduler (or client connection) raises from a future or a wait.
RESUME_HINT = ("rows written so far are kept; run the same command again, e.g. with --jobs N "
               "instead of --scheduler, to resume")


def check_scheduler_address(address: str) -> None:
    """Raise SweepError at once for an address that cannot be a Dask scheduler's: an unknown
    scheme, no port, a port outside 1-65535 (``tcp://HOST:PORT``)."""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port
    from distributed.comm.registry import backends

    def bad(why: str) -> SweepError:
        return SweepError(f"{why}; expected a Dask scheduler address such as "
                          "tcp://127.0.0.1:8786", file=address, key="--scheduler")

    scheme = address.split("://", 1)[0] if "://" in address else "tcp"
    if scheme not in backends:
        raise bad(f"unknown scheme {scheme!r} (known: {', '.join(sorted(backends))})")
    if scheme == "inproc":
        return
    try:
        _, loc = parse_address(address)
        host, port = parse_host_port(loc)
    except (ValueError, TypeError) as exc:
        raise bad(f"not HOST:PORT ({exc})") from None
    if not host:
        raise bad("no host")
    if not 1 <= int(port) <= 65535:
        raise bad(f"port {port} is outside 1-65535")


def probe_scheduler(address: str, timeout_s: float) -> None:
    """Connect to ``address`` and complete Dask's handshake within ``timeout_s`` seconds, or
    raise ``TimeoutError``/``OSError``. (``distributed.Client`` waits for the handshake reply
    with no time limit, so a server that accepts TCP and never answers would hang it.)"""
    import asyncio
    import threading

    from distributed.comm import connect

    async def probe() -> None:
        comm = await connect(address, timeout=timeout_s)
        comm.abort()

    failure: list[BaseException] = []

    def target() -> None:
        try:
            # one second more than connect's own limit: a refused port is connect's OSError,
            # a silent server is this TimeoutError
            asyncio.run(asyncio.wait_for(probe(), timeout_s + 1.0))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            failure.append(exc)

    thread = threading.Thread(target=target, name="pimsim-scheduler-probe", daemon=True)
    thread.start()
    thread.join(timeout_s + 6.0)
    if thread.is_alive():
        raise TimeoutError("no answer")
    if failure:
        raise failure[0]


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask's own log records (a lost scheduler logs tracebacks) are not shown: the sweep says
    what happened in one line."""
    import logging

    names = [n for n in list(logging.root.manager.loggerDict)
             if n.split(".")[0] in ("distributed", "tornado")]
    loggers = [logging.getLogger(n) for n in {*names, "distributed", "tornado", "asyncio"}]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _lost(client: Any) -> bool:
    return getattr(client, "status", "running") != "running"


@contextlib.contextmanager
def _dask_executor(scheduler: str, connect_timeout_s: float
                   ) -> Iterator[tuple[cf.Executor, int]]:
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - core dependency
        raise SweepError(f"dask.distributed is not installed ({exc})", key="--scheduler")

    def unreachable(exc: BaseException) -> SweepError:
        if type(exc) is TimeoutError:  # the probe's limit (connect's own is an OSError)
            why = (f"no answer to Dask's handshake within {connect_timeout_s:g} s (is it a Dask "
                   "scheduler?); raise --connect-timeout if it is slow")
        else:
            text = str(exc).splitlines()[0] if str(exc) else "no answer"
            why = f"{type(exc).__name__}: {text}"
        return SweepError(f"cannot reach the Dask scheduler ({why}); start one with `dask "
                          "scheduler` and workers with `dask worker ADDRESS`", file=scheduler,
                          key="--scheduler")

    with _quiet_dask():
        try:
            probe_scheduler(scheduler, connect_timeout_s)
            client = Client(scheduler, timeout=f"{connect_timeout_s}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise unreachable(exc) from None
        try:
            workers = max(1, sum(client.nthreads().values()))
            # retries: a task whose worker died is run again on another one
            ex = client.get_executor(pure=False, retries=2)
            yield ex, workers
        except (cf.CancelledError, OSError, TimeoutError) as exc:
            if not _lost(client) and not isinstance(exc, cf.CancelledError):
                raise
            raise SweepError(f"lost the Dask scheduler mid-sweep ({type(exc).__name__}); "
                             f"{RESUME_HINT}", file=scheduler, key="--scheduler") from None
        finally:
            with contextlib.suppress(Exception):
                client.close(timeout=min(5.0, connect_timeout_s))


@contextlib.contextmanager
def open_executor(jobs: int, scheduler: str | None, *, connect_timeout_s: float = 10.0
                  ) -> Iterator[tuple[cf.Executor, int]]:
    """(executor, worker count): inline, a local process pool, or a Dask cluster's executor.

    Dask: the address is checked at once (:func:`check_scheduler_address`), the scheduler must
    answer within ``connect_timeout_s`` (:func:`probe_scheduler`), a task is retried twice when
    its worker is lost, and a scheduler lost mid-sweep is one :class:`SweepError` that says how
    to resume (rows already journaled are kept)."""
    if scheduler:
        check_scheduler_address(scheduler)
        with _dask_executor(scheduler, connect_timeout_s) as pair:
            yield pair
        return
    if jobs > 1:
        import multiprocessing as mp

        ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            yield pool, jobs
        return
    yield InlineExecutor(), 1

