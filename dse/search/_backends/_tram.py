"""TRAM as a study back end: a λ sweep whose mapped designs become trials of the study.

TRAM (Meng, Wang, Ye, Yu, Burleson, De Micheli, DAC 2026, arXiv 2605.08231) trains the
multiplier structure together with the network instead of searching it from outside.
This back end runs :func:`dse.tram.run_tram` on the study's own parts and records every
mapped design as one Optuna trial of the same study:

* **same space** — phase 2 starts from the space's base structure (generator and final
  adder) and is restricted to the space's cell genes and options (constant-0 outputs,
  approximate cells), so every design *is* a genome of the space (encoded with
  :meth:`~dse.search.StructureSpace.encode_cells` and checked by decoding it again);
* **same groups** — the layers of a space's layer group share one θ in phase 1 and one
  mapped multiplier (without groups, one multiplier for every layer, as a study means);
* **same judge** — hardware figures come from the study's evaluator (same power trace,
  operand distribution, constraints); the accuracy is TRAM's own after phase 3, which
  fine-tunes with the study's gradient estimator, learning rate and step budget from the
  weights phase 1 trained together with θ. Those accuracies are marked
  ``accuracy_source = "backend"`` and never reused as the fine-tune of an equal structure
  found by another back end.

With the phase-1 cost model calibrated against dse's gate-level power (``power:
calibrated``), the adaptive λ schedule and the richer move set when the space offers
approximate cells, this is the improved TRAM of ``docs/tram.md``, not only the baseline.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from typing import Any, ClassVar

from dse.errors import ConfigError
from dse.search._backends._base import DrivingBackend, Proposal, Session
from dse.search._records import TRAM, TRAM_DONE_ATTR, TRAM_MOVES

__all__ = ["TramBackend"]


class TramBackend(DrivingBackend):
    """TRAM's λ sweep (phases 1-3) recording each mapped design as a trial.

    The one back end that drives its own search: phase 1 trains the weights and every
    layer group's θ together, and each λ's design is mapped out of that joint state, so
    the sweep cannot be split into independent ask and tell steps. It still records
    each design through the session (:meth:`Session.record`).

    Options:
        schedule: ``adaptive`` (λ chosen to fill the front) or ``list`` (give ``lambdas``).
        lambdas: explicit λ values (the published hand sweep).
        n_designs, lambda_range, max_runs: adaptive-schedule targets and budget.
        power: phase-1 cost model, ``calibrated`` (fitted to the gate-level model under the
            network's operand histograms) or ``ratio`` (published AND:HA:FA ratios).
        moves: ``published`` (constant-0 outputs), ``rich`` (also approximate cells), or
            ``auto`` (rich when the space offers approximate cells).
        phase1_steps, phase1_lr, theta_lr: phase-1 training.
        weighted_mse: weight the phase-2 MSE by the layer group's operand histograms.
        calibration_samples: designs sampled to fit the calibrated cost model.
        batch_size: phase-1/phase-3 batch size.
    """

    name: ClassVar[str] = "tram"

    @property
    def tag(self) -> str:
        return "tram"

    # one sweep in the study's main process: layers are trained together, so the sweep
    # does not split over worker processes
    generational: ClassVar[bool] = True

    def __init__(
        self,
        *,
        schedule: str = "adaptive",
        lambdas: Sequence[float] | None = None,
        n_designs: int = 6,
        lambda_range: Sequence[float] = (1e-3, 1.0),
        max_runs: int | None = None,
        power: str = "calibrated",
        moves: str = "auto",
        phase1_steps: int = 150,
        phase1_lr: float = 1e-3,
        theta_lr: float = 0.05,
        weighted_mse: bool = False,
        calibration_samples: int = 24,
        batch_size: int = 128,
    ) -> None:
        if schedule not in ("adaptive", "list"):
            raise ConfigError(f"schedule must be adaptive or list, got {schedule!r}")
        if lambdas is not None:
            if (
                not isinstance(lambdas, (list, tuple))
                or not lambdas
                or any(
                    not isinstance(v, (int, float))
                    or isinstance(v, bool)
                    or not v >= 0
                    or not math.isfinite(v)
                    for v in lambdas
                )
            ):
                raise ConfigError(
                    f"lambdas must be a non-empty list of numbers >= 0, got {lambdas!r}"
                )
            schedule = "list"
        elif schedule == "list":
            raise ConfigError("schedule 'list' needs lambdas")
        rng = list(lambda_range) if isinstance(lambda_range, (list, tuple)) else []
        if (
            len(rng) != 2
            or not all(isinstance(v, (int, float)) for v in rng)
            or not 0 < rng[0] < rng[1]
        ):
            raise ConfigError(
                f"lambda_range must be [lo, hi] with 0 < lo < hi, got {lambda_range!r}"
            )
        if not isinstance(n_designs, int) or n_designs < 2:
            raise ConfigError(f"n_designs must be an integer >= 2, got {n_designs!r}")
        if max_runs is not None and (not isinstance(max_runs, int) or max_runs < 1):
            raise ConfigError(f"max_runs must be an integer >= 1, got {max_runs!r}")
        if power not in ("calibrated", "ratio"):
            raise ConfigError(f"power must be calibrated or ratio, got {power!r}")
        if moves not in ("auto", "published", "rich"):
            raise ConfigError(f"moves must be auto, published or rich, got {moves!r}")
        for key, val, lo in (
            ("phase1_steps", phase1_steps, 0),
            ("batch_size", batch_size, 1),
            ("calibration_samples", calibration_samples, 4),
        ):
            if not isinstance(val, int) or isinstance(val, bool) or val < lo:
                raise ConfigError(f"{key} must be an integer >= {lo}, got {val!r}")
        for key, fval in (("phase1_lr", phase1_lr), ("theta_lr", theta_lr)):
            if not isinstance(fval, (int, float)) or not fval > 0:
                raise ConfigError(f"{key} must be a number > 0, got {fval!r}")
        self.schedule = schedule
        self.lambdas = [float(v) for v in lambdas] if lambdas is not None else None
        self.n_designs = n_designs
        self.lambda_range = (float(rng[0]), float(rng[1]))
        self.max_runs = max_runs
        self.power = power
        self.moves = moves
        self.phase1_steps = phase1_steps
        self.phase1_lr = float(phase1_lr)
        self.theta_lr = float(theta_lr)
        self.weighted_mse = bool(weighted_mse)
        self.calibration_samples = calibration_samples
        self.batch_size = batch_size

    def settings(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "lambdas": self.lambdas,
            "n_designs": self.n_designs,
            "lambda_range": list(self.lambda_range),
            "max_runs": self.max_runs,
            "power": self.power,
            "moves": self.moves,
            "phase1_steps": self.phase1_steps,
            "phase1_lr": self.phase1_lr,
            "theta_lr": self.theta_lr,
            "weighted_mse": self.weighted_mse,
            "calibration_samples": self.calibration_samples,
            "batch_size": self.batch_size,
        }

    # ------------------------------------------------------------------ run
    def _check(self, session: Session) -> tuple[Any, Any]:
        from dse.search._structure_space import StructureSpace

        space, ev = session.space, session.evaluator
        if not isinstance(space, StructureSpace) or not space.cell_options():
            raise ConfigError(
                "backend tram: the space must be a structure space with cell knobs "
                "(TRAM edits the cells of its base structure), e.g. search_spaces/mul8u_tram.yaml"
            )
        gen = space.model.base.generator
        if space.signed or gen not in ("array", "dadda", "wallace", "c42tree"):
            raise ConfigError(
                f"backend tram: the space's base must be an unsigned array, dadda, wallace or "
                f"c42tree multiplier (signed networks use it in sign-magnitude), got "
                f"{gen!r}{' signed' if space.signed else ''}"
            )
        if space.model.base.fixed:
            raise ConfigError(
                "backend tram: the space's base.fixed knobs rename the base cells; "
                "remove them for TRAM"
            )
        if ev.accuracy is None or not ev.needs_accuracy:
            raise ConfigError(
                "backend tram: the study needs an accuracy objective or "
                "constraint and model:/data: (TRAM trains the network)"
            )
        prepared = ev.accuracy.prepared
        if prepared.data.dataset is None:
            raise ConfigError("backend tram: the data must be a dse.nn data set (not loaders)")
        return space, prepared

    def drive(self, session: Session) -> None:
        from dse.nn import AxMultiplier
        from dse.tram import run_tram

        study = session.study
        if study.user_attrs.get(TRAM_DONE_ATTR):
            return
        space, prepared = self._check(session)
        acc_model = session.evaluator.accuracy
        assert acc_model is not None
        groups: dict[str, str] = {}
        if len(space.group_names) == 1:
            # one multiplier for every layer, as the study's fine-tune converts them
            # (attention matmuls of a ViT included)
            import copy

            from dse.tram import tramify

            probe = tramify(copy.deepcopy(prepared.model), (space.width_a, space.width_b))
            chosen = set(acc_model.layer_names())  # the study's layers: globs
            layer_names = [n for n, _ in probe if n in chosen]
            groups = {n: space.group_names[0] for n in layer_names}
        else:
            # as the study's fine-tune: conv/linear layers matched by the groups' patterns
            layer_names = acc_model.layer_names()
            for layer in layer_names:
                for gname, patterns in zip(space.group_names, space.group_layers, strict=True):
                    if any(fnmatch.fnmatchcase(layer, p) for p in patterns):
                        groups[layer] = gname
                        break
        missing = [g for g in space.group_names if g not in groups.values()]
        if missing:
            raise ConfigError(
                f"backend tram: layer group {missing[0]!r} matches no layer of the "
                f"model (layers: {layer_names})"
            )
        allowed = space.cell_options()
        approx = any(
            o != "exact" and not o.startswith("zero.") for opts in allowed.values() for o in opts
        )
        moves = ("rich" if approx else "published") if self.moves == "auto" else self.moves
        steps = acc_model.steps
        if steps is None:
            steps = round(acc_model.epochs * prepared.data.steps_per_epoch())
        options = dict(acc_model.options)
        wa, wb = space.width_a, space.width_b
        exact = AxMultiplier.exact(wa, wb, signed=False)
        exact_ref: AxMultiplier | dict[str, AxMultiplier] = (
            exact if len(space.group_names) == 1 else {n: exact for n in groups}
        )
        acc_exact_q = prepared.exact_quantized_accuracy(exact_ref, acc_model.seed, **options)
        seen = {
            r.record.genome.key
            for r in session.refresh_index().results()
            if r.record.backend == self.tag
        }

        def record(design: Any) -> None:
            if session.should_stop():
                return
            per_group = [design.mapping[g].cell_options() for g in space.group_names]
            genome = space.encode_cells(per_group)
            decoded = space.decode(genome)
            for g, graph in zip(space.group_names, decoded, strict=True):
                if graph.structural_hash != design.graphs[g].structural_hash:
                    raise ConfigError(
                        f"backend tram: group {g!r}: the mapped design does not "
                        f"decode back from its genome (internal error)"
                    )
            if genome.key in seen:
                return  # λ values that map to the same design are one point
            seen.add(genome.key)
            info = design.to_dict()
            accuracy = {
                "acc_float": float(prepared.acc_float),
                "acc_exact_q": float(acc_exact_q),
                "acc_axm_before": float(design.accuracy_before),
                "acc_axm_after": float(design.accuracy[acc_model.grad]),
                "finetune": {
                    **acc_model.settings(),
                    "steps_done": steps,
                    "procedure": "tram phase 3 (after phase-1 joint training)",
                },
                "finetune_s": round(sum(design.phase3_seconds.values()), 3),
            }
            session.record(
                Proposal(
                    genome,
                    attrs={
                        TRAM: {
                            k: info[k]
                            for k in (
                                "lambda",
                                "thetas",
                                "analytic_power",
                                "analytic_power_ratio",
                                "analytic_power_calibrated",
                                "gate_power",
                                "accuracy_phase1",
                                "mapping_seconds",
                                "phase1_seconds",
                                "phase3_seconds",
                            )
                        },
                        TRAM_MOVES: moves,
                    },
                    accuracy=accuracy,
                ),
                backend=self.tag,
            )

        run_tram(
            prepared.model,
            prepared.data.dataset,
            widths=(wa, wb),
            lambdas=self.lambdas,
            schedule=self.schedule,
            n_designs=self.n_designs,
            lambda_range=self.lambda_range,
            max_runs=self.max_runs,
            power=self.power,
            calibration_samples=self.calibration_samples,
            moves=moves,
            bases=(space.model.base.generator,),
            adder=space.model.base.adder,
            weighted_mse=self.weighted_mse,
            phase1_steps=self.phase1_steps,
            phase1_lr=self.phase1_lr,
            theta_lr=self.theta_lr,
            phase3_steps=int(steps),
            phase3_lr=acc_model.lr,
            grads=(acc_model.grad,),
            batch_size=self.batch_size,
            seed=session.seed,
            groups=groups,
            allowed=allowed,
            on_design=record,
            should_stop=session.should_stop,
        )
        if not session.should_stop():
            study.set_user_attr(TRAM_DONE_ATTR, True)
