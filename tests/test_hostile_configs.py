"""Hostile and absurd configs, sweep spaces and constraints: each is one line on stderr naming
the file and the key, exit 2, in bounded memory (a 2 GiB address-space limit) and time.

Every case is generated in tmp_path (no checked-in blobs) and run through the CLI in a new
process, as a user would; the cases run a few at a time (one fixture) to keep the file fast.
A hypothesis fuzz test then mutates a valid config text and overrides random schema keys with
random values: the loader returns a HardwareConfig or raises a ConfigError, nothing else.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pimsim.config import HardwareConfig, load_config
from pimsim.errors import ConfigError
from pimsim.sweep.space import flatten

IP = REPO / "traces" / "indian_pines.npz"
LIMIT_AS = 2 << 30  # bytes of address space per case
WALL_S = 20.0


def _limit() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_AS, LIMIT_AS))


# ------------------------------------------------------------------------------ generators


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A flow list whose ``levels`` anchors each repeat the previous ``width`` times:
    width^levels values once expanded (9^9 = 387 million)."""
    items = ["&a0 [" + ", ".join(["'lol'"] * width) + "]"]
    for i in range(1, levels):
        items.append(f"&a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "[" + ", ".join(items) + "]"


def merge_bomb(levels: int = 8, width: int = 12) -> str:
    """Mappings that each merge (``<<``) the previous one and list it ``width`` times."""
    lines = ["b0: &b0 {x: 1, y: 2}"]
    for i in range(1, levels):
        prev = f"*b{i - 1}"
        lines.append(f"b{i}: &b{i} {{<<: {prev}, k{i}: [{', '.join([prev] * width)}]}}")
    return "\n".join(lines) + "\n"


def deep(levels: int, opener: str = "[", closer: str = "]") -> str:
    return opener * levels + "1" + closer * levels


def extends_chain(folder: Path, n: int) -> Path:
    """hw0.yaml extends hw1.yaml extends ... extends 45nm_pim (n files)."""
    for i in range(n):
        parent = f"hw{i + 1}.yaml" if i < n - 1 else "45nm_pim"
        (folder / f"hw{i}.yaml").write_text(f"extends: {parent}\nname: hw{i}\n")
    return folder / "hw0.yaml"


@dataclass(frozen=True)
class Case:
    """One hostile input: what to write, how to run it, what the error line must name."""

    id: str
    kind: str  # "config" (config show), "run" (pimsim run) or "space" (pimsim sweep)
    text: str = ""
    sets: tuple[str, ...] = ()
    needles: tuple[str, ...] = ()
    make: Any = None  # (folder) -> path, instead of text
    names: str | None = None  # what names the file in the error line (default: its path)


def hw(body: str) -> str:
    """A config that extends the shipped 45nm_pim with ``body``."""
    return "extends: 45nm_pim\nname: hostile\n" + body


def val(id: str, kind: str, dotted: str, value: str, needle: str, at: str = "") -> Case:
    """A config whose one key ``dotted`` is ``value`` (YAML text)."""
    section, name = dotted.split(".")
    return Case(id, kind, hw(f"{section}:\n  {name}: {value}\n"), needles=(dotted + at, needle))


def refs(id: str, caps: str, needle: str, at: str = "") -> Case:
    """A config with two SRAM reference points at capacities ``caps`` (YAML text)."""
    return Case(id, "run", hw(f"memory:\n  sram_ref_bytes: {caps}\n  sram_ref_read_j: "
                              "[1.0e-12, 2.0e-12]\n"), needles=("memory.sram_ref_bytes" + at,
                                                                 needle))


def dim(id: str, dotted: str, spec: str, needle: str, at: str = "") -> Case:
    """A space sweeping ``dotted`` over ``spec`` (YAML text)."""
    return Case(id, "space", f"parameters:\n  {dotted}: {spec}\n",
                needles=(f"parameters.{dotted}{at}", needle))


def con(id: str, text: str, needle: str, at: str = ":") -> Case:
    """A two-point space with one constraint ``text``."""
    return Case(id, "space", "parameters:\n  pim.adc_bits: [4, 5]\nconstraints: ["
                + json.dumps(text) + "]\n", needles=(f": constraints{at}", needle))


CASES: list[Case] = [
    # ---- YAML level
    Case("alias-bomb-string", "config", "extends: 45nm_pim\nname: " + alias_bomb() + "\n",
         needles=("name[", "aliases")),
    Case("alias-bomb-number", "run", hw("digital:\n  pe_rows: " + alias_bomb() + "\n"),
         needles=("digital.pe_rows[", "aliases")),
    Case("alias-bomb-merge", "config", hw(merge_bomb()), needles=("b4.k4[", "aliases")),
    Case("deep-nesting-list", "config", hw("description: " + deep(3000) + "\n"),
         needles=("description", "nested deeper than 32")),
    Case("deep-nesting-map", "run", hw("tech: " + deep(3000, "{a: ", "}") + "\n"),
         needles=("tech.a.a", "nested deeper than 32")),
    Case("duplicate-key", "config", hw("tech:\n  clock_hz: 4.0e+8\n  clock_hz: 5.0e+8\n"),
         needles=("hw.yaml: tech.clock_hz:", "duplicate key 'clock_hz'", "lines 4 and 5")),
    Case("duplicate-section", "run", hw("pim:\n  adc_bits: 4\npim:\n  adc_bits: 5\n"),
         needles=(": pim:", "duplicate key 'pim'", "lines 3 and 5")),
    Case("file-too-large", "config", hw("# " + "x" * 200 + "\n") * 6000,
         needles=("file too large", "1 MiB")),
    Case("long-number-literal", "config", hw("digital:\n  pe_rows: " + "9" * 5000 + "\n"),
         needles=("digital.pe_rows", "number literal of 5,000 characters")),
    Case("extends-chain-1500", "config", make=lambda d: extends_chain(d, 1500),
         names="extends-chain-1500", needles=("hw32.yaml: extends:", "longer than 32 files")),
    Case("sources-list", "config", hw("sources: [a, b]\n"),
         needles=(": sources:", "expected a mapping")),
    Case("top-level-list", "config", "- 1\n- 2\n", needles=("mapping at the top level",)),
    # ---- values
    refs("sram-ref-zero", "[0, 0]", "greater than or equal to 1", at="[0]"),
    refs("sram-ref-negative", "[-8192, 8192]", "greater than or equal to 1", at="[0]"),
    refs("sram-ref-flat", "[8192, 8192]", "increase strictly"),
    val("sram-ref-energy-zero", "run", "memory.sram_ref_read_j", "[0.0, 0.0, 0.0]",
        "greater than 0", at="[0]"),
    val("sram-ref-scalar", "config", "memory.sram_ref_bytes", "8192", "list"),
    val("pe-rows-1e12", "run", "digital.pe_rows", "1000000000000",
        "less than or equal to 4096"),
    val("sram-1e21", "run", "memory.weight_sram_bytes", "1000000000000000000000",
        "less than or equal to 1099511627776"),
    val("arrays-1e15", "run", "pim.num_arrays", "1000000000000000",
        "less than or equal to 1048576"),
    val("update-cycles-1e17", "run", "digital.neuron_update_cycles", "100000000000000000",
        "less than or equal to 10000"),
    val("energy-inf", "run", "ops.int_add_8b_j", ".inf", "finite number"),
    val("energy-nan", "run", "pim.e_cell_j", ".nan", "finite number"),
    val("energy-1j", "run", "ops.fp32_add_j", "1.0", "less than or equal to 0.000001"),
    val("clock-inf", "config", "tech.clock_hz", ".inf", "finite number"),
    val("clock-1e15", "config", "tech.clock_hz", "1.0e+15",
        "less than or equal to 100000000000"),
    val("bool-as-string", "config", "pim.enabled", "'true'", "valid boolean"),
    val("int-as-bool", "config", "digital.lanes", "true", "not a boolean"),
    Case("scaled-out-of-bounds", "config", hw("tech:\n  node_nm: 180\n  vdd_v: 1.8\n"
                                              "ops:\n  int_mult_32b_j: 9.9e-7\n"),
         needles=("ops.int_mult_32b_j", "after scaling")),
    Case("two-cross-key-problems", "config", hw("pim:\n  rows_per_read: 256\n"
                                                "  cols_per_adc: 512\n"),
         needles=("pim.rows_per_read", "(and 1 more problem(s))")),
    # ---- --set
    Case("set-list", "run", sets=("digital.lanes=[1, 2]",),
         needles=("digital.lanes", "valid integer")),
    Case("set-list-float", "run", sets=("tech.clock_hz=[5.0e+8]",),
         needles=("tech.clock_hz", "valid number")),
    Case("set-zero-bandwidth", "run", sets=("memory.dram_bandwidth_bytes_per_s=0",),
         needles=("memory.dram_bandwidth_bytes_per_s", "greater than or equal to 1")),
    Case("set-zero-clock", "run", sets=("tech.clock_hz=0",),
         needles=("tech.clock_hz", "greater than or equal to 1000")),
    Case("set-sources-list", "run", sets=("sources=[1, 2]",),
         needles=(": sources:", "expected a mapping")),
    Case("set-alias-bomb", "run", sets=("name=" + alias_bomb(),),
         needles=(": name[", "--set value", "aliases")),
    Case("set-inf", "run", sets=("pim.t_bitline_s=.inf",),
         needles=("pim.t_bitline_s", "finite number")),
    # ---- sweep spaces
    Case("space-1e9-points", "space", "parameters:\n" + "".join(
        f"  {k}: {{start: 1, stop: 10, step: 1}}\n" for k in (
            "pim.adc_bits", "pim.dac_bits", "pim.num_arrays", "pim.cols_per_adc",
            "digital.pe_rows", "digital.pe_cols", "digital.lanes", "digital.mac_lanes",
            "memory.sram_ports")),
         needles=(": parameters:", "1,000,000,000 points", "max_points")),
    dim("space-log-step-tiny", "tech.clock_hz",
        "{start: 1.0e+3, stop: 1.0e+11, step: 1.000000001, scale: log}",
        "values, above the limit"),
    dim("space-linear-step-tiny", "pim.e_cell_j", "{start: 0.0, stop: 1.0e-6, step: 1.0e-30}",
        "values, above the limit"),
    dim("space-num-huge", "tech.vdd_v", "{start: 0.8, stop: 1.0, num: 10000000000}",
        "above the limit"),
    Case("space-random-count", "space", "strategy: random\ncount: 1000000000\nparameters:\n"
         "  tech.vdd_v: {distribution: uniform, low: 0.8, high: 1.0}\n",
         needles=(": count:", "count 1,000,000,000 is above the limit")),
    Case("space-empty", "space", "parameters: {}\n",
         needles=(": parameters:", "nothing to sweep")),
    Case("space-no-parameters", "space", "strategy: grid\n",
         needles=(": parameters:", "nothing to sweep")),
    dim("space-inf", "tech.clock_hz", "[5.0e+8, .inf]", "finite number"),
    dim("space-zero-bandwidth", "memory.dram_bandwidth_bytes_per_s", "[0, 1.0e+9]",
        "greater than or equal to 1"),
    dim("space-range-inf", "tech.clock_hz", "{start: 1.0e+8, stop: .inf, num: 3}",
        "finite number"),
    dim("space-list-valued", "memory.sram_ref_bytes", "[[0, 0], [1, 2]]", "list-valued"),
    dim("space-bool-string", "pim.enabled", "['true', 'false']", "valid boolean"),
    dim("space-pe-rows-huge", "digital.pe_rows", "[16, 1000000000000]", "4096"),
    dim("space-alias-bomb", "pim.adc_bits", alias_bomb(), "aliases", at="["),
    Case("space-duplicate", "space", "parameters:\n  pim.adc_bits: [4]\n  pim.adc_bits: "
         "[5]\n", needles=("parameters.pim.adc_bits", "duplicate key")),
    dim("space-deep", "pim.adc_bits", deep(3000), "nested deeper"),
    Case("space-seed-negative", "space", "seed: -1\nstrategy: random\ncount: 5\n"
         "parameters:\n  tech.vdd_v: {distribution: uniform, low: 0.8, high: 1.0}\n",
         needles=(": seed:", "0 to 2^64")),
    # ---- constraints
    con("constraint-big-power", "((10 ** 64) ** 64) ** 64 > pim.rows", "too large"),
    con("constraint-string-mult", "'a' * 10 ** 10 == pim.input_mode",
        "arithmetic needs numbers"),
    con("constraint-deep", "-" * 1500 + "pim.rows > 0", "nested deeper", at="[0]"),
    con("constraint-long-sum", "+".join(["1"] * 900) + " > pim.rows", "nested deeper",
        at="[0]"),
    con("constraint-not-chain", "not " * 450 + "pim.enabled", "nested deeper", at="[0]"),
    con("constraint-too-long", "pim.rows > " + "1" * 2100, "at most 2,000", at="[0]"),
    con("constraint-huge-float", "pim.rows * 1.0e+300 * 1.0e+300 > 1", "at most 1e+300"),
]

#: Variants of the cases above, checked in-process through the same loaders (the CLI adds
#: only "pimsim: error: " and exit 2 to a ConfigError, which the CLI cases show), to keep the
#: file fast on 2 cores.
IN_PROCESS = {
    "alias-bomb-merge", "deep-nesting-map", "duplicate-section", "long-number-literal",
    "top-level-list", "sram-ref-negative", "sram-ref-energy-zero", "sram-ref-scalar",
    "energy-nan", "energy-1j", "clock-1e15", "int-as-bool", "set-list-float",
    "set-zero-clock", "set-inf", "space-no-parameters", "space-range-inf", "space-duplicate",
    "space-seed-negative", "constraint-long-sum", "constraint-not-chain",
    "constraint-too-long"}
CLI_CASES = [c for c in CASES if c.id not in IN_PROCESS]


@dataclass
class Outcome:
    code: int
    stderr: str
    wall_s: float
    path: Path
    written: set[Path]  # files that appeared in the case's folder


def _command(case: Case, folder: Path) -> tuple[Path, list[str]]:
    """Write the case's input into ``folder``; (its path, the CLI arguments)."""
    folder.mkdir(parents=True, exist_ok=True)
    if case.make is not None:
        path = case.make(folder)
    else:
        path = folder / ("space.yaml" if case.kind == "space" else "hw.yaml")
        path.write_text(case.text or hw(""))
    out = folder / "tmp" / "x.csv"  # (folder / "tmp" does not exist: nothing is written)
    if case.kind == "config":
        args = ["config", "show", path]
    elif case.kind == "run":
        args = ["run", "--hw", path, "--trace", IP, "--json", folder / "x.json"]
    else:
        args = ["sweep", "--hw", "45nm_pim", "--trace", IP, "--space", path, "--out", out,
                "--jobs", "1", "--no-progress"]
    for s in case.sets:
        args += ["--set", s]
    return path, [sys.executable, "-m", "pimsim.cli", *map(str, args)]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, Outcome]:
    """Every case run in its own process under the address-space limit, three at a time
    (started from this thread: preexec_fn is not safe with threads)."""
    root = tmp_path_factory.mktemp("hostile")
    logs = root / "_stderr"
    logs.mkdir()
    pending, running, done = list(CLI_CASES), {}, {}
    while pending or running:
        while pending and len(running) < 3:
            case = pending.pop(0)
            folder = root / case.id
            path, cmd = _command(case, folder)
            before = set(folder.rglob("*"))
            err = open(logs / case.id, "w+")  # noqa: SIM115 - closed when the case ends
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err,
                                    text=True, preexec_fn=_limit)  # noqa: PLW1509
            running[case.id] = (proc, err, time.perf_counter(), path, folder, before)
        for cid, (proc, err, t0, path, folder, before) in list(running.items()):
            if proc.poll() is None:
                if time.perf_counter() - t0 > 120:
                    proc.kill()
                continue
            err.seek(0)
            done[cid] = Outcome(proc.returncode, err.read(), time.perf_counter() - t0, path,
                                set(folder.rglob("*")) - before)
            err.close()
            del running[cid]
        time.sleep(0.02)
    return done


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_hostile_input_is_one_line_error(outcomes, case):
    o = outcomes[case.id]
    assert o.code == 2, (o.code, o.stderr[-2000:])
    assert "Traceback" not in o.stderr, o.stderr[-2000:]
    lines = [x for x in o.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, o.stderr[-2000:]
    line = lines[0]
    assert line.startswith("pimsim: error: "), line
    named = case.names or str(o.path)
    assert named in line, line
    for needle in case.needles:
        assert needle in line, (needle, line)
    assert len(line) < 400, line
    assert o.wall_s < WALL_S, o.wall_s
    assert not o.written, f"output written: {sorted(map(str, o.written))}"


# ------------------------------------------------------------------- in-process, quick checks


@pytest.mark.parametrize("case", [c for c in CASES if c.id in IN_PROCESS],
                         ids=[c.id for c in CASES if c.id in IN_PROCESS])
def test_hostile_variant_is_one_line_config_error(tmp_path, case):
    from pimsim.config import parse_set_options
    from pimsim.sweep.space import load_space

    path, _ = _command(case, tmp_path / case.id)
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as exc:
        if case.kind == "space":
            load_space(path, load_config("45nm_pim"))
        else:
            load_config(path, parse_set_options(case.sets, file=str(path)))
    assert time.perf_counter() - t0 < WALL_S
    line = exc.value.one_line()
    assert "\n" not in line and len(line) < 400, line
    assert (case.names or str(path)) in line, line
    for needle in case.needles:
        assert needle in line, (needle, line)


def _write(tmp_path: Path, text: str, name: str = "hw.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_valid_anchors_and_merge_keys_still_load(tmp_path):
    """A few aliases and a merge key are plain YAML and still work."""
    p = _write(tmp_path, hw("pim:\n  rows: &n 64\n  cols: *n\n  rows_per_read: *n\n"
                            "cnn:\n  <<: {int_bits: 4}\n  accumulator_bits: 24\n"))
    cfg = load_config(p)
    assert cfg.pim.rows == cfg.pim.cols == cfg.pim.rows_per_read == 64
    assert cfg.cnn.int_bits == 4 and cfg.cnn.accumulator_bits == 24


def test_bounds_accept_every_value_the_shipped_configs_and_spaces_use():
    from pimsim.shipped import shipped_configs, shipped_spaces
    from pimsim.sweep.space import load_space

    for f in shipped_configs():
        load_config(f.path)
    base = load_config("45nm_pim")
    for f in shipped_spaces():
        sp = load_space(f.path, base)
        assert 0 < sp.size <= 1_000_000


def test_point_limit_counts_before_making_points(tmp_path):
    from pimsim.sweep.space import load_space

    base = load_config("45nm_pim")
    text = "parameters:\n  tech.vdd_v: {start: 0.8, stop: 1.0, num: 40}\n" \
           "  pim.adc_bits: {start: 1, stop: 12, step: 1}\n"
    p = _write(tmp_path, text, "s.yaml")
    with pytest.raises(ConfigError, match=r"grid \(40 x 12\) has 480 points, above the limit "
                                          "of 100 points"):
        load_space(p, base, max_points=100)
    assert load_space(p, base).size == 480
    p2 = _write(tmp_path, "max_points: 100\n" + text, "s2.yaml")
    with pytest.raises(ConfigError, match="above the limit of 100 points"):
        load_space(p2, base)
    assert load_space(p2, base, max_points=1000).size == 480  # the caller's option wins
    with pytest.raises(ConfigError, match="this range has 40 values"):
        load_space(p, base, max_points=20)


def test_model_limits_stay_skipped_points(tmp_path):
    """A value outside what the cost model supports (a 13-bit ADC) is a skipped point, not
    an error of the space (tests/test_sweep.py relies on it); a physical bound is an error."""
    from pimsim.sweep.space import load_space

    base = load_config("45nm_pim")
    sp = load_space(_write(tmp_path, "parameters:\n  pim.adc_bits: [6, 13]\n", "s.yaml"), base)
    assert sp.size == 2
    with pytest.raises(ConfigError, match="parameters.pim.rows"):
        load_space(_write(tmp_path, "parameters:\n  pim.rows: [0, 64]\n", "t.yaml"), base)


def test_constraint_bounds_in_process():
    from pimsim.sweep.constraints import Constraint

    look = {"pim.rows": 128, "pim.input_mode": "dac"}.__getitem__
    assert Constraint("2 ** 64 > pim.rows", file="f", where="c")(look)
    assert Constraint("pim.input_mode == 'dac' and max(1, 2) == 2", file="f", where="c")(look)
    for text, exc in [("'a' * 10 ** 10 == pim.input_mode", TypeError),
                      ("(1, 2) * 10 ** 9 == pim.rows", TypeError),
                      ("((10 ** 64) ** 64) ** 64 > pim.rows", OverflowError),
                      ("pim.rows ** 65 > 1", OverflowError),
                      ("1.5 ** 64 ** 2 > pim.rows", OverflowError)]:
        c = Constraint(text, file="f", where="c")
        t0 = time.perf_counter()
        with pytest.raises(exc):
            c(look)
        assert time.perf_counter() - t0 < 1.0


# ------------------------------------------------------------------------------ fuzz tests

VALID = (REPO / "tests" / "data" / "tiny_hw.yaml").read_text()
_FLAT = flatten(load_config(REPO / "tests" / "data" / "tiny_hw.yaml").model_dump())
_KEYS = sorted(_FLAT)

_YAML_BITS = ["&a", "*a", "<<: *a", "[", "]", "{", "}", ":", "- ", "\n", "  ", "\t", "#",
              "!!binary", "!!set", "!!python/object:os.system", "2001-13-45", ".inf", ".nan",
              "1e999", "0x" + "f" * 80, "9" * 120, "~", "'", '"', "\\", "\x00", "\u2028",
              "? ", "|", ">", "%YAML 1.1\n", "---\n", "...\n", "true", "null", "-1", "0"]


def _mutate(text: str, ops: list[tuple[int, int, str]]) -> str:
    for kind, pos, bit in ops:
        i = pos % (len(text) + 1)
        if kind == 0:
            text = text[:i] + bit + text[i:]
        elif kind == 1:
            text = text[:i] + text[i + len(bit):]
        else:
            line_start = text.rfind("\n", 0, i) + 1
            line_end = text.find("\n", i)
            text = text[:line_start] + text[line_start:line_end if line_end >= 0 else None] \
                + text[line_start:]
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10**6),
                              st.sampled_from(_YAML_BITS)), min_size=1, max_size=6))
def test_fuzz_mutated_yaml_is_config_or_config_error(tmp_path_factory, ops):
    folder = tmp_path_factory.mktemp("fuzz")
    p = folder / "tiny.yaml"
    p.write_text(_mutate(VALID, ops), encoding="utf-8", errors="surrogatepass")
    try:
        cfg = load_config(p)
    except ConfigError as exc:
        assert "\n" not in exc.one_line()
        return
    assert isinstance(cfg, HardwareConfig)


_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
    st.sampled_from([0, 1, -1, 1e-300, 1e300, 2**40, 2**63, math.inf, "", "true", "x" * 500]),
    st.text(max_size=20), st.lists(st.floats(allow_nan=True), max_size=4),
    st.lists(st.integers(-10, 2**41), max_size=4),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(over=st.dictionaries(st.sampled_from(_KEYS + ["sources", "name", "tech", "pim.nope"]),
                            _VALUES, min_size=1, max_size=4))
def test_fuzz_overrides_are_config_or_config_error(over):
    try:
        cfg = load_config(REPO / "tests" / "data" / "tiny_hw.yaml", over)
    except ConfigError as exc:
        assert "\n" not in exc.one_line() and len(exc.one_line()) < 1000
        return
    assert isinstance(cfg, HardwareConfig)
    for k, v in flatten(cfg.model_dump()).items():
        if isinstance(v, float):
            assert math.isfinite(v), k


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=60))
def test_fuzz_set_values_parse_or_config_error(text):
    from pimsim.config import parse_set_options

    try:
        parse_set_options([f"pim.adc_bits={text}"], file="f")
    except ConfigError:
        pass


def test_yaml_text_of_a_resolved_config_loads_back(tmp_path):
    """`pimsim config show` output goes through the bounded loader unchanged."""
    from pimsim.config_view import resolved_yaml
    from pimsim.shipped import resolve_config

    cfg = load_config("45nm_pim")
    p = _write(tmp_path, resolved_yaml(cfg, origin=resolve_config("45nm_pim"), overrides={}))
    assert load_config(p).model_dump() == cfg.model_dump()
    assert yaml.safe_load(p.read_text())["name"] == cfg.name


def test_max_points_flag_refuses_a_space_above_the_users_limit(tmp_path):
    """--max-points lowers (or raises) the point limit; the count is in the message."""
    space = tmp_path / "s.yaml"
    space.write_text("strategy: grid\nparameters:\n  digital.pe_rows: [8, 16, 32]\n"
                     "  digital.pe_cols: [8, 16]\n")
    out = tmp_path / "x.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "pimsim.cli", "sweep", "--hw", "45nm_pim", "--trace",
         str(REPO / "traces" / "indian_pines.npz"), "--space", str(space), "--out", str(out),
         "--max-points", "5", "--no-progress"], capture_output=True, text=True, timeout=120,
        check=False)
    assert proc.returncode == 2, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "6 points" in lines[0] and "5" in lines[0], lines
    assert not out.exists()
