"""What a stored study holds, read back: its summary, configuration, Pareto rows and
the designs of any trial."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dse.design import Design
from dse.errors import StudyStateError
from dse.search._config import StudyConfig, config_from_stored
from dse.search._front import hypervolume, pareto_trials, reference_point
from dse.search._optuna_store import quiet_optuna
from dse.search._queue import DRIVER_ATTR, recent_workers
from dse.search._records import (
    BACKEND,
    CONFIG_ATTR,
    EXACT_ATTR,
    GENERATION,
    GENOME,
    HW,
    STRUCTURAL_HASH,
    TrialRecord,
)
from dse.search._space import Space
from dse.search._space_config import BaseConfig, LibrarySpaceConfig
from dse.search._space_load import space_from_dict
from dse.search._storage import DEFAULT_STORAGE, load_study, open_storage

__all__ = [
    "StudySummary",
    "hypervolume_reference",
    "load_stored_study",
    "pareto_rows",
    "pareto_rows_of",
    "product_width",
    "space_of",
    "stored_config",
    "study_design",
    "study_summaries",
    "study_summary",
]


def space_of(cfg: StudyConfig) -> Space:
    """The search space a study configuration embeds."""
    return space_from_dict(
        cfg.space_data,
        where=f"{cfg.source or 'study'} (space)",
        name=str(cfg.space_data.get("name", "space")),
        root=Path(cfg.space_root) if cfg.space_root else None,
    )


@dataclass
class StudySummary:
    """What ``dse status`` prints for one study."""

    name: str
    backend: str
    complete: int
    running: int
    failed: int
    waiting: int
    feasible: int
    budget: int | None
    front_size: int
    hypervolume: float | None
    generation: int | None
    # why the run that produced this summary ended (``trials``, ``timeout``, ``done``);
    # None for a summary read from the storage (``dse status``)
    stop_reason: str | None = None
    timeout: float | None = None
    #: the ``dse worker`` processes seen within the last minute (their registrations:
    #: host, pid, device, state, seconds since last seen) and the driver's state
    workers: list[dict[str, Any]] = field(default_factory=list)
    driver: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def product_width(space_data: Mapping[str, Any]) -> int:
    """Bits of the product of the space's multipliers (``width_a + width_b``, signed or
    not): the scale of the error metrics ``med``, ``wce``, ``mse`` and their kin."""
    widths: LibrarySpaceConfig | BaseConfig = (
        LibrarySpaceConfig.model_validate(space_data)
        if space_data.get("kind", "structure") == "library"
        else BaseConfig.model_validate(space_data.get("base", {}))
    )
    return widths.width + (widths.width_b or widths.width)


def hypervolume_reference(study: Any, cfg: StudyConfig) -> tuple[Any, Any]:
    """``(reference, scale)`` of the study's hypervolume (see :func:`reference_point`):
    the exact design's figures for costs, fractions of the product range for errors."""
    return reference_point(
        cfg.parsed_objectives(),
        study.user_attrs.get(EXACT_ATTR, {}),
        cfg.hypervolume.reference,
        product_width(cfg.space_data),
    )


def study_summary(study: Any) -> StudySummary:
    from optuna.trial import TrialState

    cfg = (
        config_from_stored(study.user_attrs[CONFIG_ATTR])
        if CONFIG_ATTR in study.user_attrs
        else None
    )
    trials = study.get_trials(deepcopy=False)
    by = {s: sum(1 for t in trials if t.state == s) for s in TrialState}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    feasible = sum(1 for t in complete if all(v <= 0 for v in t.constraints.values()))
    front = pareto_trials(study) if complete else []
    hv = None
    gens = [
        t.user_attrs.get(GENERATION) for t in complete if t.user_attrs.get(GENERATION) is not None
    ]
    if cfg is not None:
        objectives = cfg.parsed_objectives()
        ref, scale = hypervolume_reference(study, cfg)
        hv = hypervolume([t.values for t in front], objectives, ref, scale)
    return StudySummary(
        name=study.study_name,
        backend=cfg.backend_name if cfg else "?",
        complete=by[TrialState.COMPLETE],
        running=by[TrialState.RUNNING],
        failed=by[TrialState.FAIL],
        waiting=by[TrialState.WAITING],
        feasible=feasible,
        budget=cfg.budget.trials if cfg else None,
        front_size=len(front),
        hypervolume=hv,
        generation=max(gens) if gens else None,
        workers=_workers(study.user_attrs),
        driver=(study.user_attrs.get(DRIVER_ATTR) or {}).get("state"),
    )


def _workers(user_attrs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The workers seen within the last minute, with how long ago."""
    import time

    now = time.time()
    return [
        {**w, "seen_s_ago": round(now - float(w.get("seen", now)), 1)}
        for w in recent_workers(dict(user_attrs), within_s=60.0)
    ]


def load_stored_study(name: str, storage: str | None = None) -> Any:
    """The Optuna study NAME (default storage when ``storage`` is None)."""
    quiet_optuna()
    url = storage or DEFAULT_STORAGE
    try:  # read-only: a storage file that does not exist is not created
        opened = open_storage(url, heartbeat_interval=None, must_exist=True)
    except StudyStateError as exc:
        raise StudyStateError(f"no study {name!r}: {exc}") from None
    return load_study(name, opened, url=url)


def stored_config(study: Any) -> StudyConfig:
    """The configuration a study was created with (from its storage)."""
    if CONFIG_ATTR not in study.user_attrs:
        raise StudyStateError(
            f"study {study.study_name!r} was not created by dse (no {CONFIG_ATTR!r})"
        )
    return config_from_stored(study.user_attrs[CONFIG_ATTR])


def pareto_rows(study: Any) -> list[dict[str, Any]]:
    """One dict per Pareto point: ``trial``, ``backend``, ``structural_hash`` and each
    objective under its own name (plus power/rel_power/area/nmed when not objectives)."""
    cfg = stored_config(study)
    names = [o.name for o in cfg.parsed_objectives()]
    rows = []
    for t in pareto_trials(study):
        row: dict[str, Any] = {
            "trial": t.number,
            "backend": t.user_attrs.get(BACKEND, ""),
            "structural_hash": t.user_attrs.get(STRUCTURAL_HASH, ""),
        }
        row.update({n: float(v) for n, v in zip(names, t.values, strict=True)})
        hw = t.user_attrs.get(HW, {})
        for extra in ("power_uw", "rel_power", "area_um2", "nmed"):
            if extra not in row and extra in hw:
                row[extra] = hw[extra]
        rows.append(row)
    return rows


def pareto_rows_of(name: str, storage: str | None = None) -> list[dict[str, Any]]:
    """:func:`pareto_rows` of the study NAME in ``storage``."""
    return pareto_rows(load_stored_study(name, storage))


def study_design(name: str | Any, trial: int, *, storage: str | None = None) -> tuple[Design, ...]:
    """The designs of trial number ``trial`` of the study ``name`` (a stored study's
    name, or the study itself): one per layer group, as the space decodes the trial's
    genome. Raises :class:`StudyStateError` naming the trial when it has no genome."""
    study = load_stored_study(name, storage) if isinstance(name, str) else name
    trials = study.get_trials(deepcopy=False)
    if not 0 <= trial < len(trials):
        raise StudyStateError(
            f"study {study.study_name!r} has no trial {trial} (trials 0..{len(trials) - 1})"
        )
    attrs = trials[trial].user_attrs
    if not attrs.get(GENOME):
        raise StudyStateError(f"trial {trial} of study {study.study_name!r} has no genome")
    space = space_of(stored_config(study))
    return tuple(space.decode(TrialRecord.from_attrs(attrs).genome))


def study_summaries(storage: str | None = None) -> list[StudySummary]:
    """A summary of every study in ``storage`` (default storage when ``None``).

    Read-only: a storage file that does not exist is an error, not a new empty database.
    """
    import optuna

    quiet_optuna()
    url = storage or DEFAULT_STORAGE
    opened = open_storage(url, heartbeat_interval=None, must_exist=True)
    return [
        study_summary(load_study(s.study_name, opened, url=url))
        for s in optuna.get_all_study_summaries(opened)
    ]
