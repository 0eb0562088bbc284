"""The ``osteobiome`` command line (typer + rich).

Each subcommand lives in its own module of this package with a ``register(app)`` function; add the module
name and its one-line summary to :data:`COMMANDS` to expose it. Modules are imported only when their command
runs (or shows its own help), so ``osteobiome --help`` imports no numerical library; a test checks that the
summaries equal the commands' own first help lines. :func:`main` turns :class:`~osteobiome.errors.InputError`
into a one-line ``error: …`` on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
import warnings

import click
import typer
import typer.main
from rich.console import Console
from typer.core import TyperGroup

from osteobiome import __version__
from osteobiome.errors import InputError, ResourceError

#: Command → its summary in ``osteobiome --help`` (the first line of the command's own help); the module is the
#: command name with ``-`` as ``_``.
COMMANDS: dict[str, str] = {
    "inspect": "Print samples, features, depth range, sparsity, format, taxonomy ranks, id matching and metadata columns.",
    "associate": "Test every feature against the metadata, one model per feature (default: two-part model with the median compositional correction; --preset maaslin2).",
    "meta": "Meta-analyse per-cohort association results (metafor/MMUPHin compatible) into OUT/meta_results.tsv.",
    "diversity": "Alpha and beta diversity vs metadata: alpha associations, PERMANOVA (adonis2), PERMDISP (betadisper), PCoA.",
    "simulate": "Simulate a cohort (gut genus counts + host and bone data + planted truth); `simulate fit` fits parameters.",
    "power": "Power (recall of planted associations) and empirical FDR over sample sizes × effects, with a figure.",
    "knowledge": "Curated genus traits and pathway mechanism groups with literature references.",
    "benchmark": "Benchmarks any user can rerun.",
    "convert": "Write FEATURES as a sparse, chunked HDF5 store readable block by block (osteobiome.io.store).",
    "run": "Run a study: per-cohort associations and diversity, meta-analysis, pathways, report.html.",
    "validate": "Check the study file, every input file, sample ids and metadata columns; print what `run` would do.",
    "demo": "Simulate an FHS-like and an MrOS-like cohort with planted associations, run the study, print the report path.",
    "predict": "Nested cross-validation of three models on the same folds — covariates only, microbiome only, microbiome + covariates.",
    "survival": "Model the outcome on each feature (standardized, after associate's preprocessing) and community index, adjusted for --covariates.",
    "batch-correct": "Zero-inflated empirical-Bayes batch correction (MMUPHin adjust_batch) of log relative abundances, zeros kept zero and covariates protected.",
    "mediate": "Mediation from every feature through every mediator to --outcome: alpha (mediator ~ feature + covariates), beta (outcome ~ mediator + feature + covariates), indirect = alpha·beta with a CI, composite-null p and q.",
}


def load_command(name: str) -> click.Command:
    """The click command of subcommand ``name``, importing its module now."""
    holder = typer.Typer(rich_markup_mode=None)  # as the app: plain help text
    importlib.import_module(f"osteobiome.cli.{name.replace('-', '_')}").register(holder)
    holder.callback()(lambda: None)
    return typer.main.get_command(holder).commands[name]


class _LazyGroup(TyperGroup):
    """The command group: subcommand modules load on first use; the listing in ``--help`` uses the summaries."""

    _listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        if self._listing:
            return click.Command(name, help=COMMANDS[name], short_help=COMMANDS[name])
        if name not in self.commands:
            self.commands[name] = load_command(name)
        return self.commands[name]

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    cls=_LazyGroup,
    name="osteobiome",
    help=(
        "Gut microbiome vs bone: per-cohort associations, meta-analysis, diversity, mediation, incident fracture, "
        "prediction, simulation and power."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help text: "[dask]" stays literal and flags show no <bool> type
)
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"osteobiome {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Gut microbiome vs bone: per-cohort associations, meta-analysis, diversity, simulation and power."""


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    err_console.print(f"[yellow]warning:[/yellow] {message}", highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, mapping user errors to exit code 2 with one line and no traceback.

    Usage mistakes (typer raises the click exceptions it bundles, ``typer._click``, subclasses of
    :class:`typer.TyperException`) print click's usage message and exit 2; Ctrl-C exits 130 saying so
    (typer turns ``KeyboardInterrupt`` into an exit code of 130, returned in non-standalone mode).
    """
    warnings.showwarning = _show_warning
    try:
        code = app(args=argv, prog_name="osteobiome", standalone_mode=False)
    except KeyboardInterrupt:
        code = INTERRUPTED
    except typer.TyperException as exc:
        _show_usage_error(exc, sys.argv[1:] if argv is None else argv)
        sys.exit(exc.exit_code)
    except (InputError, ResourceError) as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    if code == INTERRUPTED:
        err_console.print("interrupted: stopped before the end; no results were written.", highlight=False)
        sys.exit(INTERRUPTED)
    if isinstance(code, int) and code:
        sys.exit(code)


def _show_usage_error(exc: typer.TyperException, argv: list[str]) -> None:
    """click's message (with the command's usage line when the parser knew the command) and a --help hint."""
    show = getattr(exc, "show", None)
    if show is not None:
        show()
    else:
        err_console.print(f"Error: {exc.format_message()}", highlight=False, soft_wrap=True)
    if getattr(exc, "ctx", False) is None:
        command = argv[0] if argv and argv[0] in COMMANDS else ""
        err_console.print(f"Try 'osteobiome {command + ' ' if command else ''}--help' for help.", highlight=False)


INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT), as shells report it."""
