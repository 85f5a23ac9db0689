"""Approximation-aware training: LUT layers, gradient estimators, AxTrain, fine-tuning.

Operand convention: a multiplier table is indexed ``lut[a, b]`` with **a = activation**
and **b = weight** (each the operand's raw bit pattern as an unsigned index); see
:class:`AxMultiplier`. Importing this package imports torch; ``import dse`` does not.
"""

from dse.nn._axtrain import AXTRAIN_MODES
from dse.nn._convert import ax_layers, calibrate, collect_histograms, convert, set_ax_options
from dse.nn._data import DATA_NAMES, Dataset, load_data
from dse.nn._finetune import FinetuneResult, OptimizerFactory, PreparedBaseline, finetune
from dse.nn._gradients import (
    GRADIENTS,
    GradientEstimator,
    gradient_names,
    register_gradient,
)
from dse.nn._layers import (
    AxConv1d,
    AxConv2d,
    AxLayer,
    AxLinear,
    AxMatmul,
    Matmul,
)
from dse.nn._luts import code_values, exact_lut, mitchell_lut, pruned_lut, truncated_lut
from dse.nn._models import MODEL_NAMES, build_model
from dse.nn._multiplier import AxMultiplier, load_multiplier
from dse.nn._options import check_layer_options
from dse.nn._quant import (
    Encoding,
    act_qparams,
    activation_encoding,
    quantize_act,
    quantize_weight,
    weight_encoding,
)
from dse.nn._separable import Plan, ValueTable, value_table

__all__ = [
    "AXTRAIN_MODES",
    "DATA_NAMES",
    "GRADIENTS",
    "MODEL_NAMES",
    "AxConv1d",
    "AxConv2d",
    "AxLayer",
    "AxLinear",
    "AxMatmul",
    "AxMultiplier",
    "Dataset",
    "Encoding",
    "FinetuneResult",
    "GradientEstimator",
    "Matmul",
    "OptimizerFactory",
    "Plan",
    "PreparedBaseline",
    "ValueTable",
    "act_qparams",
    "activation_encoding",
    "ax_layers",
    "build_model",
    "calibrate",
    "check_layer_options",
    "code_values",
    "collect_histograms",
    "convert",
    "exact_lut",
    "finetune",
    "gradient_names",
    "load_data",
    "load_multiplier",
    "mitchell_lut",
    "pruned_lut",
    "quantize_act",
    "quantize_weight",
    "register_gradient",
    "set_ax_options",
    "truncated_lut",
    "value_table",
    "weight_encoding",
]
