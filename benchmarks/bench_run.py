"""Benchmark of `pimsim run` on a 1,000-sample Salinas-geometry trace (T = 5).

Prints a table of:
1. wall time of the `pimsim run` command with a warm Numba cache (median of 3 runs);
2. simulated synaptic events per second per core (in-process `simulate`, fresh statistics);
3. simulation time / time to load and unpack the trace (the floor; goal <= 2);
4. peak resident memory of a run against the unpacked (one byte per spike) trace size.

Usage: python benchmarks/bench_run.py [--samples 1000] [--keep]
The synthetic trace is generated once into benchmarks/.cache/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "benchmarks" / ".cache"
HW = REPO / "hw_configs" / "45nm_pim.yaml"

# VmHWM (peak RSS of this process image, kB) rather than ru_maxrss, which survives fork+exec
_PEAK_SCRIPT = """
import sys
from pimsim.api import load_config, load_trace, simulate
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1])
cfg = load_config(sys.argv[1]); tr = load_trace(sys.argv[2])
base = hwm()
simulate(cfg, tr)
print(base, hwm())
"""


def make_trace(samples: int) -> Path:
    from pimsim.networks import scene_layers
    from pimsim.synth import synth_trace

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"salinas_synthetic_{samples}.npz"
    if not path.exists():
        synth_trace(str(path), scene_layers("salinas"), num_samples=samples, timesteps=5,
                    rates=[0.15, 0.1, 0.08, 0.05, 0.1, 0.1], seed=0,
                    dataset="salinas_synthetic", model="hybridsn_synthetic",
                    command="benchmarks/bench_run.py")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    args = ap.parse_args()

    from pimsim.api import load_config, load_trace, simulate

    path = make_trace(args.samples)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "pimsim.cli", "run", "--hw", str(HW), "--trace", str(path)]
    subprocess.run(cmd, check=True, capture_output=True, env=env)  # warm the Numba cache
    walls = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        walls.append(time.perf_counter() - t0)

    # load + unpack floor
    t0 = time.perf_counter()
    tr = load_trace(path)
    unpacked = 0
    for spec in tr.layers:
        if spec.input == "spikes":
            unpacked += tr.spikes(spec.name, cache=False).nbytes
    t_floor = time.perf_counter() - t0

    cfg = load_config(HW)
    tr = load_trace(path)
    t0 = time.perf_counter()
    res = simulate(cfg, tr)
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    simulate(cfg, tr)  # statistics cached: cost arithmetic only
    t_cost = time.perf_counter() - t0
    events = sum(x.ops["synaptic_ops"] + x.ops["macs"] for x in res.layers)
    syn = sum(x.ops["synaptic_ops"] for x in res.layers)

    out = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(HW), str(path)], check=True,
                         capture_output=True, text=True, env=env).stdout.split()
    base_kb, peak_kb = int(out[0]), int(out[1])

    rows = [
        ("trace", (f"{path.name} ({path.stat().st_size / 1e6:.1f} MB, {tr.num_samples} "
                   f"samples, T={tr.timesteps})")),
        ("pimsim run wall time, warm cache (median of 3)", f"{statistics.median(walls):.2f} s"),
        ("simulate() with fresh statistics", f"{t_sim:.2f} s"),
        ("simulate() with cached statistics (cost only)", f"{t_cost * 1e3:.2f} ms"),
        ("synaptic events simulated per second per core", f"{syn / t_sim:.3g}"),
        ("all events (ACs + MACs) per second per core", f"{events / t_sim:.3g}"),
        ("load + unpack time (floor)", f"{t_floor:.2f} s"),
        ("simulation / (load + unpack)  [goal <= 2]", f"{t_sim / t_floor:.2f}"),
        ("unpacked trace size (1 byte per spike)", f"{unpacked / 2**20:.0f} MiB"),
        ("peak RSS after load / during simulate", f"{base_kb / 1024:.0f} / {peak_kb / 1024:.0f} MiB"),
        ("peak RSS / unpacked trace size", f"{peak_kb * 1024 / unpacked:.2f}"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'metric':{width}s}  value")
    print("-" * (width + 40))
    for k, v in rows:
        print(f"{k:{width}s}  {v}")
    print(json.dumps({"wall_s": statistics.median(walls), "sim_s": t_sim, "floor_s": t_floor,
                      "syn_events_per_s": syn / t_sim, "peak_rss_mib": peak_kb / 1024,
                      "unpacked_mib": unpacked / 2**20}))


if __name__ == "__main__":
    main()
