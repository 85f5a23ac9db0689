from __future__ import annotations

import os
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


SMALL_SPACE = (
    "name: mul4u\n"
    "base: {generator: dadda, width: 4}\n"
    "knobs:\n"
    "  prune: {}\n"
    "  truncate: {low: 0, high: 3}\n"
    "  cells:\n"
    "    options: {fa: [zero.sum, zero.cout, ama1], ha: [zero.cout]}\n"
)


def write_study(
    tmp_path: Path,
    name: str,
    *,
    backend: str = "nsga2",
    options: str = "{population_size: 8}",
    trials: int = 24,
    seed: int = 0,
    extra: str = "",
    space: str | None = None,
) -> Path:
    """A hardware-only study file over a 4x4 space (fast), with short heartbeats."""
    sp = tmp_path / "mul4u.yaml"
    if not sp.exists():
        sp.write_text(SMALL_SPACE)
    p = tmp_path / f"{name}.yaml"
    p.write_text(
        f"name: {name}\n"
        f"space: {space or 'mul4u.yaml'}\n"
        "objectives: [power_uw, nmed]\n"
        "constraints: ['nmed <= 0.08']\n"
        f"backend: {{name: {backend}, options: {options}}}\n"
        f"budget: {{trials: {trials}}}\n"
        f"seed: {seed}\n"
        "storage: {heartbeat_interval: 1, grace_period: 2}\n" + extra
    )
    return p


@pytest.fixture
def make_study(tmp_path: Path):
    """``make_study(name, **kw) -> Path`` writing a hardware-only 4x4 study file."""

    def make(name: str, **kw: object) -> Path:
        return write_study(tmp_path, name, **kw)  # type: ignore[arg-type]

    return make


@pytest.fixture
def postgres_url() -> str:
    """The test PostgreSQL server's URL (``DSE_TEST_POSTGRES_URL``); skips without one."""
    url = os.environ.get("DSE_TEST_POSTGRES_URL", "")
    if not url:
        pytest.skip("DSE_TEST_POSTGRES_URL is not set")
    try:
        import sqlalchemy

        sqlalchemy.create_engine(url, connect_args={"connect_timeout": 3}).connect().close()
    except Exception as exc:  # unreachable server: skip, as documented
        pytest.skip(f"PostgreSQL at DSE_TEST_POSTGRES_URL is unreachable: {exc}")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A study storage of each RDB kind: an SQLite file, then the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    return str(request.getfixturevalue("postgres_url"))
