"""Studies: create or load one in storage, run its back end, report on it.

The study's validated configuration (space embedded), the back end's settings and
state, and the exact design's figures are stored in the Optuna study itself (user
attrs ``dse:config``, ``dse:exact``, ``dse:pymoo:checkpoint``; sampler state in trial
system attrs), so :func:`resume` rebuilds the same back end from the storage alone.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dse.errors import ConfigError, StudyStateError
from dse.search._backends import Backend
from dse.search._backends._factory import make_backend_of
from dse.search._config import StudyConfig, config_from_stored, load_study_config
from dse.search._front import hypervolume, pareto_trials, reference_point
from dse.search._objectives import Evaluation, Evaluator
from dse.search._optuna_store import (
    complete_trial,
    completed_results,
    count_trials,
    create_running_trial,
    fail_stale,
    fail_trial,
    quiet_optuna,
    start_heartbeat,
)
from dse.search._progress import Mode, RunProgress
from dse.search._records import (
    CONFIG_ATTR,
    EXACT_ATTR,
    FORMAT_ATTR,
    GENERATION,
    SCHEMA,
    StoredResult,
    TrialIndex,
    TrialRecord,
)
from dse.search._space import (
    BaseConfig,
    LibrarySpaceConfig,
    Space,
    StructureSpaceConfig,
    space_from_dict,
)
from dse.search._storage import DEFAULT_STORAGE, load_study, open_storage, redact

__all__ = [
    "StudySession",
    "StudySummary",
    "create_study",
    "load_stored_study",
    "open_session",
    "pareto_rows",
    "pareto_rows_of",
    "resume",
    "run",
    "stored_config",
    "study_summary",
]


def _storage_url(cli_url: str | None, cfg: StudyConfig | None) -> str:
    return (
        cli_url
        or (cfg.storage.url if cfg is not None and cfg.storage.url else None)
        or DEFAULT_STORAGE
    )


def _space_of(cfg: StudyConfig) -> Space:
    return space_from_dict(
        cfg.space_data,
        where=f"{cfg.source or 'study'} (space)",
        name=str(cfg.space_data.get("name", "space")),
        root=Path(cfg.space_root) if cfg.space_root else None,
    )


def _evaluator(
    cfg: StudyConfig, space: Space, lookup: Callable[[str], Mapping[str, Any] | None] | None = None
) -> Evaluator:
    accuracy = None
    if cfg.model and cfg.data:
        from dse.search._accuracy import AccuracyModel

        ft = cfg.finetune
        accuracy = AccuracyModel(
            cfg.model,
            cfg.data,
            epochs=ft.epochs,
            steps=ft.steps,
            grad=ft.grad,
            axtrain=ft.axtrain,
            lr=ft.lr,
            seed=cfg.seed,
            baseline_epochs=ft.baseline_epochs,
            options=ft.options,
        )
    return Evaluator(
        space,
        cfg.parsed_objectives(),
        cfg.parsed_constraints(),
        accuracy=accuracy,
        power_distribution=cfg.power.distribution,
        trace_vectors=cfg.power.trace_vectors,
        clock_period_ns=cfg.power.clock_period_ns,
        seed=cfg.seed,
        lookup=lookup,
    )


class StudySession:
    """One process's view of a running study (implements the back ends' ``Session``)."""

    def __init__(
        self,
        study: Any,
        cfg: StudyConfig,
        space: Space,
        backend: Backend,
        *,
        storage_url: str,
        trials: int | None,
        timeout: float | None,
        workers: int = 1,
        worker_index: int = 0,
        on_progress: Callable[[StudySession], None] | None = None,
    ) -> None:
        self.study = study
        self.cfg = cfg
        self.space = space
        self.backend = backend
        self.storage_url = storage_url
        self.study_name = study.study_name
        self.trials = trials
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout if timeout else None
        self.workers = workers
        self.worker_index = worker_index
        self.seed = cfg.seed
        self.on_progress = on_progress
        self.index = TrialIndex()
        self.evaluator = _evaluator(cfg, space, lookup=self._lookup)
        self.recorded = 0

    # --------------------------------------------------------- budget
    def counts(self) -> tuple[int, int]:
        from optuna.trial import TrialState

        return (
            count_trials(self.study, TrialState.COMPLETE),
            count_trials(self.study, TrialState.RUNNING),
        )

    def remaining(self) -> int:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return 0
        if self.trials is None:
            return 1 << 40
        done, running = self.counts()
        return max(0, self.trials - done - running)

    def should_stop(self) -> bool:
        return self.remaining() <= 0

    def time_up(self) -> bool:
        """Whether the time limit has passed (checked between evaluations)."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def stop_reason(self) -> str:
        """Why the run ended: ``trials`` (budget met), ``timeout`` (time limit) or
        ``done`` (the back end finished on its own, e.g. a TRAM-only study)."""
        if self.trials is not None and self.counts()[0] >= self.trials:
            return "trials"
        if self.time_up():
            return "timeout"
        return "done"

    # ----------------------------------------------------- evaluation
    def refresh_index(self) -> TrialIndex:
        """The index of recorded results, with the trials other processes recorded since."""
        self.index.add_all(completed_results(self.study, self.index.knows))
        return self.index

    def _lookup(self, design_hash: str) -> Mapping[str, Any] | None:
        found = self.index.finetune(design_hash) or self.refresh_index().finetune(design_hash)
        if found is None:
            return None
        result = found.record.result
        return {**result["accuracy"], "finetune": result.get("finetune", {})}

    def evaluate_and_record(
        self,
        genome: Any,
        *,
        backend: str,
        user_attrs: dict[str, Any] | None = None,
        system_attrs: dict[str, Any] | None = None,
        accuracy: Mapping[str, Any] | None = None,
    ) -> Evaluation:
        extra = dict(user_attrs or {})
        generation = extra.pop(GENERATION, None)
        record = TrialRecord(
            backend=backend,
            genome=genome,
            seed=self.seed,
            worker=self.worker_index,
            worker_pid=os.getpid(),
            generation=generation,
            accuracy_source="backend" if accuracy is not None else None,
            extra=extra,
        )
        trial = create_running_trial(
            self.study,
            self.space.to_params(genome),
            self.space.distributions(),
            record.header(),
            system_attrs,
        )
        heartbeat = start_heartbeat(self.study, trial)
        try:
            evaluation = self.evaluator.evaluate(genome, accuracy=accuracy)
            complete_trial(
                self.study, trial, evaluation.attrs, evaluation.constraints, evaluation.values
            )
        except BaseException as exc:
            try:
                fail_trial(self.study, trial, str(exc)[:500])
            finally:
                heartbeat.join()
            raise
        heartbeat.join()
        record.result = dict(evaluation.attrs)
        self.index.add(
            StoredResult(
                trial.number, record, tuple(evaluation.values), dict(evaluation.constraints)
            )
        )
        self.recorded += 1
        self.notify()
        return evaluation

    def notify(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self)


def _ensure_exact(study: Any, session_eval: Evaluator) -> None:
    if EXACT_ATTR in study.user_attrs:
        return
    from dse._status import step

    what = (
        "the network's operand histograms and the exact design's figures"
        if session_eval.accuracy is not None and session_eval.power_distribution == "network"
        else "the exact design's figures"
    )
    with step(f"measuring {what} (once per study)"):
        design = session_eval.space.decode(session_eval.space.exact_genome())
        reports = [session_eval.hardware(m) for m in design]
        figures = session_eval._aggregate(reports)
    figures["rel_power"] = 1.0
    study.set_user_attr(EXACT_ATTR, {k: float(v) for k, v in figures.items()})


def create_study(cfg: StudyConfig, storage_url: str | None = None) -> tuple[Any, str]:
    """Create the study in storage (or check that the stored one has the same configuration)."""
    import optuna

    quiet_optuna()
    url = _storage_url(storage_url, cfg)
    space = _space_of(cfg)  # validates the space before anything is written
    backend = make_backend_of(cfg.stages, where=f"{cfg.source}: field backend")
    objectives = cfg.parsed_objectives()
    storage = open_storage(
        url,
        heartbeat_interval=cfg.storage.heartbeat_interval,
        grace_period=cfg.storage.grace_period,
        where=f"{cfg.source}: field storage.url" if not storage_url else "--storage",
    )
    stored = cfg.stored()
    study = optuna.create_study(
        study_name=cfg.name,
        storage=storage,
        load_if_exists=True,
        directions=[o.direction for o in objectives],
        sampler=backend.sampler(cfg.seed) or optuna.samplers.RandomSampler(seed=cfg.seed),
    )
    old = study.user_attrs.get(CONFIG_ATTR)
    if old is None:
        study.set_metric_names([o.name for o in objectives])
        study.set_user_attr(CONFIG_ATTR, stored)
        study.set_user_attr(FORMAT_ATTR, SCHEMA)
        study.set_user_attr("dse:backend", {"name": cfg.backend_name, **backend.settings()})
        _ensure_exact(study, _evaluator(cfg, space))
    else:
        keys = (
            "space_data",
            "objectives",
            "constraints",
            "backend",
            "seed",
            "model",
            "data",
            "finetune",
            "power",
        )
        diff = [k for k in keys if old.get(k) != stored.get(k)]
        if diff:
            raise StudyStateError(
                f"study {cfg.name!r} already exists in {redact(url)} with a different {diff[0]!r}; "
                f"use 'dse resume {cfg.name}' or give the study another name"
            )
    return study, url


def open_session(
    name: str,
    storage_url: str | None,
    *,
    trials: int | None = None,
    timeout: float | None = None,
    workers: int = 1,
    worker_index: int = 0,
    on_progress: Callable[[StudySession], None] | None = None,
) -> StudySession:
    """Rebuild a study's session from the storage alone (used by resume and by workers)."""
    import optuna

    quiet_optuna()
    url = storage_url or DEFAULT_STORAGE
    # must_exist: resuming from a storage that is not there must not create an empty one
    try:
        opened = open_storage(url, heartbeat_interval=None, must_exist=True)
    except StudyStateError as exc:
        raise StudyStateError(f"no study {name!r}: {exc}") from None
    probe = load_study(name, opened, url=url)
    stored = probe.user_attrs.get(CONFIG_ATTR)
    if stored is None:
        raise StudyStateError(
            f"study {name!r} in {redact(url)} was not created by dse (no {CONFIG_ATTR!r})"
        )
    cfg = config_from_stored(stored)
    storage = open_storage(
        url,
        heartbeat_interval=cfg.storage.heartbeat_interval,
        grace_period=cfg.storage.grace_period,
    )
    backend = make_backend_of(cfg.stages)
    sampler = backend.sampler(cfg.seed + worker_index)
    study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    space = _space_of(cfg)
    budget = trials if trials is not None else cfg.budget.trials
    return StudySession(
        study,
        cfg,
        space,
        backend,
        storage_url=url,
        trials=budget,
        timeout=timeout if timeout is not None else cfg.budget.timeout,
        workers=workers,
        worker_index=worker_index,
        on_progress=on_progress,
    )


def _worker_main(
    name: str, url: str, trials: int | None, timeout: float | None, index: int
) -> None:
    os.environ["DSE_SEARCH_WORKER"] = "1"
    session = open_session(name, url, trials=trials, timeout=timeout, workers=1, worker_index=index)
    session.backend.run(session)


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

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def product_width(space_data: Mapping[str, Any]) -> int:
    """Bits of the product of the space's multipliers (``width_a + width_b``, signed or
    not): the scale of the error metrics ``med``, ``wce``, ``mse`` and their kin."""
    widths: LibrarySpaceConfig | BaseConfig = (
        LibrarySpaceConfig.model_validate(space_data)
        if space_data.get("kind", "structure") == "library"
        else StructureSpaceConfig.model_validate(space_data).base
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
        t.user_attrs.get("generation")
        for t in complete
        if t.user_attrs.get("generation") is not None
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
    )


def _progress_mode(progress: bool | str) -> Mode:
    if progress is True:
        return "bar"
    if progress is False:
        return "off"
    if progress not in ("bar", "lines", "off"):
        raise ConfigError(f"progress must be bar, lines or off, got {progress!r}")
    return progress  # type: ignore[return-value]


def _execute(session: StudySession, workers: int, progress: bool | str) -> StudySummary:
    reporter = RunProgress(
        lambda: study_summary(session.study),
        total=session.trials,
        deadline=session.deadline,
        mode=_progress_mode(progress),
    )
    session.on_progress = lambda _s: reporter.update()
    fail_stale(session.study)
    reporter.begin()
    try:
        if workers <= 1 or session.backend.generational:
            session.workers = workers
            session.backend.run(session)
        else:
            ctx = multiprocessing.get_context("spawn")
            procs = [
                ctx.Process(
                    target=_worker_main,
                    args=(
                        session.study_name,
                        session.storage_url,
                        session.trials,
                        session.timeout,
                        k,
                    ),
                    daemon=False,
                )
                for k in range(workers)
            ]
            for p in procs:
                p.start()
            try:
                while any(p.is_alive() for p in procs):
                    time.sleep(0.5)
                    reporter.update()
            finally:
                for p in procs:
                    p.join()
            bad = [p.exitcode for p in procs if p.exitcode not in (0, None)]
            if bad:
                os.environ.setdefault("DSE_WORKER_EXITCODES", ",".join(map(str, bad)))
    finally:
        reporter.end()
    summary = study_summary(session.study)
    summary.stop_reason = session.stop_reason()
    summary.timeout = session.timeout
    return summary


def run(
    study_file: str | Path | StudyConfig,
    *,
    storage: str | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    workers: int = 1,
    progress: bool | str = False,
) -> StudySummary:
    """Create (or continue) a study from its file and run it to its budget.

    ``progress``: ``bar`` (or True), ``lines`` (plain lines on stderr) or ``off`` (or
    False). The summary's ``stop_reason`` says which limit ended the run.
    """
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    cfg = study_file if isinstance(study_file, StudyConfig) else load_study_config(study_file)
    if (
        cfg.budget.trials is None
        and trials is None
        and cfg.budget.timeout is None
        and timeout is None
    ):
        raise ConfigError(
            f"{cfg.source}: field budget: give budget.trials or budget.timeout (or --trials / --timeout)"
        )
    study, url = create_study(cfg, storage)
    session = open_session(study.study_name, url, trials=trials, timeout=timeout, workers=workers)
    return _execute(session, workers, progress)


def resume(
    name: str,
    *,
    storage: str | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    workers: int = 1,
    progress: bool | str = False,
) -> StudySummary:
    """Continue a stored study: same back end, settings, constraints, seed and generation.

    Trials left RUNNING by a killed worker are marked FAIL first (after their heartbeat
    goes stale; for journal storages at once), and the lost candidates are evaluated again.
    A new ``trials`` budget is stored: ``dse status`` and later resumes use it.
    """
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    session = open_session(name, storage, trials=trials, timeout=timeout, workers=workers)
    if trials is not None:
        _store_budget(session.study, trials)
    from optuna.trial import TrialState

    running = session.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if running:
        from dse._status import step

        with step(
            f"{len(running)} trial(s) were left running; waiting for their heartbeats to "
            f"lapse before they are marked failed and evaluated again"
        ):
            fail_stale(session.study, wait=True, all_running=True)
    return _execute(session, workers, progress)


def _store_budget(study: Any, trials: int) -> None:
    """Record a new trial budget in the stored configuration (``resume --trials N``)."""
    stored = dict(study.user_attrs.get(CONFIG_ATTR, {}))
    budget = dict(stored.get("budget") or {})
    if budget.get("trials") != trials:
        budget["trials"] = int(trials)
        stored["budget"] = budget
        study.set_user_attr(CONFIG_ATTR, stored)


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
            "backend": t.user_attrs.get("backend", ""),
            "structural_hash": t.user_attrs.get("structural_hash", ""),
        }
        row.update({n: float(v) for n, v in zip(names, t.values, strict=True)})
        hw = t.user_attrs.get("hw", {})
        for extra in ("power_uw", "rel_power", "area_um2", "nmed"):
            if extra not in row and extra in hw:
                row[extra] = hw[extra]
        rows.append(row)
    return rows


def pareto_rows_of(name: str, storage: str | None = None) -> list[dict[str, Any]]:
    """:func:`pareto_rows` of the study NAME in ``storage``."""
    return pareto_rows(load_stored_study(name, storage))
