"""What a prediction run returns: tidy tables, written as TSV files into one folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from osteobiome.io.tsv import write_tsv

TABLE_NAMES = ("performance", "comparison", "calibration", "importance", "predictions", "decision")


@dataclass
class PredictionResult:
    """Tables of a prediction run (every one has ``cohort`` and, but importance, ``validation`` columns).

    - ``performance``: ``cohort validation learner model metric estimate ci.lower ci.upper n`` (AUC for a
      binary outcome, R² and RMSE for a continuous one; 95% CIs);
    - ``comparison``: ``cohort validation learner comparison metric estimate ci.lower ci.upper pval method``
      (microbiome + covariates minus covariates, paired on the same folds and samples);
    - ``calibration``: ``cohort validation learner model slope intercept brier n``;
    - ``importance``: ``cohort learner model feature kind importance importance.sd selected folds coef
      direction`` (permutation importance over outer folds; ``selected``: share of outer folds whose filter
      kept the feature);
    - ``predictions``: ``cohort validation sample learner model observed predicted`` (out-of-fold, mean over
      repeats);
    - ``decision``: ``cohort validation learner model threshold net_benefit`` (binary outcome; with the
      ``treat all`` / ``treat none`` references).
    """

    performance: pd.DataFrame
    comparison: pd.DataFrame
    calibration: pd.DataFrame
    importance: pd.DataFrame
    predictions: pd.DataFrame
    decision: pd.DataFrame
    task: str
    outcome: str
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def combine(cls, results: Sequence[PredictionResult]) -> PredictionResult:
        """One result holding the rows of several (cohorts, validations); settings of the first."""
        tables = {
            name: pd.concat([getattr(r, name) for r in results if len(getattr(r, name))], ignore_index=True)
            if any(len(getattr(r, name)) for r in results)
            else getattr(results[0], name)
            for name in TABLE_NAMES
        }
        return cls(**tables, task=results[0].task, outcome=results[0].outcome, settings=results[0].settings)

    def write(self, folder: str | Path) -> list[Path]:
        """Write ``<table>.tsv`` for every table into ``folder`` (created); return the paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name in TABLE_NAMES:
            table = getattr(self, name)
            if name == "decision" and not len(table):
                continue
            path = folder / f"{name}.tsv"
            write_tsv(table, path)
            paths.append(path)
        return paths
