import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present beside the checkout")
    return SHARED


def have_tool(name: str) -> bool:
    return shutil.which(name) is not None


os.environ.setdefault("DSE_CACHE_DIR", str(REPO / ".cache" / "test"))
