"""The user's own network: model factories, state-dict weights, devices, a fit check.

A model is named by a spec: a built-in name (:data:`dse.nn.MODEL_NAMES`),
``path/to/file.py:factory``, ``package.module:factory``, or ``torchvision:NAME`` /
``timm:NAME`` where those packages are installed. A factory is called as
``factory(input_shape, num_classes)`` when it takes two arguments, else ``factory()``,
and must return an ``nn.Module``. Weights are a state dict read with
``torch.load(..., weights_only=True)``, which never runs code from the file. Every
failure is one :class:`~dse.errors.DseError` line starting with ``where`` (the study
file's field or the command-line option).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import pickle
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dse.errors import ConfigError, DataError
from dse.nn._models import MODEL_NAMES, build_model

__all__ = [
    "check_data_fits",
    "file_sha256",
    "load_model",
    "load_weights",
    "resolve_device",
    "state_sha256",
]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _import_file(path: Path, where: str) -> Any:
    if not path.is_file():
        raise ConfigError(f"{where}: model file {path} does not exist")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    name = f"dse_user_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{where}: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pickling the user's classes (worker processes) finds them
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ConfigError(f"{where}: importing {path} raised {_first_line(exc)}") from None
    return module


def _factory(spec: str, where: str) -> Callable[..., Any]:
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise ConfigError(
            f"{where}: model {spec!r}: expected one of {', '.join(MODEL_NAMES)}, "
            f"FILE.py:FACTORY, package.module:FACTORY, torchvision:NAME or timm:NAME"
        )
    if target.endswith(".py"):
        module = _import_file(Path(target).expanduser(), where)
        origin = target
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise ConfigError(f"{where}: cannot import module {target!r} ({exc})") from None
        origin = f"module {target}"
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise ConfigError(
            f"{where}: factory {attr!r} not found in {origin} (callables there: "
            f"{', '.join(names[:8]) or 'none'})"
        )
    return fn


def _call_factory(
    fn: Callable[..., Any], spec: str, input_shape: tuple[int, ...], num_classes: int, where: str
) -> nn.Module:
    try:
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            and p.default is inspect.Parameter.empty
        ]
    except (TypeError, ValueError):
        params = []
    try:
        model = fn(input_shape, num_classes) if len(params) >= 2 else fn()
    except Exception as exc:
        raise ConfigError(f"{where}: factory {spec} raised {_first_line(exc)}") from None
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"{where}: factory {spec} returned {type(model).__name__}, not a torch.nn.Module"
        )
    return model


def load_model(
    spec: str, input_shape: Sequence[int], num_classes: int, *, where: str = "model"
) -> nn.Module:
    """The ``nn.Module`` a model spec names, for samples of ``input_shape`` and
    ``num_classes`` classes (float, on the CPU, untrained unless the factory loads
    weights itself)."""
    shape = tuple(int(s) for s in input_shape)
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"{where}: a model spec must be a non-empty string, got {spec!r}")
    if spec in MODEL_NAMES:
        try:
            return build_model(spec, shape, num_classes)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    kind, _, name = spec.partition(":")
    if kind in ("torchvision", "timm") and name:
        try:
            lib = importlib.import_module(kind)
        except Exception as exc:  # a build that does not match torch fails in its C ops
            raise ConfigError(
                f"{where}: model {spec!r} needs {kind} installed beside torch "
                f"(a {kind} build made for this torch; here: {_first_line(exc)})"
            ) from None
        if kind == "torchvision":
            fn: Callable[..., Any] = lambda: lib.models.get_model(  # noqa: E731
                name, weights=None, num_classes=num_classes
            )
        else:
            fn = lambda: lib.create_model(  # noqa: E731
                name, pretrained=False, num_classes=num_classes, in_chans=shape[0]
            )
        return _call_factory(fn, spec, shape, num_classes, where)
    return _call_factory(_factory(spec, where), spec, shape, num_classes, where)


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes (what a study records of its weights)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def state_sha256(model: nn.Module) -> str:
    """The SHA-256 of a model's state dict (names, shapes, values), so a model given
    as an object can be recognised when a study is resumed."""
    h = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        t = value.detach().to("cpu").contiguous()
        h.update(f"{key}|{tuple(t.shape)}|{t.dtype}|".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def _listed(keys: Sequence[str]) -> str:
    more = f" (and {len(keys) - 5} more)" if len(keys) > 5 else ""
    return ", ".join(keys[:5]) + more


def load_weights(model: nn.Module, path: str | Path, *, where: str = "weights") -> str:
    """Load a state-dict file into ``model`` (strictly); returns the file's SHA-256.

    A file holding a pickled model (``torch.save(model)``) is refused: reading it would
    run code from the file. A ``{"state_dict": ...}`` checkpoint and the ``module.``
    prefix of ``nn.DataParallel`` are accepted.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"{where}: weights file {p} does not exist")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise DataError(
            f"{where}: {p} holds a pickled object (a whole model?), not a state dict; "
            f"save the weights with torch.save(model.state_dict(), '{p.name}')"
        ) from None
    except Exception as exc:
        raise DataError(f"{where}: {p} is not a torch weights file ({_first_line(exc)})") from None
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise DataError(
            f"{where}: {p} is not a state dict (a mapping of names to tensors); save the "
            f"weights with torch.save(model.state_dict(), '{p.name}')"
        )
    state = dict(obj)
    own = model.state_dict()
    if (
        state
        and all(k.startswith("module.") for k in state)
        and not any(k.startswith("module.") for k in own)
    ):
        state = {k[len("module.") :]: v for k, v in state.items()}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys {_listed(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_listed(unexpected)}")
        raise DataError(f"{where}: {p} does not fit the model: {'; '.join(parts)}")
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if tuple(state[k].shape) != tuple(v.shape)
    ]
    if shapes:
        raise DataError(
            f"{where}: {p} does not fit the model: shapes differ (file vs model) for "
            f"{_listed(shapes)}"
        )
    model.load_state_dict(state)
    return file_sha256(p)


def resolve_device(spec: str | torch.device | None, *, where: str = "device") -> torch.device:
    """``auto`` (CUDA when there is one, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``;
    asking for a CUDA device that is not there is an error, not a silent CPU run."""
    if spec is None or spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except (RuntimeError, TypeError):
        raise ConfigError(f"{where}: expected auto, cpu, cuda or cuda:N, got {spec!r}") from None
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise ConfigError(f"{where}: expected auto, cpu, cuda or cuda:N, got {spec!r}")
    if not torch.cuda.is_available():
        raise ConfigError(
            f"{where}: {spec!r} asked for, but torch sees no CUDA device here "
            f"(torch {torch.__version__}; use device: cpu or auto)"
        )
    count = torch.cuda.device_count()
    if dev.index is not None and dev.index >= count:
        raise ConfigError(f"{where}: {spec!r} asked for, but there are {count} CUDA device(s)")
    return dev


@torch.no_grad()
def check_data_fits(
    model: nn.Module, sample: torch.Tensor, num_classes: int, *, where: str = "data"
) -> None:
    """One forward pass of two samples: a shape the model cannot take, or outputs that
    are not ``(N, classes)`` logits, is one line naming ``where``."""
    was = model.training
    model.eval()
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    try:
        out = model(sample[:2].to(dev))
    except Exception as exc:
        raise DataError(
            f"{where}: samples of shape {tuple(sample.shape[1:])} do not fit the model "
            f"({_first_line(exc)})"
        ) from None
    finally:
        model.train(was)
    n = min(2, sample.shape[0])
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != n:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise DataError(
            f"{where}: the model maps {n} samples of shape {tuple(sample.shape[1:])} to "
            f"{shape}; expected logits of shape ({n}, classes)"
        )
    if out.shape[1] < num_classes:
        raise DataError(
            f"{where}: the data has {num_classes} classes but the model gives "
            f"{out.shape[1]} outputs"
        )
