"""The back-end registry: the one place where a back-end name from a study file
becomes an object.

A back end is one registration, :func:`register_backend` (the built-in ones below
register the same way); the study file's ``backend.name`` is checked against the
registry, and :func:`make_backend` builds the back end with its options.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dse.errors import ConfigError
from dse.search._backends._base import Backend

__all__ = [
    "BACKENDS",
    "BackendEntry",
    "make_backend",
    "make_backend_of",
    "options_of",
    "register_backend",
    "unknown_backend",
]


@dataclass(frozen=True)
class BackendEntry:
    """A back end's factory: a class (or a function returning a back end) given
    directly, or by module and name (imported when first built, so pymoo, optuna or
    torch stay unloaded until a study uses them), with the leading constructor
    arguments dse supplies itself (the Optuna sampler kind).

    The factory's keyword parameters are the back end's options (see
    :func:`options_of`)."""

    module: str = ""
    cls_name: str = ""
    args: tuple[Any, ...] = ()
    factory: Callable[..., Backend] | None = None

    def load(self) -> Callable[..., Backend]:
        """The factory (imports its module when given by name)."""
        if self.factory is not None:
            return self.factory
        cls: Callable[..., Backend] = getattr(importlib.import_module(self.module), self.cls_name)
        return cls

    def __call__(self, **options: Any) -> Backend:
        return self.load()(*self.args, **options)


#: The registry: back-end names accepted in ``backend.name``, in registration order.
BACKENDS: dict[str, BackendEntry] = {}


def register_backend(
    name: str, factory: Callable[..., Backend] | BackendEntry, *, replace: bool = False
) -> None:
    """Make ``name`` a back end a study file may name (``backend: {name: NAME}``).

    ``factory``: a :class:`~dse.search.Backend` subclass, a function returning one, or
    a :class:`BackendEntry`; its keyword parameters are the back end's options, checked
    against the study file's ``backend.options`` before it is called. A name already
    registered is an error unless ``replace``.
    """
    if not isinstance(name, str) or not name or name != name.strip():
        raise ConfigError(f"a back-end name must be a non-empty word, got {name!r}")
    if name in BACKENDS and not replace:
        raise ConfigError(f"back end {name!r} is already registered")
    entry = factory if isinstance(factory, BackendEntry) else BackendEntry(factory=factory)
    if not callable(entry.factory) and not (entry.module and entry.cls_name):
        raise ConfigError(f"back end {name!r}: the factory must be callable, got {factory!r}")
    BACKENDS[name] = entry


def unknown_backend(name: Any) -> str:
    """The message for a back-end name that is not registered: the known names and the
    closest one."""
    close = difflib.get_close_matches(str(name), list(BACKENDS), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown back end {name!r}; known: {', '.join(BACKENDS)}{hint}"


_PYMOO = "dse.search._backends._pymoo_nsga2"
_OPTUNA = "dse.search._backends._optuna"
register_backend("nsga2", BackendEntry(_PYMOO, "PymooNSGA2"))
register_backend("optuna-nsga2", BackendEntry(_OPTUNA, "OptunaBackend", ("nsga2",)))
register_backend("optuna-nsga3", BackendEntry(_OPTUNA, "OptunaBackend", ("nsga3",)))
register_backend("tpe", BackendEntry(_OPTUNA, "OptunaBackend", ("tpe",)))
register_backend("gp", BackendEntry(_OPTUNA, "OptunaBackend", ("gp",)))
register_backend("random", BackendEntry(_OPTUNA, "OptunaBackend", ("random",)))
register_backend("tram", BackendEntry("dse.search._backends._tram", "TramBackend"))
register_backend("local", BackendEntry("dse.search._backends._local", "LocalSearch"))

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
        raise ConfigError(f"{where}.name: {unknown_backend(name)}")
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
