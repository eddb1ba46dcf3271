"""The sweep's error type and format version (shared by every module of :mod:`pimsim.sweep`)."""

from __future__ import annotations

from pimsim.errors import PimsimError

#: Version of the results/sidecar format (part of the sweep fingerprint).
FORMAT_VERSION = 1


class SweepError(PimsimError):
    """A sweep cannot run or resume (bad results file, unreachable scheduler...)."""
