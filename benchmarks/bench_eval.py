"""Benchmark of the hardware evaluation path (issue: graphs, gate-level evaluation, power).

Measures, as medians over repeated runs on one core:

* ``cands_per_s_8x8``: 8×8 candidates per second through the whole ``eval`` path —
  random knobs → graph → netlist → exhaustive LUT → error metrics → power/area/delay;
* ``s_12x12_exhaustive``: seconds for one exhaustive 12×12 evaluation (2**24 pairs);
* ``speedup_vs_iverilog``: Icarus Verilog's time to simulate the exported netlist over
  all 65,536 8×8 pairs (compile + run) divided by dse's time for the same table
  (``null`` when Icarus is not installed).

Prints a table, then one JSON object as the very last line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

# One core: the figure is per core, and the search parallelises across processes.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

from dse.arith import CELL_TYPES, apply_knobs, generate, lower  # noqa: E402
from dse.design import evaluate  # noqa: E402
from dse.eval import product_table  # noqa: E402
from dse.netlist import write_verilog  # noqa: E402

_BASES: dict = {}


def random_candidate(rng: random.Random):
    """A random 8×8 design: a base structure (built once, as a search space does), then
    random matrix knobs (a rebuild of the tree) and random cell knobs."""
    key = (rng.choice(["dadda", "wallace", "array"]), rng.choice(["ripple", "kogge-stone"]))
    if key not in _BASES:
        _BASES[key] = generate(key[0], 8, adder=key[1])
    base = _BASES[key]
    knobs: dict = {}
    pps = [(rng.randrange(8), rng.randrange(8)) for _ in range(rng.randint(0, 8))]
    if pps:
        knobs["prune"] = pps
    if rng.random() < 0.7:
        knobs["truncate"] = rng.randint(0, 8)
    if rng.random() < 0.3:
        knobs["loa"] = rng.randint(0, 6)
    graph = apply_knobs(base, knobs)
    cells = graph.nodes_of(role="tree")
    approx_fa = sorted(n for n, ct in CELL_TYPES.items() if ct.family == "fa" and not ct.exact)
    cell_knobs: dict = {}
    if cells and rng.random() < 0.5:
        cell_knobs["zero"] = [
            f"{rng.choice(cells)}.{rng.choice(['sum', 'cout'])}" for _ in range(rng.randint(1, 3))
        ]
    fas = [n for n in cells if graph[n].kind == "fa"]
    if fas and approx_fa and rng.random() < 0.5:
        cell_knobs["approx"] = [
            f"{n}:{rng.choice(approx_fa)}" for n in rng.sample(fas, min(len(fas), 3))
        ]
    # zero and approx may touch the same cell; apply approx first, then zero
    if "approx" in cell_knobs:
        graph = apply_knobs(graph, {"approx": cell_knobs["approx"]})
    if "zero" in cell_knobs:
        zeros = [z for z in cell_knobs["zero"] if graph[z.rsplit(".", 1)[0]].kind in ("fa", "ha")]
        if zeros:
            graph = apply_knobs(graph, {"zero": zeros})
    return graph


def candidates_per_second(n: int, seed: int) -> float:
    rng = random.Random(seed)
    t0 = time.perf_counter()
    for _ in range(n):
        graph = random_candidate(rng)
        evaluate(graph, keep_lut=True)
    return n / (time.perf_counter() - t0)


def time_12x12() -> float:
    graph = generate("dadda", 12)
    t0 = time.perf_counter()
    evaluate(graph)
    return time.perf_counter() - t0


def iverilog_ratio(repeats: int) -> tuple[float | None, float | None, float]:
    from dse.testing.iverilog import have_iverilog, iverilog_lut

    graph = generate("dadda", 8, knobs={"truncate": 4})
    netlist = lower(graph, name="mul8")
    ours = []
    for _ in range(max(25, repeats)):  # a fraction of a millisecond each: many runs
        t0 = time.perf_counter()
        table = product_table(netlist, 8, 8, signed=False)
        ours.append(time.perf_counter() - t0)
    t_ours = statistics.median(ours)
    if not have_iverilog():
        return None, None, t_ours
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mul8.v"
        path.write_text(write_verilog(netlist))
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            lut = iverilog_lut(path, 8, 8, signed=False)
            times.append(time.perf_counter() - t0)
        assert (lut == table).all(), "Icarus and dse disagree"
    t_iv = statistics.median(times)
    return t_iv / t_ours, t_iv, t_ours


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=400, help="candidates per run")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="a smoke run")
    args = ap.parse_args()
    if args.quick:
        args.candidates, args.runs = 40, 2
    candidates_per_second(20, seed=999)  # warm-up: JIT kernels, caches
    rates = [candidates_per_second(args.candidates, seed=s) for s in range(args.runs)]
    t12 = [time_12x12() for _ in range(1 if args.quick else 3)]
    ratio, t_iv, t_ours = iverilog_ratio(1 if args.quick else 3)
    rows = [
        (
            "8x8 candidates/s (whole eval path, 1 core)",
            f"{statistics.median(rates):.0f}",
            f"runs: {', '.join(f'{r:.0f}' for r in rates)}",
        ),
        (
            "12x12 exhaustive evaluation (s)",
            f"{statistics.median(t12):.3f}",
            "2**24 pairs, LUT + metrics + power",
        ),
        ("dse 8x8 exhaustive table (ms)", f"{t_ours * 1e3:.3f}", "simulation + readout"),
        (
            "Icarus 8x8 exhaustive table (s)",
            "n/a" if t_iv is None else f"{t_iv:.3f}",
            "compile + run of the exported Verilog",
        ),
        (
            "speed-up vs Icarus",
            "n/a" if ratio is None else f"{ratio:.0f}x",
            "same netlist, same 65,536 pairs",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'median':>10}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")
    print(
        json.dumps(
            {
                "cands_per_s_8x8": round(statistics.median(rates), 1),
                "s_12x12_exhaustive": round(statistics.median(t12), 4),
                "speedup_vs_iverilog": None if ratio is None else round(ratio, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
