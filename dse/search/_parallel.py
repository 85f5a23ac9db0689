"""Worker processes of a run, and stopping cleanly on SIGINT/SIGTERM.

``dse run --workers K`` starts K ``dse worker`` processes (the same command any
machine runs against the study's storage) and watches them: a worker that dies is
reported with its exit code, and stopping the run stops them. A worker needs only
the study's name and storage URL; it reads everything else from the storage.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from dse.errors import StudyStateError
from dse.search._devices import device_for_worker

__all__ = ["HOOK_ENV", "PARENT_ENV", "Stopped", "WorkerPool", "stop_on_signals"]

#: Environment of a worker a run started: the run's process id (a worker whose
#: parent is gone stops) and its evaluation hook, pickled (tests' slow evaluations).
PARENT_ENV = "DSE_WORKER_PARENT"
HOOK_ENV = "DSE_WORKER_ON_EVALUATE"

#: Seconds a worker gets to leave after SIGTERM before it is killed.
_GRACE_S = 3.0


class Stopped(KeyboardInterrupt):
    """SIGTERM (or SIGINT) arrived: raised in the main thread, like Ctrl-C, so that
    ``except Exception`` blocks let it through and ``finally`` blocks clean up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT raise :class:`Stopped` in the main thread
    (a no-op elsewhere: Python delivers signals to the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Stopped(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class WorkerPool:
    """``count`` ``dse worker`` processes on study ``name`` in storage ``url``.

    ``devices``: worker ``i`` gets ``--device devices[i % len(devices)]``;
    ``threads``, ``trials``, ``timeout``: passed on; ``on_evaluate``: the run's
    evaluation hook, pickled into the workers' environment.
    """

    def __init__(
        self,
        name: str,
        url: str,
        count: int,
        *,
        devices: Sequence[str] | None = None,
        threads: int | None = None,
        trials: int | None = None,
        timeout: float | None = None,
        on_evaluate: Callable[[Any], None] | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.count = count
        self.devices = list(devices or [])
        self.threads = threads
        self.trials = trials
        self.timeout = timeout
        self.on_evaluate = on_evaluate
        self.procs: list[subprocess.Popen[bytes]] = []
        self._stopping = False
        self._signalled: set[int] = set()  # pids this pool stopped itself

    def command(self, index: int) -> list[str]:
        """The command line of worker ``index``."""
        cmd = [sys.executable, "-m", "dse", "worker", self.name, "--storage", self.url]
        cmd += ["--index", str(index)]
        device = device_for_worker(self.devices, index)
        if device is not None:
            cmd += ["--device", device]
        if self.threads is not None:
            cmd += ["--threads", str(self.threads)]
        if self.trials is not None:
            cmd += ["--trials", str(self.trials)]
        if self.timeout is not None:
            cmd += ["--timeout", str(self.timeout)]
        return cmd

    def start(self) -> None:
        env = dict(os.environ)
        # the workers import what this process imports (this checkout, a hook's module)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        env[PARENT_ENV] = str(os.getpid())
        if self.on_evaluate is not None:
            env[HOOK_ENV] = base64.b64encode(pickle.dumps(self.on_evaluate)).decode()
        for k in range(self.count):
            self.procs.append(subprocess.Popen(self.command(k), env=env, stdin=subprocess.DEVNULL))

    def alive(self) -> int:
        return sum(p.poll() is None for p in self.procs)

    def crashed(self) -> list[tuple[int, subprocess.Popen[bytes]]]:
        """Workers that ended with a non-zero code before the run asked them to stop."""
        return [
            (k, p)
            for k, p in enumerate(self.procs)
            if p.returncode not in (0, None) and p.pid not in self._signalled
        ]

    def check(self) -> None:
        """Raise when every worker has ended and one crashed (nobody is left to evaluate)."""
        if self.procs and self.alive() == 0 and not self._stopping:
            self.raise_for_crashes()
            raise StudyStateError(
                f"every worker of study {self.name!r} ended before the run; "
                f"'dse resume {self.name}' continues the study"
            )

    def wait(self, tick: Callable[[], None]) -> None:
        """Until every worker has ended (``tick`` twice a second)."""
        while self.alive():
            time.sleep(0.5)
            tick()

    def stop(self, leave_s: float = 0.0) -> None:
        """SIGTERM to each live worker; those still there after a grace period are killed.
        ``leave_s``: seconds the workers get first to leave on their own (they do once
        the study is done)."""
        end = time.monotonic() + leave_s
        while self.alive() and time.monotonic() < end:
            time.sleep(0.05)
        self._stopping = self._stopping or self.alive() > 0
        live = [p for p in self.procs if p.poll() is None]
        for p in live:
            self._signalled.add(p.pid)
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        end = time.monotonic() + _GRACE_S
        for p in live:
            try:
                p.wait(timeout=max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def raise_for_crashes(self) -> None:
        """A :class:`StudyStateError` naming the first worker that crashed."""
        bad = self.crashed()
        if bad:
            k, p = bad[0]
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            raise StudyStateError(
                f"worker {k} (pid {p.pid}) of study {self.name!r} exited with code "
                f"{p.returncode}{more}; 'dse resume {self.name}' continues the study"
            )
