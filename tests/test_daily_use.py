"""Daily use: configs by name from any folder (installed package data), results that record
what was run, a run table that fits 120 columns, one-line decode errors, trace origins."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import REPO

from pimsim.config import load_config
from pimsim.config_view import config_diff
from pimsim.trace import load_trace

IP = REPO / "traces" / "indian_pines.npz"
SHIPPED_NAMES = {"45nm_digital", "45nm_pim", "28nm_pim", "7nm_pim", "ace_snn_compute"}


def pimsim(*args: object, cwd: Path | None = None, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would (a new process, its exit status and streams)."""
    return subprocess.run([sys.executable, "-m", "pimsim.cli", *map(str, args)], check=False,
                          cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=300)


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """pimsim built as a wheel and installed (not editable) into a folder of its own; the
    dependencies come from the test's environment. Returns (env, site folder)."""
    root = tmp_path_factory.mktemp("install")
    wheel_dir, site = root / "wheel", root / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(wheel_dir), str(REPO)], check=True,
                   capture_output=True, timeout=300)
    wheel = next(wheel_dir.glob("pimsim-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    for name in SHIPPED_NAMES:  # the package data: every shipped config is in the wheel
        assert f"pimsim/hw_configs/{name}.yaml" in names
    assert "pimsim/hw_configs/sweeps/cost_numeric.yaml" in names
    assert "pimsim/hw_configs/calibration/base.yaml" in names
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(site), str(wheel)], check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(site)}
    return env, site


def test_installed_package_resolves_configs_by_name_from_any_folder(installed, tmp_path):
    env, site = installed
    where = subprocess.run([sys.executable, "-c", "import pimsim; print(pimsim.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.strip().startswith(str(site))  # the installed copy, not the checkout
    totals = set()
    for hw in ("45nm_pim.yaml", "45nm_pim", "hw_configs/45nm_pim.yaml"):
        proc = pimsim("run", "--hw", hw, "--trace", IP, "--json", tmp_path / "o.json",
                      cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
        totals.add(json.loads((tmp_path / "o.json").read_text())["per_inference"]["energy_j"])
    assert len(totals) == 1
    mine = tmp_path / "mine.yaml"  # a user's design that extends a shipped one by name
    mine.write_text("extends: 45nm_pim.yaml\nname: mine\npim:\n  adc_bits: 5\n")
    proc = pimsim("run", "--hw", mine, "--trace", IP, "--json", tmp_path / "m.json",
                  cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["config"]["pim"]["adc_bits"] == 5 and doc["hw"] == "mine"
    assert doc["per_inference"]["energy_j"] not in totals
    listing = pimsim("configs", cwd=tmp_path, env=env)
    assert listing.returncode == 0
    names = {line.split()[0] for line in listing.stdout.splitlines()[1:-1]}
    assert SHIPPED_NAMES | {"calibration/sinangil_7nm"} <= names
    assert str(site) in listing.stdout.splitlines()[0]
    spaces = pimsim("configs", "--spaces", cwd=tmp_path, env=env)
    assert "cost_numeric" in spaces.stdout


def test_unknown_config_name_is_one_line(tmp_path):
    one_line_error(pimsim("run", "--hw", "no_such_design", "--trace", IP, cwd=tmp_path),
                   "no_such_design", "pimsim configs")
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: no_such_parent\nname: x\n")
    one_line_error(pimsim("config", "show", bad), "extends", "no_such_parent")


def test_json_records_config_version_and_trace_hash(tmp_path):
    from pimsim import __version__

    digest = hashlib.sha256(IP.read_bytes()).hexdigest()
    proc = pimsim("run", "--hw", "45nm_pim", "--trace", IP, "--set", "pim.adc_bits=5",
                  "--set", "digital.pe_rows=16", "--json", tmp_path / "run.json")
    assert proc.returncode == 0, proc.stderr
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["config"]["pim"]["adc_bits"] == 5 and run["config"]["digital"]["pe_rows"] == 16
    assert (run["pimsim_version"], run["trace_sha256"]) == (__version__, digest)
    assert run["trace_origin"] == {"data": "real", "trained": True}
    proc = pimsim("compare", "--hw", "45nm_pim", "--trace", IP, "--set", "pim.adc_bits=5",
                  "--json", tmp_path / "cmp.json")
    assert proc.returncode == 0, proc.stderr
    cmp = json.loads((tmp_path / "cmp.json").read_text())
    assert cmp["config"]["pim"]["adc_bits"] == 5 and cmp["config"]["pim"]["enabled"] is True
    assert (cmp["pimsim_version"], cmp["trace_sha256"]) == (__version__, digest)
    # the recorded config alone reproduces the run
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump(run["config"]))
    proc = pimsim("run", "--hw", again, "--trace", IP, "--json", tmp_path / "again.json")
    assert proc.returncode == 0, proc.stderr
    rerun = json.loads((tmp_path / "again.json").read_text())
    assert rerun["per_inference"] == run["per_inference"]


@pytest.fixture(scope="module")
def ip_trace():
    return load_trace(IP)


@pytest.mark.parametrize("hw", sorted(SHIPPED_NAMES))
def test_run_table_fits_120_columns(hw, ip_trace):
    from pimsim.api import simulate
    from pimsim.report import run_table

    result = simulate(load_config(hw), ip_trace)
    text = run_table(result)
    lines = text.splitlines()
    assert max(len(x) for x in lines) <= 120, max(lines, key=len)
    table = lines[lines.index(next(x for x in lines if x.startswith("layer "))):]
    head = table[0].split()
    # groups in the fixed order, whichever are used
    order = ["compute", "SRAM", "NoC", "DRAM", "PIM", "leak"]
    used = [h for h in head if h in order]
    assert used == [h for h in order if h in used] and "compute" in used
    cyc = head.index("cycles")
    body = [x.split() for x in table[2:] if x and not x.startswith(("per inference", "area"))]
    for row in body[:-1]:  # layer rows: integer cycles with thousands separators
        assert re.fullmatch(r"[\d,]+", row[cyc]), row
    assert "per inference" in text and "totals over the" in text
    if hw == "45nm_digital":  # no PIM energy anywhere: no PIM column at all
        assert "PIM" not in head
    wide = run_table(result, wide=True)
    whead = next(x for x in wide.splitlines() if x.startswith("layer ")).split()
    assert whead[:3] == ["layer", "engine", "syn."] and "ADC" in whead
    if hw != "ace_snn_compute":  # every component apart (compute-only accounting has no SRAM)
        assert "weight_sram" in whead and "SRAM" not in whead


def test_zero_prints_as_dash():
    proc = pimsim("run", "--hw", "45nm_pim", "--trace", IP, "--wide")
    assert proc.returncode == 0 and "weight_sram" in proc.stdout  # --wide reaches the table
    proc = pimsim("run", "--hw", "45nm_pim", "--trace", IP)
    lines = proc.stdout.splitlines()
    assert max(len(x) for x in lines) <= 120
    head = next(x for x in lines if x.startswith("layer "))
    row = next(x for x in lines if x.startswith("conv3d_2"))
    end = head.index("PIM") + len("PIM")  # right-aligned column: its cell ends where it ends
    assert row[:end].split()[-1] == "-"  # a digital layer spends nothing on the PIM macro
    assert " 0 fJ" not in proc.stdout


def test_swapped_arguments_and_junk_are_one_line_errors(tmp_path):
    hw = REPO / "hw_configs" / "45nm_pim.yaml"
    one_line_error(pimsim("run", "--hw", IP, "--trace", hw), str(IP), "zip/npz", "--trace")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 8)
    one_line_error(pimsim("run", "--hw", "45nm_pim", "--trace", junk), "junk.bin", "zip")
    one_line_error(pimsim("run", "--hw", junk, "--trace", IP), "junk.bin", "UTF-8")
    one_line_error(pimsim("trace", "info", hw), "45nm_pim.yaml", "--hw")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    one_line_error(pimsim("run", "--hw", empty, "--trace", IP), "empty file")
    one_line_error(pimsim("trace", "validate", empty), "empty file")


def test_trace_info_is_indented_fields():
    proc = pimsim("trace", "info", REPO / "traces" / "salinas_surrogate.npz")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(x) for x in lines) <= 130
    assert "data: surrogate, trained network: yes" in proc.stdout
    assert "provenance:" in lines and "metrics:" in lines
    assert any(x.startswith("  train_command: pimsim train") for x in lines)
    assert "SYNTHETIC" not in proc.stdout  # a trained network is never labelled synthetic
    assert "SURROGATE" in proc.stdout


def test_synthetic_trace_origin_fields(tmp_path):
    out = tmp_path / "s.npz"
    proc = pimsim("trace", "synth", "--like", "indian_pines", "--samples", "2", "--out", out)
    assert proc.returncode == 0, proc.stderr
    tr = load_trace(out)
    assert (tr.provenance["data"], tr.provenance["trained"]) == ("synthetic", False)
    assert tr.is_synthetic and not tr.origin.inferred
    run = pimsim("run", "--hw", "45nm_pim", "--trace", out)
    assert "SYNTHETIC trace" in run.stdout


def test_exported_trace_origin_fields(tmp_path):
    torch = pytest.importorskip("torch")
    from pimsim.snn.export import export_torch_snn

    torch.manual_seed(0)
    mods = [torch.nn.Conv3d(1, 2, (3, 3, 3), bias=False), torch.nn.Linear(2 * 2 * 3 * 3, 3,
                                                                           bias=False)]
    x = np.random.default_rng(0).integers(0, 255, size=(2, 1, 4, 5, 5)).astype(np.uint8)
    for prov, want in (({"data": "real"}, ("real", "")),
                       (None, ("unspecified", "unspecified")),
                       ({"data": "my own lab's surrogate cube"}, ("surrogate", "SURROGATE"))):
        path = tmp_path / f"e_{want[0]}.npz"
        export_torch_snn(path, mods, thresholds=[1.0, 1.0], leaks=[1.0, 1.0], x_int=x,
                         input_scale=1 / 255, labels=np.zeros(2, np.int64), timesteps=2,
                         provenance=prov)
        tr = load_trace(path)
        assert (tr.provenance["data"], tr.provenance["trained"]) == (want[0], True)
        assert not tr.is_synthetic and not tr.origin.inferred
        banner = tr.origin.banner()
        assert (want[1] in banner) if want[1] else banner == ""
        if prov and prov["data"] not in ("real",):
            assert tr.provenance["data_source"] == prov["data"]


def test_trained_flag_must_be_boolean(tmp_path):
    from helpers import conv3d, linear, write_trace

    from pimsim.errors import TraceError

    layers = [conv3d("c0", (1, 4, 5, 5), 2, (3, 3, 3), first=True), linear("fc", 36, 3)]
    spikes = {"fc": np.zeros((1, 2, 36), bool)}
    with pytest.raises(TraceError, match="provenance.trained"):  # the writer refuses it
        write_trace(tmp_path / "w.npz", layers, spikes,
                    provenance={"data": "real", "trained": "yes"})
    good = write_trace(tmp_path / "g.npz", layers, spikes,
                       provenance={"data": "real", "trained": True})
    with np.load(good) as z:  # and so does the reader, on a file written by someone else
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta["provenance"]["trained"] = "yes"
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez_compressed(tmp_path / "bad.npz", **arrays)
    one_line_error(pimsim("trace", "validate", tmp_path / "bad.npz"), "provenance.trained",
                   "true or false")


def test_config_show_round_trips_and_diff_names_the_keys(tmp_path):
    proc = pimsim("config", "show", "45nm_pim", "--set", "pim.adc_bits=5")
    assert proc.returncode == 0, proc.stderr
    assert "--set pim.adc_bits=5" in proc.stdout and "sources:" in proc.stdout
    saved = tmp_path / "shown.yaml"
    saved.write_text(proc.stdout)
    assert load_config(saved) == load_config("45nm_pim", {"pim.adc_bits": 5})
    scaled = pimsim("config", "show", "7nm_pim")  # scaled constants load as they are
    (tmp_path / "7.yaml").write_text(scaled.stdout)
    assert load_config(tmp_path / "7.yaml") == load_config("7nm_pim")
    keys = [k for k, _, _ in config_diff(load_config("45nm_digital"), load_config("45nm_pim"))]
    assert "pim.enabled" in keys and "tech.node_nm" not in keys
    proc = pimsim("config", "diff", "45nm_digital", "45nm_pim")
    assert proc.returncode == 0
    row = next(x for x in proc.stdout.splitlines() if x.startswith("pim.enabled "))
    assert row.split()[1:] == ["False", "True"]
    same = pimsim("config", "diff", "45nm_pim", "hw_configs/45nm_pim.yaml")
    assert "same values" in same.stdout

