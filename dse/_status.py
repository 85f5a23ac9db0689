"""Status lines for the slow one-off steps a command takes before its progress bar.

Generating a data set, training a float baseline, compiling the evaluator's kernels and
measuring the exact design each take seconds to a minute, once; without a word the
user cannot tell a working command from a hung one. Library code announces such a
step with :func:`step`; the messages go to the ``dse`` logger, which is silent unless
someone listens (the ``dse`` command installs a stderr handler: :func:`to_stderr`),
so library users and tests see nothing they did not ask for.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["note", "step", "to_stderr"]

_LOG = logging.getLogger("dse")
_LOG.addHandler(logging.NullHandler())
# a step shorter than this gets no closing "done" line (it would be noise)
_QUIET_BELOW_S = 2.0


def note(message: str, *args: object) -> None:
    """One status line (``%``-style ``args`` as in :mod:`logging`)."""
    _LOG.info(message, *args)


@contextmanager
def step(message: str) -> Iterator[None]:
    """Announce a slow step (``message`` says what and, where known, how long), and
    say when it is done if it took more than a couple of seconds."""
    _LOG.info("%s ...", message)
    start = time.perf_counter()
    yield
    elapsed = time.perf_counter() - start
    if elapsed >= _QUIET_BELOW_S:
        _LOG.info("%s: done in %.0f s", message.split(" (")[0], elapsed)


class _StderrHandler(logging.Handler):
    """Writes to the *current* ``sys.stderr`` (pytest and click swap it per call)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # a closed stream must never fail the work it reports on
            self.handleError(record)


def to_stderr() -> None:
    """Print the ``dse`` logger's status lines on stderr as ``dse: ...`` (idempotent)."""
    if any(isinstance(h, _StderrHandler) for h in _LOG.handlers):
        return
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("dse: %(message)s"))
    _LOG.addHandler(handler)
    _LOG.setLevel(logging.INFO)
    _LOG.propagate = False
