"""Many workers on one storage; kill -9 of a worker, then ``dse resume`` (SQLite and PostgreSQL).

Hardware-only objectives on a 4x4 space keep these fast. An evaluation hook
(``_slow.Delay``) slows each evaluation in the child processes so a worker can be
killed mid-trial.
"""

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

from dse.search import resume, run

REPO = Path(__file__).resolve().parents[2]


def _check_numbers(trials: list[optuna.trial.FrozenTrial]) -> None:
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(numbers))), "trial numbers must be 0..N-1, each once"


@pytest.mark.parametrize("backend", ["optuna-nsga2", "nsga2"])
def test_four_workers_on_one_study(
    storage_url: str, make_study, unique_name: str, backend: str
) -> None:
    p = make_study(unique_name, backend=backend, trials=40)
    s = run(p, storage=storage_url, workers=4)
    study = optuna.load_study(study_name=unique_name, storage=storage_url)
    trials = study.get_trials()
    _check_numbers(trials)
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert s.complete == len(trials) and 40 <= len(trials) <= 43
    keys = [t.user_attrs["genome_key"] for t in trials]
    if backend == "nsga2":
        assert len(set(keys)) == len(keys)  # nothing evaluated twice
    assert len({t.user_attrs["worker_pid"] for t in trials}) >= 2


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _start(study_file: Path, url: str, workers: int) -> subprocess.Popen[bytes]:
    """``run`` in a process of its own, each evaluation delayed by 0.25 s."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(Path(__file__).parent)])}
    program = (
        "import sys; from _slow import Delay; from dse.search import run; "
        "run(sys.argv[1], storage=sys.argv[2], workers=int(sys.argv[3]), on_evaluate=Delay(0.25))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", program, str(study_file), url, str(workers)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for(pred, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the study to progress")


def _kill_a_worker_mid_trial(storage_url: str, make_study, name: str, backend: str, budget: int):
    """Start a study, SIGKILL a worker while it has a trial RUNNING; return the numbers of
    the trials it left RUNNING (empty if the kill landed between two trials)."""
    # per-trial records (RUNNING trials with heartbeats), as a study that fine-tunes
    # writes them; hardware-only batches are killed in test_batch_record.py
    p = make_study(name, backend=backend, trials=budget, extra="record: trial\n")
    workers = 2 if backend != "nsga2" else 1
    proc = _start(p, storage_url, workers)
    storage = optuna.storages.RDBStorage(storage_url)
    victim: dict[str, int] = {}

    def running_in_a_worker() -> bool:
        try:
            study = optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            return False
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(done) < (17 if backend == "nsga2" else 8):  # nsga2: past its first generations
            return False
        alive = set(_children(proc.pid)) | {proc.pid}
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            pid = t.user_attrs.get("worker_pid")
            if pid in alive and (backend == "nsga2" or pid != proc.pid):
                victim.update(pid=pid, number=t.number)
                return True
        return False

    try:
        _wait_for(running_in_a_worker)
        os.kill(victim["pid"], signal.SIGKILL)
        # Evaluations take milliseconds: the trial seen RUNNING may have completed before
        # the signal landed, so read which trial the dead worker really left behind.
        study = optuna.load_study(study_name=name, storage=storage)
        left = [
            t.number
            for t in study.get_trials(deepcopy=False)
            if t.user_attrs.get("worker_pid") == victim["pid"] and t.state != TrialState.COMPLETE
        ]
        if victim["pid"] != proc.pid:
            proc.wait(timeout=180)  # the other worker goes on (and re-queues the lost trial)
        else:
            proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return left


@pytest.mark.parametrize("backend", ["optuna-nsga2", "nsga2"])
def test_kill_9_then_resume(storage_url: str, make_study, unique_name: str, backend: str) -> None:
    budget = 36
    for attempt in range(3):  # retry in the rare case the kill fell between two trials
        name = f"{unique_name}-{attempt}"
        killed_numbers = _kill_a_worker_mid_trial(storage_url, make_study, name, backend, budget)
        if killed_numbers:
            break
    assert killed_numbers, "the kill never landed while a trial was running"
    unique_name = name
    study = optuna.load_study(study_name=unique_name, storage=storage_url)
    before = {t.number: t for t in study.get_trials() if t.state == TrialState.COMPLETE}
    gen_before = max((t.user_attrs.get("generation", 0) for t in before.values()), default=0)

    s = resume(unique_name, storage=storage_url)

    study = optuna.load_study(study_name=unique_name, storage=storage_url)
    trials = study.get_trials()
    _check_numbers(trials)
    for number in killed_numbers:
        assert trials[number].state == TrialState.FAIL
    killed = trials[killed_numbers[-1]]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) >= budget and s.complete == len(complete)
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    for n, t in before.items():  # every completed trial is intact
        assert trials[n].state == TrialState.COMPLETE and trials[n].values == t.values
        assert trials[n].user_attrs["genome"] == t.user_attrs["genome"]
    if backend == "nsga2":
        after = [t for t in complete if t.number not in before]
        assert after and min(t.user_attrs["generation"] for t in after) >= gen_before - 1 > 0
        assert killed.user_attrs["genome_key"] in {t.user_attrs["genome_key"] for t in after}
        keys = [t.user_attrs["genome_key"] for t in complete]
        assert len(keys) == len(set(keys))
    else:
        # the lost candidate was re-queued with the same parameters and evaluated
        retried = [t for t in complete if t.user_attrs.get("retry_of") == killed.number]
        # (the kill may land while the trial was still suggesting: compare what it had)
        assert retried and all(retried[0].params[k] == v for k, v in killed.params.items())
        gens = {t.system_attrs.get("NSGAIISampler:generation") for t in complete} - {None}
        assert max(gens) >= 2


def test_a_crashed_worker_is_an_error_naming_it(
    tmp_path: Path, make_study, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dse.errors import StudyStateError

    # the hook is imported from the tests' folder, here and in the worker processes
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    from _slow import Exit

    p = make_study(unique_name, backend="random", options="{}", trials=8)
    with pytest.raises(
        StudyStateError, match=r"^worker \d \(pid \d+\) of study .* exited with code 3"
    ):
        run(p, storage=f"sqlite:///{tmp_path / 's.db'}", workers=2, on_evaluate=Exit(3))
