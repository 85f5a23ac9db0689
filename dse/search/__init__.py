"""Multi-objective search over approximate-multiplier structures.

Search spaces (``search_spaces/*.yaml``) define a genome shared by every back end;
the staged objective evaluates hardware first and fine-tunes only candidates that
can still be feasible; back ends (pymoo NSGA-II with structure-aware operators,
Optuna samplers) propose genomes; every evaluation is an Optuna trial in the study's
storage, which also holds the study's configuration and the back end's state so a
study resumes from the storage alone.
"""

from dse.search._genome import Gene, Genome
from dse.search._space import (
    LibraryMultiplier,
    LibrarySpace,
    Space,
    StructureSpace,
    load_space,
    space_from_dict,
)

__all__ = [
    "Gene",
    "Genome",
    "LibraryMultiplier",
    "LibrarySpace",
    "Space",
    "StructureSpace",
    "load_space",
    "space_from_dict",
]
