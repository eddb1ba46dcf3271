"""Pareto sets: brute-force O(n^2) agreement (hypothesis), maximisation, plots and CLI."""

from __future__ import annotations

import re
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimsim.pareto import pareto_front, pareto_mask, parse_objective


def brute(v: np.ndarray) -> np.ndarray:
    n = len(v)
    out = np.ones(n, dtype=bool)
    for i in range(n):
        for j in range(n):
            if i != j and np.all(v[j] <= v[i]) and np.any(v[j] < v[i]):
                out[i] = False
                break
    return out


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 60), st.integers(2, 3), st.integers(0, 2**31 - 1), st.booleans())
def test_mask_matches_brute_force(n, k, seed, coarse):
    rng = np.random.default_rng(seed)
    v = rng.integers(0, 5, size=(n, k)).astype(float) if coarse else rng.random((n, k))
    assert np.array_equal(pareto_mask(v), brute(v))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(0, 2**31 - 1))
def test_maximize_is_negation(n, seed):
    rng = np.random.default_rng(seed)
    v = rng.integers(0, 6, size=(n, 2)).astype(float)
    got = pareto_mask(v, [False, True])
    assert np.array_equal(got, brute(v * np.array([1.0, -1.0])))


def test_nan_rows_ignored_and_objective_parsing():
    v = np.array([[1.0, np.nan], [2.0, 2.0], [3.0, 1.0], [3.0, 3.0]])
    assert pareto_mask(v).tolist() == [False, True, True, False]
    assert parse_objective("accuracy").maximize and parse_objective("max:x").maximize
    assert not parse_objective("energy_j").maximize
    assert not parse_objective("min:accuracy").maximize


def _results(tmp_path, n=40):
    rng = np.random.default_rng(0)
    d = rng.random(n) * 1e-3 + 1e-4
    df = pd.DataFrame({
        "point": range(n), "trace": "t.npz", "config_hash": "h",
        "pim.adc_bits": rng.integers(3, 9, n), "pim.enabled": rng.random(n) > 0.5,
        "is_base": [1] + [0] * (n - 1),
        "energy_j": 1e-7 / d * (1 + rng.random(n)), "delay_s": d, "accuracy": rng.random(n),
    })
    df["edp_js"] = df["energy_j"] * df["delay_s"]
    path = tmp_path / "r.csv"
    df.to_csv(path, index=False)
    return df, path


def test_cli_writes_plots_and_front(tmp_path, capsys):
    from pimsim import cli

    df, path = _results(tmp_path)
    argv = ["pimsim", "pareto", str(path), "--out", str(tmp_path / "f.png"), "--front-csv",
            str(tmp_path / "front.csv"), "--color-by", "pim.adc_bits"]
    old, sys.argv = sys.argv, argv
    try:
        cli.main()
    finally:
        sys.argv = old
    front = pd.read_csv(tmp_path / "front.csv")
    ref = pareto_front(df, [parse_objective("delay_s"), parse_objective("energy_j")])
    assert sorted(front["point"]) == sorted(ref["point"])
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (tmp_path / "f.svg").read_bytes()[:400]
    # accuracy is maximised by default: the most accurate row is on the front
    sys.argv = ["pimsim", "pareto", str(path), "--x", "accuracy", "--y", "energy_j", "--out",
                str(tmp_path / "a.png"), "--front-csv", str(tmp_path / "fa.csv")]
    try:
        cli.main()
    finally:
        sys.argv = old
    fa = pd.read_csv(tmp_path / "fa.csv")
    assert df.loc[df["accuracy"].idxmax(), "point"] in set(fa["point"])


def test_cli_unknown_column_one_line(tmp_path, capsys):
    from pimsim import cli

    _, path = _results(tmp_path)
    old, sys.argv = sys.argv, ["pimsim", "pareto", str(path), "--x", "delay_z", "--out",
                               str(tmp_path / "f.png")]
    try:
        with pytest.raises(SystemExit) as ex:
            cli.main()
    finally:
        sys.argv = old
    err = capsys.readouterr().err.strip().splitlines()
    assert ex.value.code == 2 and len(err) == 1 and "no column 'delay_z'" in err[0]
    assert not (tmp_path / "f.png").exists()


# ------------------------------------------------------------------ per-trace fronts, merging

def _hand_made() -> pd.DataFrame:
    """Trace A: two pairs of identical points (PIM on, adc 4/6; PIM off, adc 4/6), one point
    equal in energy and delay but not in area, one dominated point. Trace B: one point that
    dominates all of A (a front over both traces would keep only it)."""
    rows = [  # point, trace, enabled, adc, clock, energy, delay, area
        (0, "A", True, 4, 2e8, 1.0, 4.0, 5e-6),
        (1, "A", True, 6, 2e8, 1.0, 4.0, 5e-6),
        (2, "A", False, 4, 2e8, 2.0, 2.0, 3e-6),
        (3, "A", False, 6, 2e8, 2.0, 2.0, 3e-6),
        (4, "A", True, 4, 4e8, 3.0, 3.0, 5e-6),  # dominated by point 2
        (5, "A", True, 8, 2e8, 1.0, 4.0, 6e-6),  # same energy/delay, other area
        (6, "B", True, 4, 2e8, 0.5, 0.5, 5e-6),
    ]
    df = pd.DataFrame(rows, columns=["point", "trace", "pim.enabled", "pim.adc_bits",
                                     "tech.clock_hz", "energy_j", "delay_s", "area_m2"])
    df.insert(3, "pim.rows", 128)  # constant: not a swept key
    df["is_base"] = (df["point"] == 0).astype(int)
    df["edp_js"] = df["energy_j"] * df["delay_s"]
    return df


def test_swept_keys_include_pim_enabled_and_skip_constants():
    from pimsim.pareto import fixed_keys, swept_keys

    df = _hand_made()
    assert swept_keys(df) == ["pim.enabled", "pim.adc_bits", "tech.clock_hz"]
    assert fixed_keys(df) == {"pim.rows": 128}


def test_fronts_per_trace_and_merged_rows_exact():
    from pimsim.pareto import fronts_by_trace, merge_identical, swept_keys

    df = _hand_made()
    objs = [parse_objective("delay_s"), parse_objective("energy_j")]
    assert list(pareto_front(df, objs)["point"]) == [6]  # both traces together: B wins
    fronts = dict(fronts_by_trace(df, objs))
    assert list(fronts) == ["A", "B"]
    assert sorted(fronts["A"]["point"]) == [0, 1, 2, 3, 5]
    assert list(fronts["B"]["point"]) == [6]
    merged = merge_identical(fronts["A"], swept_keys(df), objs)
    got = merged[["count", "points", "is_base", "pim.enabled", "pim.adc_bits",
                  "tech.clock_hz", "delay_s", "energy_j", "area_m2"]].to_dict("records")
    assert got == [
        # PIM off: pim.adc_bits does not matter -> None ("-")
        {"count": 2, "points": (2, 3), "is_base": 0, "pim.enabled": False,
         "pim.adc_bits": None, "tech.clock_hz": 2e8, "delay_s": 2.0, "energy_j": 2.0,
         "area_m2": 3e-6},
        {"count": 2, "points": (0, 1), "is_base": 1, "pim.enabled": True,
         "pim.adc_bits": (4, 6), "tech.clock_hz": 2e8, "delay_s": 4.0, "energy_j": 1.0,
         "area_m2": 5e-6},
        {"count": 1, "points": (5,), "is_base": 0, "pim.enabled": True, "pim.adc_bits": 8,
         "tech.clock_hz": 2e8, "delay_s": 4.0, "energy_j": 1.0, "area_m2": 6e-6},
    ]
    # values equal to 12 significant digits are one point; a 1e-9 difference is not
    near = fronts["A"].copy()
    near.loc[near["point"] == 1, "energy_j"] = 1.0 + 1e-15
    assert list(merge_identical(near, swept_keys(df), objs)["count"]) == [2, 2, 1]
    near.loc[near["point"] == 1, "energy_j"] = 1.0 + 1e-9
    assert list(merge_identical(near, swept_keys(df), objs)["count"]) == [2, 1, 1, 1]


def test_human_values_and_labels():
    from pimsim.pareto import fmt_metric, fmt_value, point_label

    assert fmt_value("tech.clock_hz", 146473830.62928107) == "146 MHz"
    assert fmt_value("tech.vdd_v", 0.8541) == "0.854 V"
    assert fmt_value("memory.weight_sram_bytes", 262144) == "256 KiB"
    assert fmt_value("memory.dram_j_per_bit", 1.0e-11) == "10 pJ/bit"
    assert fmt_value("pim.adc_bits", (3, 4, 5, 6, 7)) == "3 … 7 (5 values)"
    assert fmt_metric("energy_j", 2.5e-4) == "250 µJ" and fmt_metric("area_m2", 6e-6) == \
        "6 mm²"
    row = {"tech.clock_hz": 146473830.62928107, "pim.enabled": False, "pim.adc_bits": None}
    assert point_label(row, ["tech.clock_hz", "pim.enabled", "pim.adc_bits"]) == \
        "clock 146 MHz, digital-only"


def _main_axes(fig):
    return [ax for ax in fig.axes if ax.get_xlabel()]


def test_plot_axes_fit_the_data_and_units(tmp_path):
    from pimsim.pareto_plot import front_figure, side_lines

    rng = np.random.default_rng(3)
    n = 60
    df = pd.DataFrame({
        "point": range(n), "trace": ["t1.npz", "t2.npz"] * (n // 2),
        "tech.clock_hz": rng.uniform(1e8, 1e9, n), "pim.enabled": rng.random(n) > 0.3,
        "is_base": [1, 1] + [0] * (n - 2),
        "delay_s": rng.uniform(2.0e-4, 3.0e-4, n),
        "area_m2": np.where(rng.random(n) > 0.5, 3e-6, 6e-6)})
    df["energy_j"] = 2.7e-4 + 3e-5 * rng.random(n)  # a narrow range: ~10 % of the value
    df["edp_js"] = df["energy_j"] * df["delay_s"]
    objs = [parse_objective("delay_s"), parse_objective("energy_j")]
    fig, panels = front_figure(df, objs, color_by="area_m2")
    axes = _main_axes(fig)
    assert [p.label for p in panels] == ["t1.npz", "t2.npz"] and len(axes) == 2
    for ax, p in zip(axes, panels):
        for lim, col in ((ax.get_xlim(), "delay_s"), (ax.get_ylim(), "energy_j")):
            rows, front = p.rows[col].to_numpy(), p.front[col].to_numpy()
            span = rows.max() - rows.min()
            assert lim[0] <= front.min() and lim[1] >= front.max()
            assert lim[0] <= rows.min() and lim[1] >= rows.max()
            assert lim[1] - lim[0] <= 2 * span
        assert "µs" in ax.xaxis.get_major_formatter()(2.5e-4, 0)
        assert "µJ" in ax.yaxis.get_major_formatter()(2.8e-4, 0)
    bars = [ax.get_ylabel() for ax in fig.axes if "mm²" in ax.get_ylabel()]
    assert len(bars) == 2  # one colour bar per panel, in mm²
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert not any("e+0" in t or "clock_hz=" in t for t in texts)
    lines = side_lines(panels[0].merged, ["tech.clock_hz", "pim.enabled"])
    assert any(re.search(r"clock \d+(\.\d+)? MHz", line) for line in lines)
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_cli_one_front_per_trace_and_hover_titles(tmp_path):
    from pimsim import cli

    df = _hand_made()
    path = tmp_path / "h.csv"
    df.to_csv(path, index=False)
    old, sys.argv = sys.argv, ["pimsim", "pareto", str(path), "--out", str(tmp_path / "f.png"),
                               "--front-csv", str(tmp_path / "front.csv")]
    try:
        cli.main()
    except SystemExit as ex:
        assert ex.code in (0, None)
    finally:
        sys.argv = old
    front = pd.read_csv(tmp_path / "front.csv")
    assert sorted(front["point"]) == [0, 1, 2, 3, 5, 6]  # trace A's front is kept
    svg = (tmp_path / "f.svg").read_text()
    titles = re.findall(r"<title>(.*?)</title>", svg, flags=re.DOTALL)
    assert len(titles) == 3 + 1 + 1  # A: 3 merged points, B: 1, base star: 1
    assert any("2 configuration(s)" in t and "pim.adc_bits = 4, 6" in t for t in titles)


@pytest.mark.parametrize("text,args,needle", [
    ("", [], "empty results file"),
    ("point,trace,energy_j,delay_s\n", [], "results file has no rows"),
    ("point,trace,energy_j,delay_s\n0,a.npz,1.0,2.0\n", ["--x", "trace"],
     "no row has finite numeric values"),
])
def test_cli_bad_results_one_line(tmp_path, capsys, monkeypatch, text, args, needle):
    from pimsim import cli

    path = tmp_path / "r.csv"
    path.write_text(text)
    monkeypatch.setattr(sys, "argv", ["pimsim", "pareto", str(path), "--out",
                                      str(tmp_path / "f.png"), *args])
    with pytest.raises(SystemExit) as ex:
        cli.main()
    err = capsys.readouterr().err.strip().splitlines()
    assert ex.value.code == 2 and len(err) == 1 and needle in err[0] and str(path) in err[0]
    assert not (tmp_path / "f.png").exists()
