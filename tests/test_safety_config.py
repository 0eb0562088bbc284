"""Hostile or careless study files: cohort names that would escape --out, alias bombs, deep nesting (issue 14)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from osteobiome.errors import InputError
from osteobiome.study.config import load_study

BASE = """\
cohorts:
  - name: A
    features: a.tsv
    metadata: a.tsv
  - name: {name}
    features: b.tsv
    metadata: b.tsv
phenotypes: [bmd]
"""


def error_of(tmp_path: Path, text: str) -> str:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_study(path)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    "name",
    ["/some/dir", "../../x", "a/b", "a\\\\b", "..", ".hidden", "tab\\there", "nul\\0x", "bell\\a", "del\\x7f"],
)
def test_cohort_names_that_are_paths_are_refused_with_their_line(tmp_path, name):
    message = error_of(tmp_path, BASE.format(name=f'"{name}"'))
    assert message.startswith("study.yaml line 5: cohorts[1].name:"), message
    assert "plain label" in message


@pytest.mark.parametrize("name", ["MrOS", "FHS-2", "cohort 2 (men)", "Framingham_Offspring.v2"])
def test_plain_cohort_names_are_accepted(tmp_path, name):
    path = tmp_path / "study.yaml"
    path.write_text(BASE.format(name=f'"{name}"'))
    assert load_study(path).cohorts[1].name == name


def test_duplicate_cohort_names_name_the_line_not_the_whole_config(tmp_path):
    message = error_of(tmp_path, BASE.format(name="A"))
    assert message.startswith("study.yaml line 5: cohorts[1].name:"), message
    assert "'A'" in message and "features" not in message and len(message) < 200


BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
cohorts: [{name: A, features: a.tsv, metadata: a.tsv}]
phenotypes: [*i]
"""


def test_billion_laughs_is_refused_quickly(tmp_path):
    start = time.perf_counter()
    message = error_of(tmp_path, BOMB)
    assert time.perf_counter() - start < 2
    assert message.startswith("study.yaml: ") and "alias" in message


def test_recursive_alias_is_refused(tmp_path):
    message = error_of(tmp_path, "cohorts: &c [*c]\nphenotypes: [bmd]\n")
    assert message.startswith("study.yaml")


def test_a_few_aliases_are_fine(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(
        "cohorts:\n  - &c {name: A, features: a.tsv, metadata: a.tsv}\n  - {<<: *c, name: B}\n"
        "phenotypes: &p [bmd]\ncovariates: [age]\n"
    )
    cfg = load_study(path)
    assert [c.name for c in cfg.cohorts] == ["A", "B"]


@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{a: ", "}")])
def test_deeply_nested_brackets_are_one_line_errors(tmp_path, opening, closing):
    message = error_of(tmp_path, "phenotypes: " + opening * 5000 + "1" + closing * 5000 + "\n")
    assert message.startswith("study.yaml") and "nested" in message
