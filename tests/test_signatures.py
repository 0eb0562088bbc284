"""Public wrappers share their parameter list and its documentation with the function they call."""

from __future__ import annotations

import inspect

import pytest

from osteobiome._signatures import parameters_of
from osteobiome.association.pipeline import associate, run_association
from osteobiome.mediation.pipeline import mediate, run_mediation
from osteobiome.survival.analysis import run_survival, survival


@pytest.mark.parametrize(
    ("wrapper", "source", "omitted"),
    [
        (associate, run_association, {"keep_tables"}),
        (mediate, run_mediation, set()),
        (survival, run_survival, set()),
    ],
)
def test_wrapper_takes_and_documents_the_parameters_of_its_source(wrapper, source, omitted):
    shown, full = inspect.signature(wrapper), inspect.signature(source)
    assert list(shown.parameters) == [name for name in full.parameters if name not in omitted]
    assert all(shown.parameters[name] == full.parameters[name] for name in shown.parameters)
    assert shown.return_annotation == "pd.DataFrame"
    doc = wrapper.__doc__
    section = doc[doc.index("Parameters\n----------\n") : doc.index("Returns\n-------\n")]
    entries = [line.split(" :")[0].lstrip("*") for line in section.splitlines()[2:] if line and not line[0].isspace()]
    assert entries == list(shown.parameters)
    assert all(f"{name} :" not in doc for name in omitted)


def test_a_source_without_parameters_section_is_refused():
    def source(a: int) -> int:
        """No sections."""
        return a

    with pytest.raises(ValueError, match="no numpydoc Parameters section"):

        @parameters_of(source)
        def wrapper(*args: object, **kwargs: object) -> int:
            """Wrapper."""
            return source(*args, **kwargs)
