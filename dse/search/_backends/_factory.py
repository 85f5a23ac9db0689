"""The one place where a back-end name from a study file becomes an object.

Options are checked here, for every back end alike, before the back end is built: an
option must be a keyword parameter of the back end's constructor (or, for the Optuna
back ends, of the sampler, see :meth:`OptunaBackend.options_owner`), and its value
must have the parameter's annotated type. So a typo or a wrong type is one line
naming the option, with the known options and the closest one, instead of a
``TypeError`` from deep inside a constructor.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dse.errors import ConfigError
from dse.search._backends._base import Backend

__all__ = ["BACKENDS", "BackendEntry", "make_backend", "make_backend_of", "options_of"]


@dataclass(frozen=True)
class BackendEntry:
    """A back end by module and class (imported when first built), with the leading
    constructor arguments dse supplies itself (the Optuna sampler kind)."""

    module: str
    cls_name: str
    args: tuple[Any, ...] = ()

    def load(self) -> type[Backend]:
        """The back-end class (imports its module: pymoo, optuna or torch stay unloaded
        until a study uses them)."""
        cls: type[Backend] = getattr(importlib.import_module(self.module), self.cls_name)
        return cls

    def __call__(self, **options: Any) -> Backend:
        return self.load()(*self.args, **options)


#: Back-end names accepted in ``backend.name``.
BACKENDS: dict[str, BackendEntry] = {
    "nsga2": BackendEntry("dse.search._backends._pymoo_nsga2", "PymooNSGA2"),
    "optuna-nsga2": BackendEntry("dse.search._backends._optuna", "OptunaBackend", ("nsga2",)),
    "optuna-nsga3": BackendEntry("dse.search._backends._optuna", "OptunaBackend", ("nsga3",)),
    "tpe": BackendEntry("dse.search._backends._optuna", "OptunaBackend", ("tpe",)),
    "gp": BackendEntry("dse.search._backends._optuna", "OptunaBackend", ("gp",)),
    "random": BackendEntry("dse.search._backends._optuna", "OptunaBackend", ("random",)),
    "tram": BackendEntry("dse.search._backends._tram", "TramBackend"),
}

_KEYWORD = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _annotation(param: inspect.Parameter, owner: Any) -> tuple[Any, str]:
    """The parameter's type and how its signature spells it; ``Any`` when the
    annotation is missing or cannot be evaluated.

    Annotations are strings (``from __future__ import annotations``), evaluated here in
    the owner's module one at a time, as :func:`typing.get_type_hints` would: a library's
    signature may name types imported only for type checkers, and one such name must
    not hide the types that do resolve.
    """
    ann = param.annotation
    if ann is inspect.Parameter.empty:
        return Any, "any value"
    if not isinstance(ann, str):
        return ann, getattr(ann, "__name__", str(ann))
    module = sys.modules.get(getattr(owner, "__module__", ""))
    try:
        return eval(ann, dict(vars(module)) if module else {}), ann
    except Exception:  # a name that exists only for type checkers
        return Any, ann


def _owner(entry: BackendEntry) -> tuple[Any, frozenset[str]]:
    """The callable whose keyword parameters are the back end's options (its class, or
    what its ``options_owner`` classmethod names) and the names dse sets itself."""
    cls = entry.load()
    hook = getattr(cls, "options_owner", None)
    if hook is None:
        return cls, frozenset()
    owner, reserved = hook(*entry.args)
    return owner, frozenset(reserved)


def options_of(entry: BackendEntry) -> dict[str, tuple[Any, str]]:
    """A back end's options in constructor order: name -> (type, type as written).

    A back end whose constructor takes ``**options`` names the callable whose keyword
    parameters they are with a classmethod ``options_owner(*args)`` returning that
    callable and the parameter names dse sets itself.
    """
    owner, reserved = _owner(entry)
    params = list(inspect.signature(owner).parameters.values())
    if owner is entry.load():
        params = params[len(entry.args) :]  # the arguments the entry passes itself
    return {
        p.name: _annotation(p, owner)
        for p in params
        if p.kind in _KEYWORD and p.name not in reserved
    }


def _check_options(name: str, entry: BackendEntry, options: Mapping[str, Any]) -> None:
    """Unknown option names and values of the wrong type, as one ``ConfigError``."""
    from pydantic import TypeAdapter, ValidationError

    known = options_of(entry)
    reserved = _owner(entry)[1]
    for key, value in options.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            if key == "seed":  # not a back-end option in dse: every back end uses the study's
                hint = " (the seed is the study's top-level 'seed:' field)"
            elif key in reserved:
                hint = " (dse sets it itself)"
            raise ConfigError(
                f"unknown option {key!r} for {name}; known: {', '.join(known) or 'none'}{hint}"
            )
        typ, text = known[key]
        if typ is Any:
            continue
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(typ)
        except Exception:  # a type pydantic cannot check: the constructor checks the value
            continue
        try:
            # strict: YAML already gives typed values, so '16' for an integer is a mistake
            # to report rather than a string to convert (an integer is still a float)
            adapter.validate_python(value, strict=True)
        except ValidationError:
            raise ConfigError(f"option {key!r} of {name}: expected {text}, got {value!r}") from None


def make_backend(
    name: str, options: Mapping[str, Any] | None = None, *, where: str = "backend"
) -> Backend:
    """Build a back end by name with its options (errors name the option)."""
    if name not in BACKENDS:
        raise ConfigError(f"{where}.name: unknown back end {name!r}; known: {', '.join(BACKENDS)}")
    opts = dict(options or {})
    try:
        _check_options(name, BACKENDS[name], opts)
        return BACKENDS[name](**opts)
    except ConfigError as exc:
        raise ConfigError(f"{where}.options: {exc}") from None
    except (TypeError, ValueError) as exc:  # a value the constructor could not use
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{where}.options: invalid options for {name}: {first}") from None


def make_backend_of(stages: Sequence[Any], *, where: str = "backend") -> Backend:
    """The back end of a study's ``backend:`` section: one back end, or a
    :class:`~dse.search._backends._pipeline.Pipeline` when it lists several."""
    if len(stages) == 1 and stages[0].trials is None:
        return make_backend(stages[0].name, stages[0].options, where=where)
    from dse.search._backends._pipeline import Pipeline

    built = [make_backend(s.name, s.options, where=f"{where}.{i}") for i, s in enumerate(stages)]
    return Pipeline(built, [s.trials for s in stages], where=where)
