"""All Numba JIT flags in one place, and the notice printed when the kernels compile.

``cache=True`` writes compiled kernels next to the source (``__pycache__``, or under
``$NUMBA_CACHE_DIR``) so a second run starts warm; ``nogil=True`` lets thread pools run kernels
concurrently; ``fastmath`` stays off because the kernels count integers and the replay must
round exactly like the exporter. Set ``NUMBA_DISABLE_JIT=1`` to run the kernels as plain Python
(coverage, debugging).

Compiling the kernels takes seconds, once after install (then they load from the on-disk
cache). So that this pause is not silent, the first real compilation of a pimsim kernel in a
process prints :data:`COMPILE_NOTICE` on stderr, once. It is driven by Numba's
``numba:compile`` event, which fires only on a cache miss (a kernel loaded from the cache never
triggers it), so a warm run prints nothing.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from numba import njit
from numba.core import event

JIT_FLAGS = {"cache": True, "nogil": True, "fastmath": False}

#: The one line printed on stderr when pimsim's kernels compile (cold on-disk cache).
COMPILE_NOTICE = ("pimsim: compiling Numba kernels (first run after install, ~10 s; cached "
                  "afterwards)")

_PID = os.getpid()
_announced = False


def kernel(func):  # type: ignore[no-untyped-def]
    """Decorate a counting kernel with the project's JIT flags."""
    return njit(**JIT_FLAGS)(func)


def parallel_kernel(func):  # type: ignore[no-untyped-def]
    """As :func:`kernel`, with ``parallel=True`` for ``prange`` loops over independent samples
    (functional replay); integer accumulation keeps results independent of thread order."""
    return njit(parallel=True, **JIT_FLAGS)(func)


def announced() -> bool:
    """Whether this process has printed the compile notice (or inherited it by fork)."""
    return _announced


def _say(text: str) -> None:
    """Print above any progress bar of this process (a forked worker prints plainly: the bars
    it inherited belong to its parent)."""
    if os.getpid() == _PID:
        from tqdm import tqdm

        tqdm.write(text, file=sys.stderr)
    else:
        print(text, file=sys.stderr, flush=True)


class _CompileNotice(event.Listener):
    """Prints :data:`COMPILE_NOTICE` when a pimsim kernel starts compiling, once per
    process."""

    def on_start(self, ev: Any) -> None:
        global _announced
        if _announced:
            return
        disp = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
        module = getattr(getattr(disp, "py_func", None), "__module__", None) or ""
        if not module.startswith("pimsim"):
            return
        _announced = True
        _say(COMPILE_NOTICE)

    def on_end(self, ev: Any) -> None:
        pass


event.register("numba:compile", _CompileNotice())
