"""Study files (``studies/*.yaml``): schema, validation and the stored form.

A study file names the search space, the network and data (when accuracy is an
objective or a constraint), the fine-tune budget and gradient estimator, the
objectives and constraints, the back end and its options, the budget, the seed and
the storage. Its validated form, with the space embedded, is what is stored in the
study (user attr ``dse:config``), so ``dse resume`` needs nothing but the storage.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dse.errors import ConfigError, DseError
from dse.search._backends._factory import BACKENDS, unknown_backend
from dse.search._objectives import Constraint, Objective, parse_constraint, parse_objective
from dse.search._space_config import format_validation_error, read_yaml

__all__ = ["StudyConfig", "load_study_config", "study_config_from_dict"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FinetuneConfig(_Strict):
    epochs: float = Field(1.0, ge=0)
    steps: int | None = Field(None, ge=0)
    grad: str = "ste"  # checked against dse.nn's estimator registry when a fine-tune is set up
    axtrain: Literal["none", "passive", "active", "both"] = "none"
    lr: float = Field(3e-4, gt=0)
    baseline_epochs: int | None = Field(None, ge=1)
    options: dict[str, Any] = Field(default_factory=dict)


class PowerConfig(_Strict):
    distribution: Literal["uniform", "network"] = "uniform"
    trace_vectors: int = Field(8192, gt=0, multiple_of=64)
    clock_period_ns: float = Field(1.0, gt=0)
    liberty: str | None = Field(
        None, description="a Liberty file (.lib, .lib.gz) to cost designs with; default NanGate 45"
    )
    # filled in when the study file is read: the file's md5, so a resume notices a change
    liberty_md5: str | None = None


class BackendConfig(_Strict):
    name: str = Field("nsga2", description="a registered back end (dse.search.register_backend)")
    options: dict[str, Any] = Field(default_factory=dict)
    trials: int | None = Field(
        None, ge=1, description="this stage's share of the budget (stages of a pipeline only)"
    )


class BudgetConfig(_Strict):
    trials: int | None = Field(None, ge=1)
    timeout: float | None = Field(None, gt=0, description="seconds of wall time per run")


class StorageConfig(_Strict):
    url: str | None = None
    heartbeat_interval: int = Field(10, ge=1)
    grace_period: int | None = Field(None, ge=1)


class HypervolumeConfig(_Strict):
    reference: dict[str, float] = Field(default_factory=dict)


class StudyConfig(_Strict):
    """The validated content of a study file."""

    name: str | None = None
    description: str = ""
    space: str | dict[str, Any]
    model: str | None = None
    data: str | None = None
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)  # type: ignore[arg-type]
    objectives: list[str | dict[str, Any]] = Field(min_length=1)
    constraints: list[str | dict[str, Any]] = Field(default_factory=list)
    power: PowerConfig = Field(default_factory=PowerConfig)  # type: ignore[arg-type]
    backend: BackendConfig | list[BackendConfig] = Field(default_factory=BackendConfig)  # type: ignore[arg-type]
    budget: BudgetConfig = Field(default_factory=BudgetConfig)  # type: ignore[arg-type]
    seed: int = 0
    storage: StorageConfig = Field(default_factory=StorageConfig)  # type: ignore[arg-type]
    hypervolume: HypervolumeConfig = Field(default_factory=HypervolumeConfig)
    record: Literal["auto", "batch", "trial"] = Field(
        "auto",
        description=(
            "how trials are written: batch (a back end's batch evaluated in memory, its "
            "trials written in one transaction), trial (each a RUNNING trial with a "
            "heartbeat, completed when its evaluation ends) or auto (batch unless the "
            "study fine-tunes)"
        ),
    )

    @field_validator("backend", mode="before")
    @classmethod
    def _backend_shorthand(cls, v: Any) -> Any:
        """``backend: tpe`` is ``backend: {name: tpe}`` (also inside a list)."""
        if isinstance(v, str):
            return {"name": v}
        if isinstance(v, list):
            return [{"name": x} if isinstance(x, str) else x for x in v]
        return v

    # filled in by load_study_config: where the file was, the space's content
    source: str = ""
    space_data: dict[str, Any] = Field(default_factory=dict)
    space_root: str = ""

    def parsed_objectives(self) -> list[Objective]:
        return [
            parse_objective(o, f"{self.source}: field objectives.{i}")
            for i, o in enumerate(self.objectives)
        ]

    def parsed_constraints(self) -> list[Constraint]:
        return [
            parse_constraint(c, f"{self.source}: field constraints.{i}")
            for i, c in enumerate(self.constraints)
        ]

    @property
    def stages(self) -> list[BackendConfig]:
        """The back ends in the order they run (one unless ``backend:`` is a list)."""
        return list(self.backend) if isinstance(self.backend, list) else [self.backend]

    @property
    def backend_name(self) -> str:
        """``nsga2``, or ``tram+nsga2`` for a pipeline."""
        return "+".join(b.name for b in self.stages)

    def stored(self) -> dict[str, Any]:
        """The JSON form kept in the study's storage."""
        data = self.model_dump(mode="json")
        if data["power"]["liberty"] is None:  # studies on the default library store as before
            del data["power"]["liberty"], data["power"]["liberty_md5"]
        if data["record"] == "auto":  # so do studies that record the default way
            del data["record"]
        return data


def study_config_from_dict(
    data: Mapping[str, Any],
    *,
    where: str = "<study>",
    stem: str = "study",
    root: Path | None = None,
) -> StudyConfig:
    """Validate a study's content; resolve and embed its space."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: a study file must be a mapping, got {type(data).__name__}")
    try:
        cfg = StudyConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, where, model=StudyConfig)) from None
    cfg.source = where
    if cfg.name is None:
        cfg.name = stem
    if not cfg.space_data:
        root = root or Path.cwd()
        if isinstance(cfg.space, dict):
            cfg.space_data = dict(cfg.space)
            cfg.space_root = str(root.resolve())
        else:
            path = _resolve_space(cfg.space, root, where)
            cfg.space_data = read_yaml(path, "search space file") or {}
            cfg.space_data.setdefault("name", path.stem)
            cfg.space_root = str(path.parent.resolve())
    # objectives / constraints must parse and be computable with what the study gives
    objectives = cfg.parsed_objectives()
    constraints = cfg.parsed_constraints()
    needs_acc = [o.name for o in objectives if o.metric.stage == "accuracy"] + [
        c.metric.name for c in constraints if c.metric.stage == "accuracy"
    ]
    if needs_acc and not (cfg.model and cfg.data):
        field = (
            "objectives" if any(o.metric.stage == "accuracy" for o in objectives) else "constraints"
        )
        raise ConfigError(
            f"{where}: field {field}: {needs_acc[0]!r} is not computable without a network; "
            f"give model: and data: (e.g. model: cnn1d, data: mnist1d)"
        )
    if cfg.power.liberty is not None:
        _resolve_liberty(cfg, root or Path.cwd(), where)
    if cfg.power.distribution == "network" and not (cfg.model and cfg.data):
        raise ConfigError(f"{where}: field power.distribution: 'network' needs model: and data:")
    stages = cfg.stages
    for i, b in enumerate(stages):  # names from the back-end registry
        if b.name not in BACKENDS:
            loc = f"backend.{i}.name" if isinstance(cfg.backend, list) else "backend.name"
            raise ConfigError(f"{where}: field {loc}: {unknown_backend(b.name)}")
    if isinstance(cfg.backend, list):
        if not stages:
            raise ConfigError(f"{where}: field backend: give at least one back end")
        seen: set[str] = set()
        for i, b in enumerate(stages):
            if b.name in seen:
                raise ConfigError(
                    f"{where}: field backend.{i}.name: {b.name!r} appears twice; each back end "
                    f"may run once in a pipeline"
                )
            seen.add(b.name)
    elif cfg.backend.trials is not None:
        raise ConfigError(
            f"{where}: field backend.trials: a single back end uses budget.trials; "
            f"trials per back end are for a list of back ends"
        )
    names = [o.name for o in objectives]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: field objectives: each metric may appear once, got {names}")
    return cfg


def shipped_space_dirs() -> list[Path]:
    """The folders holding the search spaces that come with dse, in search order.

    From a checkout (a source tree or an editable install) they are the top-level
    ``search_spaces/`` beside the package; a wheel installs the same files as data
    files under ``share/dse/search_spaces`` of its installation (``[tool.setuptools.
    data-files]`` in pyproject.toml), looked up in the environment's and the user's
    data paths. Only existing folders are listed.
    """
    import sysconfig

    import dse

    places = [
        Path(dse.__file__).resolve().parents[1] / "search_spaces",
        Path(sysconfig.get_path("data")) / "share" / "dse" / "search_spaces",
    ]
    with contextlib.suppress(KeyError, AttributeError):  # no user scheme on this platform
        user = sysconfig.get_path("data", sysconfig.get_preferred_scheme("user"))
        places.append(Path(user) / "share" / "dse" / "search_spaces")
    return [p for p in dict.fromkeys(places) if p.is_dir()]


def _shown(path: Path) -> str:
    """A path for a message: normalised (no ``..``), relative to the working directory
    when it lies below it."""
    full = Path(os.path.abspath(path))
    try:
        return str(full.relative_to(Path.cwd())) or "."
    except ValueError:
        return str(full)


def _resolve_space(ref: str, root: Path, where: str) -> Path:
    """The file ``space: REF`` of a study file in folder ``root`` names.

    A path (``../search_spaces/x.yaml``, ``/abs/x.yaml``) is read from the study file's
    folder, never from the working directory, so a study means the same wherever it is
    run. A bare name (``mul8u_pp``) is ``NAME.yaml`` in ``search_spaces/`` beside the
    study file or its folder, else among the spaces shipped with dse; a file name
    without a folder (``x.yaml``) is looked for beside the study file first, then there.
    """
    is_path = "/" in ref or "\\" in ref
    is_file_name = ref.endswith((".yaml", ".yml"))
    if is_path or is_file_name:
        direct = root / ref
        if direct.is_file():
            return direct
        if is_path:
            raise ConfigError(
                f"{where}: field space: search space file {_shown(direct)} does not exist "
                f"(a relative path is read from the study file's folder)"
            )
    places = list(
        {
            _shown(d): d
            for d in (root / "search_spaces", root.parent / "search_spaces", *shipped_space_dirs())
        }.items()
    )
    file_name = ref if is_file_name else f"{ref}.yaml"
    for _, folder in places:
        if (folder / file_name).is_file():
            return folder / file_name
    looked = ([_shown(root)] if is_file_name else []) + [shown for shown, _ in places]
    raise ConfigError(
        f"{where}: field space: no search space {ref!r} ({file_name} is in none of: "
        f"{', '.join(looked)})"
    )


def _resolve_liberty(cfg: StudyConfig, root: Path, where: str) -> None:
    """``power.liberty`` as an absolute path (relative paths from the study's folder),
    read once here so a bad file is reported before any work, with its md5."""
    from dse.eval import CellLibrary, liberty_md5

    assert cfg.power.liberty is not None
    path = Path(cfg.power.liberty).expanduser()
    path = path if path.is_absolute() else (root / path)
    if not path.is_file():
        raise ConfigError(f"{where}: field power.liberty: no such file {path}")
    try:
        CellLibrary.from_liberty(path)
    except DseError as exc:
        raise ConfigError(f"{where}: field power.liberty: {exc}") from None
    cfg.power.liberty = str(path.resolve())
    cfg.power.liberty_md5 = liberty_md5(path)


def load_study_config(path: str | Path) -> StudyConfig:
    """Read and validate a study file; the study's name defaults to the file's stem."""
    p = Path(path)
    data = read_yaml(p, "study file")
    return study_config_from_dict(data or {}, where=str(p), stem=p.stem, root=p.parent)


def config_from_stored(data: Mapping[str, Any]) -> StudyConfig:
    """The config as stored in a study (no files are read)."""
    try:
        return StudyConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, "stored study config")) from None
