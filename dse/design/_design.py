"""A multiplier design, whatever it came from, and its hardware report.

:class:`Design` is what flows from a search space to a trial, to export, to the
accuracy model and to TRAM: a name, operand widths, signedness, a structural hash,
its gate-level netlist (when it has gates) and its product table. Two kinds have gates:

* :class:`GraphDesign` — a generated :class:`~dse.arith.MultiplierGraph`, lowered by
  :func:`dse.arith.lower`;
* :class:`NetlistDesign` — an imported netlist (Verilog, BLIF).

The third, :class:`~dse.design.TableDesign`, is a product table with stored figures.
This module is the one place where arithmetic structure meets the evaluator:
``dse.eval`` sees netlists only.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from dse.arith import MultiplierGraph, lower
from dse.errors import ConfigError
from dse.eval import HardwareReport, OperandDistribution, evaluate_netlist, product_table
from dse.netlist import Netlist, operand_widths

if TYPE_CHECKING:
    from dse.eval import CellLibrary

__all__ = ["Design", "GraphDesign", "NetlistDesign", "as_design", "evaluate", "netlist_key"]


@runtime_checkable
class Design(Protocol):
    """One multiplier design (see the module docstring for the kinds)."""

    name: str
    width_a: int
    width_b: int
    signed: bool

    @property
    def structural_hash(self) -> str: ...

    def netlist(self) -> Netlist | None:
        """The gate-level netlist (``None`` for a table-only entry)."""
        ...

    def lut(self) -> np.ndarray:
        """The product table, shape ``(2**width_a, 2**width_b)``, int64, by raw codes."""
        ...

    def report(
        self,
        *,
        distribution: OperandDistribution | None = None,
        trace_vectors: int = 8192,
        seed: int = 0,
        clock_period_ns: float = 1.0,
        library: CellLibrary | None = None,
        keep_lut: bool = True,
    ) -> HardwareReport:
        """Power, area, delay and error metrics (see :func:`dse.eval.evaluate_netlist`)."""
        ...


@dataclass(eq=False)
class GraphDesign:
    """A generated multiplier graph.

    Its netlist keeps readable net names (for writers); its report lowers without
    them, which is what an evaluation needs and is faster.
    """

    graph: MultiplierGraph
    name: str = "mul"
    width_a: int = field(init=False)
    width_b: int = field(init=False)
    signed: bool = field(init=False)

    def __post_init__(self) -> None:
        self.width_a = self.graph.width_a
        self.width_b = self.graph.width_b
        self.signed = self.graph.signed

    @property
    def structural_hash(self) -> str:
        return self.graph.structural_hash

    def netlist(self) -> Netlist:
        return lower(self.graph, self.name)

    def lut(self) -> np.ndarray:
        netlist = lower(self.graph, self.name, net_names=False)
        return product_table(netlist, self.width_a, self.width_b, signed=self.signed)

    def report(
        self,
        *,
        distribution: OperandDistribution | None = None,
        trace_vectors: int = 8192,
        seed: int = 0,
        clock_period_ns: float = 1.0,
        library: CellLibrary | None = None,
        keep_lut: bool = True,
        source: str = "",
    ) -> HardwareReport:
        graph = self.graph
        netlist = lower(graph, net_names=False)
        # the graph's hash if it has one already, else computed when the report is asked
        known = graph.known_hash()
        structural_hash: str | Callable[[], str] = known if known else _hash_of(graph)
        return evaluate_netlist(
            netlist,
            signed=graph.signed,
            library=library,
            distribution=distribution,
            trace_vectors=trace_vectors,
            seed=seed,
            clock_period_ns=clock_period_ns,
            structural_hash=structural_hash,
            source=source or str(graph.info.get("generator", "")),
            keep_lut=keep_lut,
        )


def _hash_of(graph: MultiplierGraph) -> Callable[[], str]:
    def compute() -> str:
        return graph.structural_hash

    return compute


def netlist_key(netlist: Netlist) -> str:
    """The structural hash of an imported netlist: a hash of its text form."""
    return hashlib.blake2b(netlist.to_text().encode(), digest_size=20).hexdigest()


@dataclass(eq=False)
class NetlistDesign:
    """An imported gate-level multiplier (its first two input ports are the operands)."""

    name: str
    key: str
    signed: bool
    width_a: int
    width_b: int
    gate_netlist: Netlist

    @property
    def structural_hash(self) -> str:
        return self.key

    def netlist(self) -> Netlist:
        return self.gate_netlist

    def lut(self) -> np.ndarray:
        return product_table(self.gate_netlist, self.width_a, self.width_b, signed=self.signed)

    def report(
        self,
        *,
        distribution: OperandDistribution | None = None,
        trace_vectors: int = 8192,
        seed: int = 0,
        clock_period_ns: float = 1.0,
        library: CellLibrary | None = None,
        keep_lut: bool = True,
        source: str = "",
    ) -> HardwareReport:
        return evaluate_netlist(
            self.gate_netlist,
            signed=self.signed,
            library=library,
            distribution=distribution,
            trace_vectors=trace_vectors,
            seed=seed,
            clock_period_ns=clock_period_ns,
            structural_hash=self.key,
            source=source,
            keep_lut=keep_lut,
        )


def as_design(obj: object, *, name: str | None = None, signed: bool = False) -> Design:
    """``obj`` as a :class:`Design`: a design as it is (a copy under ``name`` when a
    name is given, e.g. the module name an export writes), a graph as a
    :class:`GraphDesign`, a netlist as a :class:`NetlistDesign` (``signed`` says how to
    read its operands; its hash is :func:`netlist_key`)."""
    if isinstance(obj, MultiplierGraph):
        return GraphDesign(obj, name or "mul")
    if isinstance(obj, Netlist):
        wa, wb = operand_widths(obj)
        return NetlistDesign(name or obj.name, netlist_key(obj), signed, wa, wb, obj)
    if isinstance(obj, Design):
        if name is not None and name != obj.name and dataclasses.is_dataclass(obj):
            return dataclasses.replace(obj, name=name)
        return obj
    raise ConfigError(
        f"expected a multiplier graph, a netlist or a design, got {type(obj).__name__}"
    )


def evaluate(
    design: MultiplierGraph | Design,
    *,
    library: CellLibrary | None = None,
    distribution: OperandDistribution | None = None,
    trace_vectors: int = 8192,
    seed: int = 0,
    clock_period_ns: float = 1.0,
    source: str = "",
    keep_lut: bool = True,
) -> HardwareReport:
    """The hardware report of a graph or design (see :func:`dse.eval.evaluate_netlist`
    for the arguments); ``source`` names where the design came from in the report
    (default: the generator of a graph)."""
    d = as_design(design)
    if isinstance(d, (GraphDesign, NetlistDesign)):
        return d.report(
            library=library,
            distribution=distribution,
            trace_vectors=trace_vectors,
            seed=seed,
            clock_period_ns=clock_period_ns,
            keep_lut=keep_lut,
            source=source,
        )
    return d.report(
        library=library,
        distribution=distribution,
        trace_vectors=trace_vectors,
        seed=seed,
        clock_period_ns=clock_period_ns,
        keep_lut=keep_lut,
    )
