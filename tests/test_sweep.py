"""Sweeps: row counts, equality with api.simulate, resume after kill -9, Dask = local, cache,
bad input (one-line errors, exit 2, nothing already written lost)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pimsim.api import load_config, load_trace, simulate
from pimsim.errors import ConfigError
from pimsim.networks import scene_layers
from pimsim.sweep import Constraint, load_space, parse_dimension, run_sweep
from pimsim.synth import synth_trace

REPO = Path(__file__).resolve().parents[1]
HW = str(REPO / "hw_configs" / "45nm_pim.yaml")

GRID = """\
strategy: grid
parameters:
  pim.adc_bits: [4, 6, 8]
  pim.rows_per_read: {start: 32, stop: 128, step: 2, scale: log}
  digital.pe_rows: [16, 32]
  pim.enabled: [true, false]
  tech.clock_hz: {start: 2.0e+8, stop: 4.0e+8, num: 2}
constraints:
  - pim.rows_per_read <= pim.rows
  - not (pim.enabled == false and pim.adc_bits != 6)
"""


@pytest.fixture(scope="module")
def trace_path(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("tr") / "salinas4.npz"
    synth_trace(str(path), scene_layers("salinas"), num_samples=4, timesteps=2, seed=1)
    return str(path)


@pytest.fixture(scope="module")
def trace_path_b(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("trb") / "salinas3.npz"
    synth_trace(str(path), scene_layers("salinas"), num_samples=3, timesteps=2, rates=0.2,
                seed=2)
    return str(path)


def _space(tmp_path: Path, text: str = GRID, name: str = "space.yaml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def _sweep(tmp_path, trace, space, out="r.csv", **kw):
    kw.setdefault("progress", False)
    kw.setdefault("cache_dir", str(tmp_path / "cache"))
    kw.setdefault("log", lambda s: None)
    return run_sweep(HW, [trace] if isinstance(trace, str) else trace, space,
                     str(tmp_path / out), **kw)


def test_grid_rows_equal_simulate(tmp_path, trace_path):
    space = _space(tmp_path)
    s = _sweep(tmp_path, trace_path, space)
    df = pd.read_csv(tmp_path / "r.csv")
    # 3 adc x 3 rows_per_read x 2 pe_rows x 2 enabled x 2 clocks = 72; the second constraint
    # drops the 2 x 3 x 2 x 2 = 24 digital points whose adc_bits is not 6 -> 48
    assert len(df) == 48 == s.rows
    assert sorted(df["point"]) == sorted(set(df["point"]))
    assert set(df["pim.rows_per_read"]) == {32, 64, 128}
    assert set(df["tech.clock_hz"]) == {2e8, 4e8}
    assert len(s.skipped) == 24 and all("constraint" in r for _, _, r in s.skipped)
    trace = load_trace(trace_path)
    keys = ["pim.adc_bits", "pim.rows_per_read", "digital.pe_rows", "pim.enabled",
            "tech.clock_hz"]
    for row in df.to_dict("records"):
        over = {k: row[k] for k in keys}
        ref = simulate(load_config(HW, over), trace)
        assert row["energy_j"] == ref.energy_j
        assert row["delay_s"] == ref.delay_s
        assert row["edp_js"] == ref.edp_js
        eng = ref.by_engine()
        for e in ("digital", "pim"):
            assert row[f"energy_{e}_j"] == eng.get(e, {}).get("energy_j", 0.0)
            assert row[f"delay_{e}_s"] == eng.get(e, {}).get("delay_s", 0.0)
        for comp, v in ref.by_component().items():
            assert row[f"energy_{comp}_j"] == pytest.approx(v, rel=1e-15, abs=0)
        assert row["energy_other_j"] == 0.0


def test_cli_run_equals_sweep_row(tmp_path, trace_path, capsys):
    """A row equals `pimsim run --set ...` with the same keys (JSON per_inference)."""
    import json

    from pimsim.cli import cli

    space = _space(tmp_path, "parameters:\n  pim.adc_bits: [5, 7]\n  tech.vdd_v: [0.8]\n")
    _sweep(tmp_path, trace_path, space)
    df = pd.read_csv(tmp_path / "r.csv")
    row = df[df["pim.adc_bits"] == 7].iloc[0]
    out = tmp_path / "run.json"
    with pytest.raises(SystemExit) as ex:
        cli.main(["run", "--hw", HW, "--trace", trace_path, "--set", "pim.adc_bits=7",
                  "--set", "tech.vdd_v=0.8", "--json", str(out)])
    assert ex.value.code == 0
    per = json.loads(out.read_text())["per_inference"]
    assert (per["energy_j"], per["delay_s"], per["edp_js"]) == (
        row["energy_j"], row["delay_s"], row["edp_js"])


def test_two_traces_and_base_flag(tmp_path, trace_path, trace_path_b):
    space = _space(tmp_path, "parameters:\n  pim.adc_bits: [5, 6]\n")
    _sweep(tmp_path, [trace_path, trace_path_b], space)
    df = pd.read_csv(tmp_path / "r.csv")
    assert len(df) == 4
    assert set(df["trace"]) == {"salinas4.npz", "salinas3.npz"}
    # base config has adc_bits 6: those two rows are the base point
    assert list(df.loc[df["is_base"] == 1, "pim.adc_bits"]) == [6, 6]
    ref = simulate(load_config(HW, {"pim.adc_bits": 5}), load_trace(trace_path_b))
    got = df[(df["trace"] == "salinas3.npz") & (df["pim.adc_bits"] == 5)]["energy_j"].item()
    assert got == ref.energy_j


def test_jobs2_and_parquet_equal_jobs1(tmp_path, trace_path):
    space = _space(tmp_path)
    _sweep(tmp_path, trace_path, space, out="a.csv")
    _sweep(tmp_path, trace_path, space, out="b.csv", jobs=2, batch_size=7)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    _sweep(tmp_path, trace_path, space, out="c.parquet")
    pq = pd.read_parquet(tmp_path / "c.parquet")
    pd.testing.assert_frame_equal(pq, pd.read_csv(tmp_path / "a.csv"))
    assert not (tmp_path / "c.parquet.partial.csv").exists()


def test_sidecar_records_config_version_and_trace_files(tmp_path, trace_path, trace_path_b):
    """<out>.sweep.json holds what was run: the resolved base config, the pimsim version and
    the sha256 of each trace file (in --trace order); resuming still recognises the sweep."""
    import hashlib
    import json

    import pimsim
    from pimsim.result import plain
    from pimsim.shipped import resolve_config

    space = _space(tmp_path, "parameters:\n  pim.adc_bits: [5, 6]\n")
    kw = {"progress": False, "cache_dir": str(tmp_path / "cache"), "log": lambda s: None}
    out = str(tmp_path / "r.csv")
    run_sweep("45nm_pim", [trace_path_b, trace_path], space, out, **kw)  # a shipped name
    side = json.loads((tmp_path / "r.csv.sweep.json").read_text())
    assert side["complete"] is True and side["hw"] == resolve_config("45nm_pim")
    assert side["config"] == json.loads(json.dumps(plain(load_config(HW).model_dump())))
    assert side["config"]["pim"]["adc_bits"] == 6
    assert side["pimsim_version"] == pimsim.__version__
    files = [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in (trace_path_b, trace_path)]
    assert side["trace_sha256"] == files and files[0] != files[1]
    assert side["traces"] == [trace_path_b, trace_path]
    again = run_sweep(HW, [trace_path_b, trace_path], space, out, **kw)
    assert again.evaluated == 0 and again.resumed == 4


def test_stats_disk_cache_reused(tmp_path, trace_path):
    space = _space(tmp_path)
    first = _sweep(tmp_path, trace_path, space, out="a.csv")
    second = _sweep(tmp_path, trace_path, space, out="b.csv")
    assert first.stats_computed > 0
    assert second.stats_computed == 0 and second.stats_from_disk == first.stats_computed
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_dask_cluster_equals_local(tmp_path, trace_path):
    from distributed import LocalCluster

    space = _space(tmp_path)
    _sweep(tmp_path, trace_path, space, out="local.csv")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                      host="127.0.0.1", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        s = _sweep(tmp_path, trace_path, space, out="dask.csv",
                   scheduler=cluster.scheduler_address, batch_size=5)
    assert s.workers == 2
    assert (tmp_path / "local.csv").read_bytes() == (tmp_path / "dask.csv").read_bytes()


def test_resume_after_kill(tmp_path, trace_path):
    big = """\
parameters:
  pim.adc_bits: {start: 2, stop: 10, step: 1}
  pim.e_cell_j: {start: 1.0e-16, stop: 1.0e-15, num: 15}
  memory.dram_j_per_bit: {start: 1.0e-12, stop: 4.0e-11, num: 15}
"""
    space = _space(tmp_path, big)
    out = tmp_path / "r.csv"
    env = {**os.environ, "PIMSIM_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "pimsim.cli", "sweep", "--hw", HW, "--trace", trace_path,
           "--space", space, "--out", str(out), "--batch-size", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 40
    while time.time() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= 20:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-500:]
    killed = out.read_bytes()
    n_killed = killed.count(b"\n") - 1
    total = 9 * 15 * 15
    assert 0 < n_killed < total
    with open(out, "ab") as fh:  # a torn last line, as if killed inside a write
        fh.write(b"99999,salinas4.npz,deadbeef,3,1e-1")
    s = run_sweep(HW, [trace_path], space, str(out), progress=False,
                  cache_dir=str(tmp_path / "cache"), log=lambda m: None)
    assert s.resumed >= n_killed and s.evaluated == total - s.resumed
    df = pd.read_csv(out)
    assert len(df) == total
    assert df["point"].is_unique and set(df["point"]) == set(range(total))
    ref = _sweep(tmp_path, trace_path, space, out="clean.csv")
    assert ref.rows == total
    assert out.read_bytes() == (tmp_path / "clean.csv").read_bytes()
    # a finished sweep re-run with the same command is a no-op
    again = run_sweep(HW, [trace_path], space, str(out), progress=False,
                      cache_dir=str(tmp_path / "cache"), log=lambda m: None)
    assert again.evaluated == 0 and out.read_bytes() == (tmp_path / "clean.csv").read_bytes()


# ------------------------------------------------------------------------------ space parsing


def test_ranges_and_distributions():
    f = "s.yaml"
    assert parse_dimension("a.b", {"start": 16, "stop": 128, "step": 2, "scale": "log"},
                           file=f).values == (16, 32, 64, 128)
    assert parse_dimension("a.b", {"start": 1, "stop": 10, "step": 3}, file=f).values == (
        1, 4, 7, 10)
    assert parse_dimension("a.b", {"start": 0.5, "stop": 1.0, "num": 3}, file=f).values == (
        0.5, 0.75, 1.0)
    v = parse_dimension("a.b", {"start": 1e-3, "stop": 1.0, "num": 4, "scale": "log"},
                        file=f).values
    assert np.allclose(v, [1e-3, 1e-2, 1e-1, 1.0])
    d = parse_dimension("a.b", {"distribution": "loguniform", "low": 1.0, "high": 100.0},
                        file=f)
    xs = d.draw(np.array([0.0, 0.5, 0.999999]), np.random.default_rng(0))
    assert xs[0] == pytest.approx(1.0) and xs[1] == pytest.approx(10.0)
    for bad in ([], {"start": 5, "stop": 1, "step": 1}, {"start": 1, "stop": 2, "num": 0},
                {"distribution": "uniform", "low": 2, "high": 1}, {"start": 1, "stop": 2}):
        with pytest.raises(ConfigError, match="empty|needs"):
            parse_dimension("a.b", bad, file=f)


@pytest.mark.parametrize("strategy", ["random", "latin"])
def test_random_and_latin_counts(tmp_path, strategy):
    base = load_config(HW)
    text = f"""strategy: {strategy}
count: 30
seed: 3
parameters:
  memory.dram_j_per_bit: {{distribution: loguniform, low: 1.0e-12, high: 1.0e-10}}
  tech.clock_hz: {{distribution: uniform, low: 1.0e+8, high: 1.0e+9}}
  pim.adc_bits: {{start: 3, stop: 8, step: 1}}
"""
    space = load_space(_space(tmp_path, text), base)
    combos = space.combos()
    assert len(combos) == 30 and combos == space.combos()  # deterministic with the seed
    dram = np.array([c[0] for c in combos])
    assert dram.min() >= 1e-12 and dram.max() <= 1e-10
    if strategy == "latin":  # one point per stratum of each dimension
        strata = np.floor((np.log(dram) - np.log(1e-12)) / np.log(100) * 30).astype(int)
        assert sorted(strata) == list(range(30))


def test_constraint_evaluator_is_restricted():
    c = Constraint("pim.rows >= 64 and max(pim.adc_bits, 2) < 9", file="s", where="c")
    assert c({"pim.rows": 64, "pim.adc_bits": 8}.__getitem__)
    assert not c({"pim.rows": 32, "pim.adc_bits": 8}.__getitem__)
    for evil in ("__import__('os').system('true')", "pim.rows.__class__", "(lambda: 1)()",
                 "[x for x in (1,)]", "open('f')"):
        with pytest.raises(ConfigError, match="not allowed|not a config key|invalid"):
            cc = Constraint(evil, file="s", where="c")
            cc.check_names({"pim.rows"})


# ---------------------------------------------------------------------------------- bad input


def _cli(args: list[str], capsys) -> tuple[int, str]:
    from pimsim import cli as cli_mod

    old = sys.argv
    sys.argv = ["pimsim", *args]
    try:
        with pytest.raises(SystemExit) as ex:
            cli_mod.main()
            raise SystemExit(0)
    finally:
        sys.argv = old
    return int(ex.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(("text", "needle"), [
    ("parameters:\n  pim.adc_bitz: [4, 5]\n", "parameters.pim.adc_bitz: unknown config key"),
    ("parameters:\n  pim.adc_bits: {start: 8, stop: 4, step: 1}\n", "empty range"),
    ("parameters:\n  pim.adc_bits: [4, 5]\nconstraints: ['pim.rows < 0']\n",
     "no valid point"),
    ("parameters:\n  pim.adc_bits: [4]\nconstraints: ['pim.rowz > 1']\n", "not a config key"),
    ("strategy: grid\nparameters:\n  tech.clock_hz: {distribution: uniform, low: 1, high: 2}\n",
     "needs strategy random"),
])
def test_bad_space_one_line_exit_2(tmp_path, trace_path, capsys, text, needle):
    space = _space(tmp_path, text)
    out = tmp_path / "r.csv"
    code, err = _cli(["sweep", "--hw", HW, "--trace", trace_path, "--space", space, "--out",
                      str(out), "--no-progress"], capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("pimsim: error:") and needle in lines[0]
    assert not out.exists()


def test_invalid_points_skipped_with_reason(tmp_path, trace_path):
    text = "parameters:\n  pim.adc_bits: [6, 13]\n  pim.rows_per_read: [64, 256]\n"
    s = _sweep(tmp_path, trace_path, _space(tmp_path, text))
    assert s.rows == 1
    reasons = " ".join(r for _, _, r in s.skipped)
    assert "pim.adc_bits" in reasons and "rows_per_read" in reasons
    sk = pd.read_csv(str(tmp_path / "r.csv") + ".skipped.csv")
    assert len(sk) == 3


def test_unreachable_scheduler(tmp_path, trace_path, capsys):
    space = _space(tmp_path, "parameters:\n  pim.adc_bits: [4, 5]\n")
    code, err = _cli(["sweep", "--hw", HW, "--trace", trace_path, "--space", space, "--out",
                      str(tmp_path / "r.csv"), "--scheduler", "tcp://127.0.0.1:9",
                      "--connect-timeout", "1", "--no-progress"], capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "cannot reach the Dask scheduler" in lines[0]


def test_results_file_from_another_space_refused(tmp_path, trace_path, capsys):
    a = _space(tmp_path, "parameters:\n  pim.adc_bits: [4, 5]\n", "a.yaml")
    b = _space(tmp_path, "parameters:\n  pim.adc_bits: [4, 6]\n", "b.yaml")
    out = tmp_path / "r.csv"
    _sweep(tmp_path, trace_path, a)
    before = out.read_bytes()
    code, err = _cli(["sweep", "--hw", HW, "--trace", trace_path, "--space", b, "--out",
                      str(out), "--no-progress"], capsys)
    assert code == 2 and "refusing to resume" in err and "--overwrite" in err
    assert out.read_bytes() == before
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("x,y\n1,2\n")
    code, err = _cli(["sweep", "--hw", HW, "--trace", trace_path, "--space", b, "--out",
                      str(foreign), "--no-progress"], capsys)
    assert code == 2 and "no sweep sidecar" in err and foreign.read_text() == "x,y\n1,2\n"
    code, _ = _cli(["sweep", "--hw", HW, "--trace", trace_path, "--space", b, "--out",
                    str(out), "--no-progress", "--overwrite"], capsys)
    assert code == 0 and set(pd.read_csv(out)["pim.adc_bits"]) == {4, 6}
