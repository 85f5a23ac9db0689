"""Objectives, constraints and the staged evaluation of one candidate.

Stage 1 is the hardware report (milliseconds): power, area, delay, energy and every
error metric. A candidate whose stage-1 figures already violate a constraint is
recorded as infeasible with the reason and never fine-tuned. Stage 2 is the short
approximation-aware fine-tune (through :mod:`dse.search._accuracy`), done only when a
study asks for accuracy. Both stages are cached by structural hash, so the same
structure is never fine-tuned twice in a study (the study's storage is consulted,
which also covers other workers and earlier runs).

Constraints are handled as constraints, not penalties: each is a value ``c`` with
``c <= 0`` iff satisfied, given to Optuna (``trial.set_constraint``) and to pymoo
(``G``), both of which rank by constrained domination (Deb et al., IEEE TEVC 2002).
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from dse.errors import ConfigError
from dse.search._records import ACCURACY, FINETUNE, HW, STRUCTURAL_HASH

if TYPE_CHECKING:
    from dse.design import Design
    from dse.eval import CellLibrary, HardwareReport
    from dse.search._accuracy import AccuracyModel
    from dse.search._genome import Genome
    from dse.search._space import Space

__all__ = [
    "METRICS",
    "Constraint",
    "Evaluation",
    "Evaluator",
    "Metric",
    "Objective",
    "parse_constraint",
    "parse_objective",
]

Stage = Literal["hardware", "accuracy"]
Direction = Literal["minimize", "maximize"]


@dataclass(frozen=True)
class Metric:
    """A figure a study can optimise or constrain."""

    name: str
    stage: Stage
    direction: Direction
    unit: str
    description: str
    #: the value recorded for a candidate that skipped the stage (worst case)
    worst: float = math.inf


#: Every metric by name. Hardware figures are MAC-weighted means over layer groups.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("power_uw", "hardware", "minimize", "µW", "power at the study's clock"),
        Metric("rel_power", "hardware", "minimize", "", "power / the space's exact design's power"),
        Metric("area_um2", "hardware", "minimize", "µm²", "cell area"),
        Metric("delay_ns", "hardware", "minimize", "ns", "critical-path delay"),
        Metric(
            "energy_per_op_fj", "hardware", "minimize", "fJ", "energy per multiplication (per MAC)"
        ),
        Metric("gates", "hardware", "minimize", "", "gate count"),
        Metric("er", "hardware", "minimize", "", "error rate"),
        Metric("med", "hardware", "minimize", "", "mean error distance"),
        Metric("mred", "hardware", "minimize", "", "mean relative error distance"),
        Metric("nmed", "hardware", "minimize", "", "normalised mean error distance"),
        Metric("wce", "hardware", "minimize", "", "worst-case error"),
        Metric("wcre", "hardware", "minimize", "", "worst-case relative error"),
        Metric("abs_bias", "hardware", "minimize", "", "|mean signed error|"),
        Metric("error_var", "hardware", "minimize", "", "error variance"),
        Metric("mse", "hardware", "minimize", "", "mean squared error"),
        Metric(
            "accuracy_drop",
            "accuracy",
            "minimize",
            "points",
            "exact-quantised minus fine-tuned accuracy (%)",
            100.0,
        ),
        Metric("accuracy", "accuracy", "maximize", "%", "test accuracy after the fine-tune", 0.0),
    ]
}
_ALIASES = {
    "energy_per_mac_fj": "energy_per_op_fj",
    "energy": "energy_per_op_fj",
    "power": "power_uw",
    "area": "area_um2",
    "delay": "delay_ns",
    "bias": "abs_bias",
}


def _metric(name: str, where: str) -> Metric:
    key = _ALIASES.get(name, name)
    if key not in METRICS:
        raise ConfigError(f"{where}: unknown metric {name!r}; known: {', '.join(METRICS)}")
    return METRICS[key]


@dataclass(frozen=True)
class Objective:
    """One optimisation target."""

    metric: Metric
    direction: Direction

    @property
    def name(self) -> str:
        return self.metric.name


@dataclass(frozen=True)
class Constraint:
    """``metric <= bound`` (``op="<="``) or ``metric >= bound``; value <= 0 iff satisfied."""

    metric: Metric
    op: Literal["<=", ">="]
    bound: float

    @property
    def name(self) -> str:
        return f"{self.metric.name}{'_max' if self.op == '<=' else '_min'}"

    def value(self, x: float) -> float:
        v = x - self.bound if self.op == "<=" else self.bound - x
        return float(v) if math.isfinite(v) else 1e12

    def __str__(self) -> str:
        return f"{self.metric.name} {self.op} {self.bound:g}"


def parse_objective(item: str | Mapping[str, Any], where: str) -> Objective:
    """``"power_uw"`` or ``{name: accuracy, direction: maximize}``."""
    if isinstance(item, str):
        m = _metric(item, where)
        return Objective(m, m.direction)
    if isinstance(item, Mapping):
        extra = set(item) - {"name", "direction"}
        if extra or "name" not in item:
            raise ConfigError(
                f"{where}: an objective is a metric name or {{name, direction}}, got {dict(item)!r}"
            )
        m = _metric(str(item["name"]), where)
        direction = item.get("direction", m.direction)
        if direction not in ("minimize", "maximize"):
            raise ConfigError(f"{where}: direction must be minimize or maximize, got {direction!r}")
        return Objective(m, direction)
    raise ConfigError(f"{where}: an objective is a metric name, got {item!r}")


_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")


def parse_constraint(item: str | Mapping[str, Any], where: str) -> Constraint:
    """``"accuracy_drop <= 1"`` or ``{metric: nmed, max: 0.02}`` / ``{metric: accuracy, min: 90}``."""
    if isinstance(item, str):
        m = _CONSTRAINT.match(item)
        if not m:
            raise ConfigError(
                f"{where}: constraint {item!r} is not of the form 'METRIC <= VALUE' or 'METRIC >= VALUE'"
            )
        try:
            bound = float(m.group(3))
        except ValueError:
            raise ConfigError(
                f"{where}: constraint {item!r}: {m.group(3)!r} is not a number"
            ) from None
        return Constraint(_metric(m.group(1), where), m.group(2), bound)  # type: ignore[arg-type]
    if isinstance(item, Mapping):
        keys = set(item)
        if (
            "metric" not in keys
            or len(keys & {"max", "min"}) != 1
            or keys - {"metric", "max", "min"}
        ):
            raise ConfigError(
                f"{where}: a constraint is 'METRIC <= VALUE' or {{metric, max|min}}, got {dict(item)!r}"
            )
        op: Literal["<=", ">="] = "<=" if "max" in item else ">="
        try:
            bound = float(item["max" if op == "<=" else "min"])
        except (TypeError, ValueError):
            raise ConfigError(
                f"{where}: constraint bound must be a number, got {dict(item)!r}"
            ) from None
        return Constraint(_metric(str(item["metric"]), where), op, bound)
    raise ConfigError(f"{where}: a constraint is 'METRIC <= VALUE', got {item!r}")


@dataclass
class Evaluation:
    """The outcome of one candidate, ready to be written as an Optuna trial."""

    values: list[float]
    constraints: dict[str, float]
    attrs: dict[str, Any]
    feasible: bool
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


_ACC_KEYS = ("acc_float", "acc_exact_q", "acc_axm_before", "acc_axm_after")

_HW_KEYS = (
    "power_uw",
    "area_um2",
    "delay_ns",
    "energy_per_op_fj",
    "gates",
    "dynamic_uw",
    "leakage_uw",
    "er",
    "med",
    "mred",
    "nmed",
    "wce",
    "wcre",
    "bias",
    "error_var",
    "mse",
)


class Evaluator:
    """Staged evaluation of genomes of one space (one instance per worker process).

    Args:
        space: the search space.
        objectives: what to optimise (at least one).
        constraints: feasibility bounds.
        accuracy: the fine-tune adapter; required when any objective or constraint is
            an accuracy metric.
        power_distribution: ``"uniform"`` operands for the power trace, or
            ``"network"`` (the operand histograms of the accuracy model's network).
        trace_vectors, clock_period_ns, seed: passed to :func:`dse.design.evaluate`.
        lookup: ``structural hash -> stored stage-2 attrs or None``; lets workers reuse
            fine-tunes recorded in the study by any process.
    """

    def __init__(
        self,
        space: Space,
        objectives: Sequence[Objective],
        constraints: Sequence[Constraint] = (),
        *,
        accuracy: AccuracyModel | None = None,
        power_distribution: Literal["uniform", "network"] = "uniform",
        trace_vectors: int = 8192,
        clock_period_ns: float = 1.0,
        seed: int = 0,
        lookup: Callable[[str], Mapping[str, Any] | None] | None = None,
        cache_size: int = 4096,
        library: CellLibrary | None = None,
    ) -> None:
        if not objectives:
            raise ConfigError("objectives: give at least one objective")
        names = [o.name for o in objectives]
        if len(set(names)) != len(names):
            raise ConfigError(f"objectives: each metric may appear once, got {names}")
        needs_acc = any(o.metric.stage == "accuracy" for o in objectives) or any(
            c.metric.stage == "accuracy" for c in constraints
        )
        if needs_acc and accuracy is None:
            raise ConfigError(
                "objectives: accuracy metrics need a model and data (model:, data: in the study)"
            )
        if power_distribution not in ("uniform", "network"):
            raise ConfigError(
                f"power.distribution must be uniform or network, got {power_distribution!r}"
            )
        if power_distribution == "network" and accuracy is None:
            raise ConfigError("power.distribution: 'network' needs a model and data in the study")
        if trace_vectors <= 0 or trace_vectors % 64:
            raise ConfigError(
                f"power.trace_vectors must be a positive multiple of 64, got {trace_vectors}"
            )
        self.space = space
        self.objectives = tuple(objectives)
        self.constraints = tuple(constraints)
        self.accuracy = accuracy if needs_acc or power_distribution == "network" else None
        self.needs_accuracy = needs_acc
        self.power_distribution = power_distribution
        self.trace_vectors = int(trace_vectors)
        self.clock_period_ns = float(clock_period_ns)
        self.seed = int(seed)
        self.library = library
        self.lookup = lookup
        self._hw: OrderedDict[str, HardwareReport] = OrderedDict()
        self._acc: dict[str, dict[str, Any]] = {}
        self._cache_size = cache_size
        self._distribution: Any = None
        self._exact_power: float | None = None
        self._weights: tuple[float, ...] | None = None

    # ------------------------------------------------------------- set-up
    def _dist(self) -> Any:
        if self.power_distribution == "uniform" or self.accuracy is None:
            return None
        if self._distribution is None:
            from dse.eval import OperandDistribution

            # the network's operand codes at the space's widths (the exact design's)
            first = self.space.decode(self.space.exact_genome())[0]
            ha, hb = self.accuracy.operand_histograms(first.width_a, first.width_b, first.signed)
            self._distribution = OperandDistribution(
                np.asarray(ha, float) + 1e-9, np.asarray(hb, float) + 1e-9
            )
        return self._distribution

    def group_weights(self) -> tuple[float, ...]:
        """MAC share of each layer group (given in the space, else from the model, else equal)."""
        if self._weights is None:
            given = self.space.group_weights
            w: np.ndarray
            if all(x is not None for x in given):
                w = np.asarray(given, float)
            elif self.accuracy is not None and len(given) > 1:
                w = np.asarray(self.accuracy.group_macs(self.space.group_layers), float)
            else:
                w = np.ones(len(given))
            self._weights = tuple(float(x) for x in w / w.sum())
        return self._weights

    def hardware(self, design: Design) -> HardwareReport:
        """Hardware report of one design (cached by structural hash)."""
        key = design.structural_hash
        if key in self._hw:
            self._hw.move_to_end(key)
            return self._hw[key]
        rep = design.report(
            distribution=self._dist(),
            trace_vectors=self.trace_vectors,
            seed=self.seed,
            clock_period_ns=self.clock_period_ns,
            library=self.library,
        )
        self._hw[key] = rep
        if len(self._hw) > self._cache_size:
            self._hw.popitem(last=False)
        return rep

    def exact_power(self) -> float:
        """Power of the space's exact design (the reference of ``rel_power``)."""
        if self._exact_power is None:
            design = self.space.decode(self.space.exact_genome())
            self._exact_power = self._aggregate([self.hardware(m) for m in design])["power_uw"]
        return self._exact_power

    def _aggregate(self, reports: Sequence[Any]) -> dict[str, float]:
        w = self.group_weights()
        out: dict[str, float] = {}
        for key in _HW_KEYS:
            vals = [float(_get(r, key)) for r in reports]
            out[key] = float(sum(wi * v for wi, v in zip(w, vals, strict=True)))
        out["abs_bias"] = abs(out["bias"])
        return out

    # ----------------------------------------------------------- evaluate
    def evaluate(self, genome: Genome, accuracy: Mapping[str, Any] | None = None) -> Evaluation:
        """Both stages for one genome (deterministic for a given study seed).

        ``accuracy``: accuracies obtained by the caller's own training procedure (keys
        ``acc_float``, ``acc_exact_q``, ``acc_axm_before``, ``acc_axm_after`` as fractions,
        optional ``finetune`` settings), used instead of the study's fine-tune and never
        cached for other candidates — the TRAM back end, whose weights are trained together
        with the structure, records its phase-3 accuracies this way.
        """
        t0 = time.perf_counter()
        design = self.space.decode(genome)
        design_hash = self.space.design_hash(design)
        reports = [self.hardware(m) for m in design]
        metrics = self._aggregate(reports)
        metrics["rel_power"] = metrics["power_uw"] / self.exact_power()
        attrs: dict[str, Any] = {
            STRUCTURAL_HASH: design_hash,
            HW: {k: _round(v) for k, v in metrics.items()},
        }
        if len(design) > 1:
            attrs["hw_groups"] = {
                g: {k: _round(float(_get(r, k))) for k in ("power_uw", "area_um2", "nmed", "mred")}
                for g, r in zip(self.space.group_names, reports, strict=True)
            }
            attrs["group_hashes"] = [m.structural_hash for m in design]
        violated = [
            c
            for c in self.constraints
            if c.metric.stage == "hardware" and c.value(metrics[c.metric.name]) > 0
        ]
        reason = ""
        feasible = True
        if violated:
            feasible = False
            reason = "hardware stage: " + "; ".join(
                f"{c} violated ({c.metric.name}={metrics[c.metric.name]:.6g})" for c in violated
            )
        if self.needs_accuracy:
            if violated:
                metrics["accuracy"] = METRICS["accuracy"].worst
                metrics["accuracy_drop"] = METRICS["accuracy_drop"].worst
                attrs["finetune_skipped"] = True
            else:
                if accuracy is not None:
                    missing = [k for k in _ACC_KEYS if k not in accuracy]
                    if missing:
                        raise ConfigError(f"accuracy override lacks {missing}")
                    acc, hit = dict(accuracy), False
                else:
                    acc, hit = self._accuracy(design, design_hash, reports)
                metrics["accuracy"] = 100.0 * acc["acc_axm_after"]
                metrics["accuracy_drop"] = 100.0 * (acc["acc_exact_q"] - acc["acc_axm_after"])
                attrs[ACCURACY] = {k: v for k, v in acc.items() if k != "finetune"}
                attrs[FINETUNE] = acc.get("finetune", {})
                attrs["finetune_cache_hit"] = hit
                attrs["accuracy_drop"] = _round(metrics["accuracy_drop"])
        constraints = {c.name: c.value(metrics[c.metric.name]) for c in self.constraints}
        if not violated:
            bad = [c for c in self.constraints if constraints[c.name] > 0]
            if bad:
                feasible = False
                reason = "accuracy stage: " + "; ".join(
                    f"{c} violated ({c.metric.name}={metrics[c.metric.name]:.6g})" for c in bad
                )
        for name, v in constraints.items():
            attrs[f"cv_{name}"] = _round(
                v
            )  # mirrored for optuna-dashboard (it reads no 5.0 constraints)
        attrs["feasible"] = feasible
        if reason:
            attrs["infeasible_reason"] = reason
        attrs["eval_s"] = round(time.perf_counter() - t0, 6)
        values = [float(metrics[o.name]) for o in self.objectives]
        return Evaluation(values, constraints, attrs, feasible, reason, metrics)

    def _accuracy(
        self, design: Sequence[Any], design_hash: str, reports: Sequence[Any]
    ) -> tuple[dict[str, Any], bool]:
        if design_hash in self._acc:
            return self._acc[design_hash], True
        if self.lookup is not None:
            stored = self.lookup(design_hash)
            if stored is not None:
                self._acc[design_hash] = dict(stored)
                return self._acc[design_hash], True
        assert self.accuracy is not None
        result = self.accuracy.finetune(design, reports, self.space.group_layers)
        self._acc[design_hash] = result
        return result, False

    def minimization_matrix(self, values: Sequence[float]) -> list[float]:
        """Objective values as minimisation targets (maximised ones negated), for pymoo."""
        return [
            v if o.direction == "minimize" else -v
            for o, v in zip(self.objectives, values, strict=True)
        ]


def _get(report: HardwareReport, key: str) -> Any:
    return getattr(report, key)


def _round(v: float) -> float:
    return float(f"{float(v):.9g}") if math.isfinite(v) else float(v)
