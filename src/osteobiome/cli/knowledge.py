"""``osteobiome knowledge``: the curated trait / mechanism table shipped with the package."""

from __future__ import annotations

from pathlib import Path

import typer

knowledge_app = typer.Typer(
    name="knowledge",
    help="Curated genus traits and pathway mechanism groups with literature references.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(knowledge_app, name="knowledge")


@knowledge_app.command("export")
def export(
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output TSV path (entity_type, entity, trait, direction, reference, note)."
    ),
) -> None:
    """Write the whole knowledge table to a TSV file."""
    from osteobiome.mechanisms.knowledge import export_knowledge, knowledge_provenance

    rows = export_knowledge(out)
    typer.echo(f"wrote {rows} rows (compiled {knowledge_provenance()['compiled']}) to {out}")
