"""The vectorized cost path: rows equal api.simulate (= pimsim run --set) on a mixed space,
bit for bit equal to the scalar evaluator; the start-up guard switches it off when the models
change under it; grouping and the statistics phase."""

from __future__ import annotations

import concurrent.futures as cf
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pimsim.sweep.vectorized as vz
from pimsim import api
from pimsim.api import load_config, load_trace, simulate
from pimsim.networks import scene_layers
from pimsim.stats_cache import StatsBundle, TraceView, layer_key, pim_key
from pimsim.sweep import Grouped, PointBuilder, PointTable, load_space, run_sweep
from pimsim.sweep.runners import gather_stats
from pimsim.synth import synth_trace

REPO = Path(__file__).resolve().parents[1]
HW = str(REPO / "hw_configs" / "45nm_pim.yaml")

#: every branch of the PIM and digital models: input modes and DAC kinds, analog weight
#: combining, ADC models, a published read time, PIM on/off, PE rows, first-layer reuse,
#: leakage on/off, memory keys; a macro whose weights are too narrow for the layer (an error
#: the scalar path reports) and a supply that rescales constants on load (scalar path)
MIXED = """\
strategy: random
count: 260
seed: 5
parameters:
  pim.enabled: {distribution: choice, values: [true, true, true, false]}
  pim.input_mode: {distribution: choice, values: [bit_serial, dac]}
  pim.dac_kind: {distribution: choice, values: [level, pulse_count]}
  pim.dac_bits: {distribution: choice, values: [1, 2, 4]}
  pim.analog_weight_combine: {distribution: choice, values: [true, false]}
  pim.adc_model: {distribution: choice, values: [walden, walden, sar, flash]}
  pim.adc_bits: {distribution: choice, values: [3, 4, 5, 6, 8]}
  pim.rows_per_read: {distribution: choice, values: [16, 32, 64, 128]}
  pim.num_arrays: {distribution: choice, values: [1, 4, 16, 64]}
  pim.allow_multiplex: {distribution: choice, values: [true, true, true, false]}
  pim.max_weight_bits: {distribution: choice, values: [8, 8, 8, 8, 8, 4]}
  pim.t_read_s: {distribution: choice, values: [null, null, null, 3.0e-9]}
  pim.e_cell_j: {distribution: loguniform, low: 1.0e-16, high: 1.0e-15}
  digital.pe_rows: {distribution: choice, values: [16, 32]}
  digital.first_layer_reuse: {distribution: choice, values: [true, false]}
  accounting.leakage: {distribution: choice, values: [true, false]}
  memory.dram_j_per_bit: {distribution: loguniform, low: 5.0e-12, high: 4.0e-11}
  memory.sram_write_factor: {distribution: uniform, low: 1.0, high: 3.0}
  tech.clock_hz: {distribution: uniform, low: 2.0e+8, high: 1.0e+9}
  tech.vdd_v: {distribution: choice, values: [0.9, 0.9, 0.9, 0.9, 0.8]}
"""
KEYS = [line.split(":")[0].strip() for line in MIXED.splitlines()
        if line.startswith("  ") and "." in line.split(":")[0]]


@pytest.fixture(scope="module")
def trace_path(tmp_path_factory) -> str:
    """A 3-sample, 2-step SYNTHETIC trace on the Salinas geometry."""
    out = str(tmp_path_factory.mktemp("vz") / "salinas3.npz")
    synth_trace(out, scene_layers("salinas"), num_samples=3, timesteps=2, seed=4)
    return out


def _value(v):
    if (isinstance(v, str) and v == "None") or (isinstance(v, float) and math.isnan(v)):
        return None  # pandas reads the CSV's None as NaN
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, str) and v in ("true", "false"):
        return v == "true"
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    return v


def _config(over: dict):
    """load_config with the overrides (``pim.t_read_s``, which --set rejects for want of a
    source, is set after loading: it is never technology-scaled)."""
    rest = {k: v for k, v in over.items() if k != "pim.t_read_s"}
    cfg = load_config(HW, rest)
    if over.get("pim.t_read_s") is not None:
        cfg = cfg.model_copy(update={"pim": cfg.pim.model_copy(
            update={"t_read_s": over["pim.t_read_s"]})})
    return cfg


def _run(tmp_path, trace, space, out, **kw):
    return run_sweep(HW, [trace], space, str(tmp_path / out), progress=False,
                     cache_dir=str(tmp_path / "cache"), log=kw.pop("log", lambda m: None),
                     **kw)


def test_vectorized_rows_equal_simulate_on_mixed_space(tmp_path, trace_path, monkeypatch):
    space = tmp_path / "mixed.yaml"
    space.write_text(MIXED)
    fallback: list[int] = []
    real = vz.scalar_batch

    def counting(ev, batch):  # the points the vectorized path hands to the scalar one
        fallback.extend(pid for pid, _ in batch)
        return real(ev, batch)

    monkeypatch.setattr(vz, "scalar_batch", counting)
    s = _run(tmp_path, trace_path, str(space), "vec.csv")
    assert s.vectorized
    df = pd.read_csv(tmp_path / "vec.csv", dtype={"pim.t_read_s": str})
    assert len(df) == s.rows > 150
    trace = load_trace(trace_path)
    metrics = [c for c in df.columns if c.startswith(("energy_", "delay_", "edp_", "area_"))]
    scaled = 0
    for row in df.to_dict("records"):
        over = {k: _value(row[k]) for k in KEYS}
        ref = simulate(_config(over), trace)
        eng, comp = ref.by_engine(), ref.by_component()
        want = {"energy_j": ref.energy_j, "delay_s": ref.delay_s, "edp_js": ref.edp_js,
                "area_m2": ref.area_m2, "energy_other_j": 0.0}
        for e in ("digital", "pim"):
            want[f"energy_{e}_j"] = eng.get(e, {}).get("energy_j", 0.0)
            want[f"delay_{e}_s"] = eng.get(e, {}).get("delay_s", 0.0)
        want.update({f"energy_{k}_j": v for k, v in comp.items()})
        for col in metrics:
            assert row[col] == pytest.approx(want.get(col, 0.0), rel=1e-12, abs=0), (col, over)
        assert (row["energy_j"], row["delay_s"], row["edp_js"]) == (
            ref.energy_j, ref.delay_s, ref.edp_js)  # the totals are exact
        scaled += over["tech.vdd_v"] != 0.9
    # most points went the vectorized way; the scalar one got the rescaled-supply points and
    # those the fixed macro cannot hold (and reported them)
    assert 0 < scaled <= len(fallback) < s.rows / 2
    assert any("pim.max_weight_bits=4" in r for _, _, r in s.skipped)
    # the scalar evaluator writes the very same bytes
    _run(tmp_path, trace_path, str(space), "scalar.csv", vectorized=False)
    assert (tmp_path / "vec.csv").read_bytes() == (tmp_path / "scalar.csv").read_bytes()
    assert (Path(str(tmp_path / "vec.csv") + ".skipped.csv").read_bytes()
            == Path(str(tmp_path / "scalar.csv") + ".skipped.csv").read_bytes())


def test_plan_reasons_equal_point_by_point_build(tmp_path):
    """Grouped planning reports the reason a point-by-point build would."""
    from pimsim.config import read_yaml
    from pimsim.errors import PimsimError
    from pimsim.sweep import plan_points

    text = ("parameters:\n  pim.adc_bits: [4, 13, 11]\n  pim.adc_model: [walden, sar]\n"
            "  pim.rows_per_read: [64, 256]\n  tech.vdd_v: [0.9, 0.3]\n"
            "constraints: ['pim.adc_bits != 4 or pim.rows_per_read == 64']\n")
    (tmp_path / "s.yaml").write_text(text)
    base = load_config(HW)
    space = load_space(tmp_path / "s.yaml", base)
    builder = PointBuilder(base, space.keys, file=space.file, raw=read_yaml(HW))
    plan = plan_points(space, base, builder)
    naive = PointBuilder(base, space.keys, file=space.file, raw=read_yaml(HW))
    for ci, values in enumerate(plan.combos):
        want = None
        if values[0] == 4 and values[2] != 64:
            want = "rejected by constraint"
        else:
            try:
                naive.build(values)
            except PimsimError as exc:
                want = exc.one_line()
        got = plan.reasons.get(ci)
        assert (got is None) == (want is None), values
        if want:
            assert got.startswith(want) or want in got, (got, want)
    assert plan.valid and len(plan.reasons) > len(plan.valid)


def test_guard_switches_vectorized_path_off_when_models_change(tmp_path, trace_path,
                                                               monkeypatch):
    """A model that no longer matches the vectorized formulas: warn, use the scalar path."""
    space = tmp_path / "s.yaml"
    space.write_text("parameters:\n  pim.adc_bits: [4, 6]\n"
                     "  memory.dram_j_per_bit: [1.0e-11, 2.0e-11]\n")
    real = api.cost_digital_layer

    def changed(*a, **kw):  # a new term in the digital model
        cost = real(*a, **kw)
        cost.energy_breakdown_j["compute"] *= 1.5
        return cost

    monkeypatch.setattr(api, "cost_digital_layer", changed)
    said: list[str] = []
    s = _run(tmp_path, trace_path, str(space), "r.csv", log=said.append)
    assert not s.vectorized
    assert any("vectorized cost path is off" in m and "instead of" in m for m in said)
    trace = load_trace(trace_path)
    df = pd.read_csv(tmp_path / "r.csv")
    for row in df.to_dict("records"):
        ref = simulate(load_config(HW, {"pim.adc_bits": int(row["pim.adc_bits"]),
                                        "memory.dram_j_per_bit": row["memory.dram_j_per_bit"]}),
                       trace)
        assert row["energy_j"] == ref.energy_j


def test_guard_catches_a_key_the_formulas_do_not_read(tmp_path, trace_path, monkeypatch):
    """A model reading a swept key the vectorized formulas ignore is caught even when the
    numbers happen to agree."""
    space = tmp_path / "s.yaml"
    space.write_text("parameters:\n  pim.adc_bits: [4, 6]\n")
    real = api.cost_digital_layer

    def reads_more(spec, act, cfg, **kw):
        _ = cfg.pim.adc_bits  # a digital layer now depends on the PIM ADC (say)
        return real(spec, act, cfg, **kw)

    monkeypatch.setattr(api, "cost_digital_layer", reads_more)
    said: list[str] = []
    s = _run(tmp_path, trace_path, str(space), "r.csv", log=said.append)
    assert not s.vectorized
    assert any("reads ['pim.adc_bits']" in m for m in said)


def test_grouped_regroups_when_a_branch_reads_more_keys():
    base = load_config(HW)
    keys = ["pim.input_mode", "pim.dac_bits", "pim.adc_bits"]
    rows = [(m, d, a) for m in ("bit_serial", "dac") for d in (1, 2, 4) for a in (4, 6)]
    table = PointTable(rows, len(keys))
    builder = PointBuilder(base, keys, file="t")
    calls = []

    def phases(cfg):
        calls.append(1)
        return 8 if cfg.pim.input_mode == "bit_serial" else math.ceil(8 / cfg.pim.dac_bits)

    g = Grouped(phases, {k: i for i, k in enumerate(keys)}, builder.build)
    got = g.per_point(table, dtype=np.int64)
    want = [8 if m == "bit_serial" else math.ceil(8 / d) for m, d, _ in rows]
    assert got.tolist() == want
    assert g.deps == (0, 1)  # adc_bits is never read
    assert len(calls) <= 6 + 2  # one per (mode, dac bits) group, plus one per regrouping
    first, inverse = table.groups((0, 1))
    assert len(first) == 6 and inverse.tolist() == [i // 2 for i in range(12)]


def test_statistics_phase_one_task_per_layer_geometry(trace_path):
    """Statistics are submitted to the executor one (layer, geometry) each, biggest first."""
    trace = load_trace(trace_path)
    view = TraceView.of(trace)
    spec0, spec1 = trace.layers[0], trace.layers[1]
    need = [{layer_key(spec1, 16), layer_key(spec1, 32), pim_key(spec0, 1), pim_key(spec0, 4),
             layer_key(trace.layers[-1], 16)}]
    submitted = []

    class Recorder(cf.Executor):
        def submit(self, fn, /, *args, **kwargs):
            submitted.append(args[2])
            fut: cf.Future = cf.Future()
            fut.set_result(fn(*args, **kwargs))
            return fut

    bundle = StatsBundle(view)
    computed, from_disk = gather_stats(Recorder(), [bundle], need, [trace_path],
                                       [view.content_hash], None)
    assert (computed, from_disk) == (5, 0) and set(bundle.stats) == need[0]
    assert len(submitted) == 5 and submitted[0][0] == "layer" and submitted[0][1] == spec1.name
