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
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dse.errors import ConfigError, DseError
from dse.search._backends._factory import BACKENDS, unknown_backend
from dse.search._objectives import Constraint, Objective, parse_constraint, parse_objective
from dse.search._space_config import format_validation_error, read_yaml

__all__ = [
    "PYTHON_OBJECT",
    "DataConfig",
    "StudyConfig",
    "load_study_config",
    "study_config_from_dict",
]


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


class NormalizeConfig(_Strict):
    mean: list[float] = Field(min_length=1)
    std: list[float] = Field(min_length=1)


class DataConfig(_Strict):
    """``data:`` as a mapping; a bare string is ``{source: STRING}``."""

    source: str = Field(
        description="mnist1d, digits, cifar10:DIR, mnist:DIR, npz:FILE, imagefolder:DIR or "
        "FILE.py:FACTORY returning (train, test) datasets"
    )
    batch_size: int = Field(128, ge=1)
    num_workers: int = Field(0, ge=0, description="DataLoader worker processes")
    train_subset: int | None = Field(
        None, ge=1, description="training samples the fine-tune uses (a fixed random subset)"
    )
    normalize: NormalizeConfig | None = None


class LayersConfig(_Strict):
    """Which layers are approximated: globs over module names (``fnmatch``)."""

    include: list[str] = Field(default_factory=lambda: ["*"])
    exclude: list[str] = Field(default_factory=list)


#: ``model: python`` / ``data: python``: given as objects to dse.search.run / resume.
PYTHON_OBJECT = "python"

_DATA_PATH_KINDS = ("cifar10", "mnist", "npz", "imagefolder")


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
    model: str | None = Field(
        None,
        description="a built-in network, FILE.py:FACTORY, package.module:FACTORY, "
        "torchvision:NAME or timm:NAME",
    )
    weights: str | None = Field(None, description="a state-dict file (torch.save(m.state_dict()))")
    data: str | DataConfig | None = None
    layers: LayersConfig = Field(default_factory=LayersConfig)
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    # filled in when the study file is read: the SHA-256 of the weights file (or of the
    # weights of a model given from Python) and of a model file, so a resume notices a change
    weights_sha256: str | None = None
    model_sha256: str | None = None
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

    @field_validator("device")
    @classmethod
    def _device_form(cls, v: str) -> str:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", v):
            raise ValueError(f"expected auto, cpu, cuda or cuda:N, got {v!r}")
        return v

    @property
    def data_spec(self) -> str | None:
        """The data source (``data:`` or ``data.source``)."""
        return self.data.source if isinstance(self.data, DataConfig) else self.data

    @property
    def data_options(self) -> DataConfig | None:
        """``data:`` as a mapping (``None`` when no data is given)."""
        if self.data is None:
            return None
        if isinstance(self.data, DataConfig):
            return self.data
        return DataConfig.model_validate({"source": self.data})

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
        # and studies on a built-in network, its data given by name, on any device
        for key in ("weights", "weights_sha256", "model_sha256"):
            if data[key] is None:
                del data[key]
        if data["layers"] == LayersConfig().model_dump(mode="json"):
            del data["layers"]
        if data["device"] == "auto":
            del data["device"]
        if isinstance(data["data"], dict) and data["data"] == DataConfig.model_validate(
            {"source": data["data"]["source"]}
        ).model_dump(mode="json"):
            data["data"] = data["data"]["source"]
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
    _resolve_network(cfg, root or Path.cwd(), where)
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


def _is_path_spec(spec: str) -> tuple[str, str] | None:
    """``(prefix, path)`` of a spec that names a file or folder, else ``None``."""
    kind, sep, rest = spec.partition(":")
    if sep and rest and kind in _DATA_PATH_KINDS:
        return f"{kind}:", rest
    target, sep, attr = spec.rpartition(":")
    if sep and attr and target.endswith(".py"):
        return "", target
    return None


def _resolved(spec: str, root: Path) -> str:
    """A path spec with its relative path read from the study file's folder."""
    found = _is_path_spec(spec)
    if found is None:
        return spec
    prefix, path = found
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = root / p
    rest = spec[len(prefix) + len(path) :] if not prefix else ""
    return f"{prefix}{os.path.abspath(p)}{rest}"


def _resolve_network(cfg: StudyConfig, root: Path, where: str) -> None:
    """Model, weights and data paths from the study file's folder (as ``space:``), and
    the SHA-256 of the weights and model files, so a resume can tell a changed file.
    Files are only hashed here; they are read (with torch) when the network is built."""
    import hashlib

    def sha256(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    if cfg.model and cfg.model != PYTHON_OBJECT:
        cfg.model = _resolved(cfg.model, root)
        found = _is_path_spec(cfg.model)
        if found is not None:
            path = Path(found[1])
            if not path.is_file():
                raise ConfigError(f"{where}: field model: model file {_shown(path)} does not exist")
            cfg.model_sha256 = sha256(path)
    if cfg.weights:
        if cfg.model == PYTHON_OBJECT:
            raise ConfigError(
                f"{where}: field weights: a model given from Python carries its own weights"
            )
        path = Path(cfg.weights).expanduser()
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise ConfigError(f"{where}: field weights: weights file {_shown(path)} does not exist")
        cfg.weights = os.path.abspath(path)
        cfg.weights_sha256 = sha256(path)
    if isinstance(cfg.data, DataConfig):
        cfg.data.source = _resolved(cfg.data.source, root)
    elif cfg.data and cfg.data != PYTHON_OBJECT:
        cfg.data = _resolved(cfg.data, root)


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
