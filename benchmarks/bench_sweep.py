"""Sweep throughput of the `pimsim sweep` process: configurations per second, by case.

    .venv/bin/python benchmarks/bench_sweep.py [--samples 1000] [--runs 1] [--rev HEAD]

Cases, on a synthetic Salinas-geometry trace (`pimsim trace synth --like salinas`, cached in
benchmarks/.cache/), each a whole `pimsim sweep` process with --jobs 1 and --jobs 2:

* cost: the 25,000-point cost-only grid of benchmarks/run_all.py (no kernel re-run);
* memory: DRAM energy x SRAM leakage x SRAM write factor (8,000 points, cost-only);
* geometry: digital.pe_rows x pim.input_mode / dac_bits x adc_bits x clock (kernels per
  geometry), cold (empty statistics cache) and warm (statistics from the on-disk cache).

Columns: ``rate`` = configurations over the process's wall time; ``reported`` = the rate the
sweep prints (its own clock, after start-up and imports); ``cpu`` = over the process's CPU
seconds, children included (the per-core figure: every process runs with one thread);
``stats`` = layer statistics computed / read from the cache. Nothing but the command line is
used, so the cases follow the cost model as it changes; a case that fails prints its error.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (
    CACHE,
    BenchError,
    Source,
    reported_sweep_rate,
    synthetic_trace,
    time_commands,
)
from run_all import COST_SPACE

MEMORY = """\
strategy: grid
parameters:
  memory.dram_j_per_bit: {start: 5.0e-12, stop: 4.0e-11, num: 20}
  leakage.sram_w_per_bit: {start: 1.0e-10, stop: 1.0e-9, num: 50}
  memory.sram_write_factor: [1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0]
"""
GEOMETRY = """\
strategy: grid
parameters:
  digital.pe_rows: [8, 16, 32, 64]
  pim.input_mode: [bit_serial, dac]
  pim.dac_bits: [1, 2, 4]
  pim.adc_bits: {start: 3, stop: 8, step: 1}
  tech.clock_hz: {start: 2.0e+8, stop: 1.0e+9, num: 5}
constraints:
  - not (pim.input_mode == 'bit_serial' and pim.dac_bits != 1)
"""


def _num(pattern: str, text: str) -> int | None:
    m = re.findall(pattern, text)
    return int(m[-1]) if m else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=1, help="runs per case (median quoted)")
    ap.add_argument("--rev", default=None, help="run pimsim from this git revision")
    args = ap.parse_args(argv)
    src = Source(args.rev)
    trace = synthetic_trace(src, args.samples, log=lambda m: print(m, file=sys.stderr))
    work = CACHE / "bench_sweep"
    work.mkdir(parents=True, exist_ok=True)
    spaces = {"cost": COST_SPACE.format(n="25,000", cells=20), "memory": MEMORY,
              "geometry": GEOMETRY}
    for name, text in spaces.items():
        (work / f"{name}.yaml").write_text(text)
    stats = work / "stats"
    env = src.env(one_thread=True)

    def case(name: str, jobs: int, kind: str) -> tuple:
        out = work / f"{name}_{jobs}_{kind}.csv"

        def fresh() -> None:
            for q in (out, Path(f"{out}.skipped.csv"), Path(f"{out}.sweep.json")):
                q.unlink(missing_ok=True)
            if kind == "cold":
                shutil.rmtree(stats, ignore_errors=True)

        cmd = src.pimsim("sweep", "--hw", src.hw(), "--trace", str(trace), "--space",
                         str(work / f"{name}.yaml"), "--out", str(out), "--overwrite",
                         "--jobs", str(jobs), "--cache-dir", str(stats), "--no-progress")
        try:
            t = time_commands(cmd, runs=args.runs, warmup=0, env=env, cwd=src.root,
                              keep_output=True, before=fresh)
        except BenchError as e:
            return (name, jobs, kind, f"failed: {str(e)[-120:]}")
        text = t.a[-1].output
        n = _num(r"\((\d+) evaluated now", text) or 0
        rep = [r for r in (reported_sweep_rate(x.output) for x in t.a) if r is not None]
        return (name, jobs, kind, n, t.wall().median, n / t.wall().median,
                statistics.median(rep) if rep else float("nan"), n / t.cpu().median,
                _num(r"statistics: (\d+) computed", text),
                _num(r"computed, (\d+) from cache", text))

    rows = []
    # one untimed warm-up sweep: the cost-only cases are about arithmetic, not statistics
    case("memory", 1, "warm")
    for name in ("cost", "memory"):
        for jobs in (1, 2):
            rows.append(case(name, jobs, "warm"))
    for jobs in (1, 2):
        rows.append(case("geometry", jobs, "cold"))
        rows.append(case("geometry", jobs, "warm"))
    print(f"\npimsim sweep throughput: {src.label}, trace {trace.name}\n")
    print(f"{'space':9s} {'jobs':>4s} {'stats':>5s} {'configs':>8s} {'wall s':>7s} "
          f"{'rate /s':>9s} {'reported':>9s} {'cpu /s':>9s} {'stats':>11s}")
    for r in rows:
        if isinstance(r[3], str):
            print(f"{r[0]:9s} {r[1]:4d} {r[2]:>5s} {r[3]}")
            continue
        name, jobs, kind, n, wall, rate, rep, cpu, comp, disk = r
        print(f"{name:9s} {jobs:4d} {kind:>5s} {n:8d} {wall:7.2f} {rate:9,.0f} {rep:9,.0f} "
              f"{cpu:9,.0f} {f'{comp}/{disk}':>11s}")
    geo = {(r[1], r[2]): r for r in rows if r[0] == "geometry" and not isinstance(r[3], str)}
    for jobs in (1, 2):
        if (jobs, "cold") in geo and (jobs, "warm") in geo:
            print(f"statistics cache speed-up, geometry, jobs {jobs}: "
                  f"{geo[(jobs, 'cold')][4] / geo[(jobs, 'warm')][4]:.1f}x")
    return 1 if any(isinstance(r[3], str) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
