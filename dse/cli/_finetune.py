"""``dse finetune``: approximation-aware fine-tuning from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from dse.errors import ConfigError, DataError

__all__ = ["finetune_command"]


def _load_multiplier(source: str, signed: bool) -> Any:
    """A .npy table, a netlist file (Verilog or BLIF) or a generator spec as an AxMultiplier;
    the hardware side tabulates netlists and specs, dse.nn only takes the table."""
    from dse.nn import AxMultiplier, load_multiplier

    if source.endswith((".npy", ".v", ".sv", ".blif")) and not Path(source).is_file():
        raise DataError(f"{source}: multiplier file does not exist")
    if source.endswith(".npy"):
        mult: AxMultiplier = load_multiplier(source, signed=signed)
        return mult
    if source.endswith((".v", ".sv", ".blif")) or (":" not in source and Path(source).is_file()):
        # any other existing file: read_netlist tells the format or names those it reads
        from dse.eval import evaluate_netlist
        from dse.netlist import read_netlist

        report = evaluate_netlist(read_netlist([source]), signed=signed)
        return AxMultiplier.from_report(report, name=Path(source).stem)
    if ":" not in source:
        raise ConfigError(
            f"multiplier {source!r}: expected a .npy LUT, a netlist (.v, .sv, .blif) or a "
            f"generator spec such as 'dadda:8'"
        )
    from dse.arith import from_spec
    from dse.design import evaluate

    return AxMultiplier.from_report(evaluate(from_spec(source)), name=source)


def _optimizer_factory(
    kind: str,
    lr: float | None,
    momentum: float,
    weight_decay: float,
    log_bits: int,
    log_error: float,
    seed: int,
) -> Any:
    """``None`` (the fine-tune's default Adam) or a factory ``params -> Optimizer``; options
    are checked here so a bad value fails before any data is loaded."""
    if lr is not None and not lr > 0:
        raise ConfigError(f"--lr must be > 0, got {lr}")
    if not 0 <= momentum < 1:
        raise ConfigError(f"--momentum must be in [0, 1), got {momentum}")
    if weight_decay < 0:
        raise ConfigError(f"--weight-decay must be >= 0, got {weight_decay}")
    if kind == "adam":
        return None
    rate = lr if lr is not None else 0.01
    if kind == "sgd":
        import torch

        return lambda params: torch.optim.SGD(
            params, lr=rate, momentum=momentum, weight_decay=weight_decay
        )
    import torch

    from dse.optim import LogDomainSGD

    try:  # validate the hardware-model options on a throw-away parameter
        LogDomainSGD(
            [torch.zeros(1, requires_grad=True)], lr=rate, bits=log_bits, error_mse=log_error
        )
    except ConfigError as exc:
        raise ConfigError(f"--log-bits/--log-error: {exc}") from None
    return lambda params: LogDomainSGD(
        params,
        lr=rate,
        weight_decay=weight_decay,
        momentum=momentum,
        bits=log_bits,
        error_mse=log_error,
        seed=seed,
    )


@click.command("finetune")
@click.option(
    "--model",
    "model_name",
    default="cnn1d",
    show_default=True,
    help="A built-in network (cnn1d, cnn-digits, lenet5, resnet20, vit-tiny), FILE.py:FACTORY, "
    "package.module:FACTORY, torchvision:NAME or timm:NAME.",
)
@click.option(
    "--weights",
    type=click.Path(path_type=Path),
    default=None,
    help="State-dict file of the model (torch.save(model.state_dict(), FILE)); without it "
    "the float baseline is trained (and cached).",
)
@click.option(
    "--data",
    "data_spec",
    default="mnist1d",
    show_default=True,
    help="mnist1d, digits, cifar10:DIR, mnist:DIR, npz:FILE, imagefolder:DIR or FILE.py:FACTORY.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True)
@click.option(
    "--train-subset",
    type=click.IntRange(min=1),
    default=None,
    help="Training samples the fine-tune uses (a fixed random subset).",
)
@click.option(
    "--include",
    multiple=True,
    help="Glob over layer names to approximate (repeatable; default: every layer).",
)
@click.option("--exclude", multiple=True, help="Glob over layer names to keep exact (repeatable).")
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="Torch device: auto, cpu, cuda or cuda:N.",
)
@click.option(
    "--multiplier",
    "multiplier",
    required=True,
    help="FILE.npy (LUT [a=activation, b=weight]), FILE.v/FILE.blif (netlist) or a generator spec.",
)
@click.option(
    "--signed", is_flag=True, help="The .npy/netlist multiplier is two's complement signed."
)
@click.option(
    "--grad",
    default="ste",
    show_default=True,
    help="Gradient estimator: ste, lut2d, lut1d or one registered with dse.nn.register_gradient.",
)
@click.option(
    "--axtrain",
    type=click.Choice(("none", "passive", "active", "both")),
    default="none",
    show_default=True,
    help="AxTrain method (He et al., ISLPED 2018).",
)
@click.option("--epochs", type=float, default=1.0, show_default=True, help="Fine-tune epochs.")
@click.option(
    "--optimizer",
    type=click.Choice(("adam", "sgd", "logdomain")),
    default="adam",
    show_default=True,
    help="Fine-tune optimiser: Adam, torch SGD, or SGD through the log-domain analog "
    "hardware model (dse.optim.LogDomainSGD; Tageldeen et al. 2025).",
)
@click.option(
    "--lr",
    type=float,
    default=None,
    help="Learning rate (default: 3e-4 for adam, 0.01 for sgd/logdomain).",
)
@click.option(
    "--momentum", type=float, default=0.9, show_default=True, help="sgd/logdomain momentum."
)
@click.option(
    "--weight-decay",
    type=float,
    default=1e-4,
    show_default=True,
    help="sgd/logdomain L2 weight decay.",
)
@click.option(
    "--log-bits",
    type=int,
    default=8,
    show_default=True,
    help="logdomain: precision of the update (sign + log2 magnitude bits).",
)
@click.option(
    "--log-error",
    type=float,
    default=0.0087,
    show_default=True,
    help="logdomain: relative mean squared error of the update (0.0087 = 0.87 %).",
)
@click.option("--baseline-epochs", type=int, default=None, help="Float baseline epochs (cached).")
@click.option(
    "--act-bits", type=int, default=None, help="Activation bits (default: multiplier width)."
)
@click.option(
    "--weight-bits", type=int, default=None, help="Weight bits (default: multiplier width)."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object to stdout.")
@click.option("--histograms", is_flag=True, help="Include operand histograms in the JSON.")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
def finetune_command(
    model_name: str,
    weights: Path | None,
    data_spec: str,
    batch_size: int,
    train_subset: int | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    device: str,
    multiplier: str,
    signed: bool,
    grad: str,
    axtrain: str,
    epochs: float,
    optimizer: str,
    lr: float | None,
    momentum: float,
    weight_decay: float,
    log_bits: int,
    log_error: float,
    baseline_epochs: int | None,
    act_bits: int | None,
    weight_bits: int | None,
    seed: int,
    as_json: bool,
    histograms: bool,
    no_progress: bool,
) -> None:
    """Fine-tune a model for an approximate multiplier; report accuracies before/after."""
    if epochs < 0:
        raise ConfigError(f"--epochs must be >= 0, got {epochs}")
    make_opt = _optimizer_factory(optimizer, lr, momentum, weight_decay, log_bits, log_error, seed)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from dse.nn import DataOptions, gradient_names, open_source, prepare, resolve_device

    if grad not in gradient_names():
        raise ConfigError(f"--grad must be one of {', '.join(gradient_names())}, got {grad!r}")
    mult = _load_multiplier(multiplier, signed)
    options: dict[str, Any] = {}
    if act_bits is not None:
        options["act_bits"] = act_bits
    if weight_bits is not None:
        options["weight_bits"] = weight_bits
    # validate the widths before spending time on data and training
    from dse.nn import check_layer_options

    check_layer_options(mult, **options)
    resolve_device(device, where="--device")
    source = open_source(
        data_spec,
        DataOptions(batch_size=batch_size, train_subset=train_subset),
        seed=seed,
        where="--data",
    )
    from rich.console import Console

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=no_progress,
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def report(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = progress.add_task(phase, total=total)
        progress.update(tasks[phase], completed=done)

    with progress:
        prepared = prepare(
            model_name,
            source,
            weights=weights,
            data_options=DataOptions(batch_size=batch_size, train_subset=train_subset),
            include=include or ("*",),
            exclude=exclude,
            device=device,
            seed=seed,
            baseline_epochs=baseline_epochs,
            progress=report,
            where={
                "model": "--model",
                "weights": "--weights",
                "data": "--data",
                "layers": "--layers",
                "device": "--device",
            },
        )
        result = prepared.finetune(
            mult,
            epochs=epochs,
            grad=grad,
            axtrain=axtrain,
            seed=seed,
            lr=lr if lr is not None else 3e-4,
            optimizer=make_opt,
            progress=report,
            **options,
        )
    if as_json:
        out = result.to_dict(histograms=histograms)
        out.update(model=model_name, data=data_spec, optimizer=optimizer)
        click.echo(json.dumps(out))
        return
    lines = [
        f"model {model_name} on {data_spec}, multiplier {mult.name} "
        f"({mult.width_a}x{mult.width_b}, {'signed' if mult.signed else 'unsigned'})",
        f"  float                 {100 * result.acc_float:6.2f} %",
        f"  quantised, exact mult {100 * result.acc_exact_q:6.2f} %",
        f"  AxM before fine-tune  {100 * result.acc_axm_before:6.2f} %",
        f"  AxM after fine-tune   {100 * result.acc_axm_after:6.2f} %   "
        f"(grad={grad}, axtrain={axtrain}, optimizer={optimizer}, {result.steps} steps, "
        f"{result.seconds:.1f} s)",
    ]
    click.echo("\n".join(lines), file=sys.stdout)
