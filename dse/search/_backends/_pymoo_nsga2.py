"""pymoo NSGA-II with structure-aware operators, driven by ask/tell.

NSGA-II: K. Deb, A. Pratap, S. Agarwal, T. Meyarivan, "A fast and elitist
multiobjective genetic algorithm: NSGA-II", IEEE TEVC 6(2), 2002 (constrained
domination for the constraints). pymoo (J. Blank, K. Deb, IEEE Access 2020) keeps
the population and the selection; dse supplies

* a sampling that starts from the exact design and spreads approximations with a
  varying density (most random genomes of a perforation space are useless);
* a mutation that edits the structure through its knobs: flip a partial product,
  change a cell's type, move a truncation / LOA point by a small step;
* a crossover that exchanges a range of product columns between two parents (the
  genes of columns ``c1..c2``: partial products and cells) and repairs the children
  (genes that a truncation makes irrelevant are reset, so equal structures get
  equal genomes);
* duplicate elimination by the decoded structure's hash.

The study's session runs the loop (ask → evaluate, through the study's queue when
workers are attached → tell);
every evaluation is an Optuna trial. The algorithm is checkpointed into the study
(user attr ``dse:pymoo:checkpoint``) every :data:`CHECKPOINT_EVERY` generations and
after each generation once the budget left is one generation or less (or the time is
up), so a resumed study continues the generation count. The study is also the
evaluation cache: a genome already recorded is never evaluated again, so the
generations told after the last checkpoint (a run killed or stopped inside a
generation) are replayed on resume from their recorded trials, with the random state
they had, without an evaluation.
"""

from __future__ import annotations

import base64
import io
import pickle
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pymoo.core.crossover import Crossover
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.mutation import Mutation
from pymoo.core.repair import Repair
from pymoo.core.sampling import Sampling

from dse.errors import ConfigError, StudyStateError
from dse.search._backends._base import Backend, Proposal, Result, Session
from dse.search._backends._seeding import SeedSources
from dse.search._genome import Gene, Genome
from dse.search._records import CHECKPOINT_ATTR, SAMPLER_GENERATION

if TYPE_CHECKING:
    from dse.search._space import Space

__all__ = [
    "CanonicalRepair",
    "ColumnRangeCrossover",
    "GenomeSampling",
    "PymooNSGA2",
    "StructuralDuplicateElimination",
    "StructuralHash",
    "StructureMutation",
    "canonical",
]


def canonical(space: Space, genome: Genome) -> Genome:
    """Repair: reset genes that a truncation makes irrelevant (pruned bits and cell
    choices in truncated columns), so one structure has one genome."""
    names = [g.name for g in space.genes]
    changes: dict[int, int] = {}
    for group in range(len(space.group_names)):
        prefix = "" if len(space.group_names) == 1 else f"{space.group_names[group]}."
        try:
            t = genome[names.index(prefix + "truncate")]
        except ValueError:
            continue
        for i, g in enumerate(space.genes):
            if (
                g.group == group
                and g.column is not None
                and g.column < t
                and genome[i] != space.default_value(i)
            ):
                changes[i] = space.default_value(i)
    return genome.replace(changes) if changes else genome


class CanonicalRepair(Repair):
    """pymoo repair to :func:`canonical` genomes (``genome`` repairs one)."""

    def __init__(self, space: Space) -> None:
        super().__init__()
        self.space = space

    def genome(self, genome: Genome) -> Genome:
        return canonical(self.space, genome)

    def _do(self, problem: Any, X: np.ndarray, **kwargs: Any) -> np.ndarray:
        Y = np.full_like(X, None, dtype=object)
        for k in range(len(X)):
            Y[k, 0] = self.genome(X[k, 0])
        return Y


class StructuralHash:
    """A genome's decoded structural hash (remembered per genome).

    The duplicate check asks for the same genomes many times per generation (each
    candidate against the population), so the latest ones are also looked up by their
    values, which costs less than a genome's ``key`` (a hash of its JSON)."""

    _RECENT = 4096

    def __init__(self, space: Space) -> None:
        self.space = space
        self._hashes: dict[str, str] = {}
        self._recent: dict[tuple[int, ...], str] = {}

    def __call__(self, genome: Genome) -> str:
        found = self._recent.get(genome.values)
        if found is not None:
            return found
        key = genome.key
        if key not in self._hashes:
            self._hashes[key] = self.space.design_hash(self.space.decode(genome))
        if len(self._recent) >= self._RECENT:
            del self._recent[next(iter(self._recent))]  # the oldest
        self._recent[genome.values] = self._hashes[key]
        return self._hashes[key]


class GenomeSampling(Sampling):
    """Initial population: the exact design, then the seeds (designs of an earlier back
    end, ``seed_from``), then random genomes of density ~U(lo, hi)."""

    def __init__(
        self,
        genes: Sequence[Gene],
        defaults: Sequence[int],
        density: tuple[float, float],
        seeds: Sequence[Genome] = (),
    ) -> None:
        super().__init__()
        self.genes = tuple(genes)
        self.defaults = tuple(defaults)
        self.density = density
        self.seeds = tuple(seeds)

    def _do(
        self,
        problem: Any,
        n_samples: int,
        *args: Any,
        random_state: np.random.Generator | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        rng = random_state if random_state is not None else np.random.default_rng()
        X = np.full((n_samples, 1), None, dtype=object)
        X[0, 0] = Genome.of(self.defaults)
        seeds = [g for g in getattr(self, "seeds", ()) if g.values != self.defaults]
        for k, g in enumerate(seeds[: n_samples - 1], start=1):
            X[k, 0] = g
        lo, hi = self.density
        for k in range(1 + min(len(seeds), n_samples - 1), n_samples):
            d = rng.uniform(lo, hi)
            vals = [
                int(rng.integers(g.low, g.high + 1)) if rng.random() < d else self.defaults[i]
                for i, g in enumerate(self.genes)
            ]
            X[k, 0] = Genome.of(vals)
        return X


class ColumnRangeCrossover(Crossover):
    """Two parents → two children exchanging the genes of a random column range."""

    def __init__(
        self,
        genes: Sequence[Gene],
        width_p: int,
        prob: float = 0.9,
        canonicalize: CanonicalRepair | None = None,
    ) -> None:
        super().__init__(n_parents=2, n_offsprings=2, prob=prob)
        self.genes = tuple(genes)
        self.width_p = width_p
        # applied to each child here, not as pymoo's operator repair (which would also
        # change the parents copied through by matings that do not cross)
        self.canonicalize = canonicalize

    def _do(
        self,
        problem: Any,
        X: np.ndarray,
        *args: Any,
        random_state: np.random.Generator | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        rng = random_state if random_state is not None else np.random.default_rng()
        _, n_matings, _ = X.shape
        Y = np.full((2, n_matings, 1), None, dtype=object)
        for k in range(n_matings):
            a, b = X[0, k, 0].values, X[1, k, 0].values
            c1, c2 = sorted(int(c) for c in rng.integers(0, self.width_p, 2))
            ca, cb = list(a), list(b)
            for i, g in enumerate(self.genes):
                swap = (c1 <= g.column <= c2) if g.column is not None else rng.random() < 0.5
                if swap:
                    ca[i], cb[i] = b[i], a[i]
            Y[0, k, 0], Y[1, k, 0] = Genome.of(ca), Genome.of(cb)
            if self.canonicalize is not None:
                Y[0, k, 0] = self.canonicalize.genome(Y[0, k, 0])
                Y[1, k, 0] = self.canonicalize.genome(Y[1, k, 0])
        return Y


class StructureMutation(Mutation):
    """Knob-level edits: flip a partial product, change a cell's type, move a point.

    Each gene mutates with probability ``rate / n_genes`` (at least one gene per child).
    """

    def __init__(
        self, genes: Sequence[Gene], rate: float = 1.0, canonicalize: CanonicalRepair | None = None
    ) -> None:
        super().__init__(prob=1.0)
        self.genes = tuple(genes)
        self.rate = rate
        self.canonicalize = canonicalize

    def _do(
        self,
        problem: Any,
        X: np.ndarray,
        *args: Any,
        random_state: np.random.Generator | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        rng = random_state if random_state is not None else np.random.default_rng()
        n = len(self.genes)
        p = min(1.0, self.rate / n)
        Y = np.full_like(X, None, dtype=object)
        for k in range(len(X)):
            vals = list(X[k, 0].values)
            hits = np.flatnonzero(rng.random(n) < p)
            if hits.size == 0:
                hits = np.array([rng.integers(n)])
            for i in hits:
                g = self.genes[int(i)]
                v = vals[i]
                if g.kind == "bit":
                    v = 1 - v
                elif g.kind == "ordinal":
                    step = int(rng.choice([-2, -1, 1, 2]))
                    v = int(np.clip(v + step, g.low, g.high))
                elif g.size > 1:
                    v = int(rng.choice([c for c in range(g.low, g.high + 1) if c != v]))
                vals[i] = v
            Y[k, 0] = Genome.of(vals)
            if self.canonicalize is not None:
                Y[k, 0] = self.canonicalize.genome(Y[k, 0])
        return Y


class StructuralDuplicateElimination(DuplicateElimination):
    """Duplicates are genomes that decode to the same structure (structural hash)."""

    def __init__(self, key: Callable[[Genome], str] | None = None) -> None:
        super().__init__()
        self.key = key

    def _key(self, genome: Genome) -> str:
        return self.key(genome) if self.key is not None else genome.key

    def _do(self, pop: Any, other: Any, is_duplicate: np.ndarray) -> np.ndarray:
        seen = set() if other is None else {self._key(ind.X[0]) for ind in other}
        for i, ind in enumerate(pop):
            k = self._key(ind.X[0])
            is_duplicate[i] = k in seen
            seen.add(k)
        return is_duplicate


#: Generations told between two checkpoints. Pickling the population costs a few
#: milliseconds, a tenth of a generation of cheap (hardware-only) evaluations; the
#: replay of up to this many recorded generations on resume costs their operators only.
CHECKPOINT_EVERY = 10


class PymooNSGA2(Backend):
    """pymoo NSGA-II over the genome with structure-aware operators.

    Options:
        population_size: individuals per generation (>= 4).
        crossover_prob: probability that a mating uses the column-range crossover.
        mutation_rate: expected number of mutated genes per child (>= 0.1).
        init_density: ``[lo, hi]`` range of the fraction of genes the initial random
            genomes change.
        seed_from: where the initial population starts (at most ``population_size - 1``
            designs, after the exact design): back-end name(s) (e.g. ``tram``, whose
            recorded designs come non-dominated feasible first, then by rank),
            ``study:NAME`` (another study's front), design specs
            (``dadda:8,truncate=3``) or ``entry:NAME`` (a library entry); see
            :mod:`dse.search._backends._seeding`. Designs already recorded are reused,
            not re-evaluated. Typical in a pipeline after ``tram``.
    """

    name: ClassVar[str] = "nsga2"
    generational: ClassVar[bool] = True

    def __init__(
        self,
        *,
        population_size: int = 40,
        crossover_prob: float = 0.9,
        mutation_rate: float = 1.0,
        init_density: Sequence[float] = (0.02, 0.4),
        seed_from: str | Sequence[str] | None = None,
    ) -> None:
        if not isinstance(population_size, int) or population_size < 4:
            raise ConfigError(f"population_size must be an integer >= 4, got {population_size!r}")
        if not 0 <= float(crossover_prob) <= 1:
            raise ConfigError(f"crossover_prob must be in [0, 1], got {crossover_prob!r}")
        if not float(mutation_rate) >= 0.1:
            raise ConfigError(f"mutation_rate must be >= 0.1, got {mutation_rate!r}")
        dens = tuple(float(x) for x in init_density)
        if len(dens) != 2 or not 0 <= dens[0] <= dens[1] <= 1:
            raise ConfigError(
                f"init_density must be [lo, hi] with 0 <= lo <= hi <= 1, got {init_density!r}"
            )
        self.seeds = SeedSources.of(seed_from)
        self.seed_from = self.seeds.items
        self.population_size = population_size
        self.crossover_prob = float(crossover_prob)
        self.mutation_rate = float(mutation_rate)
        self.init_density = dens
        self._state: _Run | None = None

    @property
    def tag(self) -> str:
        return "pymoo.nsga2"

    def settings(self) -> dict[str, Any]:
        return {
            "population_size": self.population_size,
            "crossover_prob": self.crossover_prob,
            "mutation_rate": self.mutation_rate,
            "init_density": list(self.init_density),
            "seed_from": list(self.seed_from),
        }

    # ------------------------------------------------------------ algorithm
    def _algorithm(
        self,
        space: Space,
        n_obj: int,
        n_constr: int,
        seed: int,
        tools: _Tools,
        seeds: Sequence[Genome] = (),
    ) -> Any:
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.core.problem import Problem
        from pymoo.core.termination import NoTermination

        defaults = [space.default_value(i) for i in range(len(space.genes))]
        width_p = space.width_a + space.width_b
        alg = NSGA2(
            pop_size=self.population_size,
            sampling=GenomeSampling(space.genes, defaults, self.init_density, seeds),
            crossover=ColumnRangeCrossover(
                space.genes, width_p, prob=self.crossover_prob, canonicalize=tools.repair
            ),
            mutation=StructureMutation(
                space.genes, rate=self.mutation_rate, canonicalize=tools.repair
            ),
            eliminate_duplicates=StructuralDuplicateElimination(key=tools.structural_hash),
        )
        problem = Problem(n_var=1, n_obj=n_obj, n_ieq_constr=max(1, n_constr), vtype=object)
        alg.setup(problem, termination=NoTermination(), seed=seed)
        return alg

    @staticmethod
    def save(study: Any, alg: Any, tools: _Tools) -> None:
        """Checkpoint the algorithm into the study (the repair and the hash, which hold
        the space, are stored as references to the session's own)."""
        buf = io.BytesIO()
        _Pickler(buf, tools).dump(alg)
        blob = base64.b64encode(zlib.compress(buf.getvalue(), 6)).decode()
        study.set_user_attr(CHECKPOINT_ATTR, {"generation": int(alg.n_gen), "data": blob})

    @staticmethod
    def load(study: Any, tools: _Tools) -> Any | None:
        ck = study.user_attrs.get(CHECKPOINT_ATTR)
        if not ck:
            return None
        try:
            data = zlib.decompress(base64.b64decode(ck["data"]))
            alg = _Unpickler(io.BytesIO(data), tools).load()
        except Exception as exc:  # a corrupt attr must not silently restart the search
            raise StudyStateError(
                f"the NSGA-II checkpoint in the study cannot be read: {exc}"
            ) from None
        _upgrade(alg, tools)
        return alg

    # ------------------------------------------------------------ ask/tell
    def _run(self, session: Session) -> _Run:
        """This session's algorithm and evaluation cache (read from the study once)."""
        if self._state is not None and self._state.session is session:
            return self._state
        space, ev = session.space, session.evaluator
        tools = _Tools(CanonicalRepair(space), StructuralHash(space))
        alg = self.load(session.study, tools)
        if alg is None:
            seeds = self.seeds.genomes(session, self.population_size - 1)
            alg = self._algorithm(
                space, len(ev.objectives), len(ev.constraints), session.seed, tools, seeds
            )
        cache = {
            r.record.genome.key: (list(r.values), dict(r.constraints))
            for r in session.refresh_index().results()
            if r.record.genome.values
        }
        self._state = _Run(session, alg, tools, cache)
        return self._state

    def ask(self, session: Session, n: int) -> list[Proposal]:
        """The next generation's genomes not yet recorded (each once), at most ``n``.
        A generation recorded entirely already is told at once."""
        run = self._run(session)
        if run.over:
            return []
        while True:
            pop = run.alg.ask()
            gen = int(run.alg.n_gen)
            genomes = [ind.X[0] for ind in pop]
            # the same genome twice in a generation is evaluated once
            unique: dict[str, Genome] = {}
            for g in genomes:
                if g.key not in run.cache:
                    unique.setdefault(g.key, g)
            batch = list(unique.values())
            run.pending = _Generation(pop, genomes, truncated=len(batch) > n)
            if batch:
                return [
                    Proposal(g, generation=gen, system_attrs={SAMPLER_GENERATION: gen - 1})
                    for g in batch[:n]
                ]
            self._tell_generation(session, run)

    def tell(
        self, session: Session, proposals: Sequence[Proposal], results: Sequence[Result]
    ) -> None:
        run = self._run(session)
        pending = run.pending
        assert pending is not None
        for res in results:
            run.cache[res.genome.key] = (list(res.values), dict(res.constraints))
        if pending.truncated or any(g.key not in run.cache for g in pending.genomes):
            # budget or time met inside a generation: the checkpoint stays at the last tell
            run.over = True
            return
        self._tell_generation(session, run)

    def _tell_generation(self, session: Session, run: _Run) -> None:
        from pymoo.core.evaluator import Evaluator as PymooEvaluator
        from pymoo.problems.static import StaticProblem

        pending = run.pending
        assert pending is not None
        ev = session.evaluator
        n_obj, n_con = len(ev.objectives), len(ev.constraints)
        F = np.zeros((len(pending.pop), n_obj))
        G = np.zeros((len(pending.pop), max(1, n_con)))
        for i, g in enumerate(pending.genomes):
            F[i], G[i] = _fg(run.cache[g.key], ev, n_con)
        PymooEvaluator().eval(StaticProblem(run.alg.problem, F=F, G=G), pending.pop)
        run.alg.tell(infills=pending.pop)
        run.pending = None
        run.unsaved += 1
        # the last generation the budget allows may be the next one (it may stop inside
        # it): checkpoint now, so a run that ends on its budget leaves the state of its
        # last tell, as a resume with a larger budget continues from it
        if run.unsaved >= CHECKPOINT_EVERY or session.remaining() <= self.population_size:
            self.save(session.study, run.alg, run.tools)
            run.unsaved = 0


@dataclass
class _Tools:
    """The operators' helpers that hold the space (the session's, never pickled)."""

    repair: CanonicalRepair
    structural_hash: StructuralHash


@dataclass
class _Generation:
    pop: Any
    genomes: list[Genome]
    truncated: bool


@dataclass
class _Run:
    session: Any
    alg: Any
    tools: _Tools
    cache: dict[str, tuple[list[float], dict[str, float]]] = field(default_factory=dict)
    pending: _Generation | None = None
    over: bool = False
    #: generations told since the last checkpoint
    unsaved: int = 0


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, tools: _Tools) -> None:
        super().__init__(file)
        self._refs = {id(tools.repair): "repair", id(tools.structural_hash): "structural_hash"}

    def persistent_id(self, obj: Any) -> str | None:
        return self._refs.get(id(obj))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, tools: _Tools) -> None:
        super().__init__(file)
        self._refs = {"repair": tools.repair, "structural_hash": tools.structural_hash}

    def persistent_load(self, pid: Any) -> Any:
        return self._refs[str(pid)]


def _upgrade(alg: Any, tools: _Tools) -> None:
    """Give a checkpoint of the first stored layout (operators without their repair and
    hash, which were set after loading) the session's repair and hash."""
    for op in (alg.mating.crossover, alg.mating.mutation):
        if "repair_fn" in op.__dict__:
            del op.__dict__["repair_fn"]
            op.canonicalize = tools.repair
    for dedup in (alg.mating.eliminate_duplicates, alg.eliminate_duplicates):
        if "hash_fn" in dedup.__dict__:
            del dedup.__dict__["hash_fn"]
            dedup.key = tools.structural_hash


def _fg(
    res: tuple[list[float], dict[str, float]], ev: Any, n_con: int
) -> tuple[np.ndarray, np.ndarray]:
    values, constraints = res
    f = np.asarray(ev.minimization_matrix(values), float)
    g = np.asarray([constraints[c.name] for c in ev.constraints], float) if n_con else np.zeros(1)
    return f, g
