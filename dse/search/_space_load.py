"""Reading a search space from its YAML file or content."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dse.errors import ConfigError
from dse.search._library_space import LibrarySpace
from dse.search._space import Space
from dse.search._space_config import (
    LibrarySpaceConfig,
    format_validation_error,
    read_yaml,
    structure_space_model,
)
from dse.search._structure_space import StructureSpace

__all__ = ["load_space", "space_from_dict"]


def space_from_dict(
    data: Mapping[str, Any],
    *,
    where: str = "<space>",
    name: str | None = None,
    root: Path | None = None,
) -> Space:
    """Build a space from its YAML content (``where`` names the file in error messages)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: a search space must be a mapping, got {type(data).__name__}")
    library = data.get("kind", "structure") == "library"
    try:
        if library:
            lib = LibrarySpaceConfig.model_validate(data)
            return LibrarySpace(lib, name=lib.name or name or "space", where=where, root=root)
        cfg: Any = structure_space_model().model_validate(data)
    except ValidationError as exc:
        model = LibrarySpaceConfig if library else structure_space_model()
        raise ConfigError(format_validation_error(exc, where, model=model)) from None
    return StructureSpace(cfg, name=cfg.name or name or "space", where=where)


def load_space(path: str | Path) -> Space:
    """Read and validate ``search_spaces/NAME.yaml``."""
    p = Path(path)
    data = read_yaml(p, "search space file")
    return space_from_dict(data or {}, where=str(p), name=p.stem, root=p.parent)
