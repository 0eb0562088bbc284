import dataclasses
import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from study_data import write_study

import osteobiome.report
import osteobiome.study.run
from osteobiome.cli import main
from osteobiome.io.outputs import MARKER
from osteobiome.meta import meta_analyze
from osteobiome.study import load_study, run_study

MAASLIN2_COLUMNS = ["feature", "metadata", "value", "coef", "stderr", "N", "N.not.0", "pval", "qval"]


def leftovers(parent, name):
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    path = write_study(folder, pathways=True)
    with pytest.warns(UserWarning, match="constant in cohort B"):
        run = run_study(load_study(path), folder / "out", workers=2, quiet=True)
    return folder, run


def test_results_layout(finished):
    folder, run = finished
    out = folder / "out"
    assert run.out == out.resolve() and run.report == out.resolve() / "report.html"
    for rel in (
        "cohorts/A/associations.tsv",
        "cohorts/B/associations.tsv",
        "meta/meta_results.tsv",
        "cohorts/A/diversity/alpha.tsv",
        "cohorts/A/diversity/alpha_associations.tsv",
        "cohorts/A/diversity/permanova_braycurtis.tsv",
        "cohorts/B/diversity/pcoa_braycurtis.tsv",
        "figures/heatmap.svg",
        "figures/heatmap.png",
        "figures/forest.svg",
        "figures/pcoa_braycurtis.png",
        "report.html",
        "run.json",
        "run.log",
    ):
        assert (out / rel).is_file(), rel
    assert leftovers(folder, "out") == []


def test_associations_one_row_per_feature_and_phenotype(finished):
    folder, _ = finished
    table = pd.read_csv(folder / "out/cohorts/A/associations.tsv", sep="\t")
    assert list(table.columns[:9]) == MAASLIN2_COLUMNS and "N.used" in table.columns
    assert set(table["metadata"]) == {"vbmd", "ct_vbmd"}
    assert not table.duplicated(["feature", "metadata", "value"]).any()
    for _, rows in table.groupby("metadata"):
        assert rows["qval"].between(0, 1).all()
    assert (
        table.loc[table["metadata"] == "vbmd"]
        .nsmallest(3, "pval")["feature"]
        .isin(["Faecalibacterium", "Akkermansia", "Roseburia"])
        .sum()
        >= 2
    )


def test_meta_results_per_phenotype(finished):
    folder, run = finished
    meta = pd.read_csv(folder / "out/meta/meta_results.tsv", sep="\t")
    assert set(meta["exposure"]) == {"vbmd", "ct_vbmd"}
    assert {"coef", "stderr", "pval", "k", "qval.fdr", "weight_A", "weight_B"} <= set(meta.columns)
    assert run.results.meta_hits() == int((meta["qval.fdr"] < 0.25).sum())


def test_pathways_through_the_same_models_and_meta_analysis(finished):
    folder, run = finished
    a = pd.read_csv(folder / "out/pathways/cohorts/A/associations.tsv", sep="\t")
    assert set(a["metadata"]) == {"vbmd", "ct_vbmd"} and "PWY-5676" in set(a["feature"])
    top = a[a["metadata"] == "vbmd"].nsmallest(2, "pval")
    assert set(top["feature"]) == {"CENTFERM-PWY", "PWY-5676"}
    meta = pd.read_csv(folder / "out/pathways/meta/meta_results.tsv", sep="\t")
    assert set(meta["exposure"]) == {"vbmd", "ct_vbmd"} and run.results.pathway_meta is not None
    assert 'id="pathways"' in (folder / "out/report.html").read_text()
    assert "pathway" in set(run.results.mechanisms["annotated_hits"]["entity_type"])


def test_permanova_adjusts_the_phenotype_for_the_covariates(finished):
    folder, _ = finished
    a = pd.read_csv(folder / "out/cohorts/A/diversity/permanova_braycurtis.tsv", sep="\t")
    b = pd.read_csv(folder / "out/cohorts/B/diversity/permanova_braycurtis.tsv", sep="\t")
    assert list(a.loc[a["phenotype"] == "vbmd", "term"][:4]) == ["age", "sex", "bmi", "vbmd"]
    assert "sex" not in set(b["term"])


def test_run_json_records_config_versions_seeds_checksums_timings(finished):
    folder, run = finished
    record = json.loads((folder / "out/run.json").read_text())
    assert record["config"]["phenotypes"] == ["vbmd", "ct_vbmd"]
    assert {"osteobiome", "python", "numpy", "pandas"} <= set(record["versions"])
    assert record["seeds"] == {"study": 1, "diversity": 1}
    assert len(record["inputs"]) == 6 and all(len(v["sha256"]) == 64 for v in record["inputs"].values())
    assert record["timings_seconds"]["total"] > 0 and "A associations" in record["timings_seconds"]
    assert record["settings"]["covariates_by_cohort"] == {"A": ["age", "sex", "bmi"], "B": ["age", "bmi"]}
    assert any("constant in cohort B" in w for w in record["warnings"])
    log = (folder / "out/run.log").read_text()
    assert "validated" in log and "A associations done" in log and "B permanova (2 phenotypes) done" in log and "joint ordination done" in log
    assert "report written" in log and "warning:" in log


def test_mechanisms_from_the_knowledge_table(finished):
    folder, run = finished
    mechanisms = run.results.mechanisms
    assert {"sets", "sets_by_cohort", "annotated_hits"} <= set(mechanisms)
    assert {"set", "phenotype", "effect", "pval", "qval"} <= set(mechanisms["sets"].columns)
    hits = mechanisms["annotated_hits"]
    assert hits["reference"].str.len().gt(0).all() and "Faecalibacterium" in set(hits["feature"])
    assert (folder / "out/mechanisms/sets.tsv").is_file()
    assert 'id="mechanisms"' in (folder / "out/report.html").read_text()


def test_report_shows_the_run(finished):
    folder, run = finished
    html = (folder / "out/report.html").read_text()
    assert "Small test study" in html and "constant in cohort B" in html
    assert "<th>sign_agreement</th>" in html and "<th>loo_robust</th>" not in html  # LOO needs 3+ cohorts
    assert run.summary()[0].startswith("A: ") and any("meta-analysis" in s for s in run.summary())


def test_cli_run_prints_summary_and_report_path(tmp_path, capsys):
    path = write_study(tmp_path, n=(40, 40), diversity=False, report=False)
    try:
        main(["run", str(path), "--out", str(tmp_path / "res")])
    except SystemExit as exc:
        assert exc.code == 0
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines()[-1] == str((tmp_path / "res").resolve())
    assert "meta-analysis:" in captured.err and "time:" in captured.err
    assert (
        not (tmp_path / "res" / "report.html").exists()
        and not (tmp_path / "res" / "cohorts/A/diversity").exists()
    )


def test_invalid_study_leaves_no_results_folder(tmp_path, capsys):
    path = write_study(tmp_path, phenotypes=["vbmd", "nope"])
    with pytest.raises(SystemExit) as info:
        main(["run", str(path), "--out", str(tmp_path / "res")])
    assert info.value.code == 2
    assert not (tmp_path / "res").exists() and leftovers(tmp_path, "res") == []


def test_failure_mid_run_leaves_no_partial_folder_and_keeps_old_results(tmp_path, monkeypatch):
    path = write_study(tmp_path, n=(40, 40), diversity=False)

    def broken(results, out, workers=1, meanwhile=None):
        (out / "half-written.html").write_text("...")
        raise RuntimeError("disk full")

    monkeypatch.setattr(osteobiome.report, "render", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run_study(load_study(path), tmp_path / "res", quiet=True)
    assert not (tmp_path / "res").exists() and leftovers(tmp_path, "res") == []

    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "previous.txt").write_text("old results")
    (tmp_path / "res" / MARKER).write_text("")  # a previous result
    with pytest.raises(RuntimeError):
        run_study(load_study(path), tmp_path / "res", quiet=True)
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == [MARKER, "previous.txt"]
    assert leftovers(tmp_path, "res") == []


def test_serial_and_parallel_runs_agree(finished):
    folder, _ = finished
    with pytest.warns(UserWarning):
        cfg = load_study(folder / "study.yaml").model_copy(update={"report": False})
        run_study(cfg, folder / "serial", workers=1, quiet=True)
    for rel in (
        "cohorts/A/associations.tsv",
        "cohorts/B/diversity/permanova_braycurtis.tsv",
        "meta/meta_results.tsv",
        "cohorts/A/diversity/alpha_associations.tsv",
        "pathways/meta/meta_results.tsv",
    ):
        serial = pd.read_csv(folder / "serial" / rel, sep="\t")
        parallel = pd.read_csv(folder / "out" / rel, sep="\t")
        pd.testing.assert_frame_equal(serial, parallel, obj=rel)


def test_phenotype_chunks():
    from osteobiome.study._parts import chunked

    assert chunked(["a", "b", "c", "d", "e"], 2) == [("a", "b"), ("c", "d", "e")]
    assert chunked(["a"], 4) == [("a",)]
    assert chunked(["a", "b", "c"], 1) == [("a", "b", "c")]


@pytest.mark.parametrize("workers", [1, 2])
def test_jobs_come_back_in_plan_order_and_meanwhile_waits_only_for_what_it_asks(tmp_path, workers):
    """The meta-analysis runs in this process as soon as every cohort's associations are in, while the workers
    go on with the diversity jobs: ``wait({"associations"})`` returns exactly those parts, finished."""
    from osteobiome.study._parts import plan_jobs, run_jobs
    from osteobiome.study.validate import validate_study

    path = write_study(tmp_path, n=(40, 30), pathways=True)
    with pytest.warns(UserWarning, match="constant in cohort B"):
        plan = validate_study(load_study(path))
    jobs = plan_jobs(plan, workers)
    kinds = [kind for _, kind, *_ in jobs]
    assert kinds[:4] == ["associations", "associations", "pathways", "pathways"]  # what the meta-analysis needs
    assert {"permanova", "diversity"} <= set(kinds[4:])
    seen, ended = [], []

    def meanwhile(wait):
        parts = wait({"associations"})
        seen.extend((p.cohort, p.kind, isinstance(p.value[0], pd.DataFrame)) for p in parts)

    parts = run_jobs(plan.config, jobs, workers, ended.append, meanwhile=meanwhile)
    assert seen == [("A", "associations", True), ("B", "associations", True)]
    assert [(p.cohort, p.kind, p.phenotypes) for p in parts] == [(j[0], j[1], j[4]) for j in jobs]
    assert len(ended) == len(jobs)


def test_permanova_chunks_share_the_workers_between_cohorts(tmp_path):
    """One chunk per worker per cohort: two cohorts on two workers need no split (each chunk recomputes the
    distances), one cohort on two workers is split in two; the joint ordination is a job with several cohorts."""
    from osteobiome.study._parts import plan_jobs
    from osteobiome.study.validate import validate_study

    path = write_study(tmp_path, n=(40, 30))
    with pytest.warns(UserWarning, match="constant in cohort B"):
        plan = validate_study(load_study(path))

    def permanovas(p, workers):
        return [(name, phenotypes) for name, kind, _, _, phenotypes in plan_jobs(p, workers) if kind == "permanova"]

    phenotypes = tuple(plan.config.phenotypes)
    assert permanovas(plan, 2) == [("A", phenotypes), ("B", phenotypes)]
    assert len(permanovas(plan, 4)) == 4
    assert [kind for _, kind, *_ in plan_jobs(plan, 2)].count("ordination") == 1
    single = dataclasses.replace(plan, cohorts=plan.cohorts[:1])
    assert [p for _, p in permanovas(single, 2)] == [phenotypes[: len(phenotypes) // 2], phenotypes[len(phenotypes) // 2 :]]
    assert "ordination" not in [kind for _, kind, *_ in plan_jobs(single, 2)]


def test_single_cohort_table_at_rank_without_taxonomy(tmp_path):
    path = write_study(tmp_path, n=(50, 40), diversity=False, rank="genus")
    cfg = load_study(path)
    cfg = cfg.model_copy(update={"cohorts": cfg.cohorts[:1]})
    finished = run_study(cfg, tmp_path / "res", quiet=True)
    assert finished.results.meta is None and not (tmp_path / "res" / "meta").exists()
    assert (tmp_path / "res" / "cohorts" / "A" / "associations.tsv").is_file()
    html = (tmp_path / "res" / "report.html").read_text()
    assert 'id="associations"' in html and 'id="meta"' not in html
    log = (tmp_path / "res" / "run.log").read_text()
    assert "features.tsv has no taxonomy; its features are taken to be at rank 'genus' as given" in log


def test_model_errors_name_the_cohort_and_step(tmp_path, capsys):
    path = write_study(tmp_path, n=(40, 40), diversity=False, association={"min_prevalence": 1.0})
    with pytest.raises(SystemExit) as info:
        main(["run", str(path), "--out", str(tmp_path / "res"), "--quiet", "--workers", "2"])
    assert info.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and re.search(r"cohort [AB]\b.*filtered out", err[0])
    assert not (tmp_path / "res").exists() and leftovers(tmp_path, "res") == []


def test_blocked_path_matches_the_in_memory_fit(tmp_path, monkeypatch, capsys):
    path = write_study(
        tmp_path, n=(50, 40), diversity=False, report=False, association={"preset": "maaslin2"}
    )
    with pytest.warns(UserWarning):
        plain = run_study(load_study(path), tmp_path / "plain", quiet=True).results
    schedulers = []

    def recording(*args, **kwargs):
        schedulers.append(kwargs.get("scheduler"))
        return meta_analyze(*args, **kwargs)

    monkeypatch.setattr(osteobiome.study.run, "meta_analyze", recording)
    try:
        main(
            [
                "run",
                str(path),
                "--out",
                str(tmp_path / "blocked"),
                "-q",
                "--block-size",
                "7",
                "--scheduler",
                "threads",
            ]
        )
    except SystemExit as exc:
        assert exc.code == 0
    assert "warning: set-level tests skipped: the --block-size/--scheduler path" in capsys.readouterr().err
    key = ["feature", "metadata", "value"]
    for name, cohort in zip(("A", "B"), plain.cohorts, strict=True):
        blocked = pd.read_csv(tmp_path / "blocked" / "cohorts" / name / "associations.tsv", sep="\t")
        merged = cohort.associations.merge(blocked, on=key, suffixes=("", "_blocked"))
        assert len(merged) == len(cohort.associations) == len(blocked)
        for column in ("coef", "stderr", "pval", "qval"):
            assert (
                (merged[column] - merged[f"{column}_blocked"]).abs() <= 1e-9 * merged[column].abs() + 1e-12
            ).all()
    assert (tmp_path / "blocked" / "meta" / "meta_results.tsv").is_file()
    assert schedulers == ["threads"]  # --scheduler reaches the meta-analysis too


def test_blocked_path_warns_of_skipped_set_tests_only_when_there_are_some(tmp_path):
    """Features that no curated trait set holds: the blocked run skips nothing, so it says nothing about it."""
    path = write_study(tmp_path, n=(40, 40), diversity=False, report=False, association={"preset": "maaslin2"})
    for cohort in ("a", "b"):
        table = pd.read_csv(tmp_path / cohort / "features.tsv", sep="\t", index_col=0)
        table.index = [f"unknown_genus_{i}" for i in range(len(table))]
        table.rename_axis("feature").to_csv(tmp_path / cohort / "features.tsv", sep="\t")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = run_study(load_study(path), tmp_path / "blocked", quiet=True, block_size=7)
    assert run.results.meta is not None and "sets" not in run.results.mechanisms
    assert not [w for w in caught if "set-level tests skipped" in str(w.message)]


def test_blocked_path_runs_the_two_part_default(tmp_path):
    """The default preset (two-part, median comparison) runs in blocks and equals the one-block run."""
    path = write_study(tmp_path, n=(40, 40), diversity=False, report=False)
    for out, extra in (("one", []), ("blocks", ["--block-size", "7"])):
        try:
            main(["run", str(path), "--out", str(tmp_path / out), "-q", *extra])
        except SystemExit as exc:
            assert exc.code == 0
    key = ["feature", "metadata", "value"]
    for name in ("A", "B"):
        one, blocks = (pd.read_csv(tmp_path / out / "cohorts" / name / "associations.tsv", sep="\t") for out in ("one", "blocks"))
        assert "pval.prevalence" in one.columns
        merged = one.merge(blocks, on=key, suffixes=("", "_b"))
        assert len(merged) == len(one) == len(blocks)
        for column in ("coef", "stderr", "pval", "qval", "pval.prevalence"):
            np.testing.assert_allclose(merged[column], merged[f"{column}_b"], rtol=1e-10, atol=1e-13)


def test_no_contribution_table_for_picrust2_pathways(finished):
    folder, run = finished
    assert "contributions" not in run.results.mechanisms
    assert not (folder / "out/mechanisms/contributions.tsv").exists()
    assert 'id="mechanisms-contributions"' not in (folder / "out/report.html").read_text()


def test_mechanism_settings_combine_cohorts_only_when_there_are_several():
    from osteobiome.study.run import _mechanism_settings

    sets = pd.DataFrame({"set": ["butyrate producer"], "phenotype": ["vbmd"], "pval": [0.1]})
    assert _mechanism_settings({}) is None
    assert _mechanism_settings({"sets": sets})["combination"] is None
    both = _mechanism_settings({"sets": sets, "sets_by_cohort": sets.assign(cohort="A")})
    assert both["combination"].startswith("weighted Stouffer")


def test_a_failed_job_of_another_kind_stops_the_run_while_meanwhile_waits(tmp_path):
    """``wait({"associations"})`` collects every job that ends, so a diversity job that fails before the
    associations are in raises there: the run stops without first doing the work ``meanwhile`` does next (the
    meta-analyses), and the pool stops with it."""
    from osteobiome.study._parts import plan_jobs, run_jobs
    from osteobiome.study.validate import validate_study

    path = write_study(tmp_path, n=(40, 30))
    with pytest.warns(UserWarning, match="constant in cohort B"):
        plan = validate_study(load_study(path))
    associations = [job for job in plan_jobs(plan, 2) if job[1] == "associations"]
    name, _, _, covariates, _ = associations[0]
    # no data: fails at its first line, before any import or computation, so always before the associations end
    failing = (name, "diversity", None, covariates, ())
    after_wait = []

    def meanwhile(wait):
        wait({"associations"})
        after_wait.append("meta-analysis")

    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'table'"):
        run_jobs(plan.config, [failing, *associations], 2, lambda part: None, meanwhile=meanwhile)
    assert after_wait == []
