"""Optuna samplers over the shared genome: NSGA-II, NSGA-III, TPE, GP, random.

Each worker process's session asks the back end for a genome: the back end asks the
study for a trial and suggests every gene as an Optuna parameter (categorical for
choices, int otherwise); the session evaluates the genome and completes the trial
(``study.tell``, which is where the sampler learns). Sampler state lives in the storage (e.g. ``NSGAIISampler:generation``),
so ``dse resume`` rebuilds the same sampler from the stored options and seed and
continues the same generation count. Constraints reach the samplers through
``trial.set_constraint`` (Optuna 5); NSGA-II/III rank by constrained domination
(Deb et al., IEEE TEVC 2002; Deb & Jain, IEEE TEVC 2014), TPE orders infeasible trials
after feasible ones (MOTPE: Ozaki et al., GECCO 2020), GP uses constrained logEHVI.
"""

from __future__ import annotations

import inspect
import warnings
from typing import TYPE_CHECKING, Any, ClassVar

from dse.errors import ConfigError
from dse.search._backends._base import Backend, Proposal, Session
from dse.search._optuna_store import sampler_generation

if TYPE_CHECKING:
    import optuna

__all__ = ["OptunaBackend"]

# options that dse sets itself or that are callables (not expressible in YAML)
_RESERVED = {
    "seed",
    "constraints_func",
    "crossover",
    "mutation",
    "elite_population_selection_strategy",
    "child_generation_strategy",
    "after_trial_strategy",
    "gamma",
    "weights",
    "independent_sampler",
    "reference_points",
}


def _sampler_class(kind: str) -> type:
    import optuna

    return {
        "nsga2": optuna.samplers.NSGAIISampler,
        "nsga3": optuna.samplers.NSGAIIISampler,
        "tpe": optuna.samplers.TPESampler,
        "gp": optuna.samplers.GPSampler,
        "random": optuna.samplers.RandomSampler,
    }[kind]


class OptunaBackend(Backend):
    """An Optuna sampler (``kind``: nsga2, nsga3, tpe, gp, random) with its options."""

    name: ClassVar[str] = "optuna"
    generational: ClassVar[bool] = False

    @classmethod
    def options_owner(cls, kind: str) -> tuple[type, frozenset[str]]:
        """The sampler class whose keyword parameters are this back end's options, and
        the ones dse sets itself (or that take callables); read by the back-end factory."""
        if kind not in ("nsga2", "nsga3", "tpe", "gp", "random"):
            raise ConfigError(f"kind: unknown Optuna sampler {kind!r}")
        return _sampler_class(kind), frozenset(_RESERVED)

    def __init__(self, kind: str, **options: Any) -> None:
        sampler_cls, reserved = self.options_owner(kind)
        params = inspect.signature(sampler_cls).parameters
        allowed = [
            p for p in params if p not in reserved and params[p].kind == params[p].KEYWORD_ONLY
        ]
        for key, value in options.items():
            if key not in allowed:
                raise ConfigError(
                    f"unknown option {key!r} for {sampler_cls.__name__}; "
                    f"known: {', '.join(allowed) or 'none'}"
                )
            if callable(value):
                raise ConfigError(f"{key}: expected a plain value, got a callable")
        self.kind = kind
        self.options = dict(options)
        try:  # validate values now, not in a worker later
            self.sampler(0)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{sampler_cls.__name__}: {exc}") from None

    @property
    def tag(self) -> str:
        return f"optuna.{self.kind}"

    def settings(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.options}

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        import optuna

        cls = _sampler_class(self.kind)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler: optuna.samplers.BaseSampler = cls(seed=seed, **self.options)
        return sampler

    def ask(self, session: Session, n: int) -> list[Proposal]:
        """One trial from the sampler (its parameters are the genome): an Optuna sampler
        learns from every completed trial before it proposes the next."""
        import optuna

        study = session.study
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # heartbeats are run by the session itself, not by Study.optimize
            warnings.filterwarnings("ignore", message="Heartbeat of storage")
            trial = study.ask()
        try:
            params: dict[str, Any] = {}
            for gene in session.space.genes:
                if gene.kind == "choice":
                    params[gene.name] = trial.suggest_categorical(gene.name, list(gene.choices))
                else:
                    params[gene.name] = trial.suggest_int(gene.name, gene.low, gene.high)
            genome = session.space.from_params(params)
        except BaseException:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        return [Proposal(genome, generation=sampler_generation(study, trial), trial=trial)]
