"""The study file: a YAML description of a whole study, validated with pydantic.

Example (every section but ``cohorts`` and ``phenotypes`` is optional)::

    study: Gut microbiome and bone in two cohorts
    cohorts:
      - name: FHS
        features: fhs/table.biom
        taxonomy: fhs/taxonomy.tsv
        metadata: fhs/metadata.tsv
        pathways: fhs/path_abun_unstrat.tsv
        mediators: fhs/metabolites.tsv
    rank: genus
    phenotypes: [radius_Tt_vBMD, tibia_Ct_vBMD]
    covariates: [age, sex, height, weight]
    reference: {sex: F}
    association: {preset: default, min_prevalence: 0.1}
    meta_analysis: {method: REML}
    fdr: {cohort: 0.1, meta: 0.25}
    diversity: {alpha: [shannon, observed], beta: [braycurtis], permutations: 999}
    prediction: {outcome: low_bmd, learners: [penalized, forest]}
    mediation: {outcome: tibia_Ct_vBMD, test: hdmt, log: true}

Instead of ``covariates``, ``formula: "~ phenotype * sex + age + BMI"`` gives the model, the word ``phenotype``
standing for each phenotype in turn (:mod:`osteobiome.study._formula`; its other variables are the covariates).
``strata: [sex]`` adds analyses within each level of ``sex`` and tests of heterogeneity between them
(:mod:`osteobiome.study._strata`; levels with fewer than ``min_stratum_size`` samples are skipped).

Relative paths are relative to the study file. Every error is one line that names the study file, the key
(``cohorts[0].metadata``) and its line in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from osteobiome.association.options import AssociationOptions
from osteobiome.errors import InputError, suggest
from osteobiome.study._formula import checked_formula, formula_covariates_of

KeyPath = tuple[str | int, ...]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolved(value: Path | None, info: ValidationInfo) -> Path | None:
    """``value`` made absolute against the study file's folder (passed as validation context ``base``)."""
    if value is None:
        return None
    base = (info.context or {}).get("base")
    value = Path(value).expanduser()
    return value if value.is_absolute() or base is None else (Path(base) / value).resolve()


class CohortSpec(_Section):
    """One cohort: its feature table, sample metadata and optional taxonomy / pathway tables."""

    name: str = Field(min_length=1)
    features: Path
    metadata: Path
    taxonomy: Path | None = None
    pathways: Path | None = None
    mediators: Path | None = None
    samples_as: Literal["rows", "columns"] | None = None
    truth: Path | None = Field(
        default=None,
        description="Planted associations of a simulated cohort (TSV with feature, phenotype, log2fc); the "
        "report then compares them with what was found.",
    )

    @field_validator("name")
    @classmethod
    def _plain_label(cls, value: str) -> str:
        """The name becomes a folder of the results (``cohorts/<name>``): it must not be able to leave it."""
        bad = (
            "a path separator" if "/" in value or "\\" in value
            else "a leading dot" if value.startswith(".")
            else "a control character" if any(ord(ch) < 32 or ord(ch) == 127 for ch in value)
            else "only spaces" if not value.strip()
            else None
        )
        if bad:
            raise ValueError(
                f"cohort names must be plain labels (they name folders of the results) and this one has {bad}; "
                "use letters, digits, spaces, '-' or '_'"
            )
        return value

    @field_validator("features", "metadata", "taxonomy", "pathways", "mediators", "truth")
    @classmethod
    def _relative_to_study(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolved(value, info)


class AssociationSpec(BaseModel):
    """Options for :func:`osteobiome.association.pipeline`; anything beyond ``preset`` is passed on as a keyword."""

    model_config = ConfigDict(extra="allow", frozen=True)

    preset: str = "default"
    min_prevalence: float | None = Field(default=None, ge=0, le=1)
    min_abundance: float | None = Field(default=None, ge=0)

    def options(self) -> dict[str, Any]:
        """The keyword options for ``associate`` (those the study file set, without ``preset``)."""
        fields = self.model_dump(exclude_none=True, exclude={"preset"})
        return {k.replace("-", "_"): v for k, v in fields.items()}

    def resolved(self) -> AssociationOptions:
        """The preset with the study file's options (:class:`~osteobiome.association.options.AssociationOptions`;
        unknown names and bad values raise InputError)."""
        return AssociationOptions.resolve(self.preset, self.options())


class MetaSpec(_Section):
    """Pooling across cohorts: tau² estimator and test (metafor's ``method`` and ``test``)."""

    method: Literal["REML", "FE", "DL", "PM", "ML", "HE", "SJ"] = "REML"
    test: Literal["z", "knha"] = "z"
    preset: Literal["mmuphin"] | None = None
    moderators: Path | None = None  # cohort-level traits (TSV, cohort names first): meta-regression per feature

    @field_validator("moderators")
    @classmethod
    def _relative_to_study(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolved(value, info)


class BatchCorrectionSpec(_Section):
    """Pooled analysis: the cohorts' tables pooled into one, batch-corrected (:mod:`osteobiome.batch`) and
    associated once; ``batch``: ``cohort`` (each cohort a batch) or a metadata column of every cohort;
    ``covariates``: protected in the correction (default: the phenotypes and the study covariates)."""

    batch: str = "cohort"
    covariates: list[str] | None = None
    permutations: int = Field(default=999, ge=0)
    seed: int = 1


class FdrSpec(_Section):
    """q-value thresholds that call a hit: per cohort and for the meta-analysis; ``scope``: the family the
    false discovery rate is controlled over — ``phenotype`` (BH within each phenotype, the default) or
    ``study`` (BH over every feature × phenotype row of a cohort, and of the meta-analysis, together: with many
    phenotypes this keeps the expected share of false hits at q across the whole study)."""

    cohort: float = Field(default=0.1, gt=0, le=1)
    meta: float = Field(default=0.25, gt=0, le=1)
    scope: Literal["phenotype", "study"] = "phenotype"


class DiversitySpec(_Section):
    """Alpha indices, beta distances, PERMANOVA permutations and the seed of the permutations."""

    alpha: list[str] = Field(default_factory=lambda: ["shannon", "observed"])
    beta: list[str] = Field(default_factory=lambda: ["braycurtis"])
    permutations: int = Field(default=999, ge=0)
    seed: int = 1


class PredictionSpec(_Section):
    """Early diagnosis: the three models (covariates; microbiome; both) per cohort by nested cross-validation,
    and leave-one-cohort-out external validation (``external``, with two or more cohorts); see
    :mod:`osteobiome.predict`. ``covariates`` default to the study's."""

    outcome: str = Field(min_length=1)
    covariates: list[str] | None = None
    positive: str | None = None
    learners: list[Literal["penalized", "forest"]] = Field(default_factory=lambda: ["penalized", "forest"], min_length=1)
    transform: Literal["clr", "log"] = "clr"
    min_prevalence: float = Field(default=0.1, ge=0, lt=1)
    folds: int = Field(default=5, ge=2)
    repeats: int = Field(default=2, ge=1)
    inner_folds: int = Field(default=3, ge=2)
    trees: int = Field(default=200, ge=10)
    external: bool = True
    seed: int = 0

    @field_validator("positive", mode="before")
    @classmethod
    def _level_as_text(cls, value: object) -> object:
        return None if value is None else str(value)


class MediationSpec(_Section):
    """Mediation of the cohorts with a ``mediators`` table (:func:`osteobiome.mediate`): the outcome, the
    composite-null test, log2 of the mediators, bootstrap resamples and their seed."""

    outcome: str = Field(min_length=1)
    test: Literal["hdmt", "dact", "maxp"] = "hdmt"
    log: bool = False
    n_boot: int = Field(default=1000, ge=10)
    seed: int = 1


class SurvivalSpec(_Section):
    """Incident outcome with the microbiome as exposure (:mod:`osteobiome.survival`): ``event`` column (1 =
    fracture), ``time`` (follow-up, or age at event/censoring with ``entry`` = age at baseline), ``covariates``
    (default: the study's), ``outcome_type`` (``binary``: logistic, no time), ``community_pcs`` (Aitchison PCs
    tested with the alpha indices)."""

    event: str = Field(min_length=1)
    time: str | None = None
    entry: str | None = None
    covariates: list[str] | None = None
    outcome_type: Literal["survival", "binary"] = "survival"
    community_pcs: int = Field(default=3, ge=0)


class StudyConfig(_Section):
    """A whole study: cohorts, phenotypes, covariates and how to analyse them.

    ``seed`` seeds nothing: it is recorded in ``run.json`` only (the demo writes its simulation seed there);
    the seeds of random steps are set per step (``diversity.seed`` for the PERMANOVA permutations).
    """

    study: str = "Microbiome and bone study"
    cohorts: list[CohortSpec] = Field(min_length=1)
    rank: str | None = "genus"
    phenotypes: list[str] = Field(min_length=1)
    covariates: list[str] = Field(default_factory=list)
    reference: dict[str, str] = Field(default_factory=dict)
    random_effects: list[str] = Field(default_factory=list)
    association: AssociationSpec = Field(default_factory=AssociationSpec)
    meta_analysis: MetaSpec = Field(default_factory=MetaSpec)
    fdr: FdrSpec = Field(default_factory=FdrSpec)
    diversity: DiversitySpec | None = Field(default_factory=DiversitySpec)
    formula: str | None = None
    strata: list[str] = Field(default_factory=list)
    min_stratum_size: int = Field(default=30, ge=3)
    prediction: PredictionSpec | None = None
    batch_correction: BatchCorrectionSpec | None = None
    mediation: MediationSpec | None = None
    survival: SurvivalSpec | None = None
    report: bool = True
    seed: int = Field(
        default=1,
        description="Recorded in run.json only (the demo's simulation seed); seeds of random steps are set "
        "per step (diversity.seed …).",
    )

    _source: Path | None = PrivateAttr(default=None)
    _lines: dict[KeyPath, int] = PrivateAttr(default_factory=dict)

    @field_validator("diversity", mode="before")
    @classmethod
    def _switch(cls, value: object) -> object:
        """``diversity: false`` switches diversity off; ``true`` (or an empty section) uses the defaults."""
        if value is False:
            return None
        return {} if value is True or value is None else value

    @model_validator(mode="before")
    @classmethod
    def _covariates_from_formula(cls, data: object) -> object:
        """With ``formula`` and no ``covariates``, the covariates are the formula's other variables."""
        return formula_covariates_of(data)

    @field_validator("formula")
    @classmethod
    def _formula_terms(cls, value: str | None, info: ValidationInfo) -> str | None:
        return checked_formula(value, info.data.get("covariates", []))

    @field_validator("strata")
    @classmethod
    def _strata_variables(cls, value: list[str], info: ValidationInfo) -> list[str]:
        bad = [v for v in value if v in info.data.get("phenotypes", []) or value.count(v) > 1]
        if bad:
            raise ValueError(f"{bad[0]!r} is a phenotype or listed twice; stratify by other variables, each once")
        return value

    @field_validator("reference", mode="before")
    @classmethod
    def _levels_as_text(cls, value: object) -> object:
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("cohorts")
    @classmethod
    def _unique_names(cls, cohorts: list[CohortSpec]) -> list[CohortSpec]:
        seen: dict[str, int] = {}
        for i, cohort in enumerate(cohorts):
            if cohort.name in seen:
                raise PydanticCustomError(
                    "duplicate_cohort",
                    "cohort names must be unique; '{name}' is also the name of cohorts[{first}]; give each cohort its own name",
                    {"name": cohort.name, "first": seen[cohort.name], "at": i},
                )
            seen[cohort.name] = i
        return cohorts

    @model_validator(mode="after")
    def _consistent(self) -> StudyConfig:
        with_mediators = [c.name for c in self.cohorts if c.mediators is not None]
        if with_mediators and self.mediation is None:
            raise ValueError(f"cohort(s) {with_mediators} have a mediators table; add 'mediation: {{outcome: <column>}}'")
        if self.mediation is not None and not with_mediators:
            raise ValueError("'mediation' needs a 'mediators:' table in at least one cohort")
        both = sorted(set(self.phenotypes) & set(self.covariates))
        if both:
            raise ValueError(f"{both} are listed as phenotypes and as covariates; keep each in one list")
        for lst, label in ((self.phenotypes, "phenotypes"), (self.covariates, "covariates")):
            rep = sorted({v for v in lst if lst.count(v) > 1})
            if rep:
                raise ValueError(f"{label} lists {rep} more than once")
        return self

    # ------------------------------------------------------------------ where things are in the file
    @property
    def source(self) -> Path | None:
        """The study file this configuration was read from (``None`` when built in Python)."""
        return self._source

    def where(self, *path: str | int) -> str:
        """``study.yaml line 12: cohorts[0].metadata`` for a key path (nearest ancestor's line if absent)."""
        key = format_key(path)
        if self._source is None:
            return key
        line = line_of(self._lines, path)
        return f"{self._source.name} line {line}: {key}" if line else f"{self._source.name}: {key}"


def format_key(path: KeyPath) -> str:
    """``('cohorts', 0, 'metadata')`` → ``cohorts[0].metadata``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The 1-based line of ``path`` in the file, or of its nearest ancestor that is there."""
    path = tuple(path)
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path)


ALIAS_BUDGET = 10_000
"""How many nodes YAML aliases may add to a study file when expanded (a "billion laughs" file adds 10^9)."""

MAX_DEPTH = 50
"""The deepest nesting of lists and mappings a study file may have (real ones nest 4 deep)."""


def compose_safely(text: str, name: str) -> yaml.Node | None:
    """The YAML node graph of ``text``, refused with an :class:`InputError` when nested deeper than
    :data:`MAX_DEPTH` or when its aliases would expand it by more than :data:`ALIAS_BUDGET` nodes (or refer
    to themselves); ``name`` is the file named in the error."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        root = None
        deep = True
    else:
        deep = False
    if not deep and root is not None:
        deep = _expanded_size(root, name) is None
    if deep:
        raise InputError(f"{name}: lists or mappings are nested more than {MAX_DEPTH} deep; a study file is flat.")
    return root


def _expanded_size(root: yaml.Node, name: str) -> int | None:
    """Nodes of the document with every alias expanded (``None`` when nested deeper than MAX_DEPTH)."""
    sizes: dict[int, int] = {}
    distinct = 0
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            continue
        if key in on_path:
            raise InputError(f"{name}: an alias refers to the list or mapping it is in; remove the alias.")
        if key in sizes:
            continue
        distinct += 1
        on_path.add(key)
        if len(on_path) > MAX_DEPTH:
            return None
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    if sizes[id(root)] > distinct + ALIAS_BUDGET:
        raise InputError(
            f"{name}: its YAML aliases (*name) expand to more than {ALIAS_BUDGET:,} extra entries; "
            "write the values out or use fewer aliases."
        )
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def key_lines(text: str | yaml.Node | None) -> dict[KeyPath, int]:
    """Map every key path of a YAML document (text, or its composed root node) to the 1-based line where its
    key (or item) starts."""
    root = yaml.compose(text) if isinstance(text, str) else text
    lines: dict[KeyPath, int] = {}

    def walk(node: yaml.Node, path: KeyPath) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                child = (*path, str(key_node.value))
                lines[child] = key_node.start_mark.line + 1
                walk(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    if root is not None:
        lines[()] = root.start_mark.line + 1
        walk(root, ())
    return lines


def load_study(path: str | Path) -> StudyConfig:
    """Read and validate a study file; relative paths become absolute against the file's folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: study file not found; check the path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the study file ({exc}).") from None
    try:
        root = compose_safely(text, path.name)
        data = yaml.SafeLoader("").construct_document(root) if root is not None else None
        lines = key_lines(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(
            f"{path.name}{where}: not valid YAML ({problem}); fix the indentation or quoting."
        ) from None
    if not isinstance(data, dict):
        raise InputError(
            f"{path.name}: the study file must be a YAML mapping with at least 'cohorts' and 'phenotypes'."
        )
    return study_from_dict(data, base=path.resolve().parent, source=path, lines=lines)


def study_from_dict(
    data: dict[str, Any],
    base: Path | None = None,
    source: Path | None = None,
    lines: dict[KeyPath, int] | None = None,
) -> StudyConfig:
    """Validate a study given as a dict (paths relative to ``base``); errors as one-line :class:`InputError`."""
    try:
        cfg = StudyConfig.model_validate(data, context={"base": base})
    except ValidationError as exc:
        raise InputError(_first_error(exc, source, lines or {})) from None
    cfg._source = Path(source) if source is not None else None
    cfg._lines = dict(lines or {})
    return cfg


def _first_error(exc: ValidationError, source: Path | None, lines: dict[KeyPath, int]) -> str:
    """One line for the first pydantic error: file, line, key, problem and what is expected."""
    errors = exc.errors(include_url=False)
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])  # a typo explains the rest
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    kind = err["type"]
    if kind == "duplicate_cohort":
        loc = (*loc, err["ctx"]["at"], "name")
    key = format_key(loc)
    if kind == "duplicate_cohort":
        msg = f"{key}: {err['msg']}"
    elif kind == "extra_forbidden":
        parent = StudyConfig if len(loc) == 1 else _section_model(loc[:-1])
        allowed = list(parent.model_fields) if parent else []
        msg = f"{key}: unknown key{suggest(str(loc[-1]), allowed)}; allowed keys: {', '.join(allowed)}"
    elif kind == "missing":
        msg = f"{key}: required key is missing"
    else:
        msg = f"{key}: {err['msg'].removeprefix('Value error, ')}{_got(err.get('input'))}"
        if kind.startswith("literal"):
            msg = f"{key}: {err['msg']} (got {err.get('input')!r})"
    line = line_of(lines, loc)
    prefix = f"{source.name}{f' line {line}' if line else ''}: " if source is not None else ""
    return prefix + msg + "."


def _got(value: object) -> str:
    """`` (got 'x')`` for a short scalar input; nothing for a whole mapping or list (it would flood the line)."""
    if isinstance(value, (dict, list, tuple)):
        return ""
    text = repr(value)
    return f" (got {text if len(text) <= 80 else text[:77] + '...'})"


def _section_model(loc: KeyPath) -> type[BaseModel] | None:
    """The pydantic model describing the mapping at ``loc`` (list indices skipped)."""
    model: type[BaseModel] = StudyConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        candidates = [
            a for a in _type_args(field.annotation) if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        if not candidates:
            return None
        model = candidates[0]
    return model


def _type_args(annotation: object) -> list[object]:
    from typing import get_args

    args = get_args(annotation)
    if not args:
        return [annotation]
    out: list[object] = []
    for a in args:
        out.extend(_type_args(a))
    return out
