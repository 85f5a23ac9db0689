"""The exception hierarchy of dse.

Every error dse raises on purpose derives from :class:`DseError`, so the CLI can
print it as one line (what was wrong, what was expected, where) and exit non-zero
instead of showing a traceback.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "DseError",
    "GraphError",
    "KnobError",
    "NetlistError",
    "NetlistParseError",
    "StudyStateError",
    "ToolNotFound",
]


class DseError(Exception):
    """Root of every error dse raises deliberately."""


class ConfigError(DseError, ValueError):
    """A configuration value (CLI option, YAML field, argument) is invalid."""


class GraphError(DseError):
    """A :class:`~dse.arith.MultiplierGraph` is malformed; the message names the node."""


class KnobError(ConfigError):
    """An approximation knob was given an unknown name or an invalid value."""


class NetlistError(DseError):
    """A gate-level netlist is malformed (combinational loop, undriven output, ...)."""


class NetlistParseError(NetlistError):
    """A netlist file could not be read; the message carries ``file:line``."""


class DataError(DseError):
    """A data set, LUT or model file is missing or has the wrong format."""


class StudyStateError(DseError):
    """A study in storage is missing or inconsistent with what was asked."""


class ToolNotFound(DseError):
    """An external tool (iverilog, yosys, ...) is not installed; the message says how to get it."""
