"""Benchmark of the `pimsim run` process on a 1,000-sample Salinas-geometry trace (T = 5).

    .venv/bin/python benchmarks/bench_run.py [--samples 1000] [--runs 5] [--rev HEAD]

Goals 1 and 4 of benchmarks/run_all.py, alone: the whole `pimsim run --hw
hw_configs/45nm_pim.yaml --trace T` process against a process that only loads T
(pimsim.trace.load_trace) and unpacks every layer's spikes (goal: at most 2x, warm Numba
cache, pairwise wall-time ratio), synaptic events and MACs per second of the run process
(counted by its own --json), and its peak resident memory against the trace's spikes at one
byte per spike. The synthetic trace (`pimsim trace synth --like salinas`) is written once
into benchmarks/.cache/ (git-ignored).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import BenchError, Row, Source, print_table
from run_all import goal_run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5, help="pairs of runs (after one warm-up pair)")
    ap.add_argument("--rev", default=None, help="run pimsim from this git revision")
    args = ap.parse_args(argv)
    src = Source(args.rev)
    try:
        rows = goal_run(src, args.samples, args.runs)
    except BenchError as e:
        rows = [Row("pimsim run", f"failed: {e}", "", "ERROR")]
    print(f"\npimsim run benchmark: {src.label}\n")
    print_table(rows)
    return 1 if any(r.status == "ERROR" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
