"""Pareto sets: brute-force O(n^2) agreement (hypothesis), maximisation, plots and CLI."""

from __future__ import annotations

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
