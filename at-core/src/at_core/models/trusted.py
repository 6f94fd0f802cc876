"""Models built from values already validated, without validating them again. Pure.

Some events are made on a service's hot path from values it validated where they entered: exec-sim's
account state for every holder of an instrument on every quote, a rule agent's analysis event from
the agent's own validated view. pydantic's second pass over those values, and even
``model_construct`` (which walks every field's aliases and defaults), cost more than the rest of
the work. :func:`trusted` builds the instance ``model_construct`` would, from a dict that already
holds every field. Each user holds its results to the validated construction's bytes and equality
in its own tests (exec-sim: ``tests/unit/test_trusted_models.py``; agents:
``tests/unit/test_trusted_events.py``), and calls :func:`check_trusted` at import for each model it
builds this way.
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
    """An instance of ``cls`` holding ``values`` (every field of ``cls``, in its declared order,
    each already of its type and within its constraints), unvalidated: what
    ``cls.model_construct(**values)`` makes, without its per-field walk.

    ``fields_set``: the names the validated construction would mark as set (default: the names of
    ``values``); a caller that makes many can share one set (the models are frozen: none can
    change it, and a copy copies it)."""
    m = _new(cls)
    _set_dict(m, values)
    _set_fields_set(m, set(values) if fields_set is None else fields_set)
    _set_extra(m, None)
    _set_private(m, None)
    return m


def check_trusted(cls: type[BaseModel]) -> None:
    """Refuse a model :func:`trusted` would build wrongly (its own ``__new__``, a post-init hook,
    private attributes, extra fields kept, a root model): checked once, at import, by the modules
    that use it.

    Raises:
        TypeError: ``cls`` cannot be built by :func:`trusted`.
    """
    if (
        cls.__new__ is not object.__new__
        or cls.__pydantic_post_init__
        or cls.__private_attributes__
        or cls.model_config.get("extra") == "allow"
        or cls.__pydantic_root_model__
    ):
        raise TypeError(f"{cls.__name__} cannot be built by trusted()")
