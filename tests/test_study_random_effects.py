"""With random effects the default preset fits linear mixed models, and that is what is recorded: the resolved
options, run.json and the Methods text say LMM, never two-part."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from study_data import write_study

from osteobiome.association.pipeline import associate, run_association
from osteobiome.study import load_study, run_study


def _table(seed=5, n=80, m=12):
    rng = np.random.default_rng(seed)
    samples = [f"s{i}" for i in range(n)]
    metadata = pd.DataFrame(
        {"age": rng.normal(60, 8, n), "subject": np.repeat(np.arange(n // 2), 2).astype(str)}, index=samples
    )
    counts = rng.poisson(rng.gamma(1.0, 50.0, (n, m))) + (rng.random((n, m)) < 0.7)
    return pd.DataFrame(counts, index=samples, columns=[f"g{j}" for j in range(m)]), metadata


def test_default_preset_with_random_effects_records_lmm():
    table, metadata = _table()
    with pytest.warns(UserWarning, match="fitting linear mixed models instead"):
        result = run_association(table, metadata, ["age"], random=("subject",))
    assert result.options["model"] == "lmm" and result.options["joint"] is None
    # what ran is the LMM with the default preset's other options (median comparison, BH per variable)
    lmm = associate(table, metadata, ["age"], random=("subject",), model="lm")
    pd.testing.assert_frame_equal(result.results, lmm)
    assert run_association(table, metadata, ["age"], random=("subject",), preset="maaslin2").options["model"] == "lmm"
    assert run_association(table, metadata, ["age"]).options["model"] == "twopart"


def test_run_json_and_methods_say_lmm_not_two_part(tmp_path):
    path = write_study(tmp_path, n=(40, 30), diversity=False, random_effects=["site"])
    for sub in ("a", "b"):
        meta_path = tmp_path / sub / "metadata.tsv"
        meta = pd.read_csv(meta_path, sep="\t", index_col=0)
        meta["site"] = [f"site{i % 5}" for i in range(len(meta))]
        meta.to_csv(meta_path, sep="\t")
    with pytest.warns(UserWarning):
        run_study(load_study(path), tmp_path / "out", quiet=True)
    settings = json.loads((tmp_path / "out" / "run.json").read_text())["settings"]
    assert settings["association"]["model"] == "lmm" and settings["model"] == "LMM"
    html = (tmp_path / "out" / "report.html").read_text()
    methods = re.search(r'<div class="methods" id="methods-text">(.*?)</div>', html, re.S).group(1)
    assert "linear mixed models with random intercepts" in methods and "random intercepts for site" in methods
    assert "two-part" not in methods and "Cauchy" not in methods
