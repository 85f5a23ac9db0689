"""Storage: the one factory from a URL string to an Optuna storage.

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
constraints, user attrs (a :class:`~dse.search._records.TrialRecord`); the trials are
written by :mod:`dse.search._optuna_store`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dse.errors import ConfigError, StudyStateError
from dse.search._optuna_store import StaleTrialRequeue

if TYPE_CHECKING:
    import optuna

__all__ = ["DEFAULT_STORAGE", "load_study", "open_storage", "redact"]

DEFAULT_STORAGE = "sqlite:///dse-studies.db"
_MEMORY: dict[str, Any] = {}


def redact(url: str) -> str:
    """The URL without its password."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def _is_journal(url: str) -> bool:
    return url.startswith("journal:") or url.endswith((".log", ".journal"))


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
