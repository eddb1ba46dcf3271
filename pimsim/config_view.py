"""A loaded config as people read it: the resolved YAML (``pimsim config show``) and the keys
in which two configs differ (``pimsim config diff``).

The resolved YAML is the config after ``extends:``, ``--set`` overrides and technology scaling,
with its whole ``sources`` table; loading it again gives the same config (round trip), so it
can be saved and edited as a new design.
"""

from __future__ import annotations

from typing import Any

import yaml

from pimsim.config import HardwareConfig


def _leaves(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value and key != "sources":
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def resolved_yaml(cfg: HardwareConfig, *, origin: str = "",
                  overrides: dict[str, Any] | None = None) -> str:
    """The resolved config as YAML (sources table included), with a comment header naming
    the file it came from and the overrides applied."""
    head = [f"# resolved config {cfg.name!r}" + (f" from {origin}" if origin else "")]
    for key, value in (overrides or {}).items():
        head.append(f"# --set {key}={value!r}")
    head.append("# extends:, --set and technology scaling are applied; load it as a config "
                "of its own")
    body = yaml.safe_dump(cfg.model_dump(), sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(head) + "\n" + body


def config_diff(a: HardwareConfig, b: HardwareConfig, *, sources: bool = False
                ) -> list[tuple[str, Any, Any]]:
    """``(dotted key, value in a, value in b)`` for every key whose values differ, in schema
    order; ``sources``: compare the sources tables too (keys ``sources.<key>``)."""
    da, db = a.model_dump(), b.model_dump()
    la, lb = _leaves(da), _leaves(db)
    sa, sb = la.pop("sources", {}), lb.pop("sources", {})
    keys = list(la) + [k for k in lb if k not in la]
    out = [(k, la.get(k), lb.get(k)) for k in keys if la.get(k) != lb.get(k)]
    if sources:
        skeys = sorted(set(sa) | set(sb))
        out += [(f"sources.{k}", sa.get(k), sb.get(k)) for k in skeys if sa.get(k) != sb.get(k)]
    return out
