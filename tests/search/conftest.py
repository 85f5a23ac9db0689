from __future__ import annotations

import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SPACES = REPO / "search_spaces"


@pytest.fixture
def unique_name() -> str:
    return "t_" + uuid.uuid4().hex[:10]


@pytest.fixture
def pp_space():
    from dse.search import load_space

    return load_space(SPACES / "mul8u_pp.yaml")


@pytest.fixture
def small_space(tmp_path: Path):
    """A 4x4 unsigned space: fast to evaluate, large enough to search."""
    from dse.search import load_space

    p = tmp_path / "mul4u.yaml"
    p.write_text(
        "name: mul4u\n"
        "base: {generator: dadda, width: 4}\n"
        "knobs:\n"
        "  prune: {}\n"
        "  truncate: {low: 0, high: 3}\n"
        "  cells:\n"
        "    options: {fa: [zero.sum, zero.cout, ama1], ha: [zero.cout]}\n"
    )
    return load_space(p)
