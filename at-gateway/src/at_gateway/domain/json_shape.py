"""Bounds on a JSON body's shape, checked on the bytes before any parser sees them. Pure, linear.

A parser given 30,000 nested brackets runs out of stack (a RecursionError, not a ValueError), and
a number such as ``1e999999999`` parses into a value no arithmetic should meet. One scan over the
bytes refuses both, with the string contents skipped at C speed.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 40
#: Largest |exponent| of any number accepted anywhere (prices, quantities, sizes): 1e-30 .. 1e30.
MAX_EXPONENT = 30

# A string (closing quote optional, so an unterminated one is consumed once, never rescanned),
# a bracket, or a number. Every quantifier is possessive: linear time whatever the input.
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"?')
_SHAPE = re.compile(rb"[\[\]{}]|-?[0-9][0-9.eE+\-]*+")
_NUMBER = re.compile(rb"-?[0-9][0-9.eE+\-]*+")
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")


class JsonShapeError(ValueError):
    """The body is nested too deep or holds a number out of range."""

    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind  # "too_deep" or "number_out_of_range"
        self.detail = detail
        super().__init__(detail)


def check_json_shape(
    raw: bytes, max_depth: int = MAX_DEPTH, max_number_chars: int = MAX_NUMBER_CHARS, max_exponent: int = MAX_EXPONENT
) -> None:
    """Refuse nesting deeper than ``max_depth`` and numbers longer or larger than the bounds.

    Strings are emptied first, in one substitution at C speed (their brackets and digits are text);
    what is left is scanned for brackets and numbers, in order, so the first fault found is the
    one the bytes hold first. A body with no more opening brackets than ``max_depth`` cannot be
    too deep: only its numbers are looked at (an alert has a handful of brackets, and no Python
    loop over its keys and values).

    Raises:
        JsonShapeError: with ``kind`` ``too_deep`` or ``number_out_of_range``.
    """
    bare = _STRING.sub(b'""', raw) if b'"' in raw else raw
    if bare.count(b"[") + bare.count(b"{") <= max_depth:
        for match in _NUMBER.finditer(bare):
            _check_number(match.group(), max_number_chars, max_exponent)
        return
    depth = 0
    for match in _SHAPE.finditer(bare):
        first = bare[match.start()]
        if first in _OPEN:
            depth += 1
            if depth > max_depth:
                raise JsonShapeError("too_deep", f"JSON nested deeper than {max_depth} levels")
        elif first in _CLOSE:
            depth -= 1
        else:
            _check_number(match.group(), max_number_chars, max_exponent)


def _check_number(token: bytes, max_number_chars: int, max_exponent: int) -> None:
    if len(token) > max_number_chars:
        raise JsonShapeError("number_out_of_range", f"a number longer than {max_number_chars} characters")
    if not number_in_range(token.decode("ascii"), max_exponent):
        raise JsonShapeError("number_out_of_range", f"a number beyond 1e{max_exponent} or below 1e-{max_exponent}")


def number_in_range(text: str, max_exponent: int = MAX_EXPONENT) -> bool:
    """True if ``text`` is not a number, or a finite one with |exponent| <= ``max_exponent``.

    Text that is not a number is left for the parser to refuse with its own message.
    """
    if len(text) > MAX_NUMBER_CHARS * 4:
        return False
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return True
    return bounded_decimal(value, max_exponent)


def bounded_decimal(value: Decimal, max_exponent: int = MAX_EXPONENT) -> bool:
    """A finite decimal whose magnitude is 0 or between 1e-``max_exponent`` and 1e``max_exponent``."""
    if not value.is_finite():
        return False
    return value.is_zero() or -max_exponent <= value.adjusted() <= max_exponent
