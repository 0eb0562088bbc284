"""Comma-separated CLI option values (``--fixed age,sex``, ``--n 300,1000``), shared by the commands."""

from __future__ import annotations

from osteobiome.errors import InputError


def names(text: str | None) -> list[str]:
    """The items of ``text`` split at commas, stripped, empty ones dropped (``None`` -> ``[]``)."""
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def numbers(text: str, option: str, kind: type = float) -> list:
    """:func:`names` converted by ``kind`` (``int`` or ``float``); a one-line InputError naming ``option`` if
    an item is not a number of that kind."""
    try:
        return [kind(item) for item in names(text)]
    except ValueError:
        example = "300,1000,3000" if kind is int else "0.1,0.25,0.5"
        raise InputError(f"{option} {text!r}: give comma-separated numbers, e.g. {option} {example}.") from None
