"""Studies: create or load one in storage, run it, continue it.

The study's validated configuration (space embedded), the back end's settings and
state, and the exact design's figures are stored in the Optuna study itself (see
:mod:`dse.search._records`), so :func:`resume` rebuilds the same back end from the
storage alone. The run loop itself is the session's (:mod:`dse.search._session`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dse.errors import ConfigError, StudyStateError
from dse.search._accuracy import NetworkObjects
from dse.search._backends._factory import make_backend_of
from dse.search._config import (
    PYTHON_OBJECT,
    StudyConfig,
    config_from_stored,
    study_config_from_dict,
)
from dse.search._devices import check_device, parse_devices
from dse.search._objectives import Evaluator
from dse.search._optuna_store import fail_stale, quiet_optuna
from dse.search._parallel import WorkerPool
from dse.search._progress import Mode, RunProgress
from dse.search._queue import set_driver_state
from dse.search._records import (
    BACKEND_ATTR,
    CONFIG_ATTR,
    EXACT_ATTR,
    FORMAT_ATTR,
    NETWORK_ATTR,
    SCHEMA,
)
from dse.search._session import EvaluationHook, StudySession, evaluator_of
from dse.search._space_config import read_yaml
from dse.search._storage import DEFAULT_STORAGE, load_study, open_storage, redact
from dse.search._summary import StudySummary, space_of, study_summary

__all__ = ["create_study", "open_session", "resume", "run", "run_worker"]


def _storage_url(cli_url: str | None, cfg: StudyConfig | None) -> str:
    return (
        cli_url
        or (cfg.storage.url if cfg is not None and cfg.storage.url else None)
        or DEFAULT_STORAGE
    )


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


def _ensure_network(study: Any, session_eval: Evaluator) -> None:
    """The network's float and exact-quantised accuracies, layer table and (for
    ``power.distribution: network``) operand histograms, measured once per study and
    stored, so worker processes and resumes read them instead of measuring again."""
    accuracy = session_eval.accuracy
    if accuracy is None or NETWORK_ATTR in study.user_attrs:
        return
    from dse._status import step

    space = session_eval.space
    with step("measuring the network's float and exact-quantised accuracy (once per study)"):
        design = space.decode(space.exact_genome())
        reports = [session_eval.hardware(m) for m in design]
        ref = accuracy.measure_reference(
            design,
            reports,
            space.group_layers,
            histograms=session_eval.power_distribution == "network",
        )
    if not isinstance(accuracy.model, str):
        ref["model_class"] = type(accuracy.model).__name__
    study.set_user_attr(NETWORK_ATTR, ref)


def network_lines(study: Any) -> list[str]:
    """The run header's network lines: accuracies and each layer with its MACs."""
    ref = study.user_attrs.get(NETWORK_ATTR)
    if not ref:
        return []
    cfg = study.user_attrs.get(CONFIG_ATTR, {})
    rows = ref.get("layers", [])
    done = [r for r in rows if r["approximated"]]
    total = sum(r["macs"] for r in rows) or 1
    share = 100.0 * sum(r["macs"] for r in done) / total
    exact = ", ".join(f"{k} {100 * v:.2f} %" for k, v in ref.get("exact", {}).items())
    lines = [
        f"network {cfg.get('model')}: float {100 * ref['acc_float']:.2f} %, exact-quantised "
        f"{exact}; {len(done)} of {len(rows)} layers approximated ({share:.1f} % of MACs)"
    ]
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        mark = "approximate" if r["approximated"] else "exact"
        lines.append(f"  {r['name']:<{width}}  {r['macs']:>12,} MACs  {mark}")
    return lines


def create_study(
    cfg: StudyConfig,
    storage_url: str | None = None,
    *,
    objects: NetworkObjects | None = None,
    device: str | None = None,
) -> tuple[Any, str]:
    """Create the study in storage (or check that the stored one has the same configuration).

    ``objects``: a model and data given from Python; ``device``: where the network's
    reference figures are measured (else the study's ``device:``)."""
    import optuna

    quiet_optuna()
    url = _storage_url(storage_url, cfg)
    space = space_of(cfg)  # validates the space before anything is written
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
        study.set_user_attr(BACKEND_ATTR, {"name": cfg.backend_name, **backend.settings()})
        evaluator = evaluator_of(cfg, space, objects=objects, device=device)
        _ensure_network(study, evaluator)
        _ensure_exact(study, evaluator)
    else:
        keys = (
            "space_data",
            "objectives",
            "constraints",
            "backend",
            "seed",
            "model",
            "model_sha256",
            "weights_sha256",
            "data",
            "layers",
            "finetune",
            "power",
            "record",
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
    threads: int | None = None,
    on_evaluate: EvaluationHook | None = None,
    objects: NetworkObjects | None = None,
    device: str | None = None,
) -> StudySession:
    """Rebuild a study's session from the storage alone (used by resume and by workers).

    ``threads``: torch threads of this process's fine-tunes (``None``: torch's default);
    ``on_evaluate``: called with each genome before it is evaluated, in whichever
    process evaluates it; ``objects``: the model and data of a study that was given
    them from Python; ``device``: this process's torch device (else the study's
    ``device:``).
    """
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
    space = space_of(cfg)
    budget = trials if trials is not None else cfg.budget.trials
    limit = timeout if timeout is not None else cfg.budget.timeout
    _check_objects(cfg, objects, workers)
    if cfg.model and cfg.data:
        check_device(
            device or cfg.device, where="--device" if device else f"{cfg.source}: field device"
        )
    return StudySession(
        study,
        cfg,
        space,
        backend,
        storage_url=url,
        trials=budget,
        timeout=limit,
        workers=workers,
        worker_index=worker_index,
        threads=threads,
        on_evaluate=on_evaluate,
        objects=objects,
        device=device,
    )


def _check_objects(cfg: StudyConfig, objects: NetworkObjects | None, workers: int) -> None:
    """Objects given from Python: only to a study that takes them, in one process,
    and (on a resume) with the weights the study started from."""
    if objects is None:
        return
    if cfg.model != PYTHON_OBJECT and cfg.data_spec != PYTHON_OBJECT:
        raise ConfigError(
            f"study {cfg.name!r} names its model and data ({cfg.model}, {cfg.data_spec}); "
            f"model=/train=/test= are for studies with model: python or data: python"
        )
    if workers > 1:
        raise ConfigError(
            "a model or data given from Python runs in one process (--workers 1); for "
            "worker processes give model: FILE.py:FACTORY and weights: FILE"
        )
    if cfg.model == PYTHON_OBJECT and objects.model is not None and cfg.weights_sha256:
        from dse.nn import state_sha256

        got = state_sha256(objects.model)
        if got != cfg.weights_sha256:
            raise StudyStateError(
                f"study {cfg.name!r}: the model given has other weights (sha256 {got[:12]}) "
                f"than the study started from ({cfg.weights_sha256[:12]})"
            )


def _progress_mode(progress: bool | str) -> Mode:
    if progress is True:
        return "bar"
    if progress is False:
        return "off"
    if progress not in ("bar", "lines", "off"):
        raise ConfigError(f"progress must be bar, lines or off, got {progress!r}")
    return progress  # type: ignore[return-value]


def _execute(
    session: StudySession,
    progress: bool | str,
    *,
    trials: int | None = None,
    devices: Sequence[str] | None = None,
) -> StudySummary:
    """Run the session to its end. With ``workers`` > 1 it starts that many ``dse
    worker`` processes (``devices``: worker ``i`` gets ``devices[i % len]``): they
    evaluate the batches the session queues, or, for back ends that ask one genome at a
    time (Optuna's samplers), each runs the back end itself. They are stopped when the
    run ends, however it ends; a worker that crashed is then a :class:`StudyStateError`.
    """
    reporter = RunProgress(
        lambda: study_summary(session.study),
        total=session.trials,
        deadline=session.deadline,
        mode=_progress_mode(progress),
    )
    session.on_progress = lambda _s: reporter.update()
    fail_stale(session.study)
    set_driver_state(session.study, "running")
    pool = None
    if session.workers > 1:
        if session.batch_recording:
            from dse._status import note

            note(
                "%s: hardware-only evaluations take about a millisecond, less than a queued "
                "trial costs; one process (--workers 1) runs this study faster",
                session.study_name,
            )
        pool = WorkerPool(
            session.study_name,
            session.storage_url,
            session.workers,
            devices=devices,
            # several workers share the cores: one torch thread each by default (more
            # threads spin-wait on a loaded machine)
            threads=session.threads if session.threads is not None else 1,
            trials=trials,
            timeout=session.timeout,
            on_evaluate=session.on_evaluate,
        )
        session.pool = pool
    state = "stopped"
    reporter.begin()
    try:
        if pool is not None:
            pool.start()
        if pool is None or session.backend.generational:
            session.optimize()
        else:  # independent processes, each asking the back end for one genome at a time
            pool.wait(reporter.update)
        state = "done" if session.stop_reason() != "timeout" else "stopped"
    finally:
        try:
            set_driver_state(session.study, state)
        finally:
            if pool is not None:  # idle workers leave within a second of "done"
                pool.stop(leave_s=2.0 if state == "done" else 0.0)
            reporter.end()
    if pool is not None:
        pool.raise_for_crashes()
    summary = study_summary(session.study)
    summary.stop_reason = session.stop_reason()
    summary.timeout = session.timeout
    return summary


def _python_config(
    source: str | Path | StudyConfig | Mapping[str, Any], objects: NetworkObjects | None
) -> StudyConfig:
    """The study's configuration; with objects given, ``model:`` / ``data:`` default to
    ``python`` and the model's weights are hashed into ``weights_sha256``."""
    if isinstance(source, StudyConfig):
        cfg = source
    elif isinstance(source, Mapping):
        data = dict(source)
        if objects is not None:
            data.setdefault("model", PYTHON_OBJECT if objects.model is not None else None)
            data.setdefault("data", PYTHON_OBJECT if objects.train is not None else None)
        cfg = study_config_from_dict(data, where=f"study {data.get('name', 'study')!r}")
    else:
        path = Path(source)
        data = read_yaml(path, "study file") or {}
        if objects is not None and isinstance(data, dict):
            if objects.model is not None:
                data.setdefault("model", PYTHON_OBJECT)
            if objects.train is not None:
                data.setdefault("data", PYTHON_OBJECT)
        cfg = study_config_from_dict(data, where=str(path), stem=path.stem, root=path.parent)
    if objects is not None and cfg.model == PYTHON_OBJECT and objects.model is not None:
        from dse.nn import state_sha256

        cfg.weights_sha256 = state_sha256(objects.model)
    return cfg


def _objects(model: Any, train: Any, test: Any) -> NetworkObjects | None:
    if (train is None) != (test is None):
        raise ConfigError("give both train= and test= datasets (or neither)")
    if model is None and train is None:
        return None
    return NetworkObjects(model, train, test)


def _announce(session: StudySession) -> None:
    from dse._status import note

    for line in network_lines(session.study):
        note("%s", line)


def run(
    study_file: str | Path | StudyConfig | Mapping[str, Any],
    *,
    storage: str | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    workers: int = 1,
    threads: int | None = None,
    progress: bool | str = False,
    on_evaluate: EvaluationHook | None = None,
    model: Any = None,
    train: Any = None,
    test: Any = None,
    device: str | None = None,
    devices: str | Sequence[str] | None = None,
) -> StudySummary:
    """Create (or continue) a study from its file (or a mapping, or a
    :class:`StudyConfig`) and run it to its budget.

    ``threads``: torch threads of the fine-tunes (``None``: torch's default in this
    process, one per worker process); ``progress``: ``bar`` (or True), ``lines``
    (plain lines on stderr) or ``off`` (or False); ``on_evaluate``: called with each
    genome before it is evaluated (pickled into worker processes). ``model``: an
    ``nn.Module`` and ``train`` / ``test``: map-style datasets (or DataLoaders), for a
    notebook; the study records ``model: python`` and the weights' SHA-256, and a
    resume needs them again. ``device``: this run's torch device (overrides
    ``device:``); ``devices``: ``"cuda:0,cuda:1"``, one per worker process. The
    summary's ``stop_reason`` says which limit ended the run.
    """
    _check_run_options(workers, threads)
    objects = _objects(model, train, test)
    chosen = parse_devices(devices)
    if device is not None:
        check_device(device, where="--device")
    cfg = _python_config(study_file, objects)
    if (
        cfg.budget.trials is None
        and trials is None
        and cfg.budget.timeout is None
        and timeout is None
    ):
        raise ConfigError(
            f"{cfg.source}: field budget: give budget.trials or budget.timeout (or --trials / --timeout)"
        )
    _check_objects(cfg, objects, workers)
    study, url = create_study(cfg, storage, objects=objects, device=device)
    session = open_session(
        study.study_name,
        url,
        trials=trials,
        timeout=timeout,
        workers=workers,
        threads=threads,
        on_evaluate=on_evaluate,
        objects=objects,
        device=device,
    )
    _announce(session)
    return _execute(session, progress, trials=trials, devices=chosen)


def resume(
    name: str,
    *,
    storage: str | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    workers: int = 1,
    threads: int | None = None,
    progress: bool | str = False,
    on_evaluate: EvaluationHook | None = None,
    model: Any = None,
    train: Any = None,
    test: Any = None,
    device: str | None = None,
    devices: str | Sequence[str] | None = None,
) -> StudySummary:
    """Continue a stored study: same back end, settings, constraints, seed and generation.

    Trials left RUNNING by a killed worker are marked FAIL first (after their heartbeat
    goes stale; for journal storages at once), and the lost candidates are evaluated again.
    A new ``trials`` budget is stored: ``dse status`` and later resumes use it. A study
    whose network was given from Python needs ``model`` / ``train`` / ``test`` again
    (the model with the weights it started from). The other options are those of
    :func:`run`.
    """
    _check_run_options(workers, threads)
    objects = _objects(model, train, test)
    chosen = parse_devices(devices)
    if device is not None:
        check_device(device, where="--device")
    session = open_session(
        name,
        storage,
        trials=trials,
        timeout=timeout,
        workers=workers,
        threads=threads,
        on_evaluate=on_evaluate,
        objects=objects,
        device=device,
    )
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
    _announce(session)
    return _execute(session, progress, trials=trials, devices=chosen)


def _check_run_options(workers: int, threads: int | None) -> None:
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ConfigError(f"--threads must be an integer >= 1, got {threads!r}")


def _store_budget(study: Any, trials: int) -> None:
    """Record a new trial budget in the stored configuration (``resume --trials N``)."""
    stored = dict(study.user_attrs.get(CONFIG_ATTR, {}))
    budget = dict(stored.get("budget") or {})
    if budget.get("trials") != trials:
        budget["trials"] = int(trials)
        stored["budget"] = budget
        study.set_user_attr(CONFIG_ATTR, stored)


def run_worker(
    name: str,
    storage: str | None,
    *,
    device: str | None = None,
    threads: int | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    worker_index: int = 0,
    on_evaluate: EvaluationHook | None = None,
) -> int:
    """``dse worker``: evaluate study ``name``'s queued trials until the study is done
    (its driver ended it, or its trial budget is met) or ``timeout`` passes; for a back
    end that asks one genome at a time (Optuna's samplers) it runs the back end itself
    until the budget is met. Returns the number of evaluations this process made.

    ``device``: this worker's torch device for fine-tunes (else the study's
    ``device:``), recorded with the worker and its trials; ``threads``: torch threads
    (default one). A worker that a run started (see :class:`WorkerPool`) also stops when
    that run's process is gone, and takes the run's evaluation hook from its environment.
    """
    import base64
    import os
    import pickle

    from dse.search._parallel import HOOK_ENV, PARENT_ENV
    from dse.search._queue import register_worker, work

    _check_run_options(1, threads)
    hook = on_evaluate
    if hook is None and os.environ.get(HOOK_ENV):
        hook = pickle.loads(base64.b64decode(os.environ[HOOK_ENV]))
    parent = int(os.environ[PARENT_ENV]) if os.environ.get(PARENT_ENV) else None
    session = open_session(
        name,
        storage,
        trials=trials,
        timeout=timeout,
        worker_index=worker_index,
        threads=threads if threads is not None else 1,
        on_evaluate=hook,
        device=device,
    )
    if session.backend.generational:
        return work(session, device=device, parent=parent)
    register_worker(session.study, device=device, state="busy")
    try:
        done = session.counts()[0]
        session.optimize()
        return session.counts()[0] - done
    finally:
        register_worker(session.study, device=device, state="exited")
