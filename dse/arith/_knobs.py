"""Approximation knobs: functions from a graph to a new, valid graph.

Two families:

* matrix knobs rewrite the partial-product matrix and rebuild the reduction over the
  bits that remain (:func:`prune_partial_products`, :func:`truncate_columns`,
  :func:`broken_array`, :func:`lower_part_or_adder`);
* cell knobs edit named cells of a built graph (:func:`set_output_constant`,
  :func:`replace_cell`); they are recorded in ``graph.info["edits"]``.

Matrix knobs rebuild the tree and so renumber its cells: apply them before cell
knobs (doing otherwise raises :class:`~dse.errors.KnobError`).

Each knob is registered here as a :class:`~dse.arith.Knob` (the interface and the
registry are in :mod:`dse.arith._knob`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import Field

from dse.arith._cells import cell_type
from dse.arith._graph import MultiplierGraph, Node
from dse.arith._knob import (
    KNOBS,
    GeneSpec,
    Knob,
    RangeConfig,
    SpaceEntry,
    _rebuild,
    _spec,
    check_range,
    register_knob,
)
from dse.errors import ConfigError, KnobError

__all__ = [
    "apply_knob",
    "apply_knobs",
    "broken_array",
    "lower_part_or_adder",
    "prune_partial_products",
    "replace_cell",
    "set_output_constant",
    "truncate_columns",
]


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


def _on(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


def _bam_pair(value: Any) -> tuple[int, int]:
    try:
        h, vb = (int(x) for x in str(value).split(":")) if isinstance(value, str) else value
    except ValueError:
        raise KnobError(f"knob 'bam': expected 'HBL:VBL', got {value!r}") from None
    return int(h), int(vb)


def _base_spec(base: MultiplierGraph) -> Any:
    """The spec of a space's base graph (matrix knobs are free only on such graphs)."""
    spec = base.info.get("spec")
    if spec is None:
        raise KnobError("matrix knobs encode only into graphs of a partial-product generator")
    return spec


def _in_ranges(genes: Sequence[GeneSpec], values: list[int]) -> list[int] | None:
    """``values`` when each lies in its gene's range, else ``None``."""
    ok = all(g.low <= v <= g.high for g, v in zip(genes, values, strict=True))
    return values if ok else None


def _pp_order(node: str) -> tuple[int, ...]:
    parts = node.split("_")
    try:
        return tuple(int(p) for p in parts[1:])
    except ValueError:
        return (1 << 30,)


class PruneConfig(SpaceEntry):
    columns: tuple[int, int] | None = Field(
        None, description="only partial products in these columns"
    )


class BamConfig(SpaceEntry):
    hbl: RangeConfig
    vbl: RangeConfig


class PruneKnob(Knob):
    """``prune``: partial products set to 0 (one bit gene per partial product)."""

    name = "prune"
    kind = "matrix"
    spec_field = "pruned"
    list_valued = True
    space_config = PruneConfig
    listed_when_unset = True

    def parse(self, value: Any) -> Any:
        return value if not isinstance(value, str) else _parse_pairs(value, "prune")

    def apply(self, graph: MultiplierGraph, value: Any) -> MultiplierGraph:
        return prune_partial_products(graph, self.parse(value))

    def spec_changes(self, spec: Any, value: Any) -> dict[str, Any]:
        pairs = self.parse(value)
        return {"pruned": spec.pruned | frozenset((int(i), int(j)) for i, j in pairs)}

    def genes(self, base: MultiplierGraph, config: Any, where: str) -> list[GeneSpec]:
        lo, hi = config.columns if config.columns else (0, base.width_p - 1)
        genes = []
        for node in sorted(base.nodes_of(role="pp"), key=_pp_order):
            n = base[node]
            parts = node.split("_")
            if len(parts) != 3 or n.column is None or not lo <= n.column <= hi:
                continue
            genes.append(
                GeneSpec(
                    f"prune.{parts[1]}.{parts[2]}",
                    "bit",
                    column=n.column,
                    payload=(int(parts[1]), int(parts[2])),
                )
            )
        if not genes:
            raise ConfigError(
                f"{where}: field knobs.prune.columns: no partial product lies in {lo}..{hi}"
            )
        return genes

    def decode(
        self, genes: Sequence[GeneSpec], values: Sequence[int], chosen: Any, base: Any
    ) -> Any | None:
        pruned = [g.payload for g, v in zip(genes, values, strict=True) if v]
        return pruned or None

    def encode(
        self, genes: Sequence[GeneSpec], value: Any, base: MultiplierGraph
    ) -> list[int] | None:
        wanted = {(int(i), int(j)) for i, j in self.parse(value)}
        already = set(_base_spec(base).pruned)  # a space's fixed prune
        if not already <= wanted:
            return None
        bit = {g.payload: k for k, g in enumerate(genes)}
        # a product the base does not build (a truncated column) is pruned already
        built = {_pp_order(n) for n in base.nodes_of(role="pp")}
        out = [0] * len(genes)
        for pair in wanted - already:
            if pair in bit:
                out[bit[pair]] = 1
            elif pair in built:
                return None
        return out


class _RangeKnob(Knob):
    """A knob with one integer value, free over a range of ``0 .. width_p - 1``."""

    kind = "matrix"
    space_config = RangeConfig
    listed_when_unset = True

    def parse(self, value: Any) -> int:
        return _int(value, self.name)

    def spec_changes(self, spec: Any, value: Any) -> dict[str, Any]:
        return {self.name: self.parse(value)}

    def genes(self, base: MultiplierGraph, config: Any, where: str) -> list[GeneSpec]:
        check_range(where, f"knobs.{self.name}", config, 0, base.width_p - 1)
        return [GeneSpec(self.name, "ordinal", config.low, config.high)]

    def decode(
        self, genes: Sequence[GeneSpec], values: Sequence[int], chosen: Any, base: Any
    ) -> Any | None:
        return values[0] or None

    def encode(
        self, genes: Sequence[GeneSpec], value: Any, base: MultiplierGraph
    ) -> list[int] | None:
        # gene value 0 leaves the base's own setting; any other value sets it
        v = self.parse(value)
        if v == getattr(_base_spec(base), self.name):
            return _in_ranges(genes, [0])
        return _in_ranges(genes, [v]) if v else None


class TruncateKnob(_RangeKnob):
    """``truncate``: the low columns dropped (:func:`truncate_columns`)."""

    name = "truncate"

    def apply(self, graph: MultiplierGraph, value: Any) -> MultiplierGraph:
        return truncate_columns(graph, self.parse(value))


class CompensateKnob(Knob):
    """``compensate``: add back the expected value of what pruning/truncation removes."""

    name = "compensate"
    kind = "matrix"
    space_config = bool
    space_default = False
    listed_when_unset = True

    def parse(self, value: Any) -> bool:
        return _on(value)

    def apply(self, graph: MultiplierGraph, value: Any) -> MultiplierGraph:
        return _rebuild(graph, "compensate", compensate=self.parse(value))

    def spec_changes(self, spec: Any, value: Any) -> dict[str, Any]:
        return {"compensate": self.parse(value)}

    def genes(self, base: MultiplierGraph, config: Any, where: str) -> list[GeneSpec]:
        return [GeneSpec("compensate", "bit")]

    def decode(
        self,
        genes: Sequence[GeneSpec],
        values: Sequence[int],
        chosen: Mapping[str, Any],
        base: MultiplierGraph,
    ) -> Any | None:
        if not values[0]:
            return None
        spec = base.info["spec"]
        # with nothing removed there is nothing to compensate for
        if not (chosen.get("prune") or chosen.get("truncate") or spec.pruned or spec.truncate):
            return None
        return "1"

    def encode(
        self, genes: Sequence[GeneSpec], value: Any, base: MultiplierGraph
    ) -> list[int] | None:
        on = self.parse(value)
        if on == _base_spec(base).compensate:
            return [0]
        return [1] if on else None  # a gene cannot take off a fixed compensation


class BamKnob(Knob):
    """``bam``: broken-array break levels ``HBL:VBL`` (:func:`broken_array`)."""

    name = "bam"
    kind = "matrix"
    space_config = BamConfig
    listed_when_unset = True

    def parse(self, value: Any) -> tuple[int, int]:
        return _bam_pair(value)

    def apply(self, graph: MultiplierGraph, value: Any) -> MultiplierGraph:
        return broken_array(graph, *self.parse(value))

    def spec_changes(self, spec: Any, value: Any) -> dict[str, Any]:
        return {"bam": self.parse(value)}

    def genes(self, base: MultiplierGraph, config: Any, where: str) -> list[GeneSpec]:
        spec = base.info.get("spec")
        if spec is not None and spec.encoding == "booth":
            raise ConfigError(
                f"{where}: field knobs.bam: the broken-array knob needs an AND matrix, not Booth"
            )
        check_range(where, "knobs.bam.hbl", config.hbl, 0, base.width_b)
        check_range(where, "knobs.bam.vbl", config.vbl, 0, base.width_p)
        return [
            GeneSpec("bam.hbl", "ordinal", config.hbl.low, config.hbl.high),
            GeneSpec("bam.vbl", "ordinal", config.vbl.low, config.vbl.high),
        ]

    def decode(
        self, genes: Sequence[GeneSpec], values: Sequence[int], chosen: Any, base: Any
    ) -> Any | None:
        h, v = values
        return (h, v) if h or v else None

    def encode(
        self, genes: Sequence[GeneSpec], value: Any, base: MultiplierGraph
    ) -> list[int] | None:
        h, v = self.parse(value)
        if (h, v) == tuple(_base_spec(base).bam):
            return _in_ranges(genes, [0, 0])
        if not (h or v):  # (0, 0) decodes to the base's own break levels
            return None
        return _in_ranges(genes, [h, v])


class LoaKnob(_RangeKnob):
    """``loa``: lower-part-OR final adder bits (:func:`lower_part_or_adder`)."""

    name = "loa"

    def apply(self, graph: MultiplierGraph, value: Any) -> MultiplierGraph:
        return lower_part_or_adder(graph, self.parse(value))


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


class ApproxKnob(Knob):
    """``approx``: ``NODE:KIND`` items, cells swapped (:func:`replace_cell`)."""

    name = "approx"
    kind = "cell"
    list_valued = True

    def apply(self, graph: MultiplierGraph, value: Any) -> MultiplierGraph:
        return _cell_edits(graph, value, "approx", ":", "NODE:KIND", replace_cell)


class ZeroKnob(Knob):
    """``zero``: ``NODE.PORT`` items, outputs tied to 0 (:func:`set_output_constant`)."""

    name = "zero"
    kind = "cell"
    list_valued = True

    def apply(self, graph: MultiplierGraph, value: Any) -> MultiplierGraph:
        return _cell_edits(graph, value, "zero", ".", "NODE.PORT", set_output_constant)


for _knob in (
    PruneKnob(),
    TruncateKnob(),
    CompensateKnob(),
    BamKnob(),
    LoaKnob(),
    ApproxKnob(),
    ZeroKnob(),
):
    register_knob(_knob)


def apply_knob(graph: MultiplierGraph, name: str, value: Any) -> MultiplierGraph:
    """Apply one knob by name (see :data:`~dse.arith.KNOBS`)."""
    if name not in KNOBS:
        raise KnobError(f"unknown knob {name!r}; known knobs: {', '.join(KNOBS)}")
    return KNOBS[name].apply(graph, value)


def apply_knobs(graph: MultiplierGraph, knobs: Mapping[str, Any]) -> MultiplierGraph:
    """Apply several knobs; matrix knobs first, then cell knobs, whatever the order given.

    All matrix knobs are merged into one rebuild of the tree.
    """
    for name in knobs:
        if name not in KNOBS:
            raise KnobError(f"unknown knob {name!r}; known knobs: {', '.join(KNOBS)}")
    matrix = [k for k, knob in KNOBS.items() if knob.kind == "matrix" and k in knobs]
    merged = len(matrix) > 1
    if merged:
        spec = _spec(graph, matrix[0])
        changes: dict[str, Any] = {}
        for k in matrix:
            changes.update(KNOBS[k].spec_changes(spec, knobs[k]))
        graph = _rebuild(graph, "+".join(matrix), **changes)
    # a matrix knob registered after the cell knobs (bias, cut, a plug-in) still comes
    # before them: a rebuild would discard the cell edits
    order = [*matrix, *(k for k, knob in KNOBS.items() if knob.kind != "matrix")]
    for name in order:
        if name in knobs and not (merged and KNOBS[name].kind == "matrix"):
            graph = KNOBS[name].apply(graph, knobs[name])
    return graph
