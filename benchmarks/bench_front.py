"""Front quality: a full accuracy-power study on the MNIST-1D 1-D CNN with fine-tuning.

Runs ``studies/front.yaml`` (budget stated there: 640 evaluations or 110 minutes) and
prints, as its last line, one JSON object:

* ``best_rel_power_at_0p5`` — the lowest power, as a fraction of the exact 8x8 Dadda
  multiplier's power under the same model (the network's operand histograms), among
  designs within 0.5 point of the exact-quantised accuracy (target: <= 0.25);
* ``best_rel_power_at_0p0`` — the same with no accuracy loss at all;
* ``front_size`` — feasible Pareto designs; ``hypervolume`` — pymoo HV with the
  study's reference point (power / exact power, accuracy drop / 2 points).

Usage: ``python benchmarks/bench_front.py [--storage URL] [--workers K] [--trials N]``
(``--trials`` shortens the run for a smoke test).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--storage", default="sqlite:///bench-front.db")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--trials", type=int, default=None)
    ap.add_argument("--name", default=None, help="study name (default: front-<time>)")
    args = ap.parse_args()

    from optuna.trial import TrialState

    from dse.search import load_stored_study, load_study_config, run, study_summary

    cfg = load_study_config(REPO / "studies" / "front.yaml")
    cfg.name = args.name or f"front-{int(time.time())}"
    t0 = time.perf_counter()
    run(
        cfg,
        storage=args.storage,
        trials=args.trials,
        workers=args.workers,
        progress=sys.stderr.isatty(),
    )
    wall = time.perf_counter() - t0
    study = load_stored_study(cfg.name, args.storage)
    exact_power = study.user_attrs["dse:exact"]["power_uw"]
    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if "accuracy" not in t.user_attrs:
            continue  # rejected at the hardware stage
        drop = t.user_attrs["accuracy_drop"]
        rows.append((drop, t.user_attrs["hw"]["power_uw"] / exact_power, t.number))

    def best(limit: float) -> float | None:
        ok = [r for d, r, _ in rows if d <= limit + 1e-9]
        return round(min(ok), 4) if ok else None

    s = study_summary(study)
    print(
        f"study {cfg.name}: {s.complete} evaluations ({len(rows)} fine-tuned) in {wall / 60:.1f} min; "
        f"front {s.front_size}",
        file=sys.stderr,
    )
    for d, r, n in sorted(rows, key=lambda x: x[1])[:10]:
        print(f"  trial {n}: rel power {r:.3f}, accuracy drop {d:.2f} points", file=sys.stderr)
    print(
        json.dumps(
            {
                "best_rel_power_at_0p5": best(0.5),
                "best_rel_power_at_0p0": best(0.0),
                "front_size": s.front_size,
                "hypervolume": round(s.hypervolume or 0.0, 6),
                "evaluations": s.complete,
                "fine_tuned": len(rows),
                "minutes": round(wall / 60, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
