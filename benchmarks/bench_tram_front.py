"""TRAM and NSGA-II in one study versus NSGA-II alone, on the same space and budget.

Runs ``studies/tram_nsga2.yaml`` (TRAM's λ sweep, then NSGA-II seeded with its designs)
and the same study with ``backend: nsga2`` only (same space, fine-tune, constraints,
budget and seed), then reports which back end contributes which part of the merged
front. Prints a table and, as its last line, one JSON object:

* ``hv_tram_nsga2``, ``hv_nsga2_only`` — hypervolume of each study's front (pymoo HV,
  the studies' reference point: power / exact power, accuracy drop / 2 points);
* ``front_tram``, ``front_nsga2`` — Pareto points of the combined study recorded by each
  back end; ``trials_*`` — evaluations each study completed within its budget;
* ``best_rel_power_at_0p5_*`` — lowest power (fraction of the exact design's) within 0.5
  point of the exact-quantised accuracy, per study.

Usage::

    python benchmarks/bench_tram_front.py [--storage URL] [--timeout S] [--analyse-only]

The two studies run one after the other with one torch thread each (``--parallel`` runs
them side by side, one core each). ``--analyse-only`` reads studies already in the
storage.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _configs(timeout: float | None) -> list:
    from dse.search import load_study_config
    from dse.search._config import BackendConfig

    both = load_study_config(REPO / "studies" / "tram_nsga2.yaml")
    alone = load_study_config(REPO / "studies" / "tram_nsga2.yaml")
    alone.name = "nsga2_only"
    nsga = next(b for b in both.stages if b.name == "nsga2")
    options = {k: v for k, v in nsga.options.items() if k != "seed_from"}
    alone.backend = BackendConfig(name="nsga2", options=options)
    for cfg in (both, alone):
        if timeout is not None:
            cfg.budget.timeout = timeout
    return [both, alone]


def _summary(study, exact_power: float) -> dict:
    from optuna.trial import TrialState

    from dse.search import study_summary
    from dse.search._front import pareto_trials

    front = pareto_trials(study)
    rows = [
        (t.user_attrs["accuracy_drop"], t.user_attrs["hw"]["power_uw"] / exact_power)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if "accuracy_drop" in t.user_attrs and t.user_attrs.get("feasible")
    ]
    ok = [r for d, r in rows if d <= 0.5 + 1e-9]
    s = study_summary(study)
    return {
        "trials": s.complete,
        "hv": round(s.hypervolume or 0.0, 6),
        "front": front,
        "best_0p5": round(min(ok), 4) if ok else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--storage", default="sqlite:///bench-tram-front.db")
    ap.add_argument("--timeout", type=float, default=None, help="per study (default: the file's)")
    ap.add_argument("--parallel", action="store_true")
    ap.add_argument("--analyse-only", action="store_true")
    args = ap.parse_args()

    from dse.search import load_stored_study

    cfgs = _configs(args.timeout)
    if not args.analyse_only:
        env = {**os.environ, "DSE_SEARCH_WORKER": "1"}  # one torch thread per study
        procs = []
        t0 = time.perf_counter()
        for cfg in cfgs:
            code = (
                "import sys, json; from dse.search import run; "
                "from dse.search._config import config_from_stored; "
                "cfg = config_from_stored(json.loads(sys.argv[1])); cfg.source = sys.argv[3]; "
                "run(cfg, storage=sys.argv[2])"
            )
            cmd = [sys.executable, "-c", code, json.dumps(cfg.stored()), args.storage, cfg.source]
            p = subprocess.Popen(cmd, env=env)
            if args.parallel:
                procs.append(p)
            elif p.wait() != 0:
                sys.exit(f"study {cfg.name} failed")
        for p in procs:
            if p.wait() != 0:
                sys.exit("a study failed")
        print(f"studies ran in {(time.perf_counter() - t0) / 60:.1f} min", file=sys.stderr)

    both = load_stored_study(cfgs[0].name, args.storage)
    alone = load_stored_study(cfgs[1].name, args.storage)
    exact = both.user_attrs["dse:exact"]["power_uw"]
    sb, sa = _summary(both, exact), _summary(alone, exact)
    print(f"{'study':<12} {'trials':>7} {'HV':>9} {'front':>6} {'best rel power @0.5':>20}")
    for name, s in (("tram+nsga2", sb), ("nsga2 only", sa)):
        best = "-" if s["best_0p5"] is None else f"{s['best_0p5']:.3f}"
        print(f"{name:<12} {s['trials']:>7} {s['hv']:>9.4f} {len(s['front']):>6} {best:>20}")
    print("\nmerged front of tram+nsga2 (accuracy drop in points, power as a fraction of exact):")
    for t in sorted(sb["front"], key=lambda t: t.values[1]):
        print(
            f"  trial {t.number:>4}  {t.user_attrs.get('backend', '?'):<12} "
            f"drop {t.values[0]:6.2f}  power {t.values[1] / exact:.3f}"
        )
    tags = [t.user_attrs.get("backend", "") for t in sb["front"]]
    print(
        json.dumps(
            {
                "hv_tram_nsga2": sb["hv"],
                "hv_nsga2_only": sa["hv"],
                "front_tram": tags.count("tram"),
                "front_nsga2": tags.count("pymoo.nsga2"),
                "trials_tram_nsga2": sb["trials"],
                "trials_nsga2_only": sa["trials"],
                "best_rel_power_at_0p5_tram_nsga2": sb["best_0p5"],
                "best_rel_power_at_0p5_nsga2_only": sa["best_0p5"],
            }
        )
    )


if __name__ == "__main__":
    main()
