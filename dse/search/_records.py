"""What a study stores: the attribute names in one place, one trial as a typed record,
and an in-memory index of the recorded results.

Every evaluation is one Optuna trial. Its user attributes are a :class:`TrialRecord`
(who proposed the genome, the genome, the seed, the worker) followed by the
evaluation's own attributes (structural hash, hardware figures, accuracies,
feasibility; written by :class:`~dse.search._objectives.Evaluator`). The layout's
version is the study-level attribute :data:`FORMAT_ATTR` (:data:`SCHEMA`), so the
per-trial attributes carry no version key of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dse.search._genome import Genome

__all__ = [
    "ACCURACY",
    "ACCURACY_SOURCE",
    "BACKEND",
    "BACKEND_ATTR",
    "CHECKPOINT_ATTR",
    "CONFIG_ATTR",
    "ERROR",
    "EXACT_ATTR",
    "FAILED_BY",
    "FINETUNE",
    "FORMAT_ATTR",
    "GENERATION",
    "GENOME",
    "GENOME_KEY",
    "HW",
    "NETWORK_ATTR",
    "QUEUE_BATCH",
    "QUEUE_INDEX",
    "RETRY_HISTORY",
    "RETRY_OF",
    "SAMPLER_GENERATION",
    "SCHEMA",
    "SEED",
    "STRUCTURAL_HASH",
    "TRAM",
    "TRAM_DONE_ATTR",
    "TRAM_MOVES",
    "WORKER",
    "WORKER_PID",
    "StoredResult",
    "TrialIndex",
    "TrialRecord",
    "stage_done_attr",
]

#: Version of the stored layout (study attribute :data:`FORMAT_ATTR`).
SCHEMA = 1

# ------------------------------------------------------------- study attributes
CONFIG_ATTR = "dse:config"  # the validated study configuration (space embedded)
EXACT_ATTR = "dse:exact"  # the exact design's figures (reference of rel_power, hypervolume)
FORMAT_ATTR = "dse:format"  # SCHEMA
BACKEND_ATTR = "dse:backend"  # the back end's name and settings
CHECKPOINT_ATTR = "dse:pymoo:checkpoint"  # the NSGA-II algorithm after its last tell
TRAM_DONE_ATTR = "dse:tram:done"  # TRAM's sweep finished
#: the network's figures, measured once per study: float and exact-quantised accuracy,
#: operand histograms, each layer's MACs and whether it is approximated
NETWORK_ATTR = "dse:network"


def stage_done_attr(stage: int) -> str:
    """The study attribute marking pipeline stage ``stage`` finished."""
    return f"dse:stage:{stage}:done"


# ------------------------------------------------------ trial user attributes
BACKEND = "backend"  # the proposing back end's tag (``pymoo.nsga2``, ``optuna.tpe``, ``tram``)
GENOME = "genome"  # Genome.to_json()
GENOME_KEY = "genome_key"
WORKER = "worker"
WORKER_PID = "worker_pid"
SEED = "seed"
GENERATION = "generation"
ACCURACY_SOURCE = "accuracy_source"  # "backend": trained by the back end (TRAM), not reusable
RETRY_OF = "retry_of"  # a re-queued trial's original number
QUEUE_BATCH = "queue_batch"  # a queued trial's batch (see dse.search._queue)
QUEUE_INDEX = "queue_index"  # its place in the batch
TRAM = "tram"  # TRAM's λ, θ and phase figures of the design
TRAM_MOVES = "tram_moves"  # the move set TRAM mapped with
ERROR = "error"  # why a FAIL trial failed
# written by the evaluator
STRUCTURAL_HASH = "structural_hash"
HW = "hw"
ACCURACY = "accuracy"
FINETUNE = "finetune"

# ---------------------------------------------------- trial system attributes
RETRY_HISTORY = "dse:retry_history"
FAILED_BY = "dse:failed_by"
SAMPLER_GENERATION = "NSGAIISampler:generation"
SAMPLER3_GENERATION = "NSGAIIISampler:generation"

_RECORD_KEYS = (BACKEND, GENOME, GENOME_KEY, WORKER, WORKER_PID, SEED, GENERATION, ACCURACY_SOURCE)
_EXTRA_KEYS = (RETRY_OF, TRAM, TRAM_MOVES)


@dataclass
class TrialRecord:
    """The user attributes of one trial (see the module docstring).

    ``extra``: the back end's own attributes (TRAM's ``tram``/``tram_moves``, a
    retry's ``retry_of``); ``result``: the evaluation's attributes.
    """

    backend: str
    genome: Genome
    seed: int
    worker: int = 0
    worker_pid: int | None = None
    generation: int | None = None
    accuracy_source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def structural_hash(self) -> str | None:
        value = self.result.get(STRUCTURAL_HASH)
        return None if value is None else str(value)

    def header(self) -> dict[str, Any]:
        """The attributes known before the evaluation (written when the trial starts)."""
        attrs: dict[str, Any] = {
            BACKEND: self.backend,
            GENOME: self.genome.to_json(),
            GENOME_KEY: self.genome.key,
            WORKER: self.worker,
        }
        if self.worker_pid is not None:
            attrs[WORKER_PID] = self.worker_pid
        attrs[SEED] = self.seed
        if self.generation is not None:
            attrs[GENERATION] = self.generation
        attrs.update(self.extra)
        if self.accuracy_source is not None:
            attrs[ACCURACY_SOURCE] = self.accuracy_source
        return attrs

    def to_attrs(self) -> dict[str, Any]:
        """Every user attribute of the trial."""
        return {**self.header(), **self.result}

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> TrialRecord:
        """The record of a stored trial's user attributes (every stored layout so far)."""
        gen = attrs.get(GENERATION)
        pid = attrs.get(WORKER_PID)
        genome = attrs.get(GENOME)
        return cls(
            backend=str(attrs.get(BACKEND, "")),
            genome=Genome.from_json(genome) if genome else Genome.of(()),
            seed=int(attrs.get(SEED, 0)),
            worker=int(attrs.get(WORKER, 0)),
            worker_pid=None if pid is None else int(pid),
            generation=None if gen is None else int(gen),
            accuracy_source=attrs.get(ACCURACY_SOURCE),
            extra={k: v for k, v in attrs.items() if k in _EXTRA_KEYS},
            result={
                k: v for k, v in attrs.items() if k not in _RECORD_KEYS and k not in _EXTRA_KEYS
            },
        )


@dataclass(frozen=True)
class StoredResult:
    """A recorded evaluation as the back ends and the evaluator reuse it."""

    number: int
    record: TrialRecord
    values: tuple[float, ...]
    constraints: dict[str, float]


class TrialIndex:
    """Recorded COMPLETE trials by genome key, and the study's fine-tunes by structural
    hash.

    Updated with each trial this process records, and from the storage on a miss
    (other workers and earlier runs record into the same study); the first trial of a
    key wins, as a scan in trial order would find it.
    """

    def __init__(self) -> None:
        self._by_genome: dict[str, StoredResult] = {}
        self._finetuned: dict[str, StoredResult] = {}
        self._all: dict[int, StoredResult] = {}

    def __len__(self) -> int:
        return len(self._all)

    def add(self, result: StoredResult) -> None:
        if result.number in self._all:
            return
        self._all[result.number] = result
        record = result.record
        if record.genome.values:
            self._by_genome.setdefault(record.genome.key, result)
        h = record.structural_hash
        # a back end's own training (TRAM) is not the study's fine-tune
        if h is not None and ACCURACY in record.result and record.accuracy_source != "backend":
            self._finetuned.setdefault(h, result)

    def add_all(self, results: Iterable[StoredResult]) -> None:
        for r in sorted(results, key=lambda r: r.number):
            self.add(r)

    def by_genome(self, key: str) -> StoredResult | None:
        """The first recorded evaluation of the genome ``key``."""
        return self._by_genome.get(key)

    def finetune(self, design_hash: str) -> StoredResult | None:
        """The first trial whose study fine-tune trained the structure ``design_hash``."""
        return self._finetuned.get(design_hash)

    def results(self) -> list[StoredResult]:
        """Every indexed result, in trial order."""
        return [self._all[n] for n in sorted(self._all)]

    def knows(self, number: int) -> bool:
        return number in self._all
