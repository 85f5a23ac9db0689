"""The structure IR: :class:`MultiplierGraph`.

A multiplier is a directed acyclic graph of cells (see :mod:`dse.arith._cells`):
operand bits, partial-product generators, constants, compressors (half/full adders,
4:2 compressors and their approximations), the final carry-propagate adder's cells,
and one ``output`` node per product bit. Each node names, per input port, the
``(node, port)`` that drives it, so "every signal driven exactly once" holds by
construction and edges carry port names.

Graphs are immutable: knobs build new graphs (cheaply: nodes are shared).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import networkx as nx
import numpy as np

from dse.arith._cells import cell_type
from dse.errors import GraphError

__all__ = ["MultiplierGraph", "Node", "Signal", "node_factory"]

Signal = tuple[str, str]  # (node id, output port)


@dataclass(frozen=True, init=False)
class Node:
    """One cell of a multiplier graph.

    Attributes:
        kind: cell type name (a key of :data:`dse.arith.CELL_TYPES`).
        inputs: per input port of the cell type, the driving ``(node, port)``.
        column: the column (power of two) the cell works in; ``None`` for logic
            that has no single weight (prefix-adder internals, log-multiplier logic).
        forced: output ports tied to constant 0 by a knob.
        role: ``input``, ``pp``, ``const``, ``tree``, ``cpa``, ``logic`` or ``output``.
        operand: ``"a"``/``"b"`` for operand bits, ``"p"`` for product bits.
        bit: the bit index of operand or product bits.
        row: the partial-product row (array reduction order), ``-1`` elsewhere.
    """

    kind: str
    inputs: tuple[Signal, ...] = ()
    column: int | None = None
    forced: frozenset[str] = frozenset()
    role: str = "logic"
    operand: str = ""
    bit: int = -1
    row: int = -1

    def __init__(
        self,
        kind: str,
        inputs: tuple[Signal, ...] = (),
        column: int | None = None,
        forced: frozenset[str] = frozenset(),
        role: str = "logic",
        operand: str = "",
        bit: int = -1,
        row: int = -1,
    ) -> None:
        # The generated frozen __init__ sets each field through object.__setattr__;
        # one dict update is about 2.5x faster, and every rebuild of a tree makes
        # hundreds of nodes. Same signature and fields as the generated one.
        self.__dict__.update(
            kind=kind,
            inputs=inputs,
            column=column,
            forced=forced,
            role=role,
            operand=operand,
            bit=bit,
            row=row,
        )


_new_object = object.__new__


@functools.lru_cache(maxsize=1024)  # (kind, role) pairs: a few dozen in practice
def node_factory(kind: str, role: str) -> Callable[[tuple[Signal, ...], int | None], Node]:
    """A fast ``(inputs, column) -> Node(kind, inputs, column, role=role)``.

    Generators make hundreds of nodes per rebuild of a tree (every matrix knob). The
    factory copies a prepared field dict (in field order) into a new instance instead
    of binding ``Node.__init__``'s keywords, about twice as fast; the node is the same
    (fields and their order, equality, hash, pickling) as the constructor's.
    """
    template = dict(vars(Node(kind, role=role)))

    def make(inputs: tuple[Signal, ...], column: int | None) -> Node:
        node = _new_object(Node)
        fields = node.__dict__
        fields.update(template)
        fields["inputs"] = inputs
        fields["column"] = column
        return node

    return make


class MultiplierGraph:
    """An immutable multiplier structure.

    Args:
        width_a: bits of operand ``a``.
        width_b: bits of operand ``b``.
        signed: operands and product are two's complement.
        nodes: node id → :class:`Node`.
        info: descriptive metadata (generator, reduction, adder, knob history); it is
            not part of the structural hash.
    """

    # class default, for graphs pickled before the attribute existed
    _order_is_insertion = False

    def __init__(
        self,
        width_a: int,
        width_b: int,
        signed: bool,
        nodes: Mapping[str, Node],
        info: Mapping[str, Any] | None = None,
    ) -> None:
        self.width_a = int(width_a)
        self.width_b = int(width_b)
        self.signed = bool(signed)
        self._nodes: dict[str, Node] = dict(nodes)
        self.info: Mapping[str, Any] = MappingProxyType(dict(info or {}))
        # set by replace_nodes when this graph's order follows from its parent's
        self._order_parent: MultiplierGraph | None = None
        # set by generators whose nodes are inserted after every node they read
        self._insertion_is_topological = False
        # set when topological_order is found to be the insertion order (then the
        # node table's values are the nodes in that order)
        self._order_is_insertion = False

    # ------------------------------------------------------------------ access
    @property
    def nodes(self) -> Mapping[str, Node]:
        """Read-only node table."""
        return MappingProxyType(self._nodes)

    @property
    def width_p(self) -> int:
        """Product width: ``width_a + width_b``."""
        return self.width_a + self.width_b

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node: object) -> bool:
        return node in self._nodes

    def __getitem__(self, node: str) -> Node:
        try:
            return self._nodes[node]
        except KeyError:
            raise GraphError(f"graph has no node {node!r}") from None

    def __repr__(self) -> str:
        kind = "signed" if self.signed else "unsigned"
        gen = self.info.get("generator", "?")
        return (
            f"<MultiplierGraph {gen} {self.width_a}x{self.width_b} {kind}, "
            f"{len(self._nodes)} nodes, hash {self.structural_hash[:12]}>"
        )

    def nodes_of(self, *, kind: str | None = None, role: str | None = None) -> list[str]:
        """Node ids filtered by kind and/or role, in topological order."""
        order = self.topological_order
        nodes = self._nodes
        pairs: Iterable[tuple[str, Node]] = (
            nodes.items() if self._order_is_insertion else ((n, nodes[n]) for n in order)
        )
        return [
            n
            for n, node in pairs
            if (kind is None or node.kind == kind) and (role is None or node.role == role)
        ]

    def replace_nodes(
        self, changes: Mapping[str, Node | None], info: Mapping[str, Any] | None = None
    ) -> MultiplierGraph:
        """A new graph with nodes replaced, added, or (value ``None``) removed."""
        # New nodes without inputs (constants) go first, so the insertion order stays
        # topological and the fast path of :attr:`topological_order` applies.
        nodes = {
            name: node
            for name, node in changes.items()
            if node is not None and not node.inputs and name not in self._nodes
        }
        nodes.update(self._nodes)
        for name, node in changes.items():
            if node is None:
                nodes.pop(name, None)
            else:
                nodes[name] = node
        graph = MultiplierGraph(
            self.width_a, self.width_b, self.signed, {}, self.info if info is None else info
        )
        graph._nodes = nodes  # made above for this graph alone: no second copy
        # Knobs replace a few nodes, each reading only what it read before or a new
        # constant (placed first). Then, if this graph's insertion order is
        # topological, so is the new one's, and it need not be checked again.
        safe = True
        for name, node in changes.items():
            if node is None:
                safe = False
                break
            if not node.inputs:
                continue
            old = self._nodes.get(name)
            if old is None:
                safe = False
                break
            before = {src for src, _ in old.inputs}
            for src, _ in node.inputs:
                if src not in before and not (src in changes and src not in self._nodes):
                    safe = False
                    break
            if not safe:
                break
        if safe:
            graph._order_parent = self
        return graph

    # --------------------------------------------------------------- structure
    def _insertion_topological(self) -> bool:
        """Whether the insertion order is a topological order (then it is the order)."""
        order = self.topological_order
        return self._order_is_insertion or order == tuple(self._nodes)

    def _nodes_in_order(self) -> list[Node]:
        """The nodes in :attr:`topological_order` (for passes that read every node)."""
        order = self.topological_order
        if self._order_is_insertion:
            return list(self._nodes.values())
        nodes = self._nodes
        return [nodes[n] for n in order]

    @cached_property
    def topological_order(self) -> tuple[str, ...]:
        """Node ids, every node after its drivers; ties broken by insertion order."""
        if self._insertion_is_topological:
            self._order_is_insertion = True
            return tuple(self._nodes)
        # A graph made by replace_nodes from one whose insertion order is topological
        # keeps that property (see there): no check needed.
        parent = self._order_parent
        if parent is not None:
            self._order_parent = None  # do not keep the parent alive any longer
            if parent._insertion_topological():
                self._order_is_insertion = True
                return tuple(self._nodes)
        # Generators insert nodes in a topological order already: check it in one pass
        # and fall back to Kahn's algorithm only when it does not hold.
        seen: set[str] = set()
        for name, node in self._nodes.items():
            for src, _ in node.inputs:
                if src not in seen:
                    break
            else:
                seen.add(name)
                continue
            break
        else:
            self._order_is_insertion = True
            return tuple(self._nodes)
        indeg: dict[str, int] = {}
        users: dict[str, list[str]] = {n: [] for n in self._nodes}
        for name, node in self._nodes.items():
            srcs = {src for src, _ in node.inputs}
            indeg[name] = len(srcs)
            for src in srcs:
                if src not in users:
                    raise GraphError(
                        f"node {name!r} reads {src!r}, which is not a node of the graph"
                    )
                users[src].append(name)
        ready = [n for n, d in indeg.items() if d == 0]
        order: list[str] = []
        while ready:
            n = ready.pop()
            order.append(n)
            for u in users[n]:
                indeg[u] -= 1
                if indeg[u] == 0:
                    ready.append(u)
        if len(order) != len(self._nodes):
            raise GraphError(f"graph has a cycle: {' -> '.join(self._find_cycle())}")
        return tuple(order)

    def _find_cycle(self) -> list[str]:
        try:
            edges = nx.find_cycle(self._skeleton())
        except nx.NetworkXNoCycle:  # pragma: no cover - only called on a cycle
            return []
        return [u for u, _ in edges] + [edges[0][0]]

    def _skeleton(self) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(self._nodes)
        g.add_edges_from(
            (src, name) for name, node in self._nodes.items() for src, _ in node.inputs
        )
        return g

    @cached_property
    def nx(self) -> nx.DiGraph:
        """The graph as a ``networkx.DiGraph``: node attributes are the :class:`Node`
        fields; each edge ``u -> v`` has ``ports``, a list of ``(u's output port, v's
        input port)`` (a list because one cell may feed several ports of another)."""
        g = nx.DiGraph(width_a=self.width_a, width_b=self.width_b, signed=self.signed)
        for name, node in self._nodes.items():
            g.add_node(
                name,
                kind=node.kind,
                column=node.column,
                role=node.role,
                forced=sorted(node.forced),
                operand=node.operand,
                bit=node.bit,
            )
        for name, node in self._nodes.items():
            in_ports = cell_type(node.kind).inputs
            for (src, port), dst_port in zip(node.inputs, in_ports, strict=False):
                if g.has_edge(src, name):
                    g.edges[src, name]["ports"].append((port, dst_port))
                else:
                    g.add_edge(src, name, ports=[(port, dst_port)])
        return g

    def fanout(self) -> dict[str, list[tuple[str, int]]]:
        """For each node, the ``(consumer, input index)`` pairs it drives."""
        out: dict[str, list[tuple[str, int]]] = {n: [] for n in self._nodes}
        for name, node in self._nodes.items():
            for k, (src, _) in enumerate(node.inputs):
                out[src].append((name, k))
        return out

    def signal_column(self, signal: Signal) -> int | None:
        """The column (weight exponent) of a signal, ``None`` for non-arithmetic logic."""
        src, port = signal
        node = self._nodes[src]
        if node.role == "input":
            return None
        ct = cell_type(node.kind)
        off = ct.offsets[ct.outputs.index(port)]
        if off is None or node.column is None:
            return None
        return node.column + off

    # --------------------------------------------------------------- checking
    def validate(self) -> MultiplierGraph:
        """Check the graph is well formed; return it, or raise :class:`GraphError`.

        Checks: known cell kinds and port counts; every input port driven by an
        existing node's existing output port; acyclic; operand bits and product bits
        present exactly once each; compressor inputs and product bits in the column
        their weight says.
        """
        seen_in: dict[tuple[str, int], str] = {}
        seen_out: dict[int, str] = {}
        for name, node in self._nodes.items():
            try:
                ct = cell_type(node.kind)
            except Exception as exc:
                raise GraphError(f"node {name!r}: {exc}") from None
            if len(node.inputs) != len(ct.inputs):
                raise GraphError(
                    f"node {name!r} ({node.kind}) has {len(node.inputs)} inputs, "
                    f"its kind takes {len(ct.inputs)} ({', '.join(ct.inputs)})"
                )
            for (src, port), dst_port in zip(node.inputs, ct.inputs, strict=True):
                if src not in self._nodes:
                    raise GraphError(f"node {name!r} input {dst_port!r} reads missing node {src!r}")
                sct = cell_type(self._nodes[src].kind)
                if port not in sct.outputs:
                    raise GraphError(
                        f"node {name!r} input {dst_port!r} reads port {port!r} of {src!r}, "
                        f"which has outputs {list(sct.outputs)}"
                    )
            bad = node.forced - set(ct.outputs)
            if bad:
                raise GraphError(f"node {name!r} forces unknown output ports {sorted(bad)}")
            if node.role == "input":
                if node.operand not in ("a", "b"):
                    raise GraphError(f"input node {name!r} must have operand 'a' or 'b'")
                width = self.width_a if node.operand == "a" else self.width_b
                if not 0 <= node.bit < width:
                    raise GraphError(f"input node {name!r}: bit {node.bit} out of range")
                key = (node.operand, node.bit)
                if key in seen_in:
                    raise GraphError(
                        f"operand bit {node.operand}{node.bit} appears twice: "
                        f"{seen_in[key]!r} and {name!r}"
                    )
                seen_in[key] = name
            if node.kind == "output":
                if not 0 <= node.bit < self.width_p:
                    raise GraphError(f"output node {name!r}: bit {node.bit} out of range")
                if node.bit in seen_out:
                    raise GraphError(
                        f"product bit {node.bit} is driven twice: {seen_out[node.bit]!r} and {name!r}"
                    )
                seen_out[node.bit] = name
        for op, width in (("a", self.width_a), ("b", self.width_b)):
            for bit in range(width):
                if (op, bit) not in seen_in:
                    raise GraphError(f"operand bit {op}{bit} has no input node")
        for bit in range(self.width_p):
            if bit not in seen_out:
                raise GraphError(f"product bit p{bit} is not driven")
        _ = self.topological_order  # raises on a cycle, naming it
        for name, node in self._nodes.items():
            ct = cell_type(node.kind)
            if not (ct.compressor or node.kind == "output"):
                continue
            want = node.bit if node.kind == "output" else node.column
            for sig, dst_port in zip(node.inputs, ct.inputs, strict=True):
                col = self.signal_column(sig)
                if col is not None and col != want:
                    raise GraphError(
                        f"node {name!r} input {dst_port!r} reads {sig[0]}.{sig[1]} of column "
                        f"{col}, but the node works in column {want}"
                    )
        return self

    # ------------------------------------------------------------------ hashing
    def known_hash(self) -> str | None:
        """The structural hash if it has been computed already, else ``None`` (so a
        caller can defer the pass over the graph until someone reads the hash)."""
        return self.__dict__.get("structural_hash")

    @cached_property
    def structural_hash(self) -> str:
        """Canonical hash of the structure, independent of node names and insertion order.

        Each node hashes its kind, column, forced ports and its drivers' hashes (sorted
        for symmetric cells); the graph hashes widths, signedness and product bits.
        Logic no product bit depends on does not count.
        """
        digests: dict[str, bytes] = {}
        blake = hashlib.blake2b
        nodes = self._nodes
        # Per-call caches of what many nodes share (the bytes hashed are unchanged):
        # a kind's symmetry, a node's head (kind, column, forced), a port's bytes.
        symmetric: dict[str, bool] = {}
        heads: dict[tuple[str, type, int | None, frozenset[str]], bytes] = {}
        ports: dict[str, bytes] = {}
        for name in self.topological_order:
            node = nodes[name]
            if node.role == "input":
                digests[name] = f"in:{node.operand}{node.bit}".encode()
                continue
            ins = []
            for src, port in node.inputs:
                pb = ports.get(port)
                if pb is None:
                    pb = ports[port] = port.encode()
                ins.append(digests[src] + pb)
            kind = node.kind
            sym = symmetric.get(kind)
            if sym is None:
                sym = symmetric[kind] = cell_type(kind).symmetric
            if sym:
                ins.sort()
            col = node.column
            hkey = (kind, type(col), col, node.forced)  # 1 == 1.0 == True, not as text
            head = heads.get(hkey)
            if head is None:
                head = heads[hkey] = f"{kind}|{col}|{','.join(sorted(node.forced))}|".encode()
            digests[name] = blake(head + b"".join(ins), digest_size=16).digest()
        top = hashlib.blake2b(digest_size=20)
        top.update(f"{self.width_a}x{self.width_b}:{int(self.signed)}".encode())
        outs = sorted((n.bit, name) for name, n in self._nodes.items() if n.kind == "output")
        for _, name in outs:
            top.update(digests[name])
        return top.hexdigest()

    # --------------------------------------------------------------- semantics
    def evaluate(self, a: int, b: int) -> int:
        """Reference semantics: the product for raw operand bit patterns ``a``, ``b``.

        Deliberately simple (one Python dict, one pass in topological order); use it
        to check the fast path, never in a search loop. The result is read as two's
        complement for a signed multiplier.
        """
        values: dict[Signal, int] = {}
        product = 0
        for name in self.topological_order:
            node = self._nodes[name]
            if node.role == "input":
                word = a if node.operand == "a" else b
                values[(name, "y")] = (word >> node.bit) & 1
                continue
            ct = cell_type(node.kind)
            ins = [values[s] for s in node.inputs]
            if node.kind == "output":
                product |= ins[0] << node.bit
                continue
            outs = ct.function(ins)
            for port, v in zip(ct.outputs, outs, strict=True):
                values[(name, port)] = 0 if port in node.forced else int(v)
        if self.signed and product >> (self.width_p - 1):
            product -= 1 << self.width_p
        return product

    def reference_table(self) -> np.ndarray:
        """The product table from :meth:`evaluate` (slow; small widths only)."""
        if self.width_p > 12:
            raise GraphError("reference_table is for widths up to 12 product bits; use dse.eval")
        table = np.empty((1 << self.width_a, 1 << self.width_b), dtype=np.int64)
        for a in range(1 << self.width_a):
            for b in range(1 << self.width_b):
                table[a, b] = self.evaluate(a, b)
        return table

    def summary(self) -> dict[str, int]:
        """Cell counts by kind (excluding operand and product bit nodes)."""
        counts: dict[str, int] = {}
        for node in self._nodes.values():
            if node.role in ("input", "output"):
                continue
            counts[node.kind] = counts.get(node.kind, 0) + 1
        return dict(sorted(counts.items()))

    def __iter__(self) -> Iterator[str]:
        return iter(self._nodes)

    # ------------------------------------------------------------ serialising
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description: widths, nodes with their drivers, and metadata."""
        from dataclasses import asdict, fields, is_dataclass

        info: dict[str, Any] = {}
        for key, value in self.info.items():
            if is_dataclass(value) and not isinstance(value, type):
                d = asdict(value)
                # a field added later is written only when set, so a description
                # of a design that does not use it reads as it always did
                for f in fields(value):
                    if f.metadata.get("written_when_set") and d.get(f.name) == f.default:
                        del d[f.name]
                d = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in d.items()}
                info[key] = {"type": type(value).__name__, **d}
            elif isinstance(value, tuple):
                info[key] = [list(v) if isinstance(v, tuple) else v for v in value]
            else:
                info[key] = value
        nodes = []
        for name in self.topological_order:
            n = self._nodes[name]
            entry: dict[str, Any] = {"id": name, "kind": n.kind, "role": n.role}
            if n.inputs:
                entry["inputs"] = [f"{src}.{port}" for src, port in n.inputs]
            if n.column is not None:
                entry["column"] = n.column
            if n.forced:
                entry["forced_zero"] = sorted(n.forced)
            if n.operand:
                entry["operand"] = n.operand
                entry["bit"] = n.bit
            if n.row >= 0:
                entry["row"] = n.row
            nodes.append(entry)
        return {
            "format": "dse.MultiplierGraph/1",
            "width_a": self.width_a,
            "width_b": self.width_b,
            "signed": self.signed,
            "structural_hash": self.structural_hash,
            "info": info,
            "nodes": nodes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MultiplierGraph:
        """Rebuild a graph written by :meth:`to_dict` (metadata other than the generator
        name is kept as plain data)."""
        try:
            nodes: dict[str, Node] = {}
            for _k, entry in enumerate(data["nodes"]):
                inputs = []
                for ref in entry.get("inputs", []):
                    src, _, port = str(ref).rpartition(".")
                    inputs.append((src, port))
                nodes[entry["id"]] = Node(
                    kind=entry["kind"],
                    inputs=tuple(inputs),
                    column=entry.get("column"),
                    forced=frozenset(entry.get("forced_zero", ())),
                    role=entry.get("role", "logic"),
                    operand=entry.get("operand", ""),
                    bit=int(entry.get("bit", -1)),
                    row=int(entry.get("row", -1)),
                )
            info = {"generator": data.get("info", {}).get("generator", "json"), "edits": ()}
            graph = cls(data["width_a"], data["width_b"], data["signed"], nodes, info)
        except (KeyError, TypeError, ValueError) as exc:
            raise GraphError(f"not a dse graph description: missing or bad field {exc}") from None
        return graph.validate()


@dataclass
class GraphBuilder:
    """Mutable helper the generators use to assemble a graph, then freeze it."""

    width_a: int
    width_b: int
    signed: bool
    nodes: dict[str, Node] = field(default_factory=dict)
    _counter: dict[str, int] = field(default_factory=dict)

    def fresh(self, prefix: str) -> str:
        k = self._counter.get(prefix, 0)
        self._counter[prefix] = k + 1
        return f"{prefix}_{k}"

    def add(self, name: str, node: Node) -> str:
        if name in self.nodes:
            raise GraphError(f"node {name!r} added twice")
        self.nodes[name] = node
        return name

    def cell(
        self, prefix: str, kind: str, inputs: tuple[Signal, ...], column: int | None, role: str
    ) -> str:
        # fresh() and add() inlined: generators call this for every cell of a tree
        counter = self._counter
        k = counter.get(prefix, 0)
        counter[prefix] = k + 1
        name = f"{prefix}_{k}"
        nodes = self.nodes
        if name in nodes:
            raise GraphError(f"node {name!r} added twice")
        nodes[name] = node_factory(kind, role)(inputs, column)
        return name

    def freeze(self, info: Mapping[str, Any]) -> MultiplierGraph:
        return MultiplierGraph(self.width_a, self.width_b, self.signed, self.nodes, info)
