"""What a trace's spikes come from: the ``provenance.data`` and ``provenance.trained`` fields.

``data`` says what the network saw: ``real`` (a real scene), ``surrogate`` (synthetic spectra
on a real ground-truth map), ``synthetic`` (no data: random spikes) or ``unspecified`` (a
user's export that did not say). ``trained`` says whether the spikes come from a trained
network. The exporters and ``pimsim trace synth`` write both; for traces written before these
fields existed, :func:`trace_origin` infers them from the free-text ``data`` field and the
dataset / model names (docs/trace-format.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DATA_KINDS = ("real", "surrogate", "synthetic", "unspecified")


@dataclass(frozen=True)
class Origin:
    """Where a trace's spikes come from."""

    data: str          #: one of DATA_KINDS
    trained: bool      #: spikes produced by a trained network
    inferred: bool     #: True when read from an old trace without the explicit fields

    def banner(self) -> str:
        """The tag printed beside results ('' for a network trained on real data)."""
        if not self.trained:
            return "[SYNTHETIC trace: random spikes, not from a trained network]"
        if self.data == "surrogate":
            return "[trained on SURROGATE data: synthetic spectra on a real ground-truth map]"
        if self.data == "synthetic":
            return "[trained on SYNTHETIC data]"
        if self.data == "unspecified":
            return "[trained network; its data (real or not) is unspecified in the trace]"
        return ""


def _infer_kind(text: str, dataset: str, model: str) -> str:
    low = text.lower()
    if "surrogate" in low or dataset.endswith("_surrogate"):
        return "surrogate"
    if "synthetic" in low or "synthetic" in model.lower():
        return "synthetic"
    if low.startswith("real"):
        return "real"
    return "unspecified"


def trace_origin(meta: dict[str, Any]) -> Origin:
    """The origin of a trace from its meta: the explicit fields, else inferred (old traces)."""
    prov = meta.get("provenance") if isinstance(meta.get("provenance"), dict) else {}
    data = prov.get("data")
    trained = prov.get("trained")
    dataset, model = str(meta.get("dataset", "")), str(meta.get("model", ""))
    if data in DATA_KINDS and isinstance(trained, bool):
        return Origin(str(data), trained, inferred=False)
    kind = data if data in DATA_KINDS else _infer_kind(str(data or ""), dataset, model)
    if not isinstance(trained, bool):
        untrained = (prov.get("generator") == "pimsim.synth.synth_trace"
                     or "synthetic" in model.lower())
        trained = not untrained
    return Origin(str(kind), trained, inferred=True)


def with_origin(provenance: dict[str, Any], *, data: str | None, trained: bool) -> dict[str, Any]:
    """Provenance with explicit ``data`` and ``trained`` fields, for writers.

    ``data`` None: taken from ``provenance['data']`` when it is a kind, else inferred from
    its text; a free-text ``data`` is kept as ``data_source``."""
    out = dict(provenance)
    text = out.get("data")
    if data is None:
        data = text if text in DATA_KINDS else _infer_kind(str(text or ""), "", "")
    if data not in DATA_KINDS:
        raise ValueError(f"provenance data must be one of {', '.join(DATA_KINDS)}, got {data!r}")
    if isinstance(text, str) and text not in DATA_KINDS:
        out.setdefault("data_source", text)
    out["data"] = data
    out["trained"] = bool(trained)
    return out
