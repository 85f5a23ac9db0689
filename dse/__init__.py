"""dse: design-space exploration of approximate multipliers for AI accelerators."""

from dse.errors import (
    ConfigError,
    DataError,
    DseError,
    GraphError,
    KnobError,
    NetlistError,
    NetlistParseError,
    StudyStateError,
    ToolNotFound,
)

__version__ = "0.1.0"

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
    "__version__",
]
