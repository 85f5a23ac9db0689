"""Batched trial records (hardware-only studies): the same trials as per-trial records,
one transaction per batch, and kill -9 in the middle of a batch, then ``dse resume``
(SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from dse.errors import ConfigError, StudyStateError
from dse.search import (
    Genome,
    load_space,
    load_study_config,
    open_session,
    open_storage,
    resume,
    run,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _url(kind: str, tmp_path: Path, request: pytest.FixtureRequest | None = None) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    if kind == "journal":
        return f"journal:{tmp_path / 'study.log'}"
    if kind == "memory":
        return "memory:"
    assert request is not None, "a PostgreSQL URL needs the test's request"
    return str(request.getfixturevalue("postgres_url"))


RDB = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _content(t: optuna.trial.FrozenTrial) -> tuple:
    """What a trial records, less the evaluation's own duration."""
    user = {k: v for k, v in t.user_attrs.items() if k != "eval_s"}
    return (
        t.number,
        t.state,
        t.values,
        t.params,
        t.distributions,
        user,
        t.constraints,
        t.system_attrs,
    )


def _trials(name: str, url: str) -> list[optuna.trial.FrozenTrial]:
    return _study(name, url).get_trials()


def _study(name: str, url: str) -> optuna.Study:
    """The study as another process reads it (a storage object of its own)."""
    return optuna.load_study(study_name=name, storage=open_storage(url))


@pytest.mark.parametrize("kind", [*RDB, "journal", "memory"])
def test_batched_trials_equal_per_trial_trials(
    kind: str, tmp_path: Path, make_study, unique_name: str, request: pytest.FixtureRequest
) -> None:
    url = _url(kind, tmp_path, request)
    names = {mode: f"{unique_name}_{mode}" for mode in ("trial", "batch")}
    for mode, name in names.items():
        # 30 = three generations of 8 and a cut one: the budget ends inside a batch
        run(make_study(name, trials=30, extra=f"record: {mode}\n"), storage=url)
    per_trial, batched = (_trials(names[m], url) for m in ("trial", "batch"))
    assert [_content(t) for t in batched] == [_content(t) for t in per_trial]
    assert [t.number for t in batched] == list(range(30))
    assert all(t.state == TrialState.COMPLETE for t in batched)
    for t in batched:
        assert t.datetime_start is not None and t.datetime_complete is not None
        assert t.datetime_start <= t.datetime_complete
    # the trials are Optuna's own: the front, and parameters that decode to the genome
    front = [t.number for t in _study(names["batch"], url).best_trials]
    assert front and front == [t.number for t in _study(names["trial"], url).best_trials]
    space = load_space(tmp_path / "mul4u.yaml")
    for t in batched:
        assert space.from_params(t.params) == Genome.from_json(t.user_attrs["genome"])


def test_a_database_without_insert_returning_gets_the_same_trials(
    tmp_path: Path, make_study, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MySQL gives no ids back from a multi-row INSERT: the trials are inserted one by
    one (shown here on SQLite told that it cannot)."""
    from sqlalchemy.dialects.sqlite.base import SQLiteDialect

    url = _url("sqlite", tmp_path)
    run(make_study(f"{unique_name}_trial", trials=20, extra="record: trial\n"), storage=url)
    monkeypatch.setattr(
        SQLiteDialect, "insert_executemany_returning_sort_by_parameter_order", False
    )
    run(make_study(f"{unique_name}_batch", trials=20), storage=url)
    batched = _trials(f"{unique_name}_batch", url)
    assert [_content(t) for t in batched] == [
        _content(t) for t in _trials(f"{unique_name}_trial", url)
    ]


@pytest.mark.parametrize("kind", RDB)
def test_the_writing_process_reads_its_trials_as_the_storage_gives_them(
    kind: str, tmp_path: Path, make_study, unique_name: str, request: pytest.FixtureRequest
) -> None:
    """The trials a batch writes are put in Optuna's cache of the writing process: they
    must equal what another process reads from the storage."""
    url = _url(kind, tmp_path, request)
    run(make_study(unique_name, trials=10), storage=url)
    session = open_session(unique_name, url, trials=26)
    assert session.batch_recording
    session.study.get_trials()  # the cache now holds the first 10
    session.optimize()
    cached = session.study.get_trials()
    fresh = _trials(unique_name, url)
    assert len(fresh) == 26
    assert cached == fresh  # every field, the trial ids and the times included


@pytest.mark.parametrize("kind", RDB)
def test_kill_9_in_a_batch_then_resume(
    kind: str, tmp_path: Path, make_study, unique_name: str, request: pytest.FixtureRequest
) -> None:
    url = _url(kind, tmp_path, request)
    budget = 40
    study_file = make_study(unique_name, trials=budget)  # population 8, batched records
    marker = tmp_path / "stalled"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)])}
    program = (
        "import sys; from _slow import StallAt; from dse.search import run; "
        "run(sys.argv[1], storage=sys.argv[2], "
        "on_evaluate=StallAt(20, sys.argv[3], seconds=0.01))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", program, str(study_file), url, str(marker)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        end = time.monotonic() + 120
        while not marker.exists():  # the 20th evaluation: inside the third batch
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < end, "the run never reached its 20th evaluation"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    before = _trials(unique_name, url)
    # whole batches only: nothing running, nothing failed, the batch in flight lost
    assert before and all(t.state == TrialState.COMPLETE for t in before)
    assert [t.number for t in before] == list(range(len(before))) and len(before) < 20

    summary = resume(unique_name, storage=url)

    trials = _trials(unique_name, url)
    assert [t.number for t in trials] == list(range(budget))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert summary.complete == budget
    for old in before:  # every trial written before the kill is intact
        assert _content(trials[old.number]) == _content(old)
    keys = [t.user_attrs["genome_key"] for t in trials]
    assert len(set(keys)) == len(keys)  # the checkpoint and the trials agree: no re-evaluation


def test_a_failing_evaluation_keeps_the_batch_before_it(
    tmp_path: Path, make_study, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    from _slow import FailAt

    url = _url("sqlite", tmp_path)
    study_file = make_study(unique_name, trials=24)
    with pytest.raises(RuntimeError, match=r"^boom$"):
        run(study_file, storage=url, on_evaluate=FailAt(11, "boom"))
    trials = _trials(unique_name, url)
    # the first generation (8), two of the second, then the failure, as per-trial records
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 10 + [TrialState.FAIL]
    assert trials[-1].user_attrs["error"] == "boom"
    assert [t.number for t in trials] == list(range(11))

    resume(unique_name, storage=url)

    complete = [t for t in _trials(unique_name, url) if t.state == TrialState.COMPLETE]
    assert len(complete) == 24
    keys = [t.user_attrs["genome_key"] for t in complete]
    assert len(set(keys)) == len(keys)


def test_record_option(tmp_path: Path, make_study, unique_name: str) -> None:
    bad = make_study("bad", extra="record: sometimes\n")
    with pytest.raises(ConfigError, match=r"^" + str(bad).replace(".", r"\.") + ": field record: "):
        load_study_config(bad)
    url = _url("sqlite", tmp_path)
    chosen = {}
    for mode in ("auto", "batch", "trial"):
        name = f"{unique_name}_{mode}"
        run(make_study(name, trials=1, extra=f"record: {mode}\n"), storage=url)
        chosen[mode] = open_session(name, url).batch_recording
    assert chosen == {"auto": True, "batch": True, "trial": False}
    # a study recording the default way stores its configuration as before
    auto = optuna.load_study(study_name=f"{unique_name}_auto", storage=url)
    assert "record" not in auto.user_attrs["dse:config"]


def test_a_study_that_fine_tunes_records_each_trial(tmp_path: Path, make_study) -> None:
    pytest.importorskip("torch")
    fine_tuned = make_study(
        "ft",
        extra="model: cnn1d\ndata: mnist1d\n",
    )
    fine_tuned.write_text(
        fine_tuned.read_text().replace("[power_uw, nmed]", "[power_uw, accuracy_drop]")
    )
    url = _url("sqlite", tmp_path)
    # private: creates the study without running it (a run would fine-tune)
    from dse.search._study import create_study

    create_study(load_study_config(fine_tuned), url)
    assert not open_session("ft", url).batch_recording


def test_a_changed_record_mode_is_not_silently_ignored(
    tmp_path: Path, make_study, unique_name: str
) -> None:
    # dse run continues a study from its stored configuration: a file that now asks
    # for another recording mode is refused, as a changed back end or seed is
    url = _url("sqlite", tmp_path)
    run(make_study(unique_name, trials=1), storage=url)
    with pytest.raises(StudyStateError, match=r"with a different 'record'"):
        run(make_study(unique_name, trials=2, extra="record: trial\n"), storage=url)


@pytest.mark.parametrize("frozen_before", [False, True])
def test_a_batched_run_gives_the_collector_back_its_objects(
    frozen_before: bool, tmp_path: Path, make_study, unique_name: str
) -> None:
    """A batched run keeps the objects older than its loop out of the collector's full
    passes only while it runs; a process that froze objects itself keeps them frozen."""
    import gc

    seen: list[int] = []
    if frozen_before:
        gc.freeze()
    try:
        before = gc.get_freeze_count()
        run(
            make_study(unique_name, trials=12),
            storage=_url("sqlite", tmp_path),
            on_evaluate=lambda genome: seen.append(gc.get_freeze_count()),
        )
        after = gc.get_freeze_count()
        assert len(seen) == 12
        if frozen_before:  # left as it was (frozen objects freed meanwhile leave the count)
            assert 0 < after <= before and max(seen) <= before
        else:  # frozen during the loop only
            assert before == after == 0 and min(seen) > 0
    finally:
        gc.unfreeze()


def test_resume_replays_the_generations_after_an_older_checkpoint(
    tmp_path: Path, make_study, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NSGA-II checkpoints every few generations: a run stopped later replays the
    generations after its checkpoint from their trials and goes on as an uninterrupted
    run does (the same genomes, in the same order, none evaluated twice)."""
    monkeypatch.syspath_prepend(str(HERE))
    from _slow import FailAt

    a, b = _url("sqlite", tmp_path / "a"), _url("sqlite", tmp_path / "b")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    study_file = make_study(unique_name, trials=80, options="{population_size: 4}")
    run(study_file, storage=a)
    with pytest.raises(RuntimeError, match=r"^boom$"):
        run(study_file, storage=b, on_evaluate=FailAt(62, "boom"))
    stopped = _study(unique_name, b)
    failed_in = max(t.user_attrs["generation"] for t in stopped.trials)
    checkpoint = stopped.user_attrs["dse:pymoo:checkpoint"]["generation"]
    assert 1 < checkpoint < failed_in - 1  # generations to replay

    resume(unique_name, storage=b)

    def keys(url: str) -> list[str]:
        return [
            t.user_attrs["genome_key"]
            for t in _trials(unique_name, url)
            if t.state == TrialState.COMPLETE
        ]

    assert keys(b) == keys(a) and len(keys(a)) == 80
