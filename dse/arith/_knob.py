"""The knob interface and registry: one place that says what a knob is.

A knob is a named approximation applied to a :class:`~dse.arith.MultiplierGraph`.
Everything that knows knobs by name reads this registry: :func:`dse.arith.apply_knobs`
and ``generate(..., knobs=...)``, the one-line spec of :func:`dse.arith.from_spec`
(``dadda:8,truncate=4``) and the structure search spaces of :mod:`dse.search`, which
turn a knob's :class:`GeneSpec` list into genes.

To add a knob, subclass :class:`Knob` in one file and call :func:`register_knob`:

* ``name``, ``kind`` (``"matrix"``: rewrites the partial-product matrix, so the tree is
  rebuilt; ``"cell"``: edits named cells of a built graph, applied after every matrix
  knob), ``list_valued`` (its value is a list of items; given twice on the command
  line, the lists join);
* :meth:`Knob.parse` (a value as a spec or YAML gives it → the value it applies) and
  :meth:`Knob.apply`; a matrix knob gives :meth:`Knob.spec_changes` instead, the
  :class:`~dse.arith.MultiplierSpec` fields it sets, so that several matrix knobs are
  merged into one rebuild;
* to be free in a structure space: ``space_config`` (the type of its entry under
  ``knobs:``, validated with pydantic), :meth:`Knob.genes` (that entry → genes, as plain
  :class:`GeneSpec` data) and :meth:`Knob.decode` (the genes' values → the knob's value,
  or ``None`` to leave it off); to let designs written as specs seed a search,
  :meth:`Knob.encode` (the inverse of ``decode``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator

from dse.arith._generators import MultiplierSpec, build
from dse.arith._graph import MultiplierGraph
from dse.errors import ConfigError, KnobError

__all__ = [
    "KNOBS",
    "LIST_KNOBS",
    "GeneSpec",
    "Knob",
    "RangeConfig",
    "SpaceEntry",
    "check_range",
    "column_items",
    "register_knob",
]


T = TypeVar("T")


class SpaceEntry(BaseModel):
    """Base of a knob's entry in a structure-space file: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RangeConfig(SpaceEntry):
    """An inclusive integer range."""

    low: int = 0
    high: int

    @model_validator(mode="after")
    def _order(self) -> RangeConfig:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must be <= high ({self.high})")
        return self


def column_items(
    value: Any, knob: str, form: str, kind: Callable[[Any], T]
) -> tuple[tuple[int, T], ...]:
    """A per-column knob's value as a spec (``'3:1;5:2'``), a mapping or a sequence of
    pairs gives it → ``(column, kind(item))`` pairs; anything else is one
    :class:`~dse.errors.KnobError` line naming the knob and the expected ``form``."""
    bad = KnobError(f"knob {knob!r}: expected {form}, got {value!r}")
    if isinstance(value, Mapping):
        items: list[Any] = list(value.items())
    elif isinstance(value, str):
        items = []
        for part in value.replace(";", ",").split(","):
            text_col, sep, text_item = part.strip().partition(":")
            if not text_col and not sep:
                continue
            if not sep:
                raise bad
            items.append((text_col, text_item.strip()))
    elif isinstance(value, Sequence):
        items = list(value)
    else:
        raise bad
    pairs = []
    for item in items:
        try:
            col, x = item
            pairs.append((int(col), kind(x)))
        except (TypeError, ValueError):
            raise bad from None
    return tuple(pairs)


def check_range(where: str, fieldname: str, r: RangeConfig, lo: int, hi: int) -> None:
    """A range given in a space file must lie within ``lo..hi``."""
    if r.low < lo or r.high > hi:
        raise ConfigError(
            f"{where}: field {fieldname}: range {r.low}..{r.high} must lie within {lo}..{hi}"
        )


@dataclass(frozen=True)
class GeneSpec:
    """One gene a knob gives a structure space (``dse.search`` makes it a ``Gene``).

    Attributes:
        name: unique within the knob's genes, e.g. ``truncate`` or ``prune.3.2``.
        kind: ``bit`` (0/1), ``ordinal`` (``low..high``) or ``choice`` (one of ``choices``).
        low, high: the inclusive range; value ``low`` must leave the design unchanged.
        choices: labels of a ``choice`` gene.
        column: the product column the gene acts on (``None`` for global genes).
        payload: what :meth:`Knob.decode` needs to know about the gene (e.g. which
            partial product a ``prune`` bit stands for).
    """

    name: str
    kind: Literal["bit", "ordinal", "choice"]
    low: int = 0
    high: int = 1
    choices: tuple[str, ...] = ()
    column: int | None = None
    payload: Any = None


class Knob:
    """An approximation knob (see the module docstring for what to define)."""

    name: ClassVar[str]
    kind: ClassVar[Literal["matrix", "cell"]]
    list_valued: ClassVar[bool] = False
    #: the :class:`~dse.arith.MultiplierSpec` field a matrix knob sets, when it is not
    #: the knob's name (read back when a built graph is encoded into a space)
    spec_field: ClassVar[str | None] = None
    #: the type of the knob's entry under ``knobs:`` in a structure space; ``None``:
    #: the knob cannot be free in a space
    space_config: ClassVar[Any] = None
    #: the entry's value when the file does not give it (the knob is then not free)
    space_default: ClassVar[Any] = None
    #: the entry is written, even when not given, into a space's stored configuration
    #: (whose hash a study checks on resume): true of the knobs dse ships, whose
    #: stored studies hold it; a new knob leaves configurations that do not use it as
    #: they were
    listed_when_unset: ClassVar[bool] = False

    def parse(self, value: Any) -> Any:
        """A value as a spec string, YAML or Python gives it → the value applied."""
        return value

    def apply(self, graph: MultiplierGraph, value: Any) -> MultiplierGraph:
        """The graph with this knob applied alone (a matrix knob: its spec changes)."""
        if self.kind != "matrix":
            raise NotImplementedError(f"knob {self.name!r} does not define apply")
        return _rebuild(graph, self.name, **self.spec_changes(_spec(graph, self.name), value))

    def spec_changes(self, spec: MultiplierSpec, value: Any) -> dict[str, Any]:
        """Matrix knobs: the spec fields ``value`` sets on ``spec``."""
        raise NotImplementedError(f"knob {self.name!r} does not define spec_changes")

    def genes(self, base: MultiplierGraph, config: Any, where: str) -> list[GeneSpec]:
        """The genes of this knob in a structure space around ``base`` (``config``: its
        validated entry; ``where`` names the file in errors)."""
        raise NotImplementedError(f"knob {self.name!r} does not define genes")

    def decode(
        self,
        genes: Sequence[GeneSpec],
        values: Sequence[int],
        chosen: Mapping[str, Any],
        base: MultiplierGraph,
    ) -> Any | None:
        """The knob's value for its genes' ``values`` (``None``: leave it off).

        ``chosen`` holds the values decoded so far for the knobs registered before it.
        """
        raise NotImplementedError(f"knob {self.name!r} does not define decode")

    def encode(
        self, genes: Sequence[GeneSpec], value: Any, base: MultiplierGraph
    ) -> list[int] | None:
        """The genes' values that :meth:`decode` turns into ``value`` on ``base`` (the
        inverse of :meth:`decode`, used to seed a search with designs written as specs).

        ``value``: the knob's value as a spec or study file gives it (pass it through
        :meth:`parse`); it is the design's whole setting of the knob, including what
        ``base`` already applies (a space's fixed knobs). ``None`` (the default): the
        value cannot be expressed by these genes, and the design is outside the space.
        """
        return None

    def __call__(self, graph: MultiplierGraph, value: Any) -> MultiplierGraph:
        return self.apply(graph, value)


def _spec(graph: MultiplierGraph, knob: str) -> MultiplierSpec:
    """The spec a matrix knob rewrites (an error for graphs it cannot rewrite)."""
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
    """The graph rebuilt from its spec with ``changes``."""
    spec = _spec(graph, knob)
    try:
        new_spec = replace(spec, **changes)
    except ConfigError as exc:
        raise KnobError(f"knob {knob!r}: {exc}") from None
    return build(new_spec, graph.info.get("generator"))


#: Knobs by name, in the order :func:`~dse.arith.apply_knobs` applies them (and in
#: which their genes stand in a structure space's genome).
KNOBS: dict[str, Knob] = {}

#: Names of the list-valued knobs (kept in step with :data:`KNOBS`).
LIST_KNOBS: set[str] = set()


def register_knob(knob: Knob, *, replace: bool = False) -> Knob:
    """Make ``knob`` known to specs, ``apply_knobs`` and structure spaces."""
    name = getattr(knob, "name", "")
    if not name or not name.isidentifier():
        raise KnobError(f"a knob needs a name that is an identifier, got {name!r}")
    if getattr(knob, "kind", None) not in ("matrix", "cell"):
        raise KnobError(f"knob {name!r}: kind must be 'matrix' or 'cell'")
    if name in KNOBS and not replace:
        raise KnobError(f"knob {name!r} is already registered")
    if name in ("cells", "signed", "unsigned", "adder"):
        raise KnobError(f"knob name {name!r} is taken by the spec or space syntax")
    KNOBS[name] = knob
    LIST_KNOBS.discard(name)
    if knob.list_valued:
        LIST_KNOBS.add(name)
    return knob
