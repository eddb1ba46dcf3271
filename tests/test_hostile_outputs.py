"""Hostile output paths, sweep files and Dask clusters (issue 10).

Every bad case: exit status 2, one stderr line naming the file/key and what was expected, no
traceback, nothing already written clobbered or left half-written. Special files are written
through, symbolic links followed, new files get 0666 less the umask. Sweeps: stale temporary
files removed, the skipped list never lost, --overwrite keeps the old results until the new
sweep completes, partial results read with one warning. Dask: a silent or bad scheduler fails
fast, a scheduler lost mid-sweep is one line and the sweep resumes on a local runner with every
row exactly once, a lost worker's tasks run again. Only loopback addresses (127.0.0.1).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import REPO, conv3d, linear, write_trace

from pimsim import cli
from pimsim.networks import scene_layers
from pimsim.sweep import run_sweep
from pimsim.synth import synth_trace

HW = str(REPO / "hw_configs" / "45nm_pim.yaml")
BIN = Path(sys.executable).parent
heavy = pytest.mark.skipif(os.environ.get("PIMSIM_HEAVY") != "1",
                           reason="heavy: set PIMSIM_HEAVY=1")

# 5 x 3 = 15 valid points, 3 skipped (a 13-bit ADC is out of range): 8 batches of 2
SMALL = """\
parameters:
  pim.adc_bits: [4, 5, 6, 7, 8, 13]
  tech.clock_hz: [2.0e+8, 3.0e+8, 4.0e+8]
"""
# 9 x 15 x 15 = 2025 points: long enough on Dask with --batch-size 2 to be killed mid-sweep
BIG = """\
parameters:
  pim.adc_bits: {start: 2, stop: 10, step: 1}
  pim.e_cell_j: {start: 1.0e-16, stop: 1.0e-15, num: 15}
  memory.dram_j_per_bit: {start: 1.0e-12, stop: 4.0e-11, num: 15}
"""
# 9 x 15 x 2 = 270 points: a worker can be killed mid-sweep and the rest still finishes soon
MEDIUM = """\
parameters:
  pim.adc_bits: {start: 2, stop: 10, step: 1}
  pim.e_cell_j: {start: 1.0e-16, stop: 1.0e-15, num: 15}
  memory.dram_j_per_bit: [1.0e-12, 4.0e-11]
"""


# ------------------------------------------------------------------------------------ helpers


def cli_run(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """Run ``pimsim ARGS`` in-process: (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["pimsim", *map(str, args)])
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_line_error(code, err, *needles):
    assert code == 2, err
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("pimsim: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


def snapshot(*paths: Path) -> dict[Path, bytes | None]:
    return {p: (p.read_bytes() if p.exists() else None) for p in paths}


def temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    layers = [conv3d("c0", (1, 4, 5, 5), 2, (3, 3, 3), first=True),
              linear("fc", 2 * 2 * 3 * 3, 3)]
    path = tmp_path_factory.mktemp("tiny") / "good.npz"
    return write_trace(path, layers, {"fc": np.zeros((2, 2, 36), bool)}, n=2, t=2)


@pytest.fixture(scope="module")
def salinas(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("tr") / "salinas4.npz"
    synth_trace(str(path), scene_layers("salinas"), num_samples=4, timesteps=2, seed=1)
    return str(path)


@pytest.fixture()
def old_json(tmp_path) -> Path:
    p = tmp_path / "old.json"
    p.write_bytes(b'{"old": true}\n')
    return p


def _space(folder: Path, text: str = SMALL, name: str = "space.yaml") -> str:
    p = folder / name
    p.write_text(text)
    return str(p)


def _sweep(folder: Path, trace: str, space: str, out: str = "r.csv", **kw):
    kw.setdefault("progress", False)
    kw.setdefault("cache_dir", str(folder / "cache"))
    kw.setdefault("log", lambda s: None)
    return run_sweep(HW, [trace], space, str(folder / out), **kw)


def _fail_batches(monkeypatch, after: int, exc: type[BaseException] = RuntimeError) -> None:
    """Make the sweep's ``after + 1``-th evaluation batch raise ``exc``."""
    import pimsim.sweep.run as run_mod

    real = run_mod.evaluate_batch
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > after:
            raise exc("injected failure")
        return real(*args, **kwargs)

    monkeypatch.setattr(run_mod, "evaluate_batch", flaky)


# ------------------------------------------------------------------------ output paths (CLI)


@pytest.mark.parametrize("case", ["parent_is_file", "under_file", "proc", "sys", "folder"])
def test_run_json_bad_path(monkeypatch, capsys, tmp_path, tiny, old_json, case):
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"a regular file\n")
    target, needle = {
        "parent_is_file": (plain / "o.json", "plain.txt is a file, not a folder"),
        "under_file": (plain / "sub" / "o.json", "plain.txt is a file, not a folder"),
        "proc": (Path("/proc/pimsim-hostile/o.json"), "cannot write in /proc"),
        "sys": (Path("/sys/pimsim-hostile.json"), "cannot write in /sys"),
        "folder": (tmp_path, "is a folder; expected a file path"),
    }[case]
    before = snapshot(plain, old_json)
    code, out, err = cli_run(monkeypatch, capsys, "run", "--hw", HW, "--trace", tiny,
                             "--csv", old_json, "--json", target)
    assert_one_line_error(code, err, str(target), "--json", needle)
    assert out == ""  # checked before any work: no table printed, --csv not written
    assert snapshot(plain, old_json) == before
    assert temps(tmp_path) == []


def test_compare_and_replay_bad_path(monkeypatch, capsys, tmp_path, tiny, old_json):
    before = snapshot(old_json)
    code, _, err = cli_run(monkeypatch, capsys, "compare", "--hw", HW, "--trace", tiny,
                           "--json", old_json / "x.json")
    assert_one_line_error(code, err, "old.json is a file, not a folder", "--json")
    code, _, err = cli_run(monkeypatch, capsys, "trace", "replay", tiny, "--json",
                           "/proc/pimsim-hostile.json")
    assert_one_line_error(code, err, "/proc", "--json")
    code, _, err = cli_run(monkeypatch, capsys, "trace", "synth", "--out", tmp_path,
                           "--samples", "1")
    assert_one_line_error(code, err, "--out", "is a folder")
    assert snapshot(old_json) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a chmod 555 folder")
def test_read_only_folder(monkeypatch, capsys, tmp_path, tiny):
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "o.json").write_bytes(b"old\n")
    ro.chmod(0o555)
    try:
        code, _, err = cli_run(monkeypatch, capsys, "run", "--hw", HW, "--trace", tiny,
                               "--json", ro / "new.json")
        assert_one_line_error(code, err, "--json", "permission denied")
    finally:
        ro.chmod(0o755)
    assert (ro / "o.json").read_bytes() == b"old\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_write_error_is_one_line(monkeypatch, capsys, tmp_path, tiny, old_json):
    code, _, err = cli_run(monkeypatch, capsys, "run", "--hw", HW, "--trace", tiny,
                           "--json", "/dev/full")
    assert_one_line_error(code, err, "/dev/full", "--json", "No space left on device")
    # a failure inside the atomic replacement: old file intact, no temporary file left
    before = snapshot(old_json)
    real = os.replace

    def full(src, dst, *a, **k):
        if Path(dst) == old_json:
            raise OSError(28, "No space left on device")
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", full)
    code, _, err = cli_run(monkeypatch, capsys, "run", "--hw", HW, "--trace", tiny,
                           "--json", old_json)
    assert_one_line_error(code, err, str(old_json), "--json", "No space left on device")
    assert snapshot(old_json) == before and temps(tmp_path) == []


# --------------------------------------------------------------------- special files, links


def test_dev_null_is_written_through(monkeypatch, capsys, tiny):
    st = os.stat("/dev/null")
    code, _, err = cli_run(monkeypatch, capsys, "run", "--hw", HW, "--trace", tiny,
                           "--json", "/dev/null", "--csv", "/dev/null")
    assert code == 0, err
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == st.st_rdev
    assert after.st_ino == st.st_ino


def test_fifo_is_written_through(monkeypatch, capsys, tmp_path, tiny):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, err = cli_run(monkeypatch, capsys, "run", "--hw", HW, "--trace", tiny,
                           "--json", fifo)
    reader.join(10)
    assert code == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(got[0])["layers"]


def test_symlink_is_followed(monkeypatch, capsys, tmp_path, tiny):
    real = tmp_path / "data" / "real.json"
    real.parent.mkdir()
    real.write_text("{}\n")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "data" / "new.csv")
    code, _, err = cli_run(monkeypatch, capsys, "run", "--hw", HW, "--trace", tiny,
                           "--json", link, "--csv", dangling)
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert json.loads(real.read_text())["layers"]
    assert dangling.is_symlink() and (tmp_path / "data" / "new.csv").read_text().startswith(
        "layer")
    assert temps(tmp_path) == [] and temps(real.parent) == []


def test_permissions(monkeypatch, capsys, tmp_path, tiny, salinas):
    old = os.umask(0o022)
    try:
        kept = tmp_path / "kept.json"
        kept.write_text("{}")
        kept.chmod(0o640)
        code, _, err = cli_run(monkeypatch, capsys, "run", "--hw", HW, "--trace", tiny,
                               "--json", tmp_path / "new.json", "--csv", kept)
        assert code == 0, err
        assert stat.S_IMODE(os.stat(tmp_path / "new.json").st_mode) == 0o644
        assert stat.S_IMODE(os.stat(kept).st_mode) == 0o640  # a replaced file keeps its mode
        _sweep(tmp_path, salinas, _space(tmp_path), batch_size=2)
        for name in ("r.csv", "r.csv.sweep.json", "r.csv.skipped.csv"):
            assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o644, name
    finally:
        os.umask(old)


# --------------------------------------------------------------------------------- sweep files


@pytest.mark.parametrize("case", ["proc", "folder", "device", "parent_is_file"])
def test_sweep_bad_out(monkeypatch, capsys, tmp_path, salinas, case):
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"x\n")
    out, needle = {
        "proc": ("/proc/pimsim-hostile/r.csv", "cannot write in /proc"),
        "folder": (str(tmp_path), "is a folder"),
        "device": ("/dev/null", "is not a regular file"),
        "parent_is_file": (str(plain / "r.csv"), "plain.txt is a file, not a folder"),
    }[case]
    t0 = time.perf_counter()
    code, _, err = cli_run(monkeypatch, capsys, "sweep", "--hw", HW, "--trace", salinas,
                           "--space", _space(tmp_path), "--out", out, "--no-progress")
    assert_one_line_error(code, err, out, "--out", needle)
    assert time.perf_counter() - t0 < 5
    assert plain.read_bytes() == b"x\n" and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_stale_temps_removed_on_resume(tmp_path, salinas, monkeypatch):
    space = _space(tmp_path)
    _fail_batches(monkeypatch, 3)
    with pytest.raises(RuntimeError):
        _sweep(tmp_path, salinas, space, batch_size=2)
    monkeypatch.undo()
    stale = [".r.csv.ab12cd_9.tmp", ".r.csv.sweep.json.zz99yy00.tmp",
             ".r.csv.skipped.csv.a1b2c3d4.tmp"]
    for name in stale:
        (tmp_path / name).write_bytes(b"x" * 1000)
    (tmp_path / ".r.csv.keep.tmp").write_bytes(b"not ours")  # not our pattern: kept
    (tmp_path / "notes.tmp").write_bytes(b"not ours")
    s = _sweep(tmp_path, salinas, space, batch_size=2)
    assert s.resumed == 6 and s.rows == 15
    assert temps(tmp_path) == [".r.csv.keep.tmp", "notes.tmp"]


def test_kill_inside_finalize_leaves_no_temp(tmp_path, salinas, monkeypatch):
    space = _space(tmp_path)
    out = tmp_path / "r.csv"
    real = os.replace
    seen = {"out": 0}

    def killed(src, dst, *a, **k):
        if Path(dst) == out:
            seen["out"] += 1  # 1: the journal's first rows; 2: the finalize's sorted rewrite
            if seen["out"] == 2:
                raise KeyboardInterrupt  # as a signal arriving inside the finalize's write
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        _sweep(tmp_path, salinas, space, batch_size=2)
    monkeypatch.undo()
    assert temps(tmp_path) == []
    assert json.loads((tmp_path / "r.csv.sweep.json").read_text())["complete"] is False
    s = _sweep(tmp_path, salinas, space, batch_size=2)
    assert s.rows == 15 and s.evaluated == 0
    _sweep(tmp_path, salinas, space, out="clean.csv")
    assert out.read_bytes() == (tmp_path / "clean.csv").read_bytes()


def test_skipped_list_never_lost(tmp_path, salinas, monkeypatch):
    space = _space(tmp_path)
    side = tmp_path / "r.csv.sweep.json"
    real = os.replace

    def killed(src, dst, *a, **k):  # killed just before the sidecar says complete
        if Path(dst) == side and json.loads(Path(src).read_text())["complete"]:
            raise KeyboardInterrupt
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        _sweep(tmp_path, salinas, space, batch_size=2)
    monkeypatch.undo()
    skipped = tmp_path / "r.csv.skipped.csv"
    assert len(pd.read_csv(skipped)) == 3  # written before the results were marked complete
    s = _sweep(tmp_path, salinas, space, batch_size=2)  # the resume redoes the finalize
    assert s.rows == 15 and len(s.skipped) == 3
    _sweep(tmp_path, salinas, space, out="clean.csv")
    assert skipped.read_bytes() == (tmp_path / "clean.csv.skipped.csv").read_bytes()


def test_overwrite_keeps_old_files_until_complete(tmp_path, salinas, monkeypatch):
    a = _space(tmp_path, SMALL, "a.yaml")
    b = _space(tmp_path, "parameters:\n  pim.adc_bits: [3, 4, 5, 6, 7, 8, 9, 10]\n", "b.yaml")
    _sweep(tmp_path, salinas, a, batch_size=2)
    files = [tmp_path / n for n in ("r.csv", "r.csv.sweep.json", "r.csv.skipped.csv")]
    before = snapshot(*files)
    assert all(before.values())
    for after in (0, 2):  # before any row, and after two batches
        _fail_batches(monkeypatch, after)
        with pytest.raises(RuntimeError, match="injected"):
            _sweep(tmp_path, salinas, b, overwrite=True, batch_size=2)
        monkeypatch.undo()
        assert snapshot(*files) == before
        assert temps(tmp_path) == []
    # the same command again resumes the replacing sweep, then replaces the old files
    s = _sweep(tmp_path, salinas, b, overwrite=True, batch_size=2)
    assert s.resumed == 4 and s.rows == 8
    _sweep(tmp_path, salinas, b, out="clean.csv")
    assert (tmp_path / "r.csv").read_bytes() == (tmp_path / "clean.csv").read_bytes()
    assert not (tmp_path / "r.csv.skipped.csv").exists()  # the new sweep skipped nothing
    assert sorted(p.name for p in tmp_path.glob("r.csv*")) == ["r.csv", "r.csv.sweep.json"]


def test_pareto_and_report_warn_on_partial(monkeypatch, capsys, tmp_path, salinas):
    space = _space(tmp_path)
    with monkeypatch.context() as m:
        _fail_batches(m, 3)
        with pytest.raises(RuntimeError):
            _sweep(tmp_path, salinas, space, batch_size=2)
    out = tmp_path / "r.csv"
    rows = len(pd.read_csv(out))
    planned = json.loads((tmp_path / "r.csv.sweep.json").read_text())["rows_planned"]
    assert 0 < rows < planned == 15
    with open(out, "ab") as fh:
        fh.write(b"99,salinas4.npz,deadbeef,4,2.0e+8,tr")  # torn, as by a kill inside a write
    before = out.read_bytes()
    code, stdout, err = cli_run(monkeypatch, capsys, "pareto", out, "--out",
                                tmp_path / "p.png")
    assert code == 0, err
    lines = err.strip().splitlines()
    assert lines == [(f"pimsim: warning: {out}: the sweep is not complete ({rows} of "
                      f"{planned} rows); resume it with the same `pimsim sweep` command")]
    assert "front over" in stdout
    code, _, err = cli_run(monkeypatch, capsys, "report", out, "--out", tmp_path / "rep")
    assert code == 0, err
    warn = [ln for ln in err.splitlines() if "not complete" in ln]
    assert len(warn) == 1 and "Traceback" not in err
    assert out.read_bytes() == before


def test_pareto_non_numeric_cell(monkeypatch, capsys, tmp_path, salinas):
    _sweep(tmp_path, salinas, _space(tmp_path))
    df = pd.read_csv(tmp_path / "r.csv")
    df["energy_j"] = df["energy_j"].astype(object)
    df.loc[2, "energy_j"] = "lots"
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    code, _, err = cli_run(monkeypatch, capsys, "pareto", bad, "--out", tmp_path / "p.png")
    assert_one_line_error(code, err, "bad.csv", "energy_j", "row 3 (line 4", "'lots'",
                          "not a number")
    df = pd.read_csv(tmp_path / "r.csv")
    df["pim.adc_bits"] = df["pim.adc_bits"].astype(object)
    df.loc[0, "pim.adc_bits"] = "six"
    df.to_csv(bad, index=False)
    code, _, err = cli_run(monkeypatch, capsys, "pareto", bad, "--x", "pim.adc_bits", "--out",
                           tmp_path / "p.png")
    assert_one_line_error(code, err, "pim.adc_bits", "row 1 (line 2", "not a number")
    assert not (tmp_path / "p.png").exists()


def test_pareto_and_report_bad_outputs(monkeypatch, capsys, tmp_path, salinas, old_json):
    _sweep(tmp_path, salinas, _space(tmp_path))
    res = tmp_path / "r.csv"
    before = snapshot(old_json, res)
    for args, needle in (
        (["pareto", res, "--out", "/proc/pimsim-hostile/p.png"], "cannot write in /proc"),
        (["pareto", res, "--out", tmp_path / "p.png", "--front-csv", tmp_path],
         "--front-csv: is a folder"),
        (["pareto", res, "--out", old_json / "p.png"], "old.json is a file, not a folder"),
        (["report", res, "--out", old_json], "is a file; expected a folder"),
        (["report", res, "--out", "/sys/pimsim-hostile"], "cannot write in /sys"),
    ):
        code, _, err = cli_run(monkeypatch, capsys, *args)
        assert_one_line_error(code, err, needle)
    assert snapshot(old_json, res) == before
    assert not (tmp_path / "p.png").exists()


# ------------------------------------------------------------------------------------- Dask


def test_silent_scheduler_times_out(monkeypatch, capsys, tmp_path, salinas):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()  # accepts TCP, never answers the handshake
    try:
        addr = f"tcp://127.0.0.1:{srv.getsockname()[1]}"
        t0 = time.perf_counter()
        code, _, err = cli_run(monkeypatch, capsys, "sweep", "--hw", HW, "--trace", salinas,
                               "--space", _space(tmp_path), "--out", tmp_path / "r.csv",
                               "--scheduler", addr, "--connect-timeout", "1", "--no-progress")
        elapsed = time.perf_counter() - t0
    finally:
        srv.close()
    assert_one_line_error(code, err, addr, "--scheduler", "no answer to Dask's handshake",
                          "--connect-timeout")
    assert elapsed < 10
    assert not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize(("address", "needle"), [
    ("foo://x", "unknown scheme 'foo'"),
    ("tcp://127.0.0.1:99999", "port 99999 is outside 1-65535"),
    ("tcp://127.0.0.1", "missing port"),
])
def test_bad_scheduler_address_fast(monkeypatch, capsys, tmp_path, salinas, address, needle):
    t0 = time.perf_counter()
    code, _, err = cli_run(monkeypatch, capsys, "sweep", "--hw", HW, "--trace", salinas,
                           "--space", _space(tmp_path), "--out", tmp_path / "r.csv",
                           "--scheduler", address, "--no-progress")
    assert_one_line_error(code, err, address, "--scheduler", needle, "tcp://127.0.0.1:8786")
    assert time.perf_counter() - t0 < 3


class Cluster:
    """A ``dask scheduler`` and ``dask worker`` subprocesses on 127.0.0.1, workers in their
    own folder (so relative trace paths cannot work there)."""

    def __init__(self, folder: Path, workers: int = 1):
        self.folder = folder
        sfile = folder / "scheduler.json"
        self.scheduler = subprocess.Popen(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", str(sfile)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wdir = folder / "workers"
        wdir.mkdir(exist_ok=True)
        self.workers = [subprocess.Popen(
            [str(BIN / "dask"), "worker", "--scheduler-file", str(sfile), "--nthreads", "1",
             "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"],
            cwd=wdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(workers)]
        deadline = time.time() + 20
        while not sfile.exists() or not sfile.read_text().strip():
            assert time.time() < deadline, "dask scheduler did not start"
            assert self.scheduler.poll() is None
            time.sleep(0.05)
        self.address = json.loads(sfile.read_text())["address"]
        assert self.address.startswith("tcp://127.0.0.1:")

    def stop(self) -> None:
        for p in [*self.workers, self.scheduler]:
            if p.poll() is None:
                p.kill()
            p.wait(10)


def _sweep_proc(folder: Path, trace: str, address: str, space: str = BIG) -> subprocess.Popen:
    """``pimsim sweep`` on ``address`` in ``folder`` with the trace given by a relative path
    and a cold statistics cache (statistics computed on the workers)."""
    shutil.copy(trace, folder / "salinas4.npz")
    (folder / "space.yaml").write_text(space)
    env = {**os.environ, "PIMSIM_CACHE_DIR": str(folder / "cache")}
    cmd = [sys.executable, "-m", "pimsim.cli", "sweep", "--hw", HW, "--trace", "salinas4.npz",
           "--space", "space.yaml", "--out", "r.csv", "--scheduler", address,
           "--batch-size", "2", "--no-progress", "--connect-timeout", "3"]
    return subprocess.Popen(cmd, cwd=folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _wait_rows(proc: subprocess.Popen, out: Path, rows: int, limit: float = 25) -> int:
    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") > rows:
            break
        time.sleep(0.002)
    return out.read_bytes().count(b"\n") - 1 if out.exists() else 0


def _assert_every_row_once(out: Path, clean: Path, total: int) -> None:
    df = pd.read_csv(out)
    pairs = list(zip(df["point"], df["trace"]))
    assert len(pairs) == len(set(pairs)) == total
    ref = pd.read_csv(clean)
    assert set(pairs) == set(zip(ref["point"], ref["trace"]))
    assert out.read_bytes() == clean.read_bytes()


def test_scheduler_lost_then_resumed_locally(tmp_path, salinas):
    cluster = Cluster(tmp_path)
    try:
        proc = _sweep_proc(tmp_path, salinas, cluster.address)
        out = tmp_path / "r.csv"
        journaled = _wait_rows(proc, out, 20)
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        cluster.scheduler.kill()
        _, err = proc.communicate(timeout=30)
    finally:
        cluster.stop()
    err_text = err.decode()
    assert_one_line_error(proc.returncode, err_text, cluster.address, "--scheduler",
                          "lost the Dask scheduler",
                          "rows written so far are kept; run the same command again",
                          "--jobs N")
    assert journaled >= 20
    # resumed with the local runner (the same sweep: the trace by another path is the same)
    s = run_sweep(HW, [str(tmp_path / "salinas4.npz")], str(tmp_path / "space.yaml"),
                  str(out), jobs=1, progress=False, cache_dir=str(tmp_path / "cache"),
                  log=lambda m: None)
    assert s.resumed >= journaled and s.resumed + s.evaluated == 9 * 15 * 15
    run_sweep(HW, [salinas], str(tmp_path / "space.yaml"), str(tmp_path / "clean.csv"),
              progress=False, cache_dir=str(tmp_path / "cache"), log=lambda m: None)
    _assert_every_row_once(out, tmp_path / "clean.csv", 9 * 15 * 15)


@pytest.mark.heavy
@heavy
def test_worker_lost_tasks_rerun(tmp_path, salinas):  # 9-17 s: two workers to start
    cluster = Cluster(tmp_path, workers=2)
    try:
        proc = _sweep_proc(tmp_path, salinas, cluster.address, MEDIUM)
        out = tmp_path / "r.csv"
        _wait_rows(proc, out, 20)
        assert proc.poll() is None
        cluster.workers[0].send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
    finally:
        cluster.stop()
    assert proc.returncode == 0, err.decode()[-2000:]
    run_sweep(HW, [salinas], str(tmp_path / "space.yaml"), str(tmp_path / "clean.csv"),
              progress=False, cache_dir=str(tmp_path / "cache"), log=lambda m: None)
    _assert_every_row_once(out, tmp_path / "clean.csv", 9 * 15 * 2)
