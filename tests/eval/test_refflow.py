"""The power model against the reference yosys + OpenSTA flow (issue #2, power part).

Runs ``../shared/tools/refflow/reference_power_flow.py`` once per mapping on ~32
multipliers (exact and approximate, 4×4 … 12×12) and checks the rank correlation of
``estimate_power(...).power_uw`` with OpenSTA's total power:

* ``--mapping structural`` on the *same cells* our model maps to (the mapped netlist
  is written as NanGate instances, which the flow keeps 1:1);
* ``--mapping abc`` on the generic gate netlist (``write_verilog``), resynthesised.

Also checks that the model ranks at least as well as plain cell area. Run as a
script (``python tests/eval/test_refflow.py``) to print the table used in
docs/power.md.
"""

from __future__ import annotations

import csv
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from dse.arith import from_spec, lower
from dse.eval import estimate_power, map_to_cells, pack_operands, simulate, toggle_statistics
from dse.netlist import read_verilog

REPO = Path(__file__).resolve().parents[2]
FLOW = REPO.parent / "shared" / "tools" / "refflow" / "reference_power_flow.py"
LIB_GZ = REPO.parent / "shared" / "data" / "nangate45" / "NangateOpenCellLibrary_typical.lib.gz"

DESIGNS = [
    # exact
    "array:4",
    "dadda:4",
    "wallace:6",
    "dadda:6",
    "array:8",
    "wallace:8",
    "dadda:8",
    "booth:8,signed",
    "array:8,signed",
    "dadda:8,signed",
    "wallace:8,adder=kogge-stone",
    "dadda:8x6",
    "array:8x6",
    "booth:6,signed",
    "dadda:12",
    # approximate
    "dadda:8,truncate=2",
    "dadda:8,truncate=4",
    "dadda:8,truncate=6",
    "dadda:8,truncate=4,compensate=1",
    "array:8,truncate=4",
    "wallace:8,truncate=3",
    "dadda:8,bam=1:2",
    "dadda:8,bam=2:3",
    "array:8,bam=2:4",
    "dadda:8,loa=4",
    "dadda:8,loa=6",
    "wallace:8,loa=3",
    "dadda:8,prune=0:7;1:6;2:5",
    "dadda:12,truncate=8",
    "dadda:6,truncate=3",
    "booth:8,signed,truncate=4",
    "dadda:12,bam=3:4",
]

N_VECTORS = 8192


def _ident(spec: str) -> str:
    return "m_" + "".join(c if c.isalnum() else "_" for c in spec)


def model_rows(specs: list[str], seed: int = 1) -> list[dict[str, float | str]]:
    """Our model on uniform random operands (one new pair per clock, as the flow's
    activity 0.5 / duty 0.5 inputs)."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, float | str]] = []
    for spec in specs:
        nl = lower(from_spec(spec))
        wa, wb = nl.input_ports[0][1], nl.input_ports[1][1]
        a = rng.integers(0, 1 << wa, N_VECTORS, dtype=np.uint64)
        b = rng.integers(0, 1 << wb, N_VECTORS, dtype=np.uint64)
        tr, p = toggle_statistics(simulate(nl, pack_operands(a, b, wa, wb)), N_VECTORS)
        est = estimate_power(nl, tr, p)
        t0 = time.perf_counter()
        reps = 20
        for _ in range(reps):
            estimate_power(nl, tr, p)
        ms = (time.perf_counter() - t0) / reps * 1e3
        rows.append(
            {
                "spec": spec,
                "power_uw": est.power_uw,
                "internal_uw": est.internal_uw,
                "switching_uw": est.switching_uw,
                "leakage_uw": est.leakage_uw,
                "area_um2": est.area_um2,
                "delay_ns": est.delay_ns,
                "ms": ms,
                "cells": sum(est.cells.values()),
            }
        )
    return rows


def _write_designs(specs: list[str], folder: Path, mapping: str) -> list[Path]:
    from dse.netlist import write_verilog

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for spec in specs:
        nl = lower(from_spec(spec))
        name = _ident(spec)
        if mapping == "structural":
            text = map_to_cells(nl).to_verilog(nl, module=name)
        else:
            text = write_verilog(nl, module=name)
        path = folder / f"{name}.v"
        path.write_text(text)
        files.append(path)
    return files


def run_flows(specs: list[str], workdir: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Both reference flows, in parallel (one process each), on all designs."""
    # The flow unpacks its Liberty into the temp folder on start-up; two flows starting
    # together on a fresh machine would race on it, so unpack it here first.
    unpacked = Path(tempfile.gettempdir()) / "NangateOpenCellLibrary_typical.lib"
    if not unpacked.exists():
        part = unpacked.with_name(f"{unpacked.name}.{os.getpid()}.part")
        with gzip.open(LIB_GZ, "rb") as src:
            part.write_bytes(src.read())
        os.replace(part, unpacked)
    procs = {}
    for mapping in ("structural", "abc"):
        files = _write_designs(specs, workdir / f"src_{mapping}", mapping)
        out_csv = workdir / f"{mapping}.csv"
        cmd = [
            sys.executable,
            str(FLOW),
            "--mapping",
            mapping,
            "--workdir",
            str(workdir / f"runs_{mapping}"),
            "--csv",
            str(out_csv),
            *map(str, files),
        ]
        procs[mapping] = (
            subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
            out_csv,
        )
    result: dict[str, dict[str, dict[str, float]]] = {}
    for mapping, (proc, out_csv) in procs.items():
        log, _ = proc.communicate(timeout=600)
        if not out_csv.exists():
            raise RuntimeError(f"reference flow ({mapping}) wrote no CSV:\n{log[-3000:]}")
        with open(out_csv) as f:
            result[mapping] = {
                r["name"]: {k: float(v) for k, v in r.items() if k not in ("name", "equiv") and v}
                for r in csv.DictReader(f)
            }
    return result


def study(workdir: Path) -> tuple[list[dict[str, float | str]], dict[str, float]]:
    rows = model_rows(DESIGNS)
    t0 = time.perf_counter()
    ref = run_flows(DESIGNS, workdir)
    flow_s = time.perf_counter() - t0
    for r in rows:
        name = _ident(str(r["spec"]))
        for mapping in ("structural", "abc"):
            got = ref[mapping].get(name, {})
            r[f"{mapping}_uw"] = got.get("total_mW", float("nan")) * 1e3
            r[f"{mapping}_area"] = got.get("area_um2", float("nan"))
            r[f"{mapping}_delay"] = got.get("delay_ns", float("nan"))
            r[f"{mapping}_s"] = got.get("t_total_s", float("nan"))
    # The abc flow's mapped netlist (NanGate cells, read by their Liberty functions),
    # costed by our model: the same circuit OpenSTA's abc figure is for.
    lib = Path(tempfile.gettempdir()) / "NangateOpenCellLibrary_typical.lib"
    rng = np.random.default_rng(1)
    for r in rows:
        name = _ident(str(r["spec"]))
        mapped = workdir / "runs_abc" / name / f"{name}_mapped.v"
        r["abc_ours_uw"] = r["abc_ours_area"] = float("nan")
        if not mapped.exists():
            continue
        nl = read_verilog(mapped, liberty=lib)
        wa, wb = nl.input_ports[0][1], nl.input_ports[1][1]
        a = rng.integers(0, 1 << wa, N_VECTORS, dtype=np.uint64)
        b = rng.integers(0, 1 << wb, N_VECTORS, dtype=np.uint64)
        tr, p = toggle_statistics(simulate(nl, pack_operands(a, b, wa, wb)), N_VECTORS)
        est = estimate_power(nl, tr, p)
        r["abc_ours_uw"] = est.power_uw
        r["abc_ours_area"] = est.area_um2
    ours = np.array([float(r["power_uw"]) for r in rows])
    area = np.array([float(r["area_um2"]) for r in rows])
    stats: dict[str, float] = {"flow_wall_s": flow_s}
    abc_ours = np.array([float(r["abc_ours_uw"]) for r in rows])
    abc_ref = np.array([float(r["abc_uw"]) for r in rows])
    ok = np.isfinite(abc_ours) & np.isfinite(abc_ref)
    if ok.sum() >= 3:
        stats["rho_power_abc_same_circuit"] = float(spearmanr(abc_ours[ok], abc_ref[ok]).statistic)
        stats["ratio_abc_ours_to_ours"] = float(np.median(abc_ours[ok] / ours[ok]))
    for mapping in ("structural", "abc"):
        ref_p = np.array([float(r[f"{mapping}_uw"]) for r in rows])
        stats[f"rho_power_{mapping}"] = float(spearmanr(ours, ref_p).statistic)
        stats[f"rho_area_{mapping}"] = float(spearmanr(area, ref_p).statistic)
        stats[f"ratio_{mapping}"] = float(np.median(ref_p / ours))
    return rows, stats


def _have_flow() -> bool:
    return (
        FLOW.exists()
        and LIB_GZ.exists()
        and shutil.which("yosys") is not None
        and shutil.which("sta") is not None
    )


@pytest.mark.refflow
@pytest.mark.slow
def test_model_ranks_designs_like_opensta(tmp_path: Path) -> None:
    if not _have_flow():
        pytest.skip("needs ../shared/tools/refflow, the NanGate Liberty, yosys and sta")
    rows, stats = study(tmp_path)
    assert len(rows) >= 30
    for mapping in ("structural", "abc"):
        missing = [r["spec"] for r in rows if not np.isfinite(float(r[f"{mapping}_uw"]))]
        assert not missing, f"reference flow ({mapping}) failed on {missing}"
    # same netlist, same cells: the model must rank like OpenSTA, better than plain area
    assert stats["rho_power_structural"] >= 0.9, stats
    assert stats["rho_power_structural"] >= stats["rho_area_structural"] - 1e-9, stats
    # abc resynthesises a *different* circuit whose vectorless OpenSTA power even ranks
    # against OpenSTA's own structural figures at only ~0.65 (docs/power.md); checked
    # loosely so a regression (e.g. a sign error) still fails
    assert stats["rho_power_abc"] >= 0.5, stats
    # ABC's own netlist read back and costed by the model: the same circuit as OpenSTA's
    # abc figure (0.88 measured; docs/power.md), so it must rank closer than above
    assert stats["rho_power_abc_same_circuit"] >= 0.75, stats
    missing = [r["spec"] for r in rows if not np.isfinite(float(r["abc_ours_uw"]))]
    assert not missing, f"abc-mapped netlists the model could not read: {missing}"
    # same cells, same netlist: area must agree with yosys' stat exactly (structural)
    for r in rows:
        assert float(r["structural_area"]) == pytest.approx(float(r["area_um2"]), rel=1e-6)


def _main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows, stats = study(Path(tmp))
    print(
        "| design | ours µW | int | sw | leak | OpenSTA struct µW | OpenSTA abc µW | "
        "ours on abc µW | area µm² | abc area | ours abc area | delay ns | struct delay | ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| `{r['spec']}` | {r['power_uw']:.1f} | {r['internal_uw']:.1f} | "
            f"{r['switching_uw']:.1f} | {r['leakage_uw']:.2f} | {r['structural_uw']:.1f} | "
            f"{r['abc_uw']:.1f} | {r['abc_ours_uw']:.1f} | {r['area_um2']:.1f} | "
            f"{r['abc_area']:.1f} | {r['abc_ours_area']:.1f} | "
            f"{r['delay_ns']:.3f} | {r['structural_delay']:.3f} | {r['ms']:.3f} |"
        )
    for k, v in stats.items():
        print(f"{k}: {v:.4f}")
    print(
        "mean flow s/design (structural, abc):",
        np.nanmean([float(r["structural_s"]) for r in rows]),
        np.nanmean([float(r["abc_s"]) for r in rows]),
    )
    print("median ms/estimate:", np.median([float(r["ms"]) for r in rows]))
    if os.environ.get("DSE_REFFLOW_CSV"):
        with open(os.environ["DSE_REFFLOW_CSV"], "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    _main()
