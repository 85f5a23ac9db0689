"""numba, when it is installed and not disabled: the one switch every kernel module reads.

``DSE_NO_NUMBA=1`` turns the compiled kernels off so the numpy/Python reference paths run
(tests use it to check that the two agree). ``jit`` returns ``None`` without numba, so a
module can keep ``kernel = jit(fn)`` at import time and fall back where it is ``None``.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["HAVE_NUMBA", "jit", "kernels_cached"]

try:  # pragma: no cover - exercised by whichever environment runs the tests
    if os.environ.get("DSE_NO_NUMBA"):
        raise ImportError("disabled by DSE_NO_NUMBA")
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False


def jit(fn: Any, *, inline: bool = False, fastmath: set[str] | None = None) -> Any:
    """``numba.njit`` with the on-disk cache (``None`` without numba).

    ``inline=True`` inlines the function at numba's IR level, for small helpers that take
    arrays: a call of a compiled function pays reference counting on every array argument.
    ``fastmath`` is a set of LLVM fast-math flags (e.g. ``{"reassoc"}``) for the whole
    function: use it only where a float sum's order does not have to match a reference.
    """
    if not HAVE_NUMBA:
        return None
    if inline:
        return numba.njit(cache=True, nogil=True, inline="always")(fn)
    if fastmath:
        return numba.njit(cache=True, nogil=True, fastmath=fastmath)(fn)
    return numba.njit(cache=True, nogil=True)(fn)


def kernels_cached() -> bool:
    """Whether the evaluator's largest kernels are in numba's on-disk cache for the
    current sources (``True`` without numba, or where that cannot be told): when not,
    the first evaluation compiles them, which takes a while (the CLI says so).

    Reads numba's cache index the way numba does (``IndexDataCacheFile._load_index``:
    empty when missing, of another numba version, or stale for the source); any change
    in those internals answers ``True``, so the worst case is a missing notice.
    """
    if not HAVE_NUMBA:
        return True
    try:
        from dse.eval import _kernels as eval_kernels
        from dse.netlist import _kernels as netlist_kernels

        for kernel in (netlist_kernels.lower_kernel, eval_kernels.lut_metrics_kernel):
            if not kernel._cache._cache_file._load_index():
                return False
    except Exception:  # numba internals: never fail an evaluation over them
        return True
    return True
