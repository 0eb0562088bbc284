import base64
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from report_data import synthetic_results

from osteobiome.report import render
from osteobiome.report.methods import methods_paragraph
from osteobiome.report.tables import format_number, html_table, linked_references

URL = re.compile(r"^\s*(https?:)?//", re.I)


class Page(HTMLParser):
    """Collects ids, tags with their attributes, and text."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attrs))
        if "id" in attrs:
            self.ids.add(attrs["id"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    results = synthetic_results(
        with_mechanisms=True, warnings=("FHS: dropped 2 all-zero sample(s): 'x', 'y'",)
    )
    path = render(results, out)
    html = path.read_text()
    page = Page()
    page.feed(html)
    return out, html, page


def test_required_sections_are_there(rendered):
    _, _, page = rendered
    for section in (
        "overview",
        "associations",
        "meta",
        "diversity",
        "tables",
        "mechanisms",
        "methods",
        "warnings",
    ):
        assert section in page.ids
    for figure in (
        "fig-heatmap",
        "fig-volcano",
        "fig-forest",
        "fig-alpha",
        "fig-pcoa-braycurtis",
        "fig-sets",
    ):
        assert figure in page.ids


def test_figures_are_inline_svg_and_saved_as_files(rendered):
    out, _, page = rendered
    images = [a["src"] for tag, a in page.tags if tag == "img"]
    assert len(images) == 6
    for src in images:
        assert src.startswith("data:image/svg+xml;base64,")
        svg = base64.b64decode(src.split(",", 1)[1])
        assert b"<svg" in svg
    for name in ("heatmap", "volcano", "forest", "alpha_diversity", "pcoa_braycurtis", "mechanism_sets"):
        assert b"<svg" in (out / "figures" / f"{name}.svg").read_bytes()[:1000]  # the data: tests/test_figure_data.py
        assert (out / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_set_dots_ring_at_the_cohort_threshold_with_one_cohorts_table(rendered):
    from osteobiome.report.document import sets_threshold

    _, html, _ = rendered  # its mechanisms hold "sets" only, i.e. one cohort's CAMERA table
    assert "ringed, q &lt; 0.1." in html
    results = synthetic_results(with_mechanisms=True)
    assert sets_threshold(results) == results.fdr_cohort == 0.1
    results.mechanisms["sets_by_cohort"] = results.mechanisms["sets"].assign(cohort="FHS")
    assert sets_threshold(results) == results.fdr_meta == 0.25


def test_nothing_is_loaded_from_the_network(rendered):
    _, html, page = rendered
    for tag, attrs in page.tags:
        for name in ("src", "href", "srcset", "data", "action", "poster"):
            value = attrs.get(name, "")
            assert not URL.match(value), (tag, name, value)
        if tag == "script":
            assert "src" not in attrs
        if tag == "link":
            assert attrs.get("rel") not in ("stylesheet", "preload", "import")
        if tag in ("iframe", "object", "embed"):
            pytest.fail(f"<{tag}> in the report")
    css = "\n".join(page.styles)
    assert "@import" not in css and "url(" not in css
    assert not re.search(r"https?://", html)


def test_tables_are_sortable_and_searchable(rendered):
    _, html, page = rendered
    tables = [a for tag, a in page.tags if tag == "table" and "sortable" in a.get("class", "")]
    assert {"meta-table", "assoc-0", "assoc-1", "alpha-table", "permanova-table", "overview"} <= {
        t["id"] for t in tables
    }
    searches = [a for tag, a in page.tags if tag == "input" and "table-search" in a.get("class", "")]
    assert len(searches) == len(tables)
    assert "addEventListener" in html and "data-v=" in html


def test_methods_warnings_and_escaping(rendered):
    _, html, _ = rendered
    assert "Synthetic &lt;study&gt; &amp; test" in html
    assert "dropped 2 all-zero sample(s)" in html
    assert "REML" in html and "Benjamini–Hochberg" in html and "`default` preset" in html
    assert "9 pooled association(s) with the smallest p-values at q &lt; 0.25" in html


def test_single_cohort_without_diversity_or_meta(tmp_path):
    results = synthetic_results()
    results.cohorts = results.cohorts[:1]
    results.meta = None
    for c in results.cohorts:
        c.alpha_associations, c.permanova, c.pcoa = None, {}, {}
    page = Page()
    page.feed(render(results, tmp_path).read_text())
    assert {"overview", "associations", "methods"} <= page.ids
    assert not {"meta", "diversity", "fig-forest", "mechanisms"} & page.ids
    assert not (tmp_path / "figures" / "mechanism_sets.svg").exists()


def test_methods_paragraph_states_what_ran():
    text = methods_paragraph(
        {
            "rank": "genus",
            "preset": "maaslin2",
            "association": {
                "normalization": "TSS",
                "transform": "LOG",
                "analysis_method": "LM",
                "min_prevalence": 0.1,
                "standardize": True,
                "correction": "BH",
                "fdr_scope": "all",
            },
            "covariates_by_cohort": {"A": ["age", "sex"], "B": ["age"]},
            "meta": {"method": "DL", "test": "knha"},
            "diversity": {"alpha": ["shannon"], "beta": ["braycurtis"], "permutations": 999, "seed": 3},
            "reference": {"sex": "F"},
        },
        {"A": 1227, "B": 831},
        ["bmd"],
        0.1,
        0.25,
        {"osteobiome": "0.1.0", "python": "3.11.9", "numpy": "2.1"},
    )
    for phrase in (
        "Genus-level",
        "A (n = 1,227) and B (n = 831)",
        "osteobiome 0.1.0",
        "`maaslin2` preset",
        "more than 10% of samples",
        "total-sum scaled",
        "log2",
        "z-scored",
        "ordinary least squares",
        "A: genus ~ phenotype + age + sex; B: genus ~ phenotype + age",
        "sex = F",
        "over all feature × coefficient p-values",
        "DerSimonian–Laird",
        "Knapp–Hartung",
        "q < 0.25",
        "999 permutations, seed 3",
        "numpy 2.1",
        "Python 3.11.9",
    ):
        assert phrase in text, phrase


def test_methods_paragraph_mentions_contributions_only_when_there_are_some():
    settings = {"rank": "genus", "preset": "maaslin2", "association": {}, "covariates_by_cohort": {"A": ["age"]}}
    assert "stratified" not in methods_paragraph(settings, {"A": 10}, ["bmd"], 0.1, 0.25, {})
    text = methods_paragraph(settings, {"A": 10}, ["bmd"], 0.1, 0.25, {}, contributions=3)
    assert "For the 3 most significant pathways" in text and "genus-stratified rows" in text


def test_methods_paragraph_names_the_set_combination_only_across_cohorts():
    settings = {"rank": "genus", "preset": "maaslin2", "association": {}, "covariates_by_cohort": {"A": ["age"]}}
    sets = {"compiled": "2025-01", "method": "CAMERA, full residual correlation"}
    one = methods_paragraph({**settings, "mechanisms": {**sets, "combination": None}}, {"A": 10}, ["bmd"], 0.1, 0.25, {})
    assert "competitive set test (CAMERA, full residual correlation)" in one
    assert "combined by" not in one and "none" not in one
    two = methods_paragraph(
        {**settings, "mechanisms": {**sets, "combination": "weighted Stouffer (weights √N)"}},
        {"A": 10, "B": 12},
        ["bmd"],
        0.1,
        0.25,
        {},
    )
    assert "in each cohort, and cohorts were combined by weighted Stouffer (weights √N)." in two


def test_methods_paragraph_describes_the_calibrated_default():
    assoc = {
        "normalization": "TSS",
        "transform": "LOG",
        "model": "twopart",
        "variance": "HC3",
        "compositional": "median",
        "compositional_prevalence": True,
        "depth_covariate": "prevalence",
        "joint": "cauchy",
        "correction": "BH",
        "fdr_scope": "per-variable",
    }
    text = methods_paragraph(
        {"rank": "genus", "preset": "default", "association": assoc, "covariates_by_cohort": {"A": ["age"]}},
        {"A": 10},
        ["bmd"],
        0.1,
        0.25,
        {},
    )
    for phrase in (
        "two-part model",
        "joint p-value",
        "HC3",
        "median coefficient",
        "prevalence part too",
        "log read depth",
        "Cauchy combination test weighted by the fraction",
        "per phenotype",
    ):
        assert phrase in text, phrase
    assert "meta-analysis" not in text and "log2-transformed where non-zero" in text and "half of" not in text


def test_html_table_formats_and_keeps_sort_values():
    frame = pd.DataFrame(
        {"feature": ["a", "b"], "coef": [0.123456, -2e-5], "pval": [0.5, 1e-12], "N": [1227, 3]}
    )
    table = html_table(frame, "t", max_rows=1, source="meta/meta_results.tsv")
    assert table.total == 2 and len(table.rows) == 1
    assert table.note == "1 of 2 rows shown (smallest p first); all rows in meta/meta_results.tsv"
    assert table.rows[0] == [("a", None), ("0.123", "0.123456"), ("0.5", "0.5"), ("1,227", "1227")]
    missing = html_table(pd.DataFrame({"coef": [float("nan")], "name": [None]}), "m")
    assert missing.rows[0] == [("NA", ""), ("NA", "")]
    assert html_table(frame, "all").note == ""


def test_one_number_format_for_p_values_and_estimates():
    """3 significant digits, scientific below 1e-3, for p-values and estimates alike (no 9.0e-04 beside 0.00141)."""
    assert [format_number(v) for v in (9e-4, 0.00141, 0.5, 1e-12, -0.0123456, 1234.5, 2.5e6)] == [
        "9.00e-04", "0.00141", "0.5", "1.00e-12", "-0.0123", "1,234", "2.50e+06"
    ]
    assert format_number(float("nan")) == "NA" and format_number(float("inf")) == "∞"


def test_references_become_links_and_other_text_stays_escaped():
    text = str(linked_references("butyrate <b>; doi:10.1038/s41467-017-02490-4; PMID:12345"))
    assert '<a href="https://doi.org/10.1038/s41467-017-02490-4"' in text
    assert '<a href="https://pubmed.ncbi.nlm.nih.gov/12345/"' in text
    assert "&lt;b&gt;" in text and "<b>" not in text
    assert linked_references("no reference here") == "no reference here"


def test_methods_paragraph_states_the_outcome_models_and_mediation():
    base = {"rank": "genus", "preset": "default", "association": {"correction": "BH"}, "covariates_by_cohort": {}}
    none = methods_paragraph(base, {"A": 100}, ["bmd"], 0.1, 0.25, {})
    assert "Cox" not in none and "Mediation" not in none
    survival = {"event": "fracture", "time": "exit_age", "entry": "age0", "covariates": ["sex", "bmi"],
                "outcome_type": "survival", "community_pcs": 3}
    mediation = {"outcome": "bmd", "test": "hdmt", "log": True, "n_boot": 500, "seed": 7}
    text = methods_paragraph({**base, "survival": survival, "mediation": mediation, "meta": {"method": "REML"}},
                             {"A": 100, "B": 80}, ["bmd"], 0.1, 0.25, {})
    for phrase in ("Incident fracture", "Cox proportional-hazards", "Efron ties", "age as the time scale (exit_age)",
                   "delayed entry at age0", "adjusted for sex and bmi", "hazard ratio per SD", "cox.zph",
                   "first 3 Aitchison principal components", "pooled across cohorts",
                   "Mediation of bmd by the measured mediators (log2)", "500 resamples, seed 7", "HDMT"):
        assert phrase in text, phrase
    binary = methods_paragraph({**base, "survival": {**survival, "outcome_type": "binary", "entry": None,
                                                     "community_pcs": 0}}, {"A": 100}, ["bmd"], 0.1, 0.25, {})
    assert "logistic regression of fracture" in binary and "odds ratio per SD" in binary
    assert "Cox" not in binary and "Aitchison" not in binary and "pooled" not in binary
