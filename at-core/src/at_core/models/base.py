"""Base model for every immutable, strict at-core model."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

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
