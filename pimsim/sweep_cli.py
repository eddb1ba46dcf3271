"""Click commands ``pimsim sweep``, ``pimsim pareto`` and ``pimsim report`` (design.md §5).

They are registered by :mod:`pimsim.cli`; each is a thin layer over :mod:`pimsim.sweep`,
:mod:`pimsim.pareto` and :mod:`pimsim.html_report`. Errors are :class:`PimsimError` (one line,
exit status 2).
"""

from __future__ import annotations

import click

from pimsim.errors import PimsimError


@click.command("sweep")
@click.option("--hw", required=True, type=click.Path(dir_okay=False), help="base hardware YAML")
@click.option("--trace", "traces", multiple=True, type=click.Path(dir_okay=False),
              help="trace .npz (repeatable: a trace dimension)")
@click.option("--space", required=True, type=click.Path(dir_okay=False), help="sweep space YAML")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="results .csv (or .parquet)")
@click.option("--jobs", type=int, default=1, show_default=True, help="local worker processes")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask scheduler")
@click.option("--overwrite", "--force", "overwrite", is_flag=True,
              help="replace a results file from another sweep instead of refusing")
@click.option("--accuracy", is_flag=True,
              help="add an accuracy column: functional replay with first-layer PIM "
                   "non-idealities (needs traces that carry their full network)")
@click.option("--read-noise", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Gaussian read noise of a PIM column, sigma in ADC LSBs (with --accuracy)")
@click.option("--noise-seed", type=int, default=0, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), help="points per task and per append")
@click.option("--cache-dir", type=click.Path(file_okay=False),
              help="statistics cache (default $PIMSIM_CACHE_DIR or ~/.cache/pimsim/stats)")
@click.option("--no-disk-cache", is_flag=True, help="do not read or write the statistics cache")
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option("--connect-timeout", type=float, default=10.0, show_default=True,
              help="seconds to wait for the Dask scheduler")
def sweep_cmd(hw: str, traces: tuple[str, ...], space: str, out: str, jobs: int,
              scheduler: str | None, overwrite: bool, accuracy: bool, read_noise: float,
              noise_seed: int, batch_size: int | None, cache_dir: str | None,
              no_disk_cache: bool, progress: bool, connect_timeout: float) -> None:
    """Evaluate a design space: one CSV row per (configuration, trace); resumable."""
    from pimsim.sweep import run_sweep

    s = run_sweep(hw, list(traces), space, out, jobs=jobs, scheduler=scheduler,
                  overwrite=overwrite, accuracy=accuracy, read_noise_lsb=read_noise,
                  noise_seed=noise_seed, batch_size=batch_size, cache_dir=cache_dir,
                  disk_cache=not no_disk_cache, progress=progress,
                  connect_timeout_s=connect_timeout, log=lambda m: click.echo(m, err=True))
    msg = (f"{out}: {s.rows} rows ({s.evaluated} evaluated now, {s.resumed} resumed) in "
           f"{s.seconds:.2f} s, {s.rate:,.0f} configurations/s on {s.workers} worker(s); "
           f"statistics: {s.stats_computed} computed, {s.stats_from_disk} from cache")
    click.echo(msg)
    if s.skipped:
        reasons: dict[str, int] = {}
        for _, _, r in s.skipped:
            reasons[r] = reasons.get(r, 0) + 1
        click.echo(f"skipped {len(s.skipped)} point(s), listed in {out}.skipped.csv:", err=True)
        for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:5]:
            click.echo(f"  {n} x {r}", err=True)


__all__ = ["PimsimError", "sweep_cmd"]
