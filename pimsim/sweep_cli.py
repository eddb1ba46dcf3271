"""Click commands ``pimsim sweep``, ``pimsim pareto`` and ``pimsim report`` (design.md §5).

They are registered by :mod:`pimsim.cli`; each is a thin layer over :mod:`pimsim.sweep`,
:mod:`pimsim.pareto` and :mod:`pimsim.html_report`. Errors are :class:`PimsimError` (one line,
exit status 2).
"""

from __future__ import annotations

import click

from pimsim.errors import PimsimError

#: Output paths: checked by pimsim.atomic before any work (one-line errors), not by click.
OUT_PATH = click.Path()


def _warn(message: str) -> None:
    click.echo(f"pimsim: warning: {message}", err=True)


@click.command("sweep")
@click.option("--hw", required=True, type=click.Path(dir_okay=False),
              help="base hardware YAML, or a shipped config's name (pimsim configs)")
@click.option("--trace", "traces", multiple=True, type=click.Path(dir_okay=False),
              help="trace .npz (repeatable: a trace dimension)")
@click.option("--space", required=True, type=click.Path(dir_okay=False),
              help="sweep space YAML, or a shipped space's name (pimsim configs --spaces)")
@click.option("--out", required=True, type=OUT_PATH,
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
@click.option("--max-points", type=click.IntRange(min=1), default=None,
              help="refuse a space with more points than this (before constraints); default: "
                   "the space's max_points: key, else 1,000,000")
def sweep_cmd(hw: str, traces: tuple[str, ...], space: str, out: str, jobs: int,
              scheduler: str | None, overwrite: bool, accuracy: bool, read_noise: float,
              noise_seed: int, batch_size: int | None, cache_dir: str | None,
              no_disk_cache: bool, progress: bool, connect_timeout: float,
              max_points: int | None) -> None:
    """Evaluate a design space: one CSV row per (configuration, trace); resumable."""
    from pimsim.sweep import run_sweep

    s = run_sweep(hw, list(traces), space, out, jobs=jobs, scheduler=scheduler,
                  overwrite=overwrite, accuracy=accuracy, read_noise_lsb=read_noise,
                  noise_seed=noise_seed, batch_size=batch_size, cache_dir=cache_dir,
                  disk_cache=not no_disk_cache, progress=progress,
                  connect_timeout_s=connect_timeout, max_points=max_points,
                  log=lambda m: click.echo(m, err=True))
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


@click.command("pareto")
@click.argument("results", type=click.Path(dir_okay=False))
@click.option("--x", "x", default="delay_s", show_default=True,
              help="objective on the x axis (minimised; max:COL to maximise)")
@click.option("--y", "y", default="energy_j", show_default=True, help="objective on the y axis")
@click.option("--z", "z", default=None,
              help="optional third objective (the front is over all three; plotted: x, y)")
@click.option("--out", required=True, type=OUT_PATH,
              help="plot file (.png; an .svg with hover text is written beside it, or vice "
                   "versa); one panel per trace")
@click.option("--front-csv", type=OUT_PATH,
              help="write the front rows (every configuration, per trace) as CSV")
@click.option("--color-by", default=None, help="colour all points by this column")
def pareto_cmd(results: str, x: str, y: str, z: str | None, out: str, front_csv: str | None,
               color_by: str | None) -> None:
    """Non-dominated set of a sweep per trace over two or three objectives, and its plot."""
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from pimsim.atomic import atomic_write_text, check_output_path
    from pimsim.pareto import check_columns, parse_objective, read_results
    from pimsim.pareto_plot import plot_fronts

    plot = Path(out)
    other = plot.with_suffix(".svg" if plot.suffix.lower() != ".svg" else ".png")
    for path, key in ((plot, "--out"), (other, "--out"), (front_csv, "--front-csv")):
        if path:
            check_output_path(path, key=key)
    objs = [parse_objective(x), parse_objective(y)] + ([parse_objective(z)] if z else [])
    df = read_results(results, numeric=[o.column for o in objs], warn=_warn)
    check_columns(df, [o.column for o in objs] + ([color_by] if color_by else []),
                  file=results)
    if len({o.column for o in objs}) != len(objs):
        raise PimsimError("objectives must be different columns", file=results, key="--x/--y")
    vals = df[[o.column for o in objs]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    if not np.isfinite(vals).all(axis=1).any():
        raise PimsimError("no row has finite numeric values of every objective", file=results,
                          key=",".join(o.column for o in objs))
    written, panels = plot_fronts(df, objs, out, color_by=color_by)
    if front_csv:
        front = pd.concat([p.front for p in panels])
        atomic_write_text(front_csv, front.to_csv(index=False), key="--front-csv")
        written.append(front_csv)
    per = "; ".join(f"{p.label}: {len(p.merged)} distinct points ({len(p.front)} of "
                    f"{len(p.rows)} rows)" for p in panels)
    click.echo(f"front over {', '.join(o.label for o in objs)}: {per}; wrote "
               f"{', '.join(written)}")


@click.command("report")
@click.argument("results", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=OUT_PATH,
              help="directory for index.html (self-contained) and the plots")
@click.option("--title", default=None)
def report_cmd(results: str, out: str, title: str | None) -> None:
    """One self-contained HTML page: per trace, the best EDP point against the base config,
    its energy per layer and component and its area (re-simulated from the sweep's sidecar),
    and the merged Pareto front; then the sensitivity of EDP to each swept key."""
    from pathlib import Path

    from pimsim.atomic import check_output_dir, check_output_path
    from pimsim.html_report import write_report

    check_output_dir(out, key="--out")
    for name in ("index.html", "front.png", "front.svg"):
        check_output_path(Path(out) / name, key="--out")
    path = write_report(results, out, title=title, warn=_warn)
    click.echo(f"wrote {path}")


__all__ = ["PimsimError", "pareto_cmd", "report_cmd", "sweep_cmd"]
