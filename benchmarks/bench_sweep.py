"""Sweep throughput: configurations per second (not a timed test; prints a table).

    .venv/bin/python benchmarks/bench_sweep.py [--samples 1000] [--timesteps 5]

Cases, on a synthetic Salinas-geometry trace (pimsim.synth + pimsim.networks.scene_layers):

* cost-only: PIM ADC bits x rows per read x e_cell x DRAM energy (no kernel re-run), and a
  memory/leakage space where every layer cost is memoised;
* geometry: digital.pe_rows x pim.input_mode/dac_bits x adc_bits (kernels per geometry),
  cold (empty statistics cache) and warm (statistics from the on-disk cache);
each with --jobs 1 and --jobs 2, and the cost-only cases once more with the scalar evaluator
(``*``). ``rate`` counts evaluated configurations over the whole sweep's wall clock (loading,
planning, statistics, evaluation, CSV); ``cpu`` over this process's CPU time (a fair per-core
figure on a loaded machine, jobs 1); ``eval`` over the evaluation phase only. Every case
starts with empty evaluator memos.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HW = str(REPO / "hw_configs" / "45nm_pim.yaml")

COST_PIM = """\
parameters:
  pim.adc_bits: {start: 2, stop: 12, step: 1}
  pim.rows_per_read: [16, 32, 64, 128]
  pim.e_cell_j: {start: 1.0e-16, stop: 1.0e-15, num: 25}
  memory.dram_j_per_bit: {start: 5.0e-12, stop: 4.0e-11, num: 20}
"""
COST_MEM = """\
parameters:
  memory.dram_j_per_bit: {start: 5.0e-12, stop: 4.0e-11, num: 50}
  leakage.sram_w_per_bit: {start: 1.0e-10, stop: 1.0e-9, num: 50}
  memory.sram_write_factor: [1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0]
"""
GEOMETRY = """\
parameters:
  digital.pe_rows: [8, 16, 32, 64]
  pim.input_mode: [bit_serial, dac]
  pim.dac_bits: [1, 2, 4]
  pim.adc_bits: {start: 3, stop: 8, step: 1}
  tech.clock_hz: {start: 2.0e+8, stop: 1.0e+9, num: 5}
constraints:
  - not (pim.input_mode == 'bit_serial' and pim.dac_bits != 1)
"""


def _run(trace: str, space: str, out: str, jobs: int, cache: str,
         vectorized: bool = True) -> dict[str, float]:
    from pimsim.sweep import evaluate, run_sweep

    evaluate._EVALUATORS.clear()  # no memo carried over from an earlier case
    cpu0 = time.process_time()
    s = run_sweep(HW, [trace], space, out, jobs=jobs, overwrite=True, cache_dir=cache,
                  progress=False, log=lambda m: None, vectorized=vectorized)
    cpu = time.process_time() - cpu0
    return {"n": s.evaluated, "s": s.seconds, "rate": s.rate, "stats_s": s.stats_seconds,
            "eval_rate": s.evaluated / s.eval_seconds if s.eval_seconds else float("nan"),
            "cpu_rate": s.evaluated / cpu if jobs == 1 and cpu else float("nan"),
            "computed": s.stats_computed, "disk": s.stats_from_disk}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--timesteps", type=int, default=5)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    from pimsim.networks import scene_layers
    from pimsim.synth import synth_trace

    work = Path(args.workdir or tempfile.mkdtemp(prefix="pimsim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    trace = str(work / f"salinas_{args.samples}.npz")
    if not os.path.exists(trace):
        t0 = time.perf_counter()
        synth_trace(trace, scene_layers("salinas"), num_samples=args.samples,
                    timesteps=args.timesteps, seed=0)
        print(f"trace: {args.samples} samples, T={args.timesteps}, "
              f"written in {time.perf_counter() - t0:.1f} s")
    spaces = {}
    for name, text in (("cost_pim", COST_PIM), ("cost_mem", COST_MEM), ("geometry", GEOMETRY)):
        spaces[name] = str(work / f"{name}.yaml")
        Path(spaces[name]).write_text(text)
    cache = str(work / "stats")
    rows = []
    # warm the statistics of the cost-only spaces once: they are about arithmetic speed
    _run(trace, spaces["cost_mem"], str(work / "warm.csv"), 1, cache)
    for name in ("cost_pim", "cost_mem"):
        for jobs in (1, 2):
            r = _run(trace, spaces[name], str(work / f"{name}_{jobs}.csv"), jobs, cache)
            rows.append((name, jobs, "warm", r))
        r = _run(trace, spaces[name], str(work / f"{name}_scalar.csv"), 1, cache, False)
        rows.append((f"{name}*", 1, "warm", r))
    for jobs in (1, 2):
        shutil.rmtree(cache, ignore_errors=True)
        cold = _run(trace, spaces["geometry"], str(work / f"geo_cold_{jobs}.csv"), jobs, cache)
        rows.append(("geometry", jobs, "cold", cold))
        warm = _run(trace, spaces["geometry"], str(work / f"geo_warm_{jobs}.csv"), jobs, cache)
        rows.append(("geometry", jobs, "warm", warm))
    print(f"\n{'space':10s} {'jobs':>4s} {'stats':>5s} {'configs':>8s} {'wall s':>8s} "
          f"{'rate /s':>9s} {'cpu /s':>9s} {'eval /s':>9s} {'stats s':>8s} {'kernels':>7s} "
          f"{'disk':>5s}")
    for name, jobs, kind, r in rows:
        print(f"{name:10s} {jobs:4d} {kind:>5s} {r['n']:8.0f} {r['s']:8.2f} {r['rate']:9.0f} "
              f"{r['cpu_rate']:9.0f} {r['eval_rate']:9.0f} {r['stats_s']:8.2f} "
              f"{r['computed']:7.0f} {r['disk']:5.0f}")
    print("(* = scalar evaluator, vectorized=False; cpu /s = configurations per CPU second of "
          "this process, jobs 1)")
    geo = {(j, k): r for n, j, k, r in rows if n == "geometry"}
    for jobs in (1, 2):
        print(f"statistics cache speed-up, geometry sweep, jobs {jobs}: "
              f"{geo[(jobs, 'cold')]['s'] / geo[(jobs, 'warm')]['s']:.1f}x")
    print(f"jobs 2 vs 1, geometry cold: "
          f"{geo[(1, 'cold')]['s'] / geo[(2, 'cold')]['s']:.2f}x")
    print(f"(cpu cores here: {os.cpu_count()}; load average "
          f"{os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
