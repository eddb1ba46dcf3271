"""python -m pimsim.validate: JSON schema and the Markdown report."""

import json

from pimsim import validate


def test_validate_writes_json_and_markdown(tmp_path):
    out, md = tmp_path / "v.json", tmp_path / "v.md"
    assert validate.main(["--json", str(out), "--md", str(md), "--no-paper"]) == 0
    data = json.loads(out.read_text())
    kinds = {a["kind"] for a in data["anchors"]}
    assert {"macro", "scaling", "mac_count"} <= kinds
    for a in data["anchors"]:
        assert {"name", "kind", "published", "pimsim", "unit", "source"} <= set(a)
    macs = {a["name"]: a for a in data["anchors"] if a["kind"] == "mac_count"}
    assert all(a["pimsim"] == a["published"] for a in macs.values())
    text = md.read_text()
    assert "Sinangil" in text and "| anchor |" in text
