"""The run loop as a user sees it: the time limit between evaluations, why a run
stopped, a resumed budget that is stored, progress lines off a terminal, status lines."""

from __future__ import annotations

import time

import pytest

from dse.cli import main


def _cli(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _slow_evaluations(monkeypatch: pytest.MonkeyPatch, delay: float) -> None:
    from dse.search import Evaluator

    original = Evaluator.evaluate

    def slow(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(delay)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Evaluator, "evaluate", slow)


def test_time_limit_holds_between_evaluations_not_generations(
    make_study, unique_name, tmp_path, monkeypatch
):
    from dse.search import run

    _slow_evaluations(monkeypatch, 0.3)
    study = make_study(unique_name, options="{population_size: 12}", trials=500)
    start = time.monotonic()
    summary = run(study, storage=f"sqlite:///{tmp_path / 's.db'}", timeout=1.0)
    elapsed = time.monotonic() - start
    # a generation is 12 evaluations (3.6 s); the limit stopped the run inside the first
    assert summary.stop_reason == "timeout"
    assert 1 <= summary.complete < 12
    assert elapsed < 12 * 0.3


def test_stop_reason_trials_and_message(make_study, unique_name, tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 's.db'}"
    study = make_study(unique_name, trials=8)
    assert _cli(["run", str(study), "--storage", db, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "time limit" not in err


def test_time_limit_message_says_how_to_continue(
    make_study, unique_name, tmp_path, capsys, monkeypatch
):
    _slow_evaluations(monkeypatch, 0.2)
    db = f"sqlite:///{tmp_path / 's.db'}"
    study = make_study(unique_name, options="{population_size: 8}", trials=100)
    assert _cli(["run", str(study), "--storage", db, "--timeout", "0.5", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "stopped by the time limit (0.5 s) at " in err
    assert f"of 100 trials; continue with: dse resume {unique_name} --storage {db}" in err


def test_resume_stores_the_new_budget(make_study, unique_name, tmp_path, capsys):
    from dse.search import load_stored_study, resume, run, study_summary

    db = f"sqlite:///{tmp_path / 's.db'}"
    run(make_study(unique_name, trials=8), storage=db)
    resume(unique_name, storage=db, trials=16)
    s = study_summary(load_stored_study(unique_name, db))
    assert s.budget == 16 and s.complete == 16
    assert _cli(["status", unique_name, "--storage", db]) == 0
    assert "16/16 complete" in capsys.readouterr().out


def test_progress_lines_when_not_a_terminal(make_study, unique_name, tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 's.db'}"
    study = make_study(unique_name, trials=16)
    assert _cli(["run", str(study), "--storage", db]) == 0  # captured stderr is not a terminal
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith(unique_name)]
    assert lines[0] == f"{unique_name}: 0 trials of 16 recorded; running ..."
    assert lines[-1].startswith(f"{unique_name}: 16/16 trials (16 this run), ")
    assert "ETA 0:00" in lines[-1] and "elapsed" in lines[-1]
    # a resumed study starts from its count
    assert _cli(["resume", unique_name, "--storage", db, "--trials", "24"]) == 0
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith(unique_name)]
    assert lines[0] == f"{unique_name}: 16 trials of 24 recorded; running ..."
    assert lines[-1].startswith(f"{unique_name}: 24/24 trials (8 this run), ")


def test_progress_eta_uses_this_runs_rate_and_the_time_limit():
    # private: the progress line and status-line helpers are checked on their own
    from dse.search._progress import RunProgress, format_duration

    p = RunProgress(lambda: None, total=100, deadline=None, mode="off")
    p.start, p.done_at_start = 0.0, 40
    assert p.eta(40, now=10.0) == (None, False)  # no trial this run yet: no rate
    left, by_time = p.eta(50, now=10.0)  # 10 trials in 10 s, 50 to go
    assert left == pytest.approx(50.0) and not by_time
    p.deadline = 30.0
    assert p.eta(50, now=10.0) == (pytest.approx(20.0), True)
    assert format_duration(3725) == "1:02:05" and format_duration(59.6) == "1:00"


def test_status_steps_print_on_stderr_under_the_cli(capsys):
    # private: the progress line and status-line helpers are checked on their own
    from dse._status import step, to_stderr

    to_stderr()
    to_stderr()  # idempotent: one line per message, not two
    with step("training the thing (about 1 s)"):
        pass
    assert capsys.readouterr().err == "dse: training the thing (about 1 s) ...\n"


def test_resume_from_a_missing_storage_creates_nothing(tmp_path, capsys):
    db = tmp_path / "typo.db"
    assert _cli(["resume", "quickstart", "--storage", f"sqlite:///{db}"]) == 2
    # one error line (a status line on the cores may precede it on a busy machine)
    err = [x for x in capsys.readouterr().err.splitlines() if not x.startswith("dse: ")]
    assert len(err) == 1 and err[0].startswith(
        "error: no study 'quickstart': no study storage at sqlite:///"
    )
    assert not db.exists()
