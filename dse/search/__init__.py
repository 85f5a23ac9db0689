"""Multi-objective search over approximate-multiplier structures.

Search spaces (``search_spaces/*.yaml``) define a genome shared by every back end;
the staged objective evaluates hardware first and fine-tunes only candidates that
can still be feasible; back ends (pymoo NSGA-II with structure-aware operators,
Optuna samplers, TRAM) propose genomes and a study's session evaluates and records
them; every evaluation is an Optuna trial in the study's storage, which also holds
the study's configuration and the back end's state so a study resumes from the
storage alone.
"""

from dse.search._accuracy import AccuracyModel, NetworkObjects
from dse.search._backends import (
    BACKENDS,
    Backend,
    DrivingBackend,
    Proposal,
    Result,
    Session,
    make_backend,
    register_backend,
)
from dse.search._config import StudyConfig, load_study_config, study_config_from_dict
from dse.search._devices import device_for_worker, parse_devices
from dse.search._export_study import export_study
from dse.search._front import hypervolume, pareto_trials, reference_point
from dse.search._genome import Gene, Genome
from dse.search._library_space import LibrarySpace
from dse.search._objectives import (
    METRICS,
    Constraint,
    Evaluation,
    Evaluator,
    Metric,
    Objective,
    parse_constraint,
    parse_objective,
)
from dse.search._parallel import Stopped, stop_on_signals
from dse.search._plot import plot_study, study_figure, study_plotly
from dse.search._records import TrialRecord
from dse.search._space import Space
from dse.search._space_load import load_space, space_from_dict
from dse.search._storage import DEFAULT_STORAGE, open_storage
from dse.search._structure_space import StructureSpace
from dse.search._study import open_session, resume, run, run_worker
from dse.search._summary import (
    StudySummary,
    hypervolume_reference,
    load_stored_study,
    pareto_rows,
    pareto_rows_of,
    stored_config,
    study_design,
    study_summaries,
    study_summary,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_STORAGE",
    "METRICS",
    "AccuracyModel",
    "Backend",
    "Constraint",
    "DrivingBackend",
    "Evaluation",
    "Evaluator",
    "Gene",
    "Genome",
    "LibrarySpace",
    "Metric",
    "NetworkObjects",
    "Objective",
    "Proposal",
    "Result",
    "Session",
    "Space",
    "Stopped",
    "StructureSpace",
    "StudyConfig",
    "StudySummary",
    "TrialRecord",
    "device_for_worker",
    "export_study",
    "hypervolume",
    "hypervolume_reference",
    "load_space",
    "load_stored_study",
    "load_study_config",
    "make_backend",
    "open_session",
    "open_storage",
    "pareto_rows",
    "pareto_rows_of",
    "pareto_trials",
    "parse_constraint",
    "parse_devices",
    "parse_objective",
    "plot_study",
    "reference_point",
    "register_backend",
    "resume",
    "run",
    "run_worker",
    "space_from_dict",
    "stop_on_signals",
    "stored_config",
    "study_config_from_dict",
    "study_design",
    "study_figure",
    "study_plotly",
    "study_summaries",
    "study_summary",
]
