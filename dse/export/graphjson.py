"""A generated multiplier's graph as JSON (``MultiplierGraph.to_dict``); read back by
rebuilding the graph, lowering it and simulating it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dse.arith import MultiplierGraph, lower
from dse.errors import ConfigError
from dse.export._base import ExportableDesign, ExportFormat, netlist_table

__all__ = ["GraphJsonFormat"]


def _graph(design: ExportableDesign) -> Any:
    graph = getattr(design, "graph", None)
    if graph is None or not hasattr(graph, "to_dict"):
        raise ConfigError(
            f"{design.name}: json writes a generated multiplier's graph; this design has none "
            f"(an imported netlist or a table)"
        )
    return graph


class GraphJsonFormat(ExportFormat):
    name = "json"
    suffix = ".json"
    description = "a generated multiplier's graph as JSON"

    def check(self, design: ExportableDesign) -> None:
        _graph(design)

    def write(self, design: ExportableDesign, path: Path) -> None:
        path.write_text(json.dumps(_graph(design).to_dict(), indent=1) + "\n")

    def read(self, path: Path, *, signed: bool) -> np.ndarray:
        graph = MultiplierGraph.from_dict(json.loads(path.read_text()))
        return netlist_table(lower(graph), signed=graph.signed)
