"""python -m pimsim.validate: JSON schema and the Markdown report."""

import json

from pimsim import validate


def test_validate_writes_json_and_markdown(tmp_path):
    out, md = tmp_path / "v.json", tmp_path / "v.md"
    assert validate.main(["--json", str(out), "--md", str(md), "--no-paper"]) == 0
    data = json.loads(out.read_text())
    kinds = {a["kind"] for a in data["anchors"]}
    assert {"macro", "macro_part", "macro_area", "adc", "scaling", "mac_count"} <= kinds
    for a in data["anchors"]:
        assert {"name", "kind", "published", "pimsim", "unit", "source"} <= set(a)
    macs = {a["name"]: a for a in data["anchors"] if a["kind"] == "mac_count"}
    assert all(a["pimsim"] == a["published"] for a in macs.values())
    text = md.read_text()
    assert "Sinangil" in text and "| anchor |" in text
    # issue 12: five macros, the reason for each miss, the shared constants, the default point
    for name in ("Sinangil", "Si et al.", "ISCAS 2022 65 nm 7T", "Jia et al.", "Wang et al."):
        assert f"| {name}" in text
    macros = [a for a in data["anchors"] if a["kind"] == "macro"]
    assert all(a["why"] for a in macros) and all("tolerance" in a for a in macros)
    assert "periphery.sar_k1_f | 3.015e-13 |" in text and "not a calibrated point" in text
