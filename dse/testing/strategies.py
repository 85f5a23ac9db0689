"""Hypothesis strategies that draw random (small) multiplier graphs with random knobs."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from dse.arith import MultiplierGraph, apply_knobs, generate

__all__ = ["knobbed_multipliers", "moves", "small_multipliers"]


@st.composite
def small_multipliers(draw: Any, max_width: int = 5) -> MultiplierGraph:
    """An exact partial-product multiplier of random kind and widths 2..max_width."""
    gen = draw(st.sampled_from(["array", "wallace", "dadda", "booth", "c42"]))
    wa = draw(st.integers(2, max_width))
    wb = draw(st.integers(2, max_width))
    signed = draw(st.booleans())
    adder = draw(st.sampled_from(["ripple", "kogge-stone"]))
    return generate(gen, wa, wb, signed=signed, adder=adder)


@st.composite
def knobbed_multipliers(draw: Any, max_width: int = 5) -> MultiplierGraph:
    """A small multiplier with random matrix knobs, then random cell knobs."""
    graph = draw(small_multipliers(max_width))
    spec = graph.info["spec"]
    rows, cols = spec.pp_grid
    knobs: dict[str, Any] = {}
    pruned = draw(
        st.lists(st.tuples(st.integers(0, rows - 1), st.integers(0, cols - 1)), max_size=4)
    )
    if pruned:
        knobs["prune"] = pruned
    if draw(st.booleans()):
        knobs["truncate"] = draw(st.integers(0, graph.width_p - 2))
    if draw(st.booleans()):
        knobs["compensate"] = "1"
    if spec.encoding != "booth" and draw(st.booleans()):
        knobs["bam"] = (draw(st.integers(0, spec.width_b)), draw(st.integers(0, graph.width_p)))
    if draw(st.booleans()):
        knobs["loa"] = draw(st.integers(0, graph.width_p - 1))
    knobs.update(draw(moves(graph.width_p)))
    graph = apply_knobs(graph, knobs)
    cells = [
        n
        for n in graph.topological_order
        if graph[n].role in ("tree", "cpa") and graph[n].kind in ("fa", "ha")
    ]
    if cells:
        chosen = draw(st.lists(st.sampled_from(cells), max_size=3, unique=True))
        zeros = []
        for node in chosen:
            port = draw(st.sampled_from(["sum", "cout"]))
            zeros.append(f"{node}.{port}")
        if zeros:
            graph = apply_knobs(graph, {"zero": zeros})
    _maybe_approx = _approximate_swaps(draw, graph)
    return _maybe_approx


@st.composite
def moves(draw: Any, width_p: int, *, always: bool = False) -> dict[str, Any]:
    """Random ``bias`` and ``cut`` knob values for a product of ``width_p`` bits (each
    present with probability 1/2, or both always)."""
    knobs: dict[str, Any] = {}
    if always or draw(st.booleans()):
        knobs["bias"] = draw(
            st.lists(
                st.tuples(st.integers(0, width_p - 1), st.integers(1, 3)),
                min_size=int(always),
                max_size=3,
            )
        )
    if always or draw(st.booleans()):
        columns = draw(
            st.lists(st.integers(1, width_p - 1), min_size=int(always), max_size=3, unique=True)
        )
        knobs["cut"] = [(c, draw(st.sampled_from(["zero", "gen"]))) for c in columns]
    return knobs


def _approximate_swaps(draw: Any, graph: MultiplierGraph) -> MultiplierGraph:
    """Swap a few full adders for catalogue cells of the same family, if any exist."""
    from dse.arith import CELL_TYPES

    approx_fa = sorted(
        name for name, ct in CELL_TYPES.items() if ct.family == "fa" and not ct.exact
    )
    fas = [n for n in graph.topological_order if graph[n].kind == "fa"]
    if not approx_fa or not fas:
        return graph
    chosen = draw(st.lists(st.sampled_from(fas), max_size=3, unique=True))
    if not chosen:
        return graph
    swaps = [f"{node}:{draw(st.sampled_from(approx_fa))}" for node in chosen]
    return apply_knobs(graph, {"approx": swaps})
