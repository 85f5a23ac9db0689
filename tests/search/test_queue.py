"""The study's queue: one driver and ``dse worker`` processes on an NSGA-II study.

Hardware-only objectives on a 4x4 space, 3 generations of 16, on SQLite and on a
real PostgreSQL server: every genome is evaluated once; a worker and then the driver
killed with SIGKILL mid-generation lose no recorded evaluation and repeat none, and
after ``resume`` the front is the one-process run's (same seed); ``dse run`` stopped
by SIGTERM leaves no process of its own behind and resumes.
"""

from __future__ import annotations

import base64
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from dse.search import pareto_rows, resume, run

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
BUDGET = 48  # 3 generations of 16
OPTIONS = "{population_size: 16}"


_STORAGES: dict[str, optuna.storages.RDBStorage] = {}


def _trials(name: str, url: str) -> list[optuna.trial.FrozenTrial]:
    # one storage object per URL: a new one per poll would open a new engine each time
    storage = _STORAGES.setdefault(url, optuna.storages.RDBStorage(url))
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


def _front(name: str, url: str) -> list[tuple[str, float, float]]:
    study = optuna.load_study(study_name=name, storage=url)
    rows = pareto_rows(study)
    return sorted((r["structural_hash"], r["power_uw"], r["nmed"]) for r in rows)


def _reference_front(make_study, url: str, name: str) -> list[tuple[str, float, float]]:
    """The front of the same study run in one process (no queue, no workers)."""
    ref = f"{name}_ref"
    p = make_study(ref, options=OPTIONS, trials=BUDGET)
    run(p, storage=url)
    return _front(ref, url)


def _check_complete(name: str, url: str) -> list[optuna.trial.FrozenTrial]:
    """Every number once, the budget met, nothing left waiting or running, and no
    genome evaluated twice."""
    trials = _trials(name, url)
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert not [t for t in trials if t.state in (TrialState.WAITING, TrialState.RUNNING)]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == BUDGET
    keys = [t.user_attrs["genome_key"] for t in complete]
    assert len(set(keys)) == len(keys), "a genome was evaluated twice"
    return complete


def test_driver_and_four_workers(storage_url: str, make_study, unique_name: str) -> None:
    p = make_study(unique_name, options=OPTIONS, trials=BUDGET)
    s = run(p, storage=storage_url, workers=4)
    assert s.complete == BUDGET
    complete = _check_complete(unique_name, storage_url)
    assert all(t.user_attrs.get("queue_batch") for t in complete)
    assert len({t.user_attrs["worker_id"] for t in complete}) >= 2
    assert len({t.user_attrs["generation"] for t in complete}) >= 3
    assert _front(unique_name, storage_url) == _reference_front(
        make_study, storage_url, unique_name
    )


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; its parent has not read its code yet


def _env(delay: float) -> dict[str, str]:
    """The environment of a run whose workers sleep ``delay`` s before each evaluation
    (the workers' entry point reads the hook from it)."""
    if str(HERE) not in sys.path:  # the hook's module, as the workers import it
        sys.path.insert(0, str(HERE))
    from _slow import Delay

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)])}
    env["DSE_WORKER_ON_EVALUATE"] = base64.b64encode(pickle.dumps(Delay(delay))).decode()
    return env


def _wait_for(pred, what: str, timeout: float = 90.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _states(name: str, url: str) -> dict[TrialState, list[optuna.trial.FrozenTrial]]:
    try:
        trials = _trials(name, url)
    except KeyError:
        return {}
    out: dict[TrialState, list[optuna.trial.FrozenTrial]] = {}
    for t in trials:
        out.setdefault(t.state, []).append(t)
    return out


def test_kill_9_of_a_worker_and_of_the_driver_then_resume(
    storage_url: str, make_study, unique_name: str
) -> None:
    name = unique_name
    # SQLite: per-trial records, so that workers take one trial at a time and the
    # driver is killed with trials waiting in the queue; PostgreSQL: hardware-only
    # batches, which workers take in groups (a killed worker loses its group)
    one_at_a_time = storage_url.startswith("sqlite")
    extra = "record: trial\n" if one_at_a_time else ""
    p = make_study(name, options=OPTIONS, trials=BUDGET, extra=extra)
    driver = subprocess.Popen(
        [sys.executable, "-m", "dse", "run", str(p), "--storage", storage_url, "--workers", "4"],
        # slow enough that generation 3 waits in the queue for seconds on a loaded machine
        env=_env(0.5),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # a worker mid-evaluation in the second generation
        victim: dict[str, int] = {}

        def worker_running() -> bool:
            by = _states(name, storage_url)
            if len(by.get(TrialState.COMPLETE, [])) < 18:
                return False
            for t in by.get(TrialState.RUNNING, []):
                pid = int(str(t.user_attrs.get("worker_id", ":0")).rsplit(":", 1)[1])
                if pid in _children(driver.pid):
                    victim["pid"], victim["number"] = pid, t.number
                    return True
            return False

        _wait_for(worker_running, "a worker evaluating in generation 2")
        os.kill(victim["pid"], signal.SIGKILL)
        workers = _children(driver.pid)

        # then the driver, while its third generation waits in the queue
        def generation_3_queued() -> bool:
            by = _states(name, storage_url)
            unfinished = by.get(TrialState.WAITING if one_at_a_time else TrialState.RUNNING)
            return len(by.get(TrialState.COMPLETE, [])) >= 34 and bool(unfinished)

        _wait_for(generation_3_queued, "generation 3 in the queue")
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    # the driver's workers leave once it is gone
    _wait_for(lambda: not any(_alive(w) for w in workers), "the orphaned workers to leave", 20)
    left = _states(name, storage_url)
    before = {t.number: t for t in left[TrialState.COMPLETE]}
    assert len(before) < BUDGET
    waiting = [t.number for t in left.get(TrialState.WAITING, [])]
    assert waiting or not one_at_a_time, "the driver's batch waits in the queue"

    s = resume(name, storage=storage_url)

    assert s.complete == BUDGET
    complete = _check_complete(name, storage_url)
    trials = {t.number: t for t in _trials(name, storage_url)}
    for n, t in before.items():  # every recorded evaluation is intact
        assert trials[n].state == TrialState.COMPLETE and trials[n].values == t.values
    for n in waiting:  # taken over by the next driver, not queued again
        assert trials[n].state == TrialState.COMPLETE
    killed = trials[victim["number"]]
    assert killed.state == TrialState.FAIL  # its heartbeat went stale
    assert killed.user_attrs["genome_key"] in {t.user_attrs["genome_key"] for t in complete}
    assert _front(name, storage_url) == _reference_front(make_study, storage_url, name)


def test_status_then_sigterm_stops_every_process_and_resume_completes(
    tmp_path: Path, make_study, unique_name: str
) -> None:
    name = unique_name
    url = f"sqlite:///{tmp_path / 'study.db'}"
    p = make_study(name, options=OPTIONS, trials=BUDGET)
    driver = subprocess.Popen(
        [sys.executable, "-m", "dse", "run", str(p), "--storage", url, "--workers", "2"],
        env=_env(0.3),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(
            lambda: (
                bool(_states(name, url).get(TrialState.RUNNING)) and len(_children(driver.pid)) == 2
            ),
            "the workers to evaluate",
        )
        pids = [driver.pid, *_children(driver.pid)]
        # dse status: the queue's states and the workers seen recently
        status = subprocess.run(
            [sys.executable, "-m", "dse", "status", name, "--storage", url],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert " running, " in status and " waiting; " in status
        seen = [line for line in status.splitlines() if line.startswith("  worker ")]
        assert sorted(int(line.split(":")[1].split()[0]) for line in seen) == sorted(pids[1:])
        driver.send_signal(signal.SIGTERM)
        end = time.monotonic() + 5.0
        while time.monotonic() < end and any(_alive(pid) for pid in pids):
            time.sleep(0.05)
        assert not [pid for pid in pids if _alive(pid)], "a process outlived SIGTERM by 5 s"
        _, err = driver.communicate(timeout=5)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == 128 + signal.SIGTERM
    assert b"stopped by SIGTERM" in err
    by = _states(name, url)
    assert not by.get(TrialState.RUNNING), "a trial in flight was left RUNNING"
    assert len(by.get(TrialState.COMPLETE, [])) < BUDGET

    s = resume(name, storage=url)

    assert s.complete == BUDGET
    _check_complete(name, url)


def test_workers_started_by_hand_are_used_by_a_one_process_run(
    tmp_path: Path, make_study, unique_name: str
) -> None:
    from dse.search import load_study_config

    # private: the study is created without running it, so that workers can attach first
    from dse.search._study import create_study

    name = unique_name
    url = f"sqlite:///{tmp_path / 'study.db'}"
    p = make_study(name, options=OPTIONS, trials=BUDGET)
    create_study(load_study_config(p), url)
    env = _env(0.05)
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "dse", "worker", name, "--storage", url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        study = optuna.load_study(study_name=name, storage=url)
        _wait_for(
            lambda: sum(k.startswith("dse:worker:") for k in study.user_attrs) == 2,
            "the workers to register",
        )
        s = run(p, storage=url)  # one process: it sees the workers and queues its batches
        codes = [w.wait(timeout=20) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    assert codes == [0, 0]  # they leave once the study is done
    assert s.complete == BUDGET
    complete = _check_complete(name, url)
    by = {t.user_attrs["worker_id"].rsplit(":", 1)[1] for t in complete}
    assert {str(w.pid) for w in workers} <= by
