import pytest

pytest.importorskip("torch")


@pytest.fixture(scope="session", autouse=True)
def _dse_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A private cache so tests never read or write ~/.cache/dse."""
    import os

    path = tmp_path_factory.mktemp("dse-cache")
    old = os.environ.get("DSE_CACHE_DIR")
    os.environ["DSE_CACHE_DIR"] = str(path)
    yield
    if old is None:
        os.environ.pop("DSE_CACHE_DIR", None)
    else:
        os.environ["DSE_CACHE_DIR"] = old


@pytest.fixture(autouse=True)
def _threads() -> None:
    import torch

    # one thread: with other jobs on a 2-core machine, two OpenMP threads spin-wait badly
    torch.set_num_threads(1)
