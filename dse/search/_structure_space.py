"""Structure spaces: the multiplier structures around one base design.

The knobs that are free (see the :mod:`dse.search._space` docstring) each give genes;
decoding applies the matrix knobs first, then the cell knobs by stable slot.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dse.errors import ConfigError, DseError, KnobError
from dse.search._genome import Gene, Genome
from dse.search._space import Space, _groups

if TYPE_CHECKING:
    from dse.arith import GeneSpec, Knob, MultiplierGraph
    from dse.design import GraphDesign

__all__ = ["StructureSpace"]

#: Decoded genomes a space keeps (a few NSGA-II generations).
_DECODED = 512


def _stored_config(config: Any, knobs: Mapping[str, Knob]) -> dict[str, Any]:
    """The configuration as stored with a study: a knob the file does not give is left
    out unless it is one that stored configurations always list."""
    data: dict[str, Any] = config.model_dump(mode="json")
    given = config.knobs.model_fields_set
    for name in list(data["knobs"]):
        knob = knobs.get(name)
        if knob is not None and not knob.listed_when_unset and name not in given:
            del data["knobs"][name]
    cells = data["knobs"].get("cells")
    if cells is not None and cells.get("per") == "cell":
        del cells["per"]  # the default, which configurations stored before it lack
    return data


@dataclass(frozen=True)
class _Slot:
    family: str
    column: int
    #: the cell's index among its family's cells of the column; ``None``: every one
    #: of them (``cells.per: column``)
    index: int | None


class StructureSpace(Space):
    """Multiplier structures around one base design (see the module docstring)."""

    def __init__(self, config: Any, *, name: str, where: str = "<space>") -> None:
        from dse.arith import CELL_TYPES, KNOBS, generate

        self.name = name
        self.where = where
        self.model = config
        self.config = _stored_config(config, KNOBS)
        self.group_names, self.group_weights, self.group_layers = _groups(config.groups)
        b = config.base
        try:
            base = generate(
                b.generator, b.width, b.width_b, signed=b.signed, adder=b.adder, knobs=dict(b.fixed)
            )
        except KnobError as exc:
            raise ConfigError(f"{where}: field base.fixed: {exc}") from None
        except DseError as exc:
            raise ConfigError(f"{where}: field base: {exc}") from None
        self.base = base
        self.signed = base.signed
        self.width_a, self.width_b = base.width_a, base.width_b
        spec = base.info.get("spec")
        k = config.knobs
        # the knobs free in this space, in registry order (the genome's order)
        free = [
            knob
            for knob in KNOBS.values()
            if knob.space_config is not None
            and getattr(k, knob.name, knob.space_default) != knob.space_default
        ]
        # a flag (compensate) only modifies what the other matrix knobs remove: an
        # error names a knob that rewrites the matrix first
        matrix = sorted(
            (knob for knob in free if knob.kind == "matrix"),
            key=lambda knob: knob.space_config is bool,
        )
        if matrix and spec is None:
            raise ConfigError(
                f"{where}: field knobs.{matrix[0].name}: generator {b.generator!r} has no "
                f"partial-product matrix to rewrite; only 'cells' knobs apply to it"
            )
        width_p = base.width_p
        genes: list[Gene] = []
        self._knobs: list[tuple[Knob, list[GeneSpec]]] = []
        for knob in free:
            specs = knob.genes(base, getattr(k, knob.name), where)
            self._knobs.append((knob, specs))
            genes.extend(Gene(g.name, g.kind, g.low, g.high, g.choices, g.column) for g in specs)
        self._slots: list[_Slot] = []
        self._options: dict[str, tuple[str, ...]] = {}
        self._roles: tuple[str, ...] = ()
        if k.cells is not None:
            self._roles = tuple(k.cells.roles)
            for family, opts in k.cells.options.items():
                self._options[family] = _cell_options(where, family, opts, CELL_TYPES)
            lo, hi = k.cells.columns if k.cells.columns else (0, width_p - 1)
            per_column = k.cells.per == "column"
            for (family, column), cells in sorted(self._cell_table(base).items()):
                if family not in self._options or not lo <= column <= hi:
                    continue
                # per column: one gene sets every cell of the family in the column (a
                # shorter genome whose genes each move a whole column's error)
                indices: list[int | None] = [None] if per_column else list(range(len(cells)))
                for idx in indices:
                    self._slots.append(_Slot(family, column, idx))
                    genes.append(
                        Gene(
                            f"cell.{family}.c{column}" + ("" if idx is None else f".{idx}"),
                            "choice",
                            choices=self._options[family],
                            column=column,
                        )
                    )
            if not self._slots:
                raise ConfigError(
                    f"{where}: field knobs.cells: no cell of families {sorted(self._options)} "
                    f"in roles {list(self._roles)} and columns {lo}..{hi}"
                )
        if not genes:
            raise ConfigError(f"{where}: field knobs: no free knob; a space needs at least one")
        self._per_group = len(genes)
        all_genes: list[Gene] = []
        for gi, gname in enumerate(self.group_names):
            prefix = "" if len(self.group_names) == 1 else f"{gname}."
            for g in genes:
                all_genes.append(
                    Gene(prefix + g.name, g.kind, g.low, g.high, g.choices, g.column, gi)
                )
        self.genes = tuple(all_genes)
        self._decoded: OrderedDict[tuple[int, ...], tuple[GraphDesign, ...]] = OrderedDict()

    def _cell_table(self, graph: MultiplierGraph) -> dict[tuple[str, int], list[str]]:
        from dse.arith import CELL_TYPES

        table: dict[tuple[str, int], list[str]] = defaultdict(list)
        for node_id in graph.topological_order:
            node = graph[node_id]
            if node.role not in self._roles or node.column is None:
                continue
            ct = CELL_TYPES[node.kind]
            if not ct.compressor or not ct.exact or ct.family is None:
                continue
            table[(ct.family, node.column)].append(node_id)
        return table

    def decode(self, genome: Genome) -> tuple[GraphDesign, ...]:
        from dse.design import GraphDesign

        # the NSGA-II duplicate check decodes and hashes each child just before the
        # evaluator does; the recent decodes (graphs with their hash computed) are kept
        # so the second decode is a lookup (about a third of a millisecond per candidate)
        cache = self._decoded
        found = cache.get(genome.values)
        if found is not None:
            cache.move_to_end(genome.values)
            return found
        self.check(genome)
        n = self._per_group
        designs = tuple(
            GraphDesign(self._decode_one(genome.values[g * n : (g + 1) * n]))
            for g in range(len(self.group_names))
        )
        cache[genome.values] = designs
        if len(cache) > _DECODED:
            cache.popitem(last=False)
        return designs

    def cell_options(self) -> dict[str, tuple[str, ...]]:
        """Base-graph cell → the options its gene offers (``"exact"`` first).

        Only cells with a gene are listed; matrix knobs left at their defaults keep the
        base graph's cell names, which is how designs made outside the genome (TRAM's
        phase-2 mapping, a hand edit) are brought into the space by :meth:`encode_cells`.
        """
        table = self._cell_table(self.base)
        out: dict[str, tuple[str, ...]] = {}
        for slot in self._slots:
            for cell in _slot_cells(slot, table):
                out[cell] = self._options[slot.family]
        return out

    def encode_cells(self, per_group: Sequence[Mapping[str, str]]) -> Genome:
        """The genome that puts, per layer group, option ``opt`` on base cell ``node``.

        ``per_group[g]`` maps base-graph cell names to option strings as listed in the
        space (``"zero.sum"``, ``"ama1"``, ...; ``"zero.sum+cout"`` matches its ports in
        any order). Every other gene keeps its default. Raises :class:`ConfigError`
        naming the cell when a cell has no gene or the option is not offered. With
        ``cells.per: column`` one gene holds all of a column's cells of a family: they
        must all be given the same option.
        """
        if len(per_group) != len(self.group_names):
            raise ConfigError(
                f"{self.where}: encode_cells needs one mapping per layer group "
                f"({len(self.group_names)}), got {len(per_group)}"
            )
        table = self._cell_table(self.base)
        where_of: dict[str, int] = {}
        first = self._per_group - len(self._slots)  # cell genes come last in a group
        for k, slot in enumerate(self._slots):
            for cell in _slot_cells(slot, table):
                where_of[cell] = k
        values = list(self.exact_genome().values)
        for g, edits in enumerate(per_group):
            if any(slot.index is None for slot in self._slots):
                _check_columns_agree(self.where, self._slots, table, edits, where_of)
            for node, option in edits.items():
                if node not in where_of:
                    raise ConfigError(
                        f"{self.where}: cell {node!r} of group {self.group_names[g]!r} has no "
                        f"gene in this space (roles {list(self._roles)}, families "
                        f"{sorted(self._options)})"
                    )
                slot = self._slots[where_of[node]]
                index = _option_index(self._options[slot.family], option)
                if index is None:
                    raise ConfigError(
                        f"{self.where}: cell {node!r}: option {option!r} is not offered; "
                        f"options are {list(self._options[slot.family])}"
                    )
                values[g * self._per_group + first + where_of[node]] = index
        return Genome.of(values)

    def encode(self, design: Any) -> Genome:
        """The genome of a design this space holds: a one-line spec
        (``"dadda:8,truncate=3,loa=4"``, see :func:`dse.arith.from_spec`) or a generated
        graph (a :class:`~dse.arith.MultiplierGraph` or ``GraphDesign``); a list gives one
        per layer group, a single design stands for every group.

        Each free knob inverts its genes (:meth:`dse.arith.Knob.encode`); the cell knobs
        ``approx`` / ``zero`` go through :meth:`encode_cells`. ``decode(encode(d))`` has
        ``d``'s structural hash, checked here. Raises one-line :class:`ConfigError`
        naming the knob and value when the design is outside the space.
        """
        from dse.search._space_encode import encode_structure

        return encode_structure(self, design)

    def _decode_one(self, values: Sequence[int]) -> MultiplierGraph:
        from dse.arith import apply_knobs, replace_cell, set_output_constant

        it = iter(values)
        knobs: dict[str, Any] = {}
        for knob, specs in self._knobs:
            value = knob.decode(specs, [next(it) for _ in specs], knobs, self.base)
            if value is not None:
                knobs[knob.name] = value
        graph = self.base
        if knobs:
            graph = apply_knobs(graph, knobs)
        if self._slots:
            table = self._cell_table(graph)
            for slot in self._slots:
                choice = self._options[slot.family][next(it)]
                if choice == "exact":
                    continue
                for node in _slot_cells(slot, table):
                    try:
                        if choice.startswith("zero."):
                            for port in choice[5:].split("+"):
                                graph = set_output_constant(graph, node, port)
                        else:
                            graph = replace_cell(graph, node, choice)
                    except KnobError:  # pragma: no cover - options are validated per family
                        continue
        return graph


def _slot_cells(slot: _Slot, table: Mapping[tuple[str, int], list[str]]) -> list[str]:
    """The cells of ``table`` a slot's gene sets (none when the column has fewer)."""
    cells = table.get((slot.family, slot.column), [])
    if slot.index is None:
        return list(cells)
    return [cells[slot.index]] if slot.index < len(cells) else []


def _check_columns_agree(
    where: str,
    slots: Sequence[_Slot],
    table: Mapping[tuple[str, int], list[str]],
    edits: Mapping[str, str],
    where_of: Mapping[str, int],
) -> None:
    """Per-column genes: the cells that share one gene must be given one option."""
    for node in edits:
        k = where_of.get(node)
        if k is None or slots[k].index is not None:
            continue
        for other in _slot_cells(slots[k], table):
            mine, theirs = edits[node], edits.get(other, "exact")
            if _same_option(mine, theirs):
                continue
            slot = slots[k]
            raise ConfigError(
                f"{where}: cells {node!r} and {other!r} share gene "
                f"cell.{slot.family}.c{slot.column} (cells.per: column) but are given "
                f"{mine!r} and {theirs!r}"
            )


def _same_option(a: str, b: str) -> bool:
    if a.startswith("zero.") and b.startswith("zero."):
        return set(a[5:].split("+")) == set(b[5:].split("+"))
    return a == b


def _option_index(options: Sequence[str], option: str) -> int | None:
    """Position of ``option`` among a slot's options (``zero.`` port sets in any order)."""
    if option in options:
        return list(options).index(option)
    if option.startswith("zero."):
        ports = set(option[5:].split("+"))
        for i, o in enumerate(options):
            if o.startswith("zero.") and set(o[5:].split("+")) == ports:
                return i
    return None


def _cell_options(
    where: str, family: str, opts: list[str], cell_types: Mapping[str, Any]
) -> tuple[str, ...]:
    fieldname = f"knobs.cells.options.{family}"
    if (
        family not in cell_types
        or not cell_types[family].exact
        or cell_types[family].family != family
    ):
        fams = sorted(
            {ct.family for ct in cell_types.values() if ct.family and ct.exact and ct.compressor}
        )
        raise ConfigError(
            f"{where}: field {fieldname}: unknown cell family {family!r}; known: {', '.join(fams)}"
        )
    exact = cell_types[family]
    out = ["exact"]
    for opt in opts:
        if opt == "exact":
            continue
        if opt.startswith("zero."):
            ports = opt[5:].split("+")
            bad = [p for p in ports if p not in exact.outputs]
            if bad or not ports:
                raise ConfigError(
                    f"{where}: field {fieldname}: {opt!r} names output {bad[0] if bad else ''!r}; "
                    f"{family} outputs are {list(exact.outputs)}"
                )
        else:
            ct = cell_types.get(opt)
            if ct is None or ct.family != family or ct.exact:
                known = sorted(
                    n for n, c in cell_types.items() if c.family == family and not c.exact
                )
                raise ConfigError(
                    f"{where}: field {fieldname}: {opt!r} is not an approximate {family} cell; "
                    f"known: {', '.join(known) or 'none'} (or exact, zero.<output>)"
                )
        if opt in out:
            raise ConfigError(f"{where}: field {fieldname}: option {opt!r} is listed twice")
        out.append(opt)
    if len(out) < 2:
        raise ConfigError(f"{where}: field {fieldname}: give at least one option besides 'exact'")
    return tuple(out)
