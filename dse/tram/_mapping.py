"""TRAM phase 2: map continuous column parameters θ* to a multiplier netlist.

Published method (Meng et al., "TRAM", DAC 2026, arXiv 2605.08231, §phase 2): start from an
exact array multiplier, walk its half/full adders from the least to the most significant
column, tentatively tie each ``sum`` or ``cout`` output to 0 and keep the change only if it
lowers the mean squared error against the reference

    Y_ref(a, b) = a·b − Σ_c 2^c · θ*_c · S_c(a, b),   S_c = Σ_{i+j=c} a_i b_j,

over all input pairs.

Here the walk runs on a bit-parallel simulation of the :class:`~dse.arith.MultiplierGraph`
(all ``2**(wa+wb)`` operand pairs, 64 per ``uint64`` word). The graph is simulated once;
a tentative edit (any knob that returns a new graph: :func:`~dse.arith.set_output_constant`,
:func:`~dse.arith.replace_cell`, ...) re-simulates only the cells whose inputs changed,
in topological order, stopping wherever a recomputed signal equals its old value, and the
product changes only through the output bits that flipped. An 8×8 mapping takes well under a
second instead of a lower + simulate per tentative edit.

Beyond the paper (issue #5, 2b): :data:`MOVES` ``"rich"`` also tries approximate full adders
(``ama1..5``, ``axa2``, ``axa3``) and approximate 4:2 compressors in place of exact cells,
and :func:`map_theta` can walk several base structures (array, Dadda, Wallace, 4:2 tree)
and keep the best under the same criterion; the MSE may be weighted by the layer's operand
histograms (the network's real operand distribution) instead of uniform.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dse.arith import (
    MultiplierGraph,
    approximate_kinds,
    cell_type,
    generate,
    replace_cell,
    set_output_constant,
)
from dse.errors import ConfigError
from dse.eval import exhaustive_input_words

__all__ = [
    "BASES",
    "MOVES",
    "BitSimulator",
    "MappingResult",
    "column_sum_tables",
    "map_theta",
    "reference_table",
]

MOVES: tuple[str, ...] = ("published", "rich")
BASES: tuple[str, ...] = ("array", "dadda", "wallace", "c42tree")

Signal = tuple[str, str]
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


def _check_theta(theta: Any, wa: int, wb: int) -> np.ndarray:
    arr = np.asarray(theta, dtype=np.float64).ravel()
    if arr.shape != (wa + wb - 1,):
        raise ConfigError(
            f"theta must have {wa + wb - 1} entries (one per column c < wa+wb-1), "
            f"got shape {np.shape(theta)}"
        )
    if not np.all(np.isfinite(arr)) or (arr < 0).any() or (arr > 1).any():
        raise ConfigError("theta entries must lie in [0, 1]")
    return arr


def column_sum_tables(wa: int, wb: int) -> np.ndarray:
    """``S[c, a, b] = Σ_{i+j=c} a_i·b_j`` for every operand pair, shape ``(wa+wb-1, 2**wa, 2**wb)``."""
    a = np.arange(1 << wa)
    b = np.arange(1 << wb)
    abits = (a[:, None] >> np.arange(wa)) & 1  # (A, wa)
    bbits = (b[:, None] >> np.arange(wb)) & 1
    out = np.zeros((wa + wb - 1, 1 << wa, 1 << wb), dtype=np.int64)
    for i in range(wa):
        for j in range(wb):
            out[i + j] += np.outer(abits[:, i], bbits[:, j])
    return out


def reference_table(theta: Any, wa: int, wb: int) -> np.ndarray:
    """TRAM's phase-2 target ``Y_ref[a, b] = a·b − Σ_c 2^c θ_c S_c(a, b)`` (float64)."""
    th = _check_theta(theta, wa, wb)
    s = column_sum_tables(wa, wb).astype(np.float64)
    exact = np.outer(np.arange(1 << wa), np.arange(1 << wb)).astype(np.float64)
    return exact - np.tensordot(th * 2.0 ** np.arange(wa + wb - 1), s, axes=1)


# ------------------------------------------------------------------ bit-parallel cells
def _sop(ct_name: str) -> Callable[[Sequence[np.ndarray]], list[np.ndarray]]:
    """Bit-parallel evaluator of a cell from its truth table (sum of minterms)."""
    ct = cell_type(ct_name)
    rows = ct.truth_table()
    n_in, n_out = len(ct.inputs), len(ct.outputs)

    def fn(ins: Sequence[np.ndarray]) -> list[np.ndarray]:
        nots = [~x for x in ins]
        outs = [np.zeros_like(ins[0]) if n_in else np.zeros(1, np.uint64) for _ in range(n_out)]
        for idx, row in enumerate(rows):
            if not any(row):
                continue
            term = None
            for k in range(n_in):
                lit = ins[k] if (idx >> k) & 1 else nots[k]
                term = lit if term is None else term & lit
            for o in range(n_out):
                if row[o]:
                    outs[o] = outs[o] | term if term is not None else outs[o] | _ALL
        return outs

    return fn


def _fa(ins: Sequence[np.ndarray]) -> list[np.ndarray]:
    a, b, c = ins
    t = a ^ b
    return [t ^ c, (a & b) | (c & t)]


_FAST: dict[str, Callable[[Sequence[np.ndarray]], list[np.ndarray]]] = {
    "ha": lambda v: [v[0] ^ v[1], v[0] & v[1]],
    "fa": _fa,
    "pp_and": lambda v: [v[0] & v[1]],
    "and2": lambda v: [v[0] & v[1]],
    "or2": lambda v: [v[0] | v[1]],
    "xor2": lambda v: [v[0] ^ v[1]],
    "inv": lambda v: [~v[0]],
    "buf": lambda v: [v[0]],
}
_EVAL_CACHE: dict[str, Callable[[Sequence[np.ndarray]], list[np.ndarray]]] = {}


def _evaluator(kind: str) -> Callable[[Sequence[np.ndarray]], list[np.ndarray]]:
    fn = _FAST.get(kind) or _EVAL_CACHE.get(kind)
    if fn is None:
        fn = _EVAL_CACHE[kind] = _sop(kind)
    return fn


def _unpack(word_row: np.ndarray) -> np.ndarray:
    """0/1 per vector (int8) from a row of uint64 words, vector ``64*w + lane``."""
    return np.unpackbits(word_row.view(np.uint8), bitorder="little").view(np.int8)


class BitSimulator:
    """Exhaustive bit-parallel simulation of a graph with incremental re-simulation.

    ``values[(node, port)]`` holds one ``uint64`` row per signal. :meth:`try_edit` evaluates
    a tentative edited graph by re-simulating only the affected cone and returns the
    product change per operand pair; :meth:`commit` makes it current.
    """

    def __init__(self, graph: MultiplierGraph) -> None:
        if graph.signed:
            raise ConfigError(
                "graph: TRAM mapping works on unsigned (magnitude) multipliers; "
                "signed operands use sign-magnitude around it"
            )
        self.wa, self.wb = graph.width_a, graph.width_b
        self.words = exhaustive_input_words(self.wa, self.wb)
        self.n_vec = 1 << (self.wa + self.wb)
        self.graph = graph
        self._index_graph(graph)
        self.values: dict[Signal, np.ndarray] = {}
        zero = np.zeros(self.words.shape[1], np.uint64)
        self._zero = zero
        for name in graph.topological_order:
            self.values.update(self._eval(name, graph[name], self.values))
        self.product = self._product(self.values)

    def _index_graph(self, graph: MultiplierGraph) -> None:
        self.order = {n: k for k, n in enumerate(graph.topological_order)}
        self.users: dict[str, list[str]] = {n: [] for n in graph.nodes}
        for name, node in graph.nodes.items():
            for src, _ in node.inputs:
                self.users[src].append(name)
        self.outputs = {
            node.bit: name for name, node in graph.nodes.items() if node.kind == "output"
        }

    def _eval(self, name: str, node: Any, values: Any) -> dict[Signal, np.ndarray]:
        if node.role == "input":
            row = node.bit if node.operand == "a" else self.wa + node.bit
            return {(name, "y"): self.words[row]}
        if node.kind == "output":
            return {(name, "y"): values[node.inputs[0]]}
        if node.kind == "const0":
            return {(name, "y"): self._zero}
        if node.kind == "const1":
            return {(name, "y"): self._zero | _ALL}
        ct = cell_type(node.kind)
        outs = _evaluator(node.kind)([values[s] for s in node.inputs])
        res = {}
        for port, v in zip(ct.outputs, outs, strict=True):
            res[(name, port)] = self._zero if port in node.forced else v
        return res

    def _product(self, values: Any) -> np.ndarray:
        p = np.zeros(self.n_vec, np.int64)
        for bit, name in self.outputs.items():
            p += _unpack(values[(name, "y")]).astype(np.int64) << bit
        return p

    def table(self) -> np.ndarray:
        """The current product table ``[a, b]`` (int64)."""
        return self.product.reshape(1 << self.wa, 1 << self.wb).copy()

    def try_edit(self, new: MultiplierGraph) -> tuple[np.ndarray, dict[Signal, np.ndarray]]:
        """``(product delta per pair, changed signal values)`` of ``new`` vs the current graph.

        ``new`` must be the current graph with some nodes replaced or added (what knobs do).
        """
        old_nodes, new_nodes = self.graph.nodes, new.nodes
        changed = [n for n, node in new_nodes.items() if old_nodes.get(n) is not node]
        overlay: dict[Signal, np.ndarray] = {}

        class _View(dict):  # reads the overlay, then the committed values
            def __missing__(s, key: Signal) -> np.ndarray:
                return self.values[key]

        view = _View()
        heap: list[tuple[int, str]] = []
        queued: set[str] = set()
        for n in changed:
            heapq.heappush(heap, (self.order.get(n, -1), n))
            queued.add(n)
        delta = np.zeros(self.n_vec, np.int64)
        while heap:
            _, name = heapq.heappop(heap)
            node = new_nodes[name]
            outs = self._eval(name, node, view)
            for sig, val in outs.items():
                old = self.values.get(sig)
                if old is not None and (old is val or np.array_equal(old, val)):
                    continue
                overlay[sig] = val
                view[sig] = val
                if node.kind == "output":
                    diff = _unpack(val).astype(np.int64) - _unpack(
                        old if old is not None else self._zero
                    ).astype(np.int64)
                    delta += diff << node.bit
                    continue
                for user in self.users.get(name, ()):
                    if user not in queued:
                        queued.add(user)
                        heapq.heappush(heap, (self.order[user], user))
        return delta, overlay

    def commit(
        self, new: MultiplierGraph, delta: np.ndarray, overlay: dict[Signal, np.ndarray]
    ) -> None:
        """Make a tried edit current."""
        added = [n for n in new.nodes if n not in self.graph.nodes]
        self.values.update(overlay)
        self.product = self.product + delta
        self.graph = new
        if added:
            self._index_graph(new)


@dataclass
class MappingResult:
    """One mapped multiplier.

    ``mse`` is the (weighted) mean squared error of the mapped table against ``Y_ref``;
    ``mse_trace`` its value after each accepted edit (monotonically decreasing); ``lut``
    the product table the incremental simulator predicts; ``edits`` the accepted knob
    applications ``(kind, node, arg)``.
    """

    graph: MultiplierGraph
    lut: np.ndarray
    mse: float
    mse_start: float
    mse_trace: list[float]
    edits: list[tuple[str, str, str]]
    candidates: int
    seconds: float
    base: str
    moves: str
    alternatives: dict[str, float] = field(default_factory=dict)  # base -> final mse

    def cell_options(self) -> dict[str, str]:
        """Accepted edits as one option string per cell (``"zero.sum"``, ``"zero.sum+cout"``,
        ``"ama1"``), the vocabulary of a search space's cell genes."""
        return {cell: _option_of(edits) for cell, edits in _edits_by_cell(self.edits).items()}


def _edits_by_cell(edits: Sequence[tuple[str, str, str]]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for kind, cell, arg in edits:
        out.setdefault(cell, []).append((kind, arg))
    return out


def _option_of(edits: Sequence[tuple[str, str]]) -> str:
    """The single option string of a cell's edits; an approximate swap followed by a tied
    output has no single option and is written ``kind+zero.port`` (never offered by a space)."""
    approx = [a for k, a in edits if k == "approx"]
    zeros = [a for k, a in edits if k == "zero"]
    if approx and not zeros and len(approx) == 1:
        return approx[0]
    if not approx:
        return "zero." + "+".join(zeros)
    return "+".join([*approx, *(f"zero.{z}" for z in zeros)])


def _offered(option: str, offered: Sequence[str]) -> bool:
    if option in offered:
        return True
    if option.startswith("zero.") and "+" in option:
        ports = set(option[5:].split("+"))
        return any(o.startswith("zero.") and set(o[5:].split("+")) == ports for o in offered)
    return False


def _cells_in_column_order(graph: MultiplierGraph) -> list[str]:
    topo = {n: k for k, n in enumerate(graph.topological_order)}
    cells = [
        n
        for n, node in graph.nodes.items()
        if node.role in ("tree", "cpa") and cell_type(node.kind).compressor
    ]
    return sorted(cells, key=lambda n: (graph[n].column or 0, topo[n]))


def _moves_for(graph: MultiplierGraph, name: str, moves: str) -> list[tuple[str, str]]:
    node = graph[name]
    ct = cell_type(node.kind)
    out: list[tuple[str, str]] = [("zero", port) for port in ct.outputs if port not in node.forced]
    if moves == "rich" and ct.family in ("fa", "c42") and node.kind in ("fa", "c42"):
        out += [("approx", k) for k in approximate_kinds(ct.family)]
    return out


def _walk(
    sim: BitSimulator,
    ref: np.ndarray,
    weights: np.ndarray | None,
    moves: str,
    allowed: Mapping[str, Sequence[str]] | None = None,
) -> tuple[float, float, list[float], list[tuple[str, str, str]], int]:
    wsum = float(weights.sum()) if weights is not None else float(ref.size)
    per_cell: dict[str, list[tuple[str, str]]] = {}

    def candidates(name: str) -> list[tuple[str, str]]:
        """The cell's moves; with ``allowed``, only those whose resulting cell state is one
        of the cell's offered options (so the design stays expressible in a genome)."""
        out = _moves_for(sim.graph, name, moves)
        if allowed is None:
            return out
        offered = allowed.get(name, ())
        if moves == "rich":
            extra = [o for o in offered if o != "exact" and not o.startswith("zero.")]
            out = [m for m in out if m[0] != "approx"] + [
                ("approx", k) for k in extra if sim.graph[name].kind != k
            ]
        done = per_cell.get(name, [])
        return [m for m in out if _offered(_option_of([*done, m]), offered)]

    def mse_of(err: np.ndarray) -> float:
        return float(((err * err) if weights is None else (weights * err * err)).sum() / wsum)

    err = sim.product.astype(np.float64) - ref
    cur = start = mse_of(err)
    trace = [cur]
    edits: list[tuple[str, str, str]] = []
    tried = 0
    for name in _cells_in_column_order(sim.graph):
        if allowed is not None and name not in allowed:
            continue
        if moves == "published":
            # TRAM: each output separately, keep each change that lowers the MSE
            for kind, arg in candidates(name):
                if allowed is not None and (kind, arg) not in candidates(name):
                    continue  # an accepted edit on this cell changed what is expressible
                new = set_output_constant(sim.graph, name, arg)
                delta, overlay = sim.try_edit(new)
                tried += 1
                m = mse_of(err + delta)
                if m < cur:
                    sim.commit(new, delta, overlay)
                    err = err + delta
                    cur = m
                    trace.append(cur)
                    edits.append((kind, name, arg))
                    per_cell.setdefault(name, []).append((kind, arg))
            continue
        # rich: all alternatives of the cell, keep the best if it lowers the MSE; repeat on
        # the edited cell (e.g. zero a second output) while it keeps improving
        while True:
            best: tuple[float, Any, Any, Any, tuple[str, str, str]] | None = None
            for kind, arg in candidates(name):
                new = (
                    set_output_constant(sim.graph, name, arg)
                    if kind == "zero"
                    else replace_cell(sim.graph, name, arg)
                )
                delta, overlay = sim.try_edit(new)
                tried += 1
                m = mse_of(err + delta)
                if m < cur and (best is None or m < best[0]):
                    best = (m, new, delta, overlay, (kind, name, arg))
            if best is None:
                break
            m, new, delta, overlay, edit = best
            sim.commit(new, delta, overlay)
            err = err + delta
            cur = m
            trace.append(cur)
            edits.append(edit)
            per_cell.setdefault(name, []).append((edit[0], edit[2]))
    return start, cur, trace, edits, tried


def map_theta(
    theta: Any,
    width_a: int = 8,
    width_b: int | None = None,
    *,
    moves: str = "published",
    bases: Sequence[str] = ("array",),
    weights: np.ndarray | None = None,
    adder: str = "ripple",
    allowed: Mapping[str, Sequence[str]] | None = None,
) -> MappingResult:
    """Map one layer's ``θ*`` to a :class:`MultiplierGraph` (TRAM phase 2).

    Args:
        theta: ``wa+wb-1`` values in [0, 1], column 0 first.
        moves: ``"published"`` (tie HA/FA ``sum``/``cout`` to 0, TRAM) or ``"rich"``
            (also approximate full-adder / 4:2-compressor swaps; best alternative per cell).
        bases: exact structures to start from (names from :data:`BASES`); each is walked
            and the one with the lowest final MSE is returned (its rivals' MSEs in
            ``alternatives``).
        weights: optional ``(2**wa, 2**wb)`` non-negative weights of the MSE (e.g. the
            outer product of the layer's operand histograms); uniform when ``None``.
        adder: the final adder of the base structures.
        allowed: optional cell name → offered options (e.g. a search space's
            :meth:`~dse.search.StructureSpace.cell_options`): only those cells are edited,
            and only into states that are one of their options, so the result is a genome
            of that space (give a single base, the space's).
    """
    wb = width_a if width_b is None else width_b
    if moves not in MOVES:
        raise ConfigError(f"moves must be one of {MOVES}, got {moves!r}")
    if not bases or any(b not in BASES for b in bases):
        raise ConfigError(f"bases must be a non-empty list from {BASES}, got {list(bases)!r}")
    th = _check_theta(theta, width_a, wb)
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (1 << width_a, 1 << wb) or (weights < 0).any() or weights.sum() <= 0:
            raise ConfigError(
                f"weights must be non-negative of shape {(1 << width_a, 1 << wb)} "
                f"with a positive sum"
            )
        weights = weights.ravel()
    t0 = time.perf_counter()
    ref = reference_table(th, width_a, wb).ravel()
    best: MappingResult | None = None
    alternatives: dict[str, float] = {}
    total = 0
    for base in bases:
        graph = generate(base, width_a, wb, signed=False, adder=adder)
        sim = BitSimulator(graph)
        start, final, trace, edits, tried = _walk(sim, ref, weights, moves, allowed)
        alternatives[base] = final
        total += tried
        if best is None or final < best.mse:
            best = MappingResult(
                graph=sim.graph,
                lut=sim.table(),
                mse=final,
                mse_start=start,
                mse_trace=trace,
                edits=edits,
                candidates=tried,
                seconds=0.0,
                base=base,
                moves=moves,
            )
    assert best is not None
    best.candidates = total
    best.alternatives = alternatives
    best.seconds = time.perf_counter() - t0
    return best
