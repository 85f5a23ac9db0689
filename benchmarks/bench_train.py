"""Training-step speed of the approximate layers, and the fine-tuning comparison table.

Speed (default): median forward+backward+optimizer step time of ResNet-20 at batch 64 on
32x32x3 inputs, for the float model, the fast LUT path (exact mode) with a
partial-product-pruned multiplier (8 low columns truncated), with Mitchell's multiplier and
with an approximate-compressor multiplier of the shipped ``mul8u_compressor`` space (both
through the general kernel), and the naive gather reference. Prints a table with the path
each configuration's layers took, then one JSON line (the very last line).

    python benchmarks/bench_train.py [--device cpu|cuda] [--steps 5] [--gather-steps 1]

Table (``--table``): MNIST-1D 1-D CNN on a strongly approximate multiplier (10 low
partial-product columns truncated), 3 seeds, no fine-tune vs ste/lut2d/lut1d and AxTrain.

    python benchmarks/bench_train.py --table [--seeds 3] [--epochs 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
from torch import nn

from dse.nn import AxMultiplier, build_model, convert, mitchell_lut, truncated_lut

# A representative design of the mul8u_compressor space: seven approximate cells in the low
# columns of the 4:2-compressor tree (Momeni et al. 4:2 compressors, Gupta et al. AMA adders).
COMPRESSOR_CELLS = {
    "c42_s0_c3_0": "momeni_d1",
    "c42_s0_c4_0": "momeni_d1",
    "c42_s0_c5_0": "momeni_d2",
    "c42_s0_c6_0": "momeni_d1",
    "fa_s0_c2_0": "ama1",
    "fa_s0_c6_0": "ama2",
    "fa_s1_c4_0": "ama5",
}


def compressor_multiplier() -> AxMultiplier:
    """The design above, decoded by the shipped space and read as a product table."""
    from pathlib import Path

    from dse.search import load_space

    space = load_space(Path(__file__).resolve().parents[1] / "search_spaces/mul8u_compressor.yaml")
    design = space.decode(space.encode_cells([COMPRESSOR_CELLS]))[0]
    label = ",".join(f"{node}={kind}" for node, kind in COMPRESSOR_CELLS.items())
    return AxMultiplier.from_design(design, name=f"mul8u_compressor[{label}]")


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_steps(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, device: str
) -> list[float]:
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    times = []
    for i in range(steps + 1):  # the first step builds plans and warms caches
        _sync(device)
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
        _sync(device)
        if i:
            times.append(time.perf_counter() - t)
    return times


def speed(args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    device = args.device
    x = torch.randn(64, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (64,), device=device)
    pp = AxMultiplier.from_lut(truncated_lut(8, 8), name="trunc8")
    mitchell = AxMultiplier.from_lut(mitchell_lut(8), name="mitchell8")
    general = compressor_multiplier()

    def fresh(mult: AxMultiplier | None, **opts: object) -> nn.Module:
        torch.manual_seed(0)
        model = build_model("resnet20", (3, 32, 32), 10).to(device)
        if mult is not None:
            convert(model, mult, **opts)
        return model

    rows: dict[str, float] = {}
    notes: dict[str, str] = {}
    configs = [
        ("exact", None, {}, args.steps),
        ("fast_pp", pp, {}, args.steps),
        ("fast_mitchell", mitchell, {}, args.steps),
        ("fast_general", general, {}, args.steps),
        ("fast_mitchell_bounded_r8", mitchell, {"mode": "bounded", "rank": 8}, args.steps),
        ("gather", pp, {"kernel": "reference"}, args.gather_steps),
    ]
    for name, mult, opts, steps in configs:
        model = fresh(mult, **opts)
        times = time_steps(model, x, y, steps, device)
        rows[name] = statistics.median(times)
        if mult is not None:
            plans = {
                m.last_call.plan.description
                for _, m in model.named_modules()
                if getattr(m, "last_call", None) is not None and m.last_call.plan is not None
            }
            paths: dict[str, int] = {}
            for _, m in model.named_modules():
                if getattr(m, "last_call", None) is not None:
                    paths[m.last_call.path] = paths.get(m.last_call.path, 0) + 1
            layers = ", ".join(f"{n} layers {p}" for p, n in sorted(paths.items()))
            notes[name] = f"[{layers}] " + ("; ".join(sorted(plans)[:2]) if plans else "")
        print(
            f"{name:26s} {rows[name] * 1e3:10.1f} ms/step  ({len(times)} steps)  {notes.get(name, 'float32')}",
            file=sys.stderr if args.quiet else sys.stdout,
            flush=True,
        )
    result = {
        "device": device,
        "threads": torch.get_num_threads(),
        "step_s_exact": rows["exact"],
        "step_s_fast_pp": rows["fast_pp"],
        "step_s_fast_mitchell": rows["fast_mitchell"],
        "step_s_fast_mitchell_bounded_r8": rows["fast_mitchell_bounded_r8"],
        "step_s_fast_general": rows["fast_general"],
        "step_s_gather": rows["gather"],
        "ratio_fast_pp": rows["fast_pp"] / rows["exact"],
        "ratio_fast_mitchell": rows["fast_mitchell"] / rows["exact"],
        "ratio_fast_mitchell_bounded_r8": rows["fast_mitchell_bounded_r8"] / rows["exact"],
        "ratio_fast_general": rows["fast_general"] / rows["exact"],
        "general_design": general.name,
        "speedup_vs_gather": rows["gather"] / rows["fast_pp"],
    }
    print(f"\n{'ratio fast pp / exact':34s} {result['ratio_fast_pp']:6.2f}x   (target <= 4)")
    print(
        f"{'ratio fast Mitchell / exact':34s} {result['ratio_fast_mitchell']:6.2f}x   (target <= 10)"
    )
    print(
        f"{'ratio fast compressor / exact':34s} {result['ratio_fast_general']:6.2f}x   (target <= 10)"
    )
    print(f"{'compressor design':34s} {general.name}")
    print(
        f"{'ratio Mitchell bounded r8 / exact':34s} {result['ratio_fast_mitchell_bounded_r8']:6.2f}x"
    )
    print(
        f"{'speed-up fast pp vs gather':34s} {result['speedup_vs_gather']:6.1f}x   (target >= 10)"
    )
    print(json.dumps(result))


def table(args: argparse.Namespace) -> None:
    from dse.nn import PreparedBaseline

    mult = AxMultiplier.from_lut(truncated_lut(8, 10), name="trunc10")
    methods = [
        ("no fine-tune", None),
        ("ste", {"grad": "ste"}),
        ("lut2d", {"grad": "lut2d"}),
        ("lut1d", {"grad": "lut1d"}),
        ("AxTrain passive", {"axtrain": "passive"}),
        ("AxTrain active", {"axtrain": "active", "axtrain_lambda": args.lam}),
    ]
    acc: dict[str, list[float]] = {m: [] for m, _ in methods}
    secs: dict[str, list[float]] = {m: [] for m, _ in methods}
    ref: dict[str, list[float]] = {"float": [], "exact 8-bit": []}
    for seed in range(args.seeds):
        pb = PreparedBaseline.load("cnn1d", "mnist1d", seed=seed)
        for name, kw in methods:
            if kw is None:
                res = pb.finetune(mult, steps=0, seed=seed)
                acc[name].append(res.acc_axm_before)
                secs[name].append(res.seconds)
                ref["float"].append(res.acc_float)
                ref["exact 8-bit"].append(res.acc_exact_q)
                continue
            res = pb.finetune(mult, epochs=args.epochs, lr=args.lr, seed=seed, **kw)
            acc[name].append(res.acc_axm_after)
            secs[name].append(res.seconds)
            print(
                f"seed {seed} {name:16s} {100 * res.acc_axm_after:6.2f} %  {res.seconds:5.1f} s",
                file=sys.stderr,
                flush=True,
            )

    def fmt(v: list[float]) -> str:
        spread = (max(v) - min(v)) / 2 if len(v) > 1 else 0.0
        return f"{100 * statistics.mean(v):6.2f} ± {100 * spread:4.2f}"

    print(
        f"MNIST-1D, 1-D CNN, multiplier {mult.name} (8x8 unsigned, 10 low partial-product "
        f"columns truncated), fine-tune {args.epochs} epoch(s), Adam lr {args.lr}, "
        f"{args.seeds} seeds (mean ± half-range), accuracy in %"
    )
    print()
    print("| method | test accuracy (%) | seconds per run |")
    print("|---|---|---|")
    for name, v in ref.items():
        print(f"| {name} (reference) | {fmt(v)} | |")
    for name, _ in methods:
        print(f"| {name} | {fmt(acc[name])} | {statistics.mean(secs[name]):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--gather-steps", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--table", action="store_true", help="print the fine-tuning table instead")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lam", type=float, default=0.1, help="AxTrain active weight λ")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda but torch.cuda.is_available() is False")
    table(args) if args.table else speed(args)


if __name__ == "__main__":
    main()
