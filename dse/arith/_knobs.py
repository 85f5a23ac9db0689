"""Approximation knobs: functions from a graph to a new, valid graph.

Two families:

* matrix knobs rewrite the partial-product matrix and rebuild the reduction over the
  bits that remain (:func:`prune_partial_products`, :func:`truncate_columns`,
  :func:`broken_array`, :func:`lower_part_or_adder`);
* cell knobs edit named cells of a built graph (:func:`set_output_constant`,
  :func:`replace_cell`); they are recorded in ``graph.info["edits"]``.

Matrix knobs rebuild the tree and so renumber its cells: apply them before cell
knobs (doing otherwise raises :class:`~dse.errors.KnobError`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from dse.arith._cells import cell_type
from dse.arith._generators import MultiplierSpec, build
from dse.arith._graph import MultiplierGraph, Node
from dse.errors import ConfigError, KnobError

__all__ = [
    "KNOBS",
    "LIST_KNOBS",
    "apply_knob",
    "apply_knobs",
    "broken_array",
    "lower_part_or_adder",
    "prune_partial_products",
    "replace_cell",
    "set_output_constant",
    "truncate_columns",
]


def _spec(graph: MultiplierGraph, knob: str) -> MultiplierSpec:
    spec = graph.info.get("spec")
    if not isinstance(spec, MultiplierSpec):
        raise KnobError(
            f"knob {knob!r} rewrites the partial-product matrix; it needs a graph from a "
            f"partial-product generator (array, wallace, dadda, booth), not "
            f"{graph.info.get('generator', 'this graph')!r}"
        )
    if graph.info.get("edits"):
        raise KnobError(
            f"knob {knob!r} rebuilds the compressor tree, which would discard the cell "
            f"edits already applied; apply matrix knobs (prune, truncate, bam, loa) first"
        )
    return spec


def _rebuild(graph: MultiplierGraph, knob: str, **changes: Any) -> MultiplierGraph:
    spec = _spec(graph, knob)
    try:
        new_spec = replace(spec, **changes)
    except ConfigError as exc:
        raise KnobError(f"knob {knob!r}: {exc}") from None
    return build(new_spec, graph.info.get("generator"))


def prune_partial_products(
    graph: MultiplierGraph, partial_products: Iterable[tuple[int, int]], *, compensate: bool = False
) -> MultiplierGraph:
    """Remove partial products (they count as 0) and rebuild the tree.

    Partial-product perforation/pruning as in G. Zervakis et al., "Design-efficient
    approximate multiplication circuits through partial product perforation", IEEE
    TVLSI 24(10), 2016. ``(i, j)`` is ``a_i·b_j``; for Booth, ``(row, bit)``.
    """
    spec = _spec(graph, "prune")
    return _rebuild(
        graph,
        "prune",
        pruned=spec.pruned | frozenset((int(i), int(j)) for i, j in partial_products),
        compensate=compensate or spec.compensate,
    )


def truncate_columns(
    graph: MultiplierGraph, columns: int, *, compensate: bool = False
) -> MultiplierGraph:
    """Drop the ``columns`` least-significant columns of the partial-product matrix.

    With ``compensate``, the rounded expected value of the removed bits under uniform
    operands is added back as a constant (constant-correction truncated multiplier:
    M. J. Schulte, E. E. Swartzlander, "Truncated multiplication with correction
    constant", VLSI Signal Processing VI, 1993).
    """
    return _rebuild(graph, "truncate", truncate=int(columns), compensate=compensate)


def broken_array(graph: MultiplierGraph, hbl: int, vbl: int) -> MultiplierGraph:
    """Broken-array multiplier: omit the cells of rows ``j < hbl`` and columns ``< vbl``.

    H. R. Mahdiani, A. Ahmadi, S. M. Fakhraie, C. Lucas, "Bio-inspired imprecise
    computational blocks for efficient VLSI implementation of soft-computing
    applications", IEEE TCAS-I 57(4), 2010 (same break-level convention as ArithsGen).
    """
    return _rebuild(graph, "bam", bam=(int(hbl), int(vbl)))


def lower_part_or_adder(graph: MultiplierGraph, bits: int) -> MultiplierGraph:
    """Lower-part-OR adder (LOA) of ``bits`` bits as the final adder's low part.

    Mahdiani et al., IEEE TCAS-I 57(4), 2010: the low part's sum is the bitwise OR of
    its two rows; the AND of their top bits is the carry into the exact upper part.
    """
    return _rebuild(graph, "loa", loa=int(bits))


def _record(
    graph: MultiplierGraph, changes: Mapping[str, Node], edit: tuple[Any, ...]
) -> MultiplierGraph:
    info = dict(graph.info)
    info["edits"] = (*tuple(info.get("edits", ())), edit)
    return graph.replace_nodes(changes, info)


def set_output_constant(graph: MultiplierGraph, node: str, port: str) -> MultiplierGraph:
    """Tie output ``port`` of cell ``node`` to constant 0.

    The move of TRAM's structure mapping (Meng et al., DAC 2026, arXiv 2605.08231):
    a half/full-adder or compressor sum or carry set to 0; the logic that only fed it
    disappears when the graph is lowered.
    """
    if node not in graph:
        raise KnobError(f"knob 'zero': graph has no node {node!r}")
    n = graph[node]
    ct = cell_type(n.kind)
    if n.role in ("input", "output") or port not in ct.outputs:
        raise KnobError(
            f"knob 'zero': node {node!r} ({n.kind}) has outputs {list(ct.outputs)}, not {port!r}"
        )
    return _record(graph, {node: _with(n, forced=n.forced | {port})}, ("zero", node, port))


def replace_cell(graph: MultiplierGraph, node: str, kind: str) -> MultiplierGraph:
    """Swap cell ``node`` for a cell of kind ``kind`` (e.g. an approximate compressor).

    Ports are matched by name. An input port the new kind lacks is left unconnected
    (its bit is dropped); an output port it lacks reads as constant 0 downstream. Both
    are how approximate 4:2 compressors without carry-in/out are used in trees.
    """
    if node not in graph:
        raise KnobError(f"knob 'approx': graph has no node {node!r}")
    old = graph[node]
    old_t = cell_type(old.kind)
    try:
        new_t = cell_type(kind)
    except ConfigError as exc:
        raise KnobError(f"knob 'approx': {exc}") from None
    if not (old_t.compressor and new_t.compressor):
        raise KnobError(
            f"knob 'approx': only compressor cells can be swapped; {node!r} is {old.kind!r} "
            f"and {kind!r} is {'a compressor' if new_t.compressor else 'not a compressor'}"
        )
    zero_sig = None
    drivers = dict(zip(old_t.inputs, old.inputs, strict=True))
    new_inputs = []
    changes: dict[str, Node] = {}
    for port in new_t.inputs:
        if port in drivers:
            new_inputs.append(drivers[port])
        else:
            zero_sig = zero_sig or _zero_node(graph, changes)
            new_inputs.append(zero_sig)
    changes[node] = _with(
        old, kind=kind, inputs=tuple(new_inputs), forced=old.forced & set(new_t.outputs)
    )
    lost = [p for p in old_t.outputs if p not in new_t.outputs]
    if lost:
        zero_sig = zero_sig or _zero_node(graph, changes)
        for name, user in graph.nodes.items():
            if any(src == node and p in lost for src, p in user.inputs):
                base = changes.get(name, user)
                changes[name] = _with(
                    base,
                    inputs=tuple(
                        zero_sig if (src == node and p in lost) else (src, p)
                        for src, p in base.inputs
                    ),
                )
    return _record(graph, changes, ("approx", node, kind))


def _with(node: Node, **changes: Any) -> Node:
    """``dataclasses.replace(node, **changes)`` for the fields knobs change: copies the
    field dict (same fields, same order) instead of re-binding every field through
    ``Node.__init__``; a search applies cell knobs to every candidate."""
    new = object.__new__(Node)
    fields = new.__dict__
    fields.update(node.__dict__)
    fields.update(changes)
    return new


def _zero_node(graph: MultiplierGraph, changes: dict[str, Node]) -> tuple[str, str]:
    if "zero" not in graph:
        changes["zero"] = Node("const0", role="const")
    return ("zero", "y")


# ----------------------------------------------------------------- by name (CLI)
def _parse_pairs(value: str, knob: str) -> list[tuple[int, int]]:
    pairs = []
    for item in str(value).replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            i, j = item.split(":")
            pairs.append((int(i), int(j)))
        except ValueError:
            raise KnobError(
                f"knob {knob!r}: expected a list like '0:0,1:2' (i:j pairs), got {value!r}"
            ) from None
    return pairs


def _int(value: Any, knob: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise KnobError(f"knob {knob!r}: expected an integer, got {value!r}") from None


def _knob_prune(g: MultiplierGraph, v: Any) -> MultiplierGraph:
    return prune_partial_products(g, v if not isinstance(v, str) else _parse_pairs(v, "prune"))


def _knob_truncate(g: MultiplierGraph, v: Any) -> MultiplierGraph:
    return truncate_columns(g, _int(v, "truncate"))


def _knob_compensate(g: MultiplierGraph, v: Any) -> MultiplierGraph:
    on = str(v).lower() in ("1", "true", "yes", "on")
    return _rebuild(g, "compensate", compensate=on)


def _knob_bam(g: MultiplierGraph, v: Any) -> MultiplierGraph:
    try:
        h, vb = (int(x) for x in str(v).split(":")) if isinstance(v, str) else v
    except ValueError:
        raise KnobError(f"knob 'bam': expected 'HBL:VBL', got {v!r}") from None
    return broken_array(g, h, vb)


def _knob_loa(g: MultiplierGraph, v: Any) -> MultiplierGraph:
    return lower_part_or_adder(g, _int(v, "loa"))


def _cell_edits(
    g: MultiplierGraph,
    v: Any,
    knob: str,
    sep: str,
    form: str,
    edit: Callable[[MultiplierGraph, str, str], MultiplierGraph],
) -> MultiplierGraph:
    """Apply ``edit(graph, node, arg)`` for each ``NODE<sep>ARG`` item of a list knob."""
    items = v if not isinstance(v, str) else [s for s in v.replace(";", ",").split(",") if s]
    for item in items:
        # a node name may itself contain the separator only for ':' knobs, never '.'
        node, _, arg = str(item).rpartition(sep) if sep == "." else str(item).partition(sep)
        if not node or not arg:
            raise KnobError(f"knob {knob!r}: expected {form} items, got {item!r}")
        g = edit(g, node, arg)
    return g


def _knob_zero(g: MultiplierGraph, v: Any) -> MultiplierGraph:
    return _cell_edits(g, v, "zero", ".", "NODE.PORT", set_output_constant)


def _knob_approx(g: MultiplierGraph, v: Any) -> MultiplierGraph:
    return _cell_edits(g, v, "approx", ":", "NODE:KIND", replace_cell)


#: Knobs by name, in the order :func:`apply_knobs` applies them.
KNOBS: dict[str, Callable[[MultiplierGraph, Any], MultiplierGraph]] = {
    "prune": _knob_prune,
    "truncate": _knob_truncate,
    "compensate": _knob_compensate,
    "bam": _knob_bam,
    "loa": _knob_loa,
    "approx": _knob_approx,
    "zero": _knob_zero,
}


#: Knobs whose value is a list of items (between ``,`` or ``;``): given twice on the
#: command line, their lists join (``;``); every other knob takes one value.
LIST_KNOBS = frozenset({"prune", "approx", "zero"})


def apply_knob(graph: MultiplierGraph, name: str, value: Any) -> MultiplierGraph:
    """Apply one knob by name (see :data:`KNOBS`)."""
    if name not in KNOBS:
        raise KnobError(f"unknown knob {name!r}; known knobs: {', '.join(KNOBS)}")
    return KNOBS[name](graph, value)


_MATRIX_KNOBS = ("prune", "truncate", "compensate", "bam", "loa")


def apply_knobs(graph: MultiplierGraph, knobs: Mapping[str, Any]) -> MultiplierGraph:
    """Apply several knobs; matrix knobs first, then cell knobs, whatever the order given.

    All matrix knobs are merged into one rebuild of the tree.
    """
    for name in knobs:
        if name not in KNOBS:
            raise KnobError(f"unknown knob {name!r}; known knobs: {', '.join(KNOBS)}")
    matrix = [k for k in _MATRIX_KNOBS if k in knobs]
    if len(matrix) > 1:
        spec = _spec(graph, matrix[0])
        changes: dict[str, Any] = {}
        if "prune" in knobs:
            v = knobs["prune"]
            pairs = _parse_pairs(v, "prune") if isinstance(v, str) else v
            changes["pruned"] = spec.pruned | frozenset((int(i), int(j)) for i, j in pairs)
        if "truncate" in knobs:
            changes["truncate"] = _int(knobs["truncate"], "truncate")
        if "compensate" in knobs:
            changes["compensate"] = str(knobs["compensate"]).lower() in ("1", "true", "yes", "on")
        if "bam" in knobs:
            v = knobs["bam"]
            try:
                h, vb = (int(x) for x in str(v).split(":")) if isinstance(v, str) else v
            except ValueError:
                raise KnobError(f"knob 'bam': expected 'HBL:VBL', got {v!r}") from None
            changes["bam"] = (int(h), int(vb))
        if "loa" in knobs:
            changes["loa"] = _int(knobs["loa"], "loa")
        graph = _rebuild(graph, "+".join(matrix), **changes)
    for name in KNOBS:
        if name in knobs and not (len(matrix) > 1 and name in _MATRIX_KNOBS):
            graph = KNOBS[name](graph, knobs[name])
    return graph
