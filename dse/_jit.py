"""numba, when it is installed and not disabled: the one switch every kernel module reads.

``DSE_NO_NUMBA=1`` turns the compiled kernels off so the numpy/Python reference paths run
(tests use it to check that the two agree). ``jit`` returns ``None`` without numba, so a
module can keep ``kernel = jit(fn)`` at import time and fall back where it is ``None``.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["HAVE_NUMBA", "jit"]

try:  # pragma: no cover - exercised by whichever environment runs the tests
    if os.environ.get("DSE_NO_NUMBA"):
        raise ImportError("disabled by DSE_NO_NUMBA")
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False


def jit(
    fn: Any, *, inline: bool = False, fastmath: set[str] | None = None, parallel: bool = False
) -> Any:
    """``numba.njit`` with the on-disk cache (``None`` without numba).

    ``inline=True`` inlines the function at numba's IR level, for small helpers that take
    arrays: a call of a compiled function pays reference counting on every array argument.
    ``fastmath`` is a set of LLVM fast-math flags (e.g. ``{"reassoc"}``) for the whole
    function: use it only where a float sum's order does not have to match a reference.
    ``parallel=True`` runs the function's ``numba.prange`` loops on numba's threads.
    """
    if not HAVE_NUMBA:
        return None
    if inline:
        return numba.njit(cache=True, nogil=True, inline="always")(fn)
    if fastmath:
        return numba.njit(cache=True, nogil=True, fastmath=fastmath, parallel=parallel)(fn)
    return numba.njit(cache=True, nogil=True, parallel=parallel)(fn)
