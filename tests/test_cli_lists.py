"""Comma-separated CLI values: items stripped, empty items dropped, one-line errors naming the option."""

from __future__ import annotations

import pytest

from osteobiome.cli._lists import names, numbers
from osteobiome.errors import InputError


def test_names_strip_items_and_drop_empty_ones():
    assert names(" age, sex ,,bmi ") == ["age", "sex", "bmi"]
    assert names(None) == [] and names("") == [] and names(" , ") == []


def test_numbers_strip_items_and_convert():
    assert numbers("300, 1000 ,3000", "--n", int) == [300, 1000, 3000]
    assert numbers(" 0.1 ,0.25,", "--effect") == [0.1, 0.25]


@pytest.mark.parametrize(("text", "kind"), [("1e3x", int), ("0.5,abc", float), ("1.5", int)])
def test_numbers_name_the_option_when_an_item_is_not_a_number(text, kind):
    with pytest.raises(InputError, match=rf"^--n '{text}': give comma-separated numbers, e.g. --n "):
        numbers(text, "--n", kind)
