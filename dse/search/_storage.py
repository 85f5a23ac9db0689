"""Storage: the one factory from a URL string to an Optuna storage, and trial recording.

* no URL: ``sqlite:///dse-studies.db`` in the working directory (embedded, nothing to
  start);
* any SQLAlchemy URL (``sqlite:///``, ``postgresql://``, ``mysql+pymysql://``; a URL
  without a driver gets the first installed one, see :data:`_DRIVERS`)
  → :class:`optuna.storages.RDBStorage` with heartbeats, so a killed worker's RUNNING
  trial is marked FAIL by the next live worker (or by ``dse resume``) and, for the
  Optuna samplers, its parameters re-queued;
* ``journal:PATH`` or a path ending in ``.log`` / ``.journal`` → an Optuna journal file
  (many workers on one host; no heartbeats: ``dse resume`` fails left-over RUNNING
  trials itself).

Every evaluation is one trial: params (the genome as Optuna parameters), values,
constraints (``trial.set_constraint``), user attrs (genome, structural hash, hardware
figures, accuracies, fine-tune settings, seed, back end).
"""

from __future__ import annotations

import contextlib
import datetime
import math
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dse.errors import ConfigError, StudyStateError

if TYPE_CHECKING:
    import optuna

    from dse.search._objectives import Evaluation

__all__ = [
    "DEFAULT_STORAGE",
    "StaleTrialRequeue",
    "create_running_trial",
    "fail_stale",
    "finish_trial",
    "open_storage",
    "redact",
]

DEFAULT_STORAGE = "sqlite:///dse-studies.db"
_MEMORY: dict[str, Any] = {}


def redact(url: str) -> str:
    """The URL without its password."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def _is_journal(url: str) -> bool:
    return url.startswith("journal:") or url.endswith((".log", ".journal"))


class StaleTrialRequeue:
    """Heartbeat-stale callback: re-enqueue the failed trial's parameters (WAITING).

    Like :class:`optuna.storages.RetryHeartbeatStaleTrialCallback`, but only for back
    ends that pop WAITING trials (the Optuna samplers). The pymoo back end re-proposes
    the lost candidate itself from its checkpoint, so it is not queued twice.
    """

    def __init__(self, max_retry: int = 3) -> None:
        self.max_retry = max_retry

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        import optuna

        if str(trial.user_attrs.get("backend", "")).startswith("pymoo"):
            return
        history = [*trial.system_attrs.get("dse:retry_history", []), trial.number]
        if len(history) > self.max_retry:
            return
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        # keep the retry history on the queued trial
        waiting = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
        if waiting:
            study._storage.set_trial_system_attr(
                waiting[-1]._trial_id, "dse:retry_history", history
            )


def open_storage(
    url: str | None,
    *,
    heartbeat_interval: int | None = 10,
    grace_period: int | None = None,
    where: str = "storage",
    must_exist: bool = False,
) -> Any:
    """A storage object for ``url`` (see the module docstring); raises :class:`ConfigError`
    naming the URL when it cannot be reached.

    ``must_exist``: for commands that only read (status, pareto, plot, export): a SQLite
    or journal file that does not exist is a :class:`StudyStateError` instead of a new,
    empty storage (opening one creates the file, so a typo in ``--storage`` would leave a
    stray database behind and report "no studies").
    """
    import optuna

    url = url or DEFAULT_STORAGE
    if not isinstance(url, str):
        raise ConfigError(f"{where}: expected a URL string, got {url!r}")
    if must_exist:
        missing = _missing_file(url)
        if missing is not None:
            raise StudyStateError(  # the URL names the file
                f"no study storage at {redact(url)} (the file does not exist); "
                f"run 'dse run STUDY.yaml' first or give --storage"
            )
    if url == "memory:":  # one process only (tests, benchmarks)
        if url not in _MEMORY:
            _MEMORY[url] = optuna.storages.InMemoryStorage()
        return _MEMORY[url]
    if _is_journal(url):
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        path = url[len("journal:") :] if url.startswith("journal:") else url
        try:
            backend = JournalFileBackend(path, lock_obj=JournalFileOpenLock(path))
        except OSError as exc:
            raise ConfigError(f"{where}: journal file {path!r} cannot be opened: {exc}") from None
        return optuna.storages.JournalStorage(backend)
    if "://" not in url:
        raise ConfigError(f"{where}: {url!r} is not a storage URL; expected {_EXPECTED}")
    given = redact(url)  # messages show the URL as the user wrote it
    url, driver = _with_driver(url, where)
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 120}}
    elif url.startswith(("postgresql", "mysql")):
        engine_kwargs = {"pool_pre_ping": True}
        if driver in ("psycopg2", "psycopg", "mysqldb", "pymysql"):  # pg8000 names it 'timeout'
            engine_kwargs["connect_args"] = {"connect_timeout": 10}
    kwargs: dict[str, Any] = {}
    if heartbeat_interval:
        kwargs = {
            "heartbeat_interval": int(heartbeat_interval),
            "grace_period": int(grace_period or 3 * heartbeat_interval),
            "heartbeat_stale_trial_callback": StaleTrialRequeue(),
        }
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
        if url.startswith("sqlite"):
            _sqlite_pragmas(storage)
        return storage
    except Exception as exc:  # sqlalchemy raises many kinds; all mean "cannot use this URL"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{where}: storage URL {given!r} is unreachable: {first}") from None


#: The storage URL forms, for messages.
_EXPECTED = "sqlite:///PATH, postgresql://..., mysql+pymysql://..., journal:PATH"

#: DB-API drivers per database, in order of preference: (SQLAlchemy's name for the
#: driver, the module to import, the package that provides it). A URL without a driver
#: (``postgresql://``) gets the first one installed: SQLAlchemy's own default (psycopg 3
#: since SQLAlchemy 2.1, psycopg2 before) may be missing while another one is there.
_DRIVERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "postgresql": (
        ("psycopg2", "psycopg2", "psycopg2-binary"),
        ("psycopg", "psycopg", "psycopg[binary]"),
        ("pg8000", "pg8000", "pg8000"),
    ),
    "mysql": (("mysqldb", "MySQLdb", "mysqlclient"), ("pymysql", "pymysql", "PyMySQL")),
}
_DATABASE_NAMES = {"postgresql": "PostgreSQL", "mysql": "MySQL"}


def _with_driver(url: str, where: str) -> tuple[str, str]:
    """``url`` with an installed DB-API driver, and that driver's name ("" for others).

    An unknown scheme (``postgress://``) is a :class:`ConfigError` saying so, rather
    than the "unreachable" of a server that is down. ``postgres://`` (the spelling of
    Heroku and Docker URLs, which SQLAlchemy no longer accepts) means ``postgresql://``.
    """
    import importlib.util

    from sqlalchemy.dialects import registry
    from sqlalchemy.exc import NoSuchModuleError

    scheme, rest = url.split("://", 1)
    dialect, _, driver = scheme.partition("+")
    if dialect == "postgres":
        dialect = "postgresql"
    try:
        registry.load(f"{dialect}.{driver}" if driver else dialect)
    except NoSuchModuleError:
        if driver and dialect in _DRIVERS:
            known = ", ".join(f"{dialect}+{d}" for d, _, _ in _DRIVERS[dialect])
            raise ConfigError(
                f"{where}: unknown driver {driver!r} in storage scheme {scheme!r}; "
                f"expected {dialect}:// or one of {known}"
            ) from None
        raise ConfigError(
            f"{where}: unknown storage scheme {scheme!r}; expected {_EXPECTED}"
        ) from None
    if driver or dialect not in _DRIVERS:
        return f"{dialect}{'+' + driver if driver else ''}://{rest}", driver
    for name, module, _ in _DRIVERS[dialect]:
        if importlib.util.find_spec(module) is not None:
            return f"{dialect}+{name}://{rest}", name
    packages = " or ".join(package for _, _, package in _DRIVERS[dialect])
    extra = " (pip install 'dse[postgres]')" if dialect == "postgresql" else ""
    raise ConfigError(
        f"{where}: storage URL {redact(url)!r} is unreachable: no {_DATABASE_NAMES[dialect]} "
        f"driver is installed; install {packages}{extra}"
    )


def _missing_file(url: str) -> str | None:
    """The file a SQLite or journal URL names when it does not exist, else ``None``
    (also for in-memory SQLite and for server URLs, which name no local file)."""
    if url == "memory:":
        return None
    if _is_journal(url):
        path = url[len("journal:") :] if url.startswith("journal:") else url
    elif url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        try:
            path = make_url(url).database or ""
        except Exception:  # a malformed URL: open_storage reports it
            return None
        if path in ("", ":memory:") or path.startswith("file::memory:"):
            return None
    else:
        return None
    return None if Path(path).exists() else path


def _sqlite_pragmas(storage: Any) -> None:
    """WAL journal and normal sync: readers do not block the writer, and a commit does
    not wait for an fsync of the whole file (a crash loses at most the last commit)."""
    from sqlalchemy import event

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    event.listen(storage.engine, "connect", on_connect)
    storage.engine.dispose()


def create_running_trial(
    study: optuna.Study,
    params: Mapping[str, Any],
    distributions: Mapping[str, Any],
    user_attrs: Mapping[str, Any] | None = None,
    system_attrs: Mapping[str, Any] | None = None,
) -> optuna.trial.Trial:
    """A new RUNNING trial with fixed parameters, created in one storage call.

    Race-free across processes (unlike enqueue + ask, which pops *any* waiting trial).
    """
    import optuna
    from optuna.trial import FrozenTrial, TrialState

    template = FrozenTrial(
        number=-1,
        state=TrialState.RUNNING,
        value=None,
        datetime_start=datetime.datetime.now(),
        datetime_complete=None,
        params=dict(params),
        distributions=dict(distributions),
        user_attrs=dict(user_attrs or {}),
        system_attrs=dict(system_attrs or {}),
        intermediate_values={},
        trial_id=-1,
    )
    backend = getattr(study._storage, "_backend", study._storage)
    fast = _bulk_params_supported(backend)
    if fast:  # the params in one INSERT batch, not a compatibility query per parameter
        template.params, template.distributions = {}, {}
    trial_id = study._storage.create_new_trial(study._study_id, template_trial=template)
    if fast:
        _bulk_params(backend, trial_id, params, distributions)
    return optuna.trial.Trial(study, trial_id)


def _bulk_params_supported(backend: Any) -> bool:
    try:
        from optuna.storages._rdb import models  # noqa: F401
        from optuna.storages._rdb.storage import RDBStorage
    except ImportError:  # pragma: no cover - optuna internals moved
        return False
    return isinstance(backend, RDBStorage)


def _bulk_params(
    backend: Any, trial_id: int, params: Mapping[str, Any], distributions: Mapping[str, Any]
) -> None:
    """Insert a trial's parameters at once. The distributions are those of the study's
    space (checked by the space fingerprint), so Optuna's per-parameter compatibility
    query against earlier trials is not needed."""
    from optuna.distributions import distribution_to_json
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    with _create_scoped_session(backend.scoped_session, True) as session:
        session.add_all(
            [
                models.TrialParamModel(
                    trial_id=trial_id,
                    param_name=name,
                    param_value=distributions[name].to_internal_repr(value),
                    distribution_json=distribution_to_json(distributions[name]),
                )
                for name, value in params.items()
            ]
        )


def finish_trial(study: optuna.Study, trial: optuna.trial.Trial, evaluation: Evaluation) -> None:
    """Write an evaluation's attrs and constraints into a RUNNING trial and complete it.

    On an RDB storage the attributes and constraints go in one transaction (instead of
    one commit each); ``study.tell`` then completes the trial (sampler hooks included).
    """
    user = {k: _jsonable(v) for k, v in evaluation.attrs.items()}
    constraints = {f"constraints:{k}": float(v) for k, v in evaluation.constraints.items()}
    if not _batch_attrs(study, trial._trial_id, user, constraints):
        for key, value in user.items():
            trial.set_user_attr(key, value)
        for key, value in evaluation.constraints.items():
            trial.set_constraint(key, float(value))
    values = [float(v) if math.isfinite(v) else 1e12 for v in evaluation.values]
    study.tell(trial, values)


def _batch_attrs(
    study: Any, trial_id: int, user: Mapping[str, Any], system: Mapping[str, Any]
) -> bool:
    try:
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import RDBStorage, _create_scoped_session
    except ImportError:  # pragma: no cover - optuna internals moved
        return False
    backend = getattr(study._storage, "_backend", study._storage)
    if not isinstance(backend, RDBStorage) or not hasattr(
        backend, "_set_trial_attr_without_commit"
    ):
        return False
    with _create_scoped_session(backend.scoped_session, True) as session:
        for key, value in user.items():
            backend._set_trial_attr_without_commit(
                session, models.TrialUserAttributeModel, trial_id, key, value
            )
        for key, value in system.items():
            backend._set_trial_attr_without_commit(
                session, models.TrialSystemAttributeModel, trial_id, key, value
            )
    return True


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def fail_stale(study: optuna.Study, *, wait: bool = False, all_running: bool = False) -> list[int]:
    """Mark trials of dead workers FAIL; returns their numbers.

    With heartbeats (RDB storages) a RUNNING trial is stale once its heartbeat is older
    than the grace period; ``wait=True`` waits up to one grace period for the trials of
    a just-killed worker to become stale. Without heartbeats (journal files) only
    ``all_running=True`` fails them (used by ``dse resume``, which assumes no other
    worker is running).
    """
    import optuna
    from optuna.storages._heartbeat import is_heartbeat_enabled
    from optuna.trial import TrialState

    storage = study._storage
    before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    if is_heartbeat_enabled(storage):
        rdb: Any = getattr(storage, "_backend", storage)
        grace = rdb.grace_period or 2 * rdb.heartbeat_interval
        deadline = time.monotonic() + (grace + rdb.heartbeat_interval + 1 if wait else 0)
        while True:
            optuna.storages.fail_stale_trials(study)
            running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if not running or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
    elif all_running:
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
            study._storage.set_trial_system_attr(t._trial_id, "dse:failed_by", "resume")
    after = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    return sorted(after - before)


def load_study(name: str, storage: Any, *, url: str = "") -> optuna.Study:
    """Load a study by name; :class:`StudyStateError` lists the studies there if missing."""
    import optuna

    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise StudyStateError(
            f"no study {name!r} in {redact(url) or 'the storage'}; studies there: {', '.join(names) or 'none'}"
        ) from None
