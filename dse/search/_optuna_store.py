"""The one module that reaches into Optuna's storage internals.

Optuna's public API creates a trial only through a sampler (``study.ask``), writes
attributes one commit at a time and runs heartbeats only inside ``Study.optimize``.
dse records trials whose parameters its own back ends chose, in one storage call,
with the heartbeat of its own run loop, so these few functions use Optuna's storage
layer directly (``study._storage``, ``trial._trial_id``, ``optuna.storages._heartbeat``,
the RDB storage's scoped sessions and table models, the cached storage's trial cache);
only the storage queue (``_optuna_queue``) shares this licence.

Two ways to record: a RUNNING trial with a heartbeat that is completed when its
evaluation ends (:func:`create_running_trial`, :func:`complete_trial`), for evaluations
that take long; and :func:`write_complete_trials`, which writes a batch evaluated in
memory as COMPLETE trials in one transaction, for cheap evaluations.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from dse.search._records import (
    FAILED_BY,
    QUEUE_BATCH,
    RETRY_HISTORY,
    RETRY_OF,
    SAMPLER3_GENERATION,
    SAMPLER_GENERATION,
    StoredResult,
    TrialRecord,
)

if TYPE_CHECKING:
    import optuna

__all__ = [
    "FinishedTrial",
    "Heartbeat",
    "StaleTrialRequeue",
    "complete_trial",
    "completed_results",
    "count_trials",
    "create_running_trial",
    "fail_stale",
    "fail_trial",
    "pareto_front",
    "quiet_optuna",
    "sampler_generation",
    "start_heartbeat",
    "write_complete_trials",
]


def quiet_optuna() -> None:
    """Optuna's own log lines and experimental-feature warnings off."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


class Heartbeat(Protocol):
    def join(self) -> None: ...


def start_heartbeat(study: optuna.Study, trial: optuna.trial.Trial) -> Heartbeat:
    """Start the trial's heartbeat thread (a no-op without heartbeats); ``join`` stops it."""
    from optuna.storages._heartbeat import get_heartbeat_thread

    heartbeat = get_heartbeat_thread(trial._trial_id, study._storage)
    heartbeat.start()
    return heartbeat


def count_trials(study: optuna.Study, states: Sequence[Any]) -> list[int]:
    """The number of trials of each of ``states`` (one COUNT query on an RDB storage, not a
    fetch of all trials: Optuna's ``get_n_trials`` reads every trial it has not cached)."""
    backend = _backend(study)
    if _rdb(backend) is None:
        return [int(study._storage.get_n_trials(study._study_id, state=s)) for s in states]
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from sqlalchemy import func

    state = models.TrialModel.state
    with _create_scoped_session(backend.scoped_session) as session:
        rows = (
            session.query(state, func.count(models.TrialModel.trial_id))
            .filter(models.TrialModel.study_id == study._study_id)
            .filter(state.in_(list(states)))
            .group_by(state)
            .all()
        )
    found = {s: int(n) for s, n in rows}
    return [found.get(s, 0) for s in states]


def _numbers(study: optuna.Study, state: Any) -> set[int]:
    """The numbers of the trials of ``state`` (on an RDB storage without reading the
    trials themselves)."""
    backend = _backend(study)
    if _rdb(backend) is None:
        return {t.number for t in study.get_trials(deepcopy=False, states=(state,))}
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    with _create_scoped_session(backend.scoped_session) as session:
        rows = (
            session.query(models.TrialModel.number)
            .filter(models.TrialModel.study_id == study._study_id)
            .filter(models.TrialModel.state == state)
            .all()
        )
    return {int(n) for (n,) in rows}


def _backend(study: optuna.Study) -> Any:
    """The storage under Optuna's trial cache (the RDB storage itself, or the storage)."""
    return getattr(study._storage, "_backend", study._storage)


def sampler_generation(study: optuna.Study, trial: optuna.trial.Trial) -> int | None:
    """The generation an Optuna NSGA-II/III sampler gave the trial (``None`` for others)."""
    attrs = study._storage.get_trial(trial._trial_id).system_attrs
    gen = attrs.get(SAMPLER_GENERATION, attrs.get(SAMPLER3_GENERATION))
    return None if gen is None else int(gen)


def create_running_trial(
    study: optuna.Study,
    params: Mapping[str, Any],
    distributions: Mapping[str, Any],
    user_attrs: Mapping[str, Any] | None = None,
    system_attrs: Mapping[str, Any] | None = None,
) -> optuna.trial.Trial:
    """A new RUNNING trial with fixed parameters, created in one storage call.

    Race-free across processes (unlike enqueue + ask, which pops *any* waiting trial).
    """
    import optuna
    from optuna.trial import FrozenTrial, TrialState

    template = FrozenTrial(
        number=-1,
        state=TrialState.RUNNING,
        value=None,
        datetime_start=datetime.datetime.now(),
        datetime_complete=None,
        params=dict(params),
        distributions=dict(distributions),
        user_attrs=dict(user_attrs or {}),
        system_attrs=dict(system_attrs or {}),
        intermediate_values={},
        trial_id=-1,
    )
    backend = getattr(study._storage, "_backend", study._storage)
    fast = _rdb(backend) is not None
    if fast:  # the params in one INSERT batch, not a compatibility query per parameter
        template.params, template.distributions = {}, {}
    trial_id = study._storage.create_new_trial(study._study_id, template_trial=template)
    if fast:
        _bulk_params(backend, trial_id, params, distributions)
    return optuna.trial.Trial(study, trial_id)


def _rdb(backend: Any) -> Any:
    """Optuna's RDB storage module when ``backend`` is an RDB storage, else ``None``."""
    try:
        from optuna.storages._rdb import storage as rdb
    except ImportError:  # pragma: no cover - optuna internals moved
        return None
    return rdb if isinstance(backend, rdb.RDBStorage) else None


def _bulk_params(
    backend: Any, trial_id: int, params: Mapping[str, Any], distributions: Mapping[str, Any]
) -> None:
    """Insert a trial's parameters at once. The distributions are those of the study's
    space (checked by the space fingerprint), so Optuna's per-parameter compatibility
    query against earlier trials is not needed."""
    from optuna.distributions import distribution_to_json
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    with _create_scoped_session(backend.scoped_session, True) as session:
        session.add_all(
            [
                models.TrialParamModel(
                    trial_id=trial_id,
                    param_name=name,
                    param_value=distributions[name].to_internal_repr(value),
                    distribution_json=distribution_to_json(distributions[name]),
                )
                for name, value in params.items()
            ]
        )


def complete_trial(
    study: optuna.Study,
    trial: optuna.trial.Trial,
    user_attrs: Mapping[str, Any],
    constraints: Mapping[str, float],
    values: Iterable[float],
) -> None:
    """Write a RUNNING trial's attributes and constraints and complete it.

    On an RDB storage the attributes and constraints go in one transaction (instead of
    one commit each); ``study.tell`` then completes the trial (sampler hooks included).
    """
    user = {k: _jsonable(v) for k, v in user_attrs.items()}
    system = _constraint_attrs(constraints)
    if not _batch_attrs(study, trial._trial_id, user, system):
        for key, value in user.items():
            trial.set_user_attr(key, value)
        for key, value in constraints.items():
            trial.set_constraint(key, float(value))
    study.tell(trial, _stored_values(values))


def _stored_values(values: Iterable[float]) -> list[float]:
    """Objective values as recorded: a non-finite value (a design the evaluator could not
    measure) becomes 1e12, which every sampler and front ranks last."""
    return [float(v) if math.isfinite(v) else 1e12 for v in values]


def _constraint_attrs(constraints: Mapping[str, float]) -> dict[str, float]:
    """Constraints as the system attributes ``trial.set_constraint`` writes (Optuna 5)."""
    return {f"constraints:{k}": float(v) for k, v in constraints.items()}


def fail_trial(study: optuna.Study, trial: optuna.trial.Trial, error: str | None) -> None:
    """Mark a RUNNING trial FAIL, with why (user attr ``error``) when known."""
    from optuna.trial import TrialState

    if error is not None:
        trial.set_user_attr("error", error)
    study.tell(trial, state=TrialState.FAIL)


@dataclass(frozen=True)
class FinishedTrial:
    """One evaluation done in memory, to be written as a COMPLETE trial.

    ``params``: the genome as Optuna parameters; ``user_attrs``: every user attribute,
    in the order a per-trial record writes them; ``system_attrs``: the back end's own
    (the constraints are added as ``constraints:NAME``, as ``trial.set_constraint``
    writes them); ``started``/``completed``: when the evaluation ran (local time).
    """

    params: Mapping[str, Any]
    values: Sequence[float]
    user_attrs: Mapping[str, Any]
    system_attrs: Mapping[str, Any]
    constraints: Mapping[str, float]
    started: datetime.datetime
    completed: datetime.datetime


#: Attempts at a batch's transaction: a busy database (SQLite's writer lock taken by
#: another process between two statements, a deadlock on a server) rolls it back whole,
#: and it is tried again after a random pause, as Optuna retries creating a trial.
_ATTEMPTS = 5


def write_complete_trials(
    study: optuna.Study, distributions: Mapping[str, Any], trials: Sequence[FinishedTrial]
) -> list[int]:
    """Write ``trials`` (evaluated already) as COMPLETE trials; returns their numbers.

    On an RDB storage in one transaction, numbered as Optuna numbers a trial (see
    :func:`_number_trials`): a process killed before the commit has written none of
    them, one killed after all. Elsewhere (in-memory, journal) each is created COMPLETE
    in one storage call. No sampler's ``after_trial`` runs: no sampler proposed them.
    """
    if not trials:
        return []
    n_objectives = len(study.directions)
    rows: list[tuple[FinishedTrial, list[float], dict[str, Any], dict[str, Any]]] = []
    for t in trials:
        values = _stored_values(t.values)
        if len(values) != n_objectives:
            raise ValueError(
                f"a trial of study {study.study_name!r} has {len(values)} objective values, "
                f"the study has {n_objectives} objectives"
            )
        user = {k: _jsonable(v) for k, v in t.user_attrs.items()}
        system = {k: _jsonable(v) for k, v in t.system_attrs.items()}
        system.update(_constraint_attrs(t.constraints))
        rows.append((t, values, user, system))
    study._thread_local.cached_all_trials = None  # as study.tell: the trials changed
    backend = _backend(study)
    if _rdb(backend) is None:
        return [_create_complete(study, distributions, *row) for row in rows]
    return _write_rdb(study, backend, distributions, rows)


def _create_complete(
    study: optuna.Study,
    distributions: Mapping[str, Any],
    trial: FinishedTrial,
    values: list[float],
    user: dict[str, Any],
    system: dict[str, Any],
) -> int:
    """One COMPLETE trial in one storage call (in-memory and journal storages)."""
    from optuna.trial import FrozenTrial, TrialState

    template = FrozenTrial(
        number=-1,
        state=TrialState.COMPLETE,
        value=None,
        values=values,
        datetime_start=trial.started,
        datetime_complete=trial.completed,
        params=dict(trial.params),
        distributions={name: distributions[name] for name in trial.params},
        user_attrs=user,
        system_attrs=system,
        intermediate_values={},
        trial_id=-1,
    )
    storage = study._storage
    trial_id = storage.create_new_trial(study._study_id, template_trial=template)
    return int(storage.get_trial_number_from_id(trial_id))


def _write_rdb(
    study: optuna.Study,
    backend: Any,
    distributions: Mapping[str, Any],
    rows: Sequence[tuple[FinishedTrial, list[float], dict[str, Any], dict[str, Any]]],
) -> list[int]:
    """:func:`write_complete_trials` on an RDB storage: one transaction, SQL statements
    on Optuna's tables (Core inserts: the ORM's unit of work costs more than the rest)."""
    import optuna
    from optuna.distributions import distribution_to_json
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    study_id = study._study_id
    as_json = {name: distribution_to_json(d) for name, d in distributions.items()}
    internal, external = _param_reprs(distributions, rows)
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with _create_scoped_session(backend.scoped_session) as session:
                # the lock Optuna takes to number a trial (SQLite serialises writers anyway)
                models.StudyModel.find_or_raise_by_id(study_id, session, for_update=True)
                conn = session.connection()
                ids, times = _insert_trials(conn, study_id, [r[0] for r in rows])
                numbers = _number_trials(conn, study_id, ids)
                _insert_children(conn, ids, rows, internal, as_json)
            break
        except optuna.exceptions.StorageInternalError:
            if attempt == _ATTEMPTS:
                raise
            time.sleep(random.random() * 2.0)
    if backend.engine.name in ("sqlite", "postgresql"):  # MySQL keeps whole seconds only
        written = _frozen(ids, numbers, times, distributions, rows, external)
        _remember(study, written, min(numbers))
    return numbers


def _insert_trials(
    conn: Any, study_id: int, trials: Sequence[FinishedTrial]
) -> tuple[list[int], list[tuple[Any, Any]]]:
    """Insert the trial rows (COMPLETE, not yet numbered); their ids, in order, and
    their start and end times as the storage gives them back."""
    from optuna.storages._rdb import models
    from optuna.trial import TrialState
    from sqlalchemy import insert, inspect

    table = models.TrialModel.__table__
    # the model converts the times to the stored form (naive UTC in Optuna 5.1): read
    # them back from the attributes mapped to the columns
    mapper = inspect(models.TrialModel)
    start, end = (
        mapper.get_property_by_column(table.c[c]).key
        for c in ("datetime_start", "datetime_complete")
    )
    rows, times = [], []
    for t in trials:
        model = models.TrialModel(datetime_start=t.started, datetime_complete=t.completed)
        rows.append(
            {
                "study_id": study_id,
                "number": None,
                "state": TrialState.COMPLETE,
                "datetime_start": getattr(model, start),
                "datetime_complete": getattr(model, end),
            }
        )
        times.append((model.datetime_start, model.datetime_complete))
    if getattr(conn.dialect, "insert_executemany_returning_sort_by_parameter_order", False):
        result = conn.execute(
            insert(table).returning(table.c.trial_id, sort_by_parameter_order=True), rows
        )
        ids = [int(r[0]) for r in result]
    else:  # MySQL (no RETURNING), SQLAlchemy 1.4: one statement per trial
        ids = [int(conn.execute(insert(table), row).inserted_primary_key[0]) for row in rows]
    return ids, times


def _number_trials(conn: Any, study_id: int, ids: Sequence[int]) -> list[int]:
    """Number the new trials as Optuna's RDB storage does: a trial's number is the count
    of the study's trials with a smaller ``trial_id`` (the study row is locked, so no
    other trial of the study is created meanwhile)."""
    from optuna.storages._rdb import models
    from sqlalchemy import bindparam, func, select, update

    table = models.TrialModel.__table__
    before = conn.execute(
        select(func.count(table.c.trial_id)).where(
            table.c.study_id == study_id, table.c.trial_id < min(ids)
        )
    ).scalar()
    rank = {tid: k for k, tid in enumerate(sorted(ids))}
    numbers = [int(before or 0) + rank[tid] for tid in ids]
    conn.execute(
        update(table).where(table.c.trial_id == bindparam("id")).values(number=bindparam("n")),
        [{"id": tid, "n": n} for tid, n in zip(ids, numbers, strict=True)],
    )
    return numbers


def _insert_children(
    conn: Any,
    ids: Sequence[int],
    rows: Sequence[tuple[FinishedTrial, list[float], dict[str, Any], dict[str, Any]]],
    internal: Sequence[dict[str, float]],
    as_json: Mapping[str, str],
) -> None:
    """The trials' parameters, values, user and system attributes, one INSERT per
    table (JSON as Optuna writes it: ``json.dumps`` of the value)."""
    from optuna.storages._rdb import models

    stored_repr = models.TrialValueModel.value_to_stored_repr
    params: list[tuple[Any, ...]] = []
    values: list[tuple[Any, ...]] = []
    user_rows: list[tuple[Any, ...]] = []
    system_rows: list[tuple[Any, ...]] = []
    dumps = json.dumps
    for tid, (_, vals, user, system), reprs in zip(ids, rows, internal, strict=True):
        params += [(tid, name, value, as_json[name]) for name, value in reprs.items()]
        for objective, v in enumerate(vals):
            stored, kind = stored_repr(v)
            values.append((tid, objective, stored, kind.name))
        user_rows += [(tid, k, dumps(v)) for k, v in user.items()]
        system_rows += [(tid, k, dumps(v)) for k, v in system.items()]
    attr_columns = ("trial_id", "key", "value_json")
    for model_cls, columns, table_rows in (
        (
            models.TrialParamModel,
            ("trial_id", "param_name", "param_value", "distribution_json"),
            params,
        ),
        (models.TrialValueModel, ("trial_id", "objective", "value", "value_type"), values),
        (models.TrialUserAttributeModel, attr_columns, user_rows),
        (models.TrialSystemAttributeModel, attr_columns, system_rows),
    ):
        if table_rows:
            _insert_rows(conn, model_cls.__table__, columns, table_rows)


def _insert_rows(
    conn: Any, table: Any, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples of ``columns``). SQLite: the DB-API's ``executemany`` of
    one prepared statement (SQLAlchemy's per-row parameter processing would cost more
    than SQLite's work); servers: SQLAlchemy's multi-row ``VALUES`` (one round trip per
    thousand rows instead of one per row)."""
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", rows
        )
        return
    from sqlalchemy import insert

    conn.execute(insert(table), [dict(zip(columns, r, strict=True)) for r in rows])


def _frozen(
    ids: Sequence[int],
    numbers: Sequence[int],
    times: Sequence[tuple[Any, Any]],
    distributions: Mapping[str, Any],
    rows: Sequence[tuple[FinishedTrial, list[float], dict[str, Any], dict[str, Any]]],
    external: Sequence[dict[str, Any]],
) -> list[Any]:
    """The written trials as Optuna reads them back. The attributes went through
    :func:`_jsonable`, so JSON gives them back equal."""
    from optuna.trial import FrozenTrial, TrialState

    return [
        FrozenTrial(
            number=number,
            state=TrialState.COMPLETE,
            value=None,
            values=list(vals),
            datetime_start=start,
            datetime_complete=end,
            params=params,
            distributions={k: distributions[k] for k in params},
            user_attrs=dict(user),
            system_attrs=dict(system),
            intermediate_values={},
            trial_id=tid,
        )
        for tid, number, (start, end), (_, vals, user, system), params in zip(
            ids, numbers, times, rows, external, strict=True
        )
    ]


def _param_reprs(
    distributions: Mapping[str, Any], rows: Sequence[tuple[FinishedTrial, Any, Any, Any]]
) -> tuple[list[dict[str, float]], list[dict[str, Any]]]:
    """Each trial's parameters in the stored (internal) form, and as Optuna reads them
    back (the external form of the internal one); the conversions of a batch's few
    distinct (parameter, value) pairs are made once."""
    seen: dict[tuple[str, Any], tuple[float, Any]] = {}
    internal, external = [], []
    for t, *_ in rows:
        i_row, e_row = {}, {}
        for name, value in t.params.items():
            pair = seen.get((name, value))
            if pair is None:
                dist = distributions[name]
                stored = dist.to_internal_repr(value)
                pair = seen[(name, value)] = (stored, dist.to_external_repr(stored))
            i_row[name], e_row[name] = pair
        internal.append(i_row)
        external.append(e_row)
    return internal, external


def _remember(study: optuna.Study, written: Sequence[Any], before: int) -> None:
    """Put trials this process just wrote into Optuna's trial cache, so that reading
    the study here (progress, the run's summary) does not read them back. Only when the
    cache holds every earlier trial (``before`` of them): it then holds every trial up
    to the last one written and may start its next read after it."""
    storage = study._storage
    studies = getattr(storage, "_studies", None)
    lock = getattr(storage, "_lock", None)
    if studies is None or lock is None or not hasattr(storage, "_add_trials_to_cache"):
        return
    with lock:
        info = studies.get(study._study_id)
        if info is None or len(info.trials) != before:
            return
        for t in info.trials.values():  # a trial still running is read again, as before
            if not t.state.is_finished():
                info.unfinished_trial_ids.add(t._trial_id)
        storage._add_trials_to_cache(study._study_id, list(written))
        info.last_finished_trial_id = max(
            info.last_finished_trial_id, max(t._trial_id for t in written)
        )


def _batch_attrs(
    study: Any, trial_id: int, user: Mapping[str, Any], system: Mapping[str, Any]
) -> bool:
    backend = getattr(study._storage, "_backend", study._storage)
    rdb = _rdb(backend)
    if rdb is None or not hasattr(backend, "_set_trial_attr_without_commit"):
        return False
    from optuna.storages._rdb import models

    with rdb._create_scoped_session(backend.scoped_session, True) as session:
        for key, value in user.items():
            backend._set_trial_attr_without_commit(
                session, models.TrialUserAttributeModel, trial_id, key, value
            )
        for key, value in system.items():
            backend._set_trial_attr_without_commit(
                session, models.TrialSystemAttributeModel, trial_id, key, value
            )
    return True


def _jsonable(value: Any) -> Any:
    """``value`` as JSON gives it back (numpy scalars as Python numbers, tuples as lists,
    keys as strings), with a non-finite float as its string."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # most attributes
        return value
    if kind is float:
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def pareto_front(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """``study.best_trials`` without its deep copy of every trial (which cost more than a
    run's last hundred evaluations): Optuna's front of the uncopied trials, copied."""
    import copy

    try:
        from optuna.study._constrained_optimization import _is_constrained_optimization
        from optuna.study._multi_objective import _get_pareto_front_trials_by_trials
    except ImportError:  # another Optuna layout: its public (copying) property
        return list(study.best_trials)
    trials = study.get_trials(deepcopy=False)
    front = _get_pareto_front_trials_by_trials(
        trials, study.directions, consider_constraint=_is_constrained_optimization(trials)
    )
    return copy.deepcopy(front)


def completed_results(study: optuna.Study, known: Any = None) -> list[StoredResult]:
    """The COMPLETE trials as :class:`StoredResult` (those ``known(number)`` skips left out)."""
    from optuna.trial import TrialState

    return [
        StoredResult(
            t.number, TrialRecord.from_attrs(t.user_attrs), tuple(t.values), dict(t.constraints)
        )
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if known is None or not known(t.number)
    ]


class StaleTrialRequeue:
    """Heartbeat-stale callback: re-enqueue the failed trial's parameters (WAITING).

    Like :class:`optuna.storages.RetryHeartbeatStaleTrialCallback`, but only for back
    ends that pop WAITING trials (the Optuna samplers): the pymoo back end and the
    queue's driver re-propose a lost candidate themselves, so it is not queued twice."""

    def __init__(self, max_retry: int = 3) -> None:
        self.max_retry = max_retry

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        import optuna

        backend = str(trial.user_attrs.get("backend", ""))
        if QUEUE_BATCH in trial.user_attrs or backend.startswith("pymoo"):
            return  # the driver queues a queued trial's genome again itself
        history = [*trial.system_attrs.get(RETRY_HISTORY, []), trial.number]
        if len(history) > self.max_retry:
            return
        study.enqueue_trial(trial.params, user_attrs={RETRY_OF: trial.number})
        # keep the retry history on the queued trial
        waiting = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
        if waiting:
            study._storage.set_trial_system_attr(waiting[-1]._trial_id, RETRY_HISTORY, history)


def fail_stale(study: optuna.Study, *, wait: bool = False, all_running: bool = False) -> list[int]:
    """Mark trials of dead workers FAIL; returns their numbers.

    With heartbeats (RDB storages) a RUNNING trial is stale once its heartbeat is older
    than the grace period; ``wait=True`` waits up to one grace period for the trials of
    a just-killed worker to become stale. Without heartbeats (journal files) only
    ``all_running=True`` fails them (used by ``dse resume``, which assumes no other
    worker is running).
    """
    import optuna
    from optuna.storages._heartbeat import is_heartbeat_enabled
    from optuna.trial import TrialState

    storage: Any = study._storage
    heartbeat = is_heartbeat_enabled(storage)
    if heartbeat and not wait and not storage._get_stale_trial_ids(study._study_id):
        return []  # the run loop's case, once per batch: one query
    # trial numbers by state, not the trials (which Optuna would read in full)
    before = _numbers(study, TrialState.FAIL)
    if heartbeat:
        rdb: Any = getattr(storage, "_backend", storage)
        grace = rdb.grace_period or 2 * rdb.heartbeat_interval
        deadline = time.monotonic() + (grace + rdb.heartbeat_interval + 1 if wait else 0)
        while True:
            optuna.storages.fail_stale_trials(study)
            if not _numbers(study, TrialState.RUNNING) or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
    elif all_running:
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
            storage.set_trial_system_attr(t._trial_id, FAILED_BY, "resume")
    after = _numbers(study, TrialState.FAIL)
    return sorted(after - before)
