"""Evaluating a population in parallel with joblib (one trial per evaluation).

Each worker process reopens the study from the storage URL (its configuration is
stored there), creates its own RUNNING trial with a heartbeat, evaluates and
completes it; the driver gets ``(values, constraints)`` back in population order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

__all__ = ["evaluate_population"]

_SESSIONS: dict[tuple[str, str], Any] = {}


def _task(
    url: str, name: str, values: Sequence[int], generation: int, backend: str
) -> tuple[list[float], dict[str, float]]:
    from dse.search._genome import Genome
    from dse.search._study import open_session

    key = (url, name)
    os.environ["DSE_SEARCH_WORKER"] = "1"
    if key not in _SESSIONS:
        _SESSIONS[key] = open_session(name, url, trials=None, timeout=None)
    session = _SESSIONS[key]
    ev = session.evaluate_and_record(
        Genome.of(values),
        backend=backend,
        user_attrs={"generation": generation},
        system_attrs={"NSGAIISampler:generation": generation - 1},
    )
    return ev.values, ev.constraints


def evaluate_population(
    session: Any, genomes: Sequence[Any], *, generation: int, backend: str
) -> list[tuple[list[float], dict[str, float]]]:
    """Evaluate and record ``genomes`` with ``session.workers`` processes.

    Returns the results of a prefix of ``genomes``: shorter when the session's time
    limit passes between two evaluations.
    """
    if not genomes:
        return []
    if session.workers <= 1 or len(genomes) == 1:
        out = []
        for g in genomes:
            if session.time_up():
                break  # the time limit holds between evaluations, not only between generations
            ev = session.evaluate_and_record(
                g,
                backend=backend,
                user_attrs={"generation": generation},
                system_attrs={"NSGAIISampler:generation": generation - 1},
            )
            out.append((ev.values, ev.constraints))
        return out
    from joblib import Parallel, delayed

    results = []
    parallel = Parallel(n_jobs=session.workers, backend="loky", return_as="generator")
    for res in parallel(
        delayed(_task)(session.storage_url, session.study_name, list(g.values), generation, backend)
        for g in genomes
    ):
        results.append(res)
        session.recorded += 1
        session.notify()
        if session.time_up():
            # leaving the generator cancels the tasks not yet started; those already
            # running finish and record their trials, which a resume reads back
            break
    return results
