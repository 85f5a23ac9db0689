"""The abstract back end and the session it runs in."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    import optuna

    from dse.search._genome import Genome
    from dse.search._objectives import Evaluation, Evaluator
    from dse.search._space import Space

__all__ = ["Backend", "Session"]


class Session(Protocol):
    """What a back end gets from the study runner (one per process).

    Attributes:
        study: the Optuna study (storage-backed), with the back end's sampler when it
            has one.
        space, evaluator: the search space and the staged evaluator.
        seed: the study's seed (worker ``k`` of an Optuna back end adds ``k``).
        workers: evaluation processes for generational back ends.
        storage_url, study_name: for worker processes to reopen the study.
    """

    study: optuna.Study
    space: Space
    evaluator: Evaluator
    seed: int
    workers: int
    worker_index: int
    storage_url: str
    study_name: str

    def should_stop(self) -> bool:
        """True when the trial budget is met (COMPLETE trials, plus RUNNING ones) or time is up."""

    def remaining(self) -> int:
        """Evaluations still allowed by the budget (a large number without a trial budget)."""

    def time_up(self) -> bool:
        """True once the time limit has passed (back ends check it between evaluations)."""

    def evaluate_and_record(
        self,
        genome: Genome,
        *,
        backend: str,
        user_attrs: dict[str, Any],
        system_attrs: dict[str, Any],
        accuracy: Mapping[str, Any] | None = None,
    ) -> Evaluation:
        """Create a RUNNING trial for ``genome`` (with a heartbeat), evaluate, complete it.

        ``accuracy``: the back end's own accuracies for this design (see
        :meth:`Evaluator.evaluate`); the study's fine-tune is skipped.
        """

    def notify(self) -> None:
        """Progress hook, called after each recorded evaluation."""


class Backend(abc.ABC):
    """A search strategy.

    Life cycle: built by :func:`make_backend` from the study file's ``backend:``
    section (the constructor validates every option and raises ``ConfigError`` naming
    it); :meth:`sampler` is asked once per process for the Optuna sampler to attach to
    the study (``None`` for back ends that drive the search themselves); :meth:`run`
    is called once per process and returns when the session says to stop. All search
    state that must survive a crash is written to the study's storage.
    """

    name: ClassVar[str]
    #: True when the back end itself evaluates populations with ``workers`` processes;
    #: False when ``workers`` independent processes each run the back end.
    generational: ClassVar[bool] = False

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler | None:
        """The Optuna sampler to load the study with (default: none)."""
        return None

    @abc.abstractmethod
    def run(self, session: Session) -> None:
        """Propose and evaluate genomes until ``session.should_stop()``."""

    def settings(self) -> dict[str, Any]:
        """The options, as stored with the study."""
        return {}
