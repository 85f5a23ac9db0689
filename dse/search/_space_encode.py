"""Designs written as specs (or built graphs) → genomes of a structure space.

The inverse of :meth:`StructureSpace.decode <dse.search.StructureSpace.decode>`, so
that a search can start from designs a user already has (``seed_designs``, another
study's front). Each free knob inverts its own genes (:meth:`dse.arith.Knob.encode`);
the cell knobs ``approx`` and ``zero`` name cells of the graph the matrix knobs built,
which are mapped to the space's cell genes by their slot (family, column, index; see
:mod:`dse.search._space`) and set with :meth:`StructureSpace.encode_cells`. The genome
is then decoded and its structural hash compared with the design's, so a genome that
would build another structure is an error, never a silent substitute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dse.errors import ConfigError, DseError
from dse.search._genome import Genome

if TYPE_CHECKING:
    from dse.arith import GeneSpec, MultiplierGraph
    from dse.search._structure_space import StructureSpace

__all__ = ["encode_structure"]

_CELL_KNOBS = ("approx", "zero")


def encode_structure(space: StructureSpace, design: Any) -> Genome:
    """The genome of ``design`` in ``space`` (see :meth:`StructureSpace.encode`)."""
    groups = len(space.group_names)
    items = list(design) if isinstance(design, (list, tuple)) else [design] * groups
    if len(items) != groups:
        raise ConfigError(
            f"{space.where}: give one design per layer group ({groups}), got {len(items)}"
        )
    values: list[int] = []
    for g, item in enumerate(items):
        values.extend(_encode_one(space, item, g))
    return Genome.of(values)


def _outside(space: StructureSpace, label: str, why: str) -> ConfigError:
    return ConfigError(f"{space.where}: design {label!r} is outside the space: {why}")


def _encode_one(space: StructureSpace, item: Any, group: int) -> list[int]:
    label, target, knobs = _read_design(space, item)
    if isinstance(item, str):
        _check_fixed(space, label, knobs)
    values: list[int] = []
    for knob, specs in space._knobs:
        if knob.name not in knobs:
            values.extend(g.low for g in specs)  # checked below by the decoded hash
            continue
        value = knobs[knob.name]
        try:
            genes = knob.encode(specs, value, space.base)
        except (DseError, TypeError, ValueError):  # a value the knob cannot read
            genes = None
        if genes is None or len(genes) != len(specs):
            raise _outside(
                space,
                label,
                f"knob {knob.name}={_shown(value)} is not a value of its genes ({_ranges(specs)})",
            )
        values.extend(int(v) for v in genes)
    n_cells = space._per_group - len(values)
    values.extend(_cell_values(space, label, values, knobs, group, n_cells))
    built = space._decode_one(values)
    if built.structural_hash != target.structural_hash:
        raise _outside(space, label, _mismatch(space, knobs))
    return values


def _check_fixed(space: StructureSpace, label: str, knobs: Mapping[str, Any]) -> None:
    """A spec's knobs that are not free must be the space's fixed ones, and the other
    way round (a clearer message than the hash check's)."""
    from dse.arith import KNOBS

    fixed = dict(space.model.base.fixed)
    free = {knob.name for knob, _ in space._knobs}
    for name, value in knobs.items():
        if name in free or name in _CELL_KNOBS:
            continue
        if name in fixed and _same(KNOBS[name], value, fixed[name]):
            continue
        where = "fixed to " + repr(fixed[name]) if name in fixed else "not free"
        raise _outside(space, label, f"knob {name}={value!r}: {name} is {where} in this space")
    for name, value in fixed.items():
        if name not in knobs and name not in free and name not in _CELL_KNOBS:
            raise _outside(
                space,
                label,
                f"the space's base always applies {name}={value!r}; the design does not",
            )


def _read_design(space: StructureSpace, item: Any) -> tuple[str, MultiplierGraph, dict[str, Any]]:
    """``(label, graph, knob values as given)`` of a spec string or a generated graph."""
    from dse.arith import from_spec, parse_spec, spec_signed_default

    b = space.model.base
    if isinstance(item, str):
        try:
            parsed = parse_spec(item)
            graph = from_spec(item)
        except DseError as exc:
            raise ConfigError(f"{space.where}: design {item!r}: {exc}") from None
        signed = spec_signed_default(parsed.generator) if parsed.signed is None else parsed.signed
        shape = (parsed.generator, parsed.width_a, parsed.width_b or parsed.width_a, signed)
        adder = parsed.adder
        knobs = dict(parsed.knobs)
        label = item
    else:
        graph = getattr(item, "graph", item)
        info = getattr(graph, "info", None)
        if not isinstance(info, Mapping):
            raise ConfigError(
                f"{space.where}: only a spec string or a generated multiplier graph encodes "
                f"into a structure space, not {type(item).__name__}"
            )
        spec = info.get("spec")
        shape = (str(info.get("generator")), graph.width_a, graph.width_b, graph.signed)
        adder = getattr(spec, "adder", b.adder)
        knobs = _graph_knobs(space, graph)
        label = str(getattr(item, "name", None) or graph.structural_hash[:12])
    want = (b.generator, b.width, b.width_b or b.width, space.signed)
    if shape != want:
        raise _outside(
            space,
            label,
            f"it is {_shape(*shape)}, the space's base is {_shape(*want)}",
        )
    if adder != b.adder:
        raise _outside(space, label, f"final adder {adder!r}, the space's base has {b.adder!r}")
    return label, graph, knobs


def _graph_knobs(space: StructureSpace, graph: MultiplierGraph) -> dict[str, Any]:
    """A generated graph's knob settings: the free matrix knobs read from its spec's
    field (:attr:`dse.arith.Knob.spec_field`, else the knob's name), its cell edits as ``approx``
    and ``zero`` items. A knob whose setting lives elsewhere is caught by the hash check."""
    spec = graph.info.get("spec")
    knobs: dict[str, Any] = {}
    for knob, _ in space._knobs:
        field = knob.spec_field or knob.name
        if spec is not None and hasattr(spec, field):
            value = getattr(spec, field)
            knobs[knob.name] = sorted(value) if isinstance(value, frozenset) else value
    for edit in graph.info.get("edits", ()):
        kind, node, arg = edit[0], edit[1], edit[2]
        item = f"{node}:{arg}" if kind == "approx" else f"{node}.{arg}"
        knobs.setdefault(str(kind), []).append(item)
    return knobs


def _cell_values(
    space: StructureSpace,
    label: str,
    matrix: Sequence[int],
    knobs: Mapping[str, Any],
    group: int,
    n_cells: int,
) -> list[int]:
    """The cell genes of the design's ``approx`` / ``zero`` items (defaults without)."""
    exact = list(space.exact_genome().values[space._per_group - n_cells : space._per_group])
    edits = _cell_edits(space, label, knobs)
    if not edits:
        return exact
    if not n_cells:
        name = next(k for k in _CELL_KNOBS if k in knobs)
        raise _outside(space, label, f"knob {name}: the space has no cell genes (knobs.cells)")
    # the items name cells of the graph the matrix knobs built; a cell gene addresses
    # the same slot (family, column, index) in every such graph, and encode_cells names
    # it by the base graph's cell in that slot
    built = space._decode_one([*matrix, *exact])
    here, there = space._cell_table(built), space._cell_table(space.base)
    base_names: dict[str, list[str]] = {}
    for slot in space._slots:
        ours = here.get((slot.family, slot.column), [])
        theirs = there.get((slot.family, slot.column), [])
        if slot.index is None:
            # cells.per: column: the column's one gene stands for all its base cells of
            # the family (encode_cells wants them all given, with one option)
            for cell in ours if theirs else ():
                base_names[cell] = list(theirs)
        elif slot.index < len(ours) and slot.index < len(theirs):
            base_names[ours[slot.index]] = [theirs[slot.index]]
    mapped: dict[str, str] = {}
    for node, (knob, option) in edits.items():
        if node not in base_names:
            raise _outside(space, label, f"knob {knob}: cell {node!r} has no gene in this space")
        for target in base_names[node]:
            if mapped.get(target, option) != option:
                raise _outside(
                    space,
                    label,
                    f"knob {knob}: the cells of gene {node!r}'s column take different "
                    f"options ({mapped[target]!r}, {option!r}); cells.per: column gives one",
                )
            mapped[target] = option
    per_group: list[dict[str, str]] = [{} for _ in space.group_names]
    per_group[group] = mapped
    try:
        genome = space.encode_cells(per_group)
    except ConfigError as exc:
        knob = "/".join(sorted({k for k, _ in edits.values()}))
        why = str(exc).removeprefix(f"{space.where}: ")
        raise _outside(space, label, f"knob {knob}: {why}") from None
    start = group * space._per_group + space._per_group - n_cells
    return list(genome.values[start : start + n_cells])


def _cell_edits(
    space: StructureSpace, label: str, knobs: Mapping[str, Any]
) -> dict[str, tuple[str, str]]:
    """Cell → (knob, option as the space lists it) for the ``approx`` and ``zero`` items."""
    out: dict[str, tuple[str, str]] = {}
    for knob in _CELL_KNOBS:
        for item in _items(knobs.get(knob)):
            node, sep, arg = item.rpartition(".") if knob == "zero" else item.partition(":")
            if not sep or not node or not arg:
                form = "NODE.PORT" if knob == "zero" else "NODE:KIND"
                raise _outside(space, label, f"knob {knob}: expected {form} items, got {item!r}")
            if knob == "approx" or node not in out:
                if node in out:
                    raise _outside(space, label, f"knob approx: cell {node!r} is given twice")
                out[node] = (knob, arg if knob == "approx" else f"zero.{arg}")
                continue
            prev_knob, prev = out[node]
            if prev_knob != "zero":
                raise _outside(
                    space,
                    label,
                    f"cell {node!r} is both replaced and has an output tied to 0; "
                    f"a cell gene takes one option",
                )
            out[node] = ("zero", f"{prev}+{arg}")
    return out


def _items(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [s.strip() for s in value.replace(";", ",").split(",") if s.strip()]
    return [str(v) for v in value]


def _mismatch(space: StructureSpace, knobs: Mapping[str, Any]) -> str:
    """Why a genome decodes to another structure: a free knob the design does not set
    that the space always applies, or (generic) a setting the genes do not reproduce."""
    chosen: dict[str, Any] = {}
    for knob, specs in space._knobs:
        if knob.name in knobs:
            continue
        forced = knob.decode(specs, [g.low for g in specs], chosen, space.base)
        if forced is not None:
            return (
                f"the space always applies {knob.name} (at least {forced!r}); the design does not"
            )
    return "its knob settings, put into the space's genes, build another structure"


def _same(knob: Any, a: Any, b: Any) -> bool:
    try:
        pa, pb = knob.parse(a), knob.parse(b)
    except DseError:
        return False
    if isinstance(pa, list) and isinstance(pb, list):
        return sorted(map(str, pa)) == sorted(map(str, pb))
    return bool(pa == pb)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _ranges(specs: Sequence[GeneSpec]) -> str:
    if len(specs) > 3:
        return f"{len(specs)} {specs[0].kind} genes"
    return ", ".join(f"{g.name} {g.low}..{g.high}" for g in specs)


def _shape(generator: str, wa: int, wb: int, signed: bool) -> str:
    return f"{'a signed' if signed else 'an unsigned'} {generator}:{wa}x{wb} multiplier"
