"""R's ``make.names`` (test helper: MaAsLin2's golden files carry feature names passed through it)."""

from __future__ import annotations

import re

_RESERVED = {
    "if", "else", "repeat", "while", "function", "for", "next", "break", "TRUE", "FALSE", "NULL", "Inf", "NaN",
    "NA", "NA_integer_", "NA_real_", "NA_character_", "in",
}


def make_names(name: str) -> str:
    """Invalid characters → '.', an 'X' prefix unless the name starts with a letter or a dot not followed by a
    digit, and a '.' suffix on reserved words (``unique=FALSE``)."""
    name = re.sub(r"[^A-Za-z0-9._]", ".", str(name))
    if not re.match(r"^([A-Za-z]|\.(?![0-9]))", name):
        name = "X" + name
    return name + "." if name in _RESERVED else name
