"""The session: one process's view of a running study, and the one run loop.

As :meth:`optuna.study.Study.optimize` does for Optuna's samplers, the session runs
every back end: it asks for genomes, evaluates them (through the study's queue when
workers are attached, see :mod:`dse.search._queue`), records each as a trial
(heartbeat, attributes, failure handling) and tells the back end the results, until
the trial budget or the time limit is met.

Two ways to record, chosen in one place (:meth:`StudySession.evaluate`): a study that
fine-tunes records each evaluation as it runs (a RUNNING trial with a heartbeat, which
a killed process leaves behind for ``dse resume`` to fail and evaluate again); a
hardware-only study, whose evaluations take milliseconds, evaluates a back end's batch
in memory and writes its trials COMPLETE in one transaction (a killed process loses
the batch in flight, which the back end proposes again on resume). The study file's
``record:`` (``auto``, ``batch``, ``trial``) may force either.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dse.errors import StudyStateError
from dse.search._backends import Backend, DrivingBackend, Proposal, Result
from dse.search._objectives import Evaluation, Evaluator
from dse.search._optuna_store import (
    FinishedTrial,
    complete_trial,
    completed_results,
    count_trials,
    create_running_trial,
    fail_stale,
    fail_trial,
    start_heartbeat,
    write_complete_trials,
)
from dse.search._records import (
    ACCURACY,
    FINETUNE,
    NETWORK_ATTR,
    WORKER_PID,
    StoredResult,
    TrialIndex,
    TrialRecord,
)

if TYPE_CHECKING:
    from dse.eval import CellLibrary
    from dse.search._accuracy import NetworkObjects
    from dse.search._backends import Session
    from dse.search._config import StudyConfig
    from dse.search._genome import Genome
    from dse.search._parallel import WorkerPool
    from dse.search._space import Space

__all__ = ["EvaluatedProposal", "EvaluationHook", "StudySession", "evaluator_of"]

#: Called with each genome just before it is evaluated, in the process that evaluates
#: it (a ``dse worker`` a run started too, so it must pickle): an observer, or a test's delay.
EvaluationHook = Callable[["Genome"], None]

#: A batch being evaluated in memory is written once this many seconds have passed
#: since its last write, so a long batch (slow evaluations, a large ``ask``) loses at
#: most this much work to a crash and the progress line moves.
_WRITE_EVERY_S = 2.0


@dataclass
class EvaluatedProposal:
    """A proposal evaluated in memory, not yet recorded (pickled back from a worker)."""

    proposal: Proposal
    record: TrialRecord
    evaluation: Evaluation
    started: datetime.datetime
    completed: datetime.datetime


def evaluator_of(
    cfg: StudyConfig,
    space: Space,
    lookup: Callable[[str], Mapping[str, Any] | None] | None = None,
    threads: int | None = None,
    *,
    reference: Mapping[str, Any] | None = None,
    objects: NetworkObjects | None = None,
    device: str | None = None,
) -> Evaluator:
    """The staged evaluator of a study's configuration (``threads``: torch threads of
    the fine-tunes; ``None`` keeps torch's default; ``reference``: the network figures
    stored with the study; ``objects``: a model and data given from Python;
    ``device``: this process's torch device, else the study's ``device:``)."""
    accuracy = None
    if cfg.model and cfg.data:
        from dse.search._accuracy import AccuracyModel, network_inputs

        ft = cfg.finetune
        model, data, where = network_inputs(cfg, objects)
        accuracy = AccuracyModel(
            model,
            data,
            epochs=ft.epochs,
            steps=ft.steps,
            grad=ft.grad,
            axtrain=ft.axtrain,
            lr=ft.lr,
            seed=cfg.seed,
            baseline_epochs=ft.baseline_epochs,
            options=ft.options,
            threads=threads,
            weights=cfg.weights,
            weights_sha256=cfg.weights_sha256 if cfg.weights else None,
            model_sha256=cfg.model_sha256,
            data_options=cfg.data_options.model_dump(exclude={"source"})
            if cfg.data_options
            else None,
            include=cfg.layers.include,
            exclude=cfg.layers.exclude,
            device=device or cfg.device,
            reference=reference,
            where=where,
        )
    return Evaluator(
        space,
        cfg.parsed_objectives(),
        cfg.parsed_constraints(),
        accuracy=accuracy,
        library=_cell_library(cfg),
        power_distribution=cfg.power.distribution,
        trace_vectors=cfg.power.trace_vectors,
        clock_period_ns=cfg.power.clock_period_ns,
        seed=cfg.seed,
        lookup=lookup,
    )


def _cell_library(cfg: StudyConfig) -> CellLibrary | None:
    """The study's ``power.liberty`` library (``None``: the default NanGate 45 table);
    a file changed since the study started is an error, not silently other figures."""
    path = cfg.power.liberty
    if path is None:
        return None
    from dse.eval import CellLibrary, liberty_md5

    where = f"{cfg.source or 'study'}: field power.liberty"
    if not Path(path).is_file():
        raise StudyStateError(f"{where}: {path} is not there any more")
    if cfg.power.liberty_md5 is not None and liberty_md5(path) != cfg.power.liberty_md5:
        raise StudyStateError(
            f"{where}: {path} changed since the study started (md5 {cfg.power.liberty_md5}); "
            f"its designs were costed with the old file"
        )
    return CellLibrary.from_liberty(path)


@contextlib.contextmanager
def _heap_frozen(on: bool) -> Iterator[None]:
    """The objects that exist before a loop of cheap evaluations (the imported modules,
    the study's settings: ~200,000 objects) left out of the garbage collector's full
    passes while it runs (``gc.freeze``), and given back to it after (``gc.unfreeze``,
    so a cycle among them that became garbage meanwhile is still collected). A full
    pass over them cost ~0.15 s, and the trials a loop records set off one every few
    hundred evaluations. Nothing is done when the process froze objects itself."""
    if not on or gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class StudySession:
    """One process's view of a running study (implements the back ends' ``Session``).

    ``threads``: torch threads of the fine-tunes; ``on_evaluate``: see
    :data:`EvaluationHook`. :attr:`pool`: the ``dse worker`` processes the run started
    (set by the run), which evaluate every batch through the study's queue.
    """

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
        threads: int | None = None,
        on_evaluate: EvaluationHook | None = None,
        on_progress: Callable[[StudySession], None] | None = None,
        objects: NetworkObjects | None = None,
        device: str | None = None,
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
        self.threads = threads
        self.seed = cfg.seed
        self.on_evaluate = on_evaluate
        self.pool: WorkerPool | None = None
        self._queue_on = False
        self._queue_checked = 0.0
        self.on_progress = on_progress
        self._next_progress = 0.0
        self.index = TrialIndex()
        self.evaluator = evaluator_of(
            cfg,
            space,
            lookup=self._lookup,
            threads=threads,
            reference=study.user_attrs.get(NETWORK_ATTR),
            objects=objects,
            device=device,
        )
        mode = cfg.record
        #: Whether batches of proposals without an opened trial are evaluated in memory
        #: and written in one transaction (``auto``: when no evaluation fine-tunes).
        self.batch_recording = mode == "batch" or (
            mode == "auto" and not self.evaluator.needs_accuracy
        )

    # --------------------------------------------------------- budget
    def counts(self) -> tuple[int, int]:
        """COMPLETE and RUNNING trials in the study."""
        from optuna.trial import TrialState

        done, running = count_trials(self.study, (TrialState.COMPLETE, TrialState.RUNNING))
        return done, running

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

    # ------------------------------------------------------------ loop
    def optimize(self, backend: Backend | None = None, view: Session | None = None) -> None:
        """Run ``backend`` (the study's by default) until it proposes nothing more, or
        until the budget (``view``'s, a pipeline stage's, when given) or time is up."""
        backend = backend or self.backend
        ctx: Session = view if view is not None else self
        if isinstance(backend, DrivingBackend):
            backend.drive(ctx)
            return
        with _heap_frozen(self.batch_recording):
            while True:
                n = ctx.remaining()
                if n <= 0:
                    break
                if fail_stale(self.study):  # failed trials free their places in the budget
                    n = ctx.remaining()
                proposals = list(backend.ask(ctx, n))
                if not proposals:
                    break
                results = self.evaluate(proposals, backend=backend.tag)
                backend.tell(ctx, proposals, results)
                if len(results) < len(proposals):
                    break  # the time limit passed inside the batch

    def evaluate(self, proposals: Sequence[Proposal], *, backend: str) -> list[Result]:
        """Record ``proposals`` (through the study's queue when workers are attached); the results
        of a prefix of them when the time limit passes between two evaluations.

        The one place where the way of recording is chosen: a batch is evaluated in
        memory and written in one transaction when the study records in batches and no
        proposal holds a trial a sampler opened; otherwise each proposal is a RUNNING
        trial with a heartbeat, completed when its evaluation ends."""
        fresh = all(p.trial is None for p in proposals)
        if fresh and self.through_queue():
            from dse.search._queue import evaluate_through_queue

            return evaluate_through_queue(
                self, proposals, backend=backend, participate=self.pool is None
            )
        if self.batch_recording and fresh:
            return self._evaluate_batch(proposals, backend=backend)
        out = []
        for k, p in enumerate(proposals):
            # the time limit holds between evaluations, not only between batches (an
            # asked-for batch's first proposal may hold a trial already opened)
            if k and self.time_up():
                break
            ev = self.record(p, backend=backend)
            out.append(Result(p.genome, tuple(ev.values), dict(ev.constraints)))
        return out

    def through_queue(self) -> bool:
        """Whether batches go through the study's queue: when this run started workers,
        when ``dse worker`` processes are attached to the study, or when an earlier
        driver's batch waits in it (checked every few seconds: a one-process run of
        cheap evaluations keeps its batches in memory)."""
        if self.pool is not None:
            return True
        now = time.monotonic()
        if now >= self._queue_checked:
            from dse.search._queue import queue_attached

            self._queue_on = queue_attached(self.study)
            self._queue_checked = now + 5.0
        return self._queue_on

    def _evaluate_batch(self, proposals: Sequence[Proposal], *, backend: str) -> list[Result]:
        """Evaluate ``proposals`` in memory and write their trials together: at the end of the batch, and every
        :data:`_WRITE_EVERY_S` seconds of a long one. An evaluation that raises is
        recorded as a FAIL trial after the ones before it, and the error raised."""
        done: list[EvaluatedProposal] = []
        pending: list[EvaluatedProposal] = []
        last_write = time.monotonic()
        items: Iterator[EvaluatedProposal]
        items = (self.evaluate_only(p, backend=backend) for p in proposals)
        try:
            while True:
                try:
                    item = next(items)
                except StopIteration:
                    break
                except BaseException as exc:
                    self.write_batch(pending)
                    if isinstance(exc, KeyboardInterrupt):
                        raise  # stopped (Ctrl-C, SIGTERM): nothing failed; resume re-asks
                    self._record_failure(proposals[len(done)], backend, exc)
                    raise
                done.append(item)
                pending.append(item)
                # the time limit holds between evaluations, as for per-trial records
                if len(done) == len(proposals) or self.time_up():
                    break
                if time.monotonic() - last_write >= _WRITE_EVERY_S:
                    self.write_batch(pending)
                    pending, last_write = [], time.monotonic()
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
        self.write_batch(pending)
        return [
            Result(d.proposal.genome, tuple(d.evaluation.values), dict(d.evaluation.constraints))
            for d in done
        ]

    def trial_record(self, proposal: Proposal, backend: str) -> TrialRecord:
        return TrialRecord(
            backend=backend,
            genome=proposal.genome,
            seed=self.seed,
            worker=self.worker_index,
            worker_pid=os.getpid(),
            generation=proposal.generation,
            accuracy_source="backend" if proposal.accuracy is not None else None,
            extra=dict(proposal.attrs),
        )

    def evaluate_only(self, proposal: Proposal, *, backend: str) -> EvaluatedProposal:
        """Evaluate one proposal without recording it (see :meth:`write_batch`)."""
        record = self.trial_record(proposal, backend)
        started = datetime.datetime.now()
        if self.on_evaluate is not None:
            self.on_evaluate(proposal.genome)
        evaluation = self.evaluator.evaluate(proposal.genome, accuracy=proposal.accuracy)
        record.result = dict(evaluation.attrs)
        return EvaluatedProposal(proposal, record, evaluation, started, datetime.datetime.now())

    def write_batch(self, items: Sequence[EvaluatedProposal]) -> list[int]:
        """Write evaluations as COMPLETE trials in one transaction, index them, and
        report progress; returns their trial numbers."""
        if not items:
            return []
        numbers = write_complete_trials(
            self.study,
            self.space.distributions(),
            [
                FinishedTrial(
                    params=self.space.to_params(d.proposal.genome),
                    values=d.evaluation.values,
                    user_attrs={**d.record.header(), **d.evaluation.attrs},
                    system_attrs=d.proposal.system_attrs,
                    constraints=d.evaluation.constraints,
                    started=d.started,
                    completed=d.completed,
                )
                for d in items
            ],
        )
        for number, d in zip(numbers, items, strict=True):
            self.index.add(
                StoredResult(
                    number, d.record, tuple(d.evaluation.values), dict(d.evaluation.constraints)
                )
            )
        self.notify()
        return numbers

    def _record_failure(self, proposal: Proposal, backend: str, exc: BaseException) -> None:
        """The proposal whose evaluation raised, as a FAIL trial with the error (as a
        per-trial record leaves it)."""
        record = self.trial_record(proposal, backend)
        trial = create_running_trial(
            self.study,
            self.space.to_params(proposal.genome),
            self.space.distributions(),
            record.header(),
            proposal.system_attrs,
        )
        fail_trial(self.study, trial, str(exc)[:500])

    # ----------------------------------------------------- recording
    def refresh_index(self) -> TrialIndex:
        """The index of recorded results, with the trials other processes recorded since."""
        self.index.add_all(completed_results(self.study, self.index.knows))
        return self.index

    def _lookup(self, design_hash: str) -> Mapping[str, Any] | None:
        found = self.index.finetune(design_hash) or self.refresh_index().finetune(design_hash)
        if found is None:
            return None
        result = found.record.result
        return {**result[ACCURACY], "finetune": result.get(FINETUNE, {})}

    def record(self, proposal: Proposal, *, backend: str) -> Evaluation:
        """Evaluate one proposal as a RUNNING trial with a heartbeat and complete it
        (or mark it FAIL with the error, and raise)."""
        genome = proposal.genome
        record = self.trial_record(proposal, backend)
        opened = proposal.trial is not None
        if opened:  # the sampler's trial: its attributes are written when it completes
            trial = proposal.trial
        else:
            trial = create_running_trial(
                self.study,
                self.space.to_params(genome),
                self.space.distributions(),
                record.header(),
                proposal.system_attrs,
            )
        heartbeat = start_heartbeat(self.study, trial)
        try:
            if opened:
                trial.set_user_attr(WORKER_PID, record.worker_pid)
            if self.on_evaluate is not None:
                self.on_evaluate(genome)
            evaluation = self.evaluator.evaluate(genome, accuracy=proposal.accuracy)
            attrs = {**evaluation.attrs, **record.header()} if opened else evaluation.attrs
            complete_trial(self.study, trial, attrs, evaluation.constraints, evaluation.values)
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
        self.notify()
        return evaluation

    def notify(self) -> None:
        """Progress hook, called after each recorded evaluation (or batch of them).

        A progress report reads the study, which costs more as the study grows (a front
        of every trial); when one took a while, the next waits nine times as long, so
        that reporting takes at most a tenth of a run of cheap evaluations."""
        if self.on_progress is None:
            return
        start = time.monotonic()
        if start < self._next_progress:
            return
        self.on_progress(self)
        end = time.monotonic()
        self._next_progress = end + 9 * (end - start)
