"""Models built from values the engine made itself, without validating them again. Pure.

The account-state event (and its rule headroom) is made for every holder of an instrument on
every quote: pydantic's validation, and even ``model_construct`` (which walks every field's
aliases and defaults), cost more than the rest of a mark. :func:`trusted` builds the same
instance ``model_construct`` would, from a dict that already holds every field. The inputs
those values come from were validated where they entered; ``tests/unit/test_trusted_models.py``
holds the result to the validated model's bytes and equality.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

#: BaseModel's four slots, set through their descriptors: ``object.__setattr__`` by name looked
#: each one up again, 40% of the cost of a trusted event
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def trusted(cls: type[M], values: dict[str, Any], fields_set: set[str] | None = None) -> M:
    """An instance of ``cls`` holding ``values`` (every field of ``cls``, already of its type),
    unvalidated: what ``cls.model_construct(**values)`` makes, without its per-field walk.

    ``fields_set``: the names of ``values``, given by a caller that makes many (one set shared by
    the instances of a frozen model: none can change it, and a copy copies it)."""
    m = _new(cls)
    _set_dict(m, values)
    _set_fields_set(m, set(values) if fields_set is None else fields_set)
    _set_extra(m, None)
    _set_private(m, None)
    return m


def check_trusted(cls: type[BaseModel]) -> None:
    """Refuse a model :func:`trusted` would build wrongly (its own ``__new__``, a post-init hook,
    private attributes, extra fields kept, a root model): checked once, at import, by the modules
    that use it."""
    if (
        cls.__new__ is not object.__new__
        or cls.__pydantic_post_init__
        or cls.__private_attributes__
        or cls.model_config.get("extra") == "allow"
        or cls.__pydantic_root_model__
    ):
        raise TypeError(f"{cls.__name__} cannot be built by trusted()")
