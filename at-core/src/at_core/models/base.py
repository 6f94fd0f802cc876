"""Base model for every immutable, strict at-core model."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

#: A timestamp: integer nanoseconds since the Unix epoch, UTC.
TimestampNs = Annotated[int, Field(ge=0, description="UTC nanoseconds since the Unix epoch")]
#: A strictly positive decimal (price, quantity, increment).
PositiveDecimal = Annotated[Decimal, Field(gt=0)]
#: A non-negative decimal.
NonNegativeDecimal = Annotated[Decimal, Field(ge=0)]
#: A short identifier (account, strategy, agent, venue).
Identifier = Annotated[str, Field(min_length=1, max_length=128)]


class FrozenModel(BaseModel):
    """Immutable and strict: unknown fields are refused, no value is changed after creation."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    #: Optional fields added within a contracts line that a dump leaves out while they hold their
    #: default, so an event that does not use them encodes to the same bytes as before they
    #: existed (canonical JSON, replay hashes). Decoding gives a missing one its default.
    OMIT_WHEN_DEFAULT: ClassVar[frozenset[str]] = frozenset()

    # No return annotation on purpose: pydantic would take it as the serialization JSON schema
    # (``Any`` erases every schema); without one the model's own schema is kept.
    @model_serializer(mode="wrap")
    def _omit_unused_additions(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data = handler(self)
        if self.OMIT_WHEN_DEFAULT and isinstance(data, dict):
            fields = type(self).model_fields
            for name in self.OMIT_WHEN_DEFAULT:
                if name in data and getattr(self, name) == fields[name].default:
                    del data[name]
        return data
