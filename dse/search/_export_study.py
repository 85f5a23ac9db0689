"""A study's designs as bundles: per trial a folder with each design's files and the
trial's figures (``metrics.json``), read from the study's storage alone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dse.design import as_design
from dse.errors import ConfigError, StudyStateError
from dse.export import ExportFormat, export_designs, export_format
from dse.search._front import pareto_trials
from dse.search._genome import Genome
from dse.search._summary import load_stored_study, space_of, stored_config

__all__ = ["export_study"]


def export_study(
    name: str,
    out_dir: str | Path,
    *,
    storage: str | None = None,
    trial: int | None = None,
    pareto: bool = False,
    formats: Sequence[str | ExportFormat] = ("verilog",),
    check: bool = True,
) -> list[Path]:
    """Write trial ``trial`` of study ``name``, or every design on its Pareto front
    (``pareto=True``), one bundle per trial: ``OUT/trial_NNNNN/`` holds each layer
    group's design in ``formats`` (each read back and checked, see
    :func:`~dse.export.export_designs`), its product table as ``.npy`` and
    ``metrics.json`` (objective values, constraints, genome, parameters, stored figures).

    Returns:
        The bundle folders.
    """
    if (trial is None) == (not pareto):
        raise ConfigError("export_study: give exactly one of trial=N or pareto=True")
    forms = [export_format(f) for f in (*formats, "npy")]
    study = load_stored_study(name, storage)
    cfg = stored_config(study)
    space = space_of(cfg)
    if pareto:
        trials = list(pareto_trials(study))
    else:
        found = [t for t in study.get_trials(deepcopy=False) if t.number == trial]
        if not found:
            raise StudyStateError(f"study {name!r} has no trial {trial}")
        if found[0].state.name != "COMPLETE":
            raise StudyStateError(
                f"trial {trial} of study {name!r} is {found[0].state.name}, not COMPLETE"
            )
        trials = found
    objectives = [o.name for o in cfg.parsed_objectives()]
    bundles = []
    for t in trials:
        decoded = space.decode(Genome.from_json(t.user_attrs["genome"]))
        designs = [
            as_design(item, name=f"{name}_t{t.number}" + (f"_{group}" if len(decoded) > 1 else ""))
            for item, group in zip(decoded, space.group_names, strict=True)
        ]
        bundle = Path(out_dir) / f"trial_{t.number:05d}"
        export_designs(designs, bundle, forms, check=check)
        (bundle / "metrics.json").write_text(
            json.dumps(_metrics(name, t, objectives), indent=1, default=str) + "\n"
        )
        bundles.append(bundle)
    return bundles


def _metrics(name: str, t: Any, objectives: list[str]) -> dict[str, Any]:
    return {
        "study": name,
        "trial": t.number,
        "values": dict(zip(objectives, t.values, strict=True)),
        "constraints": dict(t.constraints),
        "genome": t.user_attrs.get("genome"),
        "params": t.params,
        **{k: v for k, v in t.user_attrs.items() if k != "genome"},
    }
