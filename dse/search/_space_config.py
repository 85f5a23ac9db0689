"""The schema of search-space files (validated with pydantic) and their one-line errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from dse.errors import ConfigError

__all__ = [
    "LibrarySpaceConfig",
    "format_validation_error",
    "free_knobs",
    "read_yaml",
    "structure_space_model",
]


# --------------------------------------------------------------------- schema
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseConfig(_Strict):
    generator: str = "dadda"
    width: int = Field(8, ge=2, le=16)
    width_b: int | None = Field(None, ge=2, le=16)
    signed: bool | None = None
    adder: str = "ripple"
    fixed: dict[str, Any] = Field(default_factory=dict, description="knobs always applied")


class CellsConfig(_Strict):
    roles: list[Literal["tree", "cpa"]] = Field(default_factory=lambda: ["tree"])  # type: ignore[arg-type]
    columns: tuple[int, int] | None = None
    options: dict[str, list[str]]
    per: Literal["cell", "column"] = Field(
        "cell",
        description="one gene per cell, or one per (family, column) for all its cells",
    )


class GroupConfig(_Strict):
    name: str
    layers: list[str] = Field(default_factory=list, description="layer-name patterns (fnmatch)")
    weight: float | None = Field(None, gt=0, description="share of MACs; default from the model")


_MODELS: dict[tuple[tuple[str, int], ...], type[BaseModel]] = {}


def free_knobs() -> list[str]:
    """What may stand under ``knobs:`` in a structure space: the registered knobs that
    a space can make free, and ``cells``."""
    from dse.arith import KNOBS

    return [k.name for k in KNOBS.values() if k.space_config is not None] + ["cells"]


def structure_space_model() -> type[BaseModel]:
    """The schema of a structure space for the knobs registered now: one entry under
    ``knobs:`` per knob that a space can make free (its ``space_config``), then
    ``cells``."""
    from dse.arith import KNOBS

    free = [k for k in KNOBS.values() if k.space_config is not None]
    key = tuple((k.name, id(k)) for k in free)
    model = _MODELS.get(key)
    if model is None:
        fields: dict[str, Any] = {
            k.name: (
                k.space_config if k.space_default is not None else k.space_config | None,
                k.space_default,
            )
            for k in free
        }
        fields["cells"] = (CellsConfig | None, None)
        knobs: type[BaseModel] = create_model("KnobsConfig", __base__=_Strict, **fields)
        model = create_model(
            "StructureSpaceConfig",
            __base__=_Strict,
            kind=(Literal["structure"], "structure"),
            name=(str | None, None),
            description=(str, ""),
            base=(BaseConfig, ...),
            knobs=(knobs, Field(default_factory=knobs)),
            groups=(list[GroupConfig] | None, None),
        )
        _MODELS[key] = model
    return model


class LibraryEntryConfig(_Strict):
    name: str
    spec: str | None = None
    verilog: list[str] | None = None
    # netlist files in any format dse reads (Verilog, BLIF); `verilog` reads the same way
    netlist: list[str] | None = None
    lut: str | None = None
    metrics: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> LibraryEntryConfig:
        given = [k for k in ("spec", "verilog", "netlist", "lut") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of spec, verilog, netlist, lut (got {given or 'none'})"
            )
        return self


class LibrarySpaceConfig(_Strict):
    kind: Literal["library"]
    name: str | None = None
    description: str = ""
    width: int = Field(8, ge=2, le=16)
    width_b: int | None = Field(None, ge=2, le=16)
    signed: bool = False
    entries: list[LibraryEntryConfig] = Field(min_length=1)
    groups: list[GroupConfig] | None = None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (``X | None``, ``list[X]``, ``X | list[X]``)."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _fields_at(model: type[BaseModel] | None, path: Sequence[Any]) -> list[str]:
    """The field names of the mapping at ``path`` (field names and list indices) under
    ``model``; empty where the path leads to no model (a free-form mapping)."""
    current = [model] if model is not None else []
    for part in path:
        if isinstance(part, int):  # an item of a list
            continue
        current = [
            sub
            for m in current
            if part in m.model_fields
            for sub in _models_in(m.model_fields[part].annotation)
        ]
    return list(dict.fromkeys(name for m in current for name in m.model_fields))


def _did_you_mean(key: str, known: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def format_validation_error(
    exc: ValidationError, where: str, prefix: str = "", model: type[BaseModel] | None = None
) -> str:
    """One line: ``where: field a.b.c: message`` for the first error of ``exc``.

    A field typed as a union (``backend``: one back end or a list) makes pydantic report
    every branch, with the branch's type name in the location; the branch whose shape
    the input has is the one the user meant, and type names are not field names.

    An unknown key comes first: a misspelt required field (``objectivs:``) is also
    reported by pydantic as the real one missing, and the misspelling is the cause.
    With ``model`` (the validated class), the closest known key is suggested.
    """
    errors = exc.errors()

    def branch(part: Any) -> bool:
        return isinstance(part, str) and (part[:1].isupper() or "[" in part)

    shape_only = {"list_type", "model_type", "dict_type", "model_attributes_type"}
    meant = [
        e for e in errors if not (any(branch(x) for x in e["loc"]) and e["type"] in shape_only)
    ]
    unknown = [e for e in (meant or errors) if e["type"] == "extra_forbidden"]
    err = (unknown or meant or errors)[0]
    parts = [x for x in err["loc"] if not branch(x)]
    loc = ".".join(str(p) for p in (*([prefix] if prefix else []), *parts))
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        parent = ".".join(loc.split(".")[:-1])
        key = loc.split(".")[-1]
        if parent.endswith("knobs"):
            known = free_knobs()
            msg = f"unknown knob {key!r}; free knobs are: {', '.join(known)}"
            msg += _did_you_mean(key, known)
        else:
            msg = f"unknown key {key!r}" + _did_you_mean(key, _fields_at(model, parts[:-1]))
    elif err["type"] == "missing":
        msg = "required field is missing"
    else:
        msg = (
            f"{msg} (got {err.get('input')!r})"
            if "input" in err and not isinstance(err.get("input"), dict)
            else msg
        )
    return f"{where}: field {loc or '<root>'}: {msg}"


def read_yaml(path: Path, what: str) -> Any:
    """Parse a YAML file; a missing file or bad YAML is a one-line ``ConfigError``."""
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{what} {str(path)!r} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
