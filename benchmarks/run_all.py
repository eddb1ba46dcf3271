"""pimsim as a user feels it: whole processes, timed side by side, one table of goals.

    .venv/bin/python benchmarks/run_all.py            # about 4 minutes on 2 cores
    .venv/bin/python benchmarks/run_all.py --quick    # fewer runs, about 1.5 minutes
    .venv/bin/python benchmarks/run_all.py --rev HEAD # pimsim of a commit, not the work tree

Goals (each a whole process, its interpreter start-up and imports included):

1. ``pimsim run --hw hw_configs/45nm_pim.yaml --trace T`` on a 1,000-sample Salinas-geometry
   synthetic trace (``pimsim trace synth --like salinas --samples 1000``) takes at most 2x a
   process that only loads T with ``pimsim.trace.load_trace`` and ``np.unpackbits`` every
   layer's packed spikes; warm Numba cache; ratio of wall times, pair by pair.
2. ``pimsim sweep --jobs 1`` over 25,000 cost-only points (the grid of
   hw_configs/sweeps/cost_numeric.yaml: add energy x clock x DRAM energy x ADC bits x cell
   energy), statistics already cached: at least 10,000 configurations/s on one
   core, both as the sweep reports it and over the whole process. Also the marginal rate,
   (25,000 - 2,500) points over the wall-time difference of a 25,000- and a 2,500-point
   sweep, which leaves out every fixed cost.
3. ``pimsim run`` on a 64-sample trace of the same geometry at least 20x faster than
   ZigZag's evaluation of the same layers (benchmarks/zigzag_hybridsn.py; skipped when
   ZigZag is not installed).
4. For information: synaptic events and MACs per second of the ``pimsim run`` process, its
   peak resident memory against the trace's spikes at one byte per spike.

Pairs of commands run in turn (A B A B ...) and ratios are taken pair by pair; medians are
quoted. Traces, the ZigZag workload and the sweep's statistics cache live in
benchmarks/.cache/ (git-ignored). pimsim is driven only through its command line and
pimsim.trace. A goal whose pimsim command fails (work in progress) reports ERROR with the
command's last output line, and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (
    BENCH,
    CACHE,
    REPO,
    BenchError,
    Row,
    Source,
    floor_command,
    print_table,
    reported_sweep_rate,
    run_process,
    synthetic_trace,
    time_commands,
    unpacked_spike_bytes,
    verdict,
)

ZIGZAG_SCRIPT = BENCH / "zigzag_hybridsn.py"

#: cost-only keys (no kernel re-run), the grid of hw_configs/sweeps/cost_numeric.yaml:
#: 5 x 5 x 10 x 5 x 20 = 25,000 points; with 2 cell energies instead of 20, 2,500 points
COST_SPACE = """\
# benchmarks/run_all.py: cost-only keys, {n} points
strategy: grid
parameters:
  ops.int_add_8b_j: {{start: 0.02e-12, stop: 0.04e-12, num: 5}}
  tech.clock_hz: {{start: 2.0e+8, stop: 1.0e+9, num: 5}}
  memory.dram_j_per_bit: {{start: 5.0e-12, stop: 4.0e-11, num: 10}}
  pim.adc_bits: {{start: 4, stop: 8, step: 1}}
  pim.e_cell_j: {{start: 1.0e-16, stop: 1.0e-15, num: {cells}}}
"""
SPACE_BIG = 25_000
SPACE_SMALL = 2_500


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _err(e: Exception) -> str:
    return str(e)[-150:]


# ----------------------------------------------------------------------------- goal 1 and 4
def goal_run(src: Source, samples: int, runs: int) -> list[Row]:
    log(f"[1] pimsim run vs load + unpack, {samples} samples")
    trace = synthetic_trace(src, samples, log=log)
    run_cmd = src.pimsim("run", "--hw", src.hw(), "--trace", str(trace))
    t = time_commands(run_cmd, floor_command(src, trace), runs=runs, warmup=1,
                      env=src.env(), cwd=src.root)  # the warm-up pair warms the Numba cache
    ratio = t.ratio()
    rows = [
        Row(f"pimsim run, {samples} samples: wall", t.wall("a").fmt()),
        Row("load + unpack floor: wall", t.wall("b").fmt()),
        Row("pimsim run / floor, wall (pairwise)", f"{ratio.median:.2f}x "
            f"(min {ratio.min:.2f}, max {ratio.max:.2f})", "<= 2x", verdict(ratio.median <= 2)),
        Row("pimsim run / floor, cpu (pairwise)", f"{t.ratio('cpu_s').median:.2f}x"),
    ]
    # goal 4: events of the run (its own --json), over the run process's wall time
    out = CACHE / f"run_{samples}.json"
    try:
        run_process(run_cmd + ["--json", str(out)], env=src.env(), cwd=src.root)
        layers = json.loads(out.read_text())["layers"]
        syn = sum(x["ops"].get("synaptic_ops", 0) for x in layers)
        macs = sum(x["ops"].get("macs", 0) for x in layers)
        wall = t.wall("a").median
        rows += [Row("synaptic events / s of the run process", f"{syn / wall:.3g}"),
                 Row("events + MACs / s of the run process", f"{(syn + macs) / wall:.3g}")]
    except (BenchError, KeyError, ValueError, TypeError) as e:
        rows.append(Row("events / s of the run process", f"n/a: {_err(e)}", "", "ERROR"))
    unpacked = unpacked_spike_bytes(trace) / 2**20
    peak = t.peak("a").median
    rows += [Row("peak RSS of pimsim run / of the floor",
                 f"{peak:.0f} / {t.peak('b').median:.0f} MiB"),
             Row("peak RSS of pimsim run / spikes at 1 B each",
                 f"{peak / unpacked:.2f} ({unpacked:.0f} MiB unpacked)")]
    return rows


# ----------------------------------------------------------------------------- goal 2
def goal_sweep(src: Source, samples: int, runs: int) -> list[Row]:
    log(f"[2] pimsim sweep, {SPACE_BIG:,} cost-only points, --jobs 1")
    trace = synthetic_trace(src, samples, log=log)
    spaces, outs, cmds = {}, {}, {}
    for n, cells in ((SPACE_BIG, 20), (SPACE_SMALL, 2)):
        spaces[n] = CACHE / f"sweep_cost_{n}.yaml"
        spaces[n].write_text(COST_SPACE.format(n=f"{n:,}", cells=cells))
        outs[n] = CACHE / f"sweep_cost_{n}.csv"
        cmds[n] = src.pimsim("sweep", "--hw", src.hw(), "--trace", str(trace),
                             "--space", str(spaces[n]), "--out", str(outs[n]), "--overwrite",
                             "--jobs", "1", "--cache-dir", str(CACHE / "stats"),
                             "--no-progress")

    def fresh() -> None:  # no resuming from an earlier run's rows
        for p in outs.values():
            for q in (p, Path(f"{p}.skipped.csv"), Path(f"{p}.sweep.json")):
                q.unlink(missing_ok=True)

    # warm-up pair: fills the statistics cache (cost-only points need no kernel re-run)
    t = time_commands(cmds[SPACE_BIG], cmds[SPACE_SMALL], runs=runs, warmup=1,
                      env=src.env(one_thread=True), cwd=src.root, keep_output=True,
                      before=fresh)
    n = _evaluated(t.a[-1].output) or SPACE_BIG
    n_small = _evaluated(t.b[-1].output) or SPACE_SMALL
    reported = [r for r in (reported_sweep_rate(x.output) for x in t.a) if r is not None]
    wall, cpu = t.wall("a").median, t.cpu("a").median
    diff = t.diff().median
    rows = []
    skipped = _skipped(t.a[-1].output)
    if n < 20_000 or skipped:
        rows.append(Row("sweep points evaluated (skipped)", f"{n:,} ({skipped:,})",
                        ">= 20,000", verdict(n >= 20_000)))
    if reported:
        rep = sorted(reported)[len(reported) // 2]
        rows.append(Row(f"sweep {n:,} pts, jobs 1: rate it reports", f"{rep:,.0f} /s",
                        ">= 10,000 /s", verdict(rep >= 10_000)))
    else:
        rows.append(Row(f"sweep {n:,} pts, jobs 1: rate it reports", "not printed", "", "info"))
    rows += [
        Row(f"sweep {n:,} pts, jobs 1: whole process", f"{n / wall:,.0f} /s ({t.wall().fmt()})",
            ">= 10,000 /s", verdict(n / wall >= 10_000)),
        Row("sweep, per CPU second of the process", f"{n / cpu:,.0f} /s"),
        Row(f"sweep marginal rate ({n:,} - {n_small:,} pts)",
            f"{(n - n_small) / diff:,.0f} /s" if diff > 0 else "n/a (no difference)"),
    ]
    return rows


def _skipped(output: str) -> int:
    import re

    m = re.findall(r"skipped (\d+) point", output)
    return int(m[-1]) if m else 0


def _evaluated(output: str) -> int | None:
    import re

    m = re.findall(r"\((\d+) evaluated now", output)
    return int(m[-1]) if m else None


# ----------------------------------------------------------------------------- goal 3
def zigzag_python() -> str | None:
    """An interpreter that imports zigzag: $ZIGZAG_PYTHON, ~/.cache/pimsim/zigzag-venv, or ours."""
    venv = Path.home() / ".cache" / "pimsim" / "zigzag-venv"  # outside the checkout
    candidates = [os.environ.get("ZIGZAG_PYTHON"), str(venv / "bin" / "python"),
                  sys.executable]
    for py in candidates:
        if py and Path(py).exists():
            ok = subprocess.run([py, "-c", "import zigzag.api"], capture_output=True,
                                check=False)
            if ok.returncode == 0:
                return py
    return None


def zigzag_version(py: str) -> str:
    r = subprocess.run([py, "-c", ("from importlib.metadata import version; "
                        "print(version('zigzag-dse'))")], capture_output=True,
                       text=True, check=False)
    return r.stdout.strip() or "?"


def goal_zigzag(src: Source, samples: int, runs: int, batch: int | None,
                pipeline: str) -> list[Row]:
    log(f"[3] pimsim run vs ZigZag, {samples} samples")
    py = zigzag_python()
    if py is None:
        return [Row("ZigZag / pimsim run, wall", "skipped (zigzag not installed)", ">= 20x",
                    "SKIP")]
    trace = synthetic_trace(src, samples, log=log)
    tag = "ST" if batch is None else str(batch)
    workload = CACHE / f"zigzag_{trace.stem}_B{tag}.yaml"
    made = run_process([src.python, str(ZIGZAG_SCRIPT), "workload", str(trace), str(workload)]
                       + ([] if batch is None else ["--batch", str(batch)]),
                       env=src.env(), cwd=src.root, keep_output=True)
    info = json.loads(made.output.strip().splitlines()[-1])
    run_cmd = src.pimsim("run", "--hw", src.hw(), "--trace", str(trace))
    run_process(run_cmd, env=src.env(), cwd=src.root)  # Numba cache warm for this trace
    zz_cmd = [py, str(ZIGZAG_SCRIPT), "evaluate", str(workload), "--pipeline", pipeline]
    t = time_commands(zz_cmd, run_cmd, runs=runs, warmup=0, env=src.env(), cwd=REPO,
                      keep_output=True)
    ratio = t.ratio()
    zz = json.loads(t.a[-1].output.strip().splitlines()[-1])
    return [
        Row(f"ZigZag {zigzag_version(py)} ({pipeline}), {info['layers']} layers, "
            f"batch {info['batch']}: wall", t.wall("a").fmt()),
        Row(f"pimsim run, {samples} samples: wall", t.wall("b").fmt()),
        Row("ZigZag / pimsim run, wall (pairwise)",
            f"{ratio.median:.1f}x (min {ratio.min:.1f}, max {ratio.max:.1f})", ">= 20x",
            verdict(ratio.median >= 20)),
        Row("ZigZag: time inside its API call", f"{zz['zigzag_call_s']:.2f} s"),
    ]


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--quick", action="store_true", help="fewer runs (3 / 2 / 1)")
    ap.add_argument("--runs", type=int, default=None, help="pairs of runs for goals 1 and 2")
    ap.add_argument("--zigzag-runs", type=int, default=None, help="pairs of runs for goal 3")
    ap.add_argument("--only", action="append", choices=["run", "sweep", "zigzag"],
                    help="run only this goal (repeatable)")
    ap.add_argument("--rev", default=None,
                    help="run pimsim from this git revision (a snapshot in benchmarks/.cache)")
    ap.add_argument("--samples", type=int, default=1000, help="samples of goals 1, 2 and 4")
    ap.add_argument("--zigzag-samples", type=int, default=64)
    ap.add_argument("--zigzag-batch", type=int, default=1,
                    help="ZigZag batch: 1 = one dense pass (default); 0 = samples x time steps")
    ap.add_argument("--zigzag-pipeline", choices=["api", "lean"], default="api",
                    help="api: zigzag.api.get_hardware_performance_zigzag; lean: without "
                         "its result-saving and visualization stages")
    ap.add_argument("--json", default=None, help="also write the table here as JSON")
    args = ap.parse_args(argv)
    runs = args.runs or (3 if args.quick else 5)
    sweep_runs = args.runs or (2 if args.quick else 3)
    zz_runs = args.zigzag_runs or (1 if args.quick else 3)
    goals = args.only or ["run", "sweep", "zigzag"]

    t0 = time.perf_counter()
    src = Source(args.rev)
    log(f"pimsim: {src.label}; python {sys.version.split()[0]}; {os.cpu_count()} cpus; "
        f"load {os.getloadavg()[0]:.1f}")
    rows: list[Row] = []
    for goal in goals:
        try:
            if goal == "run":
                rows += goal_run(src, args.samples, runs)
            elif goal == "sweep":
                rows += goal_sweep(src, args.samples, sweep_runs)
            else:
                rows += goal_zigzag(src, args.zigzag_samples, zz_runs,
                                    None if args.zigzag_batch == 0 else args.zigzag_batch,
                                    args.zigzag_pipeline)
        except BenchError as e:
            rows.append(Row(f"goal '{goal}'", f"failed: {_err(e)}", "", "ERROR"))
    print(f"\npimsim benchmarks: {src.label}, {os.cpu_count()} cpus, "
          f"{time.perf_counter() - t0:.0f} s\n")
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in rows], indent=1))
    return 1 if any(r.status == "ERROR" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
