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
from typing import Any

import numpy as np

from dse.errors import ConfigError

__all__ = ["AccuracyModel"]


class AccuracyModel:
    """Fine-tunes a network on candidate multipliers and reports accuracies.

    Args:
        model: a model name of dse.nn (e.g. ``cnn1d``, the embedded default).
        data: a data spec of dse.nn (e.g. ``mnist1d``).
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
    """

    def __init__(
        self,
        model: str = "cnn1d",
        data: str = "mnist1d",
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
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ConfigError(f"model must be a model name, got {model!r}")
        if not isinstance(data, str) or not data:
            raise ConfigError(f"data must be a data spec, got {data!r}")
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
        self.model_name = model
        self.data_spec = data
        self.epochs = float(epochs)
        self.steps = steps
        self.grad = grad
        self.axtrain = axtrain
        self.lr = float(lr)
        self.seed = int(seed)
        self.baseline_epochs = baseline_epochs
        self.options = dict(options or {})
        self._prepared: Any = None
        self._hist: tuple[np.ndarray, np.ndarray] | None = None

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

    @property
    def prepared(self) -> Any:
        """dse.nn's prepared baseline (trained once, cached on disk by dse.nn)."""
        if self._prepared is None:
            if self.threads is not None:
                import torch

                torch.set_num_threads(self.threads)
            try:
                from dse.nn import PreparedBaseline
            except ImportError as exc:
                raise ConfigError(f"accuracy objectives need dse.nn (torch): {exc}") from None
            try:
                self._prepared = PreparedBaseline.load(
                    self.model_name, self.data_spec, seed=self.seed, epochs=self.baseline_epochs
                )
            except KeyError:
                raise ConfigError(f"model: unknown model {self.model_name!r}") from None
        return self._prepared

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
        import torch.nn as tnn

        return [
            n
            for n, m in self.prepared.model.named_modules()
            if isinstance(m, (tnn.Conv1d, tnn.Conv2d, tnn.Linear))
        ]

    def group_macs(self, group_layers: Sequence[Sequence[str]]) -> list[float]:
        """Multiply-accumulates per layer group in one inference (forward hooks)."""
        import torch
        import torch.nn as tnn

        model = self.prepared.model
        macs: dict[str, float] = {}
        hooks = []
        for name, mod in model.named_modules():
            if isinstance(mod, (tnn.Conv1d, tnn.Conv2d, tnn.Linear)):

                def hook(m: Any, _inp: Any, out: Any, name: str = name) -> None:
                    per_out = (
                        m.weight[0].numel() if not isinstance(m, tnn.Linear) else m.in_features
                    )
                    macs[name] = float(out[0].numel() * per_out)

                hooks.append(mod.register_forward_hook(hook))
        x, _ = next(iter(self.prepared.data.test()))
        with torch.no_grad():
            model(x[:1])
        for h in hooks:
            h.remove()
        return [
            sum(v for n, v in macs.items() if _group_of(n, group_layers) == g) or 1.0
            for g in range(len(group_layers))
        ]

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
        if len(mults) == 1:
            res = self.prepared.finetune(mults[0], **kw)
        else:
            mapping = {}
            for name in self.layer_names():
                g = _group_of(name, group_layers)
                if g is not None:
                    mapping[name] = mults[g]
            try:
                res = self.prepared.finetune(mapping, **kw)
            except ConfigError as exc:
                raise ConfigError(
                    f"layer groups with a fine-tune need dse.nn to accept one multiplier per layer ({exc})"
                ) from None
        return {
            "acc_float": float(res.acc_float),
            "acc_exact_q": float(res.acc_exact_q),
            "acc_axm_before": float(res.acc_axm_before),
            "acc_axm_after": float(res.acc_axm_after),
            "finetune_s": round(float(res.seconds), 3),
            "finetune": {**self.settings(), "steps_done": int(res.steps)},
        }


def _group_of(layer: str, group_layers: Sequence[Sequence[str]]) -> int | None:
    for g, patterns in enumerate(group_layers):
        if any(fnmatch.fnmatchcase(layer, p) for p in patterns):
            return g
    return None
