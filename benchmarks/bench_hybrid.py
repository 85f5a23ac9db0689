"""Hybrid against single-family spaces: hardware-only fronts of 8x8 unsigned multipliers.

Spaces (default): ``search_spaces/mul8u_pp.yaml`` (Dadda; pruning, truncation,
compensation, LOA: 67 genes) and ``search_spaces/mul8u_hybrid.yaml`` (4:2 tree;
truncation, compensation, pruning in columns 6..12, bias, cells per column, LOA,
carry cuts: 79 genes). Objectives ``power_uw`` and ``nmed``, no constraints, no
fine-tune; pymoo NSGA-II (population 50) for N evaluations per seed, in Optuna's
in-memory storage.

Every space's power is divided by the same reference, the exact 8x8 Dadda multiplier's
power (``rel_power`` in a study divides by the space's own exact design, which differs
between spaces), and NMED by 0.05; the hypervolume is pymoo's exact HV of all
evaluations in that normalised space with reference point (1.0, 1.0), as in
``benchmarks/bench_search.py``. Also printed: the lowest relative power among
evaluations with NMED at most 0.2 % and 1 %.

Usage: ``python benchmarks/bench_hybrid.py [--quick] [--evals N] [--seeds K]
[--spaces a,b]``. The last line printed is one JSON object (per space: ``hv`` mean,
per-seed ``hv_per_seed``, ``power_at_nmed_0p2pct`` and ``power_at_nmed_1pct`` per seed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

NMED_SCALE = 0.05


def study_config(name: str, space: str, evals: int, seed: int):
    from dse.search import study_config_from_dict

    data = {
        "name": name,
        "space": space,
        "objectives": ["power_uw", "nmed"],
        "backend": {"name": "nsga2", "options": {"population_size": 50}},
        "budget": {"trials": evals},
        "seed": seed,
    }
    return study_config_from_dict(data, where=f"bench:{name}", stem=name, root=REPO)


def exact_dadda_power() -> float:
    from dse.arith import generate
    from dse.design import GraphDesign

    return float(GraphDesign(generate("dadda", 8)).report().power_uw)


def run_points(space: str, evals: int, seed: int) -> tuple[np.ndarray, float]:
    """(power_uw, nmed) of every completed evaluation, and the run's seconds."""
    import optuna
    from optuna.trial import TrialState

    from dse.search import open_storage, run

    name = f"hybrid_{space}_s{seed}_{time.time_ns()}"
    t0 = time.perf_counter()
    run(study_config(name, space, evals, seed), storage="memory:")
    dt = time.perf_counter() - t0
    study = optuna.load_study(study_name=name, storage=open_storage("memory:"))
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return np.array([t.values for t in trials], dtype=float), dt


def hypervolume(points: np.ndarray, power_ref: float) -> float:
    from pymoo.indicators.hv import HV

    f = np.column_stack([points[:, 0] / power_ref, points[:, 1] / NMED_SCALE])
    f = f[(f < 1.0).all(axis=1)]
    return float(HV(ref_point=np.array([1.0, 1.0]))(f)) if len(f) else 0.0


def lowest_power(points: np.ndarray, power_ref: float, nmed: float) -> float:
    ok = points[points[:, 1] <= nmed]
    return float(ok[:, 0].min() / power_ref) if len(ok) else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 200 evaluations, 1 seed")
    ap.add_argument("--evals", type=int, default=None)
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--spaces", default="mul8u_pp,mul8u_hybrid")
    args = ap.parse_args()
    evals = args.evals or (200 if args.quick else 3000)
    seeds = list(range(args.seeds or (1 if args.quick else 3)))
    spaces = [s for s in args.spaces.split(",") if s]

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    power_ref = exact_dadda_power()
    results: dict[str, dict[str, list[float]]] = {}
    for space in spaces:
        r: dict[str, list[float]] = {"hv": [], "p02": [], "p1": [], "s": []}
        for seed in seeds:
            points, dt = run_points(space, evals, seed)
            r["hv"].append(hypervolume(points, power_ref))
            r["p02"].append(lowest_power(points, power_ref, 0.002))
            r["p1"].append(lowest_power(points, power_ref, 0.01))
            r["s"].append(dt)
            print(f"  {space} seed {seed}: HV {r['hv'][-1]:.4f} ({dt:.0f} s)", file=sys.stderr)
        results[space] = r

    print(
        f"\nNSGA-II, {evals} evaluations, seeds {seeds}; power / exact 8x8 Dadda "
        f"({power_ref:.1f} uW), NMED / {NMED_SCALE}, HV reference (1, 1); higher HV is better"
    )
    print(
        f"{'space':<16}{'mean HV':>9}{'per seed':>24}{'P@NMED<=0.2%':>16}{'P@NMED<=1%':>14}{'s/run':>7}"
    )
    for space, r in results.items():
        print(
            f"{space:<16}{statistics.mean(r['hv']):>9.4f}"
            f"{'  '.join(f'{v:.4f}' for v in r['hv']):>24}"
            f"{min(r['p02']):>16.3f}{min(r['p1']):>14.3f}{statistics.mean(r['s']):>7.0f}"
        )
    out = {
        space: {
            "hv": round(statistics.mean(r["hv"]), 6),
            "hv_per_seed": [round(v, 6) for v in r["hv"]],
            "power_at_nmed_0p2pct": [round(v, 4) for v in r["p02"]],
            "power_at_nmed_1pct": [round(v, 4) for v in r["p1"]],
        }
        for space, r in results.items()
    }
    out["evals"] = evals
    out["seeds"] = len(seeds)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
