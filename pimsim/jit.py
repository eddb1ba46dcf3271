"""All Numba JIT flags in one place.

``cache=True`` writes compiled kernels next to the source (``__pycache__``) so a second run
starts warm; ``nogil=True`` lets thread pools run kernels concurrently; ``fastmath`` stays off
because the kernels count integers and the replay must round exactly like the exporter.
Set ``NUMBA_DISABLE_JIT=1`` to run the kernels as plain Python (coverage, debugging).
"""

from __future__ import annotations

from numba import njit

JIT_FLAGS = {"cache": True, "nogil": True, "fastmath": False}


def kernel(func):  # type: ignore[no-untyped-def]
    """Decorate a counting kernel with the project's JIT flags."""
    return njit(**JIT_FLAGS)(func)


def parallel_kernel(func):  # type: ignore[no-untyped-def]
    """As :func:`kernel`, with ``parallel=True`` for ``prange`` loops over independent samples
    (functional replay); integer accumulation keeps results independent of thread order."""
    return njit(parallel=True, **JIT_FLAGS)(func)
