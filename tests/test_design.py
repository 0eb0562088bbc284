import numpy as np
import pandas as pd
import pytest

from osteobiome.errors import InputError
from osteobiome.stats.design import build_design


@pytest.fixture
def metadata():
    rng = np.random.default_rng(0)
    n = 30
    return pd.DataFrame(
        {
            "age": rng.normal(60, 8, n),
            "sex": ["F", "M", "F"] * 10,
            "site": ["a"] * 6 + ["b"] * 10 + ["c"] * 14,
            "bmi": np.r_[np.nan, rng.normal(27, 3, n - 1)],
            "subject": np.repeat(np.arange(10), 3).astype(str),
        },
        index=[f"s{i}" for i in range(n)],
    )


def test_columns_labels_and_missing_rows(metadata):
    design = build_design(metadata, ["sex", "age", "bmi"], standardize=True)
    assert design.columns == ["(Intercept)", "sexM", "age", "bmi"]
    assert design.terms == ["(Intercept)", "sex", "age", "bmi"]
    assert design.values == ["(Intercept)", "M", "age", "bmi"]
    assert design.n_used == 29 and not design.rows[0]
    age = metadata["age"]
    np.testing.assert_allclose(design.matrix[:, 2], ((age - age.mean()) / age.std(ddof=1))[1:])


def test_reference_levels(metadata):
    explicit = build_design(metadata, ["site"], reference={"site": "b"})
    assert explicit.columns == ["(Intercept)", "sitea", "sitec"] and explicit.references == {"site": "b"}
    with pytest.warns(UserWarning, match="most frequent level 'c'"):
        automatic = build_design(metadata, ["site"])
    assert automatic.columns == ["(Intercept)", "sitea", "siteb"]
    with pytest.raises(InputError, match="give its reference level"):
        build_design(metadata, ["site"], preset="maaslin2")
    with pytest.raises(InputError, match="did you mean 'a'"):
        build_design(metadata, ["site"], reference={"site": "A"})


def test_random_groups(metadata):
    design = build_design(metadata, ["age"], random=["subject"])
    assert design.groups["subject"].max() == 9 and len(design.groups["subject"]) == 30


@pytest.mark.parametrize(
    ("change", "fixed", "message"),
    [
        (None, ["agee"], "did you mean 'age'"),
        (lambda m: m.assign(age=1.0), ["age"], "constant"),
        (lambda m: m.assign(sex="F"), ["sex"], "only the level 'F'"),
        (lambda m: m.assign(age=m["age"].astype(str).where(m.index != "s3", "unknown")), ["age"], "numeric except"),
        (lambda m: m.assign(age2=2 * m["age"]), ["age", "age2"], "rank deficient: age2"),
        (lambda m: m.assign(bmi=np.nan), ["bmi"], "all missing"),
    ],
)
def test_errors(metadata, change, fixed, message):
    frame = change(metadata) if change else metadata
    with pytest.raises(InputError, match=message):
        build_design(frame, fixed, standardize=False)
