"""Feedback on long work: the compile notice (cold Numba cache only, once per process, on
stderr) and the sweep's one progress bar (statistics then cost; a few lines outside a
terminal; silent with progress=False)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pimsim.jit import COMPILE_NOTICE
from pimsim.networks import scene_layers
from pimsim.sweep import run_sweep
from pimsim.synth import synth_trace

SPACE = """\
strategy: grid
parameters:
  digital.pe_rows: [16, 32]
  pim.adc_bits: [4, 5, 6]
  tech.clock_hz: {start: 2.0e+8, stop: 4.0e+8, num: 3}
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fb") / "tiny.npz"
    synth_trace(str(path), scene_layers("salinas"), num_samples=2, timesteps=2, seed=3)
    return path


def _pimsim(args: list[str], tmp: Path, numba_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(numba_dir),
           "PIMSIM_CACHE_DIR": str(tmp / "stats")}
    env.pop("NUMBA_DISABLE_JIT", None)
    return subprocess.run([sys.executable, "-m", "pimsim.cli", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def test_compile_notice_once_when_cold_silent_when_warm(tmp_path, tiny):
    numba_dir = tmp_path / "numba"
    numba_dir.mkdir()
    args = ["run", "--hw", "45nm_pim", "--trace", str(tiny)]
    cold = _pimsim(args, tmp_path, numba_dir)
    assert cold.returncode == 0, cold.stderr
    assert cold.stderr.count(COMPILE_NOTICE) == 1, cold.stderr
    assert COMPILE_NOTICE not in cold.stdout
    assert any(numba_dir.rglob("*.nbi")), "the kernels were not cached"
    warm = _pimsim(args, tmp_path, numba_dir)
    assert warm.returncode == 0, warm.stderr
    assert COMPILE_NOTICE not in warm.stderr
    assert warm.stdout == cold.stdout  # the table on stdout is unchanged by the notice


def test_compile_notice_once_for_a_process_pool(tmp_path, tiny):
    """With --jobs 2 on a cold cache the kernels compile once, in the parent, before the
    workers fork: one notice, not one per worker."""
    numba_dir = tmp_path / "numba"
    numba_dir.mkdir()
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    res = _pimsim(["sweep", "--hw", "45nm_pim", "--trace", str(tiny), "--space", str(space),
                   "--out", str(tmp_path / "r.csv"), "--jobs", "2"], tmp_path, numba_dir)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count(COMPILE_NOTICE) == 1, res.stderr
    assert "18 rows" in res.stdout


def test_sweep_progress_two_phases_few_lines(tmp_path, tiny, capsys):
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    kw = {"cache_dir": str(tmp_path / "stats"), "log": lambda s: None, "batch_size": 1}
    s = run_sweep("45nm_pim", [str(tiny)], str(space), str(tmp_path / "a.csv"),
                  progress=True, **kw)
    err = capsys.readouterr().err
    n_stats = s.stats_computed + s.stats_from_disk
    assert n_stats > 0
    assert "statistics: 100%" in err and f"{n_stats}/{n_stats}" in err, err
    assert "cost: 100%" in err and "18/18" in err, err
    # not a terminal: 18 batches, yet only a handful of redraws
    assert err.count("\r") <= 8, err
    run_sweep("45nm_pim", [str(tiny)], str(space), str(tmp_path / "b.csv"), progress=False,
              **kw)
    assert capsys.readouterr().err == ""
