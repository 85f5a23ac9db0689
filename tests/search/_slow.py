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


class StallAt:
    """At the ``n``-th evaluation of this process, write ``marker`` and stall (a process
    to be killed in the middle of a batch); every evaluation first sleeps ``seconds``."""

    def __init__(self, n: int, marker: str, seconds: float = 0.0) -> None:
        self.n = n
        self.marker = marker
        self.seconds = seconds
        self.count = 0

    def __call__(self, genome: Any) -> None:
        from pathlib import Path

        self.count += 1
        time.sleep(self.seconds)
        if self.count == self.n:
            Path(self.marker).write_text(str(self.count))
            time.sleep(600)


class FailAt:
    """Raise ``RuntimeError(message)`` at the ``n``-th evaluation of this process."""

    def __init__(self, n: int, message: str) -> None:
        self.n = n
        self.message = message
        self.count = 0

    def __call__(self, genome: Any) -> None:
        self.count += 1
        if self.count == self.n:
            raise RuntimeError(self.message)
