"""``run_tram``: TRAM's three phases over a λ sweep, as one call a search back end can use.

Per λ: phase 1 (:func:`~dse.tram.train_phase1`) from the same float baseline, phase 2
(:func:`~dse.tram.map_theta`) per layer, gate-level evaluation of every mapped multiplier
under that layer's operand histograms, phase 3 (:func:`~dse.tram.finetune_mapped`) per
gradient estimator. ``schedule="adaptive"`` (issue #5, 2c) picks the λ values itself: it
evaluates the ends of ``lambda_range`` (extending them while they do not bracket the
front), then repeatedly bisects, in log λ, the neighbouring pair with the largest gap in
gate-level power, skipping pairs that already map to the same designs, until ``n_designs``
distinct designs exist or ``max_runs`` phase-1 runs are spent.
"""

from __future__ import annotations

import copy
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from dse.arith import MultiplierGraph, generate
from dse.design import evaluate
from dse.errors import ConfigError
from dse.eval import HardwareReport, OperandDistribution
from dse.nn import AxMultiplier
from dse.tram._layers import tram_layers, tramify, untramify
from dse.tram._mapping import BASES, MOVES, MappingResult, map_theta
from dse.tram._power import CostModel, calibrated_costs, ratio_costs
from dse.tram._train import (
    OptimizerFactory,
    calibrate_ranges,
    evaluate_accuracy,
    finetune_mapped,
    operand_histograms,
    set_costs,
    train_phase1,
)

__all__ = ["SCHEDULES", "TramDesign", "run_tram"]

SCHEDULES: tuple[str, ...] = ("adaptive", "list")
Progress = Callable[[str], None]


@dataclass
class TramDesign:
    """One point of a TRAM sweep (one λ).

    Power fractions are relative to the exact array multiplier of the same widths and are
    multiplication-count-weighted over layers: ``analytic_power`` under the cost model that
    trained θ, ``analytic_power_ratio`` / ``analytic_power_calibrated`` under each model,
    ``gate_power`` from dse's gate-level model of the mapped netlists (each under its
    layer's operand histograms). ``accuracy[grad]`` after phase 3 with that estimator.
    """

    lam: float
    thetas: dict[str, np.ndarray]
    graphs: dict[str, MultiplierGraph]
    reports: dict[str, HardwareReport]
    mapping: dict[str, MappingResult] = field(repr=False)
    mults: dict[str, int]
    analytic_power: float
    analytic_power_ratio: float
    analytic_power_calibrated: float | None
    gate_power: float
    gate_power_uw: float
    accuracy: dict[str, float]
    accuracy_before: float
    accuracy_phase1: float
    mapping_seconds: dict[str, float]
    phase1_seconds: float
    phase3_seconds: dict[str, float]
    #: layer name → the key of ``graphs``/``reports`` it uses (itself without groups)
    layers: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, ...]:
        """Structural hashes of the per-layer multipliers (equal keys = same design)."""
        return tuple(self.graphs[n].structural_hash for n in sorted(self.graphs))

    @property
    def power_gap(self) -> float:
        """``(analytic − gate-level) / gate-level`` power fraction."""
        return (self.analytic_power - self.gate_power) / self.gate_power

    def multipliers(self) -> dict[str, AxMultiplier]:
        """Per-layer :class:`~dse.nn.AxMultiplier` of the mapped designs."""
        per_unit = {
            n: AxMultiplier.from_report(r, name=f"tram[{n}]") for n, r in self.reports.items()
        }
        layers = self.layers or {n: n for n in per_unit}
        return {layer: per_unit[unit] for layer, unit in layers.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no graphs or LUTs)."""
        return {
            "lambda": self.lam,
            "thetas": {n: [round(float(v), 4) for v in t] for n, t in self.thetas.items()},
            "structural_hashes": {n: g.structural_hash for n, g in self.graphs.items()},
            "mults": self.mults,
            "analytic_power": self.analytic_power,
            "analytic_power_ratio": self.analytic_power_ratio,
            "analytic_power_calibrated": self.analytic_power_calibrated,
            "gate_power": self.gate_power,
            "gate_power_uw": self.gate_power_uw,
            "power_uw": {n: r.power_uw for n, r in self.reports.items()},
            "nmed": {n: float(r.nmed) for n, r in self.reports.items()},
            "accuracy": self.accuracy,
            "accuracy_before": self.accuracy_before,
            "accuracy_phase1": self.accuracy_phase1,
            "mapping_seconds": self.mapping_seconds,
            "phase1_seconds": self.phase1_seconds,
            "phase3_seconds": self.phase3_seconds,
            "layers": self.layers,
        }


def _weighted(values: Mapping[str, float], mults: Mapping[str, int]) -> float:
    total = sum(mults.values())
    return float(sum(values[n] * mults[n] for n in values) / total)


def run_tram(
    model: nn.Module,
    data: Any,
    *,
    widths: int | tuple[int, int] = 8,
    signed: bool = False,
    lambdas: Sequence[float] | None = None,
    schedule: str = "adaptive",
    n_designs: int = 6,
    lambda_range: tuple[float, float] = (1e-3, 1.0),
    max_runs: int | None = None,
    power: str = "calibrated",
    calibration_samples: int = 24,
    moves: str = "published",
    bases: Sequence[str] = ("array",),
    weighted_mse: bool = False,
    phase1_steps: int = 150,
    phase1_lr: float = 1e-3,
    theta_lr: float = 0.05,
    phase3_steps: int = 150,
    phase3_lr: float = 3e-4,
    grads: Sequence[str] = ("lut1d",),
    optimizer: OptimizerFactory | None = None,
    batch_size: int = 128,
    seed: int = 0,
    progress: Progress | None = None,
    groups: Mapping[str, str] | None = None,
    allowed: Mapping[str, Sequence[str]] | None = None,
    adder: str = "ripple",
    on_design: Callable[[TramDesign], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[TramDesign]:
    """TRAM (Meng et al., DAC 2026) on dse's parts: a λ sweep of phases 1–3.

    Args:
        model: a trained float model (not modified; each λ starts from a copy).
        data: a :class:`dse.nn` ``Dataset`` (``x_train``, ``y_train``, ``x_test``, ``y_test``).
        widths: multiplier operand widths (activation, weight); any width.
        signed: force sign-magnitude activations everywhere (otherwise per layer: unsigned
            after a ReLU, sign-magnitude elsewhere). The mapped multipliers are unsigned
            magnitude multipliers; the sign is applied around them (as in :mod:`dse.nn`).
        lambdas: explicit λ values (``schedule="list"``, the published hand sweep).
        schedule: ``"adaptive"`` (λ chosen to fill the front) or ``"list"``.
        n_designs, lambda_range, max_runs: adaptive schedule targets and budget
            (default ``max_runs = 2·n_designs``).
        power: ``"ratio"`` (published AND:HA:FA = 1:1.822:4.470) or ``"calibrated"`` (fitted to
            the gate-level model under the network's operand histograms) cost model for
            phase 1.
        moves, bases, weighted_mse: phase-2 move set, base structures, and whether the MSE
            is weighted by the layer's operand histograms (see :func:`map_theta`).
        grads: phase-3 gradient estimators (each gives one accuracy per design).
        optimizer: phase-3 optimiser factory (e.g. ``lambda p: LogDomainSGD(p, lr=...)``).
        groups: layer name → group name. Layers of a group share one θ in phase 1 and one
            mapped multiplier (a search space's layer groups); layers in no group stay
            float. Default: every layer its own θ and multiplier.
        allowed: base cell → offered options (phase 2 stays inside a search space's genome;
            see :func:`map_theta`); ``adder``: the base structures' final adder.
        on_design: called with each design as soon as it exists (e.g. to record it).
        should_stop: polled before each phase-1 run; ``True`` ends the sweep early.

    Returns the designs sorted by λ; designs that coincide structurally are kept (the
    caller may dedupe with :attr:`TramDesign.key`).
    """
    wa, wb = (widths, widths) if isinstance(widths, int) else tuple(widths)
    if schedule not in SCHEDULES:
        raise ConfigError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if schedule == "list" and not lambdas:
        raise ConfigError("schedule='list' needs lambdas (a non-empty list of λ >= 0)")
    if lambdas is not None and any(not (isinstance(v, (int, float)) and v >= 0) for v in lambdas):
        raise ConfigError(f"lambdas must be numbers >= 0, got {list(lambdas)!r}")
    if lambdas:
        schedule = "list"
    if power not in ("ratio", "calibrated"):
        raise ConfigError(f"power must be 'ratio' or 'calibrated', got {power!r}")
    if moves not in MOVES:
        raise ConfigError(f"moves must be one of {MOVES}, got {moves!r}")
    if any(b not in BASES for b in bases):
        raise ConfigError(f"bases must be from {BASES}, got {list(bases)!r}")
    lo, hi = lambda_range
    if not (0 < lo < hi):
        raise ConfigError(f"lambda_range must be (lo, hi) with 0 < lo < hi, got {lambda_range!r}")
    if not isinstance(n_designs, int) or n_designs < 2:
        raise ConfigError(f"n_designs must be an int >= 2, got {n_designs!r}")
    say = progress or (lambda _m: None)
    stop = should_stop or (lambda: False)
    act_mode = "signed" if signed else "auto"

    # -- which layers are trained, and which share θ (one unit = one mapped multiplier)
    probe = copy.deepcopy(model)
    names = [n for n, _ in tramify(copy.deepcopy(model), (wa, wb), act_mode=act_mode)]
    if groups is not None:
        unknown = sorted(set(groups) - set(names))
        if unknown:
            raise ConfigError(f"groups names layers that are not multiplier layers: {unknown}")
        if not groups:
            raise ConfigError("groups: no layer is in any group")
    unit_of = dict(groups) if groups is not None else {n: n for n in names}
    skip = tuple(n for n in names if n not in unit_of)
    units: dict[str, list[str]] = {}
    for n in names:
        if n in unit_of:
            units.setdefault(unit_of[n], []).append(n)

    # -- the network's operand histograms and the cost models (once)
    tramify(probe, (wa, wb), act_mode=act_mode, skip=skip)
    calibrate_ranges(probe, data, batch=batch_size, seed=seed)
    layer_hists = operand_histograms(probe, data)
    hists: dict[str, tuple[np.ndarray, np.ndarray]] = {
        u: (
            np.sum([layer_hists[n][0] for n in ls], axis=0),
            np.sum([layer_hists[n][1] for n in ls], axis=0),
        )
        for u, ls in units.items()
    }
    ratio = ratio_costs(wa, wb)
    calibrated: CostModel | None = None
    if power == "calibrated":
        tot_a = sum(h[0] for h in hists.values())
        tot_b = sum(h[1] for h in hists.values())
        calibrated = calibrated_costs(
            wa,
            wb,
            hist_a=tot_a,
            hist_b=tot_b,
            samples=calibration_samples,
            moves=moves,
            bases=tuple(bases),
            seed=seed,
        )
        say(
            f"calibrated cost model: fit rms {calibrated.fit_rmse:.3f} of P_exact, "
            f"{calibrated.seconds:.1f}s"
        )
    train_costs = calibrated if calibrated is not None else ratio
    exact_graph = generate("array", wa, wb)  # the reference of every power fraction
    dists = {n: OperandDistribution(h[0] + 1e-9, h[1] + 1e-9) for n, h in hists.items()}
    exact_power = {n: evaluate(exact_graph, distribution=d).power_uw for n, d in dists.items()}
    weights = {n: np.multiply.outer(h[0], h[1]) for n, h in hists.items()} if weighted_mse else {}

    def one(lam: float) -> TramDesign:
        t0 = time.perf_counter()
        net = copy.deepcopy(model)
        tramify(net, (wa, wb), act_mode=act_mode, skip=skip)
        layers = dict(tram_layers(net))
        for members in units.values():  # one θ per unit: the layers share the Parameter
            for n in members[1:]:
                layers[n].theta = layers[members[0]].theta
        set_costs(net, train_costs)
        calibrate_ranges(net, data, batch=batch_size, seed=seed)
        layer_thetas = train_phase1(
            net,
            data,
            lam=lam,
            steps=phase1_steps,
            lr=phase1_lr,
            theta_lr=theta_lr,
            batch_size=batch_size,
            seed=seed,
        )
        acc1 = evaluate_accuracy(net, data)
        thetas = {u: layer_thetas[ls[0]] for u, ls in units.items()}
        mults = {u: sum(layers[n].mults_per_sample for n in ls) for u, ls in units.items()}
        t1 = time.perf_counter() - t0
        mapped: dict[str, MappingResult] = {}
        reports: dict[str, HardwareReport] = {}
        for n, th in thetas.items():
            mapped[n] = map_theta(
                th,
                wa,
                wb,
                moves=moves,
                bases=tuple(bases),
                weights=weights.get(n),
                adder=adder,
                allowed=allowed,
            )
            reports[n] = evaluate(mapped[n].graph, distribution=dists[n])
        float_net = untramify(net)
        gate = {n: reports[n].power_uw / exact_power[n] for n in reports}
        an_ratio = {n: ratio.power_fraction(th) for n, th in thetas.items()}
        an_cal = (
            {n: calibrated.power_fraction(th) for n, th in thetas.items()}
            if calibrated is not None
            else None
        )
        acc: dict[str, float] = {}
        t3: dict[str, float] = {}
        before = float("nan")
        per_unit = {n: AxMultiplier.from_report(r, name=f"tram[{n}]") for n, r in reports.items()}
        mults_ax = {layer: per_unit[u] for layer, u in unit_of.items()}
        for g in grads:
            s = time.perf_counter()
            before, after, _ = finetune_mapped(
                float_net,
                mults_ax,
                data,
                steps=phase3_steps,
                grad=g,
                lr=phase3_lr,
                optimizer=optimizer,
                batch_size=batch_size,
                seed=seed,
                act_mode=act_mode,
            )
            acc[g] = after
            t3[g] = time.perf_counter() - s
        an_train = an_cal if an_cal is not None else an_ratio
        d = TramDesign(
            lam=float(lam),
            thetas=thetas,
            graphs={n: m.graph for n, m in mapped.items()},
            reports=reports,
            mapping=mapped,
            mults=mults,
            analytic_power=_weighted(an_train, mults),
            analytic_power_ratio=_weighted(an_ratio, mults),
            analytic_power_calibrated=_weighted(an_cal, mults) if an_cal is not None else None,
            gate_power=_weighted(gate, mults),
            gate_power_uw=_weighted({n: r.power_uw for n, r in reports.items()}, mults),
            accuracy=acc,
            accuracy_before=before,
            accuracy_phase1=acc1,
            mapping_seconds={n: m.seconds for n, m in mapped.items()},
            phase1_seconds=t1,
            phase3_seconds=t3,
            layers=dict(unit_of),
        )
        if on_design is not None:
            on_design(d)
        say(
            f"λ={lam:.4g}: gate power {d.gate_power:.3f}, analytic {d.analytic_power:.3f}, "
            f"acc {acc}"
        )
        return d

    designs: dict[float, TramDesign] = {}
    if schedule == "list":
        for lam in lambdas or ():
            if stop():
                break
            if float(lam) not in designs:
                designs[float(lam)] = one(float(lam))
        return [designs[k] for k in sorted(designs)]

    budget = max_runs if max_runs is not None else 2 * n_designs
    for end in (lo, hi):
        if stop():
            return [designs[k] for k in sorted(designs)]
        designs[end] = one(end)
    # widen the range while it does not bracket the front (≤ 4 extensions each way): the
    # smallest λ should leave the network nearly exact, the largest should cut deep
    for _ in range(4):
        if len(designs) >= budget or designs[min(designs)].gate_power >= 0.9 or stop():
            break
        lo = lo / 10
        designs[lo] = one(lo)
    for _ in range(4):
        if len(designs) >= budget or designs[max(designs)].gate_power <= 0.3 or stop():
            break
        hi = hi * 10
        designs[hi] = one(hi)
    saturated: set[tuple[float, float]] = set()
    while (
        len(designs) < budget and len({d.key for d in designs.values()}) < n_designs and not stop()
    ):
        lams = sorted(designs)
        gaps = []
        for a, b in itertools.pairwise(lams):
            if (a, b) in saturated or designs[a].key == designs[b].key:
                continue
            gaps.append((abs(designs[a].gate_power - designs[b].gate_power), a, b))
        if not gaps:
            break
        _, a, b = max(gaps)
        mid = math.sqrt(a * b)
        if mid in designs or b / a < 1.05:
            saturated.add((a, b))
            continue
        designs[mid] = one(mid)
        if designs[mid].key in (designs[a].key, designs[b].key):
            saturated.add((a, mid) if designs[mid].key == designs[a].key else (mid, b))
    return [designs[k] for k in sorted(designs)]
