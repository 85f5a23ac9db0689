"""The one module that reaches into Optuna's storage internals.

Optuna's public API creates a trial only through a sampler (``study.ask``), writes
attributes one commit at a time and runs heartbeats only inside ``Study.optimize``.
dse records trials whose parameters its own back ends chose, in one storage call,
with the heartbeat of its own run loop, so these few functions use Optuna's storage
layer directly (``study._storage``, ``trial._trial_id``, ``optuna.storages._heartbeat``,
the RDB storage's scoped sessions). Nothing else in dse touches a private Optuna name.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from dse.search._records import (
    FAILED_BY,
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
    "Heartbeat",
    "StaleTrialRequeue",
    "complete_trial",
    "completed_results",
    "count_trials",
    "create_running_trial",
    "fail_stale",
    "fail_trial",
    "quiet_optuna",
    "sampler_generation",
    "start_heartbeat",
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


def count_trials(study: optuna.Study, state: Any) -> int:
    """Trials of ``state`` (one COUNT query on an RDB storage, not a fetch of all trials)."""
    return int(study._storage.get_n_trials(study._study_id, state=state))


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
    system = {f"constraints:{k}": float(v) for k, v in constraints.items()}
    if not _batch_attrs(study, trial._trial_id, user, system):
        for key, value in user.items():
            trial.set_user_attr(key, value)
        for key, value in constraints.items():
            trial.set_constraint(key, float(value))
    study.tell(trial, [float(v) if math.isfinite(v) else 1e12 for v in values])


def fail_trial(study: optuna.Study, trial: optuna.trial.Trial, error: str | None) -> None:
    """Mark a RUNNING trial FAIL, with why (user attr ``error``) when known."""
    from optuna.trial import TrialState

    if error is not None:
        trial.set_user_attr("error", error)
    study.tell(trial, state=TrialState.FAIL)


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
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


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
    ends that pop WAITING trials (the Optuna samplers). The pymoo back end re-proposes
    the lost candidate itself from its checkpoint, so it is not queued twice.
    """

    def __init__(self, max_retry: int = 3) -> None:
        self.max_retry = max_retry

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        import optuna

        if str(trial.user_attrs.get("backend", "")).startswith("pymoo"):
            return
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

    storage = study._storage
    before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    if is_heartbeat_enabled(storage):
        rdb: Any = getattr(storage, "_backend", storage)
        grace = rdb.grace_period or 2 * rdb.heartbeat_interval
        deadline = time.monotonic() + (grace + rdb.heartbeat_interval + 1 if wait else 0)
        while True:
            optuna.storages.fail_stale_trials(study)
            running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if not running or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
    elif all_running:
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
            storage.set_trial_system_attr(t._trial_id, FAILED_BY, "resume")
    after = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    return sorted(after - before)
