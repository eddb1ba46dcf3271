"""The sweep's one cost path: rows equal api.simulate (= pimsim run --set) on a mixed space, on
voltage and node sweeps (rescaled on load) and on unmappable points; every numeric key the
grouping rule leaves as a column broadcasts; resume, stale versions and --overwrite; grouping
and the statistics phase."""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_sweep import HW, _space, _sweep

import pimsim.models
import pimsim.sweep.evaluate as ev
import pimsim.sweep.run as sweep_run
from pimsim.api import load_config, load_trace, simulate
from pimsim.config import config_with
from pimsim.errors import PimsimError, SimulationError
from pimsim.models.area import area_breakdown_m2
from pimsim.models.base import COMPONENTS
from pimsim.models.engine import layer_key, pim_key
from pimsim.models.params import ConfigColumns
from pimsim.networks import scene_layers
from pimsim.simulate import activity_cache, layer_costs
from pimsim.stats_cache import StatsBundle, TraceView
from pimsim.sweep import (
    Grouped,
    PointBuilder,
    PointTable,
    SweepError,
    discrete_keys,
    flatten,
    load_space,
)
from pimsim.sweep.runners import gather_stats
from pimsim.synth import synth_trace

#: numeric cost keys (columns) mixed with the discrete kinds: PE rows (statistics), PIM on and
#: off, input modes and DAC widths, a bool, strings, an optional key with None, and a fixed
#: macro (allow_multiplex false) too small for some points
MIXED = """\
strategy: random
count: 160
seed: 5
parameters:
  pim.enabled: {distribution: choice, values: [true, true, false]}
  digital.pe_rows: {distribution: choice, values: [16, 32]}
  pim.input_mode: {distribution: choice, values: [bit_serial, dac]}
  pim.dac_bits: {distribution: choice, values: [2, 4]}
  pim.adc_model: {distribution: choice, values: [walden, sar]}
  pim.adc_bits: {distribution: choice, values: [4, 5, 6, 8]}
  pim.rows_per_read: {distribution: choice, values: [32, 64, 128]}
  pim.num_arrays: {distribution: choice, values: [1, 16, 64]}
  pim.cols: {distribution: choice, values: [32, 128]}
  pim.allow_multiplex: {distribution: choice, values: [true, true, false]}
  pim.t_read_s: {distribution: choice, values: [null, null, 3.0e-9]}
  pim.e_cell_j: {distribution: loguniform, low: 1.0e-16, high: 1.0e-15}
  digital.first_layer_reuse: {distribution: choice, values: [true, false]}
  digital.schedule: {distribution: choice, values: [tile_major, step_major]}
  accounting.leakage: {distribution: choice, values: [true, false]}
  memory.dram_j_per_bit: {distribution: loguniform, low: 5.0e-12, high: 4.0e-11}
  ops.int_add_8b_j: {distribution: uniform, low: 0.02e-12, high: 0.05e-12}
  tech.clock_hz: {distribution: uniform, low: 2.0e+8, high: 1.0e+9}
"""


@pytest.fixture(scope="module")
def trace_path(tmp_path_factory) -> str:
    """A 3-sample, 2-step SYNTHETIC trace on the Salinas geometry."""
    out = str(tmp_path_factory.mktemp("cols") / "salinas3.npz")
    synth_trace(out, scene_layers("salinas"), num_samples=3, timesteps=2, seed=4)
    return out


def _want(ref) -> dict[str, float]:
    """The sweep's metric columns of an api.simulate Result."""
    eng, comp = ref.by_engine(), ref.by_component()
    want = {"energy_j": ref.energy_j, "delay_s": ref.delay_s, "edp_js": ref.edp_js,
            "area_m2": ref.area_m2, "energy_other_j": 0.0}
    for e in ("digital", "pim"):
        want[f"energy_{e}_j"] = eng.get(e, {}).get("energy_j", 0.0)
        want[f"delay_{e}_s"] = eng.get(e, {}).get("delay_s", 0.0)
    want.update({f"energy_{k}_j": v for k, v in comp.items()})
    return want


def _check_rows(csv: Path, space: str, make_cfg, trace, skipped) -> tuple[int, int]:
    """Every row equals api.simulate of its point, every evaluation skip its SimulationError;
    returns (rows, skips) checked."""
    combos = load_space(space, load_config(HW)).combos()
    keys = load_space(space, load_config(HW)).keys
    df = pd.read_csv(csv)
    metrics = [c for c in df.columns if c.startswith(("energy_", "delay_", "edp_", "area_"))]
    assert metrics[-1] == "area_m2" and len(metrics) == 7 + len(COMPONENTS) + 2
    for row in df.to_dict("records"):
        over = dict(zip(keys, combos[row["point"]]))
        want = _want(simulate(make_cfg(over), trace))
        for col in metrics:
            assert row[col] == pytest.approx(want.get(col, 0.0), rel=1e-12, abs=0), (col, over)
    late = [(p, r) for p, _, r in skipped if "constraint" not in r]
    for pid, reason in late:
        with pytest.raises(PimsimError) as exc:
            cfg = make_cfg(dict(zip(keys, combos[pid])))
            simulate(cfg, trace)
        if isinstance(exc.value, SimulationError):  # found while costing: what run says
            assert reason == exc.value.one_line()
        else:  # found while planning (named after the space file)
            assert reason.endswith(" ".join(exc.value.message.split())), (reason, exc.value)
    return len(df), len(late)


def test_mixed_sweep_rows_equal_simulate(tmp_path, trace_path, monkeypatch):
    calls: list[int] = []
    real = ev.layer_costs

    def counting(cfg, view, stats, system="snn"):
        calls.append(getattr(cfg, "n", 1))
        return real(cfg, view, stats, system)

    monkeypatch.setattr(ev, "layer_costs", counting)
    space = _space(tmp_path, MIXED)
    s = _sweep(tmp_path, trace_path, space)
    base = load_config(HW)
    rows, late = _check_rows(tmp_path / "r.csv", space, lambda over: config_with(base, over),
                             load_trace(trace_path), s.skipped)
    assert rows == s.rows > 60 and late > 0  # a fixed macro too small for some points
    assert any("pim.allow_multiplex is false" in r for _, _, r in s.skipped)
    # every row came through the shared path (ConfigColumns groups and single points)
    assert max(calls) > 1 and sum(calls) >= rows


def test_voltage_and_node_sweeps_equal_run_with_set(tmp_path, trace_path, monkeypatch):
    """Points whose constants are rescaled on load (45nm_pim.yaml gives them at 45 nm, 0.9 V)
    are built by the full loader: each row is `pimsim run --set tech.vdd_v=... --set
    tech.node_nm=...`, a swept constant that is rescaled (ops.int_add_8b_j) included."""
    space = _space(tmp_path, """\
parameters:
  tech.vdd_v: [0.8, 0.9, 1.0]
  tech.node_nm: [32, 45]
  ops.int_add_8b_j: [0.03e-12, 0.05e-12]
  pim.adc_bits: [4, 6]
""")
    calls: list[int] = []
    real = ev.layer_costs
    monkeypatch.setattr(ev, "layer_costs", lambda cfg, *a: calls.append(
        getattr(cfg, "n", 1)) or real(cfg, *a))
    s = _sweep(tmp_path, trace_path, space)
    rows, _ = _check_rows(tmp_path / "r.csv", space, lambda over: load_config(HW, over),
                          load_trace(trace_path), s.skipped)
    assert rows == s.rows == 24
    # one group per (node, supply), each point loaded (and rescaled) by the full loader
    assert calls == [4] * 6
    df = pd.read_csv(tmp_path / "r.csv")
    # the supply and the node both change the energy (they are not ignored)
    assert df.groupby("tech.vdd_v")["energy_j"].mean().is_monotonic_increasing
    assert df.groupby("tech.node_nm")["energy_j"].mean().is_monotonic_increasing


def test_unmappable_points_skipped_with_reason(tmp_path, trace_path):
    space = _space(tmp_path, """\
parameters:
  pim.allow_multiplex: [false]
  pim.num_arrays: [1, 2]
  pim.cols: [32, 128]
  pim.adc_bits: [4, 6]
""")
    s = _sweep(tmp_path, trace_path, space)
    base = load_config(HW)
    rows, late = _check_rows(tmp_path / "r.csv", space, lambda over: config_with(base, over),
                             load_trace(trace_path), s.skipped)
    # 32 columns: the first layer's 48 columns need 2 arrays, which 1 cannot hold
    assert rows == 6 and late == 2
    assert all("pim.num_arrays=1" in r and "allow_multiplex is false" in r
               for _, _, r in s.skipped)
    assert len(pd.read_csv(str(tmp_path / "r.csv") + ".skipped.csv")) == 2


# ------------------------------------------------------------------------ the grouping rule


def _variants():
    base = load_config(HW)
    yield "45nm_pim", base
    yield "bit-serial walden step_major", config_with(base, {
        "pim.input_mode": "bit_serial", "pim.analog_weight_combine": False,
        "pim.adc_model": "walden", "digital.schedule": "step_major",
        "accounting.leakage": True, "digital.first_layer_reuse": True})


#: (variant, key) whose columns a model function does not broadcast over yet, with where
#: (the sweep costs those points one at a time; a fix removes the entry)
NOT_BROADCAST: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize(("name", "base"), list(_variants()))
def test_every_numeric_key_outside_the_rule_is_a_column(trace_path, name, base):
    """Each numeric key that discrete_keys leaves as a column costs, as a two-point column,
    what two scalar runs cost (energy, delay, components, area)."""
    trace = load_trace(trace_path)
    cache = activity_cache(trace)
    flat = flatten(base.model_dump())
    tried = 0
    broken = set()
    for key, v in flat.items():
        if discrete_keys([key], [(v,)]):
            continue
        for w in ((v + 1, v * 2) if isinstance(v, int) else (v * 1.5, v * 0.5)):
            try:
                cfgs = [config_with(base, {key: x}) for x in (v, w)]
                break
            except PimsimError:
                continue
        else:
            continue
        cols = ConfigColumns(base, {key: np.array([v, w])})
        try:
            costs = layer_costs(cols, trace, cache)
        except (TypeError, ValueError):
            broken.add((name, key))
            continue
        m = ev.metric_matrix(costs, area_breakdown_m2(cols), 2, ev.Columns())
        for i, cfg in enumerate(cfgs):
            want = _want(simulate(cfg, trace, cache=cache))
            for j, col in enumerate(ev.Columns().metrics):
                assert m[i, j] == pytest.approx(want.get(col, 0.0), rel=1e-12, abs=0), (
                    name, key, col)
        tried += 1
    assert tried > 50 and broken <= set(NOT_BROADCAST), sorted(broken - set(NOT_BROADCAST))


def test_a_model_that_does_not_broadcast_is_costed_point_by_point(tmp_path, trace_path,
                                                                   monkeypatch):
    real = ev.area_breakdown_m2

    def scalar_only(cfg):  # a model function written for scalars only
        float(cfg.pim.e_cell_j)
        return real(cfg)

    monkeypatch.setattr(ev, "area_breakdown_m2", scalar_only)
    space = _space(tmp_path, SMALL)
    said: list[str] = []
    s = _sweep(tmp_path, trace_path, space, log=said.append)
    base = load_config(HW)
    rows, _ = _check_rows(tmp_path / "r.csv", space, lambda over: config_with(base, over),
                          load_trace(trace_path), s.skipped)
    assert rows == 12
    assert len(said) == 1 and "does not broadcast over columns of pim.adc_bits, pim.e_cell_j" in said[0]
    assert "scalar_only" in said[0]


def test_discrete_keys():
    keys = ["tech.clock_hz", "digital.pe_rows", "pim.t_read_s", "pim.enabled", "pim.adc_bits",
            "tech.vdd_v", "pim.adc_model", "memory.sram_ref_bytes", "pim.e_cell_j"]
    combos = [(5e8, 16, None, True, 4, 0.9, "sar", [1, 2], 1e-16),
              (4e8, 32, 3e-9, False, 6, 0.8, "walden", [1, 3], 2e-16)]
    assert discrete_keys(keys, combos) == (1, 2, 3, 5, 6, 7)
    assert discrete_keys(["pim.t_read_s"], [(3e-9,), (4e-9,)]) == ()


# ---------------------------------------------------------------- resume, versions, overwrite

SMALL = "parameters:\n  pim.adc_bits: [4, 5, 6, 7]\n  pim.e_cell_j: [1.0e-16, 2.0e-16, 3.0e-16]\n"


def test_resume_after_partial_sweep(tmp_path, trace_path, monkeypatch):
    space = _space(tmp_path, SMALL)
    real = sweep_run.evaluate_batch
    done = []

    def dies(ctx, batch):  # the process dies after two batches
        if len(done) == 2:
            raise KeyboardInterrupt
        done.append(1)
        return real(ctx, batch)

    monkeypatch.setattr(sweep_run, "evaluate_batch", dies)
    with pytest.raises(KeyboardInterrupt):
        _sweep(tmp_path, trace_path, space, batch_size=3)
    assert pd.read_csv(tmp_path / "r.csv").shape[0] == 6
    monkeypatch.setattr(sweep_run, "evaluate_batch", real)
    s = _sweep(tmp_path, trace_path, space, batch_size=3)
    assert (s.resumed, s.evaluated, s.rows) == (6, 6, 12)
    _sweep(tmp_path, trace_path, space, out="clean.csv")
    assert (tmp_path / "r.csv").read_bytes() == (tmp_path / "clean.csv").read_bytes()


def test_stale_version_refused(tmp_path, trace_path, monkeypatch):
    space = _space(tmp_path, SMALL)
    out = tmp_path / "r.csv"
    _sweep(tmp_path, trace_path, space)
    before = out.read_bytes()
    written = pimsim.models.COST_MODEL_VERSION
    monkeypatch.setattr(pimsim.models, "COST_MODEL_VERSION", 99)
    with pytest.raises(SweepError) as exc:
        _sweep(tmp_path, trace_path, space)
    msg = exc.value.one_line()
    assert "refusing to resume" in msg and f"cost model {written}" in msg
    assert "cost model 99" in msg
    assert "--overwrite" in msg and "\n" not in msg and out.read_bytes() == before
    # a sidecar of an older pimsim, which recorded no versions, is refused too
    side = Path(str(out) + ".sweep.json")
    data = json.loads(side.read_text())
    del data["versions"]
    side.write_text(json.dumps(data))
    with pytest.raises(SweepError, match="older pimsim"):
        _sweep(tmp_path, trace_path, space)
    s = _sweep(tmp_path, trace_path, space, overwrite=True)
    assert s.evaluated == 12 and json.loads(side.read_text())["versions"]["cost_model"] == 99


def test_overwrite_keeps_old_results_until_the_new_sweep_writes(tmp_path, trace_path,
                                                                 monkeypatch):
    a = _space(tmp_path, SMALL, "a.yaml")
    b = _space(tmp_path, "parameters:\n  pim.adc_bits: [4, 8]\n", "b.yaml")
    out = tmp_path / "r.csv"
    side = Path(str(out) + ".sweep.json")
    _sweep(tmp_path, trace_path, a)
    before = (out.read_bytes(), side.read_bytes())

    def fails(ctx, batch):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(sweep_run, "evaluate_batch", fails)
    with pytest.raises(RuntimeError):
        _sweep(tmp_path, trace_path, b, overwrite=True)
    assert (out.read_bytes(), side.read_bytes()) == before
    monkeypatch.undo()
    assert _sweep(tmp_path, trace_path, a).evaluated == 0  # still the complete sweep a
    s = _sweep(tmp_path, trace_path, b, overwrite=True)
    assert s.rows == 2 and set(pd.read_csv(out)["pim.adc_bits"]) == {4, 8}


# ------------------------------------------------------------ planning, grouping, statistics


def test_plan_reasons_equal_point_by_point_build(tmp_path):
    """Grouped planning reports the reason a point-by-point build would."""
    from pimsim.config import read_yaml
    from pimsim.sweep import plan_points

    text = ("parameters:\n  pim.adc_bits: [4, 13, 11]\n  pim.adc_model: [walden, sar]\n"
            "  pim.rows_per_read: [64, 256]\n  tech.vdd_v: [0.9, 0.3]\n"
            "constraints: ['pim.adc_bits != 4 or pim.rows_per_read == 64']\n")
    base = load_config(HW)
    space = load_space(_space(tmp_path, text), base)
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
