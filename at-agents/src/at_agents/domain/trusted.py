"""Models built from values already validated, without validating them again. Pure.

A rule agent's :class:`~at_agents.domain.analysis.Analysis` is validated when the agent makes it;
its analysis event (and the proposal's votes) hold those same values with the signal's envelope,
so pydantic's second pass over them only costs time on the path to the proposal. :func:`trusted`
builds the instance ``model_construct`` would, from a dict that already holds every field (the
idea of exec-sim's ``domain/trusted.py``; services do not import each other, so it is repeated
here). ``tests/unit/test_trusted_events.py`` holds the result to the validated event's bytes.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

# BaseModel's four slots, set through their descriptors (cheaper than object.__setattr__ by name)
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def trusted(cls: type[M], values: dict[str, Any], fields_set: set[str]) -> M:
    """An instance of ``cls`` holding ``values`` (every field of ``cls``, in its declared order,
    each already of its type and within its constraints), unvalidated. ``fields_set``: the names
    the validated construction would mark as set (shared: the models are frozen)."""
    m = _new(cls)
    _set_dict(m, values)
    _set_fields_set(m, fields_set)
    _set_extra(m, None)
    _set_private(m, None)
    return m


def check_trusted(cls: type[BaseModel]) -> None:
    """Refuse a model :func:`trusted` would build wrongly (its own ``__new__``, a post-init hook,
    private attributes, extra fields kept, a root model): checked once, at import."""
    if (
        cls.__new__ is not object.__new__
        or cls.__pydantic_post_init__
        or cls.__private_attributes__
        or cls.model_config.get("extra") == "allow"
        or cls.__pydantic_root_model__
    ):
        raise TypeError(f"{cls.__name__} cannot be built by trusted()")
