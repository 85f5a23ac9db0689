"""TRAM: training the multiplier structure together with the network.

Meng, Wang, Ye, Yu, Burleson, De Micheli, "TRAM", DAC 2026 (arXiv 2605.08231), on dse's
parts, plus the issue #5 improvements: a power term calibrated against dse's gate-level
model, a richer phase-2 move set, and an adaptive λ schedule. See ``docs/tram.md``.

* phase 1: :func:`tramify` / :class:`TramLayer` / :func:`train_phase1` (θ per layer and column)
* phase 2: :func:`map_theta` (incremental bit-parallel greedy walk over graph knobs)
* phase 3: :func:`finetune_mapped` (dse.nn LUT layers, any gradient estimator / optimiser)
* all three over a λ sweep: :func:`run_tram` → list of :class:`TramDesign`

Importing this package imports torch.
"""

from dse.tram._layers import (
    TramLayer,
    bit_planes,
    clamp_thetas,
    column_sums,
    tram_calibrating,
    tram_correction,
    tram_layers,
    tram_product,
    tram_recording,
    tramify,
    untramify,
)
from dse.tram._mapping import (
    BASES,
    MOVES,
    BitSimulator,
    MappingResult,
    column_sum_tables,
    map_theta,
    reference_table,
)
from dse.tram._power import PUBLISHED_RATIOS, CostModel, calibrated_costs, ratio_costs
from dse.tram._run import SCHEDULES, TramDesign, run_tram
from dse.tram._train import (
    OptimizerFactory,
    calibrate_ranges,
    evaluate_accuracy,
    finetune_mapped,
    operand_histograms,
    power_loss,
    set_costs,
    train_phase1,
)

__all__ = [
    "BASES",
    "MOVES",
    "PUBLISHED_RATIOS",
    "SCHEDULES",
    "BitSimulator",
    "CostModel",
    "MappingResult",
    "OptimizerFactory",
    "TramDesign",
    "TramLayer",
    "bit_planes",
    "calibrate_ranges",
    "calibrated_costs",
    "clamp_thetas",
    "column_sum_tables",
    "column_sums",
    "evaluate_accuracy",
    "finetune_mapped",
    "map_theta",
    "operand_histograms",
    "power_loss",
    "ratio_costs",
    "reference_table",
    "run_tram",
    "set_costs",
    "train_phase1",
    "tram_calibrating",
    "tram_correction",
    "tram_layers",
    "tram_product",
    "tram_recording",
    "tramify",
    "untramify",
]
