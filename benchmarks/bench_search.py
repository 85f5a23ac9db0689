"""Search back ends on the hardware-only objectives: hypervolume and evaluations per second.

Problem: ``search_spaces/mul8u_pp.yaml`` (8x8 unsigned Dadda; 64 prunable partial
products, truncation 0..8, compensation, LOA 0..8: 67 genes), objectives
``rel_power`` (power / the exact 8x8 Dadda's power, uniform operands) and ``nmed``,
no constraints, no fine-tune.

Hypervolume: pymoo's exact HV of the feasible Pareto front (Optuna's ``best_trials``)
of the first N evaluations, objectives normalised as ``(rel_power / 1.0, nmed / 0.05)``
with the reference point ``(1.0, 1.0)`` in that normalised space (so the exact
multiplier sits on the reference power and a design counts only if its NMED < 5 %).
Settings: NSGA-II (both) with population 50; TPE multivariate with 50 start-up
trials (independent MOTPE re-splits all trials once per parameter, which made 2,000
trials of this 67-parameter space take ~25 min per seed); random search uniform over
each parameter's range. The HV runs use Optuna's in-memory storage so that only the search differs; the
evaluations-per-second figures are end to end on a SQLite file (trial creation,
evaluation, recording), NSGA-II with 1 and 2 worker processes.

``study_evals_per_s_1w``: the same hardware-only study run as a user runs it (one
process, a SQLite file, NSGA-II with population 50, 2,000 evaluations after a warm-up
study), with where its time goes per evaluation (``study_us_per_eval``): the
evaluator, the recording of the trials, the back end's ``ask`` (operators and the
duplicate check) and ``tell`` (survival and the checkpoint), and the rest (the run
loop's budget queries, opening the study, the final summary).

``study_evals_per_s_4w``: that study on a PostgreSQL server (``--postgres URL``, else
``$DSE_TEST_POSTGRES_URL``; skipped with a line on stderr and ``null`` without one)
with 4 ``dse worker`` processes taking its queued trials, end to end (worker start-up
included); ``study_evals_per_s_1w_postgres``: the one-process run on the same server.

Usage: ``python benchmarks/bench_search.py [--quick] [--evals N] [--seeds K]
[--speed-evals N] [--study-evals N] [--postgres URL]``. The last line printed is one
JSON object (keys ``hv_nsga2``, ``hv_optuna_nsga2``, ``hv_tpe``, ``hv_random``,
``evals_per_s_1w``, ``evals_per_s_2w``, ``study_evals_per_s_1w``,
``study_us_per_eval``, ``study_evals_per_s_1w_postgres``, ``study_evals_per_s_4w``,
plus per-seed lists).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BACKENDS = {
    "nsga2": ("nsga2", {"population_size": 50}),
    "optuna_nsga2": ("optuna-nsga2", {"population_size": 50}),
    "tpe": ("tpe", {"n_startup_trials": 50, "multivariate": True}),
    "random": ("random", {}),
}
REFERENCE = {"rel_power": 1.0, "nmed": 0.05}


def study_config(name: str, backend: str, options: dict, trials: int, seed: int):
    from dse.search import study_config_from_dict

    data = {
        "name": name,
        "space": "mul8u_pp",
        "objectives": ["rel_power", "nmed"],
        "backend": {"name": backend, "options": options},
        "budget": {"trials": trials},
        "seed": seed,
        "hypervolume": {"reference": REFERENCE},
    }
    return study_config_from_dict(data, where=f"bench:{name}", stem=name, root=REPO)


def hv_of(study, cfg, first: int) -> float:
    from optuna.trial import TrialState

    from dse.search import hypervolume, reference_point

    objectives = cfg.parsed_objectives()
    trials = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.number < first + 1000000
    ]
    trials = sorted(trials, key=lambda t: t.number)[:first]
    import optuna

    sub = optuna.create_study(directions=[o.direction for o in objectives])
    sub.add_trials(trials)
    from dse.search import pareto_trials

    front = pareto_trials(sub)
    ref, scale = reference_point(objectives, {}, REFERENCE)
    return hypervolume([t.values for t in front], objectives, ref, scale)


def run_hv(key: str, evals: int, seed: int) -> tuple[float, float]:
    import optuna

    from dse.search import run

    backend, options = BACKENDS[key]
    name = f"bench_{key}_s{seed}_{time.time_ns()}"
    cfg = study_config(name, backend, options, evals, seed)
    t0 = time.perf_counter()
    run(cfg, storage="memory:")
    dt = time.perf_counter() - t0
    study = optuna.load_study(study_name=name, storage=_memory())
    return hv_of(study, cfg, evals), dt


def _memory():
    from dse.search import open_storage

    return open_storage("memory:")


def run_speed(evals: int, workers: int, tmp: Path) -> float:
    from dse.search import run

    name = f"speed_{workers}w"
    cfg = study_config(name, "nsga2", {"population_size": 50}, evals, 0)
    url = f"sqlite:///{tmp / f'speed{workers}.db'}"
    # a warm-up study so that imports and JIT compilation are not timed
    run(study_config("warm", "nsga2", {"population_size": 8}, 8, 0), storage=url, workers=workers)
    t0 = time.perf_counter()
    s = run(cfg, storage=url, workers=workers)
    dt = time.perf_counter() - t0
    return s.complete / dt


#: The parts of ``study_us_per_eval``, as the table shows them (nested ones indented).
PARTS = {
    "evaluate": "evaluator (Evaluator.evaluate)",
    "evaluate.hardware_report": "  of which the hardware report",
    "record": "recording the trials",
    "backend_ask": "back end: ask",
    "backend_ask.duplicate_check": "  of which the duplicate check",
    "backend_tell": "back end: tell (and checkpoint)",
    "other": "the rest (loop, open, summary)",
    "total": "total",
}


@contextlib.contextmanager
def timed_parts() -> Iterator[dict[str, float]]:
    """Seconds spent in the evaluator, the recording and the back end's ask and tell
    (wrapped for the duration of the block), by the keys of :data:`PARTS`."""
    from dse.search import Evaluator
    from dse.search._backends._pymoo_nsga2 import PymooNSGA2, StructuralHash
    from dse.search._session import StudySession

    spent: dict[str, float] = {}
    parts = [
        (Evaluator, "evaluate", "evaluate"),
        (Evaluator, "hardware", "evaluate.hardware_report"),
        (StudySession, "write_batch", "record"),
        (PymooNSGA2, "ask", "backend_ask"),
        (StructuralHash, "__call__", "backend_ask.duplicate_check"),
        (PymooNSGA2, "tell", "backend_tell"),
    ]
    originals = [(cls, name, cls.__dict__[name]) for cls, name, _ in parts]

    def timing(f, label):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return f(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t0

        return wrapper

    for cls, name, label in parts:
        setattr(cls, name, timing(cls.__dict__[name], label))
    try:
        yield spent
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)


def run_study_speed(evals: int, tmp: Path) -> tuple[float, dict[str, float]]:
    """Evaluations per second of a hardware-only NSGA-II study (one process, SQLite) and
    microseconds per evaluation by part."""
    from dse.search import run

    url = f"sqlite:///{tmp / 'study_speed.db'}"
    # a warm-up study: imports, JIT compilation, the exact design's figures
    run(study_config("study_warm", "nsga2", {"population_size": 50}, 100, 0), storage=url)
    with timed_parts() as spent:
        t0 = time.perf_counter()
        s = run(
            study_config("study_speed", "nsga2", {"population_size": 50}, evals, 0), storage=url
        )
        dt = time.perf_counter() - t0
    top = ("evaluate", "record", "backend_ask", "backend_tell")
    us = {k: round(1e6 * spent.get(k, 0.0) / s.complete, 1) for k in PARTS}
    us["other"] = round(1e6 * (dt - sum(spent.get(k, 0.0) for k in top)) / s.complete, 1)
    us["total"] = round(1e6 * dt / s.complete, 1)
    return s.complete / dt, us


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def run_queue_speed(evals: int, url: str, workers: int) -> float:
    """Evaluations per second of the hardware-only NSGA-II study (population 50) on the
    server at ``url``, end to end: one driver and ``workers`` ``dse worker`` processes
    taking the queued trials (``workers`` 1: the one-process run, batches in memory),
    worker start-up included."""
    from dse.search import run

    tag = f"{workers}w_{time.time_ns()}"
    # a warm-up study: imports, JIT compilation, the exact design's figures
    run(study_config(f"queue_warm_{tag}", "nsga2", {"population_size": 50}, 100, 0), storage=url)
    cfg = study_config(f"queue_speed_{tag}", "nsga2", {"population_size": 50}, evals, 0)
    t0 = time.perf_counter()
    s = run(cfg, storage=url, workers=workers)
    return s.complete / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 200 evaluations, 1 seed")
    ap.add_argument("--evals", type=int, default=None)
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--speed-evals", type=int, default=None)
    ap.add_argument("--study-evals", type=int, default=None)
    ap.add_argument(
        "--postgres",
        default=os.environ.get("DSE_TEST_POSTGRES_URL") or None,
        help="PostgreSQL URL for study_evals_per_s_4w (default: $DSE_TEST_POSTGRES_URL)",
    )
    args = ap.parse_args()
    evals = args.evals or (200 if args.quick else 2000)
    seeds = list(range(args.seeds or (1 if args.quick else 3)))
    speed_evals = args.speed_evals or (100 if args.quick else 400)
    study_evals = args.study_evals or (300 if args.quick else 2000)

    from dse.search._optuna_store import quiet_optuna as _quiet_optuna

    _quiet_optuna()
    # the speeds first: the in-memory studies of the HV runs would weigh on the garbage
    # collector of this process
    with tempfile.TemporaryDirectory() as d:
        eps1 = run_speed(speed_evals, 1, Path(d))
        eps2 = run_speed(speed_evals, 2, Path(d))
        study_eps, study_us = run_study_speed(study_evals, Path(d))
    queue_eps: dict[str, float | None] = {"1w": None, "4w": None}
    if args.postgres:
        queue_eps["1w"] = run_queue_speed(study_evals, args.postgres, 1)
        queue_eps["4w"] = run_queue_speed(study_evals, args.postgres, 4)
    else:
        print(
            "study_evals_per_s_4w skipped: no PostgreSQL URL (--postgres URL or "
            "DSE_TEST_POSTGRES_URL)",
            file=sys.stderr,
        )

    results: dict[str, list[float]] = {k: [] for k in BACKENDS}
    times: dict[str, list[float]] = {k: [] for k in BACKENDS}
    for key in BACKENDS:
        for seed in seeds:
            hv, dt = run_hv(key, evals, seed)
            results[key].append(hv)
            times[key].append(dt)
            print(
                f"  {key:<13} seed {seed}: HV {hv:.4f}  ({dt:.0f} s)", file=sys.stderr, flush=True
            )
    print(
        f"\nHypervolume after {evals} evaluations (mul8u_pp, rel_power vs NMED, ref (1.0, 0.05), "
        f"seeds {seeds}); higher is better"
    )
    print(f"{'back end':<14}{'mean HV':>10}{'stdev':>9}{'per seed':>30}{'s/run':>8}")
    for key in BACKENDS:
        vals = results[key]
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        print(
            f"{key:<14}{statistics.mean(vals):>10.4f}{sd:>9.4f}{'  '.join(f'{v:.4f}' for v in vals):>30}"
            f"{statistics.mean(times[key]):>8.0f}"
        )
    print(
        f"end to end, SQLite, NSGA-II: {eps1:.1f} evaluations/s with 1 worker, {eps2:.1f} with 2 workers"
    )
    print(
        f"hardware-only study, one process, SQLite, NSGA-II population 50, {study_evals} "
        f"evaluations: {study_eps:.1f} evaluations/s; per evaluation (us):"
    )
    for part, us in study_us.items():
        print(f"  {PARTS[part]:<36}{us:>9.1f}")
    if queue_eps["4w"] is not None:
        print(
            f"the same study on PostgreSQL, {study_evals} evaluations: {queue_eps['1w']:.1f} "
            f"evaluations/s in one process, {queue_eps['4w']:.1f} with 4 dse worker processes "
            f"taking the queued trials"
        )
    out = {f"hv_{k}": round(statistics.mean(v), 6) for k, v in results.items()}
    out.update(
        {
            "evals_per_s_1w": round(eps1, 2),
            "evals_per_s_2w": round(eps2, 2),
            "study_evals_per_s_1w": round(study_eps, 2),
            "study_us_per_eval": study_us,
            "study_evals_per_s_1w_postgres": _rounded(queue_eps["1w"]),
            "study_evals_per_s_4w": _rounded(queue_eps["4w"]),
            "evals": evals,
            "seeds": len(seeds),
            "per_seed": {k: [round(x, 6) for x in v] for k, v in results.items()},
        }
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
