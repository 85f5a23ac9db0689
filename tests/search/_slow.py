"""An evaluation hook for tests that need a trial to stay RUNNING for a while (a worker
process unpickles it, so it lives in a module of its own)."""

from __future__ import annotations

import time
from typing import Any


class Delay:
    """Sleep ``seconds`` before each evaluation."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self, genome: Any) -> None:
        time.sleep(self.seconds)


class Exit:
    """End the evaluating process at once with ``code`` (a worker that crashes)."""

    def __init__(self, code: int) -> None:
        self.code = code

    def __call__(self, genome: Any) -> None:
        import os

        os._exit(self.code)
