"""Search spaces: which multiplier structures a study may visit, and their genome.

A space is read from ``search_spaces/*.yaml`` (schema in
:mod:`dse.search._space_config`, validated with pydantic; errors name the file and the
field). Two kinds:

* ``structure`` — a base multiplier from a generator (e.g. an 8x8 Dadda tree) and
  the knobs that are free: partial products that may be pruned (perforation:
  Zervakis et al., IEEE TVLSI 2016), truncation, compensation, broken-array levels,
  lower-part-OR bits (Mahdiani et al., IEEE TCAS-I 2010), per-column constant bits
  (``bias``) and carry-chain cuts of the final adder (``cut``; see
  :mod:`dse.arith._bias`, :mod:`dse.arith._cut`), and, per compressor cell (or per
  family and column), which approximate cells of its family it may become or which
  of its outputs may be tied to constant 0 (TRAM's move: Meng et al., DAC 2026).
* ``library`` — choose among a given set of existing multipliers (generator specs,
  gate-level Verilog, or LUTs with their metrics), the ALWANN setting (M. Mrazek, Z.
  Vasicek, L. Sekanina, M. A. Hanif, M. Shafique, "ALWANN: Automatic layer-wise
  approximation of deep neural network accelerators without retraining", ICCAD 2019).

Both kinds may give one multiplier per *layer group* (``groups:``); the genome is then
the concatenation of one sub-genome per group.

Decoding is deterministic. Matrix knobs (prune, truncate, compensate, bam, loa, bias,
cut) are applied first, because they rebuild the compressor tree; then cell knobs
address the rebuilt tree's cells by a stable position: *family, column, and index among
that family's cells of that column in topological order* (or, with ``cells.per:
column``, family and column: one gene for all those cells). The slots are taken from the
base graph, so the genome has a fixed length; a slot with no cell after pruning is
ignored, and cells beyond the base graph's count stay exact.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dse.errors import ConfigError
from dse.search._genome import Gene, Genome

if TYPE_CHECKING:
    from dse.design import Design
    from dse.search._space_config import GroupConfig

__all__ = ["Space"]


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

    def encode(self, design: Any) -> Genome:
        """The genome of a design (or one per layer group) given in the space's own terms
        (a spec for a structure space, an entry's name for a library); the inverse of
        :meth:`decode`. Raises :class:`ConfigError` when the design is outside the space."""
        raise ConfigError(f"space {self.name!r} ({type(self).__name__}) cannot encode designs")

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
