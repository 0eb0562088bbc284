"""HUMAnN pathway tables through the study: associations, meta-analysis and the contribution table."""

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from study_data import HUMANN_PATHWAYS, write_study

from osteobiome.mechanisms.contributions import CONTRIBUTION_COLUMNS
from osteobiome.mechanisms.pathways import PATHWAY_COLUMNS, TOP_PATHWAYS, pathway_contributions, top_pathways
from osteobiome.study import load_study, run_study

BUTYRATE = "PWY-5676: acetyl-CoA fermentation to butanoate II"
CENTFERM = "CENTFERM-PWY: pyruvate fermentation to butanoate"


class Tables(HTMLParser):
    """Header and body cells of every ``<table id=…>`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self._table = attrs["id"]
            self.tables[self._table] = {"header": [], "rows": []}
        elif self._table and tag == "tr":
            self.tables[self._table]["rows"].append([])
        elif self._table and tag in ("th", "td"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif self._table and tag in ("th", "td") and self._cell is not None:
            table = self.tables[self._table]
            text = "".join(self._cell).strip()
            (table["header"] if tag == "th" else table["rows"][-1]).append(text)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def humann(tmp_path_factory):
    folder = tmp_path_factory.mktemp("humann")
    path = write_study(folder, pathways="humann", diversity=None)
    with pytest.warns(UserWarning) as caught:
        run = run_study(load_study(path), folder / "out", quiet=True)
    messages = [str(w.message) for w in caught]
    assert any("constant in cohort B" in m for m in messages)
    # 6 pathways are too few for the median comparison: said, not silently applied
    assert any("pathways: compositional=median needs at least 10 features" in m for m in messages)
    return folder, run


def test_humann_pathways_through_the_same_models_and_meta_analysis(humann):
    folder, run = humann
    a = pd.read_csv(folder / "out/pathways/cohorts/A/associations.tsv", sep="\t")
    assert set(a["feature"]) == set(HUMANN_PATHWAYS)  # community rows only: no strata, UNMAPPED, UNINTEGRATED
    top = a[a["metadata"] == "vbmd"].nsmallest(2, "pval")
    assert set(top["feature"]) == {BUTYRATE, CENTFERM}
    meta = pd.read_csv(folder / "out/pathways/meta/meta_results.tsv", sep="\t").set_index(
        ["feature", "exposure"]
    )
    assert meta.loc[(BUTYRATE, "vbmd"), "qval.fdr"] < 0.25 and meta.loc[(BUTYRATE, "vbmd"), "coef"] > 0
    assert meta.loc[(CENTFERM, "vbmd"), "qval.fdr"] < 0.25 and meta.loc[(CENTFERM, "vbmd"), "coef"] < 0
    assert run.results.settings["pathways"] == ["A", "B"]


def test_contribution_file_for_the_top_meta_analysis_pathways(humann):
    folder, _ = humann
    table = pd.read_csv(folder / "out/mechanisms/contributions.tsv", sep="\t")
    assert list(table.columns) == PATHWAY_COLUMNS + [
        c for c in CONTRIBUTION_COLUMNS if c not in PATHWAY_COLUMNS
    ]
    assert set(table["cohort"]) == {"A", "B"} and set(table["selected"]) == {"meta-analysis q < 0.25"}
    meta = pd.read_csv(folder / "out/pathways/meta/meta_results.tsv", sep="\t")
    significant = meta[meta["qval.fdr"] < 0.25].sort_values(["qval.fdr", "pval"]).drop_duplicates("feature")
    expected = list(significant["feature"].head(TOP_PATHWAYS))
    for _, rows in table.groupby("cohort"):
        assert list(dict.fromkeys(rows["pathway"])) == expected  # most significant first
        assert np.allclose(rows.groupby("pathway")["mean_share"].sum(), 1.0)
    butyrate = table[(table["cohort"] == "A") & (table["pathway"] == BUTYRATE)].set_index("genus")
    assert list(butyrate.index) == ["Roseburia", "Faecalibacterium", "unclassified"]
    assert butyrate["phenotype"].eq("vbmd").all() and butyrate["coef"].gt(0).all()
    # Roseburia's share by hand from the file: both species summed, over the pathway's strata per sample
    raw = pd.read_csv(folder / "a/pathabundance.tsv", sep="\t", index_col=0)
    strata = raw[raw.index.str.startswith(f"{BUTYRATE}|")]
    roseburia = strata[strata.index.str.contains("g__Roseburia")].sum()
    assert butyrate.loc["Roseburia", "mean_share"] == pytest.approx(
        (roseburia / strata.sum()).mean(), rel=1e-9
    )
    assert butyrate.loc["Roseburia", "prevalence"] == pytest.approx((roseburia > 0).mean())


def test_report_shows_the_contribution_table(humann):
    folder, _ = humann
    page = Tables()
    page.feed((folder / "out/report.html").read_text())
    shown = page.tables["mechanisms-contributions"]
    table = pd.read_csv(folder / "out/mechanisms/contributions.tsv", sep="\t")
    assert shown["header"] == list(table.columns)
    body = [row for row in shown["rows"] if row]
    assert len(body) == len(table)
    genus = shown["header"].index("genus")
    assert {row[genus] for row in body} >= {"Roseburia", "Faecalibacterium", "Anaerostipes", "Coprococcus"}
    html = (folder / "out/report.html").read_text()
    assert "Genera contributing to the top pathways" in html
    assert "pathways selected by meta-analysis q &lt; 0.25" in html
    n_pathways = table["pathway"].nunique()
    assert f"For the {n_pathways} most significant pathway" in html and "genus-stratified rows" in html


def test_one_cohort_ranks_by_the_cohort_q(tmp_path):
    path = write_study(tmp_path, n=(60, 40), pathways="humann", diversity=None)
    cfg = load_study(path)
    with pytest.warns(UserWarning, match="needs at least 10 features"):
        run = run_study(cfg.model_copy(update={"cohorts": cfg.cohorts[:1]}), tmp_path / "out", quiet=True)
    table = run.results.mechanisms["contributions"]
    assert set(table["cohort"]) == {"A"} and set(table["selected"]) == {"cohort q < 0.1"}
    assert table["qval"].lt(0.1).all() and BUTYRATE in set(table["pathway"])


def _assoc(pvals: dict[str, float], phenotype: str = "vbmd") -> pd.DataFrame:
    p = np.array(list(pvals.values()))
    return pd.DataFrame(
        {
            "feature": list(pvals),
            "metadata": phenotype,
            "coef": 0.1,
            "pval": p,
            "qval": np.minimum(p * len(p), 1),
        }
    )


def test_top_pathways_at_most_five_significant_best_row_each():
    table = pd.concat(
        [
            _assoc({f"PWY-{i}: p{i}": 1e-6 * (i + 1) for i in range(8)}),
            _assoc({"PWY-7: p7": 1e-9}, phenotype="ct_vbmd"),
        ],
        ignore_index=True,
    )
    top, label = top_pathways({"A": table}, None, fdr_cohort=0.1, fdr_meta=0.25)
    assert label == "cohort q < 0.1" and len(top) == TOP_PATHWAYS
    assert list(top["pathway"]) == ["PWY-7: p7", "PWY-0: p0", "PWY-1: p1", "PWY-2: p2", "PWY-3: p3"]
    assert top.loc[0, "phenotype"] == "ct_vbmd"


def test_top_pathways_none_significant_takes_the_smallest_p_and_says_so():
    meta = pd.DataFrame(
        {
            "feature": [f"PWY-{i}" for i in range(7)],
            "exposure": "vbmd",
            "coef": 0.1,
            "pval": [0.5, 0.04, 0.3, 0.01, 0.9, 0.2, np.nan],
            "qval.fdr": 0.6,
        }
    )
    top, label = top_pathways({}, meta, fdr_cohort=0.1, fdr_meta=0.25)
    assert label == "top 5 by meta-analysis p (none at q < 0.25)"
    assert list(top["pathway"]) == ["PWY-3", "PWY-1", "PWY-5", "PWY-2", "PWY-0"]


def test_no_contributions_when_the_top_pathways_have_no_strata():
    strata = pd.DataFrame(
        [[1.0, 2.0], [3.0, 0.0]],
        index=["PWY-1: one|g__Blautia.s__Blautia_obeum", "PWY-1: one|unclassified"],
        columns=["S1", "S2"],
    )
    top = pd.DataFrame(
        {"pathway": ["PWY-2: two"], "phenotype": "vbmd", "coef": 0.1, "pval": 0.01, "qval": 0.02}
    )
    assert pathway_contributions({"A": strata}, top, "cohort q < 0.1").empty
    found = pathway_contributions({"A": strata}, top.assign(pathway="PWY-1"), "cohort q < 0.1")
    assert list(found["genus"]) == ["Blautia", "unclassified"]
    assert found["mean_share"].tolist() == pytest.approx([(0.25 + 1.0) / 2, 0.75 / 2])
