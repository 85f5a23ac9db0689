"""The one adapter between dse.search and dse.nn (approximation-aware fine-tuning).

Everything dse.search needs from the network side goes through :class:`AccuracyModel`:
a prepared float baseline (trained once and cached by dse.nn), then per candidate a
convert + short fine-tune + test (the AxTrain-style setting: Z. Xu et al.,
"AxTrain: Hardware-oriented neural network training for approximate inference",
ISLPED 2018; gradient estimators STE / LUT-2D / LUT-1D as in dse.nn). torch is
imported only when a study actually asks for accuracy.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dse.errors import ConfigError, StudyStateError
from dse.search._config import PYTHON_OBJECT, StudyConfig

__all__ = ["AccuracyModel", "NetworkObjects", "network_inputs"]


@dataclass(frozen=True)
class NetworkObjects:
    """A model and data given from Python (``dse.search.run(cfg, model=..., train=...,
    test=...)``): the study records ``model: python`` / ``data: python`` and the
    SHA-256 of the model's weights, and a resume needs them given again."""

    model: Any = None
    train: Any = None
    test: Any = None

    @property
    def data(self) -> tuple[Any, Any] | None:
        return None if self.train is None else (self.train, self.test)


def network_inputs(cfg: StudyConfig, objects: NetworkObjects | None) -> tuple[Any, Any, str]:
    """The model and data of a study (specs, or the objects standing for ``python``),
    and how messages name the study; a missing object is a line saying what to give."""
    where = cfg.source or f"study {cfg.name!r}"
    model: Any = cfg.model
    data: Any = cfg.data_spec
    wants = [
        what
        for what, spec, obj in (
            ("model=", model, objects.model if objects else None),
            ("train=, test=", data, objects.data if objects else None),
        )
        if spec == PYTHON_OBJECT and obj is None
    ]
    if wants:
        sha = f" (weights sha256 {cfg.weights_sha256[:12]})" if cfg.weights_sha256 else ""
        raise StudyStateError(
            f"study {cfg.name!r} fine-tunes a network given from Python{sha}: resume it from "
            f"Python with dse.search.resume({cfg.name!r}, {', '.join(wants)}...)"
        )
    if model == PYTHON_OBJECT:
        assert objects is not None
        model = objects.model
    if data == PYTHON_OBJECT:
        assert objects is not None
        data = objects.data
    return model, data, where


class AccuracyModel:
    """Fine-tunes a network on candidate multipliers and reports accuracies.

    Args:
        model: a model spec of dse.nn (a built-in name such as ``cnn1d``,
            ``FILE.py:FACTORY``, ``package.module:FACTORY``, ``torchvision:NAME``) or an
            ``nn.Module`` given from Python.
        data: a data spec of dse.nn (e.g. ``mnist1d``, ``npz:FILE``) or ``(train, test)``
            dataset objects.
        epochs / steps: fine-tune budget per candidate (``steps`` wins when given).
        grad: gradient estimator, a name in :func:`dse.nn.gradient_names` (``ste``,
            ``lut2d``, ``lut1d`` and any registered with :func:`dse.nn.register_gradient`).
        axtrain: AxTrain mode (``none``, ``passive``, ``active``, ``both``).
        lr: fine-tune learning rate.
        seed: seeds the baseline, the calibration and the fine-tune.
        baseline_epochs: float-baseline training epochs (``None``: dse.nn's default).
        options: further layer options for ``dse.nn.convert`` (``act_bits``, ...).
        threads: torch threads of this process (set when the baseline is first
            loaded; ``None`` keeps torch's default).
        weights / weights_sha256: a state-dict file and the SHA-256 it had when the study
            started (a changed or missing file is an error, not other figures);
            ``model_sha256``: the same for a ``FILE.py:FACTORY`` model's file.
        data_options: ``batch_size``, ``num_workers``, ``train_subset``, ``normalize``.
        include / exclude: globs choosing the approximated layers.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        reference: the network figures a study measured once (:meth:`measure_reference`),
            so no process measures them again.
        where: how messages name the study file (``study.yaml``).
    """

    def __init__(
        self,
        model: Any = "cnn1d",
        data: Any = "mnist1d",
        *,
        epochs: float = 1.0,
        steps: int | None = None,
        grad: str = "ste",
        axtrain: str = "none",
        lr: float = 3e-4,
        seed: int = 0,
        baseline_epochs: int | None = None,
        options: Mapping[str, Any] | None = None,
        threads: int | None = None,
        weights: str | None = None,
        weights_sha256: str | None = None,
        model_sha256: str | None = None,
        data_options: Mapping[str, Any] | None = None,
        include: Sequence[str] = ("*",),
        exclude: Sequence[str] = (),
        device: str = "auto",
        reference: Mapping[str, Any] | None = None,
        where: str = "study",
    ) -> None:
        if not (isinstance(model, str) and model) and not hasattr(model, "state_dict"):
            raise ConfigError(f"model must be a model spec or an nn.Module, got {model!r}")
        if not (isinstance(data, str) and data) and not isinstance(data, tuple):
            raise ConfigError(f"data must be a data spec or (train, test) datasets, got {data!r}")
        if steps is None and not (isinstance(epochs, (int, float)) and epochs >= 0):
            raise ConfigError(f"finetune.epochs must be >= 0, got {epochs!r}")
        if steps is not None and (not isinstance(steps, int) or steps < 0):
            raise ConfigError(f"finetune.steps must be an integer >= 0, got {steps!r}")
        from dse.nn import gradient_names  # the registry: estimators added from outside count

        if grad not in gradient_names():
            raise ConfigError(
                f"finetune.grad must be one of {', '.join(gradient_names())}, got {grad!r}"
            )
        if axtrain not in ("none", "passive", "active", "both"):
            raise ConfigError(
                f"finetune.axtrain must be one of none, passive, active, both, got {axtrain!r}"
            )
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
        ):
            raise ConfigError(f"threads must be an integer >= 1, got {threads!r}")
        self.threads = threads
        self.model = model
        self.data = data
        self.model_name = model if isinstance(model, str) else PYTHON_OBJECT
        self.data_spec = data if isinstance(data, str) else PYTHON_OBJECT
        self.epochs = float(epochs)
        self.steps = steps
        self.grad = grad
        self.axtrain = axtrain
        self.lr = float(lr)
        self.seed = int(seed)
        self.baseline_epochs = baseline_epochs
        self.options = dict(options or {})
        self.weights = weights
        self.weights_sha256 = weights_sha256
        self.model_sha256 = model_sha256
        self.data_options = dict(data_options or {})
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.device = device
        self.where = where
        self.reference: dict[str, Any] = dict(reference or {})
        self._check_files()  # before any trial: a resume on changed files stops at once
        self._prepared: Any = None
        self._hist: tuple[np.ndarray, np.ndarray] | None = None
        hist = self.reference.get("hist")
        if hist:
            self._hist = (np.asarray(hist[0], float), np.asarray(hist[1], float))

    def settings(self) -> dict[str, Any]:
        """The fine-tune settings recorded with every trial."""
        return {
            "model": self.model_name,
            "data": self.data_spec,
            "epochs": self.epochs,
            "steps": self.steps,
            "grad": self.grad,
            "axtrain": self.axtrain,
            "lr": self.lr,
            "seed": self.seed,
            "baseline_epochs": self.baseline_epochs,
            "options": self.options,
        }

    def _check_files(self) -> None:
        """The weights and model files are those the study started from."""
        from pathlib import Path

        from dse.nn import file_sha256

        checks = [("weights", self.weights, self.weights_sha256, "weights")]
        if isinstance(self.model, str) and ".py:" in self.model:
            checks.append(("model", self.model.rpartition(":")[0], self.model_sha256, "code"))
        for field, path, sha, what in checks:
            if path is None or sha is None:
                continue
            where = f"{self.where}: field {field}"
            if not Path(path).is_file():
                raise StudyStateError(
                    f"{where}: the study was started from {path} (sha256 {sha[:12]}), which "
                    f"is not there any more; put it back"
                )
            if file_sha256(path) != sha:
                raise StudyStateError(
                    f"{where}: {path} changed since the study started (sha256 {sha[:12]}); "
                    f"its trials were fine-tuned with the old {what}"
                )

    @property
    def prepared(self) -> Any:
        """dse.nn's prepared baseline (built once per process; a built-in's float
        baseline is trained once and cached on disk by dse.nn)."""
        if self._prepared is None:
            if self.threads is not None:
                import torch

                torch.set_num_threads(self.threads)
            try:
                from dse.nn import DataOptions, prepare
            except ImportError as exc:
                raise ConfigError(f"accuracy objectives need dse.nn (torch): {exc}") from None
            opt = self.data_options
            norm = opt.get("normalize") or {}
            acc_float = self.reference.get("acc_float")
            self._prepared = prepare(
                self.model,
                self.data,
                weights=self.weights,
                data_options=DataOptions(
                    batch_size=int(opt.get("batch_size", 128)),
                    num_workers=int(opt.get("num_workers", 0)),
                    train_subset=opt.get("train_subset"),
                    mean=tuple(norm["mean"]) if norm else None,
                    std=tuple(norm["std"]) if norm else None,
                ),
                include=self.include,
                exclude=self.exclude,
                device=self.device,
                seed=self.seed,
                baseline_epochs=self.baseline_epochs,
                acc_float=float(acc_float) if acc_float is not None else None,
                where={
                    k: f"{self.where}: field {k}" for k in ("model", "weights", "data", "layers")
                }
                | {"device": f"{self.where}: field device"},
            )
        return self._prepared

    def layer_table(self) -> list[dict[str, Any]]:
        """Each approximable layer: name, MACs per sample, whether it is approximated."""
        from dse.nn import layer_macs

        prepared = self.prepared
        chosen = set(prepared.layers)
        macs = layer_macs(prepared.model, prepared.source.sample(1))
        return [{"name": n, "macs": int(m), "approximated": n in chosen} for n, m in macs.items()]

    def measure_reference(
        self,
        design: Sequence[Any],
        reports: Sequence[Any],
        group_layers: Sequence[Sequence[str]],
        histograms: bool,
    ) -> dict[str, Any]:
        """The figures a study measures once and stores: float accuracy, the
        exact-quantised accuracy at ``design``'s widths, the layer table, and (with
        ``histograms``) the operand histograms; kept for :meth:`finetune` as well."""
        mults = [
            self.exact_multiplier(x.width_a, x.width_b, x.signed)
            for x in (
                self._multiplier(m, r, f"g{i}")
                for i, (m, r) in enumerate(zip(design, reports, strict=True))
            )
        ]
        target = mults[0] if len(mults) == 1 else self._per_layer(mults, group_layers)
        acc = self.prepared.exact_quantized_accuracy(target, self.seed, **self.options)
        ref: dict[str, Any] = {
            "acc_float": float(self.prepared.acc_float),
            "exact": {_signature(mults): float(acc)},
            "layers": self.layer_table(),
        }
        if self.prepared.weights_sha256 is not None:
            ref["weights_sha256"] = self.prepared.weights_sha256
        if histograms:
            a, b = self.operand_histograms(mults[0].width_a, mults[0].width_b, mults[0].signed)
            ref["hist"] = [a.tolist(), b.tolist()]
        self.reference = ref
        return ref

    def _multiplier(self, item: Any, report: Any, name: str) -> Any:
        from dse.nn import AxMultiplier

        lut = getattr(report, "lut", None)
        if lut is None:
            raise ConfigError(
                f"{name}: no product table to fine-tune with (evaluate with keep_lut=True)"
            )
        return AxMultiplier.from_lut(
            np.asarray(lut), signed=bool(getattr(item, "signed", False)), name=name
        )

    def exact_multiplier(self, width_a: int, width_b: int, signed: bool) -> Any:
        from dse.nn import AxMultiplier

        return AxMultiplier.exact(width_a, width_b, signed=signed)

    def operand_histograms(
        self, width_a: int = 8, width_b: int = 8, signed: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Operand-code histograms of the network on the exact multiplier (for the power trace)."""
        if self._hist is None:
            res = self.prepared.finetune(
                self.exact_multiplier(width_a, width_b, signed),
                steps=0,
                grad=self.grad,
                seed=self.seed,
                **self.options,
            )
            self._hist = (np.asarray(res.act_hist, float), np.asarray(res.weight_hist, float))
        return self._hist

    def layer_names(self) -> list[str]:
        """The approximated layers (after the ``layers:`` globs)."""
        return list(self.prepared.layers)

    def group_macs(self, group_layers: Sequence[Sequence[str]]) -> list[float]:
        """Multiply-accumulates per layer group in one inference."""
        rows = self.reference.get("layers") or self.layer_table()
        return [
            float(
                sum(
                    r["macs"]
                    for r in rows
                    if r["approximated"] and _group_of(r["name"], group_layers) == g
                )
            )
            or 1.0
            for g in range(len(group_layers))
        ]

    def _per_layer(self, mults: Sequence[Any], group_layers: Sequence[Sequence[str]]) -> Any:
        mapping = {}
        for name in self.layer_names():
            g = _group_of(name, group_layers)
            if g is not None:
                mapping[name] = mults[g]
        return mapping

    def finetune(
        self, design: Sequence[Any], reports: Sequence[Any], group_layers: Sequence[Sequence[str]]
    ) -> dict[str, Any]:
        """Fine-tune on the design (one multiplier, or one per layer group); accuracies as fractions."""
        mults = [
            self._multiplier(m, r, f"g{i}")
            for i, (m, r) in enumerate(zip(design, reports, strict=True))
        ]
        kw: dict[str, Any] = {
            "grad": self.grad,
            "axtrain": self.axtrain,
            "lr": self.lr,
            "seed": self.seed,
            **self.options,
        }
        if self.steps is not None:
            kw["steps"] = self.steps
        else:
            kw["epochs"] = self.epochs
        known = self.reference.get("exact", {}).get(_signature(mults))
        if known is not None:  # measured once for the study, not again in each process
            kw["reference"] = False
        if len(mults) == 1:
            res = self.prepared.finetune(mults[0], **kw)
        else:
            mapping = self._per_layer(mults, group_layers)
            try:
                res = self.prepared.finetune(mapping, **kw)
            except ConfigError as exc:
                raise ConfigError(
                    f"layer groups with a fine-tune need dse.nn to accept one multiplier per layer ({exc})"
                ) from None
        return {
            "acc_float": float(res.acc_float),
            "acc_exact_q": float(known if known is not None else res.acc_exact_q),
            "acc_axm_before": float(res.acc_axm_before),
            "acc_axm_after": float(res.acc_axm_after),
            "finetune_s": round(float(res.seconds), 3),
            "finetune": {**self.settings(), "steps_done": int(res.steps)},
        }


def _signature(mults: Sequence[Any]) -> str:
    """The exact-quantised reference's key: each multiplier's widths and signedness."""
    return ",".join(f"{m.width_a}x{m.width_b}{'s' if m.signed else 'u'}" for m in mults)


def _group_of(layer: str, group_layers: Sequence[Sequence[str]]) -> int | None:
    for g, patterns in enumerate(group_layers):
        if any(fnmatch.fnmatchcase(layer, p) for p in patterns):
            return g
    return None
