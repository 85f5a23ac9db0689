"""Approximation-aware fine-tuning of a trained float model on an approximate multiplier.

The float baseline is trained once per (model, data, seed, epochs) and cached on disk; a
:class:`PreparedBaseline` keeps it and the data in memory so a design-space search only
pays for convert + a short fine-tune + evaluation per candidate multiplier.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from dse._status import step
from dse.errors import ConfigError, DataError
from dse.nn._axtrain import AXTRAIN_MODES
from dse.nn._convert import _recording, ax_layers, calibrate, collect_histograms, convert
from dse.nn._data import Dataset, cache_dir, load_data
from dse.nn._gradients import gradient
from dse.nn._models import build_model
from dse.nn._multiplier import AxMultiplier

__all__ = [
    "DEFAULT_EPOCHS",
    "FinetuneResult",
    "OptimizerFactory",
    "PreparedBaseline",
    "train_float",
]

DEFAULT_EPOCHS = {"cnn1d": 60, "cnn-digits": 30, "lenet5": 10, "resnet20": 30, "vit-tiny": 30}
# AdamW peak learning rates (cosine decay); 1e-2 is what gets the 1-D CNN to ~97 % on MNIST-1D.
DEFAULT_LR = {"cnn1d": 1e-2, "cnn-digits": 3e-3, "lenet5": 3e-3, "resnet20": 3e-3, "vit-tiny": 1e-3}
Progress = Callable[[str, int, int], None]  # (phase, done, total)

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
#: Builds the fine-tune's optimiser from the trainable parameters.
OptimizerFactory = Callable[[list[nn.Parameter]], torch.optim.Optimizer]


@dataclass
class FinetuneResult:
    """Accuracies (fractions in [0, 1]) and the operand histograms seen after fine-tuning.

    ``act_hist``/``weight_hist`` are indexed by the multiplier's operand code (length
    ``2**width_a`` / ``2**width_b``) and count multiplications (summed over layers).
    """

    acc_float: float
    acc_exact_q: float
    acc_axm_before: float
    acc_axm_after: float
    seconds: float
    steps: int
    grad: str
    axtrain: str
    multiplier: str
    seed: int
    act_hist: np.ndarray = field(repr=False)
    weight_hist: np.ndarray = field(repr=False)
    losses: list[float] = field(default_factory=list, repr=False)
    #: the fine-tuned network (only with ``keep_model=True``)
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    def to_dict(self, histograms: bool = False) -> dict[str, Any]:
        """JSON-ready dict; histograms as lists only when asked."""
        # not dataclasses.asdict: it would deep-copy the model
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        if histograms:
            d["act_hist"] = self.act_hist.tolist()
            d["weight_hist"] = self.weight_hist.tolist()
        else:
            del d["act_hist"], d["weight_hist"]
        del d["losses"]
        return d


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to ``threads`` within the block, restored after
    (``None``: left as it is)."""
    if threads is None:
        yield
        return
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ConfigError(f"threads must be an int >= 1, got {threads!r}")
    old = torch.get_num_threads()
    if old != threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if old != threads:
            torch.set_num_threads(old)


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _minibatches(
    x: torch.Tensor, y: torch.Tensor, batch: int, gen: torch.Generator | None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    order = (
        torch.randperm(x.shape[0], generator=gen) if gen is not None else torch.arange(x.shape[0])
    )
    for s in range(0, x.shape[0], batch):
        idx = order[s : s + batch]
        yield x[idx], y[idx]


class _Data:
    """Either in-memory tensors or a pair of user DataLoaders."""

    def __init__(self, data: Dataset | tuple[Batches, Batches], batch_size: int) -> None:
        self.dataset = data if isinstance(data, Dataset) else None
        self.loaders = None if isinstance(data, Dataset) else data
        self.batch_size = batch_size

    def train(self, gen: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.dataset is not None:
            yield from _minibatches(
                self.dataset.x_train, self.dataset.y_train, self.batch_size, gen
            )
        else:
            assert self.loaders is not None
            yield from self.loaders[0]

    def test(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.dataset is not None:
            yield from _minibatches(self.dataset.x_test, self.dataset.y_test, 1000, None)
        else:
            assert self.loaders is not None
            yield from self.loaders[1]

    def steps_per_epoch(self) -> int:
        if self.dataset is not None:
            return math.ceil(self.dataset.x_train.shape[0] / self.batch_size)
        try:
            return len(self.loaders[0])  # type: ignore[arg-type,index]
        except TypeError:
            return 0


@torch.no_grad()
def evaluate_accuracy(
    model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
) -> float:
    """Top-1 accuracy in eval mode."""
    was = model.training
    model.eval()
    dev = _device_of(model)
    correct = total = 0
    for x, y in batches:
        pred = model(x.to(dev)).argmax(dim=1)
        correct += int((pred == y.to(dev)).sum())
        total += int(y.shape[0])
    model.train(was)
    if total == 0:
        raise DataError("the test data yielded no samples")
    return correct / total


def _cosine(opt: torch.optim.Optimizer, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / max(total, 1)))
    )


def train_float(
    model: nn.Module,
    data: Dataset,
    *,
    epochs: int,
    seed: int = 0,
    lr: float = 3e-3,
    batch_size: int = 128,
    progress: Progress | None = None,
) -> float:
    """Train the float model (AdamW, cosine schedule); returns test accuracy."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    src = _Data(data, batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    total = epochs * src.steps_per_epoch()
    sched = _cosine(opt, total)
    loss_fn = nn.CrossEntropyLoss()
    dev = _device_of(model)
    model.train()
    step = 0
    for _ in range(epochs):
        for x, y in src.train(gen):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x.to(dev)), y.to(dev)).backward()
            opt.step()
            sched.step()
            step += 1
            if progress:
                progress("train float baseline", step, total)
    return evaluate_accuracy(model, src.test())


class PreparedBaseline:
    """A trained float model plus its data, ready for many fine-tunes.

    Build with :meth:`load` (named model and data, cached) or directly from your own
    ``nn.Module`` and either a :class:`Dataset` or ``(train_loader, test_loader)``.
    """

    def __init__(
        self,
        model: nn.Module,
        data: Dataset | tuple[Batches, Batches],
        *,
        acc_float: float | None = None,
        batch_size: int = 128,
        calib_batches: int = 4,
        name: str = "custom",
        skip: Sequence[str] = (),
    ) -> None:
        if not isinstance(model, nn.Module):
            raise ConfigError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.model = model.eval()
        self.data = _Data(data, batch_size)
        self.name = name
        self.calib_batches = calib_batches
        #: layers left float by :func:`dse.nn.convert` (``layers:`` exclude globs)
        self.skip = tuple(skip)
        self.acc_float = (
            evaluate_accuracy(model, self.data.test()) if acc_float is None else acc_float
        )
        self._exact_acc: dict[tuple[Any, ...], float] = {}

    @classmethod
    def load(
        cls,
        model: str = "cnn1d",
        data: str | Dataset = "mnist1d",
        *,
        seed: int = 0,
        epochs: int | None = None,
        cache: bool = True,
        batch_size: int = 128,
        progress: Progress | None = None,
        threads: int | None = None,
    ) -> PreparedBaseline:
        """Train (or load from the cache) the float baseline for a named model and data.

        ``threads``: torch's CPU thread count while this runs (``None``: as it is).
        """
        with _torch_threads(threads):
            dataset = load_data(data) if isinstance(data, str) else data
            net = build_model(model, dataset.input_shape, dataset.num_classes)
            epochs = DEFAULT_EPOCHS[model] if epochs is None else epochs
            if not isinstance(epochs, int) or epochs < 1:
                raise ConfigError(f"baseline epochs must be an int >= 1, got {epochs!r}")
            path = cache_dir() / "baselines" / f"{model}_{dataset.key}_s{seed}_e{epochs}.pt"
            acc: float | None = None
            if cache and path.is_file():
                try:
                    saved = torch.load(path, map_location="cpu", weights_only=True)
                    net.load_state_dict(saved["state_dict"])
                    acc = float(saved["acc_float"])
                except Exception:  # a stale or truncated cache entry is simply retrained
                    acc = None
            if acc is None:
                with step(
                    f"training the float baseline {model} on {dataset.name} ({epochs} epochs; "
                    f"once, then cached)"
                ):
                    acc = train_float(
                        net,
                        dataset,
                        epochs=epochs,
                        seed=seed,
                        batch_size=batch_size,
                        lr=DEFAULT_LR[model],
                        progress=progress,
                    )
                if cache:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(".tmp")
                    torch.save({"state_dict": net.state_dict(), "acc_float": acc}, tmp)
                    tmp.replace(path)
            return cls(
                net, dataset, acc_float=acc, batch_size=batch_size, name=f"{model}/{dataset.name}"
            )

    # ------------------------------------------------------------------ pieces
    def _calibrated(
        self, multiplier: AxMultiplier | Mapping[str, AxMultiplier], seed: int, **options: Any
    ) -> nn.Module:
        model = copy.deepcopy(self.model)
        convert(model, multiplier, skip=self.skip, **options)
        model.eval()
        gen = torch.Generator().manual_seed(seed)
        dev = _device_of(model)
        with torch.no_grad(), calibrate(model):
            for i, (x, _) in enumerate(self.data.train(gen)):
                if i >= self.calib_batches:
                    break
                model(x.to(dev))
        return model

    def exact_quantized_accuracy(
        self, multiplier: AxMultiplier | Mapping[str, AxMultiplier], seed: int = 0, **options: Any
    ) -> float:
        """Accuracy with the accurate multiplier of the same widths and signedness (per layer
        when ``multiplier`` is a dict from layer name to multiplier)."""
        opts = tuple(
            sorted(
                (k, v) for k, v in options.items() if k in ("act_bits", "weight_bits", "act_mode")
            )
        )
        if isinstance(multiplier, Mapping):
            shapes = tuple(
                sorted((n, m.width_a, m.width_b, m.signed) for n, m in multiplier.items())
            )
            key: tuple[Any, ...] = (shapes, seed, opts)
        else:
            key = (multiplier.width_a, multiplier.width_b, multiplier.signed, seed, opts)
        if key not in self._exact_acc:
            exact: AxMultiplier | dict[str, AxMultiplier]
            if isinstance(multiplier, Mapping):
                exact = {
                    n: AxMultiplier.exact(m.width_a, m.width_b, signed=m.signed)
                    for n, m in multiplier.items()
                }
            else:
                exact = AxMultiplier.exact(
                    multiplier.width_a, multiplier.width_b, signed=multiplier.signed
                )
            model = self._calibrated(exact, seed, **options)
            self._exact_acc[key] = evaluate_accuracy(model, self.data.test())
        return self._exact_acc[key]

    def finetune(
        self,
        multiplier: AxMultiplier | Mapping[str, AxMultiplier],
        *,
        epochs: float = 1.0,
        steps: int | None = None,
        grad: str = "ste",
        axtrain: str = "none",
        axtrain_lambda: float = 0.1,
        lr: float = 3e-4,
        seed: int = 0,
        freeze_bn: bool = False,
        optimizer: OptimizerFactory | None = None,
        reference: bool = True,
        keep_model: bool = False,
        progress: Progress | None = None,
        threads: int | None = None,
        **options: Any,
    ) -> FinetuneResult:
        """Convert a copy of the baseline to ``multiplier``, fine-tune it and measure.

        ``multiplier``: one :class:`AxMultiplier` for every layer, or a dict from layer name
        to multiplier (per-layer multipliers, e.g. one per layer group of a search space;
        a ``"*"`` entry is the default, unnamed layers otherwise stay float). ``epochs``
        (may be fractional) or ``steps`` bounds the training; ``grad`` is the gradient
        estimator; ``axtrain`` in none/passive/active/both. ``optimizer``: a factory
        ``params -> torch.optim.Optimizer`` (default Adam at ``lr``; e.g. the log-domain
        hardware model :class:`dse.optim.LogDomainSGD`), always under the cosine schedule.
        ``reference=False`` skips measuring the exact-multiplier accuracy (``acc_exact_q``
        is NaN then); ``keep_model=True`` returns the fine-tuned network in
        ``result.model``. ``threads``: torch's CPU thread count while this runs (``None``:
        as it is). Other keyword arguments are layer options (see :func:`dse.nn.convert`).
        """
        if isinstance(multiplier, Mapping):
            if not multiplier:
                raise ConfigError("multiplier: the per-layer dict is empty")
            bad = [n for n, m in multiplier.items() if not isinstance(m, AxMultiplier)]
            if bad:
                raise ConfigError(f"multiplier[{bad[0]!r}] must be an AxMultiplier")
        elif not isinstance(multiplier, AxMultiplier):
            raise ConfigError(
                f"multiplier must be an AxMultiplier, got {type(multiplier).__name__}"
            )
        if optimizer is not None and not callable(optimizer):
            raise ConfigError(f"optimizer must be a factory params -> Optimizer, got {optimizer!r}")
        gradient(grad)  # raises for an unregistered name
        if axtrain not in AXTRAIN_MODES:
            raise ConfigError(f"axtrain must be one of {AXTRAIN_MODES}, got {axtrain!r}")
        if steps is None:
            if not isinstance(epochs, (int, float)) or epochs < 0:
                raise ConfigError(f"epochs must be >= 0, got {epochs!r}")
            per_epoch = self.data.steps_per_epoch()
            if per_epoch == 0 and epochs:
                raise ConfigError("the train loader has no len(); pass steps= instead of epochs=")
            steps = round(epochs * per_epoch)
        elif not isinstance(steps, int) or steps < 0:
            raise ConfigError(f"steps must be an int >= 0, got {steps!r}")
        if not (isinstance(axtrain_lambda, (int, float)) and axtrain_lambda >= 0):
            raise ConfigError(f"axtrain_lambda must be >= 0, got {axtrain_lambda!r}")
        with _torch_threads(threads):
            start = time.perf_counter()
            acc_exact = (
                self.exact_quantized_accuracy(multiplier, seed, **options)
                if reference
                else float("nan")
            )
            torch.manual_seed(seed)
            model = self._calibrated(multiplier, seed, grad=grad, **options)
            acc_before = evaluate_accuracy(model, self.data.test())
            passive = axtrain in ("passive", "both")
            active = axtrain in ("active", "both")
            for _, layer in ax_layers(model):
                layer.set_options(passive=passive)
                layer.track_act_histogram = active
            losses = self._train(
                model,
                steps,
                lr,
                seed,
                active,
                float(axtrain_lambda),
                freeze_bn,
                progress,
                optimizer,
            )
            with _recording(model):
                acc_after = evaluate_accuracy(model, self.data.test())
            act_hist, weight_hist = collect_histograms(model)
            return FinetuneResult(
                acc_float=self.acc_float,
                acc_exact_q=acc_exact,
                acc_axm_before=acc_before,
                acc_axm_after=acc_after,
                seconds=time.perf_counter() - start,
                steps=steps,
                grad=grad,
                axtrain=axtrain,
                seed=seed,
                multiplier=(
                    multiplier.name
                    if isinstance(multiplier, AxMultiplier)
                    else ",".join(f"{n}={m.name}" for n, m in multiplier.items())
                ),
                act_hist=act_hist,
                weight_hist=weight_hist,
                losses=losses,
                model=model if keep_model else None,
            )

    def _train(
        self,
        model: nn.Module,
        steps: int,
        lr: float,
        seed: int,
        active: bool,
        lam: float,
        freeze_bn: bool,
        progress: Progress | None,
        optimizer: OptimizerFactory | None = None,
    ) -> list[float]:
        if steps == 0:
            return []
        params = [p for p in model.parameters() if p.requires_grad]
        opt = optimizer(params) if optimizer is not None else torch.optim.Adam(params, lr=lr)
        sched = _cosine(opt, steps)
        loss_fn = nn.CrossEntropyLoss()
        dev = _device_of(model)
        layers = [m for _, m in ax_layers(model)]
        gen = torch.Generator().manual_seed(seed + 1)
        model.train()
        if freeze_bn:
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        losses: list[float] = []
        step = 0
        while step < steps:
            for x, y in self.data.train(gen):
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x.to(dev)), y.to(dev))
                if active and lam > 0 and layers:
                    penalty = torch.stack([m.axtrain_penalty() for m in layers]).mean()
                    loss = loss + lam * penalty
                loss.backward()
                opt.step()
                sched.step()
                losses.append(float(loss.detach()))
                step += 1
                if progress:
                    progress("fine-tune", step, steps)
                if step >= steps:
                    break
        model.eval()
        return losses
