"""The one place where a back-end name from a study file becomes an object."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dse.errors import ConfigError
from dse.search._backends._base import Backend

__all__ = ["BACKENDS", "make_backend", "make_backend_of"]


def _pymoo(**options: Any) -> Backend:
    from dse.search._backends._pymoo_nsga2 import PymooNSGA2

    return PymooNSGA2(**options)


def _optuna(kind: str) -> Callable[..., Backend]:
    def make(**options: Any) -> Backend:
        from dse.search._backends._optuna import OptunaBackend

        return OptunaBackend(kind, **options)

    return make


def _tram(**options: Any) -> Backend:
    from dse.search._backends._tram import TramBackend

    return TramBackend(**options)


#: Back-end names accepted in ``backend.name``.
BACKENDS: dict[str, Callable[..., Backend]] = {
    "nsga2": _pymoo,
    "optuna-nsga2": _optuna("nsga2"),
    "optuna-nsga3": _optuna("nsga3"),
    "tpe": _optuna("tpe"),
    "gp": _optuna("gp"),
    "random": _optuna("random"),
    "tram": _tram,
}


def make_backend(
    name: str, options: Mapping[str, Any] | None = None, *, where: str = "backend"
) -> Backend:
    """Build a back end by name with its options (errors name the option)."""
    if name not in BACKENDS:
        raise ConfigError(f"{where}.name: unknown back end {name!r}; known: {', '.join(BACKENDS)}")
    try:
        return BACKENDS[name](**dict(options or {}))
    except ConfigError as exc:
        raise ConfigError(f"{where}.options: {exc}") from None


def make_backend_of(stages: Sequence[Any], *, where: str = "backend") -> Backend:
    """The back end of a study's ``backend:`` section: one back end, or a
    :class:`~dse.search._backends._pipeline.Pipeline` when it lists several."""
    if len(stages) == 1 and stages[0].trials is None:
        return make_backend(stages[0].name, stages[0].options, where=where)
    from dse.search._backends._pipeline import Pipeline

    built = [
        make_backend(s.name, s.options, where=f"{where}.{i}") for i, s in enumerate(stages)
    ]
    return Pipeline(built, [s.trials for s in stages], where=where)
