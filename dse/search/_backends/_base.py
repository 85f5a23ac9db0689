"""What a back end is, and what it gets from the session that runs it.

The session owns the loop (as :meth:`optuna.study.Study.optimize` does): it keeps
the budget and the time limit, runs the evaluations (in worker processes when asked),
their heartbeats and the progress, and records every evaluation as a trial. A back
end only proposes genomes (:meth:`Backend.ask`) and learns from their results
(:meth:`Backend.tell`); what it must keep across a crash it writes to the study's
storage.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    import optuna

    from dse.search._genome import Genome
    from dse.search._objectives import Evaluation, Evaluator
    from dse.search._records import TrialIndex
    from dse.search._space import Space

__all__ = ["Backend", "DrivingBackend", "Proposal", "Result", "Session"]


@dataclass
class Proposal:
    """A genome a back end wants evaluated, with what to record beside it.

    Attributes:
        genome: the candidate.
        generation: the back end's generation count (user attr ``generation``).
        attrs: further user attributes of the back end (TRAM's λ, a retry's origin).
        system_attrs: system attributes of the trial.
        accuracy: accuracies the back end trained itself (see
            :meth:`~dse.search._objectives.Evaluator.evaluate`); the study's fine-tune
            is skipped.
        trial: a trial the back end's Optuna sampler has already opened for it (it is
            then completed rather than created); ``None`` for most back ends.
    """

    genome: Genome
    generation: int | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)
    accuracy: Mapping[str, Any] | None = None
    trial: Any = None


@dataclass(frozen=True)
class Result:
    """The recorded evaluation of a proposal: objective values and constraint values."""

    genome: Genome
    values: tuple[float, ...]
    constraints: dict[str, float]


class Session(Protocol):
    """What a back end gets from the session (one per process).

    Attributes:
        study: the Optuna study (storage-backed), with the back end's sampler when it
            has one.
        space, evaluator: the search space and the staged evaluator.
        seed: the study's seed (worker ``k`` of an Optuna back end adds ``k``).
        worker_index: this process's worker number.
        index: the results recorded so far (see :meth:`refresh_index`).
        storage_url: the URL of the study's storage (to read other studies in it).
    """

    study: optuna.Study
    space: Space
    evaluator: Evaluator
    seed: int
    worker_index: int
    index: TrialIndex
    storage_url: str

    def should_stop(self) -> bool:
        """True when the trial budget is met (COMPLETE trials, plus RUNNING ones) or time is up."""

    def remaining(self) -> int:
        """Evaluations still allowed by the budget (a large number without a trial budget)."""

    def time_up(self) -> bool:
        """True once the time limit has passed."""

    def refresh_index(self) -> TrialIndex:
        """:attr:`index` with the trials other processes recorded since it was last read."""

    def record(self, proposal: Proposal, *, backend: str) -> Evaluation:
        """Evaluate one proposal and record it as a trial (for :class:`DrivingBackend`)."""

    def optimize(self, backend: Backend, view: Session | None = None) -> None:
        """Run ``backend`` until the budget (``view``'s, when given) or the time is up."""


class Backend(abc.ABC):
    """A search strategy that proposes genomes and learns from their results.

    Life cycle: built by :func:`make_backend` from the study file's ``backend:``
    section (the constructor validates every option and raises ``ConfigError`` naming
    it); :meth:`sampler` is asked once per process for the Optuna sampler to attach to
    the study (``None`` for back ends that keep their own state); then the session
    calls :meth:`ask` and, with the results of the proposals it could evaluate before
    the budget or the time ran out, :meth:`tell`, until :meth:`ask` proposes nothing
    or the session stops.
    """

    name: ClassVar[str]
    #: True when one process asks for whole populations and the session evaluates
    #: them with ``workers`` processes; False when ``workers`` independent processes
    #: each ask and evaluate one genome at a time.
    generational: ClassVar[bool] = False

    @property
    def tag(self) -> str:
        """The ``backend`` user attribute of the trials this back end proposes."""
        return self.name

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler | None:
        """The Optuna sampler to load the study with (default: none)."""
        return None

    def settings(self) -> dict[str, Any]:
        """The options, as stored with the study."""
        return {}

    def ask(self, session: Session, n: int) -> Sequence[Proposal]:
        """Up to ``n`` genomes to evaluate next; none when the search is over."""
        raise NotImplementedError(f"back end {self.name!r} does not propose genomes")

    def tell(
        self, session: Session, proposals: Sequence[Proposal], results: Sequence[Result]
    ) -> None:
        """The results of ``proposals`` (a prefix of them when the session stopped early).

        The default learns nothing here: an Optuna sampler learns from the completed
        trials in the storage."""
        return None


class DrivingBackend(Backend):
    """A back end whose search cannot be split into ask and tell, so it runs its own
    sweep (:meth:`drive`) and records each design through :meth:`Session.record`.

    TRAM trains the network's weights and every layer's structure together and maps
    a design out of the joint state for each λ; the pipeline runs other back ends in
    turn through :meth:`Session.optimize`.
    """

    generational: ClassVar[bool] = True

    @abc.abstractmethod
    def drive(self, session: Session) -> None:
        """Search until done or until ``session.should_stop()``."""
