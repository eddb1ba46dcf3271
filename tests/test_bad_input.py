"""Bad input: one line on stderr naming the file and key and what was expected, exit 2."""

from __future__ import annotations

import json
import shutil
import sys
import zipfile

import numpy as np
import pytest
import yaml
from helpers import REPO, TINY_HW, conv3d, linear, write_trace

from pimsim import cli

GOOD_HW = REPO / "hw_configs" / "45nm_pim.yaml"


def run_cli(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["pimsim", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.fixture()
def good_trace(tmp_path):
    layers = [conv3d("c0", (1, 4, 5, 5), 2, (3, 3, 3), first=True), linear("fc", 2 * 2 * 3 * 3, 3)]
    spikes = {"fc": np.zeros((2, 2, 36), bool)}
    return write_trace(tmp_path / "good.npz", layers, spikes, n=2, t=2)


def assert_one_line_error(code, err, *needles):
    assert code == 2
    lines = [x for x in err.strip().splitlines() if x]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_good_run_exits_zero(monkeypatch, capsys, good_trace, tmp_path):
    monkeypatch.setattr(sys, "argv", ["pimsim", "run", "--hw", str(GOOD_HW), "--trace",
                                      str(good_trace), "--json", str(tmp_path / "o.json")])
    cli.main()
    data = json.loads((tmp_path / "o.json").read_text())
    assert data["layers"][0]["engine"] == "pim"


def _hw_with(tmp_path, mutate):
    data = yaml.safe_load(TINY_HW.read_text())
    mutate(data)
    p = tmp_path / "hw.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.mark.parametrize("mutate,key,expect", [
    (lambda d: d["digital"].__setitem__("pe_rowz", 4), "digital.pe_rowz", "unknown key"),
    (lambda d: d["digital"].__setitem__("pe_rows", 0), "digital.pe_rows", "greater than 0"),
    (lambda d: d["memory"].__setitem__("weight_sram_bytes", -5), "memory.weight_sram_bytes",
     "greater than 0"),
    (lambda d: d["digital"].__setitem__("lanes", "four"), "digital.lanes", "integer"),
    (lambda d: d["pim"].pop("adc_bits"), "pim.adc_bits", "missing"),
    (lambda d: d["sources"].pop("pim"), "pim.", "without a source"),
])
def test_bad_config(monkeypatch, capsys, tmp_path, good_trace, mutate, key, expect):
    hw = _hw_with(tmp_path, mutate)
    code, _, err = run_cli(monkeypatch, capsys, "run", "--hw", hw, "--trace", good_trace)
    assert_one_line_error(code, err, str(hw), key, expect)


def test_set_unknown_key(monkeypatch, capsys, good_trace):
    code, _, err = run_cli(monkeypatch, capsys, "run", "--hw", GOOD_HW, "--trace", good_trace,
                           "--set", "pim.adc_bitz=4")
    assert_one_line_error(code, err, "pim.adc_bitz", "does not exist")


def test_set_bad_value(monkeypatch, capsys, good_trace):
    code, _, err = run_cli(monkeypatch, capsys, "run", "--hw", GOOD_HW, "--trace", good_trace,
                           "--set", "pim.adc_bits=many")
    assert_one_line_error(code, err, "pim.adc_bits")


def test_missing_files(monkeypatch, capsys, tmp_path, good_trace):
    code, _, err = run_cli(monkeypatch, capsys, "run", "--hw", tmp_path / "nope.yaml",
                           "--trace", good_trace)
    assert_one_line_error(code, err, "nope.yaml", "not found")
    code, _, err = run_cli(monkeypatch, capsys, "run", "--hw", GOOD_HW, "--trace",
                           tmp_path / "nope.npz")
    assert_one_line_error(code, err, "nope.npz", "not found")


def test_truncated_and_non_zip(monkeypatch, capsys, tmp_path, good_trace):
    data = good_trace.read_bytes()
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(data[: len(data) // 2])
    code, _, err = run_cli(monkeypatch, capsys, "trace", "validate", trunc)
    assert_one_line_error(code, err, "trunc.npz", "truncated or not a zip")
    text = tmp_path / "text.npz"
    text.write_text("hello, not a zip")
    code, _, err = run_cli(monkeypatch, capsys, "trace", "validate", text)
    assert_one_line_error(code, err, "text.npz")


def test_pickled_object_refused(monkeypatch, capsys, tmp_path, good_trace):
    p = tmp_path / "pickle.npz"
    shutil.copy(good_trace, p)
    with zipfile.ZipFile(p, "a") as zf, zf.open("evil.npy", "w") as fh:
        np.lib.format.write_array(fh, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    code, _, err = run_cli(monkeypatch, capsys, "trace", "validate", p)
    assert_one_line_error(code, err, "pickle.npz", "evil", "pickled")


def _rewrite(src, dst, change):
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes())
    change(meta, arrays)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez_compressed(dst, **arrays)
    return dst


def test_inconsistent_layer_chain(monkeypatch, capsys, tmp_path, good_trace):
    def change(meta, arrays):
        meta["layers"][1]["in_shape"] = [35]
    p = _rewrite(good_trace, tmp_path / "chain.npz", change)
    code, _, err = run_cli(monkeypatch, capsys, "trace", "validate", p)
    assert_one_line_error(code, err, "chain.npz", "layers[1]", "chain inconsistent")


def test_packed_length_inconsistent(monkeypatch, capsys, tmp_path, good_trace):
    def change(meta, arrays):
        arrays["spikes/fc"] = arrays["spikes/fc"][:-1]
    p = _rewrite(good_trace, tmp_path / "packed.npz", change)
    code, _, err = run_cli(monkeypatch, capsys, "trace", "validate", p)
    assert_one_line_error(code, err, "packed.npz", "spikes/fc", "packed length")


def test_wrong_out_shape_and_dtype(monkeypatch, capsys, tmp_path, good_trace):
    def change(meta, arrays):
        meta["layers"][0]["out_shape"] = [2, 2, 4, 3]
    p = _rewrite(good_trace, tmp_path / "shape.npz", change)
    code, _, err = run_cli(monkeypatch, capsys, "trace", "validate", p)
    assert_one_line_error(code, err, "shape.npz", "out_shape")

    def change2(meta, arrays):
        arrays["labels"] = arrays["labels"].astype(np.float32)
    p = _rewrite(good_trace, tmp_path / "dtype.npz", change2)
    code, _, err = run_cli(monkeypatch, capsys, "trace", "validate", p)
    assert_one_line_error(code, err, "dtype.npz", "labels", "int64")


def test_weight_wider_than_pim(monkeypatch, capsys, good_trace):
    code, _, err = run_cli(monkeypatch, capsys, "run", "--hw", GOOD_HW, "--trace", good_trace,
                           "--set", "pim.max_weight_bits=4")
    assert_one_line_error(code, err, str(good_trace), "weight_bits", "max_weight_bits=4")


def test_wrong_version(monkeypatch, capsys, tmp_path, good_trace):
    def change(meta, arrays):
        meta["version"] = 3  # this pimsim reads versions 1 and 2
    p = _rewrite(good_trace, tmp_path / "v3.npz", change)
    code, _, err = run_cli(monkeypatch, capsys, "trace", "info", p)
    assert_one_line_error(code, err, "v3.npz", "meta.version")


def test_trace_info_and_validate_ok(monkeypatch, capsys, good_trace):
    monkeypatch.setattr(sys, "argv", ["pimsim", "trace", "info", str(good_trace)])
    cli.main()
    out = capsys.readouterr().out
    assert "fc" in out and "input spike rate" in out and "SYNTHETIC" in out
