"""From a model and data (specs or objects) to a :class:`PreparedBaseline`: the device,
the data and its options, the model and its weights, a fit check, the layers to
approximate; and :func:`finetune`, the one-call fine-tune on top of it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dse._status import step
from dse.errors import ConfigError
from dse.nn._convert import select_layers
from dse.nn._data import Dataset, cache_dir
from dse.nn._finetune import (
    FinetuneResult,
    PreparedBaseline,
    Progress,
    _torch_threads,
    train_float,
)
from dse.nn._models import MODEL_NAMES
from dse.nn._multiplier import AxMultiplier
from dse.nn._sources import DataOptions, Source, open_source
from dse.nn._user import check_data_fits, file_sha256, load_model, load_weights, resolve_device

__all__ = ["USER_BASELINE_EPOCHS", "finetune", "prepare"]

#: Float-baseline epochs for a user model given without weights.
USER_BASELINE_EPOCHS = 10

_FIELDS = ("model", "weights", "data", "layers", "device")


def _user_baseline(
    net: nn.Module,
    spec: str,
    src: Source,
    *,
    seed: int,
    epochs: int,
    cache: bool,
    progress: Progress | None,
) -> float:
    """Train a user model from scratch (no weights given); cached like the built-ins
    when the model is a file (keyed by its content) and the data has a key."""
    target = spec.rpartition(":")[0]
    ident = file_sha256(target) if target.endswith(".py") and Path(target).is_file() else spec
    key = hashlib.sha1(f"{spec}|{ident}|{src.key}|{seed}|{epochs}".encode()).hexdigest()[:16]
    path = cache_dir() / "baselines" / f"user_{key}.pt"
    if cache and src.key and path.is_file():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            net.load_state_dict(saved["state_dict"])
            return float(saved["acc_float"])
        except Exception:  # a stale or truncated cache entry is simply retrained
            pass
    with step(f"training the float baseline {spec} ({epochs} epochs; no weights: given)"):
        acc = train_float(
            net,
            src.data,  # type: ignore[arg-type]  # train_float batches loaders too
            epochs=epochs,
            seed=seed,
            batch_size=128,
            progress=progress,
        )
    if cache and src.key:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save({"state_dict": net.state_dict(), "acc_float": acc}, tmp)
        tmp.replace(path)
    return acc


def prepare(
    model: str | nn.Module,
    data: str | Dataset | Source | tuple[Any, Any],
    *,
    weights: str | Path | None = None,
    data_options: DataOptions | None = None,
    include: Sequence[str] = ("*",),
    exclude: Sequence[str] = (),
    device: str | torch.device | None = "auto",
    seed: int = 0,
    baseline_epochs: int | None = None,
    acc_float: float | None = None,
    cache: bool = True,
    progress: Progress | None = None,
    where: Mapping[str, str] | None = None,
) -> PreparedBaseline:
    """A :class:`PreparedBaseline` for a model and data given as specs or objects.

    ``model``: a built-in name, ``FILE.py:FACTORY``, ``package.module:FACTORY``,
    ``torchvision:NAME`` / ``timm:NAME``, or an ``nn.Module`` (taken as trained).
    ``weights``: a state-dict file; without one a named model's float baseline is
    trained (and cached). ``include`` / ``exclude``: globs over layer names choosing
    the layers to approximate. ``device``: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    ``data``: a spec, a :class:`Dataset`, an opened :class:`Source` (its options
    already applied) or ``(train, test)`` datasets or loaders.
    ``acc_float``: the float accuracy when already known (a study measures it once).
    ``where``: how messages name each input (``model``, ``weights``, ``data``,
    ``layers``, ``device``; e.g. ``study.yaml: field model``). The result carries
    ``layers`` (approximated names), ``weights_sha256`` and ``source``.
    """
    w = {k: k for k in _FIELDS} | dict(where or {})
    dev = resolve_device(device, where=w["device"])
    src = (
        data
        if isinstance(data, Source)
        else open_source(data, data_options, seed=seed, where=w["data"])
    )
    sha: str | None = None
    trained = acc_float
    opt = data_options or DataOptions()

    def full() -> Source:
        """The data without ``train_subset``: a baseline trains on the whole set, only
        the fine-tune on the subset."""
        if opt.train_subset is None or isinstance(data, Source):
            return src
        return open_source(data, replace(opt, train_subset=None), seed=seed, where=w["data"])

    if isinstance(model, nn.Module):
        net = model
        if weights is not None:
            sha = load_weights(net, weights, where=w["weights"])
    elif not isinstance(model, str):
        raise ConfigError(
            f"{w['model']}: expected a model spec or a torch.nn.Module, got {type(model).__name__}"
        )
    elif weights is None and model in MODEL_NAMES and isinstance(src.data, Dataset):
        whole = full().data
        assert isinstance(whole, Dataset)
        base = PreparedBaseline.load(
            model, whole, seed=seed, epochs=baseline_epochs, cache=cache, progress=progress
        )
        net, trained = base.model, base.acc_float if acc_float is None else acc_float
    else:
        net = load_model(model, src.input_shape, src.num_classes, where=w["model"])
        if weights is not None:
            sha = load_weights(net, weights, where=w["weights"])
    check_data_fits(net, src.sample(), src.num_classes, where=w["data"])
    if (
        isinstance(model, str)
        and weights is None
        and trained is None
        and (model not in MODEL_NAMES or not isinstance(src.data, Dataset))
    ):
        epochs = baseline_epochs or USER_BASELINE_EPOCHS
        trained = _user_baseline(
            net, model, full(), seed=seed, epochs=epochs, cache=cache, progress=progress
        )
    net.to(dev)
    chosen = select_layers(net, tuple(include), tuple(exclude), where=w["layers"])
    skip = [n for n, _ in net.named_modules() if n and n not in chosen]
    prepared = PreparedBaseline(
        net,
        src.data,
        acc_float=trained,
        batch_size=opt.batch_size,
        name=f"{model if isinstance(model, str) else type(model).__name__}/{src.name}",
        skip=skip,
    )
    prepared.layers = chosen  # type: ignore[attr-defined]
    prepared.weights_sha256 = sha  # type: ignore[attr-defined]
    prepared.source = src  # type: ignore[attr-defined]
    prepared.device = dev  # type: ignore[attr-defined]
    return prepared


def finetune(
    model: str | nn.Module | PreparedBaseline,
    data: str | Dataset | tuple[Any, Any],
    multiplier: AxMultiplier | Mapping[str, AxMultiplier],
    *,
    epochs: float = 1.0,
    steps: int | None = None,
    grad: str = "ste",
    axtrain: str = "none",
    seed: int = 0,
    baseline_epochs: int | None = None,
    threads: int | None = None,
    weights: str | Path | None = None,
    include: Sequence[str] = ("*",),
    exclude: Sequence[str] = (),
    device: str | torch.device | None = "auto",
    data_options: DataOptions | None = None,
    **kwargs: Any,
) -> FinetuneResult:
    """Fine-tune ``model`` for ``multiplier`` and report accuracies and operand histograms.

    ``model``: a spec (built-in name, ``FILE.py:FACTORY``, ``package.module:FACTORY``,
    ``torchvision:NAME``, ``timm:NAME``), a trained ``nn.Module``, or a
    :class:`PreparedBaseline`. ``data``: a spec (``mnist1d``, ``digits``,
    ``cifar10:DIR``, ``mnist:DIR``, ``npz:FILE``, ``imagefolder:DIR``,
    ``FILE.py:FACTORY``), a :class:`Dataset`, or ``(train, test)`` datasets or
    loaders. ``weights``, ``include``/``exclude``, ``device`` and ``data_options`` are
    those of :func:`prepare`. Deterministic under ``seed`` on the CPU. ``threads``:
    torch's CPU thread count while this runs (``None``: as it is).
    """
    with _torch_threads(threads):
        if isinstance(model, PreparedBaseline):
            prepared = model
        else:
            prepared = prepare(
                model,
                data,
                weights=weights,
                data_options=data_options,
                include=include,
                exclude=exclude,
                device=device,
                seed=seed,
                baseline_epochs=baseline_epochs,
            )
        return prepared.finetune(
            multiplier, epochs=epochs, steps=steps, grad=grad, axtrain=axtrain, seed=seed, **kwargs
        )
