"""Approximation-aware training: LUT layers, gradient estimators, AxTrain, fine-tuning.

Operand convention: a multiplier table is indexed ``lut[a, b]`` with **a = activation**
and **b = weight** (each the operand's raw bit pattern as an unsigned index); see
:class:`AxMultiplier`. Importing this package imports torch; ``import dse`` does not.
"""

from dse.nn._axtrain import AXTRAIN_MODES
from dse.nn._convert import (
    approximable_layers,
    ax_layers,
    calibrate,
    collect_histograms,
    convert,
    layer_macs,
    select_layers,
    set_ax_options,
    unsupported_layers,
)
from dse.nn._data import DATA_NAMES, Dataset, load_data
from dse.nn._finetune import FinetuneResult, OptimizerFactory, PreparedBaseline
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
from dse.nn._prepare import finetune, prepare
from dse.nn._quant import (
    Encoding,
    act_qparams,
    activation_encoding,
    quantize_act,
    quantize_weight,
    weight_encoding,
)
from dse.nn._separable import Plan, ValueTable, value_table
from dse.nn._sources import DataOptions, Source, open_source
from dse.nn._user import (
    check_data_fits,
    file_sha256,
    load_model,
    load_weights,
    resolve_device,
    state_sha256,
)

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
    "DataOptions",
    "Dataset",
    "Encoding",
    "FinetuneResult",
    "GradientEstimator",
    "Matmul",
    "OptimizerFactory",
    "Plan",
    "PreparedBaseline",
    "Source",
    "ValueTable",
    "act_qparams",
    "activation_encoding",
    "approximable_layers",
    "ax_layers",
    "build_model",
    "calibrate",
    "check_data_fits",
    "check_layer_options",
    "code_values",
    "collect_histograms",
    "convert",
    "exact_lut",
    "file_sha256",
    "finetune",
    "gradient_names",
    "layer_macs",
    "load_data",
    "load_model",
    "load_multiplier",
    "load_weights",
    "mitchell_lut",
    "open_source",
    "prepare",
    "pruned_lut",
    "quantize_act",
    "quantize_weight",
    "register_gradient",
    "resolve_device",
    "select_layers",
    "set_ax_options",
    "state_sha256",
    "truncated_lut",
    "unsupported_layers",
    "value_table",
    "weight_encoding",
]
