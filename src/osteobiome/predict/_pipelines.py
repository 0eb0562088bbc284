"""The three models × learners as scikit-learn pipelines: every learned step lives inside one estimator.

A model is ``Pipeline([("features", ColumnTransformer), ("model", learner)])``, inside a tuning estimator
(:mod:`osteobiome.predict._tuning`) when it has a hyper-parameter. Cross-validation clones and fits the whole
object on the training rows only, so the prevalence filter, pseudo-count, scaling and tuning never see a test sample (leakage is
impossible by construction, not by care).

Column blocks of the transformed design (names as given by the ColumnTransformer):

- ``taxon__…``: relative abundances → prevalence filter → CLR / log → z-score (:class:`AbundanceFeatures`);
- ``alpha__shannon``, ``alpha__observed``: alpha diversity of the taxa → z-score;
- ``pathway__…``: as the taxa, when pathways are given;
- ``cov_numeric__…`` (z-scored) and ``cov_categorical__…`` (one-hot, first level dropped): the covariates,
  left unpenalized by the penalized learner (prefix ``cov_``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from osteobiome.errors import InputError
from osteobiome.predict._data import Design
from osteobiome.predict._glm import PartlyPenalizedLinear, PartlyPenalizedLogistic
from osteobiome.predict._transformers import TRANSFORMS, AbundanceFeatures, AlphaDiversity
from osteobiome.predict._tuning import ForestOOB, PenaltyPathCV

MODELS = ("covariates", "microbiome", "microbiome+covariates")
LEARNERS = ("penalized", "forest")
UNPENALIZED = "cov_"


@dataclass(frozen=True)
class PredictOptions:
    """How the models are built and validated.

    ``learners``: ``penalized`` (ridge logistic / linear, covariates unpenalized) and/or ``forest`` (random
    forest); ``transform``: ``clr`` or ``log`` of relative abundances; ``min_prevalence``: fraction of training
    samples a feature must be present in; ``folds`` × ``repeats``: outer (stratified) cross-validation;
    ``inner_folds``: tuning folds inside each outer training set; ``alphas``: penalty grid of the penalized
    learner; ``leaf_sizes``: ``min_samples_leaf`` grid of the forest; ``trees``: forest size; ``bootstrap``:
    resamples for bootstrap CIs; ``importance``: permutation importance of the microbiome + covariates
    model in each outer test fold; ``seed``: seeds every random step.
    """

    learners: tuple[str, ...] = LEARNERS
    transform: str = "clr"
    min_prevalence: float = 0.1
    folds: int = 5
    repeats: int = 2
    inner_folds: int = 3
    alphas: tuple[float, ...] = tuple(np.logspace(-2.5, 2, 10))
    leaf_sizes: tuple[int, ...] = (1, 5, 20)
    trees: int = 200
    bootstrap: int = 1000
    importance: bool = True
    seed: int = 0

    def check(self) -> PredictOptions:
        """InputError (one line naming the option) for values that cannot work."""
        unknown = [x for x in self.learners if x not in LEARNERS]
        if unknown or not self.learners:
            raise InputError(f"learners: {unknown or 'none'} not available; choose from {', '.join(LEARNERS)}.")
        if self.transform not in TRANSFORMS:
            raise InputError(f"transform {self.transform!r}: choose {' or '.join(TRANSFORMS)}.")
        if not 0 <= self.min_prevalence < 1:
            raise InputError(f"min_prevalence {self.min_prevalence}: give a fraction in [0, 1).")
        for name in ("folds", "inner_folds"):
            if getattr(self, name) < 2:
                raise InputError(f"{name} = {getattr(self, name)}: cross-validation needs at least 2 folds.")
        if self.repeats < 1 or self.bootstrap < 100:
            raise InputError("repeats must be ≥ 1 and bootstrap ≥ 100.")
        return self


def _features(design: Design, model: str, options: PredictOptions) -> ColumnTransformer:
    parts = []
    if model != "covariates":
        taxa = design.block("taxon")
        abundance = AbundanceFeatures(options.min_prevalence, options.transform)
        parts.append(("taxon", Pipeline([("abundance", abundance), ("scale", StandardScaler())]), taxa))
        parts.append(("alpha", Pipeline([("alpha", AlphaDiversity()), ("scale", StandardScaler())]), taxa))
        pathways = design.block("pathway")
        if pathways:
            abundance = AbundanceFeatures(options.min_prevalence, options.transform)
            parts.append(("pathway", Pipeline([("abundance", abundance), ("scale", StandardScaler())]), pathways))
    if model != "microbiome":
        if design.numeric:
            parts.append((UNPENALIZED + "numeric", StandardScaler(), design.numeric))
        if design.categorical:
            onehot = OneHotEncoder(drop="first", handle_unknown="ignore", sparse_output=False)
            parts.append((UNPENALIZED + "categorical", onehot, design.categorical))
    return ColumnTransformer(parts, remainder="drop").set_output(transform="pandas")


def inner_cv(task: str, folds: int, seed: int) -> StratifiedKFold | KFold:
    """The tuning folds (stratified for a binary outcome), shuffled with ``seed``."""
    kind = StratifiedKFold if task == "binary" else KFold
    return kind(n_splits=folds, shuffle=True, random_state=seed)


def build_model(design: Design, model: str, learner: str, options: PredictOptions, seed: int) -> object:
    """An unfitted estimator for one model × learner; its ``fit`` tunes and fits the whole pipeline.

    ``penalized``: the covariates-only model is the plain (unpenalized) logistic / linear model; the others
    tune α by inner cross-validation (:class:`PenaltyPathCV`). ``forest``: ``min_samples_leaf`` tuned by
    out-of-bag loss (:class:`ForestOOB`).
    """
    binary = design.task == "binary"
    if model == "covariates" and not (design.numeric or design.categorical):
        raise InputError("covariates: none given; the covariates-only model needs at least one covariate.")
    features = _features(design, model, options)
    if learner == "penalized":
        if model == "covariates":
            estimator = PartlyPenalizedLogistic() if binary else PartlyPenalizedLinear()
            return Pipeline([("features", features), ("model", estimator)])
        cv = inner_cv(design.task, options.inner_folds, seed)
        return PenaltyPathCV(features, binary, options.alphas, cv, UNPENALIZED)
    kind = RandomForestClassifier if binary else RandomForestRegressor
    forest = kind(n_estimators=options.trees, max_features="sqrt", random_state=seed, n_jobs=1)
    return ForestOOB(features, forest, options.leaf_sizes)


def fitted_pipeline(estimator: object) -> Pipeline:
    """The fitted pipeline inside a (possibly tuned) estimator."""
    return getattr(estimator, "best_estimator_", estimator)


def predicted(estimator: object, X: object, binary: bool) -> np.ndarray:
    """Probability of the positive class (binary) or the predicted value (continuous)."""
    return estimator.predict_proba(X)[:, 1] if binary else estimator.predict(X)
