"""Error types. Every user-facing error names the file, the key and what was expected, so the CLI
can print it as one line and exit with status 2."""

from __future__ import annotations


class PimsimError(Exception):
    """A user-facing error: ``<file>: <key>: <message>`` on one line."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.file = file
        self.key = key
        self.message = message
        super().__init__(self.one_line())

    def one_line(self) -> str:
        parts = [p for p in (self.file, self.key) if p]
        text = " ".join(self.message.split())
        return ": ".join([*parts, text]) if parts else text


class ConfigError(PimsimError):
    """A hardware config or sweep space is invalid."""


class TraceError(PimsimError):
    """A trace file is missing, corrupt or inconsistent with its format (docs/trace-format.md)."""


class SimulationError(PimsimError):
    """A trace cannot be mapped onto the configured hardware."""
