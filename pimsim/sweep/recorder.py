"""A read-recording proxy of a config: which dotted keys a model function actually reads.

Memoisation in the sweep rests on one fact: a cost model is a deterministic function of the
config leaves it reads. Evaluated through :func:`recorded`, every leaf read is logged; two
points that agree on the logged keys give the same result (the second run would take the same
branches and read the same values). :func:`dependencies` turns a log into the indices of the
swept keys it names.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

from pimsim.config import HardwareConfig

_REC_CLASSES: dict[tuple[type, str], type] = {}


def _recorder_class(cls: type[BaseModel], prefix: str = "") -> type:
    """A read-only proxy class for ``cls`` whose field properties log their dotted key.

    Reading a leaf field logs ``prefix + name``; a sub-model field returns a proxy of the same
    kind (created once per proxy); reading anything else (a method such as ``model_dump``)
    logs the whole object (``prefix`` without its dot, or ``*`` at the top).
    """
    hit = _REC_CLASSES.get((cls, prefix))
    if hit is not None:
        return hit
    attrs: dict[str, Any] = {"__slots__": ("_c", "_l", "_o")}
    whole = prefix[:-1] if prefix else "*"
    for name, info in cls.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            sub = _recorder_class(ann, f"{prefix}{name}.")

            def get_sub(self: Any, name: str = name, sub: type = sub) -> Any:
                r = self._c.get(name)
                if r is None:
                    r = self._c[name] = sub(getattr(self._o, name), self._l)
                return r

            attrs[name] = property(get_sub)
        else:
            def get_leaf(self: Any, name: str = name, full: str = prefix + name) -> Any:
                self._l.add(full)
                return getattr(self._o, name)

            attrs[name] = property(get_leaf)

    def __init__(self: Any, obj: BaseModel, log: set[str]) -> None:
        self._o, self._l, self._c = obj, log, {}

    def __getattr__(self: Any, name: str) -> Any:
        self._l.add(whole)
        return getattr(self._o, name)

    attrs["__init__"] = __init__
    attrs["__getattr__"] = __getattr__
    rc = type(f"Recorded{cls.__name__}", (), attrs)
    _REC_CLASSES[(cls, prefix)] = rc
    return rc


def recorded(cfg: HardwareConfig, log: set[str]) -> Any:
    """A proxy of ``cfg`` that adds every dotted key read through it to ``log``."""
    return _recorder_class(type(cfg))(cfg, log)



def dependencies(log: set[str], key_index: dict[str, int]) -> tuple[int, ...]:
    """Sorted indices of the swept keys named by a read log.

    ``*`` (the whole config was read) names every key; a section or sub-object name (read as a
    whole, e.g. through ``model_dump``) names every key under it.
    """
    idx: set[int] = set()
    for name in log:
        if name == "*":
            idx.update(key_index.values())
        elif name in key_index:
            idx.add(key_index[name])
        else:
            idx.update(i for k, i in key_index.items() if k.startswith(name + "."))
    return tuple(sorted(idx))


def getter_of(order: Sequence[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """A function mapping a value tuple to the tuple of its values at ``order``."""
    if not order:
        return lambda values: ()
    get = operator.itemgetter(*order)
    if len(order) == 1:
        return lambda values: (get(values),)
    return get  # type: ignore[return-value]
