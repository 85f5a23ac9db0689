"""Pareto local search around the study's front: the memetic step after a global search.

A memetic algorithm follows a population search with individual improvement by local
moves (P. Moscato, "On evolution, search, optimization, genetic algorithms and martial
arts: towards memetic algorithms", Caltech C3P report 826, 1989). NSGA-II explores
widely but polishes little; libraries of approximate multipliers come from millions of
small moves. This back end is Pareto local search (L. Paquete, M. Chiarandini,
T. Stützle, "Pareto local optimum sets in the bi-objective traveling salesman problem:
an experimental study", in *Metaheuristics for Multiobjective Optimisation*, LNEMS
535, Springer 2004):

* the **archive** is the study's feasible non-dominated designs (every back end's,
  so in a pipeline it starts from NSGA-II's front), plus the feasible ``seed_from``
  designs; a neighbour that no recorded design dominates is non-dominated itself, so
  it joins the archive and is explored in turn, and a member it dominates leaves;
* a member's **neighbourhood** is its single-gene moves (``flip`` a bit, ``step`` an
  ordinal gene by ±1, another ``choice`` of a choice gene) and ``pairs`` random
  two-gene moves, in an order drawn from the study's seed and the member's genome,
  cut to ``evals_per_design``; each neighbour is repaired as NSGA-II's children are
  (genes a truncation makes irrelevant are reset);
* each batch takes one new neighbour of every unexplored member in turn, the most
  isolated members first (largest crowding distance, the front's two ends before
  all, as NSGA-II's selection prefers them): the search fills the front's gaps, and
  a gap it fills lowers its members' turn; genomes (and structures, by structural
  hash) the study has recorded are skipped;
* a member is **explored** when its neighbourhood is recorded; the search ends when
  every member is explored, or with the budget.

Nothing is kept outside the storage: the archive, the neighbourhoods and which of
them are recorded are recomputed from the study's trials at every batch, so a
resumed study (or another worker) continues where the last batch stopped, and a run
is deterministic for a seed.

Alone, the search starts from the exact design and the seeds.

Netlist-level moves (removing or replacing a gate, reconnecting an input, as in
Cartesian genetic programming) are left out on purpose: a design reached that way is
not a genome of the space, so it could not be stored as one, decoded again on resume,
exported, or fine-tuned by name, and its netlist could not be regenerated from the
study. Every design this back end proposes is a genome, decoded like any other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from dse.errors import ConfigError, DseError
from dse.search._backends._base import Backend, Proposal, Session
from dse.search._backends._pymoo_nsga2 import canonical
from dse.search._backends._seeding import SeedSources
from dse.search._genome import Genome

if TYPE_CHECKING:
    from dse.search._records import StoredResult, TrialIndex

__all__ = ["MOVES", "LocalSearch"]

#: The kinds of moves: bit flip, ±1 on an ordinal gene, another option of a choice
#: gene, two single moves at once.
MOVES = ("flip", "step", "choice", "pair")


def _int_option(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


class LocalSearch(Backend):
    """Pareto local search over the genome (see the module docstring).

    Options:
        evals_per_design: neighbours of one archive member evaluated at most (>= 1).
        moves: the kinds of moves, a subset of ``flip``, ``step``, ``choice``, ``pair``.
        pairs: two-gene moves per member (with ``pair``; >= 0).
        batch_size: genomes per batch (evaluated together, by the study's workers).
        max_front: explore at most this many members of the front, evenly spread along
            it (``None``: all).
        seed_from: designs to start from besides the study's front (as ``nsga2``'s:
            back ends, ``study:NAME``, specs, ``entry:NAME``; a back end's or a study's
            feasible non-dominated designs). They are evaluated first when not recorded
            and stay in the archive, dominated or not.
    """

    name: ClassVar[str] = "local"
    generational: ClassVar[bool] = True

    def __init__(
        self,
        *,
        evals_per_design: int = 200,
        moves: str | Sequence[str] = MOVES,
        pairs: int = 16,
        batch_size: int = 32,
        max_front: int | None = None,
        seed_from: str | Sequence[str] | None = None,
    ) -> None:
        self.evals_per_design = _int_option("evals_per_design", evals_per_design, 1)
        kinds = (moves,) if isinstance(moves, str) else tuple(moves)
        unknown = [m for m in kinds if m not in MOVES]
        if not kinds or unknown:
            raise ConfigError(
                f"moves: {unknown[0]!r} is not a move; give some of {', '.join(MOVES)}"
                if unknown
                else f"moves: give at least one of {', '.join(MOVES)}"
            )
        if len(set(kinds)) != len(kinds):
            raise ConfigError(f"moves: each kind once, got {list(kinds)}")
        self.moves = tuple(m for m in MOVES if m in kinds)
        self.pairs = _int_option("pairs", pairs, 0)
        self.batch_size = _int_option("batch_size", batch_size, 1)
        self.max_front = None if max_front is None else _int_option("max_front", max_front, 1)
        self.seeds = SeedSources.of(seed_from)
        self._state: _Run | None = None

    def settings(self) -> dict[str, Any]:
        return {
            "evals_per_design": self.evals_per_design,
            "moves": list(self.moves),
            "pairs": self.pairs,
            "batch_size": self.batch_size,
            "max_front": self.max_front,
            "seed_from": list(self.seeds.items),
        }

    # ------------------------------------------------------------ ask/tell
    def _run(self, session: Session) -> _Run:
        """This session's start designs and caches (the search state is the storage)."""
        if self._state is not None and self._state.session is session:
            return self._state
        seeds = self.seeds.genomes(session, front_only=True)
        start = [(g.key, g) for g in (session.space.exact_genome(), *seeds)]
        self._state = _Run(session, start, seeds)
        return self._state

    def ask(self, session: Session, n: int) -> list[Proposal]:
        """The next batch: the start designs not yet recorded, else one new neighbour
        per unexplored archive member in turn, the most isolated members first; none
        when all are explored."""
        run = self._run(session)
        index = session.refresh_index()
        run.learn(index)
        batch = _Batch(run, min(n, self.batch_size))
        for key, genome in run.start:
            batch.take(key, genome)
        if batch.genomes:
            return [Proposal(g) for g in batch.genomes]
        members = self._archive(session, run, index)
        # the order is a function of the storage alone, so a resume goes on alike; a
        # member whose neighbours are all known (explored) drops out of the passes
        order = sorted(range(len(members)), key=lambda k: (-members[k][1], k))
        walks = [iter(self._neighbours(session, run, members[k][0])) for k in order]
        while walks and not batch.full():
            walks = [w for w in walks if _next_into(w, batch)]
        return [Proposal(g) for g in batch.genomes]

    # ------------------------------------------------------------ the archive
    def _archive(
        self, session: Session, run: _Run, index: TrialIndex
    ) -> list[tuple[Genome, float]]:
        """Feasible non-dominated recorded designs (one per structure) with their
        crowding distance (Deb et al. 2002), sorted along the front and cut to
        ``max_front`` evenly; then the feasible seeds not among them."""
        from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance
        from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

        width = len(session.space.genes)
        pool: dict[str, StoredResult] = {}
        for r in index.results():
            g = r.record.genome
            if len(g) == width and all(v <= 0 for v in r.constraints.values()):
                pool.setdefault(r.record.structural_hash or g.key, r)
        results = list(pool.values())
        members: list[tuple[Genome, float]] = []
        if results:
            ev = session.evaluator
            F = np.asarray([ev.minimization_matrix(r.values) for r in results], float)
            front = NonDominatedSorting().do(F, only_non_dominated_front=True)
            order = sorted(
                (int(i) for i in front), key=lambda i: (tuple(F[i]), results[i].record.genome.key)
            )
            if self.max_front is not None and len(order) > self.max_front:
                picks = np.linspace(0, len(order) - 1, self.max_front).round().astype(int)
                order = [order[k] for k in dict.fromkeys(int(p) for p in picks)]
            crowding = calc_crowding_distance(F[order]) if len(order) > 2 else [np.inf] * len(order)
            members = [
                (results[i].record.genome, float(c)) for i, c in zip(order, crowding, strict=True)
            ]
        keys = {g.key for g, _ in members}
        for seed in run.seeds:
            found = index.by_genome(seed.key)
            if (
                found is not None
                and seed.key not in keys
                and all(v <= 0 for v in found.constraints.values())
            ):
                members.append((seed, np.inf))
                keys.add(seed.key)
        return members

    # ------------------------------------------------------------ neighbourhoods
    def _neighbours(self, session: Session, run: _Run, member: Genome) -> list[_Keyed]:
        """The member's neighbourhood in its fixed order (computed once per member)."""
        if member.key not in run.neighbours:
            run.neighbours[member.key] = self._neighbourhood(session, member)
        return run.neighbours[member.key]

    def _neighbourhood(self, session: Session, member: Genome) -> list[_Keyed]:
        space = session.space
        digest = hashlib.blake2b(f"{session.seed}:{member.key}".encode(), digest_size=8)
        rng = np.random.default_rng(int.from_bytes(digest.digest(), "little"))
        singles: list[dict[int, int]] = []
        for i, gene in enumerate(space.genes):
            v = member[i]
            if gene.kind == "bit" and "flip" in self.moves:
                singles.append({i: 1 - v})
            elif gene.kind == "ordinal" and "step" in self.moves:
                singles.extend({i: v + d} for d in (-1, 1) if gene.low <= v + d <= gene.high)
            elif gene.kind == "choice" and "choice" in self.moves:
                singles.extend({i: c} for c in range(gene.low, gene.high + 1) if c != v)
        pairs: list[dict[int, int]] = []
        if "pair" in self.moves and len(singles) >= 2:
            for _ in range(self.pairs):
                a, b = (int(x) for x in rng.choice(len(singles), 2, replace=False))
                if not singles[a].keys() & singles[b].keys():
                    pairs.append({**singles[a], **singles[b]})
        shuffled = [singles[int(k)] for k in rng.permutation(len(singles))]
        keep = self.evals_per_design - min(len(pairs), self.evals_per_design)
        moves = shuffled[:keep] + pairs[: self.evals_per_design - min(keep, len(shuffled))]
        moves = [moves[int(k)] for k in rng.permutation(len(moves))]
        out: dict[str, Genome] = {}
        for change in moves:
            g = canonical(space, member.replace(change))
            out.setdefault(g.key, g)
        out.pop(member.key, None)
        return list(out.items())


#: A genome with its key (computed once: a key is a hash of the genome's JSON).
_Keyed = tuple[str, Genome]


def _next_into(walk: Iterator[_Keyed], batch: _Batch) -> bool:
    """Put the walk's next new genome into the batch; False when the walk is spent
    (or the batch full)."""
    return not batch.full() and any(batch.take(key, genome) for key, genome in walk)


@dataclass
class _Run:
    """A session's start designs and caches of what the storage says (read anew at
    every batch: :meth:`learn`)."""

    session: Any
    start: list[_Keyed]
    seeds: list[Genome]
    neighbours: dict[str, list[_Keyed]] = field(default_factory=dict)
    hashes: dict[str, str | None] = field(default_factory=dict)
    known_keys: set[str] = field(default_factory=set)
    known_hashes: set[str] = field(default_factory=set)
    seen: set[int] = field(default_factory=set)

    def learn(self, index: TrialIndex) -> None:
        """Note the genomes and structures of the trials recorded since the last batch."""
        for r in index.results():
            if r.number not in self.seen:
                self.seen.add(r.number)
                self.known_keys.add(r.record.genome.key)
                if r.record.structural_hash:
                    self.known_hashes.add(r.record.structural_hash)

    def structural_hash(self, key: str, genome: Genome) -> str | None:
        """The decoded structure's hash (``None``: the genome does not decode)."""
        if key not in self.hashes:
            space = self.session.space
            try:
                self.hashes[key] = space.design_hash(space.decode(genome))
            except DseError:
                self.hashes[key] = None
        return self.hashes[key]


class _Batch:
    """Genomes to evaluate next: none the study has recorded (by genome or by
    structure), none twice."""

    def __init__(self, run: _Run, size: int) -> None:
        self.run = run
        self.size = size
        self.genomes: list[Genome] = []
        self.keys: set[str] = set()
        self.hashes: set[str] = set()

    def full(self) -> bool:
        return len(self.genomes) >= self.size

    def take(self, key: str, genome: Genome) -> bool:
        """Add ``genome`` unless the batch is full, it is known (its genome or its
        structure is recorded or in the batch) or it does not decode; True when added."""
        if self.full() or key in self.keys or key in self.run.known_keys:
            return False
        h = self.run.structural_hash(key, genome)
        if h is None or h in self.hashes or h in self.run.known_hashes:
            return False
        self.keys.add(key)
        self.hashes.add(h)
        self.genomes.append(genome)
        return True
