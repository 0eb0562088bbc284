"""The ``osteobiome`` command line (typer + rich).

Each subcommand lives in its own module of this package with a ``register(app)`` function; add the module
name to :data:`COMMANDS` to expose it. :func:`main` turns :class:`~osteobiome.errors.InputError` into a
one-line ``error: …`` on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
import warnings

import typer
from rich.console import Console

from osteobiome import __version__
from osteobiome.errors import InputError, ResourceError

COMMANDS: tuple[str, ...] = (
    "inspect", "associate", "meta", "diversity", "simulate", "power", "knowledge", "benchmark", "convert",
    "run", "validate", "demo", "mediate", "batch_correct", "survival", "predict",
)

app = typer.Typer(
    name="osteobiome",
    help="Gut microbiome vs bone: per-cohort associations, meta-analysis, diversity, simulation and power.",
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


for _name in COMMANDS:
    importlib.import_module(f"osteobiome.cli.{_name}").register(app)


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
