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

from dse.search._records import FAILED_BY, GENOME_KEY, QUEUE_BATCH

if TYPE_CHECKING:
    import optuna

__all__ = [
    "QueuedTrial",
    "enqueue_trials",
    "fail_trial_id",
    "frozen_trial",
    "take_trial",
    "trial_of",
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
    from sqlalchemy import func

    as_json = {name: distribution_to_json(d) for name, d in distributions.items()}
    with _create_scoped_session(rdb.scoped_session) as session:
        models.StudyModel.find_or_raise_by_id(study._study_id, session, for_update=True)
        first = (
            session.query(func.count(models.TrialModel.trial_id))
            .filter(models.TrialModel.study_id == study._study_id)
            .scalar()
        )
        rows = []
        for k, t in enumerate(trials):
            row = models.TrialModel(
                study_id=study._study_id, number=int(first or 0) + k, state=TrialState.WAITING
            )
            row.params = [
                models.TrialParamModel(
                    param_name=name,
                    param_value=distributions[name].to_internal_repr(value),
                    distribution_json=as_json[name],
                )
                for name, value in t.params.items()
            ]
            row.user_attributes = [
                models.TrialUserAttributeModel(key=k2, value_json=json.dumps(v))
                for k2, v in t.user_attrs.items()
            ]
            row.system_attributes = [
                models.TrialSystemAttributeModel(key=k2, value_json=json.dumps(v))
                for k2, v in t.system_attrs.items()
            ]
            rows.append(row)
        session.add_all(rows)
        session.flush()
        ids = [int(r.trial_id) for r in rows]
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


def take_trial(study: optuna.Study, trial_ids: Iterable[int]) -> int | None:
    """Move the first of ``trial_ids`` still WAITING to RUNNING; its id, or ``None``
    when another process took each of them first.

    On an RDB storage one conditional ``UPDATE ... WHERE state = WAITING`` claims the
    trial, which the database applies to one transaction only (Optuna's
    ``set_trial_state_values`` reads the state first, which SQLite's driver does outside
    the writing transaction, so two processes could both see it WAITING)."""
    import optuna
    from optuna.trial import TrialState

    rdb = _rdb(study)
    for tid in trial_ids:
        try:
            if rdb is None:
                if study._storage.set_trial_state_values(tid, state=TrialState.RUNNING):
                    return tid
            elif _claim(rdb, tid):
                return tid
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # failed or completed meanwhile
        except optuna.exceptions.StorageInternalError:
            continue  # a busy database: another process is writing; try the next one
    return None


def _claim(rdb: Any, trial_id: int) -> bool:
    import datetime

    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from optuna.trial import TrialState

    model = models.TrialModel
    with _create_scoped_session(rdb.scoped_session) as session:
        taken = (
            session.query(model)
            .filter(model.trial_id == trial_id, model.state == TrialState.WAITING)
            .update({model.state: TrialState.RUNNING}, synchronize_session=False)
        )
        if taken != 1:
            return False
        # the start time through the model, which stores it as Optuna does (naive UTC)
        model.find_or_raise_by_id(trial_id, session).datetime_start = datetime.datetime.now()
    return True


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


def trial_of(study: optuna.Study, trial_id: int) -> optuna.trial.Trial:
    """The trial, to write to (as ``study.ask`` returns it)."""
    import optuna

    return optuna.trial.Trial(study, trial_id)


def fail_trial_id(study: optuna.Study, trial_id: int, by: str) -> None:
    """Mark a trial FAIL (WAITING or RUNNING; a finished one is left as it is), with
    who failed it (system attr ``dse:failed_by``)."""
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
        storage.set_trial_system_attr(trial_id, FAILED_BY, by)
        storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
