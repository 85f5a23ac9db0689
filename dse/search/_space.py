"""Search spaces: which multiplier structures a study may visit, and their genome.

A space is read from ``search_spaces/*.yaml`` (schema below, validated with pydantic;
errors name the file and the field). Two kinds:

* ``structure`` — a base multiplier from a generator (e.g. an 8x8 Dadda tree) and
  the knobs that are free: partial products that may be pruned (perforation:
  Zervakis et al., IEEE TVLSI 2016), truncation, compensation, broken-array levels,
  lower-part-OR bits (Mahdiani et al., IEEE TCAS-I 2010), and, per compressor cell,
  which approximate cells of its family it may become or which of its outputs may
  be tied to constant 0 (TRAM's move: Meng et al., DAC 2026).
* ``library`` — choose among a given set of existing multipliers (generator specs,
  gate-level Verilog, or LUTs with their metrics), the ALWANN setting (M. Mrazek, Z.
  Vasicek, L. Sekanina, M. A. Hanif, M. Shafique, "ALWANN: Automatic layer-wise
  approximation of deep neural network accelerators without retraining", ICCAD 2019).

Both kinds may give one multiplier per *layer group* (``groups:``); the genome is then
the concatenation of one sub-genome per group.

Decoding is deterministic. Matrix knobs (prune, truncate, compensate, bam, loa) are
applied first, because they rebuild the compressor tree; then cell knobs address the
rebuilt tree's cells by a stable position: *family, column, and index among that
family's cells of that column in topological order*. The slots are taken from the
base graph, so the genome has a fixed length; a slot with no cell after pruning is
ignored, and cells beyond the base graph's count stay exact.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dse.errors import ConfigError, DseError, KnobError
from dse.search._genome import Gene, Genome

if TYPE_CHECKING:
    from dse.arith import MultiplierGraph
    from dse.design import Design, GraphDesign

__all__ = [
    "LibrarySpace",
    "Space",
    "StructureSpace",
    "format_validation_error",
    "load_space",
    "space_from_dict",
]

#: Matrix knobs that may be free in a structure space (cell knobs are under ``cells``).
FREE_KNOBS = ("prune", "truncate", "compensate", "bam", "loa", "cells")


# --------------------------------------------------------------------- schema
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RangeConfig(_Strict):
    """An inclusive integer range."""

    low: int = 0
    high: int

    @model_validator(mode="after")
    def _order(self) -> RangeConfig:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must be <= high ({self.high})")
        return self


class BaseConfig(_Strict):
    generator: str = "dadda"
    width: int = Field(8, ge=2, le=16)
    width_b: int | None = Field(None, ge=2, le=16)
    signed: bool | None = None
    adder: str = "ripple"
    fixed: dict[str, Any] = Field(default_factory=dict, description="knobs always applied")


class PruneConfig(_Strict):
    columns: tuple[int, int] | None = Field(
        None, description="only partial products in these columns"
    )


class BamConfig(_Strict):
    hbl: RangeConfig
    vbl: RangeConfig


class CellsConfig(_Strict):
    roles: list[Literal["tree", "cpa"]] = Field(default_factory=lambda: ["tree"])  # type: ignore[arg-type]
    columns: tuple[int, int] | None = None
    options: dict[str, list[str]]


class KnobsConfig(_Strict):
    prune: PruneConfig | None = None
    truncate: RangeConfig | None = None
    compensate: bool = False
    bam: BamConfig | None = None
    loa: RangeConfig | None = None
    cells: CellsConfig | None = None


class GroupConfig(_Strict):
    name: str
    layers: list[str] = Field(default_factory=list, description="layer-name patterns (fnmatch)")
    weight: float | None = Field(None, gt=0, description="share of MACs; default from the model")


class StructureSpaceConfig(_Strict):
    kind: Literal["structure"] = "structure"
    name: str | None = None
    description: str = ""
    base: BaseConfig
    knobs: KnobsConfig = Field(default_factory=KnobsConfig)
    groups: list[GroupConfig] | None = None


class LibraryEntryConfig(_Strict):
    name: str
    spec: str | None = None
    verilog: list[str] | None = None
    # netlist files in any format dse reads (Verilog, BLIF); `verilog` reads the same way
    netlist: list[str] | None = None
    lut: str | None = None
    metrics: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> LibraryEntryConfig:
        given = [k for k in ("spec", "verilog", "netlist", "lut") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of spec, verilog, netlist, lut (got {given or 'none'})"
            )
        return self


class LibrarySpaceConfig(_Strict):
    kind: Literal["library"]
    name: str | None = None
    description: str = ""
    width: int = Field(8, ge=2, le=16)
    width_b: int | None = Field(None, ge=2, le=16)
    signed: bool = False
    entries: list[LibraryEntryConfig] = Field(min_length=1)
    groups: list[GroupConfig] | None = None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (``X | None``, ``list[X]``, ``X | list[X]``)."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _fields_at(model: type[BaseModel] | None, path: Sequence[Any]) -> list[str]:
    """The field names of the mapping at ``path`` (field names and list indices) under
    ``model``; empty where the path leads to no model (a free-form mapping)."""
    current = [model] if model is not None else []
    for part in path:
        if isinstance(part, int):  # an item of a list
            continue
        current = [
            sub
            for m in current
            if part in m.model_fields
            for sub in _models_in(m.model_fields[part].annotation)
        ]
    return list(dict.fromkeys(name for m in current for name in m.model_fields))


def _did_you_mean(key: str, known: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def format_validation_error(
    exc: ValidationError, where: str, prefix: str = "", model: type[BaseModel] | None = None
) -> str:
    """One line: ``where: field a.b.c: message`` for the first error of ``exc``.

    A field typed as a union (``backend``: one back end or a list) makes pydantic report
    every branch, with the branch's type name in the location; the branch whose shape
    the input has is the one the user meant, and type names are not field names.

    An unknown key comes first: a misspelt required field (``objectivs:``) is also
    reported by pydantic as the real one missing, and the misspelling is the cause.
    With ``model`` (the validated class), the closest known key is suggested.
    """
    errors = exc.errors()

    def branch(part: Any) -> bool:
        return isinstance(part, str) and (part[:1].isupper() or "[" in part)

    shape_only = {"list_type", "model_type", "dict_type", "model_attributes_type"}
    meant = [
        e for e in errors if not (any(branch(x) for x in e["loc"]) and e["type"] in shape_only)
    ]
    unknown = [e for e in (meant or errors) if e["type"] == "extra_forbidden"]
    err = (unknown or meant or errors)[0]
    parts = [x for x in err["loc"] if not branch(x)]
    loc = ".".join(str(p) for p in (*([prefix] if prefix else []), *parts))
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        parent = ".".join(loc.split(".")[:-1])
        key = loc.split(".")[-1]
        if parent.endswith("knobs"):
            msg = f"unknown knob {key!r}; free knobs are: {', '.join(FREE_KNOBS)}"
            msg += _did_you_mean(key, FREE_KNOBS)
        else:
            msg = f"unknown key {key!r}" + _did_you_mean(key, _fields_at(model, parts[:-1]))
    elif err["type"] == "missing":
        msg = "required field is missing"
    else:
        msg = (
            f"{msg} (got {err.get('input')!r})"
            if "input" in err and not isinstance(err.get("input"), dict)
            else msg
        )
    return f"{where}: field {loc or '<root>'}: {msg}"


# --------------------------------------------------------------------- helpers
def _ensure_cells() -> None:
    from dse.arith._registry import _ensure_plugins

    _ensure_plugins()
    with contextlib.suppress(ModuleNotFoundError):  # the 4:2 tree registers itself on import
        import dse.arith._c42tree  # noqa: F401


@dataclass(frozen=True)
class _Slot:
    family: str
    column: int
    index: int


class Space:
    """Common interface of search spaces.

    Attributes:
        name: the space's name.
        genes: every gene, in genome order.
        group_names: one name per layer group (``["all"]`` without groups).
        group_weights: per group, its MAC share or ``None`` (taken from the model).
        group_layers: per group, fnmatch patterns of the layers it covers.
    """

    name: str
    genes: tuple[Gene, ...]
    group_names: tuple[str, ...]
    group_weights: tuple[float | None, ...]
    group_layers: tuple[tuple[str, ...], ...]
    config: dict[str, Any]
    signed: bool
    width_a: int
    width_b: int

    # -- life cycle: built once per study (and per worker process) from ``config``.
    def decode(self, genome: Genome) -> tuple[Design, ...]:
        """One design per layer group (see :mod:`dse.design` for the kinds)."""
        raise NotImplementedError

    def default_value(self, gene_index: int) -> int:
        """The value of a gene that leaves the base design unchanged."""
        return self.genes[gene_index].low

    def exact_genome(self) -> Genome:
        """The genome of the unapproximated base design (the reference point)."""
        return Genome.of(self.default_value(i) for i in range(len(self.genes)))

    def random_genome(self, rng: np.random.Generator, density: float | None = None) -> Genome:
        """A random genome; each gene departs from its default with probability ``density``.

        ``density=None`` samples uniformly over each gene's range (what a plain random
        sampler does).
        """
        values = []
        for i, gene in enumerate(self.genes):
            if density is None or rng.random() < density:
                values.append(int(rng.integers(gene.low, gene.high + 1)))
            else:
                values.append(self.default_value(i))
        return Genome.of(values)

    def check(self, genome: Genome) -> None:
        if len(genome) != len(self.genes):
            raise ConfigError(
                f"space {self.name!r}: genome has {len(genome)} values, the space has {len(self.genes)} genes"
            )

    # -- Optuna parameters (shared by every back end)
    def to_params(self, genome: Genome) -> dict[str, Any]:
        self.check(genome)
        return {g.name: g.label(v) for g, v in zip(self.genes, genome.values, strict=True)}

    def from_params(self, params: Mapping[str, Any]) -> Genome:
        missing = [g.name for g in self.genes if g.name not in params]
        if missing:
            raise ConfigError(f"space {self.name!r}: parameters lack {missing[:3]}")
        return Genome.of(g.index(params[g.name]) for g in self.genes)

    def distributions(self) -> dict[str, Any]:
        return {g.name: g.distribution() for g in self.genes}

    @property
    def fingerprint(self) -> str:
        """Hash of the space's configuration: a study refuses a different space on resume."""
        text = json.dumps(self.config, sort_keys=True, default=str)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    def design_hash(self, design: Sequence[Design]) -> str:
        """Structural hash of a decoded design (all groups)."""
        parts = [m.structural_hash for m in design]
        if len(parts) == 1:
            return str(parts[0])
        return hashlib.blake2b("|".join(parts).encode(), digest_size=20).hexdigest()

    def describe(self) -> str:
        return f"{type(self).__name__} {self.name!r}: {len(self.genes)} genes, {len(self.group_names)} group(s)"


def _groups(
    groups: list[GroupConfig] | None,
) -> tuple[tuple[str, ...], tuple[float | None, ...], tuple[tuple[str, ...], ...]]:
    if not groups:
        return ("all",), (None,), (("*",),)
    names = tuple(g.name for g in groups)
    if len(set(names)) != len(names):
        raise ConfigError(f"group names must be unique, got {list(names)}")
    return names, tuple(g.weight for g in groups), tuple(tuple(g.layers or ["*"]) for g in groups)


# ----------------------------------------------------------- structure space
class StructureSpace(Space):
    """Multiplier structures around one base design (see the module docstring)."""

    def __init__(self, config: StructureSpaceConfig, *, name: str, where: str = "<space>") -> None:
        from dse.arith import CELL_TYPES, generate

        _ensure_cells()
        self.name = name
        self.where = where
        self.model = config
        self.config = config.model_dump(mode="json")
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
        matrix = [n for n in ("prune", "truncate", "bam", "loa") if getattr(k, n) is not None]
        if k.compensate:
            matrix.append("compensate")
        if matrix and spec is None:
            raise ConfigError(
                f"{where}: field knobs.{matrix[0]}: generator {b.generator!r} has no partial-product "
                f"matrix to rewrite; only 'cells' knobs apply to it"
            )
        width_p = base.width_p
        genes: list[Gene] = []
        self._pp: list[tuple[int, int]] = []
        if k.prune is not None:
            lo, hi = k.prune.columns if k.prune.columns else (0, width_p - 1)
            for node in sorted(base.nodes_of(role="pp"), key=_pp_order):
                n = base[node]
                parts = node.split("_")
                if len(parts) != 3 or n.column is None or not lo <= n.column <= hi:
                    continue
                self._pp.append((int(parts[1]), int(parts[2])))
                genes.append(Gene(f"prune.{parts[1]}.{parts[2]}", "bit", column=n.column))
            if not self._pp:
                raise ConfigError(
                    f"{where}: field knobs.prune.columns: no partial product lies in {lo}..{hi}"
                )
        self._truncate = k.truncate
        if k.truncate is not None:
            _check_range(where, "knobs.truncate", k.truncate, 0, width_p - 1)
            genes.append(Gene("truncate", "ordinal", k.truncate.low, k.truncate.high))
        self._compensate = k.compensate
        if k.compensate:
            genes.append(Gene("compensate", "bit"))
        self._bam = k.bam
        if k.bam is not None:
            if spec is not None and spec.encoding == "booth":
                raise ConfigError(
                    f"{where}: field knobs.bam: the broken-array knob needs an AND matrix, not Booth"
                )
            _check_range(where, "knobs.bam.hbl", k.bam.hbl, 0, base.width_b)
            _check_range(where, "knobs.bam.vbl", k.bam.vbl, 0, width_p)
            genes.append(Gene("bam.hbl", "ordinal", k.bam.hbl.low, k.bam.hbl.high))
            genes.append(Gene("bam.vbl", "ordinal", k.bam.vbl.low, k.bam.vbl.high))
        self._loa = k.loa
        if k.loa is not None:
            _check_range(where, "knobs.loa", k.loa, 0, width_p - 1)
            genes.append(Gene("loa", "ordinal", k.loa.low, k.loa.high))
        self._slots: list[_Slot] = []
        self._options: dict[str, tuple[str, ...]] = {}
        self._roles: tuple[str, ...] = ()
        if k.cells is not None:
            self._roles = tuple(k.cells.roles)
            for family, opts in k.cells.options.items():
                self._options[family] = _cell_options(where, family, opts, CELL_TYPES)
            lo, hi = k.cells.columns if k.cells.columns else (0, width_p - 1)
            for (family, column), cells in sorted(self._cell_table(base).items()):
                if family not in self._options or not lo <= column <= hi:
                    continue
                for idx in range(len(cells)):
                    self._slots.append(_Slot(family, column, idx))
                    genes.append(
                        Gene(
                            f"cell.{family}.c{column}.{idx}",
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

        self.check(genome)
        n = self._per_group
        return tuple(
            GraphDesign(self._decode_one(genome.values[g * n : (g + 1) * n]))
            for g in range(len(self.group_names))
        )

    def cell_options(self) -> dict[str, tuple[str, ...]]:
        """Base-graph cell → the options its gene offers (``"exact"`` first).

        Only cells with a gene are listed; matrix knobs left at their defaults keep the
        base graph's cell names, which is how designs made outside the genome (TRAM's
        phase-2 mapping, a hand edit) are brought into the space by :meth:`encode_cells`.
        """
        table = self._cell_table(self.base)
        out: dict[str, tuple[str, ...]] = {}
        for slot in self._slots:
            cells = table.get((slot.family, slot.column), [])
            if slot.index < len(cells):
                out[cells[slot.index]] = self._options[slot.family]
        return out

    def encode_cells(self, per_group: Sequence[Mapping[str, str]]) -> Genome:
        """The genome that puts, per layer group, option ``opt`` on base cell ``node``.

        ``per_group[g]`` maps base-graph cell names to option strings as listed in the
        space (``"zero.sum"``, ``"ama1"``, ...; ``"zero.sum+cout"`` matches its ports in
        any order). Every other gene keeps its default. Raises :class:`ConfigError`
        naming the cell when a cell has no gene or the option is not offered.
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
            cells = table.get((slot.family, slot.column), [])
            if slot.index < len(cells):
                where_of[cells[slot.index]] = k
        values = list(self.exact_genome().values)
        for g, edits in enumerate(per_group):
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

    def _decode_one(self, values: Sequence[int]) -> MultiplierGraph:
        from dse.arith import apply_knobs, replace_cell, set_output_constant

        it = iter(values)
        knobs: dict[str, Any] = {}
        pruned = [pp for pp in self._pp if next(it)]
        if pruned:
            knobs["prune"] = pruned
        if self._truncate is not None:
            t = next(it)
            if t:
                knobs["truncate"] = t
        compensate = bool(next(it)) if self._compensate else False
        if compensate:
            knobs["compensate"] = "1"
        if self._bam is not None:
            h, v = next(it), next(it)
            if h or v:
                knobs["bam"] = (h, v)
        if self._loa is not None:
            lo = next(it)
            if lo:
                knobs["loa"] = lo
        graph = self.base
        if knobs:
            spec = graph.info["spec"]
            # Compensation adds back the expected value of what truncation/pruning removes.
            if compensate and not (pruned or knobs.get("truncate") or spec.pruned or spec.truncate):
                knobs.pop("compensate")
            graph = apply_knobs(graph, knobs)
        if self._slots:
            table = self._cell_table(graph)
            for slot in self._slots:
                choice = self._options[slot.family][next(it)]
                cells = table.get((slot.family, slot.column), [])
                if choice == "exact" or slot.index >= len(cells):
                    continue
                node = cells[slot.index]
                try:
                    if choice.startswith("zero."):
                        for port in choice[5:].split("+"):
                            graph = set_output_constant(graph, node, port)
                    else:
                        graph = replace_cell(graph, node, choice)
                except KnobError:  # pragma: no cover - options are validated per family
                    continue
        return graph


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


def _pp_order(node: str) -> tuple[int, ...]:
    parts = node.split("_")
    try:
        return tuple(int(p) for p in parts[1:])
    except ValueError:
        return (1 << 30,)


def _check_range(where: str, fieldname: str, r: RangeConfig, lo: int, hi: int) -> None:
    if r.low < lo or r.high > hi:
        raise ConfigError(
            f"{where}: field {fieldname}: range {r.low}..{r.high} must lie within {lo}..{hi}"
        )


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


# ------------------------------------------------------------- library space
class LibrarySpace(Space):
    """Choose, per layer group, one multiplier of a library (ALWANN, Mrazek et al. ICCAD 2019).

    The first entry is the reference (exact) design of the space; genome value ``k``
    for a group picks entry ``k``.
    """

    def __init__(
        self,
        config: LibrarySpaceConfig,
        *,
        name: str,
        where: str = "<space>",
        root: Path | None = None,
    ) -> None:
        self.name = name
        self.where = where
        self.model = config
        self.config = config.model_dump(mode="json")
        self.root = root or Path.cwd()
        self.signed = config.signed
        self.width_a = config.width
        self.width_b = config.width_b or config.width
        self.group_names, self.group_weights, self.group_layers = _groups(config.groups)
        names = [e.name for e in config.entries]
        if len(set(names)) != len(names):
            raise ConfigError(f"{where}: field entries: entry names must be unique")
        self.entry_names = tuple(names)
        for i, e in enumerate(config.entries):
            for p in [
                *(e.verilog or []),
                *(e.netlist or []),
                *([e.lut] if e.lut else []),
                *([e.metrics] if e.metrics else []),
            ]:
                if not (self.root / p).exists():
                    raise ConfigError(
                        f"{where}: field entries.{i}.{e.name}: file {p!r} does not exist"
                    )
        self._loaded: dict[int, Design] = {}
        genes = []
        for gi, gname in enumerate(self.group_names):
            genes.append(
                Gene(
                    f"{gname}.multiplier" if len(self.group_names) > 1 else "multiplier",
                    "choice",
                    choices=self.entry_names,
                    group=gi,
                )
            )
        self.genes = tuple(genes)

    def entry(self, index: int) -> Design:
        """Library entry ``index`` as a design (loaded once)."""
        if index not in self._loaded:
            self._loaded[index] = self._load(index)
        return self._loaded[index]

    def _load(self, index: int) -> Design:
        from dse.design import GraphDesign, NetlistDesign, TableDesign, netlist_key

        e = self.model.entries[index]
        where = f"{self.where}: field entries.{index}"
        wa, wb, signed = self.width_a, self.width_b, self.signed
        if e.spec:
            from dse.arith import from_spec

            try:
                g = from_spec(e.spec)
            except DseError as exc:
                raise ConfigError(f"{where}.spec: {exc}") from None
            if (g.width_a, g.width_b, g.signed) != (wa, wb, signed):
                raise ConfigError(
                    f"{where}.spec: {e.spec!r} is not a {wa}x{wb} {'signed' if signed else 'unsigned'} multiplier"
                )
            return GraphDesign(g, e.name)
        files = e.netlist or e.verilog
        if files:
            from dse.netlist import read_netlist

            net = read_netlist([self.root / p for p in files])
            return NetlistDesign(e.name, netlist_key(net), signed, wa, wb, net)
        assert e.lut is not None
        lut = np.load(self.root / e.lut)
        if lut.shape != (1 << wa, 1 << wb):
            raise ConfigError(f"{where}.lut: shape {lut.shape}, expected {(1 << wa, 1 << wb)}")
        report = json.loads((self.root / e.metrics).read_text()) if e.metrics else None
        key = hashlib.blake2b(
            np.ascontiguousarray(lut, dtype=np.int64).tobytes(), digest_size=20
        ).hexdigest()
        return TableDesign(e.name, key, signed, wa, wb, lut, report)

    def decode(self, genome: Genome) -> tuple[Design, ...]:
        self.check(genome)
        return tuple(self.entry(v) for v in genome.values)


# ----------------------------------------------------------------- loading
def space_from_dict(
    data: Mapping[str, Any],
    *,
    where: str = "<space>",
    name: str | None = None,
    root: Path | None = None,
) -> Space:
    """Build a space from its YAML content (``where`` names the file in error messages)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: a search space must be a mapping, got {type(data).__name__}")
    library = data.get("kind", "structure") == "library"
    try:
        if library:
            lib = LibrarySpaceConfig.model_validate(data)
            return LibrarySpace(lib, name=lib.name or name or "space", where=where, root=root)
        cfg = StructureSpaceConfig.model_validate(data)
    except ValidationError as exc:
        model = LibrarySpaceConfig if library else StructureSpaceConfig
        raise ConfigError(format_validation_error(exc, where, model=model)) from None
    return StructureSpace(cfg, name=cfg.name or name or "space", where=where)


def read_yaml(path: Path, what: str) -> Any:
    """Parse a YAML file; a missing file or bad YAML is a one-line ``ConfigError``."""
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{what} {str(path)!r} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None


def load_space(path: str | Path) -> Space:
    """Read and validate ``search_spaces/NAME.yaml``."""
    p = Path(path)
    data = read_yaml(p, "search space file")
    return space_from_dict(data or {}, where=str(p), name=p.stem, root=p.parent)
