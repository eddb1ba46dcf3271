"""Shared helpers of the benchmarks: whole-process timing, traces, the pimsim command line.

Every figure here is a whole process timed from outside (start to exit, interpreter start-up,
imports and set-up included), the way a user feels ``pimsim run``. Two commands compared
are run in turn, A B A B ..., and the ratio is taken pair by pair, so a machine whose speed
drifts (a shared or throttled one) still gives a meaningful ratio; the median of the pairs
is quoted, min and max show the spread. User and system seconds and the peak resident set
come from the operating system's accounting of the reaped child (``os.wait4``).

The benchmarks drive pimsim only through its command line and :mod:`pimsim.trace`, so they
keep working while the cost model changes under them. ``Source(rev=...)`` runs every pimsim
process from a snapshot of a git revision instead of the working tree (``git archive`` into
benchmarks/.cache/src-<commit>/), for a steady measurement while the tree is being edited.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
CACHE = BENCH / ".cache"

#: one thread everywhere: the "per core" figures and a fair floor
ONE_THREAD = {"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1"}


class BenchError(RuntimeError):
    """A benchmarked command failed: the message carries its command and last output line."""


# --------------------------------------------------------------------------------- processes
@dataclass
class Run:
    wall_s: float
    user_s: float
    sys_s: float
    peak_mib: float
    rc: int
    output: str = ""

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


def run_process(cmd: Sequence[str], *, env: dict[str, str] | None = None,
                cwd: str | Path | None = None, keep_output: bool = False) -> Run:
    """Run ``cmd`` once (no shell) and time the whole process.

    Output goes to a temporary file (read back when ``keep_output``, or on failure), not a
    pipe, so a chatty command pays nothing for being read.
    """
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped
        text = ""
        if keep_output or proc.returncode:
            out.seek(0)
            text = out.read().decode(errors="replace")
    run = Run(wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode, text)
    if run.rc:
        lines = [x for x in text.strip().splitlines() if x.strip()]
        raise BenchError(f"exit {run.rc}: {' '.join(cmd[:4])} ...: "
                         f"{lines[-1] if lines else '(no output)'}")
    return run


@dataclass
class Spread:
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    def fmt(self, unit: str = "s", digits: int = 2) -> str:
        return (f"{self.median:.{digits}f} {unit} (min {self.min:.{digits}f}, "
                f"max {self.max:.{digits}f}, n={len(self.values)})")


@dataclass
class Timing:
    """Runs of one command, or of two in turn (``b`` and the pairwise ratios ``a / b``)."""

    a: list[Run]
    b: list[Run] = field(default_factory=list)

    def wall(self, which: str = "a") -> Spread:
        return Spread([r.wall_s for r in getattr(self, which)])

    def cpu(self, which: str = "a") -> Spread:
        return Spread([r.cpu_s for r in getattr(self, which)])

    def peak(self, which: str = "a") -> Spread:
        return Spread([r.peak_mib for r in getattr(self, which)])

    def ratio(self, what: str = "wall_s") -> Spread:
        def get(r: Run) -> float:
            return r.cpu_s if what == "cpu_s" else getattr(r, what)
        return Spread([get(x) / get(y) for x, y in zip(self.a, self.b)])

    def diff(self, what: str = "wall_s") -> Spread:
        return Spread([getattr(x, what) - getattr(y, what) for x, y in zip(self.a, self.b)])


Hook = Callable[[], None]


def time_commands(a: Sequence[str], b: Sequence[str] | None = None, *, runs: int = 5,
                  warmup: int = 1, env: dict[str, str] | None = None,
                  cwd: str | Path | None = None, keep_output: bool = False,
                  before: Hook | None = None) -> Timing:
    """Time ``a`` ``runs`` times (after ``warmup`` uncounted runs), in turn with ``b``."""
    t = Timing([], [])
    for i in range(warmup + runs):
        for cmd, dest in ((a, t.a), (b, t.b)):
            if cmd is None:
                continue
            if before:
                before()
            r = run_process(cmd, env=env, cwd=cwd, keep_output=keep_output)
            if i >= warmup:
                dest.append(r)
    return t


# --------------------------------------------------------------------------------- pimsim
@dataclass
class Source:
    """Where the pimsim processes take their code from: the working tree, or a git revision."""

    rev: str | None = None
    root: Path = REPO
    commit: str = ""

    def __post_init__(self) -> None:
        if self.rev is None:
            self.commit = _git("rev-parse", "--short", "HEAD") + (
                "+dirty" if _git("status", "--porcelain", "--", "pimsim", "hw_configs") else "")
            return
        full = _git("rev-parse", "--verify", f"{self.rev}^{{commit}}")
        self.commit = full[:7]
        self.root = CACHE / f"src-{full[:12]}"
        if not (self.root / "pimsim" / "__init__.py").exists():
            tmp = Path(tempfile.mkdtemp(prefix="src-", dir=_mkcache()))
            archive = subprocess.run(["git", "-C", str(REPO), "archive", full, "pimsim",
                                      "hw_configs", "pyproject.toml"],
                                     check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
            shutil.rmtree(self.root, ignore_errors=True)
            tmp.rename(self.root)
            for old in CACHE.glob("src-*"):  # one snapshot kept: the newest asked for
                if old != self.root:
                    shutil.rmtree(old, ignore_errors=True)

    @property
    def label(self) -> str:
        return f"working tree at {self.commit}" if self.rev is None else f"revision {self.commit}"

    def env(self, one_thread: bool = False) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        if self.rev is not None:
            env["PYTHONPATH"] = str(self.root)
        if one_thread:
            env.update(ONE_THREAD)
        return env

    def hw(self, name: str = "45nm_pim.yaml") -> str:
        return str(self.root / "hw_configs" / name)

    @property
    def python(self) -> str:
        return sys.executable

    def pimsim(self, *args: str) -> list[str]:
        """The ``pimsim`` console script of this interpreter (what a user types), or -m."""
        script = Path(sys.executable).parent / "pimsim"
        head = [str(script)] if script.exists() else [sys.executable, "-m", "pimsim.cli"]
        return head + list(args)


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def _mkcache() -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    return CACHE


def synthetic_trace(src: Source, samples: int, like: str = "salinas", timesteps: int = 5,
                    log: Callable[[str], None] = print) -> Path:
    """``pimsim trace synth --like LIKE --samples N``, written once into benchmarks/.cache/."""
    path = _mkcache() / f"{like}_synthetic_{samples}_T{timesteps}.npz"
    if not path.exists():
        tmp = path.with_suffix(".part.npz")
        t0 = time.perf_counter()
        run_process(src.pimsim("trace", "synth", "--like", like, "--samples", str(samples),
                               "--timesteps", str(timesteps), "--out", str(tmp)),
                    env=src.env(), cwd=src.root)
        tmp.rename(path)
        log(f"  wrote {path.relative_to(REPO)} ({path.stat().st_size / 1e6:.1f} MB) in "
            f"{time.perf_counter() - t0:.1f} s")
    return path


#: the floor of goal 1: load the trace with pimsim.trace and unpack every layer's spikes
FLOOR_SCRIPT = """\
import sys
import numpy as np
from pimsim.trace import load_trace
tr = load_trace(sys.argv[1])
for packed in tr.packed_spikes.values():
    np.unpackbits(packed, bitorder="little")
"""


def floor_command(src: Source, trace: Path) -> list[str]:
    return [src.python, "-c", FLOOR_SCRIPT, str(trace)]


def unpacked_spike_bytes(trace: Path) -> int:
    """Bytes of every spiking layer's input spikes at one byte per spike (pimsim.trace meta)."""
    import math

    from pimsim.trace import load_trace

    tr = load_trace(trace)
    return sum(tr.num_samples * tr.timesteps * math.prod(s.in_shape)
               for s in tr.layers if s.input == "spikes")


_RATE_RE = re.compile(r"([\d,]+(?:\.\d+)?) configurations/s")


def reported_sweep_rate(output: str) -> float | None:
    """The configurations/s figure that ``pimsim sweep`` prints on its last line, if any."""
    found = _RATE_RE.findall(output)
    return float(found[-1].replace(",", "")) if found else None


# --------------------------------------------------------------------------------- table
@dataclass
class Row:
    measure: str
    value: str
    goal: str = ""
    status: str = "info"


def print_table(rows: list[Row], file=None) -> None:
    file = file or sys.stdout
    heads = ("measure", "value", "goal", "status")
    cols = [[r.measure for r in rows], [r.value for r in rows], [r.goal for r in rows],
            [r.status for r in rows]]
    widths = [max([len(h)] + [len(v) for v in c]) for h, c in zip(heads, cols)]
    line = " | ".join(h.ljust(w) for h, w in zip(heads, widths))
    print(line, file=file)
    print("-|-".join("-" * w for w in widths), file=file)
    for r in rows:
        print(" | ".join(v.ljust(w) for v, w in zip((r.measure, r.value, r.goal, r.status),
                                                   widths)), file=file)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"
