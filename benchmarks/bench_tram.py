"""TRAM on the embedded MNIST-1D setting (1-D CNN, 8-bit, unsigned multipliers).

Runs an adaptive λ sweep of dse.tram.run_tram (phase 1 → phase 2 → gate-level evaluation →
phase 3 with ``ste`` and ``lut1d``), compares phase-2 move sets on the same θ*, and measures
accuracy recovery with the log-domain SGD model (dse.optim.LogDomainSGD) against the ideal
optimiser. Prints markdown tables; the last line is a JSON object.

    python benchmarks/bench_tram.py --quick      # short budgets
    python benchmarks/bench_tram.py              # longer phase-1/phase-3 budgets
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from dse.arith import generate, truncate_columns
from dse.design import evaluate
from dse.nn import AxMultiplier, PreparedBaseline
from dse.optim import LogDomainSGD
from dse.tram import finetune_mapped, map_theta, run_tram


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--designs", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    p1, p3 = (120, 120) if args.quick else (400, 300)
    t_all = time.perf_counter()
    base = PreparedBaseline.load("cnn1d", "mnist1d", seed=args.seed)
    data = base.data.dataset
    assert data is not None
    model = base.model.to(args.device)
    data.x_train, data.y_train = data.x_train.to(args.device), data.y_train.to(args.device)
    data.x_test, data.y_test = data.x_test.to(args.device), data.y_test.to(args.device)
    print(f"float baseline {base.acc_float:.4f} on {args.device}", flush=True)

    designs = run_tram(
        model,
        data,
        widths=8,
        schedule="adaptive",
        n_designs=args.designs,
        lambda_range=(1e-3, 0.3),
        power="calibrated",
        phase1_steps=p1,
        phase3_steps=p3,
        grads=("ste", "lut1d"),
        seed=args.seed,
        progress=lambda m: print(m, flush=True),
    )
    distinct = {d.key for d in designs}
    print(
        "\n| λ | analytic power (calibrated) | analytic power (published ratios) | gate-level power "
        "| gap | acc phase 1 | acc mapped, no FT | acc STE | acc LUT-1D | mapping s / multiplier |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    gaps, gaps_ratio, gaps_abs, rows = [], [], [], []
    for d in designs:
        ms = float(np.mean(list(d.mapping_seconds.values())))
        gap = d.power_gap
        gap_r = (d.analytic_power_ratio - d.gate_power) / d.gate_power
        gaps.append(abs(gap))
        gaps_abs.append(abs(d.analytic_power - d.gate_power))
        gaps_ratio.append(abs(gap_r))
        print(
            f"| {d.lam:.4g} | {d.analytic_power:.3f} | {d.analytic_power_ratio:.3f} | "
            f"{d.gate_power:.3f} ({d.gate_power_uw:.1f} µW) | {gap:+.2f} | {d.accuracy_phase1:.4f} | "
            f"{d.accuracy_before:.4f} | {d.accuracy['ste']:.4f} | {d.accuracy['lut1d']:.4f} | {ms:.2f} |"
        )
        rows.append(d.to_dict())

    # phase-2 move sets on the same θ* (issue #5, 2b)
    print("\n| λ | layer | moves / bases | MSE to Y_ref | gate-level µW | seconds |")
    print("|---|---|---|---|---|---|")
    move_cmp = []
    for d in designs[:: max(1, len(designs) // 3)]:
        for n in ("conv2", "conv3"):
            th = d.thetas[n]
            for label, kw in (
                ("published / array", {"moves": "published", "bases": ("array",)}),
                ("rich / array", {"moves": "rich", "bases": ("array",)}),
                (
                    "rich / array+dadda+wallace",
                    {"moves": "rich", "bases": ("array", "dadda", "wallace")},
                ),
            ):
                r = map_theta(th, 8, **kw)  # type: ignore[arg-type]
                pw = evaluate(r.graph).power_uw
                move_cmp.append(
                    {
                        "lambda": d.lam,
                        "layer": n,
                        "moves": label,
                        "mse": r.mse,
                        "power_uw": pw,
                        "seconds": r.seconds,
                    }
                )
                print(f"| {d.lam:.4g} | {n} | {label} | {r.mse:.1f} | {pw:.1f} | {r.seconds:.2f} |")

    # log-domain SGD vs ideal SGD on a strongly approximate multiplier
    strong = truncate_columns(generate("array", 8), 10)
    mult = AxMultiplier.from_report(evaluate(strong), name="array8-trunc10")
    steps = 100 if args.quick else 300
    opt_rows = {}
    for label, factory in (
        (
            "SGD (torch, ideal)",
            lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, weight_decay=1e-4),
        ),
        (
            "LogDomainSGD ideal (bits=None, 0 %)",
            lambda p: LogDomainSGD(
                p, lr=0.01, momentum=0.9, weight_decay=1e-4, bits=None, error_mse=0.0
            ),
        ),
        (
            "LogDomainSGD 8-bit, 0.87 %",
            lambda p: LogDomainSGD(p, lr=0.01, momentum=0.9, weight_decay=1e-4, seed=args.seed),
        ),
        (
            "LogDomainSGD 6-bit, 3 %",
            lambda p: LogDomainSGD(
                p, lr=0.01, momentum=0.9, weight_decay=1e-4, bits=6, error_mse=0.03, seed=args.seed
            ),
        ),
    ):
        before, after, _ = finetune_mapped(
            model, mult, data, steps=steps, grad="lut1d", optimizer=factory, seed=args.seed
        )
        opt_rows[label] = {"before": before, "after": after}
    print(f"\n| optimiser (lut1d, {steps} steps, {mult.name}) | acc before | acc after |")
    print("|---|---|---|")
    for k, v in opt_rows.items():
        print(f"| {k} | {v['before']:.4f} | {v['after']:.4f} |")

    all_ms = [s for d in designs for s in d.mapping_seconds.values()]
    out = {
        "designs": len(distinct),
        "runs": len(designs),
        "mapping_s_per_multiplier": float(np.mean(all_ms)),
        "max_abs_rel_power_gap": float(max(gaps)),
        "max_abs_power_gap_fraction_of_exact": float(max(gaps_abs)),
        "max_abs_rel_power_gap_published_ratios": float(max(gaps_ratio)),
        "acc_float": base.acc_float,
        "acc_ste": [d.accuracy["ste"] for d in designs],
        "acc_lut1d": [d.accuracy["lut1d"] for d in designs],
        "gate_power": [d.gate_power for d in designs],
        "analytic_power": [d.analytic_power for d in designs],
        "lambdas": [d.lam for d in designs],
        "log_domain_sgd": opt_rows,
        "moves": move_cmp,
        "seconds": time.perf_counter() - t_all,
        "quick": args.quick,
        "device": args.device,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
