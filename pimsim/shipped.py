"""Shipped hardware configs and sweep spaces, and how a name given by a user resolves to a file.

The configs live in the package (``pimsim/hw_configs/``, installed with it; the checkout's
``hw_configs/`` is a link to the same folder). A name given to ``--hw``, ``--space`` or
``extends:`` resolves as a **path first** (relative to the working folder, or for ``extends:``
to the extending file's folder), then as a shipped file of that name, with or without
``.yaml``: ``45nm_pim``, ``45nm_pim.yaml``, ``hw_configs/45nm_pim.yaml`` and
``calibration/sinangil_7nm`` all work from any folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from pimsim.errors import ConfigError

#: The folder of the shipped hardware configs (package data).
CONFIG_DIR = Path(__file__).resolve().parent / "hw_configs"
#: The folder of the shipped sweep spaces.
SPACE_DIR = CONFIG_DIR / "sweeps"
_PREFIX = "hw_configs/"


@dataclass(frozen=True)
class ShippedFile:
    """One shipped YAML: its name (path below its folder, without ``.yaml``), its file and the
    first line of its description."""

    name: str
    path: Path
    description: str


def _candidates(name: str, folder: Path) -> list[Path]:
    text = name.replace("\\", "/").removeprefix(_PREFIX)
    if folder == SPACE_DIR:
        text = text.removeprefix("sweeps/")
    stems = [text] if text.endswith((".yaml", ".yml")) else [text + ".yaml", text]
    return [folder / s for s in stems]


def _resolve(name: str, folder: Path, *, relative_to: str | os.PathLike[str] | None,
             what: str, listing: str) -> str:
    raw = str(name)
    direct = Path(relative_to) / raw if relative_to is not None else Path(raw)
    if direct.is_file():
        return str(direct)
    if not Path(raw).is_absolute() and ".." not in Path(raw).parts:
        for cand in _candidates(raw, folder):
            if cand.is_file():
                return str(cand)
    raise ConfigError(f"{what} not found: not a file, nor a shipped name (`{listing}` lists "
                      "them)", file=str(direct))


def resolve_config(name: str | os.PathLike[str], *,
                   relative_to: str | os.PathLike[str] | None = None) -> str:
    """The file of a hardware config given as a path or a shipped name (path first)."""
    return _resolve(str(name), CONFIG_DIR, relative_to=relative_to,
                    what="hardware config", listing="pimsim configs")


def resolve_space(name: str | os.PathLike[str]) -> str:
    """The file of a sweep space given as a path or a shipped name (path first)."""
    return _resolve(str(name), SPACE_DIR, relative_to=None, what="sweep space",
                    listing="pimsim configs --spaces")


def _description(path: Path, *, key: str) -> str:
    """A config's ``description`` key, else the first comment line of the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    data = None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        pass
    if isinstance(data, dict) and isinstance(data.get(key), str) and data[key].strip():
        return " ".join(data[key].split())
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


def _listing(folder: Path, *, skip: tuple[str, ...], key: str) -> list[ShippedFile]:
    out = []
    for path in sorted(folder.rglob("*.yaml")):
        rel = path.relative_to(folder).with_suffix("").as_posix()
        if rel.split("/")[0] in skip:
            continue
        out.append(ShippedFile(rel, path, _description(path, key=key)))
    return out


def shipped_configs() -> list[ShippedFile]:
    """Every shipped hardware config (calibration macros included), sorted by name."""
    return _listing(CONFIG_DIR, skip=("sweeps",), key="description")


def shipped_spaces() -> list[ShippedFile]:
    """Every shipped sweep space, sorted by name."""
    return _listing(SPACE_DIR, skip=(), key="description")
