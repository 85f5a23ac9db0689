"""The study's evaluation queue, on Optuna's own: WAITING trials in the storage.

A back end's batch becomes WAITING trials whose parameters are the genomes (fixed,
as :meth:`optuna.study.Study.enqueue_trial` fixes them) and whose user attributes
carry the trial record and the batch's name and position. Any process evaluates one
by moving it from WAITING to RUNNING with the storage's
``set_trial_state_values``, which on an RDB storage reads and writes the row in one
transaction (``SELECT ... FOR UPDATE`` on a server, SQLite's single writer) and
answers ``False`` to every process but the first: a trial is taken once.

Like :mod:`dse.search._optuna_store`, this module reaches into Optuna's storage
layer (the RDB storage's scoped sessions and table models, ``study._storage``), so
that a batch is queued in one transaction and the queue is read with one query.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dse.search._records import ERROR, FAILED_BY, GENOME_KEY, QUEUE_BATCH

if TYPE_CHECKING:
    import optuna

__all__ = [
    "Finished",
    "GroupHeartbeat",
    "QueuedTrial",
    "Taken",
    "complete_many",
    "complete_taken",
    "enqueue_trials",
    "fail_trial_id",
    "frozen_trial",
    "heartbeat",
    "read_complete",
    "take_trial",
    "take_trials",
    "trial_states",
    "trials_by_key",
    "waiting_ids",
]


@dataclass(frozen=True)
class QueuedTrial:
    """One genome to queue: its parameters and the trial's attributes."""

    params: Mapping[str, Any]
    user_attrs: Mapping[str, Any]
    system_attrs: Mapping[str, Any]


def _backend(study: optuna.Study) -> Any:
    return getattr(study._storage, "_backend", study._storage)


def _rdb(study: optuna.Study) -> Any:
    """The RDB storage under the study, or ``None`` (in-memory, journal)."""
    from optuna.storages._rdb.storage import RDBStorage

    backend = _backend(study)
    return backend if isinstance(backend, RDBStorage) else None


def enqueue_trials(
    study: optuna.Study, distributions: Mapping[str, Any], trials: Sequence[QueuedTrial]
) -> list[int]:
    """Queue ``trials`` as WAITING trials; returns their trial ids, in order.

    On an RDB storage in one transaction, numbered as Optuna numbers trials (the
    study row is locked, and a trial's number is the count of the study's trials
    before it); elsewhere one storage call each."""
    if not trials:
        return []
    from optuna.distributions import distribution_to_json
    from optuna.trial import FrozenTrial, TrialState

    rdb = _rdb(study)
    if rdb is None:
        ids = []
        for t in trials:
            template = FrozenTrial(
                number=-1,
                state=TrialState.WAITING,
                value=None,
                datetime_start=None,
                datetime_complete=None,
                params=dict(t.params),
                distributions={k: distributions[k] for k in t.params},
                user_attrs=dict(t.user_attrs),
                system_attrs=dict(t.system_attrs),
                intermediate_values={},
                trial_id=-1,
            )
            ids.append(study._storage.create_new_trial(study._study_id, template_trial=template))
        return ids
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from sqlalchemy import func, insert

    as_json = {name: distribution_to_json(d) for name, d in distributions.items()}
    table = models.TrialModel.__table__
    with _create_scoped_session(rdb.scoped_session) as session:
        models.StudyModel.find_or_raise_by_id(study._study_id, session, for_update=True)
        first = int(
            session.query(func.count(models.TrialModel.trial_id))
            .filter(models.TrialModel.study_id == study._study_id)
            .scalar()
            or 0
        )
        conn = session.connection()
        rows = [
            {"study_id": study._study_id, "number": first + k, "state": TrialState.WAITING}
            for k in range(len(trials))
        ]
        # Core statements: the ORM's unit of work costs more than the database's work
        if getattr(conn.dialect, "insert_executemany_returning_sort_by_parameter_order", False):
            result = conn.execute(
                insert(table).returning(table.c.trial_id, sort_by_parameter_order=True), rows
            )
            ids = [int(r[0]) for r in result]
        else:  # MySQL: no RETURNING
            ids = [int(conn.execute(insert(table), r).inserted_primary_key[0]) for r in rows]  # type: ignore[index]
        params, user, system = [], [], []
        for tid, t in zip(ids, trials, strict=True):
            params += [
                {
                    "trial_id": tid,
                    "param_name": name,
                    "param_value": distributions[name].to_internal_repr(value),
                    "distribution_json": as_json[name],
                }
                for name, value in t.params.items()
            ]
            user += [
                {"trial_id": tid, "key": k, "value_json": json.dumps(v)}
                for k, v in t.user_attrs.items()
            ]
            system += [
                {"trial_id": tid, "key": k, "value_json": json.dumps(v)}
                for k, v in t.system_attrs.items()
            ]
        for model, values in (
            (models.TrialParamModel, params),
            (models.TrialUserAttributeModel, user),
            (models.TrialSystemAttributeModel, system),
        ):
            if values:
                conn.execute(insert(model.__table__), values)
    return ids


def waiting_ids(study: optuna.Study, limit: int = 64) -> list[int]:
    """The ids of the study's queued trials still WAITING, oldest first (one query on
    an RDB storage; WAITING trials Optuna's ``enqueue_trial`` made for a sampler's
    ``ask`` are left to it)."""
    from optuna.trial import TrialState

    rdb = _rdb(study)
    if rdb is None:
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        return [t._trial_id for t in waiting if QUEUE_BATCH in t.user_attrs][:limit]
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    model, attr = models.TrialModel, models.TrialUserAttributeModel
    with _create_scoped_session(rdb.scoped_session) as session:
        rows = (
            session.query(model.trial_id)
            .join(attr, attr.trial_id == model.trial_id)
            .filter(model.study_id == study._study_id, model.state == TrialState.WAITING)
            .filter(attr.key == QUEUE_BATCH)
            .order_by(model.trial_id)
            .limit(limit)
            .all()
        )
    return [int(r[0]) for r in rows]


@dataclass(frozen=True)
class Taken:
    """A queued trial this process took: its id, number and user attributes."""

    trial_id: int
    number: int
    user_attrs: dict[str, Any]


def take_trial(
    study: optuna.Study, trial_ids: Iterable[int], marks: Mapping[str, Any] | None = None
) -> Taken | None:
    """Move the first of ``trial_ids`` still WAITING to RUNNING, with the user
    attributes ``marks`` (who took it); ``None`` when another process took each first.

    On an RDB storage one conditional ``UPDATE ... WHERE state = WAITING`` claims the
    trial, which the database applies to one transaction only (Optuna's
    ``set_trial_state_values`` reads the state first, which SQLite's driver does outside
    the writing transaction, so two processes could both see it WAITING); the marks
    and the reading of the trial's attributes go in the same transaction."""
    import optuna
    from optuna.trial import TrialState

    rdb = _rdb(study)
    storage = study._storage
    for tid in trial_ids:
        try:
            if rdb is not None:
                taken = _claim(rdb, tid, dict(marks or {}))
                if taken is not None:
                    return taken
            elif storage.set_trial_state_values(tid, state=TrialState.RUNNING):
                for key, value in (marks or {}).items():
                    storage.set_trial_user_attr(tid, key, value)
                t = storage.get_trial(tid)
                return Taken(tid, t.number, dict(t.user_attrs))
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # failed or completed meanwhile
        except optuna.exceptions.StorageInternalError:
            continue  # a busy database: another process is writing; try the next one
    return None


def _claim(rdb: Any, trial_id: int, marks: dict[str, Any]) -> Taken | None:
    import datetime

    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from optuna.trial import TrialState

    model, attr = models.TrialModel, models.TrialUserAttributeModel
    with _create_scoped_session(rdb.scoped_session) as session:
        claimed = (
            session.query(model)
            .filter(model.trial_id == trial_id, model.state == TrialState.WAITING)
            .update({model.state: TrialState.RUNNING}, synchronize_session=False)
        )
        if claimed != 1:
            return None
        # the start time through the model, which stores it as Optuna does (naive UTC)
        row = model.find_or_raise_by_id(trial_id, session)
        row.datetime_start = datetime.datetime.now()
        number = int(row.number)
        attrs = {
            k: json.loads(v)
            for k, v in session.query(attr.key, attr.value_json).filter(attr.trial_id == trial_id)
        }
        _replace_attrs(session, attr, trial_id, marks)
    return Taken(trial_id, number, {**attrs, **marks})


def _replace_attrs(session: Any, model: Any, trial_id: int, attrs: Mapping[str, Any]) -> None:
    """Set ``attrs`` on the trial (an attribute already there is replaced)."""
    if not attrs:
        return
    session.query(model).filter(model.trial_id == trial_id, model.key.in_(list(attrs))).delete(
        synchronize_session=False
    )
    from sqlalchemy import insert

    session.connection().execute(
        insert(model.__table__),
        [{"trial_id": trial_id, "key": k, "value_json": json.dumps(v)} for k, v in attrs.items()],
    )


def complete_taken(
    study: optuna.Study,
    trial_id: int,
    values: Sequence[float],
    user_attrs: Mapping[str, Any],
    system_attrs: Mapping[str, Any],
) -> bool:
    """Complete a RUNNING trial with its values and attributes (already in stored form:
    JSON-ready, finite values) in one transaction; ``False`` when it is not RUNNING
    any more (failed as stale meanwhile: its genome was queued again). Elsewhere than on
    an RDB storage through Optuna's storage calls."""
    from optuna.trial import TrialState

    rdb = _rdb(study)
    if rdb is None:
        storage = study._storage
        if storage.get_trial(trial_id).state != TrialState.RUNNING:
            return False
        for k, v in user_attrs.items():
            storage.set_trial_user_attr(trial_id, k, v)
        for k, v in system_attrs.items():
            storage.set_trial_system_attr(trial_id, k, v)
        return bool(storage.set_trial_state_values(trial_id, TrialState.COMPLETE, list(values)))
    import datetime

    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from sqlalchemy import insert

    model = models.TrialModel
    with _create_scoped_session(rdb.scoped_session) as session:
        done = (
            session.query(model)
            .filter(model.trial_id == trial_id, model.state == TrialState.RUNNING)
            .update({model.state: TrialState.COMPLETE}, synchronize_session=False)
        )
        if done != 1:
            return False
        model.find_or_raise_by_id(trial_id, session).datetime_complete = datetime.datetime.now()
        stored = models.TrialValueModel.value_to_stored_repr
        rows: list[dict[str, Any]] = []
        for objective, v in enumerate(values):
            stored_value, kind = stored(v)
            rows.append(
                {
                    "trial_id": trial_id,
                    "objective": objective,
                    "value": stored_value,
                    "value_type": kind,
                }
            )
        session.connection().execute(insert(models.TrialValueModel.__table__), rows)
        _replace_attrs(session, models.TrialUserAttributeModel, trial_id, user_attrs)
        _replace_attrs(session, models.TrialSystemAttributeModel, trial_id, system_attrs)
    # as study.tell: this process's cached list of the study's trials is out of date
    study._thread_local.cached_all_trials = None
    return True


@dataclass(frozen=True)
class Finished:
    """A COMPLETE trial as the driver reads it back: number, values, user attributes
    and constraints."""

    number: int
    values: tuple[float, ...]
    user_attrs: dict[str, Any]
    constraints: dict[str, float]


def read_complete(study: optuna.Study, trial_ids: Sequence[int]) -> dict[int, Finished]:
    """The COMPLETE trials among ``trial_ids`` (four queries on an RDB storage, not
    one trial at a time)."""
    from optuna.trial import TrialState

    rdb = _rdb(study)
    if rdb is None:
        out = {}
        for tid in trial_ids:
            t = study._storage.get_trial(tid)
            if t.state == TrialState.COMPLETE:
                out[tid] = Finished(t.number, tuple(t.values), dict(t.user_attrs), t.constraints)
        return out
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    ids = list(trial_ids)
    model, value = models.TrialModel, models.TrialValueModel
    user, system = models.TrialUserAttributeModel, models.TrialSystemAttributeModel
    with _create_scoped_session(rdb.scoped_session) as session:
        numbers = dict(
            session.query(model.trial_id, model.number).filter(
                model.trial_id.in_(ids), model.state == TrialState.COMPLETE
            )
        )
        done = list(numbers)
        vals: dict[int, dict[int, float]] = {}
        for tid, objective, v, kind in session.query(
            value.trial_id, value.objective, value.value, value.value_type
        ).filter(value.trial_id.in_(done)):
            vals.setdefault(tid, {})[objective] = value.stored_repr_to_value(v, kind)
        attrs: dict[int, dict[str, Any]] = {}
        for a_tid, a_key, a_json in session.query(user.trial_id, user.key, user.value_json).filter(
            user.trial_id.in_(done)
        ):
            attrs.setdefault(int(a_tid or 0), {})[a_key] = json.loads(a_json)
        cons: dict[int, dict[str, float]] = {}
        for c_tid, c_key, c_json in session.query(
            system.trial_id, system.key, system.value_json
        ).filter(system.trial_id.in_(done), system.key.like("constraints:%")):
            cons.setdefault(int(c_tid or 0), {})[c_key.split(":", 1)[1]] = float(json.loads(c_json))
    return {
        tid: Finished(
            int(numbers[tid]),
            tuple(v for _, v in sorted(vals.get(tid, {}).items())),
            attrs.get(tid, {}),
            cons.get(tid, {}),
        )
        for tid in done
    }


def trial_states(study: optuna.Study, trial_ids: Sequence[int]) -> dict[int, Any]:
    """The state of each of ``trial_ids`` (one query on an RDB storage)."""
    rdb = _rdb(study)
    if rdb is None:
        return {tid: study._storage.get_trial(tid).state for tid in trial_ids}
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    model = models.TrialModel
    with _create_scoped_session(rdb.scoped_session) as session:
        rows = (
            session.query(model.trial_id, model.state)
            .filter(model.trial_id.in_(list(trial_ids)))
            .all()
        )
    return {int(tid): state for tid, state in rows}


def trials_by_key(
    study: optuna.Study, keys: Iterable[str], states: Sequence[Any]
) -> dict[str, list[tuple[int, Any]]]:
    """The trials of ``states`` whose ``genome_key`` is one of ``keys``: key → [(trial
    id, state)], oldest first (one query on an RDB storage)."""
    wanted = set(keys)
    found: dict[str, list[tuple[int, Any]]] = {}
    rdb = _rdb(study)
    if rdb is None:
        for t in study.get_trials(deepcopy=False, states=tuple(states)):
            key = t.user_attrs.get(GENOME_KEY)
            if key in wanted:
                found.setdefault(key, []).append((t._trial_id, t.state))
        return found
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    model, attr = models.TrialModel, models.TrialUserAttributeModel
    with _create_scoped_session(rdb.scoped_session) as session:
        rows = (
            session.query(model.trial_id, model.state, attr.value_json)
            .join(attr, attr.trial_id == model.trial_id)
            .filter(model.study_id == study._study_id, model.state.in_(list(states)))
            .filter(attr.key == GENOME_KEY, attr.value_json.in_([json.dumps(k) for k in wanted]))
            .order_by(model.trial_id)
            .all()
        )
    for tid, state, value in rows:
        found.setdefault(json.loads(value), []).append((int(tid), state))
    return found


def frozen_trial(study: optuna.Study, trial_id: int) -> optuna.trial.FrozenTrial:
    """The trial as stored now."""
    return study._storage.get_trial(trial_id)


def heartbeat(study: optuna.Study, trial_id: int) -> Any:
    """Start the trial's heartbeat thread (a no-op without heartbeats); ``join`` stops it."""
    from optuna.storages._heartbeat import get_heartbeat_thread

    thread = get_heartbeat_thread(trial_id, study._storage)
    thread.start()
    return thread


def fail_trial_id(
    study: optuna.Study, trial_id: int, by: str | None = None, error: str | None = None
) -> None:
    """Mark a trial FAIL (WAITING or RUNNING; a finished one is left as it is), with
    who failed it (system attr ``dse:failed_by``: the trial was lost, not wrong) or the
    error its evaluation raised (user attr ``error``)."""
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
        if by is not None:
            storage.set_trial_system_attr(trial_id, FAILED_BY, by)
        if error is not None:
            storage.set_trial_user_attr(trial_id, ERROR, error)
        storage.set_trial_state_values(trial_id, state=TrialState.FAIL)


def take_trials(
    study: optuna.Study, trial_ids: Sequence[int], k: int, marks: Mapping[str, Any]
) -> list[Taken]:
    """Take up to ``k`` of ``trial_ids`` still WAITING at once, for evaluations too
    cheap to pay a few transactions each: one ``UPDATE ... WHERE state = WAITING
    RETURNING`` claims them, and their first heartbeats, their ``marks`` and the reading
    of their attributes go in the same transaction. One at a time (:func:`take_trial`)
    where the storage cannot (not an RDB storage, no ``UPDATE ... RETURNING``)."""
    rdb = _rdb(study)
    if k <= 1 or rdb is None or not rdb.engine.dialect.update_returning:
        one = take_trial(study, trial_ids, marks)
        return [] if one is None else [one]
    import datetime

    import optuna
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from optuna.trial import TrialState
    from sqlalchemy import insert, inspect, update

    table = models.TrialModel.__table__
    start = inspect(models.TrialModel).get_property_by_column(table.c["datetime_start"]).key
    # the start time as the model stores it (naive UTC in Optuna 5.1)
    now = getattr(models.TrialModel(datetime_start=datetime.datetime.now()), start)
    attr = models.TrialUserAttributeModel
    try:
        with _create_scoped_session(rdb.scoped_session) as session:
            conn = session.connection()
            rows = conn.execute(
                update(table)
                .where(table.c.trial_id.in_(list(trial_ids)[:k]))
                .where(table.c.state == TrialState.WAITING)
                .values(state=TrialState.RUNNING, datetime_start=now)
                .returning(table.c.trial_id, table.c.number)
            ).all()
            if not rows:
                return []
            ids = [int(r[0]) for r in rows]
            if rdb.heartbeat_interval:
                # the column's default is the database's clock, as Optuna's heartbeat
                conn.execute(
                    insert(models.TrialHeartbeatModel.__table__), [{"trial_id": t} for t in ids]
                )
            attrs: dict[int, dict[str, Any]] = {tid: {} for tid in ids}
            for tid, key, value in session.query(attr.trial_id, attr.key, attr.value_json).filter(
                attr.trial_id.in_(ids)
            ):
                attrs[int(tid or 0)][key] = json.loads(value)
            marked = [
                {"trial_id": tid, "key": key, "value_json": json.dumps(v)}
                for tid in ids
                for key, v in marks.items()
            ]
            if marked:
                conn.execute(insert(attr.__table__), marked)
    except optuna.exceptions.StorageInternalError:
        return []  # a busy database: the caller looks again
    return [Taken(int(tid), int(n), {**attrs[int(tid)], **marks}) for tid, n in rows]


class GroupHeartbeat:
    """One thread beating for several trials taken together (:func:`take_trials`):
    their heartbeat rows are set to the database's clock every ``heartbeat_interval``
    seconds, in one statement; ``join`` stops it."""

    def __init__(self, study: optuna.Study, trial_ids: Sequence[int]) -> None:
        import threading

        self.rdb = _rdb(study)
        self.ids = list(trial_ids)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        if self.rdb is not None and self.rdb.heartbeat_interval:
            self.thread.start()

    def _run(self) -> None:
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session
        from sqlalchemy import func, update

        table = models.TrialHeartbeatModel.__table__
        while not self.stop.wait(self.rdb.heartbeat_interval):
            with (
                contextlib.suppress(Exception),
                _create_scoped_session(self.rdb.scoped_session) as session,
            ):
                session.connection().execute(
                    update(table)
                    .where(table.c.trial_id.in_(self.ids))
                    .values(heartbeat=func.current_timestamp())
                )

    def join(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()


def complete_many(
    study: optuna.Study,
    items: Sequence[tuple[int, Sequence[float], Mapping[str, Any], Mapping[str, Any]]],
) -> set[int]:
    """Complete several RUNNING trials ``(trial id, values, user attrs, system attrs)``
    (stored form, as :func:`complete_taken`) in one transaction; returns the ids
    completed (a trial failed as stale meanwhile is left as it is)."""
    rdb = _rdb(study)
    if rdb is None or not rdb.engine.dialect.update_returning:
        return {t for t, vals, u, sy in items if complete_taken(study, t, vals, u, sy)}
    import datetime

    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from optuna.trial import TrialState
    from sqlalchemy import insert, inspect, update

    table = models.TrialModel.__table__
    end = inspect(models.TrialModel).get_property_by_column(table.c["datetime_complete"]).key
    now = getattr(models.TrialModel(datetime_complete=datetime.datetime.now()), end)
    stored = models.TrialValueModel.value_to_stored_repr
    user, system = models.TrialUserAttributeModel, models.TrialSystemAttributeModel
    with _create_scoped_session(rdb.scoped_session) as session:
        conn = session.connection()
        done = {
            int(r[0])
            for r in conn.execute(
                update(table)
                .where(table.c.trial_id.in_([t for t, *_ in items]))
                .where(table.c.state == TrialState.RUNNING)
                .values(state=TrialState.COMPLETE, datetime_complete=now)
                .returning(table.c.trial_id)
            )
        }
        values: list[dict[str, Any]] = []
        attrs: dict[Any, list[dict[str, Any]]] = {user: [], system: []}
        for tid, vals, u, sy in items:
            if tid not in done:
                continue
            for objective, v in enumerate(vals):
                stored_value, kind = stored(v)
                values.append(
                    {
                        "trial_id": tid,
                        "objective": objective,
                        "value": stored_value,
                        "value_type": kind,
                    }
                )
            for model, kv in ((user, u), (system, sy)):
                attrs[model] += [
                    {"trial_id": tid, "key": k, "value_json": json.dumps(v)} for k, v in kv.items()
                ]
        if values:
            conn.execute(insert(models.TrialValueModel.__table__), values)
        for model, rows in attrs.items():
            if rows:  # an attribute already there (the driver's worker_pid) is replaced
                keys = sorted({r["key"] for r in rows})
                session.query(model).filter(
                    model.trial_id.in_(sorted(done)), model.key.in_(keys)
                ).delete(synchronize_session=False)
                conn.execute(insert(model.__table__), rows)
    study._thread_local.cached_all_trials = None
    return done
