"""Several back ends in one study, one after the other (``backend:`` as a list).

Every stage writes into the same study, so all stages share one storage, one Pareto
set and one export path, and a later stage can start from an earlier one's designs
(``nsga2``'s ``seed_from``). A stage runs until its own ``trials`` (counted over the
trials its back end recorded) or the study's budget is met; a stage with no ``trials``
runs to the study's budget. Finished stages are marked in the study (user attr
``dse:stage:K:done``), so ``dse resume`` continues with the stage that was running.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from dse.errors import ConfigError
from dse.search._backends._base import Backend, DrivingBackend, Session
from dse.search._records import BACKEND, stage_done_attr

__all__ = ["Pipeline"]


class _StageSession:
    """A session view that ends a stage at its own trial budget."""

    def __init__(self, session: Session, tag: str, trials: int | None) -> None:
        self._session = session
        self._tag = tag
        self._trials = trials

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def stage_count(self) -> int:
        from optuna.trial import TrialState

        return sum(
            1
            for t in self._session.study.get_trials(
                deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)
            )
            if t.user_attrs.get(BACKEND) == self._tag
        )

    def remaining(self) -> int:
        left = self._session.remaining()
        if self._trials is None:
            return left
        return max(0, min(left, self._trials - self.stage_count()))

    def should_stop(self) -> bool:
        return self.remaining() <= 0

    def time_up(self) -> bool:
        return bool(self._session.time_up())

    def stage_budget_met(self) -> bool:
        return self._trials is not None and self.stage_count() >= self._trials


class Pipeline(DrivingBackend):
    """Back ends run in order in one study (see the module docstring)."""

    name: ClassVar[str] = "pipeline"
    # stages run in the main process; a generational stage (NSGA-II) still evaluates its
    # populations with the study's worker processes

    def __init__(
        self, stages: Sequence[Backend], trials: Sequence[int | None], *, where: str = "backend"
    ) -> None:
        if not stages:
            raise ConfigError(f"{where}: give at least one back end")
        samplers = [s for s in stages if type(s).sampler is not Backend.sampler]
        if len(samplers) > 1:
            raise ConfigError(
                f"{where}: at most one Optuna-sampler back end per pipeline "
                f"(got {', '.join(s.tag for s in samplers)})"
            )
        self.stages = list(stages)
        self.trials = list(trials)

    def sampler(self, seed: int) -> Any:
        for s in self.stages:
            sampler = s.sampler(seed)
            if sampler is not None:
                return sampler
        return None

    def settings(self) -> dict[str, Any]:
        return {
            "stages": [
                {"name": s.name, "trials": t, **s.settings()}
                for s, t in zip(self.stages, self.trials, strict=True)
            ]
        }

    def drive(self, session: Session) -> None:
        study = session.study
        for k, (stage, trials) in enumerate(zip(self.stages, self.trials, strict=True)):
            attr = stage_done_attr(k)
            if study.user_attrs.get(attr):
                continue
            sub = _StageSession(session, stage.tag, trials)
            if not sub.should_stop():
                session.optimize(stage, view=sub)
            if session.should_stop() and not sub.stage_budget_met():
                return  # the study's budget or time ran out inside this stage
            study.set_user_attr(attr, True)
