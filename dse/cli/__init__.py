"""The ``dse`` command.

Each subcommand lives in its own private module and is imported only when it runs,
so ``dse eval`` and ``dse export`` never import torch and start fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from dse.errors import DseError

__all__ = ["cli", "main"]

# subcommand name -> (module, attribute); resolved lazily by LazyGroup.
_COMMANDS: dict[str, tuple[str, str]] = {
    "eval": ("dse.cli._eval", "eval_command"),
    "export": ("dse.cli._export", "export_command"),
    "finetune": ("dse.cli._finetune", "finetune_command"),
    "run": ("dse.cli._study", "run_command"),
    "resume": ("dse.cli._study", "resume_command"),
    "status": ("dse.cli._study", "status_command"),
    "pareto": ("dse.cli._study", "pareto_command"),
    "plot": ("dse.cli._study", "plot_command"),
    "worker": ("dse.cli._worker", "worker_command"),
}


#: One line per subcommand for ``dse --help``. Click would take the first sentence of
#: each docstring and cut it with "..." to fit the terminal; these fit in full, and
#: listing them needs no import of the subcommands' modules.
_SHORT_HELP: dict[str, str] = {
    "eval": "Evaluate a multiplier: errors, power, area, delay.",
    "export": "Write a multiplier or a study's designs as netlists/LUTs.",
    "finetune": "Fine-tune a model for an approximate multiplier.",
    "pareto": "The Pareto front of study NAME.",
    "plot": "Plot the trials and Pareto front of study NAME.",
    "resume": "Continue study NAME from its storage.",
    "run": "Run (or continue) the study in STUDY_FILE.",
    "status": "Progress of one study or of every study.",
    "worker": "Evaluate study NAME's queued trials (any machine).",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``dse --help`` from :data:`_SHORT_HELP` (wrapped by the
        formatter where the terminal is narrow, never shortened)."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, _SHORT_HELP[name]) for name in self.list_commands(ctx)])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module_name, attr = _COMMANDS[cmd_name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # an optional extra is missing
            missing = exc.name or "a dependency"
            raise click.ClickException(
                f"'dse {cmd_name}' needs the package {missing!r}; install it with "
                f"pip install 'dse[all]'"
            ) from exc
        command: click.Command = getattr(module, attr)
        command.short_help = command.short_help or _SHORT_HELP.get(cmd_name)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dse")
def cli() -> None:
    """Design-space exploration of approximate multipliers for AI accelerators."""


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI, turning every :class:`DseError` into a one-line message."""
    from dse._status import to_stderr

    to_stderr()  # status lines of slow one-off steps (data, baseline, exact design)
    try:
        return cli.main(args=argv, prog_name="dse", standalone_mode=False)
    except DseError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except OSError as exc:
        # safety net: commands turn failed writes into "cannot write PATH: ..." themselves;
        # a file error one of them missed is still one line naming the file
        if exc.filename is None:
            raise
        click.echo(f"error: {exc.filename}: {exc.strerror or exc}", err=True)
        sys.exit(2)
