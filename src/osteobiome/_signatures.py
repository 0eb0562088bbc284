"""Thin public wrappers that take another function's parameters, so that a parameter list and its documentation
are written once (``associate`` = ``run_association(...).results``, ``mediate`` = ``run_mediation(...).results``)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

Params = ParamSpec("Params")
Returned = TypeVar("Returned")

_SECTION = re.compile(r"^(\w[\w ]*)\n-+\n", re.MULTILINE)


def parameters_of(
    source: Callable[Params, Any], omit: Sequence[str] = ()
) -> Callable[[Callable[..., Returned]], Callable[Params, Returned]]:
    """Decorator for ``def wrapper(*args, **kwargs)`` that calls ``source``: the wrapper's signature becomes
    ``source``'s without ``omit`` (with the wrapper's return annotation), and ``source``'s numpydoc ``Parameters``
    section, without ``omit``, is put into the wrapper's docstring before its ``Returns`` section.

    Type checkers see the wrapper with ``source``'s parameters too (``ParamSpec``; ``omit`` is a run-time
    restriction only).
    """

    def decorate(wrapper: Callable[..., Returned]) -> Callable[Params, Returned]:
        signature = inspect.signature(source)
        kept = [p for name, p in signature.parameters.items() if name not in omit]
        returns = inspect.signature(wrapper).return_annotation
        wrapper.__signature__ = signature.replace(parameters=kept, return_annotation=returns)
        doc = inspect.cleandoc(wrapper.__doc__ or "")
        at = doc.find("Returns\n-------\n")
        at = len(doc) + 2 if at < 0 else at
        wrapper.__doc__ = f"{doc[:at].rstrip()}\n\n{_parameters_section(source, omit)}\n\n{doc[at:]}".rstrip() + "\n"
        return wrapper

    return decorate


def _parameters_section(source: Callable, omit: Sequence[str]) -> str:
    """``source``'s ``Parameters`` section (header included) without the entries of ``omit``."""
    doc = inspect.cleandoc(source.__doc__ or "")
    headers = list(_SECTION.finditer(doc))
    start = next((h for h in headers if h.group(1) == "Parameters"), None)
    if start is None:
        raise ValueError(f"{source.__qualname__} has no numpydoc Parameters section to share")
    end = next((h.start() for h in headers if h.start() > start.start()), len(doc))
    entries = re.split(r"\n(?=\S)", doc[start.end() : end].strip("\n"))
    kept = [e for e in entries if re.split(r"[\s:,]", e.lstrip("*"), maxsplit=1)[0] not in omit]
    return "Parameters\n----------\n" + "\n".join(kept)
