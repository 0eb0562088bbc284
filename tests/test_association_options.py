"""Typed options: one validator, presets as instances, every field settable from ``osteobiome associate`` and
recorded truthfully (options.json, the table's attrs); the default preset runs in blocks from a BIOM file."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from osteobiome.association.options import PRESETS, AssociationOptions
from osteobiome.cli import main
from osteobiome.cli.associate import option_flag
from osteobiome.errors import InputError

#: A non-default value for every field (with the options it needs), to set from the command line.
CHANGES: dict[str, tuple[object, list[str]]] = {
    "normalization": ("CLR", ["--transform", "NONE", "--model", "lm"]),
    "transform": ("AST", []),
    "min_abundance": (1.0, []),
    "min_prevalence": (0.2, []),
    "min_variance": (0.5, []),
    "standardize": (False, []),
    "correction": ("holm", []),
    "fdr_scope": ("all", []),
    "max_significance": (0.5, []),
    "model": ("lm", []),
    "variance": ("HC3", []),
    "compositional": ("linda", []),
    "compositional_prevalence": (True, []),
    "depth_covariate": ("both", []),
    "joint": ("beta", []),
    "require_reference": (True, []),
    "augment": (False, []),
    "preset_name": ("maaslin2", []),
}


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(7)
    n, m = 60, 14
    samples = [f"s{i}" for i in range(n)]
    metadata = pd.DataFrame(
        {"age": rng.normal(50, 10, n), "sex": rng.choice(["F", "M"], n)}, index=pd.Index(samples, name="sample")
    )
    counts = rng.poisson(rng.gamma(1.0, 40.0, (m, 1)) * np.ones((m, n))) * (rng.random((m, n)) < 0.8)
    counts = pd.DataFrame(counts, index=[f"f{j}" for j in range(m)], columns=samples)
    counts.to_csv(tmp_path / "counts.tsv", sep="\t")
    metadata.to_csv(tmp_path / "meta.tsv", sep="\t")
    return tmp_path / "counts.tsv", tmp_path / "meta.tsv"


def _flag_args(name: str, value: object) -> list[str]:
    flag = option_flag(name)
    if isinstance(value, bool):
        return [flag] if value else [f"--no-{flag[2:]}"]
    return [flag, str(value)]


def test_every_field_has_a_change_and_a_command_line_flag():
    assert set(CHANGES) == set(AssociationOptions.names())
    from osteobiome.cli import load_command

    command = load_command("associate")
    flags = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for name in AssociationOptions.names():
        assert option_flag(name) in flags, name


@pytest.mark.parametrize("name", list(CHANGES))
def test_each_field_is_settable_from_the_cli_and_recorded(files, tmp_path, name):
    value, companions = CHANGES[name]
    assert getattr(AssociationOptions.preset("default"), name) != value  # the change is visible
    out = tmp_path / f"out_{name}"
    main(["associate", *map(str, files), "--fixed", "age,sex", "--out", str(out), *_flag_args(name, value), *companions])
    recorded = json.loads((out / "options.json").read_text())["options"]
    assert recorded[name] == value
    assert set(recorded) == set(AssociationOptions.names())


def test_presets_are_instances_and_the_validator_checks_every_field():
    maaslin2 = AssociationOptions.preset("maaslin2")
    assert isinstance(maaslin2, AssociationOptions) and maaslin2 is PRESETS["maaslin2"]
    assert (maaslin2.model, maaslin2.fdr_scope, maaslin2.require_reference) == ("lm", "all", True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        maaslin2.model = "twopart"  # type: ignore[misc]
    assert AssociationOptions(normalization="tss", transform="log", correction="fdr").correction == "BH"
    for bad, message in (
        ({"model": "glm"}, "option model='glm' is not known"),
        ({"min_prevalence": 1.5}, "must be a fraction"),
        ({"standardize": "yes"}, "must be true or false"),
        ({"min_variance": "x"}, "must be a number"),
        ({"normalization": "CLR", "transform": "NONE"}, "works on relative abundances"),
        ({"normalization": "CLR", "model": "lm"}, "cannot follow normalization CLR"),
    ):
        with pytest.raises(InputError, match=message):
            AssociationOptions(**bad)
    with pytest.raises(InputError, match="option 'fdr' is not known"):
        AssociationOptions.resolve("default", {"fdr": "BH"})
    with pytest.raises(InputError, match="preset 'maaslin3' is not known"):
        AssociationOptions.preset("maaslin3")


def test_the_preset_name_does_not_steer_the_code():
    """Options equal to maaslin2's but labelled 'default' give the same numbers as the maaslin2 preset."""
    from osteobiome.association.pipeline import associate

    rng = np.random.default_rng(3)
    n = 50
    meta = pd.DataFrame({"x": rng.normal(size=n), "g": rng.choice(["a", "b", "c"], n)}, index=[f"s{i}" for i in range(n)])
    table = pd.DataFrame(rng.poisson(20, (n, 12)) + 1, index=meta.index, columns=[f"f{j}" for j in range(12)])
    relabelled = dataclasses.replace(AssociationOptions.preset("maaslin2"), preset_name="default")
    a = associate(table, meta, ["x"], preset=relabelled)
    b = associate(table, meta, ["x"], preset="maaslin2")
    pd.testing.assert_frame_equal(a.drop(columns=[]), b, check_like=False, check_exact=True, check_flags=False)
    with pytest.raises(InputError, match="give its reference level"):  # require_reference, not the name, decides
        associate(table, meta, ["g"], preset=relabelled)
    with pytest.warns(UserWarning, match="most frequent level"):
        associate(table, meta, ["g"], preset=dataclasses.replace(relabelled, require_reference=False))


def test_default_preset_from_a_biom_file_in_blocks_equals_one_block(tmp_path):
    """The gene-family path: a sparse BIOM table, the DEFAULT preset, in blocks (this process and dask threads),
    equals the in-memory single-block run to 1e-10."""
    import biom
    import h5py
    import scipy.sparse as sp

    rng = np.random.default_rng(21)
    n, m = 150, 80
    samples = [f"S{i}" for i in range(n)]
    meta = pd.DataFrame(
        {"age": rng.normal(60, 8, n), "bmi": rng.normal(27, 4, n), "sex": rng.choice(["F", "M"], n)},
        index=pd.Index(samples, name="sample"),
    )
    prevalence = rng.uniform(0.05, 0.9, m)
    present = rng.random((m, n)) < prevalence[:, None]
    counts = sp.csr_matrix(present * rng.geometric(0.05, (m, n)).astype(float))
    path = tmp_path / "table.biom"
    with h5py.File(path, "w") as handle:
        biom.Table(counts, [f"UniRef90_{j}" for j in range(m)], samples).to_hdf5(handle, "test")
    meta.to_csv(tmp_path / "meta.tsv", sep="\t")
    common = ["associate", str(path), str(tmp_path / "meta.tsv"), "--fixed", "age,bmi,sex", "--max-significance", "1"]
    main([*common, "--out", str(tmp_path / "one")])
    main([*common, "--out", str(tmp_path / "blocks"), "--block-size", "9"])
    main([*common, "--out", str(tmp_path / "threads"), "--block-size", "13", "--scheduler", "threads"])
    one = pd.read_csv(tmp_path / "one" / "all_results.tsv", sep="\t")
    assert json.loads((tmp_path / "one" / "options.json").read_text())["options"]["model"] == "twopart"
    assert "pval.prevalence" in one.columns and len(one) > 100
    for name in ("blocks", "threads"):
        got = pd.read_csv(tmp_path / name / "all_results.tsv", sep="\t")
        assert json.loads((tmp_path / name / "options.json").read_text())["blocks"] > 1
        merged = one.merge(got, on=["feature", "metadata", "value"], suffixes=("", "_b"))
        assert len(merged) == len(one) == len(got)
        for column in ("coef", "stderr", "pval", "qval", "pval.abundance", "coef.prevalence", "pval.prevalence"):
            np.testing.assert_allclose(merged[column], merged[f"{column}_b"], rtol=1e-10, atol=1e-13)


def test_run_json_and_methods_record_the_options_that_ran(tmp_path):
    """A study's run.json holds the resolved options (every field) and the Methods text follows them."""
    import re

    from study_data import write_study

    from osteobiome.study import load_study, run_study

    association = {"preset": "default", "joint": "beta", "min_prevalence": 0.2, "fdr_scope": "all"}
    path = write_study(tmp_path, n=(40, 30), diversity=False, association=association)
    with pytest.warns(UserWarning):
        run_study(load_study(path), tmp_path / "out", quiet=True)
    recorded = json.loads((tmp_path / "out" / "run.json").read_text())["settings"]["association"]
    expected = AssociationOptions.resolve("default", {"joint": "beta", "min_prevalence": 0.2, "fdr_scope": "all"})
    assert recorded == expected.as_dict()
    html = (tmp_path / "out" / "report.html").read_text()
    methods = re.search(r'<div class="methods" id="methods-text">(.*?)</div>', html, re.S).group(1)
    assert "1 − (1 − min p)²" in methods and "Cauchy" not in methods


def test_random_effects_refuse_hc3_when_the_options_are_checked_not_inside_a_block():
    """The options validator (used by `osteobiome validate` and study validation) refuses a linear mixed
    model with HC3 variance, naming the flag to change, before any fit."""
    options = AssociationOptions.resolve("maaslin2", {"variance": "HC3"})
    assert options.fitted(random=False).variance == "HC3"
    with pytest.raises(InputError, match="--variance classical"):
        options.fitted(random=True)
    assert AssociationOptions.resolve("maaslin2", {}).fitted(random=True).model == "lmm"
