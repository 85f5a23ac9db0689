"""Evaluations through the study's queue: the driver's batch and the worker's loop.

The driver (``dse run``/``dse resume``) queues a back end's batch as WAITING trials
(:mod:`dse.search._optuna_queue`), waits for them to be COMPLETE and tells the back
end their results in the batch's order, so the search does not depend on which
worker finished first. Any number of ``dse worker`` processes, on any machine that
reaches the storage, take WAITING trials one at a time, evaluate them with a
heartbeat and complete them; the driver evaluates from the queue itself when no
worker is attached.

Failures: a worker killed mid-evaluation leaves a RUNNING trial whose heartbeat
goes stale; the driver marks it FAIL and queues its genome again. A driver killed
mid-batch leaves WAITING and RUNNING trials; the next driver (``dse resume``) asks
the back end for the same batch (NSGA-II's checkpoint is that of the last told
generation) and takes over the trials of the batch's genomes (by genome key)
instead of queueing them again, so no recorded evaluation is lost or repeated.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dse.errors import StudyStateError
from dse.search._backends import Proposal, Result
from dse.search._optuna_queue import (
    GroupHeartbeat,
    QueuedTrial,
    Taken,
    complete_many,
    complete_taken,
    enqueue_trials,
    fail_trial_id,
    frozen_trial,
    heartbeat,
    read_complete,
    take_trial,
    take_trials,
    trial_states,
    trials_by_key,
    waiting_ids,
)

# a trial's values and attributes in the form the trial store writes them (one policy
# for non-finite values and JSON, whichever way a trial is recorded)
from dse.search._optuna_store import _constraint_attrs as constraint_attrs
from dse.search._optuna_store import _jsonable as jsonable
from dse.search._optuna_store import _stored_values as stored_values
from dse.search._optuna_store import fail_stale
from dse.search._parallel import Stopped
from dse.search._records import (
    ERROR,
    FAILED_BY,
    QUEUE_BATCH,
    QUEUE_INDEX,
    RETRY_OF,
    WORKER_PID,
    StoredResult,
    TrialRecord,
)

if TYPE_CHECKING:
    from dse.search._session import StudySession

__all__ = [
    "DRIVER_ATTR",
    "WORKER_ATTR_PREFIX",
    "WORKER_HOST",
    "WORKER_ID",
    "evaluate_queued",
    "evaluate_through_queue",
    "queue_attached",
    "recent_workers",
    "register_worker",
    "set_driver_state",
]

#: Study attributes: the driver's state (``running``, ``stopped``, ``done``), and one
#: per worker (``dse:worker:HOST:PID``) with its host, pid, device and when last seen.
DRIVER_ATTR = "dse:driver"
WORKER_ATTR_PREFIX = "dse:worker:"
#: Trial user attributes: which worker evaluated the trial.
WORKER_ID = "worker_id"
WORKER_HOST = "worker_host"

#: A worker refreshes its registration this often; one not seen for three times as
#: long is not counted as attached.
REGISTER_EVERY_S = 5.0
_ATTACHED_S = 3 * REGISTER_EVERY_S
#: Re-queues of one genome whose evaluations keep being lost (killed workers).
_MAX_RETRIES = 3


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def register_worker(study: Any, *, device: str | None, state: str) -> None:
    """Record this worker in the study (``dse status`` lists the recent ones)."""
    study.set_user_attr(
        WORKER_ATTR_PREFIX + worker_id(),
        {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "device": device or "cpu",
            "state": state,
            "seen": time.time(),
        },
    )


def recent_workers(user_attrs: dict[str, Any], within_s: float = _ATTACHED_S) -> list[dict]:
    """The workers registered in a study's attributes and seen within ``within_s``
    seconds that have not exited."""
    now = time.time()
    return [
        v
        for k, v in user_attrs.items()
        if k.startswith(WORKER_ATTR_PREFIX)
        and isinstance(v, dict)
        and v.get("state") != "exited"
        and now - float(v.get("seen", 0)) <= within_s
    ]


def set_driver_state(study: Any, state: str) -> None:
    study.set_user_attr(
        DRIVER_ATTR,
        {"state": state, "host": socket.gethostname(), "pid": os.getpid(), "at": time.time()},
    )


def queue_attached(study: Any) -> bool:
    """Whether the study's queue is in use: a worker is attached, or trials of an
    earlier driver's batch wait to be taken over."""
    return bool(recent_workers(study.user_attrs) or waiting_ids(study, limit=1))


def _marks() -> dict[str, Any]:
    return {WORKER_ID: worker_id()}


def take(study: Any, trial_ids: Sequence[int]) -> Taken | None:
    """Take one of the queued ``trial_ids`` (see :func:`take_trial`), marked as this
    worker's."""
    return take_trial(study, trial_ids, _marks())


def evaluate_queued(session: StudySession, taken: Taken, device: str | None = None) -> Result:
    """Evaluate a queued trial this process has taken (RUNNING) and complete it, with
    a heartbeat meanwhile. An evaluation that raises marks the trial FAIL with the
    error (and raises); a signal marks it FAIL by ``signal`` so that it is queued again."""
    study = session.study
    tid = taken.trial_id
    record = TrialRecord.from_attrs(taken.user_attrs)
    beat = heartbeat(study, tid)
    try:
        if session.on_evaluate is not None:
            session.on_evaluate(record.genome)
        evaluation = session.evaluator.evaluate(record.genome)
        attrs = {
            **evaluation.attrs,
            WORKER_PID: os.getpid(),
            WORKER_HOST: socket.gethostname(),
        }
        if device:
            attrs["device"] = device
        complete_taken(
            study,
            tid,
            stored_values(evaluation.values),
            {k: jsonable(v) for k, v in attrs.items()},
            constraint_attrs(evaluation.constraints),
        )
    except Stopped:
        fail_trial_id(study, tid, by="signal")
        raise
    except BaseException as exc:
        fail_trial_id(study, tid, error=str(exc)[:500])
        raise
    finally:
        beat.join()
    record.result = dict(evaluation.attrs)
    values, constraints = tuple(evaluation.values), dict(evaluation.constraints)
    session.index.add(StoredResult(taken.number, record, values, constraints))
    return Result(record.genome, values, constraints)


#: Trials a worker takes at once in a study of cheap (hardware-only) evaluations: one
#: claim, one heartbeat thread and one completion for the group instead of each.
GROUP = 8


def evaluate_group(session: StudySession, group: Sequence[Taken], device: str | None) -> None:
    """Evaluate trials taken together (:func:`take_trials`) and complete them in one
    transaction. When an evaluation raises, those before it are completed, it is marked
    FAIL with its error and the rest are released (FAIL by ``released``: the driver
    queues them again); a signal releases the rest the same way (by ``signal``)."""
    study = session.study
    beat = GroupHeartbeat(study, [t.trial_id for t in group])
    items: list[tuple[int, list[float], dict[str, Any], dict[str, float]]] = []
    try:
        for taken in group:
            record = TrialRecord.from_attrs(taken.user_attrs)
            if session.on_evaluate is not None:
                session.on_evaluate(record.genome)
            evaluation = session.evaluator.evaluate(record.genome)
            attrs = {**evaluation.attrs, WORKER_PID: os.getpid(), WORKER_HOST: socket.gethostname()}
            if device:
                attrs["device"] = device
            items.append(
                (
                    taken.trial_id,
                    stored_values(evaluation.values),
                    {k: jsonable(v) for k, v in attrs.items()},
                    constraint_attrs(evaluation.constraints),
                )
            )
        complete_many(study, items)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            complete_many(study, items)
            rest = [t.trial_id for t in group[len(items) :]]
            if isinstance(exc, Exception) and rest:
                fail_trial_id(study, rest.pop(0), error=str(exc)[:500])
            for tid in rest:
                fail_trial_id(study, tid, by="signal" if isinstance(exc, Stopped) else "released")
        raise
    finally:
        beat.join()


def _results(session: StudySession, trial_ids: Sequence[int]) -> dict[int, Result]:
    """The results of the COMPLETE trials among ``trial_ids``, by trial id (indexed)."""
    out = {}
    for tid, t in read_complete(session.study, trial_ids).items():
        record = TrialRecord.from_attrs(t.user_attrs)
        if not session.index.knows(t.number):
            session.index.add(StoredResult(t.number, record, t.values, dict(t.constraints)))
        out[tid] = Result(record.genome, t.values, dict(t.constraints))
    return out


def evaluate_through_queue(
    session: StudySession, proposals: Sequence[Proposal], *, backend: str, participate: bool
) -> list[Result]:
    """Queue ``proposals`` (taking over trials of the same genomes an earlier driver
    left), wait until each is COMPLETE and return the results in order; the results
    of a prefix of them when the time limit passes. ``participate``: this process
    evaluates waiting trials of the batch itself meanwhile."""
    from optuna.trial import TrialState

    study = session.study
    keys = [p.genome.key for p in proposals]
    slots: list[int | None] = [None] * len(proposals)
    found = trials_by_key(
        study, keys, (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)
    )
    for i, key in enumerate(keys):
        rows = found.get(key, [])
        done = [tid for tid, state in rows if state == TrialState.COMPLETE]
        if done or rows:
            slots[i] = done[0] if done else rows[-1][0]
    batch = uuid.uuid4().hex[:12]

    def queue(positions: Sequence[int], retry_of: dict[int, int] | None = None) -> None:
        items = []
        for i in positions:
            p = proposals[i]
            attrs = {**session.trial_record(p, backend).header(), QUEUE_BATCH: batch}
            attrs[QUEUE_INDEX] = i
            if retry_of and i in retry_of:
                attrs[RETRY_OF] = retry_of[i]
            items.append(QueuedTrial(session.space.to_params(p.genome), attrs, p.system_attrs))
        ids = enqueue_trials(study, session.space.distributions(), items)
        for i, tid in zip(positions, ids, strict=True):
            slots[i] = tid

    queue([i for i, s in enumerate(slots) if s is None])
    results: dict[int, Result] = {}
    retries = [0] * len(proposals)
    next_check = 0.0
    pause = 0.005
    while len(results) < len(proposals):
        pending = [i for i in range(len(proposals)) if i not in results]
        ids = {i: _slot(slots, i) for i in pending}
        states = trial_states(study, list(ids.values()))
        read = _results(session, [t for t in ids.values() if states.get(t) == TrialState.COMPLETE])
        lost: dict[int, int] = {}
        for i, tid in ids.items():
            if tid in read:
                results[i] = read[tid]
            elif states.get(tid) == TrialState.FAIL:
                lost[i] = _lost(session, tid, keys[i], retries, i)
        if lost:
            queue(sorted(lost), lost)
        if len(results) == len(proposals) or session.time_up():
            break
        now = time.monotonic()
        if now >= next_check:  # a dead worker's trial, a dead pool, progress
            fail_stale(study)
            if session.pool is not None:
                session.pool.check()
            session.notify()
            next_check = now + 1.0
        if participate:
            # evaluate the batch's waiting trials here, one after the other, before
            # reading the queue again (workers elsewhere may take some first)
            waiting = [t for t in ids.values() if states.get(t) == TrialState.WAITING]
            evaluated = 0
            while waiting and not session.time_up():
                taken = take(study, waiting)
                if taken is None:
                    break
                evaluate_queued(session, taken)
                waiting = waiting[waiting.index(taken.trial_id) + 1 :]
                evaluated += 1
            if evaluated:
                pause = 0.005
                continue
        time.sleep(pause)
        pause = min(0.1, pause * 1.5)
    session.notify()
    n = 0
    while n in results:
        n += 1
    return [results[i] for i in range(n)]


def _slot(slots: Sequence[int | None], i: int) -> int:
    tid = slots[i]
    assert tid is not None
    return tid


def _lost(session: StudySession, trial_id: int, key: str, retries: list[int], i: int) -> int:
    """A queued trial found FAIL: an evaluation that raised is an error; one lost with
    its worker (stale heartbeat, signal) is counted, to be queued again. Returns the
    trial's number."""
    t = frozen_trial(session.study, trial_id)
    if ERROR in t.user_attrs and FAILED_BY not in t.system_attrs:
        raise StudyStateError(
            f"trial {t.number} of study {session.study_name!r} failed: {t.user_attrs[ERROR]}"
        )
    retries[i] += 1
    if retries[i] > _MAX_RETRIES:
        raise StudyStateError(
            f"the evaluation of genome {key} in study {session.study_name!r} was lost "
            f"{retries[i]} times (workers killed); see 'dse status'"
        )
    return int(t.number)


def work(
    session: StudySession,
    *,
    device: str | None = None,
    parent: int | None = None,
) -> int:
    """A worker's loop: take a waiting trial, evaluate it, complete it; until the
    study is done (its driver says so, or its budget is met), the time limit passes,
    or (``parent``) the process that started this one is gone. Returns the number of
    trials evaluated."""
    study = session.study
    register_worker(study, device=device, state="idle")
    peers, peers_at = 1, 0.0  # workers attached (this one too), and when to count again
    registered = time.monotonic()
    next_check = 0.0
    pause = 0.005
    count = 0
    try:
        while not session.time_up():
            if parent is not None and os.getppid() != parent:
                break  # the run that started this worker is gone
            ids = waiting_ids(study, limit=4 * GROUP)
            random.shuffle(ids)  # several workers do not all race for the oldest trial
            if ids and time.monotonic() >= peers_at:  # how many workers share the queue
                peers, peers_at = (
                    max(1, len(recent_workers(study.user_attrs))),
                    time.monotonic() + 1,
                )
            # at most half this worker's share of what waits: each attached worker, and
            # one that joins, gets some of a batch
            k = max(1, min(GROUP, len(ids) // (2 * peers))) if session.batch_recording else 1
            group = take_trials(study, ids, k, _marks()) if ids else []
            taken = group[0] if group else None
            if group:
                try:
                    if len(group) == 1:
                        evaluate_queued(session, group[0], device)
                    else:
                        evaluate_group(session, group, device)
                except Exception as exc:  # recorded as FAIL with the error; go on
                    from dse._status import note

                    note("an evaluation failed: %s", str(exc)[:200])
                count += len(group)
                pause = 0.005
            else:
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + 1.0
                    if _study_done(session):
                        break
                time.sleep(pause)
                pause = min(0.2, pause * 1.5)
            if time.monotonic() - registered >= REGISTER_EVERY_S:
                register_worker(study, device=device, state="busy" if taken else "idle")
                registered = time.monotonic()
    finally:
        with contextlib.suppress(Exception):  # the storage is gone: nothing left to tell
            register_worker(study, device=device, state="exited")
    return count


def _study_done(session: StudySession) -> bool:
    driver = session.study.user_attrs.get(DRIVER_ATTR) or {}
    if driver.get("state") == "done":
        return True
    return session.trials is not None and session.counts()[0] >= session.trials
