"""Evaluations in other processes: a population with joblib, or independent workers.

A process reopens the study from its storage (the configuration is stored there)
with the ``opener`` it is given, so it needs nothing but the storage URL. With
per-trial records each evaluation is a trial it records itself, with its own
heartbeat; with batched records (hardware-only studies) it returns the evaluation and
the parent writes the population's trials in one transaction.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from dse.errors import StudyStateError
from dse.search._backends import Proposal, Result

if TYPE_CHECKING:
    from dse.search._session import EvaluatedProposal, StudySession

__all__ = [
    "SessionOpener",
    "evaluate_in_workers",
    "evaluations_in_workers",
    "run_worker_processes",
]


class SessionOpener(Protocol):
    """Rebuilds a study's session from its storage (picklable: it crosses processes)."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...

    def __call__(self, *, worker_index: int = 0) -> StudySession: ...


_SESSIONS: dict[tuple[str, str], Any] = {}


def _session(opener: SessionOpener) -> StudySession:
    key = (opener.url, opener.name)
    if key not in _SESSIONS:  # one session per worker process, reused by its tasks
        _SESSIONS[key] = opener()
    session: StudySession = _SESSIONS[key]
    return session


def _task(opener: SessionOpener, proposal: Proposal, backend: str) -> Result:
    ev = _session(opener).record(proposal, backend=backend)
    return Result(proposal.genome, tuple(ev.values), dict(ev.constraints))


def _evaluation_task(opener: SessionOpener, proposal: Proposal, backend: str) -> EvaluatedProposal:
    return _session(opener).evaluate_only(proposal, backend=backend)


def evaluate_in_workers(
    opener: SessionOpener, proposals: Sequence[Proposal], backend: str, workers: int
) -> Iterator[Result]:
    """Record ``proposals`` with ``workers`` joblib processes; results in order, as they
    come (closing the iterator cancels the tasks not yet started)."""
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator")
    yield from parallel(delayed(_task)(opener, p, backend) for p in proposals)


def evaluations_in_workers(
    opener: SessionOpener, proposals: Sequence[Proposal], backend: str, workers: int
) -> Iterator[EvaluatedProposal]:
    """Evaluate ``proposals`` with ``workers`` joblib processes without recording them
    (the caller writes the batch); in order, as they come (closing the iterator cancels
    the tasks not yet started)."""
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator")
    yield from parallel(delayed(_evaluation_task)(opener, p, backend) for p in proposals)


def _worker_main(opener: SessionOpener, index: int) -> None:
    opener(worker_index=index).optimize()


def run_worker_processes(opener: SessionOpener, workers: int, tick: Callable[[], None]) -> None:
    """Run the study's back end in ``workers`` independent processes (each asks and
    evaluates one genome at a time) until all end; ``tick`` runs twice a second.

    A worker that dies (killed, out of memory) is a :class:`StudyStateError` naming it
    and its exit code, once the others have finished; its RUNNING trial is failed and
    re-queued by the next live worker or by ``dse resume``.
    """
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_worker_main, args=(opener, k), daemon=False) for k in range(workers)
    ]
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs):
            time.sleep(0.5)
            tick()
    finally:
        for p in procs:
            p.join()
    bad = [(k, p) for k, p in enumerate(procs) if p.exitcode not in (0, None)]
    if bad:
        k, p = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise StudyStateError(
            f"worker {k} (pid {p.pid}) of study {opener.name!r} exited with code "
            f"{p.exitcode}{more}; 'dse resume {opener.name}' continues the study"
        )
