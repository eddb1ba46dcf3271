"""The HTML report is one self-contained page with the front, best point and sensitivity."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from pimsim.errors import PimsimError
from pimsim.html_report import sensitivity, write_report


def _results(tmp_path):
    rng = np.random.default_rng(1)
    rows = []
    for i, (a, r) in enumerate([(a, r) for a in (4, 6, 8) for r in (16, 64)]):
        d = 1e-3 * (1 + 0.1 * a) * (1 + rng.random() * 0.01)
        e = 1e-4 * (2.0 ** (a - 4)) * (1 + 0.001 * r)
        rows.append({"point": i, "trace": "t.npz", "config_hash": f"h{i}", "pim.adc_bits": a,
                     "pim.rows_per_read": r, "pim.enabled": True, "is_base": int(a == 6),
                     "energy_j": e, "delay_s": d, "edp_js": e * d, "energy_digital_j": e / 2,
                     "energy_pim_adc_j": e / 4, "energy_sram_j": e / 4,
                     "accuracy": 0.5 + 0.05 * a})
    df = pd.DataFrame(rows)
    path = tmp_path / "r.csv"
    df.to_csv(path, index=False)
    return df, path


def test_report_self_contained(tmp_path):
    df, path = _results(tmp_path)
    page = write_report(path, tmp_path / "rep").read_text()
    assert page.count("<svg") >= 4  # front, breakdown, accuracy front, >= 1 sensitivity plot
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", page)  # nothing external
    best = df.loc[df["edp_js"].idxmin()]
    assert "Best EDP point" in page and f"{best['edp_js']:.4g}" in page
    assert "pim.adc_bits" in page and "Sensitivity" in page


def test_sensitivity_ranks_the_key_that_matters():
    df = pd.DataFrame({"a.x": [1, 1, 2, 2], "a.y": [1, 2, 1, 2],
                       "edp_js": [1.0, 1.1, 100.0, 110.0]})
    s = sensitivity(df, ["a.x", "a.y"])
    assert list(s["key"]) == ["a.x", "a.y"]
    assert s.iloc[0]["spread (max/min of medians)"] == pytest.approx(105.0 / 1.05)
    assert s.iloc[0]["best value (min median)"] == 1


def test_report_rejects_non_sweep_file(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(PimsimError, match="no column 'energy_j'"):
        write_report(p, tmp_path / "rep")
