"""The HTML report: one self-contained page with, per trace, the best point against the base
config, the per-layer breakdown (re-simulated), the merged front; then EDP sensitivity."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from pimsim.errors import PimsimError
from pimsim.html_report import sensitivity, write_report
from pimsim.pareto import pareto_mask

REPO = Path(__file__).resolve().parents[1]
HW = str(REPO / "hw_configs" / "45nm_pim.yaml")
TRACES = [str(REPO / "traces" / "indian_pines.npz"), str(REPO / "traces" / "salinas_synthetic.npz")]
SPACE = """\
strategy: grid
parameters:
  pim.adc_bits: [3, 4, 6]
  pim.enabled: [true, false]
  tech.clock_hz: [2.0e+8, 5.0e+8]
  pim.e_cell_j: [1.0e-16, 2.0e-16]  # unused by the periphery macro model: identical points
"""


class Page(HTMLParser):
    """Headings, tables (rows of cell texts) and the SVG <title> texts of a page."""

    def __init__(self, text: str):
        super().__init__()
        self.headings: list[tuple[str, str]] = []
        self.tables: list[list[list[str]]] = []
        self.titles: list[str] = []
        self.classes: list[list[str]] = []
        self._text: list[str] | None = None
        self._tag = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag in ("h1", "h2", "h3", "td", "th", "title"):
            self._text, self._tag = [], tag
        if tag == "table":
            self.tables.append([])
            self.classes.append([])
        elif tag == "tr":
            self.tables[-1].append([])
            self.classes[-1].append(dict(attrs).get("class") or "")

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if self._text is None or tag != self._tag:
            return
        text = "".join(self._text).strip()
        if tag in ("td", "th"):
            self.tables[-1][-1].append(text)
        elif tag == "title":
            self.titles.append(text)
        else:
            self.headings.append((tag, text))
        self._text = None

    def table_with(self, *header: str) -> list[list[list[str]]]:
        """The tables whose header row starts with ``header``."""
        return [t for t in self.tables if t and tuple(t[0][:len(header)]) == header]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    from pimsim.sweep import run_sweep

    d = tmp_path_factory.mktemp("rep")
    (d / "space.yaml").write_text(SPACE)
    out = d / "r.csv"
    run_sweep(HW, TRACES, str(d / "space.yaml"), str(out), progress=False,
              cache_dir=str(d / "cache"), log=lambda s: None)
    return out, pd.read_csv(out)


@pytest.fixture(scope="module")
def page(sweep, tmp_path_factory) -> tuple[str, Page]:
    path = write_report(sweep[0], tmp_path_factory.mktemp("out") / "rep")
    text = path.read_text(encoding="utf-8")
    return text, Page(text)


def _expected_front_counts(rows: pd.DataFrame) -> list[int]:
    """Configurations per distinct front point, computed without pimsim.pareto's merge."""
    front = rows[pareto_mask(rows[["delay_s", "energy_j"]].to_numpy())]
    metrics = [c for c in rows.columns if c.startswith(("energy_", "delay_", "edp_", "area_"))]
    groups = front.groupby(metrics, sort=False).size().reset_index(name="n")
    return list(groups.sort_values(["delay_s", "energy_j"])["n"])


def test_report_self_contained(page):
    text, _ = page
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", text)  # nothing external
    assert "<script" not in text


def test_report_lists_every_swept_key_including_pim_enabled(page, sweep):
    _, p = page
    (keys,) = p.table_with("key", "values in the results")
    swept = ["pim.adc_bits", "pim.e_cell_j", "pim.enabled", "tech.clock_hz"]
    assert sorted(r[0] for r in keys[1:]) == swept  # space order: the table keeps it
    (sens,) = p.table_with("key", "values", "spread, indian_pines.npz")
    assert {r[0] for r in sens[1:]} == set(swept)


def test_report_has_one_merged_front_per_trace(page, sweep):
    _, p = page
    df = sweep[1]
    workloads = [t for tag, t in p.headings if tag == "h2" and t.startswith("Workload")]
    assert workloads == ["Workload: indian_pines.npz", "Workload: salinas_synthetic.npz"]
    fronts = p.table_with("#", "configs")
    assert len(fronts) == 2
    merged = 0
    for table, trace in zip(fronts, ["indian_pines.npz", "salinas_synthetic.npz"]):
        head = table[0]
        counts = [int(r[head.index("configs")]) for r in table[1:]]
        assert counts == _expected_front_counts(df[df["trace"] == trace])
        merged += sum(c > 1 for c in counts)
        # digital-only rows show the PIM keys as "-"
        for r in table[1:]:
            if r[head.index("PIM")] == "off":
                assert r[head.index("adc_bits")] == "-"
            else:
                assert r[head.index("adc_bits")] in ("3", "4", "6", "3, 4")
    assert merged >= 1  # identical configurations were merged into one row
    # every front point has hover text
    assert sum(t.startswith("#") for t in p.titles) == sum(len(t) - 1 for t in fronts)


def test_report_per_layer_breakdown_matches_the_csv(page, sweep):
    from pimsim.api import load_trace
    from pimsim.pareto import fmt_metric

    _, p = page
    df = sweep[1]
    assert sum(t == "Energy per layer" for _, t in p.headings) == 2
    layer_tables = p.table_with("layer", "engine")
    compare = p.table_with("layer", "best: energy")
    assert len(layer_tables) == 2
    for table, trace in zip(layer_tables, TRACES):
        names = [spec.name for spec in load_trace(trace).layers]
        assert [r[0] for r in table[1:len(names) + 1]] == names
        total = next(r for r in table if r[0] == "total")
        rows = df[df["trace"] == Path(trace).name]
        best = rows.loc[rows["edp_js"].idxmin()]
        assert fmt_metric("energy_j", best["energy_j"]) in total  # re-simulation == CSV
        assert "SRAM" in table[0] and "DRAM" in table[0]
    # the base config (adc 6, PIM on, 500 MHz) is in the sweep: compared when not the best
    for table in compare:
        assert table[-1][0] == "total" and table[-1][2] == "100.0 %"
    assert p.table_with("part", "engine")  # area breakdown
    (figs, *_) = p.table_with("figure", "base config", "best EDP", "best / base")
    assert [r[0] for r in figs[1:]] == ["energy", "delay", "EDP", "area"]


def test_report_without_the_trace_files_still_renders(sweep, tmp_path):
    csv, _ = sweep
    shutil.copy(csv, tmp_path / "r.csv")
    side = json.loads(Path(f"{csv}.sweep.json").read_text())
    side["traces"] = ["/nowhere/indian_pines.npz", "/nowhere/salinas_synthetic.npz"]
    (tmp_path / "r.csv.sweep.json").write_text(json.dumps(side))
    p = Page(write_report(tmp_path / "r.csv", tmp_path / "rep").read_text())
    notes = [t for t in p.headings if "Energy per layer" in t[1]]
    assert notes == []
    assert len(p.table_with("#", "configs")) == 2  # fronts still there
    text = (tmp_path / "rep" / "index.html").read_text()
    assert text.count("Per-layer energy and area not shown: trace file(s)") == 2
    assert "indian_pines.npz" in text


def test_sensitivity_ranks_the_key_that_matters():
    df = pd.DataFrame({"a.x": [1, 1, 2, 2], "a.y": [1, 2, 1, 2],
                       "edp_js": [1.0, 1.1, 100.0, 110.0]})
    s = sensitivity(df, ["a.x", "a.y"])
    assert list(s["key"]) == ["a.x", "a.y"]
    assert s.iloc[0]["spread (max/min of medians)"] == pytest.approx(105.0 / 1.05)
    assert s.iloc[0]["best value (min median)"] == 1


def test_sensitivity_of_pim_keys_ignores_digital_only_rows():
    df = pd.DataFrame({"pim.adc_bits": [4, 6, 4, 6], "pim.enabled": [True, True, False, False],
                       "edp_js": [1.0, 2.0, 50.0, 1.0]})
    s = sensitivity(df, ["pim.adc_bits"]).iloc[0]
    assert s["spread (max/min of medians)"] == pytest.approx(2.0)  # not 50 / 1.5


@pytest.mark.parametrize("text,needle", [("a,b\n1,2\n", "no column 'energy_j'"),
                                         ("", "empty results file"),
                                         ("energy_j,delay_s,edp_js\n", "has no rows")])
def test_report_rejects_bad_files(tmp_path, text, needle):
    p = tmp_path / "x.csv"
    p.write_text(text)
    with pytest.raises(PimsimError, match=needle) as ex:
        write_report(p, tmp_path / "rep")
    assert ex.value.file == str(p)


def test_cli_report_bad_file_is_one_line(tmp_path, capsys, monkeypatch):
    from pimsim import cli

    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    monkeypatch.setattr("sys.argv", ["pimsim", "report", str(p), "--out", str(tmp_path / "r")])
    with pytest.raises(SystemExit) as ex:
        cli.main()
    err = capsys.readouterr().err.strip().splitlines()
    assert ex.value.code == 2 and len(err) == 1 and "energy_j" in err[0]


def test_merged_best_lists_values(tmp_path):
    """A hand-made results file without a sidecar: no per-layer section (one note per trace);
    the best EDP group of two identical configurations lists both values; a digital-only
    front point shows its PIM keys as "-"."""
    rows = []
    for i, (a, en) in enumerate([(4, True), (6, True), (4, False), (6, False)]):
        e, d = (1e-4, 1e-3) if en else (3e-4, 0.5e-3)
        rows.append({"point": i, "trace": "t.npz", "config_hash": f"h{i}",
                     "pim.adc_bits": a, "pim.enabled": en, "is_base": int(a == 6 and en),
                     "energy_j": e, "delay_s": d, "edp_js": e * d, "area_m2": 5e-6})
    pd.DataFrame(rows).to_csv(tmp_path / "r.csv", index=False)
    text = write_report(tmp_path / "r.csv", tmp_path / "rep").read_text()
    p = Page(text)
    assert text.count("Per-layer energy and area not shown: no readable sweep sidecar") == 1
    (front,) = p.table_with("#", "configs")
    assert [r[:4] for r in front[1:]] == [["1", "2", "-", "off"], ["2", "2", "4, 6", "on"]]
    assert "best EDP point has the base config's values" in text
    assert front[2][front[0].index("energy")] == "100 µJ"


def test_report_says_when_the_resimulation_differs_from_the_csv(sweep, tmp_path):
    csv, _ = sweep
    shutil.copy(csv, tmp_path / "r.csv")
    side = json.loads(Path(f"{csv}.sweep.json").read_text())
    side["hw"] = str(REPO / "hw_configs" / "28nm_pim.yaml")  # not the config of the sweep
    (tmp_path / "r.csv.sweep.json").write_text(json.dumps(side))
    text = write_report(tmp_path / "r.csv", tmp_path / "rep").read_text()
    assert "differs from the CSV" in text
    assert Page(text).table_with("layer", "engine")  # the re-simulation is still shown
