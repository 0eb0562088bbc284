"""The options of an association run: one frozen, typed :class:`AssociationOptions`, presets as instances.

Every option of the pipeline is a field; :meth:`AssociationOptions.preset` gives a preset's instance and
:meth:`AssociationOptions.resolve` applies user overrides (one validator, :meth:`~AssociationOptions.__post_init__`,
checks every field). After resolution the preset's *name* is a label only (it appears in the Methods text): what
the code does is decided by the fields.

Presets. ``maaslin2`` is MaAsLin2 1.15's defaults (one OLS per feature on log2 TSS with half-minimum zeros, BH
pooled over every coefficient of the call; a categorical variable with more than two levels needs its reference
level). ``default`` was chosen by the calibration benchmark (issue 9; ``osteobiome benchmark calibration``,
numbers in benchmarks/RESULTS.md § calibration): a MaAsLin3-style two-part model (logistic prevalence with
weighted augmentation + log2 abundance on the samples where the feature is present), the two p-values joined by
a presence-weighted Cauchy combination, the abundance coefficient compared with the median coefficient of the
same variable (compositional correction, analytic covariance), BH per variable.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from osteobiome.errors import InputError, suggest

Normalization = Literal["TSS", "CLR", "CSS", "TMM", "NONE"]
Transform = Literal["LOG", "LOGIT", "AST", "NONE"]
Correction = Literal["BH", "BY", "bonferroni", "holm", "hochberg"]

# Transforms that only make sense on some normalizations (MaAsLin2 allows LOGIT/AST only after TSS or NONE;
# we also refuse to log- or logit-transform CLR values, which are already logs and can be negative).
_ALLOWED_NORMALIZATIONS = {
    "LOG": ("TSS", "CSS", "TMM", "NONE"),
    "LOGIT": ("TSS", "NONE"),
    "AST": ("TSS", "NONE"),
    "NONE": typing.get_args(Normalization),
}
#: Normalizations whose per-sample scale needs the whole table (refused when the features run in several blocks).
WHOLE_TABLE_NORMALIZATIONS = ("CSS", "TMM")

_HELP = {
    "normalization": "TSS, CLR, CSS, TMM or NONE (per sample, over the retained features).",
    "transform": "LOG (log2, zeros to half the feature's minimum), LOGIT, AST or NONE.",
    "min_abundance": "Abundance a sample must exceed to count towards --min-prevalence.",
    "min_prevalence": "Keep features above --min-abundance in more than this fraction of samples.",
    "min_variance": "Keep features whose variance is above this.",
    "standardize": "z-score numeric metadata (coefficients per SD).",
    "correction": "Multiple testing: BH, BY, bonferroni, holm or hochberg.",
    "fdr_scope": "all (one correction over every coefficient, MaAsLin2) or per-variable.",
    "max_significance": "q-value cut for significant_results.tsv (default 0.1, as osteobiome run; MaAsLin2 uses 0.25).",
    "model": "lm (one linear model per feature), twopart (prevalence + abundance where present); lmm is what runs with --random.",
    "variance": "classical or HC3 (robust) standard errors; with --random, classical only.",
    "compositional": "none, median (test against the median coefficient) or linda (LinDA's mode).",
    "compositional_prevalence": "Two-part: median-centre the prevalence part too.",
    "depth_covariate": "Two-part, count tables: log read depth in the prevalence part (prevalence) or both parts.",
    "joint": "Two-part p-value: cauchy (presence-weighted Cauchy combination) or beta (MaAsLin3's).",
    "require_reference": "A categorical variable with more than two levels needs --reference (MaAsLin2).",
    "augment": "Two-part: MaAsLin3's augmentation of the prevalence part against separation (on by default).",
}


@dataclass(frozen=True)
class AssociationOptions:
    """Every option of :func:`osteobiome.association.associate` (frozen; build with :meth:`preset` /
    :meth:`resolve` or directly, then every field is checked).

    Parameters
    ----------
    normalization, transform
        Per-sample normalization over the retained features and the per-value transform (MaAsLin2's names;
        case-insensitive on input, stored upper-case).
    min_abundance, min_prevalence, min_variance
        MaAsLin2's filter on the raw values: kept if ``#{x > min_abundance} > n · min_prevalence`` and the
        sample variance is ``> min_variance``.
    standardize
        z-score numeric metadata (sample sd), so coefficients are per SD.
    correction, fdr_scope
        ``p.adjust`` method, applied over all coefficients of the call (``all``) or per variable.
    max_significance
        q-value cut of :meth:`~osteobiome.association.pipeline.Association.significant`.
    model, variance, compositional, compositional_prevalence, depth_covariate, joint, augment
        The model variants (:mod:`osteobiome.association.variants`); ``augment``: MaAsLin3's augmentation of
        the two-part model's prevalence part against separation.
    require_reference
        A categorical variable with more than two levels and no reference level is an error (MaAsLin2) instead
        of using its most frequent level with a warning.
    preset_name
        The preset these options started from: a label for the records (Methods text), never read by the code.

    Examples
    --------
    >>> opts = AssociationOptions.preset("maaslin2")
    >>> opts.model, opts.fdr_scope
    ('lm', 'all')
    >>> AssociationOptions.resolve("default", {"min_prevalence": 0.2}).min_prevalence
    0.2
    """

    normalization: Normalization = "TSS"
    transform: Transform = "LOG"
    min_abundance: float = 0.0
    min_prevalence: float = 0.1
    min_variance: float = 0.0
    standardize: bool = True
    correction: Correction = "BH"
    fdr_scope: Literal["all", "per-variable"] = "per-variable"
    max_significance: float = 0.1  # as run's fdr.cohort; MaAsLin2's own default is 0.25
    model: Literal["lm", "lmm", "twopart"] = "twopart"
    variance: Literal["classical", "HC3"] = "classical"
    compositional: Literal["none", "median", "linda"] = "median"
    compositional_prevalence: bool = False
    depth_covariate: Literal["none", "prevalence", "both"] = "none"
    joint: Literal["beta", "cauchy"] | None = "cauchy"
    require_reference: bool = False
    augment: bool = True
    preset_name: str = "default"

    def __post_init__(self) -> None:
        """The one validator: types, allowed values (case-insensitive names canonicalized), ranges, combinations."""
        hints = _field_types()
        for f in fields(self):
            value, kind = getattr(self, f.name), hints[f.name]
            if typing.get_origin(kind) in (typing.Union, types.UnionType):  # Optional[Literal[...]]
                if value is None:
                    continue
                kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
            if typing.get_origin(kind) is Literal:
                allowed = typing.get_args(kind)
                canonical = {str(a).lower(): a for a in allowed} | ({"fdr": "BH"} if f.name == "correction" else {})
                key = str(value).lower()
                if key not in canonical:
                    raise InputError(
                        f"option {f.name}={value!r} is not known{suggest(str(value), allowed)}; use one of {', '.join(allowed)}."
                    )
                object.__setattr__(self, f.name, canonical[key])
            elif kind is str:
                object.__setattr__(self, f.name, str(value))
            elif kind is bool:
                if not isinstance(value, bool):
                    raise InputError(f"option {f.name}={value!r} must be true or false.")
            elif kind is float:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise InputError(f"option {f.name}={value!r} must be a number.")
                object.__setattr__(self, f.name, float(value))
        if not 0.0 <= self.min_prevalence <= 1.0:
            raise InputError(
                f"min_prevalence {self.min_prevalence} must be a fraction between 0 and 1 (e.g. 0.1 for 10%)."
            )
        if not 0.0 < self.max_significance <= 1.0:
            raise InputError(f"max_significance {self.max_significance} must be in (0, 1].")
        allowed = _ALLOWED_NORMALIZATIONS[self.transform]
        if self.normalization not in allowed:
            raise InputError(
                f"transform {self.transform} cannot follow normalization {self.normalization} "
                f"({self.transform} needs {' or '.join(allowed)}); choose another --transform (e.g. NONE) or --normalization."
            )
        if self.model == "twopart" and self.normalization != "TSS":
            raise InputError(
                f"model='twopart' works on relative abundances; use normalization='TSS', not {self.normalization!r}."
            )

    # ------------------------------------------------------------------ construction
    @classmethod
    def preset(cls, name: str) -> AssociationOptions:
        """The options of preset ``name`` (``default`` or ``maaslin2``); unknown names raise InputError."""
        if name not in PRESETS:
            raise InputError(f"preset {name!r} is not known{suggest(name, PRESETS)}; use one of {', '.join(PRESETS)}.")
        return PRESETS[name]

    @classmethod
    def resolve(cls, preset: str | AssociationOptions = "default", overrides: Mapping[str, Any] | None = None) -> AssociationOptions:
        """``preset`` (a name or an instance) with the non-None ``overrides``; unknown names raise InputError."""
        base = preset if isinstance(preset, AssociationOptions) else cls.preset(preset)
        names = cls.names()
        changes = {}
        for name, value in (overrides or {}).items():
            key = name.replace("-", "_")
            if key not in names:
                raise InputError(f"option {name!r} is not known{suggest(key, names)}; options: {', '.join(names)}.")
            if value is not None:
                changes[key] = value
        return dataclasses.replace(base, **changes) if changes else base

    @classmethod
    def names(cls) -> list[str]:
        """Field names, in order."""
        return [f.name for f in fields(cls)]

    @staticmethod
    def help(name: str) -> str:
        """One-line help of field ``name`` (the CLI's option help)."""
        return _HELP.get(name, "")

    def as_dict(self) -> dict[str, Any]:
        """Plain dict of every field (what run.json, the table attrs and the Methods text record)."""
        return dataclasses.asdict(self)

    def fitted(self, random: bool) -> AssociationOptions:
        """The options of the model that actually runs: with ``random`` grouping variables, a linear model
        becomes linear mixed models with random intercepts (``model='lmm'``) and the two-part model a two-part
        mixed model (random intercepts in both parts; recorded as ``TWOPART_MIXED`` by
        :func:`~osteobiome.association.variants.fitted_model`), which supports classical variance and no
        median-centring of the prevalence part; linear mixed models support classical variance only."""
        if not random:
            if self.model == "lmm":
                raise InputError("model='lmm' fits random intercepts; name the grouping variables (--random subject).")
            return self
        if self.model == "twopart":
            if self.variance == "HC3" or self.compositional_prevalence:
                raise InputError(
                    "the two-part mixed model (--random with model twopart) supports --variance classical and no "
                    "--compositional-prevalence; set those options, or use --model lm for linear mixed models."
                )
            return self
        if self.variance == "HC3":
            raise InputError(
                "linear mixed models (--random) support --variance classical only (HC3 is for fixed-effects "
                "models); set --variance classical, or drop --random."
            )
        return dataclasses.replace(self, model="lmm")

    def __getitem__(self, name: str) -> Any:
        """``opts["model"]`` for code that reads options by name (Methods text, run.json readers)."""
        if name not in self.names():
            raise KeyError(name)
        return getattr(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        """``getattr(self, name, default)``: mapping-style access, like ``dict.get``."""
        return getattr(self, name, default) if name in self.names() else default


@functools.cache
def _field_types() -> dict[str, Any]:
    """The fields' resolved type hints (computed once: resolving them is slow)."""
    return typing.get_type_hints(AssociationOptions)


PRESETS: dict[str, AssociationOptions] = {
    "maaslin2": AssociationOptions(
        fdr_scope="all", model="lm", compositional="none", joint="beta", require_reference=True, preset_name="maaslin2"
    ),
    "default": AssociationOptions(),
}
