"""With random effects the model that runs is what is recorded: the default preset fits the two-part mixed
model (issue 16), a linear preset linear mixed models; the resolved options, table attrs, run.json and the
Methods text say so."""

import json
import re

import numpy as np
import pandas as pd
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


def test_random_effects_record_the_model_that_ran():
    table, metadata = _table()
    mixed = run_association(table, metadata, ["age"], random=("subject",))
    assert mixed.options.model == "twopart" and mixed.results.attrs["model"] == "TWOPART_MIXED"
    assert "coef.prevalence" in mixed.results.columns
    lmm = run_association(table, metadata, ["age"], random=("subject",), preset="maaslin2")
    assert lmm.options.model == "lmm" and lmm.results.attrs["model"] == "LMM"
    assert "coef.prevalence" not in lmm.results.columns
    fixed = run_association(table, metadata, ["age"])
    assert fixed.options.model == "twopart" and fixed.results.attrs["model"] == "TWOPART"
    assert associate(table, metadata, ["age"], random=("subject",), model="lm").attrs["model"] == "LMM"


def test_run_json_and_methods_say_two_part_mixed(tmp_path):
    path = write_study(tmp_path, n=(40, 30), diversity=False, random_effects=["site"])
    for sub in ("a", "b"):
        meta_path = tmp_path / sub / "metadata.tsv"
        meta = pd.read_csv(meta_path, sep="\t", index_col=0)
        meta["site"] = [f"site{i % 5}" for i in range(len(meta))]
        meta.to_csv(meta_path, sep="\t")
    run_study(load_study(path), tmp_path / "out", quiet=True)
    settings = json.loads((tmp_path / "out" / "run.json").read_text())["settings"]
    assert settings["association"]["model"] == "twopart" and settings["model"] == "TWOPART_MIXED"
    html = (tmp_path / "out" / "report.html").read_text()
    methods = re.search(r'<div class="methods" id="methods-text">(.*?)</div>', html, re.S).group(1)
    assert "two-part mixed model" in methods and "random intercepts for site" in methods
